// DescribeCluster (key 60), versions 0-1; flexible from v0 (request header v2, response header
// v1). Any broker answers; Java's admin client uses it instead of Metadata for the cluster id,
// controller and brokers (docs/protocol.md §17).
//
//   request   include_cluster_authorized_operations, endpoint_type (v1+)
//   response  throttle_time_ms, error_code, error_message (nullable), endpoint_type (v1+),
//             cluster_id, controller_id, brokers[broker_id, host, port, rack (nullable)],
//             cluster_authorized_operations
//   Per version (§13): v1 endpoint_type (KIP-919: 1 = brokers, 2 = controllers); a broker asked
//   for controllers answers MISMATCHED_ENDPOINT_TYPE, an unknown type UNSUPPORTED_ENDPOINT_TYPE.
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
#include <limits>
#include <optional>
#include <string_view>
#include <vector>

namespace gregor::wire::describe_cluster {

/// KIP-919's endpoint types (v1+).
enum class endpoint_type : std::int8_t { unknown = 0, brokers = 1, controllers = 2 };

/// cluster_authorized_operations' default: "not requested / not known".
inline constexpr std::int32_t authorized_operations_unknown = std::numeric_limits<std::int32_t>::min();

struct response;

struct request {
    using api = describe_cluster_api;
    using response_type = response;

    bool include_cluster_authorized_operations = false;
    describe_cluster::endpoint_type endpoint_type = describe_cluster::endpoint_type::brokers; // v1+

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<request> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<request>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        io.boolean(m.include_cluster_authorized_operations);
        if (io.version() >= 1) io.i8(m.endpoint_type);
        io.tagged_fields();
    }
};

struct broker {
    gregor::node_id broker_id{0};
    std::string_view host{};
    std::int32_t port = 0;
    std::optional<std::string_view> rack{};
};

struct response {
    using api = describe_cluster_api;

    std::int32_t throttle_time_ms = 0;
    gregor::error_code error_code = gregor::error_code::none;
    std::optional<std::string_view> error_message{};
    describe_cluster::endpoint_type endpoint_type = describe_cluster::endpoint_type::brokers; // v1+
    std::string_view cluster_id{};
    gregor::node_id controller_id{-1};
    std::vector<broker> brokers{};
    std::int32_t cluster_authorized_operations = authorized_operations_unknown;

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<response> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<response>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        io.i32(m.throttle_time_ms);
        io.i16(m.error_code);
        io.nullable_string(m.error_message);
        if (io.version() >= 1) io.i8(m.endpoint_type);
        io.string(m.cluster_id);
        io.i32(m.controller_id);
        io.array(m.brokers, [](auto& io2, auto& b) {
            io2.i32(b.broker_id);
            io2.string(b.host);
            io2.i32(b.port);
            io2.nullable_string(b.rack);
            io2.tagged_fields();
        });
        io.i32(m.cluster_authorized_operations);
        io.tagged_fields();
    }
};

static_assert(kafka_message<request>, "gregor::wire::describe_cluster::request must model kafka_message");
static_assert(kafka_message<response>, "gregor::wire::describe_cluster::response must model kafka_message");

} // namespace gregor::wire::describe_cluster
