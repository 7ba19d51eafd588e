// A storage backend decorator that simulates power loss, so flush guarantees and recovery are
// tested deterministically:
//
//   auto ctl = std::make_shared<gregor::testing::crash_controller>(seed);
//   using backend = gregor::testing::crashy_storage<gregor::storage::file_backend>;
//   {
//       gregor::storage::log<backend, gregor::flush::every_append> l{dir, cfg, {.controller = ctl}};
//       l.append(batch);
//       ctl->power_loss(gregor::testing::crash_mode::torn_prefix);
//   }   // the log's close() now fails like every other write: the machine is off
//   gregor::storage::log<backend, gregor::flush::every_append> again{dir, cfg, {.controller = ctl}};
//
// The controller remembers, per file, how many bytes were made durable (sync, a synced append,
// write_file). power_loss() switches every existing crashy backend off: from then on their writes,
// syncs, truncations and removals fail with local_error::io_error and change nothing. The next
// crashy backend constructed on a directory first "boots" it: each file there is cut back to its
// durable length, or to that plus a random prefix of the bytes written after it
// (crash_mode::torn_prefix, a torn write). Creating files, write_file and remove are durable when
// they return, as the real backends make them. fail_io() makes writes and syncs fail without a
// crash, for error-path tests. power_loss_at_file_write(n) cuts the power during the n-th
// write_file from then on (the file keeps its previous contents, as an interrupted
// temporary-and-rename leaves it), so a test can crash at every durable metadata write in turn.
// hold_file_writes() makes write_file wait (as a slow disk would) until released, so a test can
// check what goes on while a metadata write is in progress.
//
// The inner backend must persist across instances: file backends do; give memory_backend a shared
// memory_store in `options::inner`.
//
// Thread-safety: crash_controller is thread-safe; a crashy_storage serves one log like any backend.
#pragma once

#include <gregor/core/error.hpp>
#include <gregor/storage/backend.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <system_error>
#include <vector>

namespace gregor::testing {

enum class crash_mode {
    lose_unsynced, // every file keeps exactly its durable bytes
    torn_prefix,   // every file keeps its durable bytes plus a random prefix of the rest
};

class crash_controller {
public:
    explicit crash_controller(std::uint64_t seed = 1) : rng_(seed) {}

    /// Power fails now: existing backends stop writing; the next backend to open a directory sees
    /// its files cut back as `mode` says.
    void power_loss(crash_mode mode = crash_mode::lose_unsynced) {
        std::lock_guard lk(mu_);
        ++generation_;
        for (auto& [path, f] : files_) {
            std::uint64_t keep = f.synced;
            if (mode == crash_mode::torn_prefix && f.size > f.synced)
                keep += std::uniform_int_distribution<std::uint64_t>(0, f.size - f.synced)(rng_);
            f.after_boot = keep;
            f.pending = true;
        }
        ++crashes_;
    }
    /// While on, writes and syncs fail with local_error::io_error (nothing is lost).
    void fail_io(bool on) {
        std::lock_guard lk(mu_);
        fail_io_ = on;
    }
    /// Bytes of `path` known to be durable.
    [[nodiscard]] std::uint64_t durable_size(const std::filesystem::path& path) const {
        std::lock_guard lk(mu_);
        const auto it = files_.find(path.lexically_normal().string());
        return it == files_.end() ? 0 : it->second.synced;
    }
    [[nodiscard]] std::size_t syncs() const {
        std::lock_guard lk(mu_);
        return syncs_;
    }
    [[nodiscard]] std::size_t crashes() const {
        std::lock_guard lk(mu_);
        return crashes_;
    }

    // ---- used by crashy_storage ----
    struct file_state {
        std::uint64_t size = 0;       // bytes written
        std::uint64_t synced = 0;     // bytes durable
        std::uint64_t after_boot = 0; // length after the pending power loss
        bool pending = false;
    };
    [[nodiscard]] std::uint64_t generation() const {
        std::lock_guard lk(mu_);
        return generation_;
    }
    /// The `n`-th write_file from now (1 = the next one) fails with the power: nothing of it is
    /// written and power_loss(lose_unsynced) happens. 0 disarms.
    void power_loss_at_file_write(std::size_t n) {
        std::lock_guard lk(mu_);
        file_writes_until_crash_ = n;
    }
    /// write_file calls that went through so far (to learn how many a scenario makes).
    [[nodiscard]] std::size_t file_writes() const {
        std::lock_guard lk(mu_);
        return file_writes_;
    }
    /// While held, write_file calls wait before writing; releasing lets them all go on.
    void hold_file_writes(bool on) {
        {
            std::lock_guard lk(mu_);
            hold_ = on;
        }
        hold_cv_.notify_all();
    }
    /// Waits (at most `timeout`) until `n` write_file calls are waiting on the hold.
    bool wait_for_held_writes(std::size_t n, std::chrono::milliseconds timeout) {
        std::unique_lock lk(mu_);
        return hold_cv_.wait_for(lk, timeout, [&] { return held_ >= n; });
    }
    /// Called by write_file: waits while writes are held.
    void pass_hold() {
        std::unique_lock lk(mu_);
        if (!hold_) return;
        ++held_;
        hold_cv_.notify_all();
        hold_cv_.wait(lk, [&] { return !hold_; });
        --held_;
    }

    /// Counts one write_file; false when this one is the armed crash (the power is now off).
    bool count_file_write() {
        {
            std::lock_guard lk(mu_);
            if (file_writes_until_crash_ == 0 || --file_writes_until_crash_ != 0) {
                ++file_writes_;
                return true;
            }
        }
        power_loss(crash_mode::lose_unsynced);
        return false;
    }

    /// Whether a backend created in `gen` may still write (powered, and not failing on purpose).
    [[nodiscard]] bool writable(std::uint64_t gen) const {
        std::lock_guard lk(mu_);
        return gen == generation_ && !fail_io_;
    }
    /// The files under `dir` that a power loss left to be cut, with their lengths; clears them.
    std::vector<std::pair<std::string, std::uint64_t>> take_pending(const std::string& dir) {
        std::lock_guard lk(mu_);
        std::vector<std::pair<std::string, std::uint64_t>> out;
        for (auto& [path, f] : files_) {
            if (!f.pending || std::filesystem::path(path).parent_path().string() != dir) continue;
            out.emplace_back(std::filesystem::path(path).filename().string(), f.after_boot);
            f.pending = false;
            f.size = f.synced = f.after_boot;
        }
        return out;
    }
    template <typename Fn>
    void update(const std::string& path, Fn&& fn) {
        std::lock_guard lk(mu_);
        fn(files_[path]);
    }
    void forget(const std::string& path) {
        std::lock_guard lk(mu_);
        files_.erase(path);
    }
    void move(const std::string& from, const std::string& to) {
        std::lock_guard lk(mu_);
        file_state st;
        if (const auto it = files_.find(from); it != files_.end()) {
            st = it->second;
            files_.erase(it);
        }
        files_[to] = st;
    }
    void count_sync() {
        std::lock_guard lk(mu_);
        ++syncs_;
    }

private:
    mutable std::mutex mu_;
    std::condition_variable hold_cv_;
    bool hold_ = false;
    std::size_t held_ = 0;
    std::map<std::string, file_state> files_;
    std::mt19937_64 rng_;
    std::uint64_t generation_ = 0;
    std::size_t syncs_ = 0;
    std::size_t crashes_ = 0;
    bool fail_io_ = false;
    std::size_t file_writes_ = 0;
    std::size_t file_writes_until_crash_ = 0;
};

template <storage::storage_backend Inner>
class crashy_storage {
public:
    struct options {
        typename Inner::options inner{};
        std::shared_ptr<crash_controller> controller; // null: a private one (never crashes)
    };
    struct file {
        typename Inner::file inner{};
        std::string path;
    };
    static constexpr bool persistent = Inner::persistent;
    static constexpr const char* name = "crashy";

    crashy_storage(const std::filesystem::path& dir, const options& o)
            : dir_(dir.lexically_normal().string()),
              ctl_(o.controller ? o.controller : std::make_shared<crash_controller>()), inner_(dir, o.inner),
              generation_(ctl_->generation()) {
        while (dir_.size() > 1 && dir_.back() == '/') dir_.pop_back();
        // Power is back: the files lose what never reached the disk.
        for (const auto& [name, keep] : ctl_->take_pending(dir_)) {
            std::error_code ec;
            auto f = inner_.open(name, ec);
            if (ec) throw std::system_error(ec, "crashy_storage: cannot reopen " + name);
            if (inner_.size(f) > keep) {
                if (auto e = inner_.truncate(f, keep)) throw std::system_error(e, "crashy_storage: cannot cut " + name);
                (void)inner_.sync(f);
            }
        }
    }

    file open(const std::string& name, std::error_code& ec) {
        file f{inner_.open(name, ec), path(name)};
        if (ec) return f;
        const auto size = inner_.size(f.inner);
        ctl_->update(f.path, [&](crash_controller::file_state& s) {
            // A file seen for the first time is durable as found; one re-opened keeps its record.
            if (s.size != size) s.size = s.synced = size;
        });
        return f;
    }
    std::uint64_t size(const file& f) const { return inner_.size(f.inner); }
    std::error_code append(file& f, std::uint64_t pos, bytes_view data, bool sync) {
        if (!ctl_->writable(generation_)) return make_error_code(local_error::io_error);
        if (auto ec = inner_.append(f.inner, pos, data, sync)) return ec;
        if (sync) ctl_->count_sync();
        ctl_->update(f.path, [&](crash_controller::file_state& s) {
            s.synced = std::min(s.synced, pos); // overwritten bytes are no longer known durable
            s.size = pos + data.size();
            if (sync) s.synced = s.size;
        });
        return {};
    }
    std::error_code sync(file& f) {
        if (!ctl_->writable(generation_)) return make_error_code(local_error::io_error);
        if (auto ec = inner_.sync(f.inner)) return ec;
        ctl_->count_sync();
        ctl_->update(f.path, [](crash_controller::file_state& s) { s.synced = s.size; });
        return {};
    }
    /// A sync that runs beside appends (the broker's flusher): only the first `size` bytes, those
    /// written before it started, count as durable.
    std::error_code sync_upto(file& f, std::uint64_t size) requires requires(Inner& i, typename Inner::file& fi) {
        i.sync_upto(fi, size);
    }
    {
        if (!ctl_->writable(generation_)) return make_error_code(local_error::io_error);
        if (auto ec = inner_.sync_upto(f.inner, size)) return ec;
        ctl_->count_sync();
        ctl_->update(
            f.path, [size](crash_controller::file_state& s) { s.synced = std::max(s.synced, std::min(size, s.size)); });
        return {};
    }
    std::error_code truncate(file& f, std::uint64_t size) {
        if (!ctl_->writable(generation_)) return make_error_code(local_error::io_error);
        if (auto ec = inner_.truncate(f.inner, size)) return ec;
        ctl_->update(f.path, [&](crash_controller::file_state& s) {
            s.size = std::min(s.size, size);
            s.synced = std::min(s.synced, size);
        });
        return {};
    }
    bytes_view read(const file& f, std::uint64_t pos, std::size_t len, byte_buffer& scratch,
                    std::error_code& ec) const {
        return inner_.read(f.inner, pos, len, scratch, ec);
    }
    void slices(const file& f, std::uint64_t pos, std::size_t len, std::vector<storage::slice>& out) const {
        inner_.slices(f.inner, pos, len, out);
    }
    std::error_code remove(const std::string& name) {
        if (!ctl_->writable(generation_)) return make_error_code(local_error::io_error);
        if (auto ec = inner_.remove(name)) return ec;
        ctl_->forget(path(name));
        return {};
    }
    std::vector<std::string> list(std::error_code& ec) const { return inner_.list(ec); }
    std::error_code write_file(const std::string& name, bytes_view data) {
        ctl_->pass_hold();
        if (!ctl_->writable(generation_) || !ctl_->count_file_write()) return make_error_code(local_error::io_error);
        if (auto ec = inner_.write_file(name, data)) return ec;
        ctl_->update(path(name), [&](crash_controller::file_state& s) { s.size = s.synced = data.size(); });
        return {};
    }
    std::error_code read_file(const std::string& name, byte_buffer& out) const { return inner_.read_file(name, out); }
    /// Durable when it returns, as the real backends make it; the file keeps its durable length.
    std::error_code rename(const std::string& from, const std::string& to) requires requires(Inner& i) {
        i.rename(from, to);
    }
    {
        if (!ctl_->writable(generation_)) return make_error_code(local_error::io_error);
        if (auto ec = inner_.rename(from, to)) return ec;
        ctl_->move(path(from), path(to));
        return {};
    }

    [[nodiscard]] Inner& inner() noexcept { return inner_; }

private:
    [[nodiscard]] std::string path(const std::string& name) const { return dir_ + "/" + name; }

    std::string dir_;
    std::shared_ptr<crash_controller> ctl_;
    Inner inner_;
    std::uint64_t generation_;
};

} // namespace gregor::testing
