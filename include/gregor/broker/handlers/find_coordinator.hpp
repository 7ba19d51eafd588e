// FindCoordinator: this node coordinates every group and transaction. librdkafka needs it
// advertised from v0 or it never looks coordinators up (docs/protocol.md §3.1).
#pragma once

#include <gregor/broker/handlers/context.hpp>
#include <gregor/core/strong_types.hpp>
#include <gregor/net/response.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/messages/find_coordinator.hpp>

namespace gregor::broker_handlers {

struct find_coordinator_handler {
    using api = wire::find_coordinator_api;
    // v4+ asks for several keys at once and gets one coordinator per key (KIP-699).
    static constexpr wire::version_range served{0, 5};

    template <typename Broker>
    static void handle(request_context<Broker>& ctx, net::responder r) {
        using namespace wire::find_coordinator;
        auto req = decode_request<request>(ctx);
        if (!req) return r.complete(net::close_connection);
        response resp;
        const node_id self{ctx.broker.config().node_id};
        if (ctx.header.version >= 4) {
            for (const auto k : req->coordinator_keys) {
                coordinator c;
                c.key = k;
                c.node_id = self;
                c.host = ctx.advertised_host;
                c.port = ctx.advertised_port;
                resp.coordinators.push_back(c);
            }
        } else {
            resp.node_id = self;
            resp.host = ctx.advertised_host;
            resp.port = ctx.advertised_port;
        }
        r.complete(net::response(encode_response(ctx.header, ctx.header.version, resp)));
    }
};

} // namespace gregor::broker_handlers
