// The producer over TCP against a broker gregor did not write: librdkafka's mock cluster
// (rdkafka_mock.h, docs/protocol.md §11). Its fault injection drives the tests: retriable errors
// and dropped connections are retried, leader moves and a broker that goes down are followed,
// fatal errors reach the completion. Records are read back with gregor's TCP consumer. A
// transactional producer goes through the mock's coordinators, with their errors injected.
//
// The 2.0.2 mock does not check sequence numbers of non-transactional producers, so it cannot
// turn a retried batch that overtook its predecessor into OUT_OF_ORDER_SEQUENCE_NUMBER as Kafka
// does: the tests that assert order under injected failures run with
// max.in.flight.requests.per.connection=1 (order with 5 in flight is the broker's job, tested
// against gregor's broker in fault_test.cpp and tcp_test.cpp).
#include "../rdkafka_mock.hpp"
#include "test_util.hpp"

#include <gregor/consumer/consumer.hpp>
#include <gregor/consumer/tcp_transport.hpp>
#include <gregor/producer/producer.hpp>
#include <gregor/producer/tcp_transport.hpp>

#include <catch2/catch.hpp>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace gregor;
using namespace std::chrono_literals;

namespace {

using mock_cluster = gregor::test::rdkafka_mock_cluster;
using gregor::test::reports;

constexpr int produce_api = 0;

using tcp_producer = producer<producer_policies<transport::tcp>>;

producer_config config_for(const mock_cluster& c) {
    producer_config cfg;
    cfg.bootstrap_servers = c.bootstraps();
    cfg.linger_ms = 2;
    cfg.batch_size = 4096; // many batches, so faults land in the middle of the stream
    cfg.retry_backoff_ms = 5;
    cfg.retry_backoff_max_ms = 50;
    cfg.reconnect_backoff_ms = 5;
    cfg.reconnect_backoff_max_ms = 50;
    // Generous: the mock does not de-duplicate (above), so a request that times out on a loaded
    // CI machine (the sanitizer builds run these tests several times slower) and is retried while
    // the mock still appends the first copy would break the order checks for a reason that is
    // not the producer's. No test here injects a timeout.
    cfg.request_timeout_ms = 30000;
    return cfg;
}

struct stored {
    std::int64_t at;
    std::string key, value;
};

/// Every record of `topic` partitions 0..n-1 in the mock, read with gregor's TCP consumer until
/// `expected` records arrived, or with `expected` 0 until each partition's end offset as
/// ListOffsets gave it before reading (bounded in time and rounds).
std::map<std::int32_t, std::vector<stored>> read_back(const mock_cluster& c, const std::string& topic, std::int32_t n,
                                                      std::size_t expected) {
    consumer_config cfg;
    cfg.bootstrap_servers = c.bootstraps();
    cfg.auto_offset_reset = offset_reset::earliest;
    cfg.fetch_max_wait_ms = 50;
    consumer cons{cfg, fetch_transport::tcp{cfg}};
    std::vector<topic_partition> tps;
    for (std::int32_t p = 0; p < n; ++p) tps.push_back({topic, partition_id{p}});
    cons.assign(tps);
    if (expected == 0) {
        for (const auto& tp : tps) {
            REQUIRE(!cons.seek_to_end(tp));
            expected += static_cast<std::size_t>(cons.position(tp)->value());
            REQUIRE(!cons.seek_to_beginning(tp));
        }
    }
    std::map<std::int32_t, std::vector<stored>> out;
    std::size_t got = 0;
    const auto until = std::chrono::steady_clock::now() + 20s;
    for (int i = 0; i < 2000 && got < expected && std::chrono::steady_clock::now() < until; ++i) {
        auto r = cons.poll(200ms);
        for (const auto& e : r.errors()) FAIL("poll error: " << e.error.message());
        r.for_each_record([&](const consumed_batch& b, const wire::record_view& rec) {
            out[b.tp->partition.value()].push_back({rec.record_offset.value(), std::string(as_string_view(*rec.key)),
                                                    std::string(as_string_view(*rec.value))});
            ++got;
        });
    }
    return out;
}

/// Checks: every sent value is in the log once, at the offset and partition its completion
/// reported; with `ordered`, each key's values appear in send order.
void verify(const std::map<std::int32_t, std::vector<stored>>& log, reports& out, std::size_t sent, bool ordered) {
    std::size_t total = 0;
    std::map<std::string, int> seen;
    for (const auto& [part, recs] : log) {
        std::map<std::string, int> last;
        for (const auto& r : recs) {
            ++total;
            CHECK(++seen[r.value] == 1);
            const auto it = out.by_value.find(r.value);
            REQUIRE(it != out.by_value.end());
            REQUIRE(it->second.size() == 1);
            CHECK(!it->second[0].error);
            CHECK(it->second[0].metadata.partition == partition_id{part});
            CHECK(it->second[0].metadata.offset == offset{r.at});
            if (ordered) {
                const int seq = std::stoi(r.value.substr(r.value.find('#') + 1));
                auto l = last.find(r.key);
                if (l != last.end()) CHECK(seq > l->second);
                last[r.key] = seq;
            }
        }
    }
    CHECK(total == sent);
    CHECK(seen.size() == sent);
}

void send_keyed(tcp_producer& p, reports& out, const std::string& topic, int from, int to) {
    for (int i = from; i < to; ++i) {
        const std::string key = "key-" + std::to_string(i % 31);
        const std::string value = key + "#" + std::to_string(i);
        REQUIRE(!p.send({.topic = topic, .key = key, .value = value}, out.callback(value)));
    }
}

} // namespace

TEST_CASE("into librdkafka's mock cluster: leaders on three brokers, every record once at its offset", "[mock]") {
    mock_cluster cluster(3);
    REQUIRE(rd_kafka_mock_topic_create(cluster.mc, "spread", 4, 3) == RD_KAFKA_RESP_ERR_NO_ERROR);
    for (int p = 0; p < 4; ++p)
        REQUIRE(rd_kafka_mock_partition_set_leader(cluster.mc, "spread", p, 1 + p % 3) == RD_KAFKA_RESP_ERR_NO_ERROR);
    reports out;
    constexpr int n = 10000;
    {
        auto cfg = config_for(cluster);
        tcp_producer p(cfg, transport::tcp{cfg});
        send_keyed(p, out, "spread", 0, n);
        REQUIRE(!p.flush());
        CHECK(out.count == n);
        const auto& c = p.transport().counters();
        // The mock's ranges (§11.2), not ours: ApiVersions fell back below 3, Metadata capped at 2.
        CHECK(c.api_versions_version < 3);
        CHECK(c.api_versions_requests >= 2);
        CHECK(c.metadata_version == 2);
        CHECK(c.produce_version == 7);
        CHECK(c.init_producer_id_version == 4);
        CHECK(c.connects >= 3); // one per leader ...
        CHECK(c.connects <= 4); // ... and the bootstrap connection: one per broker, no churn
        CHECK(c.disconnects == 0);
    }
    verify(read_back(cluster, "spread", 4, n), out, n, true);
}

TEST_CASE("into the mock: injected retriable errors and dropped connections are retried, once and in order", "[mock]") {
    mock_cluster cluster(1);
    REQUIRE(rd_kafka_mock_topic_create(cluster.mc, "faulty", 2, 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
    reports out;
    constexpr int n = 6000;
    {
        auto cfg = config_for(cluster);
        cfg.max_in_flight_requests_per_connection = 1;
        tcp_producer p(cfg, transport::tcp{cfg});
        send_keyed(p, out, "faulty", 0, 200);
        REQUIRE(!p.flush()); // connected, metadata and producer id known: the faults hit Produce
        rd_kafka_mock_push_request_errors(cluster.mc, produce_api, 12, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                                          RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR__TRANSPORT,
                                          RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                          RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE, RD_KAFKA_RESP_ERR__TRANSPORT,
                                          RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                                          RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                          RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, RD_KAFKA_RESP_ERR__TRANSPORT);
        send_keyed(p, out, "faulty", 200, n);
        REQUIRE(!p.flush());
        CHECK(out.count == n);
        const auto m = p.metrics();
        CHECK(m.retries >= 12); // every injected error cost one attempt
        CHECK(m.request_timeouts == 0);
        CHECK(p.transport().counters().disconnects >= 4);
    }
    verify(read_back(cluster, "faulty", 2, n), out, n, true);
}

TEST_CASE("into the mock with five requests in flight: errors it answers lose and repeat nothing", "[mock]") {
    // Injected errors are whole-request answers: the mock appends nothing, so a retry cannot
    // duplicate; with five in flight a retried batch may land after a later one (no order check).
    mock_cluster cluster(2);
    REQUIRE(rd_kafka_mock_topic_create(cluster.mc, "window", 3, 2) == RD_KAFKA_RESP_ERR_NO_ERROR);
    reports out;
    constexpr int n = 6000;
    {
        auto cfg = config_for(cluster);
        tcp_producer p(cfg, transport::tcp{cfg});
        send_keyed(p, out, "window", 0, 100);
        REQUIRE(!p.flush());
        rd_kafka_mock_push_request_errors(cluster.mc, produce_api, 8, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                                          RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                                          RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                          RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                                          RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
        send_keyed(p, out, "window", 100, n);
        REQUIRE(!p.flush());
        CHECK(out.count == n);
        CHECK(p.metrics().retries >= 8);
    }
    verify(read_back(cluster, "window", 3, n), out, n, false);
}

TEST_CASE("into the mock with five requests in flight: dropped connections lose nothing and stall nothing", "[mock]") {
    // The mock closes the connection on an injected transport error after it may already have
    // appended the requests pipelined behind it; their answers are lost and the producer resends
    // them. A Kafka broker drops those resends by sequence number (tested against gregor's broker
    // in tcp_test.cpp); this mock does not check sequences, so copies are allowed here. What must
    // hold: every record is in the log, its completion names an offset that holds it, and the
    // requests on a dropped connection are answered at once (none waits for request.timeout.ms).
    mock_cluster cluster(2);
    REQUIRE(rd_kafka_mock_topic_create(cluster.mc, "dropped", 3, 2) == RD_KAFKA_RESP_ERR_NO_ERROR);
    reports out;
    constexpr int n = 6000;
    std::size_t written = 0;
    {
        auto cfg = config_for(cluster);
        tcp_producer p(cfg, transport::tcp{cfg});
        send_keyed(p, out, "dropped", 0, 100);
        REQUIRE(!p.flush());
        rd_kafka_mock_push_request_errors(cluster.mc, produce_api, 4, RD_KAFKA_RESP_ERR__TRANSPORT,
                                          RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR__TRANSPORT,
                                          RD_KAFKA_RESP_ERR__TRANSPORT);
        send_keyed(p, out, "dropped", 100, n);
        REQUIRE(!p.flush());
        CHECK(out.count == n);
        CHECK(p.metrics().request_timeouts == 0);
        CHECK(p.transport().counters().disconnects >= 1); // pipelined requests may share one
        written = static_cast<std::size_t>(p.metrics().records_acked);
    }
    CHECK(written == static_cast<std::size_t>(n));
    const auto log = read_back(cluster, "dropped", 3, 0); // 0: up to each partition's end
    std::set<std::string> present;
    for (const auto& [part, recs] : log) {
        for (const auto& r : recs) present.insert(r.value);
    }
    CHECK(present.size() == static_cast<std::size_t>(n));
    for (const auto& [value, reps] : out.by_value) {
        REQUIRE(reps.size() == 1);
        REQUIRE(!reps[0].error);
        const auto& recs = log.at(reps[0].metadata.partition.value());
        const auto at = static_cast<std::size_t>(reps[0].metadata.offset.value());
        REQUIRE(at < recs.size());
        CHECK(recs[at].at == static_cast<std::int64_t>(at));
        CHECK(recs[at].value == value);
    }
}

TEST_CASE("into the mock: a leader move mid-stream is followed after NOT_LEADER and a metadata refresh", "[mock]") {
    mock_cluster cluster(2);
    REQUIRE(rd_kafka_mock_topic_create(cluster.mc, "moving", 1, 2) == RD_KAFKA_RESP_ERR_NO_ERROR);
    REQUIRE(rd_kafka_mock_partition_set_leader(cluster.mc, "moving", 0, 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
    reports out;
    constexpr int n = 4000;
    {
        auto cfg = config_for(cluster);
        cfg.max_in_flight_requests_per_connection = 1; // see the top of this file
        tcp_producer p(cfg, transport::tcp{cfg});
        send_keyed(p, out, "moving", 0, n / 2);
        REQUIRE(!p.flush());
        const auto meta_before = p.metrics().metadata_requests;
        REQUIRE(rd_kafka_mock_partition_set_leader(cluster.mc, "moving", 0, 2) == RD_KAFKA_RESP_ERR_NO_ERROR);
        send_keyed(p, out, "moving", n / 2, n);
        REQUIRE(!p.flush());
        CHECK(out.count == n);
        CHECK(p.metrics().metadata_requests > meta_before);
    }
    verify(read_back(cluster, "moving", 1, n), out, n, true);
}

TEST_CASE("into the mock: a broker that is down, then up again, gets every record once", "[mock]") {
    mock_cluster cluster(1);
    REQUIRE(rd_kafka_mock_topic_create(cluster.mc, "outage", 1, 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
    reports out;
    constexpr int n = 3000;
    {
        auto cfg = config_for(cluster);
        cfg.max_in_flight_requests_per_connection = 1;
        tcp_producer p(cfg, transport::tcp{cfg});
        send_keyed(p, out, "outage", 0, n / 2);
        REQUIRE(!p.flush());
        REQUIRE(rd_kafka_mock_broker_set_down(cluster.mc, 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
        send_keyed(p, out, "outage", n / 2, n);
        // Wait (bounded) until the producer has seen the outage before bringing the broker back.
        const auto until = std::chrono::steady_clock::now() + 10s;
        while (p.transport().counters().connect_failures + p.transport().counters().disconnects == 0 &&
               std::chrono::steady_clock::now() < until)
            std::this_thread::sleep_for(2ms);
        CHECK(p.transport().counters().connect_failures + p.transport().counters().disconnects > 0);
        REQUIRE(rd_kafka_mock_broker_set_up(cluster.mc, 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
        REQUIRE(!p.flush());
        CHECK(out.count == n);
    }
    verify(read_back(cluster, "outage", 1, n), out, n, true);
}

TEST_CASE("into the mock: a fatal error, and a retriable one past `retries`, reach the completion", "[mock]") {
    mock_cluster cluster(1);
    REQUIRE(rd_kafka_mock_topic_create(cluster.mc, "fatal", 1, 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
    auto cfg = config_for(cluster);
    cfg.retries = 2;
    cfg.enable_idempotence = false; // idempotence needs retries > 0 only; keep the plain path here
    cfg.max_in_flight_requests_per_connection = 1;
    tcp_producer p(cfg, transport::tcp{cfg});
    REQUIRE(!p.send({.topic = "fatal", .value = "warm-up"}, use_future).get().error);

    rd_kafka_mock_push_request_errors(cluster.mc, produce_api, 1, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
    auto too_large = p.send({.topic = "fatal", .value = "a"}, use_future).get();
    CHECK(too_large.error == make_error_code(error_code::message_too_large));
    CHECK(too_large.metadata.offset == offset{-1});

    rd_kafka_mock_push_request_errors(cluster.mc, produce_api, 3, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                                      RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
    auto exhausted = p.send({.topic = "fatal", .value = "b"}, use_future).get();
    CHECK(exhausted.error == make_error_code(error_code::not_enough_replicas));

    rd_kafka_mock_push_request_errors(cluster.mc, produce_api, 1, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
    auto denied = p.send({.topic = "fatal", .value = "c"}, use_future).get();
    CHECK(denied.error == make_error_code(error_code::topic_authorization_failed));

    // The producer is still usable, and nothing of the failed records was written.
    auto ok = p.send({.topic = "fatal", .value = "d"}, use_future).get();
    REQUIRE(!ok.error);
    CHECK(ok.metadata.offset == offset{1});
}

TEST_CASE("into the mock with acks=0: the answers the mock sends anyway are skipped, nothing is lost", "[mock]") {
    // The 2.0.2 mock answers Produce even with acks=0 (§11.3); a real broker does not. The
    // transport must neither choke on those answers nor wait for them.
    mock_cluster cluster(1);
    REQUIRE(rd_kafka_mock_topic_create(cluster.mc, "fire", 1, 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
    reports out;
    constexpr int n = 3000;
    {
        auto cfg = config_for(cluster);
        cfg.acks = 0;
        cfg.enable_idempotence = false;
        tcp_producer p(cfg, transport::tcp{cfg});
        for (int i = 0; i < n; ++i) {
            const std::string v = "key-0#" + std::to_string(i);
            REQUIRE(!p.send({.topic = "fire", .key = "key-0", .value = v}, out.callback(v)));
        }
        REQUIRE(!p.flush());
        CHECK(out.count == n);
        const auto log = read_back(cluster, "fire", 1, n);
        REQUIRE(log.count(0) == 1);
        const auto& recs = log.at(0);
        REQUIRE(recs.size() == static_cast<std::size_t>(n));
        for (int i = 0; i < n; ++i) CHECK(recs[static_cast<std::size_t>(i)].value == "key-0#" + std::to_string(i));
        CHECK(p.transport().counters().disconnects == 0); // no answer was taken for a protocol error
    }
    for (const auto& [v, r] : out.by_value) {
        REQUIRE(r.size() == 1);
        CHECK(!r[0].error);
        CHECK(r[0].metadata.offset == offset{-1});
    }
}

TEST_CASE("into the mock: a leaderless partition holds its records until a leader is back", "[mock]") {
    mock_cluster cluster(2);
    REQUIRE(rd_kafka_mock_topic_create(cluster.mc, "headless", 1, 2) == RD_KAFKA_RESP_ERR_NO_ERROR);
    REQUIRE(rd_kafka_mock_partition_set_leader(cluster.mc, "headless", 0, 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
    reports out;
    constexpr int n = 1000;
    {
        auto cfg = config_for(cluster);
        tcp_producer p(cfg, transport::tcp{cfg});
        send_keyed(p, out, "headless", 0, n / 2);
        REQUIRE(!p.flush());
        // Metadata now names no leader (-1): the records wait and are retried, none fails.
        REQUIRE(rd_kafka_mock_partition_set_leader(cluster.mc, "headless", 0, -1) == RD_KAFKA_RESP_ERR_NO_ERROR);
        const auto retries_before = p.metrics().retries;
        send_keyed(p, out, "headless", n / 2, n);
        const auto until = std::chrono::steady_clock::now() + 10s;
        while (p.metrics().retries < retries_before + 3 && std::chrono::steady_clock::now() < until)
            std::this_thread::sleep_for(2ms);
        CHECK(p.metrics().retries >= retries_before + 3);
        CHECK(out.count == n / 2); // nothing of the second half completed while leaderless
        REQUIRE(rd_kafka_mock_partition_set_leader(cluster.mc, "headless", 0, 2) == RD_KAFKA_RESP_ERR_NO_ERROR);
        REQUIRE(!p.flush());
        CHECK(out.count == n);
    }
    verify(read_back(cluster, "headless", 1, n), out, n, true);
}

TEST_CASE("into the mock: a transactional producer retries coordinator errors, commits, aborts; fenced is fatal",
          "[mock]") {
    // The mock's own transaction and group coordinators, with errors pushed into their answers
    // (docs/protocol.md §7.2, §15): a second implementation of the protocol besides gregor's
    // broker. The mock writes no markers, so what reaches readers is tested against gregor's
    // broker (transactions_test.cpp); here every call and record must succeed, or fail as Java's
    // producer would.
    mock_cluster cluster(3);
    REQUIRE(rd_kafka_mock_topic_create(cluster.mc, "tx", 2, 3) == RD_KAFKA_RESP_ERR_NO_ERROR);
    REQUIRE(rd_kafka_mock_topic_create(cluster.mc, "in", 1, 3) == RD_KAFKA_RESP_ERR_NO_ERROR);
    auto cfg = config_for(cluster);
    cfg.transactional_id = "mock-tx";
    cfg.max_block_ms = 20000;
    tcp_producer p(cfg, transport::tcp{cfg});
    constexpr int init_producer_id_api = 22, add_partitions_api = 24, add_offsets_api = 25, end_txn_api = 26,
                  txn_offset_commit_api = 28;
    const auto push = [&](int api, rd_kafka_resp_err_t e) {
        rd_kafka_mock_push_request_errors(cluster.mc, api, 1, e);
    };
    const auto ok = [](std::error_code ec) {
        INFO(ec.message());
        return !ec;
    };

    rd_kafka_mock_push_request_errors(cluster.mc, init_producer_id_api, 3, RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE,
                                      RD_KAFKA_RESP_ERR_NOT_COORDINATOR, RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS);
    REQUIRE(ok(p.init_transactions()));
    CHECK(p.transport().counters().init_producer_id_version == 4);

    REQUIRE(ok(p.begin_transaction()));
    rd_kafka_mock_push_request_errors(cluster.mc, add_partitions_api, 2, RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS,
                                      RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS);
    std::vector<std::future<delivery_report>> sent;
    for (int i = 0; i < 20; ++i)
        sent.push_back(
            p.send({.topic = "tx", .partition = partition_id{i % 2}, .value = "v" + std::to_string(i)}, use_future));
    push(add_offsets_api, RD_KAFKA_RESP_ERR_NOT_COORDINATOR);
    push(txn_offset_commit_api, RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE);
    CHECK(ok(p.send_offsets_to_transaction({{.topic = "in", .partition = partition_id{0}, .next = offset{3}}},
                                           {.group_id = "mock-group"})));
    push(end_txn_api, RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS);
    REQUIRE(ok(p.commit_transaction()));
    for (auto& f : sent) {
        REQUIRE(f.wait_for(0s) == std::future_status::ready); // completed before the commit returned
        CHECK(ok(f.get().error));
    }

    REQUIRE(ok(p.begin_transaction()));
    auto aborted = p.send({.topic = "tx", .partition = partition_id{0}, .value = std::string("a")}, use_future);
    REQUIRE(ok(p.flush()));
    push(end_txn_api, RD_KAFKA_RESP_ERR_NOT_COORDINATOR);
    REQUIRE(ok(p.abort_transaction()));
    CHECK(ok(aborted.get().error));

    // The group coordinator says the consumer left the generation: abortable.
    REQUIRE(ok(p.begin_transaction()));
    push(txn_offset_commit_api, RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION);
    CHECK(p.send_offsets_to_transaction({{.topic = "in", .partition = partition_id{0}, .next = offset{5}}},
                                        {.group_id = "mock-group", .generation_id = 3, .member_id = "m"}) ==
          make_error_code(error_code::illegal_generation));
    CHECK(p.txn_state() == transaction_state::abortable_error);
    REQUIRE(ok(p.abort_transaction()));

    // EndTxn answered PRODUCER_FENCED: fatal.
    REQUIRE(ok(p.begin_transaction()));
    auto last = p.send({.topic = "tx", .partition = partition_id{1}, .value = std::string("f")}, use_future);
    REQUIRE(ok(p.flush()));
    push(end_txn_api, RD_KAFKA_RESP_ERR_PRODUCER_FENCED);
    CHECK(p.commit_transaction() == make_error_code(error_code::producer_fenced));
    CHECK(p.txn_state() == transaction_state::fatal_error);
    CHECK(p.begin_transaction() == make_error_code(error_code::producer_fenced));
    CHECK(ok(last.get().error));
}
