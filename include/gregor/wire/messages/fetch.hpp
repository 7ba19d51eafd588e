// Fetch (key 1), versions 4-16 (message format v2 and isolation levels); v12+ flexible.
//
//   request   replica_id (v4-14), max_wait_ms, min_bytes, max_bytes, isolation_level,
//             session_id + session_epoch (v7+),
//             topics[name (v4-12) | topic_id (v13+),
//                    partitions[partition_index, current_leader_epoch (v9+), fetch_offset,
//                               last_fetched_epoch (v12+), log_start_offset (v5+),
//                               partition_max_bytes]],
//             forgotten_topics_data[name (v7-12) | topic_id (v13+), partitions[]] (v7+),
//             rack_id (v11+); tags: cluster_id (tag 0), replica_state = replica_id +
//             replica_epoch (tag 1, v15+)
//   response  throttle_time_ms, error_code + session_id (v7+),
//             responses[name (v4-12) | topic_id (v13+),
//                       partitions[partition_index, error_code, high_watermark,
//                                  last_stable_offset, log_start_offset (v5+),
//                                  aborted_transactions[producer_id, first_offset] (nullable),
//                                  preferred_read_replica (v11+), records (nullable);
//                                  tags: diverging_epoch (0), current_leader (1),
//                                  snapshot_id (2)]];
//             tags: node_endpoints (tag 0, v16+)
//   Per version (docs/protocol.md §4.1, §13, §14.7): v5 log start offsets; v6 = v5; v7 fetch
//   sessions and forgotten topics; v8 = v7; v9 current_leader_epoch; v10 = v9 (zstd); v11 rack_id
//   and preferred_read_replica; v12 flexible, last_fetched_epoch and the diverging-epoch /
//   current-leader / snapshot tags; v13 topic ids instead of names; v14 = v13; v15 the follower's
//   id moves into the tagged replica_state (replica_id is no longer in the body); v16 adds the
//   response's node_endpoints (KIP-951). Java consumers stay at v12 unless they have topic ids.
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
// Names and topic ids: a version carries one or the other; the field the version does not carry
// is left at its default by decode and ignored by encode (the all-zero uuid means "none").
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
#include <gregor/wire/messages/common.hpp>
#include <gregor/wire/primitives.hpp>

#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>
#include <vector>

namespace gregor::wire::fetch {

struct fetch_partition {
    gregor::partition_id partition_index{0};
    gregor::leader_epoch current_leader_epoch{-1}; // v9+; -1 from clients
    gregor::offset fetch_offset{0};
    gregor::offset log_start_offset{-1}; // v5+; -1 from consumers, the LSO of a follower
    std::int32_t partition_max_bytes = 1048576;
    gregor::leader_epoch last_fetched_epoch{-1}; // v12+; epoch of the last fetched record
};

struct fetch_topic {
    std::string_view name; // v4-12
    std::vector<fetch_partition> partitions;
    wire::uuid topic_id{}; // v13+
};

struct forgotten_topic {
    std::string_view name; // v7-12
    std::vector<gregor::partition_id> partitions;
    wire::uuid topic_id{}; // v13+
};

struct response;

struct request {
    using api = fetch_api;
    using response_type = response;

    gregor::node_id replica_id{-1}; // -1 consumer, >= 0 follower broker id; v15+ in replica_state
    std::int32_t max_wait_ms = 500;
    std::int32_t min_bytes = 1;
    std::int32_t max_bytes = std::numeric_limits<std::int32_t>::max();
    wire::isolation_level isolation_level = wire::isolation_level::read_uncommitted;
    std::int32_t session_id = 0;     // v7+
    std::int32_t session_epoch = -1; // v7+
    std::vector<fetch_topic> topics;
    std::vector<forgotten_topic> forgotten_topics_data; // v7+
    std::string_view rack_id;                           // v11+
    std::optional<std::string_view> cluster_id{};       // v12+, tag 0; written unless null
    std::int64_t replica_epoch = -1;                    // v15+, tag 1 with replica_id

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<request> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<request>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        const auto v = io.version();
        if (v <= 14) io.i32(m.replica_id);
        io.i32(m.max_wait_ms);
        io.i32(m.min_bytes);
        io.i32(m.max_bytes);      // v3+
        io.i8(m.isolation_level); // v4+
        if (v >= 7) {
            io.i32(m.session_id);
            io.i32(m.session_epoch);
        }
        io.array(m.topics, [](auto& io2, auto& t) {
            if (io2.version() <= 12)
                io2.string(t.name);
            else
                io2.uuid(t.topic_id);
            io2.array(t.partitions, [](auto& io3, auto& p) {
                const auto pv = io3.version();
                io3.i32(p.partition_index);
                if (pv >= 9) io3.i32(p.current_leader_epoch);
                io3.i64(p.fetch_offset);
                if (pv >= 12) io3.i32(p.last_fetched_epoch);
                if (pv >= 5) io3.i64(p.log_start_offset);
                io3.i32(p.partition_max_bytes);
                io3.tagged_fields();
            });
            io2.tagged_fields();
        });
        if (v >= 7) {
            io.array(m.forgotten_topics_data, [](auto& io2, auto& t) {
                if (io2.version() <= 12)
                    io2.string(t.name);
                else
                    io2.uuid(t.topic_id);
                io2.array(t.partitions, [](auto& io3, auto& p) { io3.i32(p); });
                io2.tagged_fields();
            });
        }
        if (v >= 11) io.string(m.rack_id);
        io.tagged_fields(tag(0, m.cluster_id.has_value(), [&](auto& t) { t.nullable_string(m.cluster_id); }),
                         tag_if(v >= 15, 1, m.replica_id != gregor::node_id{-1} || m.replica_epoch != -1, [&](auto& t) {
                             t.i32(m.replica_id);
                             t.i64(m.replica_epoch);
                             t.tagged_fields();
                         }));
    }
};

struct aborted_transaction {
    gregor::producer_id producer_id{-1};
    gregor::offset first_offset{0};
};

/// Where a follower's log diverges from the leader's (v12+, tag 0; docs/protocol.md §14.7).
struct epoch_end_offset {
    gregor::leader_epoch epoch{-1};
    gregor::offset end_offset{-1};
    friend bool operator==(const epoch_end_offset&, const epoch_end_offset&) = default;
};

/// The snapshot to fetch instead when fetch_offset is below the log start (v12+, tag 2). Note the
/// wire order: end_offset before epoch.
struct snapshot_position {
    gregor::offset end_offset{-1};
    gregor::leader_epoch epoch{-1};
    friend bool operator==(const snapshot_position&, const snapshot_position&) = default;
};

struct partition_data {
    gregor::partition_id partition_index{0};
    gregor::error_code error_code = gregor::error_code::none;
    gregor::offset high_watermark{-1};
    gregor::offset last_stable_offset{-1};                                // = HWM when no txn is open
    gregor::offset log_start_offset{-1};                                  // v5+
    std::optional<std::vector<aborted_transaction>> aborted_transactions; // null for read_uncommitted
    gregor::node_id preferred_read_replica{-1};                           // v11+; must stay -1
    std::optional<bytes_view> records;                                    // decoded in place
    std::optional<external_records> external;                             // encode only: written as a gap
    epoch_end_offset diverging_epoch{};                                   // v12+, tag 0; written unless -1/-1
    leader_id_and_epoch current_leader{};                                 // v12+, tag 1; written unless -1/-1
    snapshot_position snapshot_id{};                                      // v12+, tag 2; written unless -1/-1
};

struct topic_response {
    std::string_view name; // v4-12
    std::vector<partition_data> partitions;
    wire::uuid topic_id{}; // v13+
};

struct response {
    using api = fetch_api;

    std::int32_t throttle_time_ms = 0;
    gregor::error_code error_code = gregor::error_code::none; // v7+
    std::int32_t session_id = 0;                              // v7+
    std::vector<topic_response> responses;
    std::vector<node_endpoint> node_endpoints{}; // v16+, tag 0; written unless empty

    /// Copies any inline records; throws std::invalid_argument if a partition is `external`.
    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    /// Leaves `external` records out and appends one gap per such partition to `gaps`.
    void encode(byte_writer& w, std::int16_t version, gap_list& gaps) const { encode_fields(*this, w, version, &gaps); }
    static std::optional<response> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<response>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        const auto v = io.version();
        io.i32(m.throttle_time_ms); // v1+
        if (v >= 7) {
            io.i16(m.error_code);
            io.i32(m.session_id);
        }
        io.array(m.responses, [](auto& io2, auto& t) {
            if (io2.version() <= 12)
                io2.string(t.name);
            else
                io2.uuid(t.topic_id);
            io2.array(t.partitions, [](auto& io3, auto& p) {
                const auto pv = io3.version();
                io3.i32(p.partition_index);
                io3.i16(p.error_code);
                io3.i64(p.high_watermark);
                io3.i64(p.last_stable_offset); // v4+
                if (pv >= 5) io3.i64(p.log_start_offset);
                io3.nullable_array(p.aborted_transactions, [](auto& io4, auto& a) {
                    io4.i64(a.producer_id);
                    io4.i64(a.first_offset);
                    io4.tagged_fields();
                });
                if (pv >= 11) io3.i32(p.preferred_read_replica);
                io3.records(p.records, p.external);
                io3.tagged_fields(tag(0, p.diverging_epoch != epoch_end_offset{},
                                      [&](auto& t2) {
                                          t2.i32(p.diverging_epoch.epoch);
                                          t2.i64(p.diverging_epoch.end_offset);
                                          t2.tagged_fields();
                                      }),
                                  tag(1, p.current_leader != leader_id_and_epoch{},
                                      [&](auto& t2) { leader_id_and_epoch::fields(t2, p.current_leader); }),
                                  tag(2, p.snapshot_id != snapshot_position{}, [&](auto& t2) {
                                      t2.i64(p.snapshot_id.end_offset);
                                      t2.i32(p.snapshot_id.epoch);
                                      t2.tagged_fields();
                                  }));
            });
            io2.tagged_fields();
        });
        io.tagged_fields(tag_if(v >= 16, 0, !m.node_endpoints.empty(), [&](auto& t) {
            t.array(m.node_endpoints, [](auto& io2, auto& n) { node_endpoint::fields(io2, n); });
        }));
    }
};

static_assert(kafka_message<request>, "gregor::wire::fetch::request must model kafka_message");
static_assert(kafka_message<response>, "gregor::wire::fetch::response must model kafka_message");

} // namespace gregor::wire::fetch
