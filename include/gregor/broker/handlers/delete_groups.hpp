// DeleteGroups: removes empty groups with their committed offsets (tombstones in
// __consumer_offsets); NON_EMPTY_GROUP while members remain, GROUP_ID_NOT_FOUND for an unknown
// group (docs/groups.md).
#pragma once

#include <gregor/broker/handlers/context.hpp>
#include <gregor/broker/handlers/group_common.hpp>
#include <gregor/net/response.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/messages/delete_groups.hpp>

#include <string>
#include <utility>
#include <vector>

namespace gregor::broker_handlers {

struct delete_groups_handler {
    using api = wire::delete_groups_api;
    static constexpr wire::version_range served{0, 2};
    static constexpr bool off_loop = true;

    template <typename Broker>
    static void handle(request_context<Broker>& ctx, net::responder r) {
        using namespace wire::delete_groups;
        namespace gd = group_detail;
        auto req = decode_request<request>(ctx);
        if (!req) return r.complete(net::close_connection);
        std::vector<std::string> names;
        for (const auto g : req->groups_names) names.emplace_back(g);
        ctx.broker.groups().delete_groups(std::move(names), [h = gd::answer_header(ctx.header), r = std::move(r)](
                                                                    std::vector<std::pair<std::string, error_code>> res) mutable {
            response resp;
            for (const auto& [g, e] : res) resp.results.push_back({g, e});
            gd::reply(r, h, resp);
        });
    }
};

} // namespace gregor::broker_handlers
