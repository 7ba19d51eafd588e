// FindCoordinator: which broker coordinates a group (the leader of the group's
// __consumer_offsets partition, docs/groups.md, docs/protocol.md §16.3) or a transaction (this node, until
// transactions get their own coordinator). The first group lookup creates __consumer_offsets:
// on a single broker here (on the worker: it writes the topic table), in a cluster through the
// controller, answering COORDINATOR_NOT_AVAILABLE (retriable) until its leaders are known.
// librdkafka needs the API advertised from v0 or it never looks coordinators up (§3.1).
#pragma once

#include <gregor/broker/group_coordinator.hpp>
#include <gregor/broker/handlers/context.hpp>
#include <gregor/core/strong_types.hpp>
#include <gregor/net/response.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/messages/find_coordinator.hpp>

#include <algorithm>
#include <string>
#include <string_view>

namespace gregor::broker_handlers {

struct find_coordinator_handler {
    using api = wire::find_coordinator_api;
    // v4+ asks for several keys at once and gets one coordinator per key (KIP-699).
    static constexpr wire::version_range served{0, 5};

    struct where {
        error_code error = error_code::none;
        node_id id{-1};
        std::string host;
        std::int32_t port = -1;
    };
    static where failed(error_code e) {
        where w;
        w.error = e;
        return w;
    }

    template <typename Broker>
    static where group_coordinator(request_context<Broker>& ctx, std::string_view group) {
        auto& b = ctx.broker;
        const auto& cfg = b.config();
        const auto p = groups::partition_for(group, cfg.offsets_topic_num_partitions);
        if (!b.cluster_mode()) {
            if (auto e = b.ensure_offsets_topic(); e != error_code::none) return failed(error_code::coordinator_not_available);
            return {error_code::none, node_id{cfg.node_id}, std::string(ctx.advertised_host), ctx.advertised_port};
        }
        auto* m = b.member();
        if (!m) return failed(error_code::coordinator_not_available);
        const auto img = m->image();
        if (!img->find(groups::offsets_topic)) {
            std::int16_t live = 0;
            for (const auto& [id, info] : img->brokers) live = static_cast<std::int16_t>(live + (info.fenced ? 0 : 1));
            const auto rf = std::max<std::int16_t>(1, std::min(cfg.offsets_topic_replication_factor, live));
            m->request_topic(std::string(groups::offsets_topic), cfg.offsets_topic_num_partitions, rf,
                             b.offsets_topic_configs());
            return failed(error_code::coordinator_not_available);
        }
        const auto* st = img->find(groups::offsets_topic, partition_id{p});
        if (!st || st->leader.value() < 0) return failed(error_code::coordinator_not_available);
        const auto it = img->brokers.find(st->leader.value());
        if (it == img->brokers.end() || it->second.fenced) return failed(error_code::coordinator_not_available);
        return {error_code::none, st->leader, it->second.host, it->second.port};
    }

    template <typename Broker>
    static void handle(request_context<Broker>& ctx, net::responder r) {
        using namespace wire::find_coordinator;
        auto req = decode_request<request>(ctx);
        if (!req) return r.complete(net::close_connection);
        const auto v = ctx.header.version;
        const bool group = req->key_type == coordinator_type::group;
        // Creating __consumer_offsets writes the topic table: not on the event loop.
        if (group && !ctx.on_worker && !ctx.broker.cluster_mode() &&
            !ctx.broker.find_partition(groups::offsets_topic, partition_id{0}))
            return run_on_worker<find_coordinator_handler>(ctx, std::move(r));
        auto lookup = [&](std::string_view key) -> where {
            if (req->key_type == coordinator_type::transaction)
                return {error_code::none, node_id{ctx.broker.config().node_id}, std::string(ctx.advertised_host),
                        ctx.advertised_port};
            if (!group) return failed(error_code::invalid_request);
            if (key.empty()) return failed(error_code::invalid_request);
            return group_coordinator(ctx, key);
        };
        response resp;
        std::vector<where> found; // the answer's views point here
        if (v >= 4) {
            found.reserve(req->coordinator_keys.size());
            for (const auto k : req->coordinator_keys) {
                found.push_back(lookup(k));
                const auto& w = found.back();
                coordinator c;
                c.key = k;
                c.node_id = w.id;
                c.host = w.host;
                c.port = w.port;
                c.error_code = w.error;
                resp.coordinators.push_back(c);
            }
        } else {
            found.push_back(lookup(req->key));
            const auto& w = found.back();
            resp.error_code = w.error;
            resp.node_id = w.id;
            resp.host = w.host;
            resp.port = w.port;
        }
        r.complete(net::response(encode_response(ctx.header, v, resp)));
    }
};

} // namespace gregor::broker_handlers
