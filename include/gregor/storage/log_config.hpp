// Runtime configuration of one partition log, with Kafka's property names and defaults. The
// compile-time choices (backend, flush policy, clock) are template parameters of storage::log.
//
// Thread-safety: a plain value.
#pragma once

#include <gregor/detail/config_table.hpp>

#include <array>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>

namespace gregor::storage {

/// log.cleanup.policy (cleanup.policy): what happens to old segments.
enum class cleanup_policy : std::uint8_t { delete_segments, compact, compact_and_delete };

struct log_config {
    // Defaults and names are in log_keys below; these initialisers must agree with it (tested).
    std::uint64_t segment_bytes = 1073741824;
    std::int64_t segment_ms = 604800000;
    std::int64_t retention_ms = 604800000; // negative = unlimited
    std::int64_t retention_bytes = -1;     // negative = unlimited
    std::uint32_t index_interval_bytes = 4096;
    std::int64_t flush_interval_messages = INT64_MAX;
    std::int64_t flush_interval_ms = INT64_MAX;
    storage::cleanup_policy cleanup_policy = storage::cleanup_policy::delete_segments;
    // Compaction (storage/compaction.hpp), for the compacting policies.
    std::int64_t delete_retention_ms = 86400000;
    double min_cleanable_dirty_ratio = 0.5;
    std::int64_t min_compaction_lag_ms = 0;

    /// Throws std::invalid_argument naming the Kafka property of the first value out of range.
    void validate() const;

    /// Builds a config from Kafka properties, broker-level (`log.segment.bytes`) or topic-level
    /// (`segment.bytes`) names; `*.hours`/`*.minutes` forms are accepted and `*.ms` wins over them.
    /// Unknown keys and malformed or out-of-range values throw std::invalid_argument naming the key.
    static log_config from_properties(const std::map<std::string, std::string>& props);

    /// Sets one property by its broker-level or topic-level name (throws std::invalid_argument
    /// naming the key).
    void set(const std::string& key, const std::string& value);
};

/// Every log property, once. Broker names first; `topic_name` is the per-topic override's name.
inline constexpr auto log_keys = std::to_array<gregor::detail::config::key<log_config>>({
    {.name = "log.segment.bytes",
     .topic_name = "segment.bytes",
     .default_text = "1073741824",
     .min = 14,
     .max = 2147483647,
     .unit = "bytes",
     // Index entries hold 32-bit positions, as in Kafka, hence the int bound.
     .doc = "A segment is rolled before it would grow past this size.",
     GREGOR_CONFIG_FIELD(log_config, segment_bytes)},
    {.name = "log.roll.ms",
     .topic_name = "segment.ms",
     .default_text = "604800000",
     .min = 1,
     .unit = "ms",
     .doc = "A non-empty segment older than this is rolled at the next append; wins over log.roll.hours.",
     GREGOR_CONFIG_FIELD(log_config, segment_ms),
     .rank = 2},
    {.name = "log.roll.hours",
     .default_text = "168",
     .min = 1,
     .max = 2147483647,
     .scale = 3600000,
     .unit = "hours",
     .doc = "log.roll.ms in hours (used when log.roll.ms is not given).",
     GREGOR_CONFIG_DERIVED(log_config, segment_ms),
     .rank = 0},
    {.name = "log.retention.ms",
     .topic_name = "retention.ms",
     .default_text = "604800000",
     .min = -1,
     .unit = "ms",
     .doc = "Segments whose newest record is older than this are deleted (-1: no time limit); wins over "
            "log.retention.minutes and .hours.",
     GREGOR_CONFIG_FIELD(log_config, retention_ms),
     .rank = 2},
    {.name = "log.retention.minutes",
     .default_text = "10080",
     .min = -1,
     .max = 2147483647,
     .scale = 60000,
     .unit = "minutes",
     .doc = "log.retention.ms in minutes (used when log.retention.ms is not given; -1: no limit).",
     GREGOR_CONFIG_DERIVED(log_config, retention_ms),
     .rank = 1},
    {.name = "log.retention.hours",
     .default_text = "168",
     .min = -1,
     .max = 2147483647,
     .scale = 3600000,
     .unit = "hours",
     .doc = "log.retention.ms in hours (used when neither log.retention.ms nor .minutes is given; -1: no limit).",
     GREGOR_CONFIG_DERIVED(log_config, retention_ms),
     .rank = 0},
    {.name = "log.retention.bytes",
     .topic_name = "retention.bytes",
     .default_text = "-1",
     .min = -1,
     .unit = "bytes",
     .doc = "Oldest segments are deleted while the partition is larger than this (-1: no size limit).",
     GREGOR_CONFIG_FIELD(log_config, retention_bytes)},
    {.name = "log.index.interval.bytes",
     .topic_name = "index.interval.bytes",
     .default_text = "4096",
     .min = 0,
     .max = 2147483647,
     .unit = "bytes",
     .doc = "Bytes of batches between two offset/time index entries.",
     GREGOR_CONFIG_FIELD(log_config, index_interval_bytes)},
    {.name = "log.flush.interval.messages",
     .topic_name = "flush.messages",
     .default_text = "9223372036854775807",
     .min = 1,
     .unit = "records",
     .doc = "Flush after this many records (flush policy every_messages / by_config).",
     GREGOR_CONFIG_FIELD(log_config, flush_interval_messages)},
    {.name = "log.flush.interval.ms",
     .topic_name = "flush.ms",
     .default_text = "9223372036854775807",
     .min = 0,
     .unit = "ms",
     .doc = "Flush when unflushed data is older than this (flush policy every_interval / by_config).",
     GREGOR_CONFIG_FIELD(log_config, flush_interval_ms)},
    {.name = "log.cleanup.policy",
     .topic_name = "cleanup.policy",
     .type = gregor::detail::config::type::choice,
     .default_text = "delete",
     .choices = "delete|compact|compact,delete/delete,compact",
     .doc = "delete: old segments go by retention.ms and retention.bytes; compact: the cleaner keeps each key's "
            "newest record and nothing is deleted by age or size; compact,delete: both.",
     GREGOR_CONFIG_FIELD(log_config, cleanup_policy)},
    {.name = "log.cleaner.delete.retention.ms",
     .topic_name = "delete.retention.ms",
     .default_text = "86400000",
     .min = 0,
     .max = gregor::detail::config::max_deadline_ms,
     .unit = "ms",
     .doc = "How long a tombstone (null value) stays readable after the cleaner first keeps it.",
     GREGOR_CONFIG_FIELD(log_config, delete_retention_ms)},
    {.name = "log.cleaner.min.cleanable.ratio",
     .topic_name = "min.cleanable.dirty.ratio",
     .type = gregor::detail::config::type::fraction,
     .default_text = "0.5",
     .doc = "A compacted log is cleaned once its not yet cleaned share of the sealed segments' bytes reaches this.",
     GREGOR_CONFIG_FIELD(log_config, min_cleanable_dirty_ratio)},
    {.name = "log.cleaner.min.compaction.lag.ms",
     .topic_name = "min.compaction.lag.ms",
     .default_text = "0",
     .min = 0,
     .max = gregor::detail::config::max_deadline_ms,
     .unit = "ms",
     .doc = "A segment whose newest record is younger than this is not compacted yet.",
     GREGOR_CONFIG_FIELD(log_config, min_compaction_lag_ms)},
});

inline void log_config::validate() const { gregor::detail::config::check_bounds(log_keys, *this); }

inline void log_config::set(const std::string& key, const std::string& value) {
    const auto* k = gregor::detail::config::find(log_keys, key, true);
    if (k == nullptr) throw std::invalid_argument("unknown log property '" + key + "'");
    gregor::detail::config::apply(*k, *this, key, value);
}

inline log_config log_config::from_properties(const std::map<std::string, std::string>& props) {
    log_config c;
    gregor::detail::config::apply_ranked(
        props,
        [](const std::string& k) {
            const auto* row = gregor::detail::config::find(log_keys, k, true);
            return row ? row->rank : -1;
        },
        [&](const std::string& k, const std::string& v) { c.set(k, v); });
    return c;
}

} // namespace gregor::storage
