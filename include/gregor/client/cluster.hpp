// client::cluster: gregor's one Kafka client -- a view of a cluster and a way to send it any
// request the wire layer knows. The producer's and consumer's TCP transports and the admin client
// are built on it (docs/client.md).
//
//   client::cluster c({.bootstrap_servers = "127.0.0.1:9092"});
//   wire::create_topics::request req = ...;
//   c.send(client::destination::controller(), req, [](client::reply<wire::create_topics::response>& r) {
//       if (r.error) ...;            // never reached a broker, or no answer: NETWORK_EXCEPTION,
//                                    // REQUEST_TIMED_OUT, UNSUPPORTED_VERSION, ...
//       for (auto& t : r.body->topics) ...;   // the broker's answer, Kafka errors inside
//   });
//   while (!done) c.poll(std::chrono::milliseconds(100));
//
// What it keeps:
//   - One connection per broker (client/connection.hpp: version negotiation, pipelining,
//     timeouts, reconnect with backoff), plus one per bootstrap server until brokers are known.
//   - The metadata cache: brokers, controller, cluster id and, per topic, id and partitions
//     (leader, epoch, replicas, ISR). It is refreshed when a destination needs what it lacks,
//     when older than metadata.max.age.ms, and when a caller reports an error that calls for it
//     (`note_error`: NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION, NOT_CONTROLLER, ...).
//   - Coordinators (FindCoordinator), cached per (type, key) until invalidated.
//
// `send<Request>` works for any message with `using response_type`, at the highest version both
// sides support (capped by send_options::max_version). Request fields that are views must stay
// valid until the completion runs (the request is kept, by value, until it is written).
//
// Threads: one owner thread drives everything through poll(); completions run inside poll() on
// that thread and may send again. wake() is the one call that is safe from any thread.
#pragma once

#include <gregor/client/connection.hpp>
#include <gregor/core/buffer.hpp>
#include <gregor/core/error.hpp>
#include <gregor/core/strong_types.hpp>
#include <gregor/detail/unique_function.hpp>
#include <gregor/net/endpoint.hpp>
#include <gregor/net/event_loop.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/messages/find_coordinator.hpp>
#include <gregor/wire/messages/metadata.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace gregor::client {

struct cluster_config {
    std::string bootstrap_servers;                              // bootstrap.servers
    connection_settings connection{};                           // shared by every connection
    clock::duration metadata_max_age = std::chrono::minutes(5); // metadata.max.age.ms
    std::int16_t metadata_max_version = wire::metadata_api::max_version;
};

/// Where a request goes.
struct destination {
    enum class kind : std::uint8_t { any, node, controller, leader, coordinator };
    kind k = kind::any;
    std::int32_t node_id = -1;
    std::string topic;
    std::int32_t partition = -1;
    wire::find_coordinator::coordinator_type coordinator{};
    std::string key;

    /// The least loaded broker (Metadata, FindCoordinator, DescribeCluster, ...).
    static destination any() { return {}; }
    /// One broker by id (as Metadata names it).
    static destination node(std::int32_t id) { return {kind::node, id, {}, -1, {}, {}}; }
    /// The controller Metadata names (CreateTopics, DeleteTopics, CreatePartitions, configs).
    static destination controller() { return {kind::controller, -1, {}, -1, {}, {}}; }
    /// The leader of one partition (Produce, Fetch, ListOffsets, DeleteRecords).
    static destination leader(std::string topic, std::int32_t partition) {
        return {kind::leader, -1, std::move(topic), partition, {}, {}};
    }
    /// The coordinator of a group or transactional id.
    static destination coordinator_of(wire::find_coordinator::coordinator_type t, std::string key) {
        return {kind::coordinator, -1, {}, -1, t, std::move(key)};
    }
};

/// A typed answer. `error` is set when there is no answer from a broker (NETWORK_EXCEPTION,
/// REQUEST_TIMED_OUT, UNSUPPORTED_VERSION, LEADER_NOT_AVAILABLE for a destination that could
/// not be resolved...); Kafka's own errors are inside `body`. The views in `body` point into
/// `frame`, which the reply may be moved (with them) to keep.
template <typename Resp>
struct reply {
    std::error_code error;
    std::int16_t version = -1;
    std::int32_t node = -1; // the broker that answered
    std::optional<Resp> body;
    std::shared_ptr<const byte_buffer> frame;
};

struct send_options {
    std::int16_t max_version = std::numeric_limits<std::int16_t>::max(); // highest version to use
    clock::duration extra_timeout{}; // on top of request.timeout.ms (e.g. a long poll's wait)
    bool expects_response = true;    // false: completes when written (Produce acks=0)
};

/// What the metadata cache holds.
struct partition_info {
    error_code error = error_code::none;
    std::int32_t leader = -1;
    std::int32_t leader_epoch = -1;
    std::vector<std::int32_t> replicas, isr, offline;
};
struct topic_info {
    error_code error = error_code::none;
    wire::uuid id{};
    bool internal = false;
    std::vector<partition_info> partitions; // by index
};
struct broker_info {
    std::int32_t id = -1;
    std::string host;
    std::int32_t port = -1;
    std::optional<std::string> rack;
};
struct metadata_cache {
    std::string cluster_id;
    std::int32_t controller = -1;
    std::map<std::int32_t, broker_info> brokers;
    std::map<std::string, topic_info, std::less<>> topics;
    clock::time_point updated{}; // last successful refresh (epoch: never)
};

/// Errors after which the metadata a request was routed by is probably stale.
constexpr bool calls_for_metadata_refresh(error_code e) noexcept {
    switch (e) {
    case error_code::not_leader_or_follower:
    case error_code::leader_not_available:
    case error_code::unknown_topic_or_partition:
    case error_code::unknown_topic_id:
    case error_code::not_controller:
    case error_code::fenced_leader_epoch:
    case error_code::unknown_leader_epoch:
    case error_code::broker_not_available:
    case error_code::replica_not_available:
    case error_code::kafka_storage_error:
    case error_code::network_exception:
    case error_code::request_timed_out: return true;
    default: return false;
    }
}

class cluster {
public:
    /// Throws std::invalid_argument when bootstrap.servers is empty or malformed. Connects lazily.
    explicit cluster(cluster_config cfg) : cfg_(std::move(cfg)), rng_(std::random_device{}()) {
        const auto boot = net::parse_bootstrap_servers(cfg_.bootstrap_servers);
        for (std::size_t i = 0; i < boot.size(); ++i) {
            const auto id = -1 - static_cast<std::int32_t>(i);
            conns_[id] = std::make_unique<connection>(loop_, id, boot[i], cfg_.connection, counters_, rng_);
        }
    }

    cluster(const cluster&) = delete;
    cluster& operator=(const cluster&) = delete;

    /// Open requests are completed with NETWORK_EXCEPTION (their completions run here).
    ~cluster() {
        closing_ = true;
        conns_.clear();
    }

    /// Sends `req` to `dest` and calls `on_reply(reply<Request::response_type>&)` exactly once.
    template <typename Request, typename Fn>
    void send(const destination& dest, Request req, Fn&& on_reply, send_options opt = {}) {
        using Resp = typename Request::response_type;
        using Api = typename Request::api;
        raw_request r;
        r.key = Api::key;
        r.versions = {Api::min_version, std::min(Api::max_version, opt.max_version)};
        r.expects_response = opt.expects_response;
        r.extra_timeout = opt.extra_timeout;
        r.encode = [req = std::move(req)](byte_writer& w, std::int16_t v) { req.encode(w, v); };
        r.done = [this, fn = std::forward<Fn>(on_reply)](std::error_code ec, std::int16_t v,
                                                         const std::shared_ptr<const byte_buffer>& frame,
                                                         std::size_t off) mutable {
            ++completed_;
            reply<Resp> rep;
            rep.error = ec;
            rep.version = v;
            rep.node = current_node_;
            bool ok = true;
            if (!ec && frame) {
                byte_reader br(frame->view().subspan(off));
                rep.body = Resp::decode(br, v);
                if (!rep.body) {
                    ok = false;
                    rep.error = make_error_code(error_code::network_exception);
                } else {
                    rep.frame = frame;
                }
            }
            fn(rep);
            return ok;
        };
        route(dest, std::move(r), true);
    }

    /// Refreshes the metadata of `topics` (nullopt: every topic) and then calls `done(error)`.
    /// Topics the answer names replace their cached entries; with nullopt, topics it no longer
    /// names are dropped.
    void refresh_metadata(std::optional<std::vector<std::string>> topics,
                          gregor::detail::unique_function<void(std::error_code)> done = {},
                          bool allow_auto_create = false) {
        auto names = std::make_shared<std::optional<std::vector<std::string>>>(std::move(topics));
        wire::metadata::request req;
        if (*names) {
            req.topics.emplace();
            for (const auto& n : **names) req.topics->push_back({n, {}});
        }
        req.allow_auto_topic_creation = allow_auto_create;
        send(destination::any(), std::move(req),
             [this, names, done = std::move(done)](reply<wire::metadata::response>& rep) mutable {
                 if (!rep.error) update_metadata(*rep.body, !names->has_value());
                 if (done) done(rep.error);
             },
             {.max_version = cfg_.metadata_max_version});
    }

    /// The cache as the last refresh left it.
    [[nodiscard]] const metadata_cache& metadata() const noexcept { return meta_; }
    /// True when the cache is older than metadata.max.age.ms or was marked stale.
    [[nodiscard]] bool metadata_stale() const noexcept {
        return stale_ || meta_.updated == clock::time_point{} || meta_.updated + cfg_.metadata_max_age < clock::now();
    }
    /// The next destination that needs metadata refreshes it first.
    void request_metadata_update() noexcept { stale_ = true; }
    /// Reports an error a broker answered; the ones that call for it mark the metadata stale.
    void note_error(error_code e) noexcept {
        if (calls_for_metadata_refresh(e)) stale_ = true;
        if (e == error_code::not_coordinator || e == error_code::coordinator_not_available) coordinators_.clear();
    }

    [[nodiscard]] std::optional<std::int32_t> leader_of(std::string_view topic, std::int32_t p) const {
        const auto it = meta_.topics.find(topic);
        if (it == meta_.topics.end() || it->second.error != error_code::none || p < 0 ||
            static_cast<std::size_t>(p) >= it->second.partitions.size())
            return std::nullopt;
        const auto l = it->second.partitions[static_cast<std::size_t>(p)].leader;
        if (l < 0) return std::nullopt;
        return l;
    }

    /// Looks the coordinator of (type, key) up (cached) and calls `done(error, node)`.
    void find_coordinator(wire::find_coordinator::coordinator_type type, std::string key,
                          gregor::detail::unique_function<void(std::error_code, std::int32_t)> done) {
        if (const auto it = coordinators_.find({type, key}); it != coordinators_.end() && conns_.count(it->second))
            return done({}, it->second);
        auto owned = std::make_shared<std::string>(std::move(key));
        wire::find_coordinator::request req;
        req.key = *owned;
        req.key_type = type;
        req.coordinator_keys = {std::string_view(*owned)};
        send(destination::any(), req,
             [this, type, owned, done = std::move(done)](reply<wire::find_coordinator::response>& rep) mutable {
                 if (rep.error) return done(rep.error, -1);
                 auto e = rep.body->error_code;
                 std::int32_t node = rep.body->node_id.value();
                 std::string host(rep.body->host);
                 std::int32_t port = rep.body->port;
                 if (rep.version >= 4) {
                     e = error_code::coordinator_not_available;
                     for (const auto& c : rep.body->coordinators) {
                         if (c.key != *owned) continue;
                         e = c.error_code;
                         node = c.node_id.value();
                         host = std::string(c.host);
                         port = c.port;
                     }
                 }
                 if (e != error_code::none) return done(make_error_code(e), -1);
                 learn_broker(node, host, port);
                 coordinators_[{type, *owned}] = node;
                 done({}, node);
             });
    }
    void invalidate_coordinator(wire::find_coordinator::coordinator_type type, const std::string& key) {
        coordinators_.erase({type, key});
    }

    /// Whether a request sent to `dest` now is written during send() (its broker is known,
    /// connected, and nothing waits before it), so views in the request need not outlive send().
    [[nodiscard]] bool ready(const destination& dest) const {
        if (closing_ || (dest.k != destination::kind::node && metadata_stale())) return false;
        const auto n = resolve_now(dest);
        if (!n) return false;
        const auto it = conns_.find(*n);
        return it != conns_.end() && it->second->writes_now();
    }

    /// The connection to broker `node` (nullptr if unknown), e.g. to read negotiated versions.
    [[nodiscard]] const connection* connection_to(std::int32_t node) const {
        const auto it = conns_.find(node);
        return it == conns_.end() ? nullptr : it->second.get();
    }

    /// Runs the network for at most `max_wait`, returning early once at least one completion ran
    /// or wake() was called. Returns the number of completions that ran.
    std::size_t poll(clock::duration max_wait) {
        const auto start = completed_;
        const auto deadline = clock::now() + max_wait;
        for (;;) {
            auto now = clock::now();
            auto until = std::min(deadline, next_deadline());
            const bool woken_before = wake_pending_.load(std::memory_order_acquire);
            loop_.run_once(woken_before || until <= now ? clock::duration::zero() : until - now);
            now = clock::now();
            sweep(now);
            const bool woken = wake_pending_.exchange(false, std::memory_order_acq_rel);
            if (completed_ != start || woken || now >= deadline) break;
        }
        return completed_ - start;
    }

    /// Runs the network until every request handed over is written (or failed), at most `max_wait`.
    void drain(clock::duration max_wait) {
        const auto deadline = clock::now() + max_wait;
        for (int turns = 0; turns < 1000000; ++turns) {
            bool pending = false;
            for (auto& [id, c] : conns_)
                if (c->state() != connection_state::down && (c->unsent_bytes() > 0 || (c->load() > 0 && !c->ready())))
                    pending = true;
            const auto now = clock::now();
            if (!pending || now >= deadline) break;
            loop_.run_once(std::min<clock::duration>(deadline - now, std::chrono::milliseconds(10)));
            sweep(clock::now());
        }
    }

    /// Makes a poll() in progress on the owner thread return. Thread-safe.
    void wake() {
        if (!wake_pending_.exchange(true, std::memory_order_acq_rel)) loop_.post([] {});
    }

    [[nodiscard]] const counters& stats() const noexcept { return counters_; }
    [[nodiscard]] const cluster_config& config() const noexcept { return cfg_; }
    [[nodiscard]] net::event_loop& loop() noexcept { return loop_; }

private:
    void complete_error(raw_request& r, error_code e) {
        const auto prev = std::exchange(current_node_, -1); // no broker answered
        if (r.done) (void)r.done(make_error_code(e), -1, nullptr, 0);
        current_node_ = prev;
    }

    /// The broker `dest` names by what is known now.
    [[nodiscard]] std::optional<std::int32_t> resolve_now(const destination& dest) const {
        switch (dest.k) {
        case destination::kind::any: return std::nullopt;
        case destination::kind::node: return dest.node_id;
        case destination::kind::controller:
            if (meta_.controller >= 0 && conns_.count(meta_.controller)) return meta_.controller;
            return std::nullopt;
        case destination::kind::leader: return leader_of(dest.topic, dest.partition);
        case destination::kind::coordinator:
            if (const auto it = coordinators_.find({dest.coordinator, dest.key}); it != coordinators_.end())
                return it->second;
            return std::nullopt;
        }
        return std::nullopt;
    }

    void submit_to(std::int32_t node, raw_request&& r) {
        const auto it = conns_.find(node);
        if (it == conns_.end()) return complete_error(r, error_code::broker_not_available);
        wrap_node(r, node);
        it->second->submit(std::move(r));
    }

    // The completion learns which broker answered.
    void wrap_node(raw_request& r, std::int32_t node) {
        r.done = [this, node, inner = std::move(r.done)](std::error_code ec, std::int16_t v,
                                                         const std::shared_ptr<const byte_buffer>& f,
                                                         std::size_t off) mutable {
            const auto prev = current_node_;
            current_node_ = node;
            const bool ok = inner(ec, v, f, off);
            current_node_ = prev;
            return ok;
        };
    }

    /// Sends `r` where `dest` says; when that needs metadata (or a coordinator) it is fetched
    /// first, once (`may_refresh`).
    void route(const destination& dest, raw_request&& r, bool may_refresh) {
        if (closing_) return complete_error(r, error_code::network_exception);
        if (dest.k == destination::kind::any) return submit_to(least_loaded(), std::move(r));
        if (dest.k == destination::kind::coordinator) {
            auto held = std::make_shared<raw_request>(std::move(r));
            return find_coordinator(dest.coordinator, dest.key,
                                    [this, held](std::error_code ec, std::int32_t node) mutable {
                                        if (ec) {
                                            if (held->done) (void)held->done(ec, -1, nullptr, 0);
                                            return;
                                        }
                                        submit_to(node, std::move(*held));
                                    });
        }
        const bool stale = metadata_stale() && dest.k != destination::kind::node;
        if (const auto n = resolve_now(dest); n && !stale) return submit_to(*n, std::move(r));
        if (!may_refresh) {
            if (const auto n = resolve_now(dest)) return submit_to(*n, std::move(r));
            if (dest.k == destination::kind::controller) // KRaft clusters may name none: any broker
                return submit_to(least_loaded(), std::move(r));
            return complete_error(r, dest.k == destination::kind::leader ? error_code::leader_not_available
                                                                         : error_code::broker_not_available);
        }
        auto held = std::make_shared<raw_request>(std::move(r));
        std::optional<std::vector<std::string>> topics;
        if (dest.k == destination::kind::leader) topics = std::vector<std::string>{dest.topic};
        refresh_metadata(std::move(topics),
                         [this, dest, held](std::error_code) mutable { route(dest, std::move(*held), false); });
    }

public:
    /// Takes a Metadata answer into the cache (and its brokers into the connection table): for
    /// callers that send Metadata themselves. `all_topics`: the answer lists every topic, so
    /// topics it does not name are dropped.
    void update_metadata(const wire::metadata::response& m, bool all_topics) {
        std::map<std::int32_t, broker_info> brokers;
        for (const auto& b : m.brokers) {
            const auto id = b.node_id.value();
            brokers[id] = {id, std::string(b.host), b.port,
                           b.rack ? std::optional<std::string>(std::string(*b.rack)) : std::nullopt};
            learn_broker(id, std::string(b.host), b.port);
        }
        meta_.brokers = std::move(brokers);
        meta_.controller = m.controller_id.value();
        if (m.cluster_id) meta_.cluster_id = std::string(*m.cluster_id);
        if (all_topics) meta_.topics.clear();
        for (const auto& t : m.topics) {
            if (t.name.data() == nullptr) continue;
            topic_info ti;
            ti.error = t.error_code;
            ti.id = t.topic_id;
            ti.internal = t.is_internal;
            std::int32_t n = 0;
            for (const auto& p : t.partitions) n = std::max(n, p.partition_index.value() + 1);
            ti.partitions.resize(static_cast<std::size_t>(n));
            for (const auto& p : t.partitions) {
                if (p.partition_index.value() < 0) continue;
                auto& pi = ti.partitions[static_cast<std::size_t>(p.partition_index.value())];
                pi.error = p.error_code;
                pi.leader = p.leader_id.value();
                pi.leader_epoch = p.leader_epoch.value();
                for (auto x : p.replica_nodes) pi.replicas.push_back(x.value());
                for (auto x : p.isr_nodes) pi.isr.push_back(x.value());
                for (auto x : p.offline_replicas) pi.offline.push_back(x.value());
            }
            meta_.topics.insert_or_assign(std::string(t.name), std::move(ti));
        }
        meta_.updated = clock::now();
        stale_ = false;
    }

private:
    void learn_broker(std::int32_t id, const std::string& host, std::int32_t port) {
        if (id < 0 || port <= 0 || port > 65535) return;
        net::endpoint ep{host, static_cast<std::uint16_t>(port)};
        auto& slot = conns_[id];
        if (!slot)
            slot = std::make_unique<connection>(loop_, id, std::move(ep), cfg_.connection, counters_, rng_);
        else
            slot->set_endpoint(std::move(ep));
    }

    /// A ready connection with the fewest requests out; else one on its way up; else one not
    /// backing off (known brokers before bootstrap servers, picked at random); else the one whose
    /// backoff ends first.
    std::int32_t least_loaded() {
        const auto now = clock::now();
        connection* best = nullptr;
        auto better = [&](connection* c) { return !best || c->load() < best->load(); };
        for (auto& [id, c] : conns_)
            if (c->ready() && better(c.get())) best = c.get();
        if (best) return best->node();
        for (auto& [id, c] : conns_)
            if ((c->state() == connection_state::connecting || c->state() == connection_state::negotiating) &&
                better(c.get()))
                best = c.get();
        if (best) return best->node();
        std::vector<connection*> idle;
        for (auto it = conns_.rbegin(); it != conns_.rend(); ++it)
            if (it->second->retry_at() <= now) idle.push_back(it->second.get());
        if (!idle.empty()) {
            const auto known = static_cast<std::size_t>(
                std::count_if(idle.begin(), idle.end(), [](connection* c) { return c->node() >= 0; }));
            const std::size_t pool = known > 0 ? known : idle.size();
            return idle[std::uniform_int_distribution<std::size_t>(0, pool - 1)(rng_)]->node();
        }
        for (auto& [id, c] : conns_)
            if (!best || c->retry_at() < best->retry_at()) best = c.get();
        return best->node();
    }

    [[nodiscard]] clock::time_point next_deadline() const {
        auto t = clock::time_point::max();
        for (const auto& [id, c] : conns_) t = std::min(t, c->next_deadline());
        // Deadlines are checked at least this often, whatever the loop sleeps on.
        return std::min(t, clock::now() + std::chrono::milliseconds(100));
    }

    void sweep(clock::time_point now) {
        for (auto& [id, c] : conns_) c->sweep(now);
    }

    cluster_config cfg_;
    net::event_loop loop_; // before the connections: they unregister from it when destroyed
    counters counters_;
    std::mt19937_64 rng_;
    std::map<std::int32_t, std::unique_ptr<connection>> conns_;
    metadata_cache meta_;
    bool stale_ = false;
    bool closing_ = false;
    std::map<std::pair<wire::find_coordinator::coordinator_type, std::string>, std::int32_t> coordinators_;
    std::uint64_t completed_ = 0;
    std::int32_t current_node_ = -1;
    std::atomic<bool> wake_pending_{false};
};

} // namespace gregor::client
