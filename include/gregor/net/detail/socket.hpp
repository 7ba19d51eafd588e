// Socket plumbing shared by server and client: address resolution, listening and connecting
// sockets, socket options. Functions are reentrant; they throw std::system_error (with the
// address in the message) or return errno-style results as documented.
#pragma once

#include <gregor/net/zero_copy.hpp>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <system_error>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

namespace gregor::net::detail {

[[noreturn]] inline void throw_sys(int err, const std::string& what) {
    throw std::system_error(err, std::generic_category(), "gregor::net: " + what);
}

/// Resolves `host:port` (numeric or a name) to the first usable address.
inline sockaddr_storage resolve(const std::string& host, std::uint16_t port, socklen_t& len, bool passive) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = (passive ? AI_PASSIVE : 0) | AI_NUMERICSERV;
    addrinfo* res = nullptr;
    const auto service = std::to_string(port);
    const int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &res);
    if (rc != 0 || res == nullptr) {
        throw std::system_error(std::make_error_code(std::errc::invalid_argument),
                                "gregor::net: cannot resolve '" + host + "': " + ::gai_strerror(rc));
    }
    sockaddr_storage out{};
    std::memcpy(&out, res->ai_addr, res->ai_addrlen);
    len = res->ai_addrlen;
    ::freeaddrinfo(res);
    return out;
}

inline std::uint16_t local_port_of(int fd) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) throw_sys(errno, "getsockname");
    if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
    return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

/// "host:port" of a socket address, for logs and handler hooks.
inline std::string to_string(const sockaddr_storage& ss) {
    char buf[INET6_ADDRSTRLEN] = {};
    if (ss.ss_family == AF_INET6) {
        const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
        ::inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf);
        return "[" + std::string(buf) + "]:" + std::to_string(ntohs(a->sin6_port));
    }
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    ::inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
    return std::string(buf) + ":" + std::to_string(ntohs(a->sin_port));
}

/// A non-blocking listening socket bound to host:port (port 0: the kernel picks one).
inline unique_fd listen_on(const std::string& host, std::uint16_t port, int backlog) {
    socklen_t len = 0;
    const auto addr = resolve(host, port, len, true);
    unique_fd fd(::socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) throw_sys(errno, "socket");
    const int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), len) != 0) {
        throw_sys(errno, "bind " + host + ":" + std::to_string(port));
    }
    if (::listen(fd.get(), backlog) != 0) throw_sys(errno, "listen " + host + ":" + std::to_string(port));
    return fd;
}

/// Options every gregor TCP connection gets: no Nagle delay (requests and responses are whole
/// frames, often small), and the buffer sizes when configured (negative: kernel autotuning).
inline void tune_socket(int fd, int send_buffer_bytes, int receive_buffer_bytes) noexcept {
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (send_buffer_bytes > 0) ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &send_buffer_bytes, sizeof send_buffer_bytes);
    if (receive_buffer_bytes > 0) {
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer_bytes, sizeof receive_buffer_bytes);
    }
}

/// Starts a non-blocking connect. Returns the socket; `in_progress` tells whether completion
/// must be awaited (EPOLLOUT, then SO_ERROR). Throws on immediate failure.
inline unique_fd start_connect(const std::string& host, std::uint16_t port, bool& in_progress) {
    socklen_t len = 0;
    const auto addr = resolve(host, port, len, false);
    unique_fd fd(::socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) throw_sys(errno, "socket");
    in_progress = false;
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), len) != 0) {
        if (errno != EINPROGRESS) throw_sys(errno, "connect " + host + ":" + std::to_string(port));
        in_progress = true;
    }
    return fd;
}

/// The pending error of a socket (0 when connected).
inline int socket_error(int fd) noexcept {
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
    return err;
}

} // namespace gregor::net::detail
