// One broker's part in a cluster (docs/replication.md): it registers with the controller
// (BrokerRegistration), keeps its session with BrokerHeartbeat, follows the metadata log by
// fetching `__cluster_metadata`-0 from the controller, applies it (the topics this node hosts,
// each partition's leader, epochs, replicas and ISR), replicates the partitions it follows with
// one replica fetcher per leader (Fetch v12 with its replica id, the leader's bytes appended
// unchanged), and, for the partitions it leads, asks the controller for ISR changes
// (AlterPartition). A controlled shutdown asks the controller to move its leaderships away first.
//
// Everything runs on the member's own event loop thread; nothing here runs on the Kafka server's
// loop. The handlers read the image through image() (a shared snapshot) and hand topic
// creation requests over with request_topic() (thread-safe).
//
// Follower fetches (docs/protocol.md §14.2): replica id = node.id, max wait
// replica.fetch.wait.max.ms, min bytes replica.fetch.min.bytes, max bytes
// replica.fetch.response.max.bytes, per partition replica.fetch.max.bytes, the partition's leader
// epoch as CurrentLeaderEpoch and its last epoch as LastFetchedEpoch, so the leader answers a
// diverging tail with DivergingEpoch (§14.7) and the follower truncates before appending.
#pragma once

#include <gregor/broker/cluster_metadata.hpp>
#include <gregor/broker/partition.hpp>
#include <gregor/client/connection.hpp>
#include <gregor/core/error.hpp>
#include <gregor/net/endpoint.hpp>
#include <gregor/net/event_loop.hpp>
#include <gregor/wire/messages/alter_partition.hpp>
#include <gregor/wire/messages/broker_heartbeat.hpp>
#include <gregor/wire/messages/broker_registration.hpp>
#include <gregor/wire/messages/create_topics.hpp>
#include <gregor/wire/messages/fetch.hpp>
#include <gregor/wire/messages/write_txn_markers.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <utility>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace gregor::cluster {

/// One voter of controller.quorum.voters: "id@host:port".
struct voter {
    node_id id{-1};
    net::endpoint ep;
};

/// Parses controller.quorum.voters ("1@127.0.0.1:9092,2@..."); throws std::invalid_argument.
inline std::vector<voter> parse_voters(std::string_view s) {
    std::vector<voter> out;
    while (!s.empty()) {
        const auto comma = s.find(',');
        auto item = s.substr(0, comma);
        s = comma == std::string_view::npos ? std::string_view{} : s.substr(comma + 1);
        const auto at = item.find('@');
        std::int32_t id = -1;
        if (at == std::string_view::npos || std::from_chars(item.data(), item.data() + at, id).ptr != item.data() + at ||
            id < 0)
            throw std::invalid_argument("invalid value '" + std::string(item) +
                                        "' for property 'controller.quorum.voters': expected id@host:port");
        const auto eps = net::parse_bootstrap_servers(item.substr(at + 1));
        out.push_back({node_id{id}, eps.front()});
    }
    if (out.empty()) throw std::invalid_argument("controller.quorum.voters is empty");
    return out;
}

namespace detail {

// A typed request on a client::connection: encodes `req` at the negotiated version and hands the
// decoded answer (or the error) to `fn(error_code, const Resp*)`.
template <typename Request, typename Fn>
client::raw_request typed(Request req, Fn&& fn, std::int16_t max_version = std::numeric_limits<std::int16_t>::max(),
                          client::clock::duration extra_timeout = {}) {
    using Api = typename Request::api;
    using Resp = typename Request::response_type;
    client::raw_request r;
    r.key = Api::key;
    r.versions = {Api::min_version, std::min(Api::max_version, max_version)};
    r.extra_timeout = extra_timeout;
    r.encode = [req = std::move(req)](byte_writer& w, std::int16_t v) { req.encode(w, v); };
    r.done = [fn = std::forward<Fn>(fn)](std::error_code ec, std::int16_t v, const std::shared_ptr<const byte_buffer>& frame,
                                         std::size_t off) mutable {
        if (ec || !frame) {
            fn(ec ? ec : make_error_code(error_code::network_exception), static_cast<const Resp*>(nullptr), frame);
            return true;
        }
        byte_reader br(frame->view().subspan(off));
        auto body = Resp::decode(br, v);
        if (!body) {
            fn(make_error_code(error_code::network_exception), static_cast<const Resp*>(nullptr), frame);
            return false;
        }
        fn(std::error_code{}, &*body, frame);
        return true;
    };
    return r;
}

} // namespace detail

template <typename Broker>
class member {
public:
    using partition_type = typename Broker::partition_type;

    /// `host`/`port`: what this broker advertises (its listener), registered with the controller.
    member(Broker& b, std::string host, std::int32_t port)
            : b_(b), cfg_(b.config()), self_(node_id{cfg_.node_id}), host_(std::move(host)), port_(port),
              voters_(parse_voters(cfg_.controller_quorum_voters)), rng_(std::random_device{}()) {
        settings_.client_id = "gregor-broker-" + std::to_string(self_.value());
        settings_.request_timeout = std::chrono::milliseconds(std::max(cfg_.broker_session_timeout_ms, 1000));
        settings_.reconnect_backoff = std::chrono::milliseconds(50);
        settings_.reconnect_backoff_max = std::chrono::milliseconds(500);
        image_ = std::make_shared<const metadata_image>();
    }

    member(const member&) = delete;
    member& operator=(const member&) = delete;
    ~member() { stop(); }

    /// Starts the member's thread: registration, heartbeats, the metadata fetch.
    void start() {
        started_.store(true);
        loop_.start();
        loop_.run_and_wait([this] {
            controller_conn_ = std::make_unique<client::connection>(loop_, voters_.front().id.value(), voters_.front().ep,
                                                                    settings_, counters_, rng_);
            register_now();
            fetch_metadata();
            schedule_sweep();
        });
    }

    /// Controlled shutdown: asks the controller to move this node's leaderships away and waits
    /// (at most `timeout`) until it says so, then stops. Any thread but the member's.
    void shutdown(std::chrono::milliseconds timeout) {
        if (!running()) return;
        {
            std::lock_guard lk(mu_);
            want_shutdown_ = true;
        }
        loop_.post([this] { heartbeat_now(); });
        std::unique_lock lk(mu_);
        cv_.wait_for(lk, timeout, [&] { return shutdown_granted_; });
        lk.unlock();
        stop();
    }

    /// Stops the thread (no goodbye: the controller fences this node after its session).
    void stop() {
        if (stopped_.exchange(true) || !started_.load()) return;
        loop_.run_and_wait([this] {
            stopping_ = true;
            sweep_timer_.cancel();
            heartbeat_timer_.cancel();
            retry_timer_.cancel();
            for (auto& [id, f] : fetchers_) f.retry.cancel();
            fetchers_.clear();
            peers_.clear();
            controller_conn_.reset();
        });
        loop_.stop();
        loop_.join();
    }

    /// The metadata as applied so far (a snapshot; any thread).
    std::shared_ptr<const metadata_image> image() const {
        std::lock_guard lk(mu_);
        return image_;
    }

    /// The controller's id (the first voter).
    [[nodiscard]] node_id controller_id() const noexcept { return voters_.front().id; }

    /// Whether the controller has unfenced this broker (it has caught up with the metadata).
    [[nodiscard]] bool unfenced() const noexcept { return unfenced_.load(std::memory_order_acquire); }

    /// Asks the controller to create `name` (auto-creation by Metadata on this broker, the
    /// internal __consumer_offsets by FindCoordinator); -1 partitions or replication factor are
    /// the controller's defaults. At most one request per name in flight. Any thread.
    void request_topic(std::string name, std::int32_t partitions = -1, std::int16_t replication_factor = -1,
                       std::map<std::string, std::string> configs = {}) {
        loop_.post([this, name = std::move(name), partitions, replication_factor, configs = std::move(configs)]() mutable {
            if (stopping_ || !controller_conn_ || !creating_.insert(name).second) return;
            wire::create_topics::request req;
            // The request holds views: what they point at travels with the callback.
            auto owned = std::make_shared<std::pair<std::string, std::map<std::string, std::string>>>(name, std::move(configs));
            std::vector<wire::create_topics::creatable_topic_config> cs;
            for (const auto& [k, v] : owned->second) cs.push_back({k, std::string_view(v)});
            req.topics.push_back({owned->first, partitions, replication_factor, {}, std::move(cs)});
            req.timeout_ms = 5000;
            controller_conn_->submit(detail::typed(std::move(req), [this, owned](std::error_code, const auto*, const auto&) {
                creating_.erase(owned->first);
            }));
        });
    }

    /// Sends a transaction coordinator's marker to the partition's leader as WriteTxnMarkers
    /// (docs/protocol.md §15.6); `done` gets the partition's error (NETWORK_EXCEPTION when no
    /// answer came). Any thread; `done` runs on the member's thread.
    void write_marker(std::string topic, std::int32_t p, producer_id pid, producer_epoch epoch, bool commit,
                      std::int32_t coordinator_epoch, gregor::detail::unique_function<void(error_code)> done) {
        auto d = std::make_shared<gregor::detail::unique_function<void(error_code)>>(std::move(done));
        const bool posted = running();
        if (!posted) return (*d)(error_code::not_leader_or_follower);
        loop_.post([this, topic = std::move(topic), p, pid, epoch, commit, coordinator_epoch, d]() mutable {
            if (stopping_) return (*d)(error_code::not_leader_or_follower);
            const auto img = image();
            const auto* st = img->find(topic, partition_id{p});
            if (!st) return (*d)(error_code::unknown_topic_or_partition);
            const auto leader = st->leader.value();
            const auto bit = img->brokers.find(leader);
            if (leader < 0 || leader == self_.value() || bit == img->brokers.end())
                return (*d)(error_code::not_leader_or_follower);
            const net::endpoint ep{bit->second.host, static_cast<std::uint16_t>(bit->second.port)};
            auto& conn = peers_[leader];
            if (!conn)
                conn = std::make_unique<client::connection>(loop_, leader, ep, settings_, counters_, rng_);
            else
                conn->set_endpoint(ep);
            // The request holds a view of the topic name: the name travels with the callback.
            auto owned = std::make_shared<std::string>(std::move(topic));
            wire::write_txn_markers::request req;
            req.markers.push_back({pid, epoch, commit, {{*owned, {partition_id{p}}}}, coordinator_epoch});
            conn->submit(detail::typed(std::move(req), [d, owned](std::error_code ec, const auto* resp, const auto&) {
                error_code e = error_code::network_exception;
                if (!ec && resp && !resp->markers.empty() && !resp->markers[0].topics.empty() &&
                    !resp->markers[0].topics[0].partitions.empty())
                    e = resp->markers[0].topics[0].partitions[0].error_code;
                (*d)(e);
            }));
        });
    }

    /// Test hook (fault injection): stops (true) or resumes (false) this node's replica fetchers,
    /// as if the network to its leaders were cut, while its session with the controller goes on.
    /// The cases of the notes where a leader acknowledges what no follower has yet (acks=1 loss,
    /// unclean election) are built with it. Any thread.
    void pause_replication(bool paused) {
        loop_.post([this, paused] {
            paused_ = paused;
            if (!paused)
                for (auto& [leader, f] : fetchers_) fetch_from(leader);
        });
    }

private:
    struct followed {
        std::string topic;
        partition_id p{0};
        partition_type* part = nullptr;
        leader_epoch epoch{0};
    };
    struct fetcher {
        node_id leader{-1};
        std::unique_ptr<client::connection> conn;
        std::map<std::pair<std::string, std::int32_t>, followed> parts;
        bool in_flight = false;
        std::size_t rounds = 0; // which topic goes first (see fetch_from)
        net::timer_handle retry;
    };

    bool running() const { return started_.load() && !stopped_.load(); }

    // ---- registration and heartbeats ----

    void register_now() {
        if (stopping_) return;
        wire::broker_registration::request req;
        req.broker_id = self_;
        req.cluster_id = cluster_id_;
        for (auto& byte : req.incarnation_id.bytes) byte = static_cast<std::byte>(rng_());
        req.listeners.push_back({listener_name_, host_, static_cast<std::uint16_t>(port_), 0});
        req.rack = std::nullopt;
        controller_conn_->submit(detail::typed(std::move(req), [this](std::error_code ec, const auto* resp, const auto&) {
            if (stopping_) return;
            if (ec || !resp || resp->error_code != error_code::none) return retry_later([this] { register_now(); });
            broker_epoch_ = resp->broker_epoch;
            heartbeat_now();
        }));
    }

    void heartbeat_now() {
        if (stopping_ || broker_epoch_ < 0) return;
        heartbeat_timer_.cancel();
        wire::broker_heartbeat::request req;
        req.broker_id = self_;
        req.broker_epoch = broker_epoch_;
        {
            std::lock_guard lk(mu_);
            req.current_metadata_offset = image_->next_offset.value() - 1;
            req.want_shut_down = want_shutdown_;
        }
        req.want_fence = false;
        controller_conn_->submit(detail::typed(std::move(req), [this](std::error_code ec, const auto* resp, const auto&) {
            if (stopping_) return;
            if (!ec && resp) {
                if (resp->error_code == error_code::stale_broker_epoch) {
                    broker_epoch_ = -1; // the controller lost or replaced us: register again
                    return register_now();
                }
                if (resp->error_code == error_code::none) {
                    unfenced_.store(!resp->is_fenced, std::memory_order_release);
                    if (resp->should_shut_down) {
                        std::lock_guard lk(mu_);
                        shutdown_granted_ = true;
                        cv_.notify_all();
                    }
                }
            }
            bool hurry = false;
            {
                std::lock_guard lk(mu_);
                hurry = want_shutdown_ && !shutdown_granted_;
            }
            const auto every = hurry ? std::chrono::milliseconds(100)
                                     : std::chrono::milliseconds(std::max(cfg_.broker_heartbeat_interval_ms, 10));
            heartbeat_timer_ = loop_.run_after(every, [this] { heartbeat_now(); });
        }));
    }

    template <typename Fn>
    void retry_later(Fn&& fn) {
        retry_timer_ = loop_.run_after(std::chrono::milliseconds(200), std::forward<Fn>(fn));
    }

    void schedule_sweep() {
        sweep_timer_ = loop_.run_after(std::chrono::milliseconds(100), [this] {
            if (stopping_) return;
            const auto now = client::clock::now();
            if (controller_conn_) controller_conn_->sweep(now);
            for (auto& [id, f] : fetchers_)
                if (f.conn) f.conn->sweep(now);
            propose_isr_changes();
            schedule_sweep();
        });
    }

    // ---- the metadata log ----

    void fetch_metadata() {
        if (stopping_) return;
        wire::fetch::request req;
        req.replica_id = node_id{-1};
        req.max_wait_ms = 500;
        req.min_bytes = 1;
        req.max_bytes = 8 << 20;
        req.session_epoch = -1;
        offset from;
        {
            std::lock_guard lk(mu_);
            from = image_->next_offset;
        }
        req.topics.push_back({metadata_topic, {{partition_id{0}, leader_epoch{-1}, from, offset{-1}, 8 << 20, leader_epoch{-1}}}, {}});
        controller_conn_->submit(detail::typed(
            std::move(req),
            [this](std::error_code ec, const wire::fetch::response* resp, const auto&) {
                if (stopping_) return;
                bool healthy = false;
                if (!ec && resp && !resp->responses.empty() && !resp->responses[0].partitions.empty()) {
                    const auto& pd = resp->responses[0].partitions[0];
                    if (pd.error_code == error_code::offset_out_of_range) {
                        // The controller's log no longer holds our position (it lost its tail):
                        // start over from its first record.
                        std::lock_guard lk(mu_);
                        image_ = std::make_shared<const metadata_image>();
                    } else if (pd.error_code == error_code::none) {
                        healthy = true;
                        auto next = std::make_shared<metadata_image>(*image());
                        const auto before = next->next_offset;
                        if (pd.records && !pd.records->empty()) apply_batches(*next, *pd.records);
                        // Topics missing from a partly read log may just not be read yet: roles
                        // are applied once the image has caught up, and local topics removed only
                        // then.
                        const bool caught_up = next->next_offset >= pd.high_watermark;
                        if (next->next_offset > before || (caught_up && !synced_)) {
                            {
                                std::lock_guard lk(mu_);
                                image_ = next;
                            }
                            if (caught_up) synced_ = true;
                            if (synced_) reconcile(*next, caught_up);
                        }
                    }
                }
                if (healthy) return fetch_metadata();
                retry_later([this] { fetch_metadata(); });
            },
            12, std::chrono::milliseconds(500)));
    }

    // Brings the local partitions and fetchers in line with the image.
    void reconcile(const metadata_image& img, bool caught_up) {
        const auto now = b_.now_ms();
        std::map<std::int32_t, std::vector<followed>> wanted; // leader -> partitions to follow
        for (const auto& [name, t] : img.topics) {
            bool hosted = false;
            for (const auto& s : t.partitions)
                hosted |= std::find(s.replicas.begin(), s.replicas.end(), self_) != s.replicas.end();
            if (!hosted || t.partitions.empty()) continue;
            auto e = b_.host_topic(name, t.id, t.configs, static_cast<std::int32_t>(t.partitions.size()));
            if (e == error_code::inconsistent_topic_id) {
                // Deleted and created again under the same name while we did not look: the old
                // one's replicas go before the new one's come.
                (void)b_.delete_topic(name);
                e = b_.host_topic(name, t.id, t.configs, static_cast<std::int32_t>(t.partitions.size()));
            }
            if (e != error_code::none) continue;
            for (std::size_t i = 0; i < t.partitions.size(); ++i) {
                const auto& s = t.partitions[i];
                auto* part = b_.find_partition(name, partition_id{static_cast<std::int32_t>(i)});
                if (!part) continue;
                const bool replica = std::find(s.replicas.begin(), s.replicas.end(), self_) != s.replicas.end();
                part->apply_state(replica ? s : partition_state{node_id{-1}, s.leader_epoch, s.partition_epoch, s.replicas, {}},
                                  now);
                // After the first role only (before it the partition led itself alone and would
                // move the HW straight to its log end): what the checkpoint held, else its log
                // start, as Kafka starts an unknown HW; the leader then moves it as followers fetch.
                if (initialized_.insert(part).second) {
                    const auto hw = b_.take_restored_high_watermark(name, partition_id{static_cast<std::int32_t>(i)});
                    part->restore_high_watermark(hw.value_or(offset{0}));
                }
                if (replica && s.leader != self_ && s.leader != node_id{-1})
                    wanted[s.leader.value()].push_back({name, partition_id{static_cast<std::int32_t>(i)}, part, s.leader_epoch});
            }
        }
        // Topics the metadata no longer has (deleted while this broker was down, too).
        if (caught_up)
            for (const auto& [name, n] : b_.list_topics())
                if (!img.topics.count(name)) (void)b_.delete_topic(name);
        // Fetchers: one per leader with the partitions it serves this node.
        for (auto it = fetchers_.begin(); it != fetchers_.end();) {
            if (!wanted.count(it->first)) {
                it->second.retry.cancel();
                it = fetchers_.erase(it);
            } else {
                ++it;
            }
        }
        for (auto& [leader, parts] : wanted) {
            auto& f = fetchers_[leader];
            f.leader = node_id{leader};
            const auto bit = img.brokers.find(leader);
            if (bit == img.brokers.end()) continue;
            const net::endpoint ep{bit->second.host, static_cast<std::uint16_t>(bit->second.port)};
            if (!f.conn)
                f.conn = std::make_unique<client::connection>(loop_, leader, ep, settings_, counters_, rng_);
            else
                f.conn->set_endpoint(ep);
            f.parts.clear();
            for (auto& p : parts) f.parts[{p.topic, p.p.value()}] = p;
            if (!f.in_flight) fetch_from(leader);
        }
    }

    // ---- replica fetchers ----

    void fetch_from(std::int32_t leader) {
        const auto it = fetchers_.find(leader);
        if (stopping_ || paused_ || it == fetchers_.end() || it->second.in_flight || it->second.parts.empty()) return;
        auto& f = it->second;
        auto names = std::make_shared<std::vector<std::string>>();
        wire::fetch::request req;
        req.replica_id = self_;
        req.max_wait_ms = cfg_.replica_fetch_wait_max_ms;
        req.min_bytes = cfg_.replica_fetch_min_bytes;
        req.max_bytes = cfg_.replica_fetch_response_max_bytes;
        req.session_epoch = -1;
        std::map<std::string, std::vector<wire::fetch::fetch_partition>> by_topic;
        for (auto& [key, fp] : f.parts) {
            const auto pos = fp.part->position();
            by_topic[fp.topic].push_back({fp.p, fp.epoch, pos.log_end_offset, pos.log_start_offset,
                                          cfg_.replica_fetch_max_bytes, pos.last_fetched_epoch});
        }
        // Topics in turn go first: under load the response's byte limit is filled from the front,
        // and a partition always left out would never count as caught up (docs/protocol.md §14.3).
        names->reserve(by_topic.size());
        std::vector<std::pair<std::string, std::vector<wire::fetch::fetch_partition>>> order(
            std::make_move_iterator(by_topic.begin()), std::make_move_iterator(by_topic.end()));
        if (!order.empty())
            std::rotate(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(f.rounds++ % order.size()),
                        order.end());
        for (auto& [t, ps] : order) {
            names->push_back(t);
            req.topics.push_back({names->back(), std::move(ps), {}});
        }
        f.in_flight = true;
        f.conn->submit(detail::typed(
            std::move(req),
            [this, leader, names](std::error_code ec, const wire::fetch::response* resp, const auto&) {
                if (stopping_) return;
                const auto fit = fetchers_.find(leader);
                if (fit == fetchers_.end()) return;
                fit->second.in_flight = false;
                // Paused while it was out: the answer is lost, as on a cut link.
                if (paused_) return;
                bool ok = !ec && resp && resp->error_code == error_code::none;
                if (ok) ok = apply_fetch(fit->second, *resp);
                if (ok) return fetch_from(leader);
                fit->second.retry = loop_.run_after(std::chrono::milliseconds(100), [this, leader] { fetch_from(leader); });
            },
            12, std::chrono::milliseconds(cfg_.replica_fetch_wait_max_ms)));
    }

    // Applies one fetch answer; false when the fetcher should back off (a partition error).
    bool apply_fetch(fetcher& f, const wire::fetch::response& resp) {
        bool all_ok = true;
        for (const auto& t : resp.responses) {
            for (const auto& pd : t.partitions) {
                const auto it = f.parts.find({std::string(t.name), pd.partition_index.value()});
                if (it == f.parts.end()) continue;
                auto* part = it->second.part;
                if (pd.error_code == error_code::offset_out_of_range) {
                    // The leader's log does not hold our position: below its start (retention
                    // or DeleteRecords moved it) we start over there; above its end (an unclean
                    // election) our tail goes (docs/protocol.md §14.6.4).
                    const auto pos = part->position();
                    if (pd.log_start_offset > pos.log_end_offset)
                        (void)part->truncate_fully_and_start_at(pd.log_start_offset);
                    else if (pd.high_watermark >= offset{0} && pd.high_watermark < pos.log_end_offset)
                        (void)part->truncate_to(pd.high_watermark);
                    all_ok = false;
                    continue;
                }
                if (pd.error_code != error_code::none) {
                    all_ok = false;
                    continue;
                }
                if (pd.diverging_epoch.epoch.value() >= 0 || pd.diverging_epoch.end_offset.value() >= 0) {
                    const auto to =
                        part->truncation_offset({pd.diverging_epoch.epoch, pd.diverging_epoch.end_offset});
                    if (to <= part->position().log_end_offset) (void)part->truncate_to(to);
                    continue;
                }
                const auto e = part->append_as_follower(pd.records.value_or(bytes_view{}), pd.high_watermark,
                                                        pd.log_start_offset);
                if (e != error_code::none) all_ok = false;
            }
        }
        return all_ok;
    }

    // ---- ISR changes of the partitions this node leads ----

    void propose_isr_changes() {
        if (broker_epoch_ < 0) return;
        std::shared_ptr<const metadata_image> img = image();
        const auto now = b_.now_ms();
        for (const auto& [name, t] : img->topics) {
            for (std::size_t i = 0; i < t.partitions.size(); ++i) {
                if (t.partitions[i].leader != self_) continue;
                auto* part = b_.find_partition(name, partition_id{static_cast<std::int32_t>(i)});
                if (!part) continue;
                auto prop = part->isr_change_wanted(now);
                if (!prop) continue;
                send_alter_partition(name, partition_id{static_cast<std::int32_t>(i)}, part, *prop);
            }
        }
    }

    void send_alter_partition(const std::string& topic, partition_id p, partition_type* part, const isr_proposal& prop) {
        auto owned = std::make_shared<std::string>(topic);
        wire::alter_partition::request req;
        req.broker_id = self_;
        req.broker_epoch = broker_epoch_;
        wire::alter_partition::topic_data td;
        td.topic_name = *owned;
        wire::alter_partition::partition_data pd;
        pd.partition_index = p;
        pd.leader_epoch = prop.leader_epoch;
        pd.partition_epoch = prop.partition_epoch;
        for (const auto r : prop.new_isr) {
            pd.new_isr.push_back(r);
            pd.new_isr_with_epochs.push_back({r, -1});
        }
        td.partitions.push_back(std::move(pd));
        req.topics.push_back(std::move(td));
        controller_conn_->submit(detail::typed(
            std::move(req),
            [this, owned, p, part, prop](std::error_code ec, const wire::alter_partition::response* resp, const auto&) {
                if (stopping_) return;
                bool applied = false;
                if (ec || !resp) {
                    // No answer: the controller may have committed it. Keep it in flight and ask
                    // again while it is still the change this leader wants (a newer partition
                    // epoch from the metadata log ends it).
                    const auto st = part->state();
                    if (st.leader == self_ && st.partition_epoch == prop.partition_epoch)
                        retry_timer_ = loop_.run_after(std::chrono::milliseconds(200), [this, topic = *owned, p, part, prop] {
                            if (!stopping_) send_alter_partition(topic, p, part, prop);
                        });
                    return;
                }
                if (resp->error_code == error_code::none) {
                    for (const auto& t : resp->topics)
                        for (const auto& r : t.partitions) {
                            if (r.partition_index != p || r.error_code != error_code::none) continue;
                            partition_state s = part->state();
                            s.isr = r.isr;
                            s.leader_epoch = r.leader_epoch;
                            s.partition_epoch = r.partition_epoch;
                            part->apply_state(s, b_.now_ms());
                            applied = true;
                        }
                }
                if (!applied) part->isr_change_failed(prop.partition_epoch);
            },
            1)); // names, not topic ids
    }

    Broker& b_;
    broker_config cfg_;
    node_id self_;
    std::string host_;
    std::int32_t port_;
    std::vector<voter> voters_;
    std::string cluster_id_ = "gregor-cluster";
    std::string listener_name_ = "PLAINTEXT";
    std::mt19937_64 rng_;
    client::connection_settings settings_;
    client::counters counters_;
    net::event_loop loop_;
    std::atomic<bool> started_{false};
    std::unique_ptr<client::connection> controller_conn_;
    std::map<std::int32_t, std::unique_ptr<client::connection>> peers_; // other leaders, for transaction markers
    std::map<std::int32_t, fetcher> fetchers_;
    std::set<std::string> creating_;
    net::timer_handle sweep_timer_, heartbeat_timer_, retry_timer_;
    std::int64_t broker_epoch_ = -1; // loop thread
    bool stopping_ = false;          // loop thread
    bool paused_ = false;            // loop thread: pause_replication()
    bool synced_ = false;            // loop thread: the metadata image caught up once
    std::set<const void*> initialized_; // loop thread: partitions whose HW was restored
    std::atomic<bool> stopped_{false};
    std::atomic<bool> unfenced_{false};
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::shared_ptr<const metadata_image> image_; // under mu_
    bool want_shutdown_ = false;                  // under mu_
    bool shutdown_granted_ = false;               // under mu_
};

} // namespace gregor::cluster
