// The producer under a misbehaving network: testing::faulty_transport in front of an in-process
// broker, a manual clock for every timeout. What the seeds describe is reproduced here: acks=0
// completes without knowing anything; retries without idempotence reorder and duplicate;
// idempotence gives exactly-once, in-order delivery per partition; delivery.timeout.ms bounds
// when a record is reported; buffer.memory bounds what send() accepts.
#include "fault_broker.hpp"
#include "test_util.hpp"

#include <gregor/producer/producer.hpp>
#include <gregor/producer/transports.hpp>
#include <gregor/testing/faulty_transport.hpp>
#include <gregor/testing/manual_clock.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

using namespace gregor;
using namespace gregor::testing;
using namespace std::chrono_literals;
using gregor::test::read_partition;

namespace {

using broker_t = gregor::test::fault_broker;
using inner_t = transport::in_process<broker_t>;
using faulty_t = faulty_transport<inner_t, manual_clock_ref>;
template <typename Batching = batching::linger_or_size>
using faulty_producer = producer<producer_policies<faulty_t, partitioners::uniform_sticky, Batching, acks::from_config,
                                                   serializers::string, serializers::string, manual_clock_ref>>;

/// Per value: every completion it got.
struct ledger {
    std::mutex mu;
    std::map<std::string, std::vector<delivery_report>> reports;
    std::atomic<std::size_t> completions{0};
    auto callback(std::string v) {
        return [this, v = std::move(v)](std::error_code ec, const record_metadata& md) {
            {
                std::lock_guard lk(mu);
                reports[v].push_back({md, ec});
            }
            ++completions;
        };
    }
};

producer_config fault_config() {
    producer_config c;
    c.linger_ms = 0;
    c.batch_size = 512;
    c.request_timeout_ms = 300;
    c.delivery_timeout_ms = 3600'000; // never, unless a test says otherwise
    c.retry_backoff_ms = 5;
    c.retry_backoff_max_ms = 50;
    return c;
}

/// Fixed width, so every record of a test encodes to the same size.
std::string value_of(std::int32_t key, std::int32_t seq) {
    auto s = std::to_string(seq);
    return "k" + std::to_string(key) + ":" + std::string(6 - std::min<std::size_t>(6, s.size()), '0') + s;
}
std::pair<std::string, int> parse(const std::string& v) {
    const auto colon = v.find(':');
    return {v.substr(0, colon), std::stoi(v.substr(colon + 1))};
}

} // namespace

TEST_CASE("idempotence: 100,000 records under 1,000 injected faults arrive exactly once and in order", "[faults]") {
    broker_t b;
    const std::int32_t partitions = 4, keys = 16, n = 100'000;
    b.create_topic("events", partitions);
    manual_clock mc{system_clock{}.wall_ms()}; // real timestamps: the broker applies retention to old ones
    const std::vector<fault> kinds{fault::drop_request, fault::drop_response, fault::duplicate,         fault::delay,
                                   fault::reorder,      fault::error,         fault::error_after_append};
    const std::vector<error_code> errors{error_code::not_leader_or_follower, error_code::request_timed_out,
                                         error_code::not_enough_replicas, error_code::network_exception,
                                         error_code::not_enough_replicas_after_append};
    faulty_t t(inner_t{b}, random_faults(20240611, 0.2, 1000, kinds, errors, 40ms), manual_clock_ref{mc});
    auto counters = t.counters();
    ledger out;
    faulty_producer<> p(fault_config(), std::move(t), manual_clock_ref{mc});
    REQUIRE(p.idempotent());
    std::vector<std::int32_t> next_seq(static_cast<std::size_t>(keys), 0);
    for (std::int32_t i = 0; i < n; ++i) {
        const std::int32_t k = i % keys;
        const auto v = value_of(k, next_seq[static_cast<std::size_t>(k)]++);
        REQUIRE(!p.send({.topic = "events", .key = "k" + std::to_string(k), .value = v}, out.callback(v)));
    }
    REQUIRE(test::drive(p, mc, [&] { return out.completions.load() == static_cast<std::size_t>(n); }));
    CHECK(counters->injected() == 1000);
    for (std::size_t f = 1; f < fault_kinds; ++f) CHECK(counters->count(static_cast<fault>(f)) > 0);

    // Every record completed once, successfully.
    REQUIRE(out.reports.size() == static_cast<std::size_t>(n));
    for (auto& [v, reps] : out.reports) {
        REQUIRE(reps.size() == 1);
        REQUIRE(!reps[0].error);
    }
    // The log: every record once, per key in send order, at the offset its completion reported.
    std::size_t total = 0;
    for (std::int32_t part = 0; part < partitions; ++part) {
        std::map<std::string, int> last;
        for (const auto& r : read_partition(b, "events", part)) {
            ++total;
            const auto [key, seq] = parse(*r.value);
            auto it = last.find(key);
            REQUIRE(seq == (it == last.end() ? 0 : it->second + 1));
            last[key] = seq;
            const auto& rep = out.reports.at(*r.value)[0];
            REQUIRE(rep.metadata.offset == r.at);
            REQUIRE(rep.metadata.partition == partition_id{part});
        }
    }
    CHECK(total == static_cast<std::size_t>(n));
    const auto m = p.metrics();
    CHECK(m.retries > 0);
    CHECK(m.request_timeouts > 0);
    CHECK(m.records_acked == static_cast<std::uint64_t>(n));
    CHECK(m.records_failed == 0);
}

namespace {

/// Sends `batches` batches of `per_batch` records to one partition with manual batching, then
/// flushes them all at once (so they are in flight together) while the clock is driven.
std::vector<test::read_record> run_scripted(bool idempotent, std::int32_t max_in_flight,
                                            std::map<std::uint64_t, fault_action> script, std::int32_t batches,
                                            ledger& out, producer_stats* stats = nullptr) {
    broker_t b;
    b.create_topic("t", 1);
    manual_clock mc{system_clock{}.wall_ms()}; // real timestamps: the broker applies retention to old ones
    producer_config c = fault_config();
    c.enable_idempotence = idempotent;
    c.max_in_flight_requests_per_connection = max_in_flight;
    c.batch_size = 230; // exactly 10 records of 16 bytes
    // Request 1 is the warm-up below; the script numbers the data requests after it.
    std::map<std::uint64_t, fault_action> shifted;
    for (auto& [k, a] : script) shifted[k + 1] = a;
    faulty_t t(inner_t{b}, scripted_faults(std::move(shifted)), manual_clock_ref{mc});
    faulty_producer<batching::manual> p(c, std::move(t), manual_clock_ref{mc});
    // Metadata and the producer id first.
    auto warm = p.send({.topic = "t", .value = value_of(0, 0)}, use_future);
    auto warm_flush = std::async(std::launch::async, [&] { return p.flush(); });
    REQUIRE(test::drive(p, mc, [&] { return warm_flush.wait_for(0s) == std::future_status::ready; }));
    REQUIRE(!warm.get().error);
    std::int32_t seq = 1;
    for (std::int32_t i = 0; i < batches * 10; ++i) {
        const auto v = value_of(0, seq++);
        REQUIRE(!p.send({.topic = "t", .value = v}, out.callback(v)));
    }
    auto flushed = std::async(std::launch::async, [&] { return p.flush(); });
    REQUIRE(test::drive(p, mc, [&] { return flushed.wait_for(0s) == std::future_status::ready; }));
    REQUIRE(!flushed.get());
    if (stats) *stats = p.metrics();
    p.close();
    return read_partition(b, "t", 0);
}

std::vector<int> seqs(const std::vector<test::read_record>& recs) {
    std::vector<int> s;
    for (const auto& r : recs) s.push_back(parse(*r.value).second);
    return s;
}

// Data request 1 (the first batch) fails with a retriable error while request 2 (the second batch)
// is already on its way; request 3 (the third batch) is appended but its answer is lost.
std::map<std::uint64_t, fault_action> reorder_and_duplicate_script() {
    return {{1, {fault::error, error_code::not_leader_or_follower}}, {3, {fault::drop_response}}};
}

} // namespace

TEST_CASE("without idempotence and max.in.flight > 1, retries reorder and duplicate records", "[faults]") {
    ledger out;
    const auto s = seqs(run_scripted(false, 5, reorder_and_duplicate_script(), 4, out));
    // The second batch (records 11..20) landed before the first (1..10), which was retried.
    auto pos = [&](int v) { return std::find(s.begin(), s.end(), v) - s.begin(); };
    CHECK(pos(11) < pos(1));
    CHECK(!std::is_sorted(s.begin(), s.end()));
    // The third batch (21..30) is in the log twice: its retry was appended again.
    CHECK(std::count(s.begin(), s.end(), 21) == 2);
    CHECK(s.size() == 1 + 40 + 10);
    // Each record was still reported once, as a success.
    for (auto& [v, reps] : out.reports) {
        REQUIRE(reps.size() == 1);
        CHECK(!reps[0].error);
    }
}

TEST_CASE("the same faults with idempotence: no reordering, no duplicates", "[faults]") {
    ledger out;
    const auto s = seqs(run_scripted(true, 5, reorder_and_duplicate_script(), 4, out));
    REQUIRE(s.size() == 41);
    for (int i = 0; i < 41; ++i) CHECK(s[static_cast<std::size_t>(i)] == i);
}

TEST_CASE("without idempotence, max.in.flight=1 keeps order across retries but may still duplicate", "[faults]") {
    ledger out;
    const auto s = seqs(run_scripted(false, 1, reorder_and_duplicate_script(), 4, out));
    INFO(::Catch::Detail::stringify(s));
    // First appearances are in send order...
    std::vector<int> first;
    std::set<int> seen;
    for (int v : s)
        if (seen.insert(v).second) first.push_back(v);
    REQUIRE(first.size() == 41);
    for (int i = 0; i < 41; ++i) CHECK(first[static_cast<std::size_t>(i)] == i);
    // ...but the lost answer made a batch go in twice.
    CHECK(s.size() == 51);
}

TEST_CASE("a sequence the broker cannot place at the head of a partition bumps the epoch", "[faults]") {
    ledger out;
    producer_stats m;
    // The first data request is refused as out of order (and not appended).
    const auto recs =
        run_scripted(true, 5, {{1, {fault::error, error_code::out_of_order_sequence_number}}}, 3, out, &m);
    const auto s = seqs(recs);
    REQUIRE(s.size() == 31);
    for (int i = 0; i < 31; ++i) CHECK(s[static_cast<std::size_t>(i)] == i);
    CHECK(m.epoch_bumps == 1);
    // After the warm-up record (epoch 0) the partition restarted at sequence 0 with epoch 1.
    CHECK(recs[0].batch.producer_epoch == producer_epoch{0});
    CHECK(recs[1].batch.producer_epoch == producer_epoch{1});
    CHECK(recs[1].batch.base_sequence == sequence{0});
    CHECK(recs.back().batch.producer_epoch == producer_epoch{1});
}

TEST_CASE("an out-of-order answer behind an unresolved batch is retried without a bump", "[faults]") {
    ledger out;
    producer_stats m;
    // Request 1 is lost: the broker sees request 2 first and answers it OUT_OF_ORDER_SEQUENCE_NUMBER.
    const auto s = seqs(run_scripted(true, 5, {{1, {fault::drop_request}}}, 3, out, &m));
    REQUIRE(s.size() == 31);
    for (int i = 0; i < 31; ++i) CHECK(s[static_cast<std::size_t>(i)] == i);
    CHECK(m.epoch_bumps == 0);
    CHECK(m.errors > 0);
    CHECK(m.request_timeouts >= 1);
}

TEST_CASE("delivery.timeout.ms fails exactly the records that were not acknowledged", "[faults]") {
    broker_t b;
    b.create_topic("t", 3);
    manual_clock mc{system_clock{}.wall_ms()}; // real timestamps: the broker applies retention to old ones
    producer_config c = fault_config();
    c.delivery_timeout_ms = 1000;
    c.request_timeout_ms = 200;
    c.batch_size = 256;
    std::atomic<bool> blackhole{false};
    std::atomic<std::uint64_t> passed{0};
    fault_plan plan = [&](const produce_request&, std::uint64_t) -> fault_action {
        // Let a few requests through after the black hole opens, then lose everything.
        if (blackhole && passed++ >= 3) return {fault::drop_request};
        return {};
    };
    faulty_t t(inner_t{b}, plan, manual_clock_ref{mc});
    faulty_producer<> p(c, std::move(t), manual_clock_ref{mc});
    ledger out;
    std::mutex times_mu;
    std::map<std::string, time_point> completed_at;
    auto send = [&](int i) {
        const auto v = value_of(i % 5, i);
        REQUIRE(!p.send({.topic = "t", .key = "k" + std::to_string(i % 5), .value = v},
                        [&, v, cb = out.callback(v)](std::error_code ec, const record_metadata& md) mutable {
                            {
                                std::lock_guard lk(times_mu);
                                completed_at[v] = mc.now();
                            }
                            cb(ec, md);
                        }));
    };
    for (int i = 0; i < 200; ++i) send(i);
    REQUIRE(test::drive(p, mc, [&] { return out.completions.load() == 200; }));
    blackhole = true;
    const auto sent_at = mc.now();
    for (int i = 200; i < 1200; ++i) send(i);
    REQUIRE(test::drive(p, mc, [&] { return out.completions.load() == 1200; }));

    std::set<std::string> in_log;
    for (std::int32_t part = 0; part < 3; ++part)
        for (const auto& r : read_partition(b, "t", part)) CHECK(in_log.insert(*r.value).second);
    std::size_t ok = 0, timed_out = 0;
    for (auto& [v, reps] : out.reports) {
        REQUIRE(reps.size() == 1);
        if (!reps[0].error) {
            ++ok;
            CHECK(in_log.count(v) == 1);
            CHECK(reps[0].metadata.offset.value() >= 0);
        } else {
            ++timed_out;
            CHECK(reps[0].error == make_error_code(local_error::timed_out));
            CHECK(in_log.count(v) == 0);
            CHECK(completed_at.at(v) >= sent_at + 1000ms); // not a moment before delivery.timeout.ms
            CHECK(completed_at.at(v) < sent_at + 1000ms + 200ms);
        }
    }
    CHECK(ok == in_log.size());
    CHECK(ok > 200); // some of the second wave got through before the black hole
    CHECK(timed_out > 0);
    CHECK(ok + timed_out == 1200);
    CHECK(p.metrics().batches_expired > 0);
}

TEST_CASE("exhausted buffer.memory: try_send fails at once, send blocks then fails at max.block.ms", "[faults]") {
    broker_t b;
    b.create_topic("t", 1);
    manual_clock mc{system_clock{}.wall_ms()}; // real timestamps: the broker applies retention to old ones
    producer_config c = fault_config();
    c.batch_size = 1024;
    c.buffer_memory = 4096;
    c.max_block_ms = 500;
    c.enable_idempotence = false;
    // Nothing ever comes back, so nothing is ever freed.
    faulty_t t(
        inner_t{b}, [](const produce_request&, std::uint64_t) { return fault_action{fault::drop_request}; },
        manual_clock_ref{mc});
    faulty_producer<batching::manual> p(c, std::move(t), manual_clock_ref{mc});
    const std::string v(100, 'x');
    int accepted = 0;
    std::error_code ec;
    while (!(ec = p.try_send({.topic = "t", .value = v})) && accepted < 1000) ++accepted;
    CHECK(ec == make_error_code(local_error::queue_full));
    CHECK(accepted >= 30); // about 4 KiB of 100-byte records
    CHECK(accepted < 41);

    std::error_code seen_by_callback;
    auto blocked = std::async(std::launch::async, [&] {
        return p.send({.topic = "t", .value = v},
                      [&](std::error_code e, const record_metadata&) { seen_by_callback = e; });
    });
    for (int i = 0; i < 100000 && p.metrics().blocked_sends == 0; ++i) std::this_thread::yield();
    REQUIRE(p.metrics().blocked_sends == 1);
    mc.advance(499ms);
    CHECK(blocked.wait_for(20ms) == std::future_status::timeout);
    mc.advance(1ms);
    CHECK(blocked.get() == make_error_code(local_error::queue_full));
    CHECK(seen_by_callback == make_error_code(local_error::queue_full));
    // Records already accepted are still reported, when close gives up on them.
    CHECK(p.close(0ms) == make_error_code(local_error::timed_out));
    CHECK(p.metrics().records_failed >= static_cast<std::uint64_t>(accepted));
}

TEST_CASE("acks=0 over a lossy network completes every record at once, without offsets", "[faults]") {
    broker_t b;
    b.create_topic("t", 1);
    manual_clock mc{system_clock{}.wall_ms()}; // real timestamps: the broker applies retention to old ones
    producer_config c = fault_config();
    c.acks = 0;
    faulty_t t(inner_t{b}, scripted_faults({{2, {fault::drop_request}}}), manual_clock_ref{mc});
    faulty_producer<> p(c, std::move(t), manual_clock_ref{mc});
    REQUIRE(!p.idempotent());
    ledger out;
    for (int i = 0; i < 50; ++i) {
        const auto v = value_of(0, i);
        REQUIRE(!p.send({.topic = "t", .value = v}, out.callback(v)));
        REQUIRE(test::drive(p, mc, [&] { return out.completions.load() == static_cast<std::size_t>(i + 1); }));
    }
    for (auto& [v, reps] : out.reports) {
        REQUIRE(reps.size() == 1);
        CHECK(!reps[0].error);
        CHECK(reps[0].metadata.offset == offset{-1});
    }
    // The lost request's records are gone, and nobody was told: at most once.
    CHECK(read_partition(b, "t", 0).size() < 50);
    CHECK(p.metrics().retries == 0);
}

TEST_CASE("idempotence: lost, repeated, late and failed Metadata and InitProducerId answers lose and reorder "
          "nothing",
          "[faults]") {
    broker_t b;
    const std::int32_t partitions = 3, keys = 9, n = 20'000;
    b.create_topic("ctl", partitions);
    manual_clock mc{system_clock{}.wall_ms()};
    faulty_t t(inner_t{b},
               random_faults(77, 0.1, 200, {fault::drop_response, fault::duplicate, fault::reorder}, {}, 20ms),
               manual_clock_ref{mc});
    // The control plan: the first InitProducerId fails, the second is lost; then every third
    // Metadata request meets one of the faults in turn.
    const std::vector<fault_action> cycle{{fault::drop_request, {}, {}},
                                          {fault::drop_response, {}, {}},
                                          {fault::duplicate, {}, {}},
                                          {fault::delay, {}, 30ms},
                                          {fault::error, error_code::leader_not_available, {}},
                                          {fault::error_after_append, error_code::unknown_topic_or_partition, {}}};
    std::atomic<int> pid_requests{0}, metadata_requests{0};
    t.with_control_faults([&](control_request kind, std::uint64_t) -> fault_action {
        if (kind == control_request::init_producer_id) {
            const int k = ++pid_requests;
            if (k == 1) return {fault::error, error_code::coordinator_not_available, {}};
            if (k == 2) return {fault::drop_response, {}, {}};
            return {};
        }
        const int k = ++metadata_requests;
        if (k % 3 != 0) return {};
        return cycle[static_cast<std::size_t>(k / 3) % cycle.size()];
    });
    auto counters = t.counters();
    auto cfg = fault_config();
    cfg.metadata_max_age_ms = 50; // many refreshes, so the control faults hit many of them
    ledger out;
    faulty_producer<> p(cfg, std::move(t), manual_clock_ref{mc});
    REQUIRE(p.idempotent());
    std::vector<std::int32_t> next_seq(static_cast<std::size_t>(keys), 0);
    for (std::int32_t i = 0; i < n; ++i) {
        const std::int32_t k = i % keys;
        const auto v = value_of(k, next_seq[static_cast<std::size_t>(k)]++);
        REQUIRE(!p.send({.topic = "ctl", .key = "k" + std::to_string(k), .value = v}, out.callback(v)));
    }
    REQUIRE(test::drive(p, mc, [&] { return out.completions.load() == static_cast<std::size_t>(n); }));
    CHECK(pid_requests.load() >= 3);
    CHECK(counters->control_injected.load() >= 4);
    REQUIRE(out.reports.size() == static_cast<std::size_t>(n));
    for (auto& [v, reps] : out.reports) {
        REQUIRE(reps.size() == 1);
        REQUIRE(!reps[0].error);
    }
    std::size_t total = 0;
    for (std::int32_t part = 0; part < partitions; ++part) {
        std::map<std::string, int> last;
        for (const auto& r : read_partition(b, "ctl", part)) {
            ++total;
            const auto [key, seq] = parse(*r.value);
            auto it = last.find(key);
            REQUIRE(seq == (it == last.end() ? 0 : it->second + 1));
            last[key] = seq;
        }
    }
    CHECK(total == static_cast<std::size_t>(n));
}
