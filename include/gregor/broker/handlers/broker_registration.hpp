// BrokerRegistration and BrokerHeartbeat: a cluster's brokers announce themselves to the
// controller and keep their sessions (docs/replication.md, docs/protocol.md §14.9). Served by the
// node running the controller; any other node (and a single node) answers NOT_CONTROLLER.
// Only brokers send them; clients ignore them in ApiVersions.
#pragma once

#include <gregor/broker/controller.hpp>
#include <gregor/broker/handlers/context.hpp>
#include <gregor/core/error.hpp>
#include <gregor/net/response.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/messages/broker_heartbeat.hpp>
#include <gregor/wire/messages/broker_registration.hpp>

#include <string>
#include <utility>

namespace gregor::broker_handlers {

struct broker_registration_handler {
    using api = wire::broker_registration_api;
    static constexpr wire::version_range served{0, 4};
    // The controller syncs its metadata log: run on the server's background_worker.
    static constexpr bool off_loop = true;

    template <typename Broker>
    static void handle(request_context<Broker>& ctx, net::responder r) {
        using namespace wire::broker_registration;
        auto req = decode_request<request>(ctx);
        if (!req) return r.complete(net::close_connection);
        response resp;
        auto* ctl = ctx.broker.controller();
        if (!ctl) {
            resp.error_code = error_code::not_controller;
        } else if (req->listeners.empty()) {
            resp.error_code = error_code::invalid_request;
        } else {
            // The first listener is where clients and followers reach it (gregor brokers have one).
            const auto& l = req->listeners.front();
            const auto res = ctl->register_broker(req->broker_id, std::string(l.host), l.port,
                                                  req->rack ? std::string(*req->rack) : std::string{});
            resp.error_code = res.error;
            resp.broker_epoch = res.broker_epoch;
        }
        r.complete(net::response(encode_response(ctx.header, ctx.header.version, resp)));
    }
};

struct broker_heartbeat_handler {
    using api = wire::broker_heartbeat_api;
    static constexpr wire::version_range served{0, 1};
    // The controller syncs its metadata log: run on the server's background_worker.
    static constexpr bool off_loop = true;

    template <typename Broker>
    static void handle(request_context<Broker>& ctx, net::responder r) {
        using namespace wire::broker_heartbeat;
        auto req = decode_request<request>(ctx);
        if (!req) return r.complete(net::close_connection);
        response resp;
        if (auto* ctl = ctx.broker.controller()) {
            const auto res = ctl->heartbeat(req->broker_id, req->broker_epoch, offset{req->current_metadata_offset},
                                            req->want_fence, req->want_shut_down);
            resp.error_code = res.error;
            resp.is_caught_up = res.is_caught_up;
            resp.is_fenced = res.is_fenced;
            resp.should_shut_down = res.should_shut_down;
        } else {
            resp.error_code = error_code::not_controller;
        }
        r.complete(net::response(encode_response(ctx.header, ctx.header.version, resp)));
    }
};

} // namespace gregor::broker_handlers
