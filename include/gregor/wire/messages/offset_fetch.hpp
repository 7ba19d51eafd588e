// OffsetFetch (key 9), versions 0-9; v6+ flexible. Sent to a group's coordinator: a consumer reads
// the committed positions of its partitions before it starts fetching, an admin client lists a
// group's offsets (docs/protocol.md §16.7). Answered in every group state; a partition without a
// committed offset answers offset -1.
//
//   request   v0-7: group_id, topics[name, partition_indexes[]] (nullable v2+: all topics)
//             v8+:  groups[group_id, member_id (v9+, nullable), member_epoch (v9+),
//                          topics[name, partition_indexes[]] (nullable: all topics)]
//             require_stable (v7+)
//   response  throttle_time_ms (v3+),
//             v0-7: topics[name, partitions[partition_index, committed_offset,
//                                           committed_leader_epoch (v5+), metadata (nullable),
//                                           error_code]],
//                   error_code (v2+)
//             v8+:  groups[group_id, topics[...as above, with committed_leader_epoch...],
//                          error_code]
//   Per version: v1 = v0 (offsets from __consumer_offsets instead of ZooKeeper); v2 null topics
//   = "all topics" and a top-level error code; v3 throttle; v4 = v3 (throttling after the
//   answer); v5 committed leader epoch; v6 flexible; v7 require_stable (answer
//   UNSTABLE_OFFSET_COMMIT for partitions with pending transactional commits); v8 several groups
//   per request; v9 member id and epoch per group (KIP-848 consumer protocol). No tagged fields
//   are defined.
//
// Note the order: in v2-v7 the top-level error code comes AFTER the topics.
//
// Single group and groups: a version carries one form. v0-7 use group_id/topics (and the
// response's topics/error_code), v8+ use groups; the form a version does not carry is left at its
// default by decode and ignored by encode. `topics` (in both forms) is nullable from v2: nullopt
// asks for all topics. It defaults to an empty list, as Kafka's does, and an empty list is not
// "all" in any version. v0-1 cannot say "all topics": encoding nullopt there throws
// std::invalid_argument, as Kafka's client refuses to.
//
// Decoded strings are views into the frame. Thread-safety: value types.
#pragma once

#include <gregor/core/buffer.hpp>
#include <gregor/core/error.hpp>
#include <gregor/core/strong_types.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/header.hpp>
#include <gregor/wire/primitives.hpp>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <type_traits>
#include <vector>

namespace gregor::wire::offset_fetch {

/// The offset answered for a partition without a committed offset.
inline constexpr std::int64_t no_offset = -1;
/// member_epoch's default (and what v8 implies): not a KIP-848 member.
inline constexpr std::int32_t no_member_epoch = -1;

struct request_topic {
    std::string_view name{};
    std::vector<gregor::partition_id> partition_indexes{};
};

/// One group of a v8+ request.
struct request_group {
    std::string_view group_id{};
    std::optional<std::string_view> member_id{};                     // v9+; null unless a KIP-848 member
    std::int32_t member_epoch = no_member_epoch;                     // v9+
    std::optional<std::vector<request_topic>> topics{std::in_place}; // nullopt = all topics
};

struct response;

struct request {
    using api = offset_fetch_api;
    using response_type = response;

    std::string_view group_id{};                                     // v0-7
    std::optional<std::vector<request_topic>> topics{std::in_place}; // v0-7; nullopt = all (v2+)
    std::vector<request_group> groups{};                             // v8+
    bool require_stable = false;                                     // v7+

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<request> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<request>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        const auto v = io.version();
        const auto topic = [](auto& io2, auto& t) {
            io2.string(t.name);
            io2.array(t.partition_indexes, [](auto& io3, auto& p) { io3.i32(p); });
            io2.tagged_fields();
        };
        if (v <= 7) {
            io.string(m.group_id);
            if (v >= 2)
                io.nullable_array(m.topics, topic);
            else
                non_null_topics(io, m.topics, topic);
        } else {
            io.array(m.groups, [&topic](auto& io2, auto& g) {
                io2.string(g.group_id);
                if (io2.version() >= 9) {
                    io2.nullable_string(g.member_id);
                    io2.i32(g.member_epoch);
                }
                io2.nullable_array(g.topics, topic);
                io2.tagged_fields();
            });
        }
        if (v >= 7) io.boolean(m.require_stable);
        io.tagged_fields();
    }

    // v0-1 topics: an array that cannot be null. Encoding nullopt is misuse; decoding engages it.
    template <typename IO, typename Topics, typename Element>
    static void non_null_topics(IO& io, Topics& topics, Element&& element) {
        if constexpr (std::is_const_v<Topics>) {
            if (!topics)
                throw std::invalid_argument("gregor::wire: OffsetFetch v0-1 cannot ask for all topics (null topics)");
            io.array(*topics, element);
        } else {
            topics.emplace();
            io.array(*topics, element);
        }
    }
};

struct response_partition {
    gregor::partition_id partition_index{0};
    gregor::offset committed_offset{no_offset};
    gregor::leader_epoch committed_leader_epoch{-1}; // v5+; -1 = unknown
    std::optional<std::string_view> metadata{};
    gregor::error_code error_code = gregor::error_code::none;
};

struct response_topic {
    std::string_view name{};
    std::vector<response_partition> partitions{};
};

/// One group of a v8+ response.
struct response_group {
    std::string_view group_id{};
    std::vector<response_topic> topics{};
    gregor::error_code error_code = gregor::error_code::none;
};

struct response {
    using api = offset_fetch_api;

    std::int32_t throttle_time_ms = 0;                        // v3+
    std::vector<response_topic> topics{};                     // v0-7
    gregor::error_code error_code = gregor::error_code::none; // v2-7, after the topics
    std::vector<response_group> groups{};                     // v8+

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<response> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<response>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        const auto v = io.version();
        const auto topic = [](auto& io2, auto& t) {
            io2.string(t.name);
            io2.array(t.partitions, [](auto& io3, auto& p) {
                io3.i32(p.partition_index);
                io3.i64(p.committed_offset);
                if (io3.version() >= 5) io3.i32(p.committed_leader_epoch);
                io3.nullable_string(p.metadata);
                io3.i16(p.error_code);
                io3.tagged_fields();
            });
            io2.tagged_fields();
        };
        if (v >= 3) io.i32(m.throttle_time_ms);
        if (v <= 7) {
            io.array(m.topics, topic);
            if (v >= 2) io.i16(m.error_code);
        } else {
            io.array(m.groups, [&topic](auto& io2, auto& g) {
                io2.string(g.group_id);
                io2.array(g.topics, topic);
                io2.i16(g.error_code);
                io2.tagged_fields();
            });
        }
        io.tagged_fields();
    }
};

static_assert(kafka_message<request>, "gregor::wire::offset_fetch::request must model kafka_message");
static_assert(kafka_message<response>, "gregor::wire::offset_fetch::response must model kafka_message");

} // namespace gregor::wire::offset_fetch
