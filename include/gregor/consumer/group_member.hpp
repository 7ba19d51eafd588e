// group::member: a consumer's membership of a Kafka consumer group (the classic protocol), run by
// a thread of its own -- the "heartbeat thread" of Java's consumer, which here also does the
// joins, as librdkafka's background thread does. gregor::consumer::subscribe() makes one; the
// consumer's poll thread and the member trade in `change`s (docs/consumer.md, "Groups").
//
// What the thread does, in a loop:
//   - JoinGroup (again with the id a MEMBER_ID_REQUIRED answer gives), then, if the coordinator
//     made it the leader, runs the chosen assignor over every member's subscription and the topics'
//     partition counts, and SyncGroup; then OffsetFetch for the partitions it gained.
//   - It posts `change`s for the poll thread: partitions assigned (with their committed offsets),
//     revoked, lost. A change that takes partitions away waits for the poll thread's ack before the
//     member joins again: the poll thread commits and calls the rebalance listener first, so that
//     the next owner starts where this one stopped.
//   - Heartbeat every heartbeat.interval.ms. REBALANCE_IN_PROGRESS means join again (an eager
//     member revokes everything first; a cooperative one keeps its partitions and lists them as
//     owned in its subscription, and revokes only those the new assignment moves, then joins once
//     more so they can go to their new owner). ILLEGAL_GENERATION / UNKNOWN_MEMBER_ID mean the
//     partitions are lost (no commit: another member may own them already) and a fresh join.
//   - When the poll thread has not polled for max.poll.interval.ms, it leaves the group (a static
//     member just stops heartbeating) and joins again at the next poll.
//   - Asynchronous commits queued by the poll thread (commit_async, enable.auto.commit).
//
// The rebalance protocol is cooperative when every assignor in partition.assignment.strategy is
// (cooperative-sticky), else eager, as in Java's consumer.
//
// Thread-safety: the poll-thread calls below may run concurrently with the member's thread; each
// is meant for one poll thread.
#pragma once

#include <gregor/consumer/assignors.hpp>
#include <gregor/consumer/consumer_config.hpp>
#include <gregor/consumer/group_channel.hpp>
#include <gregor/core/error.hpp>
#include <gregor/wire/consumer_protocol.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace gregor::group {

/// What the poll thread is told to do.
struct change {
    enum class kind : std::uint8_t { assigned, revoked, lost, error };
    kind what = kind::assigned;
    std::vector<topic_partition> partitions;
    std::map<topic_partition, offset> committed; // assigned: committed offsets found (others: none)
    std::error_code error;                       // kind::error: a join that failed for good
};

/// The outcome of an asynchronous commit, delivered on the poll thread.
using commit_callback = std::function<void(std::error_code, const std::vector<committed_offset>&)>;

class member {
    using clock = std::chrono::steady_clock;

public:
    member(const consumer_config& cfg, std::unique_ptr<channel> ch, std::vector<std::string> topics)
            : cfg_(cfg), ch_(std::move(ch)), topics_(std::move(topics)), last_poll_(clock::now()) {
        for (const auto& name : cfg_.assignment_strategies())
            if (const auto* a = assignors::find(name)) strategies_.push_back(a);
        cooperative_ = !strategies_.empty() &&
                       std::all_of(strategies_.begin(), strategies_.end(), [](const assignors::assignor* a) {
                           return a->protocol == assignors::rebalance_protocol::cooperative;
                       });
        thread_ = std::thread([this] { run(); });
    }

    member(const member&) = delete;
    member& operator=(const member&) = delete;

    /// Stops the thread without leaving (close() leaves first).
    ~member() { stop(false); }

    // ---- the poll thread's side ----

    /// A poll started: the max.poll.interval.ms clock restarts, and a member that left for want
    /// of polls joins again.
    void polled() {
        std::lock_guard lk(mu_);
        last_poll_ = clock::now();
        if (waiting_for_poll_) {
            waiting_for_poll_ = false;
            cv_.notify_all();
        }
    }

    std::optional<change> take_change() {
        std::lock_guard lk(mu_);
        if (changes_.empty()) return std::nullopt;
        auto c = std::move(changes_.front());
        changes_.pop_front();
        return c;
    }

    /// The poll thread has let go of the partitions of a revoked/lost change.
    void ack() {
        std::lock_guard lk(mu_);
        awaiting_ack_ = false;
        cv_.notify_all();
    }

    /// Waits until a change is pending or `until`.
    void wait_change(clock::time_point until) {
        std::unique_lock lk(mu_);
        poll_cv_.wait_until(lk, until, [&] { return !changes_.empty() || !commit_results_.empty(); });
    }

    /// Who to commit as (generation -1 before the first join completes).
    [[nodiscard]] member_ref current() const {
        std::lock_guard lk(mu_);
        return ref_locked();
    }

    [[nodiscard]] bool cooperative() const noexcept { return cooperative_; }
    [[nodiscard]] std::vector<std::string> topics() const {
        std::lock_guard lk(mu_);
        return topics_;
    }

    /// Queues a commit for the member's thread; `done` runs on the poll thread (take_commit_results).
    void commit_async(std::vector<committed_offset> offsets, commit_callback done) {
        std::lock_guard lk(mu_);
        commits_.push_back({std::move(offsets), std::move(done)});
        cv_.notify_all();
    }

    /// Finished asynchronous commits, with their callbacks, for the poll thread to call.
    std::vector<std::pair<commit_callback, offsets_outcome>> take_commit_results() {
        std::lock_guard lk(mu_);
        return std::exchange(commit_results_, {});
    }

    /// Leaves the group (unless a static member: its session outlives restarts) and stops.
    void close() { stop(true); }

    /// The thread stopped calling the coordinator after a fatal error (FENCED_INSTANCE_ID).
    [[nodiscard]] bool fenced() const {
        std::lock_guard lk(mu_);
        return fenced_;
    }

private:
    struct queued_commit {
        std::vector<committed_offset> offsets;
        commit_callback done;
    };

    member_ref ref_locked() const {
        member_ref r;
        r.group_id = cfg_.group_id;
        r.generation = generation_;
        r.member_id = member_id_;
        if (!cfg_.group_instance_id.empty()) r.group_instance_id = cfg_.group_instance_id;
        return r;
    }

    void stop(bool leave) {
        {
            std::lock_guard lk(mu_);
            if (stopping_) return;
            stopping_ = true;
            leave_on_stop_ = leave;
            ch_->cancel(); // a JoinGroup held by the coordinator returns now
            cv_.notify_all();
        }
        if (thread_.joinable()) thread_.join();
    }

    void post(change c, bool needs_ack) {
        // mu_ held
        if (needs_ack) awaiting_ack_ = true;
        changes_.push_back(std::move(c));
        poll_cv_.notify_all();
    }

    void post_error(std::error_code e) {
        change c;
        c.what = change::kind::error;
        c.error = e;
        post(std::move(c), false);
    }

    /// Everything owned is gone (no commit); the member joins again, with a new id if `reset_id`.
    void lose_all(bool reset_id) {
        // mu_ held
        generation_ = -1;
        if (reset_id) member_id_.clear();
        if (!owned_.empty()) {
            change c;
            c.what = change::kind::lost;
            c.partitions.assign(owned_.begin(), owned_.end());
            owned_.clear();
            post(std::move(c), true);
        }
        need_join_ = true;
    }

    // Runs `f` with mu_ released (channel calls block).
    template <typename F>
    auto unlocked(std::unique_lock<std::mutex>& lk, F&& f) {
        lk.unlock();
        struct relock {
            std::unique_lock<std::mutex>& l;
            ~relock() { l.lock(); }
        } guard{lk};
        return f();
    }

    void run() {
        std::unique_lock lk(mu_);
        while (!stopping_) {
            const auto now = clock::now();
            check_poll_interval(lk, now);
            if (stopping_) break;
            run_commits(lk);
            if (stopping_) break;
            if (fenced_ || waiting_for_poll_) {
                cv_.wait(lk, [&] { return stopping_ || !commits_.empty() || (!waiting_for_poll_ && !fenced_); });
                continue;
            }
            if (awaiting_ack_) {
                // The group waits for this member's rejoin; the session must stay alive meanwhile.
                if (generation_ >= 0 && now >= next_heartbeat_) heartbeat(lk);
                cv_.wait_until(lk, generation_ >= 0 ? std::min(next_heartbeat_, poll_deadline()) : poll_deadline(),
                               [&] { return stopping_ || !awaiting_ack_ || !commits_.empty(); });
                continue;
            }
            if (need_join_) {
                if (!cooperative_ && !owned_.empty()) {
                    change c;
                    c.what = change::kind::revoked;
                    c.partitions.assign(owned_.begin(), owned_.end());
                    owned_.clear();
                    post(std::move(c), true);
                    continue;
                }
                if (now < retry_at_) {
                    cv_.wait_until(lk, std::min(retry_at_, poll_deadline()),
                                   [&] { return stopping_ || !commits_.empty(); });
                    continue;
                }
                join_and_sync(lk);
                continue;
            }
            if (now >= next_heartbeat_) heartbeat(lk);
            if (now >= next_metadata_check_ && is_leader_) check_metadata(lk);
            if (need_join_) continue;
            cv_.wait_until(lk, std::min({next_heartbeat_, next_metadata_check_, poll_deadline()}),
                           [&] { return stopping_ || !commits_.empty() || need_join_; });
        }
        // Leaving: commits still queued are sent first (close() committed synchronously before).
        // stop() cancelled under mu_, before this thread saw stopping_: the reset cannot be lost.
        ch_->reset_cancel();
        run_commits(lk);
        if (leave_on_stop_ && !member_id_.empty() && cfg_.group_instance_id.empty()) {
            const auto ref = ref_locked();
            unlocked(lk, [&] { return ch_->leave(ref, "the consumer is being closed"); });
        }
        for (auto& q : commits_) commit_results_.push_back({std::move(q.done), {make_error_code(local_error::closed), {}}});
        commits_.clear();
    }

    clock::time_point poll_deadline() const { return last_poll_ + std::chrono::milliseconds(cfg_.max_poll_interval_ms); }

    void check_poll_interval(std::unique_lock<std::mutex>& lk, clock::time_point now) {
        if (waiting_for_poll_ || now < poll_deadline()) return;
        if (member_id_.empty() && owned_.empty()) return; // never joined: nothing to give up
        const auto ref = ref_locked();
        if (cfg_.group_instance_id.empty() && !member_id_.empty())
            unlocked(lk, [&] { return ch_->leave(ref, "consumer poll timeout has expired"); });
        lose_all(cfg_.group_instance_id.empty());
        waiting_for_poll_ = true;
        post_error(make_error_code(local_error::timed_out));
    }

    void run_commits(std::unique_lock<std::mutex>& lk) {
        while (!commits_.empty()) {
            auto q = std::move(commits_.front());
            commits_.pop_front();
            const auto ref = ref_locked();
            auto res = unlocked(lk, [&] { return ch_->commit(ref, q.offsets); });
            note_commit_error(res.error);
            if (q.done) {
                commit_results_.push_back({std::move(q.done), std::move(res)});
                poll_cv_.notify_all();
            }
        }
    }

    void note_commit_error(const std::error_code& e) {
        if (e == make_error_code(error_code::rebalance_in_progress)) need_join_ = true;
    }

    void heartbeat(std::unique_lock<std::mutex>& lk) {
        const auto ref = ref_locked();
        const auto e = unlocked(lk, [&] { return ch_->heartbeat(ref); });
        const auto now = clock::now();
        next_heartbeat_ = now + std::chrono::milliseconds(cfg_.heartbeat_interval_ms);
        if (!e) return;
        if (ref.generation != generation_) return; // a join started meanwhile: the answer is stale
        if (e == make_error_code(error_code::rebalance_in_progress)) {
            need_join_ = true;
        } else if (e == make_error_code(error_code::illegal_generation)) {
            lose_all(false);
        } else if (e == make_error_code(error_code::unknown_member_id)) {
            lose_all(true);
        } else if (e == make_error_code(error_code::fenced_instance_id)) {
            lose_all(false);
            fenced_ = true;
            post_error(e);
        } else if (coordinator_moved(e)) {
            next_heartbeat_ = now + std::chrono::milliseconds(cfg_.retry_backoff_ms);
        }
    }

    void check_metadata(std::unique_lock<std::mutex>& lk) {
        next_metadata_check_ = clock::now() + std::chrono::milliseconds(std::max<std::int64_t>(cfg_.metadata_max_age_ms, 1000));
        // A static leader told to skip the assignment has no counts of its own yet: it takes
        // the current ones as the baseline instead of rebalancing.
        const bool baseline = assigned_topics_.empty();
        const auto topics = baseline ? topics_ : assigned_topics_;
        auto res = unlocked(lk, [&] { return ch_->partition_counts(topics); });
        if (res.error) return;
        if (baseline) {
            assigned_topics_ = topics;
            counts_ = std::move(res.counts);
        } else if (res.counts != counts_) {
            need_join_ = true; // partitions added, topics made or deleted
        }
    }

    std::string subscription_bytes() const {
        wire::consumer_protocol::subscription s;
        for (const auto& t : topics_) s.topics.push_back(t);
        std::map<std::string, std::vector<std::int32_t>> owned;
        for (const auto& tp : owned_) owned[tp.topic].push_back(tp.partition.value());
        for (const auto& [t, ps] : owned) s.owned_partitions.push_back({t, ps});
        // v1: what librdkafka writes, and the first version with owned partitions.
        auto b = wire::consumer_protocol::encode_subscription(s, 1);
        return {reinterpret_cast<const char*>(b.view().data()), b.size()};
    }

    void backoff(std::int64_t ms) { retry_at_ = clock::now() + std::chrono::milliseconds(ms); }

    void join_and_sync(std::unique_lock<std::mutex>& lk) {
        join_args a;
        a.group_id = cfg_.group_id;
        a.member_id = member_id_;
        if (!cfg_.group_instance_id.empty()) a.group_instance_id = cfg_.group_instance_id;
        a.session_timeout_ms = cfg_.session_timeout_ms;
        a.rebalance_timeout_ms = cfg_.max_poll_interval_ms;
        const auto sub = subscription_bytes();
        for (const auto* s : strategies_) a.protocols.push_back({std::string(s->name), sub});
        a.reason = "joining the group";
        auto j = unlocked(lk, [&] { return ch_->join(a); });
        if (stopping_) return;
        if (j.error == make_error_code(error_code::member_id_required)) {
            member_id_ = j.member_id;
            return; // join again at once with the id
        }
        if (j.error) {
            if (j.error == make_error_code(error_code::unknown_member_id)) {
                member_id_.clear();
                return;
            }
            if (j.error == make_error_code(error_code::fenced_instance_id)) {
                fenced_ = true;
                post_error(j.error);
                return;
            }
            if (!coordinator_moved(j.error) && j.error != make_error_code(error_code::rebalance_in_progress))
                post_error(j.error); // INCONSISTENT_GROUP_PROTOCOL, INVALID_SESSION_TIMEOUT, ...: the poll reports it
            backoff(coordinator_moved(j.error) ? cfg_.retry_backoff_ms : 1000);
            return;
        }
        member_id_ = j.member_id;
        generation_ = j.generation;
        is_leader_ = j.leader == j.member_id;
        const auto* chosen = assignors::find(j.protocol_name);

        sync_args s;
        s.member = ref_locked();
        s.protocol_name = j.protocol_name;
        if (is_leader_ && !j.skip_assignment) {
            if (!chosen) {
                post_error(make_error_code(error_code::inconsistent_group_protocol));
                backoff(1000);
                return;
            }
            auto assignments = unlocked(lk, [&] { return lead(*chosen, j.members); });
            if (!assignments) { // no partition counts: try again
                backoff(cfg_.retry_backoff_ms);
                return;
            }
            s.assignments = std::move(*assignments);
        }
        auto r = unlocked(lk, [&] { return ch_->sync(s); });
        if (stopping_) return;
        if (r.error) {
            if (r.error == make_error_code(error_code::unknown_member_id)) member_id_.clear();
            if (r.error == make_error_code(error_code::fenced_instance_id)) {
                fenced_ = true;
                post_error(r.error);
            }
            generation_ = -1;
            if (coordinator_moved(r.error)) backoff(cfg_.retry_backoff_ms);
            return;
        }
        std::set<topic_partition> now_assigned;
        if (const auto as = wire::consumer_protocol::decode_assignment(as_bytes(r.assignment),
                                                                       wire::consumer_protocol::decode_mode::lenient)) {
            for (const auto& t : as->assigned_partitions)
                for (const auto p : t.partitions) now_assigned.insert({std::string(t.topic), partition_id{p}});
        }
        need_join_ = false;
        next_heartbeat_ = clock::now() + std::chrono::milliseconds(cfg_.heartbeat_interval_ms);
        next_metadata_check_ = clock::now() + std::chrono::milliseconds(std::max<std::int64_t>(cfg_.metadata_max_age_ms, 1000));

        std::vector<topic_partition> revoked, added;
        for (const auto& tp : owned_)
            if (!now_assigned.count(tp)) revoked.push_back(tp);
        for (const auto& tp : now_assigned)
            if (!owned_.count(tp)) added.push_back(tp);
        if (!revoked.empty()) {
            change c;
            c.what = change::kind::revoked;
            c.partitions = revoked;
            for (const auto& tp : revoked) owned_.erase(tp);
            post(std::move(c), true);
            // Cooperative: what was revoked can go to its new owner only in another round.
            need_join_ = true;
        }
        change c;
        c.what = change::kind::assigned;
        c.partitions = added;
        if (!added.empty()) {
            auto f = unlocked(lk, [&] { return fetch_offsets(added); });
            if (!f) { // no answer for a session timeout: this generation is lost to us anyway
                need_join_ = true;
                return;
            }
            c.committed = std::move(*f);
        }
        for (const auto& tp : added) owned_.insert(tp);
        post(std::move(c), false);
    }

    /// Committed offsets of `tps`, retried while the coordinator moves or offsets are unstable
    /// (pending transactional commits), for at most session.timeout.ms.
    std::optional<std::map<topic_partition, offset>> fetch_offsets(const std::vector<topic_partition>& tps) {
        const auto until = clock::now() + std::chrono::milliseconds(cfg_.session_timeout_ms);
        for (;;) {
            auto f = ch_->fetch_committed(cfg_.group_id, tps);
            if (!f.error) {
                std::map<topic_partition, offset> out;
                for (const auto& p : f.partitions)
                    if (!p.error && p.next.value() >= 0) out[p.tp] = p.next;
                return out;
            }
            {
                std::lock_guard lk(mu_);
                if (stopping_) return std::nullopt;
            }
            if (clock::now() >= until) return std::nullopt;
            std::this_thread::sleep_for(std::chrono::milliseconds(std::max<std::int64_t>(cfg_.retry_backoff_ms, 1)));
        }
    }

    /// The leader's work: the assignment of every member, encoded; nullopt without metadata.
    std::optional<std::vector<std::pair<std::string, std::string>>> lead(const assignors::assignor& how,
                                                                        const std::vector<joined_member>& members) {
        std::vector<assignors::member_subscription> subs;
        std::set<std::string> all_topics;
        for (const auto& m : members) {
            assignors::member_subscription s;
            s.member_id = m.member_id;
            s.group_instance_id = m.group_instance_id;
            if (const auto d = wire::consumer_protocol::decode_subscription(as_bytes(m.metadata),
                                                                            wire::consumer_protocol::decode_mode::lenient)) {
                for (const auto t : d->topics) s.topics.emplace_back(t);
                for (const auto& tp : d->owned_partitions)
                    for (const auto p : tp.partitions) s.owned.push_back({std::string(tp.topic), partition_id{p}});
                s.generation = d->generation_id;
            }
            all_topics.insert(s.topics.begin(), s.topics.end());
            subs.push_back(std::move(s));
        }
        const std::vector<std::string> topics(all_topics.begin(), all_topics.end());
        auto counts = ch_->partition_counts(topics);
        if (counts.error) return std::nullopt;
        const auto result = how.assign(subs, counts.counts);
        std::vector<std::pair<std::string, std::string>> out;
        for (const auto& [id, tps] : result) {
            wire::consumer_protocol::assignment a;
            std::map<std::string, std::vector<std::int32_t>> by_topic;
            for (const auto& tp : tps) by_topic[tp.topic].push_back(tp.partition.value());
            for (const auto& [t, ps] : by_topic) a.assigned_partitions.push_back({t, ps});
            auto b = wire::consumer_protocol::encode_assignment(a, 1);
            out.emplace_back(id, std::string(reinterpret_cast<const char*>(b.view().data()), b.size()));
        }
        std::lock_guard lk(mu_);
        counts_ = std::move(counts.counts);
        assigned_topics_ = topics;
        return out;
    }

    static bytes_view as_bytes(const std::string& s) noexcept {
        return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
    }

    const consumer_config cfg_;
    std::unique_ptr<channel> ch_; // the member thread's alone
    std::vector<const assignors::assignor*> strategies_;
    bool cooperative_ = false;

    mutable std::mutex mu_;
    std::condition_variable cv_;      // wakes the member thread
    std::condition_variable poll_cv_; // wakes a poll waiting for a change
    std::vector<std::string> topics_;
    clock::time_point last_poll_;
    bool stopping_ = false;
    bool leave_on_stop_ = false;
    bool need_join_ = true;
    bool awaiting_ack_ = false;
    bool waiting_for_poll_ = false;
    bool fenced_ = false;
    bool is_leader_ = false;
    std::string member_id_;
    std::int32_t generation_ = -1;
    std::set<topic_partition> owned_; // what the poll thread has (or is about to have)
    std::deque<change> changes_;
    std::deque<queued_commit> commits_;
    std::vector<std::pair<commit_callback, offsets_outcome>> commit_results_;
    clock::time_point next_heartbeat_{};
    clock::time_point next_metadata_check_ = clock::time_point::max();
    clock::time_point retry_at_{};
    assignors::partition_counts counts_;       // the leader's, from its last assignment
    std::vector<std::string> assigned_topics_; // the topics that assignment covered
    std::thread thread_;                       // last: starts after everything above exists
};

} // namespace gregor::group
