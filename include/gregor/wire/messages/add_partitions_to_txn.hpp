// AddPartitionsToTxn (key 24), versions 0-5; v3+ flexible. Sent to the transaction coordinator
// before the first Produce to each partition of a transaction: the coordinator records the
// partitions, moves the transaction to Ongoing and starts its timeout (docs/protocol.md §7.2, §15).
//
//   request   v0-3: v3_and_below_transactional_id, v3_and_below_producer_id,
//                   v3_and_below_producer_epoch, v3_and_below_topics[name, partitions[]]
//             v4+:  transactions[transactional_id, producer_id, producer_epoch, verify_only,
//                                topics[name, partitions[]]]
//   response  throttle_time_ms,
//             v0-3: results_by_topic_v3_and_below[name, results_by_partition[partition_index,
//                                                                        partition_error_code]]
//             v4+:  error_code, results_by_transaction[transactional_id, topic_results[...as above]]
//   Per version (§13): v1 = v0 (throttling after the answer); v2 may answer PRODUCER_FENCED (older
//   versions get INVALID_PRODUCER_EPOCH instead); v3 flexible; v4 is the broker-to-coordinator form
//   (KIP-890): several transactions per request, and verify_only asks whether the partitions are
//   already in the transaction without adding them; v5 = v4 (may answer TRANSACTION_ABORTABLE).
//   No tagged fields are defined.
//
// Clients send v0-3 (librdkafka 2.0.2 only v0); the single-transaction fields and the batched
// ones never share a version, so each struct keeps both and a version codes only its own, as
// Kafka's schema names them. The coordinator answers every partition with the same error.
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

namespace gregor::wire::add_partitions_to_txn {

/// Partitions of one topic to add (or, with verify_only, to check).
struct topic {
    std::string_view name{};
    std::vector<gregor::partition_id> partitions{};
};

/// One transaction of a v4+ request.
struct transaction {
    std::string_view transactional_id{};
    gregor::producer_id producer_id{0};
    gregor::producer_epoch producer_epoch{0};
    bool verify_only = false; // only check that the partitions are already in the transaction
    std::vector<topic> topics{};
};

struct response;

struct request {
    using api = add_partitions_to_txn_api;
    using response_type = response;

    std::vector<transaction> transactions{}; // v4+
    std::string_view v3_and_below_transactional_id{};
    gregor::producer_id v3_and_below_producer_id{0};
    gregor::producer_epoch v3_and_below_producer_epoch{0};
    std::vector<topic> v3_and_below_topics{};

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<request> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<request>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        const auto topics = [](auto& io2, auto& t) {
            io2.string(t.name);
            io2.array(t.partitions, [](auto& io3, auto& p) { io3.i32(p); });
            io2.tagged_fields();
        };
        if (io.version() >= 4) {
            io.array(m.transactions, [&topics](auto& io2, auto& t) {
                io2.string(t.transactional_id);
                io2.i64(t.producer_id);
                io2.i16(t.producer_epoch);
                io2.boolean(t.verify_only);
                io2.array(t.topics, topics);
                io2.tagged_fields();
            });
        } else {
            io.string(m.v3_and_below_transactional_id);
            io.i64(m.v3_and_below_producer_id);
            io.i16(m.v3_and_below_producer_epoch);
            io.array(m.v3_and_below_topics, topics);
        }
        io.tagged_fields();
    }
};

struct partition_result {
    gregor::partition_id partition_index{0};
    gregor::error_code partition_error_code = gregor::error_code::none;
};

struct topic_result {
    std::string_view name{};
    std::vector<partition_result> results_by_partition{};
};

/// The answer for one transaction of a v4+ request.
struct transaction_result {
    std::string_view transactional_id{};
    std::vector<topic_result> topic_results{};
};

struct response {
    using api = add_partitions_to_txn_api;

    std::int32_t throttle_time_ms = 0;
    gregor::error_code error_code = gregor::error_code::none; // v4+: for the whole request
    std::vector<transaction_result> results_by_transaction{}; // v4+
    std::vector<topic_result> results_by_topic_v3_and_below{};

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<response> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<response>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        const auto topic_results = [](auto& io2, auto& t) {
            io2.string(t.name);
            io2.array(t.results_by_partition, [](auto& io3, auto& p) {
                io3.i32(p.partition_index);
                io3.i16(p.partition_error_code);
                io3.tagged_fields();
            });
            io2.tagged_fields();
        };
        io.i32(m.throttle_time_ms);
        if (io.version() >= 4) {
            io.i16(m.error_code);
            io.array(m.results_by_transaction, [&topic_results](auto& io2, auto& t) {
                io2.string(t.transactional_id);
                io2.array(t.topic_results, topic_results);
                io2.tagged_fields();
            });
        } else {
            io.array(m.results_by_topic_v3_and_below, topic_results);
        }
        io.tagged_fields();
    }
};

static_assert(kafka_message<request>, "gregor::wire::add_partitions_to_txn::request must model kafka_message");
static_assert(kafka_message<response>, "gregor::wire::add_partitions_to_txn::response must model kafka_message");

} // namespace gregor::wire::add_partitions_to_txn
