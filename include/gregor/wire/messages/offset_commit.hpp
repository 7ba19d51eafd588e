// OffsetCommit (key 8), versions 0-9; v8+ flexible. Sent to the group's coordinator (found with
// FindCoordinator): a consumer, or an admin client for a group without members, stores the
// positions it has consumed up to (docs/protocol.md §16.7). The coordinator appends them to
// __consumer_offsets and answers per partition.
//
//   request   group_id, generation_id_or_member_epoch (v1+), member_id (v1+),
//             group_instance_id (v7+, nullable), retention_time_ms (v2-4),
//             topics[name, partitions[partition_index, committed_offset,
//                                     committed_leader_epoch (v6+), commit_timestamp (v1 only),
//                                     committed_metadata (nullable)]]
//   response  throttle_time_ms (v3+), topics[name, partitions[partition_index, error_code]]
//   Per version: v1 group membership and a per-partition commit timestamp; v2 a retention time
//   replaces the timestamp; v3 throttle; v4 = v3 (throttling after the answer); v5 drops the
//   retention time (the broker's offsets.retention.minutes decides); v6 committed leader epoch;
//   v7 static membership (group_instance_id); v8 flexible; v9 = v8 on the wire (usable with the
//   KIP-848 consumer protocol, where the generation field carries the member epoch). No tagged
//   fields are defined.
//
// A commit from outside the group (an admin client, a consumer with manual assignment) sends
// generation -1 and an empty member id. commit_timestamp -1 (v1) means "the broker's clock";
// retention_time_ms -1 (v2-4) means "the broker's default retention".
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
#include <string_view>
#include <vector>

namespace gregor::wire::offset_commit {

/// generation_id_or_member_epoch's default (and what v0 implies): not a member of the generation.
inline constexpr std::int32_t no_generation = -1;
/// retention_time_ms's default: the broker's configured retention.
inline constexpr std::int64_t default_retention = -1;
/// commit_timestamp's default: the broker stamps the commit with its own clock.
inline constexpr std::int64_t default_commit_timestamp = -1;

struct request_partition {
    gregor::partition_id partition_index{0};
    gregor::offset committed_offset{0};
    gregor::leader_epoch committed_leader_epoch{-1};          // v6+; -1 = unknown
    std::int64_t commit_timestamp = default_commit_timestamp; // v1 only
    std::optional<std::string_view> committed_metadata{};
};

struct request_topic {
    std::string_view name{};
    std::vector<request_partition> partitions{};
};

struct response;

struct request {
    using api = offset_commit_api;
    using response_type = response;

    std::string_view group_id{};
    std::int32_t generation_id_or_member_epoch = no_generation; // v1+
    std::string_view member_id{};                               // v1+
    std::optional<std::string_view> group_instance_id{};        // v7+; null = not a static member
    std::int64_t retention_time_ms = default_retention;         // v2-4
    std::vector<request_topic> topics{};

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<request> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<request>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        const auto v = io.version();
        io.string(m.group_id);
        if (v >= 1) {
            io.i32(m.generation_id_or_member_epoch);
            io.string(m.member_id);
        }
        if (v >= 7) io.nullable_string(m.group_instance_id);
        if (v >= 2 && v <= 4) io.i64(m.retention_time_ms);
        io.array(m.topics, [](auto& io2, auto& t) {
            io2.string(t.name);
            io2.array(t.partitions, [](auto& io3, auto& p) {
                const auto pv = io3.version();
                io3.i32(p.partition_index);
                io3.i64(p.committed_offset);
                if (pv >= 6) io3.i32(p.committed_leader_epoch);
                if (pv == 1) io3.i64(p.commit_timestamp);
                io3.nullable_string(p.committed_metadata);
                io3.tagged_fields();
            });
            io2.tagged_fields();
        });
        io.tagged_fields();
    }
};

struct response_partition {
    gregor::partition_id partition_index{0};
    gregor::error_code error_code = gregor::error_code::none;
};

struct response_topic {
    std::string_view name{};
    std::vector<response_partition> partitions{};
};

struct response {
    using api = offset_commit_api;

    std::int32_t throttle_time_ms = 0; // v3+
    std::vector<response_topic> topics{};

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<response> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<response>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        if (io.version() >= 3) io.i32(m.throttle_time_ms);
        io.array(m.topics, [](auto& io2, auto& t) {
            io2.string(t.name);
            io2.array(t.partitions, [](auto& io3, auto& p) {
                io3.i32(p.partition_index);
                io3.i16(p.error_code);
                io3.tagged_fields();
            });
            io2.tagged_fields();
        });
        io.tagged_fields();
    }
};

static_assert(kafka_message<request>, "gregor::wire::offset_commit::request must model kafka_message");
static_assert(kafka_message<response>, "gregor::wire::offset_commit::response must model kafka_message");

} // namespace gregor::wire::offset_commit
