// WriteTxnMarkers (key 27), versions 0-1; v1 flexible. Sent by a transaction coordinator to the
// leaders of a finished transaction's partitions: each leader appends one COMMIT or ABORT control
// batch per partition, which closes the producer's transaction there and moves the last stable
// offset on (docs/protocol.md §2.4, §7.3, §15).
//
//   request   markers[producer_id, producer_epoch, transaction_result (true = commit),
//                     topics[name, partition_indexes[]], coordinator_epoch]
//   response  markers[producer_id, topics[name, partitions[partition_index, error_code]]]
//   Per version (§13): v1 flexible. No tagged fields are defined.
//
// coordinator_epoch goes into the marker's value; a leader refuses a marker whose coordinator epoch
// is older than the one it has seen for the producer (TRANSACTION_COORDINATOR_FENCED), so that a
// deposed coordinator cannot finish a transaction its successor has taken over. Only brokers send
// this API (Kafka sends v1).
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

namespace gregor::wire::write_txn_markers {

struct marker_topic {
    std::string_view name{};
    std::vector<gregor::partition_id> partition_indexes{};
};

/// The markers of one producer's transaction.
struct marker {
    gregor::producer_id producer_id{0};
    gregor::producer_epoch producer_epoch{0};
    bool transaction_result = false; // true: COMMIT, false: ABORT
    std::vector<marker_topic> topics{};
    std::int32_t coordinator_epoch = 0;
};

struct response;

struct request {
    using api = write_txn_markers_api;
    using response_type = response;

    std::vector<marker> markers{};

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<request> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<request>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        io.array(m.markers, [](auto& io2, auto& mk) {
            io2.i64(mk.producer_id);
            io2.i16(mk.producer_epoch);
            io2.boolean(mk.transaction_result);
            io2.array(mk.topics, [](auto& io3, auto& t) {
                io3.string(t.name);
                io3.array(t.partition_indexes, [](auto& io4, auto& p) { io4.i32(p); });
                io3.tagged_fields();
            });
            io2.i32(mk.coordinator_epoch);
            io2.tagged_fields();
        });
        io.tagged_fields();
    }
};

struct partition_result {
    gregor::partition_id partition_index{0};
    gregor::error_code error_code = gregor::error_code::none;
};

struct topic_result {
    std::string_view name{};
    std::vector<partition_result> partitions{};
};

/// The results for one producer's markers.
struct marker_result {
    gregor::producer_id producer_id{0};
    std::vector<topic_result> topics{};
};

struct response {
    using api = write_txn_markers_api;

    std::vector<marker_result> markers{};

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<response> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<response>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        io.array(m.markers, [](auto& io2, auto& mk) {
            io2.i64(mk.producer_id);
            io2.array(mk.topics, [](auto& io3, auto& t) {
                io3.string(t.name);
                io3.array(t.partitions, [](auto& io4, auto& p) {
                    io4.i32(p.partition_index);
                    io4.i16(p.error_code);
                    io4.tagged_fields();
                });
                io3.tagged_fields();
            });
            io2.tagged_fields();
        });
        io.tagged_fields();
    }
};

static_assert(kafka_message<request>, "gregor::wire::write_txn_markers::request must model kafka_message");
static_assert(kafka_message<response>, "gregor::wire::write_txn_markers::response must model kafka_message");

} // namespace gregor::wire::write_txn_markers
