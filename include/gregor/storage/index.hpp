// A segment's sparse indexes, in memory and in Kafka's file formats. One entry is added when more
// than index.interval.bytes were appended since the previous one (per batch, never per record).
//
//   .index, 8 bytes per entry, big-endian:
//     0  relativeOffset  int32   last offset of the indexed batch - segment base offset
//     4  position        int32   byte position of that batch in the .log file
//
//   .timeindex, 12 bytes per entry, big-endian:
//     0  timestamp       int64   largest batch maxTimestamp seen so far in the segment
//     8  relativeOffset  int32   last offset of the first batch that reached it - base offset
//
// Lookups return a position at or before the batch sought; the caller walks batch headers from
// there (at most about index.interval.bytes plus one batch).
//
// Thread-safety: plain values, owned by the log.
#pragma once

#include <gregor/core/buffer.hpp>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

namespace gregor::storage {

struct index_entry {
    std::uint32_t relative_offset = 0;
    std::uint32_t position = 0;
};

struct time_index_entry {
    std::int64_t timestamp = 0;
    std::uint32_t relative_offset = 0;
};

class offset_index {
public:
    static constexpr std::size_t entry_size = 8;

    void append(std::uint32_t relative_offset, std::uint32_t position) {
        entries_.push_back({relative_offset, position});
    }
    /// Position of the last entry whose offset is <= `relative_offset` (0 if none).
    [[nodiscard]] std::uint32_t lookup(std::uint32_t relative_offset) const noexcept {
        auto it = std::upper_bound(entries_.begin(), entries_.end(), relative_offset,
                                   [](std::uint32_t r, const index_entry& e) { return r < e.relative_offset; });
        return it == entries_.begin() ? 0 : std::prev(it)->position;
    }
    /// Drops the entries of batches at or after `position`.
    void truncate_to_position(std::uint32_t position) {
        while (!entries_.empty() && entries_.back().position >= position) entries_.pop_back();
    }
    void clear() noexcept { entries_.clear(); }
    [[nodiscard]] const std::vector<index_entry>& entries() const noexcept { return entries_; }
    [[nodiscard]] bool empty() const noexcept { return entries_.empty(); }

    void encode(byte_buffer& out) const {
        out.clear();
        std::byte* p = out.grow(entries_.size() * entry_size);
        for (const auto& e : entries_) {
            store_be<std::int32_t>(p, static_cast<std::int32_t>(e.relative_offset));
            store_be<std::int32_t>(p + 4, static_cast<std::int32_t>(e.position));
            p += entry_size;
        }
    }
    /// Parses an .index file, checking it against its segment (Kafka's sanity check): whole
    /// entries, offsets and positions strictly increasing, positions inside the .log.
    static std::optional<offset_index> decode(bytes_view b, std::uint64_t log_size) {
        if (b.size() % entry_size != 0) return std::nullopt;
        offset_index idx;
        idx.entries_.reserve(b.size() / entry_size);
        for (std::size_t i = 0; i < b.size(); i += entry_size) {
            const auto rel = load_be<std::int32_t>(b.data() + i);
            const auto pos = load_be<std::int32_t>(b.data() + i + 4);
            if (rel < 0 || pos < 0 || static_cast<std::uint64_t>(pos) >= log_size) return std::nullopt;
            if (!idx.entries_.empty() && (static_cast<std::uint32_t>(rel) <= idx.entries_.back().relative_offset ||
                                          static_cast<std::uint32_t>(pos) <= idx.entries_.back().position))
                return std::nullopt;
            idx.entries_.push_back({static_cast<std::uint32_t>(rel), static_cast<std::uint32_t>(pos)});
        }
        return idx;
    }

private:
    std::vector<index_entry> entries_;
};

class time_index {
public:
    static constexpr std::size_t entry_size = 12;

    /// Adds an entry if `timestamp` is larger than the last one (entries only ever increase).
    void maybe_append(std::int64_t timestamp, std::uint32_t relative_offset) {
        if (entries_.empty() || timestamp > entries_.back().timestamp) entries_.push_back({timestamp, relative_offset});
    }
    /// The last entry whose timestamp is <= `ts`, if any.
    [[nodiscard]] std::optional<time_index_entry> lookup(std::int64_t ts) const noexcept {
        auto it = std::upper_bound(entries_.begin(), entries_.end(), ts,
                                   [](std::int64_t t, const time_index_entry& e) { return t < e.timestamp; });
        if (it == entries_.begin()) return std::nullopt;
        return *std::prev(it);
    }
    /// Drops the entries that point at offsets at or after `relative_offset`.
    void truncate_to_offset(std::uint32_t relative_offset) {
        while (!entries_.empty() && entries_.back().relative_offset >= relative_offset) entries_.pop_back();
    }
    void clear() noexcept { entries_.clear(); }
    [[nodiscard]] const std::vector<time_index_entry>& entries() const noexcept { return entries_; }
    [[nodiscard]] bool empty() const noexcept { return entries_.empty(); }
    [[nodiscard]] std::optional<time_index_entry> last() const noexcept {
        if (entries_.empty()) return std::nullopt;
        return entries_.back();
    }

    void encode(byte_buffer& out) const {
        out.clear();
        std::byte* p = out.grow(entries_.size() * entry_size);
        for (const auto& e : entries_) {
            store_be<std::int64_t>(p, e.timestamp);
            store_be<std::int32_t>(p + 8, static_cast<std::int32_t>(e.relative_offset));
            p += entry_size;
        }
    }
    /// Parses a .timeindex file: whole entries, timestamps strictly and offsets weakly increasing.
    static std::optional<time_index> decode(bytes_view b) {
        if (b.size() % entry_size != 0) return std::nullopt;
        time_index idx;
        idx.entries_.reserve(b.size() / entry_size);
        for (std::size_t i = 0; i < b.size(); i += entry_size) {
            const auto ts = load_be<std::int64_t>(b.data() + i);
            const auto rel = load_be<std::int32_t>(b.data() + i + 8);
            if (rel < 0) return std::nullopt;
            if (!idx.entries_.empty() && (ts <= idx.entries_.back().timestamp ||
                                          static_cast<std::uint32_t>(rel) < idx.entries_.back().relative_offset))
                return std::nullopt;
            idx.entries_.push_back({ts, static_cast<std::uint32_t>(rel)});
        }
        return idx;
    }

private:
    std::vector<time_index_entry> entries_;
};

} // namespace gregor::storage
