// InitProducerId (key 22), versions 0-4; v2+ flexible (compact strings, tagged fields, request
// header v2, response header v1). librdkafka's idempotent producer sends v4 (docs/protocol.md
// §5 (b)), kafkajs v1.
//
//   request   transactional_id (nullable; null = idempotent only), transaction_timeout_ms,
//             producer_id + producer_epoch (v3+; -1/-1 on first init, the current pair to bump)
//   response  throttle_time_ms, error_code, producer_id, producer_epoch
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

struct request {
    using api = init_producer_id_api;

    std::optional<std::string_view> transactional_id;
    std::int32_t transaction_timeout_ms = 60000;
    gregor::producer_id producer_id = no_producer_id;          // v3+
    gregor::producer_epoch producer_epoch = no_producer_epoch; // v3+

    void encode(byte_writer& w, std::int16_t version) const {
        require_version<api>(version);
        encoder e(w, is_flexible_version<api>(version));
        e.nullable_string(transactional_id);
        e.i32(transaction_timeout_ms);
        if (version >= 3) {
            e.i64(producer_id.value());
            e.i16(producer_epoch.value());
        }
        e.tagged_fields();
    }

    static std::optional<request> decode(byte_reader& r, std::int16_t version) {
        if (!supports_version<api>(version)) {
            r.fail();
            return std::nullopt;
        }
        decoder d(r, is_flexible_version<api>(version));
        request m;
        m.transactional_id = d.nullable_string();
        m.transaction_timeout_ms = d.i32();
        if (version >= 3) {
            m.producer_id = gregor::producer_id{d.i64()};
            m.producer_epoch = gregor::producer_epoch{d.i16()};
        }
        d.tagged_fields();
        if (!d.ok()) return std::nullopt;
        return m;
    }
};

struct response {
    using api = init_producer_id_api;

    std::int32_t throttle_time_ms = 0;
    gregor::error_code error_code = gregor::error_code::none;
    gregor::producer_id producer_id = no_producer_id;
    gregor::producer_epoch producer_epoch = no_producer_epoch;

    void encode(byte_writer& w, std::int16_t version) const {
        require_version<api>(version);
        encoder e(w, is_flexible_version<api>(version));
        e.i32(throttle_time_ms);
        e.i16(static_cast<std::int16_t>(error_code));
        e.i64(producer_id.value());
        e.i16(producer_epoch.value());
        e.tagged_fields();
    }

    static std::optional<response> decode(byte_reader& r, std::int16_t version) {
        if (!supports_version<api>(version)) {
            r.fail();
            return std::nullopt;
        }
        decoder d(r, is_flexible_version<api>(version));
        response m;
        m.throttle_time_ms = d.i32();
        m.error_code = static_cast<gregor::error_code>(d.i16());
        m.producer_id = gregor::producer_id{d.i64()};
        m.producer_epoch = gregor::producer_epoch{d.i16()};
        d.tagged_fields();
        if (!d.ok()) return std::nullopt;
        return m;
    }
};

static_assert(kafka_message<request>, "gregor::wire::init_producer_id::request must model kafka_message");
static_assert(kafka_message<response>, "gregor::wire::init_producer_id::response must model kafka_message");

} // namespace gregor::wire::init_producer_id
