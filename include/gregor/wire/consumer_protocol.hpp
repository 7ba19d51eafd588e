// The "consumer" embedded protocol (docs/protocol.md §16.3): the bytes a consumer puts in
// JoinGroup's Protocols[].Metadata (a subscription) and the group leader hands out through
// SyncGroup's assignments (an assignment). The broker treats both as opaque, except that it reads
// subscriptions to learn which topics a group consumes (offset expiry, OffsetDelete); a gregor
// consumer builds and reads them.
//
//   subscription  version int16, topics [string], user_data nullable bytes,
//                 owned_partitions [topic, partitions [int32]] (v1+), generation_id (v2+),
//                 rack_id nullable string (v3+)
//   assignment    version int16, assigned_partitions [topic, partitions [int32]],
//                 user_data nullable bytes (v0-v3 share one layout)
//
// Classic encoding at every version (int16 string lengths, int32 array and bytes lengths, no
// tagged fields). The version travels inside the bytes, so a reader meets versions newer than it
// knows: it reads the fields it knows and ignores what follows, which is why Kafka only ever
// appends fields here.
//
// Who writes what: librdkafka subscription v1 with empty (not null) user data, kafkajs and
// kafka-python v0, Java v3; assignments v0, Java v3. Some clients label their bytes with a version
// whose trailing fields they never write; decode_mode::lenient accepts that (see below).
//
// Decoded strings and bytes are views into the input. Thread-safety: value types and pure
// functions.
#pragma once

#include <gregor/core/buffer.hpp>
#include <gregor/wire/primitives.hpp>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <type_traits>
#include <vector>

namespace gregor::wire::consumer_protocol {

/// JoinGroup's ProtocolType for groups whose metadata holds these bytes.
inline constexpr std::string_view protocol_type = "consumer";

/// The newest versions this codec knows; newer ones decode by these layouts.
inline constexpr std::int16_t subscription_max_version = 3;
inline constexpr std::int16_t assignment_max_version = 3;

/// generation_id's default: the member does not claim a generation for its owned partitions.
inline constexpr std::int32_t no_generation = -1;

/// How a decode treats bytes that stop short of their version's fields.
enum class decode_mode : std::uint8_t {
    /// A known version (0-3) must carry exactly its fields; a newer one at least the fields of
    /// v3, with anything after them ignored. Every truncation fails.
    strict,
    /// What Java and Sarama put up with: the bytes may end after any whole field once the
    /// subscription's topics (the assignment's partitions) are read, the missing fields keeping
    /// their defaults, and bytes after the known fields are ignored at every version.
    lenient,
};

/// A topic with partition numbers (owned, or assigned).
struct topic_partitions {
    std::string_view topic{};
    std::vector<std::int32_t> partitions{};

    friend bool operator==(const topic_partitions&, const topic_partitions&) = default;
};

struct subscription {
    /// The version the bytes carried (decode); encoding takes its version as an argument.
    std::int16_t version = 0;
    std::vector<std::string_view> topics{};
    std::optional<bytes_view> user_data{};           // assignor-specific; null and empty differ
    std::vector<topic_partitions> owned_partitions{}; // v1+, for cooperative rebalancing
    std::int32_t generation_id = no_generation;       // v2+
    std::optional<std::string_view> rack_id{};        // v3+
};

struct assignment {
    /// The version the bytes carried (decode); encoding takes its version as an argument.
    std::int16_t version = 0;
    std::vector<topic_partitions> assigned_partitions{};
    std::optional<bytes_view> user_data{};
};

namespace detail {

// Under a lenient decoder, the end of the bytes before a field means "this field and the ones
// after it are missing"; encoders and strict decoders always go on (and a strict decoder then
// fails on the missing bytes).
template <typename IO>
bool stops_here(IO& io, bool lenient) noexcept {
    if constexpr (std::is_same_v<IO, decoder>)
        return lenient && io.reader().at_end();
    else
        return false;
}

template <typename IO, typename Self>
void topic_partitions_array(IO& io, Self& list) {
    io.array(list, [](auto& io2, auto& tp) {
        io2.string(tp.topic);
        io2.array(tp.partitions, [](auto& io3, auto& p) { io3.i32(p); });
    });
}

template <typename IO, typename Self>
void subscription_fields(IO& io, Self& m, bool lenient) {
    const auto v = io.version();
    io.array(m.topics, [](auto& io2, auto& t) { io2.string(t); });
    if (stops_here(io, lenient)) return;
    io.nullable_bytes(m.user_data);
    if (v < 1 || stops_here(io, lenient)) return;
    topic_partitions_array(io, m.owned_partitions);
    if (v < 2 || stops_here(io, lenient)) return;
    io.i32(m.generation_id);
    if (v < 3 || stops_here(io, lenient)) return;
    io.nullable_string(m.rack_id);
}

template <typename IO, typename Self>
void assignment_fields(IO& io, Self& m, bool lenient) {
    topic_partitions_array(io, m.assigned_partitions);
    if (stops_here(io, lenient)) return;
    io.nullable_bytes(m.user_data);
}

inline void check_version(std::int16_t version, std::int16_t max, const char* what) {
    if (version < 0 || version > max) throw std::invalid_argument(what);
}

/// Reads the version prefix and then the fields through `fields(decoder&, M&, lenient)` by the
/// layout of min(version, max_version).
template <typename M, typename Fields>
std::optional<M> decode_versioned(bytes_view b, decode_mode mode, std::int16_t max_version, Fields&& fields) {
    byte_reader r(b);
    const auto version = r.i16();
    // Java refuses versions below its lowest (0) as well.
    if (!r.ok() || version < 0) return std::nullopt;
    std::optional<M> m(std::in_place);
    m->version = version;
    decoder d(r, false, std::min(version, max_version));
    const bool lenient = mode == decode_mode::lenient;
    fields(d, *m, lenient);
    if (!d.ok()) return std::nullopt;
    // Bytes after the known fields are the newer fields of a newer version; at a known version
    // they are garbage.
    if (!lenient && version <= max_version && !r.at_end()) return std::nullopt;
    return m;
}

} // namespace detail

/// Writes `m` as a subscription of `version` (0-3: std::invalid_argument otherwise), with exactly
/// the fields that version has.
inline void encode_subscription(byte_writer& w, const subscription& m, std::int16_t version) {
    detail::check_version(version, subscription_max_version,
                          "gregor::wire::consumer_protocol: subscription versions are 0-3");
    w.i16(version);
    encoder e(w, false, version);
    detail::subscription_fields(e, m, false);
}
inline byte_buffer encode_subscription(const subscription& m, std::int16_t version) {
    byte_buffer b;
    byte_writer w(b);
    encode_subscription(w, m, version);
    return b;
}

/// The subscription in `b` (JoinGroup metadata); nullopt if the bytes are not one. `version`
/// reports what the bytes said, which may be newer than 3.
inline std::optional<subscription> decode_subscription(bytes_view b, decode_mode mode = decode_mode::strict) {
    return detail::decode_versioned<subscription>(b, mode, subscription_max_version, [](auto& d, auto& m, bool l) {
        detail::subscription_fields(d, m, l);
    });
}

/// Writes `m` as an assignment of `version` (0-3: std::invalid_argument otherwise).
inline void encode_assignment(byte_writer& w, const assignment& m, std::int16_t version) {
    detail::check_version(version, assignment_max_version,
                          "gregor::wire::consumer_protocol: assignment versions are 0-3");
    w.i16(version);
    encoder e(w, false, version);
    detail::assignment_fields(e, m, false);
}
inline byte_buffer encode_assignment(const assignment& m, std::int16_t version) {
    byte_buffer b;
    byte_writer w(b);
    encode_assignment(w, m, version);
    return b;
}

/// The assignment in `b` (a SyncGroup answer); nullopt if the bytes are not one. Note that the
/// coordinator answers a member the leader left out with empty bytes, which decode to nullopt
/// here: a consumer reads them as "nothing assigned".
inline std::optional<assignment> decode_assignment(bytes_view b, decode_mode mode = decode_mode::strict) {
    return detail::decode_versioned<assignment>(b, mode, assignment_max_version, [](auto& d, auto& m, bool l) {
        detail::assignment_fields(d, m, l);
    });
}

} // namespace gregor::wire::consumer_protocol
