// Where the admin handlers send topic changes: on a single node to the broker itself; in a
// cluster to the controller (docs/replication.md), which decides and logs them, and every node
// applies them from the metadata log. A cluster node that is not the controller answers
// NOT_CONTROLLER, and clients resend to the controller Metadata names.
#pragma once

#include <gregor/broker/admin.hpp>
#include <gregor/broker/controller.hpp>
#include <gregor/broker/topic_config.hpp>
#include <gregor/broker/topic_table.hpp>
#include <gregor/core/error.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gregor::broker_handlers::cluster_admin {

inline admin_result not_controller() { return {error_code::not_controller, "This broker is not the controller."}; }

template <typename Broker>
admin_result create_topic(Broker& b, std::string_view name, const create_topic_request& req) {
    if (!b.cluster_mode()) return b.create_topic(name, req);
    if (auto* c = b.controller()) return c->create_topic(name, req);
    return not_controller();
}

template <typename Broker>
admin_result delete_topic(Broker& b, std::string_view name) {
    if (!b.cluster_mode()) return b.delete_topic(name);
    if (auto* c = b.controller()) return c->delete_topic(name);
    return not_controller();
}

template <typename Broker>
admin_result create_partitions(Broker& b, std::string_view name, std::int32_t total, bool validate_only) {
    if (!b.cluster_mode()) return b.create_partitions(name, total, validate_only);
    if (auto* c = b.controller()) return c->create_partitions(name, total, validate_only);
    return not_controller();
}

/// The topic's table entry: the controller's view in a cluster (the topic may not have reached
/// this node's own table yet), else this broker's.
template <typename Broker>
std::optional<topic_record> topic_metadata(Broker& b, std::string_view name) {
    if (auto* c = b.controller()) {
        const auto t = c->topic(name);
        if (!t) return std::nullopt;
        topic_record rec;
        rec.name = t->name;
        rec.id = t->id;
        rec.configs = t->configs;
        for (const auto& s : t->partitions) rec.partitions.push_back({s.replicas, s.leader, s.leader_epoch, s.isr});
        return rec;
    }
    return b.topic_metadata(name);
}

/// DescribeConfigs entries of a topic, from the controller's view in a cluster.
template <typename Broker>
std::optional<std::vector<config_entry>> describe_topic_configs(Broker& b, std::string_view name) {
    if (auto* c = b.controller()) {
        const auto t = c->topic(name);
        if (!t) return std::nullopt;
        return describe_topic_config_entries(b.config(), t->configs, {});
    }
    return b.describe_topic_configs(name);
}

} // namespace gregor::broker_handlers::cluster_admin
