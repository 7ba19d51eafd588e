// The record accumulator: where send() puts records. Each partition has a queue of batches in
// creation order whose last one may be open; a record is encoded straight into the open batch
// (wire::batch_builder, record batch v2), so the bytes the broker stores are written once, here.
// Records of a topic whose partitions are not known yet are encoded into staging batches of
// that topic and spread over its partitions when the metadata arrives: send() never waits for
// metadata. Memory for batches comes from buffer.memory; an exhausted budget makes send() wait
// (at most max.block.ms) and try_send() fail with local_error::queue_full.
//
// Readiness is scheduled, not polled: the batching policy gives each batch a ready time when it is
// opened and again when it is closed full; ready batches are handed to the sender thread, which
// owns them from then on (see sender.hpp). A registry of every incomplete batch, ordered by the
// oldest record it holds, serves flush() (wait until everything sent before it completed) and
// delivery.timeout.ms (expire the oldest first).
//
// Thread-safety: append() from any thread; the sender-side calls (collect, expire, finish,
// apply_metadata, ...) from the sender thread only. One mutex guards the accumulator; send()
// holds it for the encoding of one record, and wakes the sender only when a batch opens or
// fills, never per record.
#pragma once

#include <gregor/compression/codec.hpp>
#include <gregor/core/buffer.hpp>
#include <gregor/core/clock.hpp>
#include <gregor/core/error.hpp>
#include <gregor/core/strong_types.hpp>
#include <gregor/core/varint.hpp>
#include <gregor/producer/batching.hpp>
#include <gregor/producer/idempotence.hpp>
#include <gregor/producer/partitioner.hpp>
#include <gregor/producer/producer_config.hpp>
#include <gregor/producer/record.hpp>
#include <gregor/producer/record_metadata.hpp>
#include <gregor/producer/stats.hpp>
#include <gregor/producer/transport.hpp>
#include <gregor/wire/record_batch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace gregor::producer_detail {

/// A record as the accumulator takes it: serialized, timestamped.
struct record_in {
    std::string_view topic;
    std::optional<partition_id> partition;
    std::optional<bytes_view> key;
    std::optional<bytes_view> value;
    std::span<const record_header> headers;
    std::int64_t timestamp = 0;
};

/// Exact encoded size of `r` as the first record of a batch; later records can need at most 13
/// more bytes (wider timestamp and offset delta varints).
inline std::size_t first_record_size(const record_in& r) noexcept {
    auto nullable = [](const std::optional<bytes_view>& b) {
        return b ? varint_size(static_cast<std::int32_t>(b->size())) + b->size() : std::size_t{1};
    };
    std::size_t body =
        3 + nullable(r.key) + nullable(r.value) + varint_size(static_cast<std::int32_t>(r.headers.size()));
    for (const auto& h : r.headers)
        body += varint_size(static_cast<std::int32_t>(h.key.size())) + h.key.size() + nullable(h.value);
    return varint_size(static_cast<std::int32_t>(body)) + body;
}
inline constexpr std::size_t record_delta_slack = 13;

/// A cheap upper bound of a record's encoded size anywhere in a batch (every varint at its
/// widest), for the hot path; the exact size is computed only when the bound does not settle it.
inline std::size_t record_size_bound(const record_in& r) noexcept {
    std::size_t n = 36 + (r.key ? r.key->size() : 0) + (r.value ? r.value->size() : 0);
    for (const auto& h : r.headers) n += 10 + h.key.size() + (h.value ? h.value->size() : 0);
    return n;
}

/// A completion waiting for its record's outcome, with what the report needs.
struct record_completion {
    std::int32_t offset_delta = 0;
    std::int32_t key_size = -1;
    std::int32_t value_size = -1;
    std::int64_t timestamp = 0;
    completion fn;
};

enum class batch_place : std::uint8_t { staged, accumulating, sender };

struct topic_entry;
struct partition_entry;

struct producer_batch {
    explicit producer_batch(std::size_t capacity) : builder(capacity) {}

    // Accumulator side (accumulator lock).
    std::uint64_t id = 0;     // creation order
    std::uint64_t origin = 0; // id of the oldest record holder it absorbed (flush / expiry order)
    topic_entry* topic = nullptr;
    partition_entry* part = nullptr; // null while staged
    std::int32_t partition = -1;
    batch_place place = batch_place::accumulating;
    bool ready = false;
    time_point created{};
    std::size_t reserved = 0; // bytes of buffer.memory held

    // Content.
    wire::batch_builder builder;
    byte_buffer sealed; // after the first send
    std::int32_t record_count = 0;
    std::vector<record_completion> completions;
    std::vector<std::int32_t> staged_partitions; // staged batches: explicit partition per record, or -1

    // Sender side (sender thread only).
    std::int32_t attempts = 0;
    time_point retry_at{};
    std::uint64_t request = 0; // correlation id of the outstanding request carrying it, or 0
    producer_id pid = no_producer_id;
    producer_epoch epoch = no_producer_epoch;
    sequence base_seq = no_sequence;
    std::int64_t ordinal = -1; // position among its partition's sequenced batches (idempotence)
    // Outcome, set when the batch completes.
    std::error_code result;
    offset result_base{-1};
    std::int64_t result_append_time = -1;
};

struct partition_entry {
    std::int32_t id = 0;
    topic_entry* topic = nullptr;
    // Accumulator side (accumulator lock).
    std::deque<std::unique_ptr<producer_batch>> batches; // creation order; `open` is the last if set
    producer_batch* open = nullptr;
    bool listed_ready = false;
    // Sender side (sender thread only).
    node_id leader{0};
    std::deque<std::unique_ptr<producer_batch>> owned; // handed over, not completed; creation order
    sequence_state seq;
    std::int32_t outstanding = 0; // request slots of this partition in outstanding requests
    bool active = false;
    // Transactions: the sender's transaction number when the coordinator confirmed this partition
    // (AddPartitionsToTxn), and when it was last queued for that; 0 = never.
    std::uint64_t txn_added = 0;
    std::uint64_t txn_queued = 0;
    // Accumulator side: the transaction number when a batch first opened here in it (the sender
    // then asks AddPartitionsToTxn while the batch fills, not after: docs/transactions.md).
    std::uint64_t txn_announced = 0;
};

struct topic_entry {
    std::string name;
    std::size_t index = 0;
    // Accumulator side.
    std::int32_t partition_count = 0; // 0 until metadata arrived
    error_code permanent_error = error_code::none;
    std::vector<std::unique_ptr<partition_entry>> partitions;
    std::deque<std::unique_ptr<producer_batch>> staging;
    bool metadata_wanted = false;
    // Sender side.
    std::uint64_t metadata_request = 0;
    time_point metadata_deadline{};
    time_point metadata_retry_at{};
    std::int32_t metadata_attempts = 0;
    bool refresh_wanted = false;
    bool metadata_known = false; // answered once: refreshed every metadata.max.age.ms from then on
    time_point metadata_time{};  // when the last answer arrived
    // compression.type: compressed / uncompressed bytes expected of this topic's next batch
    // (Java's CompressionRatioEstimator: from 1.0, down by 0.005 while batches compress better,
    // up by 0.05 when one compresses worse). Written by the sender as batches are compressed,
    // read by the accumulator to size batches.
    std::atomic<float> compression_estimate{1.0f};
};

/// Java's per-topic compression ratio estimate, moved after a batch compressed to `observed`.
inline void update_compression_estimate(std::atomic<float>& est, float observed) noexcept {
    constexpr float improving = 0.005f, deteriorating = 0.05f;
    const float cur = est.load(std::memory_order_relaxed);
    const float next = observed < cur ? std::max(cur - improving, observed) : std::max(cur + deteriorating, observed);
    est.store(std::min(next, 1.0f), std::memory_order_relaxed);
}

/// What the sender learns from one collect() call.
struct collect_result {
    time_point next_ready = time_point::max();
    bool closing = false;
    bool abort = false;
};

/// The accumulator's lock: held for the encoding of one record, so it spins briefly (then
/// yields) instead of putting a sender to sleep, and unlocks with a plain store.
class spin_mutex {
public:
    void lock() noexcept {
        while (locked_.exchange(true, std::memory_order_acquire)) {
            for (int i = 0; locked_.load(std::memory_order_relaxed); ++i) {
                if (i < 128) {
#if defined(__x86_64__) || defined(__i386__)
                    __builtin_ia32_pause();
#endif
                } else {
                    std::this_thread::yield();
                }
            }
        }
    }
    bool try_lock() noexcept {
        return !locked_.load(std::memory_order_relaxed) && !locked_.exchange(true, std::memory_order_acquire);
    }
    void unlock() noexcept { locked_.store(false, std::memory_order_release); }

private:
    std::atomic<bool> locked_{false};
};

/// Waits on `cv` until pred() or the clock passes `deadline`. A clock other than the system clock
/// may be moved by hand, so it is re-read at least every millisecond.
template <typename Clock, typename Lock, typename Pred>
bool wait_until(std::condition_variable_any& cv, Lock& lk, const Clock& clk, time_point deadline, Pred pred) {
    while (!pred()) {
        const auto now = clk.now();
        if (now >= deadline) return pred();
        auto wait = deadline - now;
        if constexpr (!std::is_same_v<Clock, system_clock>)
            wait = std::min<duration>(wait, std::chrono::milliseconds{1});
        cv.wait_for(lk, wait);
    }
    return true;
}

template <typename Partitioner, typename Batching, typename Clock>
class accumulator {
public:
    using pstate = partitioner_state_t<Partitioner>;

    accumulator(const producer_config& cfg, Partitioner p, Batching b, Clock clk, stats_counters& stats)
            : partitioner_(std::move(p)), batching_(std::move(b)), clock_(clk), stats_(&stats),
              buffer_memory_(cfg.buffer_memory), max_request_size_(static_cast<std::size_t>(cfg.max_request_size)),
              max_block_(std::chrono::milliseconds{cfg.max_block_ms}),
              compressing_(compression::parse(cfg.compression_type).value_or(compression::codec::none) !=
                           compression::codec::none) {}

    accumulator(const accumulator&) = delete;
    accumulator& operator=(const accumulator&) = delete;

    [[nodiscard]] const Clock& clock() const noexcept { return clock_; }
    [[nodiscard]] std::int64_t buffer_memory() const noexcept { return buffer_memory_; }

    // ---- producer side ---------------------------------------------------------------------

    /// Encodes one record into its batch. On success the completion (if any) was moved into the
    /// batch; on error it is left with the caller. `block`: wait for buffer space up to
    /// max.block.ms; otherwise fail at once. `wake` is set when the sender must be woken.
    std::error_code append(const record_in& r, completion& c, bool block, bool& wake) {
        const std::size_t upper = record_size_bound(r);
        std::size_t own_capacity = wire::batch_layout::header_size + upper;
        if (own_capacity > max_request_size_ || static_cast<std::int64_t>(own_capacity) > buffer_memory_) {
            own_capacity = wire::batch_layout::header_size + first_record_size(r) + record_delta_slack;
            if (own_capacity - record_delta_slack > max_request_size_ ||
                static_cast<std::int64_t>(own_capacity) > buffer_memory_)
                return error_code::message_too_large;
        }
        const std::size_t exact0 = upper; // what byte-counting partitioners see

        std::unique_lock lk(mu_);
        std::size_t credit = 0; // memory reserved by a wait, not yet given to a batch
        std::optional<time_point> deadline;
        for (;;) {
            if (closed_) {
                release_locked(credit);
                return local_error::closed;
            }
            if (refusal_) [[unlikely]] {
                release_locked(credit);
                return refusal_;
            }
            topic_entry* t = find_topic(r.topic);
            if (!t) {
                t = add_topic(r.topic);
                wake |= note_work();
            }
            if (t->permanent_error != error_code::none) {
                release_locked(credit);
                return t->permanent_error;
            }
            const std::size_t batch_size = sized_batch(*t);
            const std::size_t capacity = std::max(batch_size, own_capacity);
            if (t->partition_count == 0) {
                producer_batch* s = t->staging.empty() ? nullptr : t->staging.back().get();
                if (!s || !fits(*s, r, upper, batch_size)) {
                    if (!credit) {
                        bool waited = false;
                        if (!reserve(capacity, block, deadline, lk, credit, waited)) return queue_error();
                        if (waited) continue; // the lock was released: decide again
                    }
                    s = open_staging(*t, std::exchange(credit, 0));
                }
                encode(*s, r, c);
                s->staged_partitions.push_back(r.partition ? r.partition->value() : -1);
                count_record();
                return {};
            }
            const std::int32_t p =
                choose(*t, r, r.partition ? r.partition->value() : -1, exact0, upper, batch_size, wake);
            if (p < 0) {
                release_locked(credit);
                return local_error::invalid_argument;
            }
            partition_entry& pe = *t->partitions[static_cast<std::size_t>(p)];
            producer_batch* b = pe.open;
            if (!b) {
                if (!credit) {
                    bool waited = false;
                    if (!reserve(capacity, block, deadline, lk, credit, waited)) return queue_error();
                    if (waited) continue; // the lock was released: decide again
                }
                b = open_batch(pe, std::exchange(credit, 0), clock_.now(), 0, wake);
            }
            release_locked(credit);
            encode(*b, r, c);
            appended(*t, r, p, exact0);
            count_record();
            return {};
        }
    }

    /// From now on append() fails with `ec` (none: accepts again). A transactional producer
    /// accepts records only inside a transaction (transactions.hpp); taking the lock here orders
    /// the change against every append.
    void set_refusal(std::error_code ec) {
        std::lock_guard lk(mu_);
        refusal_ = ec;
    }

    /// Makes every batch ready now and returns the flush ticket; pair with end_flush().
    std::uint64_t begin_flush(bool& wake) {
        std::lock_guard lk(mu_);
        ++flushing_;
        mark_all_ready();
        wake |= note_work();
        return next_id_;
    }
    void end_flush() {
        std::lock_guard lk(mu_);
        --flushing_;
    }
    /// Waits until every batch that existed at `ticket` (and every record staged then) completed.
    template <typename Rep, typename Period>
    bool wait_flushed(std::uint64_t ticket, std::chrono::duration<Rep, Period> timeout) {
        std::unique_lock lk(mu_);
        auto done = [&] { return registry_.empty() || registry_.begin()->first.first > ticket; };
        if (timeout == std::chrono::duration<Rep, Period>::max()) {
            done_cv_.wait(lk, done);
            return true;
        }
        return wait_until(done_cv_, lk, clock_, clock_.now() + std::chrono::duration_cast<duration>(timeout), done);
    }
    /// Stops accepting records and makes everything ready (close()).
    void begin_close(bool& wake) {
        std::lock_guard lk(mu_);
        closed_ = true;
        ++flushing_;
        mark_all_ready();
        wake |= note_work();
        space_cv_.notify_all();
    }
    void request_abort() {
        std::lock_guard lk(mu_);
        abort_ = true;
        dirty_ = true;
    }
    [[nodiscard]] bool closed() const {
        std::lock_guard lk(mu_);
        return closed_;
    }

    // ---- sender side -----------------------------------------------------------------------

    /// Hands ready batches over to their partitions' sender queues; `got` receives the partitions
    /// that received some, `wanted` the topics that need metadata.
    /// `fresh` (if given) receives the partitions that opened their first batch of the current
    /// transaction since the last call (see set_txn_number).
    collect_result collect(time_point now, std::vector<partition_entry*>& got, std::vector<topic_entry*>& wanted,
                           std::vector<partition_entry*>* fresh = nullptr) {
        std::lock_guard lk(mu_);
        dirty_ = false;
        if (fresh) fresh->swap(txn_fresh_);
        txn_fresh_.clear();
        sleep_until_ = time_point::min();
        while (!timed_.empty() && timed_.top().at <= now) {
            const auto e = timed_.top();
            timed_.pop();
            for (auto& b : e.part->batches) {
                if (b.get() == e.batch) {
                    b->ready = true;
                    list_ready(*e.part);
                    break;
                }
            }
        }
        for (partition_entry* pe : ready_parts_) {
            pe->listed_ready = false;
            bool moved = false;
            while (!pe->batches.empty() && pe->batches.front()->ready) {
                auto b = std::move(pe->batches.front());
                pe->batches.pop_front();
                if (pe->open == b.get()) pe->open = nullptr;
                b->place = batch_place::sender;
                b->record_count = b->builder.record_count();
                pe->owned.push_back(std::move(b));
                moved = true;
            }
            if (moved) got.push_back(pe);
        }
        ready_parts_.clear();
        for (topic_entry* t : wanted_topics_) {
            t->metadata_wanted = false;
            wanted.push_back(t);
        }
        wanted_topics_.clear();
        collect_result r;
        r.next_ready = timed_.empty() ? time_point::max() : timed_.top().at;
        r.closing = closed_;
        r.abort = abort_;
        return r;
    }

    /// A transactional producer's current transaction number (0: not transactional). From then on
    /// the first batch a partition opens in each transaction is reported by collect() at once, so
    /// the partition can join the transaction while its records accumulate.
    void set_txn_number(std::uint64_t n) {
        std::lock_guard lk(mu_);
        txn_number_ = n;
    }

    /// Announces the sender's sleep until `until`; false if work arrived since collect() (then the
    /// sender must not sleep).
    bool set_sleep(time_point until) {
        std::lock_guard lk(mu_);
        if (dirty_ || abort_) return false;
        sleep_until_ = until;
        return true;
    }
    void set_busy() {
        std::lock_guard lk(mu_);
        sleep_until_ = time_point::min();
    }

    /// Applies a topic's partition count: creates the partitions and spreads the staged records
    /// over them. Records whose explicit partition is out of range fail (into `failed`).
    void apply_metadata(topic_entry& t, const std::vector<node_id>& leaders,
                        std::vector<std::pair<record_completion, std::error_code>>& failed) {
        std::lock_guard lk(mu_);
        const auto n = static_cast<std::int32_t>(leaders.size());
        if (n > t.partition_count) {
            for (std::int32_t i = t.partition_count; i < n; ++i) {
                auto pe = std::make_unique<partition_entry>();
                pe->id = i;
                pe->topic = &t;
                t.partitions.push_back(std::move(pe));
            }
            t.partition_count = n;
        }
        for (std::size_t i = 0; i < t.partitions.size() && i < leaders.size(); ++i)
            t.partitions[i]->leader = leaders[i];
        if (!t.staging.empty()) redistribute(t, failed);
    }

    /// Fails a topic for good (invalid name, authorisation): its staged batches go to `out`, and
    /// later sends to it fail at once with `e`.
    void fail_topic(topic_entry& t, error_code e, std::vector<std::unique_ptr<producer_batch>>& out) {
        std::lock_guard lk(mu_);
        t.permanent_error = e;
        for (auto& s : t.staging) {
            s->result = e;
            out.push_back(std::move(s));
        }
        t.staging.clear();
    }

    /// Removes the batches whose oldest record is older than `timeout`. Batches still in the
    /// accumulator go to `out`; those the sender owns are listed in `sender_owned` for it to
    /// detach. Returns the time of the next possible expiry.
    time_point expire(time_point now, duration timeout, std::vector<std::unique_ptr<producer_batch>>& out,
                      std::vector<producer_batch*>& sender_owned) {
        std::lock_guard lk(mu_);
        for (auto it = registry_.begin(); it != registry_.end(); ++it) {
            producer_batch* b = it->second;
            if (b->created + timeout > now) return b->created + timeout;
            switch (b->place) {
            case batch_place::sender: sender_owned.push_back(b); break;
            case batch_place::staged: take(b->topic->staging, b, out); break;
            case batch_place::accumulating:
                if (b->part->open == b) b->part->open = nullptr;
                take(b->part->batches, b, out);
                break;
            }
        }
        return time_point::max();
    }

    /// Everything not yet handed to the sender, for a forced close or an aborted transaction.
    void abort_all(std::vector<std::unique_ptr<producer_batch>>& out) {
        std::lock_guard lk(mu_);
        for (auto& t : topics_) {
            for (auto& s : t->staging) out.push_back(std::move(s));
            t->staging.clear();
            for (auto& pe : t->partitions) {
                for (auto& b : pe->batches) out.push_back(std::move(b));
                pe->batches.clear();
                pe->open = nullptr;
            }
        }
    }

    /// Forgets completed batches: releases their memory and wakes flush() / blocked send().
    void finish(std::vector<std::unique_ptr<producer_batch>>& done) {
        if (done.empty()) return;
        {
            std::lock_guard lk(mu_);
            std::size_t freed = 0;
            for (auto& b : done) {
                registry_.erase({b->origin, b->id});
                freed += b->reserved;
            }
            release_locked(freed);
        }
        done.clear();
        done_cv_.notify_all();
    }

    [[nodiscard]] bool empty() const {
        std::lock_guard lk(mu_);
        return registry_.empty();
    }

    /// Creation time of the oldest incomplete batch (max when none).
    [[nodiscard]] time_point oldest() const {
        std::lock_guard lk(mu_);
        return registry_.empty() ? time_point::max() : registry_.begin()->second->created;
    }

private:
    struct timed_entry {
        time_point at;
        partition_entry* part;
        producer_batch* batch; // compared, never dereferenced (it may be gone)
        bool operator>(const timed_entry& o) const noexcept { return at > o.at; }
    };

    std::error_code queue_error() const {
        return closed_ ? std::error_code(local_error::closed) : local_error::queue_full;
    }

    /// The uncompressed bytes at which a batch of `t` is closed: batch.size, or with compression
    /// what is expected to compress to it (Java's estimate with its 1.05 safety factor), never
    /// more than fits a request uncompressed, so a batch that compresses worse than expected still
    /// respects max.request.size.
    std::size_t sized_batch(const topic_entry& t) const noexcept {
        const std::size_t bs = batching_.batch_size();
        if (!compressing_) return bs;
        const float est = std::max(t.compression_estimate.load(std::memory_order_relaxed), 0.01f);
        const auto scaled = static_cast<std::size_t>(static_cast<double>(bs) / (static_cast<double>(est) * 1.05));
        const std::size_t room = max_request_size_ > 1024 ? max_request_size_ - 1024 : max_request_size_;
        return std::max(bs, std::min(scaled, room));
    }

    bool fits(const producer_batch& b, const record_in& r, std::size_t upper, std::size_t batch_size) const noexcept {
        // Never past the buffer.memory the batch reserved when it opened (the compression
        // estimate may have grown the batch size since).
        if (b.reserved > 0) batch_size = std::min(batch_size, b.reserved);
        const std::size_t now_bytes = b.builder.size_bytes();
        if (now_bytes + upper <= batch_size) return true;
        return now_bytes + b.builder.record_size(r.timestamp, r.key, r.value, r.headers) <= batch_size;
    }

    /// Takes `n` bytes of buffer.memory into `credit`, waiting (unlocking) when `block`.
    bool reserve(std::size_t n, bool block, std::optional<time_point>& deadline, std::unique_lock<spin_mutex>& lk,
                 std::size_t& credit, bool& waited) {
        const auto want = static_cast<std::int64_t>(n);
        if (used_ + want <= buffer_memory_) {
            take_memory(n);
            credit = n;
            return true;
        }
        if (!block || closed_) return false;
        if (!deadline) {
            deadline = clock_.now() + max_block_;
            stats_counters::add(stats_->blocked_sends);
        }
        waited = true;
        ++space_waiters_;
        const bool ok =
            wait_until(space_cv_, lk, clock_, *deadline, [&] { return closed_ || used_ + want <= buffer_memory_; });
        --space_waiters_;
        if (!ok || closed_) return false;
        take_memory(n);
        credit = n;
        return true;
    }
    /// Counts an accepted record: a plain increment under the lock, published with a store.
    void count_record() noexcept { stats_->records_sent.store(++records_, std::memory_order_relaxed); }

    void take_memory(std::size_t n) {
        used_ += static_cast<std::int64_t>(n);
        stats_->buffer_used.store(used_, std::memory_order_relaxed);
    }
    void release_locked(std::size_t n) {
        if (!n) return;
        used_ -= static_cast<std::int64_t>(n);
        stats_->buffer_used.store(used_, std::memory_order_relaxed);
        if (space_waiters_) space_cv_.notify_all();
    }

    topic_entry* find_topic(std::string_view name) {
        if (last_topic_ && last_topic_->name == name) return last_topic_;
        auto it = topic_index_.find(name);
        if (it == topic_index_.end()) return nullptr;
        last_topic_ = it->second;
        return last_topic_;
    }
    topic_entry* add_topic(std::string_view name) {
        auto t = std::make_unique<topic_entry>();
        t->name = std::string(name);
        t->index = topics_.size();
        t->metadata_wanted = true;
        topic_entry* raw = t.get();
        topics_.push_back(std::move(t));
        pstates_.emplace_back();
        topic_index_.emplace(std::string_view(raw->name), raw);
        wanted_topics_.push_back(raw);
        last_topic_ = raw;
        return raw;
    }

    /// Records that the sender has new work; true if it sleeps and must be woken.
    bool note_work(time_point due = time_point::min()) {
        dirty_ = true;
        if (sleep_until_ != time_point::min() && due < sleep_until_) {
            sleep_until_ = time_point::min();
            return true;
        }
        return false;
    }

    void list_ready(partition_entry& pe) {
        if (!pe.listed_ready) {
            pe.listed_ready = true;
            ready_parts_.push_back(&pe);
        }
    }

    void mark_all_ready() {
        for (auto& t : topics_)
            for (auto& pe : t->partitions)
                if (!pe->batches.empty()) {
                    for (auto& b : pe->batches) b->ready = true;
                    list_ready(*pe);
                }
    }

    producer_batch* open_batch(partition_entry& pe, std::size_t reserved, time_point created, std::uint64_t origin,
                               bool& wake) {
        auto up = std::make_unique<producer_batch>(reserved);
        producer_batch* b = up.get();
        b->id = ++next_id_;
        b->origin = origin ? origin : b->id;
        b->topic = pe.topic;
        b->part = &pe;
        b->partition = pe.id;
        b->place = batch_place::accumulating;
        b->created = created;
        b->reserved = reserved;
        registry_.emplace(std::pair{b->origin, b->id}, b);
        pe.batches.push_back(std::move(up));
        pe.open = b;
        if (txn_number_ != 0 && pe.txn_announced != txn_number_) {
            pe.txn_announced = txn_number_;
            txn_fresh_.push_back(&pe);
            wake |= note_work();
        }
        const time_point at = flushing_ ? time_point::min() : batching_.ready_at(batch_info{created, 0, 0, false});
        if (at == time_point::min()) {
            b->ready = true;
            list_ready(pe);
            wake |= note_work();
        } else if (at != time_point::max()) {
            timed_.push({at, &pe, b});
            wake |= note_work(at);
        }
        return b;
    }

    producer_batch* open_staging(topic_entry& t, std::size_t reserved) {
        auto up = std::make_unique<producer_batch>(reserved);
        producer_batch* b = up.get();
        b->id = ++next_id_;
        b->origin = b->id;
        b->topic = &t;
        b->place = batch_place::staged;
        b->created = clock_.now();
        b->reserved = reserved;
        registry_.emplace(std::pair{b->origin, b->id}, b);
        t.staging.push_back(std::move(up));
        return b;
    }

    /// Closes a partition's open batch because a record did not fit. True if the sender must wake.
    bool close_full(partition_entry& pe) {
        producer_batch* b = pe.open;
        pe.open = nullptr;
        if (b->ready) return false;
        const time_point at =
            batching_.ready_at(batch_info{b->created, b->builder.size_bytes(), b->builder.record_count(), true});
        if (at <= clock_.now()) {
            b->ready = true;
            list_ready(pe);
            return note_work();
        }
        if (at != time_point::max()) {
            timed_.push({at, &pe, b});
            return note_work(at);
        }
        return false;
    }

    /// The partition for a record (explicit, or the partitioner's choice, giving a sticky
    /// partitioner the chance to move on when its partition needs a new batch), with that
    /// partition's open batch closed if the record does not fit in it. -1: no valid partition.
    std::int32_t choose(topic_entry& t, const record_in& r, std::int32_t explicit_p, std::size_t exact0,
                        std::size_t upper, std::size_t batch_size, bool& wake) {
        std::int32_t p = explicit_p;
        partition_context ctx{t.name, r.key, t.partition_count, exact0};
        if (p < 0) {
            if constexpr (requires { Partitioner::requires_explicit_partition; }) {
                return -1;
            } else {
                p = partitioner_.partition(ctx, pstates_[t.index]);
                if constexpr (requires(pstate & st) { partitioner_.on_new_batch(ctx, st, p); }) {
                    if (!r.key && p >= 0 && p < t.partition_count) {
                        producer_batch* b = t.partitions[static_cast<std::size_t>(p)]->open;
                        if (!b || !fits(*b, r, upper, batch_size)) {
                            partitioner_.on_new_batch(ctx, pstates_[t.index], p);
                            p = partitioner_.partition(ctx, pstates_[t.index]);
                        }
                    }
                }
            }
        }
        if (p < 0 || p >= t.partition_count) return -1;
        partition_entry& pe = *t.partitions[static_cast<std::size_t>(p)];
        if (pe.open && !fits(*pe.open, r, upper, batch_size)) wake |= close_full(pe);
        return p;
    }

    /// Tells a byte-counting partitioner about a keyless record it placed.
    void appended(topic_entry& t, const record_in& r, std::int32_t p, std::size_t exact0) {
        if constexpr (requires(pstate & st, const partition_context& ctx) {
                          partitioner_.on_append(ctx, st, p, exact0);
                      }) {
            if (!r.partition && !r.key) {
                partition_context ctx{t.name, r.key, t.partition_count, exact0};
                partitioner_.on_append(ctx, pstates_[t.index], p, exact0);
            }
        }
    }

    void encode(producer_batch& b, const record_in& r, completion& c) {
        const std::int32_t delta = b.builder.append(r.timestamp, r.key, r.value, r.headers);
        ++b.record_count;
        if (c) {
            b.completions.push_back(record_completion{delta, r.key ? static_cast<std::int32_t>(r.key->size()) : -1,
                                                      r.value ? static_cast<std::int32_t>(r.value->size()) : -1,
                                                      r.timestamp, std::move(c)});
        }
    }

    template <typename Deque>
    static void take(Deque& d, producer_batch* b, std::vector<std::unique_ptr<producer_batch>>& out) {
        for (auto it = d.begin(); it != d.end(); ++it) {
            if (it->get() == b) {
                out.push_back(std::move(*it));
                d.erase(it);
                return;
            }
        }
    }

    /// Re-encodes staged records into their partitions' batches (metadata just arrived).
    void redistribute(topic_entry& t, std::vector<std::pair<record_completion, std::error_code>>& failed) {
        std::vector<record_header> hdrs;
        bool unused_wake = false;
        for (auto& s : t.staging) {
            const std::uint64_t origin = s->origin;
            const time_point created = s->created;
            const std::int32_t count = s->builder.record_count();
            byte_buffer bytes = s->builder.seal();
            wire::batch_view view(bytes.view());
            auto comp = s->completions.begin();
            std::int32_t i = 0;
            for (const auto& rec : view) {
                if (i >= count) break;
                record_in r;
                r.topic = t.name;
                r.key = rec.key;
                r.value = rec.value;
                r.timestamp = rec.timestamp;
                hdrs.clear();
                auto hc = rec.headers();
                while (auto h = hc.next()) hdrs.push_back(*h);
                r.headers = hdrs;
                const std::int32_t explicit_p = s->staged_partitions[static_cast<std::size_t>(i)];
                if (explicit_p >= 0) r.partition = partition_id{explicit_p};
                completion none;
                completion& c = (comp != s->completions.end() && comp->offset_delta == i) ? comp->fn : none;
                const std::size_t upper = record_size_bound(r);
                const std::size_t exact0 = upper;
                const std::size_t batch_size = sized_batch(t);
                const std::int32_t p = choose(t, r, explicit_p, exact0, upper, batch_size, unused_wake);
                if (p < 0) {
                    if (c) {
                        record_completion rc{-1, comp->key_size, comp->value_size, comp->timestamp, std::move(c)};
                        failed.emplace_back(std::move(rc), make_error_code(local_error::invalid_argument));
                    }
                } else {
                    partition_entry& pe = *t.partitions[static_cast<std::size_t>(p)];
                    if (!pe.open) {
                        const std::size_t cap = std::max(batch_size, wire::batch_layout::header_size + upper);
                        take_memory(cap); // the sender may not wait: overshoot briefly instead
                        open_batch(pe, cap, created, origin, unused_wake);
                    }
                    encode(*pe.open, r, c);
                    appended(t, r, p, exact0);
                }
                if (comp != s->completions.end() && comp->offset_delta == i) ++comp;
                ++i;
            }
            registry_.erase({s->origin, s->id});
            release_locked(s->reserved);
        }
        t.staging.clear();
    }

    Partitioner partitioner_;
    Batching batching_;
    Clock clock_;
    stats_counters* stats_;
    const std::int64_t buffer_memory_;
    const std::size_t max_request_size_;
    const duration max_block_;
    const bool compressing_; // compression.type is not none: batches are sized by the estimate

    mutable spin_mutex mu_;
    std::condition_variable_any space_cv_;
    std::condition_variable_any done_cv_;
    std::vector<std::unique_ptr<topic_entry>> topics_;
    std::vector<pstate> pstates_; // indexed by topic_entry::index
    std::unordered_map<std::string_view, topic_entry*> topic_index_;
    topic_entry* last_topic_ = nullptr;
    std::vector<topic_entry*> wanted_topics_;
    std::vector<partition_entry*> ready_parts_;
    std::vector<partition_entry*> txn_fresh_; // see set_txn_number
    std::uint64_t txn_number_ = 0;
    std::priority_queue<timed_entry, std::vector<timed_entry>, std::greater<>> timed_;
    std::map<std::pair<std::uint64_t, std::uint64_t>, producer_batch*> registry_;
    std::uint64_t next_id_ = 0;
    std::uint64_t records_ = 0;
    std::int64_t used_ = 0;
    std::int32_t space_waiters_ = 0;
    std::int32_t flushing_ = 0;
    time_point sleep_until_ = time_point::min();
    bool dirty_ = false;
    bool closed_ = false;
    bool abort_ = false;
    std::error_code refusal_; // set_refusal()
};

} // namespace gregor::producer_detail
