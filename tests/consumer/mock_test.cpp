// gregor::consumer over TCP against a broker gregor did not write: librdkafka's mock cluster
// (rdkafka_mock.h). librdkafka produces into it, gregor consumes. The 2.0.2 mock advertises
// ApiVersions 0-2 (a v3 request gets error 35 with a body that does not parse), Metadata 0-2,
// Fetch 0-11 and ListOffsets 0-5 (docs/protocol.md §11), so this also proves the negotiation
// fallback; it writes no transaction markers, so read_committed is tested against gregor only.
#include "../rdkafka_mock.hpp"

#include <gregor/consumer/consumer.hpp>
#include <gregor/consumer/tcp_transport.hpp>

#include <catch2/catch.hpp>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <chrono>
#include <string>
#include <vector>

using namespace gregor;
using namespace std::chrono_literals;

namespace {

using mock_cluster = gregor::test::rdkafka_mock_cluster;

// Produces values "m-<i>" with keys "k-<i>" to partition `part`; returns how many were delivered.
int produce_with_librdkafka(const std::string& bootstraps, const std::string& topic, int part, int n) {
    char err[512];
    auto* conf = rd_kafka_conf_new();
    REQUIRE(rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps.c_str(), err, sizeof err) == RD_KAFKA_CONF_OK);
    REQUIRE(rd_kafka_conf_set(conf, "linger.ms", "5", err, sizeof err) == RD_KAFKA_CONF_OK);
    REQUIRE(rd_kafka_conf_set(conf, "compression.codec", "none", err, sizeof err) == RD_KAFKA_CONF_OK);
    static int delivered = 0;
    delivered = 0;
    rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t*, const rd_kafka_message_t* m, void*) {
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) ++delivered;
    });
    rd_kafka_t* p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    REQUIRE(p);
    for (int i = 0; i < n; ++i) {
        const auto k = "k-" + std::to_string(i);
        const auto v = "m-" + std::to_string(i);
        REQUIRE(rd_kafka_producev(
                    p, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(part), RD_KAFKA_V_KEY(k.data(), k.size()),
                    RD_KAFKA_V_VALUE(const_cast<char*>(v.data()), v.size()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                    RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    rd_kafka_flush(p, 10000);
    rd_kafka_destroy(p);
    return delivered;
}

} // namespace

TEST_CASE("the TCP consumer reads what librdkafka produced into librdkafka's mock cluster", "[mock]") {
    mock_cluster cluster(3);
    REQUIRE(rd_kafka_mock_topic_create(cluster.mc, "mocked", 2, 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
    // Leaders on different brokers, so fetches are routed by leader id.
    REQUIRE(rd_kafka_mock_partition_set_leader(cluster.mc, "mocked", 0, 2) == RD_KAFKA_RESP_ERR_NO_ERROR);
    REQUIRE(rd_kafka_mock_partition_set_leader(cluster.mc, "mocked", 1, 3) == RD_KAFKA_RESP_ERR_NO_ERROR);
    constexpr int n = 300;
    REQUIRE(produce_with_librdkafka(cluster.bootstraps(), "mocked", 0, n) == n);
    REQUIRE(produce_with_librdkafka(cluster.bootstraps(), "mocked", 1, 7) == 7);

    consumer_config cfg;
    cfg.bootstrap_servers = cluster.bootstraps();
    cfg.auto_offset_reset = offset_reset::earliest;
    cfg.fetch_max_wait_ms = 100;
    cfg.max_partition_fetch_bytes = 2048; // several fetch rounds
    consumer c{cfg, fetch_transport::tcp{cfg}};
    const topic_partition p0{"mocked", partition_id{0}}, p1{"mocked", partition_id{1}};
    c.assign({p0, p1});

    std::vector<std::pair<std::int64_t, std::string>> got0, got1;
    const auto until = std::chrono::steady_clock::now() + 10s;
    for (int i = 0; i < 500 && (got0.size() < n || got1.size() < 7) && std::chrono::steady_clock::now() < until; ++i) {
        auto r = c.poll(200ms);
        for (const auto& e : r.errors()) FAIL("poll error: " << e.error.message());
        r.for_each_record([&](const consumed_batch& b, const wire::record_view& rec) {
            auto& dst = b.tp->partition == partition_id{0} ? got0 : got1;
            const auto idx = static_cast<int>(dst.size());
            CHECK(as_string_view(*rec.key) == "k-" + std::to_string(idx));
            dst.emplace_back(rec.record_offset.value(), std::string(as_string_view(*rec.value)));
        });
    }
    REQUIRE(got0.size() == n);
    REQUIRE(got1.size() == 7);
    for (int i = 0; i < n; ++i) {
        CHECK(got0[i].first == i);
        CHECK(got0[i].second == "m-" + std::to_string(i));
    }
    CHECK(got1.back() == std::pair<std::int64_t, std::string>{6, "m-6"});

    // Negotiated with the mock's ranges, not hard-coded: ApiVersions fell back below 3.
    CHECK(c.transport().api_versions_requests() >= 2);
    CHECK(c.transport().negotiated(wire::api_key::api_versions) <= std::int16_t{2});
    CHECK(c.transport().negotiated(wire::api_key::metadata) == std::int16_t{2});
    CHECK(c.transport().negotiated(wire::api_key::fetch) == std::int16_t{11});

    // ListOffsets against the mock: beginning, end.
    REQUIRE(!c.seek_to_beginning(p0));
    CHECK(c.position(p0) == offset{0});
    REQUIRE(!c.seek_to_end(p0));
    CHECK(c.position(p0) == offset{n});
}

TEST_CASE("a leader move in the mock is followed after a metadata refresh", "[mock]") {
    mock_cluster cluster(2);
    REQUIRE(rd_kafka_mock_topic_create(cluster.mc, "moving", 1, 2) == RD_KAFKA_RESP_ERR_NO_ERROR);
    REQUIRE(rd_kafka_mock_partition_set_leader(cluster.mc, "moving", 0, 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
    REQUIRE(produce_with_librdkafka(cluster.bootstraps(), "moving", 0, 5) == 5);

    consumer_config cfg;
    cfg.bootstrap_servers = cluster.bootstraps();
    cfg.auto_offset_reset = offset_reset::earliest;
    cfg.fetch_max_wait_ms = 50;
    cfg.retry_backoff_ms = 10;
    consumer c{cfg, fetch_transport::tcp{cfg}};
    const topic_partition p{"moving", partition_id{0}};
    c.assign({p});
    std::size_t got = 0;
    for (int i = 0; i < 50 && got < 5; ++i) got += c.poll(200ms).record_count();
    REQUIRE(got == 5);

    REQUIRE(rd_kafka_mock_partition_set_leader(cluster.mc, "moving", 0, 2) == RD_KAFKA_RESP_ERR_NO_ERROR);
    REQUIRE(produce_with_librdkafka(cluster.bootstraps(), "moving", 0, 3) == 3);
    got = 0;
    for (int i = 0; i < 50 && got < 3; ++i) got += c.poll(200ms).record_count();
    CHECK(got == 3);
    CHECK(c.position(p) == offset{8});
}

TEST_CASE("injected fetch errors and dropped connections are retried without losing or repeating records", "[mock]") {
    mock_cluster cluster(1);
    REQUIRE(rd_kafka_mock_topic_create(cluster.mc, "faulty", 1, 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
    constexpr int n = 50;
    REQUIRE(produce_with_librdkafka(cluster.bootstraps(), "faulty", 0, n) == n);

    consumer_config cfg;
    cfg.bootstrap_servers = cluster.bootstraps();
    cfg.auto_offset_reset = offset_reset::earliest;
    cfg.fetch_max_wait_ms = 50;
    cfg.retry_backoff_ms = 5;
    cfg.max_partition_fetch_bytes = 512;
    consumer c{cfg, fetch_transport::tcp{cfg}};
    const topic_partition p{"faulty", partition_id{0}};
    c.assign({p});
    REQUIRE(!c.seek_to_beginning(p));
    rd_kafka_mock_push_request_errors(cluster.mc, 1 /* Fetch */, 4, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                      RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                                      RD_KAFKA_RESP_ERR__TRANSPORT);
    std::vector<std::int64_t> offsets;
    const auto until = std::chrono::steady_clock::now() + 10s;
    for (int i = 0; i < 500 && offsets.size() < n && std::chrono::steady_clock::now() < until; ++i) {
        auto r = c.poll(200ms);
        for (const auto& e : r.errors()) FAIL("non-retriable poll error: " << e.error.message());
        r.for_each_record(
            [&](const consumed_batch&, const wire::record_view& rec) { offsets.push_back(rec.record_offset.value()); });
    }
    REQUIRE(offsets.size() == n);
    for (int i = 0; i < n; ++i) CHECK(offsets[i] == i);
}

TEST_CASE("gregor group consumers join, rebalance and commit against librdkafka's mock coordinator", "[mock]") {
    mock_cluster cluster(2);
    REQUIRE(rd_kafka_mock_topic_create(cluster.mc, "grouped", 2, 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
    REQUIRE(produce_with_librdkafka(cluster.bootstraps(), "grouped", 0, 20) == 20);
    REQUIRE(produce_with_librdkafka(cluster.bootstraps(), "grouped", 1, 30) == 30);

    consumer_config cfg;
    cfg.bootstrap_servers = cluster.bootstraps();
    cfg.group_id = "mock-group";
    cfg.auto_offset_reset = offset_reset::earliest;
    cfg.enable_auto_commit = false;
    cfg.fetch_max_wait_ms = 50;
    cfg.heartbeat_interval_ms = 100;
    cfg.session_timeout_ms = 6000;
    consumer a{cfg, fetch_transport::tcp{cfg}};
    a.subscribe({"grouped"});
    std::size_t read_a = 0, read_b = 0;
    const auto until = std::chrono::steady_clock::now() + 60s;
    while (read_a < 50 && std::chrono::steady_clock::now() < until) read_a += a.poll(50ms).record_count();
    CHECK(read_a == 50);
    CHECK(a.assignment().size() == 2);
    REQUIRE(!a.commit_sync());
    const auto c = a.committed({{"grouped", partition_id{0}}, {"grouped", partition_id{1}}});
    REQUIRE(!c.error);
    REQUIRE(c.partitions.size() == 2);
    for (const auto& p : c.partitions) CHECK(p.next.value() == (p.tp.partition == partition_id{0} ? 20 : 30));

    // A second member: the mock coordinator rebalances, one partition each, and nothing committed
    // is read again.
    consumer b{cfg, fetch_transport::tcp{cfg}};
    b.subscribe({"grouped"});
    const auto until2 = std::chrono::steady_clock::now() + 60s;
    while ((a.assignment().size() != 1 || b.assignment().size() != 1) && std::chrono::steady_clock::now() < until2) {
        read_a += a.poll(50ms).record_count();
        read_b += b.poll(50ms).record_count();
    }
    CHECK(a.assignment().size() == 1);
    CHECK(b.assignment().size() == 1);
    REQUIRE(produce_with_librdkafka(cluster.bootstraps(), "grouped", 0, 5) == 5);
    REQUIRE(produce_with_librdkafka(cluster.bootstraps(), "grouped", 1, 5) == 5);
    const auto until3 = std::chrono::steady_clock::now() + 30s;
    while (read_a + read_b < 60 && std::chrono::steady_clock::now() < until3) {
        read_a += a.poll(50ms).record_count();
        read_b += b.poll(50ms).record_count();
    }
    CHECK(read_a == 55);
    CHECK(read_b == 5);
}
