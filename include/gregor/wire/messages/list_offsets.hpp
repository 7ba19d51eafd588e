// ListOffsets (key 2), versions 0-8; v6+ flexible.
//
//   request   replica_id, isolation_level (v2+),
//             topics[name, partitions[partition_index, current_leader_epoch (v4+), timestamp,
//                                     max_num_offsets (v0 only)]]
//   response  throttle_time_ms (v2+),
//             topics[name, partitions[partition_index, error_code,
//                                     old_style_offsets[] (v0 only) | timestamp + offset (v1+),
//                                     leader_epoch (v4+)]]
//   Per version (docs/protocol.md §4.1, §13): v1 one offset with its timestamp instead of a list;
//   v2 isolation level and throttle; v3 = v2; v4 leader epochs (fencing); v5 = v4 (may answer
//   OFFSET_NOT_AVAILABLE); v6 flexible; v7 = v6 but may ask for `max_timestamp` (KIP-734); v8 =
//   v7 but may ask for `earliest_local_timestamp` (KIP-405).
//
// timestamp -1 (`latest_timestamp`) asks for the end (HWM, or LSO with read_committed),
// -2 (`earliest_timestamp`) for the log start, >= 0 for the first offset whose timestamp is at
// least that (offset -1 if none). kcat resolves "-o beginning" with v2 and timestamp -2.
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

namespace gregor::wire::list_offsets {

inline constexpr std::int64_t latest_timestamp = -1;
inline constexpr std::int64_t earliest_timestamp = -2;
/// The record with the largest timestamp (v7+, KIP-734).
inline constexpr std::int64_t max_timestamp = -3;
/// The start of the local (not tiered) log (v8+, KIP-405).
inline constexpr std::int64_t earliest_local_timestamp = -4;

struct request_partition {
    gregor::partition_id partition_index{0};
    std::int64_t timestamp = latest_timestamp;
    std::int32_t max_num_offsets = 1;              // v0 only
    gregor::leader_epoch current_leader_epoch{-1}; // v4+
};

struct request_topic {
    std::string_view name;
    std::vector<request_partition> partitions;
};

struct response;

struct request {
    using api = list_offsets_api;
    using response_type = response;

    gregor::node_id replica_id{-1};
    wire::isolation_level isolation_level = wire::isolation_level::read_uncommitted; // v2+
    std::vector<request_topic> topics;

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<request> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<request>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        io.i32(m.replica_id);
        if (io.version() >= 2) io.i8(m.isolation_level);
        io.array(m.topics, [](auto& io2, auto& t) {
            io2.string(t.name);
            io2.array(t.partitions, [](auto& io3, auto& p) {
                const auto pv = io3.version();
                io3.i32(p.partition_index);
                if (pv >= 4) io3.i32(p.current_leader_epoch);
                io3.i64(p.timestamp);
                if (pv == 0) io3.i32(p.max_num_offsets);
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
    std::vector<std::int64_t> old_style_offsets; // v0 only
    std::int64_t timestamp = -1;                 // v1+
    gregor::offset offset{-1};                   // v1+
    gregor::leader_epoch leader_epoch{-1};       // v4+
};

struct response_topic {
    std::string_view name;
    std::vector<response_partition> partitions;
};

struct response {
    using api = list_offsets_api;

    std::int32_t throttle_time_ms = 0; // v2+
    std::vector<response_topic> topics;

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<response> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<response>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        if (io.version() >= 2) io.i32(m.throttle_time_ms);
        io.array(m.topics, [](auto& io2, auto& t) {
            io2.string(t.name);
            io2.array(t.partitions, [](auto& io3, auto& p) {
                const auto pv = io3.version();
                io3.i32(p.partition_index);
                io3.i16(p.error_code);
                if (pv == 0) {
                    io3.array(p.old_style_offsets, [](auto& io4, auto& o) { io4.i64(o); });
                } else {
                    io3.i64(p.timestamp);
                    io3.i64(p.offset);
                }
                if (pv >= 4) io3.i32(p.leader_epoch);
                io3.tagged_fields();
            });
            io2.tagged_fields();
        });
        io.tagged_fields();
    }
};

static_assert(kafka_message<request>, "gregor::wire::list_offsets::request must model kafka_message");
static_assert(kafka_message<response>, "gregor::wire::list_offsets::response must model kafka_message");

} // namespace gregor::wire::list_offsets
