// fetch_transport::tcp: the consumer's transport to any Kafka broker over TCP (a gregor-broker,
// Apache Kafka, librdkafka's mock cluster).
//
// Per connection it first negotiates versions with ApiVersions (v3, falling back to the range a
// v0-shaped UNSUPPORTED_VERSION answer lists, or to v0 when the answer does not parse or the
// broker closed: docs/protocol.md §1.4, §3) and then uses, for every API, the highest version
// both sides implement -- nothing is hard-coded. Metadata (for the assigned topics, never
// auto-creating) maps each partition to its leader; fetches go to the leader's connection (one per
// broker id), all leaders' Fetch requests are written before any answer is read. Metadata is
// refreshed when older than metadata.max.age.ms, after a disconnect, and after
// NOT_LEADER_OR_FOLLOWER / UNKNOWN_TOPIC_OR_PARTITION / LEADER_NOT_AVAILABLE and other retriable
// partition errors. Connections that fail are dropped and re-opened at the next call.
//
// I/O is blocking (net::blocking_client), each call bounded by request.timeout.ms (plus the fetch's
// max_wait_ms): the consumer's poll thread is the only thread it uses.
// Thread-safety: one thread at a time (the consumer's).
#pragma once

#include <gregor/consumer/consumer_config.hpp>
#include <gregor/consumer/fetch_transport.hpp>
#include <gregor/core/buffer.hpp>
#include <gregor/core/error.hpp>
#include <gregor/core/strong_types.hpp>
#include <gregor/net/client.hpp>
#include <gregor/net/endpoint.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/header.hpp>
#include <gregor/wire/messages/api_versions.hpp>
#include <gregor/wire/messages/fetch.hpp>
#include <gregor/wire/messages/list_offsets.hpp>
#include <gregor/wire/messages/metadata.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace gregor::fetch_transport {

class tcp {
public:
    explicit tcp(const consumer_config& cfg)
            : bootstrap_(net::parse_bootstrap_servers(cfg.bootstrap_servers)), client_id_(cfg.client_id),
              request_timeout_(cfg.request_timeout_ms), setup_timeout_(cfg.socket_connection_setup_timeout_ms),
              metadata_max_age_(cfg.metadata_max_age_ms), max_frame_(cfg.receive_message_max_bytes) {}

    fetch_response fetch(std::span<const partition_request> reqs, const fetch_options& opt) {
        fetch_response out;
        if (auto ec = ensure_metadata(reqs)) {
            out.error = ec;
            return out;
        }
        out.partitions.resize(reqs.size());
        std::map<std::int32_t, std::vector<std::size_t>> by_leader;
        for (std::size_t i = 0; i < reqs.size(); ++i) {
            out.partitions[i].tp = reqs[i].tp;
            const auto it = leaders_.find(*reqs[i].tp);
            if (it == leaders_.end() || it->second.second != error_code::none || it->second.first < 0) {
                const auto e = it == leaders_.end()                    ? error_code::unknown_topic_or_partition
                               : it->second.second != error_code::none ? it->second.second
                                                                       : error_code::leader_not_available;
                out.partitions[i].error = make_error_code(e);
                metadata_stale_ = true;
                continue;
            }
            by_leader[it->second.first].push_back(i);
        }
        // Write every leader's request first, so that their long polls run in parallel.
        struct pending {
            connection* conn = nullptr;
            std::int16_t version = 0;
            std::int32_t correlation = 0;
            std::vector<std::size_t> idx;
        };
        std::vector<pending> sent;
        for (auto& [leader, idx] : by_leader) {
            auto* c = connection_for(leader);
            std::optional<std::int16_t> v = c ? c->version<wire::fetch_api>() : std::nullopt;
            if (!c || !v) {
                fail_partitions(out, idx,
                                c ? make_error_code(local_error::unsupported)
                                  : make_error_code(error_code::network_exception));
                continue;
            }
            wire::fetch::request req;
            req.max_wait_ms = opt.max_wait_ms;
            req.min_bytes = opt.min_bytes;
            req.max_bytes = opt.max_bytes;
            req.isolation_level = opt.isolation;
            for (auto i : idx) {
                const auto& r = reqs[i];
                if (req.topics.empty() || req.topics.back().name != r.tp->topic)
                    req.topics.push_back({r.tp->topic, {}});
                wire::fetch::fetch_partition fp;
                fp.partition_index = r.tp->partition;
                fp.fetch_offset = r.fetch_offset;
                fp.partition_max_bytes = r.max_bytes;
                req.topics.back().partitions.push_back(fp);
            }
            const auto corr = c->send(req, *v, client_id_, request_timeout_);
            if (corr < 0) {
                drop(leader);
                fail_partitions(out, idx, make_error_code(error_code::network_exception));
                continue;
            }
            sent.push_back({c, *v, corr, idx});
        }
        auto buffers = std::make_shared<std::vector<std::shared_ptr<byte_buffer>>>();
        for (auto& s : sent) {
            auto frame = std::make_shared<byte_buffer>();
            const auto wait = request_timeout_ + std::chrono::milliseconds(opt.max_wait_ms);
            auto body = s.conn->receive(*frame, wire::api_key::fetch, s.version, s.correlation, wait);
            std::optional<wire::fetch::response> resp;
            if (body) {
                byte_reader r(*body);
                resp = wire::fetch::response::decode(r, s.version);
            }
            if (!resp) {
                drop(s.conn->node);
                fail_partitions(out, s.idx, make_error_code(error_code::network_exception));
                continue;
            }
            buffers->push_back(frame);
            if (resp->error_code != error_code::none) { // v7+: the whole request failed
                fail_partitions(out, s.idx, make_error_code(resp->error_code));
                if (retriable(resp->error_code)) metadata_stale_ = true;
                continue;
            }
            for (const auto& t : resp->responses) {
                for (const auto& p : t.partitions) {
                    for (auto i : s.idx) {
                        auto& pd = out.partitions[i];
                        if (pd.tp->topic != t.name || pd.tp->partition != p.partition_index) continue;
                        if (p.error_code != error_code::none) {
                            pd.error = make_error_code(p.error_code);
                            if (retriable(p.error_code)) metadata_stale_ = true;
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
        out.keepalive = std::move(buffers);
        return out;
    }

    list_offset_result list_offset(const topic_partition& tp, std::int64_t ts, wire::isolation_level iso) {
        list_offset_result out;
        partition_request one{&tp, offset{0}, 0};
        if (auto ec = ensure_metadata({&one, 1})) {
            out.error = ec;
            return out;
        }
        const auto it = leaders_.find(tp);
        if (it == leaders_.end() || it->second.second != error_code::none || it->second.first < 0) {
            metadata_stale_ = true;
            out.error = make_error_code(it == leaders_.end()                    ? error_code::unknown_topic_or_partition
                                        : it->second.second != error_code::none ? it->second.second
                                                                                : error_code::leader_not_available);
            return out;
        }
        auto* c = connection_for(it->second.first);
        if (!c) {
            out.error = make_error_code(error_code::network_exception);
            return out;
        }
        const auto v = c->version<wire::list_offsets_api>();
        if (!v) {
            out.error = make_error_code(local_error::unsupported);
            return out;
        }
        wire::list_offsets::request req;
        req.isolation_level = iso;
        req.topics.push_back({tp.topic, {{tp.partition, ts, 1}}});
        byte_buffer frame;
        auto resp = c->call<wire::list_offsets::response>(req, *v, client_id_, request_timeout_, frame);
        if (!resp) {
            drop(c->node);
            out.error = make_error_code(error_code::network_exception);
            return out;
        }
        for (const auto& t : resp->topics) {
            for (const auto& p : t.partitions) {
                if (t.name != tp.topic || p.partition_index != tp.partition) continue;
                if (p.error_code != error_code::none) {
                    if (retriable(p.error_code)) metadata_stale_ = true;
                    out.error = make_error_code(p.error_code);
                    return out;
                }
                if (*v == 0)
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

    /// The version negotiated with the leader of `tp` (or any connected broker) for `key`; for tests.
    [[nodiscard]] std::optional<std::int16_t> negotiated(wire::api_key key) const {
        for (const auto& [id, c] : conns_) {
            if (!c) continue;
            if (auto it = c->chosen.find(key); it != c->chosen.end()) return it->second;
        }
        return std::nullopt;
    }

    /// How many ApiVersions requests this transport sent (fallbacks included); for tests.
    [[nodiscard]] int api_versions_requests() const noexcept { return api_versions_sent_; }

private:
    using clock = std::chrono::steady_clock;
    static constexpr std::int32_t bootstrap_node = -1000;

    struct connection {
        std::int32_t node = bootstrap_node;
        std::unique_ptr<net::blocking_client> client;
        std::vector<wire::api_versions::api_version> apis;
        std::map<wire::api_key, std::int16_t> chosen;
        std::int32_t correlation = 0;

        template <typename Api>
        std::optional<std::int16_t> version() {
            for (const auto& a : apis) {
                if (a.key != Api::key) continue;
                auto v = wire::highest_common_version(spoken_versions<Api>(), {a.min_version, a.max_version});
                if (v) chosen[Api::key] = *v;
                return v;
            }
            return std::nullopt;
        }

        // Returns the correlation id, or -1 if the write failed.
        template <typename Req>
        std::int32_t send(const Req& body, std::int16_t v, const std::string& client_id, std::chrono::milliseconds t) {
            byte_buffer buf;
            const auto corr = ++correlation;
            wire::encode_request_frame(buf, v, corr, std::string_view(client_id), body);
            if (client->send_raw(buf.view(), t) != net::blocking_client::status::ok) return -1;
            return corr;
        }

        // The response body (a view into `frame`), or nullopt on timeout/close/mismatch.
        std::optional<bytes_view> receive(byte_buffer& frame, wire::api_key key, std::int16_t v, std::int32_t corr,
                                          std::chrono::milliseconds t) {
            if (client->read_frame(frame, t) != net::blocking_client::status::ok) return std::nullopt;
            byte_reader r(frame.view());
            const auto h = wire::response_header::decode(r, wire::response_header_version(key, v));
            if (!h || h->correlation_id != corr) return std::nullopt;
            return frame.view().subspan(frame.size() - r.remaining());
        }

        template <typename Resp, typename Req>
        std::optional<Resp> call(const Req& body, std::int16_t v, const std::string& client_id,
                                 std::chrono::milliseconds t, byte_buffer& frame) {
            const auto corr = send(body, v, client_id, t);
            if (corr < 0) return std::nullopt;
            auto b = receive(frame, Req::api::key, v, corr, t);
            if (!b) return std::nullopt;
            byte_reader r(*b);
            return Resp::decode(r, v);
        }
    };

    static void fail_partitions(fetch_response& out, const std::vector<std::size_t>& idx, std::error_code ec) {
        for (auto i : idx) out.partitions[i].error = ec;
    }

    void drop(std::int32_t node) {
        conns_.erase(node);
        metadata_stale_ = true;
    }

    // Connects and negotiates; nullptr on failure.
    std::unique_ptr<connection> open(const net::endpoint& ep, std::int32_t node) {
        auto c = std::make_unique<connection>();
        c->node = node;
        auto reconnect = [&]() -> bool {
            try {
                c->client = std::make_unique<net::blocking_client>(ep.host, ep.port, setup_timeout_, max_frame_);
                return true;
            } catch (const std::exception&) {
                return false;
            }
        };
        if (!reconnect()) return nullptr;
        std::int16_t v = spoken_versions<wire::api_versions_api>().max;
        for (int attempt = 0; attempt < 3; ++attempt) {
            wire::api_versions::request req{"gregor", "0"};
            ++api_versions_sent_;
            const auto corr = c->send(req, v, client_id_, request_timeout_);
            byte_buffer frame;
            std::optional<bytes_view> body;
            if (corr >= 0) body = c->receive(frame, wire::api_key::api_versions, v, corr, request_timeout_);
            std::optional<wire::api_versions::response> resp;
            if (body) resp = wire::api_versions::response::decode_or_fallback(*body, v);
            if (resp && resp->error_code == error_code::none) {
                c->apis = resp->api_keys;
                c->chosen[wire::api_key::api_versions] = v;
                return c;
            }
            if (v == 0) return nullptr;
            v = wire::api_versions::fallback_version(resp, v);
            if (!body && !reconnect()) return nullptr; // the broker closed on the unknown version
        }
        return nullptr;
    }

    connection* connection_for(std::int32_t node) {
        if (auto it = conns_.find(node); it != conns_.end() && it->second) return it->second.get();
        const auto b = brokers_.find(node);
        if (b == brokers_.end()) return nullptr;
        auto c = open(b->second, node);
        if (!c) {
            metadata_stale_ = true;
            return nullptr;
        }
        return (conns_[node] = std::move(c)).get();
    }

    // Any working connection for metadata: a known broker, else a bootstrap server.
    connection* any_connection() {
        for (auto& [id, c] : conns_)
            if (c) return c.get();
        for (auto& [id, ep] : brokers_)
            if (auto* c = connection_for(id)) return c;
        for (std::size_t i = 0; i < bootstrap_.size(); ++i) {
            const auto& ep = bootstrap_[(next_bootstrap_ + i) % bootstrap_.size()];
            if (auto c = open(ep, bootstrap_node)) {
                next_bootstrap_ = (next_bootstrap_ + i + 1) % bootstrap_.size();
                return (conns_[bootstrap_node] = std::move(c)).get();
            }
        }
        return nullptr;
    }

    std::error_code ensure_metadata(std::span<const partition_request> reqs) {
        bool need = metadata_stale_ || clock::now() - metadata_time_ > metadata_max_age_;
        for (const auto& r : reqs) {
            if (!topics_.count(r.tp->topic)) {
                topics_.insert(r.tp->topic);
                need = true;
            }
        }
        if (!need) return {};
        for (int attempt = 0; attempt < 2; ++attempt) {
            auto* c = any_connection();
            if (!c) return make_error_code(error_code::network_exception);
            const auto v = c->version<wire::metadata_api>();
            if (!v) return make_error_code(local_error::unsupported);
            wire::metadata::request req;
            req.topics.emplace();
            for (const auto& t : topics_) req.topics->push_back({t});
            req.allow_auto_topic_creation = false;
            byte_buffer frame;
            auto resp = c->call<wire::metadata::response>(req, *v, client_id_, request_timeout_, frame);
            if (!resp) {
                drop(c->node);
                continue;
            }
            std::map<std::int32_t, net::endpoint> brokers;
            for (const auto& b : resp->brokers)
                brokers[b.node_id.value()] = {std::string(b.host), static_cast<std::uint16_t>(b.port)};
            leaders_.clear();
            for (const auto& t : resp->topics) {
                for (const auto& p : t.partitions)
                    leaders_[topic_partition{std::string(t.name), p.partition_index}] = {p.leader_id.value(),
                                                                                         p.error_code};
                if (t.error_code != error_code::none && t.partitions.empty()) {
                    for (const auto& r : reqs)
                        if (r.tp->topic == t.name) leaders_[*r.tp] = {-1, t.error_code};
                }
            }
            // Connections to brokers whose address changed (or that left) are closed.
            for (auto it = conns_.begin(); it != conns_.end();) {
                const auto nb = brokers.find(it->first);
                const auto ob = brokers_.find(it->first);
                const bool keep = it->first == bootstrap_node ||
                                  (nb != brokers.end() && ob != brokers_.end() && nb->second.host == ob->second.host &&
                                   nb->second.port == ob->second.port);
                it = keep ? std::next(it) : conns_.erase(it);
            }
            brokers_ = std::move(brokers);
            metadata_stale_ = false;
            metadata_time_ = clock::now();
            return {};
        }
        return make_error_code(error_code::network_exception);
    }

    std::vector<net::endpoint> bootstrap_;
    std::size_t next_bootstrap_ = 0;
    std::string client_id_;
    std::chrono::milliseconds request_timeout_;
    std::chrono::milliseconds setup_timeout_;
    std::chrono::milliseconds metadata_max_age_;
    std::int32_t max_frame_;
    std::map<std::int32_t, std::unique_ptr<connection>> conns_;
    std::map<std::int32_t, net::endpoint> brokers_;
    std::map<topic_partition, std::pair<std::int32_t, error_code>> leaders_;
    std::set<std::string> topics_;
    bool metadata_stale_ = true;
    clock::time_point metadata_time_{};
    int api_versions_sent_ = 0;
};

} // namespace gregor::fetch_transport
