// flusher: the broker's thread for syncs, so no event loop ever waits for fdatasync. A partition
// that needs a sync (fsync-before-ack, log.flush.interval.messages, log.flush.interval.ms) asks
// for one and returns; the flusher syncs each asking partition once per round, and every append
// that reached the log before that sync started is covered by it (group commit: sixteen
// producers waiting on one partition cost one fdatasync, not sixteen). Waiters learn of it through
// the partition's offset monitor.
//
// Thread-safety: request() from any thread; stop() from any thread but the flusher's own.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace gregor::broker_detail {

template <typename Partition>
class flusher {
public:
    flusher() : thread_([this] { run(); }) {}
    flusher(const flusher&) = delete;
    flusher& operator=(const flusher&) = delete;
    ~flusher() { stop(); }

    /// Asks for a sync of `p` (coalesced with other requests for it until the next round).
    void request(Partition* p) {
        {
            std::lock_guard lk(mu_);
            if (stopped_) return;
            for (auto* q : pending_)
                if (q == p) return;
            pending_.push_back(p);
        }
        cv_.notify_one();
    }

    /// Runs the syncs already asked for, then ends the thread. Idempotent.
    void stop() {
        {
            std::lock_guard lk(mu_);
            if (stopped_) return;
            stopped_ = true;
        }
        cv_.notify_one();
        if (thread_.joinable()) thread_.join();
    }

    /// Syncs done so far (one per partition per round).
    [[nodiscard]] std::uint64_t syncs() const {
        std::lock_guard lk(mu_);
        return syncs_;
    }

private:
    void run() {
        std::vector<Partition*> batch;
        std::unique_lock lk(mu_);
        for (;;) {
            cv_.wait(lk, [&] { return stopped_ || !pending_.empty(); });
            if (pending_.empty() && stopped_) return;
            batch.swap(pending_);
            lk.unlock();
            for (auto* p : batch) p->run_flush();
            lk.lock();
            syncs_ += batch.size();
            batch.clear();
        }
    }

    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::vector<Partition*> pending_;
    std::uint64_t syncs_ = 0;
    bool stopped_ = false;
    std::thread thread_;
};

} // namespace gregor::broker_detail
