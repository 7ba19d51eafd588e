// A Kafka-framed TCP server with no Kafka message knowledge: it cuts requests out of each
// connection's byte stream, hands every frame to a Handler with a `responder`, and writes the
// answers back in request order, whatever order (and thread) the handler completes them in.
//
// Per connection, each request gets a slot in a FIFO when it is read; a completion fills its slot,
// and the filled slots at the head are moved to the output queue (size prefix + pieces). So a
// produce waiting for a flush or a fetch long-polling holds back only the responses after it on
// its own connection. `no_response` empties a slot without output (acks=0 produce),
// `close_connection` closes once the earlier responses were written.
//
// Limits: socket.request.max.bytes (checked before allocating; a negative or oversized size
// closes that connection only), max.connections (accepted then closed at once beyond it),
// connections.max.idle.ms (no traffic and nothing in flight), and backpressure: a connection is
// not read while it has too many requests in flight or too many bytes unsent.
//
// Threading: the server lives on one event_loop. Handler hooks run on the loop thread and must not
// block; a responder may be completed on any thread (it posts to the loop; completing on the loop
// thread takes effect at once). Calls: constructor, destructor and stop() from any thread but
// the loop's own while it runs (they wait for the loop); async_stop(), local_port(), stats() from
// any thread; handler() gives the handler, to be used on the loop thread. Destroy the server before
// its loop.
//
// @par Example
// @code
//   struct echo {
//       void on_request(net::connection_id, bytes_view frame, net::responder r) {
//           r.complete(net::response(byte_buffer(frame)));
//       }
//   };
//   net::event_loop loop;
//   loop.start();
//   net::server<echo> srv(loop, {.port = 0});
//   std::printf("listening on %u\n", srv.local_port());
//   ...
//   srv.stop(std::chrono::seconds(5));   // finish in-flight requests, then close
// @endcode
#pragma once

#include <gregor/core/buffer.hpp>
#include <gregor/detail/config_table.hpp>
#include <gregor/detail/properties.hpp>
#include <gregor/detail/unique_function.hpp>
#include <gregor/net/detail/output_queue.hpp>
#include <gregor/net/detail/socket.hpp>
#include <gregor/net/event_loop.hpp>
#include <gregor/net/framing.hpp>
#include <gregor/net/response.hpp>
#include <gregor/net/zero_copy.hpp>

#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <future>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <sys/socket.h>

namespace gregor::net {

/// Runtime settings of a server, by Kafka's broker property names where Kafka has one. Every key
/// is declared once, in server_keys below, which drives set(), try_set(), validate() and the docs.
struct server_config {
    // Names, bounds and docs are in server_keys; these initialisers must agree with it (tested).
    std::string host = "127.0.0.1"; // "" = all interfaces
    std::uint16_t port = 9092;      // 0 = any free port
    std::int32_t socket_request_max_bytes = default_max_frame_bytes;
    std::int32_t max_connections = 2147483647;
    std::int64_t connections_max_idle_ms = 600000;
    std::int32_t socket_send_buffer_bytes = 102400;    // -1 = kernel autotuning
    std::int32_t socket_receive_buffer_bytes = 102400; // -1 = kernel autotuning
    std::int32_t socket_listen_backlog_size = 50;
    // gregor's own: Kafka handles one request per connection at a time, gregor pipelines.
    std::int32_t max_in_flight_requests_per_connection = 1000;
    std::int64_t max_unsent_bytes_per_connection = 16 << 20;
    std::int64_t shutdown_timeout_ms = 30000; // stop() default

    /// Parses properties; unknown keys and bad values throw std::invalid_argument naming the key.
    static server_config from_properties(const std::map<std::string, std::string>& props) {
        return gregor::detail::props::from_map<server_config>(props);
    }

    /// Sets one property (throws std::invalid_argument for an unknown key or a bad value).
    void set(const std::string& key, const std::string& value) {
        if (!try_set(key, value)) throw std::invalid_argument("unknown server property '" + key + "'");
    }

    /// Sets one property if the key is a server property (returns false otherwise, so a broker
    /// config can offer the key to other components); a bad value throws std::invalid_argument.
    bool try_set(const std::string& key, const std::string& value);

    /// Throws std::invalid_argument naming the first field out of range.
    void validate() const;

    /// Parses one listener, "PLAINTEXT://host:port", "host:port" or "[::1]:port", into host and
    /// port (throws std::invalid_argument naming `key`).
    void set_listener(const std::string& key, const std::string& value) {
        std::string_view v = value;
        if (const auto s = v.find("://"); s != std::string_view::npos) v.remove_prefix(s + 3);
        const auto colon = v.rfind(':');
        if (colon == std::string_view::npos || v.find(',') != std::string_view::npos) {
            throw std::invalid_argument("invalid value '" + value + "' for property '" + key +
                                        "': expected one listener HOST:PORT");
        }
        auto h = v.substr(0, colon);
        if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
        const auto p = gregor::detail::props::parse_int<std::uint16_t>(key, std::string(v.substr(colon + 1)), 0);
        host = std::string(h);
        port = p;
    }

    /// The listener as `listeners` spells it.
    [[nodiscard]] std::string listener() const {
        const bool v6 = host.find(':') != std::string::npos;
        return "PLAINTEXT://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
    }
};

/// Every server property, once.
inline constexpr auto server_keys = std::to_array<gregor::detail::config::key<server_config>>({
    {.name = "listeners",
     .type = gregor::detail::config::type::string,
     .default_text = "PLAINTEXT://127.0.0.1:9092",
     .doc = "The one listener, PLAINTEXT://HOST:PORT (HOST empty: all interfaces; PORT 0: any free port).",
     .stored = "host, port",
     .store = [](server_config& c, const gregor::detail::config::value& v) { c.set_listener("listeners", v.s); },
     .load =
         [](const server_config& c) {
             return gregor::detail::config::value{0, c.listener(), false};
         }},
    {.name = "socket.request.max.bytes",
     .default_text = "104857600",
     .min = 1,
     .max = 2147483647,
     .unit = "bytes",
     .doc = "Largest request frame; a bigger size prefix closes the connection before any allocation.",
     GREGOR_CONFIG_FIELD(server_config, socket_request_max_bytes)},
    {.name = "max.connections",
     .default_text = "2147483647",
     .min = 0,
     .max = 2147483647,
     .doc = "Connections beyond this many are accepted and closed at once.",
     GREGOR_CONFIG_FIELD(server_config, max_connections)},
    {.name = "connections.max.idle.ms",
     .default_text = "600000",
     .min = 1,
     .max = gregor::detail::config::max_deadline_ms,
     .unit = "ms",
     .doc = "A connection with no traffic and nothing in flight for this long is closed.",
     GREGOR_CONFIG_FIELD(server_config, connections_max_idle_ms)},
    {.name = "socket.send.buffer.bytes",
     .default_text = "102400",
     .min = -1,
     .max = 2147483647,
     .unit = "bytes",
     .doc = "SO_SNDBUF of accepted sockets (-1: kernel autotuning).",
     GREGOR_CONFIG_FIELD(server_config, socket_send_buffer_bytes)},
    {.name = "socket.receive.buffer.bytes",
     .default_text = "102400",
     .min = -1,
     .max = 2147483647,
     .unit = "bytes",
     .doc = "SO_RCVBUF of accepted sockets (-1: kernel autotuning).",
     GREGOR_CONFIG_FIELD(server_config, socket_receive_buffer_bytes)},
    {.name = "socket.listen.backlog.size",
     .default_text = "50",
     .min = 1,
     .max = 2147483647,
     .doc = "listen() backlog.",
     GREGOR_CONFIG_FIELD(server_config, socket_listen_backlog_size)},
    {.name = "gregor.max.in.flight.requests.per.connection",
     .default_text = "1000",
     .min = 1,
     .max = 2147483647,
     .doc = "gregor's own: a connection is not read while this many of its requests are unanswered.",
     GREGOR_CONFIG_FIELD(server_config, max_in_flight_requests_per_connection)},
    {.name = "gregor.max.unsent.bytes.per.connection",
     .default_text = "16777216",
     .min = 1,
     .unit = "bytes",
     .doc = "gregor's own: a connection is not read while this many response bytes wait to be sent.",
     GREGOR_CONFIG_FIELD(server_config, max_unsent_bytes_per_connection)},
    {.name = "gregor.shutdown.timeout.ms",
     .default_text = "30000",
     .min = 0,
     .max = gregor::detail::config::max_deadline_ms,
     .unit = "ms",
     .doc = "gregor's own: how long stop() lets in-flight requests finish before closing.",
     GREGOR_CONFIG_FIELD(server_config, shutdown_timeout_ms)},
});

inline bool server_config::try_set(const std::string& key, const std::string& value) {
    const auto* k = gregor::detail::config::find(server_keys, key);
    if (k == nullptr) return false;
    gregor::detail::config::apply(*k, *this, key, value);
    return true;
}

inline void server_config::validate() const { gregor::detail::config::check_bounds(server_keys, *this); }

/// Counters of a server; a snapshot, readable from any thread.
struct server_stats {
    std::uint64_t connections = 0;  ///< open now
    std::uint64_t accepted = 0;     ///< accepted and kept since start
    std::uint64_t refused = 0;      ///< closed at once because of max.connections
    std::uint64_t requests = 0;     ///< frames handed to the handler
    std::uint64_t frame_errors = 0; ///< connections closed for a negative/oversized size
    std::uint64_t idle_closed = 0;  ///< connections closed by connections.max.idle.ms
};

/// The request handler: called on the loop thread with each complete frame (without its size
/// prefix) and the responder of that request. The frame is the connection's own read buffer,
/// valid only during the call; the handler may modify it in place (e.g. patch a record batch's
/// base offset before appending it), so declare the parameter as bytes_view or mutable_bytes_view.
/// Optional hooks: `on_open(connection_id, std::string_view peer)` after accepting and
/// `on_close(connection_id)` once a connection is gone (for whatever reason; later completions of
/// its requests are ignored), and `on_input_closed(connection_id)` when the peer stopped sending
/// (EOF) while requests are in flight: the connection closes once they are answered, so requests
/// that wait for an event (a long-poll fetch) should be answered now. Exceptions from on_request
/// close that connection.
template <typename H>
concept request_handler = requires(H& h, connection_id c, mutable_bytes_view frame, responder r) {
    h.on_request(c, frame, std::move(r));
};

namespace detail {

/// The part of a server that responders reach: outlives the server while responders exist and
/// refuses deliveries once the server is gone, so late completions are dropped safely.
class server_sink final : public completion_sink, public std::enable_shared_from_this<server_sink> {
public:
    using deliver_fn = void (*)(void* target, connection_id, std::uint64_t, completion&&);

    explicit server_sink(event_loop& loop) noexcept : loop_(&loop) {}

    void attach(void* target, deliver_fn fn) noexcept {
        target_ = target;
        fn_ = fn;
        alive_.store(true, std::memory_order_release);
    }
    /// Called on the loop thread (or with the loop stopped) when the server goes away.
    void detach() noexcept {
        std::lock_guard lk(mutex_);
        alive_.store(false, std::memory_order_release);
    }
    [[nodiscard]] bool alive() const noexcept { return alive_.load(std::memory_order_acquire); }

    void complete(connection_id conn, std::uint64_t slot, completion&& c) noexcept override {
        // Once detached, the loop may be gone too: look at nothing else. The lock keeps the server
        // (and so its loop) alive while posting.
        std::unique_lock lk(mutex_);
        if (!alive()) return;
        if (loop_->in_loop_thread()) {
            lk.unlock(); // teardown also runs on this thread, so the server stays alive
            fn_(target_, conn, slot, std::move(c));
            return;
        }
        loop_->post([self = shared_from_this(), conn, slot, c = std::move(c)]() mutable {
            if (self->alive()) self->fn_(self->target_, conn, slot, std::move(c));
        });
    }

    /// Posts server work that runs only while the server is alive.
    void post(task fn) {
        loop_->post([self = shared_from_this(), fn = std::move(fn)]() mutable {
            if (self->alive()) fn();
        });
    }
    /// The same for a timer.
    timer_handle run_at(loop_clock::time_point at, task fn) {
        return loop_->run_at(at, [self = shared_from_this(), fn = std::move(fn)]() mutable {
            if (self->alive()) fn();
        });
    }

private:
    event_loop* loop_;
    std::mutex mutex_;
    std::atomic<bool> alive_{false};
    void* target_ = nullptr;
    deliver_fn fn_ = nullptr;
};

} // namespace detail

template <typename Handler, typename FileSend = default_file_send>
class server {
    static_assert(request_handler<Handler>,
                  "gregor::net::server: the handler must provide "
                  "void on_request(connection_id, bytes_view (or mutable_bytes_view) frame, responder)");
    static_assert(file_send_policy<FileSend>,
                  "gregor::net::server: the file-send policy must provide "
                  "send_result send_file(int socket, int fd, uint64_t position, size_t length, bool more) "
                  "and a static `name`");

public:
    using handler_type = Handler;
    using file_send_type = FileSend;

    /// Binds and listens at once (so local_port() is known on return); throws std::system_error
    /// if the address cannot be bound, std::invalid_argument for a bad config.
    server(event_loop& loop, server_config cfg, Handler handler = Handler())
            : loop_(loop), cfg_(std::move(cfg)), handler_(std::move(handler)),
              sink_(std::make_shared<detail::server_sink>(loop)) {
        cfg_.validate();
        listen_fd_ = detail::listen_on(cfg_.host, cfg_.port, cfg_.socket_listen_backlog_size);
        port_ = detail::local_port_of(listen_fd_.get());
        sink_->attach(this, &server::deliver_thunk);
        loop_.run_and_wait([this] { watch_listener(); });
    }

    server(const server&) = delete;
    server& operator=(const server&) = delete;

    /// Closes everything at once (use stop() first for a graceful end). Waits for the loop thread.
    ~server() {
        loop_.run_and_wait([this] { teardown(); });
    }

    /// The bound port (the real one when configured with port 0). Thread-safe.
    [[nodiscard]] std::uint16_t local_port() const noexcept { return port_; }
    [[nodiscard]] const server_config& config() const noexcept { return cfg_; }
    [[nodiscard]] event_loop& loop() noexcept { return loop_; }
    /// The handler; use it on the loop thread (or when the loop is not running).
    [[nodiscard]] Handler& handler() noexcept { return handler_; }

    [[nodiscard]] server_stats stats() const noexcept {
        server_stats s;
        s.connections = n_connections_.load(std::memory_order_relaxed);
        s.accepted = n_accepted_.load(std::memory_order_relaxed);
        s.refused = n_refused_.load(std::memory_order_relaxed);
        s.requests = n_requests_.load(std::memory_order_relaxed);
        s.frame_errors = n_frame_errors_.load(std::memory_order_relaxed);
        s.idle_closed = n_idle_closed_.load(std::memory_order_relaxed);
        return s;
    }

    /// Graceful stop: stops accepting and reading, lets requests already handed to the handler
    /// complete and their responses be written, then closes; after `timeout` the rest is closed
    /// anyway. Returns true when nothing had to be cut. Blocks; not from the loop thread (use
    /// async_stop there). With the loop not running, closes everything at once.
    bool stop(std::chrono::milliseconds timeout) {
        if (loop_.in_loop_thread()) {
            throw std::logic_error("gregor::net::server::stop() on the loop thread would deadlock; use async_stop");
        }
        std::promise<bool> done;
        auto result = done.get_future();
        loop_.run_and_wait([&] {
            begin_stop(timeout, [&done](bool clean) { done.set_value(clean); });
            if (!loop_.in_loop_thread() && !stopped_) force_close_all(); // the loop is not running
        });
        return result.get();
    }
    bool stop() { return stop(std::chrono::milliseconds(cfg_.shutdown_timeout_ms)); }

    /// The same without blocking: `done(clean)` runs on the loop thread when stopped. Any thread.
    void async_stop(std::chrono::milliseconds timeout, gregor::detail::unique_function<void(bool)> done) {
        if (loop_.in_loop_thread()) {
            begin_stop(timeout, std::move(done));
        } else {
            sink_->post([this, timeout, done = std::move(done)]() mutable { begin_stop(timeout, std::move(done)); });
        }
    }

private:
    // A request slot: filled by its completion, emptied in order.
    struct slot {
        bool done = false;
        detail::completion c;
    };

    struct connection {
        connection_id id{};
        detail::unique_fd fd;
        std::string peer;
        frame_reader reader;
        std::deque<slot> slots;
        std::uint64_t head_seq = 0; // sequence of slots.front()
        std::uint64_t next_seq = 0;
        detail::output_queue<FileSend> out;
        std::uint32_t events = 0; // registered with the loop
        bool want_write = false;
        bool in_read = false;  // inside process_frames: flush once at the end
        bool draining = false; // read nothing more; close when in-flight work is done
        bool close_after_flush = false;
        bool closed = false;
        bool resume_posted = false;
        loop_clock::time_point last_activity{};
        timer_handle idle_timer;

        explicit connection(std::int32_t max_frame) : reader(max_frame) {}
    };

    static constexpr std::size_t flush_budget = 4u << 20; // per write turn, for fairness
    static constexpr int reads_per_event = 8;
    static constexpr int accepts_per_event = 64;

    static void deliver_thunk(void* self, connection_id c, std::uint64_t seq, detail::completion&& comp) {
        static_cast<server*>(self)->deliver(c, seq, std::move(comp));
    }

    connection* find(connection_id id) noexcept {
        const auto it = conns_.find(id);
        return it == conns_.end() ? nullptr : it->second.get();
    }

    void watch_listener() {
        loop_.add_fd(listen_fd_.get(), io::readable, [this](std::uint32_t) { on_accept(); });
    }

    void on_accept() {
        for (int i = 0; i < accepts_per_event; ++i) {
            sockaddr_storage ss{};
            socklen_t len = sizeof ss;
            const int fd =
                ::accept4(listen_fd_.get(), reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) {
                if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
                if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) pause_accepting();
                return;
            }
            if (conns_.size() >= static_cast<std::size_t>(cfg_.max_connections)) {
                // Count before closing: a peer that sees the close may read stats() at once.
                n_refused_.fetch_add(1, std::memory_order_relaxed);
                ::close(fd);
                continue;
            }
            detail::tune_socket(fd, cfg_.socket_send_buffer_bytes, cfg_.socket_receive_buffer_bytes);
            auto c = std::make_unique<connection>(cfg_.socket_request_max_bytes);
            c->id = connection_id{++last_id_};
            c->fd.reset(fd);
            c->peer = detail::to_string(ss);
            c->last_activity = loop_clock::now();
            c->events = io::readable;
            auto* p = c.get();
            loop_.add_fd(fd, io::readable, [this, p](std::uint32_t ev) { on_io(*p, ev); });
            arm_idle(*p, p->last_activity + idle());
            conns_.emplace(p->id, std::move(c));
            n_connections_.store(conns_.size(), std::memory_order_relaxed);
            n_accepted_.fetch_add(1, std::memory_order_relaxed);
            if constexpr (requires { handler_.on_open(p->id, std::string_view(p->peer)); }) {
                handler_.on_open(p->id, std::string_view(p->peer));
            }
        }
    }

    // Out of fds: stop accepting for a moment instead of spinning on a readable listener.
    void pause_accepting() {
        loop_.modify_fd(listen_fd_.get(), 0);
        accept_timer_ = sink_->run_at(loop_clock::now() + std::chrono::milliseconds(100), [this] {
            if (listen_fd_) loop_.modify_fd(listen_fd_.get(), io::readable);
        });
    }

    [[nodiscard]] loop_clock::duration idle() const noexcept {
        return std::chrono::milliseconds(cfg_.connections_max_idle_ms);
    }

    void arm_idle(connection& c, loop_clock::time_point at) {
        c.idle_timer = sink_->run_at(at, [this, id = c.id] { on_idle_timer(id); });
    }

    void on_idle_timer(connection_id id) {
        auto* c = find(id);
        if (c == nullptr || c->closed) return;
        const auto now = loop_clock::now();
        if (!c->slots.empty()) { // a request in flight (long poll, slow flush) is not idleness
            arm_idle(*c, now + idle());
            return;
        }
        const auto deadline = c->last_activity + idle();
        if (now >= deadline) {
            n_idle_closed_.fetch_add(1, std::memory_order_relaxed);
            close_now(*c);
            return;
        }
        arm_idle(*c, deadline);
    }

    [[nodiscard]] bool reading_allowed(const connection& c) const noexcept {
        return !c.draining && !c.close_after_flush && !c.closed &&
               c.slots.size() < static_cast<std::size_t>(cfg_.max_in_flight_requests_per_connection) &&
               c.out.unsent() < static_cast<std::size_t>(cfg_.max_unsent_bytes_per_connection);
    }

    void on_io(connection& c, std::uint32_t ev) {
        if (ev & (EPOLLERR | EPOLLHUP)) {
            close_now(c);
            return;
        }
        if (ev & io::readable) {
            read_some(c);
            if (c.closed) return;
        }
        after_work(c);
    }

    void read_some(connection& c) {
        for (int i = 0; i < reads_per_event && reading_allowed(c); ++i) {
            const auto space = c.reader.prepare();
            const auto n = ::recv(c.fd.get(), space.data(), space.size(), 0);
            if (n > 0) {
                c.reader.commit(static_cast<std::size_t>(n));
                c.last_activity = loop_clock::now();
                process_frames(c);
                if (c.closed) return;
                if (static_cast<std::size_t>(n) < space.size()) break; // drained the socket
            } else if (n == 0) {
                on_eof(c);
                return;
            } else if (errno == EINTR) {
                continue;
            } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
                break;
            } else {
                close_now(c);
                return;
            }
        }
    }

    // The peer will send nothing more: a partial frame is a truncated request; otherwise answer
    // what is in flight (a client may half-close after its last request) and close.
    void on_eof(connection& c) {
        if (c.reader.buffered() > 0) {
            close_now(c);
            return;
        }
        c.draining = true;
        // A closed peer must not keep its socket (and a file descriptor) for as long as a request
        // may wait: the handler ends such waits now, and the connection closes after the answers.
        if constexpr (requires { handler_.on_input_closed(c.id); })
            if (!c.slots.empty()) handler_.on_input_closed(c.id);
    }

    void process_frames(connection& c) {
        c.in_read = true;
        while (reading_allowed(c)) {
            mutable_bytes_view frame;
            const auto st = c.reader.next(frame);
            if (st == frame_status::need_more) break;
            if (st != frame_status::frame) {
                n_frame_errors_.fetch_add(1, std::memory_order_relaxed);
                c.in_read = false;
                close_now(c);
                return;
            }
            n_requests_.fetch_add(1, std::memory_order_relaxed);
            const auto seq = c.next_seq++;
            c.slots.emplace_back();
            try {
                handler_.on_request(c.id, frame, responder(sink_, c.id, seq));
            } catch (...) {
                c.in_read = false;
                close_now(c);
                return;
            }
            if (c.closed) return;
        }
        c.in_read = false;
    }

    void deliver(connection_id id, std::uint64_t seq, detail::completion&& comp) {
        auto* c = find(id);
        if (c == nullptr || c->closed || c->close_after_flush || seq < c->head_seq) return;
        const auto idx = seq - c->head_seq;
        if (idx >= c->slots.size() || c->slots[idx].done) return;
        c->slots[idx].done = true;
        c->slots[idx].c = std::move(comp);
        if (idx == 0) pump(*c);
        if (!c->in_read) after_work(*c);
    }

    // Moves the completed slots at the head into the output, in order.
    void pump(connection& c) {
        while (!c.slots.empty() && c.slots.front().done) {
            auto comp = std::move(c.slots.front().c);
            c.slots.pop_front();
            ++c.head_seq;
            using kind = detail::completion::kind;
            if (comp.k == kind::respond) {
                const auto size = comp.resp.size();
                if (size > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max())) {
                    comp.k = kind::close; // cannot be framed
                } else {
                    c.out.push_prefix(static_cast<std::int32_t>(size));
                    c.out.push(comp.resp.take_pieces());
                    continue;
                }
            }
            if (comp.k == kind::close) {
                c.close_after_flush = true;
                c.slots.clear();
                c.head_seq = c.next_seq;
                return;
            }
        }
    }

    void flush(connection& c) {
        int err = 0;
        const auto before = c.out.written();
        const auto st = c.out.flush(c.fd.get(), flush_budget, err);
        if (c.out.written() != before) c.last_activity = loop_clock::now();
        if (st == detail::flush_status::error) {
            close_now(c);
            return;
        }
        c.want_write = st != detail::flush_status::done;
    }

    // After any change to a connection: write what is ready, close if finished, re-register.
    void after_work(connection& c) {
        if (c.closed) return;
        if (!c.out.empty()) {
            flush(c);
            if (c.closed) return;
        } else {
            c.want_write = false;
        }
        if (c.out.empty() && (c.close_after_flush || (c.draining && c.slots.empty()))) {
            close_now(c);
            return;
        }
        const bool readable = reading_allowed(c);
        const std::uint32_t ev = (readable ? io::readable : 0u) | (c.want_write ? io::writable : 0u);
        if (ev != c.events) {
            loop_.modify_fd(c.fd.get(), ev);
            c.events = ev;
        }
        // Frames already buffered get no socket event: handle them from a fresh stack.
        if (readable && !c.in_read && !c.resume_posted && c.reader.has_frame()) {
            c.resume_posted = true;
            sink_->post([this, id = c.id] {
                auto* p = find(id);
                if (p == nullptr || p->closed) return;
                p->resume_posted = false;
                process_frames(*p);
                if (!p->closed) after_work(*p);
            });
        }
    }

    void close_now(connection& c) {
        if (c.closed) return;
        c.closed = true;
        c.idle_timer.cancel();
        loop_.remove_fd(c.fd.get());
        c.fd.reset();
        c.out.clear();
        c.slots.clear();
        const auto it = conns_.find(c.id);
        if (it != conns_.end()) {
            // The object may be on the stack above us: free it from a later task.
            if (graveyard_.empty()) sink_->post([this] { reap(); });
            graveyard_.push_back(std::move(it->second));
            conns_.erase(it);
        }
        n_connections_.store(conns_.size(), std::memory_order_relaxed);
        if (stopping_ && conns_.empty()) finish_stop(!forced_);
    }

    void reap() {
        auto dead = std::move(graveyard_);
        graveyard_.clear();
        for (auto& c : dead) {
            if constexpr (requires { handler_.on_close(c->id); }) handler_.on_close(c->id);
        }
    }

    void begin_stop(std::chrono::milliseconds timeout, gregor::detail::unique_function<void(bool)> done) {
        if (stopped_) {
            if (done) done(stop_clean_);
            return;
        }
        if (done) stop_waiters_.push_back(std::move(done));
        if (stopping_) return;
        stopping_ = true;
        accept_timer_.cancel();
        if (listen_fd_) {
            loop_.remove_fd(listen_fd_.get());
            listen_fd_.reset();
        }
        for (const auto id : ids()) {
            if (auto* c = find(id)) {
                c->draining = true;
                after_work(*c);
            }
        }
        if (conns_.empty()) {
            finish_stop(true);
            return;
        }
        stop_timer_ = sink_->run_at(loop_clock::now() + timeout, [this] { force_close_all(); });
    }

    void force_close_all() {
        forced_ = true;
        for (const auto id : ids()) {
            if (auto* c = find(id)) close_now(*c);
        }
        finish_stop(false);
    }

    void finish_stop(bool clean) {
        if (stopped_) return;
        stopped_ = true;
        stop_clean_ = clean;
        stop_timer_.cancel();
        auto waiters = std::move(stop_waiters_);
        stop_waiters_.clear();
        for (auto& w : waiters) w(clean);
    }

    std::vector<connection_id> ids() const {
        std::vector<connection_id> out;
        out.reserve(conns_.size());
        for (const auto& [id, c] : conns_) out.push_back(id);
        return out;
    }

    void teardown() {
        sink_->detach();
        accept_timer_.cancel();
        stop_timer_.cancel();
        if (listen_fd_) {
            loop_.remove_fd(listen_fd_.get());
            listen_fd_.reset();
        }
        for (auto& [id, c] : conns_) {
            c->closed = true;
            c->idle_timer.cancel();
            loop_.remove_fd(c->fd.get());
            c->fd.reset();
            graveyard_.push_back(std::move(c));
        }
        conns_.clear();
        n_connections_.store(0, std::memory_order_relaxed);
        reap();
        auto waiters = std::move(stop_waiters_); // a stop() in progress learns it was cut short
        stop_waiters_.clear();
        for (auto& w : waiters) w(false);
    }

    event_loop& loop_;
    server_config cfg_;
    Handler handler_;
    std::shared_ptr<detail::server_sink> sink_;
    detail::unique_fd listen_fd_;
    std::uint16_t port_ = 0;
    std::uint64_t last_id_ = 0;
    std::unordered_map<connection_id, std::unique_ptr<connection>> conns_;
    std::vector<std::unique_ptr<connection>> graveyard_;
    timer_handle accept_timer_;
    timer_handle stop_timer_;
    bool stopping_ = false;
    bool stopped_ = false;
    bool stop_clean_ = false;
    bool forced_ = false;
    std::vector<gregor::detail::unique_function<void(bool)>> stop_waiters_;

    std::atomic<std::uint64_t> n_connections_{0};
    std::atomic<std::uint64_t> n_accepted_{0};
    std::atomic<std::uint64_t> n_refused_{0};
    std::atomic<std::uint64_t> n_requests_{0};
    std::atomic<std::uint64_t> n_frame_errors_{0};
    std::atomic<std::uint64_t> n_idle_closed_{0};
};

} // namespace gregor::net
