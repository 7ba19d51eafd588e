// Metadata: this node is every partition's leader, its only replica and the controller, so clients
// send everything here. Auto-creates topics when the request and auto.create.topics.enable allow.
#pragma once

#include <gregor/broker/handlers/context.hpp>
#include <gregor/core/error.hpp>
#include <gregor/core/strong_types.hpp>
#include <gregor/net/response.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/messages/metadata.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace gregor::broker_handlers {

struct metadata_handler {
    using api = wire::metadata_api;
    // v7+ adds leader epochs, which would make librdkafka >= 2.1 validate positions with
    // OffsetForLeaderEpoch (docs/protocol.md §10).
    static constexpr wire::version_range served{0, 6};

    template <typename Broker>
    static void handle(request_context<Broker>& ctx, net::responder r) {
        using namespace wire::metadata;
        auto req = decode_request<request>(ctx);
        if (!req) return r.complete(net::close_connection);
        const node_id self{ctx.broker.config().node_id};
        response resp;
        resp.brokers.push_back({self, ctx.advertised_host, ctx.advertised_port, std::nullopt});
        resp.cluster_id = ctx.cluster_id;
        resp.controller_id = self;
        // The response holds views: the names it points at must outlive the encoding.
        std::vector<std::pair<std::string, typename Broker::topic_info>> found;
        if (!req->topics) {
            for (auto& [name, n] : ctx.broker.list_topics()) found.push_back({name, {error_code::none, n}});
        } else {
            const bool may_create = ctx.header.version < 4 || req->allow_auto_topic_creation;
            for (const auto& t : *req->topics)
                found.push_back({std::string(t.name), ctx.broker.describe_topic(t.name, may_create)});
        }
        resp.topics.reserve(found.size());
        for (const auto& [name, info] : found) {
            wire::metadata::topic t;
            t.name = name;
            t.error_code = info.error;
            for (std::int32_t i = 0; i < info.partition_count; ++i) {
                wire::metadata::partition p;
                p.partition_index = partition_id{i};
                p.leader_id = self;
                p.replica_nodes = {self};
                p.isr_nodes = {self};
                t.partitions.push_back(std::move(p));
            }
            resp.topics.push_back(std::move(t));
        }
        r.complete(net::response(encode_response(ctx.header, ctx.header.version, resp)));
    }
};

} // namespace gregor::broker_handlers
