// The records of the internal topic `__transaction_state` (docs/protocol.md §15), where a
// transaction coordinator persists every state change of a transactional id before acting on it,
// and which the next coordinator of a partition replays (last value per key wins, a null value
// deletes the id) to resume the transactions left in PrepareCommit/PrepareAbort. And the function
// that places a transactional id on one of its partitions.
//
//   key    version int16 = 0, transactional_id string (never flexible)
//   value  version int16, producer_id int64, producer_epoch int16, timeout_ms int32, status int8,
//          partitions [topic string, partition_ids [int32]] (nullable), last_update_ms int64,
//          start_ms int64; v1 is flexible (compact strings and arrays, tagged-field sections) and
//          adds the tagged previous_producer_id (tag 0), next_producer_id (tag 1) and
//          client_transaction_version (tag 2)
//
// Kafka 3.x writes key v0 and value v0; value v1 comes with KIP-890's transaction versions, so it
// is read here (known tags taken, unknown ones skipped) to replay a log a newer Kafka wrote, and
// can be written, but encode_value defaults to v0. The partitions are null in state Empty and
// grouped by topic otherwise. Keys of other versions are not transactions (Kafka skips them on
// load: unknown_key); values of other versions, statuses outside 0-7 and bytes left after a value
// fail, as Kafka's load fails on them, rather than resuming a transaction from a guess.
//
// partition_for is the same placement as the group coordinator's (group_records.hpp): Java's
// String.hashCode, Kafka's Utils.abs, modulo the partition count (50 by default).
//
// Decoded strings are views into the input. Thread-safety: value types and pure functions.
#pragma once

#include <gregor/core/buffer.hpp>
#include <gregor/core/strong_types.hpp>
#include <gregor/wire/group_records.hpp>
#include <gregor/wire/primitives.hpp>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <variant>
#include <vector>

namespace gregor::wire::txn_records {

inline constexpr std::string_view topic_name = "__transaction_state";
/// transaction.state.log.num.partitions' default.
inline constexpr std::int32_t default_partition_count = 50;

inline constexpr std::int16_t key_version = 0;
inline constexpr std::int16_t value_max_version = 1;
/// Values from this version on are flexible.
inline constexpr std::int16_t first_flexible_value_version = 1;

/// Defaults of the v1 tagged fields, which v0 lacks.
inline constexpr gregor::producer_id no_previous_producer_id{-1};
inline constexpr gregor::producer_id no_next_producer_id{-1};
inline constexpr std::int16_t no_client_transaction_version = 0;
/// start_ms of a transaction that has not started (state Empty).
inline constexpr std::int64_t not_started = -1;

/// The coordinator's states, by the ids the log stores (docs/protocol.md §7.1, §15). Dead and
/// PrepareEpochFence are transient: Kafka never persists them, but its load accepts them.
enum class transaction_state : std::int8_t {
    empty = 0,
    ongoing = 1,
    prepare_commit = 2,
    prepare_abort = 3,
    complete_commit = 4,
    complete_abort = 5,
    dead = 6,
    prepare_epoch_fence = 7,
};
inline constexpr std::int8_t max_state_id = 7;

// ---------------------------------------------------------------------------------------------
// Keys.

struct transaction_log_key {
    std::string_view transactional_id{};
};

/// A key of a version other than 0: not a transaction of this format. A coordinator replaying the
/// topic skips it, as Kafka's does.
struct unknown_key {
    std::int16_t version = 0;
    bytes_view body{}; // the bytes after the version
};

using record_key = std::variant<transaction_log_key, unknown_key>;

// ---------------------------------------------------------------------------------------------
// Values.

/// The partitions of one topic in a transaction.
struct topic_partitions {
    std::string_view topic{};
    std::vector<gregor::partition_id> partition_ids{};
};

struct transaction_log_value {
    /// The version the bytes carried (decode); encoding takes its version as an argument.
    std::int16_t version = 0;
    gregor::producer_id producer_id = no_producer_id;
    gregor::producer_epoch producer_epoch = no_producer_epoch;
    std::int32_t timeout_ms = 0;
    transaction_state status = transaction_state::empty;
    std::optional<std::vector<topic_partitions>> partitions{}; // null in state Empty
    std::int64_t last_update_ms = 0;
    std::int64_t start_ms = not_started;
    gregor::producer_id previous_producer_id = no_previous_producer_id;      // v1+, tag 0
    gregor::producer_id next_producer_id = no_next_producer_id;              // v1+, tag 1
    std::int16_t client_transaction_version = no_client_transaction_version; // v1+, tag 2
};

/// A whole record: a key and its value, nullopt for a tombstone (the transactional id expired).
struct transaction_record {
    transaction_log_key key{};
    std::optional<transaction_log_value> value{};
};
using record = std::variant<transaction_record, unknown_key>;

namespace detail {

template <typename IO, typename Self>
void value_fields(IO& io, Self& m) {
    io.i64(m.producer_id);
    io.i16(m.producer_epoch);
    io.i32(m.timeout_ms);
    io.i8(m.status);
    io.nullable_array(m.partitions, [](auto& io2, auto& t) {
        io2.string(t.topic);
        io2.array(t.partition_ids, [](auto& io3, auto& p) { io3.i32(p); });
        io2.tagged_fields();
    });
    io.i64(m.last_update_ms);
    io.i64(m.start_ms);
    io.tagged_fields(
        tag(0, m.previous_producer_id != no_previous_producer_id, [&](auto& t) { t.i64(m.previous_producer_id); }),
        tag(1, m.next_producer_id != no_next_producer_id, [&](auto& t) { t.i64(m.next_producer_id); }),
        tag(2, m.client_transaction_version != no_client_transaction_version,
            [&](auto& t) { t.i16(m.client_transaction_version); }));
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
// Encoding.

/// The key of `transactional_id`'s records (version 0).
inline void encode_key(byte_writer& w, std::string_view transactional_id) {
    w.i16(key_version);
    write_string(w, transactional_id);
}
inline byte_buffer encode_key(std::string_view transactional_id) {
    return detail::to_buffer([&](byte_writer& w) { encode_key(w, transactional_id); });
}

/// A value of `version` (0-1, else std::invalid_argument) with exactly that version's fields: v0
/// leaves the tagged fields out whatever they hold.
inline void encode_value(byte_writer& w, const transaction_log_value& m, std::int16_t version = 0) {
    if (version < 0 || version > value_max_version)
        throw std::invalid_argument("gregor::wire::txn_records: transaction log values are versions 0-1");
    w.i16(version);
    encoder e(w, version >= first_flexible_value_version, version);
    detail::value_fields(e, m);
}
inline byte_buffer encode_value(const transaction_log_value& m, std::int16_t version = 0) {
    return detail::to_buffer([&](byte_writer& w) { encode_value(w, m, version); });
}

// ---------------------------------------------------------------------------------------------
// Decoding: nullopt for bytes that are not a record of the kind (truncated, a null where none is
// allowed, bytes left over, an unknown value version or status).

/// A version-0 key, or the unknown_key of another non-negative version.
inline std::optional<record_key> decode_key(bytes_view b) {
    byte_reader r(b);
    const auto version = r.i16();
    if (!r.ok() || version < 0) return std::nullopt;
    if (version != key_version) return unknown_key{version, b.subspan(2)};
    transaction_log_key k;
    k.transactional_id = read_string(r);
    if (!r.ok() || !r.at_end()) return std::nullopt;
    return k;
}

inline std::optional<transaction_log_value> decode_value(bytes_view b) {
    byte_reader r(b);
    const auto version = r.i16();
    if (!r.ok() || version < 0 || version > value_max_version) return std::nullopt;
    std::optional<transaction_log_value> m(std::in_place);
    m->version = version;
    decoder d(r, version >= first_flexible_value_version, version);
    detail::value_fields(d, *m);
    if (!d.ok() || !r.at_end()) return std::nullopt;
    const auto status = static_cast<std::int8_t>(m->status);
    if (status < 0 || status > max_state_id) return std::nullopt;
    return m;
}

/// A whole record of the topic: `value` nullopt is a tombstone. Keys of unknown versions come
/// back as their unknown_key whatever the value; a known key with a value that does not decode is
/// nullopt.
inline std::optional<record> decode_record(bytes_view key, std::optional<bytes_view> value) {
    auto k = decode_key(key);
    if (!k) return std::nullopt;
    if (auto* u = std::get_if<unknown_key>(&*k)) return record{*u};
    transaction_record rec{std::get<transaction_log_key>(*k), std::nullopt};
    if (value) {
        rec.value = decode_value(*value);
        if (!rec.value) return std::nullopt;
    }
    return record{std::move(rec)};
}

// ---------------------------------------------------------------------------------------------
// Placement.

/// The `__transaction_state` partition that holds `transactional_id`'s records, of
/// `partition_count` (> 0, or std::invalid_argument); the id's coordinator is that partition's
/// leader. Kafka places transactional ids exactly as it places groups.
constexpr std::int32_t partition_for(std::string_view transactional_id,
                                     std::int32_t partition_count = default_partition_count) {
    return group_records::partition_for(transactional_id, partition_count);
}

} // namespace gregor::wire::txn_records
