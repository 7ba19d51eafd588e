// InitProducerId (key 22), versions 0-5; v2+ flexible (compact strings, tagged fields, request
// header v2, response header v1). librdkafka's idempotent producer sends v4 (docs/protocol.md
// §5 (b)), kafkajs v1.
//
//   request   transactional_id (nullable; null = idempotent only), transaction_timeout_ms,
//             producer_id + producer_epoch (v3+; -1/-1 on first init, the current pair to bump)
//   response  throttle_time_ms, error_code, producer_id, producer_epoch
//   Per version (§4.1, §13): v1 = v0 (throttling after the answer); v2 flexible; v3 the request's
//   producer id/epoch; v4 = v3 (may answer PRODUCER_FENCED); v5 = v4 (may answer
//   TRANSACTION_ABORTABLE, KIP-890).
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

namespace gregor::wire::init_producer_id {

struct response;

struct request {
    using api = init_producer_id_api;
    using response_type = response;

    std::optional<std::string_view> transactional_id;
    std::int32_t transaction_timeout_ms = 60000;
    gregor::producer_id producer_id = no_producer_id;          // v3+
    gregor::producer_epoch producer_epoch = no_producer_epoch; // v3+

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<request> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<request>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        io.nullable_string(m.transactional_id);
        io.i32(m.transaction_timeout_ms);
        if (io.version() >= 3) {
            io.i64(m.producer_id);
            io.i16(m.producer_epoch);
        }
        io.tagged_fields();
    }
};

struct response {
    using api = init_producer_id_api;

    std::int32_t throttle_time_ms = 0;
    gregor::error_code error_code = gregor::error_code::none;
    gregor::producer_id producer_id = no_producer_id;
    gregor::producer_epoch producer_epoch = no_producer_epoch;

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<response> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<response>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        io.i32(m.throttle_time_ms);
        io.i16(m.error_code);
        io.i64(m.producer_id);
        io.i16(m.producer_epoch);
        io.tagged_fields();
    }
};

static_assert(kafka_message<request>, "gregor::wire::init_producer_id::request must model kafka_message");
static_assert(kafka_message<response>, "gregor::wire::init_producer_id::response must model kafka_message");

} // namespace gregor::wire::init_producer_id
