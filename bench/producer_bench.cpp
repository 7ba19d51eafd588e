// Producer figures: embedded throughput of one producer thread sending 100-byte values with
// acks=1 through transport::in_process into a gregor::broker, memory and file (page cache)
// storage, keyless (uniform sticky partitioner) and keyed (murmur2), and in the same run the rate
// of plain 100-byte memcpy appends into a large buffer, so the ratio is visible.
// One JSON line per figure. Usage: producer_bench [records [only]]  (default 5,000,000; `only`
// runs the one configuration named, e.g. memory_unkeyed)
#include "bench.hpp"

#include <gregor/broker/broker.hpp>
#include <gregor/producer/producer.hpp>
#include <gregor/producer/transports.hpp>
#include <gregor/storage/backends/file.hpp>
#include <gregor/storage/backends/memory.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <malloc.h>

namespace {

using gregor_bench::emit;
using gregor_bench::keep;
using clk = std::chrono::steady_clock;

constexpr std::size_t value_size = 100;
constexpr std::int32_t partitions = 8;

double seconds_since(clk::time_point t0) { return std::chrono::duration<double>(clk::now() - t0).count(); }

/// CPU time of the calling thread / of the whole process, in seconds (figures that a busy machine
/// disturbs less than wall time).
double cpu_seconds(clockid_t id) {
    timespec ts{};
    clock_gettime(id, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

/// Plain memcpy of 100-byte values into a large buffer (reused cyclically), records/s.
double memcpy_rate(std::size_t records) {
    std::vector<std::byte> big(std::size_t{256} << 20);
    std::byte value[value_size];
    std::memset(value, 'v', sizeof value);
    double best = 0;
    for (int round = 0; round < 3; ++round) {
        std::size_t pos = 0;
        const auto t0 = clk::now();
        for (std::size_t i = 0; i < records; ++i) {
            if (pos + value_size > big.size()) pos = 0;
            value[0] = static_cast<std::byte>(i);
            std::memcpy(big.data() + pos, value, value_size);
            pos += value_size;
        }
        keep(big[pos - 1]);
        best = std::max(best, static_cast<double>(records) / seconds_since(t0));
    }
    return best;
}

template <typename Backend>
double produce_rate(const char* label, std::size_t records, bool keyed, const std::filesystem::path& dir) {
    using broker_t = gregor::broker<gregor::broker_policies<Backend>>;
    using transport_t = gregor::transport::in_process<broker_t>;
    using producer_t =
        gregor::producer<gregor::producer_policies<transport_t, gregor::partitioners::uniform_sticky,
                                                   gregor::batching::linger_or_size, gregor::acks::leader>>;
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    gregor::broker_config bc;
    bc.data_dir = dir;
    broker_t broker{bc};
    (void)broker.create_topic("bench", partitions);
    gregor::producer_config pc;
    producer_t p{pc, transport_t{broker}};
    std::string value(value_size, 'v');
    std::vector<std::string> keys;
    for (int i = 0; i < 1024; ++i) keys.push_back("key-" + std::to_string(i));
    // Warm-up: metadata, first batches, page faults of the first buffers.
    for (int i = 0; i < 10000; ++i) (void)p.send({.topic = "bench", .value = value});
    (void)p.flush();
    const auto before = p.metrics();
    const double thread0 = cpu_seconds(CLOCK_THREAD_CPUTIME_ID), process0 = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID);
    const auto t0 = clk::now();
    for (std::size_t i = 0; i < records; ++i) {
        std::memcpy(value.data(), &i, sizeof i);
        if (keyed)
            (void)p.send({.topic = "bench", .key = keys[i & 1023], .value = value});
        else
            (void)p.send({.topic = "bench", .value = value});
    }
    const double send_cpu = cpu_seconds(CLOCK_THREAD_CPUTIME_ID) - thread0;
    (void)p.flush();
    const double s = seconds_since(t0);
    const double total_cpu = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID) - process0;
    const auto m = p.metrics();
    const double rate = static_cast<double>(records) / s;
    const std::string name = std::string("producer_") + label + (keyed ? "_keyed" : "_unkeyed");
    emit(name + "_records_per_s", rate, "records/s");
    emit(name + "_mb_per_s", static_cast<double>(m.bytes_sent - before.bytes_sent) / s / 1e6, "MB/s");
    emit(name + "_avg_batch_records", m.avg_batch_records, "records");
    const double per = 1e9 / static_cast<double>(records);
    emit(name + "_send_thread_cpu_ns_per_record", send_cpu * per, "ns");
    emit(name + "_other_threads_cpu_ns_per_record", (total_cpu - send_cpu) * per, "ns");
    if (m.records_acked - before.records_acked != records) {
        std::fprintf(stderr, "%s: %llu of %zu records acknowledged\n", name.c_str(),
                     static_cast<unsigned long long>(m.records_acked - before.records_acked), records);
        std::exit(1);
    }
    p.close();
    broker.close();
    std::filesystem::remove_all(dir, ec);
    return rate;
}

} // namespace

int main(int argc, char** argv) {
    const std::size_t records = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 5'000'000;
    const std::string only = argc > 2 ? argv[2] : "";
    // Keep freed memory in the process, so a second run reuses the first run's pages instead of
    // asking the kernel for fresh (zeroed) ones: the warm figures then measure gregor, not the
    // page allocator.
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    mallopt(M_TRIM_THRESHOLD, std::numeric_limits<int>::max());
    auto want = [&](const char* name) { return only.empty() || only == name; };
    const auto dir =
        std::filesystem::temp_directory_path() / ("gregor-producer-bench-" + std::to_string(std::random_device{}()));
    const double base = memcpy_rate(records);
    emit("memcpy_100b_append_records_per_s", base, "records/s");
    // The memory backend's first run in a process pays the kernel for fresh pages (first-touch
    // zeroing of the broker's log memory, several hundred ns per record on a VM); the memcpy figure
    // writes into memory that was already touched. So each memory configuration runs twice: the
    // first run is reported as *_cold, the second (memory reused) as the figure.
    if (want("memory_unkeyed")) {
        (void)produce_rate<gregor::storage::memory_backend>("memory_cold", records, false, dir);
        const double r = produce_rate<gregor::storage::memory_backend>("memory", records, false, dir);
        emit("producer_memory_unkeyed_vs_memcpy_ratio", r / base, "ratio");
    }
    if (want("memory_keyed")) {
        (void)produce_rate<gregor::storage::memory_backend>("memory_cold", records, true, dir);
        const double r = produce_rate<gregor::storage::memory_backend>("memory", records, true, dir);
        emit("producer_memory_keyed_vs_memcpy_ratio", r / base, "ratio");
    }
    if (want("file_unkeyed")) (void)produce_rate<gregor::storage::file_backend>("file", records, false, dir);
    if (want("file_keyed")) (void)produce_rate<gregor::storage::file_backend>("file", records, true, dir);
    return 0;
}
