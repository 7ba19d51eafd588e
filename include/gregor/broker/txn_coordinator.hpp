// The transaction coordinator (docs/transactions.md; wire facts docs/protocol.md §7 and §15): the
// state machine of every transactional id (Empty, Ongoing, PrepareCommit, PrepareAbort,
// CompleteCommit, CompleteAbort) behind InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn and
// EndTxn, the markers it writes into every partition of a finished transaction, the abort of
// transactions open longer than their timeout, and the expiry of idle transactional ids.
//
// Durability is Kafka's: every state change is a record in the internal compacted topic
// `__transaction_state` (Kafka's key/value formats, wire/txn_records.hpp), in the partition the id
// hashes to, appended with acks=all before it takes effect. A node that starts leading such a
// partition replays it and finishes every transaction it finds decided (PrepareCommit,
// PrepareAbort): a decision once answered is never lost, and no partition's last stable offset
// stays stuck behind a transaction whose coordinator died.
//
// Nothing here blocks: every operation answers through a callback, run when the state record is
// durable (on the thread that made it so) or at once on refusal. The coordinator's own thread
// drives markers that must be retried, timeouts and expiry.
//
// Thread-safety: every public function may be called from any thread; callbacks run without the
// coordinator's lock.
#pragma once

#include <gregor/broker/broker_config.hpp>
#include <gregor/broker/group_coordinator.hpp>
#include <gregor/broker/partition.hpp>
#include <gregor/core/buffer.hpp>
#include <gregor/core/error.hpp>
#include <gregor/core/strong_types.hpp>
#include <gregor/detail/unique_function.hpp>
#include <gregor/wire/record_batch.hpp>
#include <gregor/wire/txn_records.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

namespace gregor::txn {

/// The internal topic's name.
inline constexpr std::string_view state_topic = "__transaction_state";

/// Kafka's state ids, as stored in `__transaction_state` (docs/protocol.md §15.8).
enum class txn_state : std::int8_t {
    empty = 0,
    ongoing = 1,
    prepare_commit = 2,
    prepare_abort = 3,
    complete_commit = 4,
    complete_abort = 5,
    dead = 6,
    prepare_epoch_fence = 7,
};

constexpr std::string_view to_string(txn_state s) noexcept {
    switch (s) {
    case txn_state::empty: return "Empty";
    case txn_state::ongoing: return "Ongoing";
    case txn_state::prepare_commit: return "PrepareCommit";
    case txn_state::prepare_abort: return "PrepareAbort";
    case txn_state::complete_commit: return "CompleteCommit";
    case txn_state::complete_abort: return "CompleteAbort";
    case txn_state::dead: return "Dead";
    case txn_state::prepare_epoch_fence: return "PrepareEpochFence";
    }
    return "Unknown";
}

struct topic_partition {
    std::string topic;
    std::int32_t partition = 0;
    friend auto operator<=>(const topic_partition&, const topic_partition&) = default;
};

struct init_result {
    error_code error = error_code::none;
    producer_id id{-1};
    producer_epoch epoch{-1};
};

/// What DescribeTransactions (and tests) see of one transactional id.
struct described_txn {
    std::string transactional_id;
    txn_state state = txn_state::empty;
    producer_id id{-1};
    producer_epoch epoch{-1};
    std::int32_t timeout_ms = 0;
    std::int64_t start_ms = -1;
    std::set<topic_partition> partitions;
};

/// Where a transactional id lives: `__transaction_state` partition abs(hashCode(id)) % n.
inline std::int32_t partition_for(std::string_view transactional_id, std::int32_t partitions) {
    return wire::group_records::partition_for(transactional_id, partitions);
}

/// The coordinator of one broker. `Broker` provides find_partition(topic, p), produce_async(),
/// write_marker_anywhere(), init_producer_id() (a fresh idempotent id), ensure_txn_topic(),
/// groups(), wall_ms() and config().
template <typename Broker>
class coordinator {
    using steady = std::chrono::steady_clock;
    using effects = std::vector<detail::unique_function<void()>>;
    static constexpr std::int16_t exhausted_epoch = std::numeric_limits<std::int16_t>::max() - 1;

public:
    explicit coordinator(Broker& b) : b_(b), cfg_(b.config()) {
        timer_ = std::thread([this] { timer_loop(); });
    }
    coordinator(const coordinator&) = delete;
    coordinator& operator=(const coordinator&) = delete;
    ~coordinator() { stop(); }

    void stop() {
        {
            std::lock_guard lk(mu_);
            if (stopped_) return;
            stopped_ = true;
        }
        cv_.notify_all();
        if (timer_.joinable()) timer_.join();
    }

    [[nodiscard]] std::int32_t partitions() const noexcept { return cfg_.transaction_state_log_num_partitions; }

    /// Is this node the coordinator of `transactional_id` (NONE), or where should the client go?
    error_code owns(const std::string& transactional_id) {
        effects fx;
        error_code e;
        {
            std::unique_lock lk(mu_);
            e = ensure_loaded(transactional_id, fx);
        }
        run(fx);
        return e;
    }

    // ---- InitProducerId (docs/protocol.md §15.2) ----

    /// `expected_*`: the producer's current id and epoch (InitProducerId v3+, KIP-360), -1 if none.
    void init_producer_id(std::string txn_id, std::int32_t timeout_ms, producer_id expected_id,
                          producer_epoch expected_epoch, detail::unique_function<void(init_result)> done) {
        const auto fail = [&](error_code e) { done(init_result{e, producer_id{-1}, producer_epoch{-1}}); };
        if (txn_id.empty()) return fail(error_code::invalid_request);
        if (timeout_ms <= 0 || timeout_ms > cfg_.transaction_max_timeout_ms)
            return fail(error_code::invalid_transaction_timeout);
        effects fx;
        std::optional<init_result> now;
        {
            std::unique_lock lk(mu_);
            if (auto e = ensure_loaded(txn_id, fx); e != error_code::none) {
                now = init_result{e, producer_id{-1}, producer_epoch{-1}};
            } else {
                auto* m = find(txn_id);
                if (!m) {
                    // A new id: a fresh producer id, not yet durable (the Empty record below is).
                    const auto fresh = b_.init_producer_id();
                    if (fresh.error != error_code::none) {
                        now = init_result{error_code::coordinator_not_available, producer_id{-1}, producer_epoch{-1}};
                    } else {
                        m = &create(txn_id);
                        m->cur.id = fresh.id;
                    }
                }
                // init_locked keeps `done` when it answers later (then it returns nullopt).
                if (!now) now = init_locked(*m, timeout_ms, expected_id, expected_epoch, done, fx);
            }
        }
        run(fx);
        if (now) done(*now);
    }

    // ---- AddPartitionsToTxn / AddOffsetsToTxn (docs/protocol.md §15.3, §15.4) ----

    void add_partitions(std::string txn_id, producer_id pid, producer_epoch epoch, std::vector<topic_partition> parts,
                        detail::unique_function<void(error_code)> done) {
        effects fx;
        std::optional<error_code> now;
        {
            std::unique_lock lk(mu_);
            now = add_locked(txn_id, pid, epoch, parts, done, fx);
        }
        run(fx);
        if (now) done(*now);
    }

    /// Adds the group's `__consumer_offsets` partition, where TxnOffsetCommit writes.
    void add_offsets(std::string txn_id, producer_id pid, producer_epoch epoch, const std::string& group_id,
                     detail::unique_function<void(error_code)> done) {
        const auto p = groups::partition_for(group_id, cfg_.offsets_topic_num_partitions);
        add_partitions(std::move(txn_id), pid, epoch, {{std::string(groups::offsets_topic), p}}, std::move(done));
    }

    // ---- EndTxn (docs/protocol.md §15.5) ----

    void end_txn(std::string txn_id, producer_id pid, producer_epoch epoch, bool commit,
                 detail::unique_function<void(error_code)> done) {
        effects fx;
        std::optional<error_code> now;
        {
            std::unique_lock lk(mu_);
            now = end_locked(txn_id, pid, epoch, commit, done, fx);
        }
        run(fx);
        if (now) done(*now);
    }

    /// AddPartitionsToTxn v4+ `verify_only`: are the partitions in `pid`'s ongoing transaction?
    error_code verify_partitions(const std::string& txn_id, producer_id pid, producer_epoch epoch,
                                 const std::vector<topic_partition>& parts) {
        effects fx;
        error_code e = error_code::none;
        {
            std::lock_guard lk(mu_);
            e = ensure_loaded(txn_id, fx);
            auto* m = e == error_code::none ? find(txn_id) : nullptr;
            if (e != error_code::none) {
            } else if (!m || m->cur.id != pid) {
                e = error_code::invalid_producer_id_mapping;
            } else if (m->cur.epoch != epoch) {
                e = error_code::producer_fenced;
            } else if (m->cur.state != txn_state::ongoing ||
                       !std::all_of(parts.begin(), parts.end(),
                                    [&](const auto& tp) { return m->cur.partitions.count(tp) != 0; })) {
                e = error_code::invalid_txn_state;
            }
        }
        run(fx);
        return e;
    }

    // ---- inspection and maintenance ----

    std::optional<described_txn> describe(const std::string& txn_id) {
        effects fx;
        std::optional<described_txn> out;
        {
            std::unique_lock lk(mu_);
            if (ensure_loaded(txn_id, fx) == error_code::none) {
                if (auto* m = find(txn_id))
                    out = described_txn{txn_id, m->cur.state, m->cur.id, m->cur.epoch, m->cur.timeout_ms,
                                        m->cur.start_ms, m->cur.partitions};
            }
        }
        run(fx);
        return out;
    }

    /// Every transactional id this node coordinates (its partitions loaded first).
    std::vector<described_txn> list() {
        effects fx;
        std::vector<described_txn> out;
        {
            std::unique_lock lk(mu_);
            for (std::int32_t p = 0; p < partitions(); ++p) (void)ensure_partition(p, fx);
            for (const auto& [id, m] : txns_)
                out.push_back({id, m->cur.state, m->cur.id, m->cur.epoch, m->cur.timeout_ms, m->cur.start_ms,
                               m->cur.partitions});
        }
        run(fx);
        return out;
    }

    /// Aborts every transaction open longer than its timeout now (the timer does it every
    /// transaction.abort.timed.out.transaction.cleanup.interval.ms).
    void abort_timed_out_now() {
        effects fx;
        {
            std::lock_guard lk(mu_);
            abort_timed_out(fx);
        }
        run(fx);
    }

    /// Removes idle transactional ids now (transactional.id.expiration.ms; the timer does it
    /// every transaction.remove.expired.transaction.cleanup.interval.ms).
    void expire_now() {
        effects fx;
        {
            std::lock_guard lk(mu_);
            expire(fx);
        }
        run(fx);
    }

private:
    struct values {
        producer_id id{-1};
        producer_id last_id{-1};
        producer_epoch epoch{-1};
        producer_epoch last_epoch{-1};
        std::int32_t timeout_ms = 60000;
        txn_state state = txn_state::empty;
        std::set<topic_partition> partitions;
        std::int64_t start_ms = -1;
        std::int64_t update_ms = -1;
    };

    struct meta {
        std::string id;
        std::int32_t partition = 0;
        values cur;
        bool pending = false;        // a state record (or the markers) is in flight
        std::size_t markers_left = 0; // markers of the decided transaction still to be written
        std::vector<topic_partition> retry; // markers to write again
        steady::time_point retry_at{};
    };

    static void run(effects& fx) {
        for (auto& f : fx) f();
        fx.clear();
    }

    meta* find(const std::string& id) {
        const auto it = txns_.find(id);
        return it == txns_.end() ? nullptr : it->second.get();
    }

    meta& create(const std::string& id) {
        auto& slot = txns_[id];
        slot = std::make_unique<meta>();
        slot->id = id;
        slot->partition = partition_for(id, partitions());
        return *slot;
    }

    // ---- loading ----

    error_code ensure_loaded(const std::string& txn_id, effects& fx) {
        if (stopped_) return error_code::not_coordinator;
        return ensure_partition(partition_for(txn_id, partitions()), fx);
    }

    // `create`: make the topic if it is missing (a client asked; not the timer's periodic load).
    error_code ensure_partition(std::int32_t p, effects& fx, bool create = true) {
        auto* part = b_.find_partition(state_topic, partition_id{p});
        if (!part && create && b_.ensure_txn_topic() == error_code::none)
            part = b_.find_partition(state_topic, partition_id{p});
        if (!part) return error_code::coordinator_not_available;
        if (!part->is_leader()) {
            unload(p);
            return error_code::not_coordinator;
        }
        const auto epoch = part->current_leader_epoch();
        if (auto it = loaded_.find(p); it != loaded_.end() && it->second == epoch) return error_code::none;
        unload(p);
        replay(p);
        loaded_[p] = epoch;
        // Transactions decided before this node took over are finished now (docs/protocol.md §15.9).
        for (auto& [id, m] : txns_) {
            if (m->partition != p || m->pending) continue;
            if (m->cur.state == txn_state::prepare_commit || m->cur.state == txn_state::prepare_abort)
                send_markers(*m, fx);
        }
        return error_code::none;
    }

    void unload(std::int32_t p) {
        if (!loaded_.erase(p)) return;
        std::erase_if(txns_, [&](const auto& kv) { return kv.second->partition == p; });
    }

    std::int32_t coordinator_epoch(std::int32_t p) {
        auto* part = b_.find_partition(state_topic, partition_id{p});
        return part ? part->current_leader_epoch().value() : -1;
    }

    // The last record per id wins; a tombstone removes the id (docs/protocol.md §15.9).
    void replay(std::int32_t p) {
        auto* part = b_.find_partition(state_topic, partition_id{p});
        if (!part) return;
        broker_detail::replay_partition(*part, [&](const wire::batch_view& v, offset from) {
            for (const auto& rec : v) {
                if (rec.record_offset < from || !rec.key) continue;
                apply_record(p, *rec.key, rec.value);
            }
        });
    }

    void apply_record(std::int32_t p, bytes_view key, std::optional<bytes_view> value) {
        namespace tr = wire::txn_records;
        const auto k = tr::decode_key(key);
        const auto* tk = k ? std::get_if<tr::transaction_log_key>(&*k) : nullptr;
        if (!tk) return;
        const std::string id(tk->transactional_id);
        if (!value) {
            txns_.erase(id);
            return;
        }
        const auto v = tr::decode_value(*value);
        if (!v) return;
        auto& m = find(id) ? *find(id) : create(id);
        m.partition = p;
        m.cur = values{};
        m.cur.id = v->producer_id;
        m.cur.epoch = v->producer_epoch;
        m.cur.timeout_ms = v->timeout_ms;
        m.cur.state = static_cast<txn_state>(v->status);
        if (v->partitions)
            for (const auto& t : *v->partitions)
                for (const auto pi : t.partition_ids) m.cur.partitions.insert({std::string(t.topic), pi.value()});
        m.cur.update_ms = v->last_update_ms;
        m.cur.start_ms = v->start_ms;
    }

    // ---- writes to __transaction_state ----

    byte_buffer record_of(const meta& m, const std::optional<values>& v) {
        namespace tr = wire::txn_records;
        const auto key = tr::encode_key(m.id);
        wire::batch_builder bb(256);
        if (!v) {
            bb.append(b_.wall_ms(), bytes_view{key.view()}, std::nullopt);
            return bb.seal();
        }
        tr::transaction_log_value out;
        out.producer_id = v->id;
        out.producer_epoch = v->epoch;
        out.timeout_ms = v->timeout_ms;
        out.status = static_cast<tr::transaction_state>(v->state);
        if (v->state != txn_state::empty) {
            std::vector<tr::topic_partitions> parts; // views into v->partitions, alive until encoded
            for (const auto& tp : v->partitions) {
                if (parts.empty() || parts.back().topic != tp.topic) parts.push_back({tp.topic, {}});
                parts.back().partition_ids.push_back(partition_id{tp.partition});
            }
            out.partitions = std::move(parts);
        }
        out.last_update_ms = v->update_ms;
        out.start_ms = v->start_ms;
        const auto value = tr::encode_value(out);
        bb.append(b_.wall_ms(), bytes_view{key.view()}, bytes_view{value.view()});
        return bb.seal();
    }

    /// Appends the record of `next` (nullopt: a tombstone) with acks=all; on success `next` becomes
    /// the id's state, then `then(error)` runs without the lock. One transition at a time per id.
    template <typename Then>
    void persist(meta& m, std::optional<values> next, effects& fx, Then&& then) {
        m.pending = true;
        auto buf = std::make_shared<byte_buffer>(record_of(m, next));
        const auto p = m.partition;
        const auto epoch = loaded_.count(p) ? loaded_[p] : leader_epoch{-1};
        const std::string id = m.id;
        fx.push_back([this, p, epoch, id, buf, next = std::move(next), then = std::forward<Then>(then)]() mutable {
            b_.produce_async(state_topic, partition_id{p}, buf->mutable_view(), std::int16_t{-1},
                             std::chrono::milliseconds(cfg_.offsets_commit_timeout_ms), false,
                             [this, p, epoch, id, buf, next = std::move(next), then = std::move(then)](auto r) mutable {
                                 effects after;
                                 error_code e = append_error(r.error);
                                 {
                                     std::lock_guard lk(mu_);
                                     auto* m = find(id);
                                     const auto it = loaded_.find(p);
                                     if (e == error_code::none && (!m || it == loaded_.end() || it->second != epoch))
                                         e = error_code::not_coordinator; // deposed meanwhile
                                     if (m) m->pending = false;
                                     if (e == error_code::none) {
                                         if (next) {
                                             m->cur = std::move(*next);
                                         } else {
                                             txns_.erase(id);
                                             m = nullptr;
                                         }
                                     }
                                     then(e, m, after);
                                 }
                                 run(after);
                             });
        });
    }

    /// Kafka's conversion of a failed append into what a transactional client retries on.
    static error_code append_error(error_code e) {
        switch (e) {
        case error_code::none: return e;
        case error_code::unknown_topic_or_partition:
        case error_code::not_enough_replicas:
        case error_code::not_enough_replicas_after_append:
        case error_code::request_timed_out: return error_code::coordinator_not_available;
        case error_code::not_leader_or_follower:
        case error_code::kafka_storage_error: return error_code::not_coordinator;
        default: return error_code::unknown_server_error;
        }
    }

    // ---- the state machine ----

    std::optional<init_result> init_locked(meta& m, std::int32_t timeout_ms, producer_id expected_id,
                                           producer_epoch expected_epoch,
                                           detail::unique_function<void(init_result)>& done, effects& fx) {
        const auto refuse = [](error_code e) { return init_result{e, producer_id{-1}, producer_epoch{-1}}; };
        if (m.pending) return refuse(error_code::concurrent_transactions);
        const bool expected = expected_id.value() != -1 || expected_epoch.value() != -1;
        if (expected && !(m.cur.epoch.value() == -1 || expected_id == m.cur.id ||
                          (expected_id == m.cur.last_id && expected_epoch.value() >= exhausted_epoch)))
            return refuse(error_code::producer_fenced);
        switch (m.cur.state) {
        case txn_state::prepare_commit:
        case txn_state::prepare_abort: return refuse(error_code::concurrent_transactions);
        case txn_state::ongoing:
            // A new instance of the producer: the old one's transaction is aborted with a bumped
            // epoch, which fences it on every partition; the client retries (docs/protocol.md §15.2).
            fence_and_abort(m, fx);
            return refuse(error_code::concurrent_transactions);
        default: break;
        }
        values next = m.cur;
        if (m.cur.epoch.value() >= exhausted_epoch && (!expected || expected_epoch == m.cur.epoch)) {
            const auto fresh = b_.init_producer_id();
            if (fresh.error != error_code::none) return refuse(error_code::coordinator_not_available);
            next.last_id = m.cur.id;
            next.last_epoch = expected ? m.cur.epoch : producer_epoch{-1};
            next.id = fresh.id;
            next.epoch = producer_epoch{0};
        } else if (!expected) {
            next.epoch = producer_epoch{static_cast<std::int16_t>(m.cur.epoch.value() + 1)};
            next.last_epoch = producer_epoch{-1};
        } else if (expected_epoch == m.cur.epoch || m.cur.epoch.value() == -1) {
            next.last_epoch = m.cur.epoch;
            next.epoch = producer_epoch{static_cast<std::int16_t>(m.cur.epoch.value() + 1)};
        } else if (expected_epoch == m.cur.last_epoch) {
            return init_result{error_code::none, m.cur.id, m.cur.epoch}; // a retried bump that succeeded
        } else {
            return refuse(error_code::producer_fenced);
        }
        next.state = txn_state::empty;
        next.partitions.clear();
        next.start_ms = -1;
        next.timeout_ms = timeout_ms;
        next.update_ms = b_.wall_ms();
        const auto id = next.id;
        const auto epoch = next.epoch;
        persist(m, std::move(next), fx,
                [id, epoch, done = std::move(done)](error_code e, meta*, effects& after) mutable {
                    after.push_back([done = std::move(done), e, id, epoch]() mutable {
                        done(e == error_code::none ? init_result{e, id, epoch}
                                                   : init_result{e, producer_id{-1}, producer_epoch{-1}});
                    });
                });
        return std::nullopt;
    }

    std::optional<error_code> add_locked(const std::string& txn_id, producer_id pid, producer_epoch epoch,
                                         const std::vector<topic_partition>& parts,
                                         detail::unique_function<void(error_code)>& done, effects& fx) {
        if (txn_id.empty()) return error_code::invalid_request;
        if (auto e = ensure_loaded(txn_id, fx); e != error_code::none) return e;
        auto* m = find(txn_id);
        if (!m || m->cur.id != pid) return error_code::invalid_producer_id_mapping;
        if (m->cur.epoch != epoch) return error_code::producer_fenced;
        if (m->pending) return error_code::concurrent_transactions;
        const auto st = m->cur.state;
        if (st == txn_state::prepare_commit || st == txn_state::prepare_abort) return error_code::concurrent_transactions;
        if (st == txn_state::ongoing &&
            std::all_of(parts.begin(), parts.end(), [&](const auto& tp) { return m->cur.partitions.count(tp) != 0; }))
            return error_code::none;
        values next = m->cur;
        next.state = txn_state::ongoing;
        next.partitions.insert(parts.begin(), parts.end());
        const auto now = b_.wall_ms();
        if (st != txn_state::ongoing) next.start_ms = now; // the transaction's timeout starts here
        next.update_ms = now;
        persist(*m, std::move(next), fx, [done = std::move(done)](error_code e, meta*, effects& after) mutable {
            after.push_back([done = std::move(done), e]() mutable { done(e); });
        });
        return std::nullopt;
    }

    std::optional<error_code> end_locked(const std::string& txn_id, producer_id pid, producer_epoch epoch, bool commit,
                                         detail::unique_function<void(error_code)>& done, effects& fx) {
        if (txn_id.empty()) return error_code::invalid_request;
        if (auto e = ensure_loaded(txn_id, fx); e != error_code::none) return e;
        auto* m = find(txn_id);
        if (!m || m->cur.id != pid) return error_code::invalid_producer_id_mapping;
        if (m->cur.epoch != epoch) return error_code::producer_fenced;
        if (m->pending) return error_code::concurrent_transactions;
        switch (m->cur.state) {
        case txn_state::ongoing: break;
        case txn_state::prepare_commit: return commit ? error_code::concurrent_transactions : error_code::invalid_txn_state;
        case txn_state::prepare_abort: return commit ? error_code::invalid_txn_state : error_code::concurrent_transactions;
        case txn_state::complete_commit: return commit ? error_code::none : error_code::invalid_txn_state;
        case txn_state::complete_abort: return commit ? error_code::invalid_txn_state : error_code::none;
        default: return error_code::invalid_txn_state;
        }
        decide(*m, m->cur.epoch, commit, fx, std::move(done));
        return std::nullopt;
    }

    /// Ongoing -> PrepareCommit/PrepareAbort at `epoch`: once durable the client hears NONE and
    /// the markers go out.
    void decide(meta& m, producer_epoch epoch, bool commit, effects& fx,
                detail::unique_function<void(error_code)> done) {
        values next = m.cur;
        next.epoch = epoch;
        next.state = commit ? txn_state::prepare_commit : txn_state::prepare_abort;
        next.update_ms = b_.wall_ms();
        persist(m, std::move(next), fx, [this, done = std::move(done)](error_code e, meta* mm, effects& after) mutable {
            if (e == error_code::none && mm) send_markers(*mm, after);
            if (done) after.push_back([done = std::move(done), e]() mutable { done(e); });
        });
    }

    void fence_and_abort(meta& m, effects& fx) {
        if (m.cur.epoch.value() >= std::numeric_limits<std::int16_t>::max()) return; // cannot bump: left to time out
        decide(m, producer_epoch{static_cast<std::int16_t>(m.cur.epoch.value() + 1)}, false, fx, {});
    }

    // ---- markers (docs/protocol.md §15.6) ----

    void send_markers(meta& m, effects& fx) {
        m.pending = true;
        m.retry.clear();
        m.markers_left = m.cur.partitions.size();
        if (m.markers_left == 0) return complete(m, fx);
        for (const auto& tp : m.cur.partitions) write_marker(m, tp, fx);
    }

    void write_marker(meta& m, const topic_partition& tp, effects& fx) {
        const bool commit = m.cur.state == txn_state::prepare_commit;
        const auto pid = m.cur.id;
        const auto epoch = m.cur.epoch;
        const auto cepoch = coordinator_epoch(m.partition);
        const std::string id = m.id;
        fx.push_back([this, id, tp, commit, pid, epoch, cepoch] {
            b_.write_marker_anywhere(tp.topic, partition_id{tp.partition}, pid, epoch, commit, cepoch,
                                     std::chrono::milliseconds(cfg_.offsets_commit_timeout_ms),
                                     [this, id, tp, commit, pid](error_code e) { marker_written(id, tp, commit, pid, e); });
        });
    }

    void marker_written(const std::string& id, const topic_partition& tp, bool commit, producer_id pid, error_code e) {
        // The group coordinator turns the transaction's offsets into committed ones (or drops them).
        if (e == error_code::none && tp.topic == groups::offsets_topic)
            b_.groups().complete_txn(tp.partition, pid, commit);
        effects fx;
        {
            std::lock_guard lk(mu_);
            auto* m = find(id);
            if (!m || m->cur.id != pid || m->markers_left == 0) return;
            switch (e) {
            case error_code::none:
            case error_code::unknown_topic_or_partition: // deleted: nothing left to mark
            case error_code::invalid_producer_epoch:      // a newer epoch's marker is there already
            case error_code::transaction_coordinator_fenced: break;
            default:
                // Not leader, timed out, too few replicas, a disk error: written again later,
                // until it holds (a partition never stays unstable behind a decided transaction).
                m->retry.push_back(tp);
                m->retry_at = steady::now() + std::chrono::milliseconds(100);
                return;
            }
            if (--m->markers_left == 0) complete(*m, fx);
        }
        run(fx);
    }

    void complete(meta& m, effects& fx) {
        values next = m.cur;
        next.state = m.cur.state == txn_state::prepare_commit ? txn_state::complete_commit : txn_state::complete_abort;
        next.partitions.clear();
        next.update_ms = b_.wall_ms();
        persist(m, std::move(next), fx, [this](error_code e, meta* mm, effects& after) {
            // Retried by the timer: the decision stands, only its completion is still to be written.
            if (e != error_code::none && mm) {
                mm->markers_left = 0;
                incomplete_.insert(mm->id);
            }
            (void)after;
        });
    }

    // ---- timers ----

    void abort_timed_out(effects& fx) {
        const auto now = b_.wall_ms();
        for (auto& [id, m] : txns_) {
            if (m->pending || m->cur.state != txn_state::ongoing || !loaded_.count(m->partition)) continue;
            if (m->cur.start_ms >= 0 && m->cur.start_ms + m->cur.timeout_ms < now) fence_and_abort(*m, fx);
        }
    }

    void expire(effects& fx) {
        const auto cutoff = b_.wall_ms() - cfg_.transactional_id_expiration_ms;
        std::vector<meta*> gone;
        for (auto& [id, m] : txns_) {
            const auto st = m->cur.state;
            if (m->pending || !loaded_.count(m->partition)) continue;
            if ((st == txn_state::empty || st == txn_state::complete_commit || st == txn_state::complete_abort) &&
                m->cur.update_ms <= cutoff)
                gone.push_back(m.get());
        }
        for (auto* m : gone) persist(*m, std::nullopt, fx, [](error_code, meta*, effects&) {});
    }

    void timer_loop() {
        std::unique_lock lk(mu_);
        auto next_abort = steady::now() + std::chrono::milliseconds(cfg_.transaction_abort_timed_out_transaction_cleanup_interval_ms);
        auto next_expiry = steady::now() + std::chrono::milliseconds(cfg_.transaction_remove_expired_transaction_cleanup_interval_ms);
        auto next_load = steady::now();
        while (!stopped_) {
            cv_.wait_for(lk, std::chrono::milliseconds(50), [&] { return stopped_; });
            if (stopped_) break;
            effects fx;
            const auto now = steady::now();
            // Every partition this node leads is loaded (and a term that ended dropped): decided
            // transactions found there are finished without waiting for a client, and open ones
            // time out (docs/protocol.md §15.9, §15.10).
            if (now >= next_load) {
                next_load = now + std::chrono::milliseconds(500);
                for (std::int32_t p = 0; p < partitions(); ++p) (void)ensure_partition(p, fx, false);
            }
            for (auto& [id, m] : txns_) {
                if (!m->retry.empty() && now >= m->retry_at) {
                    auto again = std::move(m->retry);
                    m->retry.clear();
                    for (const auto& tp : again) write_marker(*m, tp, fx);
                }
            }
            for (auto it = incomplete_.begin(); it != incomplete_.end();) {
                auto* m = find(*it);
                it = incomplete_.erase(it);
                if (m && !m->pending &&
                    (m->cur.state == txn_state::prepare_commit || m->cur.state == txn_state::prepare_abort))
                    send_markers(*m, fx);
            }
            if (now >= next_abort) {
                next_abort = now + std::chrono::milliseconds(cfg_.transaction_abort_timed_out_transaction_cleanup_interval_ms);
                abort_timed_out(fx);
            }
            if (now >= next_expiry) {
                next_expiry = now + std::chrono::milliseconds(cfg_.transaction_remove_expired_transaction_cleanup_interval_ms);
                expire(fx);
            }
            if (!fx.empty()) {
                lk.unlock();
                run(fx);
                lk.lock();
            }
        }
    }

    Broker& b_;
    const broker_config& cfg_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool stopped_ = false;
    std::map<std::string, std::unique_ptr<meta>> txns_;
    std::map<std::int32_t, leader_epoch> loaded_;
    std::set<std::string> incomplete_; // decided, but the Complete record failed: markers again
    std::thread timer_;
};

} // namespace gregor::txn
