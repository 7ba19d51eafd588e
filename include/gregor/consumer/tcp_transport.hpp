// fetch_transport::tcp: the consumer's transport to any Kafka broker over TCP (a gregor-broker,
// Apache Kafka, librdkafka's mock cluster), built on the client layer (client/cluster.hpp).
//
// The client layer owns the connections: one per broker id (plus the bootstrap servers'), each
// opened with ApiVersions v3 and falling back to the version a v0-shaped UNSUPPORTED_VERSION
// answer names, or v0 when the answer does not parse or the broker hangs up (docs/protocol.md
// §1.4, §3.1); every request then goes out at the highest version both sides implement, capped by
// spoken_versions() below so that codecs growing newer versions do not change what this
// transport sends (docs/protocol.md §13.1). A lost connection fails its requests and is reopened
// on demand after reconnect.backoff.ms.
//
// Metadata (for the assigned topics, never auto-creating) maps each partition to its leader. It
// is refreshed when older than metadata.max.age.ms, after a disconnect or failed connect, and
// after NOT_LEADER_OR_FOLLOWER / UNKNOWN_TOPIC_OR_PARTITION / LEADER_NOT_AVAILABLE and the other
// retriable partition errors (a leader move is followed: a stale leader answers
// NOT_LEADER_OR_FOLLOWER).
//
// fetch() sends one Fetch per leader, all before waiting, so that the long polls of several
// brokers run in parallel; it then waits until every answer (or error) is in, at most
// request.timeout.ms plus the fetch's max_wait_ms. A Fetch left without an answer at that bound
// is reported as NETWORK_EXCEPTION for its partitions; the client layer still completes it later
// (its own timeout closes the connection) and the late answer is dropped. The response's
// keepalive holds the answers' frames, which the partitions' `records` point into. list_offset()
// works the same way with one ListOffsets, bounded by request.timeout.ms.
//
// Threads: no thread of its own. fetch() and list_offset() run the client layer's event loop
// (cluster::poll) on the calling thread -- the consumer's poll thread -- while they wait; between
// calls nothing runs, and whatever the sockets did meanwhile (answers after the bound, a broker
// hanging up) is taken in at the start of the next call.
// Thread-safety: one thread at a time (the consumer's). Movable: the cluster lives on the heap and
// no completion refers to the transport object itself.
#pragma once

#include <gregor/client/cluster.hpp>
#include <gregor/consumer/consumer_config.hpp>
#include <gregor/consumer/fetch_transport.hpp>
#include <gregor/consumer/tcp_group_channel.hpp>
#include <gregor/core/buffer.hpp>
#include <gregor/core/error.hpp>
#include <gregor/core/strong_types.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/messages/fetch.hpp>
#include <gregor/wire/messages/list_offsets.hpp>
#include <gregor/wire/messages/metadata.hpp>

#include <algorithm>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace gregor::fetch_transport {

class tcp {
public:
    /// Throws std::invalid_argument naming bootstrap.servers when it is empty or malformed.
    /// Connects lazily, at the first call.
    explicit tcp(const consumer_config& cfg)
            : cluster_(std::make_unique<client::cluster>(cluster_config_for(cfg))),
              request_timeout_(cfg.request_timeout_ms) {}

    /// A channel to the coordinator of cfg's group.id, on connections of its own, for subscribe().
    static std::unique_ptr<group::channel> group_channel(const consumer_config& cfg) {
        return std::make_unique<group::tcp_channel>(cluster_config_for(cfg), cfg.group_id,
                                                    std::chrono::milliseconds(cfg.request_timeout_ms));
    }

    fetch_response fetch(std::span<const partition_request> reqs, const fetch_options& opt) {
        fetch_response out;
        take_in();
        if (auto ec = ensure_metadata(reqs)) {
            out.error = ec;
            return out;
        }
        out.partitions.resize(reqs.size());
        std::map<std::int32_t, std::vector<std::size_t>> by_leader;
        for (std::size_t i = 0; i < reqs.size(); ++i) {
            out.partitions[i].tp = reqs[i].tp;
            const auto l = leader_for(*reqs[i].tp);
            if (l.error != error_code::none) {
                out.partitions[i].error = make_error_code(l.error);
                cluster_->request_metadata_update();
                continue;
            }
            by_leader[l.leader].push_back(i);
        }

        // Every leader's request goes out before any waiting, so that their long polls overlap.
        // The answers land in `round`, shared with the completions: one that comes after the
        // bound below finds it still alive and changes nothing the caller sees.
        struct fetch_round {
            std::deque<std::string> names; // the requests' topic names point here until written
            std::vector<std::optional<client::reply<wire::fetch::response>>> replies;
            std::size_t pending = 0;
        };
        auto round = std::make_shared<fetch_round>();
        round->replies.resize(by_leader.size());
        std::vector<const std::vector<std::size_t>*> groups;
        client::send_options so;
        so.max_version = spoken_versions<wire::fetch_api>().max;
        so.extra_timeout = std::chrono::milliseconds(std::max(opt.max_wait_ms, 0));
        for (const auto& [leader, idx] : by_leader) {
            wire::fetch::request req;
            req.max_wait_ms = opt.max_wait_ms;
            req.min_bytes = opt.min_bytes;
            req.max_bytes = opt.max_bytes;
            req.isolation_level = opt.isolation;
            for (auto i : idx) {
                const auto& r = reqs[i];
                if (req.topics.empty() || req.topics.back().name != r.tp->topic) {
                    round->names.push_back(r.tp->topic);
                    req.topics.push_back({round->names.back(), {}});
                }
                wire::fetch::fetch_partition fp;
                fp.partition_index = r.tp->partition;
                fp.fetch_offset = r.fetch_offset;
                fp.partition_max_bytes = r.max_bytes;
                req.topics.back().partitions.push_back(fp);
            }
            const auto k = groups.size();
            groups.push_back(&idx);
            ++round->pending; // before send: a completion may run inside it
            cluster_->send(
                client::destination::node(leader), std::move(req),
                [round, k](client::reply<wire::fetch::response>& rep) {
                    round->replies[k] = std::move(rep);
                    --round->pending;
                },
                so);
        }
        run_until([&] { return round->pending == 0; },
                  client::clock::now() + request_timeout_ + std::chrono::milliseconds(std::max(opt.max_wait_ms, 0)));

        auto frames = std::make_shared<std::vector<std::shared_ptr<const byte_buffer>>>();
        for (std::size_t k = 0; k < groups.size(); ++k) {
            const auto& idx = *groups[k];
            auto& slot = round->replies[k];
            if (!slot || slot->error) {
                const auto ec = request_failed(slot ? slot->error : std::error_code{});
                fail_partitions(out, idx, ec);
                continue;
            }
            auto& rep = *slot;
            used_[wire::api_key::fetch] = rep.version;
            frames->push_back(std::move(rep.frame)); // the views in rep.body stay valid: same buffer
            const auto& resp = *rep.body;
            if (resp.error_code != error_code::none) { // v7+: the whole request failed
                fail_partitions(out, idx, make_error_code(resp.error_code));
                note(resp.error_code);
                continue;
            }
            for (const auto& t : resp.responses) {
                for (const auto& p : t.partitions) {
                    for (auto i : idx) {
                        auto& pd = out.partitions[i];
                        if (pd.tp->topic != t.name || pd.tp->partition != p.partition_index) continue;
                        if (p.error_code != error_code::none) {
                            pd.error = make_error_code(p.error_code);
                            note(p.error_code);
                        }
                        pd.high_watermark = p.high_watermark;
                        pd.last_stable_offset = p.last_stable_offset;
                        pd.log_start_offset = p.log_start_offset;
                        pd.aborted = p.aborted_transactions;
                        if (p.records) pd.records = *p.records;
                    }
                }
            }
        }
        out.keepalive = std::move(frames);
        return out;
    }

    list_offset_result list_offset(const topic_partition& tp, std::int64_t ts, wire::isolation_level iso) {
        list_offset_result out;
        take_in();
        partition_request one{&tp, offset{0}, 0};
        if (auto ec = ensure_metadata({&one, 1})) {
            out.error = ec;
            return out;
        }
        const auto l = leader_for(tp);
        if (l.error != error_code::none) {
            cluster_->request_metadata_update();
            out.error = make_error_code(l.error);
            return out;
        }
        struct list_round {
            std::string name; // the request's topic name points here until written
            std::optional<client::reply<wire::list_offsets::response>> reply;
        };
        auto round = std::make_shared<list_round>();
        round->name = tp.topic;
        wire::list_offsets::request req;
        req.isolation_level = iso;
        req.topics.push_back({round->name, {{tp.partition, ts, 1}}});
        client::send_options so;
        so.max_version = spoken_versions<wire::list_offsets_api>().max;
        cluster_->send(
            client::destination::node(l.leader), std::move(req),
            [round](client::reply<wire::list_offsets::response>& rep) { round->reply = std::move(rep); }, so);
        run_until([&] { return round->reply.has_value(); }, client::clock::now() + request_timeout_);
        if (!round->reply || round->reply->error) {
            out.error = request_failed(round->reply ? round->reply->error : std::error_code{});
            return out;
        }
        const auto& rep = *round->reply;
        used_[wire::api_key::list_offsets] = rep.version;
        for (const auto& t : rep.body->topics) {
            for (const auto& p : t.partitions) {
                if (t.name != tp.topic || p.partition_index != tp.partition) continue;
                if (p.error_code != error_code::none) {
                    note(p.error_code);
                    out.error = make_error_code(p.error_code);
                    return out;
                }
                if (rep.version == 0)
                    out.found = offset{p.old_style_offsets.empty() ? -1 : p.old_style_offsets.front()};
                else
                    out.found = p.offset;
                return out;
            }
        }
        out.error = make_error_code(error_code::unknown_topic_or_partition);
        return out;
    }

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
        else if constexpr (std::same_as<Api, wire::fetch_api>)
            cap = 11;
        else if constexpr (std::same_as<Api, wire::list_offsets_api>)
            cap = 3;
        return {Api::min_version, std::min(Api::max_version, cap)};
    }

    /// The version used for `key`: the one the last answer of that kind came at, else the one a
    /// negotiated connection (a broker's first, then a bootstrap server's) would use; for tests.
    [[nodiscard]] std::optional<std::int16_t> negotiated(wire::api_key key) const {
        if (const auto it = used_.find(key); it != used_.end()) return it->second;
        if (!cluster_) return std::nullopt;
        auto on = [key](const client::connection* c) -> std::optional<std::int16_t> {
            if (key == wire::api_key::api_versions) {
                if (c->api_versions_version() >= 0) return c->api_versions_version();
                return std::nullopt;
            }
            const auto ours = spoken_range(key);
            if (!ours) return std::nullopt;
            return c->version_for(key, *ours);
        };
        for (const auto& [id, b] : cluster_->metadata().brokers)
            if (const auto* c = cluster_->connection_to(id))
                if (auto v = on(c)) return v;
        // Bootstrap servers are nodes -1, -2, ... (client/cluster.hpp).
        for (std::int32_t id = -1; const auto* c = cluster_->connection_to(id); --id)
            if (auto v = on(c)) return v;
        return std::nullopt;
    }

    /// How many ApiVersions requests this transport sent (fallbacks included); for tests.
    [[nodiscard]] int api_versions_requests() const noexcept {
        return cluster_ ? static_cast<int>(cluster_->stats().api_versions_requests.load()) : 0;
    }

private:
    struct leader_lookup {
        std::int32_t leader = -1;
        error_code error = error_code::none;
    };

    static std::chrono::milliseconds capped_ms(std::int64_t ms) {
        // Far beyond any sensible setting, and far below what the loop clock's time points hold.
        return std::chrono::milliseconds(std::clamp<std::int64_t>(ms, 0, std::int64_t{1} << 40));
    }

    static client::cluster_config cluster_config_for(const consumer_config& cfg) {
        client::cluster_config c;
        c.bootstrap_servers = cfg.bootstrap_servers;
        c.connection.client_id = cfg.client_id;
        c.connection.software_name = "gregor";
        c.connection.software_version = "0";
        c.connection.request_timeout = std::chrono::milliseconds(cfg.request_timeout_ms);
        c.connection.reconnect_backoff = capped_ms(cfg.reconnect_backoff_ms);
        c.connection.socket.connection_setup_timeout_ms = cfg.socket_connection_setup_timeout_ms;
        c.connection.socket.max_frame_bytes = cfg.receive_message_max_bytes;
        c.metadata_max_age = capped_ms(cfg.metadata_max_age_ms);
        c.metadata_max_version = spoken_versions<wire::metadata_api>().max;
        return c;
    }

    static std::optional<wire::version_range> spoken_range(wire::api_key key) noexcept {
        switch (key) {
        case wire::api_key::api_versions: return spoken_versions<wire::api_versions_api>();
        case wire::api_key::metadata: return spoken_versions<wire::metadata_api>();
        case wire::api_key::fetch: return spoken_versions<wire::fetch_api>();
        case wire::api_key::list_offsets: return spoken_versions<wire::list_offsets_api>();
        default: return std::nullopt;
        }
    }

    static void fail_partitions(fetch_response& out, const std::vector<std::size_t>& idx, std::error_code ec) {
        for (auto i : idx) out.partitions[i].error = ec;
    }

    /// Runs the network on this thread until `done()` or `deadline`.
    template <typename Done>
    void run_until(Done&& done, client::clock::time_point deadline) {
        while (!done()) {
            const auto now = client::clock::now();
            if (now >= deadline) return;
            cluster_->poll(deadline - now);
        }
    }

    /// Takes in what the sockets did since the last call: late answers, closed connections.
    void take_in() { cluster_->poll(client::clock::duration::zero()); }

    /// A Kafka error a broker answered: the retriable ones (the leader moved, the partition is not
    /// there yet...) make the next call refresh metadata first.
    void note(error_code e) {
        cluster_->note_error(e);
        if (retriable(e)) cluster_->request_metadata_update();
    }

    /// The error for a request no broker answered (`ec` empty: none came within the bound). No
    /// common version is this build's limit, not the network's; anything else -- refused, cut,
    /// timed out, unknown broker -- is NETWORK_EXCEPTION, and the leader may have moved.
    std::error_code request_failed(std::error_code ec) {
        if (ec == make_error_code(error_code::unsupported_version)) return make_error_code(local_error::unsupported);
        cluster_->note_error(error_code::network_exception);
        return make_error_code(error_code::network_exception);
    }

    leader_lookup leader_for(const topic_partition& tp) const {
        const auto& topics = cluster_->metadata().topics;
        const auto t = topics.find(tp.topic);
        if (t == topics.end()) return {-1, error_code::unknown_topic_or_partition};
        const auto p = tp.partition.value();
        if (p >= 0 && static_cast<std::size_t>(p) < t->second.partitions.size()) {
            const auto& pi = t->second.partitions[static_cast<std::size_t>(p)];
            if (pi.error != error_code::none) return {-1, pi.error};
            if (pi.leader < 0) return {-1, error_code::leader_not_available};
            return {pi.leader, error_code::none};
        }
        // A topic-level error (UNKNOWN_TOPIC_OR_PARTITION, TOPIC_AUTHORIZATION_FAILED, ...) comes
        // with no partitions.
        if (t->second.error != error_code::none && t->second.partitions.empty()) return {-1, t->second.error};
        return {-1, error_code::unknown_topic_or_partition};
    }

    /// Refreshes metadata for every topic seen so far when it is stale, a topic is new, or a
    /// connection failed since the last call; each attempt bounded by request.timeout.ms.
    std::error_code ensure_metadata(std::span<const partition_request> reqs) {
        const auto& st = cluster_->stats();
        const auto failures = st.disconnects.load() + st.connect_failures.load();
        if (failures != failures_seen_) {
            failures_seen_ = failures;
            cluster_->request_metadata_update();
        }
        bool need = cluster_->metadata_stale();
        for (const auto& r : reqs)
            if (topics_.insert(r.tp->topic).second) need = true;
        if (!need) return {};
        // Two attempts, as a broker that just failed is backing off and the second goes elsewhere.
        for (int attempt = 0; attempt < 2; ++attempt) {
            auto result = std::make_shared<std::optional<std::error_code>>();
            cluster_->refresh_metadata(
                std::vector<std::string>(topics_.begin(), topics_.end()),
                [result](std::error_code ec) { *result = ec; },
                /*allow_auto_create=*/false);
            run_until([&] { return result->has_value(); }, client::clock::now() + request_timeout_);
            if (!result->has_value()) continue;
            if (!**result) return {};
            if (**result == make_error_code(error_code::unsupported_version))
                return make_error_code(local_error::unsupported);
        }
        return make_error_code(error_code::network_exception);
    }

    std::unique_ptr<client::cluster> cluster_;
    std::chrono::milliseconds request_timeout_;
    std::set<std::string> topics_;               // every topic asked for so far
    std::map<wire::api_key, std::int16_t> used_; // version of the last answer per API
    std::uint64_t failures_seen_ = 0;            // disconnects + failed connects seen
};

} // namespace gregor::fetch_transport
