// CreatePartitions (key 37), versions 0-3; v2+ flexible. Grows topics to a new total partition
// count. Sent to the controller named in Metadata (docs/protocol.md §17).
//
//   request   topics[name, count, assignments (nullable)[broker_ids[]]], timeout_ms, validate_only
//   response  throttle_time_ms, results[name, error_code, error_message (nullable)]
//   Per version (§13): v1 = v0 (throttling after the answer); v2 flexible; v3 = v2 (may answer
//   THROTTLING_QUOTA_EXCEEDED).
//
// `count` is the new total, not the number added; null assignments let the broker place the new
// partitions, otherwise there is one broker list per new partition.
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

namespace gregor::wire::create_partitions {

/// The replicas of one new partition.
struct assignment {
    std::vector<gregor::node_id> broker_ids{};
};

struct topic {
    std::string_view name{};
    std::int32_t count = 0;
    std::optional<std::vector<assignment>> assignments{}; // nullopt: the broker assigns
};

struct response;

struct request {
    using api = create_partitions_api;
    using response_type = response;

    std::vector<topic> topics{};
    std::int32_t timeout_ms = 0;
    bool validate_only = false;

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<request> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<request>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        io.array(m.topics, [](auto& io2, auto& t) {
            io2.string(t.name);
            io2.i32(t.count);
            io2.nullable_array(t.assignments, [](auto& io3, auto& a) {
                io3.array(a.broker_ids, [](auto& io4, auto& b) { io4.i32(b); });
                io3.tagged_fields();
            });
            io2.tagged_fields();
        });
        io.i32(m.timeout_ms);
        io.boolean(m.validate_only);
        io.tagged_fields();
    }
};

struct topic_result {
    std::string_view name{};
    gregor::error_code error_code = gregor::error_code::none;
    std::optional<std::string_view> error_message{};
};

struct response {
    using api = create_partitions_api;

    std::int32_t throttle_time_ms = 0;
    std::vector<topic_result> results{};

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<response> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<response>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        io.i32(m.throttle_time_ms);
        io.array(m.results, [](auto& io2, auto& t) {
            io2.string(t.name);
            io2.i16(t.error_code);
            io2.nullable_string(t.error_message);
            io2.tagged_fields();
        });
        io.tagged_fields();
    }
};

static_assert(kafka_message<request>, "gregor::wire::create_partitions::request must model kafka_message");
static_assert(kafka_message<response>, "gregor::wire::create_partitions::response must model kafka_message");

} // namespace gregor::wire::create_partitions
