#include "net_test_util.hpp"

#include <gregor/net/client.hpp>
#include <gregor/net/server.hpp>

#include <catch2/catch.hpp>

#include <memory>
#include <vector>

using namespace gregor;
using namespace gregor::net;
using namespace gregor::net::testing;

namespace {
struct echo_handler {
    void on_request(connection_id, bytes_view frame, responder r) { r.complete(response(byte_buffer(frame))); }
};
server_config test_config() {
    server_config c;
    c.port = 0;
    return c;
}
} // namespace

TEST_CASE("a client connection sends frames queued before connecting and receives the answers in order", "[client]") {
    event_loop loop;
    loop.start();
    server<echo_handler> srv(loop, test_config());
    waiter w;
    std::vector<std::uint32_t> got;
    bool connected = false;
    std::error_code closed_with;
    bool closed = false;
    std::unique_ptr<client_connection> conn;
    loop.run_and_wait([&] {
        conn = std::make_unique<client_connection>(loop);
        conn->connect("127.0.0.1", srv.local_port(),
                      {.on_connected = [&] { w.update([&] { connected = true; }); },
                       .on_frame = [&](bytes_view f) { w.update([&] { got.push_back(u32_of(f)); }); },
                       .on_closed =
                           [&](std::error_code ec) {
                               w.update([&] {
                                   closed = true;
                                   closed_with = ec;
                               });
                           }});
        for (std::uint32_t i = 0; i < 500; ++i) REQUIRE(conn->send(u32_frame(i)));
    });
    REQUIRE(w.wait([&] { return got.size() == 500; }));
    CHECK(connected);
    for (std::uint32_t i = 0; i < 500; ++i) CHECK(got[i] == i);
    // A multi-piece frame from the client side.
    loop.run_and_wait([&] {
        response r(u32_frame(1000));
        static const char tail[] = "tail";
        r.append(as_bytes(std::string_view(tail, 4)), nullptr);
        REQUIRE(conn->send(std::move(r)));
    });
    REQUIRE(w.wait([&] { return got.size() == 501; }));
    CHECK(got.back() == 1000);
    // The server going away is reported.
    srv.stop(1s);
    REQUIRE(w.wait([&] { return closed; }));
    CHECK(closed_with == make_error_code(local_error::closed));
    loop.run_and_wait([&] { conn.reset(); });
}

TEST_CASE("a refused connection is reported through on_closed", "[client]") {
    // A port that was just free: bind, read it, close.
    std::uint16_t port = 0;
    {
        auto l = net::detail::listen_on("127.0.0.1", 0, 1);
        port = net::detail::local_port_of(l.get());
    }
    event_loop loop;
    loop.start();
    waiter w;
    bool closed = false;
    std::error_code ec;
    client_connection conn(loop);
    loop.run_and_wait([&] {
        conn.connect("127.0.0.1", port, {.on_connected = {}, .on_frame = {}, .on_closed = [&](std::error_code e) {
                                             w.update([&] {
                                                 closed = true;
                                                 ec = e;
                                             });
                                         }});
    });
    REQUIRE(w.wait([&] { return closed; }));
    CHECK(ec == std::errc::connection_refused);
    loop.run_and_wait([&] { CHECK(conn.state() == client_state::closed); });
}

TEST_CASE("a response frame over the client's limit closes the client connection", "[client]") {
    event_loop loop;
    loop.start();
    server<echo_handler> srv(loop, test_config());
    waiter w;
    bool closed = false;
    int frames = 0;
    std::error_code ec;
    client_config cfg;
    cfg.max_frame_bytes = 1024;
    client_connection conn(loop, cfg);
    loop.run_and_wait([&] {
        conn.connect("127.0.0.1", srv.local_port(),
                     {.on_connected = {},
                      .on_frame = [&](bytes_view) { w.update([&] { ++frames; }); },
                      .on_closed =
                          [&](std::error_code e) {
                              w.update([&] {
                                  closed = true;
                                  ec = e;
                              });
                          }});
        byte_buffer small(1024);
        small.resize(1024);
        conn.send(std::move(small));
        byte_buffer big(2048);
        big.resize(2048);
        conn.send(std::move(big));
    });
    REQUIRE(w.wait([&] { return closed; }));
    CHECK(frames == 1);
    CHECK(ec == make_error_code(local_error::corrupt_data));
}

TEST_CASE("a client connection may be destroyed from its own callback", "[client]") {
    event_loop loop;
    loop.start();
    server<echo_handler> srv(loop, test_config());
    waiter w;
    bool done = false;
    auto conn = std::make_unique<client_connection>(loop);
    loop.run_and_wait([&] {
        conn->connect("127.0.0.1", srv.local_port(),
                      {.on_connected = {},
                       .on_frame =
                           [&](bytes_view) {
                               conn.reset(); // the rest of the batch must not touch it
                               w.update([&] { done = true; });
                           },
                       .on_closed = {}});
        for (std::uint32_t i = 0; i < 50; ++i) conn->send(u32_frame(i));
    });
    REQUIRE(w.wait([&] { return done; }));
    loop.run_and_wait([&] { CHECK(conn == nullptr); });
}

TEST_CASE("the blocking client times out instead of hanging", "[client]") {
    struct silent_handler {
        std::vector<responder> held;
        void on_request(connection_id, bytes_view, responder r) { held.push_back(std::move(r)); }
    };
    event_loop loop;
    loop.start();
    server<silent_handler> srv(loop, test_config());
    blocking_client c("127.0.0.1", srv.local_port());
    REQUIRE(c.send_frame(u32_frame(1).view()) == blocking_client::status::ok);
    byte_buffer out;
    CHECK(c.read_frame(out, 50ms) == blocking_client::status::timeout);
    CHECK_FALSE(c.wait_closed(50ms));
}
