// Produce (key 0), versions 3-7 (message format v2; none flexible). A gregor broker advertises
// 0-7 (librdkafka compresses only if v0 is advertised) and closes connections that send 0-2,
// which carry message formats 0/1: `decode` fails for them and `encode` throws.
//
//   request   transactional_id (nullable), acks, timeout_ms,
//             topics[name, partitions[partition_index, records (nullable bytes)]]
//   response  responses[name, partitions[partition_index, error_code, base_offset,
//                                        log_append_time_ms (v2+), log_start_offset (v5+)]],
//             throttle_time_ms (v1+, LAST -- unlike every other API)
//
// Zero copy: a decoded partition's `records` is a view into the request frame (the batch bytes
// the broker validates, patches and appends as they are). On encode, a partition may instead carry
// `external` records: the encoder writes only their length and reports a gap (primitives.hpp), so
// a producer can send sealed batches with writev instead of copying them into the request.
// acks=0 requests get no response at all (docs/protocol.md §1.4).
//
// Decoded strings and records are views into the frame. Thread-safety: value types.
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
#include <vector>

namespace gregor::wire::produce {

struct partition_data {
    gregor::partition_id partition_index{0};
    std::optional<bytes_view> records;           // one or more record batches; decoded in place
    std::optional<external_records> external;    // encode only: emitted as a gap, `records` ignored
};

struct topic_data {
    std::string_view name;
    std::vector<partition_data> partitions;
};

struct request {
    using api = produce_api;

    std::optional<std::string_view> transactional_id; // v3+; null unless transactional
    std::int16_t acks = -1;                           // 0, 1 or -1 (all)
    std::int32_t timeout_ms = 30000;
    std::vector<topic_data> topics;

    void encode(byte_writer& w, std::int16_t version) const { encode_impl(w, version, nullptr); }
    /// Encodes partitions with `external` records as gaps appended to `gaps`.
    void encode(byte_writer& w, std::int16_t version, gap_list& gaps) const { encode_impl(w, version, &gaps); }

    static std::optional<request> decode(byte_reader& r, std::int16_t version) {
        if (!supports_version<api>(version)) {
            r.fail();
            return std::nullopt;
        }
        decoder d(r, is_flexible_version<api>(version));
        request m;
        m.transactional_id = d.nullable_string();
        m.acks = d.i16();
        m.timeout_ms = d.i32();
        d.array(m.topics, d.min_string() + d.min_array() + d.min_tags(), [](decoder& d2, topic_data& t) {
            t.name = d2.string();
            d2.array(t.partitions, 4 + d2.min_bytes() + d2.min_tags(), [](decoder& d3, partition_data& p) {
                p.partition_index = gregor::partition_id{d3.i32()};
                p.records = d3.nullable_bytes();
                d3.tagged_fields();
            });
            d2.tagged_fields();
        });
        d.tagged_fields();
        if (!d.ok()) return std::nullopt;
        return m;
    }

private:
    void encode_impl(byte_writer& w, std::int16_t version, gap_list* gaps) const {
        require_version<api>(version);
        encoder e(w, is_flexible_version<api>(version));
        e.nullable_string(transactional_id);
        e.i16(acks);
        e.i32(timeout_ms);
        e.array(topics, [gaps](encoder& e2, const topic_data& t) {
            e2.string(t.name);
            e2.array(t.partitions, [gaps](encoder& e3, const partition_data& p) {
                e3.i32(p.partition_index.value());
                if (p.external) {
                    if (!gaps) throw std::invalid_argument("gregor::wire: external records need a gap list");
                    e3.external(*p.external, *gaps);
                } else {
                    e3.nullable_bytes(p.records);
                }
                e3.tagged_fields();
            });
            e2.tagged_fields();
        });
        e.tagged_fields();
    }
};

struct partition_response {
    gregor::partition_id partition_index{0};
    gregor::error_code error_code = gregor::error_code::none;
    gregor::offset base_offset{-1};
    std::int64_t log_append_time_ms = -1;  // v2+; -1 unless the topic uses LogAppendTime
    gregor::offset log_start_offset{-1};   // v5+
};

struct topic_response {
    std::string_view name;
    std::vector<partition_response> partitions;
};

struct response {
    using api = produce_api;

    std::vector<topic_response> responses;
    std::int32_t throttle_time_ms = 0; // v1+

    void encode(byte_writer& w, std::int16_t version) const {
        require_version<api>(version);
        encoder e(w, is_flexible_version<api>(version));
        e.array(responses, [version](encoder& e2, const topic_response& t) {
            e2.string(t.name);
            e2.array(t.partitions, [version](encoder& e3, const partition_response& p) {
                e3.i32(p.partition_index.value());
                e3.i16(static_cast<std::int16_t>(p.error_code));
                e3.i64(p.base_offset.value());
                if (version >= 2) e3.i64(p.log_append_time_ms);
                if (version >= 5) e3.i64(p.log_start_offset.value());
                e3.tagged_fields();
            });
            e2.tagged_fields();
        });
        e.i32(throttle_time_ms);
        e.tagged_fields();
    }

    static std::optional<response> decode(byte_reader& r, std::int16_t version) {
        if (!supports_version<api>(version)) {
            r.fail();
            return std::nullopt;
        }
        decoder d(r, is_flexible_version<api>(version));
        response m;
        d.array(m.responses, d.min_string() + d.min_array() + d.min_tags(), [version](decoder& d2, topic_response& t) {
            t.name = d2.string();
            d2.array(t.partitions, 14 + d2.min_tags(), [version](decoder& d3, partition_response& p) {
                p.partition_index = gregor::partition_id{d3.i32()};
                p.error_code = static_cast<gregor::error_code>(d3.i16());
                p.base_offset = gregor::offset{d3.i64()};
                if (version >= 2) p.log_append_time_ms = d3.i64();
                if (version >= 5) p.log_start_offset = gregor::offset{d3.i64()};
                d3.tagged_fields();
            });
            d2.tagged_fields();
        });
        m.throttle_time_ms = d.i32();
        d.tagged_fields();
        if (!d.ok()) return std::nullopt;
        return m;
    }
};

static_assert(kafka_message<request>, "gregor::wire::produce::request must model kafka_message");
static_assert(kafka_message<response>, "gregor::wire::produce::response must model kafka_message");

} // namespace gregor::wire::produce
