// Hands out idempotent producer ids that stay unique across restarts: ids are reserved in blocks
// and the end of the current block is written (and synced) to `<data dir>/producer_id_block`
// before any id of it is used, so a crash can skip ids but never repeat one. Thread-safe.
#pragma once

#include <gregor/core/strong_types.hpp>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <string>

#include <fcntl.h>
#include <unistd.h>

namespace gregor::broker_detail {

class producer_id_allocator {
public:
    static constexpr std::int64_t block_size = 1000;

    /// `file` empty: ids live only as long as this process (in-memory brokers).
    explicit producer_id_allocator(std::filesystem::path file = {}) : file_(std::move(file)) {
        if (file_.empty()) return;
        std::ifstream in(file_);
        long long v = 0;
        if (in >> v && v > 0) next_ = limit_ = v;
    }

    producer_id next() {
        std::lock_guard lk(mu_);
        if (next_ >= limit_) {
            limit_ = next_ + block_size;
            persist(limit_);
        }
        return producer_id{next_++};
    }

private:
    void persist(std::int64_t v) {
        if (file_.empty()) return;
        const auto tmp = file_.string() + ".tmp";
        const auto text = std::to_string(v) + "\n";
        const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) return;
        const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
        ::close(fd);
        if (ok) std::rename(tmp.c_str(), file_.c_str());
    }

    std::filesystem::path file_;
    std::mutex mu_;
    std::int64_t next_ = 0;
    std::int64_t limit_ = 0;
};

} // namespace gregor::broker_detail
