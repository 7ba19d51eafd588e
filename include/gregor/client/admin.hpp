// gregor::admin: managing topics and configs on any Kafka cluster -- a gregor-broker, Apache Kafka,
// librdkafka's mock cluster -- over the client layer (client/cluster.hpp), the way Kafka's Admin
// client does: CreateTopics, DeleteTopics and CreatePartitions go to the controller, topic configs
// to the controller too, DeleteRecords to each partition's leader, DescribeCluster and Metadata to
// any broker (docs/admin.md, docs/protocol.md §17).
//
//   gregor::admin::client a({.bootstrap_servers = "127.0.0.1:9092"});
//   auto r = a.create_topics({{.name = "orders", .partitions = 6, .configs = {{"retention.ms", "86400000"}}}});
//   if (r[0].error) std::cerr << r[0].error.message() << ": " << r[0].message << "\n";
//
// Each call sends its request(s), runs the network on the calling thread until the answers are in
// or `timeout` passed, and returns per-item results: `error` is a Kafka error code (kafka_category)
// or, when no broker answered, NETWORK_EXCEPTION / REQUEST_TIMED_OUT; `message` is the broker's
// error message when it sent one. NOT_CONTROLLER and lost connections are retried (after a
// metadata refresh) until the timeout.
//
// gregor::admin::in_process<Broker> offers the same calls, with the same results, on a broker in
// this process (an embedded gregor::broker): no sockets, the broker's own admin operations.
//
// Thread-safety: one thread at a time per client.
#pragma once

#include <gregor/broker/admin.hpp>
#include <gregor/client/cluster.hpp>
#include <gregor/core/error.hpp>
#include <gregor/core/strong_types.hpp>
#include <gregor/wire/messages/alter_configs.hpp>
#include <gregor/wire/messages/create_partitions.hpp>
#include <gregor/wire/messages/create_topics.hpp>
#include <gregor/wire/messages/delete_records.hpp>
#include <gregor/wire/messages/delete_topics.hpp>
#include <gregor/wire/messages/describe_cluster.hpp>
#include <gregor/wire/messages/describe_configs.hpp>
#include <gregor/wire/messages/incremental_alter_configs.hpp>
#include <gregor/wire/messages/list_offsets.hpp>
#include <gregor/wire/messages/metadata.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace gregor::admin {

struct new_topic {
    std::string name;
    std::int32_t partitions = -1;         // -1: the broker's num.partitions
    std::int16_t replication_factor = -1; // -1: the broker's default.replication.factor
    std::map<std::string, std::string> configs{};
    std::vector<std::vector<std::int32_t>> assignment{}; // replicas per partition (then both -1)
};

/// The outcome for one topic (or resource).
struct result {
    std::string name;
    std::error_code error;
    std::string message;
};

struct partition_description {
    std::int32_t partition = 0;
    std::error_code error;
    std::int32_t leader = -1;
    std::int32_t leader_epoch = -1;
    std::vector<std::int32_t> replicas, isr, offline;
};
struct topic_description {
    std::string name;
    std::error_code error;
    wire::uuid id{};
    bool internal = false;
    std::vector<partition_description> partitions;
};

/// Kafka's DescribeConfigs sources (docs/protocol.md §17.4).
using config_source = wire::describe_configs::config_source;

struct config_entry {
    std::string name;
    std::optional<std::string> value; // null for sensitive entries
    config_source source = config_source::unknown;
    bool read_only = false;
    bool sensitive = false;
    [[nodiscard]] bool is_default() const noexcept { return source == config_source::default_config; }
};
struct config_description {
    std::error_code error;
    std::string message;
    std::vector<config_entry> entries;
};

/// One IncrementalAlterConfigs change.
enum class config_op : std::int8_t { set = 0, remove = 1, append = 2, subtract = 3 };
struct config_change {
    std::string name;
    config_op op = config_op::set;
    std::optional<std::string> value{};
};

struct node_description {
    std::int32_t id = -1;
    std::string host;
    std::int32_t port = -1;
    std::optional<std::string> rack;
};
struct cluster_description {
    std::error_code error;
    std::string cluster_id;
    std::int32_t controller = -1;
    std::vector<node_description> brokers;
};

struct records_deleted {
    std::int32_t partition = 0;
    std::error_code error;
    std::int64_t low_watermark = -1;
};

struct offset_answer {
    std::error_code error;
    std::int64_t offset = -1;
    std::int64_t timestamp = -1;
};

/// Which broker resource a config call names.
enum class resource { topic = 2, broker = 4 };

class client {
public:
    using duration = std::chrono::milliseconds;

    /// Throws std::invalid_argument for an empty or malformed bootstrap list.
    explicit client(gregor::client::cluster_config cfg) : c_(std::move(cfg)) {}
    explicit client(const std::string& bootstrap_servers, duration request_timeout = std::chrono::seconds(30))
            : c_(make_config(bootstrap_servers, request_timeout)) {}

    /// The client layer underneath (metadata cache, raw send).
    [[nodiscard]] gregor::client::cluster& cluster() noexcept { return c_; }

    std::vector<result> create_topics(const std::vector<new_topic>& topics, bool validate_only = false,
                                      duration timeout = std::chrono::seconds(30)) {
        wire::create_topics::request req;
        req.timeout_ms = static_cast<std::int32_t>(timeout.count());
        req.validate_only = validate_only;
        for (const auto& t : topics) {
            wire::create_topics::creatable_topic ct;
            ct.name = t.name;
            ct.num_partitions = t.partitions;
            ct.replication_factor = t.replication_factor;
            for (std::size_t i = 0; i < t.assignment.size(); ++i) {
                wire::create_topics::creatable_replica_assignment a;
                a.partition_index = partition_id{static_cast<std::int32_t>(i)};
                for (auto b : t.assignment[i]) a.broker_ids.push_back(node_id{b});
                ct.assignments.push_back(std::move(a));
            }
            for (const auto& [k, v] : t.configs) ct.configs.push_back({k, std::string_view(v)});
            req.topics.push_back(std::move(ct));
        }
        std::vector<result> out;
        run(gregor::client::destination::controller(), req, timeout, [&](auto& rep) {
            out.clear();
            if (rep.error) return fail_all(out, topics, rep.error);
            for (const auto& t : rep.body->topics) out.push_back(item(t.name, t.error_code, t.error_message));
            return controller_moved(out);
        });
        return out;
    }

    std::vector<result> delete_topics(const std::vector<std::string>& names,
                                      duration timeout = std::chrono::seconds(30)) {
        wire::delete_topics::request req;
        req.timeout_ms = static_cast<std::int32_t>(timeout.count());
        for (const auto& n : names) {
            req.topic_names.push_back(n);
            req.topics.push_back({n, {}});
        }
        std::vector<result> out;
        run(gregor::client::destination::controller(), req, timeout, [&](auto& rep) {
            out.clear();
            if (rep.error) return fail_all(out, names, rep.error);
            for (const auto& t : rep.body->responses)
                out.push_back(item(t.name.data() ? t.name : std::string_view{}, t.error_code, t.error_message));
            return controller_moved(out);
        });
        return out;
    }

    /// Grows each topic to the given total partition count.
    std::vector<result> create_partitions(const std::map<std::string, std::int32_t>& totals, bool validate_only = false,
                                          duration timeout = std::chrono::seconds(30)) {
        wire::create_partitions::request req;
        req.timeout_ms = static_cast<std::int32_t>(timeout.count());
        req.validate_only = validate_only;
        for (const auto& [n, count] : totals) req.topics.push_back({n, count, std::nullopt});
        std::vector<result> out;
        run(gregor::client::destination::controller(), req, timeout, [&](auto& rep) {
            out.clear();
            if (rep.error) {
                for (const auto& [n, c] : totals) out.push_back({n, rep.error, {}});
                return retry_on(rep.error);
            }
            for (const auto& t : rep.body->results) out.push_back(item(t.name, t.error_code, t.error_message));
            return controller_moved(out);
        });
        return out;
    }

    /// Every topic name (Metadata for all topics), sorted; internal topics left out unless asked.
    std::vector<std::string> list_topics(bool include_internal = false, duration timeout = std::chrono::seconds(30)) {
        std::vector<std::string> out;
        for (const auto& t : describe_topics(std::nullopt, timeout))
            if (!t.error && (include_internal || !t.internal)) out.push_back(t.name);
        std::sort(out.begin(), out.end());
        return out;
    }

    /// Partitions, leaders, replicas and ISR of `names` (nullopt: every topic). A topic that does
    /// not exist is answered with UNKNOWN_TOPIC_OR_PARTITION; a failure to reach any broker with
    /// one entry named "" carrying the error.
    std::vector<topic_description> describe_topics(std::optional<std::vector<std::string>> names,
                                                   duration timeout = std::chrono::seconds(30)) {
        wire::metadata::request req;
        if (names) {
            req.topics.emplace();
            for (const auto& n : *names) req.topics->push_back({n, {}});
        }
        req.allow_auto_topic_creation = false;
        std::vector<topic_description> out;
        run(gregor::client::destination::any(), req, timeout, [&](auto& rep) {
            out.clear();
            if (rep.error) {
                out.push_back({"", rep.error, {}, false, {}});
                return retry_on(rep.error);
            }
            for (const auto& t : rep.body->topics) {
                topic_description d;
                d.name = std::string(t.name.data() ? t.name : std::string_view{});
                if (t.error_code != error_code::none) d.error = make_error_code(t.error_code);
                d.id = t.topic_id;
                d.internal = t.is_internal;
                for (const auto& p : t.partitions) {
                    partition_description pd;
                    pd.partition = p.partition_index.value();
                    if (p.error_code != error_code::none) pd.error = make_error_code(p.error_code);
                    pd.leader = p.leader_id.value();
                    pd.leader_epoch = p.leader_epoch.value();
                    for (auto x : p.replica_nodes) pd.replicas.push_back(x.value());
                    for (auto x : p.isr_nodes) pd.isr.push_back(x.value());
                    for (auto x : p.offline_replicas) pd.offline.push_back(x.value());
                    d.partitions.push_back(std::move(pd));
                }
                std::sort(d.partitions.begin(), d.partitions.end(),
                          [](const auto& a, const auto& b) { return a.partition < b.partition; });
                out.push_back(std::move(d));
            }
            std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
            return false;
        });
        return out;
    }

    /// The configs of a topic, or of broker `name` (its id in decimal) with resource::broker.
    config_description describe_configs(resource type, const std::string& name,
                                        duration timeout = std::chrono::seconds(30)) {
        wire::describe_configs::request req;
        req.resources.push_back({static_cast<wire::describe_configs::resource_type>(type), name, std::nullopt});
        config_description out;
        const auto dest = type == resource::broker && !name.empty() ? gregor::client::destination::node(std::stoi(name))
                                                                    : gregor::client::destination::controller();
        run(dest, req, timeout, [&](auto& rep) {
            out = {};
            if (rep.error) {
                out.error = rep.error;
                return retry_on(rep.error);
            }
            if (rep.body->results.empty()) {
                out.error = make_error_code(error_code::unknown_server_error);
                return false;
            }
            const auto& r = rep.body->results.front();
            if (r.error_code != error_code::none) out.error = make_error_code(r.error_code);
            if (r.error_message) out.message = std::string(*r.error_message);
            for (const auto& c : r.configs) {
                config_entry e;
                e.name = std::string(c.name);
                if (c.value) e.value = std::string(*c.value);
                e.source = c.config_source != config_source::not_given ? c.config_source
                           : c.is_default                              ? config_source::default_config
                                                                       : config_source::unknown;
                e.read_only = c.read_only;
                e.sensitive = c.is_sensitive;
                out.entries.push_back(std::move(e));
            }
            return r.error_code == error_code::not_controller;
        });
        return out;
    }

    /// Changes some configs of a topic (the others keep their values): IncrementalAlterConfigs
    /// where the broker has it, else AlterConfigs with the topic's current overrides merged in
    /// (AlterConfigs replaces the whole set; docs/protocol.md §17.5, §17.6).
    result alter_configs(resource type, const std::string& name, const std::vector<config_change>& changes,
                         bool validate_only = false, duration timeout = std::chrono::seconds(30)) {
        if (supports(wire::api_key::incremental_alter_configs)) {
            wire::incremental_alter_configs::request req;
            req.validate_only = validate_only;
            wire::incremental_alter_configs::resource res;
            res.resource_type = static_cast<wire::incremental_alter_configs::resource_type>(type);
            res.resource_name = name;
            for (const auto& ch : changes)
                res.configs.push_back({ch.name, static_cast<wire::incremental_alter_configs::config_operation>(ch.op),
                                       ch.value ? std::optional<std::string_view>(*ch.value) : std::nullopt});
            req.resources.push_back(std::move(res));
            return alter_answer(type, name, req, timeout);
        }
        // AlterConfigs: current overrides, then the changes on top.
        std::map<std::string, std::string> full;
        if (type == resource::topic) {
            const auto cur = describe_configs(type, name, timeout);
            if (cur.error) return {name, cur.error, cur.message};
            for (const auto& e : cur.entries)
                if (e.source == config_source::topic_config && e.value) full[e.name] = *e.value;
        }
        for (const auto& ch : changes) {
            if (ch.op == config_op::remove) {
                full.erase(ch.name);
            } else if (ch.op == config_op::set) {
                full[ch.name] = ch.value.value_or("");
            } else {
                return {name, make_error_code(error_code::unsupported_version),
                        "APPEND/SUBTRACT need IncrementalAlterConfigs, which the broker does not offer"};
            }
        }
        wire::alter_configs::request req;
        req.validate_only = validate_only;
        wire::alter_configs::resource res;
        res.resource_type = static_cast<wire::alter_configs::resource_type>(type);
        res.resource_name = name;
        for (const auto& [k, v] : full) res.configs.push_back({k, std::string_view(v)});
        req.resources.push_back(std::move(res));
        return alter_answer(type, name, req, timeout);
    }

    /// Cluster id, controller and brokers: DescribeCluster where the broker has it, else Metadata.
    cluster_description describe_cluster(duration timeout = std::chrono::seconds(30)) {
        cluster_description out;
        if (supports(wire::api_key::describe_cluster)) {
            run(gregor::client::destination::any(), wire::describe_cluster::request{}, timeout, [&](auto& rep) {
                out = {};
                if (rep.error) {
                    out.error = rep.error;
                    return retry_on(rep.error);
                }
                if (rep.body->error_code != error_code::none) out.error = make_error_code(rep.body->error_code);
                out.cluster_id = std::string(rep.body->cluster_id);
                out.controller = rep.body->controller_id.value();
                for (const auto& b : rep.body->brokers)
                    out.brokers.push_back({b.broker_id.value(), std::string(b.host), b.port,
                                           b.rack ? std::optional<std::string>(std::string(*b.rack)) : std::nullopt});
                return false;
            });
            return out;
        }
        wire::metadata::request req;
        req.topics.emplace();
        run(gregor::client::destination::any(), req, timeout, [&](auto& rep) {
            out = {};
            if (rep.error) {
                out.error = rep.error;
                return retry_on(rep.error);
            }
            out.cluster_id = std::string(rep.body->cluster_id.value_or(""));
            out.controller = rep.body->controller_id.value();
            for (const auto& b : rep.body->brokers)
                out.brokers.push_back({b.node_id.value(), std::string(b.host), b.port,
                                       b.rack ? std::optional<std::string>(std::string(*b.rack)) : std::nullopt});
            return false;
        });
        return out;
    }

    /// Deletes the records of `topic` below the given offsets (per partition; -1 = the high
    /// watermark), each partition at its leader. Returns the new low watermarks.
    std::vector<records_deleted> delete_records(const std::string& topic,
                                                const std::map<std::int32_t, std::int64_t>& upto,
                                                duration timeout = std::chrono::seconds(30)) {
        std::vector<records_deleted> out;
        for (const auto& entry : upto) {
            const std::int32_t p = entry.first; // lambdas cannot capture structured bindings (clang)
            const std::int64_t o = entry.second;
            wire::delete_records::request req;
            req.timeout_ms = static_cast<std::int32_t>(timeout.count());
            req.topics.push_back({topic, {{partition_id{p}, offset{o}}}});
            records_deleted rd{p, {}, -1};
            run(gregor::client::destination::leader(topic, p), req, timeout, [&](auto& rep) {
                rd = {p, {}, -1};
                if (rep.error) {
                    rd.error = rep.error;
                    return retry_on(rep.error);
                }
                rd.error = make_error_code(error_code::unknown_topic_or_partition);
                for (const auto& t : rep.body->topics)
                    for (const auto& pr : t.partitions)
                        if (pr.partition_index.value() == p) {
                            rd.error =
                                pr.error_code == error_code::none ? std::error_code{} : make_error_code(pr.error_code);
                            rd.low_watermark = pr.low_watermark.value();
                        }
                return leader_moved(rd.error);
            });
            out.push_back(rd);
        }
        return out;
    }

    /// ListOffsets for one partition: timestamp -2 earliest, -1 latest, else the first offset
    /// whose timestamp is >= it.
    offset_answer list_offset(const std::string& topic, std::int32_t partition, std::int64_t timestamp,
                              duration timeout = std::chrono::seconds(30)) {
        wire::list_offsets::request req;
        req.replica_id = node_id{-1};
        wire::list_offsets::request_topic t;
        t.name = topic;
        wire::list_offsets::request_partition p;
        p.partition_index = partition_id{partition};
        p.timestamp = timestamp;
        t.partitions.push_back(p);
        req.topics.push_back(t);
        offset_answer out;
        run(gregor::client::destination::leader(topic, partition), req, timeout, [&](auto& rep) {
            out = {};
            if (rep.error) {
                out.error = rep.error;
                return retry_on(rep.error);
            }
            out.error = make_error_code(error_code::unknown_topic_or_partition);
            for (const auto& rt : rep.body->topics)
                for (const auto& rp : rt.partitions)
                    if (rp.partition_index.value() == partition) {
                        out.error =
                            rp.error_code == error_code::none ? std::error_code{} : make_error_code(rp.error_code);
                        out.offset = rp.offset.value();
                        out.timestamp = rp.timestamp;
                    }
            return leader_moved(out.error);
        });
        return out;
    }

private:
    static gregor::client::cluster_config make_config(const std::string& bootstrap, duration request_timeout) {
        gregor::client::cluster_config c;
        c.bootstrap_servers = bootstrap;
        c.connection.client_id = "gregor-admin";
        c.connection.request_timeout = request_timeout;
        return c;
    }

    static result item(std::string_view name, error_code e, const std::optional<std::string_view>& msg) {
        result r{std::string(name), {}, {}};
        if (e != error_code::none) r.error = make_error_code(e);
        if (msg) r.message = std::string(*msg);
        return r;
    }
    template <typename Names>
    static bool fail_all(std::vector<result>& out, const Names& names, std::error_code ec) {
        for (const auto& n : names) {
            if constexpr (requires { n.name; })
                out.push_back({n.name, ec, {}});
            else
                out.push_back({n, ec, {}});
        }
        return retry_on(ec);
    }
    static bool retry_on(std::error_code ec) {
        return ec == make_error_code(error_code::network_exception) ||
               ec == make_error_code(error_code::broker_not_available) ||
               ec == make_error_code(error_code::leader_not_available);
    }
    bool controller_moved(const std::vector<result>& out) {
        const bool moved = std::any_of(out.begin(), out.end(), [](const result& r) {
            return r.error == make_error_code(error_code::not_controller);
        });
        if (moved) c_.request_metadata_update();
        return moved;
    }
    bool leader_moved(std::error_code ec) {
        if (ec.category() == kafka_category()) c_.note_error(static_cast<error_code>(ec.value()));
        return ec == make_error_code(error_code::not_leader_or_follower) ||
               ec == make_error_code(error_code::leader_not_available);
    }

    template <typename Req>
    result alter_answer(resource type, const std::string& name, const Req& req, duration timeout) {
        result out{name, {}, {}};
        run(type == resource::broker && !name.empty() ? gregor::client::destination::node(std::stoi(name))
                                                      : gregor::client::destination::controller(),
            req, timeout, [&](auto& rep) {
                out = {name, {}, {}};
                if (rep.error) {
                    out.error = rep.error;
                    return retry_on(rep.error);
                }
                if (rep.body->responses.empty()) {
                    out.error = make_error_code(error_code::unknown_server_error);
                    return false;
                }
                const auto& r = rep.body->responses.front();
                out = item(name, r.error_code, r.error_message);
                return controller_moved({out});
            });
        return out;
    }

    /// Whether the brokers the admin talks to offer `key` (as negotiated by a ready connection;
    /// a Metadata round trip opens one first).
    bool supports(wire::api_key key) {
        const auto find = [&]() -> std::optional<bool> {
            std::vector<std::int32_t> ids;
            for (const auto& [id, b] : c_.metadata().brokers) ids.push_back(id);
            for (std::int32_t id = -1; c_.connection_to(id) != nullptr; --id) ids.push_back(id);
            for (const auto id : ids)
                if (const auto* conn = c_.connection_to(id); conn && conn->ready())
                    return conn->broker_versions(key).has_value();
            return std::nullopt;
        };
        if (auto s = find()) return *s;
        bool done = false;
        c_.refresh_metadata(std::nullopt, [&](std::error_code) { done = true; });
        // The client layer completes every request (at the latest at request.timeout.ms).
        while (!done) c_.poll(std::chrono::milliseconds(50));
        return find().value_or(false);
    }

    /// Sends `req` to `dest` and hands each answer to `on(reply&)`, which returns true to try
    /// again (after a short pause, with fresh metadata) while time is left.
    template <typename Req, typename On>
    void run(const gregor::client::destination& dest, const Req& req, duration timeout, On&& on) {
        const auto end = std::chrono::steady_clock::now() + timeout;
        for (int attempt = 0; attempt < 50; ++attempt) {
            bool done = false, again = false;
            c_.send(dest, req, [&](gregor::client::reply<typename Req::response_type>& rep) {
                again = on(rep);
                done = true;
            });
            while (!done) c_.poll(std::chrono::milliseconds(50));
            if (!again || std::chrono::steady_clock::now() + std::chrono::milliseconds(100) >= end) return;
            c_.request_metadata_update();
            c_.poll(std::chrono::milliseconds(100));
        }
    }

    gregor::client::cluster c_;
};

/// The same calls on a gregor::broker in this process. The broker's calls are thread-safe, so an
/// in_process admin may be used beside producers and consumers of the same broker.
template <typename Broker>
class in_process {
public:
    explicit in_process(Broker& b) noexcept : b_(&b) {}

    std::vector<result> create_topics(const std::vector<new_topic>& topics, bool validate_only = false) {
        std::vector<result> out;
        std::vector<std::string> seen;
        for (const auto& t : topics) {
            if (std::count(seen.begin(), seen.end(), t.name) > 0) {
                out.push_back({t.name, make_error_code(error_code::invalid_request), "Duplicate topic name."});
                continue;
            }
            seen.push_back(t.name);
            gregor::create_topic_request req;
            req.partitions = t.partitions;
            req.replication_factor = t.replication_factor;
            req.assignment = t.assignment;
            req.configs = t.configs;
            req.validate_only = validate_only;
            out.push_back(of(t.name, b_->create_topic(t.name, req)));
        }
        return out;
    }

    std::vector<result> delete_topics(const std::vector<std::string>& names) {
        std::vector<result> out;
        for (const auto& n : names) out.push_back(of(n, b_->delete_topic(n)));
        return out;
    }

    std::vector<result> create_partitions(const std::map<std::string, std::int32_t>& totals,
                                          bool validate_only = false) {
        std::vector<result> out;
        for (const auto& [n, count] : totals) out.push_back(of(n, b_->create_partitions(n, count, validate_only)));
        return out;
    }

    std::vector<std::string> list_topics() {
        std::vector<std::string> out;
        for (const auto& [n, parts] : b_->list_topics()) out.push_back(n);
        std::sort(out.begin(), out.end());
        return out;
    }

    std::vector<topic_description> describe_topics(std::optional<std::vector<std::string>> names) {
        if (!names) names = list_topics();
        std::vector<topic_description> out;
        for (const auto& n : *names) {
            topic_description d;
            d.name = n;
            const auto rec = b_->topic_metadata(n);
            if (!rec) {
                d.error = make_error_code(error_code::unknown_topic_or_partition);
                out.push_back(std::move(d));
                continue;
            }
            d.id = rec->id;
            for (std::size_t i = 0; i < rec->partitions.size(); ++i) {
                const auto& a = rec->partitions[i];
                partition_description pd;
                pd.partition = static_cast<std::int32_t>(i);
                pd.leader = a.leader.value();
                pd.leader_epoch = a.epoch.value();
                for (auto x : a.replicas) pd.replicas.push_back(x.value());
                for (auto x : a.isr) pd.isr.push_back(x.value());
                d.partitions.push_back(std::move(pd));
            }
            out.push_back(std::move(d));
        }
        std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
        return out;
    }

    config_description describe_configs(resource type, const std::string& name) {
        config_description out;
        std::optional<std::vector<gregor::config_entry>> entries;
        if (type == resource::topic) {
            entries = b_->describe_topic_configs(name);
            if (!entries) out.error = make_error_code(error_code::unknown_topic_or_partition);
        } else if (name.empty() || name == std::to_string(b_->config().node_id)) {
            entries = b_->describe_broker_configs();
        } else {
            out.error = make_error_code(error_code::invalid_request);
            out.message = "Broker " + name + " is not this broker";
        }
        if (entries)
            for (auto& e : *entries)
                out.entries.push_back({std::move(e.name), std::move(e.value),
                                       e.source, e.read_only,
                                       e.sensitive});
        return out;
    }

    result alter_configs(resource type, const std::string& name, const std::vector<config_change>& changes,
                         bool validate_only = false) {
        if (type != resource::topic)
            return {name, make_error_code(error_code::invalid_request), "Broker configs are static in gregor"};
        std::vector<gregor::config_change> cs;
        for (const auto& c : changes)
            cs.push_back({c.name, static_cast<gregor::config_op>(static_cast<std::int8_t>(c.op)), c.value});
        return of(name, b_->alter_topic_configs(name, cs, validate_only));
    }

    cluster_description describe_cluster() {
        cluster_description out;
        out.controller = b_->config().node_id;
        out.brokers.push_back({b_->config().node_id, {}, -1, std::nullopt}); // no listener in process
        return out;
    }

    std::vector<records_deleted> delete_records(const std::string& topic,
                                                const std::map<std::int32_t, std::int64_t>& upto) {
        std::vector<records_deleted> out;
        for (const auto& [p, o] : upto) {
            const auto r = b_->delete_records(topic, partition_id{p}, offset{o});
            out.push_back({p, r.error == error_code::none ? std::error_code{} : make_error_code(r.error),
                           r.low_watermark.value()});
        }
        return out;
    }

    offset_answer list_offset(const std::string& topic, std::int32_t partition, std::int64_t timestamp) {
        const auto r = b_->list_offset(topic, partition_id{partition}, timestamp);
        return {r.error == error_code::none ? std::error_code{} : make_error_code(r.error), r.found.value(),
                r.timestamp};
    }

private:
    static result of(const std::string& name, const gregor::admin_result& r) {
        return {name, r.error == error_code::none ? std::error_code{} : make_error_code(r.error), r.message};
    }

    Broker* b_;
};

} // namespace gregor::admin
