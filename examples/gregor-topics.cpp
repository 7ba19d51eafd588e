// gregor-topics: create, list, describe, alter and delete topics on any Kafka cluster (a
// gregor-broker, Apache Kafka, librdkafka's mock cluster), shaped like Kafka's kafka-topics.sh and
// kafka-configs.sh, on gregor::admin (client/admin.hpp). docs/admin.md has examples.
//
// Exit status: 0 on success, 1 when the cluster answered an error (or could not be reached),
// 2 on a usage error.
#include <gregor/broker/topic_table.hpp>
#include <gregor/client/admin.hpp>

#include <charconv>
#include <cstdint>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr std::string_view usage_text = R"(Usage: gregor-topics --bootstrap-server HOST:PORT ACTION [OPTIONS]

Create, delete, describe, or change a topic (like Kafka's kafka-topics.sh and kafka-configs.sh).

Actions (exactly one):
  --list                      List all available topics.
  --create                    Create a new topic (--topic, optional --partitions,
                              --replication-factor, --config).
  --describe                  List details for the given topics (--topic), or for all topics:
                              partition count, leader, replicas, ISR and the topic's configs.
  --alter                     Alter the number of partitions of a topic (--topic, --partitions).
  --alter-config              Change topic configs (--topic, --config k=v to set,
                              --delete-config k to revert to the default).
  --delete                    Delete a topic (--topic).

Options:
  --bootstrap-server HOST:PORT[,HOST:PORT...]
                              REQUIRED: the Kafka server(s) to connect to.
  --topic TOPIC               The topic to create, alter, describe or delete.
  --partitions N              The number of partitions for the topic being created or altered
                              (with --alter: the new total, which must be higher).
  --replication-factor R      The replication factor for each partition of the topic being
                              created (default: the broker's).
  --config NAME=VALUE         A topic configuration override (repeatable), e.g.
                              --config retention.ms=86400000 --config cleanup.policy=compact
  --delete-config NAME        With --alter-config: a config to remove (repeatable).
  --if-not-exists             With --create: do nothing if the topic already exists.
  --if-exists                 With --alter, --alter-config, --delete, --describe: do nothing if
                              the topic does not exist.
  --exclude-internal          With --list and --describe: leave internal topics out.
  --timeout-ms MS             How long to wait for the cluster (default 30000).
  --help                      Print this usage and exit.

Exit status: 0 success, 1 the cluster answered with an error or could not be reached, 2 usage.
)";

struct usage_error {
    std::string what;
};

struct options {
    std::string bootstrap;
    std::string action;
    std::optional<std::string> topic;
    std::optional<std::int32_t> partitions;
    std::optional<std::int16_t> replication_factor;
    std::map<std::string, std::string> configs;
    std::vector<std::string> delete_configs;
    bool if_not_exists = false, if_exists = false, exclude_internal = false;
    std::int64_t timeout_ms = 30000;
};

template <typename Int>
Int parse_int(const std::string& flag, const std::string& v) {
    Int out{};
    const auto r = std::from_chars(v.data(), v.data() + v.size(), out);
    if (r.ec != std::errc{} || r.ptr != v.data() + v.size())
        throw usage_error{flag + " needs a number, got '" + v + "'"};
    return out;
}

options parse(const std::vector<std::string>& args) {
    options o;
    auto value = [&](std::size_t& i) -> const std::string& {
        if (i + 1 >= args.size()) throw usage_error{args[i] + " needs a value"};
        return args[++i];
    };
    auto set_action = [&](const std::string& a) {
        if (!o.action.empty())
            throw usage_error{"only one of --list, --create, --describe, --alter, --alter-config, --delete"};
        o.action = a;
    };
    for (std::size_t i = 0; i < args.size(); ++i) {
        const auto& a = args[i];
        if (a == "--help" || a == "-h") {
            o.action = "help";
            return o;
        }
        if (a == "--bootstrap-server") {
            o.bootstrap = value(i);
        } else if (a == "--list" || a == "--create" || a == "--describe" || a == "--alter" || a == "--alter-config" ||
                   a == "--delete") {
            set_action(a.substr(2));
        } else if (a == "--topic") {
            o.topic = value(i);
        } else if (a == "--partitions") {
            o.partitions = parse_int<std::int32_t>(a, value(i));
        } else if (a == "--replication-factor") {
            o.replication_factor = parse_int<std::int16_t>(a, value(i));
        } else if (a == "--config") {
            const auto& kv = value(i);
            const auto eq = kv.find('=');
            if (eq == std::string::npos || eq == 0) throw usage_error{"--config needs NAME=VALUE, got '" + kv + "'"};
            o.configs[kv.substr(0, eq)] = kv.substr(eq + 1);
        } else if (a == "--delete-config") {
            o.delete_configs.push_back(value(i));
        } else if (a == "--if-not-exists") {
            o.if_not_exists = true;
        } else if (a == "--if-exists") {
            o.if_exists = true;
        } else if (a == "--exclude-internal") {
            o.exclude_internal = true;
        } else if (a == "--timeout-ms") {
            o.timeout_ms = parse_int<std::int64_t>(a, value(i));
        } else {
            throw usage_error{"unknown option '" + a + "'"};
        }
    }
    if (o.action.empty())
        throw usage_error{"one of --list, --create, --describe, --alter, --alter-config, --delete is required"};
    if (o.bootstrap.empty()) throw usage_error{"--bootstrap-server is required"};
    const bool needs_topic =
        o.action == "create" || o.action == "alter" || o.action == "alter-config" || o.action == "delete";
    if (needs_topic && !o.topic) throw usage_error{"--" + o.action + " needs --topic"};
    if (o.action == "alter" && !o.partitions) throw usage_error{"--alter needs --partitions (the new total)"};
    if (o.action == "alter-config" && o.configs.empty() && o.delete_configs.empty())
        throw usage_error{"--alter-config needs --config NAME=VALUE or --delete-config NAME"};
    if (!o.configs.empty() && o.action != "create" && o.action != "alter-config")
        throw usage_error{"--config is only for --create and --alter-config"};
    return o;
}

// Kafka's tools print the broker's message when there is one, else the error's name.
std::string describe_error(const std::error_code& ec, const std::string& message) {
    return message.empty() ? ec.message() : message;
}

int fail(const std::string& what) {
    std::cerr << "Error while executing topic command : " << what << "\n";
    return 1;
}

std::string join(const std::vector<std::int32_t>& v) {
    std::string out;
    for (std::size_t i = 0; i < v.size(); ++i) out += (i ? "," : "") + std::to_string(v[i]);
    return out;
}

bool is_unknown_topic(const std::error_code& ec) {
    return ec == gregor::make_error_code(gregor::error_code::unknown_topic_or_partition);
}

int run(const options& o) {
    using namespace gregor;
    const std::chrono::milliseconds timeout(o.timeout_ms);
    admin::client a(o.bootstrap, timeout);

    if (o.action == "list") {
        const auto all = a.describe_topics(std::nullopt, timeout);
        if (all.size() == 1 && all[0].name.empty() && all[0].error) return fail(all[0].error.message());
        for (const auto& t : all)
            if (!t.error && !(o.exclude_internal && t.internal)) std::cout << t.name << "\n";
        return 0;
    }
    if (o.action == "create") {
        admin::new_topic t{*o.topic, o.partitions.value_or(-1), o.replication_factor.value_or(-1), o.configs, {}};
        const auto r = a.create_topics({t}, false, timeout);
        if (r.empty()) return fail("no answer for topic '" + *o.topic + "'");
        if (r[0].error == make_error_code(error_code::topic_already_exists) && o.if_not_exists) return 0;
        if (r[0].error) return fail(describe_error(r[0].error, r[0].message));
        std::cout << "Created topic " << *o.topic << ".\n";
        return 0;
    }
    if (o.action == "delete") {
        const auto r = a.delete_topics({*o.topic}, timeout);
        if (r.empty()) return fail("no answer for topic '" + *o.topic + "'");
        if (is_unknown_topic(r[0].error) && o.if_exists) return 0;
        if (is_unknown_topic(r[0].error)) return fail("Topic '" + *o.topic + "' does not exist as expected");
        if (r[0].error) return fail(describe_error(r[0].error, r[0].message));
        std::cout << "Deleted topic " << *o.topic << ".\n";
        return 0;
    }
    if (o.action == "alter") {
        const auto r = a.create_partitions({{*o.topic, *o.partitions}}, false, timeout);
        if (r.empty()) return fail("no answer for topic '" + *o.topic + "'");
        if (is_unknown_topic(r[0].error) && o.if_exists) return 0;
        if (r[0].error) return fail(describe_error(r[0].error, r[0].message));
        std::cout << "Altered the partition count of topic " << *o.topic << " to " << *o.partitions << ".\n";
        return 0;
    }
    if (o.action == "alter-config") {
        std::vector<admin::config_change> changes;
        for (const auto& [k, v] : o.configs) changes.push_back({k, admin::config_op::set, v});
        for (const auto& k : o.delete_configs) changes.push_back({k, admin::config_op::remove, std::nullopt});
        const auto r = a.alter_configs(admin::resource::topic, *o.topic, changes, false, timeout);
        if (is_unknown_topic(r.error) && o.if_exists) return 0;
        if (r.error) return fail(describe_error(r.error, r.message));
        std::cout << "Completed updating config for topic " << *o.topic << ".\n";
        return 0;
    }
    // describe
    std::optional<std::vector<std::string>> names;
    if (o.topic) names = std::vector<std::string>{*o.topic};
    const auto all = a.describe_topics(names, timeout);
    if (all.size() == 1 && all[0].name.empty() && all[0].error) return fail(all[0].error.message());
    int rc = 0;
    for (const auto& t : all) {
        if (o.exclude_internal && t.internal) continue;
        if (t.error) {
            if (is_unknown_topic(t.error) && o.if_exists) continue;
            rc = fail(is_unknown_topic(t.error) ? "Topic '" + t.name + "' does not exist as expected"
                                                : t.name + ": " + t.error.message());
            continue;
        }
        const auto cfg = a.describe_configs(admin::resource::topic, t.name, timeout);
        std::string configs;
        for (const auto& e : cfg.entries)
            if (e.source == admin::config_source::topic_config)
                configs += (configs.empty() ? "" : ",") + e.name + "=" + e.value.value_or("");
        const auto rf = t.partitions.empty() ? 0 : t.partitions[0].replicas.size();
        std::cout << "Topic: " << t.name << "\tTopicId: " << uuid_to_string(t.id)
                  << "\tPartitionCount: " << t.partitions.size() << "\tReplicationFactor: " << rf
                  << "\tConfigs: " << configs << "\n";
        for (const auto& p : t.partitions) {
            std::cout << "\tTopic: " << t.name << "\tPartition: " << p.partition << "\tLeader: ";
            if (p.leader >= 0)
                std::cout << p.leader;
            else
                std::cout << "none";
            std::cout << "\tReplicas: " << join(p.replicas) << "\tIsr: " << join(p.isr);
            if (!p.offline.empty()) std::cout << "\tOffline: " << join(p.offline);
            std::cout << "\n";
        }
    }
    return rc;
}

} // namespace

int main(int argc, char** argv) {
    const std::vector<std::string> args(argv + 1, argv + argc);
    options o;
    try {
        o = parse(args);
    } catch (const usage_error& e) {
        std::cerr << "gregor-topics: " << e.what << "\n\n" << usage_text;
        return 2;
    }
    if (o.action == "help") {
        std::cout << usage_text;
        return 0;
    }
    try {
        return run(o);
    } catch (const std::invalid_argument& e) { // a malformed --bootstrap-server
        std::cerr << "gregor-topics: " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        return fail(e.what());
    }
}
