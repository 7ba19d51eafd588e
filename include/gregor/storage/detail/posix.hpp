// POSIX file plumbing shared by the file and io_uring backends: one directory per log, files
// addressed by name, positional writes, atomic whole-file replacement, directory fsync.
//
// Thread-safety: a posix_dir is used by one log at a time (the log is serialised by its owner);
// the fd_handle a slice keeps alive may be read from any thread.
#pragma once

#include <gregor/core/buffer.hpp>
#include <gregor/core/error.hpp>
#include <gregor/storage/read_result.hpp>

#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace gregor::storage::detail {

inline std::error_code errno_code(int e) noexcept { return {e, std::system_category()}; }

/// An open file descriptor, closed when the last owner (segment or slice) lets go.
class fd_handle {
public:
    explicit fd_handle(int fd) noexcept : fd_(fd) {}
    fd_handle(const fd_handle&) = delete;
    fd_handle& operator=(const fd_handle&) = delete;
    ~fd_handle() {
        if (fd_ >= 0) ::close(fd_);
    }
    [[nodiscard]] int get() const noexcept { return fd_; }

private:
    int fd_;
};

/// A file of a posix_dir; copies share the descriptor.
struct posix_file {
    std::shared_ptr<fd_handle> handle;
    [[nodiscard]] int fd() const noexcept { return handle ? handle->get() : -1; }
    explicit operator bool() const noexcept { return handle != nullptr; }
};

class posix_dir {
public:
    /// Creates the directory if needed; throws std::system_error naming it if that fails.
    explicit posix_dir(std::filesystem::path dir) : dir_(std::move(dir)) {
        std::error_code ec;
        std::filesystem::create_directories(dir_, ec);
        if (ec) throw std::system_error(ec, "gregor::storage: cannot create log directory " + dir_.string());
        const int fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
            throw std::system_error(errno_code(errno), "gregor::storage: cannot open log directory " + dir_.string());
        dir_fd_ = std::make_shared<fd_handle>(fd);
    }

    [[nodiscard]] const std::filesystem::path& path() const noexcept { return dir_; }

    /// Opens `name`, creating it (and making the creation durable) if it does not exist.
    posix_file open(const std::string& name, std::error_code& ec) {
        ec.clear();
        const auto p = dir_ / name;
        bool created = true;
        int fd = ::open(p.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0 && errno == EEXIST) {
            created = false;
            fd = ::open(p.c_str(), O_RDWR | O_CLOEXEC);
        }
        if (fd < 0) {
            ec = errno_code(errno);
            return {};
        }
        posix_file f{std::make_shared<fd_handle>(fd)};
        if (created) ec = sync_dir();
        return f;
    }

    std::uint64_t size(const posix_file& f) const noexcept {
        struct stat st {};
        if (::fstat(f.fd(), &st) != 0) return 0;
        return static_cast<std::uint64_t>(st.st_size);
    }

    static std::error_code pwrite_all(int fd, std::uint64_t pos, bytes_view data) noexcept {
        std::size_t done = 0;
        while (done < data.size()) {
            const auto n = ::pwrite(fd, data.data() + done, data.size() - done, static_cast<off_t>(pos + done));
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) return errno_code(errno);
            if (n == 0) return make_error_code(local_error::io_error);
            done += static_cast<std::size_t>(n);
        }
        return {};
    }

    static std::error_code datasync(int fd) noexcept {
        while (::fdatasync(fd) != 0) {
            if (errno != EINTR) return errno_code(errno);
        }
        return {};
    }
    static std::error_code datasync(const posix_file& f) noexcept { return datasync(f.fd()); }

    static std::error_code truncate(const posix_file& f, std::uint64_t size) noexcept {
        while (::ftruncate(f.fd(), static_cast<off_t>(size)) != 0) {
            if (errno != EINTR) return errno_code(errno);
        }
        return {};
    }

    /// Reads up to `len` bytes at `pos` into `scratch`; fewer at the end of the file.
    static bytes_view read(const posix_file& f, std::uint64_t pos, std::size_t len, byte_buffer& scratch,
                           std::error_code& ec) {
        ec.clear();
        scratch.resize(len);
        std::size_t done = 0;
        while (done < len) {
            const auto n = ::pread(f.fd(), scratch.data() + done, len - done, static_cast<off_t>(pos + done));
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) {
                ec = errno_code(errno);
                break;
            }
            if (n == 0) break;
            done += static_cast<std::size_t>(n);
        }
        return {scratch.data(), done};
    }

    static void slices(const posix_file& f, std::uint64_t pos, std::size_t len, std::vector<slice>& out) {
        if (len == 0) return;
        slice s;
        s.fd = f.fd();
        s.file_position = pos;
        s.length = len;
        s.keepalive = f.handle;
        out.push_back(std::move(s));
    }

    /// Unlinks `name` (absent is fine) and makes that durable.
    std::error_code remove(const std::string& name) {
        if (::unlink((dir_ / name).c_str()) != 0) {
            if (errno == ENOENT) return {};
            return errno_code(errno);
        }
        return sync_dir();
    }

    std::vector<std::string> list(std::error_code& ec) const {
        ec.clear();
        std::vector<std::string> names;
        DIR* d = ::opendir(dir_.c_str());
        if (!d) {
            ec = errno_code(errno);
            return names;
        }
        while (const dirent* e = ::readdir(d)) {
            const std::string n = e->d_name;
            if (n != "." && n != "..") names.push_back(n);
        }
        ::closedir(d);
        return names;
    }

    /// Renames `from` over `to` atomically and makes that durable (the compactor's swap).
    std::error_code rename(const std::string& from, const std::string& to) {
        if (::rename((dir_ / from).c_str(), (dir_ / to).c_str()) != 0) return errno_code(errno);
        return sync_dir();
    }

    /// Replaces `name` atomically and durably: write a temporary, fsync, rename, fsync the directory.
    std::error_code write_file(const std::string& name, bytes_view data) {
        if (data.empty()) { // nothing to tear: create or empty it in place, then make the name durable
            const int fd = ::open((dir_ / name).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
            if (fd < 0) return errno_code(errno);
            ::close(fd);
            return sync_dir();
        }
        const auto tmp = dir_ / (name + ".tmp");
        const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) return errno_code(errno);
        const fd_handle guard(fd);
        if (auto ec = pwrite_all(fd, 0, data)) return ec;
        if (auto ec = datasync(fd)) return ec;
        if (::rename(tmp.c_str(), (dir_ / name).c_str()) != 0) return errno_code(errno);
        return sync_dir();
    }

    /// Reads the whole of `name` into `out`; no_such_file_or_directory if it does not exist.
    std::error_code read_file(const std::string& name, byte_buffer& out) const {
        out.clear();
        const int fd = ::open((dir_ / name).c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) return errno_code(errno);
        const posix_file f{std::make_shared<fd_handle>(fd)};
        std::error_code ec;
        const auto n = size(f);
        const auto v = read(f, 0, static_cast<std::size_t>(n), out, ec);
        out.resize(v.size());
        return ec;
    }

    std::error_code sync_dir() const noexcept {
        while (::fsync(dir_fd_->get()) != 0) {
            if (errno != EINTR) return errno_code(errno);
        }
        return {};
    }

private:
    std::filesystem::path dir_;
    std::shared_ptr<fd_handle> dir_fd_;
};

} // namespace gregor::storage::detail
