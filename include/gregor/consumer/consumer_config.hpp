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
        else
            throw std::invalid_argument("unknown consumer property '" + key + "'");
    }
};

} // namespace gregor
