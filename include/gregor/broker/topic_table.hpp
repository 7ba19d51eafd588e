// What the broker remembers about its topics across restarts: name, topic id (the uuid Metadata
// v10+ and Fetch v13+ carry), per-topic config overrides, and per partition the replica
// assignment, leader, leader epoch and ISR. Single node today (replicas = {this node}); the shape
// is the one a controller fills for N nodes.
//
// Kept as `<data dir>/topic-table`, a line-oriented text file sealed with a crc32c line
// (storage/checkpoint.hpp) and replaced whole through the storage backend's durable write_file, so
// a crash leaves the old table or the new one, and crash-simulation backends see every write:
//
//   gregor-topic-table 1
//   topic =orders 3Qx0mNq7T0uGm1b5y2Vw2A 2 1      name, id, partitions, config overrides
//   config =retention.ms =3600000
//   partition 0 0 0 0 0                           index, leader, leader epoch, replicas, ISR
//   partition 1 0 0 0 0                           (node lists comma-separated)
//   crc32c 1a2b3c4d
//
// Thread-safety: values and pure functions; the broker serialises access.
#pragma once

#include <gregor/core/strong_types.hpp>
#include <gregor/storage/checkpoint.hpp>
#include <gregor/wire/primitives.hpp>

#include <array>
#include <charconv>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace gregor {

inline constexpr const char* topic_table_file = "topic-table";

/// One partition's place in the cluster.
struct partition_assignment {
    std::vector<node_id> replicas;
    node_id leader{-1};
    leader_epoch epoch{0};
    std::vector<node_id> isr;
    friend bool operator==(const partition_assignment&, const partition_assignment&) = default;
};

/// One topic as the table keeps it.
struct topic_record {
    std::string name;
    wire::uuid id;
    std::map<std::string, std::string> configs; // overrides only, by topic-level key
    std::vector<partition_assignment> partitions;
    friend bool operator==(const topic_record&, const topic_record&) = default;
};

/// Kafka's text form of a uuid: URL-safe base64 of the 16 bytes, without padding (22 chars).
inline std::string uuid_to_string(const wire::uuid& u) {
    static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    std::uint32_t acc = 0;
    int bits = 0;
    for (const auto b : u.bytes) {
        acc = (acc << 8) | std::to_integer<std::uint32_t>(b);
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out += alphabet[(acc >> bits) & 63];
        }
    }
    if (bits > 0) out += alphabet[(acc << (6 - bits)) & 63];
    return out;
}

inline std::optional<wire::uuid> uuid_from_string(std::string_view s) {
    if (s.size() != 22) return std::nullopt;
    wire::uuid u;
    std::uint32_t acc = 0;
    int bits = 0;
    std::size_t i = 0;
    for (const char c : s) {
        int v = -1;
        if (c >= 'A' && c <= 'Z')
            v = c - 'A';
        else if (c >= 'a' && c <= 'z')
            v = c - 'a' + 26;
        else if (c >= '0' && c <= '9')
            v = c - '0' + 52;
        else if (c == '-')
            v = 62;
        else if (c == '_')
            v = 63;
        if (v < 0) return std::nullopt;
        acc = (acc << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (i < 16) u.bytes[i++] = static_cast<std::byte>((acc >> bits) & 0xff);
        }
    }
    if (i != 16) return std::nullopt;
    return u;
}

/// A fresh random topic id. Kafka reserves the all-zero id (no id) and the one with only its
/// last bit set (the metadata topic), so neither is ever handed out.
inline wire::uuid random_topic_id() {
    static thread_local std::mt19937_64 rng{std::random_device{}() ^ (std::uint64_t{std::random_device{}()} << 32)};
    wire::uuid u;
    for (;;) {
        for (std::size_t i = 0; i < 16; i += 8) {
            const auto v = rng();
            for (std::size_t k = 0; k < 8; ++k) u.bytes[i + k] = static_cast<std::byte>(v >> (8 * k));
        }
        wire::uuid one;
        one.bytes[15] = std::byte{1};
        if (u != wire::uuid{} && u != one) return u;
    }
}

namespace topic_table_detail {

inline std::string nodes_text(const std::vector<node_id>& ns) {
    std::string out;
    for (std::size_t i = 0; i < ns.size(); ++i) out += (i ? "," : "") + std::to_string(ns[i].value());
    return out.empty() ? "-" : out;
}

template <typename T>
bool number(std::string_view s, T& out) {
    return !s.empty() && std::from_chars(s.data(), s.data() + s.size(), out).ptr == s.data() + s.size();
}

inline std::optional<std::vector<node_id>> parse_nodes(std::string_view s) {
    std::vector<node_id> out;
    if (s == "-") return out;
    while (!s.empty()) {
        const auto comma = s.find(',');
        std::int32_t v = 0;
        if (!number(s.substr(0, comma), v)) return std::nullopt;
        out.push_back(node_id{v});
        s = comma == std::string_view::npos ? std::string_view{} : s.substr(comma + 1);
    }
    return out;
}

} // namespace topic_table_detail

/// The table as its file holds it.
inline std::string encode_topic_table(const std::vector<topic_record>& topics) {
    using namespace topic_table_detail;
    std::string s = "gregor-topic-table 1\n";
    for (const auto& t : topics) {
        s += "topic " + storage::escape_field(t.name) + " " + uuid_to_string(t.id) + " " +
             std::to_string(t.partitions.size()) + " " + std::to_string(t.configs.size()) + "\n";
        for (const auto& [k, v] : t.configs)
            s += "config " + storage::escape_field(k) + " " + storage::escape_field(v) + "\n";
        for (std::size_t i = 0; i < t.partitions.size(); ++i) {
            const auto& p = t.partitions[i];
            s += "partition " + std::to_string(i) + " " + std::to_string(p.leader.value()) + " " +
                 std::to_string(p.epoch.value()) + " " + nodes_text(p.replicas) + " " + nodes_text(p.isr) + "\n";
        }
    }
    return storage::seal_text(std::move(s));
}

/// nullopt when the text is damaged (checksum, shape or numbers): a table that does not parse is
/// never guessed at, the broker refuses to start instead.
inline std::optional<std::vector<topic_record>> decode_topic_table(std::string_view text) {
    using namespace topic_table_detail;
    const auto body = storage::unseal_text(text);
    if (!body) return std::nullopt;
    const auto lines = storage::split_fields(*body);
    if (!lines || lines->empty()) return std::nullopt;
    const auto& head = (*lines)[0];
    if (head.size() != 2 || head[0] != "gregor-topic-table" || head[1] != "1") return std::nullopt;
    std::vector<topic_record> out;
    std::size_t i = 1;
    while (i < lines->size()) {
        const auto& l = (*lines)[i++];
        if (l.size() != 5 || l[0] != "topic") return std::nullopt;
        topic_record t;
        auto name = storage::unescape_field(l[1]);
        auto id = uuid_from_string(l[2]);
        std::size_t parts = 0, configs = 0;
        if (!name || !id || !number(l[3], parts) || !number(l[4], configs)) return std::nullopt;
        if (parts > 1000000 || i + parts + configs > lines->size()) return std::nullopt;
        t.name = std::move(*name);
        t.id = *id;
        for (std::size_t c = 0; c < configs; ++c) {
            const auto& cl = (*lines)[i++];
            if (cl.size() != 3 || cl[0] != "config") return std::nullopt;
            auto k = storage::unescape_field(cl[1]);
            auto v = storage::unescape_field(cl[2]);
            if (!k || !v) return std::nullopt;
            t.configs.emplace(std::move(*k), std::move(*v));
        }
        for (std::size_t p = 0; p < parts; ++p) {
            const auto& pl = (*lines)[i++];
            std::size_t index = 0;
            std::int32_t leader = 0, epoch = 0;
            if (pl.size() != 6 || pl[0] != "partition" || !number(pl[1], index) || index != p ||
                !number(pl[2], leader) || !number(pl[3], epoch))
                return std::nullopt;
            auto replicas = parse_nodes(pl[4]);
            auto isr = parse_nodes(pl[5]);
            if (!replicas || !isr) return std::nullopt;
            t.partitions.push_back({std::move(*replicas), node_id{leader}, leader_epoch{epoch}, std::move(*isr)});
        }
        out.push_back(std::move(t));
    }
    return out;
}

} // namespace gregor
