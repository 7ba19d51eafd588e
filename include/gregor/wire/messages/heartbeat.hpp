// Heartbeat (key 12), versions 0-4; v4+ flexible. A classic-group member keeps its session with
// the group coordinator alive between rebalances (every heartbeat.interval.ms); the answer is how
// the coordinator tells it to rejoin: REBALANCE_IN_PROGRESS while a rebalance is being prepared
// (docs/protocol.md §16.4). Not to be confused with BrokerHeartbeat (key 63).
//
//   request   group_id, generation_id, member_id, group_instance_id (v3+, nullable)
//   response  throttle_time_ms (v1+), error_code
//   Per version: v1 throttle; v2 = v1 (throttling after the answer); v3 static membership
//   (KIP-345); v4 flexible. No tagged fields are defined.
//
// Decoded strings are views into the frame. Thread-safety: value types.
#pragma once

#include <gregor/core/buffer.hpp>
#include <gregor/core/error.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/header.hpp>
#include <gregor/wire/primitives.hpp>

#include <cstdint>
#include <optional>
#include <string_view>

namespace gregor::wire::heartbeat {

struct response;

struct request {
    using api = heartbeat_api;
    using response_type = response;

    std::string_view group_id{};
    std::int32_t generation_id = 0;
    std::string_view member_id{};
    std::optional<std::string_view> group_instance_id; // v3+

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<request> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<request>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        io.string(m.group_id);
        io.i32(m.generation_id);
        io.string(m.member_id);
        if (io.version() >= 3) io.nullable_string(m.group_instance_id);
        io.tagged_fields();
    }
};

struct response {
    using api = heartbeat_api;

    std::int32_t throttle_time_ms = 0; // v1+
    gregor::error_code error_code = gregor::error_code::none;

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<response> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<response>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        if (io.version() >= 1) io.i32(m.throttle_time_ms);
        io.i16(m.error_code);
        io.tagged_fields();
    }
};

static_assert(kafka_message<request>, "gregor::wire::heartbeat::request must model kafka_message");
static_assert(kafka_message<response>, "gregor::wire::heartbeat::response must model kafka_message");

} // namespace gregor::wire::heartbeat
