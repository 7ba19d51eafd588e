// One partition on this broker: its log, its idempotent-producer state, its replication
// bookkeeping (leader epoch, replicas' log end offsets, ISR, high watermark) and its offset
// monitor. All calls are thread-safe; appends and reads of one partition are serialised by the
// partition's mutex, and different partitions proceed in parallel.
//
// Nothing here waits. append() assigns offsets, writes the batch to the log and returns at once,
// saying what its answer still has to wait for (the high watermark for acks=all, the flushed
// offset when the durability or flush policy demands a sync); the caller waits for that through
// monitor() (broker::produce_async does it for every caller). Syncs run on the broker's flusher
// thread (request_flush), one sync covering every append that arrived before it (group commit).
// Every change of an offset is published to the monitor after the partition's lock is released,
// so callbacks may call back into the partition.
//
// Settings: the partition owns a copy of its topic's effective broker_config, replaced at run time
// by set_config() (AlterConfigs, docs/protocol.md §17.5) while appenders, the maintenance thread and
// the flusher use the partition. The copy (and the log's own log_config) is read and replaced only
// under the partition's mutex, so every locked step sees one whole config, old or new. The two
// values append() needs before it takes the lock (max.message.bytes and message.timestamp.type, so
// the batch checks stay outside the lock) are mirrored in atomics: a batch racing with a change
// may be judged by either value, never by a torn one.
//
// Replication (docs/protocol.md §14). A partition is the leader or a follower of its replica set,
// as the controller decides (apply_state, §14.8-14.10); nobody calling apply_state leaves it the
// leader of itself alone (replicas = ISR = {node.id}, high watermark = log end after each append),
// a single node. A leader serves its followers' fetches (follower_read, §14.3), tracks each
// follower's position and caught-up time (§14.4), moves the high watermark by the ISR, and
// proposes ISR changes (isr_change_wanted) that take effect only when the controller's next state
// confirms them; meanwhile the high watermark and acks=all go by the maximal ISR (§14.1). A
// follower appends the leader's batches byte for byte (append_as_follower), follows its high
// watermark and log start, and truncates a diverging tail (truncation_offset, truncate_to;
// §14.6.4, §14.7). Every leader change starts a leader epoch, recorded durably in the epoch cache
// before the first batch of it exists. The partition reads no clock for this: callers pass the
// broker clock's `now_ms`, and appends (which take none) use the latest `now_ms` seen.
//
// A deleted topic's partitions are abandon()ed: the log lets go of its segments and the partition
// answers every later call as closed (appends NOT_LEADER_OR_FOLLOWER, reads
// UNKNOWN_TOPIC_OR_PARTITION), and the broker keeps the object itself alive until it closes, since
// handlers, monitors' wait handles and the flusher may still hold a pointer to it.
#pragma once

#include <gregor/broker/broker_config.hpp>
#include <gregor/broker/broker_policies.hpp>
#include <gregor/broker/leader_epoch_cache.hpp>
#include <gregor/broker/offset_monitor.hpp>
#include <gregor/broker/producer_state.hpp>
#include <gregor/compression/codec.hpp>
#include <gregor/core/error.hpp>
#include <gregor/core/strong_types.hpp>
#include <gregor/storage/compaction.hpp>
#include <gregor/storage/log.hpp>
#include <gregor/wire/record_batch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace gregor {

/// Fetch isolation level (Kafka's IsolationLevel).
enum class isolation : std::int8_t { read_uncommitted = 0, read_committed = 1 };

/// An aborted transaction in a fetched range (Fetch v4+ AbortedTransactions).
struct aborted_transaction {
    producer_id id{-1};
    offset first_offset{0};
};

/// What the controller decided for one partition (a metadata record, docs/protocol.md §14.8).
struct partition_state {
    node_id leader{-1}; ///< -1: no leader (the partition is offline)
    gregor::leader_epoch leader_epoch{0};
    std::int32_t partition_epoch = 0;
    std::vector<node_id> replicas;
    std::vector<node_id> isr;
};

/// A (leader epoch, end offset) pair: OffsetForLeaderEpoch's answer, Fetch's DivergingEpoch
/// (docs/protocol.md §14.6.2, §14.7); -1/-1 means undefined.
struct epoch_end_offset_result {
    leader_epoch epoch{-1};
    offset end_offset{-1};
};

/// A leader's answer to one partition of a follower's fetch (docs/protocol.md §14.3).
struct follower_read_result {
    error_code error = error_code::none;
    offset high_watermark{-1}, last_stable_offset{-1}, log_start_offset{-1}, log_end_offset{-1};
    storage::read_result records;                     ///< empty when diverging or on error
    std::optional<epoch_end_offset_result> diverging; ///< Fetch v12+ DivergingEpoch (§14.7)
    /// The fetching replica now qualifies for the ISR and no ISR change is in flight: the caller
    /// should ask isr_change_wanted() for the proposal (Kafka proposes it right after the fetch).
    bool isr_expansion_wanted = false;
};

/// An ISR change the leader asks the controller for (AlterPartition, docs/protocol.md §14.4),
/// based on the leader and partition epochs it holds.
struct isr_proposal {
    std::vector<node_id> new_isr;
    gregor::leader_epoch leader_epoch{-1};
    std::int32_t partition_epoch = 0;
};

namespace broker_detail {

/// Reads a partition from its log start to its log end, calling `fn(batch_view, from)` for every
/// batch (records of a batch below `from` were seen before). What coordinators do to rebuild their
/// state from an internal topic: up to the log end, not the high watermark, since a new leader's
/// high watermark may lag behind records every in-sync replica already has (Kafka loads to the
/// log end too).
template <typename Partition, typename Fn>
void replay_partition(Partition& part, Fn&& fn) {
    offset from{0};
    for (int guard = 0; guard < 1'000'000; ++guard) {
        auto r = part.read(from, 1 << 20, isolation::read_uncommitted, true);
        if (r.error == error_code::offset_out_of_range && from < r.log_start_offset) {
            from = r.log_start_offset;
            continue;
        }
        byte_buffer bytes;
        if (r.error != error_code::none || storage::copy_to(r.records, bytes) || bytes.size() == 0) return;
        wire::batch_splitter s(bytes.view());
        offset next = from;
        while (auto b = s.next()) {
            wire::batch_view v(*b);
            next = v.header().last_offset() + 1;
            fn(v, from);
        }
        if (next <= from) return;
        from = next;
    }
}

template <typename Policies>
class partition {
public:
    using clock_type = typename Policies::clock_type;
    using log_type = storage::log<typename Policies::storage_backend, typename Policies::flush_policy, clock_type>;

    struct append_result {
        error_code error = error_code::none;
        offset base_offset{-1};
        offset last_offset{-1};
        offset log_start_offset{-1};
        std::int64_t log_append_time_ms = -1;
        bool duplicate = false;
        /// What the answer still waits for (offset{-1}: nothing): acks=all, the high watermark
        /// reaching last_offset + 1; a sync demanded by the durability or flush policy, the
        /// flushed offset reaching it.
        offset wait_high_watermark{-1};
        offset wait_flushed{-1};
        /// The leader epoch the batch was written in: an acks=all answer is only good while the
        /// partition still leads in it (a leader deposed and elected again may have lost it).
        leader_epoch epoch{-1};
    };

    struct read_result {
        error_code error = error_code::none;
        offset high_watermark{-1};
        offset last_stable_offset{-1};
        offset log_start_offset{-1};
        storage::read_result records;
        std::vector<aborted_transaction> aborted;
    };

    /// Opens (recovering) the partition's log in `dir` with a copy of `cfg` (the topic's
    /// effective settings). `epoch` is the leader epoch the topic table records for it; batches
    /// appended here are stamped with it. `log_start` is a log start offset recorded before a
    /// restart (DeleteRecords; capped at the recovered log end), -1 for none.
    partition(std::string topic, partition_id id, std::filesystem::path dir, const broker_config& cfg,
              typename Policies::storage_backend::options backend_opts, clock_type clk,
              leader_epoch epoch = leader_epoch{0}, offset log_start = offset{-1})
            : topic_(std::move(topic)), id_(id), dir_(std::move(dir)), cfg_(cfg),
              max_message_bytes_(cfg.message_max_bytes),
              compacted_(cfg.log.cleanup_policy != storage::cleanup_policy::delete_segments),
              log_append_time_(cfg.message_timestamp_type == timestamp_type::log_append_time),
              target_codec_(encode_target(cfg.compression_type)), level_gzip_(cfg.compression_gzip_level),
              level_lz4_(cfg.compression_lz4_level), level_zstd_(cfg.compression_zstd_level),
              log_(dir_, cfg.log, std::move(backend_opts), clk), clock_(clk), self_(cfg.node_id),
              leader_id_(cfg.node_id), leader_epoch_(epoch) {
        if (log_start > log_.log_start_offset()) {
            if (auto ec = log_.advance_log_start(std::min(log_start, log_.log_end_offset())))
                throw std::system_error(ec, "gregor: cannot restore the log start offset of " + topic_);
        }
        epochs_ = broker_detail::leader_epoch_cache<typename Policies::storage_backend>(&log_.backend());
        // Recovery may have cut the log's tail, retention its head: epochs the log no longer
        // holds leave the checkpoint too (docs/protocol.md §14.6.1).
        if (auto ec = epochs_.truncate_from_end(log_.log_end_offset()))
            throw std::system_error(ec, "gregor: cannot write leader-epoch-checkpoint of " + topic_);
        if (auto ec = epochs_.truncate_from_start(log_.log_start_offset()))
            throw std::system_error(ec, "gregor: cannot write leader-epoch-checkpoint of " + topic_);
        replicas_.push_back({.id = self_});
        isr_.push_back(self_);
        high_watermark_ = log_.log_end_offset();
        // Leader of itself in the epoch it was opened with: that epoch started where the cache
        // says, or starts at the log end if nothing was written in it yet.
        leader_epoch_start_offset_ = log_.log_end_offset();
        if (const auto& es = epochs_.entries(); !es.empty() && es.back().epoch == leader_epoch_)
            leader_epoch_start_offset_ = es.back().start_offset;
        recover_producer_state();
        publish();
    }

    partition(const partition&) = delete;
    partition& operator=(const partition&) = delete;

    [[nodiscard]] const std::string& topic() const noexcept { return topic_; }
    [[nodiscard]] partition_id id() const noexcept { return id_; }

    /// Validates, deduplicates, assigns offsets in place and appends one client batch. Never
    /// blocks on replication or the disk: the result names what the answer must wait for
    /// (wait_high_watermark / wait_flushed), and a sync it needs is already requested. The batch
    /// must be exactly one record batch. `from_coordinator`: a batch a coordinator writes as a
    /// transaction's producer (TxnOffsetCommit's offsets), without sequence numbers: only its
    /// epoch is checked, as Kafka does for the coordinator's own appends.
    append_result append(mutable_bytes_view batch, std::int16_t acks, bool verify_records = true,
                         bool from_coordinator = false) {
        append_result res;
        if (acks != 0 && acks != 1 && acks != -1) return fail(res, error_code::invalid_required_acks);
        if (batch.size() > static_cast<std::size_t>(max_message_bytes_.load(std::memory_order_relaxed)))
            return fail(res, error_code::message_too_large);
        const auto verdict = wire::validate(
            bytes_view{batch}, {.check_records = verify_records, .client_batch = true, .reject_control = true});
        if (verdict != wire::batch_error::none) return fail(res, wire::to_kafka(verdict));
        // A compressed batch (or one the topic's compression.type re-compresses) is decoded first;
        // a re-compressed one is appended from `rebuilt` instead of the request's bytes.
        byte_buffer plain, rebuilt;
        std::optional<wire::batch_view> decoded;
        if (const auto e = decode_and_recompress(batch, verify_records, plain, rebuilt, decoded); e != error_code::none)
            return fail(res, e);
        if (!rebuilt.empty()) batch = rebuilt.mutable_view();
        // Compaction keeps the newest record per key; a record without one could never be kept
        // (Kafka refuses it the same way, docs/protocol.md §22).
        if (compacted_.load(std::memory_order_relaxed) && !all_records_keyed(batch, decoded))
            return fail(res, error_code::invalid_record);
        // Kafka's in-place validation: the header's maxTimestamp becomes the records' true maximum
        // (clients may leave it -1, and ListOffsets and retention go by it), or the append time on
        // a LogAppendTime topic (docs/protocol.md §2.5). Batches this process built itself
        // (verify_records=false) already carry the right maximum.
        const bool append_time = log_append_time_.load(std::memory_order_relaxed);
        if (append_time) {
            res.log_append_time_ms = clock_.wall_ms();
            wire::restamp_max_timestamp(batch, true, res.log_append_time_ms);
        } else if (decoded) {
            if (const auto m = wire::records_max_timestamp(*decoded))
                wire::set_max_timestamp(batch, m->timestamp, false);
        } else if (verify_records) {
            wire::restamp_max_timestamp(batch, false, 0);
        }
        auto h = *wire::batch_header::parse(bytes_view{batch});
        if (h.is_idempotent() && h.base_sequence.value() < 0 && !from_coordinator)
            return fail(res, error_code::invalid_record);
        // A transactional batch opens (or continues) its producer's transaction here; the
        // coordinator's marker closes it (append_marker). Like Kafka without KIP-890 verification,
        // the partition does not ask the coordinator whether it was added to the transaction.

        bool want_flush = false;
        {
            std::unique_lock lk(mu_);
            if (closed_ || !is_leader_) return fail(res, error_code::not_leader_or_follower);
            // The committed ISR, not the maximal one: an expansion in flight does not count yet
            // (docs/protocol.md §14.5).
            if (acks == -1 && static_cast<std::int32_t>(isr_.size()) < effective_min_isr())
                return fail(res, error_code::not_enough_replicas);
            if (from_coordinator && h.is_idempotent()) {
                if (const auto* e = producers_.find(h.producer_id); e && h.producer_epoch < e->epoch)
                    return fail(res, error_code::invalid_producer_epoch);
            } else if (h.is_idempotent()) {
                const auto check = producers_.check(h);
                if (check.what == sequence_check::kind::duplicate) {
                    res.base_offset = check.original.first_offset;
                    res.last_offset = check.original.last_offset;
                    res.log_start_offset = log_.log_start_offset();
                    res.duplicate = true;
                    // A retried batch is answered like the original: after the same waits.
                    if (acks == -1 && high_watermark_ <= res.last_offset) res.wait_high_watermark = res.last_offset + 1;
                    if (acks != 0 && Policies::durability::flush_before_ack && log_.flushed_offset() <= res.last_offset)
                        res.wait_flushed = res.last_offset + 1;
                    return res;
                }
                if (check.what == sequence_check::kind::reject) return fail(res, check.error);
            }
            const offset base = log_.log_end_offset();
            // The first batch of an epoch records where the epoch starts, durably, before the
            // batch exists: followers truncate by it (docs/protocol.md §14.6).
            if (epochs_.on_append(leader_epoch_, base)) return fail(res, error_code::kafka_storage_error);
            wire::patch_base_offset(batch, base);
            wire::patch_leader_epoch(batch, leader_epoch_);
            res.epoch = leader_epoch_;
            if (const auto ec = log_.append(bytes_view{batch})) return fail(res, to_kafka(ec));
            h.base_offset = base;
            h.partition_leader_epoch = leader_epoch_.value();
            if (h.is_idempotent()) producers_.update(h);
            res.base_offset = base;
            res.last_offset = h.last_offset();
            (void)maybe_advance_high_watermark(last_now_ms_);
            res.log_start_offset = log_.log_start_offset();
            if (acks == -1 && high_watermark_ <= res.last_offset) res.wait_high_watermark = res.last_offset + 1;
            // The flush policy's sync (log.flush.interval.messages) is part of the append, as in
            // Kafka: an acknowledged answer waits for it; fsync-before-ack always does.
            const bool policy_sync = log_.flush_wanted();
            if (acks != 0 && (Policies::durability::flush_before_ack || policy_sync))
                res.wait_flushed = res.last_offset + 1;
            want_flush = policy_sync || (acks != 0 && Policies::durability::flush_before_ack);
        }
        publish();
        if (want_flush) request_flush();
        return res;
    }

    /// Appends a transaction marker (docs/protocol.md §7.3, §15.6) for `pid` at `epoch`: the
    /// control batch ends the producer's open transaction here; an abort of one that wrote data
    /// enters the aborted-transaction index. Fenced: an epoch older than the partition knows for
    /// the producer (INVALID_PRODUCER_EPOCH), a coordinator epoch older than the last marker's
    /// (TRANSACTION_COORDINATOR_FENCED). Always acks=all: the result says what to wait for.
    append_result append_marker(producer_id pid, producer_epoch epoch, bool commit, std::int32_t coordinator_epoch) {
        append_result res;
        bool want_flush = false;
        {
            std::unique_lock lk(mu_);
            if (deleted_) return fail(res, error_code::unknown_topic_or_partition);
            if (closed_ || !is_leader_) return fail(res, error_code::not_leader_or_follower);
            if (const auto* e = producers_.find(pid)) {
                if (epoch < e->epoch) return fail(res, error_code::invalid_producer_epoch);
                if (coordinator_epoch < e->coordinator_epoch) return fail(res, error_code::transaction_coordinator_fenced);
            }
            const offset base = log_.log_end_offset();
            if (epochs_.on_append(leader_epoch_, base)) return fail(res, error_code::kafka_storage_error);
            auto batch = wire::build_control_batch(commit ? wire::control_type::commit : wire::control_type::abort, pid,
                                                   epoch, coordinator_epoch, clock_.wall_ms());
            wire::patch_base_offset(batch.mutable_view(), base);
            wire::patch_leader_epoch(batch.mutable_view(), leader_epoch_);
            res.epoch = leader_epoch_;
            if (const auto ec = log_.append(batch.view())) return fail(res, to_kafka(ec));
            auto h = *wire::batch_header::parse(batch.view());
            const wire::control_record marker{0, commit ? wire::control_type::commit : wire::control_type::abort,
                                              coordinator_epoch};
            if (const auto done = producers_.update(h, marker)) {
                if (const auto e = txn_completed(*done, false); e != error_code::none) return fail(res, e);
            }
            res.base_offset = res.last_offset = base;
            (void)maybe_advance_high_watermark(last_now_ms_);
            res.log_start_offset = log_.log_start_offset();
            if (high_watermark_ <= res.last_offset) res.wait_high_watermark = res.last_offset + 1;
            const bool policy_sync = log_.flush_wanted();
            if (Policies::durability::flush_before_ack || policy_sync) res.wait_flushed = res.last_offset + 1;
            want_flush = policy_sync || Policies::durability::flush_before_ack;
        }
        publish();
        if (want_flush) request_flush();
        return res;
    }

    /// The codec the topic's compression.type makes every stored batch use; nullopt for
    /// `producer` (whatever each producer chose).
    [[nodiscard]] std::optional<compression::codec> stored_codec() const noexcept {
        const auto t = target_codec_.load(std::memory_order_relaxed);
        return t == no_target ? std::nullopt : std::optional{static_cast<compression::codec>(t)};
    }

    /// The most a compressed batch may decompress to: far above what honest batches reach (64x
    /// message.max.bytes, at least 64 MiB, at most 1 GiB), far below what a decompression bomb
    /// would take (docs/compression.md).
    [[nodiscard]] std::size_t max_decompressed_bytes() const noexcept {
        const auto m = static_cast<std::size_t>(std::max(max_message_bytes_.load(std::memory_order_relaxed), 0));
        return std::clamp<std::size_t>(64 * m, std::size_t{64} << 20, std::size_t{1} << 30);
    }

    /// The leader-epoch checkpoint's entries: for each epoch, the first offset written in it.
    std::vector<storage::epoch_entry> epoch_entries() {
        std::lock_guard lk(mu_);
        return epochs_.entries();
    }

    /// The leader epoch batches appended now are stamped with.
    leader_epoch current_leader_epoch() {
        std::lock_guard lk(mu_);
        return leader_epoch_;
    }

    /// OffsetForLeaderEpoch's answer: the largest epoch <= `requested` and where it ended.
    std::pair<leader_epoch, offset> end_offset_for(leader_epoch requested) {
        std::lock_guard lk(mu_);
        return epochs_.end_offset_for(requested, log_.log_end_offset());
    }

    /// Producer-state snapshots that could not be written (each retried at the next tick).
    std::uint64_t snapshot_failures() {
        std::lock_guard lk(mu_);
        return snapshot_failures_;
    }

    /// The partition's offset monitor: wait here for the high watermark, the flushed offset, the
    /// last stable offset or the log end to reach a value.
    offset_monitor& monitor() noexcept { return monitor_; }

    /// Hooks the partition to its broker's services: the deadline scheduler of its monitor and
    /// the flusher that runs its syncs. Called once, before the partition is shared.
    void attach(broker_detail::deadline_scheduler* sched, std::function<void(partition*)> flush_requester) {
        monitor_.set_scheduler(sched);
        flush_requester_ = std::move(flush_requester);
        std::lock_guard lk(mu_);
        log_.defer_flushes(static_cast<bool>(flush_requester_));
    }

    /// Whether acks=all may be answered now that the high watermark covers the batch: NONE while
    /// the maximal ISR still meets min.insync.replicas, else NOT_ENOUGH_REPLICAS_AFTER_APPEND;
    /// NOT_LEADER_OR_FOLLOWER once this broker no longer leads (docs/protocol.md §14.5).
    error_code ack_all_check() {
        std::lock_guard lk(mu_);
        if (!is_leader_) return error_code::not_leader_or_follower;
        return static_cast<std::int32_t>(maximal_isr().size()) < effective_min_isr()
                   ? error_code::not_enough_replicas_after_append
                   : error_code::none;
    }

    /// The last sync failure (none while the disk is healthy); flush waiters end with `failed`.
    error_code flush_error() {
        std::lock_guard lk(mu_);
        return flush_error_;
    }

    /// Runs one sync covering everything appended so far (on the flusher thread): the sync itself
    /// outside the partition's lock where the backend allows it, so appends go on meanwhile.
    void run_flush() {
        std::unique_lock lk(mu_);
        auto t = log_.flush_begin();
        if (!t.needed) return;
        std::error_code ec;
        if constexpr (log_type::sync_is_concurrent) {
            syncing_ = true;
            lk.unlock();
            ec = log_.flush_sync(t);
            lk.lock();
            syncing_ = false;
            if (deleted_) {
                log_.release_backend();
                return;
            }
        } else {
            ec = log_.flush_sync(t);
        }
        if (ec) {
            flush_error_ = error_code::kafka_storage_error;
            lk.unlock();
            monitor_.fail(offset_kind::flushed);
            return;
        }
        log_.flush_end(t);
        lk.unlock();
        publish();
    }

    /// Whole batches from `from`: up to the high watermark (read_uncommitted), the last stable
    /// offset (read_committed), or the log end (a follower replica, later).
    read_result read(offset from, std::size_t max_bytes, isolation iso, bool follower = false) {
        std::lock_guard lk(mu_);
        read_result r;
        if (deleted_) {
            r.error = error_code::unknown_topic_or_partition;
            return r;
        }
        fill_offsets(r, iso);
        if (from < log_.log_start_offset() || from > log_.log_end_offset()) {
            r.error = error_code::offset_out_of_range;
            return r;
        }
        const offset upper = follower ? log_.log_end_offset()
                                      : (iso == isolation::read_committed ? r.last_stable_offset : r.high_watermark);
        if (from < upper) r.records = log_.read(from, max_bytes, upper);
        // The aborted transactions the returned range may hold (docs/protocol.md §15.11), bounded
        // by the last stable offset rather than the end of the returned data: a few more entries
        // than Kafka sends, which readers skip, for not parsing the range here.
        if (iso == isolation::read_committed && !follower && r.records.bytes != 0) {
            for (const auto& a : log_.collect_aborted_txns(from, upper)) r.aborted.push_back({a.pid, a.first_offset});
        }
        return r;
    }

    struct offsets_snapshot {
        offset log_start_offset, log_end_offset, high_watermark, last_stable_offset, flushed_offset;
    };
    offsets_snapshot offsets() {
        std::lock_guard lk(mu_);
        return {log_.log_start_offset(), log_.log_end_offset(), high_watermark_, last_stable_offset(),
                log_.flushed_offset()};
    }

    /// ListOffsets: -2 earliest, -1 latest (HW, or LSO for read_committed), else the first offset
    /// whose timestamp is >= ts (nullopt: none).
    /// ListOffsets for one partition (docs/protocol.md §4.1): -2 the log start, -1 the high
    /// watermark (last stable offset for read_committed), -3 the record with the largest timestamp,
    /// else the first record whose timestamp is >= `ts`; with that record's timestamp (-1 for
    /// -1/-2). nullopt when no readable record qualifies.
    std::optional<wire::timestamp_offset> list_offset(std::int64_t ts, isolation iso) {
        std::lock_guard lk(mu_);
        if (deleted_) return std::nullopt;
        if (ts == -2) return wire::timestamp_offset{-1, log_.log_start_offset()};
        const offset latest = iso == isolation::read_committed ? last_stable_offset() : high_watermark_;
        if (ts == -1) return wire::timestamp_offset{-1, latest};
        const auto found = ts == -3 ? log_.find_max_timestamp() : log_.find_offset_by_timestamp(ts);
        if (!found || found->record_offset >= latest) return std::nullopt;
        return found;
    }

    /// Time-driven work: interval flushes, roll, retention, producer expiry and snapshots.
    void tick(bool run_retention) {
        std::unique_lock lk(mu_);
        if (closed_) return;
        const bool flush_now = flush_requester_ && log_.flush_due_by_time();
        log_.tick(false); // retention only on the broker's log.retention.check.interval.ms
        if (run_retention) {
            log_.enforce_retention();
            // A failed checkpoint write leaves the old entries, which still hold; retried next time.
            (void)epochs_.truncate_from_start(log_.log_start_offset());
            producers_.expire(clock_.wall_ms() - cfg_.producer_id_expiration_ms);
        }
        if (log_.log_end_offset() != last_snapshot_) take_snapshot();
        lk.unlock();
        publish();
        if (flush_now) request_flush();
    }

    /// One compaction pass (storage/compaction.hpp) if cleanup.policy compacts and the log needs
    /// it: its dirty share of the sealed segments below the high watermark has reached
    /// min.cleanable.dirty.ratio, or `force`, or no pass has run for delete.retention.ms (tombstones
    /// whose horizon passed go then). Runs on the caller's thread, taking the partition's lock only
    /// for the short steps of the pass. Returns whether a pass ran.
    bool compact(std::int64_t now_ms, std::size_t dedupe_buffer_bytes, bool force, std::error_code& ec,
                 storage::compaction::stats* out = nullptr) {
        ec.clear();
        if constexpr (!storage::renaming_backend<typename Policies::storage_backend>) {
            return false;
        } else {
            storage::compaction::options o;
            o.now_ms = now_ms;
            o.dedupe_buffer_bytes = dedupe_buffer_bytes;
            {
                std::lock_guard lk(mu_);
                if (closed_ || deleted_ || cfg_.log.cleanup_policy == storage::cleanup_policy::delete_segments)
                    return false;
                o.upper_bound = high_watermark_;
                o.delete_retention_ms = cfg_.log.delete_retention_ms;
                o.min_compaction_lag_ms = cfg_.log.min_compaction_lag_ms;
                const auto [clean, dirty] = storage::compaction::clean_and_dirty_bytes(log_, high_watermark_);
                const bool dirty_enough =
                    dirty > 0 && static_cast<double>(dirty) >=
                                     cfg_.log.min_cleanable_dirty_ratio * static_cast<double>(clean + dirty);
                o.when_clean = force || (clean > 0 && now_ms - last_compaction_ms_ >= cfg_.log.delete_retention_ms);
                if (!dirty_enough && !o.when_clean) return false;
            }
            storage::compaction::stats st;
            ec = storage::compaction::clean<log_type>(
                [this](auto&& f) {
                    std::lock_guard lk(mu_);
                    return f(log_);
                },
                o, st);
            {
                std::lock_guard lk(mu_);
                last_compaction_ms_ = now_ms;
            }
            if (out) *out = st;
            return true;
        }
    }

    /// Syncs now on the calling thread (tools, shutdown, tests); the flusher does it otherwise.
    std::error_code flush() {
        std::unique_lock lk(mu_);
        const auto ec = log_.flush();
        lk.unlock();
        publish();
        return ec;
    }

    /// Clean shutdown: producer-state snapshot at the log end, then the log's own close.
    void close() {
        {
            std::lock_guard lk(mu_);
            if (closed_) return;
            take_snapshot();
            log_.close();
            closed_ = true;
        }
        publish();
        monitor_.shutdown();
    }

    /// The topic's settings this partition runs with now (a copy).
    broker_config config() {
        std::lock_guard lk(mu_);
        return cfg_;
    }

    /// Replaces the settings at run time (AlterConfigs): the next append, roll, retention pass,
    /// flush and acks=all check use the new values (see the note at the top of this file).
    /// local_error::invalid_argument (nothing changed) when the log settings are out of range.
    std::error_code set_config(const broker_config& c) {
        std::lock_guard lk(mu_);
        if (auto ec = log_.set_config(c.log)) return ec;
        cfg_ = c;
        max_message_bytes_.store(c.message_max_bytes, std::memory_order_relaxed);
        compacted_.store(c.log.cleanup_policy != storage::cleanup_policy::delete_segments, std::memory_order_relaxed);
        log_append_time_.store(c.message_timestamp_type == timestamp_type::log_append_time, std::memory_order_relaxed);
        target_codec_.store(encode_target(c.compression_type), std::memory_order_relaxed);
        level_gzip_.store(c.compression_gzip_level, std::memory_order_relaxed);
        level_lz4_.store(c.compression_lz4_level, std::memory_order_relaxed);
        level_zstd_.store(c.compression_zstd_level, std::memory_order_relaxed);
        return {};
    }

    /// DeleteRecords' checks for `o` on this partition (docs/protocol.md §17.8): POLICY_VIOLATION
    /// when cleanup.policy has no "delete", OFFSET_OUT_OF_RANGE for an offset < 0 (other than -1,
    /// the high watermark) or beyond the high watermark, UNKNOWN_TOPIC_OR_PARTITION once deleted.
    /// Otherwise the log start offset it would move to: max(current, o).
    std::pair<error_code, offset> check_delete_records(offset o) {
        std::lock_guard lk(mu_);
        return check_delete_records_locked(o);
    }

    /// Moves the log start offset to max(current, o) after the same checks: reads below it get
    /// OFFSET_OUT_OF_RANGE, ListOffsets earliest answers it, and the segments wholly below it are
    /// deleted. Returns the new log start offset (the low watermark of a single replica). The
    /// caller makes it durable (the broker's log-start-offset-checkpoint).
    std::pair<error_code, offset> delete_records(offset o) {
        std::pair<error_code, offset> r;
        {
            std::lock_guard lk(mu_);
            r = check_delete_records_locked(o);
            if (r.first != error_code::none) return r;
            if (auto ec = log_.advance_log_start(r.second)) return {to_kafka(ec), offset{-1}};
            // Epochs that began below the new start no longer describe any record.
            (void)epochs_.truncate_from_start(log_.log_start_offset());
            r.second = log_.log_start_offset();
        }
        publish();
        return r;
    }

    /// The topic was deleted: closes the log without a snapshot (its directory is going away),
    /// lets go of its segment files (removing them through the backend when `remove_files`, for
    /// backends whose files outlive the log object, like a shared memory store) and refuses every
    /// later call. Waits still parked on the monitor end when the caller runs monitor().shutdown()
    /// (outside any broker lock, since callbacks may call back into the broker).
    void abandon(bool remove_files) {
        std::lock_guard lk(mu_);
        closed_ = true;
        deleted_ = true;
        log_.abandon(remove_files);
        // The backend (a directory handle, an io_uring instance) goes now unless the flusher is
        // syncing outside the lock; then run_flush lets go of it when it comes back.
        if (!syncing_) log_.release_backend();
        producers_ = producer_state_table{};
        unreplicated_txns_.clear();
    }

    /// For tests and tools: a replica's log end offset moved (the replication layer reports
    /// follower positions through follower_read instead).
    void update_replica_leo(node_id replica, offset leo) {
        bool moved = false;
        {
            std::lock_guard lk(mu_);
            if (auto* r = find_replica(replica); r && replica != self_) r->log_end_offset = leo;
            moved = maybe_advance_high_watermark(last_now_ms_);
        }
        if (moved) publish();
    }

    /// Sets the replica set and the committed ISR directly, without epochs (tests, tools; the
    /// controller's decisions come through apply_state). A replica new to the set starts at log
    /// end offset 0. The high watermark never moves backwards; with replicas that have not caught
    /// up it stays put and acks=all answers wait.
    void assign_replicas(const std::vector<node_id>& replicas, const std::vector<node_id>& isr) {
        {
            std::lock_guard lk(mu_);
            adopt_replicas_locked(replicas, offset{0});
            isr_ = isr;
            pending_isr_.reset();
            (void)maybe_advance_high_watermark(last_now_ms_);
        }
        publish();
    }

    // ---- replication (docs/protocol.md §14) ----

    /// Takes the controller's state for this partition. This node as leader: a new leader epoch
    /// (or leadership it did not have) is recorded in the epoch cache at the log end first, durably
    /// (KAFKA_STORAGE_ERROR, and the partition leads nothing, when that fails), becomes
    /// leaderEpochStartOffset, and resets every follower's state (§14.4 "When a broker becomes
    /// leader"); then the replicas, ISR and partition epoch are adopted, an ISR change in flight
    /// based on an older partition epoch is dropped, and the high watermark may advance. Another
    /// node (or -1, offline): this one follows, appends answer NOT_LEADER_OR_FOLLOWER, and every
    /// acks=all answer still waiting ends with NOT_LEADER_OR_FOLLOWER (its monitor's waits end
    /// with wait_status::shutdown, §14.5). A state older than the one held (lower leader epoch or
    /// lower partition epoch) is ignored; the same one again changes nothing.
    error_code apply_state(const partition_state& s, std::int64_t now_ms) {
        error_code result = error_code::none;
        bool deposed = false;
        {
            std::lock_guard lk(mu_);
            note_time(now_ms);
            if (deleted_) return error_code::unknown_topic_or_partition;
            if (closed_) return error_code::not_leader_or_follower;
            if (s.leader_epoch < leader_epoch_ || s.partition_epoch < partition_epoch_) return error_code::none;
            if (s.leader == self_) {
                result = become_leader_locked(s, now_ms, deposed);
            } else {
                deposed = is_leader_;
                become_follower_locked(s);
            }
        }
        if (deposed) {
            // Waits for the leader's offsets end now: acks=all answers NOT_LEADER_OR_FOLLOWER
            // (broker::wait_error of `shutdown`), parked fetches re-run and see the new role.
            for (const auto k : {offset_kind::high_watermark, offset_kind::last_stable, offset_kind::log_end})
                monitor_.end_waits(k, wait_status::shutdown);
        }
        publish();
        return result;
    }

    [[nodiscard]] bool is_leader() {
        std::lock_guard lk(mu_);
        return is_leader_;
    }

    /// Bytes the log holds now (what retention and compaction shrink).
    [[nodiscard]] std::uint64_t log_size_bytes() {
        std::lock_guard lk(mu_);
        return log_.size_bytes();
    }

    /// The leader this partition knows of (-1: none).
    [[nodiscard]] node_id leader() {
        std::lock_guard lk(mu_);
        return leader_id_;
    }

    /// The state this partition runs with now: leader, epochs, replicas and the committed ISR.
    [[nodiscard]] partition_state state() {
        std::lock_guard lk(mu_);
        partition_state st{leader_id_, leader_epoch_, partition_epoch_, {}, isr_};
        for (const auto& r : replicas_) st.replicas.push_back(r.id);
        return st;
    }

    /// The checks of a request carrying the leader epoch its sender believes in (docs/protocol.md
    /// §14.3 step 1): -1 checks nothing; a lower epoch is FENCED_LEADER_EPOCH, a higher one
    /// UNKNOWN_LEADER_EPOCH; then, when `must_be_leader`, NOT_LEADER_OR_FOLLOWER unless this node
    /// leads. UNKNOWN_TOPIC_OR_PARTITION once the topic is deleted.
    error_code check_epoch(leader_epoch requested, bool must_be_leader) {
        std::lock_guard lk(mu_);
        return check_epoch_locked(requested, must_be_leader);
    }

    /// Serves one partition of a follower's fetch (docs/protocol.md §14.3 steps 1-7): the epoch
    /// and leadership checks; `replica` outside the replica set is UNKNOWN_LEADER_EPOCH when the
    /// request carried an epoch, else NOT_LEADER_OR_FOLLOWER; the offsets are captured before the
    /// read; with `last_fetched_epoch` >= 0 a follower whose log diverged gets `diverging` (no
    /// records, its state untouched, §14.7); otherwise whole batches from `fetch_offset` up to the
    /// log end (the first whole whatever `max_bytes`). Then, when `update_state` (the first read
    /// of a request, not the re-read of a parked one), the follower's position and caught-up time
    /// are updated (§14.4), ISR expansion is checked (isr_expansion_wanted) and the high
    /// watermark may advance.
    follower_read_result follower_read(node_id replica, leader_epoch current_leader_epoch, offset fetch_offset,
                                       leader_epoch last_fetched_epoch, offset follower_log_start,
                                       std::size_t max_bytes, std::int64_t now_ms, bool update_state = true) {
        follower_read_result r;
        bool moved = false;
        {
            std::lock_guard lk(mu_);
            note_time(now_ms);
            r.error = check_epoch_locked(current_leader_epoch, true);
            if (r.error != error_code::none) return r;
            auto* follower = replica == self_ ? nullptr : find_replica(replica);
            if (!follower) {
                r.error = current_leader_epoch.value() != -1 ? error_code::unknown_leader_epoch
                                                             : error_code::not_leader_or_follower;
                return r;
            }
            // Step 3: the answer's offsets are those from before the read.
            const offset leo = log_.log_end_offset();
            const offset start = log_.log_start_offset();
            r.high_watermark = high_watermark_;
            r.last_stable_offset = last_stable_offset();
            r.log_start_offset = start;
            r.log_end_offset = leo;
            if (last_fetched_epoch.value() >= 0) {
                const auto [e, end] = epochs_.end_offset_for(last_fetched_epoch, leo);
                if (e.value() < 0 || end < offset{0} || fetch_offset < start) {
                    r.error = error_code::offset_out_of_range;
                    return r;
                }
                if (e < last_fetched_epoch || end < fetch_offset) {
                    r.diverging = epoch_end_offset_result{e, end};
                    return r;
                }
            }
            if (fetch_offset < start || fetch_offset > leo) {
                r.error = error_code::offset_out_of_range;
                return r;
            }
            if (fetch_offset < leo) r.records = log_.read(fetch_offset, max_bytes, leo);
            if (update_state) {
                const offset before = follower->log_end_offset;
                update_fetch_state(*follower, fetch_offset, follower_log_start, leo, now_ms);
                r.isr_expansion_wanted = can_join_isr(*follower);
                // As Kafka: only a follower whose log end moved can move the high watermark.
                if (follower->log_end_offset != before) moved = maybe_advance_high_watermark(now_ms);
            }
        }
        if (moved) publish();
        return r;
    }

    /// The ISR change this leader wants, when none is in flight (docs/protocol.md §14.4): a
    /// shrink dropping every ISR follower that is not caught up (replica.lag.time.max.ms), else
    /// an expansion adding the first replica outside the ISR whose log end reached both the high
    /// watermark and leaderEpochStartOffset. A returned proposal is in flight from then on: the
    /// high watermark and acks=all go by the maximal ISR (the old ISR while shrinking, ISR + new
    /// while expanding, KIP-497), the min-ISR check on append by the committed one, until
    /// apply_state brings a newer partition epoch or isr_change_failed() drops it.
    std::optional<isr_proposal> isr_change_wanted(std::int64_t now_ms) {
        std::lock_guard lk(mu_);
        note_time(now_ms);
        if (!is_leader_ || closed_ || pending_isr_) return std::nullopt;
        const offset leo = log_.log_end_offset();
        std::vector<node_id> keep;
        for (const auto id : isr_) {
            const auto* r = find_replica(id);
            if (id == self_ || (r && is_caught_up(*r, leo, now_ms))) keep.push_back(id);
        }
        if (keep.size() != isr_.size()) {
            // While the shrink is in flight the maximal ISR is the current one: were the change
            // refused, an ISR that never shrank must not have moved the high watermark.
            pending_isr_ = pending_isr_change{keep, isr_, partition_epoch_};
            return isr_proposal{std::move(keep), leader_epoch_, partition_epoch_};
        }
        for (const auto& r : replicas_) {
            if (!can_join_isr(r)) continue;
            auto grown = isr_;
            grown.push_back(r.id);
            pending_isr_ = pending_isr_change{grown, grown, partition_epoch_};
            return isr_proposal{std::move(grown), leader_epoch_, partition_epoch_};
        }
        return std::nullopt;
    }

    /// The ISR change in flight was refused or could not be sent: the committed ISR alone counts
    /// again, and a later isr_change_wanted() may propose anew.
    void isr_change_failed(std::optional<std::int32_t> based_on_partition_epoch = std::nullopt) {
        bool moved = false;
        {
            std::lock_guard lk(mu_);
            // An answer to an older proposal must not clear a newer one.
            if (pending_isr_ && based_on_partition_epoch && pending_isr_->partition_epoch != *based_on_partition_epoch)
                return;
            pending_isr_.reset();
            moved = maybe_advance_high_watermark(last_now_ms_);
        }
        if (moved) publish();
    }

    /// Appends a leader's fetch answer on this follower (docs/protocol.md §14.4): `batches` is
    /// the Records field, zero or more whole v2 batches (a trailing partial one is ignored). Every
    /// batch must pass its header checks and CRC (CORRUPT_MESSAGE) and continue the log, the first
    /// at or past the log end (past it where the leader's compaction removed offsets; below it is
    /// OFFSET_OUT_OF_RANGE and nothing is appended) — except that an empty log
    /// whose start lies inside the first batch restarts at that batch's base offset (a leader log
    /// start moved inside a batch by DeleteRecords, as Kafka). The bytes are stored unchanged
    /// (offsets, epochs, CRCs); each new partitionLeaderEpoch enters the epoch cache, the
    /// idempotent producers' state follows the batches; then the high watermark becomes
    /// min(`leader_hw`, log end) (never lower than it was: it only moves back by truncate_to)
    /// and the log start max(own, `leader_log_start`). NOT_LEADER_OR_FOLLOWER on the leader.
    error_code append_as_follower(bytes_view batches, offset leader_hw, offset leader_log_start) {
        namespace L = wire::batch_layout;
        error_code result = error_code::none;
        bool want_flush = false;
        {
            std::lock_guard lk(mu_);
            if (deleted_) return error_code::unknown_topic_or_partition;
            if (closed_ || is_leader_) return error_code::not_leader_or_follower;
            std::vector<bytes_view> whole;
            const offset leo = log_.log_end_offset();
            offset next = leo;
            for (bytes_view rest = batches; rest.size() >= L::log_overhead;) {
                const auto len = load_be<std::int32_t>(rest.data() + L::batch_length);
                if (len < static_cast<std::int32_t>(L::header_size - L::log_overhead))
                    return error_code::corrupt_message;
                const auto total = static_cast<std::size_t>(len) + L::log_overhead;
                if (total > rest.size()) break; // cut by the leader's byte limit
                const auto b = rest.first(total);
                rest = rest.subspan(total);
                if (wire::validate(b, {.check_records = false, .client_batch = false}) != wire::batch_error::none)
                    return error_code::corrupt_message;
                const auto h = *wire::batch_header::parse(b);
                if (whole.empty() && h.base_offset < leo && leo == log_.log_start_offset() && h.last_offset() >= leo)
                    next = h.base_offset;
                // A compacted leader's log skips offsets (docs/protocol.md §22); it never goes back.
                if (h.base_offset < next) return error_code::offset_out_of_range;
                next = h.next_offset();
                whole.push_back(b);
            }
            // The empty log restarting at a batch that holds its start (see above).
            if (!whole.empty() && wire::batch_header::parse(whole.front())->base_offset < leo) {
                if (const auto e = truncate_fully_locked(wire::batch_header::parse(whole.front())->base_offset);
                    e != error_code::none)
                    return e;
            }
            for (const auto b : whole) {
                const auto h = *wire::batch_header::parse(b);
                // Durable before the batch exists, as on the leader (§14.6.1).
                if (h.partition_leader_epoch >= 0 &&
                    epochs_.assign(leader_epoch{h.partition_leader_epoch}, h.base_offset)) {
                    result = error_code::kafka_storage_error;
                    break;
                }
                if (const auto ec = log_.append_at(b)) {
                    result = to_kafka(ec);
                    break;
                }
                if (const auto done = producers_.replay(b)) {
                    if (const auto e = txn_completed(*done, true); e != error_code::none) {
                        result = e;
                        break;
                    }
                }
            }
            if (result == error_code::none) {
                const offset end = log_.log_end_offset();
                const offset start = std::min(leader_log_start, end);
                if (start > log_.log_start_offset()) {
                    if (const auto ec = log_.advance_log_start(start)) {
                        result = to_kafka(ec);
                    } else {
                        // A failed checkpoint write keeps the old entries, which still hold.
                        (void)epochs_.truncate_from_start(log_.log_start_offset());
                    }
                }
                high_watermark_ = std::max({high_watermark_, std::min(leader_hw, end), log_.log_start_offset()});
            }
            want_flush = log_.flush_wanted();
        }
        publish();
        if (want_flush) request_flush();
        return result;
    }

    /// Cuts this follower's log to end at `o` (docs/protocol.md §14.6.4): everything from `o` on
    /// goes (a batch containing `o` goes whole), epochs that started there leave the epoch cache,
    /// the producers' state is rebuilt from the snapshots and the log, and the high watermark is
    /// lowered to the new log end if above it. At or below the log start the log restarts empty
    /// at `o`. NOT_LEADER_OR_FOLLOWER on the leader.
    error_code truncate_to(offset o) {
        error_code result = error_code::none;
        {
            std::lock_guard lk(mu_);
            if (deleted_) return error_code::unknown_topic_or_partition;
            if (closed_ || is_leader_) return error_code::not_leader_or_follower;
            if (o < offset{0}) return error_code::offset_out_of_range;
            if (o >= log_.log_end_offset()) {
                // Nothing to cut, but an epoch that began at the log end without a record (a
                // leader deposed while idle) still goes: else the leader answers the same
                // diverging epoch forever (Kafka's truncateTo does the same).
                if (epochs_.truncate_from_end(log_.log_end_offset())) return error_code::kafka_storage_error;
                return error_code::none;
            }
            if (const auto ec = log_.truncate_to(o)) return to_kafka(ec);
            const offset end = log_.log_end_offset();
            if (epochs_.truncate_from_end(end)) result = error_code::kafka_storage_error;
            reload_producer_state();
            high_watermark_ = std::min(high_watermark_, end);
            ++generation_;
        }
        publish();
        return result;
    }

    /// Empties this follower's log and restarts it at `o`, which may lie beyond its log end
    /// (Kafka's truncateFullyAndStartAt; docs/protocol.md §14.6.4): for a fetch answered
    /// OFFSET_OUT_OF_RANGE by a leader whose log start passed this follower's log end. The epoch
    /// cache and the producers' state are emptied, the high watermark becomes `o`.
    /// NOT_LEADER_OR_FOLLOWER on the leader.
    error_code truncate_fully_and_start_at(offset o) {
        error_code result = error_code::none;
        {
            std::lock_guard lk(mu_);
            if (deleted_) return error_code::unknown_topic_or_partition;
            if (closed_ || is_leader_) return error_code::not_leader_or_follower;
            if (o < offset{0}) return error_code::offset_out_of_range;
            result = truncate_fully_locked(o);
        }
        publish();
        return result;
    }

    /// Where a follower stands, for its next fetch (docs/protocol.md §14.2).
    struct fetch_position {
        offset log_end_offset, log_start_offset, high_watermark;
        leader_epoch last_fetched_epoch; ///< the latest epoch in the epoch cache, -1 if none
    };
    fetch_position position() {
        std::lock_guard lk(mu_);
        return {log_.log_end_offset(), log_.log_start_offset(), high_watermark_,
                epochs_.latest_epoch().value_or(leader_epoch{-1})};
    }

    /// Where this follower truncates to, given the leader's (epoch, end offset) from a
    /// DivergingEpoch or an OffsetForLeaderEpoch answer (docs/protocol.md §14.6.4, §14.7). The
    /// caller truncates when it is below the log end, then fetches again from there (more rounds
    /// may follow when the follower never had the leader's epoch).
    offset truncation_offset(epoch_end_offset_result leader_answer) {
        std::lock_guard lk(mu_);
        const offset leo = log_.log_end_offset();
        const auto leader_end = leader_answer.end_offset;
        // Undefined: the follower's initial fetch offset, its high watermark (a follower asks
        // OffsetForLeaderEpoch only when it cannot truncate on fetch, and then starts there).
        if (leader_end == offset{-1}) return high_watermark_;
        if (leader_answer.epoch == leader_epoch{-1}) return std::min(leader_end, leo);
        const auto [fe, fend] = epochs_.end_offset_for(leader_answer.epoch, leo);
        if (fend == offset{-1}) return std::min(leader_end, leo); // no epoch of ours to compare
        if (fe == leader_answer.epoch) return std::min({fend, leader_end, leo});
        return std::min(fend, leo); // we never had the leader's epoch: go back past ours, ask again
    }

    /// The high watermark a restart found in replication-offset-checkpoint, capped to the log
    /// (start to end). A cluster member calls it after its first apply_state: a leader then moves
    /// it by its ISR at once (so a single replica's, the leader of itself, returns to its log
    /// end), a follower keeps it until its leader's answers move it.
    void restore_high_watermark(offset hw) {
        {
            std::lock_guard lk(mu_);
            if (closed_) return;
            high_watermark_ = std::clamp(hw, log_.log_start_offset(), log_.log_end_offset());
            ++generation_;
            (void)maybe_advance_high_watermark(last_now_ms_);
        }
        publish();
    }

    /// Read access to the producer table (tests, diagnostics). Caller must not hold it across calls.
    template <typename F>
    auto with_producer_state(F&& f) {
        std::lock_guard lk(mu_);
        return f(std::as_const(producers_));
    }

private:
    static constexpr std::int64_t never = std::numeric_limits<std::int64_t>::min();

    // A replica as its leader tracks it (docs/protocol.md §14.1, Kafka's Replica state); the
    // leader's own entry keeps only its id (its log end is the log's).
    struct replica {
        node_id id;
        offset log_end_offset{-1}; // -1: unknown (no fetch since this node became leader)
        offset log_start_offset{-1};
        offset last_fetch_leader_log_end_offset{-1};
        std::int64_t last_fetch_time_ms = never;
        std::int64_t last_caught_up_time_ms = never;
    };

    // An ISR change proposed to the controller and not yet confirmed or refused.
    struct pending_isr_change {
        std::vector<node_id> new_isr;
        std::vector<node_id> maximal_isr;
        std::int32_t partition_epoch = 0; // the partition epoch the proposal was based on
    };

    // Compression on append (docs/compression.md): an id above zstd is CORRUPT_MESSAGE, a codec
    // this build lacks UNSUPPORTED_COMPRESSION_TYPE. A compressed batch is decompressed into
    // `plain` when the policy validates records (then walked: INVALID_RECORD if they do not add
    // up, CORRUPT_MESSAGE if they do not decompress) and whenever the topic's compression.type
    // names another codec; then `rebuilt` is the batch in that codec (header fields kept, CRC
    // new). `decoded` views the records of whatever will be stored, for maxTimestamp.
    error_code decode_and_recompress(mutable_bytes_view batch, bool verify_records, byte_buffer& plain,
                                     byte_buffer& rebuilt, std::optional<wire::batch_view>& decoded) {
        const auto h = *wire::batch_header::parse(bytes_view{batch});
        const auto raw_codec = static_cast<unsigned>(h.attributes & wire::attr::compression_mask);
        if (raw_codec > static_cast<unsigned>(compression::codec::zstd)) return error_code::corrupt_message;
        const auto codec = h.compression();
        if (!compression::available(codec)) return error_code::unsupported_compression_type;
        const auto target = target_codec_.load(std::memory_order_relaxed);
        const bool recompress = target != no_target && static_cast<compression::codec>(target) != codec;
        if (codec == compression::codec::none && !recompress) return error_code::none; // validated in place
        // A record takes at least 7 bytes decompressed: a header claiming more records than the
        // decompression bound could hold is refused even unread (header_only), so no batch can
        // move the log end by billions of offsets.
        if (static_cast<std::size_t>(h.records_count) > max_decompressed_bytes() / 7)
            return error_code::corrupt_message;
        if (codec != compression::codec::none && !recompress &&
            !(verify_records && broker_detail::decompress_to_validate<Policies>()))
            return error_code::none; // header and CRC only
        if (const auto ec = compression::decompress_records(bytes_view{batch}, plain, max_decompressed_bytes()))
            return ec == make_error_code(error_code::unsupported_compression_type)
                       ? error_code::unsupported_compression_type
                       : error_code::corrupt_message;
        if (codec != compression::codec::none) {
            if (const auto e = wire::validate_records(h, plain.view()); e != wire::batch_error::none)
                return wire::to_kafka(e);
        }
        if (!recompress) {
            decoded.emplace(bytes_view{batch}, plain.view());
            return error_code::none;
        }
        // The batch again in the topic's codec: the same header (producer fields, timestamps,
        // counts), the plain records, then compressed; control batches stay uncompressed.
        namespace L = wire::batch_layout;
        rebuilt.reserve(L::header_size + plain.size());
        rebuilt.append(bytes_view{batch}.first(L::header_size));
        rebuilt.append(plain.view());
        const auto attrs = static_cast<std::int16_t>(h.attributes & ~wire::attr::compression_mask);
        store_be<std::int16_t>(rebuilt.data() + L::attributes, attrs);
        store_be<std::int32_t>(rebuilt.data() + L::batch_length,
                               static_cast<std::int32_t>(rebuilt.size() - L::log_overhead));
        const auto to = static_cast<compression::codec>(target);
        const int level = to == compression::codec::gzip  ? level_gzip_.load(std::memory_order_relaxed)
                          : to == compression::codec::lz4 ? level_lz4_.load(std::memory_order_relaxed)
                                                          : level_zstd_.load(std::memory_order_relaxed);
        if (to != compression::codec::none) {
            if (compression::compress_batch(rebuilt, to, level)) return error_code::unsupported_compression_type;
        } else {
            wire::reseal_crc(rebuilt.mutable_view());
        }
        if (rebuilt.size() > static_cast<std::size_t>(max_message_bytes_.load(std::memory_order_relaxed)))
            return error_code::message_too_large;
        if (to == compression::codec::none)
            decoded.emplace(rebuilt.view());
        else
            decoded.emplace(rebuilt.view(), plain.view());
        return error_code::none;
    }

    // Whether every record of `batch` has a key; a compressed batch not decoded yet is decoded here.
    bool all_records_keyed(bytes_view batch, const std::optional<wire::batch_view>& decoded) const {
        const auto keyed = [](const wire::batch_view& v) {
            std::int32_t n = 0;
            for (const auto& r : v) {
                if (!r.key) return false;
                ++n;
            }
            return n == v.header().records_count;
        };
        if (decoded) return keyed(*decoded);
        const auto h = *wire::batch_header::parse(batch);
        if (h.compression() == wire::compression::none) return keyed(wire::batch_view(batch));
        byte_buffer plain;
        if (compression::decompress_records(batch, plain, max_decompressed_bytes())) return false;
        return keyed(wire::batch_view(batch, plain.view()));
    }

    static append_result& fail(append_result& r, error_code e) {
        r.error = e;
        return r;
    }

    std::pair<error_code, offset> check_delete_records_locked(offset o) const {
        if (deleted_) return {error_code::unknown_topic_or_partition, offset{-1}};
        if (!is_leader_) return {error_code::not_leader_or_follower, offset{-1}};
        if (cfg_.log.cleanup_policy == storage::cleanup_policy::compact)
            return {error_code::policy_violation, offset{-1}};
        const offset target = o == offset{-1} ? high_watermark_ : o;
        if (target < offset{0} || target > high_watermark_) return {error_code::offset_out_of_range, offset{-1}};
        return {error_code::none, std::max(target, log_.log_start_offset())};
    }

    // min(min.insync.replicas, number of replicas), Kafka's effectiveMinIsr.
    std::int32_t effective_min_isr() const {
        std::int32_t remote = 0;
        for (const auto& r : replicas_) remote += r.id == self_ ? 0 : 1;
        return std::min<std::int32_t>(cfg_.min_insync_replicas, remote + 1);
    }

    const std::vector<node_id>& maximal_isr() const { return pending_isr_ ? pending_isr_->maximal_isr : isr_; }

    static bool contains(const std::vector<node_id>& v, node_id id) {
        return std::find(v.begin(), v.end(), id) != v.end();
    }

    replica* find_replica(node_id id) {
        for (auto& r : replicas_)
            if (r.id == id) return &r;
        return nullptr;
    }

    // Appends and the legacy setters take no time: they use the latest one a caller passed.
    void note_time(std::int64_t now_ms) { last_now_ms_ = std::max(last_now_ms_, now_ms); }

    error_code check_epoch_locked(leader_epoch requested, bool must_be_leader) const {
        if (deleted_) return error_code::unknown_topic_or_partition;
        if (requested != leader_epoch{-1}) {
            if (requested < leader_epoch_) return error_code::fenced_leader_epoch;
            if (requested > leader_epoch_) return error_code::unknown_leader_epoch;
        }
        if (must_be_leader && (!is_leader_ || closed_)) return error_code::not_leader_or_follower;
        return error_code::none;
    }

    // Kafka's Replica.isCaughtUp: at the leader's log end, or there within replica.lag.time.max.ms.
    bool is_caught_up(const replica& r, offset leader_leo, std::int64_t now_ms) const {
        return r.log_end_offset == leader_leo ||
               (r.last_caught_up_time_ms != never && now_ms - r.last_caught_up_time_ms <= cfg_.replica_lag_time_max_ms);
    }

    // Kafka's Replica.updateFetchStateOrThrow, exactly (docs/protocol.md §14.4).
    static void update_fetch_state(replica& r, offset fetch_offset, offset follower_start, offset leader_end,
                                   std::int64_t now_ms) {
        if (fetch_offset >= leader_end)
            r.last_caught_up_time_ms = std::max(r.last_caught_up_time_ms, now_ms);
        else if (fetch_offset >= r.last_fetch_leader_log_end_offset)
            r.last_caught_up_time_ms = std::max(r.last_caught_up_time_ms, r.last_fetch_time_ms);
        r.last_fetch_leader_log_end_offset = std::max(leader_end, r.last_fetch_leader_log_end_offset);
        r.last_fetch_time_ms = now_ms;
        r.log_end_offset = fetch_offset;
        r.log_start_offset = follower_start;
    }

    // Kafka's maybeExpandIsr condition: no change in flight, outside the ISR, and its log end at
    // the high watermark and inside the current leader epoch (else committed records between the
    // old high watermark and this leader's start could be lost were it elected).
    bool can_join_isr(const replica& r) const {
        return is_leader_ && !pending_isr_ && r.id != self_ && !contains(isr_, r.id) &&
               r.log_end_offset >= high_watermark_ && r.log_end_offset >= leader_epoch_start_offset_;
    }

    // The replica set becomes `ids`: known replicas keep their state, new ones start with
    // `new_leo` and nothing caught up.
    void adopt_replicas_locked(const std::vector<node_id>& ids, offset new_leo) {
        std::vector<replica> next;
        for (const auto id : ids) {
            if (const auto* r = find_replica(id))
                next.push_back(*r);
            else
                next.push_back({.id = id, .log_end_offset = new_leo});
        }
        replicas_ = std::move(next);
    }

    // Kafka's Partition.makeLeader (docs/protocol.md §14.4).
    error_code become_leader_locked(const partition_state& s, std::int64_t now_ms, bool& deposed) {
        const bool was_leader = is_leader_;
        const bool new_epoch = !was_leader || s.leader_epoch > leader_epoch_;
        const offset leo = log_.log_end_offset();
        if (new_epoch) {
            // Followers of later epochs truncate by this entry: without it on disk this node
            // must not lead (the controller's state may be applied again).
            if (epochs_.assign(s.leader_epoch, leo)) {
                deposed = was_leader;
                is_leader_ = false;
                leader_id_ = node_id{-1};
                pending_isr_.reset();
                return error_code::kafka_storage_error;
            }
            leader_epoch_start_offset_ = leo;
        }
        adopt_replicas_locked(s.replicas, offset{-1});
        if (new_epoch) {
            for (auto& r : replicas_) {
                if (r.id == self_) continue;
                const bool in_isr = contains(s.isr, r.id);
                r.last_caught_up_time_ms = in_isr ? now_ms : never;
                if (!was_leader) {
                    r.log_start_offset = offset{-1};
                    r.log_end_offset = offset{-1};
                    r.last_fetch_leader_log_end_offset = offset{-1};
                    r.last_fetch_time_ms = never;
                } else {
                    r.last_fetch_leader_log_end_offset = leo;
                    r.last_fetch_time_ms = in_isr ? now_ms : never;
                }
            }
        }
        // A replica the controller took out of the ISR (fenced, shutting down) stops holding the
        // high watermark back at once, instead of for the rest of replica.lag.time.max.ms:
        // Kafka's "eligible" condition, learnt from the controller's state.
        for (auto& r : replicas_)
            if (r.id != self_ && contains(isr_, r.id) && !contains(s.isr, r.id)) r.last_caught_up_time_ms = never;
        isr_ = s.isr;
        if (pending_isr_ && (new_epoch || s.partition_epoch > pending_isr_->partition_epoch)) pending_isr_.reset();
        is_leader_ = true;
        leader_id_ = self_;
        leader_epoch_ = s.leader_epoch;
        partition_epoch_ = s.partition_epoch;
        (void)maybe_advance_high_watermark(now_ms);
        return error_code::none;
    }

    // Kafka's Partition.makeFollower: the leader's id and epoch are all a follower keeps; it
    // tracks no other replica (a later leadership starts them afresh).
    void become_follower_locked(const partition_state& s) {
        is_leader_ = false;
        leader_id_ = s.leader;
        leader_epoch_ = s.leader_epoch;
        partition_epoch_ = s.partition_epoch;
        replicas_.clear();
        adopt_replicas_locked(s.replicas, offset{-1});
        isr_ = s.isr;
        pending_isr_.reset();
    }

    // Kafka's maybeIncrementLeaderHW (docs/protocol.md §14.4): nothing below min ISR (the
    // committed ISR); else the smallest log end among the maximal ISR and the caught-up
    // followers outside it (who may join it), never moving back. True when it moved.
    bool maybe_advance_high_watermark(std::int64_t now_ms) {
        if (!is_leader_) return false;
        if (static_cast<std::int32_t>(isr_.size()) < effective_min_isr()) return false;
        const offset leo = log_.log_end_offset();
        const auto& maximal = maximal_isr();
        offset hw = leo;
        for (const auto& r : replicas_) {
            if (r.id == self_) continue;
            if (r.log_end_offset < hw && (contains(maximal, r.id) || is_caught_up(r, leo, now_ms)))
                hw = r.log_end_offset;
        }
        if (hw <= high_watermark_) return false;
        high_watermark_ = hw;
        return true;
    }

    // Kafka's UnifiedLog.truncateFullyAndStartAt: no record, no epoch, no producer is left.
    error_code truncate_fully_locked(offset o) {
        if (const auto ec = log_.truncate_fully_and_start_at(o)) return to_kafka(ec);
        ++generation_;
        high_watermark_ = o;
        if (persistent()) {
            auto& b = log_.backend();
            for (const auto at : producer_state_table::list_snapshots(b))
                (void)b.remove(producer_state_table::snapshot_name(at));
        }
        producers_ = producer_state_table{};
        unreplicated_txns_.clear();
        last_snapshot_ = offset{-1};
        return epochs_.truncate_from_end(offset{0}) ? error_code::kafka_storage_error : error_code::none;
    }

    // The producers' state again from the snapshots and the log (after a truncation).
    void reload_producer_state() {
        producers_ = producer_state_table{};
        unreplicated_txns_.clear();
        last_snapshot_ = offset{-1};
        recover_producer_state();
    }

    // Tells the monitor where the offsets are now. Called after the lock is released: waiters'
    // callbacks may read this partition. Values only move forward in the monitor, so racing
    // publishers cannot move one back.
    // Truncations and a restored high watermark move values back: they bump generation_, which
    // the monitor uses to drop publishes of values read before them (offset_monitor::publish_all).
    void publish() {
        offset hw, flushed, lso, leo;
        std::uint64_t gen = 0;
        {
            std::lock_guard lk(mu_);
            hw = high_watermark_;
            flushed = log_.flushed_offset();
            lso = last_stable_offset();
            leo = log_.log_end_offset();
            gen = generation_;
        }
        monitor_.publish_all(hw, flushed, lso, leo, gen);
    }

    void request_flush() {
        if (flush_requester_)
            flush_requester_(this);
        else
            (void)flush();
    }

    // A transaction stays unstable until its marker is below the high watermark (docs/protocol.md
    // §7.3): a reader must not see its data before every in-sync replica has the marker.
    offset last_stable_offset() const {
        auto lso = high_watermark_;
        if (const auto fuo = producers_.first_unstable_offset()) lso = std::min(lso, *fuo);
        for (const auto& [first, marker] : unreplicated_txns_)
            if (marker >= high_watermark_) lso = std::min(lso, first);
        return lso;
    }

    // A marker ended a transaction that wrote data here: an abort enters the aborted index, with
    // the LSO right after it (the first offset of another open transaction, else past the marker).
    // `replayed`: the batch came from recovery or the leader, so its entry may exist already.
    error_code txn_completed(const completed_txn& t, bool replayed) {
        std::erase_if(unreplicated_txns_, [&](const auto& u) { return u.second < high_watermark_; });
        if (t.last_offset >= high_watermark_) unreplicated_txns_.emplace_back(t.first_offset, t.last_offset);
        if (!t.aborted) return error_code::none;
        if (replayed) {
            for (const auto& a : log_.collect_aborted_txns(t.last_offset, t.last_offset + 1))
                if (a.last_offset == t.last_offset) return error_code::none;
        }
        const auto other = producers_.first_unstable_offset_except(t.pid);
        const storage::aborted_txn entry{t.pid, t.first_offset, t.last_offset, other ? *other : t.last_offset + 1};
        return log_.append_aborted_txn(entry) ? error_code::kafka_storage_error : error_code::none;
    }

    void fill_offsets(read_result& r, isolation) const {
        r.high_watermark = high_watermark_;
        r.last_stable_offset = last_stable_offset();
        r.log_start_offset = log_.log_start_offset();
    }

    static constexpr bool persistent() { return Policies::storage_backend::persistent; }

    // A snapshot is an optimisation of recovery (replay starts there instead of at the log start),
    // so a failed write keeps the previous ones and is retried at the next tick; it is counted
    // for tests and diagnostics.
    void take_snapshot() {
        if (!persistent()) return;
        auto& b = log_.backend();
        const auto at = log_.log_end_offset();
        if (producers_.write_snapshot(b, at)) {
            ++snapshot_failures_;
            return;
        }
        last_snapshot_ = at;
        // Keep the newest two: the latest may later be ahead of a log that lost its unflushed tail.
        auto all = producer_state_table::list_snapshots(b);
        for (std::size_t i = 0; i + 2 < all.size(); ++i) (void)b.remove(producer_state_table::snapshot_name(all[i]));
    }

    // Loads the newest snapshot not beyond the recovered log end, then replays the batches after it.
    void recover_producer_state() {
        offset replay_from = log_.log_start_offset();
        if (persistent()) {
            const auto leo = log_.log_end_offset();
            auto& b = log_.backend();
            auto snaps = producer_state_table::list_snapshots(b);
            for (auto it = snaps.rbegin(); it != snaps.rend(); ++it) {
                if (*it > leo) {
                    (void)b.remove(producer_state_table::snapshot_name(*it));
                    continue;
                }
                if (producers_.read_snapshot(b, *it)) {
                    replay_from = std::max(*it, log_.log_start_offset());
                    last_snapshot_ = *it;
                    break;
                }
            }
        }
        if (replay_from < log_.log_end_offset())
            log_.for_each_batch(replay_from, [&](bytes_view b) {
                // An abort whose index entry a crash lost is indexed again (best effort: the
                // partition opens either way, and a failed write is retried at the next recovery).
                if (const auto done = producers_.replay(b)) (void)txn_completed(*done, true);
            });
    }

    std::string topic_;
    partition_id id_;
    std::filesystem::path dir_;
    broker_config cfg_; // under mu_
    std::atomic<std::int32_t> max_message_bytes_;
    std::atomic<bool> compacted_; // cleanup.policy has compact: every record needs a key
    std::atomic<bool> log_append_time_;
    // compression.type as the codec to store (no_target: the producer's) and the levels to use.
    static constexpr std::uint8_t no_target = 0xff;
    static std::uint8_t encode_target(compression_type t) noexcept {
        const auto c = target_codec(t);
        return c ? static_cast<std::uint8_t>(*c) : no_target;
    }
    std::atomic<std::uint8_t> target_codec_;
    std::atomic<int> level_gzip_, level_lz4_, level_zstd_;
    std::mutex mu_;
    log_type log_;
    clock_type clock_;
    node_id self_;      // node.id
    node_id leader_id_; // the leader this partition knows of (self_ while leading, -1: none)
    producer_state_table producers_;
    std::vector<std::pair<offset, offset>> unreplicated_txns_; // (first offset, marker offset), see LSO
    std::vector<replica> replicas_;
    std::vector<node_id> isr_; // the committed ISR
    std::optional<pending_isr_change> pending_isr_;
    bool is_leader_ = true;
    std::int32_t partition_epoch_ = 0;
    offset leader_epoch_start_offset_{0}; // the log end when this node began leading leader_epoch_
    std::int64_t last_now_ms_ = 0;        // the latest now_ms a caller passed
    std::uint64_t generation_ = 0;        // bumped when offsets move back (see publish)
    offset high_watermark_{0};
    std::int64_t last_compaction_ms_ = 0; // the broker clock's time of the last compaction pass
    leader_epoch leader_epoch_{0};
    broker_detail::leader_epoch_cache<typename Policies::storage_backend> epochs_;
    offset last_snapshot_{-1};
    std::uint64_t snapshot_failures_ = 0;
    bool closed_ = false;
    bool deleted_ = false;
    bool syncing_ = false; // run_flush is syncing outside the lock
    error_code flush_error_ = error_code::none;
    std::function<void(partition*)> flush_requester_;
    offset_monitor monitor_; // last member: destroyed first, its waiters told `shutdown`
};

} // namespace broker_detail
} // namespace gregor
