// Runtime configuration of a gregor broker, by Kafka's property names and with Kafka's defaults.
// Compile-time choices (storage backend, flush policy) live in broker_policies.hpp.
#pragma once

#include <gregor/core/error.hpp>
#include <gregor/detail/properties.hpp>
#include <gregor/storage/log.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

namespace gregor {

/// log.message.timestamp.type (message.timestamp.type): whose clock stamps appended records.
enum class timestamp_type : std::uint8_t { create_time, log_append_time };

/// compression.type (broker and topic level): "producer" keeps the producer's codec.
enum class compression_type : std::uint8_t { producer, uncompressed, gzip, snappy, lz4, zstd };

struct broker_config {
    std::filesystem::path data_dir = "./gregor-data"; // log.dirs (one directory)
    std::int32_t node_id = 0;                          // node.id (alias broker.id)
    std::string host = "127.0.0.1";                    // advertised host (Metadata)
    std::int32_t port = 9092;                          // advertised port (Metadata)
    bool auto_create_topics_enable = true;             // auto.create.topics.enable
    std::int32_t num_partitions = 1;                   // num.partitions
    std::int32_t message_max_bytes = 1048588;          // message.max.bytes (largest batch accepted)
    std::int32_t min_insync_replicas = 1;              // min.insync.replicas
    std::int16_t default_replication_factor = 1;       // default.replication.factor
    std::int64_t producer_id_expiration_ms = 86400000; // producer.id.expiration.ms
    std::int64_t transaction_max_timeout_ms = 900000;  // transaction.max.timeout.ms
    std::int64_t log_retention_check_interval_ms = 300000; // log.retention.check.interval.ms
    std::int64_t log_flush_scheduler_interval_ms = 1000;   // log.flush.scheduler.interval.ms (checks log.flush.interval.ms)
    // log.message.timestamp.type: accepted and stored; LogAppendTime stamping comes later.
    gregor::timestamp_type message_timestamp_type = gregor::timestamp_type::create_time;
    // compression.type: accepted and stored; the broker keeps the producer's bytes as they are.
    gregor::compression_type compression_type = gregor::compression_type::producer;
    storage::log_config log;                           // log.segment.bytes, log.roll.ms, log.retention.*,
                                                       // log.index.interval.bytes, log.flush.interval.*

    /// Parses Kafka-style properties. Unknown keys and bad values throw std::invalid_argument
    /// naming the key.
    static broker_config from_properties(const std::map<std::string, std::string>& props) {
        return gregor::detail::props::from_map<broker_config>(props);
    }

    /// Sets one property by its Kafka name (throws std::invalid_argument naming the key).
    void set(const std::string& key, const std::string& value) {
        using namespace detail::props;
        if (key == "log.dirs" || key == "log.dir") data_dir = value;
        else if (key == "node.id" || key == "broker.id") node_id = parse_int<std::int32_t>(key, value, 0);
        else if (key == "advertised.host.name") host = value;
        else if (key == "auto.create.topics.enable") auto_create_topics_enable = parse_bool(key, value);
        else if (key == "num.partitions") num_partitions = parse_int<std::int32_t>(key, value, 1);
        else if (key == "message.max.bytes") message_max_bytes = parse_int<std::int32_t>(key, value, 0);
        else if (key == "min.insync.replicas") min_insync_replicas = parse_int<std::int32_t>(key, value, 1);
        else if (key == "default.replication.factor")
            default_replication_factor = parse_int<std::int16_t>(key, value, 1);
        else if (key == "producer.id.expiration.ms")
            producer_id_expiration_ms = parse_int<std::int64_t>(key, value, 1);
        else if (key == "transaction.max.timeout.ms")
            transaction_max_timeout_ms = parse_int<std::int64_t>(key, value, 1);
        else if (key == "log.retention.check.interval.ms")
            log_retention_check_interval_ms = parse_int<std::int64_t>(key, value, 1);
        else if (key == "log.flush.scheduler.interval.ms")
            log_flush_scheduler_interval_ms = parse_int<std::int64_t>(key, value, 1);
        else if (key == "log.segment.bytes") log.segment_bytes = parse_int<std::uint64_t>(key, value, 14);
        else if (key == "log.roll.ms") log.segment_ms = parse_int<std::int64_t>(key, value, 1);
        else if (key == "log.roll.hours") log.segment_ms = parse_int<std::int64_t>(key, value, 1) * 3600000;
        else if (key == "log.retention.ms") log.retention_ms = parse_int<std::int64_t>(key, value, -1);
        else if (key == "log.retention.minutes") log.retention_ms = parse_int<std::int64_t>(key, value, -1) * 60000;
        else if (key == "log.retention.hours") log.retention_ms = parse_int<std::int64_t>(key, value, -1) * 3600000;
        else if (key == "log.retention.bytes") log.retention_bytes = parse_int<std::int64_t>(key, value, -1);
        else if (key == "log.index.interval.bytes" || key == "index.interval.bytes")
            log.index_interval_bytes = parse_int<std::uint32_t>(key, value, 0);
        else if (key == "log.flush.interval.messages")
            log.flush_interval_messages = parse_int<std::int64_t>(key, value, 1);
        else if (key == "log.flush.interval.ms") log.flush_interval_ms = parse_int<std::int64_t>(key, value, 0);
        else throw std::invalid_argument("unknown broker property '" + key + "'");
    }
};

} // namespace gregor
