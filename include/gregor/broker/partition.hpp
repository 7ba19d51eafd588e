// One partition on this broker: its log, its idempotent-producer state and its replication
// bookkeeping (leader epoch, replicas' log end offsets, ISR, high watermark). All calls are
// thread-safe; appends and reads of one partition are serialised by the partition's mutex, and
// different partitions proceed in parallel.
//
// acks=all is answered through the same path replication will use: the append advances the
// leader's log end offset, the high watermark is the minimum log end offset over the ISR, and the
// request waits until the high watermark covers its batch. With a single replica the wait ends at
// once.
#pragma once

#include <gregor/broker/broker_config.hpp>
#include <gregor/broker/broker_policies.hpp>
#include <gregor/broker/producer_state.hpp>
#include <gregor/core/error.hpp>
#include <gregor/core/strong_types.hpp>
#include <gregor/storage/log.hpp>
#include <gregor/wire/record_batch.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace gregor {

/// Fetch isolation level (Kafka's IsolationLevel).
enum class isolation : std::int8_t { read_uncommitted = 0, read_committed = 1 };

/// An aborted transaction in a fetched range (Fetch v4+ AbortedTransactions).
struct aborted_transaction {
    producer_id id{-1};
    offset first_offset{0};
};

namespace broker_detail {

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
    };

    struct read_result {
        error_code error = error_code::none;
        offset high_watermark{-1};
        offset last_stable_offset{-1};
        offset log_start_offset{-1};
        storage::read_result records;
        std::vector<aborted_transaction> aborted;
    };

    partition(std::string topic, partition_id id, std::filesystem::path dir, const broker_config& cfg,
              typename Policies::storage_backend::options backend_opts, clock_type clk)
        : topic_(std::move(topic)), id_(id), dir_(std::move(dir)), cfg_(&cfg),
          log_(dir_, cfg.log, std::move(backend_opts), clk), clock_(clk) {
        replicas_.push_back({node_id{cfg.node_id}, log_.log_end_offset()});
        isr_.push_back(node_id{cfg.node_id});
        high_watermark_ = log_.log_end_offset();
        recover_producer_state();
    }

    partition(const partition&) = delete;
    partition& operator=(const partition&) = delete;

    [[nodiscard]] const std::string& topic() const noexcept { return topic_; }
    [[nodiscard]] partition_id id() const noexcept { return id_; }

    /// Validates, deduplicates, assigns offsets in place and appends one client batch; then waits
    /// as `acks` (and the durability policy) demand. The batch must be exactly one record batch.
    append_result append(mutable_bytes_view batch, std::int16_t acks, std::chrono::milliseconds timeout,
                         bool verify_records = true) {
        append_result res;
        if (acks != 0 && acks != 1 && acks != -1) return fail(res, error_code::invalid_required_acks);
        if (batch.size() > static_cast<std::size_t>(cfg_->message_max_bytes))
            return fail(res, error_code::message_too_large);
        const auto verdict = wire::validate(bytes_view{batch}, {.check_records = verify_records,
                                                                .client_batch = true,
                                                                .reject_control = true});
        if (verdict != wire::batch_error::none) return fail(res, wire::to_kafka(verdict));
        auto h = *wire::batch_header::parse(bytes_view{batch});
        if (h.is_idempotent() && h.base_sequence.value() < 0) return fail(res, error_code::invalid_record);
        // Transactions need the coordinator (a later layer); until then a transactional batch would
        // open a transaction nobody can close and pin the last stable offset forever.
        if (h.is_transactional()) return fail(res, error_code::invalid_txn_state);

        std::unique_lock lk(mu_);
        if (acks == -1 && static_cast<std::int32_t>(isr_.size()) < effective_min_isr())
            return fail(res, error_code::not_enough_replicas);
        if (h.is_idempotent()) {
            const auto check = producers_.check(h);
            if (check.what == sequence_check::kind::duplicate) {
                res.base_offset = check.original.first_offset;
                res.last_offset = check.original.last_offset;
                res.log_start_offset = log_.log_start_offset();
                res.duplicate = true;
                return res;
            }
            if (check.what == sequence_check::kind::reject) return fail(res, check.error);
        }
        const offset base = log_.log_end_offset();
        wire::patch_base_offset(batch, base);
        wire::patch_leader_epoch(batch, leader_epoch_);
        if (const auto ec = log_.append(bytes_view{batch})) return fail(res, to_kafka(ec));
        h.base_offset = base;
        h.partition_leader_epoch = leader_epoch_.value();
        if (h.is_idempotent()) producers_.update(h);
        res.base_offset = base;
        res.last_offset = h.last_offset();
        update_replica_leo(node_id{cfg_->node_id}, log_.log_end_offset());

        if (acks != 0 && Policies::durability::flush_before_ack && log_.flushed_offset() <= res.last_offset) {
            if (const auto ec = log_.flush()) return fail(res, to_kafka(ec));
        }
        if (acks == -1) {
            const auto need = res.last_offset + 1;
            if (!hw_cv_.wait_for(lk, timeout, [&] { return high_watermark_ >= need; }))
                return fail(res, error_code::request_timed_out);
            if (static_cast<std::int32_t>(isr_.size()) < effective_min_isr())
                return fail(res, error_code::not_enough_replicas_after_append);
        }
        res.log_start_offset = log_.log_start_offset();
        return res;
    }

    /// Whole batches from `from`: up to the high watermark (read_uncommitted), the last stable
    /// offset (read_committed), or the log end (a follower replica, later).
    read_result read(offset from, std::size_t max_bytes, isolation iso, bool follower = false) {
        std::lock_guard lk(mu_);
        read_result r;
        fill_offsets(r, iso);
        if (from < log_.log_start_offset() || from > log_.log_end_offset()) {
            r.error = error_code::offset_out_of_range;
            return r;
        }
        const offset upper = follower ? log_.log_end_offset()
                                      : (iso == isolation::read_committed ? r.last_stable_offset : r.high_watermark);
        if (from < upper) r.records = log_.read(from, max_bytes, upper);
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
    std::optional<offset> list_offset(std::int64_t ts, isolation iso) {
        std::lock_guard lk(mu_);
        if (ts == -2) return log_.log_start_offset();
        const offset latest = iso == isolation::read_committed ? last_stable_offset() : high_watermark_;
        if (ts == -1) return latest;
        auto o = log_.offset_for_timestamp(ts);
        if (!o || *o >= latest) return std::nullopt;
        return o;
    }

    /// Time-driven work: interval flushes, roll, retention, producer expiry and snapshots.
    void tick(bool run_retention) {
        std::lock_guard lk(mu_);
        log_.tick();
        if (run_retention) {
            log_.enforce_retention();
            producers_.expire(clock_.wall_ms() - cfg_->producer_id_expiration_ms);
        }
        if (log_.log_end_offset() != last_snapshot_) take_snapshot();
    }

    std::error_code flush() {
        std::lock_guard lk(mu_);
        return log_.flush();
    }

    /// Clean shutdown: producer-state snapshot at the log end, then the log's own close.
    void close() {
        std::lock_guard lk(mu_);
        if (closed_) return;
        take_snapshot();
        log_.close();
        closed_ = true;
    }

    /// For the replication layer and tests: a replica's log end offset moved.
    void update_replica_leo(node_id replica, offset leo) {
        for (auto& r : replicas_)
            if (r.id == replica) r.log_end_offset = leo;
        maybe_advance_high_watermark();
    }

    /// Read access to the producer table (tests, diagnostics). Caller must not hold it across calls.
    template <typename F>
    auto with_producer_state(F&& f) {
        std::lock_guard lk(mu_);
        return f(std::as_const(producers_));
    }

private:
    struct replica {
        node_id id;
        offset log_end_offset;
    };

    static append_result& fail(append_result& r, error_code e) {
        r.error = e;
        return r;
    }

    std::int32_t effective_min_isr() const {
        return std::min<std::int32_t>(cfg_->min_insync_replicas, static_cast<std::int32_t>(replicas_.size()));
    }

    // High watermark = the smallest log end offset in the ISR; it never moves backwards.
    void maybe_advance_high_watermark() {
        offset hw = offset::max();
        for (const auto& r : replicas_)
            if (std::find(isr_.begin(), isr_.end(), r.id) != isr_.end()) hw = std::min(hw, r.log_end_offset);
        if (hw != offset::max() && hw > high_watermark_) {
            high_watermark_ = hw;
            hw_cv_.notify_all();
        }
    }

    offset last_stable_offset() const {
        const auto fuo = producers_.first_unstable_offset();
        return fuo ? std::min(*fuo, high_watermark_) : high_watermark_;
    }

    void fill_offsets(read_result& r, isolation) const {
        r.high_watermark = high_watermark_;
        r.last_stable_offset = last_stable_offset();
        r.log_start_offset = log_.log_start_offset();
    }

    static constexpr bool persistent() { return Policies::storage_backend::persistent; }

    void take_snapshot() {
        if (!persistent()) return;
        const auto at = log_.log_end_offset();
        if (!producers_.write_snapshot(dir_, at)) return;
        last_snapshot_ = at;
        // Keep the newest two: the latest may later be ahead of a log that lost its unflushed tail.
        auto all = producer_state_table::list_snapshots(dir_);
        for (std::size_t i = 0; i + 2 < all.size(); ++i) {
            std::error_code ec;
            std::filesystem::remove(producer_state_table::snapshot_path(dir_, all[i]), ec);
        }
    }

    // Loads the newest snapshot not beyond the recovered log end, then replays the batches after it.
    void recover_producer_state() {
        offset replay_from = log_.log_start_offset();
        if (persistent()) {
            const auto leo = log_.log_end_offset();
            auto snaps = producer_state_table::list_snapshots(dir_);
            for (auto it = snaps.rbegin(); it != snaps.rend(); ++it) {
                if (*it > leo) {
                    std::error_code ec;
                    std::filesystem::remove(producer_state_table::snapshot_path(dir_, *it), ec);
                    continue;
                }
                if (producers_.read_snapshot(producer_state_table::snapshot_path(dir_, *it))) {
                    replay_from = std::max(*it, log_.log_start_offset());
                    last_snapshot_ = *it;
                    break;
                }
            }
        }
        if (replay_from < log_.log_end_offset())
            log_.for_each_batch(replay_from, [&](bytes_view b) { producers_.replay(b); });
    }

    std::string topic_;
    partition_id id_;
    std::filesystem::path dir_;
    const broker_config* cfg_;
    std::mutex mu_;
    std::condition_variable hw_cv_;
    log_type log_;
    clock_type clock_;
    producer_state_table producers_;
    std::vector<replica> replicas_;
    std::vector<node_id> isr_;
    offset high_watermark_{0};
    leader_epoch leader_epoch_{0};
    offset last_snapshot_{-1};
    bool closed_ = false;
};

} // namespace broker_detail
} // namespace gregor
