// How a group consumer talks to its group coordinator: the calls of Kafka's classic group
// protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch) plus the
// partition counts the group leader assigns from, as blocking calls with owned results.
//
// Implementations: group::tcp_channel (consumer/tcp_group_channel.hpp, the Kafka protocol to any
// broker's coordinator, found with FindCoordinator) and group::in_process_channel<Broker>
// (consumer/in_process.hpp, direct calls into an embedded broker's coordinator). A fetch
// transport that can serve groups provides `group_channel(const consumer_config&)` returning a
// new channel; gregor::consumer::subscribe() makes two of them, one for the membership thread and
// one for the poll thread, so that a JoinGroup that waits for a slow member never holds up a
// commit (docs/consumer.md, "Groups").
//
// Errors are std::error_code: Kafka's (kafka_category) as the coordinator answered them, or
// NETWORK_EXCEPTION / REQUEST_TIMED_OUT for an answer that never came. A coordinator error
// (NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE) makes the channel look the coordinator up again
// at its next call.
//
// Thread-safety: one channel is used by one thread at a time (cancel() excepted); channels are
// independent.
#pragma once

#include <gregor/consumer/assignors.hpp>
#include <gregor/consumer/fetch_transport.hpp>
#include <gregor/core/strong_types.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace gregor::group {

struct join_args {
    std::string group_id;
    std::string member_id; // "" on a first join
    std::optional<std::string> group_instance_id;
    std::int32_t session_timeout_ms = 45000;
    std::int32_t rebalance_timeout_ms = 300000;
    std::vector<std::pair<std::string, std::string>> protocols; // name, subscription bytes
    std::string reason;
};

struct joined_member {
    std::string member_id;
    std::optional<std::string> group_instance_id;
    std::string metadata;
};

struct join_outcome {
    std::error_code error;
    std::int32_t generation = -1;
    std::string protocol_name;
    std::string leader;
    std::string member_id; // also set with MEMBER_ID_REQUIRED: the id to join again with
    bool skip_assignment = false;
    std::vector<joined_member> members; // the leader's answer only
};

/// Who a member is in a generation (Heartbeat, LeaveGroup, OffsetCommit, SyncGroup).
struct member_ref {
    std::string group_id;
    std::int32_t generation = -1;
    std::string member_id;
    std::optional<std::string> group_instance_id;
};

struct sync_args {
    member_ref member;
    std::string protocol_type = "consumer";
    std::string protocol_name;
    std::vector<std::pair<std::string, std::string>> assignments; // the leader's: member id, bytes
};

struct sync_outcome {
    std::error_code error;
    std::string assignment; // consumer-protocol bytes; empty: nothing assigned
};

/// One partition's committed offset (a commit's input, a fetch's output); offset -1: none.
struct committed_offset {
    topic_partition tp;
    offset next{-1};
    std::int32_t leader_epoch = -1;
    std::string metadata;
    std::error_code error; // the answer, per partition
};

struct offsets_outcome {
    std::error_code error; // the whole request
    std::vector<committed_offset> partitions;
};

struct counts_outcome {
    std::error_code error;
    assignors::partition_counts counts; // known topics only
};

/// The calls; each blocks until the answer or its bound (request.timeout.ms, plus the rebalance
/// timeout for JoinGroup, which the coordinator holds until every member has joined).
class channel {
public:
    virtual ~channel() = default;
    virtual join_outcome join(const join_args&) = 0;
    virtual sync_outcome sync(const sync_args&) = 0;
    virtual std::error_code heartbeat(const member_ref&) = 0;
    virtual std::error_code leave(const member_ref&, const std::string& reason) = 0;
    /// `generation` -1 with an empty member id: a commit from outside the group (assign()).
    virtual offsets_outcome commit(const member_ref&, const std::vector<committed_offset>&) = 0;
    virtual offsets_outcome fetch_committed(const std::string& group_id, const std::vector<topic_partition>&) = 0;
    virtual counts_outcome partition_counts(const std::vector<std::string>& topics) = 0;

    /// From any thread: the call in progress, and every later one until reset_cancel(), returns
    /// at once (REQUEST_TIMED_OUT). close() uses it so that it never waits out a held JoinGroup.
    virtual void cancel() {}
    virtual void reset_cancel() {}
};

/// Coordinator errors after which the member looks the coordinator up again and retries.
inline bool coordinator_moved(const std::error_code& e) noexcept {
    return e == make_error_code(error_code::not_coordinator) ||
           e == make_error_code(error_code::coordinator_not_available) ||
           e == make_error_code(error_code::coordinator_load_in_progress) ||
           e == make_error_code(error_code::network_exception) ||
           e == make_error_code(error_code::request_timed_out);
}

} // namespace gregor::group
