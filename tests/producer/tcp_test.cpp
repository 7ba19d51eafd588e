// The producer over TCP (transport::tcp) against a real gregor broker behind kafka_server on
// 127.0.0.1: delivery with offsets and order, version negotiation, auto-created topics, acks=0,
// a server that goes away and comes back on the same port, an unreachable bootstrap server, and
// a "broker" that answers garbage.
#include "test_util.hpp"

#include <gregor/broker/broker.hpp>
#include <gregor/broker/kafka_server.hpp>
#include <gregor/net/detail/socket.hpp>
#include <gregor/producer/producer.hpp>
#include <gregor/producer/tcp_transport.hpp>
#include <gregor/storage/backends/memory.hpp>
#include <gregor/testing/faulty_transport.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace gregor;
using namespace std::chrono_literals;
using gregor::test::read_partition;
using gregor::test::reports;

namespace {

using memory_broker = broker<broker_policies<storage::memory_backend>>;
using tcp_producer = producer<producer_policies<transport::tcp>>;

struct server_env {
    memory_broker b;
    std::unique_ptr<kafka_server<memory_broker>> srv;
    std::uint16_t port = 0;

    explicit server_env(std::int32_t partitions = 3) {
        REQUIRE(b.create_topic("orders", partitions) == error_code::none);
        start(0);
    }
    void start(std::uint16_t p) {
        kafka_server_config sc;
        sc.net.host = "127.0.0.1";
        sc.net.port = p;
        srv = std::make_unique<kafka_server<memory_broker>>(b, sc);
        port = srv->port();
    }
    void stop() { srv.reset(); }
    [[nodiscard]] std::string bootstrap() const { return "127.0.0.1:" + std::to_string(port); }
};

producer_config tcp_config(const std::string& bootstrap) {
    producer_config c;
    c.bootstrap_servers = bootstrap;
    c.linger_ms = 2;
    c.retry_backoff_ms = 10;
    c.retry_backoff_max_ms = 100;
    c.reconnect_backoff_ms = 10;
    c.reconnect_backoff_max_ms = 100;
    return c;
}

/// Every value in partitions 0..n-1 of `topic`, checking per-key order and that each record sits
/// at the offset its completion reported.
std::size_t verify_log(memory_broker& b, const std::string& topic, std::int32_t partitions, reports& out) {
    std::size_t in_log = 0;
    for (std::int32_t part = 0; part < partitions; ++part) {
        std::map<std::string, int> last;
        for (const auto& r : read_partition(b, topic, part)) {
            ++in_log;
            REQUIRE(r.key);
            REQUIRE(r.value);
            const auto& rep = out.by_value.at(*r.value);
            REQUIRE(rep.size() == 1);
            CHECK(!rep[0].error);
            CHECK(rep[0].metadata.offset == r.at);
            CHECK(rep[0].metadata.partition == partition_id{part});
            const int seq = std::stoi(r.value->substr(r.value->find('#') + 1));
            auto it = last.find(*r.key);
            if (it != last.end()) CHECK(seq > it->second);
            last[*r.key] = seq;
        }
    }
    return in_log;
}

} // namespace

TEST_CASE("over TCP every record reaches a gregor broker once, in key order, at the offset reported", "[tcp]") {
    server_env env;
    reports out;
    constexpr int n = 20000;
    {
        auto cfg = tcp_config(env.bootstrap());
        tcp_producer p(cfg, transport::tcp{cfg});
        for (int i = 0; i < n; ++i) {
            const std::string key = "key-" + std::to_string(i % 97);
            const std::string value = key + "#" + std::to_string(i);
            REQUIRE(!p.send({.topic = "orders", .key = key, .value = value}, out.callback(value)));
        }
        REQUIRE(!p.flush());
        CHECK(out.count == n);
        const auto& c = p.transport().counters();
        // Negotiated against kafka_server's advertised ranges: the highest common versions.
        CHECK(c.api_versions_version == 3);
        CHECK(c.metadata_version == transport::tcp::spoken_versions<wire::metadata_api>().max);
        CHECK(c.produce_version == transport::tcp::spoken_versions<wire::produce_api>().max);
        CHECK(c.init_producer_id_version == transport::tcp::spoken_versions<wire::init_producer_id_api>().max);
        CHECK(c.disconnects == 0);
        CHECK(p.metrics().records_acked == static_cast<std::uint64_t>(n));
    }
    CHECK(verify_log(env.b, "orders", 3, out) == static_cast<std::size_t>(n));
}

TEST_CASE("over TCP an unknown topic is auto-created by the broker and then written", "[tcp]") {
    server_env env;
    auto cfg = tcp_config(env.bootstrap());
    tcp_producer p(cfg, transport::tcp{cfg});
    auto f = p.send({.topic = "fresh", .key = "k", .value = "v"}, use_future);
    REQUIRE(!p.flush());
    const auto rep = f.get();
    REQUIRE(!rep.error);
    CHECK(rep.metadata.offset == offset{0});
    const auto recs = read_partition(env.b, "fresh", rep.metadata.partition.value());
    REQUIRE(recs.size() == 1);
    CHECK(*recs[0].value == "v");
}

TEST_CASE("over TCP with allow.auto.create.topics=false an unknown topic fails at delivery.timeout.ms", "[tcp]") {
    server_env env;
    auto cfg = tcp_config(env.bootstrap());
    cfg.allow_auto_create_topics = false;
    cfg.request_timeout_ms = 300;
    cfg.delivery_timeout_ms = 600;
    cfg.linger_ms = 0;
    tcp_producer p(cfg, transport::tcp{cfg});
    auto f = p.send({.topic = "never", .value = "v"}, use_future);
    REQUIRE(f.wait_for(10s) == std::future_status::ready);
    CHECK(f.get().error == make_error_code(local_error::timed_out));
    CHECK(env.b.describe_topic("never", false).error == error_code::unknown_topic_or_partition);
}

TEST_CASE("over TCP acks=0 sends without waiting, and close() writes out what the sockets still hold", "[tcp]") {
    // 100,000 records of 120 bytes: more than the socket buffers take at once, so when the last
    // completion runs much of the data is still queued in the transport; close() must write it.
    server_env env(1);
    auto cfg = tcp_config(env.bootstrap());
    cfg.acks = 0;
    cfg.enable_idempotence = false;
    constexpr int n = 100000;
    auto value_of = [](int i) {
        std::string v = "k#" + std::to_string(i) + "#";
        v.resize(120, 'x');
        return v;
    };
    std::atomic<int> done{0}, failed{0};
    {
        tcp_producer p(cfg, transport::tcp{cfg});
        for (int i = 0; i < n; ++i) {
            REQUIRE(!p.send({.topic = "orders", .key = "k", .value = value_of(i)},
                            [&](std::error_code ec, const record_metadata& md) {
                                ++done;
                                if (ec || md.offset != offset{-1}) ++failed;
                            }));
        }
        REQUIRE(!p.close());
    }
    CHECK(done == n);
    CHECK(failed == 0);
    // The broker may still be appending what arrived last (bounded wait on its log end).
    const auto until = std::chrono::steady_clock::now() + 20s;
    while (env.b.list_offset("orders", partition_id{0}, -1).found.value() < n &&
           std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(5ms);
    const auto recs = read_partition(env.b, "orders", 0);
    REQUIRE(recs.size() == static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) REQUIRE(*recs[static_cast<std::size_t>(i)].value == value_of(i));
}

TEST_CASE("over TCP a broker that goes away and comes back on its port gets every record exactly once", "[tcp]") {
    server_env env(2);
    reports out;
    constexpr int first = 3000, second = 3000;
    auto cfg = tcp_config(env.bootstrap());
    tcp_producer p(cfg, transport::tcp{cfg});
    auto send_range = [&](int from, int to) {
        for (int i = from; i < to; ++i) {
            const std::string key = "key-" + std::to_string(i % 13);
            const std::string value = key + "#" + std::to_string(i);
            REQUIRE(!p.send({.topic = "orders", .key = key, .value = value}, out.callback(value)));
        }
    };
    send_range(0, first);
    REQUIRE(!p.flush());
    const auto port = env.port;
    env.stop(); // connections reset; the port is free again
    send_range(first, first + second);
    // The producer retries (reconnect backoff) while nothing listens; then the broker is back.
    std::this_thread::sleep_for(200ms); // not a synchronisation: lets some connection attempts fail first
    env.start(port);
    REQUIRE(!p.flush());
    CHECK(out.count == first + second);
    CHECK(p.transport().counters().connect_failures + p.transport().counters().disconnects >= 1);
    p.close();
    CHECK(verify_log(env.b, "orders", 2, out) == static_cast<std::size_t>(first + second));
}

TEST_CASE("over TCP an unreachable bootstrap server fails records at delivery.timeout.ms", "[tcp]") {
    // A port with nothing listening: bind, learn it, close.
    std::uint16_t port = 0;
    {
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        REQUIRE(fd >= 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        socklen_t len = sizeof a;
        REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
        port = ntohs(a.sin_port);
        ::close(fd);
    }
    auto cfg = tcp_config("127.0.0.1:" + std::to_string(port));
    cfg.linger_ms = 0;
    cfg.request_timeout_ms = 300;
    cfg.delivery_timeout_ms = 800;
    tcp_producer p(cfg, transport::tcp{cfg});
    const auto t0 = std::chrono::steady_clock::now();
    auto f = p.send({.topic = "orders", .value = "lost"}, use_future);
    REQUIRE(f.wait_for(10s) == std::future_status::ready);
    CHECK(f.get().error == make_error_code(local_error::timed_out));
    CHECK(std::chrono::steady_clock::now() - t0 >= 800ms);
    CHECK(p.transport().counters().connect_failures >= 1);
}

TEST_CASE("a malformed bootstrap.servers is refused when the transport is made", "[tcp]") {
    producer_config cfg;
    cfg.bootstrap_servers = "no-port-here";
    CHECK_THROWS_AS(transport::tcp{cfg}, std::invalid_argument);
    cfg.bootstrap_servers = "";
    CHECK_THROWS_AS(transport::tcp{cfg}, std::invalid_argument);
    cfg.bootstrap_servers = "127.0.0.1:70000";
    CHECK_THROWS_AS(transport::tcp{cfg}, std::invalid_argument);
}

TEST_CASE("over TCP a peer that answers garbage is dropped, and the records fail at their deadline", "[tcp]") {
    // A listener that answers every frame with 8 random-looking bytes.
    const int lfd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(lfd >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(lfd, 16) == 0);
    socklen_t len = sizeof a;
    REQUIRE(::getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    std::atomic<int> accepted{0};
    std::atomic<bool> stop{false};
    std::thread peer([&] {
        for (int i = 0; i < 200 && !stop; ++i) {
            pollfd pf{lfd, POLLIN, 0};
            if (::poll(&pf, 1, 50) <= 0) continue;
            const int fd = ::accept(lfd, nullptr, nullptr);
            if (fd < 0) continue;
            ++accepted;
            char buf[4096];
            if (::recv(fd, buf, sizeof buf, 0) > 0) {
                const unsigned char junk[] = {0, 0, 0, 4, 0x7f, 0x7f, 0x7f, 0x7f}; // wrong correlation id
                [[maybe_unused]] auto w = ::send(fd, junk, sizeof junk, MSG_NOSIGNAL);
            }
            ::close(fd);
        }
    });
    auto cfg = tcp_config("127.0.0.1:" + std::to_string(ntohs(a.sin_port)));
    cfg.linger_ms = 0;
    cfg.request_timeout_ms = 300;
    cfg.delivery_timeout_ms = 700;
    {
        tcp_producer p(cfg, transport::tcp{cfg});
        auto f = p.send({.topic = "orders", .value = "x"}, use_future);
        REQUIRE(f.wait_for(10s) == std::future_status::ready);
        CHECK(f.get().error == make_error_code(local_error::timed_out));
    }
    stop = true;
    peer.join();
    ::close(lfd);
    CHECK(accepted >= 1);
}

TEST_CASE("over TCP with five requests in flight, injected faults lose, repeat and reorder nothing", "[tcp]") {
    // faulty_transport in front of the TCP transport: the gregor broker's sequence checks (not the
    // transport) keep order and suppress duplicates, as with a Kafka broker.
    server_env env(3);
    reports out;
    constexpr int n = 20000;
    using faulty_tcp = testing::faulty_transport<transport::tcp>;
    auto cfg = tcp_config(env.bootstrap());
    cfg.request_timeout_ms = 200; // dropped requests and answers cost one timeout each
    cfg.batch_size = 2048;        // many batches, so faults land all over the stream
    std::shared_ptr<testing::fault_counters> injected;
    {
        faulty_tcp t{transport::tcp{cfg},
                     testing::random_faults(7, 0.25, 60,
                                            {testing::fault::drop_request, testing::fault::drop_response,
                                             testing::fault::duplicate, testing::fault::delay, testing::fault::reorder,
                                             testing::fault::error, testing::fault::error_after_append},
                                            {error_code::not_leader_or_follower, error_code::not_enough_replicas,
                                             error_code::request_timed_out})};
        injected = t.counters();
        producer<producer_policies<faulty_tcp>> p(cfg, std::move(t));
        for (int i = 0; i < n; ++i) {
            const std::string key = "key-" + std::to_string(i % 61);
            const std::string value = key + "#" + std::to_string(i);
            REQUIRE(!p.send({.topic = "orders", .key = key, .value = value}, out.callback(value)));
        }
        REQUIRE(!p.flush());
        CHECK(out.count == n);
    }
    CHECK(injected->injected() == 60);
    CHECK(injected->count(testing::fault::duplicate) > 0);
    CHECK(injected->count(testing::fault::drop_response) > 0);
    CHECK(verify_log(env.b, "orders", 3, out) == static_cast<std::size_t>(n));
}

TEST_CASE("over TCP metadata is refreshed every metadata.max.age.ms while a topic is in use", "[tcp]") {
    server_env env(1);
    auto cfg = tcp_config(env.bootstrap());
    cfg.metadata_max_age_ms = 50;
    tcp_producer p(cfg, transport::tcp{cfg});
    REQUIRE(!p.send({.topic = "orders", .value = "a"}, use_future).get().error);
    const auto before = p.metrics().metadata_requests;
    // Nothing more is sent: only the age of the metadata can cause requests now (bounded wait).
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (p.metrics().metadata_requests < before + 3 && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(5ms);
    CHECK(p.metrics().metadata_requests >= before + 3);
    CHECK(p.transport().counters().disconnects == 0);
}
