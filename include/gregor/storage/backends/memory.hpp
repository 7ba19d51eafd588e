// The memory backend: segment "files" live in memory, for the embedded broker and for tests.
//
// A file is a list of chunks. Each append lands whole in one chunk (a batch never straddles two),
// a chunk is never reallocated, and bytes a reader may hold are never rewritten: a truncate freezes
// the chunk it cuts, so later appends start a fresh one. A read therefore hands out views into the
// chunks, kept alive by a shared pointer, that stay valid while appends, rolls, truncation and
// retention go on. Chunks grow geometrically from 64 KiB to `options::max_chunk_bytes` (or the
// batch size, if larger), so a small log stays small and a large one costs one allocation per
// chunk and no copy on growth.
//
// Files are kept in a memory_store keyed by path. By default every backend gets its own store and
// data disappears with the log; pass one shared store in the options to keep data across log
// instances (a process-local "disk": reopen, recovery and crash tests run on it as on real files).
//
// Thread-safety: memory_store is thread-safe. A memory_backend and its files are used by one log at
// a time (the log's owner serialises calls); the views a read hands out may be read from any thread.
#pragma once

#include <gregor/core/buffer.hpp>
#include <gregor/core/error.hpp>
#include <gregor/storage/read_result.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <vector>

#include <sys/mman.h>

namespace gregor::storage {

namespace detail {

class memory_file {
public:
    explicit memory_file(std::size_t max_chunk) noexcept : max_chunk_(std::max<std::size_t>(max_chunk, 4096)) {}

    [[nodiscard]] std::uint64_t size() const noexcept { return size_; }

    /// Writes `data` at `pos` (<= size); anything at or after `pos` is dropped first.
    std::error_code write(std::uint64_t pos, bytes_view data) {
        if (pos > size_) return make_error_code(local_error::invalid_argument);
        if (pos < size_) truncate(pos);
        if (data.empty()) return {};
        if (chunks_.empty() || chunks_.back().frozen || chunks_.back().capacity - chunks_.back().used < data.size()) {
            const std::size_t last = chunks_.empty() ? 0 : chunks_.back().capacity;
            std::size_t cap = std::min(max_chunk_, std::max<std::size_t>(64 * 1024, last * 2));
            cap = std::max(cap, data.size());
            if (!chunks_.empty()) chunks_.back().frozen = true;
            auto mem = allocate(cap); // may round cap up
            chunks_.push_back(chunk{size_, 0, cap, std::move(mem), false});
        }
        auto& c = chunks_.back();
        std::memcpy(c.data.get() + c.used, data.data(), data.size());
        c.used += data.size();
        size_ += data.size();
        return {};
    }

    void truncate(std::uint64_t n) {
        if (n >= size_) return;
        while (!chunks_.empty() && chunks_.back().start >= n) chunks_.pop_back();
        if (!chunks_.empty()) {
            auto& c = chunks_.back();
            c.used = static_cast<std::size_t>(n - c.start);
            c.frozen = true; // readers may still hold views past the cut: never write there again
        }
        size_ = n;
    }

    /// Up to `len` bytes at `pos`, as a view into one chunk (shorter at a chunk's end).
    [[nodiscard]] bytes_view view(std::uint64_t pos, std::size_t len) const noexcept {
        const auto* c = find(pos);
        if (!c) return {};
        const auto off = static_cast<std::size_t>(pos - c->start);
        return {c->data.get() + off, std::min(len, c->used - off)};
    }

    void slices(std::uint64_t pos, std::size_t len, std::vector<slice>& out) const {
        while (len > 0) {
            const auto* c = find(pos);
            if (!c) return;
            const auto off = static_cast<std::size_t>(pos - c->start);
            const auto n = std::min(len, c->used - off);
            slice s;
            s.bytes = bytes_view{c->data.get() + off, n};
            s.length = n;
            s.keepalive = std::shared_ptr<const void>(c->data, c->data.get());
            out.push_back(std::move(s));
            pos += n;
            len -= n;
        }
    }

    /// Test hook: the stored bytes at `pos`, writable in place (for corruption tests).
    [[nodiscard]] std::byte* raw(std::uint64_t pos) noexcept {
        const auto* c = find(pos);
        return c ? c->data.get() + (pos - c->start) : nullptr;
    }

private:
    static constexpr std::size_t huge_page = 2u << 20;

    /// Chunk memory. Large chunks are mapped 2 MiB-aligned and marked for transparent huge pages:
    /// filling fresh memory is dominated by page faults, and huge pages take 512 times fewer.
    static std::shared_ptr<std::byte[]> allocate(std::size_t& cap) {
        if (cap >= huge_page) {
            cap = (cap + huge_page - 1) / huge_page * huge_page;
            const std::size_t span = cap + huge_page;
            void* p = ::mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
            if (p != MAP_FAILED) {
                auto* base = static_cast<std::byte*>(p);
                const auto addr = reinterpret_cast<std::uintptr_t>(base);
                auto* aligned = reinterpret_cast<std::byte*>((addr + huge_page - 1) / huge_page * huge_page);
                if (aligned > base) ::munmap(base, static_cast<std::size_t>(aligned - base));
                if (const auto tail = base + span - (aligned + cap); tail > 0)
                    ::munmap(aligned + cap, static_cast<std::size_t>(tail));
#ifdef MADV_HUGEPAGE
                ::madvise(aligned, cap, MADV_HUGEPAGE);
#endif
                return std::shared_ptr<std::byte[]>(aligned, [cap](std::byte* q) { ::munmap(q, cap); });
            }
        }
        return std::shared_ptr<std::byte[]>(new std::byte[cap]);
    }

    struct chunk {
        std::uint64_t start; // file position of the chunk's first byte
        std::size_t used;
        std::size_t capacity;
        std::shared_ptr<std::byte[]> data;
        bool frozen;
    };

    [[nodiscard]] const chunk* find(std::uint64_t pos) const noexcept {
        if (pos >= size_) return nullptr;
        auto it = std::upper_bound(chunks_.begin(), chunks_.end(), pos,
                                   [](std::uint64_t p, const chunk& c) { return p < c.start; });
        if (it == chunks_.begin()) return nullptr;
        --it;
        return pos - it->start < it->used ? &*it : nullptr;
    }

    std::vector<chunk> chunks_;
    std::uint64_t size_ = 0;
    std::size_t max_chunk_;
};

} // namespace detail

/// Files in memory, by path. Share one between backends to keep data across log instances.
class memory_store {
public:
    std::shared_ptr<detail::memory_file> open(const std::string& path, std::size_t max_chunk) {
        std::lock_guard lk(mu_);
        auto& f = files_[path];
        if (!f) f = std::make_shared<detail::memory_file>(max_chunk);
        return f;
    }
    std::shared_ptr<detail::memory_file> find(const std::string& path) const {
        std::lock_guard lk(mu_);
        const auto it = files_.find(path);
        return it == files_.end() ? nullptr : it->second;
    }
    void replace(const std::string& path, std::shared_ptr<detail::memory_file> f) {
        std::lock_guard lk(mu_);
        files_[path] = std::move(f);
    }
    void remove(const std::string& path) {
        std::lock_guard lk(mu_);
        files_.erase(path);
    }
    bool rename(const std::string& from, const std::string& to) {
        std::lock_guard lk(mu_);
        const auto it = files_.find(from);
        if (it == files_.end()) return false;
        auto f = std::move(it->second);
        files_.erase(it);
        files_[to] = std::move(f);
        return true;
    }
    /// Names of the files directly inside `dir`.
    std::vector<std::string> list(const std::string& dir) const {
        std::lock_guard lk(mu_);
        std::vector<std::string> out;
        const std::string prefix = dir + "/";
        for (auto it = files_.lower_bound(prefix);
             it != files_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
            const auto rest = it->first.substr(prefix.size());
            if (rest.find('/') == std::string::npos) out.push_back(rest);
        }
        return out;
    }

private:
    mutable std::mutex mu_;
    std::map<std::string, std::shared_ptr<detail::memory_file>> files_;
};

struct memory_backend_options {
    std::shared_ptr<memory_store> store;    // null: a private store that dies with the log
    std::size_t max_chunk_bytes = 8u << 20; // largest chunk (a bigger batch gets its own)
};

class memory_backend {
public:
    using options = memory_backend_options;
    using file = std::shared_ptr<detail::memory_file>;
    /// Nothing survives the process: recovery and clean shutdown only matter with a shared store.
    static constexpr bool persistent = false;
    static constexpr const char* name = "memory";

    explicit memory_backend(const std::filesystem::path& dir, const options& o = {})
            : dir_(dir.lexically_normal().string()), store_(o.store ? o.store : std::make_shared<memory_store>()),
              max_chunk_(o.max_chunk_bytes) {
        while (dir_.size() > 1 && dir_.back() == '/') dir_.pop_back();
    }

    file open(const std::string& name, std::error_code& ec) {
        ec.clear();
        return store_->open(key(name), max_chunk_);
    }
    std::uint64_t size(const file& f) const noexcept { return f->size(); }
    std::error_code append(file& f, std::uint64_t pos, bytes_view data, bool /*sync*/) { return f->write(pos, data); }
    std::error_code sync(file&) noexcept { return {}; }
    std::error_code sync_upto(file&, std::uint64_t) noexcept { return {}; }
    std::error_code truncate(file& f, std::uint64_t size) {
        f->truncate(size);
        return {};
    }
    bytes_view read(const file& f, std::uint64_t pos, std::size_t len, byte_buffer& /*scratch*/,
                    std::error_code& ec) const noexcept {
        ec.clear();
        return f->view(pos, len);
    }
    void slices(const file& f, std::uint64_t pos, std::size_t len, std::vector<slice>& out) const {
        f->slices(pos, len, out);
    }
    std::error_code remove(const std::string& name) {
        store_->remove(key(name));
        return {};
    }
    std::vector<std::string> list(std::error_code& ec) const {
        ec.clear();
        return store_->list(dir_);
    }
    std::error_code write_file(const std::string& name, bytes_view data) {
        auto f = std::make_shared<detail::memory_file>(std::max<std::size_t>(data.size(), 4096));
        if (auto ec = f->write(0, data)) return ec;
        store_->replace(key(name), std::move(f));
        return {};
    }
    /// Open handles keep the contents they had (as an open file descriptor keeps its inode).
    std::error_code rename(const std::string& from, const std::string& to) {
        if (!store_->rename(key(from), key(to))) return std::make_error_code(std::errc::no_such_file_or_directory);
        return {};
    }
    std::error_code read_file(const std::string& name, byte_buffer& out) const {
        out.clear();
        const auto f = store_->find(key(name));
        if (!f) return std::make_error_code(std::errc::no_such_file_or_directory);
        std::uint64_t pos = 0;
        while (pos < f->size()) {
            const auto v = f->view(pos, static_cast<std::size_t>(f->size() - pos));
            if (v.empty()) break;
            out.append(v);
            pos += v.size();
        }
        return {};
    }

    [[nodiscard]] const std::shared_ptr<memory_store>& store() const noexcept { return store_; }

private:
    [[nodiscard]] std::string key(const std::string& name) const { return dir_ + "/" + name; }

    std::string dir_;
    std::shared_ptr<memory_store> store_;
    std::size_t max_chunk_;
};

} // namespace gregor::storage
