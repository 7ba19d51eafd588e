// Helpers shared by the storage tests: temporary directories, batches built with batch_builder,
// per-backend environments whose data persists across log instances, and whole-file access through
// a backend (so corruption tests work the same on memory, file and io_uring storage).
#pragma once

#include <gregor/storage/log.hpp>
#include <gregor/testing/crashy_storage.hpp>
#include <gregor/testing/manual_clock.hpp>
#include <gregor/wire/record_batch.hpp>

#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

namespace gregor::test {

#if GREGOR_HAS_URING
using all_backends = std::tuple<storage::memory_backend, storage::file_backend, storage::uring_backend>;
#else
using all_backends = std::tuple<storage::memory_backend, storage::file_backend>;
#endif

/// A fresh directory under /tmp, removed with everything in it.
class temp_dir {
public:
    temp_dir() {
        std::string t = (std::filesystem::temp_directory_path() / "gregor-storage-XXXXXX").string();
        if (!::mkdtemp(t.data())) throw std::runtime_error("mkdtemp failed");
        path_ = t;
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
    /// A partition directory inside, named as Kafka names them.
    [[nodiscard]] std::filesystem::path partition(std::string_view topic = "t", int p = 0) const {
        return storage::partition_dir(path_, topic, p);
    }

private:
    std::filesystem::path path_;
};

/// Options that make a backend's data outlive one log instance.
template <typename B>
struct backend_env {
    typename B::options options() const { return {}; }
};
template <>
struct backend_env<storage::memory_backend> {
    std::shared_ptr<storage::memory_store> store = std::make_shared<storage::memory_store>();
    storage::memory_backend::options options() const {
        storage::memory_backend::options o;
        o.store = store;
        o.max_chunk_bytes = 4096; // small chunks, so reads cross chunk boundaries
        return o;
    }
};
template <typename Inner>
struct backend_env<testing::crashy_storage<Inner>> {
    backend_env<Inner> inner;
    std::shared_ptr<testing::crash_controller> ctl;
    explicit backend_env(std::uint64_t seed = 1) : ctl(std::make_shared<testing::crash_controller>(seed)) {}
    typename testing::crashy_storage<Inner>::options options() const { return {inner.options(), ctl}; }
};

template <typename B, typename Flush = flush::never>
using test_log = storage::log<B, Flush, testing::manual_clock_ref>;

inline constexpr std::int64_t t0 = 1'700'000'000'000;

/// A sealed batch of `records` records at `base`, timestamps ts, ts+1, ...
inline byte_buffer make_batch(offset base, int records, std::int64_t ts = t0, std::size_t value_size = 8) {
    wire::batch_builder b(256);
    std::string value(value_size, 'v');
    for (int i = 0; i < records; ++i) {
        // Fixed-width keys: every batch of the same shape has the same size.
        char key[16];
        std::snprintf(key, sizeof key, "k%08lld", static_cast<long long>((base.value() + i) % 100000000));
        value[0] = static_cast<char>('a' + (base.value() + i) % 26);
        b.append(ts + i, as_bytes(key), as_bytes(value));
    }
    auto out = b.seal();
    wire::patch_base_offset(out.mutable_view(), base);
    return out;
}

/// Appends `n` batches of `records` records each, timestamps advancing by one per record.
template <typename Log>
std::vector<byte_buffer> append_batches(Log& l, int n, int records = 3, std::size_t value_size = 8) {
    std::vector<byte_buffer> out;
    for (int i = 0; i < n; ++i) {
        const auto base = l.log_end_offset();
        auto b = make_batch(base, records, t0 + base.value(), value_size);
        REQUIRE_FALSE(l.append(b.view()));
        out.push_back(std::move(b));
    }
    return out;
}

/// The headers of the batches in a read, after copying it out and checking every CRC.
inline std::vector<wire::batch_header> batches_of(const storage::read_result& r) {
    byte_buffer buf;
    REQUIRE_FALSE(storage::copy_to(r, buf));
    REQUIRE(buf.size() == r.bytes);
    std::vector<wire::batch_header> out;
    wire::batch_splitter sp(buf.view());
    wire::validate_options opt;
    opt.client_batch = false;
    while (auto b = sp.next()) {
        REQUIRE(wire::validate(*b, opt) == wire::batch_error::none);
        out.push_back(*wire::batch_header::parse(*b));
    }
    REQUIRE(sp.remainder().empty());
    return out;
}

/// Whole-file access through a backend instance on the log's directory (the log must be closed).
template <typename B>
byte_buffer read_whole(const std::filesystem::path& dir, const std::string& name, const typename B::options& o) {
    B b(dir, o);
    byte_buffer out;
    REQUIRE_FALSE(b.read_file(name, out));
    return out;
}
/// Replaces a file (on disk directly for persistent backends: tests need no fsync here).
template <typename B>
void write_whole(const std::filesystem::path& dir, const std::string& name, bytes_view data,
                 const typename B::options& o) {
    if constexpr (B::persistent) {
        (void)o;
        std::ofstream f(dir / name, std::ios::binary | std::ios::trunc);
        f.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
        REQUIRE(f.good());
    } else {
        B b(dir, o);
        REQUIRE_FALSE(b.write_file(name, data));
    }
}
template <typename B>
bool file_exists(const std::filesystem::path& dir, const std::string& name, const typename B::options& o) {
    B b(dir, o);
    std::error_code ec;
    const auto names = b.list(ec);
    return std::find(names.begin(), names.end(), name) != names.end();
}
template <typename B>
void remove_file(const std::filesystem::path& dir, const std::string& name, const typename B::options& o) {
    if constexpr (B::persistent) {
        (void)o;
        std::filesystem::remove(dir / name);
    } else {
        B b(dir, o);
        REQUIRE_FALSE(b.remove(name));
    }
}

inline std::string log_name(std::int64_t base) { return storage::segment_file_name(offset{base}, storage::log_suffix); }

/// Small segments and a dense index so that tests cross segments and use index entries.
inline storage::log_config small_config(std::uint64_t segment_bytes = 1024, std::uint32_t index_interval = 150) {
    storage::log_config c;
    c.segment_bytes = segment_bytes;
    c.index_interval_bytes = index_interval;
    return c;
}

} // namespace gregor::test
