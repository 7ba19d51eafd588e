// The file backend, Kafka's model: appends are pwrite() into the page cache at the segment's end,
// and the flush policy decides when fdatasync() makes them durable. Reads hand out file ranges
// (fd, position, length) that a transport can sendfile()/splice() without copying; the fd stays open
// while a read holds it, even after retention deleted the segment.
//
// Thread-safety: one log uses a file_backend at a time (the log's owner serialises calls); the
// ranges a read hands out may be read from any thread.
#pragma once

#include <gregor/storage/detail/posix.hpp>

#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

namespace gregor::storage {

class file_backend {
public:
    struct options {};
    using file = detail::posix_file;
    static constexpr bool persistent = true;
    static constexpr const char* name = "file";

    explicit file_backend(const std::filesystem::path& dir, const options& = {}) : dir_(dir) {}

    file open(const std::string& name, std::error_code& ec) { return dir_.open(name, ec); }
    std::uint64_t size(const file& f) const noexcept { return dir_.size(f); }
    std::error_code append(file& f, std::uint64_t pos, bytes_view data, bool sync) {
        if (auto ec = detail::posix_dir::pwrite_all(f.fd(), pos, data)) return ec;
        return sync ? detail::posix_dir::datasync(f) : std::error_code{};
    }
    std::error_code sync(file& f) noexcept { return detail::posix_dir::datasync(f); }
    /// sync() that may run on another thread beside appends (fdatasync on a shared fd).
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
    detail::posix_dir dir_;
};

} // namespace gregor::storage
