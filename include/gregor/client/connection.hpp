// client::connection: one Kafka client connection to one broker, the part every gregor client
// shares (producer, consumer, admin; later the replica fetcher and the transaction coordinator).
//
// It carries type-erased requests (`raw_request`: an API key, the versions the caller can
// encode, an encoder and a completion) so that it never needs to know a message kind; the typed
// `send<Request>` of client/cluster.hpp builds them. What it guarantees:
//   - The connection opens on demand. Its first request is ApiVersions (v3, falling back to the
//     version a v0-shaped UNSUPPORTED_VERSION answer names, or one lower when the broker hangs up:
//     docs/protocol.md §1.4, §3.1); every request then goes out at the highest version both the
//     caller and the broker support, or is answered UNSUPPORTED_VERSION without being sent.
//   - Requests are pipelined up to `max_in_flight`, matched by correlation id; beyond the bound,
//     and while the connection comes up, they wait in order.
//   - Every request is completed exactly once: with its decoded answer, or with an error --
//     NETWORK_EXCEPTION when its connection failed (refused, reset, bad frame, unparsable answer),
//     REQUEST_TIMED_OUT when no answer came within its timeout (the connection is then closed, as
//     Java's NetworkClient does: answers come in order, so a lost one blocks all later ones), or
//     UNSUPPORTED_VERSION. A request that expects no answer (Produce acks=0) completes when it is
//     written.
//   - After a failure the connection stays down for reconnect.backoff.ms, doubling per failure up
//     to reconnect.backoff.max.ms, with ±20% jitter; a request arriving meanwhile waits for it.
//
// Threads: everything runs on the owner's event loop thread (the owner drives the loop); nothing
// here starts a thread. Completions run on that thread and may submit new requests, on this
// connection too.
#pragma once

#include <gregor/core/backoff.hpp>
#include <gregor/core/buffer.hpp>
#include <gregor/core/error.hpp>
#include <gregor/detail/unique_function.hpp>
#include <gregor/net/client.hpp>
#include <gregor/net/endpoint.hpp>
#include <gregor/net/event_loop.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/header.hpp>
#include <gregor/wire/messages/api_versions.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace gregor::client {

using clock = net::loop_clock;

/// Settings every connection of a client shares.
struct connection_settings {
    std::string client_id = "gregor";
    std::string software_name = "gregor"; // ApiVersions v3+ client_software_name
    std::string software_version = "1";
    clock::duration request_timeout = std::chrono::seconds(30);        // request.timeout.ms
    clock::duration reconnect_backoff = std::chrono::milliseconds(50); // reconnect.backoff.ms
    clock::duration reconnect_backoff_max = std::chrono::seconds(1);   // reconnect.backoff.max.ms
    std::size_t max_in_flight = 0; // requests written and not yet answered; 0 = no bound
    net::client_config socket;
};

/// What a client has done so far; safe to read from any thread.
struct counters {
    std::atomic<std::uint64_t> connects{0};         // connections that got through
    std::atomic<std::uint64_t> connect_failures{0}; // refused, unreachable, setup timeout
    std::atomic<std::uint64_t> disconnects{0};      // connections lost after they were up
    std::atomic<std::uint64_t> api_versions_requests{0};
    std::atomic<std::uint64_t> requests_written{0};     // every request but ApiVersions
    std::atomic<std::uint64_t> timeouts{0};             // requests answered REQUEST_TIMED_OUT
    std::atomic<std::int16_t> api_versions_version{-1}; // what the last negotiation used
};

/// How a completion learns its answer. `frame` owns the bytes from `body_offset` on (the body after
/// the response header); it is null when there is no answer (an error, or a request that expects
/// none). The completion returns false when the body does not decode: the connection then
/// closes, since the rest of its stream cannot be trusted.
using raw_completion = gregor::detail::unique_function<bool(
    std::error_code, std::int16_t version, const std::shared_ptr<const byte_buffer>& frame, std::size_t body_offset)>;

/// One request, whatever its kind.
struct raw_request {
    wire::api_key key = wire::api_key::api_versions;
    wire::version_range versions{};                                           // what `encode` can write
    gregor::detail::unique_function<void(byte_writer&, std::int16_t)> encode; // the body at a version
    bool expects_response = true;
    clock::duration extra_timeout{}; // added to request.timeout.ms (a Fetch's max wait)
    raw_completion done;             // called exactly once
};

enum class connection_state : std::uint8_t { down, connecting, negotiating, ready };

class connection {
public:
    /// `node`: the broker id (bootstrap servers use -1, -2, ...). The settings, counters and
    /// random source belong to the owner and outlive the connection.
    connection(net::event_loop& loop, std::int32_t node, net::endpoint ep, const connection_settings& s, counters& cnt,
               std::mt19937_64& rng)
            : loop_(loop), node_(node), ep_(std::move(ep)), s_(s), cnt_(cnt), rng_(rng) {}

    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    /// Unregisters from the loop; requests still open are completed with NETWORK_EXCEPTION.
    ~connection() {
        fail(make_error_code(error_code::network_exception), false);
        retry_timer_.cancel();
        *alive_ = false;
    }

    [[nodiscard]] std::int32_t node() const noexcept { return node_; }
    [[nodiscard]] const net::endpoint& endpoint() const noexcept { return ep_; }
    [[nodiscard]] connection_state state() const noexcept { return st_; }
    [[nodiscard]] bool ready() const noexcept { return st_ == connection_state::ready; }
    /// Whether a request submitted now is written at once (not queued).
    [[nodiscard]] bool writes_now() const noexcept {
        return st_ == connection_state::ready && queue_.empty() && below_bound();
    }
    /// Requests written and not answered plus those waiting.
    [[nodiscard]] std::size_t load() const noexcept { return out_.size() + queue_.size(); }
    [[nodiscard]] bool idle() const noexcept { return out_.empty() && queue_.empty(); }
    /// When the backoff after the last failure ends (the past if none).
    [[nodiscard]] clock::time_point retry_at() const noexcept { return retry_at_; }
    /// Bytes handed to the socket and not yet written.
    [[nodiscard]] std::size_t unsent_bytes() const noexcept { return cc_ ? cc_->unsent_bytes() : 0; }

    /// The broker's range for `key`, once negotiated.
    [[nodiscard]] std::optional<wire::version_range> broker_versions(wire::api_key key) const {
        const auto it = broker_apis_.find(key);
        if (it == broker_apis_.end()) return std::nullopt;
        return it->second;
    }
    /// The version a request of `key` that can encode `ours` goes out at here, once negotiated.
    [[nodiscard]] std::optional<std::int16_t> version_for(wire::api_key key, wire::version_range ours) const {
        const auto theirs = broker_versions(key);
        if (!theirs) return std::nullopt;
        return wire::highest_common_version(ours, *theirs);
    }
    /// The ApiVersions version the last negotiation used (-1 before).
    [[nodiscard]] std::int16_t api_versions_version() const noexcept { return api_versions_used_; }

    /// Writes the request now if the connection is ready and below its in-flight bound, else
    /// queues it (opening the connection if it is down and not backing off).
    void submit(raw_request&& r) {
        if (st_ == connection_state::ready && queue_.empty() && below_bound()) return write(std::move(r));
        queue_.push_back({std::move(r), clock::now()});
        if (st_ == connection_state::down) open_when_allowed();
    }

    /// A broker moved to another address: the connection closes (its requests fail) and the next
    /// one goes to `ep`, without backoff.
    void set_endpoint(net::endpoint ep) {
        if (ep == ep_) return;
        ep_ = std::move(ep);
        if (st_ != connection_state::down) fail(make_error_code(error_code::network_exception), true);
        failures_ = 0;
        retry_at_ = {};
    }

    /// Closes now; every open request is completed with `ec`.
    void close(std::error_code ec = make_error_code(error_code::network_exception)) { fail(ec, true); }

    /// Completes requests whose time is up: an answer older than its timeout closes the
    /// connection (REQUEST_TIMED_OUT for it, NETWORK_EXCEPTION for the rest); a request that
    /// waited that long for its connection gets REQUEST_TIMED_OUT.
    void sweep(clock::time_point now) {
        if (!out_.empty() && out_.front().deadline < now) {
            cnt_.timeouts.fetch_add(1, std::memory_order_relaxed);
            auto first = std::move(out_.front());
            out_.pop_front();
            fail(make_error_code(error_code::network_exception), true, &first);
            return;
        }
        // Waiting requests may have different timeouts (a long poll's is longer): each its own.
        for (std::size_t i = 0; i < queue_.size();) {
            if (queue_[i].since + s_.request_timeout + queue_[i].req.extra_timeout >= now) {
                ++i;
                continue;
            }
            auto w = std::move(queue_[i]);
            queue_.erase(queue_.begin() + static_cast<std::ptrdiff_t>(i));
            cnt_.timeouts.fetch_add(1, std::memory_order_relaxed);
            auto alive = alive_;
            complete(w.req.done, make_error_code(error_code::request_timed_out), -1);
            if (!*alive) return;
            i = 0; // the completion may have queued or sent more
        }
    }

    /// The earliest moment sweep() has something to do (max() if nothing is open).
    [[nodiscard]] clock::time_point next_deadline() const noexcept {
        auto t = clock::time_point::max();
        if (!out_.empty()) t = out_.front().deadline;
        for (const auto& w : queue_) t = std::min(t, w.since + s_.request_timeout + w.req.extra_timeout);
        return t;
    }

private:
    struct waiting {
        raw_request req;
        clock::time_point since;
    };
    struct inflight {
        std::int32_t correlation = 0;
        wire::api_key key = wire::api_key::api_versions;
        std::int16_t version = 0;
        clock::time_point deadline{};
        raw_completion done; // empty for our own ApiVersions
    };

    [[nodiscard]] bool below_bound() const noexcept { return s_.max_in_flight == 0 || out_.size() < s_.max_in_flight; }

    static void complete(raw_completion& done, std::error_code ec, std::int16_t v) {
        if (done) (void)done(ec, v, nullptr, 0);
    }

    void open_when_allowed() {
        if (retry_at_ <= clock::now()) return open();
        if (retry_timer_) return;
        retry_timer_ = loop_.run_at(retry_at_, [this] {
            retry_timer_ = {};
            if (st_ == connection_state::down && !queue_.empty()) open();
        });
    }

    void open() {
        if (cc_) graveyard_.push_back(std::move(cc_));
        bury_later();
        cc_ = std::make_unique<net::client_connection>(loop_, s_.socket);
        st_ = connection_state::connecting;
        cc_->connect(ep_.host, ep_.port,
                     {.on_connected = [this] { on_connected(); },
                      .on_frame = [this](bytes_view f) { on_frame(f); },
                      .on_closed = [this](std::error_code ec) { on_closed(ec); }});
    }

    // net::client_connection objects that closed inside their own callbacks are freed later, on
    // the loop, once those callbacks have returned.
    void bury_later() {
        if (graveyard_.empty() || bury_posted_) return;
        bury_posted_ = true;
        auto alive = alive_;
        loop_.post([this, alive] {
            if (!*alive) return;
            bury_posted_ = false;
            graveyard_.clear();
        });
    }

    void on_connected() {
        cnt_.connects.fetch_add(1, std::memory_order_relaxed);
        st_ = connection_state::negotiating;
        send_api_versions();
    }

    void send_api_versions() {
        wire::api_versions::request req{s_.software_name, s_.software_version};
        cnt_.api_versions_requests.fetch_add(1, std::memory_order_relaxed);
        write_frame(
            wire::api_key::api_versions, api_versions_try_, s_.request_timeout,
            [&](byte_writer& w, std::int16_t v) { req.encode(w, v); }, {}, true);
    }

    void on_closed(std::error_code ec) {
        // A broker that hangs up on an ApiVersions version it does not know: the next lower one,
        // at once, once per version.
        if (st_ == connection_state::negotiating && api_versions_try_ > 0 && !out_.empty() &&
            out_.front().key == wire::api_key::api_versions) {
            api_versions_try_ = wire::api_versions::fallback_version(std::nullopt, api_versions_try_);
            out_.clear();
            return open();
        }
        (void)ec;
        fail(make_error_code(error_code::network_exception), true);
    }

    /// Closes and completes everything open with `ec` (`timed_out`, if given, with
    /// REQUEST_TIMED_OUT). Completions run after the state is reset, so they may submit again.
    void fail(std::error_code ec, bool count, inflight* timed_out = nullptr) {
        const bool was_up = st_ == connection_state::negotiating || st_ == connection_state::ready;
        if (count && st_ != connection_state::down) {
            if (was_up)
                cnt_.disconnects.fetch_add(1, std::memory_order_relaxed);
            else
                cnt_.connect_failures.fetch_add(1, std::memory_order_relaxed);
        }
        if (cc_) {
            cc_->close();
            graveyard_.push_back(std::move(cc_));
            bury_later();
        }
        if (st_ != connection_state::down) {
            ++failures_;
            retry_at_ = clock::now() + backoff();
        }
        st_ = connection_state::down;
        broker_apis_.clear();
        api_versions_try_ = first_api_versions_try;
        last_unanswered_ = std::numeric_limits<std::int32_t>::min();
        auto out = std::move(out_);
        out_.clear();
        auto queue = std::move(queue_);
        queue_.clear();
        if (timed_out) complete(timed_out->done, make_error_code(error_code::request_timed_out), timed_out->version);
        for (auto& q : out) complete(q.done, ec, q.version);
        for (auto& w : queue) complete(w.req.done, ec, -1);
        // Requests submitted by those completions wait for the next connection.
        if (!queue_.empty() && st_ == connection_state::down) open_when_allowed();
    }

    clock::duration backoff() {
        std::uniform_real_distribution<double> unit(0.0, 1.0);
        return std::chrono::duration_cast<clock::duration>(
            exponential_backoff(failures_, s_.reconnect_backoff, s_.reconnect_backoff_max, unit(rng_)));
    }

    template <typename Encode>
    void write_frame(wire::api_key key, std::int16_t v, clock::duration timeout, Encode&& enc, raw_completion done,
                     bool expects_response) {
        byte_buffer frame;
        byte_writer w(frame);
        next_correlation_ = next_correlation_ == std::numeric_limits<std::int32_t>::max() ? 1 : next_correlation_ + 1;
        const std::int32_t corr = next_correlation_;
        wire::request_header{key, v, corr, std::string_view(s_.client_id)}.encode(w);
        enc(w, v);
        if (key != wire::api_key::api_versions) cnt_.requests_written.fetch_add(1, std::memory_order_relaxed);
        const bool sent = cc_->send(std::move(frame));
        if (!expects_response) {
            last_unanswered_ = corr;
            if (done)
                (void)done(sent ? std::error_code{} : make_error_code(error_code::network_exception), v, nullptr, 0);
            return;
        }
        out_.push_back({corr, key, v, clock::now() + timeout, std::move(done)});
    }

    void write(raw_request&& r) {
        const auto v = version_for(r.key, r.versions);
        if (!v) return complete(r.done, make_error_code(error_code::unsupported_version), -1);
        auto enc = std::move(r.encode);
        write_frame(
            r.key, *v, s_.request_timeout + r.extra_timeout, [&](byte_writer& w, std::int16_t ver) { enc(w, ver); },
            std::move(r.done), r.expects_response);
    }

    /// Moves waiting requests onto the wire while the connection is ready and below its bound.
    void pump() {
        while (st_ == connection_state::ready && !queue_.empty() && below_bound()) {
            auto w = std::move(queue_.front());
            queue_.pop_front();
            write(std::move(w.req));
        }
    }

    void on_frame(bytes_view frame) {
        if (frame.size() < 4) return protocol_error();
        const auto corr = load_be<std::int32_t>(frame.data());
        if (out_.empty() || out_.front().correlation != corr) {
            // An answer to an acks=0 Produce from a broker that answers them anyway (librdkafka's
            // 2.0.2 mock does).
            if (corr <= last_unanswered_ && (out_.empty() || corr < out_.front().correlation)) return;
            return protocol_error();
        }
        inflight q = std::move(out_.front());
        out_.pop_front();
        byte_reader r(frame);
        if (!wire::response_header::decode(r, wire::response_header_version(q.key, q.version))) {
            complete(q.done, make_error_code(error_code::network_exception), q.version);
            return protocol_error();
        }
        const std::size_t body_offset = frame.size() - r.remaining();
        if (q.key == wire::api_key::api_versions && !q.done) return on_api_versions(q, frame.subspan(body_offset));
        auto owned = std::make_shared<const byte_buffer>(frame);
        auto alive = alive_;
        const bool ok = q.done(std::error_code{}, q.version, owned, body_offset);
        if (!*alive) return;
        if (!ok) return protocol_error();
        pump();
    }

    void protocol_error() { fail(make_error_code(error_code::network_exception), true); }

    void on_api_versions(const inflight& q, bytes_view body) {
        auto resp = wire::api_versions::response::decode_or_fallback(body, q.version);
        if (resp && resp->error_code == error_code::none) {
            broker_apis_.clear();
            for (const auto& a : resp->api_keys) broker_apis_[a.key] = {a.min_version, a.max_version};
            api_versions_used_ = q.version;
            cnt_.api_versions_version.store(q.version, std::memory_order_relaxed);
            st_ = connection_state::ready;
            failures_ = 0;
            pump();
            return;
        }
        if (q.version == 0) return fail(make_error_code(error_code::unsupported_version), true);
        api_versions_try_ = wire::api_versions::fallback_version(resp, q.version);
        send_api_versions();
    }

    net::event_loop& loop_;
    std::int32_t node_;
    net::endpoint ep_;
    const connection_settings& s_;
    counters& cnt_;
    std::mt19937_64& rng_;
    std::unique_ptr<net::client_connection> cc_;
    std::vector<std::unique_ptr<net::client_connection>> graveyard_;
    bool bury_posted_ = false;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
    connection_state st_ = connection_state::down;
    // v3 is the first flexible version and the one librdkafka and Java send first.
    static constexpr std::int16_t first_api_versions_try = 3;
    std::int16_t api_versions_try_ = first_api_versions_try;
    std::int16_t api_versions_used_ = -1;
    std::map<wire::api_key, wire::version_range> broker_apis_;
    std::int32_t next_correlation_ = 0;
    std::int32_t last_unanswered_ = std::numeric_limits<std::int32_t>::min();
    std::deque<inflight> out_;
    std::deque<waiting> queue_;
    std::int32_t failures_ = 0;
    clock::time_point retry_at_{};
    net::timer_handle retry_timer_;

public:
    // The flag completions check before touching the connection again: false once it is gone.
    [[nodiscard]] const std::shared_ptr<bool>& alive_flag() const noexcept { return alive_; }
};

} // namespace gregor::client
