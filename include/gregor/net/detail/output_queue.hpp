// Per-connection output: a FIFO of pieces written with sendmsg (memory pieces gathered into one
// iovec array) and the file-send policy (file pieces), resumable after EAGAIN. Shared by the
// server's connections and the client connection. Thread-safety: one thread (the loop's).
#pragma once

#include <gregor/net/response.hpp>
#include <gregor/net/zero_copy.hpp>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <utility>
#include <vector>

#include <sys/socket.h>
#include <sys/uio.h>

namespace gregor::net::detail {

enum class flush_status {
    done,        ///< everything was written
    would_block, ///< the socket is full: wait for EPOLLOUT
    budget,      ///< the per-call byte budget ran out: come back (the socket is still writable)
    error,       ///< the connection is broken (errno in `error`)
};

template <file_send_policy FileSend>
class output_queue {
public:
    /// Queues a frame's 4-byte size prefix.
    void push_prefix(std::int32_t size) {
        out_piece p;
        p.k = out_piece::kind::prefix;
        store_be<std::int32_t>(p.prefix.data(), size);
        p.length = 4;
        push(std::move(p));
    }
    void push(out_piece&& p) {
        if (p.length == 0) return;
        unsent_ += p.length;
        q_.push_back(std::move(p));
    }
    void push(std::vector<out_piece>&& pieces) {
        for (auto& p : pieces) push(std::move(p));
    }

    [[nodiscard]] bool empty() const noexcept { return q_.empty(); }
    /// Bytes queued and not yet written.
    [[nodiscard]] std::size_t unsent() const noexcept { return unsent_; }
    /// Bytes written since construction.
    [[nodiscard]] std::uint64_t written() const noexcept { return written_; }

    /// Writes until the queue is empty, the socket is full, `budget` bytes went out, or an error.
    flush_status flush(int sock, std::size_t budget, int& error) {
        std::size_t wrote = 0;
        while (!q_.empty()) {
            if (wrote >= budget) return flush_status::budget;
            auto& front = q_.front();
            if (front.is_file()) {
                const bool more = q_.size() > 1;
                const auto r =
                    policy_.send_file(sock, front.fd, front.position + front.done, front.length - front.done, more);
                advance_front(r.bytes);
                wrote += r.bytes;
                if (front_done()) {
                    q_.pop_front();
                    continue;
                }
                if (r.error == EAGAIN || r.error == EWOULDBLOCK) return flush_status::would_block;
                error = r.error != 0 ? r.error : EIO;
                return flush_status::error;
            }
            constexpr std::size_t max_iov = 64;
            iovec iov[max_iov];
            std::size_t n = 0;
            std::size_t total = 0;
            bool file_follows = false;
            for (auto it = q_.begin(); it != q_.end() && n < max_iov; ++it) {
                if (it->is_file()) {
                    file_follows = true;
                    break;
                }
                const auto b = it->bytes();
                iov[n].iov_base = const_cast<std::byte*>(b.data() + it->done);
                iov[n].iov_len = b.size() - it->done;
                total += iov[n].iov_len;
                ++n;
                if (wrote + total >= budget) break;
            }
            msghdr msg{};
            msg.msg_iov = iov;
            msg.msg_iovlen = n;
            const auto r = ::sendmsg(sock, &msg, MSG_NOSIGNAL | (file_follows ? MSG_MORE : 0));
            if (r < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK) return flush_status::would_block;
                error = errno;
                return flush_status::error;
            }
            auto left = static_cast<std::size_t>(r);
            wrote += left;
            while (left > 0) {
                const auto take = std::min(left, q_.front().length - q_.front().done);
                advance_front(take);
                left -= take;
                if (front_done()) q_.pop_front();
            }
            // A short write on a non-blocking socket means it is full: skip the EAGAIN round trip.
            if (static_cast<std::size_t>(r) < total) return flush_status::would_block;
        }
        return flush_status::done;
    }

    /// Drops everything (connection closing); releases keepalives.
    void clear() noexcept {
        q_.clear();
        unsent_ = 0;
    }

private:
    void advance_front(std::size_t n) noexcept {
        q_.front().done += n;
        unsent_ -= n;
        written_ += n;
    }
    [[nodiscard]] bool front_done() const noexcept { return q_.front().done == q_.front().length; }

    std::deque<out_piece> q_;
    std::size_t unsent_ = 0;
    std::uint64_t written_ = 0;
    [[no_unique_address]] FileSend policy_;
};

} // namespace gregor::net::detail
