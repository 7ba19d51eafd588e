// A segment's aborted-transaction index, Kafka's `.txnindex` (docs/protocol.md §7.3, §15): what a
// read_committed Fetch needs to tell its consumer which transactional data to drop. One entry per
// ABORT marker that closed a non-empty transaction, in the file of the segment holding the marker.
// Commits are not indexed: consumers deliver everything that is not listed as aborted.
//
//   .txnindex, 34 bytes per entry, big-endian, no header:
//     0  version           int16   0
//     2  producerId        int64
//    10  firstOffset       int64   first offset of the aborted transaction
//    18  lastOffset        int64   offset of the ABORT marker
//    26  lastStableOffset  int64   the LSO right after the abort (lets a Fetch stop scanning)
//
// The file is appended to, never rewritten whole, so a crash can leave a partial last entry;
// decode_txn_index() keeps the prefix of whole, well-formed entries and the log cuts the rest.
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <gregor/core/buffer.hpp>
#include <gregor/core/strong_types.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace gregor::storage {

struct aborted_txn {
    producer_id pid{-1};
    offset first_offset{0};
    offset last_offset{0};        // the ABORT marker
    offset last_stable_offset{0}; // LSO once this transaction completed
    friend bool operator==(const aborted_txn&, const aborted_txn&) = default;
};

inline constexpr std::size_t aborted_txn_size = 34;
inline constexpr std::int16_t aborted_txn_version = 0;

/// Writes `e` as one 34-byte entry at `out`.
inline void encode_aborted_txn(const aborted_txn& e, std::byte* out) noexcept {
    store_be<std::int16_t>(out, aborted_txn_version);
    store_be<std::int64_t>(out + 2, e.pid.value());
    store_be<std::int64_t>(out + 10, e.first_offset.value());
    store_be<std::int64_t>(out + 18, e.last_offset.value());
    store_be<std::int64_t>(out + 26, e.last_stable_offset.value());
}

/// The entry at the start of `b`: nullopt when fewer than 34 bytes are left or the version is
/// not 0 (a later format this build cannot read, or garbage).
inline std::optional<aborted_txn> decode_aborted_txn(bytes_view b) noexcept {
    if (b.size() < aborted_txn_size || load_be<std::int16_t>(b.data()) != aborted_txn_version) return std::nullopt;
    return aborted_txn{producer_id{load_be<std::int64_t>(b.data() + 2)}, offset{load_be<std::int64_t>(b.data() + 10)},
                       offset{load_be<std::int64_t>(b.data() + 18)}, offset{load_be<std::int64_t>(b.data() + 26)}};
}

/// The longest prefix of a .txnindex file that can be trusted: whole entries of version 0, each
/// with firstOffset <= lastOffset and lastOffset above the previous one's. Whatever follows the
/// first entry that fails (a torn append, or damage) is not believed, as an append-only file
/// cannot hold a good entry after a bad one unless it was damaged.
inline std::vector<aborted_txn> decode_txn_index(bytes_view b) {
    std::vector<aborted_txn> out;
    out.reserve(b.size() / aborted_txn_size);
    for (std::size_t i = 0; i + aborted_txn_size <= b.size(); i += aborted_txn_size) {
        const auto e = decode_aborted_txn(b.subspan(i));
        if (!e || e->first_offset > e->last_offset || (!out.empty() && e->last_offset <= out.back().last_offset)) break;
        out.push_back(*e);
    }
    return out;
}

} // namespace gregor::storage
