// Broker addresses as clients are given them: `bootstrap.servers` ("host:port,host:port"), shared
// by the producer's and the consumer's TCP transports so both accept and reject the same strings.
// Thread-safety: pure functions and value types.
#pragma once

#include <charconv>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace gregor::net {

struct endpoint {
    std::string host;
    std::uint16_t port = 0;

    friend bool operator==(const endpoint&, const endpoint&) = default;
};

/// Parses "host:port,host:port" (spaces around items allowed; the port is after the last ':').
/// Throws std::invalid_argument naming the property on a bad item or an empty list.
inline std::vector<endpoint> parse_bootstrap_servers(std::string_view s) {
    std::vector<endpoint> out;
    while (!s.empty()) {
        const auto comma = s.find(',');
        auto item = s.substr(0, comma);
        s = comma == std::string_view::npos ? std::string_view{} : s.substr(comma + 1);
        while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
        while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
        if (item.empty()) continue;
        const auto colon = item.rfind(':');
        unsigned port = 0;
        if (colon == std::string_view::npos || colon == 0 ||
            std::from_chars(item.data() + colon + 1, item.data() + item.size(), port).ec != std::errc{} || port == 0 ||
            port > 65535)
            throw std::invalid_argument("invalid value '" + std::string(item) +
                                        "' for property 'bootstrap.servers': expected host:port");
        out.push_back({std::string(item.substr(0, colon)), static_cast<std::uint16_t>(port)});
    }
    if (out.empty()) throw std::invalid_argument("property 'bootstrap.servers' is empty");
    return out;
}

} // namespace gregor::net
