// Kafka protocol primitive types on top of byte_reader/byte_writer: fixed-width integers, bool,
// classic strings/bytes/arrays (int16/int32 lengths, -1 = null), their flexible "compact" forms
// (unsigned varint N+1, 0 = null), tagged-field sections and uuids (docs/protocol.md §1.1-1.2).
//
// Decoding never reads outside the reader's bytes: every failure latches byte_reader::ok() to
// false and later reads return empty values, so a message decoder checks once at the end. Lengths
// and element counts are checked against the bytes that remain before anything is allocated, so
// a hostile count (0x7fffffff elements in a 20-byte frame) fails at once instead of reserving
// gigabytes. Strings and bytes decode as views into the reader's bytes (no copy): a decoded
// message borrows from its frame.
//
// `decoder`/`encoder` pick classic or compact forms from one `flexible` flag, so a message's
// decode/encode is written once for every version. Records that the encoder must not copy (file
// ranges sent with sendfile, batches written with writev) are emitted as gaps: see
// external_records and records_gap.
//
// Thread-safety: all functions are reentrant; a decoder/encoder is used by one thread at a time.
#pragma once

#include <gregor/core/buffer.hpp>
#include <gregor/core/varint.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <stdexcept>
#include <string_view>
#include <vector>

namespace gregor::wire {

/// Fetch and ListOffsets visibility of transactional data (docs/protocol.md §7.3).
enum class isolation_level : std::int8_t { read_uncommitted = 0, read_committed = 1 };

/// Kafka's 16-byte uuid (topic ids, v10+/v13+ APIs), kept as raw bytes.
struct uuid {
    std::array<std::byte, 16> bytes{};
    friend constexpr bool operator==(const uuid&, const uuid&) = default;
};

// ---------------------------------------------------------------------------------------------
// Free functions, classic (non-flexible) forms. Each read_* latches the reader's failure on short
// or malformed input and returns an empty value.

inline bool read_bool(byte_reader& r) noexcept { return r.i8() != 0; }

inline uuid read_uuid(byte_reader& r) noexcept {
    uuid u;
    const auto b = r.bytes(16);
    if (b.size() == 16) std::copy(b.begin(), b.end(), u.bytes.begin());
    return u;
}

/// Unsigned varint that must fit 32 bits (lengths, counts, tags): at most 5 bytes.
inline std::uint32_t read_uvarint32(byte_reader& r) noexcept {
    const auto v = r.uvarint(max_varint32_bytes);
    if (v > std::numeric_limits<std::uint32_t>::max()) {
        r.fail();
        return 0;
    }
    return static_cast<std::uint32_t>(v);
}

namespace detail {
/// Reads `n` bytes after a length prefix; `n` < 0 is the caller's business.
inline bytes_view take(byte_reader& r, std::size_t n) noexcept { return r.bytes(n); }
} // namespace detail

inline std::optional<std::string_view> read_nullable_string(byte_reader& r) noexcept {
    const auto n = r.i16();
    if (!r.ok()) return std::nullopt;
    if (n == -1) return std::nullopt;
    if (n < 0) {
        r.fail();
        return std::nullopt;
    }
    return as_string_view(detail::take(r, static_cast<std::size_t>(n)));
}
/// A non-nullable string: length -1 is malformed here.
inline std::string_view read_string(byte_reader& r) noexcept {
    const auto n = r.i16();
    if (n < 0) {
        r.fail();
        return {};
    }
    return as_string_view(detail::take(r, static_cast<std::size_t>(n)));
}
inline std::optional<bytes_view> read_nullable_bytes(byte_reader& r) noexcept {
    const auto n = r.i32();
    if (!r.ok()) return std::nullopt;
    if (n == -1) return std::nullopt;
    if (n < 0) {
        r.fail();
        return std::nullopt;
    }
    return detail::take(r, static_cast<std::size_t>(n));
}
inline bytes_view read_bytes(byte_reader& r) noexcept {
    const auto n = r.i32();
    if (n < 0) {
        r.fail();
        return {};
    }
    return detail::take(r, static_cast<std::size_t>(n));
}

/// An array count: -1 (null) or a count that `min_element_size`-byte elements could fit in the
/// bytes that remain. Anything else fails the reader. Returns -1 for null and on failure.
inline std::int64_t read_array_count(byte_reader& r, std::size_t min_element_size) noexcept {
    const auto n = r.i32();
    if (!r.ok()) return -1;
    if (n == -1) return -1;
    if (n < 0 || static_cast<std::size_t>(n) > r.remaining() / std::max<std::size_t>(min_element_size, 1)) {
        r.fail();
        return -1;
    }
    return n;
}

// Compact (flexible-version) forms: uvarint N+1, 0 = null.

inline std::optional<std::string_view> read_compact_nullable_string(byte_reader& r) noexcept {
    const auto n = read_uvarint32(r);
    if (!r.ok() || n == 0) return std::nullopt;
    return as_string_view(detail::take(r, n - 1));
}
inline std::string_view read_compact_string(byte_reader& r) noexcept {
    const auto n = read_uvarint32(r);
    if (n == 0) {
        r.fail();
        return {};
    }
    return as_string_view(detail::take(r, n - 1));
}
inline std::optional<bytes_view> read_compact_nullable_bytes(byte_reader& r) noexcept {
    const auto n = read_uvarint32(r);
    if (!r.ok() || n == 0) return std::nullopt;
    return detail::take(r, n - 1);
}
inline bytes_view read_compact_bytes(byte_reader& r) noexcept {
    const auto n = read_uvarint32(r);
    if (n == 0) {
        r.fail();
        return {};
    }
    return detail::take(r, n - 1);
}
inline std::int64_t read_compact_array_count(byte_reader& r, std::size_t min_element_size) noexcept {
    const auto n = read_uvarint32(r);
    if (!r.ok() || n == 0) return -1;
    const std::size_t count = n - 1;
    if (count > r.remaining() / std::max<std::size_t>(min_element_size, 1)) {
        r.fail();
        return -1;
    }
    return static_cast<std::int64_t>(count);
}

/// Reads a tagged-field section, handing each field to `on_field(tag, bytes)`; the callback may
/// ignore tags it does not know (they are skipped either way, as Kafka requires).
template <typename OnField>
void read_tagged_fields(byte_reader& r, OnField&& on_field) {
    const auto count = read_uvarint32(r);
    // Each field takes at least two bytes (tag and size varints).
    if (!r.ok() || count > r.remaining() / 2) {
        r.fail();
        return;
    }
    for (std::uint32_t i = 0; i < count && r.ok(); ++i) {
        const auto tag = read_uvarint32(r);
        const auto size = read_uvarint32(r);
        const auto data = r.bytes(size);
        if (!r.ok()) return;
        on_field(tag, data);
    }
}
inline void skip_tagged_fields(byte_reader& r) noexcept {
    read_tagged_fields(r, [](std::uint32_t, bytes_view) noexcept {});
}

// Writers. Encoding a value the wire cannot hold (a string over 32767 bytes in a classic field)
// is misuse and throws std::length_error.

inline void write_bool(byte_writer& w, bool v) { w.i8(v ? 1 : 0); }
inline void write_uuid(byte_writer& w, const uuid& u) { w.bytes(u.bytes); }

namespace detail {
inline std::int16_t checked_string_length(std::size_t n) {
    if (n > static_cast<std::size_t>(std::numeric_limits<std::int16_t>::max()))
        throw std::length_error("gregor::wire: string longer than 32767 bytes in a non-flexible field");
    return static_cast<std::int16_t>(n);
}
inline std::int32_t checked_length32(std::size_t n) {
    if (n > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max() - 1))
        throw std::length_error("gregor::wire: bytes or array longer than the protocol allows");
    return static_cast<std::int32_t>(n);
}
} // namespace detail

inline void write_string(byte_writer& w, std::string_view s) {
    w.i16(detail::checked_string_length(s.size()));
    w.bytes(as_bytes(s));
}
inline void write_nullable_string(byte_writer& w, std::optional<std::string_view> s) {
    if (!s) {
        w.i16(-1);
        return;
    }
    write_string(w, *s);
}
inline void write_bytes(byte_writer& w, bytes_view b) {
    w.i32(detail::checked_length32(b.size()));
    w.bytes(b);
}
inline void write_nullable_bytes(byte_writer& w, std::optional<bytes_view> b) {
    if (!b) {
        w.i32(-1);
        return;
    }
    write_bytes(w, *b);
}
inline void write_array_count(byte_writer& w, std::size_t n) { w.i32(detail::checked_length32(n)); }
inline void write_null_array(byte_writer& w) { w.i32(-1); }

inline void write_compact_string(byte_writer& w, std::string_view s) {
    w.uvarint(static_cast<std::uint64_t>(detail::checked_length32(s.size())) + 1);
    w.bytes(as_bytes(s));
}
inline void write_compact_nullable_string(byte_writer& w, std::optional<std::string_view> s) {
    if (!s) {
        w.uvarint(0);
        return;
    }
    write_compact_string(w, *s);
}
inline void write_compact_bytes(byte_writer& w, bytes_view b) {
    w.uvarint(static_cast<std::uint64_t>(detail::checked_length32(b.size())) + 1);
    w.bytes(b);
}
inline void write_compact_nullable_bytes(byte_writer& w, std::optional<bytes_view> b) {
    if (!b) {
        w.uvarint(0);
        return;
    }
    write_compact_bytes(w, *b);
}
inline void write_compact_array_count(byte_writer& w, std::size_t n) {
    w.uvarint(static_cast<std::uint64_t>(detail::checked_length32(n)) + 1);
}
inline void write_compact_null_array(byte_writer& w) { w.uvarint(0); }
/// The empty tagged-field section (one byte, 0x00): we never send optional tagged fields.
inline void write_empty_tagged_fields(byte_writer& w) { w.uvarint(0); }

// ---------------------------------------------------------------------------------------------
// Records the encoder leaves out (zero-copy sends).
//
// A message field of type "records" can be given as external_records instead of bytes: the
// encoder then writes only the length prefix and appends a records_gap saying "insert `size`
// bytes identified by `cookie` at `position` of the output buffer". The sender transmits
// buffer[0, gap0.position), then gap 0's bytes from wherever they live (a file range with
// sendfile, a batch buffer with writev), then buffer[gap0.position, gap1.position), and so on.
// Frame sizes account for the gap bytes (finish_frame in header.hpp takes their total).

/// Records of known size supplied by the sender at send time; `cookie` is the caller's handle.
struct external_records {
    std::uint32_t size = 0;
    std::uint64_t cookie = 0;
};

/// Where the sender must insert external bytes: `position` is an offset in the encoded buffer
/// (as written, without earlier gaps' bytes). Gaps are appended in ascending position order.
struct records_gap {
    std::size_t position = 0;
    std::uint32_t size = 0;
    std::uint64_t cookie = 0;
};
using gap_list = std::vector<records_gap>;

/// Sum of the gaps' sizes: what finish_frame must add to the buffer's bytes.
inline std::size_t external_size(std::span<const records_gap> gaps) noexcept {
    std::size_t n = 0;
    for (const auto& g : gaps) n += g.size;
    return n;
}

/// Walks an encoded buffer and its gaps in send order: on_bytes(bytes_view) for each inline
/// piece (never empty), on_gap(const records_gap&) for each gap.
template <typename OnBytes, typename OnGap>
void for_each_piece(bytes_view encoded, std::span<const records_gap> gaps, OnBytes&& on_bytes, OnGap&& on_gap) {
    std::size_t at = 0;
    for (const auto& g : gaps) {
        if (g.position > at) on_bytes(encoded.subspan(at, g.position - at));
        on_gap(g);
        at = g.position;
    }
    if (at < encoded.size()) on_bytes(encoded.subspan(at));
}

// ---------------------------------------------------------------------------------------------
// decoder / encoder: one code path for classic and flexible versions.

class decoder {
public:
    decoder(byte_reader& r, bool flexible) noexcept : r_(&r), flexible_(flexible) {}

    [[nodiscard]] bool flexible() const noexcept { return flexible_; }
    [[nodiscard]] bool ok() const noexcept { return r_->ok(); }
    [[nodiscard]] byte_reader& reader() noexcept { return *r_; }
    void fail() noexcept { r_->fail(); }

    // Smallest encodings, for the element-size lower bounds passed to array().
    [[nodiscard]] std::size_t min_string() const noexcept { return flexible_ ? 1 : 2; }
    [[nodiscard]] std::size_t min_bytes() const noexcept { return flexible_ ? 1 : 4; }
    [[nodiscard]] std::size_t min_array() const noexcept { return flexible_ ? 1 : 4; }
    [[nodiscard]] std::size_t min_tags() const noexcept { return flexible_ ? 1 : 0; }

    std::int8_t i8() noexcept { return r_->i8(); }
    std::int16_t i16() noexcept { return r_->i16(); }
    std::int32_t i32() noexcept { return r_->i32(); }
    std::int64_t i64() noexcept { return r_->i64(); }
    bool boolean() noexcept { return read_bool(*r_); }
    wire::uuid uuid() noexcept { return read_uuid(*r_); }

    std::string_view string() noexcept { return flexible_ ? read_compact_string(*r_) : read_string(*r_); }
    std::optional<std::string_view> nullable_string() noexcept {
        return flexible_ ? read_compact_nullable_string(*r_) : read_nullable_string(*r_);
    }
    bytes_view bytes() noexcept { return flexible_ ? read_compact_bytes(*r_) : read_bytes(*r_); }
    std::optional<bytes_view> nullable_bytes() noexcept {
        return flexible_ ? read_compact_nullable_bytes(*r_) : read_nullable_bytes(*r_);
    }

    /// -1 for null (or failure); otherwise a count that passed the remaining-bytes check.
    std::int64_t array_count(std::size_t min_element_size) noexcept {
        return flexible_ ? read_compact_array_count(*r_, min_element_size)
                         : read_array_count(*r_, min_element_size);
    }

    /// Reads a non-nullable array into `out`, calling `read_element(decoder&, element&)` on each
    /// freshly appended element. `min_element_size` must be a lower bound of an element's
    /// encoded size: counts the remaining bytes cannot hold fail before any allocation, and the
    /// up-front reservation is capped, so memory grows only with elements actually decoded.
    template <typename Vec, typename ReadElement>
    void array(Vec& out, std::size_t min_element_size, ReadElement&& read_element) {
        out.clear();
        const auto n = array_count(min_element_size);
        if (!ok()) return;
        if (n < 0) {
            fail(); // null where the schema does not allow it
            return;
        }
        read_elements(out, n, read_element);
    }
    /// As array(), for nullable arrays: nullopt for null.
    template <typename Vec, typename ReadElement>
    void nullable_array(std::optional<Vec>& out, std::size_t min_element_size, ReadElement&& read_element) {
        out.reset();
        const auto n = array_count(min_element_size);
        if (!ok() || n < 0) return;
        out.emplace();
        read_elements(*out, n, read_element);
    }

    /// The tagged-field section of the current struct (nothing in classic versions). Unknown
    /// tags are skipped; `on_field(tag, bytes)` sees each one.
    template <typename OnField>
    void tagged_fields(OnField&& on_field) {
        if (flexible_) read_tagged_fields(*r_, on_field);
    }
    void tagged_fields() noexcept {
        if (flexible_) skip_tagged_fields(*r_);
    }

private:
    template <typename Vec, typename ReadElement>
    void read_elements(Vec& out, std::int64_t n, ReadElement& read_element) {
        constexpr std::int64_t max_upfront = 1024;
        out.reserve(static_cast<std::size_t>(std::min(n, max_upfront)));
        for (std::int64_t i = 0; i < n; ++i) {
            read_element(*this, out.emplace_back());
            if (!ok()) return;
        }
    }

    byte_reader* r_;
    bool flexible_;
};

class encoder {
public:
    encoder(byte_writer& w, bool flexible) noexcept : w_(&w), flexible_(flexible) {}

    [[nodiscard]] bool flexible() const noexcept { return flexible_; }
    [[nodiscard]] byte_writer& writer() noexcept { return *w_; }
    [[nodiscard]] std::size_t position() const noexcept { return w_->position(); }

    void i8(std::int8_t v) { w_->i8(v); }
    void i16(std::int16_t v) { w_->i16(v); }
    void i32(std::int32_t v) { w_->i32(v); }
    void i64(std::int64_t v) { w_->i64(v); }
    void boolean(bool v) { write_bool(*w_, v); }
    void uuid(const wire::uuid& u) { write_uuid(*w_, u); }

    void string(std::string_view s) { flexible_ ? write_compact_string(*w_, s) : write_string(*w_, s); }
    void nullable_string(std::optional<std::string_view> s) {
        flexible_ ? write_compact_nullable_string(*w_, s) : write_nullable_string(*w_, s);
    }
    void bytes(bytes_view b) { flexible_ ? write_compact_bytes(*w_, b) : write_bytes(*w_, b); }
    void nullable_bytes(std::optional<bytes_view> b) {
        flexible_ ? write_compact_nullable_bytes(*w_, b) : write_nullable_bytes(*w_, b);
    }
    /// The length prefix of `ext.size` bytes and a gap where the sender inserts them.
    void external(const external_records& ext, gap_list& gaps) {
        if (flexible_) w_->uvarint(static_cast<std::uint64_t>(ext.size) + 1);
        else w_->i32(detail::checked_length32(ext.size));
        gaps.push_back(records_gap{w_->position(), ext.size, ext.cookie});
    }

    void array_count(std::size_t n) { flexible_ ? write_compact_array_count(*w_, n) : write_array_count(*w_, n); }
    void null_array() { flexible_ ? write_compact_null_array(*w_) : write_null_array(*w_); }

    /// Writes count then `write_element(encoder&, const element&)` for each element.
    template <typename Range, typename WriteElement>
    void array(const Range& items, WriteElement&& write_element) {
        array_count(std::size(items));
        for (const auto& item : items) write_element(*this, item);
    }
    template <typename Range, typename WriteElement>
    void nullable_array(const std::optional<Range>& items, WriteElement&& write_element) {
        if (!items) {
            null_array();
            return;
        }
        array(*items, write_element);
    }

    /// An empty tagged-field section in flexible versions, nothing otherwise.
    void tagged_fields() {
        if (flexible_) write_empty_tagged_fields(*w_);
    }

private:
    byte_writer* w_;
    bool flexible_;
};

} // namespace gregor::wire
