#include "net_test_util.hpp"

#include <gregor/net/client.hpp>
#include <gregor/net/server.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <future>
#include <random>
#include <thread>
#include <vector>

using namespace gregor;
using namespace gregor::net;
using namespace gregor::net::testing;

namespace {

struct echo_handler {
    void on_request(connection_id, bytes_view frame, responder r) { r.complete(response(byte_buffer(frame))); }
};

/// Hands every request to the test thread, which completes it when and where it likes.
struct parked {
    connection_id conn;
    byte_buffer frame;
    responder r;
};
struct parking_lot {
    waiter w;
    std::vector<parked> requests;
    std::vector<connection_id> opened;
    std::vector<connection_id> closed;

    bool wait_count(std::size_t n, std::chrono::milliseconds t = 10s) {
        return w.wait([&] { return requests.size() >= n; }, t);
    }
    std::vector<parked> take() {
        std::vector<parked> out;
        w.update([&] { out.swap(requests); });
        return out;
    }
};
struct parking_handler {
    std::shared_ptr<parking_lot> lot = std::make_shared<parking_lot>();
    void on_request(connection_id c, bytes_view frame, responder r) {
        lot->w.update([&] { lot->requests.push_back({c, byte_buffer(frame), std::move(r)}); });
    }
    void on_open(connection_id c, std::string_view) {
        lot->w.update([&] { lot->opened.push_back(c); });
    }
    void on_close(connection_id c) {
        lot->w.update([&] { lot->closed.push_back(c); });
    }
};

/// Echoes, and counts closed connections so a test can wait for the server to notice one.
struct observed_echo {
    std::shared_ptr<parking_lot> lot = std::make_shared<parking_lot>();
    void on_request(connection_id, bytes_view frame, responder r) { r.complete(response(byte_buffer(frame))); }
    void on_close(connection_id c) {
        lot->w.update([&] { lot->closed.push_back(c); });
    }
};

server_config test_config() {
    server_config c;
    c.host = "127.0.0.1";
    c.port = 0;
    return c;
}

bool echo_roundtrip(blocking_client& c, std::uint32_t v) {
    if (c.send_frame(u32_frame(v).view()) != blocking_client::status::ok) return false;
    auto f = c.read_frame(5s);
    return f && u32_of(f->view()) == v;
}

} // namespace

TEST_CASE("an echo server answers frames from several clients", "[server]") {
    event_loop loop;
    loop.start();
    server<echo_handler> srv(loop, test_config());
    REQUIRE(srv.local_port() != 0);
    std::vector<std::unique_ptr<blocking_client>> clients;
    for (int i = 0; i < 5; ++i) clients.push_back(std::make_unique<blocking_client>("127.0.0.1", srv.local_port()));
    for (std::uint32_t round = 0; round < 20; ++round) {
        for (std::size_t i = 0; i < clients.size(); ++i) {
            REQUIRE(echo_roundtrip(*clients[i], round * 100 + static_cast<std::uint32_t>(i)));
        }
    }
    // A big frame (bigger than the read chunk) and an empty one.
    byte_buffer big(3 << 20);
    auto* p = big.grow(3 << 20);
    for (std::size_t i = 0; i < big.size(); ++i) p[i] = static_cast<std::byte>(i * 7);
    REQUIRE(clients[0]->send_frame(big.view()) == blocking_client::status::ok);
    auto back = clients[0]->read_frame(10s);
    REQUIRE(back);
    CHECK(same_bytes(back->view(), big.view()));
    REQUIRE(clients[1]->send_frame({}) == blocking_client::status::ok);
    auto empty = clients[1]->read_frame(5s);
    REQUIRE(empty);
    CHECK(empty->empty());
    CHECK(srv.stats().requests == 102);
    CHECK(srv.stats().connections == 5);
}

TEST_CASE("1000 pipelined requests are answered in order although completed in reverse from another thread",
          "[pipelining]") {
    event_loop loop;
    loop.start();
    parking_handler h;
    auto lot = h.lot;
    server<parking_handler> srv(loop, test_config(), h);
    blocking_client c("127.0.0.1", srv.local_port());
    constexpr std::uint32_t n = 1000;
    byte_buffer burst;
    for (std::uint32_t i = 0; i < n; ++i) burst.append(make_frame(u32_frame(i).view()).view());
    REQUIRE(c.send_raw(burst.view()) == blocking_client::status::ok);
    REQUIRE(lot->wait_count(n));
    auto reqs = lot->take();
    REQUIRE(reqs.size() == n);

    SECTION("reverse order, one completing thread") {
        std::thread completer([&] {
            for (auto it = reqs.rbegin(); it != reqs.rend(); ++it) {
                const auto v = u32_of(it->frame.view());
                it->r.complete(response(u32_frame(v * 2)));
            }
        });
        completer.join();
    }
    SECTION("random order, four completing threads") {
        std::vector<std::size_t> order(n);
        for (std::size_t i = 0; i < n; ++i) order[i] = i;
        std::shuffle(order.begin(), order.end(), std::mt19937(42));
        std::vector<std::thread> threads;
        for (std::size_t t = 0; t < 4; ++t) {
            threads.emplace_back([&, t] {
                for (std::size_t k = t; k < n; k += 4) {
                    auto& req = reqs[order[k]];
                    req.r.complete(response(u32_frame(u32_of(req.frame.view()) * 2)));
                }
            });
        }
        for (auto& t : threads) t.join();
    }
    for (std::uint32_t i = 0; i < n; ++i) {
        auto f = c.read_frame(10s);
        REQUIRE(f);
        REQUIRE(u32_of(f->view()) == i * 2);
    }
}

TEST_CASE("no_response slots are skipped and later responses keep their order", "[pipelining]") {
    event_loop loop;
    loop.start();
    parking_handler h;
    auto lot = h.lot;
    server<parking_handler> srv(loop, test_config(), h);
    blocking_client c("127.0.0.1", srv.local_port());
    constexpr std::uint32_t n = 200;
    for (std::uint32_t i = 0; i < n; ++i) REQUIRE(c.send_frame(u32_frame(i).view()) == blocking_client::status::ok);
    REQUIRE(lot->wait_count(n));
    auto reqs = lot->take();
    // Complete from the back so every answer waits for the ones before it.
    std::thread completer([&] {
        for (auto it = reqs.rbegin(); it != reqs.rend(); ++it) {
            const auto v = u32_of(it->frame.view());
            if (v % 3 == 0)
                it->r.complete(no_response);
            else
                it->r.complete(response(u32_frame(v)));
        }
    });
    completer.join();
    for (std::uint32_t i = 0; i < n; ++i) {
        if (i % 3 == 0) continue;
        auto f = c.read_frame(10s);
        REQUIRE(f);
        REQUIRE(u32_of(f->view()) == i);
    }
    // The connection is still fine afterwards, even with no_response as the very last slot.
    REQUIRE(c.send_frame(u32_frame(7).view()) == blocking_client::status::ok);
    REQUIRE(lot->wait_count(1));
    lot->take()[0].r.complete(no_response);
    REQUIRE(c.send_frame(u32_frame(8).view()) == blocking_client::status::ok);
    REQUIRE(lot->wait_count(1));
    lot->take()[0].r.complete(response(u32_frame(8)));
    auto f = c.read_frame(5s);
    REQUIRE(f);
    CHECK(u32_of(f->view()) == 8);
}

TEST_CASE("responses completed synchronously and later interleave in order", "[pipelining]") {
    struct mixed_handler {
        std::shared_ptr<parking_lot> lot = std::make_shared<parking_lot>();
        void on_request(connection_id c, bytes_view frame, responder r) {
            const auto v = u32_of(frame);
            if (v % 2 == 0)
                r.complete(response(u32_frame(v))); // at once, on the loop thread
            else
                lot->w.update([&] { lot->requests.push_back({c, byte_buffer(frame), std::move(r)}); });
        }
    };
    event_loop loop;
    loop.start();
    mixed_handler h;
    auto lot = h.lot;
    server<mixed_handler> srv(loop, test_config(), h);
    blocking_client c("127.0.0.1", srv.local_port());
    for (std::uint32_t i = 0; i < 100; ++i) REQUIRE(c.send_frame(u32_frame(i).view()) == blocking_client::status::ok);
    auto first = c.read_frame(5s); // request 0 needs nothing before it
    REQUIRE(first);
    CHECK(u32_of(first->view()) == 0);
    CHECK_FALSE(c.read_frame(50ms)); // request 1 is parked: 2.. must wait
    REQUIRE(lot->wait_count(50));
    auto reqs = lot->take();
    for (auto& r : reqs) r.r.complete(response(byte_buffer(r.frame.view())));
    for (std::uint32_t i = 1; i < 100; ++i) {
        auto f = c.read_frame(5s);
        REQUIRE(f);
        REQUIRE(u32_of(f->view()) == i);
    }
}

namespace {
template <typename Policy>
void zero_copy_roundtrip() {
    temp_file file(4 << 20, 5);
    struct file_handler {
        const temp_file* file;
        std::shared_ptr<std::vector<std::byte>> memory;
        void on_request(connection_id, bytes_view frame, responder r) {
            const auto v = u32_of(frame);
            response resp(u32_frame(v));                                     // owned bytes
            resp.append_file(file->fd(), 100, (1 << 20) + v, nullptr);       // a file range
            resp.append(bytes_view(memory->data(), memory->size()), memory); // borrowed memory
            resp.append(slice{{}, file->fd(), 3u << 20, 4096, nullptr});     // a storage-style slice
            r.complete(std::move(resp));
        }
    };
    auto memory = std::make_shared<std::vector<std::byte>>(1000, std::byte{0x5a});
    event_loop loop;
    loop.start();
    auto cfg = test_config();
    cfg.socket_send_buffer_bytes = 256 * 1024; // small: many partial sends, resumed on EPOLLOUT
    server<file_handler, Policy> srv(loop, cfg, file_handler{&file, memory});
    blocking_client c("127.0.0.1", srv.local_port());
    for (std::uint32_t i = 0; i < 3; ++i) REQUIRE(c.send_frame(u32_frame(i).view()) == blocking_client::status::ok);
    for (std::uint32_t i = 0; i < 3; ++i) {
        auto f = c.read_frame(20s);
        REQUIRE(f);
        const std::size_t range = (1 << 20) + i;
        REQUIRE(f->size() == 4 + range + 1000 + 4096);
        CHECK(u32_of(f->view()) == i);
        CHECK(same_bytes(f->view().subspan(4, range), file.bytes(100, range)));
        CHECK(same_bytes(f->view().subspan(4 + range, 1000), {memory->data(), 1000}));
        CHECK(same_bytes(f->view().subspan(4 + range + 1000), file.bytes(3u << 20, 4096)));
    }
}
} // namespace

TEST_CASE("zero-copy pieces from a real file arrive byte-identical with sendfile", "[server]") {
    zero_copy_roundtrip<sendfile_send>();
}
TEST_CASE("zero-copy pieces from a real file arrive byte-identical with splice", "[server]") {
    zero_copy_roundtrip<splice_send>();
}
TEST_CASE("zero-copy pieces from a real file arrive byte-identical with copy", "[server]") {
    zero_copy_roundtrip<copy_send>();
}

TEST_CASE("malformed frames close only their own connection", "[robustness]") {
    event_loop loop;
    loop.start();
    auto cfg = test_config();
    cfg.socket_request_max_bytes = 1 << 20;
    server<echo_handler> srv(loop, cfg);
    blocking_client good("127.0.0.1", srv.local_port());
    REQUIRE(echo_roundtrip(good, 1));

    auto bad_with = [&](auto&& send_bad) {
        blocking_client bad("127.0.0.1", srv.local_port());
        send_bad(bad);
        CHECK(bad.wait_closed(5s));
    };
    SECTION("negative size") {
        bad_with([](blocking_client& b) {
            std::byte hdr[4];
            write_frame_header(hdr, -1);
            REQUIRE(b.send_raw({hdr, 4}) == blocking_client::status::ok);
        });
        CHECK(srv.stats().frame_errors == 1);
    }
    SECTION("huge size") {
        bad_with([](blocking_client& b) {
            std::byte hdr[4];
            write_frame_header(hdr, 0x7ffffff0);
            REQUIRE(b.send_raw({hdr, 4}) == blocking_client::status::ok);
        });
        CHECK(srv.stats().frame_errors == 1);
    }
    SECTION("one byte over socket.request.max.bytes") {
        bad_with([](blocking_client& b) {
            std::byte hdr[4];
            write_frame_header(hdr, (1 << 20) + 1);
            REQUIRE(b.send_raw({hdr, 4}) == blocking_client::status::ok);
        });
    }
    SECTION("truncated frame, then the client closes its side") {
        bad_with([](blocking_client& b) {
            std::byte hdr[4];
            write_frame_header(hdr, 100);
            REQUIRE(b.send_raw({hdr, 4}) == blocking_client::status::ok);
            REQUIRE(b.send_raw(as_bytes("only ten b")) == blocking_client::status::ok);
            b.shutdown_write();
        });
    }
    SECTION("truncated size prefix") {
        bad_with([](blocking_client& b) {
            REQUIRE(b.send_raw(as_bytes("\x00\x00")) == blocking_client::status::ok);
            b.shutdown_write();
        });
    }
    SECTION("random bytes") {
        std::mt19937 rng(1234);
        for (int k = 0; k < 20; ++k) {
            bad_with([&](blocking_client& b) {
                std::vector<std::byte> junk(64 + rng() % 512);
                for (auto& x : junk) x = static_cast<std::byte>(rng() & 0xff);
                REQUIRE(b.send_raw({junk.data(), junk.size()}) == blocking_client::status::ok);
                b.shutdown_write();
            });
        }
    }
    // The well-behaved client never noticed.
    for (std::uint32_t i = 2; i < 12; ++i) REQUIRE(echo_roundtrip(good, i));
    CHECK(srv.stats().connections == 1);
}

TEST_CASE("a handler exception or a dropped responder closes only that connection", "[robustness]") {
    struct picky_handler {
        void on_request(connection_id, bytes_view frame, responder r) {
            const auto v = u32_of(frame);
            if (v == 666) throw std::runtime_error("boom");
            if (v == 667) return; // responder dropped without completing
            if (v == 668) {
                r.complete(close_connection);
                return;
            }
            r.complete(response(u32_frame(v)));
        }
    };
    event_loop loop;
    loop.start();
    server<picky_handler> srv(loop, test_config());
    blocking_client good("127.0.0.1", srv.local_port());
    for (const std::uint32_t evil : {666u, 667u, 668u}) {
        blocking_client bad("127.0.0.1", srv.local_port());
        REQUIRE(echo_roundtrip(bad, 1));
        REQUIRE(bad.send_frame(u32_frame(evil).view()) == blocking_client::status::ok);
        CHECK(bad.wait_closed(5s));
        REQUIRE(echo_roundtrip(good, evil + 1000));
    }
}

TEST_CASE("close_connection writes the earlier responses first and drops the later ones", "[pipelining]") {
    event_loop loop;
    loop.start();
    parking_handler h;
    auto lot = h.lot;
    server<parking_handler> srv(loop, test_config(), h);
    blocking_client c("127.0.0.1", srv.local_port());
    for (std::uint32_t i = 0; i < 5; ++i) REQUIRE(c.send_frame(u32_frame(i).view()) == blocking_client::status::ok);
    REQUIRE(lot->wait_count(5));
    auto reqs = lot->take();
    reqs[4].r.complete(response(u32_frame(4)));
    reqs[2].r.complete(close_connection);
    reqs[3].r.complete(response(u32_frame(3)));
    reqs[1].r.complete(response(u32_frame(1)));
    reqs[0].r.complete(response(u32_frame(0)));
    for (std::uint32_t i = 0; i < 2; ++i) {
        auto f = c.read_frame(5s);
        REQUIRE(f);
        CHECK(u32_of(f->view()) == i);
    }
    CHECK(c.wait_closed(5s));
    REQUIRE(lot->w.wait([&] { return lot->closed.size() == 1; }));
}

TEST_CASE("connections beyond max.connections are closed at once while the others are served", "[limits]") {
    event_loop loop;
    loop.start();
    auto cfg = test_config();
    cfg.max_connections = 2;
    observed_echo h;
    auto lot = h.lot;
    server<observed_echo> srv(loop, cfg, h);
    blocking_client a("127.0.0.1", srv.local_port());
    blocking_client b("127.0.0.1", srv.local_port());
    REQUIRE(echo_roundtrip(a, 1)); // both accepted before the third arrives
    REQUIRE(echo_roundtrip(b, 2));
    blocking_client extra("127.0.0.1", srv.local_port());
    CHECK(extra.wait_closed(5s));
    CHECK(srv.stats().refused == 1);
    REQUIRE(echo_roundtrip(a, 3));
    REQUIRE(echo_roundtrip(b, 4));
    // A freed place can be taken again.
    b.close();
    REQUIRE(lot->w.wait([&] { return lot->closed.size() == 1; })); // the server noticed
    CHECK(srv.stats().connections == 1);
    blocking_client again("127.0.0.1", srv.local_port());
    REQUIRE(echo_roundtrip(again, 5));
}

TEST_CASE("an idle connection is closed after connections.max.idle.ms, a busy one is not", "[limits]") {
    event_loop loop;
    loop.start();
    auto cfg = test_config();
    cfg.connections_max_idle_ms = 150;
    parking_handler h;
    auto lot = h.lot;
    server<parking_handler> srv(loop, cfg, h);

    blocking_client idle("127.0.0.1", srv.local_port());
    blocking_client busy("127.0.0.1", srv.local_port());
    REQUIRE(busy.send_frame(u32_frame(1).view()) == blocking_client::status::ok);
    REQUIRE(lot->wait_count(1));
    const auto t0 = std::chrono::steady_clock::now();
    CHECK(idle.wait_closed(5s));
    CHECK(std::chrono::steady_clock::now() - t0 < 5s);
    CHECK(srv.stats().idle_closed == 1);
    // The busy connection has a request in flight for longer than the idle time: still open.
    CHECK_FALSE(busy.wait_closed(400ms));
    lot->take()[0].r.complete(response(u32_frame(1)));
    auto f = busy.read_frame(5s);
    REQUIRE(f);
    CHECK(u32_of(f->view()) == 1);
    CHECK(busy.wait_closed(5s)); // and idle after that
    CHECK(srv.stats().idle_closed == 2);
}

TEST_CASE("a connection is not read while too many of its requests are in flight", "[limits]") {
    event_loop loop;
    loop.start();
    auto cfg = test_config();
    cfg.max_in_flight_requests_per_connection = 4;
    parking_handler h;
    auto lot = h.lot;
    server<parking_handler> srv(loop, cfg, h);
    blocking_client c("127.0.0.1", srv.local_port());
    byte_buffer burst;
    for (std::uint32_t i = 0; i < 10; ++i) burst.append(make_frame(u32_frame(i).view()).view());
    REQUIRE(c.send_raw(burst.view()) == blocking_client::status::ok);
    std::uint32_t answered = 0;
    for (int round = 0; round < 10 && answered < 10; ++round) {
        REQUIRE(lot->wait_count(std::min<std::uint32_t>(4, 10 - answered)));
        auto reqs = lot->take();
        CHECK(reqs.size() <= 4);
        for (auto it = reqs.rbegin(); it != reqs.rend(); ++it) it->r.complete(response(byte_buffer(it->frame.view())));
        for (std::size_t k = 0; k < reqs.size(); ++k) {
            auto f = c.read_frame(5s);
            REQUIRE(f);
            REQUIRE(u32_of(f->view()) == answered++);
        }
    }
    CHECK(answered == 10);
}

TEST_CASE("large responses to a slow reader are all delivered under the unsent-bytes limit", "[limits]") {
    struct big_handler {
        void on_request(connection_id, bytes_view frame, responder r) {
            byte_buffer b(1 << 20);
            auto* p = b.grow(1 << 20);
            std::memset(p, static_cast<int>(u32_of(frame) & 0xff), 1 << 20);
            r.complete(response(std::move(b)));
        }
    };
    event_loop loop;
    loop.start();
    auto cfg = test_config();
    cfg.max_unsent_bytes_per_connection = 64 * 1024;
    server<big_handler> srv(loop, cfg);
    blocking_client c("127.0.0.1", srv.local_port());
    for (std::uint32_t i = 0; i < 24; ++i) REQUIRE(c.send_frame(u32_frame(i).view()) == blocking_client::status::ok);
    for (std::uint32_t i = 0; i < 24; ++i) {
        auto f = c.read_frame(10s);
        REQUIRE(f);
        REQUIRE(f->size() == (1u << 20));
        CHECK((*f)[0] == static_cast<std::byte>(i));
        CHECK((*f)[(1u << 20) - 1] == static_cast<std::byte>(i));
    }
    CHECK(srv.stats().requests == 24);
}

TEST_CASE("graceful stop finishes in-flight requests, then closes", "[shutdown]") {
    event_loop loop;
    loop.start();
    parking_handler h;
    auto lot = h.lot;
    auto srv = std::make_unique<server<parking_handler>>(loop, test_config(), h);
    const auto port = srv->local_port();
    blocking_client c("127.0.0.1", port);
    for (std::uint32_t i = 0; i < 3; ++i) REQUIRE(c.send_frame(u32_frame(i).view()) == blocking_client::status::ok);
    REQUIRE(lot->wait_count(3));
    auto reqs = lot->take();

    std::promise<bool> stopped;
    auto result = stopped.get_future();
    srv->async_stop(10s, [&](bool clean) { stopped.set_value(clean); });
    loop.run_and_wait([] {}); // the stop has begun: work runs in order on the loop
    CHECK(result.wait_for(0s) == std::future_status::timeout);
    // No new connections once stopping.
    CHECK_THROWS_AS(blocking_client("127.0.0.1", port, 2s), std::system_error);

    std::thread completer([&] {
        for (auto it = reqs.rbegin(); it != reqs.rend(); ++it) it->r.complete(response(byte_buffer(it->frame.view())));
    });
    completer.join();
    for (std::uint32_t i = 0; i < 3; ++i) {
        auto f = c.read_frame(5s);
        REQUIRE(f);
        CHECK(u32_of(f->view()) == i);
    }
    CHECK(c.wait_closed(5s));
    REQUIRE(result.wait_for(10s) == std::future_status::ready);
    CHECK(result.get());
    CHECK(srv->stop(1s)); // already stopped: returns at once, clean
    srv.reset();
}

TEST_CASE("graceful stop closes what is still in flight when its timeout expires", "[shutdown]") {
    event_loop loop;
    loop.start();
    parking_handler h;
    auto lot = h.lot;
    server<parking_handler> srv(loop, test_config(), h);
    blocking_client c("127.0.0.1", srv.local_port());
    REQUIRE(c.send_frame(u32_frame(1).view()) == blocking_client::status::ok);
    REQUIRE(lot->wait_count(1));
    CHECK_FALSE(srv.stop(100ms));
    CHECK(c.wait_closed(5s));
    // The late completion is dropped quietly.
    lot->take()[0].r.complete(response(u32_frame(1)));
    loop.run_and_wait([] {});
    REQUIRE(lot->w.wait([&] { return lot->closed.size() == 1; }));
    CHECK(lot->opened.size() == 1);
}

TEST_CASE("a responder that outlives its server is completed harmlessly", "[shutdown]") {
    parking_handler h;
    auto lot = h.lot;
    std::vector<parked> reqs;
    {
        event_loop loop;
        loop.start();
        server<parking_handler> srv(loop, test_config(), h);
        blocking_client c("127.0.0.1", srv.local_port());
        REQUIRE(c.send_frame(u32_frame(9).view()) == blocking_client::status::ok);
        REQUIRE(lot->wait_count(1));
        reqs = lot->take();
    }
    reqs[0].r.complete(response(u32_frame(9))); // server and loop are gone: dropped
    CHECK_FALSE(reqs[0].r.valid());
}

TEST_CASE("a handler may patch its frame in place during the call", "[server]") {
    struct patching_handler {
        void on_request(connection_id, mutable_bytes_view frame, responder r) {
            store_be<std::uint32_t>(frame.data(), load_be<std::uint32_t>(frame.data()) + 1);
            r.complete(response(byte_buffer(frame)));
        }
    };
    event_loop loop;
    loop.start();
    server<patching_handler> srv(loop, test_config());
    blocking_client c("127.0.0.1", srv.local_port());
    for (std::uint32_t i = 0; i < 10; ++i) REQUIRE(c.send_frame(u32_frame(i).view()) == blocking_client::status::ok);
    for (std::uint32_t i = 0; i < 10; ++i) {
        auto f = c.read_frame(5s);
        REQUIRE(f);
        CHECK(u32_of(f->view()) == i + 1);
    }
}

TEST_CASE("server properties parse by Kafka names and reject unknown keys", "[server]") {
    auto c = server_config::from_properties({{"listeners", "PLAINTEXT://127.0.0.1:0"},
                                             {"socket.request.max.bytes", "1000"},
                                             {"max.connections", "7"},
                                             {"connections.max.idle.ms", "1234"}});
    CHECK(c.host == "127.0.0.1");
    CHECK(c.port == 0);
    CHECK(c.socket_request_max_bytes == 1000);
    CHECK(c.max_connections == 7);
    CHECK(c.connections_max_idle_ms == 1234);
    CHECK(server_config::from_properties({{"listeners", "[::1]:9093"}}).host == "::1");
    CHECK_THROWS_WITH(server_config::from_properties({{"no.such.key", "1"}}), Catch::Contains("no.such.key"));
    CHECK_THROWS_WITH(server_config::from_properties({{"max.connections", "-3"}}), Catch::Contains("max.connections"));
    CHECK_THROWS_WITH(server_config::from_properties({{"socket.request.max.bytes", "x"}}),
                      Catch::Contains("socket.request.max.bytes"));
    server_config s;
    CHECK_FALSE(s.try_set("log.segment.bytes", "1"));
}
