// consumer_group_metadata: who a consumer is in its group (Java's ConsumerGroupMetadata), the
// value a transactional producer hands to send_offsets_to_transaction() so that the group
// coordinator can refuse offsets from a member that has left the generation (TxnOffsetCommit v3+,
// KIP-447; docs/protocol.md §15). It lives apart from both the consumer and the producer because
// it is what passes between them: gregor::consumer::group_metadata() makes one, the producer
// only reads it.
//
// Thread-safety: a plain value.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace gregor {

struct consumer_group_metadata {
    std::string group_id{};
    /// -1 with an empty member id claims no membership: the coordinator then takes the offsets
    /// whatever the group's state (what a consumer outside the group, using assign(), sends).
    std::int32_t generation_id = -1;
    std::string member_id{};
    std::optional<std::string> group_instance_id{}; // static membership (group.instance.id)

    friend bool operator==(const consumer_group_metadata&, const consumer_group_metadata&) = default;
};

} // namespace gregor
