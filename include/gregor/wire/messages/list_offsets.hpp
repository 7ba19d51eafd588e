// ListOffsets (key 2), versions 0-3 (none flexible).
//
//   request   replica_id, isolation_level (v2+),
//             topics[name, partitions[partition_index, timestamp, max_num_offsets (v0 only)]]
//   response  throttle_time_ms (v2+),
//             topics[name, partitions[partition_index, error_code,
//                                     old_style_offsets[] (v0 only) | timestamp + offset (v1+)]]
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

struct request_partition {
    gregor::partition_id partition_index{0};
    std::int64_t timestamp = latest_timestamp;
    std::int32_t max_num_offsets = 1; // v0 only
};

struct request_topic {
    std::string_view name;
    std::vector<request_partition> partitions;
};

struct request {
    using api = list_offsets_api;

    gregor::node_id replica_id{-1};
    wire::isolation_level isolation_level = wire::isolation_level::read_uncommitted; // v2+
    std::vector<request_topic> topics;

    void encode(byte_writer& w, std::int16_t version) const {
        require_version<api>(version);
        encoder e(w, is_flexible_version<api>(version));
        e.i32(replica_id.value());
        if (version >= 2) e.i8(static_cast<std::int8_t>(isolation_level));
        e.array(topics, [version](encoder& e2, const request_topic& t) {
            e2.string(t.name);
            e2.array(t.partitions, [version](encoder& e3, const request_partition& p) {
                e3.i32(p.partition_index.value());
                e3.i64(p.timestamp);
                if (version == 0) e3.i32(p.max_num_offsets);
                e3.tagged_fields();
            });
            e2.tagged_fields();
        });
        e.tagged_fields();
    }

    static std::optional<request> decode(byte_reader& r, std::int16_t version) {
        if (!supports_version<api>(version)) {
            r.fail();
            return std::nullopt;
        }
        decoder d(r, is_flexible_version<api>(version));
        request m;
        m.replica_id = gregor::node_id{d.i32()};
        if (version >= 2) m.isolation_level = static_cast<wire::isolation_level>(d.i8());
        d.array(m.topics, d.min_string() + d.min_array() + d.min_tags(), [version](decoder& d2, request_topic& t) {
            t.name = d2.string();
            d2.array(t.partitions, 12 + d2.min_tags(), [version](decoder& d3, request_partition& p) {
                p.partition_index = gregor::partition_id{d3.i32()};
                p.timestamp = d3.i64();
                if (version == 0) p.max_num_offsets = d3.i32();
                d3.tagged_fields();
            });
            d2.tagged_fields();
        });
        d.tagged_fields();
        if (!d.ok()) return std::nullopt;
        return m;
    }
};

struct response_partition {
    gregor::partition_id partition_index{0};
    gregor::error_code error_code = gregor::error_code::none;
    std::vector<std::int64_t> old_style_offsets; // v0 only
    std::int64_t timestamp = -1;                 // v1+
    gregor::offset offset{-1};                   // v1+
};

struct response_topic {
    std::string_view name;
    std::vector<response_partition> partitions;
};

struct response {
    using api = list_offsets_api;

    std::int32_t throttle_time_ms = 0; // v2+
    std::vector<response_topic> topics;

    void encode(byte_writer& w, std::int16_t version) const {
        require_version<api>(version);
        encoder e(w, is_flexible_version<api>(version));
        if (version >= 2) e.i32(throttle_time_ms);
        e.array(topics, [version](encoder& e2, const response_topic& t) {
            e2.string(t.name);
            e2.array(t.partitions, [version](encoder& e3, const response_partition& p) {
                e3.i32(p.partition_index.value());
                e3.i16(static_cast<std::int16_t>(p.error_code));
                if (version == 0) {
                    e3.array(p.old_style_offsets, [](encoder& e4, std::int64_t o) { e4.i64(o); });
                } else {
                    e3.i64(p.timestamp);
                    e3.i64(p.offset.value());
                }
                e3.tagged_fields();
            });
            e2.tagged_fields();
        });
        e.tagged_fields();
    }

    static std::optional<response> decode(byte_reader& r, std::int16_t version) {
        if (!supports_version<api>(version)) {
            r.fail();
            return std::nullopt;
        }
        decoder d(r, is_flexible_version<api>(version));
        response m;
        if (version >= 2) m.throttle_time_ms = d.i32();
        d.array(m.topics, d.min_string() + d.min_array() + d.min_tags(), [version](decoder& d2, response_topic& t) {
            t.name = d2.string();
            d2.array(t.partitions, 6 + d2.min_tags(), [version](decoder& d3, response_partition& p) {
                p.partition_index = gregor::partition_id{d3.i32()};
                p.error_code = static_cast<gregor::error_code>(d3.i16());
                if (version == 0) {
                    d3.array(p.old_style_offsets, 8, [](decoder& d4, std::int64_t& o) { o = d4.i64(); });
                } else {
                    p.timestamp = d3.i64();
                    p.offset = gregor::offset{d3.i64()};
                }
                d3.tagged_fields();
            });
            d2.tagged_fields();
        });
        d.tagged_fields();
        if (!d.ok()) return std::nullopt;
        return m;
    }
};

static_assert(kafka_message<request>, "gregor::wire::list_offsets::request must model kafka_message");
static_assert(kafka_message<response>, "gregor::wire::list_offsets::response must model kafka_message");

} // namespace gregor::wire::list_offsets
