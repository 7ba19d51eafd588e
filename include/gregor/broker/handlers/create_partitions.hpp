// CreatePartitions (docs/protocol.md §17): each topic grows to `count` partitions through
// broker::create_partitions (UNKNOWN_TOPIC_OR_PARTITION; INVALID_PARTITIONS when not above the
// current count; validate_only checks only). Explicit assignments must name one replica list per
// new partition, each of this node only (the one broker there is) and as long as the topic's
// replication factor, else INVALID_REPLICA_ASSIGNMENT. As Kafka: a topic given twice grows nothing
// and is answered once with INVALID_REQUEST "Duplicate topic name.".
#pragma once

#include <gregor/broker/admin.hpp>
#include <gregor/broker/handlers/cluster_admin.hpp>
#include <gregor/broker/handlers/context.hpp>
#include <gregor/core/error.hpp>
#include <gregor/core/strong_types.hpp>
#include <gregor/net/response.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/messages/create_partitions.hpp>

#include <cstddef>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>

namespace gregor::broker_handlers {

struct create_partitions_handler {
    using api = wire::create_partitions_api;
    // v2 flexible, v3 = v2.
    static constexpr wire::version_range served{0, 3};
    // Writes the topic table or a checkpoint (fsync): run on the server's background_worker.
    static constexpr bool off_loop = true;

    template <typename Broker>
    static void handle(request_context<Broker>& ctx, net::responder r) {
        using namespace wire::create_partitions;
        auto req = decode_request<request>(ctx);
        if (!req) return r.complete(net::close_connection);

        std::map<std::string_view, int> uses;
        for (const auto& t : req->topics) ++uses[t.name];
        std::set<std::string_view> answered_duplicates;
        std::deque<std::string> messages; // the response holds views

        response resp;
        for (const auto& t : req->topics) {
            topic_result out;
            out.name = t.name;
            if (uses[t.name] > 1) {
                if (!answered_duplicates.insert(t.name).second) continue;
                out.error_code = error_code::invalid_request;
                out.error_message = "Duplicate topic name.";
                resp.results.push_back(out);
                continue;
            }
            auto ar = check_assignments(ctx, t);
            if (ar) ar = cluster_admin::create_partitions(ctx.broker, t.name, t.count, req->validate_only);
            if (!ar) {
                out.error_code = ar.error;
                out.error_message = messages.emplace_back(std::move(ar.message));
            }
            resp.results.push_back(out);
        }
        r.complete(net::response(encode_response(ctx.header, ctx.header.version, resp)));
    }

private:
    /// Explicit assignments: one list per new partition, each [this node], as long as the topic's
    /// replication factor. Null assignments (and unknown topics, left to the broker) pass.
    template <typename Broker>
    static admin_result check_assignments(request_context<Broker>& ctx, const wire::create_partitions::topic& t) {
        if (!t.assignments) return {};
        if (ctx.broker.cluster_mode())
            return {error_code::invalid_replica_assignment,
                    "Manual partition assignment is not supported by a gregor cluster yet."};
        const auto rec = ctx.broker.topic_metadata(t.name);
        if (!rec) return {};
        const auto current = static_cast<std::int64_t>(rec->partitions.size());
        const auto additional = static_cast<std::int64_t>(t.count) - current;
        if (additional <= 0) return {}; // INVALID_PARTITIONS from the broker
        if (static_cast<std::int64_t>(t.assignments->size()) != additional)
            return {error_code::invalid_replica_assignment,
                    "Attempted to add " + std::to_string(additional) + " additional partition(s), but only " +
                        std::to_string(t.assignments->size()) + " assignment(s) were specified."};
        const std::size_t rf = rec->partitions.empty() ? 1 : rec->partitions.front().replicas.size();
        const node_id self{ctx.broker.config().node_id};
        for (const auto& a : *t.assignments) {
            if (a.broker_ids.empty())
                return {error_code::invalid_replica_assignment,
                        "The manual partition assignment includes an empty replica list."};
            for (std::size_t i = 0; i < a.broker_ids.size(); ++i) {
                if (a.broker_ids[i] != self)
                    return {error_code::invalid_replica_assignment, "The manual partition assignment includes broker " +
                                                                        std::to_string(a.broker_ids[i].value()) +
                                                                        ", but no such broker is registered."};
                if (i > 0)
                    return {error_code::invalid_replica_assignment,
                            "The manual partition assignment includes the broker " + std::to_string(self.value()) +
                                " more than once."};
            }
            if (a.broker_ids.size() != rf)
                return {error_code::invalid_replica_assignment,
                        "The manual partition assignment includes a partition with " +
                            std::to_string(a.broker_ids.size()) +
                            " replica(s), but this is not consistent with previous partitions, which have " +
                            std::to_string(rf) + " replica(s)."};
        }
        return {};
    }
};

} // namespace gregor::broker_handlers
