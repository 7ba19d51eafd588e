// ListGroups (key 16), versions 0-5; v3+ flexible. Sent to every broker: each answers the groups
// whose coordinator it is, and the client merges the answers (docs/protocol.md §16.8).
//
//   request   states_filter[] (v4+), types_filter[] (v5+)
//   response  throttle_time_ms (v1+), error_code,
//             groups[group_id, protocol_type, group_state (v4+), group_type (v5+)]
//   Per version: v1 throttle; v2 = v1 (throttling after the answer); v3 flexible (the v3 request
//   is an empty tagged section); v4 state filter and states in the answer (KIP-518); v5 type
//   filter and types in the answer (KIP-848). No tagged fields are defined.
//
// An empty filter matches everything. States are Kafka's names ("Empty", "PreparingRebalance",
// "CompletingRebalance", "Stable", "Dead"; the filter compares them case-insensitively); a classic
// group's type is "classic". protocol_type is "consumer" for consumer groups and "" for groups
// that only hold committed offsets.
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

namespace gregor::wire::list_groups {

struct response;

struct request {
    using api = list_groups_api;
    using response_type = response;

    std::vector<std::string_view> states_filter{}; // v4+; empty = all states
    std::vector<std::string_view> types_filter{};  // v5+; empty = all types

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<request> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<request>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        const auto v = io.version();
        if (v >= 4) io.array(m.states_filter, [](auto& io2, auto& s) { io2.string(s); });
        if (v >= 5) io.array(m.types_filter, [](auto& io2, auto& s) { io2.string(s); });
        io.tagged_fields();
    }
};

struct listed_group {
    std::string_view group_id{};
    std::string_view protocol_type{};
    std::string_view group_state{}; // v4+
    std::string_view group_type{};  // v5+
};

struct response {
    using api = list_groups_api;

    std::int32_t throttle_time_ms = 0; // v1+
    gregor::error_code error_code = gregor::error_code::none;
    std::vector<listed_group> groups{};

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<response> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<response>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        if (io.version() >= 1) io.i32(m.throttle_time_ms);
        io.i16(m.error_code);
        io.array(m.groups, [](auto& io2, auto& g) {
            const auto gv = io2.version();
            io2.string(g.group_id);
            io2.string(g.protocol_type);
            if (gv >= 4) io2.string(g.group_state);
            if (gv >= 5) io2.string(g.group_type);
            io2.tagged_fields();
        });
        io.tagged_fields();
    }
};

static_assert(kafka_message<request>, "gregor::wire::list_groups::request must model kafka_message");
static_assert(kafka_message<response>, "gregor::wire::list_groups::response must model kafka_message");

} // namespace gregor::wire::list_groups
