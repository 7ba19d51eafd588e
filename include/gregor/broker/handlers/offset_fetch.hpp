// OffsetFetch: a group's committed offsets (-1 where none), answered in every group state
// (docs/groups.md). v2+ may ask for every partition with a commit (topics null); v8+
// asks for several groups at once. Coordinator errors are top-level from v2 and per partition
// before.
#pragma once

#include <gregor/broker/handlers/context.hpp>
#include <gregor/broker/handlers/group_common.hpp>
#include <gregor/net/response.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/messages/offset_fetch.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace gregor::broker_handlers {

struct offset_fetch_handler {
    using api = wire::offset_fetch_api;
    static constexpr wire::version_range served{0, 9};
    static constexpr bool off_loop = true;

    template <typename Broker>
    static void handle(request_context<Broker>& ctx, net::responder r) {
        using namespace wire::offset_fetch;
        auto req = decode_request<request>(ctx);
        if (!req) return r.complete(net::close_connection);
        const auto v = ctx.header.version;
        // Everything the answer's views point at lives here until it is encoded.
        std::vector<groups::fetch_offsets_result> results;
        std::vector<std::string> group_ids;
        auto ask = [&](std::string_view group, const std::optional<std::vector<request_topic>>& topics) {
            std::optional<std::vector<std::pair<std::string, std::vector<std::int32_t>>>> want;
            if (topics) {
                want.emplace();
                for (const auto& t : *topics) {
                    auto& w = want->emplace_back(std::string(t.name), std::vector<std::int32_t>{});
                    for (const auto p : t.partition_indexes) w.second.push_back(p.value());
                }
            }
            group_ids.emplace_back(group);
            results.push_back(ctx.broker.groups().fetch_offsets(group_ids.back(), want, req->require_stable));
            // v0-1 carry a coordinator error in every asked partition; from v2 it is top-level (or
            // the group's) and, as in Kafka, no partition is listed.
            if (v < 2 && results.back().error != error_code::none && want)
                for (const auto& [t, ps] : *want)
                    for (const auto p : ps) results.back().offsets.push_back({t, p, -1, -1, {}, results.back().error});
        };
        if (v >= 8) {
            results.reserve(req->groups.size());
            group_ids.reserve(req->groups.size());
            for (const auto& g : req->groups) ask(g.group_id, g.topics);
        } else {
            results.reserve(1);
            group_ids.reserve(1);
            ask(req->group_id, req->topics);
        }
        auto topics_of = [&](const groups::fetch_offsets_result& res, bool per_partition_error) {
            std::vector<response_topic> out;
            std::map<std::string_view, std::size_t> at;
            for (const auto& o : res.offsets) {
                auto [it, fresh] = at.try_emplace(o.topic, out.size());
                if (fresh) out.push_back({o.topic, {}});
                response_partition p;
                p.partition_index = partition_id{o.partition};
                p.committed_offset = offset{o.offset};
                p.committed_leader_epoch = leader_epoch{o.leader_epoch};
                p.metadata = std::string_view(o.metadata);
                // UNSTABLE_OFFSET_COMMIT (require_stable, v7+) is always the partition's own.
                p.error_code = per_partition_error || o.error == error_code::unstable_offset_commit ? o.error
                                                                                                      : error_code::none;
                out[it->second].partitions.push_back(p);
            }
            return out;
        };
        response resp;
        if (v >= 8) {
            for (std::size_t i = 0; i < results.size(); ++i) {
                response_group g;
                g.group_id = group_ids[i];
                g.topics = topics_of(results[i], false);
                g.error_code = results[i].error;
                resp.groups.push_back(std::move(g));
            }
        } else {
            resp.topics = topics_of(results.front(), v < 2);
            if (v >= 2) resp.error_code = results.front().error;
        }
        r.complete(net::response(encode_response(ctx.header, v, resp)));
    }
};

} // namespace gregor::broker_handlers
