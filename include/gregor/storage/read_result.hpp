// What a log read hands back: whole batches as slices a transport can send without copying, each
// either bytes in memory (memory backend) or a range of an open file (file backends, for
// sendfile/splice). A slice holds a keep-alive, so it stays valid after the log's lock is released
// and while appends, rolls and retention continue; the bytes it covers are never rewritten in place
// (truncate_to() is the one exception for file ranges, as in Kafka: a follower that truncates
// while a reader still holds a range may see the new bytes).
//
// Thread-safety: a read_result is a value; copy_to() may run on any thread, concurrently with the
// log's own calls.
#pragma once

#include <gregor/core/buffer.hpp>
#include <gregor/core/error.hpp>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <system_error>
#include <vector>

#include <unistd.h>

namespace gregor::storage {

/// One contiguous piece of a read: memory bytes or a file range.
struct slice {
    bytes_view bytes; // memory backend: the batch bytes (valid while keepalive is held)
    int fd = -1;      // file backends: file descriptor, position and length
    std::uint64_t file_position = 0;
    std::size_t length = 0;                // bytes in this slice (both kinds)
    std::shared_ptr<const void> keepalive; // keeps the memory / the open file alive
    [[nodiscard]] bool is_file() const noexcept { return fd >= 0; }
};

/// Whole batches, in order, starting with the batch that contains the requested offset.
struct read_result {
    std::vector<slice> slices;
    std::size_t bytes = 0; // total length of all slices
    [[nodiscard]] bool empty() const noexcept { return bytes == 0; }
};

/// Appends the bytes of `r` to `out` (pread for file slices). On an I/O error or a short read (the
/// file was truncated under the reader) it stops, keeps what it copied and returns the error;
/// most callers may ignore the result, since a cut trailing batch is normal for Kafka readers.
inline std::error_code copy_to(const read_result& r, byte_buffer& out) {
    out.reserve(out.size() + r.bytes);
    for (const auto& s : r.slices) {
        if (!s.is_file()) {
            out.append(s.bytes.first(s.length));
            continue;
        }
        const auto start = out.size();
        std::byte* dst = out.grow(s.length);
        std::size_t done = 0;
        while (done < s.length) {
            const auto n = ::pread(s.fd, dst + done, s.length - done, static_cast<off_t>(s.file_position + done));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                out.resize(start + done);
                return n < 0 ? std::error_code{errno, std::system_category()} : make_error_code(local_error::io_error);
            }
            done += static_cast<std::size_t>(n);
        }
    }
    return {};
}

} // namespace gregor::storage
