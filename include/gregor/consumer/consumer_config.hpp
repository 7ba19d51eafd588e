// Runtime settings of gregor::consumer, with Kafka's property names (in the comments) and Kafka's
// Java-client defaults. `from_properties` takes `key=value` pairs as Kafka tools do and throws
// std::invalid_argument naming the key for an unknown key or a bad value.
//
// Thread-safety: a plain value; from_properties() and set() are pure.
#pragma once

#include <gregor/detail/properties.hpp>

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace gregor {

/// auto.offset.reset: where a partition starts when its position is unknown or out of range.
enum class offset_reset { earliest, latest, none };

struct consumer_config {
    std::string bootstrap_servers;                           // bootstrap.servers (TCP transport only)
    std::string client_id = "gregor-consumer";               // client.id
    offset_reset auto_offset_reset = offset_reset::latest;   // auto.offset.reset: earliest|latest|none
    bool read_committed = false;                             // isolation.level: read_uncommitted|read_committed
    std::int32_t fetch_min_bytes = 1;                        // fetch.min.bytes
    std::int32_t fetch_max_bytes = 52428800;                 // fetch.max.bytes
    std::int32_t fetch_max_wait_ms = 500;                    // fetch.max.wait.ms
    std::int32_t max_partition_fetch_bytes = 1048576;        // max.partition.fetch.bytes
    bool check_crcs = true;                                  // check.crcs
    std::int32_t request_timeout_ms = 30000;                 // request.timeout.ms
    std::int64_t retry_backoff_ms = 100;                     // retry.backoff.ms
    std::int64_t reconnect_backoff_ms = 50;                  // reconnect.backoff.ms
    std::int64_t metadata_max_age_ms = 300000;               // metadata.max.age.ms
    std::int32_t socket_connection_setup_timeout_ms = 10000; // socket.connection.setup.timeout.ms
    std::int32_t receive_message_max_bytes = 100000000;      // receive.message.max.bytes (librdkafka)

    // Groups (subscribe(); docs/consumer.md "Groups").
    std::string group_id;                                    // group.id (required by subscribe())
    std::string group_instance_id;                           // group.instance.id ("" = dynamic member)
    std::int32_t session_timeout_ms = 45000;                 // session.timeout.ms
    std::int32_t heartbeat_interval_ms = 3000;               // heartbeat.interval.ms
    std::int32_t max_poll_interval_ms = 300000;              // max.poll.interval.ms (also the rebalance timeout)
    std::string partition_assignment_strategy = "range,cooperative-sticky"; // partition.assignment.strategy
    bool enable_auto_commit = true;                          // enable.auto.commit
    std::int32_t auto_commit_interval_ms = 5000;             // auto.commit.interval.ms

    static consumer_config from_properties(const std::map<std::string, std::string>& props) {
        return gregor::detail::props::from_map<consumer_config>(props);
    }

    /// Sets one property by its Kafka name (throws std::invalid_argument naming the key).
    void set(const std::string& key, const std::string& value) {
        using namespace detail::props;
        using i32 = std::int32_t;
        using i64 = std::int64_t;
        if (key == "bootstrap.servers")
            bootstrap_servers = value;
        else if (key == "client.id")
            client_id = value;
        else if (key == "auto.offset.reset") {
            if (value == "earliest" || value == "smallest" || value == "beginning")
                auto_offset_reset = offset_reset::earliest;
            else if (value == "latest" || value == "largest" || value == "end")
                auto_offset_reset = offset_reset::latest;
            else if (value == "none" || value == "error")
                auto_offset_reset = offset_reset::none;
            else
                bad_value(key, value, "must be earliest, latest or none");
        } else if (key == "isolation.level") {
            if (value == "read_committed")
                read_committed = true;
            else if (value == "read_uncommitted")
                read_committed = false;
            else
                bad_value(key, value, "must be read_committed or read_uncommitted");
        } else if (key == "fetch.min.bytes")
            fetch_min_bytes = parse_int<i32>(key, value, 0);
        else if (key == "fetch.max.bytes")
            fetch_max_bytes = parse_int<i32>(key, value, 0);
        else if (key == "fetch.max.wait.ms")
            fetch_max_wait_ms = parse_int<i32>(key, value, 0);
        else if (key == "max.partition.fetch.bytes")
            max_partition_fetch_bytes = parse_int<i32>(key, value, 1);
        else if (key == "check.crcs")
            check_crcs = parse_bool(key, value);
        else if (key == "request.timeout.ms")
            request_timeout_ms = parse_int<i32>(key, value, 1);
        else if (key == "retry.backoff.ms")
            retry_backoff_ms = parse_int<i64>(key, value, 0);
        else if (key == "reconnect.backoff.ms")
            reconnect_backoff_ms = parse_int<i64>(key, value, 0);
        else if (key == "metadata.max.age.ms")
            metadata_max_age_ms = parse_int<i64>(key, value, 0);
        else if (key == "socket.connection.setup.timeout.ms")
            socket_connection_setup_timeout_ms = parse_int<i32>(key, value, 1);
        else if (key == "receive.message.max.bytes")
            receive_message_max_bytes = parse_int<i32>(key, value, 1000);
        else if (key == "group.id")
            group_id = value;
        else if (key == "group.instance.id")
            group_instance_id = value;
        else if (key == "session.timeout.ms")
            session_timeout_ms = parse_int<i32>(key, value, 1);
        else if (key == "heartbeat.interval.ms")
            heartbeat_interval_ms = parse_int<i32>(key, value, 1);
        else if (key == "max.poll.interval.ms")
            max_poll_interval_ms = parse_int<i32>(key, value, 1);
        else if (key == "partition.assignment.strategy")
            partition_assignment_strategy = parse_strategies(key, value);
        else if (key == "enable.auto.commit")
            enable_auto_commit = parse_bool(key, value);
        else if (key == "auto.commit.interval.ms")
            auto_commit_interval_ms = parse_int<i32>(key, value, 0);
        else
            throw std::invalid_argument("unknown consumer property '" + key + "'");
    }

    /// The assignor names of partition.assignment.strategy, in order of preference.
    [[nodiscard]] std::vector<std::string> assignment_strategies() const { return split_strategies(partition_assignment_strategy); }

private:
    static std::vector<std::string> split_strategies(const std::string& value) {
        std::vector<std::string> out;
        std::string cur;
        for (const char c : value + ",") {
            if (c == ',') {
                const auto b = cur.find_first_not_of(' ');
                if (b != std::string::npos) out.push_back(cur.substr(b, cur.find_last_not_of(' ') - b + 1));
                cur.clear();
            } else {
                cur += c;
            }
        }
        return out;
    }

    // Java's class names are accepted for the three assignors gregor has.
    static std::string parse_strategies(const std::string& key, const std::string& value) {
        std::string out;
        for (auto name : split_strategies(value)) {
            const auto dot = name.rfind('.');
            const auto cls = dot == std::string::npos ? name : name.substr(dot + 1);
            if (cls == "RangeAssignor") name = "range";
            else if (cls == "RoundRobinAssignor") name = "roundrobin";
            else if (cls == "CooperativeStickyAssignor") name = "cooperative-sticky";
            if (name != "range" && name != "roundrobin" && name != "cooperative-sticky")
                detail::props::bad_value(key, value, "must list range, roundrobin or cooperative-sticky");
            out += (out.empty() ? "" : ",") + name;
        }
        if (out.empty()) detail::props::bad_value(key, value, "must name at least one assignor");
        return out;
    }
};

} // namespace gregor
