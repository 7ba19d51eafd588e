// Kafka's length-prefixed framing: int32 big-endian size, then that many bytes (header + body).
// `frame_reader` cuts frames out of a byte stream with the size checked against the limit
// (socket.request.max.bytes) BEFORE anything is allocated for the frame, so a hostile size costs
// nothing; a negative or oversized size is reported and the caller closes that connection.
//
// Small pipelined frames are parsed in place from one read buffer (no copy, no allocation per
// frame); a frame larger than the buffer gets one buffer of exactly its size.
// Thread-safety: a frame_reader is a plain value, used by one thread at a time.
#pragma once

#include <gregor/core/buffer.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>

namespace gregor::net {

/// socket.request.max.bytes default (also the largest frame a client accepts by default here).
inline constexpr std::int32_t default_max_frame_bytes = 104857600;
/// Bytes of the size prefix.
inline constexpr std::size_t frame_header_bytes = 4;

/// Writes the 4-byte big-endian size prefix.
inline void write_frame_header(std::byte* out, std::int32_t size) noexcept { store_be<std::int32_t>(out, size); }

/// Returns `body` with its size prefix in front (a convenience for tests and small requests).
inline byte_buffer make_frame(bytes_view body) {
    const std::size_t n = body.size();
    byte_buffer out(frame_header_bytes + n);
    std::byte* p = out.grow(frame_header_bytes + n);
    write_frame_header(p, static_cast<std::int32_t>(n));
    if (n > 0) std::memcpy(p + frame_header_bytes, body.data(), n);
    return out;
}

enum class frame_status {
    frame,         ///< a complete frame was returned
    need_more,     ///< read more bytes (prepare/commit) and ask again
    negative_size, ///< the size prefix is negative: close the connection
    too_large,     ///< the size prefix exceeds the limit: close the connection
};

/// Incremental frame parser over a stream. Usage per readable event:
///   auto space = r.prepare(); n = read(fd, space); r.commit(n);
///   while (r.next(frame) == frame_status::frame) handle(frame);
/// A frame view stays valid until the next prepare().
class frame_reader {
public:
    explicit frame_reader(std::int32_t max_frame_bytes = default_max_frame_bytes,
                          std::size_t chunk_bytes = 64 * 1024) noexcept
            : max_frame_(max_frame_bytes < 0 ? 0 : max_frame_bytes), chunk_(std::max<std::size_t>(chunk_bytes, 64)) {}

    /// Writable space for the next read. Compacts or grows the buffer: to exactly the pending
    /// frame's size when its header has been seen (its size was already checked by next()).
    mutable_bytes_view prepare() {
        if (begin_ == end_) {
            begin_ = end_ = 0;
            // Give back a big frame's buffer once it has been consumed.
            if (buf_.capacity() > 2 * chunk_ && need_ == 0) buf_ = byte_buffer{};
        }
        const std::size_t have = end_ - begin_;
        // Room for the pending frame, and in any case for a useful read.
        const std::size_t want = std::max(need_, have + chunk_ / 4);
        if (buf_.capacity() - begin_ < want) {
            if (buf_.capacity() >= want) {
                if (have > 0) std::memmove(buf_.data(), buf_.data() + begin_, have);
            } else {
                byte_buffer fresh(std::max(want, chunk_));
                if (have > 0) std::memcpy(fresh.data(), buf_.data() + begin_, have);
                buf_ = std::move(fresh);
            }
            begin_ = 0;
            end_ = have;
        }
        return {buf_.data() + end_, buf_.capacity() - end_};
    }

    /// Records that `n` bytes were written into the space prepare() returned.
    void commit(std::size_t n) noexcept { end_ += n; }

    /// Pops the next complete frame (without its size prefix) into `out`. The bytes are this
    /// reader's own buffer, so the caller may modify them in place until the next prepare().
    frame_status next(mutable_bytes_view& out) noexcept {
        const std::size_t have = end_ - begin_;
        if (have < frame_header_bytes) {
            need_ = 0;
            return frame_status::need_more;
        }
        const auto size = load_be<std::int32_t>(buf_.data() + begin_);
        if (size < 0) return frame_status::negative_size;
        if (size > max_frame_) return frame_status::too_large;
        const std::size_t total = frame_header_bytes + static_cast<std::size_t>(size);
        if (have < total) {
            need_ = total;
            return frame_status::need_more;
        }
        out = mutable_bytes_view{buf_.data() + begin_ + frame_header_bytes, static_cast<std::size_t>(size)};
        begin_ += total;
        need_ = 0;
        return frame_status::frame;
    }
    frame_status next(bytes_view& out) noexcept {
        mutable_bytes_view m;
        const auto st = next(m);
        out = m;
        return st;
    }

    /// True when next() would return something other than need_more (a frame or an error).
    [[nodiscard]] bool has_frame() const noexcept {
        const std::size_t have = end_ - begin_;
        if (have < frame_header_bytes) return false;
        const auto size = load_be<std::int32_t>(buf_.data() + begin_);
        return size < 0 || size > max_frame_ || have >= frame_header_bytes + static_cast<std::size_t>(size);
    }

    /// Bytes received but not yet returned as frames.
    [[nodiscard]] std::size_t buffered() const noexcept { return end_ - begin_; }
    /// Bytes of buffer currently held (for memory accounting).
    [[nodiscard]] std::size_t capacity() const noexcept { return buf_.capacity(); }
    [[nodiscard]] std::int32_t max_frame_bytes() const noexcept { return max_frame_; }

private:
    byte_buffer buf_;
    std::size_t begin_ = 0;
    std::size_t end_ = 0;
    std::size_t need_ = 0; // total bytes (prefix included) of the frame being assembled, 0 = unknown
    std::int32_t max_frame_;
    std::size_t chunk_;
};

} // namespace gregor::net
