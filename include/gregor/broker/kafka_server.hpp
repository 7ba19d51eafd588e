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
// Threading: one event loop thread owned by the server runs every handler, and no handler waits
// on it. A produce appends at once (a page-cache write) and its answer goes out when the
// partition's offset monitor says what acks/durability need holds: for acks=all the high
// watermark, for fsync-before-ack the flushed offset (the flusher thread syncs), completed from
// whichever thread moved the offset. A fetch without enough data parks on the monitors of its
// partitions and is re-run on the loop when any of them moves, whoever appended (this server, an
// embedded producer on another thread), or answered at max_wait_ms. stop() and the destructor may
// be called from any thread except the loop's.
#pragma once

#include <gregor/broker/offset_monitor.hpp>
#include <gregor/broker/partition.hpp>
#include <gregor/broker/results.hpp>
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
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace gregor {

namespace broker_detail {

/// The way from a partition's monitor (any thread) to a handler's loop: wake-ups are posted to the
/// loop while the gate is open; closing it (shutdown) makes later wake-ups no-ops.
template <typename Handler>
class loop_gate {
public:
    void open(net::event_loop* loop, Handler* h) {
        std::lock_guard lk(mu_);
        loop_ = loop;
        handler_ = h;
    }
    void close() {
        std::lock_guard lk(mu_);
        loop_ = nullptr;
        handler_ = nullptr;
    }
    void retry(std::uint64_t id) {
        std::lock_guard lk(mu_);
        if (loop_) loop_->post([h = handler_, id] { h->retry_parked(id); });
    }

private:
    std::mutex mu_;
    net::event_loop* loop_ = nullptr;
    Handler* handler_ = nullptr;
};

/// The request dispatcher the network server calls; see kafka_server below.
template <typename Broker>
class kafka_handler {
    friend class loop_gate<kafka_handler>;

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
                it->cancel();
                it = parked_.erase(it);
            } else {
                ++it;
            }
        }
    }

    /// Answers every parked fetch now and stops monitor wake-ups from reaching this handler
    /// (shutdown; run on the loop thread).
    void release_parked() {
        gate_->close();
        while (!parked_.empty()) {
            auto p = std::move(parked_.front());
            parked_.pop_front();
            p.cancel();
            answer_fetch(p.plan, p.responder, true);
        }
    }

    /// Lets monitor wake-ups reach this handler; called on the loop thread once the handler sits
    /// at its final address inside the server.
    void open_gate() { gate_->open(loop_, this); }

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

    // One produce request whose partitions answer at different times (acks=all, fsync before ack):
    // the last partition to finish encodes and sends the response, from whichever thread it is on.
    struct produce_pending {
        std::mutex mu;
        std::int32_t correlation_id = 0;
        std::int16_t version = 0;
        std::int16_t acks = 1;
        std::vector<std::string> names; // the topic names the response points at
        wire::produce::response resp;
        std::size_t remaining = 1;      // partitions still waiting, plus the request itself
        bool any_error = false;
        net::responder r;

        void finish_one() {
            {
                std::lock_guard lk(mu);
                if (--remaining != 0) return;
            }
            if (acks == 0) {
                // No response at all; on failure Kafka closes so the client refreshes its metadata.
                if (any_error) return r.complete(net::close_connection);
                return r.complete(net::no_response);
            }
            byte_buffer out(256);
            byte_writer w(out);
            wire::response_header{correlation_id}.encode(w, wire::response_header_version(wire::api_key::produce, version));
            resp.encode(w, version);
            r.complete(net::response(std::move(out)));
        }
    };

    void produce(const wire::request_header& h, byte_reader& rd, net::responder r) {
        using namespace wire::produce;
        auto req = decode_body<request>(h, rd);
        if (!req) return r.complete(net::close_connection);
        auto st = std::make_shared<produce_pending>();
        st->correlation_id = h.correlation_id;
        st->version = h.version;
        st->acks = req->acks;
        st->r = std::move(r);
        // Shape the whole response first: completions may arrive before the loop below ends.
        st->names.reserve(req->topics.size());
        for (const auto& t : req->topics) {
            st->names.emplace_back(t.name);
            topic_response tr;
            tr.name = st->names.back();
            tr.partitions.resize(t.partitions.size());
            for (std::size_t i = 0; i < t.partitions.size(); ++i) tr.partitions[i].partition_index = t.partitions[i].partition_index;
            st->resp.responses.push_back(std::move(tr));
            st->remaining += t.partitions.size();
        }
        const std::chrono::milliseconds timeout{std::max(req->timeout_ms, 0)};
        for (std::size_t ti = 0; ti < req->topics.size(); ++ti) {
            const auto& t = req->topics[ti];
            for (std::size_t pi = 0; pi < t.partitions.size(); ++pi) {
                auto done = [st, ti, pi](typename Broker::produce_result res) {
                    {
                        std::lock_guard lk(st->mu);
                        auto& pr = st->resp.responses[ti].partitions[pi];
                        pr.error_code = res.error;
                        pr.base_offset = res.base_offset;
                        pr.log_append_time_ms = res.log_append_time_ms;
                        pr.log_start_offset = res.log_start_offset;
                        st->any_error |= res.error != error_code::none;
                    }
                    st->finish_one();
                };
                append_one(t.name, t.partitions[pi], req->acks, timeout, std::move(done));
            }
        }
        st->finish_one();
    }

    template <typename Done>
    void append_one(std::string_view topic, const wire::produce::partition_data& p, std::int16_t acks,
                    std::chrono::milliseconds timeout, Done&& done) {
        const auto fail = [&](error_code e) { done(typename Broker::produce_result{e, offset{-1}, -1, offset{-1}}); };
        if (!p.records) return fail(error_code::invalid_record);
        // Produce v3+ carries exactly one record batch per partition.
        wire::batch_splitter split(*p.records);
        const auto first = split.next();
        if (!first) return fail(error_code::corrupt_message);
        if (split.next() || !split.remainder().empty()) return fail(error_code::invalid_record);
        // The broker patches base offset and leader epoch in place; the server lends us its receive
        // buffer mutably for the duration of the call, so no batch is copied. The append itself
        // happens before produce_async returns; only the answer may come later.
        const auto at = static_cast<std::size_t>(first->data() - frame_.data());
        const mutable_bytes_view batch = frame_.subspan(at, first->size());
        broker_->produce_async(topic, p.partition_index, batch, acks, timeout, true, std::forward<Done>(done));
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
        std::vector<wait_handle> waits; // one per partition of the plan that exists

        void cancel() {
            timer.cancel();
            for (auto& w : waits) w.cancel();
            waits.clear();
        }
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
        // Not enough data yet: park until a partition's monitor says more is readable (whoever
        // appended: this server, an embedded producer, later a follower moving the high watermark),
        // or max_wait_ms.
        const auto id = ++next_park_id_;
        parked_.push_back({conn, std::move(plan), std::move(r), {}, id, {}});
        auto& pf = parked_.back();
        pf.timer = loop_->run_after(std::chrono::milliseconds(req->max_wait_ms), [this, id] {
            for (auto it = parked_.begin(); it != parked_.end(); ++it) {
                if (it->id != id) continue;
                auto p = std::move(*it);
                parked_.erase(it);
                p.cancel();
                answer_fetch(p.plan, p.responder, true);
                return;
            }
        });
        arm(pf);
    }

    // Registers one monitor wait per partition for "more than is readable now"; any of them firing
    // re-runs the fetch on the loop thread.
    void arm(parked_fetch& pf) {
        const auto kind = pf.plan.iso == isolation::read_committed ? offset_kind::last_stable : offset_kind::high_watermark;
        bool ready = false;
        for (const auto& t : pf.plan.topics) {
            for (const auto& p : t.partitions) {
                auto* part = broker_->find_partition(t.name, p.id);
                if (!part) continue;
                auto& mon = part->monitor();
                const auto target = offset{std::max(p.fetch_offset.value(), mon.current(kind).value()) + 1};
                auto h = mon.async_wait(kind, target, broker_detail::wait_clock::time_point::max(),
                                        [gate = gate_, id = pf.id](wait_status) { gate->retry(id); });
                if (h) pf.waits.push_back(std::move(*h));
                else ready = true; // moved between current() and async_wait()
            }
        }
        if (ready) gate_->retry(pf.id);
    }

    void retry_parked(std::uint64_t id) {
        for (auto it = parked_.begin(); it != parked_.end(); ++it) {
            if (it->id != id) continue;
            for (auto& w : it->waits) w.cancel();
            it->waits.clear();
            if (answer_fetch(it->plan, it->responder, false)) {
                it->cancel();
                parked_.erase(it);
            } else {
                arm(*it); // not min_bytes yet: wait for the next move
            }
            return;
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
    std::shared_ptr<loop_gate<kafka_handler>> gate_ = std::make_shared<loop_gate<kafka_handler>>();
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
        loop_.run_and_wait([&] {
            server_->handler().set_advertised(host, port);
            server_->handler().open_gate();
        });
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
        loop_.run_and_wait([] {}); // wake-ups posted before the gate closed have run

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
