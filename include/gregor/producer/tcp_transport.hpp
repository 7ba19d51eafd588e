// transport::tcp: the producer's transport to any Kafka broker over TCP -- a gregor-broker, Apache
// Kafka, librdkafka's mock cluster. The same producer that runs against an in-process broker runs
// against a cluster by swapping this in:
//
//   gregor::producer_config cfg;
//   cfg.bootstrap_servers = "127.0.0.1:9092";
//   gregor::producer<gregor::producer_policies<gregor::transport::tcp>> p{cfg, gregor::transport::tcp{cfg}};
//
// What it does, in the order a request meets it:
//   - Metadata and InitProducerId go to the least loaded broker it knows (a ready connection
//     with the fewest requests out), else to a bootstrap server; Produce goes to the connection
//     of the partition's leader (the producer routes by the leaders Metadata named). One
//     connection per broker id.
//   - Each new connection first sends ApiVersions v3 (falling back to the broker's advertised
//     ApiVersions max, or v0, when the broker answers UNSUPPORTED_VERSION or hangs up:
//     docs/protocol.md §1.4, §3.1) and then uses, for every API, the highest version both sides
//     implement. Requests that arrive while it connects wait for it, up to request.timeout.ms.
//   - Requests are pipelined: the producer bounds them (max.in.flight.requests.per.connection);
//     answers come back in order per connection and are matched by correlation id. Produce with
//     acks=0 expects no answer (and one that comes anyway -- the 2.0.2 mock sends them -- is
//     skipped).
//   - A connection that fails (refused, reset, bad frame, unparsable answer, an answer older than
//     request.timeout.ms) is closed; every request on it or waiting for it is answered
//     NETWORK_EXCEPTION, which the producer retries after refreshing metadata (its sequence numbers
//     make that safe with idempotence). The connection is re-opened on demand, no sooner than
//     reconnect.backoff.ms after the failure, doubling to reconnect.backoff.max.ms (±20% jitter).
//
// Batch bytes are copied into the request frame when the request is written (or, for a request
// that must wait for its connection, at send()), so the producer may free a batch it gave up on
// at request.timeout.ms even while a slow socket still holds the frame; one memcpy per batch is
// small beside the syscalls, and the frame goes out with one write.
//
// Threads: all I/O runs on the producer's sender thread, inside poll() (a net::event_loop driven
// with run_once); send() only queues or writes without blocking. wake() is thread-safe.
#pragma once

#include <gregor/core/buffer.hpp>
#include <gregor/core/clock.hpp>
#include <gregor/core/error.hpp>
#include <gregor/core/strong_types.hpp>
#include <gregor/net/client.hpp>
#include <gregor/net/endpoint.hpp>
#include <gregor/net/event_loop.hpp>
#include <gregor/producer/idempotence.hpp>
#include <gregor/producer/producer_config.hpp>
#include <gregor/producer/transport.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/header.hpp>
#include <gregor/wire/messages/api_versions.hpp>
#include <gregor/wire/messages/init_producer_id.hpp>
#include <gregor/wire/messages/metadata.hpp>
#include <gregor/wire/messages/produce.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>

namespace gregor::transport {

/// What a tcp transport has done so far; safe to read from any thread.
struct tcp_counters {
    std::atomic<std::uint64_t> connects{0};         // connections opened (attempts that got through)
    std::atomic<std::uint64_t> connect_failures{0}; // refused, unreachable, setup timeout
    std::atomic<std::uint64_t> disconnects{0};      // connections lost after they were up
    std::atomic<std::uint64_t> api_versions_requests{0};
    std::atomic<std::uint64_t> requests_written{0}; // Produce, Metadata, InitProducerId
    std::atomic<std::int16_t> produce_version{-1};  // last negotiated versions
    std::atomic<std::int16_t> metadata_version{-1};
    std::atomic<std::int16_t> init_producer_id_version{-1};
    std::atomic<std::int16_t> api_versions_version{-1};
};

class tcp {
public:
    /// Reads bootstrap.servers, client.id, request.timeout.ms, reconnect.backoff(.max).ms,
    /// socket.connection.setup.timeout.ms, send/receive.buffer.bytes and allow.auto.create.topics.
    /// Throws std::invalid_argument when bootstrap.servers is empty or malformed. Connects lazily.
    explicit tcp(const producer_config& cfg) : d_(std::make_unique<impl>(cfg)) {}

    /// The versions this transport negotiates per API: the codec's range (wire/api.hpp) capped
    /// at the highest version its requests and answer handling were written for, so that codecs
    /// growing newer versions do not change what it sends.
    template <wire::kafka_api Api>
    static constexpr wire::version_range spoken_versions() noexcept {
        std::int16_t cap = -1;
        if constexpr (std::same_as<Api, wire::api_versions_api>)
            cap = 3;
        else if constexpr (std::same_as<Api, wire::metadata_api>)
            cap = 6;
        else if constexpr (std::same_as<Api, wire::produce_api>)
            cap = 7;
        else if constexpr (std::same_as<Api, wire::init_producer_id_api>)
            cap = 4;
        return {Api::min_version, std::min(Api::max_version, cap)};
    }

    void send(produce_request&& r) { d_->send_produce(std::move(r)); }
    void send(metadata_request&& m) { d_->route_any(std::move(m)); }
    void send(init_producer_id_request&& i) { d_->route_any(std::move(i)); }

    std::size_t poll(std::vector<transport_event>& out, duration max_wait) { return d_->poll(out, max_wait); }

    /// Runs the sockets until every request handed over so far is written (or its connection
    /// failed), for at most `max_wait`. The producer calls it once on its way out of close():
    /// acks=0 records complete when handed over, so this is what keeps close() from dropping them.
    void drain(duration max_wait) { d_->drain(max_wait); }

    void wake() {
        if (!d_->wake_pending.exchange(true, std::memory_order_acq_rel)) d_->loop.post([] {});
    }

    [[nodiscard]] const tcp_counters& counters() const noexcept { return d_->counters; }

private:
    using clock = net::loop_clock;

    enum class kind : std::uint8_t { api_versions, produce, metadata, init_producer_id };

    struct owned_batch {
        std::string_view topic; // the producer's, valid while it lives
        partition_id partition{0};
        byte_buffer bytes;
    };
    struct owned_produce {
        std::uint64_t correlation_id = 0;
        std::int16_t acks = -1;
        std::int32_t timeout_ms = 30000;
        std::vector<owned_batch> batches;
    };
    using waiting_request = std::variant<owned_produce, metadata_request, init_producer_id_request>;

    struct waiting {
        waiting_request req;
        clock::time_point deadline;
    };

    struct inflight {
        std::int32_t wire_correlation = 0;
        kind k = kind::api_versions;
        std::int16_t version = 0;
        std::uint64_t correlation_id = 0;
        clock::time_point sent{};
        std::vector<std::pair<std::string_view, partition_id>> partitions; // produce: request order
        std::string topic;                                                 // metadata
    };

    enum class state : std::uint8_t { down, connecting, negotiating, ready };

    struct conn {
        std::int32_t node = 0; // broker id; bootstrap servers get -1, -2, ...
        net::endpoint ep;
        std::unique_ptr<net::client_connection> cc;
        state st = state::down;
        std::int16_t api_versions_try = spoken_versions<wire::api_versions_api>().max;
        bool fell_back_on_close = false;
        std::optional<std::int16_t> produce_v, metadata_v, pid_v;
        std::int32_t next_correlation = 0;
        std::int32_t last_unanswered = std::numeric_limits<std::int32_t>::min(); // acks=0 produce
        std::deque<inflight> out;
        std::deque<waiting> queue;
        std::int32_t failures = 0;
        clock::time_point retry_at{};
        net::timer_handle retry_timer;
    };

    struct impl {
        explicit impl(const producer_config& cfg)
                : bootstrap(net::parse_bootstrap_servers(cfg.bootstrap_servers)), client_id(cfg.client_id),
                  request_timeout(std::chrono::milliseconds(cfg.request_timeout_ms)),
                  backoff(std::chrono::milliseconds(cfg.reconnect_backoff_ms)),
                  backoff_max(
                      std::chrono::milliseconds(std::max(cfg.reconnect_backoff_max_ms, cfg.reconnect_backoff_ms))),
                  allow_auto_create(cfg.allow_auto_create_topics), rng(std::random_device{}()) {
            ccfg.connection_setup_timeout_ms = cfg.socket_connection_setup_timeout_ms;
            ccfg.socket_send_buffer_bytes = cfg.send_buffer_bytes;
            ccfg.socket_receive_buffer_bytes = cfg.receive_buffer_bytes;
            for (std::size_t i = 0; i < bootstrap.size(); ++i) {
                auto c = std::make_unique<conn>();
                c->node = -1 - static_cast<std::int32_t>(i);
                c->ep = bootstrap[i];
                conns[c->node] = std::move(c);
            }
        }

        impl(const impl&) = delete;
        impl& operator=(const impl&) = delete;

        ~impl() {
            // Connections unregister from the loop before it goes.
            for (auto& [id, c] : conns) {
                c->retry_timer.cancel();
                c->cc.reset();
            }
            graveyard.clear();
        }

        // ---- requests from the producer ----------------------------------------------------

        void send_produce(produce_request&& r) {
            const auto it = conns.find(r.destination.value());
            if (r.destination.value() < 0 || it == conns.end()) {
                // No such broker in the last metadata (a leaderless partition, or metadata older than
                // a broker that left): the producer refreshes and retries.
                answer_produce(r.correlation_id, r.acks, r.batches.size(), error_code::leader_not_available);
                return;
            }
            conn& c = *it->second;
            if (c.st == state::ready) {
                write_produce(c, r.correlation_id, r.acks, r.timeout_ms, r.batches);
                return;
            }
            owned_produce o{r.correlation_id, r.acks, r.timeout_ms, {}};
            o.batches.reserve(r.batches.size());
            for (auto& b : r.batches) o.batches.push_back({b.topic, b.partition, byte_buffer(bytes_view(b.batch))});
            enqueue(c, std::move(o));
        }

        template <typename Req>
        void route_any(Req&& r) {
            enqueue_or_write(least_loaded(), waiting_request(std::forward<Req>(r)));
        }

        // ---- poll ---------------------------------------------------------------------------

        std::size_t poll(std::vector<transport_event>& out_events, duration max_wait) {
            graveyard.clear();
            const std::size_t start = out_events.size();
            const auto deadline = clock::now() + std::chrono::duration_cast<clock::duration>(max_wait);
            for (;;) {
                auto now = clock::now();
                const bool have = !ready.empty() || wake_pending.load(std::memory_order_acquire);
                loop.run_once(have || now >= deadline ? clock::duration::zero() : deadline - now);
                sweep(clock::now());
                graveyard.clear();
                for (auto& e : ready) out_events.push_back(std::move(e));
                ready.clear();
                const bool woken = wake_pending.exchange(false, std::memory_order_acq_rel);
                if (out_events.size() > start || woken || clock::now() >= deadline) break;
            }
            return out_events.size() - start;
        }

        void drain(duration max_wait) {
            graveyard.clear();
            const auto deadline = clock::now() + std::chrono::duration_cast<clock::duration>(max_wait);
            for (int turns = 0; turns < 1000000; ++turns) {
                bool pending = false;
                for (auto& [id, c] : conns) {
                    if (c->st == state::down) continue;
                    if (!c->queue.empty() || (c->cc && c->cc->unsent_bytes() > 0)) pending = true;
                }
                const auto now = clock::now();
                if (!pending || now >= deadline) break;
                loop.run_once(std::min<clock::duration>(deadline - now, std::chrono::milliseconds(10)));
                sweep(clock::now());
                graveyard.clear();
            }
            ready.clear(); // nobody will read these answers any more
        }

        // ---- routing ------------------------------------------------------------------------

        /// The connection for a Metadata/InitProducerId request: a ready one with the fewest
        /// requests out; else one on its way up; else one not backing off (known brokers before
        /// bootstrap servers); else the one whose backoff ends first.
        conn& least_loaded() {
            const auto now = clock::now();
            conn* best = nullptr;
            auto better = [&](conn* c, conn* b) {
                if (!b) return true;
                return c->out.size() + c->queue.size() < b->out.size() + b->queue.size();
            };
            for (auto& [id, c] : conns)
                if (c->st == state::ready && better(c.get(), best)) best = c.get();
            if (best) return *best;
            for (auto& [id, c] : conns)
                if ((c->st == state::connecting || c->st == state::negotiating) && better(c.get(), best))
                    best = c.get();
            if (best) return *best;
            // Known brokers first (ids >= 0 sort after the bootstrap ids), starting at a random one.
            std::vector<conn*> idle;
            for (auto it = conns.rbegin(); it != conns.rend(); ++it)
                if (it->second->retry_at <= now) idle.push_back(it->second.get());
            if (!idle.empty()) {
                const auto known = static_cast<std::size_t>(
                    std::count_if(idle.begin(), idle.end(), [](conn* c) { return c->node >= 0; }));
                const std::size_t pool = known > 0 ? known : idle.size();
                return *idle[std::uniform_int_distribution<std::size_t>(0, pool - 1)(rng)];
            }
            for (auto& [id, c] : conns)
                if (!best || c->retry_at < best->retry_at) best = c.get();
            return *best;
        }

        void enqueue_or_write(conn& c, waiting_request&& r) {
            if (c.st == state::ready) {
                write_waiting(c, std::move(r));
                return;
            }
            enqueue(c, std::move(r));
        }

        void enqueue(conn& c, waiting_request&& r) {
            c.queue.push_back({std::move(r), clock::now() + request_timeout});
            if (c.st == state::down) {
                if (c.retry_at <= clock::now())
                    connect(c);
                else
                    arm_retry(c);
            }
        }

        void arm_retry(conn& c) {
            if (c.retry_timer) return;
            conn* cp = &c;
            c.retry_timer = loop.run_at(c.retry_at, [this, cp] {
                cp->retry_timer = {};
                if (cp->st == state::down && !cp->queue.empty()) connect(*cp);
            });
        }

        // ---- connection life ----------------------------------------------------------------

        void connect(conn& c) {
            if (c.cc) graveyard.push_back(std::move(c.cc));
            c.cc = std::make_unique<net::client_connection>(loop, ccfg);
            c.st = state::connecting;
            conn* cp = &c;
            c.cc->connect(c.ep.host, c.ep.port,
                          {.on_connected = [this, cp] { on_connected(*cp); },
                           .on_frame = [this, cp](bytes_view f) { on_frame(*cp, f); },
                           .on_closed = [this, cp](std::error_code ec) { on_closed(*cp, ec); }});
        }

        void on_connected(conn& c) {
            counters.connects.fetch_add(1, std::memory_order_relaxed);
            c.st = state::negotiating;
            send_api_versions(c);
        }

        void send_api_versions(conn& c) {
            const std::int16_t v = c.api_versions_try;
            wire::api_versions::request req{"gregor", "1"};
            counters.api_versions_requests.fetch_add(1, std::memory_order_relaxed);
            write_frame(c, req, v, inflight{0, kind::api_versions, v, 0, clock::now(), {}, {}});
        }

        void on_closed(conn& c, std::error_code ec) {
            const bool was_up = c.st == state::negotiating || c.st == state::ready;
            // A broker that hangs up on an ApiVersions version it does not know: try the next lower
            // one at once, once per version.
            if (c.st == state::negotiating && c.api_versions_try > 0 && !c.out.empty() &&
                c.out.front().k == kind::api_versions) {
                c.api_versions_try = wire::api_versions::fallback_version(std::nullopt, c.api_versions_try);
                c.out.clear();
                connect(c);
                return;
            }
            fail(c, was_up, ec);
        }

        /// Closes `c` and answers everything on it or waiting for it with NETWORK_EXCEPTION.
        void fail(conn& c, bool was_up, std::error_code) {
            if (was_up)
                counters.disconnects.fetch_add(1, std::memory_order_relaxed);
            else
                counters.connect_failures.fetch_add(1, std::memory_order_relaxed);
            if (c.cc) {
                c.cc->close();
                graveyard.push_back(std::move(c.cc));
            }
            c.st = state::down;
            c.retry_timer.cancel();
            c.retry_timer = {};
            ++c.failures;
            c.retry_at = clock::now() + reconnect_backoff(c.failures);
            auto out = std::move(c.out);
            c.out.clear();
            auto queue = std::move(c.queue);
            c.queue.clear();
            for (auto& q : out) answer_failed(q);
            for (auto& w : queue) answer_failed(w.req);
        }

        clock::duration reconnect_backoff(std::int32_t failures) {
            std::uniform_real_distribution<double> u(0.0, 1.0);
            return std::chrono::duration_cast<clock::duration>(producer_detail::retry_backoff(
                failures, std::chrono::duration_cast<std::chrono::milliseconds>(backoff),
                std::chrono::duration_cast<std::chrono::milliseconds>(backoff_max), u(rng)));
        }

        // Answers older than request.timeout.ms close their connection (as Java's NetworkClient
        // does): a broker that stopped answering must not hold the producer's window forever.
        // Requests that waited for a connection longer than that are dropped: the producer gave
        // up on them already.
        void sweep(clock::time_point now) {
            if (now < next_sweep) return;
            next_sweep = now + std::chrono::milliseconds(100);
            for (auto& [id, cp] : conns) {
                conn& c = *cp;
                if (!c.out.empty() && c.out.front().sent + request_timeout + std::chrono::milliseconds(50) < now) {
                    fail(c, true, make_error_code(local_error::timed_out));
                    continue;
                }
                while (!c.queue.empty() && c.queue.front().deadline < now) c.queue.pop_front();
            }
        }

        // ---- writing ------------------------------------------------------------------------

        template <typename Req>
        void write_frame(conn& c, const Req& body, std::int16_t v, inflight&& meta) {
            byte_buffer frame;
            byte_writer w(frame);
            const std::int32_t corr = ++c.next_correlation == std::numeric_limits<std::int32_t>::max()
                                          ? (c.next_correlation = 1)
                                          : c.next_correlation;
            wire::request_header{Req::api::key, v, corr, std::string_view(client_id)}.encode(w);
            body.encode(w, v);
            meta.wire_correlation = corr;
            meta.version = v;
            meta.sent = clock::now();
            if (meta.k != kind::api_versions) counters.requests_written.fetch_add(1, std::memory_order_relaxed);
            if (meta.k == kind::produce && produce_acks_zero)
                c.last_unanswered = corr;
            else
                c.out.push_back(std::move(meta));
            c.cc->send(std::move(frame));
        }

        template <typename Batches>
        void write_produce(conn& c, std::uint64_t correlation_id, std::int16_t acks, std::int32_t timeout_ms,
                           const Batches& batches) {
            if (!c.produce_v) {
                answer_produce(correlation_id, acks, batches.size(), error_code::unsupported_version);
                return;
            }
            wire::produce::request req;
            req.acks = acks;
            req.timeout_ms = timeout_ms;
            inflight meta{0, kind::produce, 0, correlation_id, {}, {}, {}};
            meta.partitions.reserve(batches.size());
            for (const auto& b : batches) {
                auto t = std::find_if(req.topics.begin(), req.topics.end(),
                                      [&](const wire::produce::topic_data& td) { return td.name == b.topic; });
                if (t == req.topics.end()) {
                    req.topics.push_back({b.topic, {}});
                    t = std::prev(req.topics.end());
                }
                wire::produce::partition_data pd;
                pd.partition_index = b.partition;
                pd.records = batch_bytes(b);
                t->partitions.push_back(pd);
                meta.partitions.emplace_back(b.topic, b.partition);
            }
            produce_acks_zero = acks == 0;
            write_frame(c, req, *c.produce_v, std::move(meta));
            produce_acks_zero = false;
        }

        static bytes_view batch_bytes(const produce_request::partition_batch& b) { return bytes_view(b.batch); }
        static bytes_view batch_bytes(const owned_batch& b) { return b.bytes.view(); }

        void write_waiting(conn& c, waiting_request&& r) {
            std::visit(
                [&](auto& req) {
                    using T = std::decay_t<decltype(req)>;
                    if constexpr (std::is_same_v<T, owned_produce>) {
                        write_produce(c, req.correlation_id, req.acks, req.timeout_ms, req.batches);
                    } else if constexpr (std::is_same_v<T, metadata_request>) {
                        if (!c.metadata_v) return answer_waiting(r, error_code::unsupported_version);
                        wire::metadata::request m;
                        m.topics.emplace();
                        m.topics->push_back({req.topic});
                        m.allow_auto_topic_creation = allow_auto_create;
                        write_frame(c, m, *c.metadata_v,
                                    inflight{0, kind::metadata, 0, req.correlation_id, {}, {}, req.topic});
                    } else {
                        if (!c.pid_v) return answer_waiting(r, error_code::unsupported_version);
                        wire::init_producer_id::request ip;
                        if (req.transactional_id) ip.transactional_id = std::string_view(*req.transactional_id);
                        ip.transaction_timeout_ms = req.transaction_timeout_ms;
                        write_frame(c, ip, *c.pid_v,
                                    inflight{0, kind::init_producer_id, 0, req.correlation_id, {}, {}, {}});
                    }
                },
                r);
        }

        // ---- reading ------------------------------------------------------------------------

        void on_frame(conn& c, bytes_view frame) {
            if (frame.size() < 4) return protocol_error(c);
            const auto corr = load_be<std::int32_t>(frame.data());
            if (c.out.empty() || c.out.front().wire_correlation != corr) {
                // An answer to an acks=0 Produce from a broker that answers them anyway.
                if (corr <= c.last_unanswered && (c.out.empty() || corr < c.out.front().wire_correlation)) return;
                return protocol_error(c);
            }
            inflight q = std::move(c.out.front());
            c.out.pop_front();
            byte_reader r(frame);
            const auto key = q.k == kind::api_versions ? wire::api_key::api_versions
                             : q.k == kind::produce    ? wire::api_key::produce
                             : q.k == kind::metadata   ? wire::api_key::metadata
                                                       : wire::api_key::init_producer_id;
            if (!wire::response_header::decode(r, wire::response_header_version(key, q.version))) {
                answer_failed(q);
                return protocol_error(c);
            }
            const bytes_view body = frame.subspan(frame.size() - r.remaining());
            switch (q.k) {
            case kind::api_versions: return on_api_versions(c, q, body);
            case kind::produce: {
                const auto resp = decode_answer<wire::produce::response>(c, q, body);
                if (!resp) return;
                produce_response pr;
                pr.correlation_id = q.correlation_id;
                pr.results.reserve(q.partitions.size());
                for (const auto& [topic, part] : q.partitions) {
                    produce_response::partition_result res;
                    res.error = error_code::network_exception; // not in the answer: retried
                    for (const auto& t : resp->responses) {
                        if (t.name != topic) continue;
                        for (const auto& p : t.partitions) {
                            if (p.partition_index != part) continue;
                            res.error = p.error_code;
                            res.base_offset = p.base_offset;
                            res.log_append_time_ms = p.log_append_time_ms;
                            res.log_start_offset = p.log_start_offset;
                        }
                    }
                    pr.results.push_back(res);
                }
                ready.emplace_back(std::move(pr));
                return;
            }
            case kind::metadata: {
                if (const auto resp = decode_answer<wire::metadata::response>(c, q, body)) on_metadata(*resp, q);
                return;
            }
            case kind::init_producer_id: {
                const auto resp = decode_answer<wire::init_producer_id::response>(c, q, body);
                if (!resp) return;
                ready.emplace_back(init_producer_id_response{q.correlation_id, resp->error_code, resp->producer_id,
                                                             resp->producer_epoch});
                return;
            }
            }
        }

        /// The decoded answer; when it does not parse, the request is answered NETWORK_EXCEPTION
        /// and the connection closed (its stream can no longer be trusted).
        template <typename Resp>
        std::optional<Resp> decode_answer(conn& c, const inflight& q, bytes_view body) {
            byte_reader br(body);
            auto resp = Resp::decode(br, q.version);
            if (!resp) {
                answer_failed(q);
                protocol_error(c);
            }
            return resp;
        }

        void protocol_error(conn& c) { fail(c, true, make_error_code(local_error::corrupt_data)); }

        void on_api_versions(conn& c, const inflight& q, bytes_view body) {
            auto resp = wire::api_versions::response::decode_or_fallback(body, q.version);
            if (resp && resp->error_code == error_code::none) {
                auto pick = [&]<typename Api>(Api) -> std::optional<std::int16_t> {
                    if (auto r = resp->find(Api::key)) return wire::highest_common_version(spoken_versions<Api>(), *r);
                    return std::nullopt;
                };
                c.produce_v = pick(wire::produce_api{});
                c.metadata_v = pick(wire::metadata_api{});
                c.pid_v = pick(wire::init_producer_id_api{});
                counters.api_versions_version.store(q.version, std::memory_order_relaxed);
                counters.produce_version.store(c.produce_v.value_or(-1), std::memory_order_relaxed);
                counters.metadata_version.store(c.metadata_v.value_or(-1), std::memory_order_relaxed);
                counters.init_producer_id_version.store(c.pid_v.value_or(-1), std::memory_order_relaxed);
                c.st = state::ready;
                c.failures = 0;
                const auto now = clock::now();
                auto queue = std::move(c.queue);
                c.queue.clear();
                for (auto& w : queue) {
                    if (w.deadline < now) continue; // the producer gave up on it already
                    // A write can fail at once (the peer hung up) and close `c`: what is left is
                    // answered like the requests that were on it.
                    if (c.st == state::ready)
                        write_waiting(c, std::move(w.req));
                    else
                        answer_failed(w.req);
                }
                return;
            }
            if (q.version == 0) return fail(c, true, make_error_code(error_code::unsupported_version));
            c.api_versions_try = wire::api_versions::fallback_version(resp, q.version);
            send_api_versions(c);
        }

        void on_metadata(const wire::metadata::response& resp, const inflight& q) {
            // Brokers: remember the addresses; a broker whose address changed is reconnected.
            for (const auto& b : resp.brokers) {
                const std::int32_t id = b.node_id.value();
                if (id < 0 || b.port <= 0 || b.port > 65535) continue;
                net::endpoint ep{std::string(b.host), static_cast<std::uint16_t>(b.port)};
                auto& slot = conns[id];
                if (!slot) {
                    slot = std::make_unique<conn>();
                    slot->node = id;
                    slot->ep = std::move(ep);
                } else if (!(slot->ep == ep)) {
                    if (slot->st != state::down) fail(*slot, slot->st != state::connecting, {});
                    slot->ep = std::move(ep);
                    slot->failures = 0;
                    slot->retry_at = {};
                }
            }
            metadata_response m;
            m.correlation_id = q.correlation_id;
            m.topic = q.topic;
            m.error = error_code::unknown_topic_or_partition;
            for (const auto& t : resp.topics) {
                if (t.name != q.topic) continue;
                m.error = t.error_code;
                if (t.error_code != error_code::none) break;
                std::int32_t n = 0;
                for (const auto& p : t.partitions) n = std::max(n, p.partition_index.value() + 1);
                m.leaders.assign(static_cast<std::size_t>(n), node_id{-1});
                for (const auto& p : t.partitions)
                    if (p.partition_index.value() >= 0)
                        m.leaders[static_cast<std::size_t>(p.partition_index.value())] = p.leader_id;
                if (m.leaders.empty()) m.error = error_code::leader_not_available;
                break;
            }
            ready.emplace_back(std::move(m));
        }

        // ---- answers made here ----------------------------------------------------------------

        void answer_produce(std::uint64_t correlation_id, std::int16_t acks, std::size_t n, error_code e) {
            if (acks == 0) return;
            produce_response pr;
            pr.correlation_id = correlation_id;
            pr.results.assign(n, produce_response::partition_result{e, offset{-1}, -1, offset{-1}});
            ready.emplace_back(std::move(pr));
        }

        /// The one answer a request gets when it never reached a broker or its broker failed.
        void answer_error(kind k, std::uint64_t correlation_id, std::int16_t acks, std::size_t partitions,
                          const std::string& topic, error_code e) {
            switch (k) {
            case kind::api_versions: return; // the transport's own; nobody waits for it
            case kind::produce: return answer_produce(correlation_id, acks, partitions, e);
            case kind::metadata: ready.emplace_back(metadata_response{correlation_id, topic, e, {}}); return;
            case kind::init_producer_id:
                ready.emplace_back(init_producer_id_response{correlation_id, e, producer_id{-1}, producer_epoch{-1}});
                return;
            }
        }

        void answer_failed(const inflight& q) {
            answer_error(q.k, q.correlation_id, -1, q.partitions.size(), q.topic, error_code::network_exception);
        }

        void answer_failed(const waiting_request& w) { answer_waiting(w, error_code::network_exception); }

        void answer_waiting(const waiting_request& w, error_code e) {
            std::visit(
                [&](const auto& req) {
                    using T = std::decay_t<decltype(req)>;
                    if constexpr (std::is_same_v<T, owned_produce>)
                        answer_error(kind::produce, req.correlation_id, req.acks, req.batches.size(), {}, e);
                    else if constexpr (std::is_same_v<T, metadata_request>)
                        answer_error(kind::metadata, req.correlation_id, -1, 0, req.topic, e);
                    else
                        answer_error(kind::init_producer_id, req.correlation_id, -1, 0, {}, e);
                },
                w);
        }

        net::event_loop loop; // first: destroyed last
        std::vector<net::endpoint> bootstrap;
        std::string client_id;
        clock::duration request_timeout;
        clock::duration backoff;
        clock::duration backoff_max;
        bool allow_auto_create;
        net::client_config ccfg;
        std::mt19937_64 rng;
        std::map<std::int32_t, std::unique_ptr<conn>> conns;
        std::vector<std::unique_ptr<net::client_connection>> graveyard; // closed inside their callbacks
        std::vector<transport_event> ready;
        std::atomic<bool> wake_pending{false};
        bool produce_acks_zero = false;
        clock::time_point next_sweep{};
        tcp_counters counters;
    };

    std::unique_ptr<impl> d_;
};

} // namespace gregor::transport
