// What a request handler gives back to the server: a `response` made of pieces (owned bytes,
// borrowed memory kept alive by a shared_ptr, or file ranges sent zero-copy), or `no_response`
// (Kafka acks=0 produce), or `close_connection`; and the `responder` through which it completes
// one request, later and from any thread. The server writes the 4-byte size prefix itself.
//
// Thread-safety: response and slice are plain values. A responder may be moved to and completed
// on any thread (once); completing it never blocks on the network.
//
// @par Example
// @code
//   void on_request(connection_id, bytes_view frame, responder r) {
//       net::response resp(encode_header(frame));          // byte_buffer, owned
//       for (const auto& s : log_slices) resp.append(s);    // storage::slice, zero-copy
//       r.complete(std::move(resp));                        // or r.complete(net::no_response)
//   }
// @endcode
#pragma once

#include <gregor/core/buffer.hpp>
#include <gregor/core/strong_types.hpp>

#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <utility>
#include <vector>

namespace gregor::net {

struct connection_id_tag {};
/// Identifies one accepted connection of a server; never reused while the server lives.
using connection_id = named_type<std::uint64_t, connection_id_tag>;

/// A borrowed byte range to send as is: memory (`bytes`) or, when `fd >= 0`, `length` bytes of a
/// file at `file_position`. `keepalive` holds whatever keeps the memory or the fd valid until the
/// bytes were sent. Same fields in the same order as gregor::storage::slice, so a storage read
/// converts with `net::slice{s.bytes, s.fd, s.file_position, s.length, s.keepalive}` or just
/// `response::append(s)`.
struct slice {
    bytes_view bytes;
    int fd = -1;
    std::uint64_t file_position = 0;
    std::size_t length = 0;
    std::shared_ptr<const void> keepalive;

    [[nodiscard]] bool is_file() const noexcept { return fd >= 0; }
    /// Bytes this slice puts on the wire.
    [[nodiscard]] std::size_t size() const noexcept { return is_file() ? length : bytes.size(); }
};

/// Any type with slice's fields (storage::slice among them), accepted without including it.
template <typename S>
concept slice_like = requires(const S& s) {
    { s.bytes } -> std::convertible_to<bytes_view>;
    { s.fd } -> std::convertible_to<int>;
    { s.file_position } -> std::convertible_to<std::uint64_t>;
    { s.length } -> std::convertible_to<std::size_t>;
    { s.keepalive } -> std::convertible_to<std::shared_ptr<const void>>;
};

template <slice_like S>
slice to_slice(const S& s) {
    return slice{bytes_view(s.bytes), static_cast<int>(s.fd), static_cast<std::uint64_t>(s.file_position),
                 static_cast<std::size_t>(s.length), std::shared_ptr<const void>(s.keepalive)};
}

namespace detail {
/// One unit of output: the size prefix (inline), owned bytes, borrowed memory or a file range.
struct out_piece {
    enum class kind : std::uint8_t { prefix, owned, memory, file };
    kind k = kind::owned;
    std::array<std::byte, 4> prefix{};
    byte_buffer owned;
    bytes_view memory;
    int fd = -1;
    std::uint64_t position = 0;
    std::size_t length = 0; // bytes on the wire for every kind
    std::size_t done = 0;   // bytes already sent
    std::shared_ptr<const void> keepalive;

    [[nodiscard]] bool is_file() const noexcept { return k == kind::file; }
    /// The in-memory bytes (not for files). Computed on use because `prefix` moves with the piece.
    [[nodiscard]] bytes_view bytes() const noexcept {
        switch (k) {
        case kind::prefix: return {prefix.data(), prefix.size()};
        case kind::owned: return owned.view();
        case kind::memory: return memory;
        case kind::file: break;
        }
        return {};
    }
};
} // namespace detail

/// A response body as a sequence of pieces; its total size() becomes the frame's size prefix.
class response {
public:
    response() = default;
    explicit response(byte_buffer owned) { append(std::move(owned)); }

    /// Owned bytes, moved in.
    response& append(byte_buffer owned) {
        if (owned.empty()) return *this;
        detail::out_piece p;
        p.k = detail::out_piece::kind::owned;
        p.length = owned.size();
        p.owned = std::move(owned);
        return push(std::move(p));
    }
    /// Borrowed memory; `keepalive` keeps it valid until sent (may be null for static data).
    response& append(bytes_view memory, std::shared_ptr<const void> keepalive) {
        if (memory.empty()) return *this;
        detail::out_piece p;
        p.k = detail::out_piece::kind::memory;
        p.memory = memory;
        p.length = memory.size();
        p.keepalive = std::move(keepalive);
        return push(std::move(p));
    }
    /// `length` bytes of file `fd` from `position`, sent by the server's file-send policy;
    /// `keepalive` keeps the fd open until sent.
    response& append_file(int fd, std::uint64_t position, std::size_t length, std::shared_ptr<const void> keepalive) {
        if (length == 0) return *this;
        detail::out_piece p;
        p.k = detail::out_piece::kind::file;
        p.fd = fd;
        p.position = position;
        p.length = length;
        p.keepalive = std::move(keepalive);
        return push(std::move(p));
    }
    /// A slice: a file range or borrowed memory.
    response& append(const slice& s) {
        if (s.is_file()) return append_file(s.fd, s.file_position, s.length, s.keepalive);
        return append(s.bytes, s.keepalive);
    }
    template <slice_like S>
    requires(!std::same_as<S, slice>) response& append(const S& s) { return append(to_slice(s)); }

    /// Total bytes of all pieces (the frame size, excluding the prefix).
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] std::size_t piece_count() const noexcept { return pieces_.size(); }
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }

    /// For the server: takes the pieces out.
    std::vector<detail::out_piece> take_pieces() noexcept {
        size_ = 0;
        return std::move(pieces_);
    }

private:
    response& push(detail::out_piece&& p) {
        size_ += p.length;
        pieces_.push_back(std::move(p));
        return *this;
    }
    std::vector<detail::out_piece> pieces_;
    std::size_t size_ = 0;
};

/// Completes a request with no bytes at all (Kafka produce with acks=0); later responses of
/// the connection still go out in order.
struct no_response_t {
    explicit constexpr no_response_t() = default;
};
inline constexpr no_response_t no_response{};

/// Completes a request by closing its connection once the responses before it were written.
struct close_connection_t {
    explicit constexpr close_connection_t() = default;
};
inline constexpr close_connection_t close_connection{};

namespace detail {
struct completion {
    enum class kind : std::uint8_t { respond, none, close };
    kind k = kind::close;
    response resp;
};

/// Where responders deliver; implemented by the server, which posts to its loop.
class completion_sink {
public:
    virtual ~completion_sink() = default;
    virtual void complete(connection_id conn, std::uint64_t slot, completion&& c) noexcept = 0;
};
} // namespace detail

/// The right and duty to answer one request. Move-only; complete exactly once, from any thread.
/// A responder destroyed without completing closes its connection (a request that can never be
/// answered would otherwise stall every later response on that connection).
class responder {
public:
    responder() noexcept = default;
    responder(std::shared_ptr<detail::completion_sink> sink, connection_id conn, std::uint64_t slot) noexcept
            : sink_(std::move(sink)), conn_(conn), slot_(slot) {}
    responder(responder&& o) noexcept : sink_(std::move(o.sink_)), conn_(o.conn_), slot_(o.slot_) {}
    responder& operator=(responder&& o) noexcept {
        if (this != &o) {
            if (sink_) finish({detail::completion::kind::close, {}});
            sink_ = std::move(o.sink_);
            conn_ = o.conn_;
            slot_ = o.slot_;
        }
        return *this;
    }
    responder(const responder&) = delete;
    responder& operator=(const responder&) = delete;
    ~responder() {
        if (sink_) finish({detail::completion::kind::close, {}});
    }

    /// Sends `r` (prefixed with its size) once every earlier request of the connection was answered.
    void complete(response r) noexcept { finish({detail::completion::kind::respond, std::move(r)}); }
    /// Answers nothing; the slot is dropped.
    void complete(no_response_t) noexcept { finish({detail::completion::kind::none, {}}); }
    /// Closes the connection after the earlier responses; later requests are never answered.
    void complete(close_connection_t) noexcept { finish({detail::completion::kind::close, {}}); }

    /// False once completed (or moved from).
    [[nodiscard]] bool valid() const noexcept { return sink_ != nullptr; }
    [[nodiscard]] connection_id connection() const noexcept { return conn_; }

private:
    void finish(detail::completion&& c) noexcept {
        if (!sink_) return;
        auto sink = std::move(sink_);
        sink_.reset();
        sink->complete(conn_, slot_, std::move(c));
    }
    std::shared_ptr<detail::completion_sink> sink_;
    connection_id conn_{};
    std::uint64_t slot_ = 0;
};

} // namespace gregor::net
