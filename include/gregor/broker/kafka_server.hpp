// The Kafka protocol in front of a gregor::broker: real Kafka clients (librdkafka, kcat, kafkajs,
// the Java client) produce to and fetch from it unchanged.
//
//   gregor::broker<P> b{cfg};
//   gregor::kafka_server<gregor::broker<P>> srv{b, {.host = "127.0.0.1", .port = 9092}};
//   // ... srv.port() is the bound port; srv.stop() or the destructor stops it.
//
// APIs: one handler each under broker/handlers/, listed once in handlers/handlers.hpp, which
// generates both the dispatch below and the ApiVersions answer. Today: ApiVersions 0-4 (answered
// with a v0 body and UNSUPPORTED_VERSION above, KIP-511), Metadata 0-12 (auto-creating topics
// when the request and auto.create.topics.enable allow), Produce 3-11 (0-11 advertised so
// librdkafka compresses; 0-2 close the connection as Kafka 4 does), Fetch 4-16 (long-polling up
// to max_wait_ms for min_bytes, records sent zero-copy from the log), ListOffsets 0-8,
// InitProducerId 0-5, FindCoordinator 0-5 (this node), and the admin APIs (docs/admin.md):
// CreateTopics 0-7, DeleteTopics 0-6, DeleteRecords 0-2, DescribeConfigs 0-4, AlterConfigs 0-2,
// CreatePartitions 0-3, IncrementalAlterConfigs 0-1, DescribeCluster 0-1. Any other key or
// version closes the connection, as Kafka does. A request that does not decode closes its
// connection only.
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

#include <gregor/broker/handlers/context.hpp>
#include <gregor/broker/handlers/handler_list.hpp>
#include <gregor/broker/handlers/handlers.hpp>
#include <gregor/broker/handlers/server_state.hpp>
#include <gregor/core/buffer.hpp>
#include <gregor/net/event_loop.hpp>
#include <gregor/net/response.hpp>
#include <gregor/net/server.hpp>
#include <gregor/wire/header.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

namespace gregor {

namespace broker_detail {

/// The request dispatcher the network server calls; see kafka_server below. It owns what lives
/// across requests (broker_handlers::server_state) and hands each request to its API's handler.
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
        byte_reader rd(frame);
        const auto h = wire::request_header::decode(rd);
        if (!h) return r.complete(net::close_connection);
        broker_handlers::request_context<Broker> ctx{*broker_,
                                                     *h,
                                                     rd,
                                                     frame,
                                                     conn,
                                                     *loop_,
                                                     host_,
                                                     port_,
                                                     cluster_id_,
                                                     *state_,
                                                     broker_handlers::broker_advertised,
                                                     false};
        broker_handlers::dispatch(broker_handlers::all_handlers{}, ctx, std::move(r));
    }

    void on_open(net::connection_id conn, std::string_view peer) { state_->peers.opened(conn, peer); }

    void on_close(net::connection_id conn) {
        state_->peers.closed(conn);
        broker_handlers::connection_closed(broker_handlers::all_handlers{}, *state_, conn);
    }

    void on_input_closed(net::connection_id conn) {
        broker_handlers::input_closed(broker_handlers::all_handlers{}, *broker_, *state_, conn);
    }

    /// Answers every waiting request now and stops monitor wake-ups from reaching this handler
    /// (shutdown; run on the loop thread).
    void release_parked() {
        state_->gate->close();
        broker_handlers::server_stopping(broker_handlers::all_handlers{}, *broker_, *state_);
    }

    /// Lets monitor wake-ups reach the loop; called on the loop thread once the server runs.
    void open_gate() { state_->gate->open(*loop_); }

private:
    Broker* broker_;
    net::event_loop* loop_;
    std::string cluster_id_;
    std::string host_ = "127.0.0.1";
    std::int32_t port_ = 9092;
    // Behind a pointer: net::server moves the handler in, and wake-ups point at the state.
    std::unique_ptr<broker_handlers::server_state> state_ = std::make_unique<broker_handlers::server_state>();
};

} // namespace broker_detail

/// Settings of the protocol front end (the broker's own settings stay in broker_config).
struct kafka_server_config {
    net::server_config net;            // listeners, socket.request.max.bytes, max.connections, ...
    std::string advertised_host;       // advertised.listeners host ("" = the listening host)
    std::int32_t advertised_port = -1; // -1 = the bound port
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
        const auto host =
            cfg_.advertised_host.empty() ? (cfg_.net.host.empty() ? "127.0.0.1" : cfg_.net.host) : cfg_.advertised_host;
        const auto port =
            cfg_.advertised_port >= 0 ? cfg_.advertised_port : static_cast<std::int32_t>(server_->local_port());
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
