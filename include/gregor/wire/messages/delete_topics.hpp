// DeleteTopics (key 20), versions 0-6; v4+ flexible. Sent to the controller named in Metadata
// (docs/protocol.md §17).
//
//   request   v0-5: topic_names[], timeout_ms
//             v6:   topics[name (nullable), topic_id], timeout_ms
//   response  throttle_time_ms (v1+),
//             responses[name (nullable v6+), topic_id (v6+), error_code, error_message (v5+,
//                       nullable)]
//   Per version (§13): v1 throttle; v2 = v1 (throttling after the answer); v3 = v2 (may answer
//   TOPIC_DELETION_DISABLED); v4 flexible; v5 error messages (may answer
//   THROTTLING_QUOTA_EXCEEDED); v6 names topics by name or by id (KIP-516), either may be absent.
//
// A name that the version allows to be null is a string_view: null is a default-constructed view
// (data() == nullptr), "" a non-null empty one (primitives.hpp, string_or_null). The all-zero uuid
// means "no topic id".
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
#include <vector>

namespace gregor::wire::delete_topics {

/// A topic to delete, by name or by id (v6+).
struct delete_topic_state {
    std::string_view name{}; // null (data() == nullptr) when asking by id
    wire::uuid topic_id{};
};

struct response;

struct request {
    using api = delete_topics_api;
    using response_type = response;

    std::vector<delete_topic_state> topics{};    // v6+
    std::vector<std::string_view> topic_names{}; // v0-5
    std::int32_t timeout_ms = 0;

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<request> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<request>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        if (io.version() >= 6) {
            io.array(m.topics, [](auto& io2, auto& t) {
                io2.string_or_null(t.name, true);
                io2.uuid(t.topic_id);
                io2.tagged_fields();
            });
        } else {
            io.array(m.topic_names, [](auto& io2, auto& n) { io2.string(n); });
        }
        io.i32(m.timeout_ms);
        io.tagged_fields();
    }
};

struct deletable_topic_result {
    std::string_view name{}; // null (data() == nullptr) allowed in v6+
    wire::uuid topic_id{};   // v6+
    gregor::error_code error_code = gregor::error_code::none;
    std::optional<std::string_view> error_message{}; // v5+
};

struct response {
    using api = delete_topics_api;

    std::int32_t throttle_time_ms = 0; // v1+
    std::vector<deletable_topic_result> responses{};

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<response> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<response>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        if (io.version() >= 1) io.i32(m.throttle_time_ms);
        io.array(m.responses, [](auto& io2, auto& t) {
            const auto tv = io2.version();
            io2.string_or_null(t.name, tv >= 6);
            if (tv >= 6) io2.uuid(t.topic_id);
            io2.i16(t.error_code);
            if (tv >= 5) io2.nullable_string(t.error_message);
            io2.tagged_fields();
        });
        io.tagged_fields();
    }
};

static_assert(kafka_message<request>, "gregor::wire::delete_topics::request must model kafka_message");
static_assert(kafka_message<response>, "gregor::wire::delete_topics::response must model kafka_message");

} // namespace gregor::wire::delete_topics
