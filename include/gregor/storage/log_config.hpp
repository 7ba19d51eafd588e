// Runtime configuration of one partition log, with Kafka's property names and defaults. The
// compile-time choices (backend, flush policy, clock) are template parameters of storage::log.
//
// Thread-safety: a plain value.
#pragma once

#include <charconv>
#include <cstdint>
#include <limits>
#include <map>
#include <stdexcept>
#include <string>
#include <system_error>

namespace gregor::storage {

/// log.cleanup.policy (cleanup.policy): what happens to old segments.
enum class cleanup_policy : std::uint8_t { delete_segments, compact, compact_and_delete };

struct log_config {
    std::uint64_t segment_bytes = 1073741824;          // log.segment.bytes (segment.bytes), max 2^31-1
    std::int64_t segment_ms = 604800000;               // log.roll.ms (segment.ms)
    std::int64_t retention_ms = 604800000;             // log.retention.ms (retention.ms); negative = unlimited
    std::int64_t retention_bytes = -1;                 // log.retention.bytes (retention.bytes); negative = unlimited
    std::uint32_t index_interval_bytes = 4096;         // index.interval.bytes (log.index.interval.bytes)
    std::int64_t flush_interval_messages = INT64_MAX;  // log.flush.interval.messages (flush.messages)
    std::int64_t flush_interval_ms = INT64_MAX;        // log.flush.interval.ms (flush.ms)
    // log.cleanup.policy (cleanup.policy). Only delete is acted on; compaction is not implemented
    // yet, so compact keeps every segment and compact,delete deletes by retention only.
    storage::cleanup_policy cleanup_policy = storage::cleanup_policy::delete_segments;

    /// Throws std::invalid_argument naming the Kafka property of the first value out of range.
    void validate() const {
        // Index entries hold 32-bit positions, as in Kafka (log.segment.bytes is an int there).
        if (segment_bytes < 14 || segment_bytes > static_cast<std::uint64_t>(INT32_MAX))
            throw std::invalid_argument("log.segment.bytes must be in [14, 2147483647], got " +
                                        std::to_string(segment_bytes));
        if (segment_ms < 1)
            throw std::invalid_argument("log.roll.ms must be >= 1, got " + std::to_string(segment_ms));
        if (flush_interval_messages < 1)
            throw std::invalid_argument("log.flush.interval.messages must be >= 1, got " +
                                        std::to_string(flush_interval_messages));
        if (flush_interval_ms < 0)
            throw std::invalid_argument("log.flush.interval.ms must be >= 0, got " +
                                        std::to_string(flush_interval_ms));
    }

    /// Builds a config from Kafka properties, broker-level (`log.segment.bytes`) or topic-level
    /// (`segment.bytes`) names; `*.hours`/`*.minutes` forms are accepted and `*.ms` wins over them.
    /// Unknown keys and malformed or out-of-range values throw std::invalid_argument naming the key.
    static log_config from_properties(const std::map<std::string, std::string>& props) {
        log_config c;
        std::int64_t roll_hours = -2, retention_hours = -2, retention_minutes = -2;
        bool roll_ms = false, retention_ms_set = false;
        for (const auto& [key, value] : props) {
            if (key == "log.segment.bytes" || key == "segment.bytes") {
                c.segment_bytes = static_cast<std::uint64_t>(parse(key, value, 14, INT32_MAX));
            } else if (key == "log.roll.ms" || key == "segment.ms") {
                c.segment_ms = parse(key, value, 1, INT64_MAX);
                roll_ms = true;
            } else if (key == "log.roll.hours") {
                roll_hours = parse(key, value, 1, INT64_MAX / 3600000);
            } else if (key == "log.retention.ms" || key == "retention.ms") {
                c.retention_ms = parse(key, value, -1, INT64_MAX);
                retention_ms_set = true;
            } else if (key == "log.retention.minutes") {
                retention_minutes = parse(key, value, -1, INT64_MAX / 60000);
            } else if (key == "log.retention.hours") {
                retention_hours = parse(key, value, -1, INT64_MAX / 3600000);
            } else if (key == "log.retention.bytes" || key == "retention.bytes") {
                c.retention_bytes = parse(key, value, -1, INT64_MAX);
            } else if (key == "index.interval.bytes" || key == "log.index.interval.bytes") {
                c.index_interval_bytes = static_cast<std::uint32_t>(parse(key, value, 0, INT32_MAX));
            } else if (key == "log.flush.interval.messages" || key == "flush.messages") {
                c.flush_interval_messages = parse(key, value, 1, INT64_MAX);
            } else if (key == "log.flush.interval.ms" || key == "flush.ms") {
                c.flush_interval_ms = parse(key, value, 0, INT64_MAX);
            } else {
                throw std::invalid_argument("unknown log property '" + key + "'");
            }
        }
        if (!roll_ms && roll_hours != -2) c.segment_ms = roll_hours * 3600000;
        if (!retention_ms_set) {
            if (retention_minutes != -2) c.retention_ms = retention_minutes < 0 ? -1 : retention_minutes * 60000;
            else if (retention_hours != -2) c.retention_ms = retention_hours < 0 ? -1 : retention_hours * 3600000;
        }
        return c;
    }

private:
    static std::int64_t parse(const std::string& key, const std::string& value, std::int64_t min,
                              std::int64_t max) {
        std::int64_t v = 0;
        const auto* end = value.data() + value.size();
        const auto [p, ec] = std::from_chars(value.data(), end, v);
        if (ec != std::errc{} || p != end || value.empty())
            throw std::invalid_argument("log property '" + key + "': '" + value + "' is not an integer");
        if (v < min || v > max)
            throw std::invalid_argument("log property '" + key + "': " + value + " is out of range [" +
                                        std::to_string(min) + ", " + std::to_string(max) + "]");
        return v;
    }
};

} // namespace gregor::storage
