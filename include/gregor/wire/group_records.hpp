// The records of the internal topic `__consumer_offsets` (docs/protocol.md §16.10), where a group
// coordinator keeps committed offsets and group state, and which the next coordinator of a
// partition replays (last value per key wins, a null value deletes the key), and the function that
// places a group on one of its partitions.
//
//   key    version int16, then by version:
//            0, 1  offset commit   group string, topic string, partition int32 (same layout)
//            2     group metadata  group string
//            3+    records of newer coordinators (KIP-848 groups and later), skipped
//   value  version int16, then by the key's kind:
//            offset commit   offset int64, leader_epoch int32 (v3+), metadata string,
//                            commit_timestamp int64, expire_timestamp int64 (v1 only)
//            group metadata  protocol_type, generation int32, protocol (nullable),
//                            leader (nullable), current_state_timestamp int64 (v2+),
//                            members [member_id, group_instance_id (nullable, v3+), client_id,
//                                     client_host, rebalance_timeout (v1+), session_timeout,
//                                     subscription bytes, assignment bytes]
//          values 0-4; v4 is flexible (compact strings, tagged-field sections), keys never are
//
// Kafka 3.x writes offset-commit key v1 and value v3 (v1 when the commit carried a retention),
// group-metadata key v2 and value v3. Values of an unknown version fail to decode, as in Kafka: only
// the key's version is open-ended.
//
// partition_for is Kafka's placement (and the transaction coordinator's): Java's String.hashCode
// of the group id over UTF-16 code units, Kafka's Utils.abs, modulo the partition count. Utils.abs
// is |h| with INT_MIN mapped to 0 -- not the producer's `h & 0x7fffffff`, which puts every group
// with a negative hash elsewhere ("my-group": 12, not 36).
//
// Decoded strings and bytes are views into the input. Thread-safety: value types and pure
// functions.
#pragma once

#include <gregor/core/buffer.hpp>
#include <gregor/wire/primitives.hpp>

#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <variant>
#include <vector>

namespace gregor::wire::group_records {

inline constexpr std::string_view topic_name = "__consumer_offsets";
/// offsets.topic.num.partitions' default.
inline constexpr std::int32_t default_partition_count = 50;

/// Key versions: which kind of record a key names.
inline constexpr std::int16_t offset_commit_key_v0 = 0;
inline constexpr std::int16_t offset_commit_key_v1 = 1;
inline constexpr std::int16_t group_metadata_key_version = 2;

inline constexpr std::int16_t offset_commit_value_max_version = 4;
inline constexpr std::int16_t group_metadata_value_max_version = 4;
/// Values from this version on are flexible.
inline constexpr std::int16_t first_flexible_value_version = 4;

/// Defaults of fields that older versions lack.
inline constexpr std::int32_t no_leader_epoch = -1;
inline constexpr std::int64_t no_expire_timestamp = -1;
inline constexpr std::int64_t no_state_timestamp = -1;
inline constexpr std::int32_t no_rebalance_timeout = -1;

// ---------------------------------------------------------------------------------------------
// Keys.

/// The committed offset of one partition for one group.
struct offset_commit_key {
    /// 0 or 1 (the same layout); decode reports which.
    std::int16_t version = offset_commit_key_v1;
    std::string_view group{};
    std::string_view topic{};
    std::int32_t partition = 0;
};

/// The state of one group.
struct group_metadata_key {
    std::string_view group{};
};

/// A key of a record kind this codec does not know (version 3 and up: the records of KIP-848
/// groups and later). A coordinator replaying the topic skips them, as Kafka's does.
struct unknown_key {
    std::int16_t version = 0;
    bytes_view body{}; // the bytes after the version
};

using record_key = std::variant<offset_commit_key, group_metadata_key, unknown_key>;

// ---------------------------------------------------------------------------------------------
// Values.

struct offset_commit_value {
    /// The version the bytes carried (decode); encoding takes its version as an argument.
    std::int16_t version = 3;
    std::int64_t offset = 0;
    std::int32_t leader_epoch = no_leader_epoch; // v3+
    std::string_view metadata{};
    std::int64_t commit_timestamp = 0;
    std::int64_t expire_timestamp = no_expire_timestamp; // v1 only: an explicit retention's deadline
};

struct group_member_metadata {
    std::string_view member_id{};
    std::optional<std::string_view> group_instance_id{}; // v3+; null = a dynamic member
    std::string_view client_id{};
    std::string_view client_host{};
    /// v1+. v0 has none; Kafka loads such a member with its session timeout in its place.
    std::int32_t rebalance_timeout = no_rebalance_timeout;
    std::int32_t session_timeout = 0;
    bytes_view subscription{}; // the member's metadata for the group's chosen protocol
    bytes_view assignment{};
};

struct group_metadata_value {
    /// The version the bytes carried (decode); encoding takes its version as an argument.
    std::int16_t version = 3;
    std::string_view protocol_type{}; // "" for a group that only stores offsets
    std::int32_t generation = 0;
    std::optional<std::string_view> protocol{}; // null while the group has no members
    std::optional<std::string_view> leader{};
    std::int64_t current_state_timestamp = no_state_timestamp; // v2+: when the state last changed
    std::vector<group_member_metadata> members{};
};

/// A whole record: a key and its value, nullopt for a tombstone (the key is deleted).
struct offset_commit_record {
    offset_commit_key key{};
    std::optional<offset_commit_value> value{};
};
struct group_metadata_record {
    group_metadata_key key{};
    std::optional<group_metadata_value> value{};
};
using record = std::variant<offset_commit_record, group_metadata_record, unknown_key>;

namespace detail {

template <typename IO, typename Self>
void offset_commit_key_fields(IO& io, Self& k) {
    io.string(k.group);
    io.string(k.topic);
    io.i32(k.partition);
}

template <typename IO, typename Self>
void offset_commit_value_fields(IO& io, Self& m) {
    const auto v = io.version();
    io.i64(m.offset);
    if (v >= 3) io.i32(m.leader_epoch);
    io.string(m.metadata);
    io.i64(m.commit_timestamp);
    if (v == 1) io.i64(m.expire_timestamp);
    io.tagged_fields();
}

template <typename IO, typename Self>
void group_metadata_value_fields(IO& io, Self& m) {
    const auto v = io.version();
    io.string(m.protocol_type);
    io.i32(m.generation);
    io.nullable_string(m.protocol);
    io.nullable_string(m.leader);
    if (v >= 2) io.i64(m.current_state_timestamp);
    io.array(m.members, [v](auto& io2, auto& mm) {
        io2.string(mm.member_id);
        if (v >= 3) io2.nullable_string(mm.group_instance_id);
        io2.string(mm.client_id);
        io2.string(mm.client_host);
        if (v >= 1) io2.i32(mm.rebalance_timeout);
        io2.i32(mm.session_timeout);
        io2.bytes(mm.subscription);
        io2.bytes(mm.assignment);
        io2.tagged_fields();
    });
    io.tagged_fields();
}

inline void check_value_version(std::int16_t version, std::int16_t max, const char* what) {
    if (version < 0 || version > max) throw std::invalid_argument(what);
}

template <typename M, typename Fields>
void encode_value(byte_writer& w, const M& m, std::int16_t version, Fields&& fields) {
    w.i16(version);
    encoder e(w, version >= first_flexible_value_version, version);
    fields(e, m);
}

/// A value of a version 0..max, fields read to the last byte.
template <typename M, typename Fields>
std::optional<M> decode_value(bytes_view b, std::int16_t max, Fields&& fields) {
    byte_reader r(b);
    const auto version = r.i16();
    if (!r.ok() || version < 0 || version > max) return std::nullopt;
    std::optional<M> m(std::in_place);
    m->version = version;
    decoder d(r, version >= first_flexible_value_version, version);
    fields(d, *m);
    if (!d.ok() || !r.at_end()) return std::nullopt;
    return m;
}

template <typename F>
byte_buffer to_buffer(F&& write) {
    byte_buffer b;
    byte_writer w(b);
    write(w);
    return b;
}

} // namespace detail

// ---------------------------------------------------------------------------------------------
// Encoding. Versions outside a record's range throw std::invalid_argument.

/// An offset-commit key (version 0 or 1; Kafka writes 1).
inline void encode_offset_commit_key(byte_writer& w, std::string_view group, std::string_view topic,
                                     std::int32_t partition, std::int16_t version = offset_commit_key_v1) {
    if (version != offset_commit_key_v0 && version != offset_commit_key_v1)
        throw std::invalid_argument("gregor::wire::group_records: offset commit keys are versions 0-1");
    w.i16(version);
    encoder e(w, false, version);
    const offset_commit_key k{version, group, topic, partition};
    detail::offset_commit_key_fields(e, k);
}
inline byte_buffer encode_offset_commit_key(std::string_view group, std::string_view topic, std::int32_t partition,
                                            std::int16_t version = offset_commit_key_v1) {
    return detail::to_buffer([&](byte_writer& w) { encode_offset_commit_key(w, group, topic, partition, version); });
}

/// A group-metadata key (always version 2).
inline void encode_group_metadata_key(byte_writer& w, std::string_view group) {
    w.i16(group_metadata_key_version);
    write_string(w, group);
}
inline byte_buffer encode_group_metadata_key(std::string_view group) {
    return detail::to_buffer([&](byte_writer& w) { encode_group_metadata_key(w, group); });
}

/// An offset-commit value of `version` (0-4), with exactly that version's fields.
inline void encode_offset_commit_value(byte_writer& w, const offset_commit_value& m, std::int16_t version) {
    detail::check_value_version(version, offset_commit_value_max_version,
                                "gregor::wire::group_records: offset commit values are versions 0-4");
    detail::encode_value(w, m, version, [](auto& e, auto& v) { detail::offset_commit_value_fields(e, v); });
}
inline byte_buffer encode_offset_commit_value(const offset_commit_value& m, std::int16_t version) {
    return detail::to_buffer([&](byte_writer& w) { encode_offset_commit_value(w, m, version); });
}

/// A group-metadata value of `version` (0-4), with exactly that version's fields.
inline void encode_group_metadata_value(byte_writer& w, const group_metadata_value& m, std::int16_t version) {
    detail::check_value_version(version, group_metadata_value_max_version,
                                "gregor::wire::group_records: group metadata values are versions 0-4");
    detail::encode_value(w, m, version, [](auto& e, auto& v) { detail::group_metadata_value_fields(e, v); });
}
inline byte_buffer encode_group_metadata_value(const group_metadata_value& m, std::int16_t version) {
    return detail::to_buffer([&](byte_writer& w) { encode_group_metadata_value(w, m, version); });
}

// ---------------------------------------------------------------------------------------------
// Decoding: nullopt for bytes that are not a record of the kind (truncated, a negative length
// where none is allowed, bytes left over, an unknown value version).

/// Tells the key kinds apart by the key's version. Versions 3 and up are unknown_key.
inline std::optional<record_key> decode_key(bytes_view b) {
    byte_reader r(b);
    const auto version = r.i16();
    if (!r.ok() || version < 0) return std::nullopt;
    if (version == offset_commit_key_v0 || version == offset_commit_key_v1) {
        offset_commit_key k;
        k.version = version;
        decoder d(r, false, version);
        detail::offset_commit_key_fields(d, k);
        if (!d.ok() || !r.at_end()) return std::nullopt;
        return k;
    }
    if (version == group_metadata_key_version) {
        group_metadata_key k;
        k.group = read_string(r);
        if (!r.ok() || !r.at_end()) return std::nullopt;
        return k;
    }
    return unknown_key{version, b.subspan(2)};
}

inline std::optional<offset_commit_value> decode_offset_commit_value(bytes_view b) {
    return detail::decode_value<offset_commit_value>(
            b, offset_commit_value_max_version, [](auto& d, auto& m) { detail::offset_commit_value_fields(d, m); });
}

inline std::optional<group_metadata_value> decode_group_metadata_value(bytes_view b) {
    return detail::decode_value<group_metadata_value>(
            b, group_metadata_value_max_version, [](auto& d, auto& m) { detail::group_metadata_value_fields(d, m); });
}

/// A whole record of the topic: `value` nullopt is a tombstone. Records of unknown kinds come back
/// as their unknown_key whatever their value; a known key with a value that does not decode is
/// nullopt.
inline std::optional<record> decode_record(bytes_view key, std::optional<bytes_view> value) {
    auto k = decode_key(key);
    if (!k) return std::nullopt;
    if (auto* u = std::get_if<unknown_key>(&*k)) return record{*u};
    if (auto* ok = std::get_if<offset_commit_key>(&*k)) {
        offset_commit_record rec{*ok, std::nullopt};
        if (value) {
            rec.value = decode_offset_commit_value(*value);
            if (!rec.value) return std::nullopt;
        }
        return record{rec};
    }
    group_metadata_record rec{std::get<group_metadata_key>(*k), std::nullopt};
    if (value) {
        rec.value = decode_group_metadata_value(*value);
        if (!rec.value) return std::nullopt;
    }
    return record{std::move(rec)};
}

// ---------------------------------------------------------------------------------------------
// Placement.

namespace detail {

inline constexpr char16_t replacement_char = 0xfffd;

constexpr bool is_continuation(unsigned b) noexcept { return (b & 0xc0) == 0x80; }

/// Calls out(char16_t) for each UTF-16 code unit of the Java string that Kafka makes of the UTF-8
/// bytes `s` (new String(bytes, UTF_8)). Well-formed UTF-8 maps one to one; each malformed piece
/// becomes one U+FFFD as JDK 17's decoder cuts it: an encoded surrogate (ED A0..BF xx) counts as one
/// piece, otherwise a piece is the longest start of a valid sequence (at least one byte).
template <typename Out>
constexpr void for_each_utf16_unit(std::string_view s, Out&& out) {
    const std::size_t n = s.size();
    const auto at = [&](std::size_t k) -> unsigned { return static_cast<unsigned char>(s[k]); };
    std::size_t i = 0;
    while (i < n) {
        const unsigned b1 = at(i);
        if (b1 < 0x80) {
            out(static_cast<char16_t>(b1));
            i += 1;
        } else if (b1 >= 0xc2 && b1 <= 0xdf) {
            if (i + 1 < n && is_continuation(at(i + 1))) {
                out(static_cast<char16_t>(((b1 & 0x1f) << 6) | (at(i + 1) & 0x3f)));
                i += 2;
            } else {
                out(replacement_char);
                i += 1;
            }
        } else if (b1 >= 0xe0 && b1 <= 0xef) {
            // Java checks the second byte for overlong forms only; an encoded surrogate is
            // recognised once all three bytes are there.
            const auto second_ok = [&](unsigned b2) { return is_continuation(b2) && (b1 != 0xe0 || b2 >= 0xa0); };
            if (i + 1 >= n || !second_ok(at(i + 1))) {
                out(replacement_char);
                i += 1;
            } else if (i + 2 >= n) {
                out(replacement_char); // a valid start cut off by the end
                i += 2;
            } else if (!is_continuation(at(i + 2))) {
                out(replacement_char);
                i += 2;
            } else {
                const unsigned c = ((b1 & 0x0f) << 12) | ((at(i + 1) & 0x3f) << 6) | (at(i + 2) & 0x3f);
                out(c >= 0xd800 && c <= 0xdfff ? replacement_char : static_cast<char16_t>(c));
                i += 3;
            }
        } else if (b1 >= 0xf0 && b1 <= 0xf4) {
            const auto second_ok = [&](unsigned b2) {
                if (!is_continuation(b2)) return false;
                if (b1 == 0xf0) return b2 >= 0x90;
                if (b1 == 0xf4) return b2 <= 0x8f;
                return true;
            };
            std::size_t len = 1; // how much of a valid sequence is there
            if (i + 1 < n && second_ok(at(i + 1))) {
                len = 2;
                if (i + 2 < n && is_continuation(at(i + 2))) {
                    len = 3;
                    if (i + 3 < n && is_continuation(at(i + 3))) len = 4;
                }
            }
            if (len < 4) {
                out(replacement_char);
                i += len;
                continue;
            }
            const std::uint32_t cp = ((b1 & 0x07u) << 18) | ((at(i + 1) & 0x3fu) << 12) | ((at(i + 2) & 0x3fu) << 6) |
                                     (at(i + 3) & 0x3fu);
            const std::uint32_t u = cp - 0x10000;
            out(static_cast<char16_t>(0xd800 + (u >> 10)));
            out(static_cast<char16_t>(0xdc00 + (u & 0x3ff)));
            i += 4;
        } else {
            // A continuation byte out of place, C0/C1 (overlong) or F5-FF (beyond U+10FFFF).
            out(replacement_char);
            i += 1;
        }
    }
}

} // namespace detail

/// Java's String.hashCode of the string whose UTF-8 bytes are `s`: s[0]*31^(n-1) + ... + s[n-1]
/// over UTF-16 code units, with int32 wrap-around.
constexpr std::int32_t java_string_hash(std::string_view s) noexcept {
    std::uint32_t h = 0;
    detail::for_each_utf16_unit(s, [&](char16_t u) { h = 31u * h + u; });
    return static_cast<std::int32_t>(h);
}

/// Kafka's Utils.abs: |n|, and 0 for INT_MIN (whose absolute value int32 cannot hold).
constexpr std::int32_t kafka_abs(std::int32_t n) noexcept {
    if (n == std::numeric_limits<std::int32_t>::min()) return 0;
    return n < 0 ? -n : n;
}

/// The `__consumer_offsets` partition that holds `group`'s records, of `partition_count` (> 0, or
/// std::invalid_argument); the group's coordinator is that partition's leader.
constexpr std::int32_t partition_for(std::string_view group, std::int32_t partition_count = default_partition_count) {
    if (partition_count <= 0) throw std::invalid_argument("gregor::wire::group_records: partition count must be > 0");
    return kafka_abs(java_string_hash(group)) % partition_count;
}

} // namespace gregor::wire::group_records
