// Produce (key 0), versions 3-11 (message format v2); v9+ flexible. A gregor broker advertises
// from 0 (librdkafka compresses only if v0 is advertised, docs/protocol.md §3.1) and closes
// connections that send 0-2, which carry message formats 0/1: `decode` fails for them and
// `encode` throws.
//
//   request   transactional_id (nullable), acks, timeout_ms,
//             topics[name, partitions[partition_index, records (nullable bytes)]]
//   response  responses[name, partitions[partition_index, error_code, base_offset,
//                                        log_append_time_ms (v2+), log_start_offset (v5+),
//                                        record_errors[batch_index, message] (v8+),
//                                        error_message (v8+), current_leader (v10+, tag 0)]],
//             throttle_time_ms (v1+, LAST -- unlike every other API), node_endpoints (v10+, tag 0)
//   Per version (§4.1, §13): the request is the same from v3 to v11 but for the flexible encoding
//   from v9 (v4 adds KAFKA_STORAGE_ERROR, v7 zstd, v11 TRANSACTION_ABORTABLE as answers); the
//   response adds record_errors and error_message in v8 and, in v10 (KIP-951), the tagged
//   current_leader / node_endpoints that point a client at a new leader.
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
#include <gregor/wire/messages/common.hpp>
#include <gregor/wire/primitives.hpp>

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace gregor::wire::produce {

struct partition_data {
    gregor::partition_id partition_index{0};
    std::optional<bytes_view> records;        // one or more record batches; decoded in place
    std::optional<external_records> external; // encode only: emitted as a gap, `records` ignored
};

struct topic_data {
    std::string_view name;
    std::vector<partition_data> partitions;
};

struct response;

struct request {
    using api = produce_api;
    using response_type = response;

    std::optional<std::string_view> transactional_id; // v3+; null unless transactional
    std::int16_t acks = -1;                           // 0, 1 or -1 (all)
    std::int32_t timeout_ms = 30000;
    std::vector<topic_data> topics;

    /// Copies any inline records; throws std::invalid_argument if a partition is `external`.
    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    /// Encodes partitions with `external` records as gaps appended to `gaps`.
    void encode(byte_writer& w, std::int16_t version, gap_list& gaps) const { encode_fields(*this, w, version, &gaps); }
    static std::optional<request> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<request>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        io.nullable_string(m.transactional_id); // v3+, and v3 is the oldest implemented
        io.i16(m.acks);
        io.i32(m.timeout_ms);
        io.array(m.topics, [](auto& io2, auto& t) {
            io2.string(t.name);
            io2.array(t.partitions, [](auto& io3, auto& p) {
                io3.i32(p.partition_index);
                io3.records(p.records, p.external);
                io3.tagged_fields();
            });
            io2.tagged_fields();
        });
        io.tagged_fields();
    }
};

/// A record that made the broker drop its batch (v8+, KIP-467).
struct record_error {
    std::int32_t batch_index = 0;
    std::optional<std::string_view> batch_index_error_message;
};

struct partition_response {
    gregor::partition_id partition_index{0};
    gregor::error_code error_code = gregor::error_code::none;
    gregor::offset base_offset{-1};
    std::int64_t log_append_time_ms = -1;            // v2+; -1 unless the topic uses LogAppendTime
    gregor::offset log_start_offset{-1};             // v5+
    std::vector<record_error> record_errors{};       // v8+
    std::optional<std::string_view> error_message{}; // v8+
    leader_id_and_epoch current_leader{};            // v10+, tag 0; written unless -1/-1
};

struct topic_response {
    std::string_view name;
    std::vector<partition_response> partitions;
};

struct response {
    using api = produce_api;

    std::vector<topic_response> responses;
    std::int32_t throttle_time_ms = 0;           // v1+
    std::vector<node_endpoint> node_endpoints{}; // v10+, tag 0; written unless empty

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<response> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<response>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        const auto v = io.version();
        io.array(m.responses, [](auto& io2, auto& t) {
            io2.string(t.name);
            io2.array(t.partitions, [](auto& io3, auto& p) {
                const auto pv = io3.version();
                io3.i32(p.partition_index);
                io3.i16(p.error_code);
                io3.i64(p.base_offset);
                if (pv >= 2) io3.i64(p.log_append_time_ms);
                if (pv >= 5) io3.i64(p.log_start_offset);
                if (pv >= 8) {
                    io3.array(p.record_errors, [](auto& io4, auto& e) {
                        io4.i32(e.batch_index);
                        io4.nullable_string(e.batch_index_error_message);
                        io4.tagged_fields();
                    });
                    io3.nullable_string(p.error_message);
                }
                io3.tagged_fields(tag_if(pv >= 10, 0, p.current_leader != leader_id_and_epoch{},
                                         [&](auto& t2) { leader_id_and_epoch::fields(t2, p.current_leader); }));
            });
            io2.tagged_fields();
        });
        io.i32(m.throttle_time_ms); // v1+, and v3 is the oldest implemented
        io.tagged_fields(tag_if(v >= 10, 0, !m.node_endpoints.empty(), [&](auto& t) {
            t.array(m.node_endpoints, [](auto& io2, auto& n) { node_endpoint::fields(io2, n); });
        }));
    }
};

static_assert(kafka_message<request>, "gregor::wire::produce::request must model kafka_message");
static_assert(kafka_message<response>, "gregor::wire::produce::response must model kafka_message");

} // namespace gregor::wire::produce
