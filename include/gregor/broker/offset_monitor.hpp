// offset_monitor: one per partition, the single place where anyone waits for a partition's offsets
// to move - an acks=all produce for the high watermark, an fsync-before-ack produce for the
// flushed offset, a long-poll Fetch (over TCP or embedded) for new data, and later a follower, a
// transaction marker. Whatever moves an offset (an append, a follower's fetch position, a flush,
// a marker) publishes it here, and every waiter whose condition now holds is called back, on the
// publishing thread, after the publisher released its own locks. Nothing waits on a thread that
// serves other work: a waiter is a callback, so the event loop never blocks.
//
//   auto h = part.monitor().async_wait(offset_kind::high_watermark, last + 1, deadline,
//                                      [r = std::move(responder)](wait_status s) mutable { ... });
//   if (!h) { /* already reached: answer now */ }
//
// Deadlines are kept by a deadline_scheduler (one thread, shared by a broker's monitors) which
// calls the waiter back with wait_status::timed_out. Every waiter is called back exactly once
// (reached, timed_out or shutdown) unless cancelled first; cancel() returns true when it won, and
// then no callback runs.
//
// Thread-safety: every member is thread-safe. Callbacks must be short and must not block: they
// run on whichever thread published the offset (an event loop, the flusher, a producer thread)
// or on the scheduler's thread.
#pragma once

#include <gregor/core/strong_types.hpp>
#include <gregor/detail/unique_function.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

namespace gregor {

/// The offsets of a partition one can wait for. Every condition is "offset >= target"; "log end >
/// N" is "log_end >= N + 1".
enum class offset_kind : std::uint8_t { high_watermark = 0, flushed = 1, last_stable = 2, log_end = 3 };

/// How a wait ended.
enum class wait_status : std::uint8_t {
    reached,   ///< the offset got there
    timed_out, ///< the deadline came first
    shutdown,  ///< the partition closed (broker shutdown, partition moved away) or this broker stopped
               ///< leading it (a waiter for the high watermark then answers NOT_LEADER_OR_FOLLOWER)
    failed,    ///< the offset cannot get there (a sync failed: the log's disk is in trouble)
};

namespace broker_detail {

using wait_clock = std::chrono::steady_clock;

/// One registered wait. Shared by the monitor and the scheduler; `done` decides who calls back.
struct offset_waiter {
    offset_kind kind{};
    offset target{0};
    wait_clock::time_point deadline{};
    gregor::detail::unique_function<void(wait_status)> callback;
    std::atomic<bool> done{false};

    /// Claims the right to finish this waiter (exactly one caller gets true).
    bool claim() noexcept { return !done.exchange(true, std::memory_order_acq_rel); }
    void fire(wait_status s) noexcept {
        if (claim()) {
            auto cb = std::move(callback);
            if (cb) cb(s);
        }
    }
};

/// Calls waiters back at their deadlines; one thread, sleeping until the earliest deadline.
class deadline_scheduler {
public:
    deadline_scheduler() : thread_([this] { run(); }) {}
    deadline_scheduler(const deadline_scheduler&) = delete;
    deadline_scheduler& operator=(const deadline_scheduler&) = delete;
    ~deadline_scheduler() { stop(); }

    void add(const std::shared_ptr<offset_waiter>& w) {
        if (w->deadline == wait_clock::time_point::max()) return;
        bool earliest = false;
        {
            std::lock_guard lk(mu_);
            if (stopped_) {
                w->fire(wait_status::shutdown);
                return;
            }
            earliest = queue_.empty() || w->deadline < queue_.begin()->first;
            queue_.emplace(w->deadline, w);
        }
        if (earliest) cv_.notify_one();
    }

    /// Fires every pending waiter with `shutdown` and joins the thread. Idempotent.
    void stop() {
        std::multimap<wait_clock::time_point, std::weak_ptr<offset_waiter>> left;
        {
            std::lock_guard lk(mu_);
            if (stopped_) return;
            stopped_ = true;
            left.swap(queue_);
        }
        cv_.notify_one();
        if (thread_.joinable()) thread_.join();
        for (auto& [_, w] : left)
            if (auto p = w.lock()) p->fire(wait_status::shutdown);
    }

private:
    void run() {
        std::unique_lock lk(mu_);
        while (!stopped_) {
            if (queue_.empty()) {
                cv_.wait(lk);
                continue;
            }
            const auto next = queue_.begin()->first;
            if (wait_clock::now() < next) {
                cv_.wait_until(lk, next);
                continue;
            }
            std::vector<std::shared_ptr<offset_waiter>> due;
            const auto now = wait_clock::now();
            while (!queue_.empty() && queue_.begin()->first <= now) {
                if (auto p = queue_.begin()->second.lock()) due.push_back(std::move(p));
                queue_.erase(queue_.begin());
            }
            lk.unlock();
            for (auto& w : due) w->fire(wait_status::timed_out);
            lk.lock();
        }
    }

    std::mutex mu_;
    std::condition_variable cv_;
    std::multimap<wait_clock::time_point, std::weak_ptr<offset_waiter>> queue_;
    bool stopped_ = false;
    std::thread thread_;
};

} // namespace broker_detail

/// A registered wait; cancel() withdraws it (true: it will not be called back).
class wait_handle {
public:
    wait_handle() = default;
    explicit wait_handle(std::shared_ptr<broker_detail::offset_waiter> w) : w_(std::move(w)) {}
    bool cancel() noexcept {
        auto w = std::move(w_);
        if (!w || !w->claim()) return false;
        w->callback = nullptr; // drop captures (a responder closes its connection when destroyed)
        return true;
    }
    [[nodiscard]] bool valid() const noexcept { return w_ != nullptr; }

private:
    std::shared_ptr<broker_detail::offset_waiter> w_;
};

class offset_monitor {
public:
    using callback = gregor::detail::unique_function<void(wait_status)>;

    /// `sched` keeps deadlines; without one, waits only end by their offset, cancel() or shutdown.
    explicit offset_monitor(broker_detail::deadline_scheduler* sched = nullptr) : sched_(sched) {}
    offset_monitor(const offset_monitor&) = delete;
    offset_monitor& operator=(const offset_monitor&) = delete;
    ~offset_monitor() { shutdown(); }

    /// Sets the scheduler that keeps deadlines (once, before waits with deadlines are made).
    void set_scheduler(broker_detail::deadline_scheduler* sched) noexcept { sched_ = sched; }

    /// Ends every wait on `k` with `failed` (e.g. a sync error for the flushed offset).
    void fail(offset_kind k) { end_waits(k, wait_status::failed); }

    /// Ends every wait registered on `k` now with `s` (later waits are not affected): a deposed
    /// leader ends its acks=all and long-poll waits with `shutdown` (docs/protocol.md §14.5).
    void end_waits(offset_kind k, wait_status s) {
        std::vector<std::shared_ptr<broker_detail::offset_waiter>> all;
        {
            std::lock_guard lk(mu_);
            auto& m = waiters_[index(k)];
            for (auto& [_, w] : m) all.push_back(std::move(w));
            m.clear();
        }
        for (auto& w : all) w->fire(s);
    }

    /// The last published value of `k`.
    [[nodiscard]] offset current(offset_kind k) const {
        std::lock_guard lk(mu_);
        return values_[index(k)];
    }

    /// Calls `cb` once `k` >= `target` (or at `deadline`, or at shutdown). Returns nullopt without
    /// registering anything (and without calling `cb`) when the condition already holds.
    std::optional<wait_handle> async_wait(offset_kind k, offset target, broker_detail::wait_clock::time_point deadline,
                                          callback cb) {
        auto w = std::make_shared<broker_detail::offset_waiter>();
        w->kind = k;
        w->target = target;
        w->deadline = deadline;
        w->callback = std::move(cb);
        bool closed = false;
        {
            std::lock_guard lk(mu_);
            if (values_[index(k)] >= target) return std::nullopt;
            closed = closed_;
            if (!closed) {
                auto& m = waiters_[index(k)];
                m.emplace(target, w);
                sweep(index(k));
            }
        }
        if (closed) {
            w->fire(wait_status::shutdown);
            return wait_handle{};
        }
        if (sched_) sched_->add(w);
        return wait_handle{std::move(w)};
    }

    /// Blocks the calling thread until `k` >= `target` or `deadline`; for embedded callers on
    /// their own threads (never from an event loop). True when reached.
    bool wait_until(offset_kind k, offset target, broker_detail::wait_clock::time_point deadline) {
        struct state {
            std::mutex mu;
            std::condition_variable cv;
            bool fired = false;
            wait_status status = wait_status::timed_out;
        };
        auto st = std::make_shared<state>();
        auto h = async_wait(k, target, broker_detail::wait_clock::time_point::max(), [st](wait_status s) {
            {
                std::lock_guard lk(st->mu);
                st->fired = true;
                st->status = s;
            }
            st->cv.notify_all();
        });
        if (!h) return true;
        std::unique_lock lk(st->mu);
        if (st->cv.wait_until(lk, deadline, [&] { return st->fired; })) return st->status == wait_status::reached;
        lk.unlock();
        if (h->cancel()) return false;
        lk.lock(); // the callback won the race: wait for it to finish writing
        st->cv.wait(lk, [&] { return st->fired; });
        return st->status == wait_status::reached;
    }

    /// Publishes new values (each only ever moves forward here; a smaller value is ignored, a
    /// truncation uses reset()). Call without holding locks a waiter's callback might take.
    void publish(offset_kind k, offset v) {
        std::vector<std::shared_ptr<broker_detail::offset_waiter>> ready;
        {
            std::lock_guard lk(mu_);
            collect(k, v, ready);
        }
        for (auto& w : ready) w->fire(wait_status::reached);
    }

    /// Publishes all four at once (one lock, one pass).
    void publish_all(offset hw, offset flushed, offset lso, offset log_end) {
        publish_all(hw, flushed, lso, log_end, generation_of_caller_unknown);
    }

    /// publish_all() from an owner whose offsets may move backwards (a follower truncating its
    /// log, a restored high watermark): it bumps `generation` with every such move, under the
    /// lock it reads the offsets with. A newer generation replaces the four values (they may go
    /// down), the current one only moves them forward, an older one is dropped: a publisher that
    /// read its offsets before a truncation and publishes after it cannot bring back the cut tail.
    void publish_all(offset hw, offset flushed, offset lso, offset log_end, std::uint64_t generation) {
        std::vector<std::shared_ptr<broker_detail::offset_waiter>> ready;
        {
            std::lock_guard lk(mu_);
            if (generation != generation_of_caller_unknown) {
                if (generation < generation_) return;
                if (generation > generation_) {
                    generation_ = generation;
                    values_ = {hw, flushed, lso, log_end};
                }
            }
            collect(offset_kind::high_watermark, hw, ready);
            collect(offset_kind::flushed, flushed, ready);
            collect(offset_kind::last_stable, lso, ready);
            collect(offset_kind::log_end, log_end, ready);
        }
        for (auto& w : ready) w->fire(wait_status::reached);
    }

    /// Sets a value that may move backwards (log truncation, a new leader); waiters stay.
    void reset(offset_kind k, offset v) {
        std::vector<std::shared_ptr<broker_detail::offset_waiter>> ready;
        {
            std::lock_guard lk(mu_);
            values_[index(k)] = v;
            collect(k, v, ready);
        }
        for (auto& w : ready) w->fire(wait_status::reached);
    }

    /// Calls every waiter back with `shutdown`; later waits end at once the same way.
    void shutdown() {
        std::vector<std::shared_ptr<broker_detail::offset_waiter>> all;
        {
            std::lock_guard lk(mu_);
            closed_ = true;
            for (auto& m : waiters_) {
                for (auto& [_, w] : m) all.push_back(std::move(w));
                m.clear();
            }
        }
        for (auto& w : all) w->fire(wait_status::shutdown);
    }

    /// Waiters registered and not yet finished or dropped (diagnostics, tests).
    [[nodiscard]] std::size_t pending() const {
        std::lock_guard lk(mu_);
        std::size_t n = 0;
        for (const auto& m : waiters_)
            for (const auto& [_, w] : m) n += w->done.load(std::memory_order_acquire) ? 0 : 1;
        return n;
    }

private:
    static constexpr std::size_t index(offset_kind k) noexcept { return static_cast<std::size_t>(k); }

    void collect(offset_kind k, offset v, std::vector<std::shared_ptr<broker_detail::offset_waiter>>& ready) {
        auto& cur = values_[index(k)];
        if (v > cur) cur = v;
        auto& m = waiters_[index(k)];
        while (!m.empty() && m.begin()->first <= cur) {
            ready.push_back(std::move(m.begin()->second));
            m.erase(m.begin());
        }
        sweep(index(k));
    }

    // Cancelled and timed-out waiters stay in the map until their offset comes; drop them once
    // the map doubled since the last sweep, so a partition that never moves does not grow.
    void sweep(std::size_t i) {
        auto& m = waiters_[i];
        if (m.size() < 64 || m.size() < 2 * swept_size_[i]) return;
        for (auto it = m.begin(); it != m.end();)
            it = it->second->done.load(std::memory_order_acquire) ? m.erase(it) : std::next(it);
        swept_size_[i] = m.size();
    }

    static constexpr std::uint64_t generation_of_caller_unknown = ~std::uint64_t{0};

    mutable std::mutex mu_;
    std::array<offset, 4> values_{offset{0}, offset{0}, offset{0}, offset{0}};
    std::uint64_t generation_ = 0; // see publish_all
    std::array<std::multimap<offset, std::shared_ptr<broker_detail::offset_waiter>>, 4> waiters_;
    broker_detail::deadline_scheduler* sched_;
    std::array<std::size_t, 4> swept_size_{};
    bool closed_ = false;
};

} // namespace gregor
