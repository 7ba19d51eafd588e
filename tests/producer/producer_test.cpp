// The producer against the mock broker: completions, ordering, payload round trip, acks, flush,
// close, partitioners, metrics. (fault_test.cpp runs the real broker behind a faulty transport.)
#include "mock_broker.hpp"
#include "test_util.hpp"

#include <gregor/producer/producer.hpp>
#include <gregor/producer/transports.hpp>
#include <gregor/testing/faulty_transport.hpp>
#include <gregor/testing/manual_clock.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace gregor;
using namespace std::chrono_literals;
using gregor::test::mock_broker;
using gregor::test::read_partition;

namespace {

using mock_transport = transport::in_process<mock_broker>;

template <typename Partitioner = partitioners::uniform_sticky, typename Batching = batching::linger_or_size,
          typename Acks = acks::from_config>
using mock_producer = producer<producer_policies<mock_transport, Partitioner, Batching, Acks>>;

/// Collects completions from the sender thread.
struct outcomes {
    std::mutex mu;
    std::map<std::string, std::vector<delivery_report>> by_value; // value -> every completion seen
    std::map<std::string, std::set<std::string>> topics; // value -> topics seen (the view dies with the producer)
    std::atomic<int> count{0};

    auto callback(std::string value) {
        return [this, value = std::move(value)](std::error_code ec, const record_metadata& md) {
            std::lock_guard lk(mu);
            by_value[value].push_back({md, ec});
            topics[value].insert(std::string(md.topic));
            ++count;
        };
    }
};

producer_config quick() {
    producer_config c;
    c.linger_ms = 1;
    return c;
}

} // namespace

TEST_CASE("every record is acknowledged exactly once with the offset it got, in partition order", "[producer]") {
    mock_broker b(3);
    outcomes out;
    const int n = 20000;
    {
        mock_producer<> p(quick(), mock_transport{b});
        for (int i = 0; i < n; ++i) {
            const std::string key = "key-" + std::to_string(i % 101);
            const std::string value = key + "#" + std::to_string(i);
            REQUIRE(!p.send({.topic = "orders", .key = key, .value = value}, out.callback(value)));
        }
        REQUIRE(!p.flush());
        CHECK(out.count == n); // all completions ran before flush() returned
    }
    REQUIRE(out.by_value.size() == static_cast<std::size_t>(n));
    std::size_t in_log = 0;
    for (std::int32_t part = 0; part < 3; ++part) {
        std::map<std::string, int> last;
        for (const auto& r : read_partition(b, "orders", part)) {
            ++in_log;
            REQUIRE(r.key);
            CHECK(partitioners::murmur2_partition(as_bytes(*r.key), 3) == part);
            const auto& reports = out.by_value.at(*r.value);
            REQUIRE(reports.size() == 1);
            CHECK(!reports[0].error);
            CHECK(reports[0].metadata.offset == r.at);
            CHECK(reports[0].metadata.partition == partition_id{part});
            CHECK(out.topics.at(*r.value) == std::set<std::string>{"orders"});
            const int seq = std::stoi(r.value->substr(r.value->find('#') + 1));
            auto it = last.find(*r.key);
            if (it != last.end()) CHECK(seq > it->second);
            last[*r.key] = seq;
        }
    }
    CHECK(in_log == static_cast<std::size_t>(n));
}

TEST_CASE("send with use_future returns a future of the delivery report", "[producer]") {
    mock_broker b(2);
    mock_producer<> p(quick(), mock_transport{b});
    auto f1 = p.send({.topic = "t", .partition = partition_id{1}, .value = "a"}, use_future);
    auto f2 = p.send({.topic = "t", .partition = partition_id{1}, .value = "b"}, use_future);
    const auto r1 = f1.get();
    const auto r2 = f2.get();
    CHECK(!r1.error);
    CHECK(!r2.error);
    CHECK(r1.metadata.partition == partition_id{1});
    CHECK(r1.metadata.offset == offset{0});
    CHECK(r2.metadata.offset == offset{1});
    CHECK(r1.metadata.serialized_value_size == 1);
    CHECK(r1.metadata.serialized_key_size == -1);
}

TEST_CASE("headers, null keys, tombstones and timestamps arrive as sent", "[producer]") {
    mock_broker b(1);
    {
        mock_producer<> p(quick(), mock_transport{b});
        const std::string hv = "trace-1";
        const record_header hs[] = {{"trace", as_bytes(hv)}, {"empty", std::nullopt}};
        REQUIRE(!p.send({.topic = "t", .key = "k", .value = "v", .headers = hs, .timestamp = 1234567}));
        REQUIRE(!p.send({.topic = "t", .key = "k"})); // tombstone
        REQUIRE(!p.send({.topic = "t", .value = "no key"}));
        REQUIRE(!p.flush());
    }
    const auto recs = read_partition(b, "t", 0);
    REQUIRE(recs.size() == 3);
    CHECK(recs[0].key == "k");
    CHECK(recs[0].value == "v");
    CHECK(recs[0].timestamp == 1234567);
    REQUIRE(recs[0].headers.size() == 2);
    CHECK(recs[0].headers[0].first == "trace");
    CHECK(recs[0].headers[0].second == "trace-1");
    CHECK(recs[0].headers[1].first == "empty");
    CHECK(!recs[0].headers[1].second);
    CHECK(recs[1].key == "k");
    CHECK(!recs[1].value);
    CHECK(!recs[2].key);
    CHECK(recs[2].value == "no key");
    CHECK(recs[2].timestamp > 1600000000000); // stamped with the wall clock
}

TEST_CASE("acks=0 completes records without offsets", "[producer]") {
    mock_broker b(1);
    outcomes out;
    {
        mock_producer<partitioners::uniform_sticky, batching::linger_or_size, acks::none> p(quick(), mock_transport{b});
        CHECK(p.acks() == 0);
        CHECK(!p.idempotent());
        for (int i = 0; i < 100; ++i) {
            const auto v = std::to_string(i);
            REQUIRE(!p.send({.topic = "t", .value = v}, out.callback(v)));
        }
        REQUIRE(!p.flush());
    }
    REQUIRE(out.count == 100);
    for (auto& [v, reports] : out.by_value) {
        REQUIRE(reports.size() == 1);
        CHECK(!reports[0].error);
        CHECK(reports[0].metadata.offset == offset{-1});
    }
    CHECK(read_partition(b, "t", 0).size() == 100); // they did arrive
}

TEST_CASE("acks=0 with more ready batches than one sender turn sends them all without waiting", "[producer]") {
    // acks=0 requests hold no in-flight slot and get no answer: a sender turn that stops at its
    // per-turn bound with batches left must run again at once, not sleep until the next record.
    mock_broker b(1);
    outcomes out;
    constexpr int n = 2000;
    {
        auto cfg = quick();
        cfg.batch_size = 256; // ~10 records a batch: 200 batches for one partition
        cfg.linger_ms = 1000; // closed batches are ready at once, the last only at flush()
        cfg.request_timeout_ms = 1000;
        cfg.delivery_timeout_ms = 3000; // a stalled batch would fail with timed_out here
        mock_producer<partitioners::uniform_sticky, batching::linger_or_size, acks::none> p(cfg, mock_transport{b});
        for (int i = 0; i < n; ++i) {
            const auto v = std::to_string(i);
            REQUIRE(!p.send({.topic = "t", .partition = partition_id{0}, .value = v}, out.callback(v)));
        }
        REQUIRE(!p.flush());
    }
    REQUIRE(out.count == n);
    for (auto& [v, reports] : out.by_value) CHECK(!reports[0].error);
    CHECK(read_partition(b, "t", 0).size() == static_cast<std::size_t>(n));
}

TEST_CASE("a record send() rejects completes on the calling thread before send() returns", "[producer]") {
    mock_broker b(2);
    producer_config c = quick();
    c.max_request_size = 1000;
    mock_producer<> p(c, mock_transport{b});
    REQUIRE(!p.send({.topic = "t", .value = "warm up"}, use_future).get().error);
    const auto me = std::this_thread::get_id();
    std::thread::id ran_on;
    std::error_code seen;
    const std::string big(2000, 'x');
    const auto ec = p.send({.topic = "t", .value = big}, [&](std::error_code e, const record_metadata&) {
        ran_on = std::this_thread::get_id();
        seen = e;
    });
    CHECK(ec == make_error_code(error_code::message_too_large));
    CHECK(seen == ec);
    CHECK(ran_on == me);
    // An explicit partition outside the topic.
    auto f = p.send({.topic = "t", .partition = partition_id{5}, .value = "v"}, use_future);
    CHECK(f.get().error == make_error_code(local_error::invalid_argument));
    // A negative timestamp other than -1 (NO_TIMESTAMP: stamp it at send()).
    auto g = p.send({.topic = "t", .value = "v", .timestamp = -5}, use_future);
    CHECK(g.get().error == make_error_code(local_error::invalid_argument));
    CHECK(p.metrics().records_rejected == 3);
}

TEST_CASE("completions run on the sender thread, may send, and may not flush", "[producer]") {
    mock_broker b(1);
    mock_producer<> p(quick(), mock_transport{b});
    std::promise<std::pair<std::thread::id, std::error_code>> inner;
    std::atomic<bool> chained{false};
    p.send({.topic = "t", .value = "first"}, [&](std::error_code, const record_metadata&) {
        const auto flush_ec = p.flush(); // would deadlock: refused
        const auto send_ec = p.send({.topic = "t", .value = "from callback"},
                                    [&](std::error_code, const record_metadata&) { chained = true; });
        inner.set_value({std::this_thread::get_id(), flush_ec ? flush_ec : send_ec});
    });
    auto [tid, ec] = inner.get_future().get();
    CHECK(tid != std::this_thread::get_id());
    CHECK(ec == make_error_code(local_error::invalid_argument));
    REQUIRE(!p.flush());
    CHECK(chained);
}

TEST_CASE("flush sends lingering batches at once and waits for their completions", "[producer]") {
    mock_broker b(4);
    producer_config c;
    c.linger_ms = 3600'000; // would never go by itself within the test
    c.delivery_timeout_ms = 4000'000;
    mock_producer<> p(c, mock_transport{b});
    std::atomic<int> done{0};
    for (int i = 0; i < 1000; ++i)
        REQUIRE(!p.send({.topic = "t", .key = std::to_string(i), .value = "v"},
                        [&](std::error_code ec, const record_metadata&) { done += ec ? 0 : 1; }));
    REQUIRE(!p.flush());
    CHECK(done == 1000);
    CHECK(p.metrics().records_acked == 1000);
}

TEST_CASE("manual batching sends nothing until flush", "[producer]") {
    mock_broker b(1);
    mock_producer<partitioners::uniform_sticky, batching::manual> p(quick(), mock_transport{b});
    for (int i = 0; i < 3000; ++i) REQUIRE(!p.send({.topic = "t", .value = "0123456789"})); // > 1 batch.size
    REQUIRE(p.wait_until_idle());
    CHECK(b.produce_calls() == 0);
    CHECK(p.metrics().buffer_memory_used > 16384);
    REQUIRE(!p.flush());
    CHECK(read_partition(b, "t", 0).size() == 3000);
    CHECK(p.metrics().buffer_memory_used == 0);
}

TEST_CASE("close drains what is buffered, rejects later records and is idempotent", "[producer]") {
    mock_broker b(2);
    outcomes out;
    mock_producer<> p(quick(), mock_transport{b});
    for (int i = 0; i < 500; ++i) {
        const auto v = std::to_string(i);
        REQUIRE(!p.send({.topic = "t", .value = v}, out.callback(v)));
    }
    CHECK(!p.close());
    CHECK(out.count == 500);
    auto f = p.send({.topic = "t", .value = "late"}, use_future);
    CHECK(f.get().error == make_error_code(local_error::closed));
    CHECK(!p.close());
    CHECK(!p.close(0ms));
}

TEST_CASE("sticky partitioners spread keyless records over partitions batch by batch", "[producer]") {
    mock_broker b(4);
    producer_config c = quick();
    c.batch_size = 1024;
    {
        mock_producer<partitioners::sticky> p(c, mock_transport{b});
        for (int i = 0; i < 4000; ++i) REQUIRE(!p.send({.topic = "t", .value = "0123456789abcdef"}));
        REQUIRE(!p.flush());
    }
    std::size_t total = 0;
    for (std::int32_t part = 0; part < 4; ++part) {
        const auto n = read_partition(b, "t", part).size();
        CHECK(n > 0);
        total += n;
    }
    CHECK(total == 4000);
}

TEST_CASE("an idempotent producer stamps its id, epoch and consecutive sequences", "[producer]") {
    mock_broker b(2);
    {
        producer_config c = quick();
        c.batch_size = 512;
        mock_producer<> p(c, mock_transport{b});
        CHECK(p.idempotent());
        CHECK(p.acks() == -1);
        for (int i = 0; i < 2000; ++i) REQUIRE(!p.send({.topic = "t", .key = std::to_string(i % 10), .value = "v"}));
        REQUIRE(!p.flush());
    }
    for (std::int32_t part = 0; part < 2; ++part) {
        std::int32_t next = 0;
        for (const auto& batch : b.batches("t", part)) {
            const auto h = *wire::batch_header::parse(batch.view());
            CHECK(h.producer_id.value() >= 1000);
            CHECK(h.producer_epoch == producer_epoch{0});
            CHECK(h.base_sequence == sequence{next});
            next += h.records_count;
        }
        CHECK(next > 0);
    }
    CHECK(b.duplicates() == 0);
}

TEST_CASE("without idempotence batches carry no producer identity", "[producer]") {
    mock_broker b(1);
    {
        producer_config c = quick();
        c.enable_idempotence = false;
        mock_producer<> p(c, mock_transport{b});
        CHECK(!p.idempotent());
        REQUIRE(!p.send({.topic = "t", .value = "v"}, use_future).get().error);
    }
    const auto h = *wire::batch_header::parse(b.batches("t", 0).at(0).view());
    CHECK(h.producer_id == no_producer_id);
    CHECK(h.base_sequence == no_sequence);
}

TEST_CASE("metrics count records, batches, bytes and buffer use", "[producer]") {
    mock_broker b(1);
    mock_producer<> p(quick(), mock_transport{b});
    for (int i = 0; i < 1000; ++i) REQUIRE(!p.send({.topic = "t", .value = "0123456789"}));
    REQUIRE(!p.flush());
    const auto m = p.metrics();
    CHECK(m.records_sent == 1000);
    CHECK(m.records_acked == 1000);
    CHECK(m.records_failed == 0);
    CHECK(m.batches_acked >= 1);
    CHECK(m.batches_sent == m.batches_acked);
    CHECK(m.bytes_sent > 1000 * 10);
    CHECK(m.requests_sent >= 1);
    CHECK(m.avg_batch_records == Approx(1000.0 / static_cast<double>(m.batches_acked)));
    CHECK(m.avg_batch_bytes > 0);
    CHECK(m.buffer_memory_used == 0);
    CHECK(m.buffer_memory_total == 33554432);
    CHECK(m.metadata_requests == 1);
    CHECK(m.in_flight_requests == 0);
}

TEST_CASE("many threads may send at once", "[producer]") {
    mock_broker b(8);
    std::atomic<int> ok{0};
    {
        mock_producer<> p(quick(), mock_transport{b});
        std::vector<std::thread> ts;
        for (int t = 0; t < 4; ++t)
            ts.emplace_back([&, t] {
                for (int i = 0; i < 5000; ++i) {
                    const auto k = std::to_string(t) + "-" + std::to_string(i % 17);
                    (void)p.send({.topic = "t", .key = k, .value = std::to_string(i)},
                                 [&](std::error_code ec, const record_metadata&) { ok += ec ? 0 : 1; });
                }
            });
        for (auto& t : ts) t.join();
        REQUIRE(!p.flush());
    }
    CHECK(ok == 20000);
    std::size_t total = 0;
    for (std::int32_t part = 0; part < 8; ++part) total += read_partition(b, "t", part).size();
    CHECK(total == 20000);
}

TEST_CASE("records for a topic that never appears fail with timed_out at delivery.timeout.ms", "[producer]") {
    mock_broker b(1, /*auto_create=*/false);
    testing::manual_clock mc;
    using P = producer<
        producer_policies<mock_transport, partitioners::uniform_sticky, batching::linger_or_size, acks::from_config,
                          serializers::string, serializers::string, testing::manual_clock_ref>>;
    producer_config c;
    c.delivery_timeout_ms = 2000;
    c.request_timeout_ms = 500;
    P p(c, mock_transport{b}, testing::manual_clock_ref{mc});
    auto f = p.send({.topic = "missing", .value = "v"}, use_future);
    REQUIRE(test::drive(p, mc, [&] { return f.wait_for(0s) == std::future_status::ready; }));
    CHECK(f.get().error == make_error_code(local_error::timed_out));
    CHECK(mc.now() >= time_point{} + 2000ms);
    CHECK(p.metrics().metadata_requests > 1); // it kept asking
}
