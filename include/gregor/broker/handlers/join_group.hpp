// JoinGroup: a member joins (or rejoins) a consumer group; the answer waits, parked in the group
// coordinator (broker/group_coordinator.hpp), until the rebalance's join phase completes
// (docs/groups.md). v4+ dynamic members first get MEMBER_ID_REQUIRED with their id
// (KIP-394); v5+ static members (group_instance_id) rejoin without a rebalance.
#pragma once

#include <gregor/broker/handlers/context.hpp>
#include <gregor/broker/handlers/group_common.hpp>
#include <gregor/net/response.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/messages/join_group.hpp>

#include <memory>

namespace gregor::broker_handlers {

struct join_group_handler {
    using api = wire::join_group_api;
    static constexpr wire::version_range served{0, 9};
    // The first join of a group replays its __consumer_offsets partition: not on the loop.
    static constexpr bool off_loop = true;

    template <typename Broker>
    static void handle(request_context<Broker>& ctx, net::responder r) {
        using namespace wire::join_group;
        namespace gd = group_detail;
        auto req = decode_request<request>(ctx);
        if (!req) return r.complete(net::close_connection);
        const auto v = ctx.header.version;
        groups::join_request j;
        j.group_id = std::string(req->group_id);
        j.session_timeout_ms = req->session_timeout_ms;
        j.rebalance_timeout_ms = v >= 1 ? req->rebalance_timeout_ms : req->session_timeout_ms;
        j.member_id = std::string(req->member_id);
        j.group_instance_id = gd::owned(req->group_instance_id);
        j.protocol_type = std::string(req->protocol_type);
        for (const auto& p : req->protocols) j.protocols.push_back({std::string(p.name), gd::string_of(p.metadata)});
        j.client_id = std::string(ctx.header.client_id.value_or(""));
        j.client_host = ctx.state.peers.host(ctx.conn);
        j.require_known_member_id = v >= 4;
        j.supports_skip_assignment = v >= 9;
        ctx.broker.groups().join(std::move(j), [h = gd::answer_header(ctx.header), r = std::move(r)](groups::join_result res) mutable {
            response resp;
            resp.error_code = res.error;
            resp.generation_id = res.generation_id;
            if (h.version >= 7) {
                resp.protocol_type = gd::view(res.protocol_type);
                if (res.protocol_name) resp.protocol_name = *res.protocol_name; // else null
            } else {
                resp.protocol_name = res.protocol_name ? std::string_view(*res.protocol_name) : std::string_view("", 0);
            }
            resp.leader = res.leader;
            resp.skip_assignment = res.skip_assignment;
            resp.member_id = res.member_id;
            for (const auto& m : res.members)
                resp.members.push_back({m.member_id, gd::view(m.group_instance_id), gd::bytes_of(m.metadata)});
            gd::reply(r, h, resp);
        });
    }
};

} // namespace gregor::broker_handlers
