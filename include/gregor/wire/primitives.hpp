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
// `decoder`/`encoder` pick classic or compact forms from one `flexible` flag and offer the same
// calls, so a message describes its fields once (`fields(io, m)`, see "Field descriptions" below)
// for both directions and every version; `sizer` measures what an encoder would write (tagged
// field sizes, array bounds). Records that the encoder must not copy (file ranges sent with
// sendfile, batches written with writev) are emitted as gaps: see external_records and
// records_gap.
//
// Thread-safety: all functions are reentrant; a decoder/encoder is used by one thread at a time.
#pragma once

#include <gregor/core/buffer.hpp>
#include <gregor/core/varint.hpp>

#include <algorithm>
#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <limits>
#include <optional>
#include <span>
#include <stdexcept>
#include <string_view>
#include <type_traits>
#include <utility>
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

// Writers, over any byte sink (a byte_writer, or the byte_counter that measures an encoding).
// Encoding a value the wire cannot hold (a string over 32767 bytes in a classic field) is misuse
// and throws std::length_error.

/// What the writers append to: byte_writer, or byte_counter (below).
template <typename W>
concept byte_sink = requires(W& w, std::int8_t a, std::int16_t b, std::int32_t c, std::int64_t d, bytes_view v,
                             std::uint64_t u) {
    w.i8(a);
    w.i16(b);
    w.i32(c);
    w.i64(d);
    w.bytes(v);
    w.uvarint(u);
    { w.position() } -> std::convertible_to<std::size_t>;
};

/// A sink that only counts: what an encoding would take, without writing it (tagged-field sizes,
/// the smallest encoding of an array element).
class byte_counter {
public:
    [[nodiscard]] std::size_t position() const noexcept { return n_; }
    void i8(std::int8_t) noexcept { n_ += 1; }
    void i16(std::int16_t) noexcept { n_ += 2; }
    void i32(std::int32_t) noexcept { n_ += 4; }
    void i64(std::int64_t) noexcept { n_ += 8; }
    void bytes(bytes_view b) noexcept { n_ += b.size(); }
    void uvarint(std::uint64_t v) noexcept { n_ += uvarint_size(v); }
    void skip(std::size_t n) noexcept { n_ += n; }

private:
    std::size_t n_ = 0;
};

template <byte_sink W>
void write_bool(W& w, bool v) {
    w.i8(v ? 1 : 0);
}
template <byte_sink W>
void write_uuid(W& w, const uuid& u) {
    w.bytes(u.bytes);
}

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

template <byte_sink W>
void write_string(W& w, std::string_view s) {
    w.i16(detail::checked_string_length(s.size()));
    w.bytes(as_bytes(s));
}
template <byte_sink W>
void write_nullable_string(W& w, std::optional<std::string_view> s) {
    if (!s) {
        w.i16(-1);
        return;
    }
    write_string(w, *s);
}
template <byte_sink W>
void write_bytes(W& w, bytes_view b) {
    w.i32(detail::checked_length32(b.size()));
    w.bytes(b);
}
template <byte_sink W>
void write_nullable_bytes(W& w, std::optional<bytes_view> b) {
    if (!b) {
        w.i32(-1);
        return;
    }
    write_bytes(w, *b);
}
template <byte_sink W>
void write_array_count(W& w, std::size_t n) {
    w.i32(detail::checked_length32(n));
}
template <byte_sink W>
void write_null_array(W& w) {
    w.i32(-1);
}

template <byte_sink W>
void write_compact_string(W& w, std::string_view s) {
    w.uvarint(static_cast<std::uint64_t>(detail::checked_length32(s.size())) + 1);
    w.bytes(as_bytes(s));
}
template <byte_sink W>
void write_compact_nullable_string(W& w, std::optional<std::string_view> s) {
    if (!s) {
        w.uvarint(0);
        return;
    }
    write_compact_string(w, *s);
}
template <byte_sink W>
void write_compact_bytes(W& w, bytes_view b) {
    w.uvarint(static_cast<std::uint64_t>(detail::checked_length32(b.size())) + 1);
    w.bytes(b);
}
template <byte_sink W>
void write_compact_nullable_bytes(W& w, std::optional<bytes_view> b) {
    if (!b) {
        w.uvarint(0);
        return;
    }
    write_compact_bytes(w, *b);
}
template <byte_sink W>
void write_compact_array_count(W& w, std::size_t n) {
    w.uvarint(static_cast<std::uint64_t>(detail::checked_length32(n)) + 1);
}
template <byte_sink W>
void write_compact_null_array(W& w) {
    w.uvarint(0);
}
/// The empty tagged-field section (one byte, 0x00).
template <byte_sink W>
void write_empty_tagged_fields(W& w) {
    w.uvarint(0);
}

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
// Field descriptions: one code path for both directions and for classic and flexible versions.
//
// A message describes its body once, as
//
//   template <class IO, class Self> static void fields(IO& io, Self& m);
//
// where IO is a `decoder` (reads into a mutable `m`), an `encoder` (writes a const `m`) or a
// `sizer` (counts what the encoder would write), and `encode`/`decode` are thin wrappers around it
// (encode_fields/decode_fields in header.hpp). The calls an IO offers:
//
//   io.version(), io.flexible()          the version being coded and whether it is flexible
//   io.i8/i16/i32/i64(x)                 x: that integer, an enum over it or a strong type over it
//   io.boolean(b), io.uuid(u)
//   io.string(s), io.nullable_string(opt_s), io.string_or_null(s, nullable)
//   io.bytes(b), io.nullable_bytes(opt_b), io.records(opt_b, opt_external)
//   io.array(vec, fn), io.nullable_array(opt_vec, fn), io.null_as_empty_array(opt_vec, fn)
//                                        fn(io, element) describes one element
//   io.tagged_fields(tag(n, differs, fn)...)
//                                        the struct's tagged section (nothing in classic versions);
//                                        fn(io) describes tag n's value, written only when it
//                                        `differs` from the schema default; unknown tags are
//                                        skipped on decode (docs/protocol.md §1.2)
//
// Element callbacks and tag bodies are generic lambdas (`[](auto& io, auto& p) {...}`), since each
// runs with every IO and with const and mutable elements.
//
// Array counts are bounded before anything is allocated by the smallest encoding of an element,
// which the decoder measures as the encoding of a default-constructed element (empty strings and
// arrays, null bytes, absent tagged fields: the smallest each form has).

/// An integer field of wire type `Raw`: `Raw` itself, an enum of that size, or a strong type over
/// it (core/strong_types.hpp). static_cast converts both ways.
template <typename T, typename Raw>
concept wire_int = std::same_as<T, Raw> ||(std::is_enum_v<T> && sizeof(T) == sizeof(Raw)) || requires {
    requires std::same_as<typename T::value_type, Raw>;
};

/// A known tagged field of the struct being coded: its tag number, whether the version being coded
/// has it (a decoder skips a tag the version does not know, like any unknown tag), whether its
/// value differs from the default (only then is it written), and `body(io)` coding its value.
template <typename F>
struct tagged_field {
    std::uint32_t number;
    bool known;
    bool write;
    F body;
};

/// A tagged field known in every flexible version of its struct.
template <typename F>
constexpr tagged_field<F> tag(std::uint32_t number, bool differs_from_default, F body) {
    return {number, true, differs_from_default, std::move(body)};
}
/// A tagged field that only versions where `in_version` holds know (e.g. Fetch's ReplicaState, v15+).
template <typename F>
constexpr tagged_field<F> tag_if(bool in_version, std::uint32_t number, bool differs_from_default, F body) {
    return {number, in_version, in_version && differs_from_default, std::move(body)};
}

template <byte_sink Sink>
class basic_encoder;
/// Writes fields into a byte_writer.
using encoder = basic_encoder<byte_writer>;
/// Counts the bytes an encoder would write.
using sizer = basic_encoder<byte_counter>;

template <byte_sink Sink>
class basic_encoder {
public:
    /// `version` is what io.version() reports (messages branch on it); `gaps` receives the gaps of
    /// external records (records(); none allowed when null).
    basic_encoder(Sink& w, bool flexible, std::int16_t version = -1, gap_list* gaps = nullptr) noexcept
            : w_(&w), gaps_(gaps), version_(version), flexible_(flexible) {}

    [[nodiscard]] bool flexible() const noexcept { return flexible_; }
    [[nodiscard]] std::int16_t version() const noexcept { return version_; }
    [[nodiscard]] Sink& writer() noexcept { return *w_; }
    [[nodiscard]] std::size_t position() const noexcept { return w_->position(); }

    void i8(std::int8_t v) { w_->i8(v); }
    void i16(std::int16_t v) { w_->i16(v); }
    void i32(std::int32_t v) { w_->i32(v); }
    void i64(std::int64_t v) { w_->i64(v); }
    template <wire_int<std::int8_t> T>
    void i8(const T& v) {
        w_->i8(static_cast<std::int8_t>(v));
    }
    template <wire_int<std::int16_t> T>
    void i16(const T& v) {
        w_->i16(static_cast<std::int16_t>(v));
    }
    template <wire_int<std::int32_t> T>
    void i32(const T& v) {
        w_->i32(static_cast<std::int32_t>(v));
    }
    template <wire_int<std::int64_t> T>
    void i64(const T& v) {
        w_->i64(static_cast<std::int64_t>(v));
    }
    void boolean(bool v) { write_bool(*w_, v); }
    void uuid(const wire::uuid& u) { write_uuid(*w_, u); }

    void string(std::string_view s) { flexible_ ? write_compact_string(*w_, s) : write_string(*w_, s); }
    void nullable_string(std::optional<std::string_view> s) {
        flexible_ ? write_compact_nullable_string(*w_, s) : write_nullable_string(*w_, s);
    }
    /// A string kept in a string_view that some versions allow to be null: where `nullable`, a
    /// view with data() == nullptr (default-constructed) is written as null; elsewhere as "".
    void string_or_null(std::string_view s, bool nullable) {
        if (nullable && s.data() == nullptr)
            nullable_string(std::nullopt);
        else
            string(s);
    }
    void bytes(bytes_view b) { flexible_ ? write_compact_bytes(*w_, b) : write_bytes(*w_, b); }
    void nullable_bytes(std::optional<bytes_view> b) {
        flexible_ ? write_compact_nullable_bytes(*w_, b) : write_nullable_bytes(*w_, b);
    }
    /// The length prefix of `ext.size` bytes and a gap where the sender inserts them.
    void external(const external_records& ext, gap_list& gaps) {
        write_external_prefix(ext);
        gaps.push_back(records_gap{w_->position(), ext.size, ext.cookie});
    }
    /// A "records" field: nullable bytes written inline, or, when `ext` is set, only their length
    /// and a gap (primitives.hpp, external_records). External records need a gap list: without
    /// one, encoding them throws std::invalid_argument. A sizer counts their bytes.
    void records(const std::optional<bytes_view>& inline_records, const std::optional<external_records>& ext) {
        if (!ext) return nullable_bytes(inline_records);
        if constexpr (std::same_as<Sink, byte_counter>) {
            write_external_prefix(*ext);
            w_->skip(ext->size);
        } else {
            if (!gaps_) throw std::invalid_argument("gregor::wire: external records need a gap list");
            external(*ext, *gaps_);
        }
    }

    void array_count(std::size_t n) { flexible_ ? write_compact_array_count(*w_, n) : write_array_count(*w_, n); }
    void null_array() { flexible_ ? write_compact_null_array(*w_) : write_null_array(*w_); }

    /// Writes count then `write_element(*this, element)` for each element.
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
    /// A nullable array for a version without null arrays, where null travels as an empty array
    /// (Metadata v0: "all topics").
    template <typename Range, typename WriteElement>
    void null_as_empty_array(const std::optional<Range>& items, WriteElement&& write_element) {
        if (!items) {
            array_count(0);
            return;
        }
        array(*items, write_element);
    }

    /// An empty tagged-field section in flexible versions, nothing otherwise.
    void tagged_fields() {
        if (flexible_) write_empty_tagged_fields(*w_);
    }
    /// The tagged-field section with the given known fields, those whose `write` is set, which
    /// must come in ascending tag order (std::logic_error otherwise). Nothing in classic versions.
    template <typename F, typename... Fs>
    void tagged_fields(const tagged_field<F>& first, const tagged_field<Fs>&... rest) {
        if (!flexible_) return;
        const std::uint64_t count = ((first.write ? 1u : 0u) + ... + (rest.write ? 1u : 0u));
        w_->uvarint(count);
        std::int64_t last = -1;
        write_tag(first, last);
        (write_tag(rest, last), ...);
    }

private:
    void write_external_prefix(const external_records& ext) {
        if (flexible_)
            w_->uvarint(static_cast<std::uint64_t>(ext.size) + 1);
        else
            w_->i32(detail::checked_length32(ext.size));
    }

    template <typename F>
    void write_tag(const tagged_field<F>& t, std::int64_t& last) {
        if (!t.write) return;
        if (static_cast<std::int64_t>(t.number) <= last)
            throw std::logic_error("gregor::wire: tagged fields must be written in ascending tag order");
        last = t.number;
        byte_counter size;
        sizer s(size, true, version_);
        t.body(s);
        w_->uvarint(t.number);
        w_->uvarint(size.position());
        t.body(*this);
    }

    Sink* w_;
    gap_list* gaps_;
    std::int16_t version_;
    bool flexible_;
};

class decoder {
public:
    /// `version` is what io.version() reports (messages branch on it).
    decoder(byte_reader& r, bool flexible, std::int16_t version = -1) noexcept
            : r_(&r), version_(version), flexible_(flexible) {}

    [[nodiscard]] bool flexible() const noexcept { return flexible_; }
    [[nodiscard]] std::int16_t version() const noexcept { return version_; }
    [[nodiscard]] bool ok() const noexcept { return r_->ok(); }
    [[nodiscard]] byte_reader& reader() noexcept { return *r_; }
    void fail() noexcept { r_->fail(); }

    // Smallest encodings, for the element-size lower bounds passed to array().
    [[nodiscard]] std::size_t min_string() const noexcept { return flexible_ ? 1 : 2; }
    [[nodiscard]] std::size_t min_bytes() const noexcept { return flexible_ ? 1 : 4; }
    [[nodiscard]] std::size_t min_array() const noexcept { return flexible_ ? 1 : 4; }
    [[nodiscard]] std::size_t min_tags() const noexcept { return flexible_ ? 1 : 0; }

    // Value-returning reads.
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

    // Field-description reads (see above): each reads into its argument.
    template <wire_int<std::int8_t> T>
    void i8(T& v) noexcept {
        v = static_cast<T>(r_->i8());
    }
    template <wire_int<std::int16_t> T>
    void i16(T& v) noexcept {
        v = static_cast<T>(r_->i16());
    }
    template <wire_int<std::int32_t> T>
    void i32(T& v) noexcept {
        v = static_cast<T>(r_->i32());
    }
    template <wire_int<std::int64_t> T>
    void i64(T& v) noexcept {
        v = static_cast<T>(r_->i64());
    }
    void boolean(bool& v) noexcept { v = boolean(); }
    void uuid(wire::uuid& u) noexcept { u = uuid(); }
    void string(std::string_view& s) noexcept { s = string(); }
    void nullable_string(std::optional<std::string_view>& s) noexcept { s = nullable_string(); }
    /// Where `nullable`, null reads as a default-constructed view (data() == nullptr), and ""
    /// as a non-null empty view into the frame.
    void string_or_null(std::string_view& s, bool nullable) noexcept {
        if (!nullable) {
            s = string();
            return;
        }
        const auto v = nullable_string();
        s = v ? *v : std::string_view{};
    }
    void bytes(bytes_view& b) noexcept { b = bytes(); }
    void nullable_bytes(std::optional<bytes_view>& b) noexcept { b = nullable_bytes(); }
    /// A "records" field: always inline on decode (a view into the frame); `ext` is left alone.
    void records(std::optional<bytes_view>& b, const std::optional<external_records>& /*ext*/) noexcept {
        b = nullable_bytes();
    }

    /// -1 for null (or failure); otherwise a count that passed the remaining-bytes check.
    std::int64_t array_count(std::size_t min_element_size) noexcept {
        return flexible_ ? read_compact_array_count(*r_, min_element_size) : read_array_count(*r_, min_element_size);
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

    // Field-description arrays: the element bound is the size of a default element (above).
    template <typename Vec, typename Element>
    void array(Vec& out, Element&& element) {
        array(out, min_size<typename Vec::value_type>(element), element);
    }
    template <typename Vec, typename Element>
    void nullable_array(std::optional<Vec>& out, Element&& element) {
        nullable_array(out, min_size<typename Vec::value_type>(element), element);
    }
    /// The read side of basic_encoder::null_as_empty_array: an empty array reads as null.
    template <typename Vec, typename Element>
    void null_as_empty_array(std::optional<Vec>& out, Element&& element) {
        Vec v;
        array(v, element);
        if (v.empty())
            out.reset();
        else
            out = std::move(v);
    }

    /// The tagged-field section of the current struct (nothing in classic versions). Unknown
    /// tags are skipped; `on_field(tag, bytes)` sees each one.
    template <typename OnField>
    requires std::invocable<OnField&, std::uint32_t, bytes_view>
    void tagged_fields(OnField&& on_field) {
        if (flexible_) read_tagged_fields(*r_, on_field);
    }
    void tagged_fields() noexcept {
        if (flexible_) skip_tagged_fields(*r_);
    }
    /// The tagged-field section with known fields: each known tag's bytes must hold exactly its
    /// value, or the decode fails; unknown tags (and tags this version does not know) are skipped.
    template <typename F, typename... Fs>
    void tagged_fields(const tagged_field<F>& first, const tagged_field<Fs>&... rest) {
        if (!flexible_) return;
        read_tagged_fields(*r_, [&](std::uint32_t number, bytes_view data) {
            if (!read_tag(first, number, data)) (void)(read_tag(rest, number, data) || ...);
        });
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

    template <typename T, typename Element>
    std::size_t min_size(Element& element) const {
        byte_counter n;
        sizer s(n, flexible_, version_);
        const T fresh{};
        element(s, fresh);
        return n.position();
    }

    // True if `t` is the field for `number` in this version (then read, failing on a mismatch).
    template <typename F>
    bool read_tag(const tagged_field<F>& t, std::uint32_t number, bytes_view data) {
        if (!t.known || t.number != number) return false;
        byte_reader sub(data);
        decoder d(sub, true, version_);
        t.body(d);
        if (!sub.ok() || !sub.at_end()) fail();
        return true;
    }

    byte_reader* r_;
    std::int16_t version_;
    bool flexible_;
};

} // namespace gregor::wire
