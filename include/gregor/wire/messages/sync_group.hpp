// SyncGroup (key 14), versions 0-5; v4+ flexible. The second step of a classic-group rebalance:
// every member of the new generation asks for its assignment; the leader's request carries the
// assignments it computed for all of them, and the coordinator answers each member its own once
// the leader's have arrived (docs/protocol.md §16.3).
//
//   request   group_id, generation_id, member_id, group_instance_id (v3+, nullable),
//             protocol_type (v5+, nullable), protocol_name (v5+, nullable),
//             assignments[member_id, assignment]
//   response  throttle_time_ms (v1+), error_code, protocol_type (v5+, nullable),
//             protocol_name (v5+, nullable), assignment
//   Per version: v1 throttle; v2 = v1 (throttling after the answer); v3 static membership
//   (KIP-345); v4 flexible; v5 protocol type and name both ways (KIP-559): the coordinator
//   refuses a request whose non-null ones differ from the group's (INCONSISTENT_GROUP_PROTOCOL)
//   and names the group's in its answer. No tagged fields are defined.
//
// Only the leader fills `assignments`; followers send an empty array. The assignment bytes are
// opaque to the coordinator (for consumers, the consumer protocol's assignment, §16.3).
//
// Decoded strings and bytes are views into the frame. Thread-safety: value types.
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

namespace gregor::wire::sync_group {

/// The leader's assignment for one member.
struct member_assignment {
    std::string_view member_id{};
    bytes_view assignment{};
};

struct response;

struct request {
    using api = sync_group_api;
    using response_type = response;

    std::string_view group_id{};
    std::int32_t generation_id = 0; // from the JoinGroup answer
    std::string_view member_id{};
    std::optional<std::string_view> group_instance_id; // v3+
    std::optional<std::string_view> protocol_type;     // v5+; null = not checked
    std::optional<std::string_view> protocol_name;     // v5+; null = not checked
    std::vector<member_assignment> assignments{};      // the leader's request only

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<request> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<request>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        const auto v = io.version();
        io.string(m.group_id);
        io.i32(m.generation_id);
        io.string(m.member_id);
        if (v >= 3) io.nullable_string(m.group_instance_id);
        if (v >= 5) {
            io.nullable_string(m.protocol_type);
            io.nullable_string(m.protocol_name);
        }
        io.array(m.assignments, [](auto& io2, auto& a) {
            io2.string(a.member_id);
            io2.bytes(a.assignment);
            io2.tagged_fields();
        });
        io.tagged_fields();
    }
};

struct response {
    using api = sync_group_api;

    std::int32_t throttle_time_ms = 0; // v1+
    gregor::error_code error_code = gregor::error_code::none;
    std::optional<std::string_view> protocol_type; // v5+
    std::optional<std::string_view> protocol_name; // v5+
    bytes_view assignment{};                       // this member's; empty on errors

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<response> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<response>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        const auto v = io.version();
        if (v >= 1) io.i32(m.throttle_time_ms);
        io.i16(m.error_code);
        if (v >= 5) {
            io.nullable_string(m.protocol_type);
            io.nullable_string(m.protocol_name);
        }
        io.bytes(m.assignment);
        io.tagged_fields();
    }
};

static_assert(kafka_message<request>, "gregor::wire::sync_group::request must model kafka_message");
static_assert(kafka_message<response>, "gregor::wire::sync_group::response must model kafka_message");

} // namespace gregor::wire::sync_group
