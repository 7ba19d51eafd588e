// Hands out idempotent producer ids that stay unique across restarts: ids are reserved in blocks
// and the end of the current block is written to `<data dir>/producer_id_block` through the
// storage backend's durable write_file before any id of it is used, so a crash can skip ids but
// never repeat one. When that write fails no id is handed out (the caller answers a retriable
// error) rather than risk repeating ids after a restart. Thread-safe.
#pragma once

#include <gregor/core/buffer.hpp>
#include <gregor/core/strong_types.hpp>

#include <charconv>
#include <cstdint>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>

namespace gregor::broker_detail {

inline constexpr const char* producer_id_block_file = "producer_id_block";

template <typename Backend>
class producer_id_allocator {
public:
    static constexpr std::int64_t block_size = 1000;

    /// `backend` null: ids live only as long as this process (in-memory brokers). A block file
    /// that exists but does not parse throws: guessing could hand out ids already used.
    explicit producer_id_allocator(Backend* backend = nullptr) : backend_(backend) {
        if (!backend_) return;
        byte_buffer buf;
        if (const auto ec = backend_->read_file(producer_id_block_file, buf)) {
            if (ec == std::errc::no_such_file_or_directory) return;
            throw std::system_error(ec, "gregor: cannot read producer_id_block");
        }
        const auto text = as_string_view(buf.view());
        std::int64_t v = 0;
        const auto end = text.data() + text.size() - (text.empty() || text.back() != '\n' ? 0 : 1);
        if (std::from_chars(text.data(), end, v).ptr != end || v < 0)
            throw std::system_error(std::make_error_code(std::errc::illegal_byte_sequence),
                                    "gregor: producer_id_block is corrupt");
        next_ = limit_ = v;
    }

    /// The next id, or nullopt when the block it needs could not be made durable.
    std::optional<producer_id> next() {
        std::lock_guard lk(mu_);
        if (next_ >= limit_) {
            const auto limit = next_ + block_size;
            if (backend_) {
                const auto text = std::to_string(limit) + "\n";
                if (backend_->write_file(producer_id_block_file, as_bytes(text))) return std::nullopt;
            }
            limit_ = limit;
        }
        return producer_id{next_++};
    }

private:
    Backend* backend_;
    std::mutex mu_;
    std::int64_t next_ = 0;
    std::int64_t limit_ = 0;
};

} // namespace gregor::broker_detail
