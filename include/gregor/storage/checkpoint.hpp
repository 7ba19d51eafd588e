// Kafka's text checkpoint files (docs/protocol.md §14.6.1): a format-version line, an entry-count
// line, then one entry per line with fields separated by whitespace. Two shapes are used:
//
//   leader-epoch-checkpoint (per partition dir)      "<epoch> <start offset>"
//   replication-offset-checkpoint,
//   recovery-point-offset-checkpoint,
//   log-start-offset-checkpoint (per data dir)       "<topic> <partition> <offset>"
//
// Files are replaced whole through a storage backend's write_file (temporary + fsync + rename), so
// a reader sees the old file or the new one, never a torn mix; a file that does not parse is
// therefore damage, and decoding reports it (nullopt) instead of guessing.
//
// Thread-safety: free functions on values; the backend passed in must be used as its contract says.
#pragma once

#include <gregor/core/buffer.hpp>
#include <gregor/core/crc32c.hpp>
#include <gregor/core/strong_types.hpp>

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace gregor::storage {

inline constexpr const char* leader_epoch_checkpoint_file = "leader-epoch-checkpoint";
inline constexpr const char* replication_offset_checkpoint_file = "replication-offset-checkpoint";
inline constexpr const char* recovery_point_checkpoint_file = "recovery-point-offset-checkpoint";
/// Log start offsets moved by DeleteRecords (docs/protocol.md §17.8), which may fall inside a
/// segment and so are not implied by the segment files.
inline constexpr const char* log_start_offset_checkpoint_file = "log-start-offset-checkpoint";

/// One leader-epoch-checkpoint entry: the first offset written in `epoch`.
struct epoch_entry {
    leader_epoch epoch{0};
    offset start_offset{0};
    friend bool operator==(const epoch_entry&, const epoch_entry&) = default;
};

/// One replication-offset / recovery-point checkpoint entry.
struct partition_offset {
    std::string topic;
    std::int32_t partition = 0;
    offset value{0};
    friend bool operator==(const partition_offset&, const partition_offset&) = default;
};

namespace checkpoint_detail {

/// Splits `text` into lines of whitespace-separated fields; blank lines are skipped only at the end.
inline std::optional<std::vector<std::vector<std::string_view>>> split(std::string_view text) {
    std::vector<std::vector<std::string_view>> lines;
    while (!text.empty()) {
        const auto nl = text.find('\n');
        const auto line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        std::vector<std::string_view> fields;
        std::size_t i = 0;
        while (i < line.size()) {
            while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
            const auto b = i;
            while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') ++i;
            if (i > b) fields.push_back(line.substr(b, i - b));
        }
        lines.push_back(std::move(fields));
    }
    while (!lines.empty() && lines.back().empty()) lines.pop_back();
    for (const auto& l : lines)
        if (l.empty()) return std::nullopt;
    return lines;
}

template <typename T>
bool parse(std::string_view s, T& out) {
    return !s.empty() && std::from_chars(s.data(), s.data() + s.size(), out).ptr == s.data() + s.size();
}

/// The entry lines after a valid "0" / count header, or nullopt.
inline std::optional<std::vector<std::vector<std::string_view>>> entries(std::string_view text, std::size_t fields) {
    auto lines = split(text);
    if (!lines || lines->size() < 2) return std::nullopt;
    std::int32_t version = -1;
    std::int64_t count = -1;
    if ((*lines)[0].size() != 1 || !parse((*lines)[0][0], version) || version != 0) return std::nullopt;
    if ((*lines)[1].size() != 1 || !parse((*lines)[1][0], count) || count < 0) return std::nullopt;
    if (static_cast<std::size_t>(count) != lines->size() - 2) return std::nullopt;
    lines->erase(lines->begin(), lines->begin() + 2);
    for (const auto& l : *lines)
        if (l.size() != fields) return std::nullopt;
    return lines;
}

} // namespace checkpoint_detail

inline std::string encode_epoch_checkpoint(const std::vector<epoch_entry>& entries) {
    std::string out = "0\n" + std::to_string(entries.size()) + "\n";
    for (const auto& e : entries)
        out += std::to_string(e.epoch.value()) + " " + std::to_string(e.start_offset.value()) + "\n";
    return out;
}

/// Entries in file order; nullopt when the text is not a version-0 checkpoint with non-negative
/// epochs and offsets.
inline std::optional<std::vector<epoch_entry>> decode_epoch_checkpoint(std::string_view text) {
    const auto lines = checkpoint_detail::entries(text, 2);
    if (!lines) return std::nullopt;
    std::vector<epoch_entry> out;
    for (const auto& l : *lines) {
        std::int32_t e = -1;
        std::int64_t o = -1;
        if (!checkpoint_detail::parse(l[0], e) || !checkpoint_detail::parse(l[1], o) || e < 0 || o < 0)
            return std::nullopt;
        out.push_back({leader_epoch{e}, offset{o}});
    }
    return out;
}

inline std::string encode_offset_checkpoint(const std::vector<partition_offset>& entries) {
    std::string out = "0\n" + std::to_string(entries.size()) + "\n";
    for (const auto& e : entries)
        out += e.topic + " " + std::to_string(e.partition) + " " + std::to_string(e.value.value()) + "\n";
    return out;
}

inline std::optional<std::vector<partition_offset>> decode_offset_checkpoint(std::string_view text) {
    const auto lines = checkpoint_detail::entries(text, 3);
    if (!lines) return std::nullopt;
    std::vector<partition_offset> out;
    for (const auto& l : *lines) {
        partition_offset po;
        po.topic = std::string(l[0]);
        std::int64_t o = -1;
        if (!checkpoint_detail::parse(l[1], po.partition) || !checkpoint_detail::parse(l[2], o) || po.partition < 0 ||
            o < 0)
            return std::nullopt;
        po.value = offset{o};
        out.push_back(std::move(po));
    }
    return out;
}

// ---- gregor's own metadata files ------------------------------------------------------------
// The topic table and the transactional-id state are line-oriented text too, sealed with a
// trailing "crc32c <8 hex digits>" line over everything before it: a rename makes them atomic, the
// checksum catches the damage a rename cannot (a bad disk, a hand edit gone wrong).

/// `body` (ending in '\n') followed by its checksum line.
inline std::string seal_text(std::string body) {
    char line[24];
    const auto n = std::snprintf(line, sizeof line, "crc32c %08x\n", crc32c::compute(as_bytes(body)));
    body.append(line, static_cast<std::size_t>(n));
    return body;
}

/// The body of a sealed text, or nullopt when the checksum line is missing or does not match.
inline std::optional<std::string_view> unseal_text(std::string_view text) {
    if (text.size() < 17 || text.back() != '\n') return std::nullopt;
    const auto body = text.substr(0, text.size() - 16);
    const auto tail = text.substr(text.size() - 16, 15);
    if (!body.empty() && body.back() != '\n') return std::nullopt;
    if (tail.substr(0, 7) != "crc32c ") return std::nullopt;
    std::uint32_t crc = 0;
    const auto hex = tail.substr(7);
    if (std::from_chars(hex.data(), hex.data() + hex.size(), crc, 16).ptr != hex.data() + hex.size())
        return std::nullopt;
    if (crc != crc32c::compute(as_bytes(body))) return std::nullopt;
    return body;
}

/// A string as one whitespace-free field: '=' then the bytes, with '%', controls, spaces and
/// non-ASCII as %XX (so empty strings and any bytes round-trip).
inline std::string escape_field(std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out = "=";
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u >= 0x7f || c == '%') {
            out += '%';
            out += hex[u >> 4];
            out += hex[u & 15];
        } else {
            out += c;
        }
    }
    return out;
}

inline std::optional<std::string> unescape_field(std::string_view f) {
    if (f.empty() || f.front() != '=') return std::nullopt;
    std::string out;
    for (std::size_t i = 1; i < f.size(); ++i) {
        if (f[i] != '%') {
            out += f[i];
            continue;
        }
        unsigned v = 0;
        if (i + 2 >= f.size()) return std::nullopt; // '%' needs two hex digits after it
        if (std::from_chars(f.data() + i + 1, f.data() + i + 3, v, 16).ptr != f.data() + i + 3) return std::nullopt;
        out += static_cast<char>(v);
        i += 2;
    }
    return out;
}

/// Lines of whitespace-separated fields (for the sealed files' bodies).
inline std::optional<std::vector<std::vector<std::string_view>>> split_fields(std::string_view text) {
    return checkpoint_detail::split(text);
}

/// Replaces `name` with `text` durably through the backend's write_file.
template <typename Backend>
std::error_code write_text_file(Backend& b, const std::string& name, std::string_view text) {
    return b.write_file(name, as_bytes(text));
}

/// The whole of `name` as text; nullopt with `ec` no_such_file_or_directory when absent (or the
/// read error).
template <typename Backend>
std::optional<std::string> read_text_file(const Backend& b, const std::string& name, std::error_code& ec) {
    byte_buffer buf;
    ec = b.read_file(name, buf);
    if (ec) return std::nullopt;
    return std::string(as_string_view(buf.view()));
}

/// Whether `name` exists, telling "absent" apart from a read failure (`ec` set for the latter).
inline bool missing_file(const std::error_code& ec) noexcept { return ec == std::errc::no_such_file_or_directory; }

} // namespace gregor::storage
