// Apache Kafka's on-disk names, so Kafka's tools and habits apply to a gregor data directory:
//
//   <data dir>/<topic>-<partition>/              one directory per partition (the log's directory)
//       00000000000000000000.log                 batches, exactly as received (20-digit base offset)
//       00000000000000000000.index               sparse offset index
//       00000000000000000000.timeindex           sparse time index
//       00000000000000000000.txnindex            aborted transactions (only once there is one)
//       .kafka_cleanshutdown                     present only after a clean close
//
// Thread-safety: pure functions.
#pragma once

#include <gregor/core/strong_types.hpp>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace gregor::storage {

inline constexpr std::string_view log_suffix = ".log";
inline constexpr std::string_view index_suffix = ".index";
inline constexpr std::string_view time_index_suffix = ".timeindex";
inline constexpr std::string_view txn_index_suffix = ".txnindex";
/// A segment's compacted copy while the cleaner writes it ("<base>.log.cleaned", Kafka's name);
/// renamed over the segment when complete, removed at open when a crash left it.
inline constexpr std::string_view cleaned_suffix = ".cleaned";
/// Written by close() after everything is durable; its presence at open skips recovery.
inline constexpr std::string_view clean_shutdown_marker = ".kafka_cleanshutdown";

/// `<20-digit base offset><suffix>`, e.g. "00000000000000000042.log".
inline std::string segment_file_name(offset base, std::string_view suffix) {
    char digits[32];
    std::snprintf(digits, sizeof digits, "%020lld", static_cast<long long>(base.value()));
    std::string s(digits);
    s += suffix;
    return s;
}

/// The base offset of a segment file name with this suffix, if it is one.
inline std::optional<offset> parse_segment_file_name(std::string_view name, std::string_view suffix) {
    if (name.size() != 20 + suffix.size() || name.substr(20) != suffix) return std::nullopt;
    std::int64_t v = 0;
    for (std::size_t i = 0; i < 20; ++i) {
        const char c = name[i];
        if (c < '0' || c > '9') return std::nullopt;
        if (v > (INT64_MAX - (c - '0')) / 10) return std::nullopt;
        v = v * 10 + (c - '0');
    }
    return offset{v};
}

/// `<data dir>/<topic>-<partition>`: the directory a partition's log lives in.
inline std::filesystem::path partition_dir(const std::filesystem::path& data_dir, std::string_view topic,
                                           std::int32_t partition) {
    std::string leaf(topic);
    leaf += '-';
    leaf += std::to_string(partition);
    return data_dir / leaf;
}

} // namespace gregor::storage
