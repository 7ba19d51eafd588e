// Client side of a Kafka-framed TCP connection.
//
// `client_connection` is non-blocking and lives on an event_loop: connect, queue frames (the size
// prefix is added here), receive frames through a callback, with the same framing limits as the
// server (a negative or oversized frame closes the connection). Frames queued before the connection
// is up are sent once it is. Thread-safety: every call on the loop thread (or while the loop is not
// running); callbacks run on the loop thread, and may destroy the connection.
//
// `blocking_client` is a small synchronous helper for tests and tools: connect, send a frame (or
// raw bytes), read a frame or wait for the peer to close, each bounded by a timeout. Not
// thread-safe (one thread at a time).
//
// @par Example
// @code
//   net::client_connection conn(loop);
//   loop.post([&] {
//       conn.connect("127.0.0.1", port, {
//           .on_connected = [] {},
//           .on_frame = [](bytes_view frame) { /* a response, in request order */ },
//           .on_closed = [](std::error_code ec) { /* refused, reset, bad frame, timeout... */ }});
//       conn.send(byte_buffer(request_bytes));
//   });
// @endcode
#pragma once

#include <gregor/core/buffer.hpp>
#include <gregor/core/error.hpp>
#include <gregor/detail/unique_function.hpp>
#include <gregor/net/detail/output_queue.hpp>
#include <gregor/net/detail/socket.hpp>
#include <gregor/net/event_loop.hpp>
#include <gregor/net/framing.hpp>
#include <gregor/net/response.hpp>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

#include <poll.h>
#include <sys/socket.h>

namespace gregor::net {

struct client_config {
    std::int32_t max_frame_bytes = default_max_frame_bytes; // largest response frame accepted
                                                            // (librdkafka: receive.message.max.bytes)
    std::int32_t socket_send_buffer_bytes = -1;             // socket.send.buffer.bytes (-1 = OS)
    std::int32_t socket_receive_buffer_bytes = -1;          // receive.buffer.bytes (-1 = OS)
    std::int64_t connection_setup_timeout_ms = 10000;       // socket.connection.setup.timeout.ms
};

enum class client_state { idle, connecting, connected, closed };

class client_connection {
public:
    struct callbacks {
        gregor::detail::unique_function<void()> on_connected;
        gregor::detail::unique_function<void(bytes_view frame)> on_frame; ///< view valid during the call
        gregor::detail::unique_function<void(std::error_code)> on_closed; ///< not called after close()
    };

    explicit client_connection(event_loop& loop, client_config cfg = {})
            : loop_(loop), cfg_(cfg), reader_(cfg.max_frame_bytes), alive_(std::make_shared<bool>(true)) {}

    client_connection(const client_connection&) = delete;
    client_connection& operator=(const client_connection&) = delete;

    /// Closes without calling on_closed. Loop thread (or loop not running).
    ~client_connection() {
        *alive_ = false;
        shut();
    }

    /// Starts connecting. Failures (resolution, refusal, timeout) arrive through on_closed, from
    /// a later loop iteration, never from inside this call.
    void connect(const std::string& host, std::uint16_t port, callbacks cbs) {
        cbs_ = std::make_shared<callbacks>(std::move(cbs));
        state_ = client_state::connecting;
        bool in_progress = false;
        try {
            fd_ = detail::start_connect(host, port, in_progress);
        } catch (const std::system_error& e) {
            fail_later(e.code());
            return;
        }
        detail::tune_socket(fd_.get(), cfg_.socket_send_buffer_bytes, cfg_.socket_receive_buffer_bytes);
        events_ = io::writable;
        loop_.add_fd(fd_.get(), events_, [this](std::uint32_t ev) { on_io(ev); });
        connect_timer_ = loop_.run_after(std::chrono::milliseconds(cfg_.connection_setup_timeout_ms),
                                         [this, alive = std::weak_ptr<bool>(alive_)] {
                                             if (auto a = alive.lock(); a && *a && state_ == client_state::connecting) {
                                                 fail(make_error_code(local_error::timed_out));
                                             }
                                         });
        (void)in_progress; // both cases complete through EPOLLOUT
    }

    /// Queues one frame: `body` gets its size prefix. Returns false when closed.
    bool send(response body) {
        if (state_ == client_state::closed || state_ == client_state::idle) return false;
        if (body.size() > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max())) return false;
        out_.push_prefix(static_cast<std::int32_t>(body.size()));
        out_.push(body.take_pieces());
        if (state_ == client_state::connected) write_now();
        return true;
    }
    bool send(byte_buffer body) { return send(response(std::move(body))); }

    /// Stops (false) or resumes (true) reading responses; for consumer-side backpressure.
    void set_reading(bool on) {
        reading_ = on;
        if (state_ == client_state::connected) update_interest();
    }

    /// Closes now; queued frames are dropped and on_closed is not called.
    void close() { shut(); }

    [[nodiscard]] client_state state() const noexcept { return state_; }
    [[nodiscard]] bool connected() const noexcept { return state_ == client_state::connected; }
    /// Bytes queued and not yet written.
    [[nodiscard]] std::size_t unsent_bytes() const noexcept { return out_.unsent(); }

private:
    void fail_later(std::error_code ec) {
        state_ = client_state::closed;
        loop_.post([ec, alive = std::weak_ptr<bool>(alive_), cbs = cbs_] {
            if (auto a = alive.lock(); a && *a && cbs->on_closed) cbs->on_closed(ec);
        });
    }

    void shut() noexcept {
        connect_timer_.cancel();
        if (fd_) {
            loop_.remove_fd(fd_.get());
            fd_.reset();
        }
        out_.clear();
        state_ = client_state::closed;
    }

    void fail(std::error_code ec) {
        shut();
        auto cbs = cbs_; // the callback may destroy *this, and with it cbs_
        if (cbs && cbs->on_closed) cbs->on_closed(ec);
    }

    void on_io(std::uint32_t ev) {
        auto alive = alive_; // callbacks may destroy *this
        if (state_ == client_state::connecting) {
            const int err = detail::socket_error(fd_.get());
            if (err != 0) {
                fail(std::error_code(err, std::generic_category()));
                return;
            }
            if ((ev & (io::writable | io::error | EPOLLHUP)) == 0) return;
            state_ = client_state::connected;
            connect_timer_.cancel();
            if (auto cbs = cbs_; cbs->on_connected) cbs->on_connected();
            if (!*alive || state_ != client_state::connected) return;
            write_now();
            return;
        }
        if (ev & io::error) {
            const int err = detail::socket_error(fd_.get());
            fail(std::error_code(err != 0 ? err : EPIPE, std::generic_category()));
            return;
        }
        if (ev & (io::readable | EPOLLHUP)) {
            if (!read_some()) return;
        }
        if (!*alive || state_ != client_state::connected) return;
        write_now();
    }

    // Returns false when the connection is gone (or *this was destroyed).
    bool read_some() {
        auto alive = alive_;
        for (int i = 0; i < 8 && reading_; ++i) {
            const auto space = reader_.prepare();
            const auto n = ::recv(fd_.get(), space.data(), space.size(), 0);
            if (n > 0) {
                reader_.commit(static_cast<std::size_t>(n));
                bytes_view frame;
                for (;;) {
                    const auto st = reader_.next(frame);
                    if (st == frame_status::need_more) break;
                    if (st != frame_status::frame) {
                        fail(make_error_code(local_error::corrupt_data));
                        return false;
                    }
                    if (auto cbs = cbs_; cbs->on_frame) cbs->on_frame(frame);
                    if (!*alive || state_ != client_state::connected) return false;
                    if (!reading_) return true;
                }
                if (static_cast<std::size_t>(n) < space.size()) break;
            } else if (n == 0) {
                fail(make_error_code(local_error::closed));
                return false;
            } else if (errno == EINTR) {
                continue;
            } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
                break;
            } else {
                fail(std::error_code(errno, std::generic_category()));
                return false;
            }
        }
        return true;
    }

    void write_now() {
        if (!out_.empty()) {
            int err = 0;
            const auto st = out_.flush(fd_.get(), std::numeric_limits<std::size_t>::max(), err);
            if (st == detail::flush_status::error) {
                fail(std::error_code(err, std::generic_category()));
                return;
            }
        }
        update_interest();
    }

    void update_interest() {
        const std::uint32_t ev = (reading_ ? io::readable : 0u) | (out_.empty() ? 0u : io::writable);
        if (fd_ && ev != events_) {
            loop_.modify_fd(fd_.get(), ev);
            events_ = ev;
        }
    }

    event_loop& loop_;
    client_config cfg_;
    frame_reader reader_;
    detail::output_queue<copy_send> out_;
    detail::unique_fd fd_;
    std::shared_ptr<callbacks> cbs_; // shared: a callback that destroys *this must outlive the call
    client_state state_ = client_state::idle;
    std::uint32_t events_ = 0;
    bool reading_ = true;
    timer_handle connect_timer_;
    std::shared_ptr<bool> alive_;
};

/// Synchronous client for tests and tools. Every call is bounded by its timeout.
class blocking_client {
public:
    enum class status { ok, timeout, closed, bad_frame, error };

    /// Connects (throws std::system_error on failure or timeout).
    blocking_client(const std::string& host, std::uint16_t port,
                    std::chrono::milliseconds timeout = std::chrono::seconds(5),
                    std::int32_t max_frame_bytes = default_max_frame_bytes)
            : reader_(max_frame_bytes) {
        bool in_progress = false;
        fd_ = detail::start_connect(host, port, in_progress);
        if (in_progress) {
            if (!wait_for(POLLOUT, deadline(timeout))) {
                throw std::system_error(std::make_error_code(std::errc::timed_out), "gregor::net: connect");
            }
            if (const int err = detail::socket_error(fd_.get()); err != 0) {
                throw std::system_error(err, std::generic_category(), "gregor::net: connect");
            }
        }
        detail::tune_socket(fd_.get(), -1, -1);
    }

    /// Sends `body` with its size prefix.
    status send_frame(bytes_view body, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
        std::byte prefix[frame_header_bytes];
        write_frame_header(prefix, static_cast<std::int32_t>(body.size()));
        const auto until = deadline(timeout);
        if (auto st = send_all({prefix, frame_header_bytes}, until); st != status::ok) return st;
        return send_all(body, until);
    }

    /// Sends bytes as they are (to forge malformed frames).
    status send_raw(bytes_view bytes, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
        return send_all(bytes, deadline(timeout));
    }

    /// Reads the next frame (without its prefix) into `out`.
    status read_frame(byte_buffer& out, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
        const auto until = deadline(timeout);
        for (;;) {
            bytes_view frame;
            const auto st = reader_.next(frame);
            if (st == frame_status::frame) {
                out.clear();
                out.append(frame);
                return status::ok;
            }
            if (st != frame_status::need_more) return status::bad_frame;
            if (const auto r = receive(until); r != status::ok) return r;
        }
    }

    /// The next frame, or nothing on timeout/close/error.
    std::optional<byte_buffer> read_frame(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
        byte_buffer out;
        if (read_frame(out, timeout) != status::ok) return std::nullopt;
        return out;
    }

    /// Waits until the peer closes (EOF or reset), discarding anything received. True if it did.
    bool wait_closed(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
        const auto until = deadline(timeout);
        for (;;) {
            const auto r = receive(until);
            if (r == status::closed || r == status::error) return true;
            if (r == status::timeout) return false;
            reader_ = frame_reader(reader_.max_frame_bytes()); // discard what arrived
        }
    }

    /// Half-closes (no more sends); the peer sees EOF.
    void shutdown_write() noexcept { ::shutdown(fd_.get(), SHUT_WR); }
    void close() noexcept { fd_.reset(); }
    [[nodiscard]] int native_handle() const noexcept { return fd_.get(); }

private:
    using steady = std::chrono::steady_clock;
    static steady::time_point deadline(std::chrono::milliseconds t) { return steady::now() + t; }

    bool wait_for(short what, steady::time_point until) {
        for (;;) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - steady::now()).count();
            if (left < 0) return false;
            pollfd p{fd_.get(), what, 0};
            const int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1 << 30)) + 1);
            if (r > 0) return true;
            if (r < 0 && errno != EINTR) return true; // let the next syscall report it
            if (r == 0 && steady::now() >= until) return false;
        }
    }

    status send_all(bytes_view b, steady::time_point until) {
        std::size_t done = 0;
        while (done < b.size()) {
            const auto n = ::send(fd_.get(), b.data() + done, b.size() - done, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0) {
                done += static_cast<std::size_t>(n);
            } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                if (!wait_for(POLLOUT, until)) return status::timeout;
            } else if (n < 0 && errno == EINTR) {
                continue;
            } else {
                return (errno == EPIPE || errno == ECONNRESET) ? status::closed : status::error;
            }
        }
        return status::ok;
    }

    status receive(steady::time_point until) {
        for (;;) {
            const auto space = reader_.prepare();
            const auto n = ::recv(fd_.get(), space.data(), space.size(), MSG_DONTWAIT);
            if (n > 0) {
                reader_.commit(static_cast<std::size_t>(n));
                return status::ok;
            }
            if (n == 0) return status::closed;
            if (errno == EINTR) continue;
            if (errno == ECONNRESET) return status::closed;
            if (errno != EAGAIN && errno != EWOULDBLOCK) return status::error;
            if (!wait_for(POLLIN, until)) return status::timeout;
        }
    }

    detail::unique_fd fd_;
    frame_reader reader_;
};

} // namespace gregor::net
