#include <gregor/producer/accumulator.hpp>
#include <gregor/testing/manual_clock.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <map>
#include <string>
#include <thread>
#include <vector>

using namespace gregor;
using namespace gregor::producer_detail;
using namespace std::chrono_literals;
using testing::manual_clock;
using testing::manual_clock_ref;

namespace {

using acc_t = accumulator<partitioners::sticky, batching::linger_or_size, manual_clock_ref>;

struct fixture {
    manual_clock mc;
    stats_counters stats;
    producer_config cfg;
    std::unique_ptr<acc_t> acc;
    std::vector<partition_entry*> got;
    std::vector<topic_entry*> wanted;

    explicit fixture(std::int32_t batch_size = 1024, std::int64_t linger_ms = 5, std::int64_t buffer = 1 << 20) {
        cfg.batch_size = batch_size;
        cfg.linger_ms = linger_ms;
        cfg.buffer_memory = buffer;
        cfg.max_block_ms = 1000;
        acc = std::make_unique<acc_t>(cfg, partitioners::sticky(1), batching::linger_or_size(cfg), manual_clock_ref{mc},
                                      stats);
    }
    std::error_code append(std::string_view topic, std::optional<std::int32_t> p, std::optional<std::string_view> key,
                           std::string_view value, bool block = false) {
        record_in r;
        r.topic = topic;
        if (p) r.partition = partition_id{*p};
        if (key) r.key = as_bytes(*key);
        r.value = as_bytes(value);
        r.timestamp = mc.wall_ms();
        completion none;
        bool wake = false;
        return acc->append(r, none, block, wake);
    }
    collect_result collect() {
        got.clear();
        wanted.clear();
        return acc->collect(mc.now(), got, wanted);
    }
    /// Known topic with n partitions.
    topic_entry* known(std::string_view topic, std::int32_t n) {
        (void)append(topic, 0, std::nullopt, "seed"); // creates the topic (staged, for partition 0)
        collect();
        REQUIRE(wanted.size() == 1);
        topic_entry* t = wanted[0];
        std::vector<std::pair<record_completion, std::error_code>> failed;
        acc->apply_metadata(*t, std::vector<node_id>(static_cast<std::size_t>(n), node_id{0}), failed);
        REQUIRE(failed.empty());
        return t;
    }
};

struct decoded {
    std::string key, value;
};
std::vector<decoded> decode(producer_batch& b) {
    auto bytes = b.builder.seal();
    REQUIRE(wire::validate(bytes.view()) == wire::batch_error::none);
    std::vector<decoded> out;
    for (const auto& r : wire::batch_view(bytes.view()))
        out.push_back({r.key ? std::string(as_string_view(*r.key)) : "", std::string(as_string_view(*r.value))});
    return out;
}

} // namespace

TEST_CASE("records are encoded into their partition's open batch until linger.ms makes it ready", "[accumulator]") {
    fixture f;
    f.known("t", 2);
    f.mc.advance(10ms);
    f.collect(); // the seed record's batch
    for (int i = 0; i < 5; ++i) REQUIRE(!f.append("t", 1, std::nullopt, "v" + std::to_string(i)));
    auto r = f.collect();
    CHECK(f.got.empty());
    CHECK(r.next_ready == f.mc.now() + 5ms);
    f.mc.advance(4ms);
    f.collect();
    CHECK(f.got.empty());
    f.mc.advance(1ms);
    f.collect();
    REQUIRE(f.got.size() == 1);
    auto* pe = f.got[0];
    CHECK(pe->id == 1);
    REQUIRE(pe->owned.size() == 1);
    const auto recs = decode(*pe->owned[0]);
    REQUIRE(recs.size() == 5);
    for (int i = 0; i < 5; ++i) CHECK(recs[static_cast<std::size_t>(i)].value == "v" + std::to_string(i));
}

TEST_CASE("a batch is closed and ready at once when the next record does not fit in batch.size", "[accumulator]") {
    fixture f(200, 1000);
    f.known("t", 1);
    const std::string v(40, 'x');
    int n = 0;
    while (f.got.empty() && n < 100) {
        REQUIRE(!f.append("t", 0, std::nullopt, v));
        ++n;
        f.collect();
    }
    REQUIRE(f.got.size() == 1);
    auto& owned = f.got[0]->owned;
    // The seed batch and the first full one; both within batch.size.
    std::size_t records = 0;
    for (auto& b : owned) {
        CHECK(b->builder.size_bytes() <= 200);
        records += static_cast<std::size_t>(b->record_count);
    }
    CHECK(records == static_cast<std::size_t>(n)); // seed + all but the record that opened a new batch
}

TEST_CASE("a record larger than batch.size gets a batch of its own", "[accumulator]") {
    fixture f(100, 1000);
    f.known("t", 1);
    const std::string big(500, 'b');
    REQUIRE(!f.append("t", 0, std::nullopt, big));
    REQUIRE(!f.append("t", 0, std::nullopt, "small"));
    f.collect();
    REQUIRE(f.got.size() == 1);
    auto& owned = f.got[0]->owned;
    REQUIRE(owned.size() == 2); // seed batch closed by the big one, the big one closed by "small"
    CHECK(decode(*owned[1]).at(0).value == big);
}

TEST_CASE("records for an unknown topic are staged and spread by key when metadata arrives", "[accumulator]") {
    fixture f(1 << 16, 0);
    for (int i = 0; i < 50; ++i) {
        const std::string k = "key" + std::to_string(i % 7);
        REQUIRE(!f.append("new", std::nullopt, k, k + "-" + std::to_string(i)));
    }
    REQUIRE(!f.append("new", 2, std::nullopt, "explicit"));
    REQUIRE(!f.append("new", 9, std::nullopt, "out of range"));
    f.collect();
    REQUIRE(f.wanted.size() == 1);
    CHECK(f.wanted[0]->name == "new");
    std::vector<std::pair<record_completion, std::error_code>> failed;
    f.acc->apply_metadata(*f.wanted[0], std::vector<node_id>(3, node_id{0}), failed);
    f.collect();
    std::map<std::int32_t, std::vector<decoded>> by_part;
    for (auto* pe : f.got)
        for (auto& b : pe->owned)
            for (auto& d : decode(*b)) by_part[pe->id].push_back(d);
    std::size_t total = 0;
    for (auto& [p, recs] : by_part) {
        std::map<std::string, int> last;
        for (auto& d : recs) {
            ++total;
            if (d.value == "explicit") {
                CHECK(p == 2);
                continue;
            }
            CHECK(partitioners::murmur2_partition(as_bytes(d.key), 3) == p);
            const int seq = std::stoi(d.value.substr(d.value.find('-') + 1));
            auto it = last.find(d.key);
            if (it != last.end()) CHECK(seq > it->second); // per key in send order
            last[d.key] = seq;
        }
    }
    CHECK(total == 51); // the out-of-range one was dropped (its completion would report it)
}

TEST_CASE("exhausted buffer.memory fails try_send at once and blocks send until max.block.ms", "[accumulator]") {
    fixture f(1000, 1000, 3000); // room for 3 batches
    f.known("t", 4);             // the seed batch takes one
    REQUIRE(!f.append("t", 1, std::nullopt, "a"));
    REQUIRE(!f.append("t", 2, std::nullopt, "b"));
    const auto ec = f.append("t", 3, std::nullopt, "c");
    CHECK(ec == make_error_code(local_error::queue_full));
    // Appending into existing batches needs no new memory.
    CHECK(!f.append("t", 1, std::nullopt, "a2"));

    std::atomic<bool> returned{false};
    auto blocked = std::async(std::launch::async, [&] {
        auto e = f.append("t", 3, std::nullopt, "c", true);
        returned = true;
        return e;
    });
    // Wait until the sender really waits (counted once per blocked send).
    for (int i = 0; i < 10000 && f.stats.blocked_sends.load() == 0; ++i) std::this_thread::yield();
    REQUIRE(f.stats.blocked_sends.load() == 1);
    f.mc.advance(999ms);
    CHECK(blocked.wait_for(20ms) == std::future_status::timeout);
    CHECK(!returned);
    f.mc.advance(1ms);
    CHECK(blocked.get() == make_error_code(local_error::queue_full));
}

TEST_CASE("memory released by completed batches wakes a blocked send", "[accumulator]") {
    fixture f(1000, 0, 2000);
    f.known("t", 2);
    f.collect(); // hands the seed batch to the "sender"
    REQUIRE(f.got.size() == 1);
    auto seed = std::move(f.got[0]->owned.front());
    f.got[0]->owned.pop_front();
    REQUIRE(!f.append("t", 1, std::nullopt, "b"));
    auto blocked = std::async(std::launch::async, [&] { return f.append("t", 0, std::nullopt, "c", true); });
    for (int i = 0; i < 10000 && f.stats.blocked_sends.load() == 0; ++i) std::this_thread::yield();
    std::vector<std::unique_ptr<producer_batch>> done;
    done.push_back(std::move(seed));
    f.acc->finish(done);
    CHECK(!blocked.get());
}

TEST_CASE("delivery.timeout.ms expires the oldest queued batches first", "[accumulator]") {
    fixture f(1000, 100000);
    f.known("t", 2);
    f.mc.advance(50ms);
    REQUIRE(!f.append("t", 1, std::nullopt, "later"));
    std::vector<std::unique_ptr<producer_batch>> out;
    std::vector<producer_batch*> owned;
    auto next = f.acc->expire(f.mc.now(), 100ms, out, owned);
    CHECK(out.empty());
    CHECK(next == time_point{} + 100ms);
    f.mc.advance(60ms);
    next = f.acc->expire(f.mc.now(), 100ms, out, owned);
    REQUIRE(out.size() == 1); // the seed batch
    CHECK(out[0]->partition >= 0);
    CHECK(next == time_point{} + 150ms);
    f.acc->finish(out);
    CHECK(!f.acc->empty());
}
