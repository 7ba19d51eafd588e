// DescribeGroups: each group's state, protocol and members; the members' subscription and
// assignment bytes only while Stable; an unknown group is "Dead" with no error
// (docs/groups.md).
#pragma once

#include <gregor/broker/handlers/context.hpp>
#include <gregor/broker/handlers/group_common.hpp>
#include <gregor/net/response.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/messages/describe_groups.hpp>

#include <vector>

namespace gregor::broker_handlers {

struct describe_groups_handler {
    using api = wire::describe_groups_api;
    static constexpr wire::version_range served{0, 5};
    static constexpr bool off_loop = true;

    template <typename Broker>
    static void handle(request_context<Broker>& ctx, net::responder r) {
        using namespace wire::describe_groups;
        namespace gd = group_detail;
        auto req = decode_request<request>(ctx);
        if (!req) return r.complete(net::close_connection);
        std::vector<groups::described_group> ds;
        ds.reserve(req->groups.size());
        for (const auto g : req->groups) ds.push_back(ctx.broker.groups().describe(std::string(g)));
        response resp;
        for (const auto& d : ds) {
            described_group g;
            g.error_code = d.error;
            g.group_id = d.group_id;
            g.group_state = d.error == error_code::none ? groups::to_string(d.state) : std::string_view{};
            g.protocol_type = d.protocol_type;
            g.protocol_data = d.protocol_data;
            for (const auto& m : d.members)
                g.members.push_back({m.member_id, gd::view(m.group_instance_id), m.client_id, m.client_host,
                                     gd::bytes_of(m.metadata), gd::bytes_of(m.assignment)});
            resp.groups.push_back(std::move(g));
        }
        r.complete(net::response(encode_response(ctx.header, ctx.header.version, resp)));
    }
};

} // namespace gregor::broker_handlers
