// Helpers shared by the net tests: waiting on conditions with a bound, temp files.
#pragma once

#include <gregor/core/buffer.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

namespace gregor::net::testing {

using namespace std::chrono_literals;

/// Waits until `pred` holds (checked whenever `notify` is called), at most `timeout`.
class waiter {
public:
    template <typename Pred>
    bool wait(Pred pred, std::chrono::milliseconds timeout = 10s) {
        std::unique_lock lk(m_);
        return cv_.wait_for(lk, timeout, pred);
    }
    // Notifies under the lock: the waiting test may return and destroy this waiter as soon as it
    // sees the change, so the condition variable must not be touched after the lock is released.
    template <typename F>
    void update(F&& f) {
        std::lock_guard lk(m_);
        f();
        cv_.notify_all();
    }

private:
    std::mutex m_;
    std::condition_variable cv_;
};

/// A file under /tmp filled with deterministic pseudo-random bytes; removed on destruction.
class temp_file {
public:
    explicit temp_file(std::size_t size, std::uint32_t seed = 7) {
        char tmpl[] = "/tmp/gregor-net-test-XXXXXX";
        fd_ = ::mkstemp(tmpl);
        if (fd_ < 0) throw std::runtime_error("mkstemp failed");
        path_ = tmpl;
        contents_.resize(size);
        std::mt19937 rng(seed);
        for (std::size_t i = 0; i < size; ++i) contents_[i] = static_cast<std::byte>(rng() & 0xff);
        std::size_t done = 0;
        while (done < size) {
            const auto n = ::write(fd_, contents_.data() + done, size - done);
            if (n <= 0) throw std::runtime_error("write failed");
            done += static_cast<std::size_t>(n);
        }
    }
    ~temp_file() {
        ::close(fd_);
        std::filesystem::remove(path_);
    }
    temp_file(const temp_file&) = delete;
    temp_file& operator=(const temp_file&) = delete;

    [[nodiscard]] int fd() const noexcept { return fd_; }
    [[nodiscard]] bytes_view bytes(std::size_t pos, std::size_t len) const noexcept {
        return {contents_.data() + pos, len};
    }

private:
    int fd_ = -1;
    std::string path_;
    std::vector<std::byte> contents_;
};

inline byte_buffer u32_frame(std::uint32_t v) {
    byte_buffer b;
    byte_writer w(b);
    w.u32(v);
    return b;
}
inline std::uint32_t u32_of(bytes_view b) { return b.size() >= 4 ? load_be<std::uint32_t>(b.data()) : 0xffffffffu; }

inline bool same_bytes(bytes_view a, bytes_view b) {
    return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}

} // namespace gregor::net::testing
