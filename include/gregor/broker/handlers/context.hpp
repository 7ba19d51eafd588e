// What one Kafka API handler gets for one request, so that a handler header needs nothing from the
// server around it: the broker, the decoded request header, a reader at the body, the frame itself
// (mutable: Produce patches the batch in place instead of copying it), the connection, the event
// loop, what clients are told to connect to, and the server's state across requests.
//
// Every reference in a request_context is valid during handle() only, except `broker`, `loop`
// and `state`, which live as long as the server (closures that complete later may keep those).
// Threading: built and used on the server's loop thread, or on its background_worker for the
// handlers that run there (run_on_worker below).
#pragma once

#include <gregor/broker/handlers/server_state.hpp>
#include <gregor/core/buffer.hpp>
#include <gregor/core/error.hpp>
#include <gregor/core/strong_types.hpp>
#include <gregor/net/event_loop.hpp>
#include <gregor/net/response.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/header.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace gregor::broker_handlers {

template <typename Broker>
struct request_context {
    Broker& broker;
    const wire::request_header& header;
    byte_reader& body;        // positioned after the header
    mutable_bytes_view frame; // the whole request, header included
    net::connection_id conn;
    net::event_loop& loop;
    std::string_view advertised_host; // what Metadata and FindCoordinator hand out
    std::int32_t advertised_port;
    std::string_view cluster_id;
    server_state& state;
    // The ApiVersions answer, generated from the handler list (handlers.hpp); passed in because
    // the list includes the handler that answers with it.
    std::span<const wire::advertised_api> advertised_apis;
    // True when handle() runs on the server's background_worker (run_on_worker below).
    bool on_worker = false;
};

/// Runs `H::handle` for this request on the server's background_worker (server_state.hpp), for
/// handlers that may wait on the disk: the task owns a copy of the frame and of the strings the
/// context points at (the dispatcher may be moved with its server); broker, loop and state live
/// as long as the worker. Handlers opt in whole with `off_loop` (handler_list.hpp), or call this
/// when a request turns out to need the disk (Metadata auto-creating a topic).
template <typename H, typename Broker>
void run_on_worker(request_context<Broker>& ctx, net::responder r) {
    struct owned {
        Broker* broker;
        byte_buffer frame;
        net::connection_id conn;
        net::event_loop* loop;
        std::string host;
        std::int32_t port;
        std::string cluster_id;
        server_state* state;
        std::span<const wire::advertised_api> apis;
    };
    auto task = std::make_unique<owned>(owned{&ctx.broker, byte_buffer(bytes_view(ctx.frame)), ctx.conn, &ctx.loop,
                                              std::string(ctx.advertised_host), ctx.advertised_port,
                                              std::string(ctx.cluster_id), &ctx.state, ctx.advertised_apis});
    ctx.state.worker.post([task = std::move(task), r = std::move(r)]() mutable {
        auto& t = *task;
        byte_reader rd(t.frame.view());
        const auto h = wire::request_header::decode(rd); // it decoded on the loop: the same bytes
        if (!h) return r.complete(net::close_connection);
        request_context<Broker> c{*t.broker, *h,     rd,      t.frame.mutable_view(), t.conn, *t.loop, t.host,
                                  t.port,    t.cluster_id, *t.state, t.apis,          true};
        H::handle(c, std::move(r));
    });
}

/// The request body as `Msg`, or nullopt if it does not decode at the header's version.
template <typename Msg, typename Broker>
std::optional<Msg> decode_request(request_context<Broker>& ctx) {
    if (!wire::supports_version<typename Msg::api>(ctx.header.version)) return std::nullopt;
    return Msg::decode(ctx.body, ctx.header.version);
}

/// Kafka's check of the leader epoch a client believes in (Fetch v9+, ListOffsets v4+; -1 means
/// "not checked"): an older one is FENCED_LEADER_EPOCH (the client refreshes its metadata), a
/// newer one UNKNOWN_LEADER_EPOCH (this broker has not caught up). docs/protocol.md §14.6.
template <typename Partition>
error_code check_leader_epoch(Partition* part, leader_epoch client) {
    if (part == nullptr) return error_code::none;
    // Epoch first (FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH), then leadership: a replica that
    // does not lead answers NOT_LEADER_OR_FOLLOWER (docs/protocol.md §14.3 step 1).
    return part->check_epoch(client, true);
}

/// A response (header and body) to the request `h`, encoded at `version`.
template <typename Body>
byte_buffer encode_response(const wire::request_header& h, std::int16_t version, const Body& body) {
    byte_buffer out(256);
    byte_writer w(out);
    wire::response_header{h.correlation_id}.encode(w, wire::response_header_version(h.key, version));
    body.encode(w, version);
    return out;
}

} // namespace gregor::broker_handlers
