// gregor::consumer over TCP against a gregor broker behind kafka_server (127.0.0.1, ephemeral port).
#include "consumer_scenarios.hpp"

#include <gregor/broker/kafka_server.hpp>
#include <gregor/consumer/tcp_transport.hpp>

#include <memory>

using namespace gregor;
using namespace std::chrono_literals;
using consumer_test::earliest;

namespace consumer_test {

struct tcp_env {
    memory_broker b;
    std::unique_ptr<kafka_server<memory_broker>> srv;
    tcp_env() {
        REQUIRE(b.create_topic("t", 1) == error_code::none);
        kafka_server_config sc;
        sc.net.host = "127.0.0.1";
        sc.net.port = 0;
        srv = std::make_unique<kafka_server<memory_broker>>(b, sc);
    }
    auto make(consumer_config cfg) {
        cfg.bootstrap_servers = "127.0.0.1:" + std::to_string(srv->port());
        fetch_transport::tcp t{cfg};
        return consumer<fetch_transport::tcp>{std::move(cfg), std::move(t)};
    }
};

} // namespace consumer_test

TEST_CASE("records come back exactly, in order, with their offsets (over TCP)", "[tcp][consume]") {
    consumer_test::scenario_consume<consumer_test::tcp_env>();
}
TEST_CASE("seek to an offset inside a batch, to the beginning, the end and a timestamp (over TCP)", "[tcp][seek]") {
    consumer_test::scenario_seek<consumer_test::tcp_env>();
}
TEST_CASE("auto.offset.reset picks earliest, latest or reports the error (over TCP)", "[tcp][reset]") {
    consumer_test::scenario_reset<consumer_test::tcp_env>();
}
TEST_CASE("read_committed without transactions reads up to the last stable offset (over TCP)", "[tcp][committed]") {
    consumer_test::scenario_committed<consumer_test::tcp_env>();
}

TEST_CASE("an unknown topic is a retriable error that ends the poll at its timeout over TCP", "[tcp]") {
    consumer_test::tcp_env env;
    auto c = env.make(earliest());
    c.assign({{"missing", partition_id{0}}});
    const auto t0 = std::chrono::steady_clock::now();
    auto r = c.poll(300ms);
    CHECK(r.empty());
    CHECK(std::chrono::steady_clock::now() - t0 < 5s);
    CHECK(c.transport().negotiated(wire::api_key::api_versions) == std::int16_t{3});
    CHECK(c.transport().negotiated(wire::api_key::metadata) == std::int16_t{6});
}

TEST_CASE("a bad bootstrap.servers is rejected naming the property", "[tcp]") {
    consumer_config bad;
    bad.bootstrap_servers = "nohostport";
    CHECK_THROWS_WITH(fetch_transport::tcp{bad}, Catch::Contains("bootstrap.servers"));
    bad.bootstrap_servers = "h:0";
    CHECK_THROWS_WITH(fetch_transport::tcp{bad}, Catch::Contains("bootstrap.servers"));
}

TEST_CASE("several partitions in small fetches, and a batch larger than max.partition.fetch.bytes", "[tcp]") {
    consumer_test::tcp_env env;
    REQUIRE(env.b.create_topic("multi", 2) == error_code::none);
    for (int p = 0; p < 2; ++p) {
        for (int i = 0; i < 20; ++i) {
            wire::batch_builder bb;
            const std::string v = "p" + std::to_string(p) + "-" + std::to_string(i);
            bb.append(1000 + i, std::nullopt, as_bytes(v));
            REQUIRE(env.b.produce("multi", partition_id{p}, bb.seal(), 1).error == error_code::none);
        }
    }
    wire::batch_builder big;
    const std::string large(5000, 'L');
    big.append(5000, std::nullopt, as_bytes(large));
    REQUIRE(env.b.produce("multi", partition_id{1}, big.seal(), 1).error == error_code::none);

    auto cfg = earliest();
    cfg.max_partition_fetch_bytes = 300; // a few batches per round; the big one alone exceeds it
    auto c = env.make(cfg);
    const topic_partition p0{"multi", partition_id{0}}, p1{"multi", partition_id{1}};
    c.assign({p0, p1});
    std::vector<std::string> got0, got1;
    for (int i = 0; i < 200 && (got0.size() < 20 || got1.size() < 21); ++i) {
        auto r = c.poll(200ms);
        REQUIRE(r.errors().empty());
        r.for_each_record([&](const consumed_batch& b, const wire::record_view& rec) {
            (b.tp->partition == partition_id{0} ? got0 : got1).emplace_back(as_string_view(*rec.value));
        });
    }
    REQUIRE(got0.size() == 20);
    REQUIRE(got1.size() == 21);
    CHECK(got0[19] == "p0-19");
    CHECK(got1[0] == "p1-0");
    CHECK(got1[20] == large);
    CHECK(c.position(p1) == offset{21});
}
