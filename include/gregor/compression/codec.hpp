// Compression codecs for record batch v2 (docs/protocol.md §18). A compressed batch keeps its 61-byte
// header plain and stores all its records as one compressed stream, so both ends need the same
// framing as Java and librdkafka, byte for byte where it matters (snappy's xerial framing, lz4's
// independent blocks and header checksum). Decoding is written for untrusted input: a broker
// decompresses every producer batch to validate it, so a hostile or truncated stream must end in an
// error code, never in a crash, a hang or an allocation the caller did not budget for (`max_out`).
//
// Each codec is optional: the build defines GREGOR_HAS_ZLIB / _SNAPPY / _LZ4 / _ZSTD to 1 when it
// found the library, and a codec left out answers with the documented "unsupported" errors instead.
// The batch helpers at the bottom are the only part that knows the batch layout.
#pragma once

#include <gregor/core/buffer.hpp>
#include <gregor/core/error.hpp>
#include <gregor/wire/record_batch.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <string_view>
#include <system_error>

#ifndef GREGOR_HAS_ZLIB
#define GREGOR_HAS_ZLIB 0
#endif
#ifndef GREGOR_HAS_SNAPPY
#define GREGOR_HAS_SNAPPY 0
#endif
#ifndef GREGOR_HAS_LZ4
#define GREGOR_HAS_LZ4 0
#endif
#ifndef GREGOR_HAS_ZSTD
#define GREGOR_HAS_ZSTD 0
#endif

#if GREGOR_HAS_ZLIB
#include <zlib.h>
#endif
#if GREGOR_HAS_SNAPPY
#include <snappy-c.h>
#endif
#if GREGOR_HAS_LZ4
#include <lz4frame.h>
#endif
#if GREGOR_HAS_ZSTD
#include <zstd.h>
#endif

namespace gregor::compression {

using codec = wire::compression;

/// Whether this build can (de)compress `c` (none: always true; ids 5-7: false).
constexpr bool available(codec c) noexcept {
    switch (c) {
    case codec::none: return true;
    case codec::gzip: return GREGOR_HAS_ZLIB != 0;
    case codec::snappy: return GREGOR_HAS_SNAPPY != 0;
    case codec::lz4: return GREGOR_HAS_LZ4 != 0;
    case codec::zstd: return GREGOR_HAS_ZSTD != 0;
    }
    return false;
}

/// "none", "gzip", "snappy", "lz4", "zstd"; "unknown" otherwise.
inline std::string_view name(codec c) noexcept {
    switch (c) {
    case codec::none: return "none";
    case codec::gzip: return "gzip";
    case codec::snappy: return "snappy";
    case codec::lz4: return "lz4";
    case codec::zstd: return "zstd";
    }
    return "unknown";
}

/// Kafka's compression.type names ("none", "gzip", "snappy", "lz4", "zstd"); nullopt otherwise.
/// Case-sensitive, as Kafka's config validator is. The topic-level extras ("producer",
/// "uncompressed") are policies, not codecs, and are left to the caller.
inline std::optional<codec> parse(std::string_view s) noexcept {
    for (auto c : {codec::none, codec::gzip, codec::snappy, codec::lz4, codec::zstd})
        if (s == name(c)) return c;
    return std::nullopt;
}

namespace detail {
// Kafka's documented zstd range (compression.zstd.level), used when zstd is not compiled in so that
// configuration validation does not depend on the build.
inline constexpr int kafka_zstd_min_level = -131072;
inline constexpr int kafka_zstd_max_level = 22;
} // namespace detail

/// Kafka's defaults and valid ranges: gzip -1 (1..9 or -1), lz4 9 (1..17), zstd 3 (ZSTD_minCLevel..max,
/// Kafka: -131072..22). none and snappy take no level: 0, and every level is valid (ignored).
inline int default_level(codec c) noexcept {
    switch (c) {
    case codec::gzip: return -1;
    case codec::lz4: return 9;
    case codec::zstd: return 3;
    default: return 0;
    }
}

inline bool valid_level(codec c, int level) noexcept {
    switch (c) {
    case codec::none:
    case codec::snappy: return true;
    case codec::gzip: return level == -1 || (level >= 1 && level <= 9);
    case codec::lz4: return level >= 1 && level <= 17;
    case codec::zstd:
#if GREGOR_HAS_ZSTD
        return level >= ZSTD_minCLevel() && level <= ZSTD_maxCLevel();
#else
        return level >= detail::kafka_zstd_min_level && level <= detail::kafka_zstd_max_level;
#endif
    }
    return false;
}

namespace detail {

inline std::error_code corrupt() noexcept { return make_error_code(error_code::corrupt_message); }
inline std::error_code too_large() noexcept { return make_error_code(error_code::record_list_too_large); }

/// Output is produced in steps of this size: small enough that a decompression bomb is stopped
/// within one step of the budget, large enough that the libraries rarely return for more room.
inline constexpr std::size_t step = 64 * 1024;

constexpr std::size_t saturating_add(std::size_t a, std::size_t b) noexcept {
    return a > std::numeric_limits<std::size_t>::max() - b ? std::numeric_limits<std::size_t>::max() : a + b;
}

/// Some libraries do pointer arithmetic on the input even when it is empty, and an empty span may
/// hold a null pointer (null + 0 is undefined in C): they get a valid pointer instead.
inline const std::byte* nonnull(bytes_view b) noexcept {
    static constexpr std::byte dummy{0};
    return b.data() ? b.data() : &dummy;
}

/// The output side of a decoder: appends to `out`, never lets it hold more than `max_out` new
/// bytes plus one (the byte that proves the content is too large), and grows its capacity
/// geometrically but never past the budget plus one step, so a bomb cannot make us allocate what we
/// would refuse to keep. Unless `keep()` is called, the destructor takes the output back: a failed
/// (or throwing) decode leaves `out` as it found it.
class bounded_sink {
public:
    bounded_sink(byte_buffer& out, std::size_t max_out) noexcept : out_(out), base_(out.size()), max_(max_out) {}
    bounded_sink(const bounded_sink&) = delete;
    bounded_sink& operator=(const bounded_sink&) = delete;
    ~bounded_sink() {
        if (!kept_) out_.resize(base_);
    }

    [[nodiscard]] std::size_t produced() const noexcept { return out_.size() - base_; }
    [[nodiscard]] bool over() const noexcept { return produced() > max_; }
    /// Whether `n` more bytes stay within the budget (call only while !over()).
    [[nodiscard]] bool fits(std::size_t n) const noexcept { return n <= max_ - produced(); }

    /// Appends uninitialised room for the next decoder call: one step, or what is left of the
    /// budget plus one byte. Never empty. Call only while !over(); give the unused part back with
    /// commit().
    std::span<std::byte> room() {
        const std::size_t left = max_ - produced();
        const std::size_t n = left < step ? left + 1 : step;
        return {exact(n), n};
    }
    /// Keeps the first `used` bytes of the last room().
    void commit(std::span<std::byte> room, std::size_t used) noexcept {
        out_.resize(out_.size() - (room.size() - std::min(used, room.size())));
    }
    /// Appends exactly `n` uninitialised bytes (the caller checked fits(n)).
    std::byte* exact(std::size_t n) {
        const std::size_t need = out_.size() + n;
        if (need > out_.capacity()) {
            const std::size_t cap_limit = saturating_add(saturating_add(base_, max_), step);
            out_.reserve(std::max(need, std::min(out_.capacity() * 2, cap_limit)));
        }
        return out_.grow(n);
    }
    void keep() noexcept { kept_ = true; }

private:
    byte_buffer& out_;
    std::size_t base_;
    std::size_t max_;
    bool kept_ = false;
};

/// Restores `out` to its size on entry unless the compression succeeded.
class append_guard {
public:
    explicit append_guard(byte_buffer& out) noexcept : out_(out), base_(out.size()) {}
    append_guard(const append_guard&) = delete;
    append_guard& operator=(const append_guard&) = delete;
    ~append_guard() {
        if (!kept_) out_.resize(base_);
    }
    void keep() noexcept { kept_ = true; }

private:
    byte_buffer& out_;
    std::size_t base_;
    bool kept_ = false;
};

// ---- gzip (RFC 1952, zlib) ----
#if GREGOR_HAS_ZLIB
/// zlib counts in uInt; larger inputs are fed in slices of this size.
inline constexpr std::size_t zlib_slice = std::size_t{1} << 30;

/// next_in is `const Bytef*` with ZLIB_CONST and `Bytef*` without; zlib never writes through it.
template <typename Ptr>
Ptr zlib_in(const std::byte* p) noexcept {
    return reinterpret_cast<Ptr>(const_cast<std::byte*>(p));
}

inline std::error_code gzip_compress(bytes_view in, byte_buffer& out, int level) {
    z_stream zs{};
    // windowBits 15 + 16: a gzip member (header and CRC-32 trailer), what Java's GZIPOutputStream writes.
    const int init = deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    if (init == Z_MEM_ERROR) throw std::bad_alloc();
    if (init != Z_OK) return make_error_code(local_error::invalid_argument);
    const std::unique_ptr<z_stream, int (*)(z_stream*)> end(&zs, deflateEnd);
    // One allocation for the whole member: deflateBound is the worst case for a single deflate call.
    out.reserve(out.size() + deflateBound(&zs, static_cast<uLong>(std::min(in.size(), zlib_slice))) + 64);
    std::size_t fed = 0;
    for (;;) {
        if (zs.avail_in == 0 && fed < in.size()) {
            const std::size_t n = std::min(in.size() - fed, zlib_slice);
            zs.next_in = zlib_in<decltype(zs.next_in)>(in.data() + fed);
            zs.avail_in = static_cast<uInt>(n);
            fed += n;
        }
        const std::size_t spare = out.capacity() - out.size();
        const std::size_t n = std::min(spare > 0 ? spare : step, zlib_slice);
        zs.next_out = reinterpret_cast<Bytef*>(out.grow(n));
        zs.avail_out = static_cast<uInt>(n);
        const int rc = deflate(&zs, fed == in.size() ? Z_FINISH : Z_NO_FLUSH);
        out.resize(out.size() - zs.avail_out);
        if (rc == Z_STREAM_END) return {};
        if (rc != Z_OK && rc != Z_BUF_ERROR) return make_error_code(local_error::invalid_argument);
    }
}

inline std::error_code gzip_decompress(bytes_view in, bounded_sink& sink) {
    z_stream zs{};
    // 15 + 32: detect the gzip (or zlib) header, so any header flags (name, comment, extra) are fine.
    const int init = inflateInit2(&zs, 15 + 32);
    if (init == Z_MEM_ERROR) throw std::bad_alloc();
    if (init != Z_OK) return corrupt();
    const std::unique_ptr<z_stream, int (*)(z_stream*)> end(&zs, inflateEnd);
    std::size_t fed = 0;
    for (;;) {
        if (zs.avail_in == 0 && fed < in.size()) {
            const std::size_t n = std::min(in.size() - fed, zlib_slice);
            zs.next_in = zlib_in<decltype(zs.next_in)>(in.data() + fed);
            zs.avail_in = static_cast<uInt>(n);
            fed += n;
        }
        const auto room = sink.room();
        zs.next_out = reinterpret_cast<Bytef*>(room.data());
        zs.avail_out = static_cast<uInt>(room.size());
        const int rc = inflate(&zs, Z_NO_FLUSH);
        sink.commit(room, room.size() - zs.avail_out);
        if (sink.over()) return too_large();
        switch (rc) {
        case Z_OK: break;
        case Z_STREAM_END:
            // The member's CRC-32 and length were checked by zlib. Concatenated members (RFC 1952
            // §2.2) decode as one stream; anything else after the member fails as a bad header.
            if (zs.avail_in == 0 && fed == in.size()) return {};
            if (inflateReset(&zs) != Z_OK) return corrupt();
            break;
        case Z_BUF_ERROR:
            // No progress with room to write: the input ended inside the member.
            if (zs.avail_in == 0 && fed == in.size()) return corrupt();
            break;
        case Z_MEM_ERROR: throw std::bad_alloc();
        default: return corrupt(); // Z_DATA_ERROR (bad data or check value), Z_NEED_DICT, Z_STREAM_ERROR
        }
    }
}
#endif

// ---- snappy (xerial framing, or one raw block) ----
#if GREGOR_HAS_SNAPPY
inline constexpr unsigned char xerial_magic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
inline constexpr std::size_t xerial_header_size = 16;
/// snappy-java's default block size; its reader takes any size, so this only sets the ratio.
inline constexpr std::size_t xerial_block = 32 * 1024;

inline bool has_xerial_magic(bytes_view b) noexcept {
    return b.size() >= sizeof xerial_magic && std::memcmp(b.data(), xerial_magic, sizeof xerial_magic) == 0;
}

inline const char* chars(const std::byte* p) noexcept { return reinterpret_cast<const char*>(p); }

inline std::error_code snappy_compress_xerial(bytes_view in, byte_buffer& out) {
    const std::size_t blocks = (in.size() + xerial_block - 1) / xerial_block;
    out.reserve(out.size() + xerial_header_size + blocks * (4 + snappy_max_compressed_length(xerial_block)));
    std::byte* h = out.grow(xerial_header_size);
    std::memcpy(h, xerial_magic, sizeof xerial_magic);
    store_be<std::int32_t>(h + 8, 1);  // version
    store_be<std::int32_t>(h + 12, 1); // oldest compatible version
    for (std::size_t pos = 0; pos < in.size();) {
        const std::size_t n = std::min(xerial_block, in.size() - pos);
        const std::size_t bound = snappy_max_compressed_length(n);
        std::byte* p = out.grow(4 + bound);
        std::size_t len = bound;
        if (snappy_compress(chars(in.data() + pos), n, reinterpret_cast<char*>(p + 4), &len) != SNAPPY_OK)
            return make_error_code(local_error::invalid_argument);
        store_be<std::int32_t>(p, static_cast<std::int32_t>(len));
        out.resize(out.size() - (bound - len));
        pos += n;
    }
    return {};
}

/// One raw snappy block, whose header states its decompressed length: the budget is checked before
/// anything is allocated, and a large block is validated first so that garbage claiming a large
/// length costs no allocation.
inline std::error_code snappy_raw_block(bytes_view block, bounded_sink& sink) {
    if (block.empty()) return corrupt();
    const char* c = chars(block.data());
    std::size_t ulen = 0;
    if (snappy_uncompressed_length(c, block.size(), &ulen) != SNAPPY_OK) return corrupt();
    if (!sink.fits(ulen))
        return snappy_validate_compressed_buffer(c, block.size()) == SNAPPY_OK ? too_large() : corrupt();
    if (ulen > step && snappy_validate_compressed_buffer(c, block.size()) != SNAPPY_OK) return corrupt();
    if (ulen == 0)
        return snappy_validate_compressed_buffer(c, block.size()) == SNAPPY_OK ? std::error_code{} : corrupt();
    std::byte* p = sink.exact(ulen);
    std::size_t got = ulen;
    if (snappy_uncompress(c, block.size(), reinterpret_cast<char*>(p), &got) != SNAPPY_OK || got != ulen)
        return corrupt();
    return {};
}

inline std::error_code snappy_decompress(bytes_view in, bounded_sink& sink) {
    if (!has_xerial_magic(in)) return snappy_raw_block(in, sink); // librdkafka's framing
    const std::byte* p = in.data();
    for (std::size_t pos = 0; pos < in.size();) {
        const auto rest = in.subspan(pos);
        // A header may appear again between blocks (snappy-java streams appended to each other). It
        // cannot be mistaken for a block: its first byte would make the block length negative.
        if (has_xerial_magic(rest)) {
            if (rest.size() < xerial_header_size) return corrupt();
            pos += xerial_header_size;
            continue;
        }
        if (rest.size() < 4) return corrupt();
        const auto n = load_be<std::int32_t>(p + pos);
        if (n < 0 || static_cast<std::size_t>(n) > rest.size() - 4) return corrupt();
        if (auto ec = snappy_raw_block(rest.subspan(4, static_cast<std::size_t>(n)), sink)) return ec;
        pos += 4 + static_cast<std::size_t>(n);
    }
    return {};
}
#endif

// ---- lz4 (LZ4 frame format) ----
#if GREGOR_HAS_LZ4
inline std::error_code lz4_compress(bytes_view in, byte_buffer& out, int level) {
    LZ4F_preferences_t prefs{};
    prefs.frameInfo.blockSizeID = LZ4F_max64KB;                   // what Java and librdkafka write
    prefs.frameInfo.blockMode = LZ4F_blockIndependent;            // Java's reader rejects linked blocks
    prefs.frameInfo.contentChecksumFlag = LZ4F_noContentChecksum; // the batch CRC covers the bytes
    prefs.compressionLevel = level;                               // liblz4 caps it at its maximum (12)
    const std::size_t bound = LZ4F_compressFrameBound(in.size(), &prefs);
    std::byte* p = out.grow(bound);
    const std::size_t n = LZ4F_compressFrame(p, bound, nonnull(in), in.size(), &prefs);
    if (LZ4F_isError(n)) return make_error_code(local_error::invalid_argument);
    out.resize(out.size() - (bound - n));
    return {};
}

inline std::error_code lz4_decompress(bytes_view in, bounded_sink& sink) {
    LZ4F_dctx* raw = nullptr;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&raw, LZ4F_VERSION))) throw std::bad_alloc();
    const std::unique_ptr<LZ4F_dctx, LZ4F_errorCode_t (*)(LZ4F_dctx*)> dctx(raw, LZ4F_freeDecompressionContext);
    std::size_t pos = 0;
    for (;;) {
        const auto room = sink.room();
        std::size_t produced = room.size();
        std::size_t consumed = in.size() - pos;
        // liblz4 decodes whatever the frame descriptor says (checksums, content size, linked blocks,
        // skippable frames) and checks the header checksum; a complete frame returns 0.
        const std::size_t hint =
            LZ4F_decompress(dctx.get(), room.data(), &produced, in.data() + pos, &consumed, nullptr);
        if (LZ4F_isError(hint)) return corrupt();
        sink.commit(room, produced);
        pos += consumed;
        if (sink.over()) return too_large();
        if (consumed == 0 && produced == 0) return corrupt(); // no progress: never loop on it
        if (hint == 0) {
            if (pos == in.size()) return {};
            continue; // another frame follows; the context is ready for it
        }
        // The frame wants more input, there is none, and nothing is pending (pending output
        // exists only when the room was filled): truncated.
        if (pos == in.size() && produced == 0) return corrupt();
    }
}
#endif

// ---- zstd (RFC 8878 frames) ----
#if GREGOR_HAS_ZSTD
/// Largest window a frame may ask of the decoder (8 MiB): bounds the decoder's memory whatever the
/// frame header claims.
inline constexpr int zstd_window_log_max = 23;
/// Frames are cut at this size so that the window our own frames need never exceeds the reader's
/// limit: with its size known, zstd shrinks the window to fit the input.
inline constexpr std::size_t zstd_max_frame = std::size_t{1} << zstd_window_log_max;

// A zstd context costs about a megabyte to create and set up, far more than compressing one
// 16 KiB batch: each thread keeps one of each kind and resets it per call.
struct zstd_contexts {
    std::unique_ptr<ZSTD_CCtx, std::size_t (*)(ZSTD_CCtx*)> c{nullptr, ZSTD_freeCCtx};
    std::unique_ptr<ZSTD_DCtx, std::size_t (*)(ZSTD_DCtx*)> d{nullptr, ZSTD_freeDCtx};
    static zstd_contexts& mine() {
        thread_local zstd_contexts ctx;
        return ctx;
    }
};

inline std::error_code zstd_compress(bytes_view in, byte_buffer& out, int level) {
    auto& cctx = zstd_contexts::mine().c;
    if (!cctx) cctx.reset(ZSTD_createCCtx());
    if (!cctx) throw std::bad_alloc();
    ZSTD_CCtx_reset(cctx.get(), ZSTD_reset_session_and_parameters);
    if (ZSTD_isError(ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_compressionLevel, level)))
        return make_error_code(local_error::invalid_argument);
    std::size_t pos = 0;
    do {
        const std::size_t n = std::min(zstd_max_frame, in.size() - pos);
        const std::size_t bound = ZSTD_compressBound(n);
        std::byte* p = out.grow(bound);
        const std::size_t r = ZSTD_compress2(cctx.get(), p, bound, nonnull(in) + pos, n);
        if (ZSTD_isError(r)) return make_error_code(local_error::invalid_argument);
        out.resize(out.size() - (bound - r));
        pos += n;
    } while (pos < in.size());
    return {};
}

inline std::error_code zstd_decompress(bytes_view in, bounded_sink& sink) {
    auto& dctx = zstd_contexts::mine().d;
    if (!dctx) dctx.reset(ZSTD_createDCtx());
    if (!dctx) throw std::bad_alloc();
    ZSTD_DCtx_reset(dctx.get(), ZSTD_reset_session_and_parameters);
    if (ZSTD_isError(ZSTD_DCtx_setParameter(dctx.get(), ZSTD_d_windowLogMax, zstd_window_log_max))) return corrupt();
    // Streaming, never one-shot: the content size is optional in the frame header and may lie, and
    // several frames (and skippable frames) may follow each other.
    ZSTD_inBuffer ib{in.data(), in.size(), 0};
    for (;;) {
        const auto room = sink.room();
        ZSTD_outBuffer ob{room.data(), room.size(), 0};
        const std::size_t before = ib.pos;
        const std::size_t r = ZSTD_decompressStream(dctx.get(), &ob, &ib);
        if (ZSTD_isError(r)) return corrupt(); // includes a window above the limit
        sink.commit(room, ob.pos);
        if (sink.over()) return too_large();
        if (r == 0) {
            if (ib.pos == ib.size) return {};
            continue; // the next frame starts here
        }
        // Room left over means the decoder flushed all it could: it needs input that is not there.
        if (ib.pos == ib.size && ob.pos < ob.size) return corrupt();
        if (ib.pos == before && ob.pos == 0) return corrupt(); // no progress: never loop on it
    }
}
#endif

} // namespace detail

/// Appends the compressed form of `in` to `out` (Kafka's framing for `c`, docs/protocol.md §18):
/// gzip: one RFC 1952 member; snappy: the xerial stream Java writes; lz4: one LZ4 frame, independent
/// 64 KiB blocks; zstd: RFC 8878 frames, one per 8 MiB of input. level: as valid_level() (ignored for
/// snappy). Errors: local_error::unsupported when not compiled in (or none/invalid id),
/// local_error::invalid_argument for a bad level (or, should it happen, a library refusing the input).
/// On error `out` is as it was.
inline std::error_code compress(codec c, [[maybe_unused]] bytes_view in, byte_buffer& out, [[maybe_unused]] int level) {
    if (c == codec::none || !available(c)) return make_error_code(local_error::unsupported);
    if (!valid_level(c, level)) return make_error_code(local_error::invalid_argument);
    detail::append_guard guard(out);
    std::error_code ec = make_error_code(local_error::unsupported);
    switch (c) {
#if GREGOR_HAS_ZLIB
    case codec::gzip: ec = detail::gzip_compress(in, out, level); break;
#endif
#if GREGOR_HAS_SNAPPY
    case codec::snappy: ec = detail::snappy_compress_xerial(in, out); break;
#endif
#if GREGOR_HAS_LZ4
    case codec::lz4: ec = detail::lz4_compress(in, out, level); break;
#endif
#if GREGOR_HAS_ZSTD
    case codec::zstd: ec = detail::zstd_compress(in, out, level); break;
#endif
    default: break;
    }
    if (!ec) guard.keep();
    return ec;
}

/// Appends the decompressed content of `in` to `out`, at most `max_out` bytes (for codec none,
/// `in` itself). Errors: error_code::unsupported_compression_type (not compiled in, or id 5-7),
/// error_code::corrupt_message (bad magic, bad checksum, truncated or trailing data, a zstd window
/// above 8 MiB), error_code::record_list_too_large (more than max_out bytes: decoding stops there).
/// On error `out` is as it was.
inline std::error_code decompress(codec c, bytes_view in, byte_buffer& out, std::size_t max_out) {
    if (!available(c)) return make_error_code(error_code::unsupported_compression_type);
    detail::bounded_sink sink(out, max_out);
    std::error_code ec;
    if (c == codec::none) {
        if (!sink.fits(in.size())) return detail::too_large();
        out.append(in);
    } else if (in.empty()) {
        ec = detail::corrupt(); // every framing has a header: no stream at all is not a valid one
    } else {
        switch (c) {
#if GREGOR_HAS_ZLIB
        case codec::gzip: ec = detail::gzip_decompress(in, sink); break;
#endif
#if GREGOR_HAS_SNAPPY
        case codec::snappy: ec = detail::snappy_decompress(in, sink); break;
#endif
#if GREGOR_HAS_LZ4
        case codec::lz4: ec = detail::lz4_decompress(in, sink); break;
#endif
#if GREGOR_HAS_ZSTD
        case codec::zstd: ec = detail::zstd_decompress(in, sink); break;
#endif
        default: ec = make_error_code(error_code::unsupported_compression_type); break;
        }
    }
    if (!ec) sink.keep();
    return ec;
}

/// Compresses the records of a sealed, uncompressed batch in place: bytes [61,end) are replaced by
/// their compressed form, attributes get the codec bits, batchLength and CRC are fixed (the CRC
/// covers the compressed bytes, docs/protocol.md §18). No-op for codec none; control batches are
/// never compressed (no-op). Errors: as compress(); local_error::invalid_argument for a buffer that
/// is not one whole v2 batch, or one already compressed. On error the batch is unchanged.
inline std::error_code compress_batch(byte_buffer& batch, codec c, int level) {
    namespace L = wire::batch_layout;
    if (c == codec::none) return {};
    if (!available(c)) return make_error_code(local_error::unsupported);
    if (!valid_level(c, level)) return make_error_code(local_error::invalid_argument);
    const auto h = wire::batch_header::parse(batch.view());
    if (!h || h->magic != L::current_magic ||
        h->batch_length < static_cast<std::int32_t>(L::header_size - L::log_overhead) ||
        h->total_size() != batch.size())
        return make_error_code(local_error::invalid_argument);
    if (h->is_control()) return {};
    if (h->compression() != codec::none) return make_error_code(local_error::invalid_argument);
    byte_buffer out(L::header_size + batch.size() / 2);
    out.append(batch.view().first(L::header_size));
    if (auto ec = compress(c, batch.view().subspan(L::header_size), out, level)) return ec;
    if (out.size() - L::log_overhead > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()))
        return make_error_code(local_error::invalid_argument);
    std::byte* p = out.data();
    store_be<std::int32_t>(p + L::batch_length, static_cast<std::int32_t>(out.size() - L::log_overhead));
    const auto attrs =
        static_cast<std::int16_t>((h->attributes & ~wire::attr::compression_mask) | static_cast<std::int16_t>(c));
    store_be<std::int16_t>(p + L::attributes, attrs);
    wire::reseal_crc(out.mutable_view());
    batch = std::move(out);
    return {};
}

/// The records of a compressed batch, decompressed and appended to `out` (at most max_out bytes);
/// for an uncompressed batch its records bytes as they are. `batch` must be exactly one v2 batch
/// (else error_code::corrupt_message); its CRC is not checked here (wire::validate does that).
/// Errors: as decompress().
inline std::error_code decompress_records(bytes_view batch, byte_buffer& out, std::size_t max_out) {
    namespace L = wire::batch_layout;
    const auto h = wire::batch_header::parse(batch);
    if (!h || h->magic != L::current_magic ||
        h->batch_length < static_cast<std::int32_t>(L::header_size - L::log_overhead) ||
        h->total_size() != batch.size())
        return detail::corrupt();
    return decompress(h->compression(), batch.subspan(L::header_size), out, max_out);
}

} // namespace gregor::compression
