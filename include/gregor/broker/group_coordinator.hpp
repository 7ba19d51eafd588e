// The group coordinator of Kafka's classic consumer-group protocol (docs/groups.md): the group
// state machine (Empty, PreparingRebalance, CompletingRebalance, Stable, Dead) behind JoinGroup,
// SyncGroup, Heartbeat and LeaveGroup, committed offsets behind OffsetCommit and OffsetFetch, and
// ListGroups, DescribeGroups, DeleteGroups and OffsetDelete (docs/protocol.md §16).
//
// Durability is Kafka's: every committed offset and every group's metadata is a record in the
// internal topic `__consumer_offsets` (key and value formats of wire/group_records.hpp), in the
// partition the group's name hashes to. A group's coordinator is that partition's leader; when
// this node starts leading it (at start, or after a failover in a cluster), it replays the
// partition before answering for its groups (COORDINATOR_LOAD_IN_PROGRESS is never needed: the
// replay runs on the request's own worker thread). A commit is answered only once its record is
// in the log with acks=all, and only then does OffsetFetch see it.
//
// Nothing here blocks an event loop: JoinGroup and SyncGroup park their responder (a callback)
// until the rebalance completes or a timer fires; the timers (session, join, sync, the initial
// rebalance delay) run on the coordinator's own thread.
//
// Thread-safety: every public function may be called from any thread. Callbacks run without the
// coordinator's lock held, on the calling thread, the timer thread or the thread that completed an
// append.
#pragma once

#include <gregor/broker/broker_config.hpp>
#include <gregor/broker/partition.hpp>
#include <gregor/core/buffer.hpp>
#include <gregor/core/error.hpp>
#include <gregor/core/strong_types.hpp>
#include <gregor/detail/unique_function.hpp>
#include <gregor/storage/read_result.hpp>
#include <gregor/wire/consumer_protocol.hpp>
#include <gregor/wire/group_records.hpp>
#include <gregor/wire/record_batch.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace gregor::groups {

enum class group_state : std::uint8_t { empty, preparing_rebalance, completing_rebalance, stable, dead };

/// Kafka's names, as ListGroups and DescribeGroups print them.
constexpr std::string_view to_string(group_state s) noexcept {
    switch (s) {
    case group_state::empty: return "Empty";
    case group_state::preparing_rebalance: return "PreparingRebalance";
    case group_state::completing_rebalance: return "CompletingRebalance";
    case group_state::stable: return "Stable";
    case group_state::dead: return "Dead";
    }
    return "Unknown";
}

/// The internal topic's name.
inline constexpr std::string_view offsets_topic = "__consumer_offsets";

struct protocol {
    std::string name;
    std::string metadata; // opaque: a consumer-protocol subscription for protocol type "consumer"
};

struct join_request {
    std::string group_id;
    std::int32_t session_timeout_ms = 0;
    std::int32_t rebalance_timeout_ms = -1; // v0: the session timeout
    std::string member_id;
    std::optional<std::string> group_instance_id;
    std::string protocol_type;
    std::vector<protocol> protocols;
    std::string client_id;
    std::string client_host;
    bool require_known_member_id = false; // JoinGroup v4+ (KIP-394)
    bool supports_skip_assignment = false; // v9+
};

struct join_member {
    std::string member_id;
    std::optional<std::string> group_instance_id;
    std::string metadata;
};

struct join_result {
    error_code error = error_code::none;
    std::int32_t generation_id = -1;
    std::optional<std::string> protocol_type;
    std::optional<std::string> protocol_name;
    std::string leader;
    bool skip_assignment = false;
    std::string member_id;
    std::vector<join_member> members; // the leader's answer only
};

struct sync_request {
    std::string group_id;
    std::int32_t generation_id = -1;
    std::string member_id;
    std::optional<std::string> group_instance_id;
    std::optional<std::string> protocol_type; // v5+
    std::optional<std::string> protocol_name; // v5+
    std::vector<std::pair<std::string, std::string>> assignments; // the leader's: member id, bytes
};

struct sync_result {
    error_code error = error_code::none;
    std::optional<std::string> protocol_type;
    std::optional<std::string> protocol_name;
    std::string assignment;
};

struct leave_member {
    std::string member_id;
    std::optional<std::string> group_instance_id;
    error_code error = error_code::none; // the answer
};

struct commit_partition {
    std::string topic;
    std::int32_t partition = 0;
    std::int64_t offset = 0;
    std::int32_t leader_epoch = -1;
    std::optional<std::string> metadata;
    error_code error = error_code::none; // the answer
};

struct commit_request {
    std::string group_id;
    std::int32_t generation_id = -1;
    std::string member_id;
    std::optional<std::string> group_instance_id;
    std::int64_t retention_ms = -1;   // v2-v4; -1 = offsets.retention.minutes
    std::int64_t commit_timestamp = -1; // v1; -1 = now
    std::vector<commit_partition> partitions;
};

/// TxnOffsetCommit: offsets a transaction commits (docs/protocol.md §15.7); they become the
/// group's only when the transaction's COMMIT marker reaches the group's partition.
struct txn_commit_request {
    commit_request commit; // retention_ms and commit_timestamp unused
    std::string transactional_id;
    producer_id pid{-1};
    producer_epoch epoch{-1};
};

struct fetched_offset {
    std::string topic;
    std::int32_t partition = 0;
    std::int64_t offset = -1;
    std::int32_t leader_epoch = -1;
    std::string metadata;
    error_code error = error_code::none;
};

struct fetch_offsets_result {
    error_code error = error_code::none;
    std::vector<fetched_offset> offsets;
};

struct listed_group {
    std::string group_id;
    std::string protocol_type;
    group_state state = group_state::empty;
};

struct described_member {
    std::string member_id;
    std::optional<std::string> group_instance_id;
    std::string client_id;
    std::string client_host;
    std::string metadata;
    std::string assignment;
};

struct described_group {
    error_code error = error_code::none;
    std::string group_id;
    group_state state = group_state::dead;
    std::string protocol_type;
    std::string protocol_data;
    std::vector<described_member> members;
};

/// Where a group's records live: `__consumer_offsets` partition abs(hashCode(group)) % n.
inline std::int32_t partition_for(std::string_view group, std::int32_t partitions) {
    return wire::group_records::partition_for(group, partitions);
}

/// The coordinator for one broker. `Broker` provides find_partition(topic, p) (a partition with
/// is_leader(), current_leader_epoch() and read(from, max, isolation, to_log_end)),
/// produce_async(), wall_ms() and config().
template <typename Broker>
class coordinator {
    using steady = std::chrono::steady_clock;

public:
    explicit coordinator(Broker& b) : b_(b), cfg_(b.config()), rng_(std::random_device{}()) {
        timer_ = std::thread([this] { timer_loop(); });
    }
    coordinator(const coordinator&) = delete;
    coordinator& operator=(const coordinator&) = delete;
    ~coordinator() { stop(); }

    /// Answers everything parked (NOT_COORDINATOR: clients find the coordinator again) and stops
    /// the timers.
    void stop() {
        effects fx;
        {
            std::lock_guard lk(mu_);
            if (stopped_) return;
            stopped_ = true;
            for (auto& [id, g] : groups_) fail_parked(*g, error_code::not_coordinator, fx);
        }
        cv_.notify_all();
        if (timer_.joinable()) timer_.join();
        run(fx);
        effects owed;
        {
            std::lock_guard lk(mu_);
            owed = std::move(deferred_);
        }
        run(owed);
    }

    [[nodiscard]] std::int32_t partitions() const noexcept { return cfg_.offsets_topic_num_partitions; }

    // ---- JoinGroup / SyncGroup / Heartbeat / LeaveGroup (docs/groups.md; wire: docs/protocol.md §16.1) ----

    void join(join_request req, detail::unique_function<void(join_result)> done) {
        effects fx;
        {
            std::unique_lock lk(mu_);
            join_locked(std::move(req), std::move(done), fx, lk);
        }
        run(fx);
    }

    void sync(sync_request req, detail::unique_function<void(sync_result)> done) {
        effects fx;
        {
            std::unique_lock lk(mu_);
            sync_locked(std::move(req), std::move(done), fx, lk);
        }
        run(fx);
    }

    error_code heartbeat(const std::string& group_id, std::int32_t generation, const std::string& member_id,
                         const std::optional<std::string>& instance_id) {
        std::unique_lock lk(mu_);
        if (auto e = check_group_id(group_id); e != error_code::none) return e;
        if (auto e = ensure_loaded(group_id, lk); e != error_code::none) return e;
        auto* g = find(group_id);
        if (!g) return error_code::unknown_member_id;
        if (g->state == group_state::dead) return error_code::coordinator_not_available;
        if (auto e = check_member(*g, member_id, instance_id); e != error_code::none) return e;
        if (generation != g->generation) return error_code::illegal_generation;
        switch (g->state) {
        case group_state::empty: return error_code::unknown_member_id;
        case group_state::preparing_rebalance:
            touch(*g, member_id);
            return error_code::rebalance_in_progress;
        default: touch(*g, member_id); return error_code::none;
        }
    }

    /// LeaveGroup: fills each member's error; returns the top-level error.
    error_code leave(const std::string& group_id, std::vector<leave_member>& members) {
        effects fx;
        error_code top = error_code::none;
        {
            std::unique_lock lk(mu_);
            top = check_group_id(group_id);
            if (top == error_code::none) top = ensure_loaded(group_id, lk);
            if (top == error_code::none) {
                auto* g = find(group_id);
                if (!g) {
                    for (auto& m : members) m.error = error_code::unknown_member_id;
                } else if (g->state == group_state::dead) {
                    top = error_code::coordinator_not_available;
                } else {
                    for (auto& m : members) m.error = leave_one(*g, m, fx);
                }
            }
        }
        run(fx);
        return top;
    }

    // ---- OffsetCommit / OffsetFetch (docs/groups.md; wire: docs/protocol.md §16.2) ----

    /// Answers `done` with each partition's error once the commit is in the log (or refused).
    void commit(commit_request req, detail::unique_function<void(std::vector<commit_partition>)> done) {
        effects fx;
        {
            std::unique_lock lk(mu_);
            commit_locked(std::move(req), std::move(done), fx, lk);
        }
        run(fx);
    }

    /// `topics` nullopt: every partition with a committed offset.
    fetch_offsets_result fetch_offsets(const std::string& group_id,
                                       const std::optional<std::vector<std::pair<std::string, std::vector<std::int32_t>>>>& topics,
                                       bool require_stable = false) {
        std::unique_lock lk(mu_);
        fetch_offsets_result out;
        if (auto e = ensure_loaded(group_id, lk); e != error_code::none) {
            out.error = e;
            return out;
        }
        const auto* g = find(group_id);
        if (!topics) {
            if (g)
                for (const auto& [tp, c] : g->offsets) {
                    if (require_stable && g->pending_in_txn(tp))
                        out.offsets.push_back({tp.first, tp.second, -1, -1, {}, error_code::unstable_offset_commit});
                    else
                        out.offsets.push_back({tp.first, tp.second, c.offset, c.leader_epoch, c.metadata, error_code::none});
                }
            return out;
        }
        for (const auto& [t, parts] : *topics)
            for (const auto p : parts) {
                fetched_offset f{t, p, -1, -1, {}, error_code::none};
                if (require_stable && g && g->pending_in_txn({t, p})) f.error = error_code::unstable_offset_commit;
                if (g && g->state != group_state::dead)
                    if (auto it = g->offsets.find({t, p}); it != g->offsets.end()) {
                        f.offset = it->second.offset;
                        f.leader_epoch = it->second.leader_epoch;
                        f.metadata = it->second.metadata;
                    }
                out.offsets.push_back(std::move(f));
            }
        return out;
    }

    /// TxnOffsetCommit: answers each partition's error once the transactional offset records are
    /// in the log; until the marker they are pending (OffsetFetch with require_stable sees
    /// UNSTABLE_OFFSET_COMMIT for them, without it the previous committed offset).
    void txn_commit(txn_commit_request req, detail::unique_function<void(std::vector<commit_partition>)> done) {
        effects fx;
        {
            std::unique_lock lk(mu_);
            commit_locked(std::move(req.commit), std::move(done), fx, lk, txn_stamp{req.pid, req.epoch});
        }
        run(fx);
    }

    /// A transaction marker of `pid` was written to `__consumer_offsets` partition `p`: its
    /// pending offsets become committed (commit) or are dropped (abort).
    void complete_txn(std::int32_t p, producer_id pid, bool commit) {
        std::lock_guard lk(mu_);
        apply_marker(p, pid, commit);
    }

    // ---- ListGroups / DescribeGroups / DeleteGroups / OffsetDelete (docs/groups.md) ----

    std::vector<listed_group> list() {
        std::unique_lock lk(mu_);
        load_all(lk);
        std::vector<listed_group> out;
        for (const auto& [id, g] : groups_)
            if (g->state != group_state::dead && leads(g->partition))
                out.push_back({id, g->protocol_type, g->state});
        return out;
    }

    described_group describe(const std::string& group_id) {
        std::unique_lock lk(mu_);
        described_group d;
        d.group_id = group_id;
        if (auto e = ensure_loaded(group_id, lk); e != error_code::none) {
            d.error = e;
            return d;
        }
        const auto* g = find(group_id);
        if (!g) return d; // NONE, "Dead", nothing else: Kafka's answer for an unknown group
        d.state = g->state;
        d.protocol_type = g->protocol_type;
        const bool stable = g->state == group_state::stable;
        if (stable && g->protocol) d.protocol_data = *g->protocol;
        for (const auto& id : g->order) {
            const auto& m = g->members.at(id);
            described_member dm{m.id, m.instance_id, m.client_id, m.client_host, {}, {}};
            if (stable) {
                dm.metadata = m.metadata_for(g->protocol.value_or(""));
                dm.assignment = m.assignment;
            }
            d.members.push_back(std::move(dm));
        }
        return d;
    }

    /// The offsets.retention.minutes check now (the timer runs it every
    /// offsets.retention.check.interval.ms): the groups this node coordinates are loaded first.
    void expire_offsets_now() {
        effects fx;
        {
            std::unique_lock lk(mu_);
            if (stopped_) return;
            load_all(lk);
            expire_offsets(fx);
        }
        run(fx);
    }

    /// DeleteGroups: each group's error in `done`, once its tombstones are written.
    void delete_groups(std::vector<std::string> names,
                       detail::unique_function<void(std::vector<std::pair<std::string, error_code>>)> done) {
        effects fx;
        {
            std::unique_lock lk(mu_);
            auto results = std::make_shared<std::vector<std::pair<std::string, error_code>>>();
            std::map<std::int32_t, std::vector<tombstone>> writes;
            for (auto& n : names) {
                auto e = check_group_id(n, true);
                if (e == error_code::none) e = ensure_loaded(n, lk);
                auto* g = e == error_code::none ? find(n) : nullptr;
                if (e == error_code::none && (!g || g->state == group_state::dead)) e = error_code::group_id_not_found;
                if (e == error_code::none && g->state != group_state::empty) e = error_code::non_empty_group;
                if (e == error_code::none) {
                    auto& w = writes[g->partition];
                    for (const auto& [tp, c] : g->offsets) w.push_back({n, tp.first, tp.second});
                    w.push_back({n, {}, -1});
                    g->state = group_state::dead;
                    groups_.erase(n);
                }
                results->emplace_back(std::move(n), e);
            }
            auto shared_done = std::make_shared<detail::unique_function<void(std::vector<std::pair<std::string, error_code>>)>>(
                    std::move(done));
            auto left = std::make_shared<std::size_t>(writes.size());
            if (writes.empty()) {
                fx.push_back([shared_done, results] { (*shared_done)(std::move(*results)); });
            } else {
                for (auto& [p, ts] : writes)
                    write(p, tombstones_batch(ts), fx, [this, shared_done, results, left](error_code) {
                        std::size_t remaining;
                        {
                            std::lock_guard lk2(mu_);
                            remaining = --*left;
                        }
                        // A tombstone that could not be written leaves the group deleted here;
                        // a restart may bring it back, as after a crash before the write.
                        if (remaining == 0) (*shared_done)(std::move(*results));
                    });
            }
        }
        run(fx);
    }

    /// OffsetDelete: the top-level error and each partition's, in `done`.
    void delete_offsets(const std::string& group_id, std::vector<std::pair<std::string, std::vector<std::int32_t>>> topics,
                        detail::unique_function<void(error_code, std::vector<std::pair<std::string, std::vector<std::pair<std::int32_t, error_code>>>>)>
                                done) {
        using answer = std::vector<std::pair<std::string, std::vector<std::pair<std::int32_t, error_code>>>>;
        effects fx;
        {
            std::unique_lock lk(mu_);
            auto e = check_group_id(group_id);
            if (e == error_code::none) e = ensure_loaded(group_id, lk);
            auto* g = e == error_code::none ? find(group_id) : nullptr;
            if (e == error_code::none && (!g || g->state == group_state::dead)) e = error_code::group_id_not_found;
            if (e == error_code::none && g->state != group_state::empty && g->protocol_type != "consumer")
                e = error_code::non_empty_group;
            if (e != error_code::none) {
                lk.unlock();
                return done(e, answer{});
            }
            const auto subscribed = g->state == group_state::empty ? std::set<std::string>{} : g->subscribed_topics();
            answer out;
            std::vector<tombstone> ts;
            for (auto& [t, parts] : topics) {
                auto& row = out.emplace_back(t, std::vector<std::pair<std::int32_t, error_code>>{});
                for (const auto p : parts) {
                    if (subscribed.count(t)) {
                        row.second.emplace_back(p, error_code::group_subscribed_to_topic);
                        continue;
                    }
                    if (g->offsets.erase({t, p})) ts.push_back({group_id, t, p});
                    row.second.emplace_back(p, error_code::none);
                }
            }
            auto shared = std::make_shared<decltype(done)>(std::move(done));
            auto res = std::make_shared<answer>(std::move(out));
            if (ts.empty())
                fx.push_back([shared, res] { (*shared)(error_code::none, std::move(*res)); });
            else
                write(g->partition, tombstones_batch(ts), fx,
                      [shared, res](error_code) { (*shared)(error_code::none, std::move(*res)); });
        }
        run(fx);
    }

private:
    using effects = std::vector<std::function<void()>>;

    struct committed {
        std::int64_t offset = -1;
        std::int32_t leader_epoch = -1;
        std::string metadata;
        std::int64_t commit_ms = 0;
        std::int64_t expire_ms = -1;
    };

    struct member {
        std::string id;
        std::optional<std::string> instance_id;
        std::string client_id;
        std::string client_host;
        std::int32_t session_timeout_ms = 0;
        std::int32_t rebalance_timeout_ms = 0;
        std::string protocol_type;
        std::vector<protocol> protocols;
        std::string assignment;
        detail::unique_function<void(join_result)> awaiting_join;
        detail::unique_function<void(sync_result)> awaiting_sync;
        steady::time_point session_deadline{};
        bool is_new = false;

        [[nodiscard]] std::string metadata_for(const std::string& name) const {
            for (const auto& p : protocols)
                if (p.name == name) return p.metadata;
            return {};
        }
        [[nodiscard]] bool same_protocols(const std::vector<protocol>& ps) const {
            if (ps.size() != protocols.size()) return false;
            for (std::size_t i = 0; i < ps.size(); ++i)
                if (ps[i].name != protocols[i].name || ps[i].metadata != protocols[i].metadata) return false;
            return true;
        }
    };

    struct group {
        std::string id;
        std::int32_t partition = 0;
        group_state state = group_state::empty;
        std::int32_t generation = 0;
        std::string protocol_type;
        std::optional<std::string> protocol;
        std::optional<std::string> leader;
        std::int64_t state_ms = 0; // when the state last changed (wall clock), for expiry
        std::map<std::string, member> members;
        std::vector<std::string> order; // member ids in the order they joined
        std::map<std::string, std::string> static_members; // instance id -> member id
        std::map<std::string, steady::time_point> pending;  // KIP-394 ids handed out, not joined yet
        std::map<std::pair<std::string, std::int32_t>, committed> offsets;
        // Offsets of open transactions, per producer id (TxnOffsetCommit before its marker).
        std::map<std::int64_t, std::map<std::pair<std::string, std::int32_t>, committed>> txn_offsets;
        std::optional<steady::time_point> join_deadline;
        steady::time_point join_limit{}; // the initial delay never runs past the rebalance timeout
        bool initial_delay = false;
        std::optional<steady::time_point> sync_deadline;

        [[nodiscard]] bool has(const std::string& m) const { return members.count(m) != 0; }
        [[nodiscard]] bool pending_in_txn(const std::pair<std::string, std::int32_t>& tp) const {
            for (const auto& [pid, offs] : txn_offsets)
                if (offs.count(tp)) return true;
            return false;
        }
        [[nodiscard]] std::set<std::string> subscribed_topics() const {
            std::set<std::string> out;
            if (protocol_type != "consumer" || !protocol) return out;
            for (const auto& [id, m] : members) {
                const auto md = m.metadata_for(*protocol);
                if (auto s = wire::consumer_protocol::decode_subscription(as_bytes(md), wire::consumer_protocol::decode_mode::lenient))
                    for (const auto& t : s->topics) out.insert(std::string(t));
            }
            return out;
        }
        [[nodiscard]] std::int32_t rebalance_timeout_ms() const {
            std::int32_t t = 0;
            for (const auto& [id, m] : members) t = std::max(t, m.rebalance_timeout_ms);
            return t;
        }
    };

    struct tombstone {
        std::string group;
        std::string topic; // "" with partition -1: the group's metadata record
        std::int32_t partition = -1;
    };

    static bytes_view as_bytes(const std::string& s) noexcept {
        return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
    }

    // The producer a transactional offset commit is written as.
    struct txn_stamp {
        producer_id pid{-1};
        producer_epoch epoch{-1};
    };

    void apply_marker(std::int32_t p, producer_id pid, bool commit) {
        for (auto& [id, g] : groups_) {
            if (g->partition != p) continue;
            const auto it = g->txn_offsets.find(pid.value());
            if (it == g->txn_offsets.end()) continue;
            if (commit)
                for (auto& [tp, c] : it->second) g->offsets[tp] = std::move(c);
            g->txn_offsets.erase(it);
        }
    }
    static std::string as_string(bytes_view b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

    static void run(effects& fx) {
        for (auto& f : fx) f();
        fx.clear();
    }

    // ---- validation and loading ----

    /// Kafka accepts an empty group id in OffsetCommit, OffsetFetch, DescribeGroups and
    /// DeleteGroups (old clients' "no group"), and in nothing else.
    static error_code check_group_id(const std::string& id, bool empty_ok = false) {
        return id.empty() && !empty_ok ? error_code::invalid_group_id : error_code::none;
    }

    group* find(const std::string& id) {
        auto it = groups_.find(id);
        return it == groups_.end() ? nullptr : it->second.get();
    }

    bool leads(std::int32_t p) {
        auto* part = b_.find_partition(offsets_topic, partition_id{p});
        return part && part->is_leader();
    }

    /// Is this node the group's coordinator, with its partition replayed? Replays it when this
    /// node has begun leading it since the last replay (dropping what an earlier term left).
    error_code ensure_loaded(const std::string& group_id, std::unique_lock<std::mutex>& lk) {
        if (stopped_) return error_code::not_coordinator;
        return ensure_partition(partition_for(group_id, partitions()), lk);
    }

    error_code ensure_partition(std::int32_t p, std::unique_lock<std::mutex>& lk) {
        auto* part = b_.find_partition(offsets_topic, partition_id{p});
        // A client that commits before it ever asked FindCoordinator (a single broker only; in a
        // cluster FindCoordinator has the controller create the topic).
        if (!part && b_.ensure_offsets_topic() == error_code::none) part = b_.find_partition(offsets_topic, partition_id{p});
        if (!part) return error_code::coordinator_not_available;
        if (!part->is_leader()) {
            unload(p);
            return error_code::not_coordinator;
        }
        const auto epoch = part->current_leader_epoch();
        if (auto it = loaded_.find(p); it != loaded_.end() && it->second == epoch) return error_code::none;
        unload(p);
        // The replay reads the log; other callers wait for it on the lock (the handlers run on
        // the server's worker thread, never on its event loop).
        (void)lk;
        replay(p);
        loaded_[p] = epoch;
        return error_code::none;
    }

    void load_all(std::unique_lock<std::mutex>& lk) {
        for (std::int32_t p = 0; p < partitions(); ++p) (void)ensure_partition(p, lk);
    }

    void unload(std::int32_t p) {
        if (!loaded_.erase(p)) return;
        effects fx;
        for (auto it = groups_.begin(); it != groups_.end();) {
            if (it->second->partition == p) {
                fail_parked(*it->second, error_code::not_coordinator, fx);
                it = groups_.erase(it);
            } else {
                ++it;
            }
        }
        deferred_.insert(deferred_.end(), std::make_move_iterator(fx.begin()), std::make_move_iterator(fx.end()));
    }

    group& group_for(const std::string& id) {
        auto& slot = groups_[id];
        if (!slot) {
            slot = std::make_unique<group>();
            slot->id = id;
            slot->partition = partition_for(id, partitions());
            slot->state_ms = b_.wall_ms();
        }
        return *slot;
    }

    /// Rebuilds the groups and offsets of partition `p` from its records: the last value per key
    /// wins, a tombstone deletes (docs/protocol.md §16.3).
    void replay(std::int32_t p) {
        auto* part = b_.find_partition(offsets_topic, partition_id{p});
        if (!part) return;
        broker_detail::replay_partition(*part, [&](const wire::batch_view& v, offset from) {
            const auto h = v.header();
            if (h.is_control()) {
                for (const auto& rec : v)
                    if (const auto c = wire::parse_control_record(rec))
                        apply_marker(p, h.producer_id, c->type == wire::control_type::commit);
                return;
            }
            const auto txn = h.is_transactional() ? std::optional<producer_id>(h.producer_id) : std::nullopt;
            for (const auto& rec : v) {
                if (rec.record_offset < from || !rec.key) continue;
                apply_record(p, *rec.key, rec.value, txn);
            }
        });
        // Groups that ended up with no members and no offsets are gone.
        for (auto it = groups_.begin(); it != groups_.end();) {
            auto& g = *it->second;
            if (g.partition == p && g.members.empty() && g.offsets.empty() && g.txn_offsets.empty() &&
                g.protocol_type.empty())
                it = groups_.erase(it);
            else
                ++it;
        }
    }

    void apply_record(std::int32_t p, bytes_view key, std::optional<bytes_view> value,
                      std::optional<producer_id> txn = std::nullopt) {
        namespace gr = wire::group_records;
        auto k = gr::decode_key(key);
        if (!k) return;
        if (auto* ok = std::get_if<gr::offset_commit_key>(&*k)) {
            const std::string gid(ok->group);
            if (!value) {
                if (auto* g = find(gid)) g->offsets.erase({std::string(ok->topic), ok->partition});
                return;
            }
            auto v = gr::decode_offset_commit_value(*value);
            if (!v) return;
            auto& g = group_for(gid);
            g.partition = p;
            auto& into = txn ? g.txn_offsets[txn->value()] : g.offsets;
            into[{std::string(ok->topic), ok->partition}] =
                    committed{v->offset, v->leader_epoch, std::string(v->metadata), v->commit_timestamp, v->expire_timestamp};
            return;
        }
        if (auto* gk = std::get_if<gr::group_metadata_key>(&*k)) {
            const std::string gid(gk->group);
            if (!value) {
                groups_.erase(gid);
                return;
            }
            auto v = gr::decode_group_metadata_value(*value);
            if (!v) return;
            auto& g = group_for(gid);
            g.partition = p;
            g.protocol_type = std::string(v->protocol_type);
            g.generation = v->generation;
            g.protocol = v->protocol ? std::optional<std::string>(std::string(*v->protocol)) : std::nullopt;
            g.leader = v->leader ? std::optional<std::string>(std::string(*v->leader)) : std::nullopt;
            g.state_ms = v->current_state_timestamp >= 0 ? v->current_state_timestamp : b_.wall_ms();
            g.members.clear();
            g.order.clear();
            g.static_members.clear();
            const auto now = steady::now();
            for (const auto& mm : v->members) {
                member m;
                m.id = std::string(mm.member_id);
                if (mm.group_instance_id) m.instance_id = std::string(*mm.group_instance_id);
                m.client_id = std::string(mm.client_id);
                m.client_host = std::string(mm.client_host);
                m.session_timeout_ms = mm.session_timeout;
                m.rebalance_timeout_ms = mm.rebalance_timeout >= 0 ? mm.rebalance_timeout : mm.session_timeout;
                m.protocol_type = g.protocol_type;
                if (g.protocol) m.protocols.push_back({*g.protocol, as_string(mm.subscription)});
                m.assignment = as_string(mm.assignment);
                m.session_deadline = now + std::chrono::milliseconds(m.session_timeout_ms);
                if (m.instance_id) g.static_members[*m.instance_id] = m.id;
                g.order.push_back(m.id);
                g.members.emplace(m.id, std::move(m));
            }
            // A loaded group with members is Stable (Kafka's rule): members that are gone time
            // out, the others carry on with their assignment.
            g.state = g.members.empty() ? group_state::empty : group_state::stable;
        }
    }

    // ---- writes to __consumer_offsets ----

    template <typename Done>
    void write(std::int32_t p, byte_buffer batch, effects& fx, Done&& done) {
        auto buf = std::make_shared<byte_buffer>(std::move(batch));
        fx.push_back([this, p, buf, done = std::forward<Done>(done)]() mutable {
            b_.produce_async(offsets_topic, partition_id{p}, buf->mutable_view(), std::int16_t{-1},
                             std::chrono::milliseconds(cfg_.offsets_commit_timeout_ms), false,
                             [buf, done = std::move(done)](auto r) mutable { done(commit_error(r.error)); });
        });
    }

    /// Kafka's conversion of an append error into what a group client understands.
    static error_code commit_error(error_code e) {
        switch (e) {
        case error_code::none: return e;
        case error_code::unknown_topic_or_partition:
        case error_code::not_enough_replicas:
        case error_code::not_enough_replicas_after_append: return error_code::coordinator_not_available;
        case error_code::not_leader_or_follower:
        case error_code::kafka_storage_error: return error_code::not_coordinator;
        case error_code::message_too_large:
        case error_code::record_list_too_large:
        case error_code::invalid_fetch_size: return error_code::invalid_commit_offset_size;
        case error_code::request_timed_out: return error_code::request_timed_out;
        default: return error_code::unknown_server_error;
        }
    }

    byte_buffer tombstones_batch(const std::vector<tombstone>& ts) {
        namespace gr = wire::group_records;
        wire::batch_builder bb(256);
        const auto now = b_.wall_ms();
        for (const auto& t : ts) {
            const auto key = t.partition < 0 ? gr::encode_group_metadata_key(t.group)
                                             : gr::encode_offset_commit_key(t.group, t.topic, t.partition);
            bb.append(now, bytes_view{key.view()}, std::nullopt);
        }
        return bb.seal();
    }

    byte_buffer group_batch(const group& g) {
        namespace gr = wire::group_records;
        gr::group_metadata_value v;
        v.protocol_type = g.protocol_type;
        v.generation = g.generation;
        if (g.protocol) v.protocol = *g.protocol;
        if (g.leader) v.leader = *g.leader;
        v.current_state_timestamp = g.state_ms;
        std::vector<std::string> subs;
        subs.reserve(g.order.size());
        for (const auto& id : g.order) subs.push_back(g.members.at(id).metadata_for(g.protocol.value_or("")));
        std::size_t i = 0;
        for (const auto& id : g.order) {
            const auto& m = g.members.at(id);
            gr::group_member_metadata mm;
            mm.member_id = m.id;
            if (m.instance_id) mm.group_instance_id = *m.instance_id;
            mm.client_id = m.client_id;
            mm.client_host = m.client_host;
            mm.rebalance_timeout = m.rebalance_timeout_ms;
            mm.session_timeout = m.session_timeout_ms;
            mm.subscription = as_bytes(subs[i++]);
            mm.assignment = as_bytes(m.assignment);
            v.members.push_back(mm);
        }
        const auto key = gr::encode_group_metadata_key(g.id);
        const auto value = gr::encode_group_metadata_value(v, 3);
        wire::batch_builder bb(256);
        bb.append(b_.wall_ms(), bytes_view{key.view()}, bytes_view{value.view()});
        return bb.seal();
    }

    // ---- the state machine ----

    error_code check_member(const group& g, const std::string& member_id, const std::optional<std::string>& instance) const {
        if (instance) {
            auto it = g.static_members.find(*instance);
            if (it == g.static_members.end()) return error_code::unknown_member_id;
            if (it->second != member_id) return error_code::fenced_instance_id;
            return error_code::none;
        }
        return g.has(member_id) ? error_code::none : error_code::unknown_member_id;
    }

    void touch(group& g, const std::string& member_id) {
        if (auto it = g.members.find(member_id); it != g.members.end())
            it->second.session_deadline = steady::now() + std::chrono::milliseconds(it->second.session_timeout_ms);
    }

    std::string new_member_id(const join_request& req) {
        static constexpr char hex[] = "0123456789abcdef";
        std::uniform_int_distribution<int> d(0, 15);
        std::string u(36, '-');
        for (std::size_t i = 0; i < u.size(); ++i)
            if (i != 8 && i != 13 && i != 18 && i != 23) u[i] = hex[d(rng_)];
        u[14] = '4';
        return (req.group_instance_id ? *req.group_instance_id : req.client_id) + "-" + u;
    }

    template <typename Result>
    static void answer(effects& fx, detail::unique_function<void(Result)>& fn, Result r) {
        fx.push_back([d = std::make_shared<detail::unique_function<void(Result)>>(std::move(fn)), r = std::move(r)]() mutable {
            (*d)(std::move(r));
        });
    }
    static void answer_join(effects& fx, detail::unique_function<void(join_result)>& fn, join_result r) {
        answer(fx, fn, std::move(r));
    }
    static void answer_sync(effects& fx, detail::unique_function<void(sync_result)>& fn, sync_result r) {
        answer(fx, fn, std::move(r));
    }
    static sync_result sync_error(error_code e) {
        sync_result r;
        r.error = e;
        return r;
    }

    static join_result join_error(error_code e, std::string member_id = {}) {
        join_result r;
        r.error = e;
        r.member_id = std::move(member_id);
        return r;
    }

    void join_locked(join_request req, detail::unique_function<void(join_result)> done, effects& fx,
                     std::unique_lock<std::mutex>& lk) {
        auto fail = [&](error_code e) { answer_join(fx, done, join_error(e, req.member_id)); };
        if (auto e = check_group_id(req.group_id); e != error_code::none) return fail(e);
        if (auto e = ensure_loaded(req.group_id, lk); e != error_code::none) return fail(e);
        if (req.session_timeout_ms < cfg_.group_min_session_timeout_ms ||
            req.session_timeout_ms > cfg_.group_max_session_timeout_ms)
            return fail(error_code::invalid_session_timeout);
        if (req.rebalance_timeout_ms < 0) req.rebalance_timeout_ms = req.session_timeout_ms;
        auto* existing = find(req.group_id);
        if (!existing && !req.member_id.empty()) return fail(error_code::unknown_member_id);
        auto& g = existing ? *existing : group_for(req.group_id);
        if (g.state == group_state::dead) return fail(error_code::coordinator_not_available);
        const bool known = !req.member_id.empty() && (g.has(req.member_id) || g.pending.count(req.member_id));
        if (!known && static_cast<std::int64_t>(g.members.size() + g.pending.size()) >= cfg_.group_max_size)
            return fail(error_code::group_max_size_reached);
        if (!protocols_ok(g, req)) return fail(error_code::inconsistent_group_protocol);

        if (req.member_id.empty()) {
            const auto id = new_member_id(req);
            if (req.group_instance_id) {
                auto it = g.static_members.find(*req.group_instance_id);
                if (it != g.static_members.end() && g.has(it->second)) {
                    replace_static(g, it->second, id, req, std::move(done), fx);
                    return;
                }
                add_member(g, id, std::move(req), std::move(done), fx);
                return;
            }
            if (req.require_known_member_id) {
                g.pending[id] = steady::now() + std::chrono::milliseconds(req.session_timeout_ms);
                answer_join(fx, done, join_error(error_code::member_id_required, id));
                arm_timer();
                return;
            }
            add_member(g, id, std::move(req), std::move(done), fx);
            return;
        }
        if (g.pending.erase(req.member_id)) {
            const auto id = req.member_id;
            add_member(g, id, std::move(req), std::move(done), fx);
            return;
        }
        if (auto e = check_member(g, req.member_id, req.group_instance_id); e != error_code::none) return fail(e);
        auto& m = g.members.at(req.member_id);
        switch (g.state) {
        case group_state::preparing_rebalance:
            update_member(m, req);
            park_join(m, std::move(done), fx);
            maybe_complete_join(g, fx);
            return;
        case group_state::completing_rebalance:
            if (m.same_protocols(req.protocols)) {
                auto r = join_answer(g, m.id);
                answer(fx, done, std::move(r));
                return;
            }
            update_member(m, req);
            park_join(m, std::move(done), fx);
            prepare_rebalance(g, fx);
            return;
        case group_state::stable:
            if (g.leader != m.id && m.same_protocols(req.protocols)) {
                touch(g, m.id);
                auto r = join_answer(g, m.id);
                answer(fx, done, std::move(r));
                return;
            }
            update_member(m, req);
            park_join(m, std::move(done), fx);
            prepare_rebalance(g, fx);
            return;
        default: return fail(error_code::unknown_member_id);
        }
    }

    static bool protocols_ok(const group& g, const join_request& req) {
        if (req.protocol_type.empty() || req.protocols.empty()) return false;
        if (g.members.empty()) return true;
        if (req.protocol_type != g.protocol_type) return false;
        // At least one offered protocol every other member supports too.
        for (const auto& p : req.protocols) {
            bool all = true;
            for (const auto& [id, m] : g.members) {
                if (id == req.member_id) continue;
                if (std::none_of(m.protocols.begin(), m.protocols.end(), [&](const protocol& q) { return q.name == p.name; })) {
                    all = false;
                    break;
                }
            }
            if (all) return true;
        }
        return false;
    }

    void update_member(member& m, const join_request& req) {
        m.protocols = req.protocols;
        m.protocol_type = req.protocol_type;
        m.session_timeout_ms = req.session_timeout_ms;
        m.rebalance_timeout_ms = req.rebalance_timeout_ms;
        m.client_id = req.client_id;
        m.client_host = req.client_host;
    }

    void park_join(member& m, detail::unique_function<void(join_result)> done, effects& fx) {
        // A second join replaces the first: the first learns it is stale.
        if (m.awaiting_join) answer_join(fx, m.awaiting_join, join_error(error_code::rebalance_in_progress, m.id));
        m.awaiting_join = std::move(done);
    }

    void add_member(group& g, const std::string& id, join_request req, detail::unique_function<void(join_result)> done,
                    effects& fx) {
        member m;
        m.id = id;
        m.instance_id = req.group_instance_id;
        m.is_new = true;
        update_member(m, req);
        m.session_deadline = steady::now() + std::chrono::milliseconds(m.session_timeout_ms);
        if (g.members.empty()) {
            g.protocol_type = req.protocol_type;
            g.leader = id;
        }
        if (m.instance_id) g.static_members[*m.instance_id] = id;
        m.awaiting_join = std::move(done);
        g.order.push_back(id);
        g.members.emplace(id, std::move(m));
        if (g.state == group_state::preparing_rebalance) {
            if (g.initial_delay) extend_initial_delay(g);
            maybe_complete_join(g, fx);
        } else {
            prepare_rebalance(g, fx);
        }
    }

    // old_id by value: it is read after static_members (where the caller found it) is rewritten.
    void replace_static(group& g, const std::string old_id, const std::string& new_id, const join_request& req,
                        detail::unique_function<void(join_result)> done, effects& fx) {
        auto node = g.members.extract(old_id);
        auto& m = node.mapped();
        // The old client's parked requests learn they are fenced.
        if (m.awaiting_join)
            answer_join(fx, m.awaiting_join, join_error(error_code::fenced_instance_id, old_id));
        if (m.awaiting_sync)
            answer_sync(fx, m.awaiting_sync, sync_error(error_code::fenced_instance_id));
        node.key() = new_id;
        m.id = new_id;
        update_member(m, req);
        m.session_deadline = steady::now() + std::chrono::milliseconds(m.session_timeout_ms);
        g.members.insert(std::move(node));
        std::replace(g.order.begin(), g.order.end(), old_id, new_id);
        g.static_members[*req.group_instance_id] = new_id;
        const bool was_leader = g.leader == old_id;
        if (was_leader) g.leader = new_id;
        auto& mm = g.members.at(new_id);
        // Kafka's static rejoin into a Stable group: no rebalance unless the protocol the group
        // would select changes; the current generation and assignment (v9+: the leader is told
        // to skip the assignor; older clients see the old leader's id).
        if (g.state == group_state::stable && g.protocol && select_protocol(g) == *g.protocol) {
            auto r = join_answer(g, new_id);
            if (was_leader) {
                if (req.supports_skip_assignment)
                    r.skip_assignment = true;
                else
                    r.leader = old_id, r.members.clear();
            }
            answer(fx, done, std::move(r));
            persist_group(g, fx, [](error_code) {});
            return;
        }
        mm.awaiting_join = std::move(done);
        if (g.state == group_state::preparing_rebalance)
            maybe_complete_join(g, fx);
        else
            prepare_rebalance(g, fx);
    }

    join_result join_answer(const group& g, const std::string& member_id) const {
        join_result r;
        r.generation_id = g.generation;
        r.protocol_type = g.protocol_type;
        r.protocol_name = g.protocol;
        r.leader = g.leader.value_or("");
        r.member_id = member_id;
        if (g.leader == member_id)
            for (const auto& id : g.order) {
                const auto& m = g.members.at(id);
                r.members.push_back({m.id, m.instance_id, m.metadata_for(g.protocol.value_or(""))});
            }
        return r;
    }

    void fail_parked(group& g, error_code e, effects& fx) {
        for (auto& [id, m] : g.members) {
            if (m.awaiting_join) answer_join(fx, m.awaiting_join, join_error(e, id));
            if (m.awaiting_sync) answer_sync(fx, m.awaiting_sync, sync_error(e));
        }
    }

    void set_state(group& g, group_state s) {
        g.state = s;
        g.state_ms = b_.wall_ms();
    }

    void prepare_rebalance(group& g, effects& fx) {
        if (g.state == group_state::completing_rebalance) {
            // Parked syncs of the generation that will not complete.
            for (auto& [id, m] : g.members)
                if (m.awaiting_sync)
                    answer_sync(fx, m.awaiting_sync, sync_error(error_code::rebalance_in_progress));
        }
        for (auto& [id, m] : g.members) m.assignment.clear();
        const auto now = steady::now();
        const auto rebalance = std::chrono::milliseconds(std::max(g.rebalance_timeout_ms(), 0));
        if (g.state == group_state::empty && cfg_.group_initial_rebalance_delay_ms > 0) {
            g.initial_delay = true;
            g.join_limit = now + rebalance;
            g.join_deadline = std::min(now + std::chrono::milliseconds(cfg_.group_initial_rebalance_delay_ms), g.join_limit);
        } else {
            g.initial_delay = false;
            g.join_deadline = now + rebalance;
        }
        g.sync_deadline.reset();
        set_state(g, group_state::preparing_rebalance);
        arm_timer();
        if (!g.initial_delay) maybe_complete_join(g, fx);
    }

    void extend_initial_delay(group& g) {
        const auto next = steady::now() + std::chrono::milliseconds(cfg_.group_initial_rebalance_delay_ms);
        g.join_deadline = std::min(next, g.join_limit);
        arm_timer();
    }

    /// The join phase ends when every member has rejoined and no id handed out is outstanding
    /// (not during the initial delay, which waits for more members), or when its timer fires.
    void maybe_complete_join(group& g, effects& fx, bool timer_fired = false) {
        if (g.state != group_state::preparing_rebalance) return;
        if (!timer_fired) {
            if (g.initial_delay) return;
            if (!g.pending.empty()) return;
            for (const auto& [id, m] : g.members)
                if (!m.awaiting_join) return;
        }
        complete_join(g, fx);
    }

    void remove_member(group& g, const std::string& id) {
        auto it = g.members.find(id);
        if (it == g.members.end()) return;
        if (it->second.instance_id) {
            auto s = g.static_members.find(*it->second.instance_id);
            if (s != g.static_members.end() && s->second == id) g.static_members.erase(s);
        }
        g.members.erase(it);
        g.order.erase(std::remove(g.order.begin(), g.order.end(), id), g.order.end());
        if (g.leader == id) g.leader = g.order.empty() ? std::nullopt : std::optional<std::string>(g.order.front());
    }

    void complete_join(group& g, effects& fx) {
        // Dynamic members that did not rejoin are gone; static ones keep their place.
        std::vector<std::string> gone;
        for (const auto& [id, m] : g.members)
            if (!m.awaiting_join && !m.instance_id) gone.push_back(id);
        for (const auto& id : gone) remove_member(g, id);
        g.pending.clear();
        if (!g.members.empty() && (!g.leader || !g.members.at(*g.leader).awaiting_join)) {
            for (const auto& id : g.order)
                if (g.members.at(id).awaiting_join) {
                    g.leader = id;
                    break;
                }
        }
        const bool anyone = std::any_of(g.members.begin(), g.members.end(), [](const auto& kv) {
            return static_cast<bool>(kv.second.awaiting_join);
        });
        if (!g.members.empty() && !anyone) { // only absent static members: wait another round
            g.join_deadline = steady::now() + std::chrono::milliseconds(std::max(g.rebalance_timeout_ms(), 1));
            arm_timer();
            return;
        }
        g.join_deadline.reset();
        g.initial_delay = false;
        ++g.generation;
        if (g.members.empty()) {
            g.protocol.reset();
            g.leader.reset();
            set_state(g, group_state::empty);
            persist_group(g, fx, [](error_code) {});
            return;
        }
        g.protocol = select_protocol(g);
        set_state(g, group_state::completing_rebalance);
        const auto now = steady::now();
        for (const auto& id : g.order) {
            auto& m = g.members.at(id);
            m.is_new = false;
            m.session_deadline = now + std::chrono::milliseconds(m.session_timeout_ms);
            if (!m.awaiting_join) continue;
            auto r = join_answer(g, id);
            answer(fx, m.awaiting_join, std::move(r));
        }
        g.sync_deadline = now + std::chrono::milliseconds(std::max(g.rebalance_timeout_ms(), 1));
        arm_timer();
    }

    /// Candidates: protocols every member supports; each member votes for its first candidate;
    /// most votes wins, ties to the one the leader lists first.
    static std::string select_protocol(const group& g) {
        const auto& lead = g.members.at(*g.leader);
        std::vector<std::string> candidates;
        for (const auto& p : lead.protocols) {
            const bool all = std::all_of(g.members.begin(), g.members.end(), [&](const auto& kv) {
                const auto& ps = kv.second.protocols;
                return std::any_of(ps.begin(), ps.end(), [&](const protocol& q) { return q.name == p.name; });
            });
            if (all) candidates.push_back(p.name);
        }
        if (candidates.empty()) return lead.protocols.empty() ? std::string{} : lead.protocols.front().name;
        std::map<std::string, int> votes;
        for (const auto& [id, m] : g.members)
            for (const auto& p : m.protocols)
                if (std::find(candidates.begin(), candidates.end(), p.name) != candidates.end()) {
                    ++votes[p.name];
                    break;
                }
        std::string best = candidates.front();
        for (const auto& c : candidates)
            if (votes[c] > votes[best]) best = c;
        return best;
    }

    void sync_locked(sync_request req, detail::unique_function<void(sync_result)> done, effects& fx,
                     std::unique_lock<std::mutex>& lk) {
        auto fail = [&](error_code e) { answer_sync(fx, done, sync_error(e)); };
        if (auto e = check_group_id(req.group_id); e != error_code::none) return fail(e);
        if (auto e = ensure_loaded(req.group_id, lk); e != error_code::none) return fail(e);
        auto* g = find(req.group_id);
        if (!g) return fail(error_code::unknown_member_id);
        if (g->state == group_state::dead) return fail(error_code::coordinator_not_available);
        if (auto e = check_member(*g, req.member_id, req.group_instance_id); e != error_code::none) return fail(e);
        if (req.generation_id != g->generation) return fail(error_code::illegal_generation);
        if ((req.protocol_type && *req.protocol_type != g->protocol_type) ||
            (req.protocol_name && *req.protocol_name != g->protocol.value_or("")))
            return fail(error_code::inconsistent_group_protocol);
        switch (g->state) {
        case group_state::empty: return fail(error_code::unknown_member_id);
        case group_state::preparing_rebalance: return fail(error_code::rebalance_in_progress);
        case group_state::stable: {
            touch(*g, req.member_id);
            sync_result r;
            r.protocol_type = g->protocol_type;
            r.protocol_name = g->protocol;
            r.assignment = g->members.at(req.member_id).assignment;
            answer(fx, done, std::move(r));
            return;
        }
        default: break;
        }
        auto& m = g->members.at(req.member_id);
        touch(*g, m.id);
        if (m.awaiting_sync) {
            answer_sync(fx, m.awaiting_sync, sync_error(error_code::rebalance_in_progress));
        }
        m.awaiting_sync = std::move(done);
        if (g->leader != m.id) return;
        // The leader's assignment: members it left out get nothing; persisted before anyone learns it.
        for (auto& [id, mm] : g->members) mm.assignment.clear();
        for (auto& [id, bytes] : req.assignments)
            if (auto it = g->members.find(id); it != g->members.end()) it->second.assignment = std::move(bytes);
        const auto generation = g->generation;
        const auto gid = g->id;
        g->sync_deadline.reset();
        persist_group(*g, fx, [this, gid, generation](error_code e) {
            effects fx2;
            {
                std::lock_guard lk2(mu_);
                auto* gg = find(gid);
                if (!gg || gg->generation != generation || gg->state != group_state::completing_rebalance) return;
                // Kafka's mapping of a failed group write for SyncGroup: the members rejoin.
                if (e == error_code::request_timed_out)
                    e = error_code::rebalance_in_progress;
                else if (e == error_code::invalid_commit_offset_size)
                    e = error_code::unknown_server_error;
                if (e == error_code::none) set_state(*gg, group_state::stable);
                for (auto& [id, mm] : gg->members) {
                    if (!mm.awaiting_sync) continue;
                    sync_result r;
                    r.error = e;
                    if (e == error_code::none) {
                        r.protocol_type = gg->protocol_type;
                        r.protocol_name = gg->protocol;
                        r.assignment = mm.assignment;
                    }
                    answer(fx2, mm.awaiting_sync, std::move(r));
                }
                if (e != error_code::none) prepare_rebalance(*gg, fx2);
            }
            run(fx2);
        });
    }

    template <typename Done>
    void persist_group(const group& g, effects& fx, Done&& done) {
        write(g.partition, group_batch(g), fx, std::forward<Done>(done));
    }

    error_code leave_one(group& g, leave_member& lm, effects& fx) {
        std::string id = lm.member_id;
        if (id.empty() && lm.group_instance_id) { // an admin removing a static member by instance
            auto it = g.static_members.find(*lm.group_instance_id);
            if (it == g.static_members.end()) return error_code::unknown_member_id;
            id = it->second;
        } else if (g.pending.erase(id)) {
            return error_code::none;
        } else if (auto e = check_member(g, id, lm.group_instance_id); e != error_code::none) {
            return e;
        }
        auto& m = g.members.at(id);
        if (m.awaiting_join)
            answer_join(fx, m.awaiting_join, join_error(error_code::unknown_member_id, id));
        if (m.awaiting_sync)
            answer_sync(fx, m.awaiting_sync, sync_error(error_code::unknown_member_id));
        remove_member(g, id);
        member_left(g, fx);
        return error_code::none;
    }

    /// After a member went (left or expired): rebalance, or re-check a join in progress.
    void member_left(group& g, effects& fx) {
        switch (g.state) {
        case group_state::stable:
        case group_state::completing_rebalance: prepare_rebalance(g, fx); break;
        case group_state::preparing_rebalance: maybe_complete_join(g, fx); break;
        default: break;
        }
    }

    void commit_locked(commit_request req, detail::unique_function<void(std::vector<commit_partition>)> done,
                       effects& fx, std::unique_lock<std::mutex>& lk, std::optional<txn_stamp> txn = std::nullopt) {
        auto answer_all = [&](error_code e) {
            for (auto& p : req.partitions) p.error = e;
            fx.push_back([d = std::make_shared<decltype(done)>(std::move(done)), ps = std::move(req.partitions)]() mutable {
                (*d)(std::move(ps));
            });
        };
        if (auto e = check_group_id(req.group_id, true); e != error_code::none) return answer_all(e);
        if (auto e = ensure_loaded(req.group_id, lk); e != error_code::none) return answer_all(e);
        auto* g = find(req.group_id);
        if (!g) {
            if (req.generation_id >= 0) return answer_all(error_code::illegal_generation);
            g = &group_for(req.group_id); // a "simple" consumer's or an admin's commit
        }
        if (g->state == group_state::dead) return answer_all(error_code::coordinator_not_available);
        const bool as_member = req.generation_id >= 0 || !req.member_id.empty() || req.group_instance_id;
        if (as_member) {
            if (auto e = check_member(*g, req.member_id, req.group_instance_id); e != error_code::none)
                return answer_all(e);
            if (req.generation_id != g->generation) return answer_all(error_code::illegal_generation);
            // A transaction's offsets are checked against the generation only (Kafka's rule).
            if (!txn && g->state == group_state::completing_rebalance) return answer_all(error_code::rebalance_in_progress);
            touch(*g, req.member_id);
        } else if (!txn && g->state != group_state::empty) {
            return answer_all(error_code::unknown_member_id);
        }
        namespace gr = wire::group_records;
        const auto now = b_.wall_ms();
        const auto commit_ms = req.commit_timestamp >= 0 ? req.commit_timestamp : now;
        const auto expire_ms = req.retention_ms >= 0 ? commit_ms + req.retention_ms : -1;
        wire::batch_builder bb(256);
        std::vector<std::size_t> written;
        for (std::size_t i = 0; i < req.partitions.size(); ++i) {
            auto& p = req.partitions[i];
            if (p.error != error_code::none) continue; // refused before (an unknown topic)
            if (p.metadata && static_cast<std::int64_t>(p.metadata->size()) > cfg_.offset_metadata_max_bytes) {
                p.error = error_code::offset_metadata_too_large;
                continue;
            }
            gr::offset_commit_value v;
            v.offset = p.offset;
            v.leader_epoch = p.leader_epoch;
            v.metadata = p.metadata ? std::string_view(*p.metadata) : std::string_view{};
            v.commit_timestamp = commit_ms;
            v.expire_timestamp = expire_ms;
            const auto key = gr::encode_offset_commit_key(g->id, p.topic, p.partition);
            const auto value = gr::encode_offset_commit_value(v, expire_ms >= 0 && !txn ? 1 : 3);
            bb.append(now, bytes_view{key.view()}, bytes_view{value.view()});
            written.push_back(i);
        }
        auto d = std::make_shared<decltype(done)>(std::move(done));
        if (written.empty()) {
            fx.push_back([d, ps = std::move(req.partitions)]() mutable { (*d)(std::move(ps)); });
            return;
        }
        auto ps = std::make_shared<std::vector<commit_partition>>(std::move(req.partitions));
        auto then = [this, d, ps, written = std::move(written), gid = g->id, commit_ms, expire_ms,
                     txn](error_code e) {
            {
                std::lock_guard lk2(mu_);
                auto* gg = find(gid);
                for (const auto i : written) {
                    auto& p = (*ps)[i];
                    p.error = e;
                    if (e != error_code::none || !gg) continue;
                    auto& into = txn ? gg->txn_offsets[txn->pid.value()] : gg->offsets;
                    into[{p.topic, p.partition}] =
                            committed{p.offset, p.leader_epoch, p.metadata.value_or(""), commit_ms, expire_ms};
                }
            }
            (*d)(std::move(*ps));
        };
        if (!txn) return write(g->partition, bb.seal(), fx, std::move(then));
        // Written as the transaction's producer: its marker later commits or aborts these records
        // in the log, as in the coordinator's memory (docs/protocol.md §15.7).
        auto buf = std::make_shared<byte_buffer>(bb.seal({txn->pid, txn->epoch, sequence{-1}, true}));
        fx.push_back([this, p = g->partition, buf, then = std::move(then)]() mutable {
            b_.append_from_coordinator_async(offsets_topic, partition_id{p}, buf->mutable_view(),
                                             std::chrono::milliseconds(cfg_.offsets_commit_timeout_ms),
                                             [buf, then = std::move(then)](auto r) mutable {
                                                 then(r.error == error_code::invalid_producer_epoch
                                                              ? error_code::producer_fenced
                                                              : commit_error(r.error));
                                             });
        });
    }

    // ---- timers ----

    void arm_timer() { cv_.notify_all(); }

    void timer_loop() {
        std::unique_lock lk(mu_);
        auto next_offsets_check = steady::now() + std::chrono::milliseconds(cfg_.offsets_retention_check_interval_ms);
        while (!stopped_) {
            cv_.wait_for(lk, std::chrono::milliseconds(50), [&] { return stopped_; });
            if (stopped_) break;
            // A partition this node no longer leads (or leads in a new term) loses its groups now,
            // so their parked members hear NOT_COORDINATOR at once rather than at their next request.
            for (auto it = loaded_.begin(); it != loaded_.end();) {
                const auto p = it->first;
                const auto epoch = it->second;
                ++it;
                auto* part = b_.find_partition(offsets_topic, partition_id{p});
                if (!part || !part->is_leader() || part->current_leader_epoch() != epoch) unload(p);
            }
            effects fx = std::move(deferred_);
            deferred_.clear();
            const auto now = steady::now();
            for (auto& [id, gp] : groups_) expire(*gp, now, fx);
            if (now >= next_offsets_check) {
                next_offsets_check = now + std::chrono::milliseconds(cfg_.offsets_retention_check_interval_ms);
                expire_offsets(fx);
            }
            if (!fx.empty()) {
                lk.unlock();
                run(fx);
                lk.lock();
            }
        }
    }

    /// offsets.retention.minutes (Kafka's rules since KIP-211): an offset goes when its commit
    /// asked for its own expiry time (OffsetCommit v1-v4) and that passed; otherwise, for a group
    /// that has been Empty for the retention (its offsets all at once), a simple consumer's offset
    /// committed that long ago, or a live consumer group's offset of a topic it no longer
    /// subscribes to, committed that long ago. Tombstones are written; a group left with no
    /// offsets and no members goes too.
    void expire_offsets(effects& fx) {
        const std::int64_t now = b_.wall_ms();
        const std::int64_t retention = std::int64_t{cfg_.offsets_retention_minutes} * 60000;
        std::map<std::int32_t, std::vector<tombstone>> writes;
        for (auto it = groups_.begin(); it != groups_.end();) {
            auto& g = *it->second;
            if (!loaded_.count(g.partition) || g.state == group_state::dead) {
                ++it;
                continue;
            }
            const auto subscribed = g.state == group_state::empty ? std::set<std::string>{} : g.subscribed_topics();
            bool expired = false;
            for (auto o = g.offsets.begin(); o != g.offsets.end();) {
                const auto& c = o->second;
                bool gone = false;
                if (c.expire_ms >= 0)
                    gone = now >= c.expire_ms;
                else if (g.protocol_type.empty())
                    gone = now - c.commit_ms >= retention;
                else if (g.state == group_state::empty)
                    gone = now - g.state_ms >= retention;
                else if (g.protocol_type == "consumer" && !subscribed.count(o->first.first))
                    gone = now - c.commit_ms >= retention;
                if (!gone) {
                    ++o;
                    continue;
                }
                writes[g.partition].push_back({g.id, o->first.first, o->first.second});
                o = g.offsets.erase(o);
                expired = true;
            }
            if (expired && g.offsets.empty() && g.members.empty() && g.state == group_state::empty) {
                if (!g.protocol_type.empty()) writes[g.partition].push_back({g.id, {}, -1});
                it = groups_.erase(it);
                continue;
            }
            ++it;
        }
        // A tombstone that could not be written leaves the offset gone here; a restart may bring
        // it back, and the next check after that deletes it again.
        for (auto& [p, ts] : writes) write(p, tombstones_batch(ts), fx, [](error_code) {});
    }

    void expire(group& g, steady::time_point now, effects& fx) {
        for (auto it = g.pending.begin(); it != g.pending.end();)
            it = it->second <= now ? g.pending.erase(it) : std::next(it);
        // Sessions: a member that neither heartbeats nor waits in a join is gone.
        std::vector<std::string> dead;
        for (const auto& [id, m] : g.members)
            // A member parked in JoinGroup or SyncGroup is alive (the sync deadline bounds the latter).
            if (!m.awaiting_join && !m.awaiting_sync && m.session_deadline <= now && g.state != group_state::empty)
                dead.push_back(id);
        for (const auto& id : dead) {
            auto& m = g.members.at(id);
            if (m.awaiting_sync)
                answer_sync(fx, m.awaiting_sync, sync_error(error_code::unknown_member_id));
            remove_member(g, id);
        }
        if (!dead.empty()) member_left(g, fx);
        if (g.state == group_state::preparing_rebalance) {
            if (g.join_deadline && *g.join_deadline <= now) {
                maybe_complete_join(g, fx, true);
            } else if (g.initial_delay && g.pending.empty()) {
                // nothing: the delay runs its course
            } else {
                maybe_complete_join(g, fx);
            }
        }
        if (g.state == group_state::completing_rebalance && g.sync_deadline && *g.sync_deadline <= now) {
            // Members that never sent SyncGroup are dropped; the rest rebalance.
            std::vector<std::string> silent;
            for (const auto& [id, m] : g.members)
                if (!m.awaiting_sync) silent.push_back(id);
            for (const auto& id : silent) remove_member(g, id);
            g.sync_deadline.reset();
            prepare_rebalance(g, fx);
        }
    }

    Broker& b_;
    const broker_config& cfg_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool stopped_ = false;
    std::map<std::string, std::unique_ptr<group>> groups_;
    std::map<std::int32_t, leader_epoch> loaded_;
    effects deferred_; // answers owed by unload(), run by the timer thread
    std::mt19937_64 rng_;
    std::thread timer_;
};

} // namespace gregor::groups
