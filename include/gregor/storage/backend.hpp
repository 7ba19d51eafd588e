// The storage backend policy of storage::log: how a log directory's files are written, synced,
// read and handed to a transport. Three stock backends (included here, so naming one needs only
// this header): memory_backend (in memory; views), file_backend (pwrite into the page cache,
// fdatasync on flush; file ranges), uring_backend (the same files through io_uring, built when
// GREGOR_HAS_URING). default_backend is the on-disk backend that measured fastest here (see
// docs/storage.md); memory_backend stays the embedded default of the broker.
//
// The durability contract a backend keeps, which recovery relies on:
//   * append(f, pos, bytes, sync) writes `bytes` at `pos` (always the file's current end, or a
//     position at or below it after a failed write, in which case what followed is discarded).
//     With sync = true the bytes are durable when it returns; otherwise only after sync(f).
//   * One append is never split across the pieces a backend may store a file in, so read() may
//     return fewer bytes than asked only at the end of the file or at the end of such a piece,
//     which is always a batch boundary.
//   * write_file() replaces a whole file atomically and durably (temporary + fsync + rename +
//     directory fsync); remove() and creating a file in open() are durable when they return.
//   * Bytes covered by a slice (read result) are never rewritten in place, except by truncate().
//   * Optional, for log compaction (renaming_backend): rename(from, to) replaces `to` atomically
//     and durably; handles open on the old `to` keep reading its old bytes. The four stock
//     backends have it; a log over a backend without it simply does not compact.
//
// Thread-safety: a backend instance serves one log and is called under that log's serialisation.
#pragma once

#include <gregor/config.hpp>
#include <gregor/core/buffer.hpp>
#include <gregor/storage/read_result.hpp>

#include <concepts>
#include <cstdint>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

namespace gregor::storage {

template <typename B>
concept storage_backend = std::default_initializable<typename B::options> &&
    std::copy_constructible<typename B::file> &&
    std::constructible_from<B, const std::filesystem::path&, const typename B::options&> &&
    requires(B& b, const B& cb, typename B::file& f, const typename B::file& cf, const std::string& name,
             bytes_view data, std::uint64_t pos, std::size_t len, byte_buffer& scratch, std::error_code& ec,
             std::vector<slice>& out) {
    { B::persistent } -> std::convertible_to<bool>;         // data outlives the process
    { b.open(name, ec) } -> std::same_as<typename B::file>; // open, creating if missing
    { cb.size(cf) } -> std::same_as<std::uint64_t>;
    { b.append(f, pos, data, true) } -> std::same_as<std::error_code>;
    { b.sync(f) } -> std::same_as<std::error_code>;
    { b.truncate(f, pos) } -> std::same_as<std::error_code>;
    { cb.read(cf, pos, len, scratch, ec) } -> std::same_as<bytes_view>; // into scratch, or a direct view
    cb.slices(cf, pos, len, out);                                       // zero-copy pieces of a range
    { b.remove(name) } -> std::same_as<std::error_code>;
    { cb.list(ec) } -> std::same_as<std::vector<std::string>>;
    { b.write_file(name, data) } -> std::same_as<std::error_code>;
    { cb.read_file(name, scratch) } -> std::same_as<std::error_code>;
};

/// A backend that can also swap a file in by name (what the log cleaner needs).
template <typename B>
concept renaming_backend = storage_backend<B> && requires(B& b, const std::string& name) {
    { b.rename(name, name) } -> std::same_as<std::error_code>;
};

} // namespace gregor::storage

#include <gregor/storage/backends/file.hpp>
#include <gregor/storage/backends/memory.hpp>
#include <gregor/storage/backends/uring.hpp>

namespace gregor::storage {

static_assert(storage_backend<memory_backend>);
static_assert(storage_backend<file_backend>);
static_assert(renaming_backend<memory_backend> && renaming_backend<file_backend>);
#if GREGOR_HAS_URING
static_assert(storage_backend<uring_backend>);
#endif

/// The on-disk backend to use when you have no reason to choose: the faster of file and uring on
/// the machine this was measured on (bench/storage_bench.cpp, docs/storage.md).
using default_backend = file_backend;

} // namespace gregor::storage
