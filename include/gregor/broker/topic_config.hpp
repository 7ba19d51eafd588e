// Topic-level configuration overrides (CreateTopics configs, AlterConfigs on a topic): Kafka's
// topic key names (retention.ms, cleanup.policy, ...) applied over the broker's defaults. A topic's
// effective settings are a whole broker_config, so partitions read one struct whatever the source.
// The topic names are a column of broker_keys and storage::log_keys (`topic_name`), not a list of
// their own.
//
// The same tables describe configs for DescribeConfigs (docs/protocol.md §17.4: value, source,
// type, documentation, synonyms) and drive IncrementalAlterConfigs' operations (§17.6), so a key is
// described exactly as it is parsed.
//
// Thread-safety: pure functions over values.
#pragma once

#include <gregor/broker/admin.hpp>
#include <gregor/broker/broker_config.hpp>
#include <gregor/detail/config_table.hpp>
#include <gregor/storage/log_config.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

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

/// Whether `key` (topic-level or broker-level name) holds a list (Kafka's ConfigType LIST), the
/// only kind IncrementalAlterConfigs may APPEND to or SUBTRACT from.
[[nodiscard]] inline bool is_list_config(std::string_view key) noexcept {
    return key == "cleanup.policy" || key == "log.cleanup.policy";
}

namespace topic_config_detail {

// Kafka's ConfigType of a row: LIST for list keys, INT for integers bounded to 32 bits, else LONG.
template <typename Config>
config_type type_of(const detail::config::key<Config>& k) {
    if (is_list_config(k.name)) return config_type::list;
    switch (k.type) {
    case detail::config::type::boolean: return config_type::boolean;
    case detail::config::type::string:
    case detail::config::type::choice: return config_type::string;
    case detail::config::type::fraction: return config_type::double_;
    case detail::config::type::integer:
        return k.min >= std::numeric_limits<std::int32_t>::min() && k.max <= std::numeric_limits<std::int32_t>::max()
                   ? config_type::int_
                   : config_type::long_;
    }
    return config_type::unknown;
}

// The built-in default of a row as its values are printed (scaled rows: in the stored unit).
template <typename Config>
std::string default_value(const detail::config::key<Config>& k) {
    try {
        return detail::config::format(k, detail::config::parse(k, std::string(k.name), std::string(k.default_text)));
    } catch (const std::invalid_argument&) {
        return std::string(k.default_text);
    }
}

// One row's entry: `value` as configured, `broker_value` the broker's own (static) value, `def` the
// built-in default, `topic` the topic override if any. Synonyms go from the highest precedence
// down, the entry's own level included: the topic override, the broker's value when it is not the
// default, the default.
template <typename Config>
config_entry make_entry(const detail::config::key<Config>& k, std::string name, const std::string& value,
                        const std::string& broker_value, const std::string& def,
                        const std::optional<std::string>& topic, bool read_only) {
    config_entry e;
    e.name = std::move(name);
    e.value = value;
    e.read_only = read_only;
    e.type = type_of(k);
    e.documentation = std::string(k.doc);
    const bool broker_set = broker_value != def;
    if (topic) {
        e.source = config_source::topic_config;
        e.synonyms.push_back({e.name, value, config_source::topic_config});
    } else {
        e.source = broker_set ? config_source::static_broker_config : config_source::default_config;
    }
    if (broker_set) e.synonyms.push_back({std::string(k.name), broker_value, config_source::static_broker_config});
    e.synonyms.push_back({std::string(k.name), def, config_source::default_config});
    return e;
}

inline bool wanted(std::span<const std::string> keys, std::string_view name) {
    return keys.empty() || std::find(keys.begin(), keys.end(), name) != keys.end();
}

inline void sort_by_name(std::vector<config_entry>& v) {
    std::sort(v.begin(), v.end(), [](const config_entry& a, const config_entry& b) { return a.name < b.name; });
}

// A list value's items ("compact, delete" -> {"compact", "delete"}).
inline std::vector<std::string> split_list(std::string_view s) {
    std::vector<std::string> out;
    detail::config::for_each_token(s, ',', [&](std::string_view t) {
        while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
        while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
        if (!t.empty()) out.emplace_back(t);
    });
    return out;
}

} // namespace topic_config_detail

/// DescribeConfigs for a topic (docs/protocol.md §17.4): every topic-level key of broker_keys and
/// storage::log_keys (or those named in `keys`; unknown names are left out), by name, with the
/// value the topic runs with and its source: the topic's override (config_source::topic_config), else the
/// broker's own value (static_broker) when it is not the built-in default, else default_config.
/// `broker` is the broker's config, `overrides` the topic's (valid) overrides.
inline std::vector<config_entry> describe_topic_config_entries(const broker_config& broker,
                                                               const std::map<std::string, std::string>& overrides,
                                                               std::span<const std::string> keys = {}) {
    using namespace topic_config_detail;
    const auto eff = effective_topic_config(broker, overrides);
    std::vector<config_entry> out;
    const auto add = [&](const auto& k, const auto& effective_cfg, const auto& broker_cfg) {
        if (k.topic_name.empty() || k.load == nullptr || !wanted(keys, k.topic_name)) return;
        const std::string name(k.topic_name);
        const auto it = overrides.find(name);
        const auto topic = it == overrides.end() ? std::nullopt : std::optional<std::string>(it->second);
        out.push_back(make_entry(k, name, detail::config::format(k, k.load(effective_cfg)),
                                 detail::config::format(k, k.load(broker_cfg)), default_value(k), topic, false));
    };
    for (const auto& k : broker_keys) add(k, eff, broker);
    for (const auto& k : storage::log_keys) add(k, eff.log, broker.log);
    sort_by_name(out);
    return out;
}

/// DescribeConfigs for the broker itself: every row of broker_keys and storage::log_keys (or those
/// named in `keys`), read-only, static_broker when the value is not the built-in default, else
/// default_config. A key folded into another's field (log.retention.hours into log.retention.ms)
/// shows the default while that field has it, else the field in the key's own unit when it
/// converts exactly (and is left out when it does not).
inline std::vector<config_entry> describe_broker_config_entries(const broker_config& broker,
                                                                std::span<const std::string> keys = {}) {
    using namespace topic_config_detail;
    std::vector<config_entry> out;
    const auto add = [&](const auto& table, const auto& cfg) {
        for (const auto& k : table) {
            if (!wanted(keys, k.name)) continue;
            std::string value;
            std::string def = default_value(k);
            if (k.load != nullptr) {
                value = detail::config::format(k, k.load(cfg));
            } else {
                def = std::string(k.default_text); // in the key's own unit, like the value
                // The row that owns the field this one is folded into.
                const auto* owner = static_cast<decltype(&k)>(nullptr);
                for (const auto& o : table)
                    if (o.load != nullptr && o.stored == k.stored) owner = &o;
                if (owner == nullptr) continue;
                const auto field = owner->load(cfg);
                if (detail::config::format(*owner, field) == default_value(*owner))
                    value = std::string(k.default_text);
                else if (field.i < 0)
                    value = "-1";
                else if (k.scale > 0 && field.i % k.scale == 0)
                    value = std::to_string(field.i / k.scale);
                else
                    continue;
            }
            out.push_back(make_entry(k, std::string(k.name), value, value, def, std::nullopt, true));
        }
    };
    add(broker_keys, broker);
    add(storage::log_keys, broker.log);
    sort_by_name(out);
    return out;
}

/// IncrementalAlterConfigs (docs/protocol.md §17.6) applied to a topic's `overrides`: SET and
/// DELETE (back to the broker's value) for any topic key, APPEND/SUBTRACT for list keys only, whose
/// current items are the override's or, without one, the value the topic runs with (`effective`).
/// INVALID_REQUEST for the same name twice or a missing value (other than DELETE), INVALID_CONFIG
/// for an unknown key or APPEND/SUBTRACT on a key that is not a list. The values themselves are
/// checked afterwards, with the whole set (effective_topic_config). `overrides` is changed only on
/// success.
inline admin_result apply_config_changes(std::map<std::string, std::string>& overrides,
                                         std::span<const config_change> changes, const broker_config& effective) {
    using namespace topic_config_detail;
    for (std::size_t i = 0; i < changes.size(); ++i)
        for (std::size_t j = i + 1; j < changes.size(); ++j)
            if (changes[i].name == changes[j].name)
                return {error_code::invalid_request, "Error due to duplicate config keys"};
    auto next = overrides;
    for (const auto& c : changes) {
        if (!is_topic_config(c.name)) return {error_code::invalid_config, "Unknown topic config name: " + c.name};
        if (c.op != config_op::remove && !c.value)
            return {error_code::invalid_request, "Null value not supported for : " + c.name};
        switch (c.op) {
        case config_op::set: next[c.name] = *c.value; break;
        case config_op::remove: next.erase(c.name); break;
        case config_op::append:
        case config_op::subtract: {
            if (!is_list_config(c.name))
                return {error_code::invalid_config, std::string("Config value ") +
                                                        (c.op == config_op::append ? "append" : "subtract") +
                                                        " is not allowed for config key: " + c.name};
            std::vector<std::string> items;
            if (const auto it = next.find(c.name); it != next.end()) {
                items = split_list(it->second);
            } else {
                if (const auto* k = detail::config::find_topic(storage::log_keys, c.name))
                    items = split_list(detail::config::format(*k, k->load(effective.log)));
            }
            for (const auto& v : split_list(*c.value)) {
                const auto at = std::find(items.begin(), items.end(), v);
                if (c.op == config_op::append && at == items.end()) items.push_back(v);
                if (c.op == config_op::subtract && at != items.end()) items.erase(at);
            }
            std::string joined;
            for (const auto& v : items) joined += (joined.empty() ? "" : ",") + v;
            next[c.name] = joined;
            break;
        }
        default: return {error_code::invalid_request, "Unknown config operation for " + c.name};
        }
    }
    overrides = std::move(next);
    return {};
}

} // namespace gregor
