// storage/ figures, one JSON line each:
//   * append throughput with 1 MiB and 16 KiB batches for each backend (memory, file, uring), with
//     raw write() of the same bytes to a plain file measured in the same run, and the ratios
//     file/write, uring/write and uring/file;
//   * append + fdatasync latency per 16 KiB batch (flush::every_append), p50 and p99, for file and
//     uring, next to raw write() + fdatasync() measured in the same run.
// Files go to $TMPDIR (default /tmp), i.e. the disk a broker on this machine would use. Each
// throughput figure is the best of several interleaved rounds (the round least disturbed by other
// work on the machine); latencies are over all samples.
#include "bench.hpp"

#include <gregor/storage/log.hpp>
#include <gregor/wire/record_batch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

namespace {

using gregor_bench::emit;
using clk = std::chrono::steady_clock;
namespace fs = std::filesystem;
using namespace gregor;

fs::path scratch_root() {
    const char* t = std::getenv("TMPDIR");
    auto p = fs::path(t && *t ? t : "/tmp") / ("gregor-storage-bench-" + std::to_string(::getpid()));
    fs::create_directories(p);
    return p;
}

/// One batch of about `bytes` bytes of 1 KiB records.
byte_buffer make_batch(std::size_t bytes) {
    wire::batch_builder b(bytes + 4096);
    const std::string value(1000, 'x');
    while (b.size_bytes() + 1100 <= bytes) b.append(1'700'000'000'000, as_bytes("key-0001"), as_bytes(value));
    return b.seal();
}

double raw_write_seconds(const fs::path& dir, const byte_buffer& batch, std::size_t count) {
    const auto path = dir / "raw.bin";
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) std::abort();
    const auto t0 = clk::now();
    for (std::size_t i = 0; i < count; ++i) {
        std::size_t done = 0;
        while (done < batch.size()) {
            const auto n = ::write(fd, batch.data() + done, batch.size() - done);
            if (n <= 0) std::abort();
            done += static_cast<std::size_t>(n);
        }
    }
    const double s = std::chrono::duration<double>(clk::now() - t0).count();
    ::close(fd);
    fs::remove(path);
    return s;
}

template <typename Backend>
double append_seconds(const fs::path& dir, byte_buffer& batch, std::size_t count) {
    const auto part = dir / "bench-0";
    double s = 0;
    {
        storage::log<Backend> l{part, storage::log_config{}};
        const auto t0 = clk::now();
        for (std::size_t i = 0; i < count; ++i) {
            // What the broker does per batch: stamp the base offset in place, then append.
            wire::patch_base_offset(batch.mutable_view(), l.log_end_offset());
            if (l.append(batch.view())) std::abort();
        }
        s = std::chrono::duration<double>(clk::now() - t0).count();
    }
    fs::remove_all(part);
    return s;
}

struct throughput {
    double write = 1e300, memory = 1e300, file = 1e300, uring = 1e300;
};

void bench_throughput(const fs::path& dir, std::size_t batch_bytes, const char* label, std::size_t total) {
    auto batch = make_batch(batch_bytes);
    const std::size_t count = total / batch.size();
    const double mib = static_cast<double>(count * batch.size()) / (1024.0 * 1024.0);
    throughput best;
    // One untimed round first: in a VM, memory the guest never touched costs host page faults.
    for (int round = -1; round < 5; ++round) {
        if (round < 0) {
            (void)append_seconds<storage::memory_backend>(dir, batch, count);
            (void)raw_write_seconds(dir, batch, count);
            continue;
        }
        best.write = std::min(best.write, raw_write_seconds(dir, batch, count));
        best.file = std::min(best.file, append_seconds<storage::file_backend>(dir, batch, count));
#if GREGOR_HAS_URING
        best.uring = std::min(best.uring, append_seconds<storage::uring_backend>(dir, batch, count));
#endif
        best.memory = std::min(best.memory, append_seconds<storage::memory_backend>(dir, batch, count));
    }
    const std::string p = std::string("storage_append_") + label + "_";
    emit(p + "raw_write", mib / best.write, "MiB/s");
    emit(p + "memory", mib / best.memory, "MiB/s");
    emit(p + "file", mib / best.file, "MiB/s");
    emit(p + "file_vs_raw_write", best.write / best.file, "x");
#if GREGOR_HAS_URING
    emit(p + "uring", mib / best.uring, "MiB/s");
    emit(p + "uring_vs_raw_write", best.write / best.uring, "x");
    emit(p + "uring_vs_file", best.file / best.uring, "x");
#endif
}

double percentile(std::vector<double> v, double q) {
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())))];
}

std::vector<double> raw_fsync_us(const fs::path& dir, const byte_buffer& batch, int n) {
    const auto path = dir / "raw-sync.bin";
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) std::abort();
    std::vector<double> us;
    for (int i = 0; i < n; ++i) {
        const auto t0 = clk::now();
        if (::write(fd, batch.data(), batch.size()) != static_cast<ssize_t>(batch.size())) std::abort();
        if (::fdatasync(fd) != 0) std::abort();
        us.push_back(std::chrono::duration<double, std::micro>(clk::now() - t0).count());
    }
    ::close(fd);
    fs::remove(path);
    return us;
}

template <typename Backend>
std::vector<double> append_fsync_us(const fs::path& dir, byte_buffer& batch, int n) {
    const auto part = dir / "bench-sync-0";
    std::vector<double> us;
    {
        storage::log<Backend, flush::every_append> l{part, storage::log_config{}};
        for (int i = 0; i < n; ++i) {
            wire::patch_base_offset(batch.mutable_view(), l.log_end_offset());
            const auto t0 = clk::now();
            if (l.append(batch.view())) std::abort();
            us.push_back(std::chrono::duration<double, std::micro>(clk::now() - t0).count());
        }
    }
    fs::remove_all(part);
    return us;
}

void bench_fsync(const fs::path& dir) {
    auto batch = make_batch(16 * 1024);
    constexpr int n = 300;
    std::vector<double> raw, file, uring;
    // Interleaved in slices, so that a slow period of the disk hits all three alike.
    for (int slice = 0; slice < 3; ++slice) {
        auto r = raw_fsync_us(dir, batch, n / 3);
        raw.insert(raw.end(), r.begin(), r.end());
        auto f = append_fsync_us<storage::file_backend>(dir, batch, n / 3);
        file.insert(file.end(), f.begin(), f.end());
#if GREGOR_HAS_URING
        auto u = append_fsync_us<storage::uring_backend>(dir, batch, n / 3);
        uring.insert(uring.end(), u.begin(), u.end());
#endif
    }
    emit("storage_append_fsync_16KiB_raw_write_fdatasync_p50", percentile(raw, 0.50), "us");
    emit("storage_append_fsync_16KiB_raw_write_fdatasync_p99", percentile(raw, 0.99), "us");
    emit("storage_append_fsync_16KiB_file_p50", percentile(file, 0.50), "us");
    emit("storage_append_fsync_16KiB_file_p99", percentile(file, 0.99), "us");
#if GREGOR_HAS_URING
    emit("storage_append_fsync_16KiB_uring_p50", percentile(uring, 0.50), "us");
    emit("storage_append_fsync_16KiB_uring_p99", percentile(uring, 0.99), "us");
#endif
}

} // namespace

int main() {
    const auto dir = scratch_root();
    bench_throughput(dir, 1024 * 1024, "1MiB", 256u << 20);
    bench_throughput(dir, 16 * 1024, "16KiB", 256u << 20);
    bench_fsync(dir);
    fs::remove_all(dir);
    return 0;
}
