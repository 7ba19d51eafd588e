// BrokerRegistration (key 62), versions 0-4; flexible from v0 (request header v2, response header
// v1). A broker that starts announces itself to the active controller: who it is, which process
// incarnation this is, where it listens and which feature levels it supports. The controller
// answers the broker epoch of this registration, which the broker then quotes in heartbeats and
// AlterPartition (docs/protocol.md §14.9, §14.11.3).
//
//   request   broker_id, cluster_id, incarnation_id (uuid),
//             listeners[name, host, port (uint16), security_protocol],
//             features[name, min_supported_version, max_supported_version], rack (nullable),
//             is_migrating_zk_broker (v1+), log_dirs[uuid] (v2+), previous_broker_epoch (v3+)
//   response  throttle_time_ms, error_code, broker_epoch
//   Per version: v1 is_migrating_zk_broker (ZooKeeper migration); v2 log_dirs (KIP-858); v3
//   previous_broker_epoch, the epoch before a clean shutdown (KIP-966); v4 = v3, but features whose
//   min_supported_version is 0 may be sent (KAFKA-17492). The response is the same in every
//   version. No tagged fields are defined.
//
// Encoding v0-3 leaves out the features with min_supported_version 0, as Kafka's own sender does
// (controllers before the fix refused them); decode keeps whatever arrives.
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
#include <type_traits>
#include <vector>

namespace gregor::wire::broker_registration {

/// Kafka's SecurityProtocol ids (Listener.SecurityProtocol).
inline constexpr std::int16_t security_protocol_plaintext = 0;
inline constexpr std::int16_t security_protocol_ssl = 1;
inline constexpr std::int16_t security_protocol_sasl_plaintext = 2;
inline constexpr std::int16_t security_protocol_sasl_ssl = 3;

/// The first version that may carry features with min_supported_version 0.
inline constexpr std::int16_t first_version_with_min_zero_features = 4;

struct listener {
    std::string_view name{}; // the listener name, e.g. "PLAINTEXT"
    std::string_view host{};
    std::uint16_t port = 0;
    std::int16_t security_protocol = security_protocol_plaintext;
};

struct feature {
    std::string_view name{}; // e.g. "metadata.version"
    std::int16_t min_supported_version = 0;
    std::int16_t max_supported_version = 0;
};

struct response;

struct request {
    using api = broker_registration_api;
    using response_type = response;

    gregor::node_id broker_id{-1};
    std::string_view cluster_id{};
    wire::uuid incarnation_id{}; // new for each start of the broker process
    std::vector<listener> listeners{};
    std::vector<feature> features{};
    std::optional<std::string_view> rack{};
    bool is_migrating_zk_broker = false;     // v1+
    std::vector<wire::uuid> log_dirs{};      // v2+; the log directories that are online
    std::int64_t previous_broker_epoch = -1; // v3+; the epoch before a clean shutdown, else -1

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<request> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<request>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        const auto v = io.version();
        const auto feature_element = [](auto& io2, auto& f) {
            io2.string(f.name);
            io2.i16(f.min_supported_version);
            io2.i16(f.max_supported_version);
            io2.tagged_fields();
        };
        io.i32(m.broker_id);
        io.string(m.cluster_id);
        io.uuid(m.incarnation_id);
        io.array(m.listeners, [](auto& io2, auto& l) {
            io2.string(l.name);
            io2.string(l.host);
            uint16_field(io2, l.port);
            io2.i16(l.security_protocol);
            io2.tagged_fields();
        });
        if constexpr (std::is_const_v<Self>) {
            if (v < first_version_with_min_zero_features) {
                std::vector<wire::broker_registration::feature> kept;
                for (const auto& f : m.features)
                    if (f.min_supported_version != 0) kept.push_back(f);
                io.array(kept, feature_element);
            } else {
                io.array(m.features, feature_element);
            }
        } else {
            io.array(m.features, feature_element);
        }
        io.nullable_string(m.rack);
        if (v >= 1) io.boolean(m.is_migrating_zk_broker);
        if (v >= 2) io.array(m.log_dirs, [](auto& io2, auto& d) { io2.uuid(d); });
        if (v >= 3) io.i64(m.previous_broker_epoch);
        io.tagged_fields();
    }

    /// Kafka's uint16 (the listener port): two big-endian bytes, carried through i16. `Port` is
    /// const when encoding or sizing, mutable when decoding.
    template <typename IO, typename Port>
    static void uint16_field(IO& io, Port& port) {
        if constexpr (std::is_const_v<Port>) {
            io.i16(static_cast<std::int16_t>(port));
        } else {
            std::int16_t raw = 0;
            io.i16(raw);
            port = static_cast<std::uint16_t>(raw);
        }
    }
};

struct response {
    using api = broker_registration_api;

    std::int32_t throttle_time_ms = 0;
    gregor::error_code error_code = gregor::error_code::none;
    std::int64_t broker_epoch = -1; // -1 when none was assigned

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<response> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<response>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        io.i32(m.throttle_time_ms);
        io.i16(m.error_code);
        io.i64(m.broker_epoch);
        io.tagged_fields();
    }
};

static_assert(kafka_message<request>, "gregor::wire::broker_registration::request must model kafka_message");
static_assert(kafka_message<response>, "gregor::wire::broker_registration::response must model kafka_message");

} // namespace gregor::wire::broker_registration
