#include "net_test_util.hpp"

#include <gregor/net/detail/socket.hpp>
#include <gregor/net/zero_copy.hpp>

#include <catch2/catch.hpp>

#include <future>
#include <thread>
#include <vector>

#include <poll.h>
#include <sys/socket.h>

using namespace gregor;
using namespace gregor::net;
using namespace gregor::net::testing;

namespace {
// A connected TCP pair on 127.0.0.1: {sender (non-blocking, small send buffer), receiver}.
std::pair<net::detail::unique_fd, net::detail::unique_fd> tcp_pair(int send_buffer) {
    auto listener = net::detail::listen_on("127.0.0.1", 0, 1);
    const auto port = net::detail::local_port_of(listener.get());
    bool in_progress = false;
    auto client = net::detail::start_connect("127.0.0.1", port, in_progress);
    pollfd p{listener.get(), POLLIN, 0};
    REQUIRE(::poll(&p, 1, 5000) == 1);
    net::detail::unique_fd server(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    REQUIRE(server);
    pollfd c{client.get(), POLLOUT, 0};
    REQUIRE(::poll(&c, 1, 5000) == 1);
    REQUIRE(net::detail::socket_error(client.get()) == 0);
    net::detail::tune_socket(client.get(), send_buffer, -1);
    return {std::move(client), std::move(server)};
}

std::vector<std::byte> receive_exactly(int fd, std::size_t n) {
    std::vector<std::byte> out(n);
    std::size_t got = 0;
    while (got < n) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 10000) != 1) break; // bounded: the test fails on the size check
        const auto r = ::recv(fd, out.data() + got, n - got, MSG_DONTWAIT);
        if (r <= 0) {
            if (r < 0 && errno == EAGAIN) continue;
            break;
        }
        got += static_cast<std::size_t>(r);
    }
    out.resize(got);
    return out;
}
} // namespace

TEMPLATE_TEST_CASE("every file-send policy delivers a file range byte-identical across partial sends", "[zero_copy]",
                   sendfile_send, splice_send, copy_send) {
    temp_file file(3 << 20, 11);
    auto [sender, receiver] = tcp_pair(256 * 1024);
    const std::uint64_t pos = 12345;
    const std::size_t len = (2 << 20) + 777;
    std::vector<std::byte> got;
    // The reader starts only once the sender has hit a full socket buffer, so every policy is
    // made to resume after EAGAIN at least once (a fast reader could otherwise drain it in time).
    std::promise<void> blocked;
    auto blocked_future = blocked.get_future();
    std::thread reader([&, fd = receiver.get()] {
        blocked_future.wait_for(std::chrono::seconds(10));
        got = receive_exactly(fd, len);
    });

    TestType policy;
    std::size_t sent = 0;
    int would_block = 0;
    for (int round = 0; round < 100000 && sent < len; ++round) {
        const auto r = policy.send_file(sender.get(), file.fd(), pos + sent, len - sent, false);
        sent += r.bytes;
        if (r.error == EAGAIN) {
            if (would_block++ == 0) blocked.set_value();
            pollfd p{sender.get(), POLLOUT, 0};
            REQUIRE(::poll(&p, 1, 10000) == 1);
        } else {
            REQUIRE(r.error == 0);
        }
    }
    reader.join();
    CHECK(sent == len);
    CHECK(would_block > 0); // the small send buffer forced resumption
    REQUIRE(got.size() == len);
    CHECK(same_bytes({got.data(), got.size()}, file.bytes(pos, len)));
}

TEMPLATE_TEST_CASE("a file-send policy reports a range past the end of the file", "[zero_copy]", sendfile_send,
                   splice_send, copy_send) {
    temp_file file(1000, 3);
    auto [sender, receiver] = tcp_pair(-1);
    TestType policy;
    const auto r = policy.send_file(sender.get(), file.fd(), 900, 200, false);
    CHECK(r.bytes == 100);
    CHECK(r.error == ENODATA);
    const auto got = receive_exactly(receiver.get(), 100);
    REQUIRE(got.size() == 100);
    CHECK(same_bytes({got.data(), got.size()}, file.bytes(900, 100)));
}
