// FindCoordinator: which broker coordinates a group (the leader of the group's
// __consumer_offsets partition, docs/groups.md, docs/protocol.md §16.3) or a transactional id (the
// leader of its __transaction_state partition, docs/transactions.md, §15.1). The first lookup of
// each kind creates its topic: on a single broker here (on the worker: it writes the topic table),
// in a cluster through the controller, answering COORDINATOR_NOT_AVAILABLE (retriable) until its
// leaders are known.
// librdkafka needs the API advertised from v0 or it never looks coordinators up (§3.1).
#pragma once

#include <gregor/broker/group_coordinator.hpp>
#include <gregor/broker/handlers/context.hpp>
#include <gregor/broker/txn_coordinator.hpp>
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
    static where coordinator_for(request_context<Broker>& ctx, std::string_view key, bool group) {
        auto& b = ctx.broker;
        const auto& cfg = b.config();
        const auto topic = group ? groups::offsets_topic : txn::state_topic;
        const auto partitions = group ? cfg.offsets_topic_num_partitions : cfg.transaction_state_log_num_partitions;
        const auto p = groups::partition_for(key, partitions);
        if (!b.cluster_mode()) {
            if (auto e = group ? b.ensure_offsets_topic() : b.ensure_txn_topic(); e != error_code::none)
                return failed(error_code::coordinator_not_available);
            // Starts the transaction coordinator, which finishes what a restart left decided.
            if (!group) (void)b.transactions();
            return {error_code::none, node_id{cfg.node_id}, std::string(ctx.advertised_host), ctx.advertised_port};
        }
        auto* m = b.member();
        if (!m) return failed(error_code::coordinator_not_available);
        const auto img = m->image();
        if (!img->find(topic)) {
            std::int16_t live = 0;
            for (const auto& [id, info] : img->brokers) live = static_cast<std::int16_t>(live + (info.fenced ? 0 : 1));
            const auto wanted = group ? cfg.offsets_topic_replication_factor : cfg.transaction_state_log_replication_factor;
            const auto rf = std::max<std::int16_t>(1, std::min(wanted, live));
            m->request_topic(std::string(topic), partitions, rf, group ? b.offsets_topic_configs() : b.txn_topic_configs());
            return failed(error_code::coordinator_not_available);
        }
        if (!group) (void)b.transactions();
        const auto* st = img->find(topic, partition_id{p});
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
        const bool txn = req->key_type == coordinator_type::transaction;
        // Creating __consumer_offsets or __transaction_state writes the topic table, and starting
        // the transaction coordinator may replay its log: not on the event loop.
        if ((group || txn) && !ctx.on_worker &&
            ((!ctx.broker.cluster_mode() &&
              !ctx.broker.find_partition(group ? groups::offsets_topic : txn::state_topic, partition_id{0})) ||
             txn))
            return run_on_worker<find_coordinator_handler>(ctx, std::move(r));
        auto lookup = [&](std::string_view key) -> where {
            if (!group && !txn) return failed(error_code::invalid_request);
            if (key.empty()) return failed(error_code::invalid_request);
            return coordinator_for(ctx, key, group);
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
