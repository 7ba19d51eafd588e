// The Kafka protocol in front of a gregor::broker: real Kafka clients (librdkafka, kcat, kafkajs,
// the Java client) produce to and fetch from it unchanged.
//
//   gregor::broker<P> b{cfg};
//   gregor::kafka_server<gregor::broker<P>> srv{b, {.host = "127.0.0.1", .port = 9092}};
//   // ... srv.port() is the bound port; srv.stop() or the destructor stops it.
//
// APIs (versions as advertised by wire::broker_advertised_apis): ApiVersions 0-3 (answered with a
// v0 body and UNSUPPORTED_VERSION above 3, KIP-511), Metadata 0-6 (auto-creating topics when the
// request and auto.create.topics.enable allow), Produce 3-7 (0-7 advertised so librdkafka
// compresses; 0-2 close the connection as Kafka 4 does), Fetch 4-11 (long-polling up to
// max_wait_ms for min_bytes, records sent zero-copy from the log), ListOffsets 0-3,
// InitProducerId 0-4, FindCoordinator 0-2 (this node). Any other key or version closes the
// connection, as Kafka does. A request that does not decode closes its connection only.
//
// Threading: one event loop thread owned by the server runs every handler; produce and fetch call
// the broker synchronously there (a page-cache append and a log lookup are short). The broker
// itself stays usable from other threads at the same time (embedded producers); fetches parked by
// such appends wake at their max_wait_ms. stop() and the destructor may be called from any thread
// except the loop's.
#pragma once

#include <gregor/broker/partition.hpp>
#include <gregor/core/buffer.hpp>
#include <gregor/core/error.hpp>
#include <gregor/net/event_loop.hpp>
#include <gregor/net/response.hpp>
#include <gregor/net/server.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/header.hpp>
#include <gregor/wire/messages/api_versions.hpp>
#include <gregor/wire/messages/fetch.hpp>
#include <gregor/wire/messages/find_coordinator.hpp>
#include <gregor/wire/messages/init_producer_id.hpp>
#include <gregor/wire/messages/list_offsets.hpp>
#include <gregor/wire/messages/metadata.hpp>
#include <gregor/wire/messages/produce.hpp>
#include <gregor/wire/record_batch.hpp>

#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace gregor {

namespace broker_detail {

/// The request dispatcher the network server calls; see kafka_server below.
template <typename Broker>
class kafka_handler {
public:
    kafka_handler(Broker& b, net::event_loop& loop, std::string cluster_id)
        : broker_(&b), loop_(&loop), cluster_id_(std::move(cluster_id)) {}

    /// What Metadata and FindCoordinator tell clients to connect to.
    void set_advertised(std::string host, std::int32_t port) {
        host_ = std::move(host);
        port_ = port;
    }

    void on_request(net::connection_id conn, mutable_bytes_view frame, net::responder r) {
        frame_ = frame;
        byte_reader rd(frame);
        const auto h = wire::request_header::decode(rd);
        if (!h) return r.complete(net::close_connection);
        switch (h->key) {
        case wire::api_key::api_versions: return api_versions(*h, rd, std::move(r));
        case wire::api_key::metadata: return metadata(*h, rd, std::move(r));
        case wire::api_key::produce: return produce(*h, rd, std::move(r));
        case wire::api_key::fetch: return fetch(conn, *h, rd, std::move(r));
        case wire::api_key::list_offsets: return list_offsets(*h, rd, std::move(r));
        case wire::api_key::init_producer_id: return init_producer_id(*h, rd, std::move(r));
        case wire::api_key::find_coordinator: return find_coordinator(*h, rd, std::move(r));
        default: return r.complete(net::close_connection); // unknown API: Kafka closes too
        }
    }

    void on_close(net::connection_id conn) {
        for (auto it = parked_.begin(); it != parked_.end();) {
            if (it->conn == conn) {
                it->timer.cancel();
                it = parked_.erase(it);
            } else {
                ++it;
            }
        }
    }

    /// Answers every parked fetch now (shutdown).
    void release_parked() {
        while (!parked_.empty()) {
            auto p = std::move(parked_.front());
            parked_.pop_front();
            p.timer.cancel();
            answer_fetch(p.plan, p.responder, true);
        }
    }

private:
    // ---- encoding -------------------------------------------------------------------------------

    template <typename Body>
    static byte_buffer encode(const wire::request_header& h, std::int16_t version, const Body& body) {
        byte_buffer out(256);
        byte_writer w(out);
        wire::response_header{h.correlation_id}.encode(w, wire::response_header_version(h.key, version));
        body.encode(w, version);
        return out;
    }

    template <typename Msg>
    static std::optional<Msg> decode_body(const wire::request_header& h, byte_reader& rd) {
        if (!wire::supports_version<typename Msg::api>(h.version)) return std::nullopt;
        return Msg::decode(rd, h.version);
    }

    // ---- ApiVersions ----------------------------------------------------------------------------

    void api_versions(const wire::request_header& h, byte_reader& rd, net::responder r) {
        using namespace wire::api_versions;
        if (h.version > wire::api_versions_api::max_version) {
            // KIP-511: a v0 body with UNSUPPORTED_VERSION and our range, whatever was asked.
            return r.complete(net::response(encode(h, 0, response::unsupported_version_response())));
        }
        auto req = decode_body<request>(h, rd);
        auto resp = response::advertising(wire::broker_advertised_apis);
        if (!req) resp.error_code = error_code::invalid_request;
        r.complete(net::response(encode(h, h.version, resp)));
    }

    // ---- Metadata -------------------------------------------------------------------------------

    void metadata(const wire::request_header& h, byte_reader& rd, net::responder r) {
        using namespace wire::metadata;
        auto req = decode_body<request>(h, rd);
        if (!req) return r.complete(net::close_connection);
        const node_id self{broker_->config().node_id};
        response resp;
        resp.brokers.push_back({self, host_, port_, std::nullopt});
        resp.cluster_id = cluster_id_;
        resp.controller_id = self;
        // Names must outlive the encoding: keep owned copies here.
        std::vector<std::pair<std::string, typename Broker::topic_info>> found;
        if (!req->topics) {
            for (auto& [name, n] : broker_->list_topics()) found.push_back({name, {error_code::none, n}});
        } else {
            const bool may_create = h.version < 4 || req->allow_auto_topic_creation;
            for (const auto& t : *req->topics) found.push_back({std::string(t.name), broker_->describe_topic(t.name, may_create)});
        }
        resp.topics.reserve(found.size());
        for (const auto& [name, info] : found) {
            wire::metadata::topic t;
            t.name = name;
            t.error_code = info.error;
            for (std::int32_t i = 0; i < info.partition_count; ++i) {
                wire::metadata::partition p;
                p.partition_index = partition_id{i};
                p.leader_id = self;
                p.replica_nodes = {self};
                p.isr_nodes = {self};
                t.partitions.push_back(std::move(p));
            }
            resp.topics.push_back(std::move(t));
        }
        r.complete(net::response(encode(h, h.version, resp)));
    }

    // ---- Produce --------------------------------------------------------------------------------

    void produce(const wire::request_header& h, byte_reader& rd, net::responder r) {
        using namespace wire::produce;
        auto req = decode_body<request>(h, rd);
        if (!req) return r.complete(net::close_connection);
        response resp;
        bool any_error = false, any_appended = false;
        const std::chrono::milliseconds timeout{std::max(req->timeout_ms, 0)};
        for (const auto& t : req->topics) {
            topic_response tr;
            tr.name = t.name;
            for (const auto& p : t.partitions) {
                partition_response pr;
                pr.partition_index = p.partition_index;
                pr.error_code = append_one(t.name, p, req->acks, req->transactional_id, timeout, pr);
                any_error |= pr.error_code != error_code::none;
                any_appended |= pr.error_code == error_code::none;
                tr.partitions.push_back(pr);
            }
            resp.responses.push_back(std::move(tr));
        }
        if (any_appended) wake_parked();
        if (req->acks == 0) {
            // No response at all; on failure Kafka closes so the client refreshes its metadata.
            if (any_error) return r.complete(net::close_connection);
            return r.complete(net::no_response);
        }
        r.complete(net::response(encode(h, h.version, resp)));
    }

    error_code append_one(std::string_view topic, const wire::produce::partition_data& p, std::int16_t acks,
                          std::optional<std::string_view> txn, std::chrono::milliseconds timeout,
                          wire::produce::partition_response& pr) {
        if (!p.records) return error_code::invalid_record;
        // Produce v3+ carries exactly one record batch per partition.
        wire::batch_splitter split(*p.records);
        const auto first = split.next();
        if (!first) return error_code::corrupt_message;
        if (split.next() || !split.remainder().empty()) return error_code::invalid_record;
        // The broker patches base offset and leader epoch in place; the server lends us its receive
        // buffer mutably for the duration of the call, so no batch is copied.
        const auto at = static_cast<std::size_t>(first->data() - frame_.data());
        const mutable_bytes_view batch = frame_.subspan(at, first->size());
        const auto res = broker_->produce(topic, p.partition_index, batch, acks, txn, timeout, true);
        pr.base_offset = res.base_offset;
        pr.log_append_time_ms = res.log_append_time_ms;
        pr.log_start_offset = res.log_start_offset;
        return res.error;
    }

    // ---- Fetch ----------------------------------------------------------------------------------

    struct plan_partition {
        partition_id id;
        offset fetch_offset;
        std::int32_t max_bytes;
    };
    struct plan_topic {
        std::string name;
        std::vector<plan_partition> partitions;
    };
    /// A fetch request copied out of its frame, so it can wait (long poll).
    struct fetch_plan {
        wire::request_header header;
        std::int16_t version = 0;
        std::int32_t correlation_id = 0;
        std::int32_t min_bytes = 1;
        std::int32_t max_bytes = 0;
        isolation iso = isolation::read_uncommitted;
        std::vector<plan_topic> topics;
    };
    struct parked_fetch {
        net::connection_id conn;
        fetch_plan plan;
        net::responder responder;
        net::timer_handle timer;
        std::uint64_t id = 0;
    };

    void fetch(net::connection_id conn, const wire::request_header& h, byte_reader& rd, net::responder r) {
        auto req = decode_body<wire::fetch::request>(h, rd);
        if (!req) return r.complete(net::close_connection);
        fetch_plan plan;
        plan.header = h;
        plan.header.client_id.reset(); // points into the frame
        plan.version = h.version;
        plan.correlation_id = h.correlation_id;
        plan.min_bytes = req->min_bytes;
        plan.max_bytes = req->max_bytes;
        plan.iso = req->isolation_level == wire::isolation_level::read_committed ? isolation::read_committed
                                                                                 : isolation::read_uncommitted;
        for (const auto& t : req->topics) {
            plan_topic pt{std::string(t.name), {}};
            for (const auto& p : t.partitions) pt.partitions.push_back({p.partition_index, p.fetch_offset, p.partition_max_bytes});
            plan.topics.push_back(std::move(pt));
        }
        if (req->max_wait_ms <= 0 || answer_fetch(plan, r, false)) return;
        // Not enough data yet: park until an append (through this server) or max_wait_ms.
        const auto id = ++next_park_id_;
        parked_.push_back({conn, std::move(plan), std::move(r), {}, id});
        parked_.back().timer = loop_->run_after(std::chrono::milliseconds(req->max_wait_ms), [this, id] {
            for (auto it = parked_.begin(); it != parked_.end(); ++it) {
                if (it->id != id) continue;
                auto p = std::move(*it);
                parked_.erase(it);
                answer_fetch(p.plan, p.responder, true);
                return;
            }
        });
    }

    void wake_parked() {
        for (auto it = parked_.begin(); it != parked_.end();) {
            if (answer_fetch(it->plan, it->responder, false)) {
                it->timer.cancel();
                it = parked_.erase(it);
            } else {
                ++it;
            }
        }
    }

    /// Reads every partition of the plan; answers (consuming `r`) and returns true when there is
    /// at least min_bytes, an error to report, or `force`. Otherwise leaves `r` untouched.
    bool answer_fetch(const fetch_plan& plan, net::responder& r, bool force) {
        using namespace wire::fetch;
        response resp;
        std::vector<std::vector<storage::slice>> slices;
        std::size_t total = 0;
        bool any_error = false;
        std::int64_t remaining = plan.max_bytes;
        for (const auto& t : plan.topics) {
            topic_response tr;
            tr.name = t.name;
            for (const auto& p : t.partitions) {
                partition_data pd;
                pd.partition_index = p.id;
                if (plan.iso == isolation::read_committed) pd.aborted_transactions.emplace();
                const std::int64_t limit = std::min<std::int64_t>(p.max_bytes, remaining);
                if (limit <= 0 && total > 0) {
                    // Over the request's max_bytes: report offsets only.
                    if (auto* part = broker_->find_partition(t.name, p.id)) {
                        const auto o = part->offsets();
                        pd.high_watermark = o.high_watermark;
                        pd.last_stable_offset = o.last_stable_offset;
                        pd.log_start_offset = o.log_start_offset;
                    } else {
                        pd.error_code = error_code::unknown_topic_or_partition;
                    }
                } else {
                    auto fr = broker_->fetch(t.name, p.id, p.fetch_offset, static_cast<std::size_t>(std::max<std::int64_t>(limit, 1)), plan.iso);
                    pd.error_code = fr.error;
                    pd.high_watermark = fr.high_watermark;
                    pd.last_stable_offset = fr.last_stable_offset;
                    pd.log_start_offset = fr.log_start_offset;
                    if (fr.error == error_code::none && fr.records.bytes > 0) {
                        pd.external = wire::external_records{static_cast<std::uint32_t>(fr.records.bytes), slices.size()};
                        total += fr.records.bytes;
                        remaining -= static_cast<std::int64_t>(fr.records.bytes);
                        slices.push_back(std::move(fr.records.slices));
                    } else {
                        pd.records = bytes_view{};
                    }
                    any_error |= fr.error != error_code::none;
                }
                tr.partitions.push_back(std::move(pd));
            }
            resp.responses.push_back(std::move(tr));
        }
        if (!force && !any_error && total < static_cast<std::size_t>(std::max(plan.min_bytes, 1))) return false;

        auto buf = std::make_shared<byte_buffer>(512);
        wire::gap_list gaps;
        byte_writer w(*buf);
        wire::response_header{plan.correlation_id}.encode(w, wire::response_header_version(wire::api_key::fetch, plan.version));
        resp.encode(w, plan.version, gaps);
        net::response out;
        wire::for_each_piece(
            buf->view(), gaps, [&](bytes_view b) { out.append(b, buf); },
            [&](const wire::records_gap& g) {
                for (const auto& s : slices[g.cookie]) out.append(s);
            });
        r.complete(std::move(out));
        return true;
    }

    // ---- ListOffsets ----------------------------------------------------------------------------

    void list_offsets(const wire::request_header& h, byte_reader& rd, net::responder r) {
        using namespace wire::list_offsets;
        auto req = decode_body<request>(h, rd);
        if (!req) return r.complete(net::close_connection);
        const auto iso = req->isolation_level == wire::isolation_level::read_committed ? isolation::read_committed
                                                                                       : isolation::read_uncommitted;
        response resp;
        for (const auto& t : req->topics) {
            response_topic rt;
            rt.name = t.name;
            for (const auto& p : t.partitions) {
                response_partition rp;
                rp.partition_index = p.partition_index;
                const auto lo = broker_->list_offset(t.name, p.partition_index, p.timestamp, iso);
                rp.error_code = lo.error;
                if (lo.error == error_code::none) {
                    if (h.version == 0) {
                        if (lo.found.value() >= 0) rp.old_style_offsets.push_back(lo.found.value());
                    } else {
                        rp.offset = lo.found;
                        rp.timestamp = -1;
                    }
                }
                rt.partitions.push_back(std::move(rp));
            }
            resp.topics.push_back(std::move(rt));
        }
        r.complete(net::response(encode(h, h.version, resp)));
    }

    // ---- InitProducerId, FindCoordinator --------------------------------------------------------

    void init_producer_id(const wire::request_header& h, byte_reader& rd, net::responder r) {
        using namespace wire::init_producer_id;
        auto req = decode_body<request>(h, rd);
        if (!req) return r.complete(net::close_connection);
        const auto res = broker_->init_producer_id(req->transactional_id, req->transaction_timeout_ms);
        response resp;
        resp.error_code = res.error;
        resp.producer_id = res.id;
        resp.producer_epoch = res.epoch;
        r.complete(net::response(encode(h, h.version, resp)));
    }

    void find_coordinator(const wire::request_header& h, byte_reader& rd, net::responder r) {
        using namespace wire::find_coordinator;
        auto req = decode_body<request>(h, rd);
        if (!req) return r.complete(net::close_connection);
        response resp;
        resp.node_id = node_id{broker_->config().node_id};
        resp.host = host_;
        resp.port = port_;
        r.complete(net::response(encode(h, h.version, resp)));
    }

    Broker* broker_;
    net::event_loop* loop_;
    std::string cluster_id_;
    std::string host_ = "127.0.0.1";
    std::int32_t port_ = 9092;
    mutable_bytes_view frame_; // the request being handled (valid during on_request only)
    std::list<parked_fetch> parked_;
    std::uint64_t next_park_id_ = 0;
};

} // namespace broker_detail

/// Settings of the protocol front end (the broker's own settings stay in broker_config).
struct kafka_server_config {
    net::server_config net;                 // listeners, socket.request.max.bytes, max.connections, ...
    std::string advertised_host;            // advertised.listeners host ("" = the listening host)
    std::int32_t advertised_port = -1;      // -1 = the bound port
    std::string cluster_id = "gregor-cluster";
};

/// A broker on the network: owns an event loop thread and a net::server whose handler speaks
/// Kafka to `Broker`. The broker must outlive the server.
template <typename Broker>
class kafka_server {
public:
    using handler_type = broker_detail::kafka_handler<Broker>;

    kafka_server(Broker& b, kafka_server_config cfg) : cfg_(std::move(cfg)) {
        loop_.start();
        server_ = std::make_unique<net::server<handler_type>>(loop_, cfg_.net, handler_type(b, loop_, cfg_.cluster_id));
        const auto host = cfg_.advertised_host.empty() ? (cfg_.net.host.empty() ? "127.0.0.1" : cfg_.net.host)
                                                       : cfg_.advertised_host;
        const auto port = cfg_.advertised_port >= 0 ? cfg_.advertised_port : static_cast<std::int32_t>(server_->local_port());
        loop_.run_and_wait([&] { server_->handler().set_advertised(host, port); });
    }

    kafka_server(const kafka_server&) = delete;
    kafka_server& operator=(const kafka_server&) = delete;
    ~kafka_server() { stop(); }

    /// The bound TCP port (useful with port 0).
    [[nodiscard]] std::uint16_t port() const noexcept { return server_ ? server_->local_port() : 0; }

    /// Stops accepting, answers parked fetches, finishes in-flight requests (bounded by
    /// `timeout`) and stops the loop thread. Idempotent.
    void stop(std::chrono::milliseconds timeout = std::chrono::milliseconds{30000}) {
        if (!server_) return;
        loop_.run_and_wait([&] { server_->handler().release_parked(); });
        server_->stop(timeout);
        server_.reset();
        loop_.stop();
        loop_.join();
    }

    [[nodiscard]] net::server_stats stats() const { return server_ ? server_->stats() : net::server_stats{}; }

private:
    kafka_server_config cfg_;
    net::event_loop loop_;
    std::unique_ptr<net::server<handler_type>> server_;
};

} // namespace gregor
