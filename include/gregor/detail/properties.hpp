// Parsing of Kafka-style `key=value` property values shared by every component's config
// (broker_config, producer_config, ...). Errors name the key, as Kafka's ConfigException does.
#pragma once

#include <charconv>
#include <cstdint>
#include <limits>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>

namespace gregor::detail::props {

/// A config built from properties by its own `set(key, value)`, one key at a time: every
/// component's `from_properties` is this, so unknown keys and bad values fail the same way.
template <typename Config>
Config from_map(const std::map<std::string, std::string>& props) {
    Config c;
    for (const auto& [k, v] : props) c.set(k, v);
    return c;
}

[[noreturn]] inline void bad_value(const std::string& key, const std::string& value, const char* why) {
    throw std::invalid_argument("invalid value '" + value + "' for property '" + key + "': " + why);
}

/// An integer in [min, max]; anything else (junk, overflow, out of range) names the key.
template <typename T>
T parse_int(const std::string& key, const std::string& value, T min = std::numeric_limits<T>::min(),
            T max = std::numeric_limits<T>::max()) {
    T v{};
    const auto* b = value.data();
    const auto* e = value.data() + value.size();
    auto [p, ec] = std::from_chars(b, e, v);
    if (ec != std::errc{} || p != e || value.empty()) bad_value(key, value, "not an integer in range");
    if (v < min || v > max)
        bad_value(key, value, ("must be between " + std::to_string(min) + " and " + std::to_string(max)).c_str());
    return v;
}

inline bool parse_bool(const std::string& key, const std::string& value) {
    if (value == "true") return true;
    if (value == "false") return false;
    bad_value(key, value, "must be true or false");
}

/// Splits "k=v" lines (as in a .properties file or -X k=v arguments); '#' starts a comment.
inline std::map<std::string, std::string> parse_lines(std::string_view text) {
    std::map<std::string, std::string> out;
    while (!text.empty()) {
        const auto nl = text.find('\n');
        auto line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
        while (!line.empty() && (line.back() == ' ' || line.back() == '\r' || line.back() == '\t'))
            line.remove_suffix(1);
        if (line.empty() || line.front() == '#') continue;
        const auto eq = line.find('=');
        if (eq == std::string_view::npos)
            throw std::invalid_argument("property line without '=': " + std::string(line));
        out[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
    }
    return out;
}

} // namespace gregor::detail::props
