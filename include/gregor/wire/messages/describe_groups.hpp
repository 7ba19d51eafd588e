// DescribeGroups (key 15), versions 0-5; v5+ flexible. Sent to each group's coordinator: the
// group's state, protocol and members (docs/protocol.md §16.8).
//
//   request   groups[] (group ids), include_authorized_operations (v3+)
//   response  throttle_time_ms (v1+),
//             groups[error_code, group_id, group_state, protocol_type, protocol_data,
//                    members[member_id, group_instance_id (v4+, nullable), client_id,
//                            client_host, member_metadata (bytes), member_assignment (bytes)],
//                    authorized_operations (v3+)]
//   Per version: v1 throttle; v2 = v1 (throttling after the answer); v3 authorized operations;
//   v4 static members' instance ids; v5 flexible. No tagged fields are defined.
//
// An unknown group is answered with NONE, state "Dead" and no members. protocol_data (the chosen
// assignor) and the members' metadata and assignment bytes are only filled in while the group is
// Stable. authorized_operations is a bit set of ACL operations, INT32_MIN when not requested.
//
// Decoded strings and bytes are views into the frame. Thread-safety: value types.
#pragma once

#include <gregor/core/buffer.hpp>
#include <gregor/core/error.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/header.hpp>
#include <gregor/wire/primitives.hpp>

#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>
#include <vector>

namespace gregor::wire::describe_groups {

/// authorized_operations' default: "not requested / not known".
inline constexpr std::int32_t authorized_operations_unknown = std::numeric_limits<std::int32_t>::min();

struct response;

struct request {
    using api = describe_groups_api;
    using response_type = response;

    std::vector<std::string_view> groups{};
    bool include_authorized_operations = false; // v3+

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<request> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<request>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        io.array(m.groups, [](auto& io2, auto& g) { io2.string(g); });
        if (io.version() >= 3) io.boolean(m.include_authorized_operations);
        io.tagged_fields();
    }
};

struct described_group_member {
    std::string_view member_id{};
    std::optional<std::string_view> group_instance_id{}; // v4+; null = not a static member
    std::string_view client_id{};
    std::string_view client_host{};
    bytes_view member_metadata{};   // the member's subscription for the chosen protocol
    bytes_view member_assignment{}; // what the leader assigned it
};

struct described_group {
    gregor::error_code error_code = gregor::error_code::none;
    std::string_view group_id{};
    std::string_view group_state{};
    std::string_view protocol_type{};
    std::string_view protocol_data{}; // the chosen protocol (assignor) while Stable, else ""
    std::vector<described_group_member> members{};
    std::int32_t authorized_operations = authorized_operations_unknown; // v3+
};

struct response {
    using api = describe_groups_api;

    std::int32_t throttle_time_ms = 0; // v1+
    std::vector<described_group> groups{};

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<response> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<response>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        if (io.version() >= 1) io.i32(m.throttle_time_ms);
        io.array(m.groups, [](auto& io2, auto& g) {
            io2.i16(g.error_code);
            io2.string(g.group_id);
            io2.string(g.group_state);
            io2.string(g.protocol_type);
            io2.string(g.protocol_data);
            io2.array(g.members, [](auto& io3, auto& mb) {
                io3.string(mb.member_id);
                if (io3.version() >= 4) io3.nullable_string(mb.group_instance_id);
                io3.string(mb.client_id);
                io3.string(mb.client_host);
                io3.bytes(mb.member_metadata);
                io3.bytes(mb.member_assignment);
                io3.tagged_fields();
            });
            if (io2.version() >= 3) io2.i32(g.authorized_operations);
            io2.tagged_fields();
        });
        io.tagged_fields();
    }
};

static_assert(kafka_message<request>, "gregor::wire::describe_groups::request must model kafka_message");
static_assert(kafka_message<response>, "gregor::wire::describe_groups::response must model kafka_message");

} // namespace gregor::wire::describe_groups
