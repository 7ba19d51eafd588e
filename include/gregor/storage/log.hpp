// storage::log — one partition's log: Kafka record batches appended as received, in segments
// named and indexed as Apache Kafka does (file_names.hpp, index.hpp), read back as zero-copy
// slices (read_result.hpp), with the storage backend (backend.hpp), the flush policy (flush.hpp)
// and the clock as compile-time policies and the numbers in log_config.
//
//   storage::log<storage::file_backend, flush::every_messages> l{"/data/orders-0", cfg};
//   l.append(batch);                                   // baseOffset must equal log_end_offset()
//   auto r = l.read(offset{0}, 1 << 20, l.log_end_offset());   // whole batches as slices
//
// Offsets: log_start_offset() <= flushed_offset() <= log_end_offset(). Everything below the flushed
// offset is durable (fdatasync'ed); everything below the log end offset is readable.
//
// Life cycle and recovery. The constructor opens the directory. If the clean-shutdown marker is
// there (close() wrote it after syncing everything), indexes are loaded from their files and only
// the batches after the last index entry of each segment are checked. Otherwise the last segment
// is scanned batch by batch (length, magic, CRC-32C via wire::validate, contiguous offsets) and
// cut at the first torn or corrupt batch; a segment whose index files are missing or inconsistent
// is rebuilt the same way, and segments after a cut are deleted. Earlier segments were synced with
// their indexes when the log rolled past them, so they need no scan. Corrupt bytes are never
// served. Segment rolls sync the old segment: a roll under flush::never costs one fdatasync.
//
// Aborted transactions (docs/protocol.md §7.3, §15). A read_committed Fetch must name the aborted
// transactions its range overlaps, and finding them by scanning batches would cost a read per
// fetch; so each segment keeps the entries whose ABORT marker it holds, in memory (fetches are
// answered from there) and in its `.txnindex` file, appended to and made durable with the
// segment's data: an entry whose marker is below flushed_offset() is durable. The file exists only
// once the segment has an entry, so a log without transactions pays nothing. Truncation drops the
// entries past the cut; recovery drops a torn last entry and entries past the recovered log end.
//
// Thread-safety: NOT thread-safe, including the const calls (they share the backend's state with
// append). The owner serialises every call on one log (the broker holds a mutex per partition).
// What read() returns stays valid after that lock is released, while appends, rolls, retention and
// truncation continue: slices keep their memory or file alive and those bytes are not rewritten
// (except by truncate_to() for file ranges, as in Kafka).
//
// Errors: the constructor throws std::system_error (I/O failure, io_uring unavailable) or
// std::invalid_argument (log_config out of range, naming the Kafka property). The other calls
// return std::error_code (local_error::invalid_argument for a batch that does not fit, closed after
// close(), or the operating system's error) and leave the log as it was.
#pragma once

#include <gregor/compression/codec.hpp>
#include <gregor/core/buffer.hpp>
#include <gregor/core/clock.hpp>
#include <gregor/core/error.hpp>
#include <gregor/core/strong_types.hpp>
#include <gregor/storage/backend.hpp>
#include <gregor/storage/file_names.hpp>
#include <gregor/storage/flush.hpp>
#include <gregor/storage/index.hpp>
#include <gregor/storage/log_config.hpp>
#include <gregor/storage/read_result.hpp>
#include <gregor/storage/txn_index.hpp>
#include <gregor/wire/record_batch.hpp>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace gregor::storage {

namespace detail {

/// Reads batch headers one after another without reading the records: direct views with the
/// memory backend, one read of up to 8 KiB per window with file backends.
template <typename Backend>
class header_walker {
public:
    static constexpr std::size_t window = 8192;

    header_walker(const Backend& b, const typename Backend::file& f, std::uint64_t pos, std::uint64_t end) noexcept
            : b_(&b), f_(&f), pos_(pos), end_(end) {}

    /// The header of the batch at position(), if a plausible batch lies there wholly before the
    /// end: magic 2, a length covering at least the header, lastOffsetDelta >= 0.
    std::optional<wire::batch_header> peek() {
        namespace L = wire::batch_layout;
        if (pos_ >= end_ || end_ - pos_ < L::header_size) return std::nullopt;
        if (pos_ < win_pos_ || pos_ + L::header_size > win_pos_ + win_.size()) {
            const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(window, end_ - pos_));
            win_ = b_->read(*f_, pos_, want, scratch_, ec_);
            win_pos_ = pos_;
            if (ec_ || win_.size() < L::header_size) return std::nullopt;
        }
        auto h = wire::batch_header::parse(win_.subspan(static_cast<std::size_t>(pos_ - win_pos_)));
        if (!h || h->magic != L::current_magic || h->last_offset_delta < 0 ||
            h->batch_length < static_cast<std::int32_t>(L::header_size - L::log_overhead) ||
            h->total_size() > end_ - pos_)
            return std::nullopt;
        return h;
    }
    void skip(const wire::batch_header& h) noexcept { pos_ += h.total_size(); }
    [[nodiscard]] std::uint64_t position() const noexcept { return pos_; }
    [[nodiscard]] const std::error_code& error() const noexcept { return ec_; }

private:
    const Backend* b_;
    const typename Backend::file* f_;
    std::uint64_t pos_;
    std::uint64_t end_;
    std::uint64_t win_pos_ = 0;
    bytes_view win_;
    byte_buffer scratch_;
    std::error_code ec_;
};

inline bool ends_with(std::string_view s, std::string_view suffix) noexcept {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

} // namespace detail

template <storage_backend Backend, flush_policy Flush = flush::never, clock Clock = system_clock>
class log {
    static_assert(storage_backend<Backend>,
                  "gregor::storage::log: the Backend policy must satisfy gregor::storage::storage_backend "
                  "(memory_backend, file_backend, uring_backend or a decorator of one)");
    static_assert(flush_policy<Flush>,
                  "gregor::storage::log: the Flush policy must provide on_append(records, now) -> bool, "
                  "on_tick(now) -> bool and on_flushed(now), and be constructible from log_config");
    static_assert(clock<Clock>, "gregor::storage::log: the Clock policy must provide now() and wall_ms()");

public:
    using backend_type = Backend;
    using flush_type = Flush;
    using clock_type = Clock;

    /// Opens (creating if needed) the partition directory `dir` and recovers it. Throws
    /// std::system_error on I/O failure or when the backend is unavailable (io_uring), and
    /// std::invalid_argument when `cfg` is out of range.
    log(std::filesystem::path dir, log_config cfg, typename Backend::options opts = {}, Clock clk = {})
            : dir_(std::move(dir)), cfg_(checked(cfg)), backend_(std::in_place, dir_, opts), flush_(cfg_), clock_(clk) {
        open_();
    }
    log(const log&) = delete;
    log& operator=(const log&) = delete;
    ~log() {
        try {
            close();
        } catch (...) { // a destructor must not throw; the next open recovers
        }
    }

    /// Appends one batch (validated by the caller) whose baseOffset is log_end_offset(). Rolls a
    /// new segment first when log.segment.bytes or log.roll.ms says so, indexes the batch (one
    /// entry per index.interval.bytes), and syncs it when the flush policy asks.
    std::error_code append(bytes_view batch) { return append_(batch, false); }

    /// A replica's copy of its leader's batch: as append(), except that the base offset may lie
    /// past the log end. The leader's log was compacted (docs/protocol.md §22), so offsets it
    /// removed are missing here too; reads skip the gap as they skip one inside a segment.
    std::error_code append_at(bytes_view batch) { return append_(batch, true); }

private:
    std::error_code append_(bytes_view batch, bool allow_gap) {
        namespace L = wire::batch_layout;
        if (closed_) return make_error_code(local_error::closed);
        if (batch.size() < L::header_size) return make_error_code(local_error::invalid_argument);
        const auto h = *wire::batch_header::parse(batch);
        if (h.total_size() != batch.size() || h.magic != L::current_magic || h.last_offset_delta < 0 ||
            h.base_offset < log_end_ || (h.base_offset != log_end_ && !allow_gap))
            return make_error_code(local_error::invalid_argument);
        const auto now_ms = clock_.wall_ms();
        if (should_roll(segments_.back(), h, batch.size(), now_ms)) {
            if (auto ec = roll_()) return ec;
        }
        auto& s = segments_.back();
        const auto now = clock_.now();
        bool sync = flush_.on_append(static_cast<std::int64_t>(h.last_offset_delta) + 1, now);
        if (sync && defer_flushes_) {
            // The owner syncs on another thread (flush_begin/flush_sync/flush_end).
            flush_wanted_ = true;
            sync = false;
        }
        if (sync) {
            // The entries of markers already in the segment become durable with this batch.
            if (auto ec = sync_txn(s)) return ec;
        }
        const auto pos = s.size;
        if (auto ec = backend_->append(s.file, pos, batch, sync)) {
            (void)backend_->truncate(s.file, pos); // best effort; the next append overwrites it anyway
            return ec;
        }
        if (s.size == 0) s.roll_start_ms = now_ms;
        s.last_append_ms = now_ms;
        index_batch(s, h, pos);
        log_end_ = s.next;
        if (sync) {
            flushed_ = log_end_;
            flush_.on_flushed(now);
        }
        return {};
    }

public:

    /// Whole batches starting with the one that contains `from`, with base offsets below
    /// `upper_bound`, up to `max_bytes` in total — except that the first batch is returned whole even
    /// if it is larger (KIP-74). Empty when `from` is outside [log start, log end) or >= upper_bound.
    /// May span segments.
    read_result read(offset from, std::size_t max_bytes, offset upper_bound) const {
        read_result r;
        if (from < log_start_ || from >= log_end_ || from >= upper_bound) return r;
        std::uint64_t budget = max_bytes;
        bool first = true;
        for (auto i = segment_for(from); i < segments_.size(); ++i) {
            const auto& s = segments_[i];
            if (s.base >= upper_bound) break;
            if (s.size == 0 || s.next <= from) continue;
            std::uint64_t pos = 0;
            if (first) {
                const auto at = locate(s, from);
                if (!at) continue;
                pos = at->first;
            }
            const auto [end, stopped] = extend(s, pos, budget, upper_bound, first);
            if (end > pos) {
                backend_->slices(s.file, pos, static_cast<std::size_t>(end - pos), r.slices);
                r.bytes += static_cast<std::size_t>(end - pos);
                budget -= std::min(budget, end - pos);
                first = false;
            }
            if (stopped) break;
        }
        return r;
    }

    [[nodiscard]] offset log_start_offset() const noexcept { return log_start_; }
    [[nodiscard]] offset log_end_offset() const noexcept { return log_end_; }
    /// Offset indexes rebuilt because an entry proved false against the log (see tick()).
    [[nodiscard]] std::uint64_t index_rebuilds() const noexcept { return index_rebuilds_; }
    /// Everything below this offset is durable.
    [[nodiscard]] offset flushed_offset() const noexcept { return flushed_; }
    [[nodiscard]] const log_config& config() const noexcept { return cfg_; }
    [[nodiscard]] const std::filesystem::path& directory() const noexcept { return dir_; }
    [[nodiscard]] std::size_t segment_count() const noexcept { return segments_.size(); }
    /// Base offsets of the segments, oldest first.
    [[nodiscard]] std::vector<offset> segment_base_offsets() const {
        std::vector<offset> v;
        for (const auto& s : segments_) v.push_back(s.base);
        return v;
    }
    /// Bytes stored over all segments.
    [[nodiscard]] std::uint64_t size_bytes() const noexcept {
        std::uint64_t n = 0;
        for (const auto& s : segments_) n += s.size;
        return n;
    }
    [[nodiscard]] Backend& backend() noexcept { return *backend_; }

    /// Makes everything appended so far durable.
    std::error_code flush() {
        if (flushed_ >= log_end_) return {};
        if (closed_) return make_error_code(local_error::closed);
        // Only the active segment can hold unsynced bytes: a roll syncs the segment it leaves.
        if (auto ec = backend_->sync(segments_.back().file)) return ec;
        if (auto ec = sync_txn(segments_.back())) return ec;
        flushed_ = log_end_;
        flush_wanted_ = false;
        flush_.on_flushed(clock_.now());
        return {};
    }

    /// Deferred flushing, for owners that sync on a thread of their own (the broker's flusher):
    /// append() then never syncs; when the flush policy asks for a sync, flush_wanted() turns true
    /// until a flush covers the log end. tick() does not sync either.
    void defer_flushes(bool on) noexcept { defer_flushes_ = on; }
    [[nodiscard]] bool flush_wanted() const noexcept { return flush_wanted_ && flushed_ < log_end_; }

    /// A flush in three steps, so the sync itself runs without the owner's lock: flush_begin()
    /// and flush_end() under it, flush_sync() outside it, concurrently with appends. Backends
    /// that offer `sync_upto(file, size)` (safe beside appends) sync outside the lock; for the
    /// others flush_sync() must run under the lock (`sync_is_concurrent` says which).
    struct flush_ticket {
        typename Backend::file file{};
        std::uint64_t size = 0;
        offset target{0};
        bool needed = false;
        // The active segment's .txnindex, when it has entries not yet durable.
        std::optional<typename Backend::file> txn_file{};
        std::size_t txn_entries = 0;
        std::uint64_t txn_generation = 0;
    };
    static constexpr bool sync_is_concurrent = requires(Backend & b, typename Backend::file& f, std::uint64_t n) {
        { b.sync_upto(f, n) } -> std::same_as<std::error_code>;
    };

    flush_ticket flush_begin() const {
        flush_ticket t;
        if (closed_ || flushed_ >= log_end_) return t;
        // Only the active segment can hold unsynced bytes: a roll syncs the segment it leaves.
        const auto& s = segments_.back();
        t.file = s.file;
        t.size = s.size;
        t.target = log_end_;
        t.needed = true;
        if (s.txn_synced < s.aborted.size()) {
            t.txn_file = *s.txn_file;
            t.txn_entries = s.aborted.size();
            t.txn_generation = txn_generation_;
        }
        return t;
    }
    std::error_code flush_sync(flush_ticket& t) {
        if (!t.needed) return {};
        if constexpr (sync_is_concurrent) {
            if (auto ec = backend_->sync_upto(t.file, t.size)) return ec;
            return t.txn_file ? backend_->sync_upto(*t.txn_file, t.txn_entries * aborted_txn_size) : std::error_code{};
        } else {
            if (auto ec = backend_->sync(t.file)) return ec;
            return t.txn_file ? backend_->sync(*t.txn_file) : std::error_code{};
        }
    }
    void flush_end(const flush_ticket& t) {
        if (!t.needed || t.target <= flushed_) return;
        const auto before = flushed_;
        flushed_ = std::min(t.target, log_end_);
        auto& s = segments_.back();
        if (t.txn_file && t.txn_generation == txn_generation_)
            s.txn_synced = std::max(s.txn_synced, std::min(t.txn_entries, s.aborted.size()));
        // An entry recorded after flush_begin, for a marker the ticket covers, was not in its sync.
        if (s.txn_synced < s.aborted.size() && s.aborted[s.txn_synced].last_offset < flushed_) {
            // Not durable, so neither is its marker (as far as flushed_offset() tells).
            if (sync_txn(s)) flushed_ = std::max(before, s.aborted[s.txn_synced].last_offset);
        }
        flush_.on_flushed(clock_.now());
        if (flushed_ >= log_end_) flush_wanted_ = false;
    }
    /// Whether the flush policy's interval (log.flush.interval.ms) says a sync is due now.
    bool flush_due_by_time() {
        if (closed_ || flushed_ >= log_end_) return false;
        if (flush_.on_tick(clock_.now())) flush_wanted_ = true;
        return flush_wanted_;
    }

    /// Time-driven work, called periodically by the owner: the interval flush
    /// (log.flush.interval.ms), the time-based roll (log.roll.ms) and, unless the owner runs it on
    /// its own schedule (a broker's log.retention.check.interval.ms), retention.
    void tick(bool run_retention = true) {
        if (closed_) return;
        rebuild_suspect_indexes();
        const auto now = clock_.now();
        if (!defer_flushes_ && flushed_ < log_end_ && flush_.on_tick(now)) (void)flush();
        const auto& a = segments_.back();
        if (a.size > 0 && clock_.wall_ms() - a.roll_start_ms >= cfg_.segment_ms) (void)roll_();
        if (run_retention) enforce_retention();
    }

    /// Seals the active segment now, if it holds anything (synced, with its indexes): the next
    /// append starts a new one. What a compaction or a test wants sealed without waiting for a roll.
    std::error_code roll() {
        if (closed_) return make_error_code(local_error::closed);
        return roll_();
    }

    /// Drops everything at and after `o`. Batches are atomic: when `o` falls inside a batch, that
    /// whole batch goes and the log end becomes its base offset. At or below the log start the log
    /// is emptied and restarts at `o` (a follower's "truncate fully and start at").
    std::error_code truncate_to(offset o) {
        if (closed_) return make_error_code(local_error::closed);
        if (o >= log_end_) return {};
        if (o < offset{0}) return make_error_code(local_error::invalid_argument);
        if (o <= log_start_) return truncate_fully_and_start_at(o);
        const auto i = segment_for(o);
        auto& s = segments_[i];
        std::uint64_t cut = s.size;
        offset new_end = s.next;
        if (const auto at = locate(s, o)) {
            cut = at->first;
            new_end = at->second.base_offset;
        }
        if (cut == 0) new_end = s.base;
        // The aborted index first: an entry outliving its marker would be believed again once new
        // data reaches its offsets.
        if (auto ec = truncate_txn(s, new_end)) return ec;
        for (auto j = i + 1; j < segments_.size(); ++j) remove_files(segments_[j]);
        segments_.resize(i + 1);
        if (cut < s.size) {
            if (auto ec = backend_->truncate(s.file, cut)) return ec;
            if (auto ec = backend_->sync(s.file)) return ec;
        }
        if (auto ec = rebuild_index(s, cut)) return ec;
        s.next = new_end;
        s.roll_start_ms = clock_.wall_ms();
        log_end_ = new_end;
        flushed_ = std::min(flushed_, log_end_);
        return {};
    }

    /// Empties the log and restarts it at `o`, wherever that is relative to the old log: a
    /// follower whose leader's log start passed its log end starts over there (Kafka's
    /// truncateFullyAndStartAt).
    std::error_code truncate_fully_and_start_at(offset o) {
        if (closed_) return make_error_code(local_error::closed);
        if (o < offset{0}) return make_error_code(local_error::invalid_argument);
        for (const auto& s : segments_) remove_files(s);
        segments_.clear();
        std::error_code ec;
        segments_.push_back(new_segment(o, ec));
        if (ec) {
            segments_.clear();
            return ec;
        }
        log_start_ = log_end_ = flushed_ = o;
        return {};
    }

    /// Deletes whole segments from the oldest while they are past log.retention.ms (by their
    /// largest batch timestamp) or while the log without them is still at least
    /// log.retention.bytes, moving the log start offset. The active segment goes too when it is
    /// expired (a new empty one is rolled first). Segments wholly below a log start offset that
    /// advance_log_start() moved are deleted as well (all but the active one). Returns the number
    /// of segments deleted.
    std::size_t enforce_retention() {
        if (closed_) return 0;
        const auto now_ms = clock_.wall_ms();
        std::uint64_t total = size_bytes();
        std::size_t deleted = 0;
        // cleanup.policy=compact alone keeps every key's last record for ever: no time or size limit.
        const bool deletes = cfg_.cleanup_policy != cleanup_policy::compact;
        while (!segments_.empty()) {
            const auto& s = segments_.front();
            const bool active = segments_.size() == 1;
            if (s.size == 0 && active) break;
            const std::int64_t newest = s.max_timestamp >= 0 ? s.max_timestamp : s.last_append_ms;
            const bool by_time = deletes && cfg_.retention_ms >= 0 && s.size > 0 && now_ms - newest > cfg_.retention_ms;
            const bool by_size = deletes && cfg_.retention_bytes >= 0 && s.size > 0 &&
                                 total - s.size >= static_cast<std::uint64_t>(cfg_.retention_bytes);
            // Kafka's log-start-offset breach: the next segment starts at or below the log start.
            const bool by_start = !active && s.next <= log_start_;
            if (!(by_time || by_size || by_start || s.size == 0)) break;
            if (active && roll_()) break;
            total -= segments_.front().size;
            remove_files(segments_.front());
            segments_.erase(segments_.begin());
            ++deleted;
        }
        // The log start may lie inside the first segment (advance_log_start), never below it.
        log_start_ = std::max(log_start_, segments_.front().base);
        if (flushed_ < log_start_) flushed_ = log_start_;
        return deleted;
    }

    /// Moves the log start offset up to `o` (DeleteRecords, docs/protocol.md §17.8): reads below it
    /// find nothing, and the segments wholly below it are deleted at once (the active segment
    /// stays until it rolls). The start may fall inside a segment or a batch: the owner keeps it
    /// durable (the broker's log-start-offset-checkpoint) and hands it back after a restart, when
    /// the log itself starts again at its first segment. `o` at or below the current start changes
    /// nothing; above the log end is local_error::invalid_argument.
    std::error_code advance_log_start(offset o) {
        if (closed_) return make_error_code(local_error::closed);
        if (o > log_end_) return make_error_code(local_error::invalid_argument);
        if (o <= log_start_) return {};
        log_start_ = o;
        if (flushed_ < log_start_) flushed_ = log_start_;
        while (segments_.size() > 1 && segments_.front().next <= log_start_) {
            remove_files(segments_.front());
            segments_.erase(segments_.begin());
        }
        return {};
    }

    /// Replaces the settings (a topic's configs altered at run time, docs/protocol.md §17.5):
    /// segment.bytes and segment.ms apply from the next append, retention from the next
    /// enforce_retention(), index.interval.bytes from the next batch indexed, and the flush policy
    /// is rebuilt from the new numbers when it can be assigned (its counters restart; pending
    /// unflushed data is reported to it again so an interval flush still comes). A config out of range is
    /// local_error::invalid_argument and changes nothing.
    std::error_code set_config(const log_config& c) {
        try {
            c.validate();
        } catch (const std::invalid_argument&) {
            return make_error_code(local_error::invalid_argument);
        }
        const bool flush_changed =
            c.flush_interval_messages != cfg_.flush_interval_messages || c.flush_interval_ms != cfg_.flush_interval_ms;
        cfg_ = c;
        if constexpr (std::is_move_assignable_v<Flush>) {
            if (flush_changed) {
                flush_ = Flush(cfg_);
                if (flushed_ < log_end_) (void)flush_.on_append(0, clock_.now());
            }
        }
        return {};
    }

    /// Closes the log for good (its topic was deleted) and lets go of its segments, so their file
    /// handles close once no read result holds them. With `remove_files` every file in the
    /// directory goes too, through the backend (what a shared memory store needs; a broker on
    /// disk renames and removes the whole directory instead). Afterwards the log is empty at
    /// offset 0 and closed: appends fail with local_error::closed, reads find nothing.
    void abandon(bool remove_files) {
        closed_ = true;
        segments_.clear();
        log_start_ = log_end_ = flushed_ = offset{0};
        flush_wanted_ = false;
        if (!remove_files || !backend_) return;
        std::error_code ec;
        for (const auto& n : backend_->list(ec)) (void)backend_->remove(n);
    }

    /// After abandon(): destroys the backend too (its directory handle, an io_uring instance), for
    /// an owner that must keep the log object itself. No call but the destructor may follow, and
    /// none may be running: a flush_sync() the owner started outside its lock must have returned.
    void release_backend() noexcept {
        if (closed_ && segments_.empty()) backend_.reset();
    }

    /// ListOffsets by timestamp, as Kafka answers it (docs/protocol.md §4): the offset and timestamp
    /// of the first RECORD, in offset order, whose timestamp is >= `ts_ms`; nullopt if none. The
    /// time index gives a position at or before the first batch that can qualify, batches whose
    /// maxTimestamp is below `ts_ms` are skipped by their header, and inside an uncompressed batch
    /// the records are walked. A LogAppendTime batch answers its first record with the batch's time
    /// (every record carries it). A compressed batch is decompressed to walk its records; only one in a
    /// codec this build lacks answers its first record (base offset, baseTimestamp).
    std::optional<wire::timestamp_offset> find_offset_by_timestamp(std::int64_t ts_ms) const {
        for (const auto& s : segments_) {
            if (s.size == 0 || s.max_timestamp < ts_ms) continue;
            std::uint64_t pos = 0;
            if (const auto e = s.tindex.lookup(ts_ms)) pos = checked_start(s, e->relative_offset);
            detail::header_walker<Backend> w(*backend_, s.file, pos, s.size);
            while (const auto h = w.peek()) {
                if (h->max_timestamp >= ts_ms) {
                    if (const auto r = search_batch(s, w.position(), *h, ts_ms, false)) return r;
                }
                w.skip(*h);
            }
        }
        return std::nullopt;
    }

    /// Offset only, for callers that do not report the timestamp.
    std::optional<offset> offset_for_timestamp(std::int64_t ts_ms) const {
        if (const auto r = find_offset_by_timestamp(ts_ms)) return r->record_offset;
        return std::nullopt;
    }

    /// ListOffsets -3 (MAX_TIMESTAMP): the record with the largest timestamp in the log, the first
    /// one in offset order when several share it; nullopt for an empty log or one without
    /// timestamps. The segment that holds the maximum knows the batch that reached it, so one index
    /// lookup and a short walk find it (compressed batches decompressed, as in
    /// find_offset_by_timestamp).
    std::optional<wire::timestamp_offset> find_max_timestamp() const {
        const segment* best = nullptr;
        for (const auto& s : segments_)
            if (s.size > 0 && s.max_timestamp >= 0 && (!best || s.max_timestamp > best->max_timestamp)) best = &s;
        if (!best) return std::nullopt;
        const auto& s = *best;
        detail::header_walker<Backend> w(*backend_, s.file, checked_start(s, rel(s, s.offset_of_max_timestamp)),
                                         s.size);
        while (const auto h = w.peek()) {
            if (h->max_timestamp == s.max_timestamp) {
                if (const auto r = search_batch(s, w.position(), *h, s.max_timestamp, true)) return r;
            }
            w.skip(*h);
        }
        return std::nullopt;
    }

    /// Calls f(bytes_view batch) for every stored batch from the one containing `from` (or the log
    /// start) to the log end, in order; f may return bool, false to stop. Views are valid during
    /// the call only. Returns an I/O error if reading failed.
    template <typename F>
    std::error_code for_each_batch(offset from, F&& f) const {
        if (from < log_start_) from = log_start_;
        if (from >= log_end_) return {};
        byte_buffer scratch;
        bool first = true;
        for (auto i = segment_for(from); i < segments_.size(); ++i) {
            const auto& s = segments_[i];
            if (s.size == 0 || s.next <= from) continue;
            std::uint64_t pos = 0;
            if (first) {
                const auto at = locate(s, from);
                if (!at) continue;
                pos = at->first;
                first = false;
            }
            detail::header_walker<Backend> w(*backend_, s.file, pos, s.size);
            while (const auto h = w.peek()) {
                std::error_code ec;
                const auto b = backend_->read(s.file, w.position(), h->total_size(), scratch, ec);
                if (ec) return ec;
                if (b.size() != h->total_size()) return make_error_code(local_error::io_error);
                if constexpr (std::is_convertible_v<std::invoke_result_t<F&, bytes_view>, bool>) {
                    if (!f(b)) return {};
                } else {
                    f(b);
                }
                w.skip(*h);
            }
            if (w.error()) return w.error();
        }
        return {};
    }

    // ---- aborted transactions (docs/protocol.md §7.3, §15) ----

    /// Records an aborted transaction in the .txnindex of the segment holding its ABORT marker,
    /// `e.last_offset`, which must be in the log already. local_error::invalid_argument when the
    /// marker lies outside [log start, log end), first_offset > last_offset, or last_offset is not
    /// above every entry recorded so far (entries go up by marker offset, as in Kafka). Durable
    /// with the segment's data: at once when the marker is already below flushed_offset(), else by
    /// the flush, roll or synced append that takes the marker there.
    std::error_code append_aborted_txn(const aborted_txn& e) {
        if (closed_) return make_error_code(local_error::closed);
        if (e.last_offset < log_start_ || e.last_offset >= log_end_ || e.first_offset > e.last_offset)
            return make_error_code(local_error::invalid_argument);
        const auto i = segment_for(e.last_offset);
        for (auto j = i; j < segments_.size(); ++j) {
            const auto& a = segments_[j].aborted;
            if (!a.empty() && a.back().last_offset >= e.last_offset)
                return make_error_code(local_error::invalid_argument);
        }
        auto& s = segments_[i];
        const bool created = !s.txn_file;
        if (created) {
            std::error_code ec;
            auto f = backend_->open(segment_file_name(s.base, txn_index_suffix), ec);
            if (!ec && backend_->size(f) != 0) ec = backend_->truncate(f, 0); // a stale leftover
            if (ec) {
                (void)backend_->remove(segment_file_name(s.base, txn_index_suffix));
                return ec;
            }
            s.txn_file = std::move(f);
            ++txn_generation_;
        }
        std::byte entry[aborted_txn_size];
        encode_aborted_txn(e, entry);
        const auto pos = s.aborted.size() * aborted_txn_size;
        const bool sync = e.last_offset < flushed_;
        if (auto ec = backend_->append(*s.txn_file, pos, bytes_view{entry, aborted_txn_size}, sync)) {
            if (created) {
                s.txn_file.reset();
                (void)backend_->remove(segment_file_name(s.base, txn_index_suffix));
            } else {
                (void)backend_->truncate(*s.txn_file, pos); // best effort; the next append overwrites it anyway
            }
            return ec;
        }
        s.aborted.push_back(e);
        if (sync) s.txn_synced = s.aborted.size();
        return {};
    }

    /// The aborted transactions a read_committed Fetch from `fetch_offset` reports when its data
    /// ends before `upper_bound`: every entry with last_offset >= fetch_offset and first_offset <
    /// upper_bound, from the segment holding fetch_offset on, up to the end of the first segment
    /// holding an entry whose last_stable_offset >= upper_bound (no transaction aborted later can
    /// have begun below the bound). Answered from memory.
    [[nodiscard]] std::vector<aborted_txn> collect_aborted_txns(offset fetch_offset, offset upper_bound) const {
        std::vector<aborted_txn> out;
        for (auto i = segment_for(fetch_offset); i < segments_.size(); ++i) {
            bool complete = false;
            for (const auto& a : segments_[i].aborted) {
                if (a.last_offset >= fetch_offset && a.first_offset < upper_bound) out.push_back(a);
                complete = complete || a.last_stable_offset >= upper_bound;
            }
            if (complete) break;
        }
        return out;
    }

    // ---- compaction support: storage/compaction.hpp drives these (docs/protocol.md §22) ----

    /// One segment as the cleaner plans with it.
    struct segment_extent {
        offset base{0};
        offset next{0};                  // one past its last stored offset
        std::uint64_t size = 0;          // bytes
        std::int64_t max_timestamp = -1; // largest batch maxTimestamp (-1: none)
    };
    /// Every segment, oldest first; the last one is the active segment, which is never cleaned.
    [[nodiscard]] std::vector<segment_extent> segment_extents() const {
        std::vector<segment_extent> v;
        v.reserve(segments_.size());
        for (const auto& s : segments_) v.push_back({s.base, s.next, s.size, s.max_timestamp});
        return v;
    }

    /// Copies whole batches of the segment based at `base`, from byte `pos` on, to the end of
    /// `out`: the first one whatever its size, then as many as keep the copy within `max_bytes`.
    /// `end` becomes the position after the last one copied (`pos` at the segment's end).
    /// local_error::invalid_argument when there is no such segment any more (retention or a
    /// truncation removed it meanwhile).
    std::error_code copy_batches(offset base, std::uint64_t pos, std::size_t max_bytes, byte_buffer& out,
                                 std::uint64_t& end) const {
        end = pos;
        const auto i = find_segment(base);
        if (!i) return make_error_code(local_error::invalid_argument);
        const auto& s = segments_[*i];
        detail::header_walker<Backend> w(*backend_, s.file, pos, s.size);
        while (const auto h = w.peek()) {
            if (end > pos && end + h->total_size() - pos > max_bytes) break;
            w.skip(*h);
            end = w.position();
        }
        if (w.error()) return w.error();
        byte_buffer scratch;
        for (std::uint64_t p = pos; p < end;) {
            std::error_code ec;
            const auto v = backend_->read(s.file, p, static_cast<std::size_t>(end - p), scratch, ec);
            if (ec) return ec;
            if (v.empty()) return make_error_code(local_error::io_error);
            out.append(v);
            p += v.size();
        }
        return {};
    }

    /// Calls f(const wire::batch_header&) for every batch of the segment based at `base`.
    template <typename F>
    std::error_code for_each_header(offset base, F&& f) const {
        const auto i = find_segment(base);
        if (!i) return make_error_code(local_error::invalid_argument);
        const auto& s = segments_[*i];
        detail::header_walker<Backend> w(*backend_, s.file, 0, s.size);
        while (const auto h = w.peek()) {
            f(*h);
            w.skip(*h);
        }
        return w.error();
    }

    /// Where the cleaner's last pass ended: everything below was deduplicated against everything
    /// below it. Kept in memory only, so the first pass after a restart cleans the whole log again
    /// (the result is the same; it costs one extra rewrite).
    [[nodiscard]] offset cleaned_offset() const noexcept { return std::max(cleaned_, log_start_); }
    void set_cleaned_offset(offset o) noexcept { cleaned_ = o; }

    /// A segment's compacted copy being written ("<base>.log.cleaned").
    struct cleaned_file {
        offset base{0};
        typename Backend::file file{};
        std::uint64_t size = 0;
    };
    /// Starts the copy of segment `base` (an old leftover of it is emptied first).
    std::error_code begin_cleaned(offset base, cleaned_file& f) requires renaming_backend<Backend> {
        if (closed_) return make_error_code(local_error::closed);
        std::error_code ec;
        f.base = base;
        f.size = 0;
        f.file = backend_->open(cleaned_name(base), ec);
        if (!ec && backend_->size(f.file) != 0) ec = backend_->truncate(f.file, 0);
        return ec;
    }
    std::error_code write_cleaned(cleaned_file& f, bytes_view batches) requires renaming_backend<Backend> {
        if (closed_) return make_error_code(local_error::closed);
        if (batches.empty()) return {};
        if (auto ec = backend_->append(f.file, f.size, batches, false)) return ec;
        f.size += batches.size();
        return {};
    }
    /// Swaps the copy in for its segment, if that segment is still there, sealed and `expected_size`
    /// bytes long (else local_error::invalid_argument and the copy is dropped). The copy is synced,
    /// the old indexes removed, the copy renamed over the segment, and the indexes rebuilt from it
    /// and written: a crash at any point leaves the old segment or the new one, whole, and missing
    /// indexes are rebuilt at open. A segment left empty is deleted. Readers holding slices of the
    /// old bytes keep them (the old file lives on while they do).
    std::error_code commit_cleaned(cleaned_file& f, std::uint64_t expected_size) requires renaming_backend<Backend> {
        const auto i = find_segment(f.base);
        if (closed_ || !i || *i + 1 >= segments_.size() || segments_[*i].size != expected_size) {
            abort_cleaned(f);
            return make_error_code(closed_ ? local_error::closed : local_error::invalid_argument);
        }
        if (auto ec = backend_->sync(f.file)) {
            abort_cleaned(f);
            return ec;
        }
        f.file = {};
        auto& s = segments_[*i];
        if (auto ec = backend_->remove(segment_file_name(s.base, index_suffix))) return ec;
        if (auto ec = backend_->remove(segment_file_name(s.base, time_index_suffix))) return ec;
        if (auto ec = backend_->rename(cleaned_name(s.base), segment_file_name(s.base, log_suffix))) return ec;
        std::error_code ec;
        auto file = backend_->open(segment_file_name(s.base, log_suffix), ec);
        if (ec) return ec;
        segment ns;
        ns.base = ns.next = s.base;
        ns.file = std::move(file);
        ns.roll_start_ms = s.roll_start_ms;
        ns.last_append_ms = s.last_append_ms;
        if (rebuild_index(ns, f.size) || ns.size != f.size) {
            // Read back short: keep the new bytes, walked from the start until the next tick's rebuild.
            ns.index.clear();
            ns.tindex.clear();
            ns.size = f.size;
            ns.next = std::max(ns.next, ns.base);
            ns.index_suspect = true;
        }
        // The markers are control batches, which the cleaner keeps whole: so do their entries.
        ns.aborted = std::move(s.aborted);
        ns.txn_file = std::move(s.txn_file);
        ns.txn_synced = s.txn_synced;
        const bool empty = ns.size == 0;
        s = std::move(ns);
        if (empty) {
            remove_files(s);
            segments_.erase(segments_.begin() + static_cast<std::ptrdiff_t>(*i));
            return {};
        }
        finalize_time_index(s);
        return write_indexes(s);
    }
    void abort_cleaned(cleaned_file& f) {
        f.file = {};
        if (backend_) (void)backend_->remove(cleaned_name(f.base));
    }

    /// Syncs everything, writes the active segment's indexes and the clean-shutdown marker. Later
    /// appends, flushes and truncations return local_error::closed; reads still work.
    void close() {
        if (closed_) return;
        auto ec = flush_all();
        closed_ = true;
        auto& s = segments_.back();
        // Entries below a log start that advanced past the flushed offset: the start is not kept
        // across a restart by the log, so they matter again then.
        if (!ec) ec = sync_txn(s);
        finalize_time_index(s);
        if (!ec) ec = write_indexes(s);
        if (!ec) (void)backend_->write_file(std::string(clean_shutdown_marker), {});
    }

private:
    bool defer_flushes_ = false;
    bool flush_wanted_ = false;

    struct segment {
        offset base{0};
        offset next{0};         // one past the last stored offset (== base when empty)
        std::uint64_t size = 0; // bytes of whole batches
        typename Backend::file file{};
        offset_index index;
        time_index tindex;
        std::int64_t max_timestamp = -1;   // largest batch maxTimestamp (-1: none)
        offset offset_of_max_timestamp{0}; // last offset of the first batch that reached it
        std::uint64_t bytes_since_index = 0;
        std::int64_t roll_start_ms = 0;  // wall time of the first append (or of the open)
        std::int64_t last_append_ms = 0; // retention fallback when batches carry no timestamp
        // An index entry proved false against the log (entry_holds): rebuilt at the next tick.
        mutable bool index_suspect = false;
        // Aborted transactions whose marker is here, by increasing last offset; the file is open
        // exactly while there is one, and its first txn_synced entries are known durable.
        std::vector<aborted_txn> aborted;
        std::optional<typename Backend::file> txn_file;
        std::size_t txn_synced = 0;
    };

    static log_config checked(const log_config& c) {
        c.validate();
        return c;
    }

    [[nodiscard]] std::string where(const std::string& what) const {
        return "gregor::storage::log: " + what + " (" + dir_.string() + ")";
    }

    static std::uint32_t rel(const segment& s, offset o) noexcept { return static_cast<std::uint32_t>(o - s.base); }

    bool should_roll(const segment& s, const wire::batch_header& h, std::size_t bytes, std::int64_t now_ms) const {
        if (s.size == 0) return false;
        return s.size + bytes > cfg_.segment_bytes || now_ms - s.roll_start_ms >= cfg_.segment_ms ||
               h.last_offset() - s.base > std::numeric_limits<std::int32_t>::max();
    }

    /// Index bookkeeping for a batch stored at `pos` (append and rebuild share it).
    void index_batch(segment& s, const wire::batch_header& h, std::uint64_t pos) {
        if (h.max_timestamp > s.max_timestamp) {
            s.max_timestamp = h.max_timestamp;
            s.offset_of_max_timestamp = h.last_offset();
        }
        if (s.bytes_since_index > cfg_.index_interval_bytes) {
            s.index.append(rel(s, h.last_offset()), static_cast<std::uint32_t>(pos));
            if (s.max_timestamp >= 0) s.tindex.maybe_append(s.max_timestamp, rel(s, s.offset_of_max_timestamp));
            s.bytes_since_index = 0;
        }
        s.bytes_since_index += h.total_size();
        s.size = pos + h.total_size();
        s.next = h.next_offset();
    }

    static void finalize_time_index(segment& s) {
        if (s.max_timestamp >= 0) s.tindex.maybe_append(s.max_timestamp, rel(s, s.offset_of_max_timestamp));
    }

    std::error_code write_indexes(const segment& s) {
        byte_buffer buf;
        s.index.encode(buf);
        if (auto ec = backend_->write_file(segment_file_name(s.base, index_suffix), buf.view())) return ec;
        s.tindex.encode(buf);
        return backend_->write_file(segment_file_name(s.base, time_index_suffix), buf.view());
    }

    void remove_files(offset base, bool txn_index) {
        (void)backend_->remove(segment_file_name(base, log_suffix));
        (void)backend_->remove(segment_file_name(base, index_suffix));
        (void)backend_->remove(segment_file_name(base, time_index_suffix));
        if (txn_index) {
            (void)backend_->remove(segment_file_name(base, txn_index_suffix));
            ++txn_generation_;
        }
    }
    void remove_files(const segment& s) { remove_files(s.base, s.txn_file.has_value()); }

    /// Makes the entries of `s` durable (nothing to do, and no I/O, when they are).
    std::error_code sync_txn(segment& s) {
        if (s.txn_synced >= s.aborted.size()) return {};
        if (auto ec = backend_->sync(*s.txn_file)) return ec;
        s.txn_synced = s.aborted.size();
        return {};
    }

    /// Drops the entries of `s` whose marker is at or after `end`: the file is cut to the entries
    /// kept and synced, or removed when none is left.
    std::error_code truncate_txn(segment& s, offset end) {
        auto keep = s.aborted.size();
        while (keep > 0 && s.aborted[keep - 1].last_offset >= end) --keep;
        if (keep == s.aborted.size()) return {};
        ++txn_generation_;
        if (keep == 0) {
            if (auto ec = backend_->remove(segment_file_name(s.base, txn_index_suffix))) return ec;
            s.txn_file.reset();
            s.aborted.clear();
            s.txn_synced = 0;
            return {};
        }
        if (auto ec = backend_->truncate(*s.txn_file, keep * aborted_txn_size)) return ec;
        s.aborted.resize(keep); // the file holds no more from here on, whatever the sync says
        s.txn_synced = std::min(s.txn_synced, keep);
        if (auto ec = backend_->sync(*s.txn_file)) return ec;
        s.txn_synced = keep;
        return {};
    }

    segment new_segment(offset base, std::error_code& ec) {
        segment s;
        s.base = s.next = base;
        s.file = backend_->open(segment_file_name(base, log_suffix), ec);
        if (!ec && backend_->size(s.file) != 0) ec = backend_->truncate(s.file, 0); // a stale leftover
        s.roll_start_ms = s.last_append_ms = clock_.wall_ms();
        return s;
    }

    /// Leaves the active segment: sync it with its indexes, then start a new one at the log end.
    std::error_code roll_() {
        auto& old = segments_.back();
        if (old.size == 0) return {};
        if (auto ec = sync_txn(old)) return ec;
        if (flushed_ < log_end_) {
            if (auto ec = backend_->sync(old.file)) return ec;
            flushed_ = log_end_;
            flush_wanted_ = false;
            flush_.on_flushed(clock_.now());
        }
        finalize_time_index(old);
        if (auto ec = write_indexes(old)) return ec;
        std::error_code ec;
        auto s = new_segment(log_end_, ec);
        if (ec) return ec;
        segments_.push_back(std::move(s));
        return {};
    }

    std::error_code flush_all() { return flushed_ >= log_end_ ? std::error_code{} : flush(); }

    static std::string cleaned_name(offset base) {
        return segment_file_name(base, log_suffix) + std::string(cleaned_suffix);
    }

    /// Index of the segment based exactly at `base`.
    [[nodiscard]] std::optional<std::size_t> find_segment(offset base) const noexcept {
        const auto it = std::lower_bound(segments_.begin(), segments_.end(), base,
                                         [](const segment& s, offset v) { return s.base < v; });
        if (it == segments_.end() || it->base != base) return std::nullopt;
        return static_cast<std::size_t>(it - segments_.begin());
    }

    /// Index of the segment that holds `o` (the last one whose base is <= o; 0 if none).
    [[nodiscard]] std::size_t segment_for(offset o) const noexcept {
        auto it = std::upper_bound(segments_.begin(), segments_.end(), o,
                                   [](offset v, const segment& s) { return v < s.base; });
        return it == segments_.begin() ? 0 : static_cast<std::size_t>(std::prev(it) - segments_.begin());
    }

    /// Position and header of the first batch of `s` whose last offset is >= o.
    std::optional<std::pair<std::uint64_t, wire::batch_header>> locate(const segment& s, offset o) const {
        const std::uint64_t start = o <= s.base ? 0 : checked_start(s, rel(s, o));
        detail::header_walker<Backend> w(*backend_, s.file, start, s.size);
        while (const auto h = w.peek()) {
            if (h->last_offset() >= o) return std::pair{w.position(), *h};
            w.skip(*h);
        }
        return std::nullopt;
    }

    /// Where a read that starts at `pos` in `s` ends, and whether a limit stopped it before the
    /// segment's end. Whole batches up to `budget` bytes with base offsets below `upper`; the batch
    /// at `pos` counts even if larger when `take_first`. Jumps over batches by the index first.
    std::pair<std::uint64_t, bool> extend(const segment& s, std::uint64_t pos, std::uint64_t budget, offset upper,
                                          bool take_first) const {
        std::uint64_t p = pos;
        // Every batch before an index entry whose batch ends below `upper` and that lies within the
        // budget is in the read, without looking at it.
        const auto& e = s.index.entries();
        const std::uint64_t limit = pos + budget;
        const auto by_pos = std::upper_bound(e.begin(), e.end(), limit,
                                             [](std::uint64_t v, const index_entry& x) { return v < x.position; });
        const auto up_rel = upper - s.base;
        auto by_off = e.end();
        if (up_rel <= 0)
            by_off = e.begin();
        else if (up_rel <= std::numeric_limits<std::uint32_t>::max())
            by_off = std::lower_bound(e.begin(), e.end(), static_cast<std::uint32_t>(up_rel),
                                      [](const index_entry& x, std::uint32_t v) { return x.relative_offset < v; });
        const auto last = std::min(by_pos, by_off);
        if (last != e.begin() && std::prev(last)->position > p && entry_holds(s, *std::prev(last)))
            p = std::prev(last)->position;

        detail::header_walker<Backend> w(*backend_, s.file, p, s.size);
        while (const auto h = w.peek()) {
            if (h->base_offset >= upper) return {w.position(), true};
            const auto end = w.position() + h->total_size();
            if (end - pos > budget && !(take_first && w.position() == pos)) return {w.position(), true};
            w.skip(*h);
        }
        return {w.position(), w.position() < s.size};
    }

    // A timestamp lookup decodes at most this much of one compressed batch (appends were bounded
    // by the broker far below it).
    static constexpr std::size_t max_search_decompressed = std::size_t{1} << 30;

    /// The record of the batch at `pos` that a timestamp lookup answers: the first whose timestamp
    /// is >= `ts`, or == `ts` when `exact` (-3). nullopt if no record qualifies (or on a read error).
    std::optional<wire::timestamp_offset> search_batch(const segment& s, std::uint64_t pos, const wire::batch_header& h,
                                                       std::int64_t ts, bool exact) const {
        // Every record of a LogAppendTime batch carries the batch's time: the first one answers.
        if (h.has_log_append_time())
            return h.max_timestamp >= ts ? std::optional{wire::timestamp_offset{h.max_timestamp, h.base_offset}}
                                         : std::nullopt;
        byte_buffer scratch, plain;
        std::optional<wire::batch_view> v;
        if (wire::records_readable(h) || compression::available(h.compression())) {
            std::error_code ec;
            const auto b = backend_->read(s.file, pos, h.total_size(), scratch, ec);
            if (ec || b.size() != h.total_size()) return std::nullopt;
            if (wire::records_readable(h))
                v.emplace(b);
            else if (!compression::decompress_records(b, plain, max_search_decompressed))
                v.emplace(b, plain.view());
        }
        if (!v) {
            // A codec this build lacks, or a batch stored unchecked (compressed_batches::header_only)
            // that does not decode: the batch's first record stands in.
            if (h.max_timestamp < ts) return std::nullopt;
            const bool horizon = h.attributes & wire::attr::delete_horizon; // baseTimestamp is no record's
            return wire::timestamp_offset{exact || horizon ? h.max_timestamp : h.base_timestamp, h.base_offset};
        }
        return exact ? wire::first_record_with_timestamp(*v, ts) : wire::first_record_at_or_after(*v, ts);
    }

    /// Rebuilds, from the batch headers, every index a read found false, and writes it back for
    /// segments that are no longer appended to.
    void rebuild_suspect_indexes() {
        for (std::size_t i = 0; i < segments_.size(); ++i) {
            auto& s = segments_[i];
            if (!s.index_suspect) continue;
            // rebuild_index resets the segment's extent as it walks: a walk that fails, or that
            // does not end exactly where the segment does, must leave everything as it was (an
            // append writes at s.size, and the log end comes from s.next).
            const auto size = s.size;
            const auto next = s.next;
            auto index = s.index;
            auto tindex = s.tindex;
            const auto max_ts = s.max_timestamp;
            const auto max_ts_offset = s.offset_of_max_timestamp;
            const auto since = s.bytes_since_index;
            if (rebuild_index(s, size) || s.size != size || s.next != next) {
                s.size = size;
                s.next = next;
                s.index = std::move(index);
                s.tindex = std::move(tindex);
                s.max_timestamp = max_ts;
                s.offset_of_max_timestamp = max_ts_offset;
                s.bytes_since_index = since;
                continue; // a read error: try again at the next tick (reads keep walking meanwhile)
            }
            s.index_suspect = false;
            ++index_rebuilds_;
            if (i + 1 < segments_.size()) (void)write_indexes(s);
        }
    }

    /// Whether index entry `e` of `s` is true: a batch starts at its position and ends at its
    /// offset. An entry can be damaged in ways the index's own checks (ascending, inside the file)
    /// let through, and believing it would make a read skip records; a false one marks the index
    /// for rebuilding (tick) and the caller walks from the segment's start instead.
    bool entry_holds(const segment& s, const index_entry& e) const {
        detail::header_walker<Backend> w(*backend_, s.file, e.position, s.size);
        const auto h = w.peek();
        if (h && h->last_offset() == s.base + e.relative_offset) return true;
        s.index_suspect = true;
        return false;
    }

    /// The position of the last indexed batch that ends at or before `relative_offset`, checked
    /// against the log (entry_holds); 0 when there is none or the index proved false.
    std::uint64_t checked_start(const segment& s, std::uint32_t relative_offset) const {
        const auto& e = s.index.entries();
        auto it = std::upper_bound(e.begin(), e.end(), relative_offset,
                                   [](std::uint32_t r, const index_entry& x) { return r < x.relative_offset; });
        if (it == e.begin()) return 0;
        return entry_holds(s, *std::prev(it)) ? std::prev(it)->position : 0;
    }

    /// Re-creates the indexes of `s` from its batch headers up to `end` (after a truncation).
    std::error_code rebuild_index(segment& s, std::uint64_t end) {
        s.index.clear();
        s.tindex.clear();
        s.max_timestamp = -1;
        s.bytes_since_index = 0;
        s.size = 0;
        s.next = s.base;
        detail::header_walker<Backend> w(*backend_, s.file, 0, end);
        while (const auto h = w.peek()) {
            index_batch(s, *h, w.position());
            w.skip(*h);
        }
        return w.error();
    }

    // ---- open and recovery ----

    void open_() {
        std::error_code ec;
        const auto names = backend_->list(ec);
        if (ec) throw std::system_error(ec, where("cannot list the log directory"));
        const std::set<std::string> present(names.begin(), names.end());
        const bool clean = present.count(std::string(clean_shutdown_marker)) > 0;
        std::vector<offset> bases;
        for (const auto& n : names) {
            if (const auto b = parse_segment_file_name(n, log_suffix)) bases.push_back(*b);
        }
        std::sort(bases.begin(), bases.end());
        for (const auto& n : names) {
            // Leftovers of an interrupted write_file, and indexes whose segment is gone.
            const bool tmp = (detail::ends_with(n, ".tmp") &&
                              (parse_segment_file_name(n.substr(0, n.size() - 4), index_suffix) ||
                               parse_segment_file_name(n.substr(0, n.size() - 4), time_index_suffix) ||
                               n == std::string(clean_shutdown_marker) + ".tmp")) ||
                             (detail::ends_with(n, cleaned_suffix) &&
                              parse_segment_file_name(n.substr(0, n.size() - cleaned_suffix.size()), log_suffix));
            auto b = parse_segment_file_name(n, index_suffix);
            if (!b) b = parse_segment_file_name(n, time_index_suffix);
            if (!b) b = parse_segment_file_name(n, txn_index_suffix);
            if (tmp || (b && !std::binary_search(bases.begin(), bases.end(), *b))) (void)backend_->remove(n);
        }

        const auto has_txn_index = [&](offset base) {
            return present.count(segment_file_name(base, txn_index_suffix)) > 0;
        };
        bool drop_rest = false;
        bool synced_at_open = false;
        for (std::size_t i = 0; i < bases.size(); ++i) {
            // An empty segment followed by another is a leftover: drop it before checking continuity.
            if (!drop_rest && !segments_.empty() && segments_.back().size == 0) {
                remove_files(segments_.back().base, has_txn_index(segments_.back().base));
                segments_.pop_back();
            }
            // Offsets must go up from one segment to the next (a compacted log may skip some); what
            // follows an overlap or a cut goes.
            if (drop_rest || (!segments_.empty() && bases[i] < segments_.back().next)) {
                remove_files(bases[i], has_txn_index(bases[i]));
                drop_rest = true;
                continue;
            }
            segment s;
            s.base = s.next = bases[i];
            s.file = backend_->open(segment_file_name(bases[i], log_suffix), ec);
            if (ec)
                throw std::system_error(ec, where("cannot open segment " + segment_file_name(bases[i], log_suffix)));
            const bool last = i + 1 == bases.size();
            const bool intact = load_segment(s, clean, last, present);
            segments_.push_back(std::move(s));
            if (!intact) drop_rest = true;
            synced_at_open = !intact; // a cut segment was synced by the cut
        }
        if (segments_.empty()) {
            segments_.push_back(new_segment(offset{0}, ec));
            if (ec) throw std::system_error(ec, where("cannot create the first segment"));
            synced_at_open = true;
        }
        // Only now is the log end known, which bounds the entries that may stay.
        for (std::size_t i = 0; i < segments_.size(); ++i) {
            const bool last = i + 1 == segments_.size();
            if (!has_txn_index(segments_[i].base)) continue;
            const auto limit = last ? segments_.back().next : std::min(segments_.back().next, segments_[i + 1].base);
            load_txn_index(segments_[i], limit, last && !clean);
        }
        // After a crash of the process (not of the machine) the page cache may hold what the disk
        // does not: sync before calling it flushed.
        if (!clean && !synced_at_open) {
            if (const auto e = backend_->sync(segments_.back().file))
                throw std::system_error(e, where("cannot sync the recovered segment"));
        } else if (const auto e = backend_->remove(std::string(clean_shutdown_marker))) {
            throw std::system_error(e, where("cannot remove the clean-shutdown marker"));
        }
        const auto now_ms = clock_.wall_ms();
        for (auto& s : segments_) s.roll_start_ms = s.last_append_ms = now_ms;
        log_start_ = segments_.front().base;
        log_end_ = flushed_ = segments_.back().next;
        flush_.on_flushed(clock_.now());
    }

    /// Loads one segment's state; false if it had to be cut (what follows it must go).
    bool load_segment(segment& s, bool clean, bool last, const std::set<std::string>& present) {
        const auto file_size = backend_->size(s.file);
        const auto iname = segment_file_name(s.base, index_suffix);
        const auto tname = segment_file_name(s.base, time_index_suffix);
        if ((clean || !last) && present.count(iname) && present.count(tname)) {
            byte_buffer buf;
            if (!backend_->read_file(iname, buf)) {
                auto oi = offset_index::decode(buf.view(), file_size);
                if (oi && !backend_->read_file(tname, buf)) {
                    if (auto ti = time_index::decode(buf.view())) {
                        s.index = std::move(*oi);
                        s.tindex = std::move(*ti);
                        if (check_tail(s, file_size, gaps_allowed(last))) return true;
                    }
                }
            }
        }
        const bool intact = recover_segment(s, file_size, gaps_allowed(last));
        if (!last && intact) (void)write_indexes(s);
        return intact;
    }

    /// Loads the entries of `s` that can be believed: whole, well-formed, and with a marker inside
    /// the segment below `limit` (the recovered log end). The file is cut to them (a torn append,
    /// or entries whose marker the recovery cut away), or removed when none is left. `sync`: the
    /// entries may be in the page cache only (after a crash of the process, as for the segment).
    void load_txn_index(segment& s, offset limit, bool sync) {
        const auto name = segment_file_name(s.base, txn_index_suffix);
        byte_buffer buf;
        if (const auto ec = backend_->read_file(name, buf)) {
            if (ec == std::errc::no_such_file_or_directory) return; // removed above as an orphan
            throw std::system_error(ec, where("cannot read " + name));
        }
        auto entries = decode_txn_index(buf.view());
        std::size_t keep = 0;
        while (keep < entries.size() && entries[keep].last_offset >= s.base && entries[keep].last_offset < limit)
            ++keep;
        entries.resize(keep);
        if (keep == 0) {
            if (const auto ec = backend_->remove(name)) throw std::system_error(ec, where("cannot remove " + name));
            return;
        }
        std::error_code ec;
        auto f = backend_->open(name, ec);
        if (ec) throw std::system_error(ec, where("cannot open " + name));
        if (backend_->size(f) != keep * aborted_txn_size) {
            if ((ec = backend_->truncate(f, keep * aborted_txn_size)))
                throw std::system_error(ec, where("cannot truncate " + name));
            sync = true;
        }
        if (sync && (ec = backend_->sync(f))) throw std::system_error(ec, where("cannot sync " + name));
        s.aborted = std::move(entries);
        s.txn_file = std::move(f);
        s.txn_synced = keep;
    }

    /// Whether offsets may skip ahead between the batches of a segment being recovered. Compaction
    /// leaves such gaps in the segments it rewrites, which are never the active one, and a follower
    /// of a compacted leader copies them into its active segment. A sealed segment is trusted with
    /// them; the last one only under a compacting policy, since there a gap more likely means a
    /// flipped offset byte (the CRC does not cover baseOffset).
    bool gaps_allowed(bool last) const noexcept { return !last || cfg_.cleanup_policy != cleanup_policy::delete_segments; }
    static bool follows(const wire::batch_header& h, offset expected, bool gaps) noexcept {
        return gaps ? h.base_offset >= expected : h.base_offset == expected;
    }

    /// With trusted indexes: checks the batches after the last index entry (headers, CRC,
    /// contiguity) and that they end exactly at the end of the file.
    bool check_tail(segment& s, std::uint64_t file_size, bool gaps) {
        const auto& e = s.index.entries();
        const std::uint64_t start = e.empty() ? 0 : e.back().position;
        s.max_timestamp = -1;
        if (const auto t = s.tindex.last()) {
            s.max_timestamp = t->timestamp;
            s.offset_of_max_timestamp = s.base + t->relative_offset;
        }
        detail::header_walker<Backend> w(*backend_, s.file, start, file_size);
        byte_buffer scratch;
        std::optional<offset> expect;
        if (e.empty()) expect = s.base;
        bool any = false;
        while (const auto h = w.peek()) {
            if (expect ? !follows(*h, *expect, gaps) : h->last_offset() != s.base + e.back().relative_offset)
                return false;
            if (!valid_batch(s, w.position(), *h, scratch)) return false;
            if (h->max_timestamp > s.max_timestamp) {
                s.max_timestamp = h->max_timestamp;
                s.offset_of_max_timestamp = h->last_offset();
            }
            expect = h->next_offset();
            any = true;
            w.skip(*h);
        }
        if (w.error()) throw std::system_error(w.error(), where("cannot read segment"));
        if (w.position() != file_size || (!e.empty() && !any)) return false;
        s.size = file_size;
        s.next = any ? *expect : s.base;
        if (const auto t = s.tindex.last(); t && s.base + t->relative_offset >= s.next) return false;
        s.bytes_since_index = file_size - start;
        return true;
    }

    bool valid_batch(const segment& s, std::uint64_t pos, const wire::batch_header& h, byte_buffer& scratch) const {
        std::error_code ec;
        const auto b = backend_->read(s.file, pos, h.total_size(), scratch, ec);
        if (ec) throw std::system_error(ec, where("cannot read segment"));
        if (b.size() != h.total_size()) return false;
        wire::validate_options opt;
        opt.client_batch = false;
        return wire::validate(b, opt) == wire::batch_error::none;
    }

    /// Scans the whole segment, rebuilding its indexes, and cuts it at the first batch that is
    /// torn, corrupt or out of sequence. Returns whether it was intact.
    bool recover_segment(segment& s, std::uint64_t file_size, bool gaps) {
        s.index.clear();
        s.tindex.clear();
        s.max_timestamp = -1;
        s.bytes_since_index = 0;
        s.size = 0;
        s.next = s.base;
        detail::header_walker<Backend> w(*backend_, s.file, 0, file_size);
        byte_buffer scratch;
        while (const auto h = w.peek()) {
            if (!follows(*h, s.next, gaps) || h->last_offset() - s.base > std::numeric_limits<std::int32_t>::max())
                break;
            if (!valid_batch(s, w.position(), *h, scratch)) break;
            index_batch(s, *h, w.position());
            w.skip(*h);
        }
        if (w.error()) throw std::system_error(w.error(), where("cannot read segment"));
        if (s.size == file_size) return true;
        if (auto ec = backend_->truncate(s.file, s.size))
            throw std::system_error(ec, where("cannot truncate a corrupt segment tail"));
        if (auto ec = backend_->sync(s.file)) throw std::system_error(ec, where("cannot sync a recovered segment"));
        return false;
    }

    std::filesystem::path dir_;
    log_config cfg_;
    std::optional<Backend> backend_; // empty only after abandon() + release_backend()
    [[no_unique_address]] Flush flush_;
    [[no_unique_address]] Clock clock_;
    std::vector<segment> segments_;
    offset log_start_{0};
    offset log_end_{0};
    offset flushed_{0};
    offset cleaned_{0};
    bool closed_ = false;
    std::uint64_t index_rebuilds_ = 0;
    // Bumped whenever a .txnindex is created, cut or removed, so a flush ticket taken before knows
    // its sync may not cover the entries there now.
    std::uint64_t txn_generation_ = 0;
};

} // namespace gregor::storage
