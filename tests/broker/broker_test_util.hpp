// Shared helpers for the broker tests: temporary data dirs and batch construction.
#pragma once

#include <gregor/broker/broker.hpp>
#include <gregor/wire/record_batch.hpp>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

namespace gregor::test {

/// A fresh directory under /tmp removed when the object goes away.
struct temp_dir {
    std::filesystem::path path;
    temp_dir() {
        std::random_device rd;
        path = std::filesystem::temp_directory_path() /
               ("gregor-broker-test-" + std::to_string(rd()) + std::to_string(rd()));
        std::filesystem::create_directories(path);
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
};

/// A batch of `n` records with values "<prefix>-<i>", optionally idempotent.
/// Timestamps default to now: older ones would be deleted by time retention (log.retention.ms)
/// as soon as the maintenance thread runs, exactly as Kafka would.
inline byte_buffer make_batch(const std::string& prefix, int n, wire::producer_stamp stamp = {},
                              std::int64_t ts = system_clock{}.wall_ms()) {
    wire::batch_builder b(1024);
    for (int i = 0; i < n; ++i) {
        const auto v = prefix + "-" + std::to_string(i);
        b.append(ts + i, as_bytes(v), as_bytes(v));
    }
    return b.seal(stamp);
}

inline wire::producer_stamp idem(std::int64_t pid, std::int16_t epoch, std::int32_t seq) {
    return {producer_id{pid}, producer_epoch{epoch}, sequence{seq}, false};
}

/// Every record value of the batches in `records`, in log order, with its offset.
inline std::vector<std::pair<std::int64_t, std::string>> decode_all(bytes_view records) {
    std::vector<std::pair<std::int64_t, std::string>> out;
    wire::batch_splitter s(records);
    while (auto b = s.next()) {
        wire::batch_view v(*b);
        for (const auto& r : v) out.emplace_back(r.record_offset.value(), std::string(as_string_view(*r.value)));
    }
    return out;
}

template <typename Broker>
std::vector<std::pair<std::int64_t, std::string>> read_partition(Broker& b, const std::string& topic, int p,
                                                                 std::int64_t from = 0) {
    std::vector<std::pair<std::int64_t, std::string>> all;
    offset pos{from};
    for (int guard = 0; guard < 100000; ++guard) {
        auto r = b.fetch_copy(topic, partition_id{p}, pos, 1 << 20);
        if (r.error != error_code::none || r.records.empty()) break;
        auto got = decode_all(r.records.view());
        for (auto& g : got)
            if (g.first >= pos.value()) all.push_back(g);
        if (all.empty() || all.back().first + 1 <= pos.value()) break;
        pos = offset{all.back().first + 1};
    }
    return all;
}

} // namespace gregor::test
