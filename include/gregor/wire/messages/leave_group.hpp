// LeaveGroup (key 13), versions 0-5; v4+ flexible. A classic-group member leaving on purpose (a
// consumer closing or unsubscribing), so the coordinator rebalances at once instead of waiting for
// its session to expire; from v3 one request may remove several members, which admin tools use
// to remove static members by instance id (docs/protocol.md §16.5).
//
//   request   group_id, member_id (v0-2),
//             members[member_id, group_instance_id (nullable), reason (v5+, nullable)] (v3+)
//   response  throttle_time_ms (v1+), error_code,
//             members[member_id, group_instance_id (nullable), error_code] (v3+)
//   Per version: v1 throttle; v2 = v1 (throttling after the answer); v3 a batch of member
//   identities with an answer for each (KIP-345); v4 flexible; v5 a reason per member (KIP-800),
//   the response is v4's. No tagged fields are defined.
//
// member_id and members: a version carries one or the other; the one it does not carry is left
// at its default by decode and ignored by encode. A v0-2 request names one member; its answer has
// no per-member results, so the top-level error_code carries that member's error when there is no
// error for the whole request. A v3+ identity with member_id "" and a group_instance_id removes
// the static member of that instance, whatever its member id.
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

namespace gregor::wire::leave_group {

/// A member to remove (v3+).
struct member_identity {
    std::string_view member_id{}; // "" = by group_instance_id
    std::optional<std::string_view> group_instance_id;
    std::optional<std::string_view> reason; // v5+
};

struct response;

struct request {
    using api = leave_group_api;
    using response_type = response;

    std::string_view group_id{};
    std::string_view member_id{};           // v0-2
    std::vector<member_identity> members{}; // v3+

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<request> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<request>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        io.string(m.group_id);
        if (io.version() <= 2) {
            io.string(m.member_id);
        } else {
            io.array(m.members, [](auto& io2, auto& mb) {
                io2.string(mb.member_id);
                io2.nullable_string(mb.group_instance_id);
                if (io2.version() >= 5) io2.nullable_string(mb.reason);
                io2.tagged_fields();
            });
        }
        io.tagged_fields();
    }
};

/// The outcome for one member of a v3+ request, named as the request named it.
struct member_response {
    std::string_view member_id{};
    std::optional<std::string_view> group_instance_id;
    gregor::error_code error_code = gregor::error_code::none;
};

struct response {
    using api = leave_group_api;

    std::int32_t throttle_time_ms = 0; // v1+
    gregor::error_code error_code = gregor::error_code::none;
    std::vector<member_response> members{}; // v3+

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<response> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<response>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        const auto v = io.version();
        if (v >= 1) io.i32(m.throttle_time_ms);
        io.i16(m.error_code);
        if (v >= 3) {
            io.array(m.members, [](auto& io2, auto& mb) {
                io2.string(mb.member_id);
                io2.nullable_string(mb.group_instance_id);
                io2.i16(mb.error_code);
                io2.tagged_fields();
            });
        }
        io.tagged_fields();
    }
};

static_assert(kafka_message<request>, "gregor::wire::leave_group::request must model kafka_message");
static_assert(kafka_message<response>, "gregor::wire::leave_group::response must model kafka_message");

} // namespace gregor::wire::leave_group
