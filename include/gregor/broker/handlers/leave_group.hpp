// LeaveGroup: members leave at once instead of timing out; v3+ names several members, by
// member id or (an admin removing a static member) by group instance id (docs/groups.md).
#pragma once

#include <gregor/broker/handlers/context.hpp>
#include <gregor/broker/handlers/group_common.hpp>
#include <gregor/net/response.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/messages/leave_group.hpp>

#include <vector>

namespace gregor::broker_handlers {

struct leave_group_handler {
    using api = wire::leave_group_api;
    static constexpr wire::version_range served{0, 5};
    static constexpr bool off_loop = true;

    template <typename Broker>
    static void handle(request_context<Broker>& ctx, net::responder r) {
        using namespace wire::leave_group;
        namespace gd = group_detail;
        auto req = decode_request<request>(ctx);
        if (!req) return r.complete(net::close_connection);
        const auto v = ctx.header.version;
        std::vector<groups::leave_member> ms;
        if (v >= 3) {
            for (const auto& m : req->members) ms.push_back({std::string(m.member_id), gd::owned(m.group_instance_id)});
        } else {
            ms.push_back({std::string(req->member_id), std::nullopt});
        }
        const auto top = ctx.broker.groups().leave(std::string(req->group_id), ms);
        response resp;
        resp.error_code = top;
        if (v >= 3) {
            for (const auto& m : ms) resp.members.push_back({m.member_id, gd::view(m.group_instance_id), m.error});
        } else if (top == error_code::none && !ms.empty()) {
            resp.error_code = ms.front().error; // v0-2 carry the one member's error at the top
        }
        r.complete(net::response(encode_response(ctx.header, v, resp)));
    }
};

} // namespace gregor::broker_handlers
