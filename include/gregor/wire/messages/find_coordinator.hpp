// FindCoordinator (key 10), versions 0-5; v3+ flexible. librdkafka's feature probe needs v0 in
// the advertised range or it never looks up group/transaction coordinators (docs/protocol.md
// §3.1); transactional lookups need v1+ (key_type).
//
//   request   key (v0-3), key_type (v1+; 0 group, 1 transaction), coordinator_keys[] (v4+)
//   response  throttle_time_ms (v1+),
//             v0-3: error_code, error_message (v1+, nullable), node_id, host, port
//             v4+:  coordinators[key, node_id, host, port, error_code, error_message (nullable)]
//   Per version (§4.1, §13): v1 key_type, throttle and error_message; v2 = v1; v3 flexible; v4
//   batches several keys of one key_type in one request and answers one coordinator per key
//   (KIP-699: `key` and the single-coordinator fields are gone); v5 = v4 (may answer
//   TRANSACTION_ABORTABLE).
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

namespace gregor::wire::find_coordinator {

enum class coordinator_type : std::int8_t { group = 0, transaction = 1 };

struct response;

struct request {
    using api = find_coordinator_api;
    using response_type = response;

    std::string_view key;                                // v0-3: group id or transactional id
    coordinator_type key_type = coordinator_type::group; // v1+
    std::vector<std::string_view> coordinator_keys{};    // v4+: the keys, all of key_type

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<request> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<request>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        const auto v = io.version();
        if (v <= 3) io.string(m.key);
        if (v >= 1) io.i8(m.key_type);
        if (v >= 4) io.array(m.coordinator_keys, [](auto& io2, auto& k) { io2.string(k); });
        io.tagged_fields();
    }
};

/// One key's coordinator (v4+).
struct coordinator {
    std::string_view key;
    gregor::node_id node_id{-1};
    std::string_view host;
    std::int32_t port = -1;
    gregor::error_code error_code = gregor::error_code::none;
    std::optional<std::string_view> error_message;
};

struct response {
    using api = find_coordinator_api;

    std::int32_t throttle_time_ms = 0;                        // v1+
    gregor::error_code error_code = gregor::error_code::none; // v0-3
    std::optional<std::string_view> error_message;            // v1-3
    gregor::node_id node_id{-1};                              // v0-3
    std::string_view host;                                    // v0-3
    std::int32_t port = -1;                                   // v0-3
    std::vector<coordinator> coordinators{};                  // v4+

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<response> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<response>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        const auto v = io.version();
        if (v >= 1) io.i32(m.throttle_time_ms);
        if (v <= 3) {
            io.i16(m.error_code);
            if (v >= 1) io.nullable_string(m.error_message);
            io.i32(m.node_id);
            io.string(m.host);
            io.i32(m.port);
        } else {
            io.array(m.coordinators, [](auto& io2, auto& c) {
                io2.string(c.key);
                io2.i32(c.node_id);
                io2.string(c.host);
                io2.i32(c.port);
                io2.i16(c.error_code);
                io2.nullable_string(c.error_message);
                io2.tagged_fields();
            });
        }
        io.tagged_fields();
    }
};

static_assert(kafka_message<request>, "gregor::wire::find_coordinator::request must model kafka_message");
static_assert(kafka_message<response>, "gregor::wire::find_coordinator::response must model kafka_message");

} // namespace gregor::wire::find_coordinator
