// AddOffsetsToTxn (key 25), versions 0-4; v3+ flexible. Sent to the transaction coordinator before
// a transactional producer commits consumer offsets (TxnOffsetCommit, to the group coordinator):
// the coordinator adds the group's `__consumer_offsets` partition to the transaction, so that the
// transaction's markers reach the offsets too (docs/protocol.md §7.2, §15).
//
//   request   transactional_id, producer_id, producer_epoch, group_id
//   response  throttle_time_ms, error_code
//   Per version (§13): v1 = v0 (throttling after the answer); v2 may answer PRODUCER_FENCED (older
//   versions get INVALID_PRODUCER_EPOCH instead); v3 flexible; v4 = v3 (may answer
//   TRANSACTION_ABORTABLE, KIP-890). No tagged fields are defined.
//
// librdkafka 2.0.2 sends only v0, so a broker's range must start at 0 (§3.1).
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

namespace gregor::wire::add_offsets_to_txn {

struct response;

struct request {
    using api = add_offsets_to_txn_api;
    using response_type = response;

    std::string_view transactional_id{};
    gregor::producer_id producer_id{0};
    gregor::producer_epoch producer_epoch{0};
    std::string_view group_id{}; // whose offsets the transaction will commit

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<request> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<request>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        io.string(m.transactional_id);
        io.i64(m.producer_id);
        io.i16(m.producer_epoch);
        io.string(m.group_id);
        io.tagged_fields();
    }
};

struct response {
    using api = add_offsets_to_txn_api;

    std::int32_t throttle_time_ms = 0;
    gregor::error_code error_code = gregor::error_code::none;

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<response> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<response>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        io.i32(m.throttle_time_ms);
        io.i16(m.error_code);
        io.tagged_fields();
    }
};

static_assert(kafka_message<request>, "gregor::wire::add_offsets_to_txn::request must model kafka_message");
static_assert(kafka_message<response>, "gregor::wire::add_offsets_to_txn::response must model kafka_message");

} // namespace gregor::wire::add_offsets_to_txn
