// OffsetDelete (key 47), version 0 only, never flexible (request header v1, response header v0).
// Sent to a group's coordinator: drop the committed offsets of some partitions (KIP-496), e.g.
// for topics the group no longer reads (docs/protocol.md §16.8).
//
//   request   group_id, topics[name, partitions[partition_index]]
//   response  error_code, throttle_time_ms, topics[name, partitions[partition_index, error_code]]
//
// Note the response's order: the top-level error code comes BEFORE the throttle time. A group
// the coordinator does not know answers GROUP_ID_NOT_FOUND at the top level; partitions of topics
// that live members are subscribed to answer GROUP_SUBSCRIBED_TO_TOPIC.
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

namespace gregor::wire::offset_delete {

struct request_partition {
    gregor::partition_id partition_index{0};
};

struct request_topic {
    std::string_view name{};
    std::vector<request_partition> partitions{};
};

struct response;

struct request {
    using api = offset_delete_api;
    using response_type = response;

    std::string_view group_id{};
    std::vector<request_topic> topics{};

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<request> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<request>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        io.string(m.group_id);
        io.array(m.topics, [](auto& io2, auto& t) {
            io2.string(t.name);
            io2.array(t.partitions, [](auto& io3, auto& p) { io3.i32(p.partition_index); });
        });
    }
};

struct response_partition {
    gregor::partition_id partition_index{0};
    gregor::error_code error_code = gregor::error_code::none;
};

struct response_topic {
    std::string_view name{};
    std::vector<response_partition> partitions{};
};

struct response {
    using api = offset_delete_api;

    gregor::error_code error_code = gregor::error_code::none;
    std::int32_t throttle_time_ms = 0;
    std::vector<response_topic> topics{};

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<response> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<response>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        io.i16(m.error_code);
        io.i32(m.throttle_time_ms);
        io.array(m.topics, [](auto& io2, auto& t) {
            io2.string(t.name);
            io2.array(t.partitions, [](auto& io3, auto& p) {
                io3.i32(p.partition_index);
                io3.i16(p.error_code);
            });
        });
    }
};

static_assert(kafka_message<request>, "gregor::wire::offset_delete::request must model kafka_message");
static_assert(kafka_message<response>, "gregor::wire::offset_delete::response must model kafka_message");

} // namespace gregor::wire::offset_delete
