// BrokerHeartbeat (key 63), versions 0-1; flexible from v0 (request header v2, response header
// v1). A registered broker keeps its session with the active controller alive (every
// broker.heartbeat.interval.ms, 2 s by default) and reports how far it has read the metadata log;
// the controller answers whether the broker is caught up, fenced, and may finish a controlled
// shutdown (docs/protocol.md §14.9, §14.11.4).
//
//   request   broker_id, broker_epoch, current_metadata_offset, want_fence, want_shut_down;
//             tags: offline_log_dirs[uuid] (tag 0, v1+)
//   response  throttle_time_ms, error_code, is_caught_up, is_fenced, should_shut_down
//   Per version: v1 adds the tagged offline_log_dirs (KIP-858); the response is the same in both.
//
// Note the response's default: is_fenced is true unless the controller says otherwise.
//
// Thread-safety: value types.
#pragma once

#include <gregor/core/buffer.hpp>
#include <gregor/core/error.hpp>
#include <gregor/core/strong_types.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/header.hpp>
#include <gregor/wire/primitives.hpp>

#include <cstdint>
#include <optional>
#include <vector>

namespace gregor::wire::broker_heartbeat {

struct response;

struct request {
    using api = broker_heartbeat_api;
    using response_type = response;

    gregor::node_id broker_id{-1};
    std::int64_t broker_epoch = -1;             // from the BrokerRegistration answer
    std::int64_t current_metadata_offset = 0;   // the highest metadata log offset the broker has applied
    bool want_fence = false;                    // the broker asks to be fenced
    bool want_shut_down = false;                // the broker asks to begin a controlled shutdown
    std::vector<wire::uuid> offline_log_dirs{}; // v1+, tag 0; written unless empty

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<request> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<request>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        io.i32(m.broker_id);
        io.i64(m.broker_epoch);
        io.i64(m.current_metadata_offset);
        io.boolean(m.want_fence);
        io.boolean(m.want_shut_down);
        io.tagged_fields(tag_if(io.version() >= 1, 0, !m.offline_log_dirs.empty(), [&](auto& t) {
            t.array(m.offline_log_dirs, [](auto& io2, auto& d) { io2.uuid(d); });
        }));
    }
};

struct response {
    using api = broker_heartbeat_api;

    std::int32_t throttle_time_ms = 0;
    gregor::error_code error_code = gregor::error_code::none;
    bool is_caught_up = false;     // the broker has (about) caught up with the metadata log
    bool is_fenced = true;         // Kafka's default: fenced
    bool should_shut_down = false; // the controlled shutdown may proceed

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<response> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<response>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        io.i32(m.throttle_time_ms);
        io.i16(m.error_code);
        io.boolean(m.is_caught_up);
        io.boolean(m.is_fenced);
        io.boolean(m.should_shut_down);
        io.tagged_fields();
    }
};

static_assert(kafka_message<request>, "gregor::wire::broker_heartbeat::request must model kafka_message");
static_assert(kafka_message<response>, "gregor::wire::broker_heartbeat::response must model kafka_message");

} // namespace gregor::wire::broker_heartbeat
