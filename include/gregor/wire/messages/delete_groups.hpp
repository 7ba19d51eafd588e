// DeleteGroups (key 42), versions 0-2; v2+ flexible. Sent to each group's coordinator: remove
// groups without members together with their committed offsets (docs/protocol.md §16.8).
//
//   request   groups_names[]
//   response  throttle_time_ms, results[group_id, error_code]
//   Per version: v1 = v0 (throttling after the answer); v2 flexible. No tagged fields are
//   defined. Unlike most APIs the throttle time is there from v0.
//
// Per group: NONE once deleted, NON_EMPTY_GROUP while it has members, GROUP_ID_NOT_FOUND if the
// coordinator does not know it.
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

namespace gregor::wire::delete_groups {

struct response;

struct request {
    using api = delete_groups_api;
    using response_type = response;

    std::vector<std::string_view> groups_names{}; // Kafka's name (GroupsNames)

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<request> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<request>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        io.array(m.groups_names, [](auto& io2, auto& g) { io2.string(g); });
        io.tagged_fields();
    }
};

struct deletable_group_result {
    std::string_view group_id{};
    gregor::error_code error_code = gregor::error_code::none;
};

struct response {
    using api = delete_groups_api;

    std::int32_t throttle_time_ms = 0;
    std::vector<deletable_group_result> results{};

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<response> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<response>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        io.i32(m.throttle_time_ms);
        io.array(m.results, [](auto& io2, auto& res) {
            io2.string(res.group_id);
            io2.i16(res.error_code);
            io2.tagged_fields();
        });
        io.tagged_fields();
    }
};

static_assert(kafka_message<request>, "gregor::wire::delete_groups::request must model kafka_message");
static_assert(kafka_message<response>, "gregor::wire::delete_groups::response must model kafka_message");

} // namespace gregor::wire::delete_groups
