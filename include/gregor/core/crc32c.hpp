// CRC-32C (Castagnoli), the checksum of Kafka's record batch v2. On x86-64 CPUs with SSE4.2 the
// crc32 instruction runs three independent chains over interleaved blocks (the instruction has a
// latency of 3 and a throughput of 1 per cycle, so one chain would leave two thirds of the unit
// idle) and the chains are merged with a multiplication in GF(2)[x] mod P; elsewhere a portable
// slicing-by-8 table version is used. The choice is made once, at run time, by cpuid.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
#define GREGOR_CRC32C_X86 1
#else
#define GREGOR_CRC32C_X86 0
#endif

namespace gregor::crc32c {

inline constexpr std::uint32_t polynomial = 0x82F63B78u; // reflected 0x1EDC6F41

namespace detail {

using table8 = std::array<std::array<std::uint32_t, 256>, 8>;

constexpr table8 make_tables() {
    table8 t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
        std::uint32_t c = i;
        for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ polynomial : c >> 1;
        t[0][i] = c;
    }
    for (std::uint32_t i = 0; i < 256; ++i)
        for (std::size_t s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xff];
    return t;
}
inline constexpr table8 tables = make_tables();

inline std::uint64_t load_le64(const unsigned char* p) noexcept {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

/// a * b mod P in the reflected bit order (bit 31 is x^0).
constexpr std::uint32_t multmodp(std::uint32_t a, std::uint32_t b) noexcept {
    std::uint32_t m = 1u << 31, p = 0;
    for (;;) {
        if (a & m) {
            p ^= b;
            if ((a & (m - 1)) == 0) break;
        }
        m >>= 1;
        b = (b & 1) ? (b >> 1) ^ polynomial : b >> 1;
    }
    return p;
}

/// x^(8 * nbytes) mod P: the operator that moves a CRC register over nbytes of zeros.
constexpr std::uint32_t shift_operator(std::uint64_t nbytes) noexcept {
    std::uint32_t result = 1u << 31; // 1
    std::uint32_t sq = 1u << 23;     // x^8
    while (nbytes) {
        if (nbytes & 1) result = multmodp(sq, result);
        sq = multmodp(sq, sq);
        nbytes >>= 1;
    }
    return result;
}

/// Multiplication by a fixed operator as four byte-table lookups.
struct shifter {
    std::array<std::array<std::uint32_t, 256>, 4> t{};
    constexpr explicit shifter(std::uint32_t op) {
        for (std::uint32_t j = 0; j < 4; ++j)
            for (std::uint32_t b = 0; b < 256; ++b) t[j][b] = multmodp(op, b << (8 * j));
    }
    constexpr std::uint32_t operator()(std::uint32_t r) const noexcept {
        return t[0][r & 0xff] ^ t[1][(r >> 8) & 0xff] ^ t[2][(r >> 16) & 0xff] ^ t[3][r >> 24];
    }
};

} // namespace detail

/// Continues a CRC-32C over more bytes with the portable slicing-by-8 loop.
inline std::uint32_t extend_portable(std::uint32_t crc, const void* data, std::size_t n) noexcept {
    const auto& t = detail::tables;
    auto p = static_cast<const unsigned char*>(data);
    std::uint32_t c = ~crc;
    while (n && (reinterpret_cast<std::uintptr_t>(p) & 7)) {
        c = (c >> 8) ^ t[0][(c ^ *p++) & 0xff];
        --n;
    }
    while (n >= 8) {
        const std::uint64_t w = detail::load_le64(p) ^ c;
        c = t[7][w & 0xff] ^ t[6][(w >> 8) & 0xff] ^ t[5][(w >> 16) & 0xff] ^ t[4][(w >> 24) & 0xff] ^
            t[3][(w >> 32) & 0xff] ^ t[2][(w >> 40) & 0xff] ^ t[1][(w >> 48) & 0xff] ^ t[0][w >> 56];
        p += 8;
        n -= 8;
    }
    while (n--) c = (c >> 8) ^ t[0][(c ^ *p++) & 0xff];
    return ~c;
}

/// CRC of the concatenation A||B from crc(A), crc(B) and |B|.
constexpr std::uint32_t combine(std::uint32_t crc_a, std::uint32_t crc_b, std::uint64_t len_b) noexcept {
    return detail::multmodp(detail::shift_operator(len_b), crc_a) ^ crc_b;
}

#if GREGOR_CRC32C_X86

namespace detail {

// Block lengths of the interleaved loops: long enough that the merge (two table multiplies) is
// noise, short enough that a 16 KiB batch runs mostly in the three-chain loop.
inline constexpr std::size_t big_block = 2048;
inline constexpr std::size_t small_block = 256;

struct shifters {
    shifter big1{shift_operator(big_block)}, big2{shift_operator(2 * big_block)};
    shifter small1{shift_operator(small_block)}, small2{shift_operator(2 * small_block)};
};
// Built at first use rather than at compile time: 4096 GF(2) products per TU would slow builds.
inline const shifters& merge_ops() {
    static const shifters s{};
    return s;
}

template <std::size_t Block>
__attribute__((target("sse4.2"))) inline std::uint64_t
three_way(const unsigned char*& p, std::size_t& n, std::uint64_t c, const shifter& s1, const shifter& s2) noexcept {
    while (n >= 3 * Block) {
        std::uint64_t a = c, b = 0, d = 0;
        const unsigned char* pa = p;
        const unsigned char* pb = p + Block;
        const unsigned char* pc = p + 2 * Block;
        for (std::size_t i = 0; i < Block; i += 8) {
            a = _mm_crc32_u64(a, load_le64(pa + i));
            b = _mm_crc32_u64(b, load_le64(pb + i));
            d = _mm_crc32_u64(d, load_le64(pc + i));
        }
        c = s2(static_cast<std::uint32_t>(a)) ^ s1(static_cast<std::uint32_t>(b)) ^ static_cast<std::uint32_t>(d);
        p += 3 * Block;
        n -= 3 * Block;
    }
    return c;
}

} // namespace detail

/// Continues a CRC-32C with the SSE4.2 instruction (three interleaved chains). Only call it on a
/// CPU that has SSE4.2 (see has_hardware()).
__attribute__((target("sse4.2"))) inline std::uint32_t extend_hardware(std::uint32_t crc, const void* data,
                                                                       std::size_t n) noexcept {
    auto p = static_cast<const unsigned char*>(data);
    std::uint64_t c = ~crc;
    while (n && (reinterpret_cast<std::uintptr_t>(p) & 7)) {
        c = _mm_crc32_u8(static_cast<std::uint32_t>(c), *p++);
        --n;
    }
    const auto& ops = detail::merge_ops();
    c = detail::three_way<detail::big_block>(p, n, c, ops.big1, ops.big2);
    c = detail::three_way<detail::small_block>(p, n, c, ops.small1, ops.small2);
    while (n >= 8) {
        c = _mm_crc32_u64(c, detail::load_le64(p));
        p += 8;
        n -= 8;
    }
    while (n--) c = _mm_crc32_u8(static_cast<std::uint32_t>(c), *p++);
    return ~static_cast<std::uint32_t>(c);
}

inline bool has_hardware() noexcept {
    static const bool yes = __builtin_cpu_supports("sse4.2");
    return yes;
}

#else

inline std::uint32_t extend_hardware(std::uint32_t crc, const void* data, std::size_t n) noexcept {
    return extend_portable(crc, data, n);
}
inline bool has_hardware() noexcept { return false; }

#endif

/// Continues `crc` (0 to start) over `n` bytes, using the fastest path this CPU has.
inline std::uint32_t extend(std::uint32_t crc, const void* data, std::size_t n) noexcept {
    return has_hardware() ? extend_hardware(crc, data, n) : extend_portable(crc, data, n);
}

template <typename T, std::size_t E>
inline std::uint32_t compute(std::span<T, E> bytes) noexcept {
    return extend(0, bytes.data(), bytes.size_bytes());
}
inline std::uint32_t compute(const void* data, std::size_t n) noexcept { return extend(0, data, n); }

} // namespace gregor::crc32c
