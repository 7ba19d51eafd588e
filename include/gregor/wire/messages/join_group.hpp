// JoinGroup (key 11), versions 0-9; v6+ flexible. The first step of a classic-group rebalance: a
// member offers the protocols it can run, the coordinator waits for every member to (re)join,
// picks one protocol, and answers each member its id and the generation -- and the leader, alone,
// every member's metadata to compute the assignment from (docs/protocol.md §16.2).
//
//   request   group_id, session_timeout_ms, rebalance_timeout_ms (v1+), member_id,
//             group_instance_id (v5+, nullable), protocol_type, protocols[name, metadata],
//             reason (v8+, nullable)
//   response  throttle_time_ms (v2+), error_code, generation_id, protocol_type (v7+, nullable),
//             protocol_name (nullable v7+), leader, skip_assignment (v9+), member_id,
//             members[member_id, group_instance_id (v5+, nullable), metadata]
//   Per version: v1 rebalance timeout; v2 throttle; v3 = v2 (throttling after the answer); v4 a
//   dynamic member's first join is answered MEMBER_ID_REQUIRED with the id to join again with
//   (KIP-394); v5 static membership (KIP-345); v6 flexible; v7 the answer names the protocol type
//   and may leave the protocol name null (KIP-559); v8 the join's reason (KIP-800); v9 the answer
//   can tell a rejoining static leader to skip the assignment (KIP-814). No tagged fields are
//   defined.
//
// A v0 request has no rebalance timeout: the coordinator uses session_timeout_ms for both, and
// decode leaves rebalance_timeout_ms at -1. The answer's protocol_name is a string_view because
// only v7+ allow it to be null: null is a default-constructed view (data() == nullptr), "" a
// non-null empty one (primitives.hpp, string_or_null); v0-6 send null as "", as Kafka does for an
// answer without a protocol (an error).
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

namespace gregor::wire::join_group {

/// generation_id of an answer that did not complete a join (errors).
inline constexpr std::int32_t no_generation = -1;

/// One protocol the member can run, with its metadata for it (for consumers, the subscription in
/// the consumer protocol, §16.3). Listed in the member's order of preference.
struct protocol {
    std::string_view name{};
    bytes_view metadata{};
};

struct response;

struct request {
    using api = join_group_api;
    using response_type = response;

    std::string_view group_id{};
    std::int32_t session_timeout_ms = 0;
    std::int32_t rebalance_timeout_ms = -1;            // v1+; v0 means session_timeout_ms
    std::string_view member_id{};                      // "" on a member's first join
    std::optional<std::string_view> group_instance_id; // v5+; set = a static member
    std::string_view protocol_type{};                  // "consumer" for consumers
    std::vector<protocol> protocols{};
    std::optional<std::string_view> reason; // v8+

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<request> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<request>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        const auto v = io.version();
        io.string(m.group_id);
        io.i32(m.session_timeout_ms);
        if (v >= 1) io.i32(m.rebalance_timeout_ms);
        io.string(m.member_id);
        if (v >= 5) io.nullable_string(m.group_instance_id);
        io.string(m.protocol_type);
        io.array(m.protocols, [](auto& io2, auto& p) {
            io2.string(p.name);
            io2.bytes(p.metadata);
            io2.tagged_fields();
        });
        if (v >= 8) io.nullable_string(m.reason);
        io.tagged_fields();
    }
};

/// A member as the leader sees it: its metadata for the chosen protocol.
struct member {
    std::string_view member_id{};
    std::optional<std::string_view> group_instance_id; // v5+
    bytes_view metadata{};
};

struct response {
    using api = join_group_api;

    std::int32_t throttle_time_ms = 0; // v2+
    gregor::error_code error_code = gregor::error_code::none;
    std::int32_t generation_id = no_generation;
    std::optional<std::string_view> protocol_type; // v7+
    std::string_view protocol_name{};              // null (data() == nullptr) allowed v7+
    std::string_view leader{};                     // the leader's member id
    bool skip_assignment = false;                  // v9+
    std::string_view member_id{};                  // the id the coordinator knows the asker by
    std::vector<member> members{};                 // the leader's answer only

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<response> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<response>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        const auto v = io.version();
        if (v >= 2) io.i32(m.throttle_time_ms);
        io.i16(m.error_code);
        io.i32(m.generation_id);
        if (v >= 7) io.nullable_string(m.protocol_type);
        io.string_or_null(m.protocol_name, v >= 7);
        io.string(m.leader);
        if (v >= 9) io.boolean(m.skip_assignment);
        io.string(m.member_id);
        io.array(m.members, [](auto& io2, auto& mb) {
            io2.string(mb.member_id);
            if (io2.version() >= 5) io2.nullable_string(mb.group_instance_id);
            io2.bytes(mb.metadata);
            io2.tagged_fields();
        });
        io.tagged_fields();
    }
};

static_assert(kafka_message<request>, "gregor::wire::join_group::request must model kafka_message");
static_assert(kafka_message<response>, "gregor::wire::join_group::response must model kafka_message");

} // namespace gregor::wire::join_group
