// SyncGroup: after a join, every member asks for its assignment; the leader's request carries
// them all. Followers' answers wait, parked in the coordinator, until the leader's assignment is
// in __consumer_offsets (docs/groups.md).
#pragma once

#include <gregor/broker/handlers/context.hpp>
#include <gregor/broker/handlers/group_common.hpp>
#include <gregor/net/response.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/messages/sync_group.hpp>

namespace gregor::broker_handlers {

struct sync_group_handler {
    using api = wire::sync_group_api;
    static constexpr wire::version_range served{0, 5};
    static constexpr bool off_loop = true;

    template <typename Broker>
    static void handle(request_context<Broker>& ctx, net::responder r) {
        using namespace wire::sync_group;
        namespace gd = group_detail;
        auto req = decode_request<request>(ctx);
        if (!req) return r.complete(net::close_connection);
        groups::sync_request s;
        s.group_id = std::string(req->group_id);
        s.generation_id = req->generation_id;
        s.member_id = std::string(req->member_id);
        s.group_instance_id = gd::owned(req->group_instance_id);
        s.protocol_type = gd::owned(req->protocol_type);
        s.protocol_name = gd::owned(req->protocol_name);
        for (const auto& a : req->assignments) s.assignments.emplace_back(std::string(a.member_id), gd::string_of(a.assignment));
        ctx.broker.groups().sync(std::move(s), [h = gd::answer_header(ctx.header), r = std::move(r)](groups::sync_result res) mutable {
            response resp;
            resp.error_code = res.error;
            resp.protocol_type = gd::view(res.protocol_type);
            resp.protocol_name = gd::view(res.protocol_name);
            resp.assignment = gd::bytes_of(res.assignment);
            gd::reply(r, h, resp);
        });
    }
};

} // namespace gregor::broker_handlers
