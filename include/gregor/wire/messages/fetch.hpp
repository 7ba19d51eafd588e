// Fetch (key 1), versions 4-11 (message format v2 and isolation levels; none flexible).
//
//   request   replica_id, max_wait_ms, min_bytes, max_bytes, isolation_level,
//             session_id + session_epoch (v7+),
//             topics[name, partitions[partition_index, current_leader_epoch (v9+), fetch_offset,
//                                     log_start_offset (v5+), partition_max_bytes]],
//             forgotten_topics_data[name, partitions[]] (v7+), rack_id (v11+)
//   response  throttle_time_ms, error_code + session_id (v7+),
//             responses[name, partitions[partition_index, error_code, high_watermark,
//                        last_stable_offset, log_start_offset (v5+),
//                        aborted_transactions[producer_id, first_offset] (nullable),
//                        preferred_read_replica (v11+), records (nullable)]]
//
// Zero copy, both directions:
// * Decoding a response (consumer side), each partition's `records` is a view into the frame.
// * Encoding a response (broker side), a partition whose `external` is set is written as its
//   length prefix only, and `encode(writer, version, gaps)` appends a records_gap{position, size,
//   cookie} for it (primitives.hpp). The network layer then sends the buffer up to the first gap,
//   the gap's bytes from the log (sendfile/splice of the file range the cookie names, or the
//   memory bytes), the buffer up to the next gap, and so on; encode_response_frame (header.hpp)
//   sizes the frame including the gaps. Nothing of the log passes through this encoder.
// Partitions whose records are plain bytes are copied inline, so both kinds may be mixed.
//
// Pitfalls (docs/protocol.md §4.1, §12): preferred_read_replica must be -1 or librdkafka goes
// elsewhere and drops the data; clients send session_id 0 / epoch -1 (no fetch sessions) and the
// broker answers session_id 0; read_committed needs a correct last_stable_offset and aborted list.
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
#include <limits>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <vector>

namespace gregor::wire::fetch {

struct fetch_partition {
    gregor::partition_id partition_index{0};
    gregor::leader_epoch current_leader_epoch{-1}; // v9+; -1 from clients
    gregor::offset fetch_offset{0};
    gregor::offset log_start_offset{-1};           // v5+; -1 from consumers, the LSO of a follower
    std::int32_t partition_max_bytes = 1048576;
};

struct fetch_topic {
    std::string_view name;
    std::vector<fetch_partition> partitions;
};

struct forgotten_topic {
    std::string_view name;
    std::vector<gregor::partition_id> partitions;
};

struct request {
    using api = fetch_api;

    gregor::node_id replica_id{-1};  // -1 consumer, >= 0 follower broker id
    std::int32_t max_wait_ms = 500;
    std::int32_t min_bytes = 1;
    std::int32_t max_bytes = std::numeric_limits<std::int32_t>::max();
    wire::isolation_level isolation_level = wire::isolation_level::read_uncommitted;
    std::int32_t session_id = 0;     // v7+
    std::int32_t session_epoch = -1; // v7+
    std::vector<fetch_topic> topics;
    std::vector<forgotten_topic> forgotten_topics_data; // v7+
    std::string_view rack_id;                           // v11+

    void encode(byte_writer& w, std::int16_t version) const {
        require_version<api>(version);
        encoder e(w, is_flexible_version<api>(version));
        e.i32(replica_id.value());
        e.i32(max_wait_ms);
        e.i32(min_bytes);
        e.i32(max_bytes);
        e.i8(static_cast<std::int8_t>(isolation_level));
        if (version >= 7) {
            e.i32(session_id);
            e.i32(session_epoch);
        }
        e.array(topics, [version](encoder& e2, const fetch_topic& t) {
            e2.string(t.name);
            e2.array(t.partitions, [version](encoder& e3, const fetch_partition& p) {
                e3.i32(p.partition_index.value());
                if (version >= 9) e3.i32(p.current_leader_epoch.value());
                e3.i64(p.fetch_offset.value());
                if (version >= 5) e3.i64(p.log_start_offset.value());
                e3.i32(p.partition_max_bytes);
                e3.tagged_fields();
            });
            e2.tagged_fields();
        });
        if (version >= 7) {
            e.array(forgotten_topics_data, [](encoder& e2, const forgotten_topic& t) {
                e2.string(t.name);
                e2.array(t.partitions, [](encoder& e3, gregor::partition_id p) { e3.i32(p.value()); });
                e2.tagged_fields();
            });
        }
        if (version >= 11) e.string(rack_id);
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
        m.max_wait_ms = d.i32();
        m.min_bytes = d.i32();
        m.max_bytes = d.i32();
        m.isolation_level = static_cast<wire::isolation_level>(d.i8());
        if (version >= 7) {
            m.session_id = d.i32();
            m.session_epoch = d.i32();
        }
        d.array(m.topics, d.min_string() + d.min_array() + d.min_tags(), [version](decoder& d2, fetch_topic& t) {
            t.name = d2.string();
            d2.array(t.partitions, 16 + d2.min_tags(), [version](decoder& d3, fetch_partition& p) {
                p.partition_index = gregor::partition_id{d3.i32()};
                if (version >= 9) p.current_leader_epoch = gregor::leader_epoch{d3.i32()};
                p.fetch_offset = gregor::offset{d3.i64()};
                if (version >= 5) p.log_start_offset = gregor::offset{d3.i64()};
                p.partition_max_bytes = d3.i32();
                d3.tagged_fields();
            });
            d2.tagged_fields();
        });
        if (version >= 7) {
            d.array(m.forgotten_topics_data, d.min_string() + d.min_array() + d.min_tags(),
                    [](decoder& d2, forgotten_topic& t) {
                        t.name = d2.string();
                        d2.array(t.partitions, 4, [](decoder& d3, gregor::partition_id& p) {
                            p = gregor::partition_id{d3.i32()};
                        });
                        d2.tagged_fields();
                    });
        }
        if (version >= 11) m.rack_id = d.string();
        d.tagged_fields();
        if (!d.ok()) return std::nullopt;
        return m;
    }
};

struct aborted_transaction {
    gregor::producer_id producer_id{-1};
    gregor::offset first_offset{0};
};

struct partition_data {
    gregor::partition_id partition_index{0};
    gregor::error_code error_code = gregor::error_code::none;
    gregor::offset high_watermark{-1};
    gregor::offset last_stable_offset{-1};                         // = HWM when no txn is open
    gregor::offset log_start_offset{-1};                           // v5+
    std::optional<std::vector<aborted_transaction>> aborted_transactions; // null for read_uncommitted
    gregor::node_id preferred_read_replica{-1};                    // v11+; must stay -1
    std::optional<bytes_view> records;                             // decoded in place
    std::optional<external_records> external;                      // encode only: written as a gap
};

struct topic_response {
    std::string_view name;
    std::vector<partition_data> partitions;
};

struct response {
    using api = fetch_api;

    std::int32_t throttle_time_ms = 0;
    gregor::error_code error_code = gregor::error_code::none; // v7+
    std::int32_t session_id = 0;                              // v7+
    std::vector<topic_response> responses;

    /// Copies any inline records; throws std::invalid_argument if a partition is `external`.
    void encode(byte_writer& w, std::int16_t version) const { encode_impl(w, version, nullptr); }
    /// Leaves `external` records out and appends one gap per such partition to `gaps`.
    void encode(byte_writer& w, std::int16_t version, gap_list& gaps) const { encode_impl(w, version, &gaps); }

    static std::optional<response> decode(byte_reader& r, std::int16_t version) {
        if (!supports_version<api>(version)) {
            r.fail();
            return std::nullopt;
        }
        decoder d(r, is_flexible_version<api>(version));
        response m;
        m.throttle_time_ms = d.i32();
        if (version >= 7) {
            m.error_code = static_cast<gregor::error_code>(d.i16());
            m.session_id = d.i32();
        }
        d.array(m.responses, d.min_string() + d.min_array() + d.min_tags(), [version](decoder& d2, topic_response& t) {
            t.name = d2.string();
            const auto min_partition = 22 + d2.min_array() + d2.min_bytes() + d2.min_tags();
            d2.array(t.partitions, min_partition, [version](decoder& d3, partition_data& p) {
                p.partition_index = gregor::partition_id{d3.i32()};
                p.error_code = static_cast<gregor::error_code>(d3.i16());
                p.high_watermark = gregor::offset{d3.i64()};
                p.last_stable_offset = gregor::offset{d3.i64()};
                if (version >= 5) p.log_start_offset = gregor::offset{d3.i64()};
                d3.nullable_array(p.aborted_transactions, 16 + d3.min_tags(),
                                  [](decoder& d4, aborted_transaction& a) {
                                      a.producer_id = gregor::producer_id{d4.i64()};
                                      a.first_offset = gregor::offset{d4.i64()};
                                      d4.tagged_fields();
                                  });
                if (version >= 11) p.preferred_read_replica = gregor::node_id{d3.i32()};
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
        e.i32(throttle_time_ms);
        if (version >= 7) {
            e.i16(static_cast<std::int16_t>(error_code));
            e.i32(session_id);
        }
        e.array(responses, [version, gaps](encoder& e2, const topic_response& t) {
            e2.string(t.name);
            e2.array(t.partitions, [version, gaps](encoder& e3, const partition_data& p) {
                e3.i32(p.partition_index.value());
                e3.i16(static_cast<std::int16_t>(p.error_code));
                e3.i64(p.high_watermark.value());
                e3.i64(p.last_stable_offset.value());
                if (version >= 5) e3.i64(p.log_start_offset.value());
                e3.nullable_array(p.aborted_transactions, [](encoder& e4, const aborted_transaction& a) {
                    e4.i64(a.producer_id.value());
                    e4.i64(a.first_offset.value());
                    e4.tagged_fields();
                });
                if (version >= 11) e3.i32(p.preferred_read_replica.value());
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

static_assert(kafka_message<request>, "gregor::wire::fetch::request must model kafka_message");
static_assert(kafka_message<response>, "gregor::wire::fetch::response must model kafka_message");

} // namespace gregor::wire::fetch
