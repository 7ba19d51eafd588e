// Kafka's variable-length integers: unsigned LEB128 varints (flexible-version lengths, tags) and
// zig-zag varint/varlong (record fields). Decoders take explicit bounds and report failure by
// returning 0 consumed bytes, so a truncated or over-long encoding can never read past the end.
#pragma once

#include <cstddef>
#include <cstdint>

namespace gregor {

inline constexpr std::size_t max_varint32_bytes = 5;
inline constexpr std::size_t max_varint64_bytes = 10;

constexpr std::uint32_t zigzag_encode32(std::int32_t v) noexcept {
    return (static_cast<std::uint32_t>(v) << 1) ^ static_cast<std::uint32_t>(v >> 31);
}
constexpr std::uint64_t zigzag_encode64(std::int64_t v) noexcept {
    return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
}
constexpr std::int32_t zigzag_decode32(std::uint32_t v) noexcept {
    return static_cast<std::int32_t>((v >> 1) ^ (~(v & 1) + 1));
}
constexpr std::int64_t zigzag_decode64(std::uint64_t v) noexcept {
    return static_cast<std::int64_t>((v >> 1) ^ (~(v & 1) + 1));
}

/// Bytes the unsigned varint encoding of `v` takes.
constexpr std::size_t uvarint_size(std::uint64_t v) noexcept {
    std::size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        ++n;
    }
    return n;
}
constexpr std::size_t varint_size(std::int32_t v) noexcept { return uvarint_size(zigzag_encode32(v)); }
constexpr std::size_t varlong_size(std::int64_t v) noexcept { return uvarint_size(zigzag_encode64(v)); }

/// Writes `v` at `out` (which must have room for uvarint_size(v) bytes); returns bytes written.
inline std::size_t encode_uvarint(std::byte* out, std::uint64_t v) noexcept {
    std::size_t n = 0;
    while (v >= 0x80) {
        out[n++] = static_cast<std::byte>((v & 0x7f) | 0x80);
        v >>= 7;
    }
    out[n++] = static_cast<std::byte>(v);
    return n;
}
inline std::size_t encode_varint(std::byte* out, std::int32_t v) noexcept {
    return encode_uvarint(out, zigzag_encode32(v));
}
inline std::size_t encode_varlong(std::byte* out, std::int64_t v) noexcept {
    return encode_uvarint(out, zigzag_encode64(v));
}

/// Decodes an unsigned varint of at most `max_bytes` from [p, end). Returns the bytes consumed,
/// or 0 when the input ends first or the encoding is longer than `max_bytes`.
inline std::size_t decode_uvarint(const std::byte* p, const std::byte* end, std::uint64_t& out,
                                  std::size_t max_bytes = max_varint64_bytes) noexcept {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < max_bytes; ++i) {
        if (p + i >= end) return 0;
        const auto b = static_cast<std::uint8_t>(p[i]);
        v |= static_cast<std::uint64_t>(b & 0x7f) << (7 * i);
        if ((b & 0x80) == 0) {
            out = v;
            return i + 1;
        }
    }
    return 0;
}

inline std::size_t decode_varint(const std::byte* p, const std::byte* end, std::int32_t& out) noexcept {
    std::uint64_t u = 0;
    const auto n = decode_uvarint(p, end, u, max_varint32_bytes);
    if (n == 0 || u > 0xffffffffULL) return 0;
    out = zigzag_decode32(static_cast<std::uint32_t>(u));
    return n;
}

inline std::size_t decode_varlong(const std::byte* p, const std::byte* end, std::int64_t& out) noexcept {
    std::uint64_t u = 0;
    const auto n = decode_uvarint(p, end, u, max_varint64_bytes);
    if (n == 0) return 0;
    out = zigzag_decode64(u);
    return n;
}

} // namespace gregor
