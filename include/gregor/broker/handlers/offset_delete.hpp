// OffsetDelete: removes a group's committed offsets for some partitions; partitions of topics a
// live consumer group still subscribes to get GROUP_SUBSCRIBED_TO_TOPIC (docs/groups.md).
#pragma once

#include <gregor/broker/handlers/context.hpp>
#include <gregor/broker/handlers/group_common.hpp>
#include <gregor/net/response.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/messages/offset_delete.hpp>

#include <string>
#include <utility>
#include <vector>

namespace gregor::broker_handlers {

struct offset_delete_handler {
    using api = wire::offset_delete_api;
    static constexpr wire::version_range served{0, 0};
    static constexpr bool off_loop = true;

    template <typename Broker>
    static void handle(request_context<Broker>& ctx, net::responder r) {
        using namespace wire::offset_delete;
        namespace gd = group_detail;
        auto req = decode_request<request>(ctx);
        if (!req) return r.complete(net::close_connection);
        std::vector<std::pair<std::string, std::vector<std::int32_t>>> topics;
        for (const auto& t : req->topics) {
            auto& row = topics.emplace_back(std::string(t.name), std::vector<std::int32_t>{});
            for (const auto& p : t.partitions) row.second.push_back(p.partition_index.value());
        }
        ctx.broker.groups().delete_offsets(
                std::string(req->group_id), std::move(topics),
                [h = gd::answer_header(ctx.header), r = std::move(r)](
                        error_code top, std::vector<std::pair<std::string, std::vector<std::pair<std::int32_t, error_code>>>> res) mutable {
                    response resp;
                    resp.error_code = top;
                    for (const auto& [t, ps] : res) {
                        response_topic rt;
                        rt.name = t;
                        for (const auto& [p, e] : ps) rt.partitions.push_back({partition_id{p}, e});
                        resp.topics.push_back(std::move(rt));
                    }
                    gd::reply(r, h, resp);
                });
    }
};

} // namespace gregor::broker_handlers
