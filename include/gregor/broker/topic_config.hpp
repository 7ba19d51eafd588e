// Topic-level configuration overrides (CreateTopics configs, AlterConfigs on a topic): Kafka's
// topic key names (retention.ms, cleanup.policy, ...) applied over the broker's defaults. A topic's
// effective settings are a whole broker_config, so partitions read one struct whatever the source.
// The topic names are a column of broker_keys and storage::log_keys (`topic_name`), not a list of
// their own.
//
// Thread-safety: pure functions over values.
#pragma once

#include <gregor/broker/broker_config.hpp>
#include <gregor/detail/config_table.hpp>
#include <gregor/storage/log_config.hpp>

#include <map>
#include <stdexcept>
#include <string>

namespace gregor {

/// Whether `key` is a topic-level property name.
[[nodiscard]] inline bool is_topic_config(const std::string& key) {
    return detail::config::find_topic(broker_keys, key) != nullptr ||
           detail::config::find_topic(storage::log_keys, key) != nullptr;
}

/// `base` with the topic-level overrides applied; an unknown key or a bad value throws
/// std::invalid_argument naming the key.
inline broker_config effective_topic_config(const broker_config& base,
                                            const std::map<std::string, std::string>& overrides) {
    broker_config c = base;
    for (const auto& [k, v] : overrides) {
        if (const auto* row = detail::config::find_topic(broker_keys, k))
            detail::config::apply(*row, c, k, v);
        else if (const auto* log_row = detail::config::find_topic(storage::log_keys, k))
            detail::config::apply(*log_row, c.log, k, v);
        else
            throw std::invalid_argument("unknown topic property '" + k + "'");
    }
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
