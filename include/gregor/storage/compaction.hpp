// storage::compaction — log compaction (cleanup.policy=compact): keep the last record of every
// key, drop the records a later one with the same key replaced, and drop tombstones (null values)
// once consumers have had delete.retention.ms to see them. Offsets never move: a batch keeps its
// baseOffset and lastOffsetDelta (so producer sequence numbers still add up) and loses only
// records; a batch left with none goes, leaving a gap that reads skip (docs/protocol.md §22).
//
//   storage::compaction::options o;
//   o.now_ms = clock.wall_ms();
//   o.upper_bound = high_watermark;          // never clean what consumers cannot read yet
//   storage::compaction::stats st;
//   auto ec = storage::compaction::clean<log_type>([&](auto&& f) { std::lock_guard g(mu); return f(log); }, o, st);
//
// clean() runs one pass, as Kafka's cleaner does: it maps the key of every record in the dirty
// part (from the last pass's end, cleaned_offset(), to the newest sealed segment below
// upper_bound) to its newest offset, within dedupe_buffer_bytes; then it rewrites each sealed
// segment up to where the map reaches, oldest first, and swaps the copy in (log::commit_cleaned).
// The caller's `locked` runs each step on the log under the caller's lock, and each step is short:
// copying at most read_chunk_bytes of batches, writing one chunk of the copy, or the swap (one
// fsync and the index files). Everything else, decoding, deciding and re-encoding, runs unlocked,
// so appends and reads go on while a log is cleaned.
//
// The log's first segment keeps at least one batch (emptied of records if need be), so the log
// start offset, its base, stays where it was.
//
// What stays: every record whose key has no newer record; records without a key are dropped
// (Kafka refuses them on compacted topics); a tombstone stays until its batch's delete horizon
// (set to now + delete.retention.ms the first time a pass keeps it: KIP-534's delete-horizon
// attribute, with baseTimestamp holding the horizon) has passed. Batches kept whole: control
// batches (transaction markers), transactional batches (transactions are not served yet, and their
// keys never count as newer), and compressed batches this build cannot decode. The last batch of
// each producer id keeps at least its header, emptied of records if need be (Kafka's rule: the
// idempotent producer state rebuilt from the log still knows its last sequence). A changed compressed batch is re-compressed with its codec at the codec's default level.
//
// Thread-safety: clean() is called from one thread per log; `locked` provides the exclusion.
#pragma once

#include <gregor/compression/codec.hpp>
#include <gregor/core/buffer.hpp>
#include <gregor/core/error.hpp>
#include <gregor/core/strong_types.hpp>
#include <gregor/core/varint.hpp>
#include <gregor/storage/backend.hpp>
#include <gregor/wire/record_batch.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

namespace gregor::storage::compaction {

struct options {
    std::int64_t now_ms = 0;                         // the broker's wall clock
    offset upper_bound{std::numeric_limits<std::int64_t>::max()}; // nothing at or above is cleaned
    std::int64_t delete_retention_ms = 86400000;     // delete.retention.ms
    std::int64_t min_compaction_lag_ms = 0;          // min.compaction.lag.ms: newer segments wait
    std::size_t dedupe_buffer_bytes = 128u << 20;    // log.cleaner.dedupe.buffer.size
    std::size_t read_chunk_bytes = 1u << 20;         // batches copied per locked step
    std::size_t max_decompressed_bytes = 256u << 20; // one compressed batch decoded at most this
    // Rewrite the sealed segments even when nothing is dirty, to drop the tombstones whose delete
    // horizon has passed (the owner asks for it now and then; a pass over a clean log finds nothing else).
    bool when_clean = false;
};

struct stats {
    std::size_t segments_rewritten = 0;
    std::size_t batches_removed = 0;
    std::size_t records_removed = 0;
    std::size_t tombstones_removed = 0;
    std::uint64_t bytes_before = 0; // of the segments rewritten
    std::uint64_t bytes_after = 0;
    offset cleaned_to{0}; // the pass's end (the log's cleaned_offset() now)
};

/// The newest offset of each key seen, within a memory budget (Kafka's OffsetMap, with whole keys
/// instead of hashes so two keys never collide).
class key_map {
public:
    explicit key_map(std::size_t max_bytes) noexcept : max_(max_bytes) {}
    /// Bytes `n` more keys of `key_bytes` in total would take.
    static constexpr std::size_t cost(std::size_t n, std::size_t key_bytes) noexcept { return n * 64 + key_bytes; }
    [[nodiscard]] bool fits(std::size_t n, std::size_t key_bytes) const noexcept {
        return bytes_ + cost(n, key_bytes) <= max_;
    }
    void put(bytes_view key, offset o) {
        auto [it, fresh] = m_.try_emplace(std::string(as_string_view(key)), o);
        if (fresh)
            bytes_ += cost(1, key.size());
        else
            it->second = std::max(it->second, o);
    }
    [[nodiscard]] std::optional<offset> get(bytes_view key) const {
        const auto it = m_.find(std::string(as_string_view(key)));
        if (it == m_.end()) return std::nullopt;
        return it->second;
    }
    [[nodiscard]] std::size_t size() const noexcept { return m_.size(); }
    [[nodiscard]] std::size_t bytes() const noexcept { return bytes_; }

private:
    std::unordered_map<std::string, offset> m_;
    std::size_t bytes_ = 0;
    std::size_t max_;
};

namespace detail {

/// One record of a batch's plain records, with where its bytes are.
struct raw_record {
    bytes_view bytes;        // the whole record, length prefix included
    bytes_view after_ts;     // from offsetDelta to the end (what a new timestamp delta keeps)
    std::int64_t ts_delta = 0;
    std::int32_t offset_delta = 0;
    std::optional<bytes_view> key;
    bool tombstone = false;
};

/// Walks plain records; false at the first malformed one.
template <typename F>
bool for_each_raw(bytes_view records, std::int32_t count, F&& f) {
    byte_reader r(records);
    for (std::int32_t i = 0; i < count; ++i) {
        const std::byte* start = r.current();
        const std::int32_t len = r.varint();
        if (!r.ok() || len < 0 || static_cast<std::size_t>(len) > r.remaining()) return false;
        byte_reader body(r.bytes(static_cast<std::size_t>(len)));
        raw_record rec;
        (void)body.i8();
        rec.ts_delta = body.varlong();
        const std::byte* od = body.current();
        rec.offset_delta = body.varint();
        const std::int32_t klen = body.varint();
        if (klen >= 0) rec.key = body.bytes(static_cast<std::size_t>(klen));
        const std::int32_t vlen = body.varint();
        rec.tombstone = vlen < 0;
        if (!body.ok() || klen < -1 || vlen < -1) return false;
        rec.bytes = bytes_view{start, static_cast<std::size_t>(r.current() - start)};
        rec.after_ts = bytes_view{od, static_cast<std::size_t>(r.current() - od)};
        f(rec);
    }
    return r.ok() && r.at_end();
}

/// The plain records of `batch` (decoded into `scratch` when compressed); nullopt when this build
/// cannot decode them or they do not decode within `max`.
inline std::optional<bytes_view> plain_records(bytes_view batch, const wire::batch_header& h, byte_buffer& scratch,
                                               std::size_t max) {
    if (h.compression() == wire::compression::none) return batch.subspan(wire::batch_layout::header_size);
    if (!compression::available(h.compression())) return std::nullopt;
    scratch.clear();
    if (compression::decompress_records(batch, scratch, max)) return std::nullopt;
    return scratch.view();
}

/// Batches whose records the cleaner leaves alone (see the top of this file).
inline bool kept_whole(const wire::batch_header& h) noexcept { return h.is_control() || h.is_transactional(); }

} // namespace detail

/// `batch` without its records: the header alone, recordsCount 0, lastOffsetDelta and the producer
/// fields kept (what Kafka writes when it keeps a batch only for its offsets or its producer
/// state). Clients skip it to lastOffset + 1.
inline void append_empty_batch(bytes_view batch, byte_buffer& out) {
    namespace L = wire::batch_layout;
    const auto h = *wire::batch_header::parse(batch);
    std::byte* p = out.grow(L::header_size);
    std::memcpy(p, batch.data(), L::header_size);
    store_be<std::int32_t>(p + L::batch_length, static_cast<std::int32_t>(L::header_size - L::log_overhead));
    store_be<std::int16_t>(p + L::attributes, static_cast<std::int16_t>(h.attributes & ~wire::attr::compression_mask));
    store_be<std::int32_t>(p + L::records_count, 0);
    wire::reseal_crc(mutable_bytes_view{p, L::header_size});
}

/// What filter_batch decided.
enum class verdict { unchanged, rewritten, removed };

/// Filters one batch against `map`, appending what stays to `out`. `last_of_producer`: this batch
/// is its producer id's newest, so its header stays even when no record does (an empty batch).
inline verdict filter_batch(bytes_view batch, const key_map& map, const options& opt, bool last_of_producer,
                            byte_buffer& out, stats& st) {
    namespace L = wire::batch_layout;
    const auto h = *wire::batch_header::parse(batch);
    byte_buffer scratch;
    const auto plain = detail::kept_whole(h) ? std::nullopt
                           : detail::plain_records(batch, h, scratch, opt.max_decompressed_bytes);
    if (!plain) {
        out.append(batch);
        return verdict::unchanged;
    }
    const bool had_horizon = h.attributes & wire::attr::delete_horizon;
    const bool horizon_passed = had_horizon && opt.now_ms >= h.base_timestamp;
    std::vector<detail::raw_record> keep;
    std::size_t removed = 0, tombstones_removed = 0;
    bool tombstones_kept = false;
    const bool ok = detail::for_each_raw(*plain, h.records_count, [&](const detail::raw_record& r) {
        const offset o{h.base_offset.value() + r.offset_delta};
        bool stays = r.key.has_value();
        if (stays) {
            const auto newest = map.get(*r.key);
            stays = !newest || *newest <= o;
        }
        if (stays && r.tombstone && horizon_passed) {
            stays = false;
            ++tombstones_removed;
        }
        if (stays) {
            tombstones_kept = tombstones_kept || r.tombstone;
            keep.push_back(r);
        } else {
            ++removed;
        }
    });
    if (!ok) { // not ours to judge: recovery and the fetch path validate batches
        out.append(batch);
        return verdict::unchanged;
    }
    const bool set_horizon = tombstones_kept && !had_horizon;
    if (removed == 0 && !set_horizon) {
        out.append(batch);
        return verdict::unchanged;
    }
    st.records_removed += removed;
    st.tombstones_removed += tombstones_removed;
    if (keep.empty()) {
        if (last_of_producer) {
            append_empty_batch(batch, out);
            return verdict::rewritten;
        }
        ++st.batches_removed;
        return verdict::removed;
    }
    // The new batch: the old header, then the kept records; with a new delete horizon every
    // timestamp delta is re-based on it (records keep their absolute timestamps).
    const std::int64_t base_ts = set_horizon ? opt.now_ms + opt.delete_retention_ms : h.base_timestamp;
    const std::int64_t old_base_ts = h.base_timestamp;
    byte_buffer nb(L::header_size + plain->size());
    nb.append(batch.first(L::header_size));
    std::int64_t max_ts = std::numeric_limits<std::int64_t>::min();
    for (const auto& r : keep) {
        const std::int64_t ts = wire::detail::wrapping_add(old_base_ts, r.ts_delta);
        max_ts = std::max(max_ts, ts);
        if (!set_horizon) {
            nb.append(r.bytes);
            continue;
        }
        const std::int64_t delta = wire::detail::wrapping_sub(ts, base_ts);
        const std::size_t body = 1 + varlong_size(delta) + r.after_ts.size();
        std::byte* p = nb.grow(varint_size(static_cast<std::int32_t>(body)) + body);
        p += encode_varint(p, static_cast<std::int32_t>(body));
        *p++ = std::byte{0};
        p += encode_varlong(p, delta);
        std::memcpy(p, r.after_ts.data(), r.after_ts.size());
    }
    std::byte* p = nb.data();
    std::int16_t attrs = h.attributes;
    if (set_horizon) attrs |= wire::attr::delete_horizon;
    const auto codec = h.compression();
    store_be<std::int16_t>(p + L::attributes, static_cast<std::int16_t>(attrs & ~wire::attr::compression_mask));
    store_be<std::int32_t>(p + L::batch_length, static_cast<std::int32_t>(nb.size() - L::log_overhead));
    store_be<std::int64_t>(p + L::base_timestamp, base_ts);
    if (!h.has_log_append_time()) store_be<std::int64_t>(p + L::max_timestamp, max_ts);
    store_be<std::int32_t>(p + L::records_count, static_cast<std::int32_t>(keep.size()));
    wire::reseal_crc(nb.mutable_view());
    if (codec != wire::compression::none &&
        compression::compress_batch(nb, codec, compression::default_level(codec))) {
        out.append(batch); // cannot re-encode it: keep it as it was
        return verdict::unchanged;
    }
    out.append(nb.view());
    return verdict::rewritten;
}

/// One cleaning pass over a log (see the top of this file). `locked(f)` must call f(log) under the
/// log owner's lock and return what f returns. Errors: the log's I/O errors; a segment that
/// vanished or changed during the pass ends it early with local_error::invalid_argument (the next
/// pass starts over). Nothing to clean is success with zero stats.
template <typename Log, typename Locked>
std::error_code clean(Locked&& locked, const options& opt, stats& st) {
    using extent = typename Log::segment_extent;
    st = stats{};
    // The plan: sealed segments below the bound, oldest first, old enough for min.compaction.lag.ms.
    std::vector<extent> plan;
    offset start{0}, from{0};
    locked([&](Log& l) {
        const auto all = l.segment_extents();
        start = l.log_start_offset();
        from = l.cleaned_offset();
        for (std::size_t i = 0; i + 1 < all.size(); ++i) {
            const auto& e = all[i];
            if (e.next > opt.upper_bound) break;
            if (opt.min_compaction_lag_ms > 0 && e.max_timestamp >= 0 &&
                opt.now_ms - e.max_timestamp < opt.min_compaction_lag_ms)
                break;
            plan.push_back(e);
        }
        return 0;
    });
    st.cleaned_to = from;
    const bool dirty = !plan.empty() && from < plan.back().next;
    if (plan.empty() || (!dirty && !opt.when_clean)) return {};

    // Each producer's newest batch anywhere in the log (its state is rebuilt from it).
    std::map<std::int64_t, offset> newest_of_producer;
    {
        std::vector<offset> bases;
        locked([&](Log& l) {
            for (const auto& e : l.segment_extents()) bases.push_back(e.base);
            return 0;
        });
        for (const auto b : bases) {
            const auto ec = locked([&](Log& l) {
                return l.for_each_header(b, [&](const wire::batch_header& h) {
                    if (h.producer_id.value() >= 0 && !h.is_control()) {
                        auto& v = newest_of_producer[h.producer_id.value()];
                        v = std::max(v, h.last_offset());
                    }
                });
            });
            if (ec && ec != make_error_code(local_error::invalid_argument)) return ec; // a segment gone: fine
        }
    }

    // The key map over the dirty part, as far as the budget goes.
    key_map map(opt.dedupe_buffer_bytes);
    offset map_end = from;
    bool full = false;
    byte_buffer chunk, scratch;
    for (const auto& e : plan) {
        if (full) break;
        if (e.next <= from) continue;
        for (std::uint64_t pos = 0; pos < e.size && !full;) {
            chunk.clear();
            std::uint64_t end = pos;
            if (auto ec = locked([&](Log& l) { return l.copy_batches(e.base, pos, opt.read_chunk_bytes, chunk, end); }))
                return ec;
            if (end == pos) break;
            pos = end;
            for (wire::batch_splitter sp(chunk.view()); const auto b = sp.next();) {
                const auto h = *wire::batch_header::parse(*b);
                if (h.last_offset() < from) continue;
                std::vector<std::pair<bytes_view, offset>> keys;
                std::size_t key_bytes = 0;
                if (!detail::kept_whole(h)) {
                    if (const auto plain = detail::plain_records(*b, h, scratch, opt.max_decompressed_bytes)) {
                        (void)detail::for_each_raw(*plain, h.records_count, [&](const detail::raw_record& r) {
                            if (!r.key) return;
                            keys.emplace_back(*r.key, offset{h.base_offset.value() + r.offset_delta});
                            key_bytes += r.key->size();
                        });
                    }
                }
                if (!map.fits(keys.size(), key_bytes)) {
                    full = true;
                    break;
                }
                for (const auto& [k, o] : keys) map.put(k, o);
                map_end = h.next_offset();
            }
        }
    }
    if (dirty && map_end <= from) return {}; // not even one batch fits the budget

    // Rewrite every sealed segment the map reaches, oldest first: a crash between two swaps
    // leaves older segments cleaned against keys that the newer, not yet cleaned, still hold.
    for (const auto& e : plan) {
        if (e.base >= map_end) break;
        if (e.base < start && e.next <= start) continue;
        typename Log::cleaned_file out;
        bool begun = false, changed = false, wrote = false;
        byte_buffer pending, last_batch;
        // The log's first segment never empties: the log start offset is its base, and moving it
        // would tell a consumer positioned in the cleaned range that its offset is out of range.
        const bool first = &e == &plan.front();
        for (std::uint64_t pos = 0; pos < e.size;) {
            chunk.clear();
            std::uint64_t end = pos;
            if (auto ec = locked([&](Log& l) { return l.copy_batches(e.base, pos, opt.read_chunk_bytes, chunk, end); })) {
                if (begun) locked([&](Log& l) { l.abort_cleaned(out); return 0; });
                return ec;
            }
            if (end == pos) break;
            pos = end;
            for (wire::batch_splitter sp(chunk.view()); const auto b = sp.next();) {
                const auto h = *wire::batch_header::parse(*b);
                if (h.base_offset >= map_end) { // past what the map knows: as it is (Kafka does the same)
                    pending.append(*b);
                    continue;
                }
                const auto it = newest_of_producer.find(h.producer_id.value());
                const bool last = it != newest_of_producer.end() && it->second == h.last_offset();
                const auto v = filter_batch(*b, map, opt, last, pending, st);
                if (v != verdict::unchanged) changed = true;
                if (v != verdict::removed) wrote = true;
                if (first) {
                    last_batch.clear();
                    last_batch.append(*b);
                }
            }
            if (first && pos >= e.size && !wrote && !last_batch.empty()) {
                append_empty_batch(last_batch.view(), pending); // (still counted as removed in the stats)
                wrote = true;
            }
            // The copy is written a chunk at a time; a small segment that stays as it is is never
            // written at all, a larger one is dropped at the end.
            if (pending.size() >= opt.read_chunk_bytes || (changed && pos >= e.size)) {
                auto ec = locked([&](Log& l) {
                    if (!begun) {
                        if (auto e2 = l.begin_cleaned(e.base, out)) return e2;
                        begun = true;
                    }
                    return l.write_cleaned(out, pending.view());
                });
                pending.clear();
                if (ec) {
                    if (begun) locked([&](Log& l) { l.abort_cleaned(out); return 0; });
                    return ec;
                }
            }
        }
        if (!changed) {
            if (begun) locked([&](Log& l) { l.abort_cleaned(out); return 0; });
            continue;
        }
        if (!begun) { // everything removed: the copy is empty
            if (auto ec = locked([&](Log& l) { return l.begin_cleaned(e.base, out); })) return ec;
        }
        if (auto ec = locked([&](Log& l) { return l.commit_cleaned(out, e.size); })) return ec;
        ++st.segments_rewritten;
        st.bytes_before += e.size;
        st.bytes_after += out.size;
    }
    locked([&](Log& l) {
        l.set_cleaned_offset(map_end);
        return 0;
    });
    st.cleaned_to = map_end;
    return {};
}

/// Bytes of the sealed segments below `upper_bound` before and from the log's cleaned offset: the
/// dirty ratio is dirty / (clean + dirty), compared with min.cleanable.dirty.ratio.
template <typename Log>
std::pair<std::uint64_t, std::uint64_t> clean_and_dirty_bytes(const Log& l, offset upper_bound) {
    const auto all = l.segment_extents();
    const offset from = l.cleaned_offset();
    std::uint64_t clean = 0, dirty = 0;
    for (std::size_t i = 0; i + 1 < all.size(); ++i) {
        if (all[i].next > upper_bound) break;
        (all[i].next <= from ? clean : dirty) += all[i].size;
    }
    return {clean, dirty};
}

} // namespace gregor::storage::compaction
