// core/ and wire/ figures: CRC-32C throughput at 16 KiB (gregor's dispatching path next to a
// reference three-chain SSE4.2 loop written here, and the portable slicing-by-8 path), and the
// record-batch build rate for 100-byte records. One JSON line per figure.
#include "bench.hpp"

#include <gregor/core/crc32c.hpp>
#include <gregor/wire/record_batch.hpp>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace {

using gregor_bench::emit;
using gregor_bench::keep;

#if defined(__x86_64__)

// The reference: the textbook interleave. The buffer is cut into three equal blocks, one
// _mm_crc32_u64 chain runs over each (the instruction has a latency of three cycles and a
// throughput of one, so three independent chains keep the unit busy), and the three CRCs are
// combined by shifting the first two over the lengths that follow them. The shift operators for
// this one buffer length are tables built before timing, so the combine costs eight lookups.
namespace reference {

constexpr std::uint32_t poly = 0x82F63B78u;

std::uint32_t gf2_multiply(std::uint32_t a, std::uint32_t b) { // a*b mod P, reflected
    std::uint32_t product = 0;
    for (int i = 0; i < 32; ++i) {
        if (a & (0x80000000u >> i)) product ^= b;
        b = (b & 1) ? (b >> 1) ^ poly : b >> 1;
    }
    return product;
}

std::uint32_t x_pow_8n(std::size_t n) { // x^(8n) mod P by repeated multiplication by x^8
    std::uint32_t r = 0x80000000u;      // 1
    for (std::size_t i = 0; i < n; ++i) r = gf2_multiply(r, 0x00800000u); // * x^8
    return r;
}

struct shift_table {
    std::array<std::array<std::uint32_t, 256>, 4> t{};
    explicit shift_table(std::size_t bytes) {
        const std::uint32_t op = x_pow_8n(bytes);
        for (int j = 0; j < 4; ++j)
            for (std::uint32_t b = 0; b < 256; ++b) t[j][b] = gf2_multiply(op, b << (8 * j));
    }
    std::uint32_t operator()(std::uint32_t c) const {
        return t[0][c & 0xff] ^ t[1][(c >> 8) & 0xff] ^ t[2][(c >> 16) & 0xff] ^ t[3][c >> 24];
    }
};

struct three_chain {
    std::size_t block;
    shift_table by1, by2;
    explicit three_chain(std::size_t n) : block(n / 24 * 8), by1(block), by2(2 * block) {}

    __attribute__((target("sse4.2"))) std::uint32_t operator()(const unsigned char* p, std::size_t n) const {
        std::uint64_t a = 0xFFFFFFFFu, b = 0, c = 0;
        const unsigned char* pb = p + block;
        const unsigned char* pc = p + 2 * block;
        for (std::size_t i = 0; i < block; i += 8) {
            std::uint64_t wa, wb, wc;
            std::memcpy(&wa, p + i, 8);
            std::memcpy(&wb, pb + i, 8);
            std::memcpy(&wc, pc + i, 8);
            a = _mm_crc32_u64(a, wa);
            b = _mm_crc32_u64(b, wb);
            c = _mm_crc32_u64(c, wc);
        }
        std::uint64_t crc =
            by2(static_cast<std::uint32_t>(a)) ^ by1(static_cast<std::uint32_t>(b)) ^ static_cast<std::uint32_t>(c);
        for (std::size_t i = 3 * block; i < n; ++i) crc = _mm_crc32_u8(static_cast<std::uint32_t>(crc), p[i]);
        return ~static_cast<std::uint32_t>(crc);
    }
};

} // namespace reference

#endif

void crc_figures() {
    constexpr std::size_t n = 16 * 1024;
    std::vector<unsigned char> buf(n);
    std::mt19937_64 rng(42);
    for (auto& b : buf) b = static_cast<unsigned char>(rng());
    const double bytes = static_cast<double>(n);

    const auto gbps = [&](auto&& crc) {
        return bytes / gregor_bench::best_seconds_per_call([&] { keep(crc()); }) / 1e9;
    };
    const auto gregor_crc = [&] { return gregor::crc32c::compute(buf.data(), n); };
    const auto portable_crc = [&] { return gregor::crc32c::extend_portable(0, buf.data(), n); };

#if defined(__x86_64__)
    if (gregor::crc32c::has_hardware()) {
        const reference::three_chain ref(n);
        const auto ref_crc = [&] { return ref(buf.data(), n); };
        if (ref_crc() != gregor_crc() || portable_crc() != gregor_crc()) {
            std::fprintf(stderr, "crc32c: the reference, gregor and portable results differ\n");
            std::exit(1);
        }
        // Interleave the measurements so that a busy moment on the machine hits both alike.
        double g = 0, r = 0;
        for (int i = 0; i < 3; ++i) {
            g = std::max(g, gbps(gregor_crc));
            r = std::max(r, gbps(ref_crc));
        }
        emit("crc32c_16KiB_gregor", g, "GB/s");
        emit("crc32c_16KiB_reference_three_chain_sse42", r, "GB/s");
        emit("crc32c_16KiB_gregor_vs_reference", g / r, "ratio");
    } else
#endif
    {
        emit("crc32c_16KiB_gregor", gbps(gregor_crc), "GB/s");
    }
    emit("crc32c_16KiB_portable", gbps(portable_crc), "GB/s");
}

void batch_figures() {
    // 100-byte values, no key, sealed (header + CRC) every 16 KiB: batch.size's default.
    constexpr std::size_t batch_size = 16384;
    const std::vector<std::byte> value(100, std::byte{'v'});
    const gregor::bytes_view v{value};
    std::int64_t per_batch = 0;
    {
        gregor::wire::batch_builder b(batch_size);
        while (b.size_bytes() + b.record_size(0, std::nullopt, v) <= batch_size) b.append(0, std::nullopt, v);
        per_batch = b.record_count();
    }
    std::int64_t ts = 1'700'000'000'000;
    const double s = gregor_bench::best_seconds_per_call([&] {
        gregor::wire::batch_builder b(batch_size);
        for (std::int64_t i = 0; i < per_batch; ++i) b.append(ts + i, std::nullopt, v);
        keep(b.seal());
        ts += per_batch;
    });
    emit("batch_build_100B_records", static_cast<double>(per_batch) / s, "records/s");
    emit("batch_build_100B_throughput", static_cast<double>(batch_size) / s / 1e6, "MB/s");
}

} // namespace

int main() {
    crc_figures();
    batch_figures();
    return 0;
}
