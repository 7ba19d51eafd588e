// Topic-level configuration overrides (CreateTopics configs, AlterConfigs on a topic): Kafka's
// topic key names (retention.ms, cleanup.policy, ...) applied over the broker's defaults. A topic's
// effective settings are a whole broker_config, so partitions read one struct whatever the source.
//
// Thread-safety: pure functions over values.
#pragma once

#include <gregor/broker/broker_config.hpp>

#include <map>
#include <stdexcept>
#include <string>

namespace gregor {

namespace topic_config_detail {

inline void apply(broker_config& c, const std::string& key, const std::string& value) {
    using namespace detail::props;
    auto& l = c.log;
    if (key == "retention.ms") l.retention_ms = parse_int<std::int64_t>(key, value, -1);
    else if (key == "retention.bytes") l.retention_bytes = parse_int<std::int64_t>(key, value, -1);
    else if (key == "segment.bytes") l.segment_bytes = parse_int<std::uint64_t>(key, value, 14, INT32_MAX);
    else if (key == "segment.ms") l.segment_ms = parse_int<std::int64_t>(key, value, 1);
    else if (key == "index.interval.bytes") l.index_interval_bytes = parse_int<std::uint32_t>(key, value, 0, INT32_MAX);
    else if (key == "flush.messages") l.flush_interval_messages = parse_int<std::int64_t>(key, value, 1);
    else if (key == "flush.ms") l.flush_interval_ms = parse_int<std::int64_t>(key, value, 0);
    else if (key == "cleanup.policy") {
        if (value == "delete") l.cleanup_policy = storage::cleanup_policy::delete_segments;
        else if (value == "compact") l.cleanup_policy = storage::cleanup_policy::compact;
        else if (value == "compact,delete" || value == "delete,compact")
            l.cleanup_policy = storage::cleanup_policy::compact_and_delete;
        else bad_value(key, value, "must be delete, compact or compact,delete");
    } else if (key == "min.insync.replicas") c.min_insync_replicas = parse_int<std::int32_t>(key, value, 1);
    else if (key == "max.message.bytes") c.message_max_bytes = parse_int<std::int32_t>(key, value, 0);
    else if (key == "message.timestamp.type") {
        if (value == "CreateTime") c.message_timestamp_type = timestamp_type::create_time;
        else if (value == "LogAppendTime") c.message_timestamp_type = timestamp_type::log_append_time;
        else bad_value(key, value, "must be CreateTime or LogAppendTime");
    } else if (key == "compression.type") {
        if (value == "producer") c.compression_type = compression_type::producer;
        else if (value == "uncompressed") c.compression_type = compression_type::uncompressed;
        else if (value == "gzip") c.compression_type = compression_type::gzip;
        else if (value == "snappy") c.compression_type = compression_type::snappy;
        else if (value == "lz4") c.compression_type = compression_type::lz4;
        else if (value == "zstd") c.compression_type = compression_type::zstd;
        else bad_value(key, value, "must be producer, uncompressed, gzip, snappy, lz4 or zstd");
    } else throw std::invalid_argument("unknown topic property '" + key + "'");
}

} // namespace topic_config_detail

/// `base` with the topic-level overrides applied; an unknown key or a bad value throws
/// std::invalid_argument naming the key.
inline broker_config effective_topic_config(const broker_config& base,
                                            const std::map<std::string, std::string>& overrides) {
    broker_config c = base;
    for (const auto& [k, v] : overrides) topic_config_detail::apply(c, k, v);
    return c;
}

/// "" when every override is a known topic key with a valid value, else a message naming the key.
inline std::string validate_topic_configs(const std::map<std::string, std::string>& overrides) {
    try {
        (void)effective_topic_config(broker_config{}, overrides);
        return {};
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
}

} // namespace gregor
