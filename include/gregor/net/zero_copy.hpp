// Sending a file range to a socket, chosen at compile time by a `file_send_policy`:
//   sendfile_send  sendfile(2): the kernel hands page-cache pages to the socket.
//   splice_send    splice(2) file -> pipe -> socket (the pipe is this object's, made on first use).
//   copy_send      pread(2) into a buffer, then send(2): one user-space copy, no page pinning.
// `default_file_send` is splice_send, the best all-round of the three in bench/net_bench.cpp on
// the development machine (docs/net.md has the figures and the reasoning).
//
// All of them work on non-blocking sockets: a call sends what the socket takes and returns
// EAGAIN when it is full; the caller resumes on EPOLLOUT with the position advanced by what was
// sent. splice_send and copy_send may hold bytes already read from the file but not yet taken by
// the socket; those are always the next bytes of the same range, so the caller must finish a
// range before it starts another one with the same policy object (an output queue does exactly
// that). Thread-safety: a policy object is used by one thread at a time (one per connection).
//
// SIGPIPE: sendfile and splice cannot pass MSG_NOSIGNAL, so a peer that closed could raise SIGPIPE;
// event_loop::run() blocks SIGPIPE on its thread while it runs, which turns it into EPIPE.
#pragma once

#include <gregor/core/buffer.hpp>

#include <algorithm>
#include <cerrno>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

namespace gregor::net {

/// Outcome of one send attempt: `bytes` of the range reached the socket; `error` is 0 (range
/// done), EAGAIN (socket full: wait for EPOLLOUT), or an errno that ends the connection
/// (ENODATA when the file is shorter than the range).
struct send_result {
    std::size_t bytes = 0;
    int error = 0;
};

/// What a file-send policy provides. `more` says another piece follows (the policy may tell the
/// kernel to wait for it before pushing a partial segment).
template <typename P>
concept file_send_policy = std::default_initializable<P> && std::movable<P> &&
    requires(P& p, int socket_fd, int file_fd, std::uint64_t position, std::size_t length, bool more) {
    { p.send_file(socket_fd, file_fd, position, length, more) } -> std::same_as<send_result>;
    { P::name } -> std::convertible_to<const char*>;
};

namespace detail {
/// Sends bytes already in memory; used by the policies that stage data.
inline send_result send_memory(int socket_fd, const std::byte* p, std::size_t n, bool more) noexcept {
    std::size_t sent = 0;
    while (sent < n) {
        const auto r = ::send(socket_fd, p + sent, n - sent, MSG_NOSIGNAL | (more ? MSG_MORE : 0));
        if (r > 0) {
            sent += static_cast<std::size_t>(r);
        } else if (r < 0 && errno == EINTR) {
            continue;
        } else {
            return {sent, r < 0 ? errno : EPIPE};
        }
    }
    return {sent, 0};
}

class unique_fd {
public:
    unique_fd() noexcept = default;
    explicit unique_fd(int fd) noexcept : fd_(fd) {}
    unique_fd(unique_fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    unique_fd& operator=(unique_fd&& o) noexcept {
        if (this != &o) {
            reset();
            fd_ = std::exchange(o.fd_, -1);
        }
        return *this;
    }
    ~unique_fd() { reset(); }
    void reset(int fd = -1) noexcept {
        if (fd_ >= 0) ::close(fd_);
        fd_ = fd;
    }
    [[nodiscard]] int get() const noexcept { return fd_; }
    [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }
    explicit operator bool() const noexcept { return fd_ >= 0; }

private:
    int fd_ = -1;
};
} // namespace detail

/// sendfile(2). Stateless: nothing is staged, every byte sent is taken from the page cache.
struct sendfile_send {
    static constexpr const char* name = "sendfile";

    send_result send_file(int socket_fd, int file_fd, std::uint64_t position, std::size_t length, bool) noexcept {
        auto off = static_cast<off_t>(position);
        std::size_t sent = 0;
        while (sent < length) {
            const auto r = ::sendfile(socket_fd, file_fd, &off, std::min<std::size_t>(length - sent, 0x7ffff000));
            if (r > 0) {
                sent += static_cast<std::size_t>(r);
            } else if (r == 0) {
                return {sent, ENODATA};
            } else if (errno != EINTR) {
                return {sent, errno};
            }
        }
        return {sent, 0};
    }
};

/// splice(2) through a private pipe. Bytes moved into the pipe but not yet taken by the socket
/// stay there for the next call.
class splice_send {
public:
    static constexpr const char* name = "splice";
    /// Pipe capacity asked for (F_SETPIPE_SZ); the kernel may give less (fs.pipe-max-size).
    static constexpr int pipe_bytes = 1 << 20;

    send_result send_file(int socket_fd, int file_fd, std::uint64_t position, std::size_t length, bool more) noexcept {
        if (!read_end_) {
            int fds[2];
            if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return {0, errno};
            read_end_.reset(fds[0]);
            write_end_.reset(fds[1]);
            const int got = ::fcntl(fds[1], F_SETPIPE_SZ, pipe_bytes);
            capacity_ = got > 0 ? static_cast<std::size_t>(got) : 65536;
        }
        std::size_t sent = 0;
        while (sent < length) {
            if (in_pipe_ == 0) {
                auto off = static_cast<loff_t>(position + sent);
                const auto want = std::min(length - sent, capacity_);
                const auto r =
                    ::splice(file_fd, &off, write_end_.get(), nullptr, want, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
                if (r > 0) {
                    in_pipe_ = static_cast<std::size_t>(r);
                } else if (r == 0) {
                    return {sent, ENODATA};
                } else if (errno == EINTR) {
                    continue;
                } else {
                    return {sent, errno};
                }
            }
            const bool tail_follows = more || sent + in_pipe_ < length;
            const auto w = ::splice(read_end_.get(), nullptr, socket_fd, nullptr, in_pipe_,
                                    SPLICE_F_MOVE | SPLICE_F_NONBLOCK | (tail_follows ? SPLICE_F_MORE : 0));
            if (w > 0) {
                in_pipe_ -= static_cast<std::size_t>(w);
                sent += static_cast<std::size_t>(w);
            } else if (w == 0) {
                return {sent, EPIPE};
            } else if (errno != EINTR) {
                return {sent, errno};
            }
        }
        return {sent, 0};
    }

private:
    detail::unique_fd read_end_;
    detail::unique_fd write_end_;
    std::size_t capacity_ = 0;
    std::size_t in_pipe_ = 0; // bytes of the current range sitting in the pipe
};

/// pread(2) into a private buffer (allocated on first use), then send(2). The buffer holds what
/// the socket did not take.
template <std::size_t BufferBytes>
class basic_copy_send {
public:
    static_assert(BufferBytes >= 4096, "gregor::net::basic_copy_send: use a buffer of at least a page");
    static constexpr const char* name = "copy";
    static constexpr std::size_t buffer_bytes = BufferBytes;

    send_result send_file(int socket_fd, int file_fd, std::uint64_t position, std::size_t length, bool more) noexcept {
        if (!buf_) {
            buf_.reset(new (std::nothrow) std::byte[buffer_bytes]);
            if (!buf_) return {0, ENOMEM};
        }
        std::size_t sent = 0;
        while (sent < length) {
            if (begin_ == end_) {
                begin_ = end_ = 0;
                const auto want = std::min(length - sent, buffer_bytes);
                const auto r = ::pread(file_fd, buf_.get(), want, static_cast<off_t>(position + sent));
                if (r > 0) {
                    end_ = static_cast<std::size_t>(r);
                } else if (r == 0) {
                    return {sent, ENODATA};
                } else if (errno == EINTR) {
                    continue;
                } else {
                    return {sent, errno};
                }
            }
            const bool tail_follows = more || sent + (end_ - begin_) < length;
            const auto w = detail::send_memory(socket_fd, buf_.get() + begin_, end_ - begin_, tail_follows);
            begin_ += w.bytes;
            sent += w.bytes;
            if (w.error != 0) return {sent, w.error};
        }
        return {sent, 0};
    }

private:
    std::unique_ptr<std::byte[]> buf_;
    std::size_t begin_ = 0; // staged bytes [begin_, end_) are the next of the current range
    std::size_t end_ = 0;
};

using copy_send = basic_copy_send<256 * 1024>;

static_assert(file_send_policy<sendfile_send>);
static_assert(file_send_policy<splice_send>);
static_assert(file_send_policy<copy_send>);

/// The policy used when none is named: splice had the highest throughput and the lowest CPU cost
/// per byte in bench/net_bench.cpp (docs/net.md has the figures). It costs a pipe (two fds) per
/// connection that sends files, made on first use.
using default_file_send = splice_send;

} // namespace gregor::net
