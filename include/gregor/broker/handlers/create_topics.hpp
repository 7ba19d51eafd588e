// CreateTopics: each topic through broker::create_topic (docs/protocol.md §17), which checks the
// name, existence, configs, replica assignment and counts in Kafka's order. A name given twice in
// one request creates nothing and is answered once with INVALID_REQUEST "Duplicate topic name.",
// as Kafka does; a null config value is INVALID_CONFIG. v5+ successes carry the partition count,
// replication factor and every config of the topic (what validate_only would create, for a check
// only), v7 the new topic id.
#pragma once

#include <gregor/broker/admin.hpp>
#include <gregor/broker/handlers/cluster_admin.hpp>
#include <gregor/broker/handlers/context.hpp>
#include <gregor/broker/topic_config.hpp>
#include <gregor/core/error.hpp>
#include <gregor/core/strong_types.hpp>
#include <gregor/net/response.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/messages/create_topics.hpp>

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gregor::broker_handlers {

struct create_topics_handler {
    using api = wire::create_topics_api;
    // v1 validate_only, v4 -1 = broker defaults, v5 flexible with the created topic's configs, v7
    // topic ids.
    static constexpr wire::version_range served{0, 7};
    // Writes the topic table or a checkpoint (fsync): run on the server's background_worker.
    static constexpr bool off_loop = true;

    template <typename Broker>
    static void handle(request_context<Broker>& ctx, net::responder r) {
        using namespace wire::create_topics;
        auto req = decode_request<request>(ctx);
        if (!req) return r.complete(net::close_connection);
        const auto v = ctx.header.version;
        const bool validate_only = v >= 1 && req->validate_only;

        // The response holds views: messages and config entries live here until the encoding.
        std::deque<std::string> messages;
        std::deque<std::vector<config_entry>> described;
        const auto message = [&](std::string m) -> std::string_view { return messages.emplace_back(std::move(m)); };

        std::map<std::string_view, int> uses;
        for (const auto& t : req->topics) ++uses[t.name];
        std::set<std::string_view> answered_duplicates;

        response resp;
        for (const auto& t : req->topics) {
            creatable_topic_result res;
            res.name = t.name;
            if (uses[t.name] > 1) {
                if (!answered_duplicates.insert(t.name).second) continue;
                res.error_code = error_code::invalid_request;
                res.error_message = "Duplicate topic name.";
                resp.topics.push_back(std::move(res));
                continue;
            }
            create_topic_request creq;
            const auto problem = to_request(t, validate_only, creq);
            const auto ar = problem ? *problem : cluster_admin::create_topic(ctx.broker, t.name, creq);
            if (!ar) {
                res.error_code = ar.error;
                res.error_message = message(ar.message);
                resp.topics.push_back(std::move(res));
                continue;
            }
            if (v >= 5) describe_created(ctx, t.name, creq, res, described);
            resp.topics.push_back(std::move(res));
        }
        r.complete(net::response(encode_response(ctx.header, v, resp)));
    }

private:
    /// Fills `out` from the request's topic, or says what makes it invalid before the broker is
    /// asked: a null config value (INVALID_CONFIG), or an assignment whose partition indexes are not
    /// 0..n-1 once each (INVALID_REPLICA_ASSIGNMENT).
    static std::optional<admin_result> to_request(const wire::create_topics::creatable_topic& t, bool validate_only,
                                                  create_topic_request& out) {
        out.partitions = t.num_partitions;
        out.replication_factor = t.replication_factor;
        out.validate_only = validate_only;
        std::string null_configs;
        for (const auto& c : t.configs) {
            if (!c.value) {
                null_configs += (null_configs.empty() ? "" : ",") + std::string(c.name);
                continue;
            }
            out.configs[std::string(c.name)] = std::string(*c.value);
        }
        if (!null_configs.empty())
            return admin_result{error_code::invalid_config,
                                "Null value not supported for topic configs: " + null_configs};
        if (t.assignments.empty()) return std::nullopt;
        // The broker checks the numbers being -1 first (INVALID_REQUEST); leave that to it.
        if (t.num_partitions != -1 || t.replication_factor != -1) {
            for (const auto& a : t.assignments) {
                auto& replicas = out.assignment.emplace_back();
                for (const auto b : a.broker_ids) replicas.push_back(b.value());
            }
            return std::nullopt;
        }
        const auto n = t.assignments.size();
        out.assignment.assign(n, {});
        std::vector<bool> seen(n, false);
        for (const auto& a : t.assignments) {
            const auto i = a.partition_index.value();
            if (i < 0 || static_cast<std::size_t>(i) >= n)
                return admin_result{error_code::invalid_replica_assignment,
                                    "Partitions should be a consecutive 0-based integer sequence, but the manual "
                                    "partition assignment includes partition " +
                                        std::to_string(i) + "."};
            if (seen[static_cast<std::size_t>(i)])
                return admin_result{error_code::invalid_replica_assignment,
                                    "Found multiple manual partition assignments for partition " + std::to_string(i)};
            seen[static_cast<std::size_t>(i)] = true;
            for (const auto b : a.broker_ids) out.assignment[static_cast<std::size_t>(i)].push_back(b.value());
        }
        return std::nullopt;
    }

    /// v5+: the created topic's partition count, replication factor and configs (v7: its id). For
    /// validate_only, what creating it would have made.
    template <typename Broker>
    static void describe_created(request_context<Broker>& ctx, std::string_view name, const create_topic_request& creq,
                                 wire::create_topics::creatable_topic_result& res,
                                 std::deque<std::vector<config_entry>>& described) {
        const auto& cfg = ctx.broker.config();
        std::optional<std::vector<config_entry>> entries;
        if (creq.validate_only) {
            if (!creq.assignment.empty()) {
                res.num_partitions = static_cast<std::int32_t>(creq.assignment.size());
                res.replication_factor = static_cast<std::int16_t>(creq.assignment.front().size());
            } else {
                res.num_partitions = creq.partitions == -1 ? cfg.num_partitions : creq.partitions;
                res.replication_factor =
                    creq.replication_factor == -1 ? cfg.default_replication_factor : creq.replication_factor;
            }
            try {
                entries = describe_topic_config_entries(cfg, creq.configs);
            } catch (const std::invalid_argument&) {
                // Validated by create_topic already; leave the configs out if not.
            }
        } else {
            if (const auto rec = cluster_admin::topic_metadata(ctx.broker, name)) {
                res.topic_id = rec->id;
                res.num_partitions = static_cast<std::int32_t>(rec->partitions.size());
                if (!rec->partitions.empty())
                    res.replication_factor = static_cast<std::int16_t>(rec->partitions.front().replicas.size());
            }
            entries = cluster_admin::describe_topic_configs(ctx.broker, name);
        }
        if (!entries) {
            // Gone again already (deleted in between): no configs to tell.
            res.topic_config_error_code = error_code::unknown_topic_or_partition;
            return;
        }
        const auto& kept = described.emplace_back(std::move(*entries));
        res.configs.emplace();
        res.configs->reserve(kept.size());
        for (const auto& e : kept) {
            wire::create_topics::creatable_topic_configs c;
            c.name = e.name;
            if (e.value && !e.sensitive) c.value = std::string_view{*e.value};
            c.read_only = e.read_only;
            c.config_source = static_cast<std::int8_t>(e.source);
            c.is_sensitive = e.sensitive;
            res.configs->push_back(c);
        }
    }
};

} // namespace gregor::broker_handlers
