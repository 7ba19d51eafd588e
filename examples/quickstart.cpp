// Quick start: an embedded gregor broker storing its log in page-cache files under a temporary
// directory, and a gregor producer with Kafka's default policies and settings (murmur2 keyed
// placement, linger.ms=5 / batch.size=16384 batching, acks=all, idempotence on) sending a few
// million keyed records to it in process. Every record is then read back through the broker's
// fetch and checked: present exactly once, in its key's partition, in send order for its key,
// with its exact key and value and a timestamp the producer stamped while sending. Prints records/s, MB/s and the verdict; exits non-zero
// on any mismatch.
//
//   quickstart [records]     (default 3,000,000)
#include <gregor/broker/broker.hpp>
#include <gregor/producer/producer.hpp>
#include <gregor/producer/transports.hpp>
#include <gregor/storage/backends/file.hpp>
#include <gregor/wire/record_batch.hpp>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

namespace {

using broker_type = gregor::broker<gregor::broker_policies<gregor::storage::file_backend>>;
using transport_type = gregor::transport::in_process<broker_type>;
using producer_type = gregor::producer<gregor::producer_policies<transport_type>>;

constexpr const char* topic = "quickstart";
constexpr std::int32_t partitions = 8;
constexpr std::uint64_t keys = 10007;
constexpr std::size_t value_size = 100;

std::string key_of(std::uint64_t i) { return "user-" + std::to_string(i % keys); }

/// 100 bytes: the record number in decimal, then filler that depends on it.
void fill_value(std::uint64_t i, char* out) {
    std::snprintf(out, 21, "%020" PRIu64, i);
    for (std::size_t k = 20; k < value_size; ++k) out[k] = static_cast<char>('a' + (i * 31 + k) % 26);
}

struct temp_dir {
    std::filesystem::path path;
    temp_dir() {
        std::random_device rd;
        path = std::filesystem::temp_directory_path() / ("gregor-quickstart-" + std::to_string(rd()));
        std::filesystem::create_directories(path);
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
};

} // namespace

int main(int argc, char** argv) {
    const std::uint64_t records = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 3'000'000;
    if (records == 0) {
        std::fprintf(stderr, "usage: quickstart [records > 0]\n");
        return 2;
    }
    temp_dir dir;
    gregor::broker_config bc;
    bc.data_dir = dir.path;
    broker_type broker{bc};
    if (broker.create_topic(topic, partitions) != gregor::error_code::none) {
        std::fprintf(stderr, "cannot create topic\n");
        return 1;
    }

    // ---- produce ---------------------------------------------------------------------------
    std::vector<std::string> key_names;
    for (std::uint64_t k = 0; k < keys; ++k) key_names.push_back(key_of(k));
    std::uint64_t send_errors = 0;
    const std::int64_t first_ms = gregor::system_clock{}.wall_ms();
    const auto t0 = std::chrono::steady_clock::now();
    gregor::producer_stats stats;
    {
        producer_type producer{gregor::producer_config{}, transport_type{broker}};
        char value[value_size];
        for (std::uint64_t i = 0; i < records; ++i) {
            fill_value(i, value);
            const auto ec = producer.send(
                {.topic = topic, .key = key_names[i % keys], .value = std::string_view(value, value_size)});
            if (ec) ++send_errors;
        }
        if (producer.flush()) ++send_errors;
        stats = producer.metrics();
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const std::int64_t last_ms = gregor::system_clock{}.wall_ms();
    const double payload_mb = static_cast<double>(records) * (value_size + 10) / 1e6;
    std::printf("produced %" PRIu64 " records (%d partitions, %s) in %.3f s: %.0f records/s, %.1f MB/s of "
                "key+value, %.1f MB/s of batches\n",
                records, partitions, dir.path.c_str(), seconds, static_cast<double>(records) / seconds,
                payload_mb / seconds, static_cast<double>(stats.bytes_sent) / seconds / 1e6);
    std::printf("producer: %" PRIu64 " acknowledged, %" PRIu64 " failed, %" PRIu64 " batches, %.1f records/batch, "
                "%.2f ms average batch latency\n",
                stats.records_acked, stats.records_failed, stats.batches_acked, stats.avg_batch_records,
                stats.avg_record_latency_ms);

    // ---- read back and verify ----------------------------------------------------------------
    const auto v0 = std::chrono::steady_clock::now();
    std::vector<bool> seen(records, false);
    std::vector<std::int64_t> last_for_key(keys, -1);
    std::uint64_t found = 0, mismatches = 0, batches = 0;
    auto bad = [&](const char* what, std::uint64_t i) {
        if (mismatches++ < 10) std::fprintf(stderr, "mismatch: %s (record %" PRIu64 ")\n", what, i);
    };
    char expect[value_size];
    for (std::int32_t p = 0; p < partitions; ++p) {
        gregor::offset next{0};
        for (;;) {
            auto r = broker.fetch_copy(topic, gregor::partition_id{p}, next, std::size_t{4} << 20);
            if (r.error != gregor::error_code::none) {
                bad("fetch failed", 0);
                break;
            }
            if (r.records.empty()) break;
            gregor::wire::batch_splitter split(r.records.view());
            while (auto b = split.next()) {
                if (gregor::wire::validate(*b) != gregor::wire::batch_error::none) {
                    bad("invalid batch", 0);
                    continue;
                }
                ++batches;
                gregor::wire::batch_view view(*b);
                for (const auto& rec : view) {
                    if (!rec.value || rec.value->size() != value_size || !rec.key) {
                        bad("record shape", 0);
                        continue;
                    }
                    const auto v = gregor::as_string_view(*rec.value);
                    std::uint64_t i = 0;
                    for (std::size_t d = 0; d < 20; ++d) i = i * 10 + static_cast<std::uint64_t>(v[d] - '0');
                    if (i >= records) {
                        bad("record number out of range", i);
                        continue;
                    }
                    if (seen[i]) bad("duplicate", i);
                    seen[i] = true;
                    ++found;
                    fill_value(i, expect);
                    if (std::memcmp(v.data(), expect, value_size) != 0) bad("value bytes", i);
                    if (gregor::as_string_view(*rec.key) != key_names[i % keys]) bad("key", i);
                    if (gregor::partitioners::murmur2_partition(*rec.key, partitions) != p) bad("partition", i);
                    if (rec.timestamp < first_ms || rec.timestamp > last_ms) bad("timestamp", i);
                    auto& last = last_for_key[i % keys];
                    if (static_cast<std::int64_t>(i) <= last) bad("order within key", i);
                    last = static_cast<std::int64_t>(i);
                }
                next = view.header().next_offset();
            }
            if (next >= r.high_watermark) break;
        }
    }
    if (found != records) bad("records missing", records - found);
    const double vseconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - v0).count();
    const bool ok = mismatches == 0 && send_errors == 0 && stats.records_acked == records;
    std::printf("verified %" PRIu64 " of %" PRIu64 " records in %" PRIu64 " batches read back through fetch "
                "(%.3f s): %s\n",
                found, records, batches, vseconds,
                ok ? "OK, every record exactly once, in key order, byte for byte" : "FAILED\n");
    return ok ? 0 : 1;
}
