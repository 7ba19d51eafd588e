// Bytes: an owning growable buffer that does not zero what it is about to overwrite, views, and a
// bounds-checked big-endian reader/writer. The reader never reads past its end: a short read
// yields zero/empty and latches `ok() == false`, so a decoder checks once at the end instead of
// after every field (the wire layer turns that into a Kafka error code).
#pragma once

#include <gregor/config.hpp>
#include <gregor/core/varint.hpp>

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace gregor {

using bytes_view = std::span<const std::byte>;
using mutable_bytes_view = std::span<std::byte>;

inline bytes_view as_bytes(std::string_view s) noexcept {
    return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}
inline std::string_view as_string_view(bytes_view b) noexcept {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

/// Owning contiguous byte buffer. Growth is geometric and leaves new bytes uninitialised, because
/// every user (batch builder, request encoder) writes them immediately. Copyable (deep) and
/// cheaply movable.
class byte_buffer {
public:
    byte_buffer() noexcept = default;
    explicit byte_buffer(std::size_t capacity) { reserve(capacity); }
    explicit byte_buffer(bytes_view b) { append(b); }
    byte_buffer(const byte_buffer& o) : byte_buffer(o.view()) {}
    byte_buffer& operator=(const byte_buffer& o) {
        if (this != &o) {
            clear();
            append(o.view());
        }
        return *this;
    }
    byte_buffer(byte_buffer&& o) noexcept
            : data_(std::move(o.data_)), size_(std::exchange(o.size_, 0)), cap_(std::exchange(o.cap_, 0)) {}
    byte_buffer& operator=(byte_buffer&& o) noexcept {
        data_ = std::move(o.data_);
        size_ = std::exchange(o.size_, 0);
        cap_ = std::exchange(o.cap_, 0);
        return *this;
    }

    [[nodiscard]] std::byte* data() noexcept { return data_.get(); }
    [[nodiscard]] const std::byte* data() const noexcept { return data_.get(); }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] std::size_t capacity() const noexcept { return cap_; }
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
    [[nodiscard]] bytes_view view() const noexcept { return {data_.get(), size_}; }
    [[nodiscard]] mutable_bytes_view mutable_view() noexcept { return {data_.get(), size_}; }
    std::byte& operator[](std::size_t i) noexcept { return data_[i]; }
    const std::byte& operator[](std::size_t i) const noexcept { return data_[i]; }

    void clear() noexcept { size_ = 0; }
    void reserve(std::size_t n) {
        if (n <= cap_) return;
        auto fresh = std::make_unique_for_overwrite<std::byte[]>(n);
        // size_ <= cap_ < n always; saying so stops GCC's -Wstringop-overflow false positive.
        if (size_ > cap_) __builtin_unreachable();
        if (size_) std::memcpy(fresh.get(), data_.get(), size_);
        data_ = std::move(fresh);
        cap_ = n;
    }
    /// Grows or shrinks the size; new bytes are uninitialised.
    void resize(std::size_t n) {
        if (n > cap_) reserve(std::max(n, cap_ * 2));
        size_ = n;
    }
    /// Appends `n` uninitialised bytes and returns a pointer to them.
    std::byte* grow(std::size_t n) {
        const auto old = size_;
        resize(size_ + n);
        return data_.get() + old;
    }
    void append(bytes_view b) {
        if (b.empty()) return;
        std::memcpy(grow(b.size()), b.data(), b.size());
    }
    void append(std::string_view s) { append(as_bytes(s)); }

private:
    std::unique_ptr<std::byte[]> data_;
    std::size_t size_ = 0;
    std::size_t cap_ = 0;
};

namespace detail {
template <typename T>
constexpr T byteswap_if_little(T v) noexcept {
    if constexpr (std::endian::native == std::endian::little && sizeof(T) > 1) {
        using U = std::make_unsigned_t<T>;
        auto u = static_cast<U>(v);
        if constexpr (sizeof(T) == 2)
            u = __builtin_bswap16(u);
        else if constexpr (sizeof(T) == 4)
            u = __builtin_bswap32(u);
        else
            u = __builtin_bswap64(u);
        return static_cast<T>(u);
    } else {
        return v;
    }
}
} // namespace detail

/// Loads/stores a big-endian integer at a raw pointer (the caller checked the bounds).
template <typename T>
inline T load_be(const std::byte* p) noexcept {
    T v;
    std::memcpy(&v, p, sizeof(T));
    return detail::byteswap_if_little(v);
}
template <typename T>
inline void store_be(std::byte* p, T v) noexcept {
    v = detail::byteswap_if_little(v);
    std::memcpy(p, &v, sizeof(T));
}

/// Bounds-checked big-endian cursor over borrowed bytes. Failure is sticky: after the first
/// short read every later read returns 0/empty and ok() stays false.
class byte_reader {
public:
    constexpr byte_reader() noexcept = default;
    explicit byte_reader(bytes_view b) noexcept : begin_(b.data()), p_(b.data()), end_(b.data() + b.size()) {}

    [[nodiscard]] bool ok() const noexcept { return ok_; }
    [[nodiscard]] std::size_t remaining() const noexcept { return static_cast<std::size_t>(end_ - p_); }
    [[nodiscard]] std::size_t position() const noexcept { return static_cast<std::size_t>(p_ - begin_); }
    [[nodiscard]] bool at_end() const noexcept { return p_ == end_; }
    [[nodiscard]] const std::byte* current() const noexcept { return p_; }
    void fail() noexcept {
        ok_ = false;
        p_ = end_;
    }

    template <typename T>
    T read() noexcept {
        static_assert(std::is_integral_v<T>);
        if (GREGOR_UNLIKELY(remaining() < sizeof(T))) {
            fail();
            return T{};
        }
        const T v = load_be<T>(p_);
        p_ += sizeof(T);
        return v;
    }
    std::int8_t i8() noexcept { return read<std::int8_t>(); }
    std::int16_t i16() noexcept { return read<std::int16_t>(); }
    std::int32_t i32() noexcept { return read<std::int32_t>(); }
    std::int64_t i64() noexcept { return read<std::int64_t>(); }
    std::uint8_t u8() noexcept { return read<std::uint8_t>(); }
    std::uint16_t u16() noexcept { return read<std::uint16_t>(); }
    std::uint32_t u32() noexcept { return read<std::uint32_t>(); }

    /// The next `n` bytes as a view (empty and failed if fewer remain).
    bytes_view bytes(std::size_t n) noexcept {
        if (remaining() < n) {
            fail();
            return {};
        }
        bytes_view v{p_, n};
        p_ += n;
        return v;
    }
    void skip(std::size_t n) noexcept { (void)bytes(n); }

    std::uint64_t uvarint(std::size_t max_bytes = max_varint32_bytes) noexcept {
        std::uint64_t v = 0;
        const auto n = decode_uvarint(p_, end_, v, max_bytes);
        if (n == 0) {
            fail();
            return 0;
        }
        p_ += n;
        return v;
    }
    std::int32_t varint() noexcept {
        std::int32_t v = 0;
        const auto n = decode_varint(p_, end_, v);
        if (n == 0) {
            fail();
            return 0;
        }
        p_ += n;
        return v;
    }
    std::int64_t varlong() noexcept {
        std::int64_t v = 0;
        const auto n = decode_varlong(p_, end_, v);
        if (n == 0) {
            fail();
            return 0;
        }
        p_ += n;
        return v;
    }

private:
    const std::byte* begin_ = nullptr;
    const std::byte* p_ = nullptr;
    const std::byte* end_ = nullptr;
    bool ok_ = true;
};

/// Big-endian appender into a byte_buffer; `patch` writes at an earlier position (lengths, CRCs).
class byte_writer {
public:
    explicit byte_writer(byte_buffer& out) noexcept : out_(&out) {}

    [[nodiscard]] std::size_t position() const noexcept { return out_->size(); }
    [[nodiscard]] byte_buffer& buffer() noexcept { return *out_; }

    template <typename T>
    void write(T v) {
        static_assert(std::is_integral_v<T>);
        store_be<T>(out_->grow(sizeof(T)), v);
    }
    void i8(std::int8_t v) { write(v); }
    void i16(std::int16_t v) { write(v); }
    void i32(std::int32_t v) { write(v); }
    void i64(std::int64_t v) { write(v); }
    void u32(std::uint32_t v) { write(v); }
    void bytes(bytes_view b) { out_->append(b); }
    void uvarint(std::uint64_t v) {
        std::byte tmp[max_varint64_bytes];
        out_->append({tmp, encode_uvarint(tmp, v)});
    }
    void varint(std::int32_t v) { uvarint(zigzag_encode32(v)); }
    void varlong(std::int64_t v) { uvarint(zigzag_encode64(v)); }

    /// Reserves `n` bytes to be patched later; returns their position.
    std::size_t placeholder(std::size_t n) {
        const auto pos = position();
        out_->grow(n);
        return pos;
    }
    template <typename T>
    void patch(std::size_t pos, T v) noexcept {
        store_be<T>(out_->data() + pos, v);
    }

private:
    byte_buffer* out_;
};

} // namespace gregor
