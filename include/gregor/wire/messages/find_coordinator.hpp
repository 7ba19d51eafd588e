// FindCoordinator (key 10), versions 0-2 (none flexible). librdkafka's feature probe needs v0 in
// the advertised range or it never looks up group/transaction coordinators (docs/protocol.md
// §3.1); transactional lookups need v1+ (key_type).
//
//   request   key, key_type (v1+; 0 group, 1 transaction)
//   response  throttle_time_ms (v1+), error_code, error_message (v1+, nullable), node_id, host, port
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

namespace gregor::wire::find_coordinator {

enum class coordinator_type : std::int8_t { group = 0, transaction = 1 };

struct request {
    using api = find_coordinator_api;

    std::string_view key;                                 // group id or transactional id
    coordinator_type key_type = coordinator_type::group; // v1+

    void encode(byte_writer& w, std::int16_t version) const {
        require_version<api>(version);
        encoder e(w, is_flexible_version<api>(version));
        e.string(key);
        if (version >= 1) e.i8(static_cast<std::int8_t>(key_type));
        e.tagged_fields();
    }

    static std::optional<request> decode(byte_reader& r, std::int16_t version) {
        if (!supports_version<api>(version)) {
            r.fail();
            return std::nullopt;
        }
        decoder d(r, is_flexible_version<api>(version));
        request m;
        m.key = d.string();
        if (version >= 1) m.key_type = static_cast<coordinator_type>(d.i8());
        d.tagged_fields();
        if (!d.ok()) return std::nullopt;
        return m;
    }
};

struct response {
    using api = find_coordinator_api;

    std::int32_t throttle_time_ms = 0; // v1+
    gregor::error_code error_code = gregor::error_code::none;
    std::optional<std::string_view> error_message; // v1+
    gregor::node_id node_id{-1};
    std::string_view host;
    std::int32_t port = -1;

    void encode(byte_writer& w, std::int16_t version) const {
        require_version<api>(version);
        encoder e(w, is_flexible_version<api>(version));
        if (version >= 1) e.i32(throttle_time_ms);
        e.i16(static_cast<std::int16_t>(error_code));
        if (version >= 1) e.nullable_string(error_message);
        e.i32(node_id.value());
        e.string(host);
        e.i32(port);
        e.tagged_fields();
    }

    static std::optional<response> decode(byte_reader& r, std::int16_t version) {
        if (!supports_version<api>(version)) {
            r.fail();
            return std::nullopt;
        }
        decoder d(r, is_flexible_version<api>(version));
        response m;
        if (version >= 1) m.throttle_time_ms = d.i32();
        m.error_code = static_cast<gregor::error_code>(d.i16());
        if (version >= 1) m.error_message = d.nullable_string();
        m.node_id = gregor::node_id{d.i32()};
        m.host = d.string();
        m.port = d.i32();
        d.tagged_fields();
        if (!d.ok()) return std::nullopt;
        return m;
    }
};

static_assert(kafka_message<request>, "gregor::wire::find_coordinator::request must model kafka_message");
static_assert(kafka_message<response>, "gregor::wire::find_coordinator::response must model kafka_message");

} // namespace gregor::wire::find_coordinator
