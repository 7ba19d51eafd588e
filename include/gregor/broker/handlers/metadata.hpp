// Metadata: brokers, controller, and per topic its id and per partition leader, leader epoch,
// replicas and ISR from the topic table (today this node for all of them, so clients send
// everything here). Auto-creates topics when the request and auto.create.topics.enable allow; such
// a request is answered from the server's background_worker, as creating writes the topic table.
#pragma once

#include <gregor/broker/cluster_member.hpp>
#include <gregor/broker/group_coordinator.hpp>
#include <gregor/broker/handlers/context.hpp>
#include <gregor/broker/topic_table.hpp>
#include <gregor/core/error.hpp>
#include <gregor/core/strong_types.hpp>
#include <gregor/net/response.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/messages/metadata.hpp>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace gregor::broker_handlers {

struct metadata_handler {
    using api = wire::metadata_api;
    // v7 leader epochs, v8-10 authorized operations, v9 flexible, v10 topic ids (from the topic
    // table), v12 topics asked for by id alone. Leader epochs make newer librdkafka and Java
    // clients validate positions with OffsetForLeaderEpoch only when the broker advertises that
    // API, so reporting them is safe before replication serves it (docs/protocol.md §10).
    static constexpr wire::version_range served{0, 12};

    // Without ACLs every operation is allowed; the bit of operation N is 1 << N (Kafka's
    // AclOperation codes: READ 3, WRITE 4, CREATE 5, DELETE 6, ALTER 7, DESCRIBE 8,
    // CLUSTER_ACTION 9, DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11, IDEMPOTENT_WRITE 12).
    static constexpr std::int32_t topic_operations =
        (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 10) | (1 << 11);
    static constexpr std::int32_t cluster_operations =
        (1 << 5) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12);

    template <typename Broker>
    static void handle(request_context<Broker>& ctx, net::responder r) {
        using namespace wire::metadata;
        auto req = decode_request<request>(ctx);
        if (!req) return r.complete(net::close_connection);
        const auto v = ctx.header.version;
        const bool may_create = req->topics && (v < 4 || req->allow_auto_topic_creation);
        if (auto* m = ctx.broker.member()) return handle_cluster(ctx, std::move(r), *req, *m, may_create);
        if (may_create && !ctx.on_worker && ctx.broker.config().auto_create_topics_enable) {
            // Creating a topic writes the topic table (fsync): not on the loop.
            for (const auto& t : *req->topics)
                if (t.name.data() != nullptr && !t.name.empty() &&
                    ctx.broker.describe_topic(t.name, false).error == error_code::unknown_topic_or_partition)
                    return run_on_worker<metadata_handler>(ctx, std::move(r));
        }
        const node_id self{ctx.broker.config().node_id};
        response resp;
        resp.brokers.push_back({self, ctx.advertised_host, ctx.advertised_port, std::nullopt});
        resp.cluster_id = ctx.cluster_id;
        resp.controller_id = self;
        if (req->include_cluster_authorized_operations) resp.cluster_authorized_operations = cluster_operations;
        // The response holds views: the names it points at must outlive the encoding.
        struct found_topic {
            std::string name;
            typename Broker::topic_info info;
            wire::uuid id{};
            bool by_unknown_id = false;
        };
        std::vector<found_topic> found;
        if (!req->topics) {
            for (auto& [name, n] : ctx.broker.list_topics()) found.push_back({name, {error_code::none, n}, {}, false});
        } else {
            for (const auto& t : *req->topics) {
                if (t.name.data() == nullptr || (t.name.empty() && t.topic_id != wire::uuid{})) {
                    // v10+: asked for by id.
                    auto name = ctx.broker.topic_name_of(t.topic_id);
                    if (!name) {
                        found.push_back({{}, {error_code::unknown_topic_id, 0}, t.topic_id, true});
                        continue;
                    }
                    found.push_back({*name, ctx.broker.describe_topic(*name, false), t.topic_id, false});
                    continue;
                }
                // Created only on the worker: a topic deleted since the check above is answered
                // UNKNOWN_TOPIC_OR_PARTITION (clients retry) rather than created on the loop.
                found.push_back(
                    {std::string(t.name), ctx.broker.describe_topic(t.name, may_create && ctx.on_worker), {}, false});
            }
        }
        resp.topics.reserve(found.size());
        for (auto& f : found) {
            wire::metadata::topic t;
            // An unknown id is answered with a null name (v12) and the id it asked for.
            t.name = f.by_unknown_id ? std::string_view{} : std::string_view{f.name};
            t.is_internal = f.name == groups::offsets_topic; // docs/protocol.md §16.3
            t.error_code = f.info.error;
            t.topic_id = f.id;
            std::optional<topic_record> rec;
            if (f.info.error == error_code::none) rec = ctx.broker.topic_metadata(f.name);
            if (rec) t.topic_id = rec->id;
            if (req->include_topic_authorized_operations && f.info.error == error_code::none)
                t.topic_authorized_operations = topic_operations;
            for (std::int32_t i = 0; i < f.info.partition_count; ++i) {
                wire::metadata::partition p;
                p.partition_index = partition_id{i};
                p.leader_id = self;
                p.replica_nodes = {self};
                p.isr_nodes = {self};
                if (rec && static_cast<std::size_t>(i) < rec->partitions.size()) {
                    const auto& a = rec->partitions[static_cast<std::size_t>(i)];
                    p.leader_id = a.leader;
                    p.leader_epoch = a.epoch;
                    p.replica_nodes = a.replicas;
                    p.isr_nodes = a.isr;
                }
                t.partitions.push_back(std::move(p));
            }
            resp.topics.push_back(std::move(t));
        }
        r.complete(net::response(encode_response(ctx.header, v, resp)));
    }

private:
    // A node of a cluster answers from the metadata log's image (docs/replication.md): the
    // registered, unfenced brokers; each partition's leader (-1 and LEADER_NOT_AVAILABLE while
    // it has none), leader epoch, replicas, ISR and the replicas that are not alive. A topic it
    // does not know is asked of the controller when auto-creation is allowed, and answered
    // LEADER_NOT_AVAILABLE meanwhile (clients retry), as Kafka does.
    template <typename Broker, typename Member>
    static void handle_cluster(request_context<Broker>& ctx, net::responder r, const wire::metadata::request& req,
                               Member& m, bool may_create) {
        using namespace wire::metadata;
        const auto v = ctx.header.version;
        const auto img = m.image();
        response resp;
        for (const auto& [id, b] : img->brokers)
            if (!b.fenced) resp.brokers.push_back({b.id, b.host, b.port, std::nullopt});
        // Before it has registered (or while fenced) a node still names itself: a client that
        // bootstrapped here keeps a broker to ask again.
        const node_id self{ctx.broker.config().node_id};
        if (std::none_of(resp.brokers.begin(), resp.brokers.end(), [&](const auto& b) { return b.node_id == self; }))
            resp.brokers.push_back({self, ctx.advertised_host, ctx.advertised_port, std::nullopt});
        resp.cluster_id = ctx.cluster_id;
        // Clients send admin requests to the controller; with it fenced, any live broker (which
        // answers NOT_CONTROLLER where it must).
        resp.controller_id = img->alive(m.controller_id()) || resp.brokers.empty() ? m.controller_id()
                                                                                     : resp.brokers.front().node_id;
        if (req.include_cluster_authorized_operations) resp.cluster_authorized_operations = cluster_operations;
        const auto add = [&](const cluster::topic_info& ti) {
            topic t;
            t.name = ti.name;
            t.is_internal = ti.name == groups::offsets_topic;
            t.topic_id = ti.id;
            if (req.include_topic_authorized_operations) t.topic_authorized_operations = topic_operations;
            for (std::size_t i = 0; i < ti.partitions.size(); ++i) {
                const auto& s = ti.partitions[i];
                partition p;
                p.partition_index = partition_id{static_cast<std::int32_t>(i)};
                p.leader_id = s.leader;
                p.leader_epoch = s.leader_epoch;
                p.replica_nodes = s.replicas;
                p.isr_nodes = s.isr;
                for (const auto rep : s.replicas)
                    if (!img->alive(rep)) p.offline_replicas.push_back(rep);
                if (s.leader == node_id{-1}) p.error_code = error_code::leader_not_available;
                t.partitions.push_back(std::move(p));
            }
            resp.topics.push_back(std::move(t));
        };
        if (!req.topics) {
            for (const auto& [name, ti] : img->topics) add(ti);
        } else {
            for (const auto& t : *req.topics) {
                const cluster::topic_info* ti = nullptr;
                if (t.name.data() == nullptr || (t.name.empty() && t.topic_id != wire::uuid{})) {
                    for (const auto& [name, x] : img->topics)
                        if (x.id == t.topic_id) ti = &x;
                    if (!ti) {
                        topic u;
                        u.error_code = error_code::unknown_topic_id;
                        u.topic_id = t.topic_id;
                        resp.topics.push_back(std::move(u));
                        continue;
                    }
                } else {
                    ti = img->find(t.name);
                }
                if (ti) {
                    add(*ti);
                    continue;
                }
                topic u;
                u.name = t.name;
                if (!ctx.broker.topic_name_problem_of(t.name).empty()) {
                    u.error_code = error_code::invalid_topic_exception;
                } else if (may_create && ctx.broker.config().auto_create_topics_enable && t.name != groups::offsets_topic) {
                    m.request_topic(std::string(t.name));
                    u.error_code = error_code::leader_not_available;
                } else {
                    u.error_code = error_code::unknown_topic_or_partition;
                }
                resp.topics.push_back(std::move(u));
            }
        }
        r.complete(net::response(encode_response(ctx.header, v, resp)));
    }
};

} // namespace gregor::broker_handlers
