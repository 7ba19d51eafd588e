// Heartbeat: a member says it is alive; REBALANCE_IN_PROGRESS tells it to rejoin
// (docs/groups.md).
#pragma once

#include <gregor/broker/handlers/context.hpp>
#include <gregor/broker/handlers/group_common.hpp>
#include <gregor/net/response.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/messages/heartbeat.hpp>

namespace gregor::broker_handlers {

struct heartbeat_handler {
    using api = wire::heartbeat_api;
    static constexpr wire::version_range served{0, 4};
    static constexpr bool off_loop = true;

    template <typename Broker>
    static void handle(request_context<Broker>& ctx, net::responder r) {
        using namespace wire::heartbeat;
        auto req = decode_request<request>(ctx);
        if (!req) return r.complete(net::close_connection);
        response resp;
        resp.error_code = ctx.broker.groups().heartbeat(std::string(req->group_id), req->generation_id,
                                                        std::string(req->member_id),
                                                        group_detail::owned(req->group_instance_id));
        r.complete(net::response(encode_response(ctx.header, ctx.header.version, resp)));
    }
};

} // namespace gregor::broker_handlers
