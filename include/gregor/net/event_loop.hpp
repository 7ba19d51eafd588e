// An epoll event loop driven by one thread: fd readiness callbacks, timers and a thread-safe
// work queue. Every network object in gregor::net (server, client connection) lives on exactly one
// loop and is touched only by that loop's thread; other threads hand it work with post().
//
// Thread-safety, per call:
//   post, run_after, run_at, timer_handle::cancel, stop, in_loop_thread, running: any thread.
//   run_and_wait: any thread except the loop thread while the loop runs (it would deadlock;
//     from the loop thread it simply calls the function).
//   add_fd, modify_fd, remove_fd: the loop thread only (or any thread while the loop is not running).
//   start, join, run: the owner, one at a time (run on the calling thread, or start a thread).
// Callbacks (fd, timer, posted work) run on the loop thread, one at a time, and must not throw.
// While run() runs, SIGPIPE is blocked on its thread (see zero_copy.hpp).
//
// @par Example
// @code
//   gregor::net::event_loop loop;
//   loop.start();                                          // a thread owned by the loop
//   loop.post([] { /* runs on the loop thread */ });
//   auto t = loop.run_after(std::chrono::milliseconds(50), [] { /* later */ });
//   t.cancel();                                            // true: it will not run
//   loop.stop(); loop.join();                              // or let the destructor do both
// @endcode
#pragma once

#include <gregor/detail/unique_function.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <ctime>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

namespace gregor::net {

/// Readiness bits given to fd callbacks and accepted by add_fd/modify_fd (epoll's own values).
/// io::error and EPOLLHUP are always reported, whatever was asked for; EPOLLRDHUP only on request.
namespace io {
inline constexpr std::uint32_t readable = EPOLLIN;
inline constexpr std::uint32_t writable = EPOLLOUT;
inline constexpr std::uint32_t error = EPOLLERR;
inline constexpr std::uint32_t hangup = EPOLLHUP | EPOLLRDHUP;
} // namespace io

using loop_clock = std::chrono::steady_clock;
using task = gregor::detail::unique_function<void()>;
using fd_callback = gregor::detail::unique_function<void(std::uint32_t events)>;

class event_loop;

/// Names one pending timer. Cheap to copy; must not outlive its loop.
class timer_handle {
public:
    timer_handle() noexcept = default;

    /// Removes the timer if it has not started running. Returns true when its function will not
    /// run (from the loop thread that is certain; from another thread it may be running right now,
    /// and then this returns false). Thread-safe.
    bool cancel() noexcept;

    explicit operator bool() const noexcept { return loop_ != nullptr; }

private:
    friend class event_loop;
    timer_handle(event_loop* l, loop_clock::time_point at, std::uint64_t id) noexcept : loop_(l), at_(at), id_(id) {}
    event_loop* loop_ = nullptr;
    loop_clock::time_point at_{};
    std::uint64_t id_ = 0;
};

class event_loop {
public:
    event_loop() {
        epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
        if (epoll_fd_ < 0) throw_errno("epoll_create1");
        wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (wake_fd_ < 0) {
            const int e = errno;
            ::close(epoll_fd_);
            throw std::system_error(e, std::generic_category(), "gregor::net::event_loop: eventfd");
        }
        timer_fd_ = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        if (timer_fd_ < 0) {
            const int e = errno;
            ::close(wake_fd_);
            ::close(epoll_fd_);
            throw std::system_error(e, std::generic_category(), "gregor::net::event_loop: timerfd_create");
        }
        add_fd(wake_fd_, io::readable, [this](std::uint32_t) { on_wake(); });
        add_fd(timer_fd_, io::readable, [this](std::uint32_t) { on_timer(); });
    }

    event_loop(const event_loop&) = delete;
    event_loop& operator=(const event_loop&) = delete;

    /// Stops and joins the owned thread if any. Work still queued is destroyed without running.
    ~event_loop() {
        stop();
        join();
        // Destroy callbacks from local copies: their captures may call back into the loop.
        auto regs = std::move(regs_);
        regs_.clear();
        regs.clear();
        graveyard_.clear();
        std::vector<task> tasks;
        {
            std::lock_guard lk(mutex_);
            tasks.swap(tasks_);
        }
        tasks.clear();
        decltype(timers_) timers;
        {
            std::lock_guard lk(timer_mutex_);
            timers.swap(timers_);
        }
        timers.clear();
        ::close(timer_fd_);
        ::close(wake_fd_);
        ::close(epoll_fd_);
    }

    /// Starts a thread owned by the loop that runs run(). Throws std::logic_error if already started.
    void start() {
        if (thread_.joinable()) throw std::logic_error("gregor::net::event_loop: already started");
        enter(); // running from now on, so run_and_wait() right after start() waits for the thread
        thread_ = std::thread([this] { dispatch_until_stopped(); });
    }

    /// Waits for the owned thread (after stop()). No-op without one or from the loop thread itself.
    void join() {
        if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
    }

    /// Dispatches events on the calling thread until stop(). A stop() that came before run()
    /// makes it return at once. On the way out it runs posted work until none is left, so a
    /// post() made while the loop was running never gets lost.
    void run() {
        enter();
        dispatch_until_stopped();
    }

    /// Dispatches the events ready now, waiting at most `max_wait` for the first one (a post(),
    /// a due timer or fd readiness ends the wait), on the calling thread; returns how many
    /// callbacks ran. For an owner that interleaves the loop with its own work on one thread (the
    /// producer's sender drives its TCP transport this way). Between calls the loop is "not
    /// running": add_fd/modify_fd and the client objects may then be used from that same thread.
    /// Throws std::logic_error while run() runs. SIGPIPE is not blocked here: use only sockets
    /// written with MSG_NOSIGNAL (client_connection does), not sendfile/splice.
    std::size_t run_once(loop_clock::duration max_wait) {
        enter();
        loop_thread_.store(std::this_thread::get_id(), std::memory_order_release);
        struct leave_guard {
            event_loop* l;
            ~leave_guard() {
                l->graveyard_.clear();
                std::lock_guard lk(l->mutex_);
                l->running_ = false;
                l->stop_requested_.store(false, std::memory_order_release);
                l->loop_thread_.store(std::thread::id{}, std::memory_order_release);
            }
        } guard{this};
        const auto ms = std::chrono::ceil<std::chrono::milliseconds>(max_wait).count();
        const int timeout =
            max_wait <= loop_clock::duration::zero() ? 0 : static_cast<int>(std::min<long long>(ms, 1 << 30));
        constexpr int max_events = 64;
        epoll_event events[max_events];
        int n;
        do {
            n = ::epoll_wait(epoll_fd_, events, max_events, timeout);
        } while (n < 0 && errno == EINTR);
        if (n < 0) throw_errno("epoll_wait");
        std::size_t ran = 0;
        for (int i = 0; i < n; ++i) {
            auto* reg = static_cast<registration*>(events[i].data.ptr);
            if (!reg->dead) {
                reg->cb(events[i].events);
                ++ran;
            }
        }
        return ran;
    }

private:
    void enter() {
        std::lock_guard lk(mutex_);
        if (running_) throw std::logic_error("gregor::net::event_loop: run() while already running");
        running_ = true;
    }

    void dispatch_until_stopped() {
        loop_thread_.store(std::this_thread::get_id(), std::memory_order_release);
        // sendfile/splice to a socket the peer closed raise SIGPIPE on the calling thread (they
        // cannot take MSG_NOSIGNAL); blocked here, the call just fails with EPIPE.
        sigset_t pipe_set;
        sigset_t old_mask;
        ::sigemptyset(&pipe_set);
        ::sigaddset(&pipe_set, SIGPIPE);
        ::pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask);
        constexpr int max_events = 128;
        epoll_event events[max_events];
        while (!stop_requested_.load(std::memory_order_acquire)) {
            const int n = ::epoll_wait(epoll_fd_, events, max_events, -1);
            if (n < 0) {
                if (errno == EINTR) continue;
                throw_errno("epoll_wait");
            }
            for (int i = 0; i < n; ++i) {
                auto* reg = static_cast<registration*>(events[i].data.ptr);
                if (!reg->dead) reg->cb(events[i].events);
            }
            graveyard_.clear();
        }
        graveyard_.clear();
        // Run what was posted until nothing is left, then stop being the loop thread in the same
        // critical section, so a run_and_wait() either gets its task run here or runs it itself.
        for (;;) {
            std::vector<task> last;
            {
                std::lock_guard lk(mutex_);
                if (tasks_.empty()) {
                    running_ = false;
                    stop_requested_.store(false, std::memory_order_release);
                    loop_thread_.store(std::thread::id{}, std::memory_order_release);
                    break;
                }
                last.swap(tasks_);
            }
            for (auto& t : last) t();
        }
        if (!::sigismember(&old_mask, SIGPIPE)) {
            const timespec zero{};
            while (::sigtimedwait(&pipe_set, nullptr, &zero) == SIGPIPE) {}
            ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
        }
    }

public:
    /// Asks run() to return after the callbacks of the current iteration. Thread-safe.
    void stop() noexcept {
        stop_requested_.store(true, std::memory_order_release);
        wake();
    }

    /// True on the thread currently inside run(). Thread-safe.
    [[nodiscard]] bool in_loop_thread() const noexcept {
        return loop_thread_.load(std::memory_order_acquire) == std::this_thread::get_id();
    }
    /// True while some thread is inside run(). Thread-safe (a snapshot).
    [[nodiscard]] bool running() const {
        std::lock_guard lk(mutex_);
        return running_;
    }

    /// Queues `fn` to run on the loop thread, after the current callback. Thread-safe. Work
    /// posted while the loop is not running waits for the next run().
    void post(task fn) {
        bool was_empty;
        {
            std::lock_guard lk(mutex_);
            was_empty = tasks_.empty();
            tasks_.push_back(std::move(fn));
        }
        if (was_empty) wake();
    }

    /// Runs `fn` now if on the loop thread, else posts it. Thread-safe.
    void dispatch(task fn) {
        if (in_loop_thread())
            fn();
        else
            post(std::move(fn));
    }

    /// Runs `fn` on the loop thread and waits for it; when the loop is not running, runs it on the
    /// caller. Used to tear down objects that live on the loop. Must not race with a run() starting.
    void run_and_wait(task fn) {
        if (in_loop_thread()) {
            fn();
            return;
        }
        std::promise<void> done;
        auto fut = done.get_future();
        {
            std::unique_lock lk(mutex_);
            if (!running_) {
                lk.unlock();
                fn();
                return;
            }
            tasks_.push_back([&fn, &done] {
                fn();
                done.set_value();
            });
        }
        wake();
        fut.wait();
    }

    /// Runs `fn` on the loop thread once `d` has passed. Thread-safe.
    timer_handle run_after(loop_clock::duration d, task fn) { return run_at(loop_clock::now() + d, std::move(fn)); }

    /// Runs `fn` on the loop thread at `at` (steady clock). Thread-safe.
    timer_handle run_at(loop_clock::time_point at, task fn) {
        std::lock_guard lk(timer_mutex_);
        const auto id = ++timer_seq_;
        const bool first = timers_.empty() || at < timers_.begin()->first.first;
        timers_.emplace(std::make_pair(at, id), std::move(fn));
        if (first) arm_timer(at);
        return timer_handle{this, at, id};
    }

    /// Watches `fd` for `events` (io::readable | io::writable); `cb` gets the ready bits. Loop thread.
    /// The loop does not own the fd: remove_fd before closing it.
    void add_fd(int fd, std::uint32_t events, fd_callback cb) {
        auto reg = std::make_unique<registration>();
        reg->fd = fd;
        reg->cb = std::move(cb);
        epoll_event ev{};
        ev.events = events;
        ev.data.ptr = reg.get();
        if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) throw_errno("epoll_ctl(ADD)");
        regs_[fd] = std::move(reg);
    }

    /// Changes the watched events of `fd`. Loop thread.
    void modify_fd(int fd, std::uint32_t events) {
        auto it = regs_.find(fd);
        if (it == regs_.end()) throw std::logic_error("gregor::net::event_loop: modify_fd of an unknown fd");
        epoll_event ev{};
        ev.events = events;
        ev.data.ptr = it->second.get();
        if (::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev) != 0) throw_errno("epoll_ctl(MOD)");
    }

    /// Stops watching `fd`; its callback never runs again, even for events already collected in
    /// this iteration (so the fd number may be closed and reused at once). Loop thread.
    void remove_fd(int fd) noexcept {
        auto it = regs_.find(fd);
        if (it == regs_.end()) return;
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
        it->second->dead = true;
        // The callback may be the one running now: keep it alive until the iteration ends.
        graveyard_.push_back(std::move(it->second));
        regs_.erase(it);
    }

    /// Number of watched fds (excluding the loop's own). Loop thread.
    [[nodiscard]] std::size_t watched_fds() const noexcept { return regs_.size() - 2; }

private:
    friend class timer_handle;

    struct registration {
        int fd = -1;
        bool dead = false;
        fd_callback cb;
    };

    [[noreturn]] static void throw_errno(const char* what) {
        throw std::system_error(errno, std::generic_category(), std::string("gregor::net::event_loop: ") + what);
    }

    void wake() noexcept {
        const std::uint64_t one = 1;
        [[maybe_unused]] auto r = ::write(wake_fd_, &one, sizeof one);
    }

    void on_wake() {
        std::uint64_t v;
        [[maybe_unused]] auto r = ::read(wake_fd_, &v, sizeof v);
        std::vector<task> batch;
        {
            std::lock_guard lk(mutex_);
            batch.swap(tasks_);
        }
        // Work posted by these tasks waits for the next iteration, so a task that re-posts
        // itself cannot starve I/O.
        for (auto& t : batch) t();
    }

    void arm_timer(loop_clock::time_point at) noexcept {
        const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch()).count();
        itimerspec spec{};
        spec.it_value.tv_sec = static_cast<time_t>(ns / 1000000000);
        spec.it_value.tv_nsec = static_cast<long>(ns % 1000000000);
        if (spec.it_value.tv_sec <= 0 && spec.it_value.tv_nsec <= 0) spec.it_value.tv_nsec = 1; // 0 disarms
        ::timerfd_settime(timer_fd_, TFD_TIMER_ABSTIME, &spec, nullptr);
    }

    void on_timer() {
        std::uint64_t v;
        [[maybe_unused]] auto r = ::read(timer_fd_, &v, sizeof v);
        std::vector<task> due;
        {
            std::lock_guard lk(timer_mutex_);
            const auto now = loop_clock::now();
            while (!timers_.empty() && timers_.begin()->first.first <= now) {
                due.push_back(std::move(timers_.begin()->second));
                timers_.erase(timers_.begin());
            }
            if (!timers_.empty()) arm_timer(timers_.begin()->first.first);
        }
        for (auto& t : due) t();
    }

    bool cancel_timer(loop_clock::time_point at, std::uint64_t id) noexcept {
        decltype(timers_)::node_type node; // destroyed outside the lock: captures may post or cancel
        {
            std::lock_guard lk(timer_mutex_);
            node = timers_.extract(std::make_pair(at, id));
        }
        return !node.empty();
    }

    int epoll_fd_ = -1;
    int wake_fd_ = -1;
    int timer_fd_ = -1;
    std::thread thread_;
    std::atomic<std::thread::id> loop_thread_{};
    std::atomic<bool> stop_requested_{false};

    mutable std::mutex mutex_; // tasks_, running_
    std::vector<task> tasks_;
    bool running_ = false;

    std::mutex timer_mutex_;
    std::map<std::pair<loop_clock::time_point, std::uint64_t>, task> timers_;
    std::uint64_t timer_seq_ = 0;

    std::unordered_map<int, std::unique_ptr<registration>> regs_;
    std::vector<std::unique_ptr<registration>> graveyard_;
};

inline bool timer_handle::cancel() noexcept {
    if (!loop_) return false;
    const bool removed = loop_->cancel_timer(at_, id_);
    loop_ = nullptr;
    return removed;
}

} // namespace gregor::net
