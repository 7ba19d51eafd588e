// The io_uring backend (built when liburing is found: GREGOR_HAS_URING). An append is one
// submission: the write, and when the flush policy asks for durability a linked fdatasync, go to
// the kernel in a single io_uring_enter() instead of pwrite() + fdatasync(); flush() submits its
// sync the same way. Writes go to the page cache exactly as with the file backend, so reads
// (pread, or a file range handed to the transport) are shared with it. Where the filesystem cannot
// complete a buffered write without blocking (ext4 here), the kernel hands each write to an io-wq
// worker, which makes small appends slower than pwrite(): see docs/storage.md for the figures.
//
// Opening a log with this backend on a machine where io_uring is unavailable (old kernel, seccomp
// in a container, io_uring_disabled sysctl) throws std::system_error saying so, at open.
//
// Thread-safety: one log uses a uring_backend at a time (each backend owns a small ring); the ranges
// a read hands out may be read from any thread.
#pragma once

#include <gregor/config.hpp>

#if GREGOR_HAS_URING

#include <gregor/storage/detail/posix.hpp>

#include <liburing.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace gregor::storage {

struct uring_backend_options {
    unsigned queue_depth = 8; // submission queue entries of this log's ring (an append uses two)
};

class uring_backend {
public:
    using options = uring_backend_options;
    using file = detail::posix_file;
    static constexpr bool persistent = true;
    static constexpr const char* name = "uring";

    explicit uring_backend(const std::filesystem::path& dir, const options& o = {}) : dir_(dir) {
        auto ring = std::make_unique<::io_uring>();
        const int r = ::io_uring_queue_init(std::max(o.queue_depth, 2u), ring.get(), 0);
        if (r < 0)
            throw std::system_error(detail::errno_code(-r),
                                    "gregor::storage::uring_backend: io_uring is unavailable on this machine "
                                    "(io_uring_queue_init failed); use gregor::storage::file_backend instead");
        ring_ = ring_ptr(ring.release());
    }

    file open(const std::string& name, std::error_code& ec) { return dir_.open(name, ec); }
    std::uint64_t size(const file& f) const noexcept { return dir_.size(f); }

    /// One submission: the write, plus a linked fdatasync when `sync`. Short writes are resubmitted.
    std::error_code append(file& f, std::uint64_t pos, bytes_view data, bool sync) {
        std::size_t done = 0;
        while (done < data.size()) {
            ::io_uring_sqe* w = ::io_uring_get_sqe(ring_.get());
            ::io_uring_prep_write(w, f.fd(), data.data() + done, static_cast<unsigned>(data.size() - done), pos + done);
            ::io_uring_sqe_set_data64(w, write_tag);
            unsigned n = 1;
            if (sync) {
                w->flags |= IOSQE_IO_LINK;
                ::io_uring_sqe* s = ::io_uring_get_sqe(ring_.get());
                ::io_uring_prep_fsync(s, f.fd(), IORING_FSYNC_DATASYNC);
                ::io_uring_sqe_set_data64(s, sync_tag);
                n = 2;
            }
            std::int32_t wrote = 0, synced = 0;
            if (auto ec = submit_and_reap(n, wrote, synced)) return ec;
            if (wrote < 0) return detail::errno_code(-wrote);
            if (wrote == 0) return make_error_code(local_error::io_error);
            done += static_cast<std::size_t>(wrote);
            if (done == data.size()) {
                if (sync && synced < 0) return detail::errno_code(-synced);
                return {};
            }
            // A short write breaks the link (the sync is cancelled): go round with the rest.
        }
        return {};
    }

    std::error_code sync(file& f) {
        ::io_uring_sqe* s = ::io_uring_get_sqe(ring_.get());
        ::io_uring_prep_fsync(s, f.fd(), IORING_FSYNC_DATASYNC);
        ::io_uring_sqe_set_data64(s, sync_tag);
        std::int32_t wrote = 0, synced = 0;
        if (auto ec = submit_and_reap(1, wrote, synced)) return ec;
        return synced < 0 ? detail::errno_code(-synced) : std::error_code{};
    }

    /// The ring belongs to the appending thread, so a sync from another thread (the broker's
    /// flusher, beside appends) is a plain fdatasync: the bytes are in the same page cache.
    std::error_code sync_upto(file& f, std::uint64_t /*size*/) noexcept { return detail::posix_dir::datasync(f); }

    std::error_code truncate(file& f, std::uint64_t size) noexcept { return detail::posix_dir::truncate(f, size); }
    bytes_view read(const file& f, std::uint64_t pos, std::size_t len, byte_buffer& scratch,
                    std::error_code& ec) const {
        return detail::posix_dir::read(f, pos, len, scratch, ec);
    }
    void slices(const file& f, std::uint64_t pos, std::size_t len, std::vector<slice>& out) const {
        detail::posix_dir::slices(f, pos, len, out);
    }
    std::error_code remove(const std::string& name) { return dir_.remove(name); }
    std::vector<std::string> list(std::error_code& ec) const { return dir_.list(ec); }
    std::error_code write_file(const std::string& name, bytes_view data) { return dir_.write_file(name, data); }
    std::error_code rename(const std::string& from, const std::string& to) { return dir_.rename(from, to); }
    std::error_code read_file(const std::string& name, byte_buffer& out) const { return dir_.read_file(name, out); }

private:
    static constexpr std::uint64_t write_tag = 1;
    static constexpr std::uint64_t sync_tag = 2;

    // Owns an initialised ring; movable, so the backend is.
    struct ring_ptr {
        ::io_uring* p = nullptr;
        ring_ptr() noexcept = default;
        explicit ring_ptr(::io_uring* r) noexcept : p(r) {}
        ring_ptr(ring_ptr&& o) noexcept : p(std::exchange(o.p, nullptr)) {}
        ring_ptr& operator=(ring_ptr&& o) noexcept {
            std::swap(p, o.p);
            return *this;
        }
        ~ring_ptr() { reset(); }
        void reset() noexcept {
            if (p) {
                ::io_uring_queue_exit(p);
                delete p;
            }
            p = nullptr;
        }
        [[nodiscard]] ::io_uring* get() const noexcept { return p; }
    };

    std::error_code submit_and_reap(unsigned n, std::int32_t& wrote, std::int32_t& synced) {
        int r = ::io_uring_submit_and_wait(ring_.get(), n);
        while (r == -EINTR) r = ::io_uring_submit_and_wait(ring_.get(), 0);
        if (r < 0) return detail::errno_code(-r);
        for (unsigned i = 0; i < n; ++i) {
            ::io_uring_cqe* cqe = nullptr;
            int w = ::io_uring_wait_cqe(ring_.get(), &cqe);
            while (w == -EINTR) w = ::io_uring_wait_cqe(ring_.get(), &cqe);
            if (w < 0) return detail::errno_code(-w);
            (::io_uring_cqe_get_data64(cqe) == write_tag ? wrote : synced) = cqe->res;
            ::io_uring_cqe_seen(ring_.get(), cqe);
        }
        return {};
    }

    detail::posix_dir dir_;
    ring_ptr ring_;
};

} // namespace gregor::storage

#endif // GREGOR_HAS_URING
