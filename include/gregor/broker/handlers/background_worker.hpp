// The thread that runs the handlers which must touch the disk in ways the event loop may not wait
// for: the admin APIs write the topic table and checkpoints (a temporary file, fsync, rename) and
// DeleteTopics removes directories. A handler opts in with `static constexpr bool off_loop = true;`
// (handler_list.hpp): the dispatcher copies the request frame and runs the handler here, and the
// handler answers through its responder as any other, so the loop keeps serving produce and fetch
// meanwhile. One thread is enough: such requests are rare, and running them in arrival order keeps
// a client's CreateTopics-then-DeleteTopics in that order.
//
// Threading: post() from any thread; the destructor runs what is queued, then joins.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

namespace gregor::broker_handlers {

class background_worker {
public:
    background_worker() = default;
    background_worker(const background_worker&) = delete;
    background_worker& operator=(const background_worker&) = delete;
    ~background_worker() {
        {
            std::lock_guard lk(mu_);
            stopping_ = true;
        }
        cv_.notify_one();
        if (thread_.joinable()) thread_.join();
    }

    /// Runs `fn` on the worker thread (started by the first post), after everything posted before.
    template <typename Fn>
    void post(Fn&& fn) {
        struct impl final : task {
            explicit impl(Fn&& f) : fn(std::forward<Fn>(f)) {}
            void run() override { fn(); }
            std::decay_t<Fn> fn;
        };
        {
            std::lock_guard lk(mu_);
            queue_.push_back(std::make_unique<impl>(std::forward<Fn>(fn)));
            if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
        }
        cv_.notify_one();
    }

private:
    struct task {
        virtual ~task() = default;
        virtual void run() = 0;
    };

    void run() {
        std::unique_lock lk(mu_);
        for (;;) {
            cv_.wait(lk, [&] { return stopping_ || !queue_.empty(); });
            if (queue_.empty()) return; // stopping, and nothing left to answer
            auto t = std::move(queue_.front());
            queue_.pop_front();
            lk.unlock();
            try {
                t->run();
            } catch (...) {
                // Unanswered, its responder closes the connection below; the worker goes on.
            }
            t.reset(); // an unanswered responder closes its connection here, not under the lock
            lk.lock();
        }
    }

    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::unique_ptr<task>> queue_;
    bool stopping_ = false;
    std::thread thread_;
};

} // namespace gregor::broker_handlers
