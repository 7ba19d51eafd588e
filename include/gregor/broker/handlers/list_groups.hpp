// ListGroups: the groups this broker coordinates (clients ask every broker and merge), filtered
// by state (v4+, case-insensitive) and type (v5+; gregor's groups are all "classic")
// (docs/groups.md).
#pragma once

#include <gregor/broker/handlers/context.hpp>
#include <gregor/broker/handlers/group_common.hpp>
#include <gregor/net/response.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/messages/list_groups.hpp>

#include <algorithm>
#include <cctype>
#include <string_view>
#include <vector>

namespace gregor::broker_handlers {

struct list_groups_handler {
    using api = wire::list_groups_api;
    static constexpr wire::version_range served{0, 5};
    static constexpr bool off_loop = true;

    template <typename Broker>
    static void handle(request_context<Broker>& ctx, net::responder r) {
        using namespace wire::list_groups;
        auto req = decode_request<request>(ctx);
        if (!req) return r.complete(net::close_connection);
        auto same = [](std::string_view a, std::string_view b) {
            return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
                       return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
                   });
        };
        auto wanted = [&](const std::vector<std::string_view>& filter, std::string_view value) {
            return filter.empty() || std::any_of(filter.begin(), filter.end(), [&](std::string_view f) { return same(f, value); });
        };
        const auto groups = ctx.broker.groups().list();
        response resp;
        for (const auto& g : groups) {
            const auto state = groups::to_string(g.state);
            if (!wanted(req->states_filter, state) || !wanted(req->types_filter, "classic")) continue;
            resp.groups.push_back({g.group_id, g.protocol_type, state, "classic"});
        }
        r.complete(net::response(encode_response(ctx.header, ctx.header.version, resp)));
    }
};

} // namespace gregor::broker_handlers
