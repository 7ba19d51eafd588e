// OffsetForLeaderEpoch (key 23), versions 0-4; v4+ flexible. Sent to a partition's leader: "where
// did epoch E end in your log?" A follower asks it to find where its log diverges from the
// leader's (docs/protocol.md §14.6.4); Java consumers ask it to validate their position after a
// leader change (KIP-320). The leader answers endOffsetFor(leader_epoch) (§14.6.2).
//
//   request   replica_id (v3+),
//             topics[topic, partitions[partition, current_leader_epoch (v2+), leader_epoch]]
//   response  throttle_time_ms (v2+),
//             topics[topic, partitions[error_code, partition, leader_epoch (v1+), end_offset]]
//   Per version (§14.6.3, §14.11.1): v1 the answer names the epoch it found; v2 fencing with
//   current_leader_epoch and a throttle time; v3 replica_id (an older request reads as -2); v4
//   flexible. No tagged fields are defined.
//
// replica_id: the follower's broker id, -1 for a consumer, -2 (the default) for a "debug" client;
// Kafka 3.9 answers all of them alike. current_leader_epoch -1 skips the fencing check. An epoch
// the leader cannot place is answered as epoch -1 / end offset -1 with NONE; so is every v0
// answer's epoch, which v0 does not carry.
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

namespace gregor::wire::offset_for_leader_epoch {

/// replica_id of a consumer.
inline constexpr std::int32_t consumer_replica_id = -1;
/// replica_id's default (and what versions 0-2 imply): a "debug" client.
inline constexpr std::int32_t debug_replica_id = -2;
/// Epoch and end offset of an answer the leader cannot place.
inline constexpr std::int32_t undefined_epoch = -1;
inline constexpr std::int64_t undefined_end_offset = -1;

struct request_partition {
    gregor::partition_id partition{0};
    gregor::leader_epoch current_leader_epoch{-1}; // v2+; -1 = not checked
    gregor::leader_epoch leader_epoch{-1};         // the epoch to look up
};

struct request_topic {
    std::string_view topic{};
    std::vector<request_partition> partitions{};
};

struct response;

struct request {
    using api = offset_for_leader_epoch_api;
    using response_type = response;

    gregor::node_id replica_id{debug_replica_id}; // v3+
    std::vector<request_topic> topics{};

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<request> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<request>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        if (io.version() >= 3) io.i32(m.replica_id);
        io.array(m.topics, [](auto& io2, auto& t) {
            io2.string(t.topic);
            io2.array(t.partitions, [](auto& io3, auto& p) {
                io3.i32(p.partition);
                if (io3.version() >= 2) io3.i32(p.current_leader_epoch);
                io3.i32(p.leader_epoch);
                io3.tagged_fields();
            });
            io2.tagged_fields();
        });
        io.tagged_fields();
    }
};

struct response_partition {
    gregor::error_code error_code = gregor::error_code::none;
    gregor::partition_id partition{0};
    gregor::leader_epoch leader_epoch{undefined_epoch}; // v1+
    gregor::offset end_offset{undefined_end_offset};
};

struct response_topic {
    std::string_view topic{};
    std::vector<response_partition> partitions{};
};

struct response {
    using api = offset_for_leader_epoch_api;

    std::int32_t throttle_time_ms = 0; // v2+
    std::vector<response_topic> topics{};

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<response> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<response>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        if (io.version() >= 2) io.i32(m.throttle_time_ms);
        io.array(m.topics, [](auto& io2, auto& t) {
            io2.string(t.topic);
            io2.array(t.partitions, [](auto& io3, auto& p) {
                io3.i16(p.error_code);
                io3.i32(p.partition);
                if (io3.version() >= 1) io3.i32(p.leader_epoch);
                io3.i64(p.end_offset);
                io3.tagged_fields();
            });
            io2.tagged_fields();
        });
        io.tagged_fields();
    }
};

static_assert(kafka_message<request>, "gregor::wire::offset_for_leader_epoch::request must model kafka_message");
static_assert(kafka_message<response>, "gregor::wire::offset_for_leader_epoch::response must model kafka_message");

} // namespace gregor::wire::offset_for_leader_epoch
