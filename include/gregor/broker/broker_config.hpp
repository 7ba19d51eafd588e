// Runtime configuration of a gregor broker, by Kafka's property names and with Kafka's defaults.
// Every key is declared once, in broker_keys below (log keys in storage::log_keys); that table
// drives set(), from_properties(), validate(), gregor-broker --help and docs/configuration.md.
// Compile-time choices (storage backend, flush policy) live in broker_policies.hpp.
//
// Thread-safety: a plain value; from_properties() and validate() are pure.
#pragma once

#include <gregor/compression/codec.hpp>
#include <gregor/core/error.hpp>
#include <gregor/detail/config_table.hpp>
#include <gregor/storage/log.hpp>
#include <gregor/storage/log_config.hpp>

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>

namespace gregor {

/// log.message.timestamp.type (message.timestamp.type): whose clock stamps appended records.
enum class timestamp_type : std::uint8_t { create_time, log_append_time };

/// compression.type (broker and topic level): "producer" keeps the producer's codec.
enum class compression_type : std::uint8_t { producer, uncompressed, gzip, snappy, lz4, zstd };

/// The codec compression.type makes the broker store: nullopt for `producer` (keep the batch's).
inline std::optional<compression::codec> target_codec(compression_type t) noexcept {
    switch (t) {
    case compression_type::producer: return std::nullopt;
    case compression_type::uncompressed: return compression::codec::none;
    case compression_type::gzip: return compression::codec::gzip;
    case compression_type::snappy: return compression::codec::snappy;
    case compression_type::lz4: return compression::codec::lz4;
    case compression_type::zstd: return compression::codec::zstd;
    }
    return std::nullopt;
}

struct broker_config {
    // Names, bounds and docs are in broker_keys; these initialisers must agree with it (tested).
    std::filesystem::path data_dir = "./gregor-data";
    std::int32_t node_id = 0;
    bool auto_create_topics_enable = true;
    std::int32_t num_partitions = 1;
    std::int32_t message_max_bytes = 1048588;
    std::int32_t min_insync_replicas = 1;
    bool unclean_leader_election_enable = false;
    std::int16_t default_replication_factor = 1;
    std::int64_t producer_id_expiration_ms = 86400000;
    std::int64_t transaction_max_timeout_ms = 900000;
    // The transaction coordinator (docs/transactions.md, docs/protocol.md §15).
    std::int32_t transaction_state_log_num_partitions = 50;
    std::int16_t transaction_state_log_replication_factor = 3;
    std::int32_t transaction_state_log_min_isr = 2;
    std::int32_t transaction_state_log_segment_bytes = 104857600;
    std::int64_t transaction_abort_timed_out_transaction_cleanup_interval_ms = 10000;
    std::int64_t transaction_remove_expired_transaction_cleanup_interval_ms = 3600000;
    std::int64_t transactional_id_expiration_ms = 604800000;
    std::int64_t log_retention_check_interval_ms = 300000;
    std::int64_t log_flush_scheduler_interval_ms = 1000;
    // The log cleaner (compaction, storage/compaction.hpp).
    bool log_cleaner_enable = true;
    std::int64_t log_cleaner_backoff_ms = 15000;
    std::int64_t log_cleaner_dedupe_buffer_size = 134217728;
    gregor::timestamp_type message_timestamp_type = gregor::timestamp_type::create_time;
    gregor::compression_type compression_type = gregor::compression_type::producer;
    std::int32_t compression_gzip_level = -1;
    std::int32_t compression_lz4_level = 9;
    std::int32_t compression_zstd_level = 3;
    // Replication (docs/protocol.md §14).
    std::int64_t replica_lag_time_max_ms = 30000;
    std::int32_t replica_fetch_max_bytes = 1048576;
    std::int32_t replica_fetch_wait_max_ms = 500;
    std::int32_t replica_fetch_min_bytes = 1;
    std::int32_t replica_fetch_response_max_bytes = 10485760;
    std::int32_t broker_session_timeout_ms = 9000;
    std::int32_t broker_heartbeat_interval_ms = 2000;
    std::string controller_quorum_voters;
    // Consumer groups (docs/groups.md, docs/protocol.md §16).
    std::int32_t group_min_session_timeout_ms = 6000;
    std::int32_t group_max_session_timeout_ms = 1800000;
    std::int32_t group_initial_rebalance_delay_ms = 3000;
    std::int32_t group_max_size = 2147483647;
    std::int32_t offsets_topic_num_partitions = 50;
    std::int16_t offsets_topic_replication_factor = 3;
    std::int32_t offsets_topic_segment_bytes = 104857600;
    std::int32_t offsets_commit_timeout_ms = 5000;
    std::int32_t offset_metadata_max_bytes = 4096;
    std::int32_t offsets_retention_minutes = 10080;
    std::int64_t offsets_retention_check_interval_ms = 600000;
    storage::log_config log;

    /// Parses Kafka-style properties (*.ms wins over *.minutes over *.hours whatever the order).
    /// Unknown keys and bad values throw std::invalid_argument naming the key.
    static broker_config from_properties(const std::map<std::string, std::string>& props);

    /// Sets one property by its Kafka name (throws std::invalid_argument naming the key).
    void set(const std::string& key, const std::string& value);

    /// Whether `key` is a broker or log property (by Kafka name or alias).
    [[nodiscard]] static bool knows(const std::string& key);

    /// Throws std::invalid_argument naming the first value out of range (for fields set in code).
    void validate() const;
};

/// Every broker property, once (the log.* ones are in storage::log_keys).
inline constexpr auto broker_keys = std::to_array<detail::config::key<broker_config>>({
    {.name = "log.dirs",
     .aliases = "log.dir",
     .type = detail::config::type::string,
     .default_text = "./gregor-data",
     .doc = "The data directory (one: a comma-separated list is refused).",
     .stored = "data_dir",
     .store =
         [](broker_config& c, const detail::config::value& v) {
             if (v.s.empty() || v.s.find(',') != std::string::npos)
                 detail::props::bad_value("log.dirs", v.s, "gregor takes exactly one directory");
             c.data_dir = v.s;
         },
     .load = [](const broker_config& c) { return detail::config::to_value(c.data_dir); }},
    {.name = "node.id",
     .aliases = "broker.id",
     .default_text = "0",
     .min = 0,
     .max = 2147483647,
     .doc = "This broker's id in Metadata answers and as the partitions' leader and replica.",
     GREGOR_CONFIG_FIELD(broker_config, node_id)},
    {.name = "auto.create.topics.enable",
     .type = detail::config::type::boolean,
     .default_text = "true",
     .doc = "Metadata for an unknown topic creates it (when the client allows it).",
     GREGOR_CONFIG_FIELD(broker_config, auto_create_topics_enable)},
    {.name = "num.partitions",
     .default_text = "1",
     .min = 1,
     .max = 2147483647,
     .doc = "Partitions of an auto-created topic.",
     GREGOR_CONFIG_FIELD(broker_config, num_partitions)},
    {.name = "message.max.bytes",
     .topic_name = "max.message.bytes",
     .default_text = "1048588",
     .min = 0,
     .max = 2147483647,
     .unit = "bytes",
     .doc = "Largest record batch a produce may append.",
     GREGOR_CONFIG_FIELD(broker_config, message_max_bytes)},
    {.name = "min.insync.replicas",
     .topic_name = "min.insync.replicas",
     .default_text = "1",
     .min = 1,
     .max = 2147483647,
     .doc = "In-sync replicas an acks=all produce needs (capped at the replica count).",
     GREGOR_CONFIG_FIELD(broker_config, min_insync_replicas)},
    {.name = "unclean.leader.election.enable",
     .topic_name = "unclean.leader.election.enable",
     .type = detail::config::type::boolean,
     .default_text = "false",
     .doc = "Whether a replica outside the ISR may become leader, losing acknowledged records. Kept "
            "and reported per topic; a single broker never elects one.",
     GREGOR_CONFIG_FIELD(broker_config, unclean_leader_election_enable)},
    {.name = "default.replication.factor",
     .default_text = "1",
     .min = 1,
     .max = 32767,
     .doc = "Replicas of a topic created with replication factor -1 (CreateTopics v4+); above the broker count such a "
            "create fails with INVALID_REPLICATION_FACTOR.",
     GREGOR_CONFIG_FIELD(broker_config, default_replication_factor)},
    {.name = "producer.id.expiration.ms",
     .default_text = "86400000",
     .min = 1,
     .max = 2147483647,
     .unit = "ms",
     .doc = "A producer id's sequence state is dropped after this long without a write.",
     GREGOR_CONFIG_FIELD(broker_config, producer_id_expiration_ms)},
    {.name = "transaction.max.timeout.ms",
     .default_text = "900000",
     .min = 1,
     .max = 2147483647,
     .unit = "ms",
     .doc = "Largest transaction timeout InitProducerId accepts.",
     GREGOR_CONFIG_FIELD(broker_config, transaction_max_timeout_ms)},
    {.name = "transaction.state.log.num.partitions",
     .default_text = "50",
     .min = 1,
     .max = 100000,
     .doc = "Partitions of the internal __transaction_state topic (fixed once the topic exists).",
     GREGOR_CONFIG_FIELD(broker_config, transaction_state_log_num_partitions)},
    {.name = "transaction.state.log.replication.factor",
     .default_text = "3",
     .min = 1,
     .max = 32767,
     .doc = "Replicas of __transaction_state in a cluster (fewer if fewer brokers are registered when it is created).",
     GREGOR_CONFIG_FIELD(broker_config, transaction_state_log_replication_factor)},
    {.name = "transaction.state.log.min.isr",
     .default_text = "2",
     .min = 1,
     .max = 2147483647,
     .doc = "min.insync.replicas of __transaction_state (capped by its replication factor).",
     GREGOR_CONFIG_FIELD(broker_config, transaction_state_log_min_isr)},
    {.name = "transaction.state.log.segment.bytes",
     .default_text = "104857600",
     .min = 14,
     .max = 2147483647,
     .unit = "bytes",
     .doc = "segment.bytes of __transaction_state.",
     GREGOR_CONFIG_FIELD(broker_config, transaction_state_log_segment_bytes)},
    {.name = "transaction.abort.timed.out.transaction.cleanup.interval.ms",
     .default_text = "10000",
     .min = 1,
     .max = 2147483647,
     .unit = "ms",
     .doc = "How often the coordinator aborts transactions open longer than their timeout.",
     GREGOR_CONFIG_FIELD(broker_config, transaction_abort_timed_out_transaction_cleanup_interval_ms)},
    {.name = "transaction.remove.expired.transaction.cleanup.interval.ms",
     .default_text = "3600000",
     .min = 1,
     .max = 2147483647,
     .unit = "ms",
     .doc = "How often the coordinator removes transactional ids idle past transactional.id.expiration.ms.",
     GREGOR_CONFIG_FIELD(broker_config, transaction_remove_expired_transaction_cleanup_interval_ms)},
    {.name = "transactional.id.expiration.ms",
     .default_text = "604800000",
     .min = 1,
     .max = 2147483647,
     .unit = "ms",
     .doc = "A transactional id with no transaction for this long is forgotten.",
     GREGOR_CONFIG_FIELD(broker_config, transactional_id_expiration_ms)},
    {.name = "log.retention.check.interval.ms",
     .default_text = "300000",
     .min = 1,
     .max = detail::config::max_deadline_ms,
     .unit = "ms",
     .doc = "How often retention deletes old segments.",
     GREGOR_CONFIG_FIELD(broker_config, log_retention_check_interval_ms)},
    {.name = "log.flush.scheduler.interval.ms",
     .default_text = "1000",
     .min = 1,
     .max = detail::config::max_deadline_ms,
     .unit = "ms",
     .doc = "How often log.flush.interval.ms is checked (Kafka's default, Long.MAX_VALUE, would never check).",
     GREGOR_CONFIG_FIELD(broker_config, log_flush_scheduler_interval_ms)},
    {.name = "log.cleaner.enable",
     .type = detail::config::type::boolean,
     .default_text = "true",
     .doc = "Runs the cleaner thread that compacts topics whose cleanup.policy has compact.",
     GREGOR_CONFIG_FIELD(broker_config, log_cleaner_enable)},
    {.name = "log.cleaner.backoff.ms",
     .default_text = "15000",
     .min = 1,
     .max = detail::config::max_deadline_ms,
     .unit = "ms",
     .doc = "How long the cleaner sleeps when no log needs cleaning.",
     GREGOR_CONFIG_FIELD(broker_config, log_cleaner_backoff_ms)},
    {.name = "log.cleaner.dedupe.buffer.size",
     .default_text = "134217728",
     .min = 4096,
     .unit = "bytes",
     .doc = "Memory for the keys of one cleaning pass; a larger dirty part is cleaned over several passes.",
     GREGOR_CONFIG_FIELD(broker_config, log_cleaner_dedupe_buffer_size)},
    {.name = "log.message.timestamp.type",
     .topic_name = "message.timestamp.type",
     .type = detail::config::type::choice,
     .default_text = "CreateTime",
     .choices = "CreateTime|LogAppendTime",
     .doc = "LogAppendTime: the broker stamps each batch with its append time; CreateTime keeps the producer's.",
     GREGOR_CONFIG_FIELD(broker_config, message_timestamp_type)},
    {.name = "compression.type",
     .topic_name = "compression.type",
     .type = detail::config::type::choice,
     .default_text = "producer",
     .choices = "producer|uncompressed|gzip|snappy|lz4|zstd",
     .doc = "producer: batches are stored as the producer compressed them; a codec (or uncompressed): the broker "
            "re-compresses every batch whose codec differs (docs/compression.md). A codec this build lacks is refused.",
     GREGOR_CONFIG_FIELD(broker_config, compression_type)},
    {.name = "compression.gzip.level",
     .topic_name = "compression.gzip.level",
     .default_text = "-1",
     .min = -1,
     .max = 9,
     .doc = "gzip level when the broker re-compresses to gzip (-1: zlib's default; 0 is refused).",
     GREGOR_CONFIG_FIELD(broker_config, compression_gzip_level)},
    {.name = "compression.lz4.level",
     .topic_name = "compression.lz4.level",
     .default_text = "9",
     .min = 1,
     .max = 17,
     .doc = "lz4 level when the broker re-compresses to lz4.",
     GREGOR_CONFIG_FIELD(broker_config, compression_lz4_level)},
    {.name = "compression.zstd.level",
     .topic_name = "compression.zstd.level",
     .default_text = "3",
     .min = -131072,
     .max = 22,
     .doc = "zstd level when the broker re-compresses to zstd.",
     GREGOR_CONFIG_FIELD(broker_config, compression_zstd_level)},
    {.name = "replica.lag.time.max.ms",
     .default_text = "30000",
     .min = 1,
     .max = detail::config::max_deadline_ms,
     .unit = "ms",
     .doc = "A follower that has not caught up with the leader's log end for this long leaves the ISR.",
     GREGOR_CONFIG_FIELD(broker_config, replica_lag_time_max_ms)},
    {.name = "replica.fetch.max.bytes",
     .default_text = "1048576",
     .min = 0,
     .max = 2147483647,
     .unit = "bytes",
     .doc = "Bytes a follower asks for per partition in one fetch (the first batch comes whole even if larger).",
     GREGOR_CONFIG_FIELD(broker_config, replica_fetch_max_bytes)},
    {.name = "replica.fetch.wait.max.ms",
     .default_text = "500",
     .min = 0,
     .max = 2147483647,
     .unit = "ms",
     .doc = "Longest a leader holds a follower's fetch waiting for replica.fetch.min.bytes.",
     GREGOR_CONFIG_FIELD(broker_config, replica_fetch_wait_max_ms)},
    {.name = "replica.fetch.min.bytes",
     .default_text = "1",
     .min = 0,
     .max = 2147483647,
     .unit = "bytes",
     .doc = "Bytes a follower's fetch waits for (up to replica.fetch.wait.max.ms) before the leader answers.",
     GREGOR_CONFIG_FIELD(broker_config, replica_fetch_min_bytes)},
    {.name = "replica.fetch.response.max.bytes",
     .default_text = "10485760",
     .min = 0,
     .max = 2147483647,
     .unit = "bytes",
     .doc = "Bytes a follower asks for in one fetch over all partitions (the first batch comes whole even if larger).",
     GREGOR_CONFIG_FIELD(broker_config, replica_fetch_response_max_bytes)},
    {.name = "broker.session.timeout.ms",
     .default_text = "9000",
     .min = 1,
     .max = 2147483647,
     .unit = "ms",
     .doc = "A broker without a heartbeat for this long is fenced by the controller: out of every ISR, its "
            "leaderships moved.",
     GREGOR_CONFIG_FIELD(broker_config, broker_session_timeout_ms)},
    {.name = "broker.heartbeat.interval.ms",
     .default_text = "2000",
     .min = 1,
     .max = 2147483647,
     .unit = "ms",
     .doc = "How often a broker sends the controller a heartbeat.",
     GREGOR_CONFIG_FIELD(broker_config, broker_heartbeat_interval_ms)},
    {.name = "group.min.session.timeout.ms",
     .default_text = "6000",
     .min = 1,
     .max = 2147483647,
     .unit = "ms",
     .doc = "The shortest session timeout a member may ask for in JoinGroup (INVALID_SESSION_TIMEOUT below).",
     GREGOR_CONFIG_FIELD(broker_config, group_min_session_timeout_ms)},
    {.name = "group.max.session.timeout.ms",
     .default_text = "1800000",
     .min = 1,
     .max = 2147483647,
     .unit = "ms",
     .doc = "The longest session timeout a member may ask for in JoinGroup (INVALID_SESSION_TIMEOUT above).",
     GREGOR_CONFIG_FIELD(broker_config, group_max_session_timeout_ms)},
    {.name = "group.initial.rebalance.delay.ms",
     .default_text = "3000",
     .min = 0,
     .max = 2147483647,
     .unit = "ms",
     .doc = "How long the first rebalance of an empty group waits for more members (each new one extends it, up to the rebalance timeout).",
     GREGOR_CONFIG_FIELD(broker_config, group_initial_rebalance_delay_ms)},
    {.name = "group.max.size",
     .default_text = "2147483647",
     .min = 1,
     .max = 2147483647,
     .doc = "Members a group may have; one more gets GROUP_MAX_SIZE_REACHED.",
     GREGOR_CONFIG_FIELD(broker_config, group_max_size)},
    {.name = "offsets.topic.num.partitions",
     .default_text = "50",
     .min = 1,
     .max = 100000,
     .doc = "Partitions of the internal __consumer_offsets topic (fixed once the topic exists).",
     GREGOR_CONFIG_FIELD(broker_config, offsets_topic_num_partitions)},
    {.name = "offsets.topic.replication.factor",
     .default_text = "3",
     .min = 1,
     .max = 32767,
     .doc = "Replicas of __consumer_offsets in a cluster (fewer if fewer brokers are registered when it is created).",
     GREGOR_CONFIG_FIELD(broker_config, offsets_topic_replication_factor)},
    {.name = "offsets.topic.segment.bytes",
     .default_text = "104857600",
     .min = 14,
     .max = 2147483647,
     .unit = "bytes",
     .doc = "segment.bytes of __consumer_offsets, kept small so the cleaner can compact sealed segments soon.",
     GREGOR_CONFIG_FIELD(broker_config, offsets_topic_segment_bytes)},
    {.name = "offsets.commit.timeout.ms",
     .default_text = "5000",
     .min = 1,
     .max = 2147483647,
     .unit = "ms",
     .doc = "How long an offset commit waits for its record to reach every in-sync replica.",
     GREGOR_CONFIG_FIELD(broker_config, offsets_commit_timeout_ms)},
    {.name = "offset.metadata.max.bytes",
     .default_text = "4096",
     .min = 0,
     .max = 2147483647,
     .unit = "bytes",
     .doc = "Largest metadata string an offset commit may carry (OFFSET_METADATA_TOO_LARGE above).",
     GREGOR_CONFIG_FIELD(broker_config, offset_metadata_max_bytes)},
    {.name = "offsets.retention.minutes",
     .default_text = "10080",
     .min = 1,
     .max = 2147483647,
     .unit = "minutes",
     .doc = "Committed offsets of a group that has been empty this long (of a simple consumer: committed this "
            "long ago; of a topic a live group no longer subscribes to: likewise) are deleted.",
     GREGOR_CONFIG_FIELD(broker_config, offsets_retention_minutes)},
    {.name = "offsets.retention.check.interval.ms",
     .default_text = "600000",
     .min = 1,
     .max = detail::config::max_deadline_ms,
     .unit = "ms",
     .doc = "How often expired offsets are looked for.",
     GREGOR_CONFIG_FIELD(broker_config, offsets_retention_check_interval_ms)},
    {.name = "controller.quorum.voters",
     .type = detail::config::type::string,
     .default_text = "",
     .doc = "The controller quorum, comma-separated \"id@host:port\" entries; empty: a single broker, no cluster.",
     GREGOR_CONFIG_FIELD(broker_config, controller_quorum_voters)},
});

inline bool broker_config::knows(const std::string& key) {
    return detail::config::find(broker_keys, key) != nullptr || detail::config::find(storage::log_keys, key) != nullptr;
}

inline void broker_config::set(const std::string& key, const std::string& value) {
    if (const auto* k = detail::config::find(broker_keys, key)) return detail::config::apply(*k, *this, key, value);
    if (const auto* k = detail::config::find(storage::log_keys, key)) return detail::config::apply(*k, log, key, value);
    throw std::invalid_argument("unknown broker property '" + key + "'");
}

inline broker_config broker_config::from_properties(const std::map<std::string, std::string>& props) {
    broker_config c;
    detail::config::apply_ranked(
        props,
        [](const std::string& k) {
            if (const auto* row = detail::config::find(broker_keys, k)) return row->rank;
            if (const auto* row = detail::config::find(storage::log_keys, k)) return row->rank;
            return -1;
        },
        [&](const std::string& k, const std::string& v) { c.set(k, v); });
    return c;
}

inline void broker_config::validate() const {
    detail::config::check_bounds(broker_keys, *this);
    if (compression_gzip_level == 0)
        throw std::invalid_argument("compression.gzip.level: 0 is not a level (1..9 or -1)");
    if (const auto c = target_codec(compression_type); c && !compression::available(*c))
        throw std::invalid_argument("compression.type: " + std::string(compression::name(*c)) +
                                    " is not available in this build (docs/compression.md)");
    log.validate();
}

} // namespace gregor
