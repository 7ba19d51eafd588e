// The vocabulary of the broker's admin operations (broker::create_topic with a request,
// delete_topic, create_partitions, describe/set/alter topic configs, delete_records): the values
// the Kafka admin handlers (CreateTopics, DeleteTopics, CreatePartitions, DescribeConfigs,
// AlterConfigs, IncrementalAlterConfigs, DeleteRecords; docs/protocol.md §17) and embedded callers
// pass in and get back. Types only; the operations are members of broker<> (broker.hpp), and the
// config descriptions are built in topic_config.hpp.
//
// Thread-safety: plain values.
#pragma once

#include <gregor/core/error.hpp>
#include <gregor/core/strong_types.hpp>
#include <gregor/wire/messages/describe_configs.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace gregor {

/// An admin operation's outcome: a Kafka error code and, when not none, a human message that
/// Kafka-style responses carry in error_message (e.g. "Topic 'x' already exists.").
struct admin_result {
    error_code error = error_code::none;
    std::string message;
    explicit operator bool() const noexcept { return error == error_code::none; }
};

struct create_topic_request {
    std::int32_t partitions = -1;         // -1: broker default num.partitions
    std::int16_t replication_factor = -1; // -1: broker default default.replication.factor
    // Non-empty: replica assignment per partition (index = partition), then partitions and
    // replication_factor must both be -1 (else INVALID_REQUEST).
    std::vector<std::vector<std::int32_t>> assignment;
    std::map<std::string, std::string> configs; // topic-level overrides
    bool validate_only = false;
};

/// Where a config value comes from, and its type: the wire's own enums (Kafka's numbers), so a
/// described config goes into a DescribeConfigs answer unconverted.
using config_source = wire::describe_configs::config_source;
using config_type = wire::describe_configs::config_type;

struct config_synonym {
    std::string name; // e.g. "log.retention.ms" for topic key "retention.ms"
    std::optional<std::string> value;
    config_source source = config_source::unknown;
};

struct config_entry {
    std::string name;
    std::optional<std::string> value; // nullopt only for sensitive entries
    config_source source = config_source::default_config;
    bool read_only = false;
    bool sensitive = false;
    config_type type = config_type::string;
    std::string documentation;            // the config table's description
    std::vector<config_synonym> synonyms; // highest precedence first, including the entry itself
    bool is_default() const noexcept { return source == config_source::default_config; }
};

/// IncrementalAlterConfigs operations (Kafka's AlterConfigOp.OpType numbers).
enum class config_op : std::int8_t { set = 0, remove = 1 /*DELETE*/, append = 2, subtract = 3 };

struct config_change {
    std::string name;
    config_op op = config_op::set;
    std::optional<std::string> value;
};

struct delete_records_result {
    error_code error = error_code::none;
    offset low_watermark{-1};
};

} // namespace gregor
