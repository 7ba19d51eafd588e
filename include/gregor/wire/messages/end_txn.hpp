// EndTxn (key 26), versions 0-4; v3+ flexible. Sent to the transaction coordinator to commit or
// abort the producer's open transaction. The coordinator answers once its Prepare* state is
// durable and writes the markers afterwards (docs/protocol.md §7.2, §15).
//
//   request   transactional_id, producer_id, producer_epoch, committed (true = commit)
//   response  throttle_time_ms, error_code
//   Per version (§13): v1 = v0 (throttling after the answer); v2 may answer PRODUCER_FENCED (older
//   versions get INVALID_PRODUCER_EPOCH instead); v3 flexible; v4 = v3 (may answer
//   TRANSACTION_ABORTABLE, KIP-890). No tagged fields are defined.
//
// Kafka 3.9 serves up to v4. Trunk's v5 (KIP-890 part 2, marked unstable) bumps the epoch on
// every commit and returns the producer id and epoch to use next; the response already carries
// those two fields, coded from v5, so that serving v5 is only a matter of raising end_txn_api's
// max_version once the version and its coordinator semantics are settled. Until then they stay
// at -1 and never travel.
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

namespace gregor::wire::end_txn {

struct response;

struct request {
    using api = end_txn_api;
    using response_type = response;

    std::string_view transactional_id{};
    gregor::producer_id producer_id{0};
    gregor::producer_epoch producer_epoch{0};
    bool committed = false; // false: abort

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<request> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<request>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        io.string(m.transactional_id);
        io.i64(m.producer_id);
        io.i16(m.producer_epoch);
        io.boolean(m.committed);
        io.tagged_fields();
    }
};

struct response {
    using api = end_txn_api;

    std::int32_t throttle_time_ms = 0;
    gregor::error_code error_code = gregor::error_code::none;
    gregor::producer_id producer_id = no_producer_id;          // v5+ (not served yet, see above)
    gregor::producer_epoch producer_epoch = no_producer_epoch; // v5+

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<response> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<response>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        io.i32(m.throttle_time_ms);
        io.i16(m.error_code);
        if (io.version() >= 5) {
            io.i64(m.producer_id);
            io.i16(m.producer_epoch);
        }
        io.tagged_fields();
    }
};

static_assert(kafka_message<request>, "gregor::wire::end_txn::request must model kafka_message");
static_assert(kafka_message<response>, "gregor::wire::end_txn::response must model kafka_message");

} // namespace gregor::wire::end_txn
