// Whole clusters in this process (testing/local_cluster.hpp) written to by gregor's own
// producer over TCP: replicas hold the same bytes at the same offsets, and an idempotent acks=all
// stream survives its leader being killed with nothing acknowledged lost or duplicated.
#include <gregor/broker/broker.hpp>
#include <gregor/producer/producer.hpp>
#include <gregor/producer/tcp_transport.hpp>
#include <gregor/testing/local_cluster.hpp>
#include <gregor/wire/record_batch.hpp>

#include "../broker/broker_test_util.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <vector>

using namespace gregor;
using namespace std::chrono_literals;

namespace {

create_topic_request topic_req(std::int32_t partitions, std::int16_t rf, std::map<std::string, std::string> configs = {}) {
    create_topic_request r;
    r.partitions = partitions;
    r.replication_factor = rf;
    r.configs = std::move(configs);
    return r;
}

[[maybe_unused]] create_topic_request assigned_req(std::vector<std::vector<std::int32_t>> a) {
    create_topic_request r;
    r.assignment = std::move(a);
    return r;
}

using file_policies = broker_policies<storage::file_backend>;
using cluster_t = testing::local_cluster<file_policies>;
using tcp_producer = producer<producer_policies<transport::tcp>>;

using gregor::test::temp_dir;

cluster_t::options opts(const std::filesystem::path& dir) {
    cluster_t::options o;
    o.nodes = 3;
    o.dir = dir;
    o.base.default_replication_factor = 3;
    o.base.min_insync_replicas = 2;
    o.base.num_partitions = 1;
    o.base.broker_session_timeout_ms = 2000;
    o.base.broker_heartbeat_interval_ms = 200;
    o.base.replica_lag_time_max_ms = 2000;
    return o;
}

producer_config prod_cfg(const std::string& bootstrap) {
    producer_config c;
    c.bootstrap_servers = bootstrap;
    c.linger_ms = 2;
    c.retry_backoff_ms = 50;
    c.retry_backoff_max_ms = 200;
    c.reconnect_backoff_ms = 20;
    c.reconnect_backoff_max_ms = 200;
    c.request_timeout_ms = 5000;
    c.delivery_timeout_ms = 60000;
    c.metadata_max_age_ms = 1000;
    return c;
}

// Every record value of partition `p` on node `id`, read from its log up to its high watermark.
std::vector<std::pair<std::int64_t, std::string>> values_on(cluster_t& c, int id, const std::string& topic, int p) {
    std::vector<std::pair<std::int64_t, std::string>> out;
    offset pos{0};
    for (int guard = 0; guard < 100000; ++guard) {
        auto r = c.broker_of(id).fetch_copy(topic, partition_id{p}, pos, 1 << 20);
        if (r.error != error_code::none || r.records.empty()) break;
        wire::batch_splitter s(r.records.view());
        while (auto b = s.next()) {
            wire::batch_view v(*b);
            for (const auto& rec : v) out.emplace_back(rec.record_offset.value(), std::string(as_string_view(*rec.value)));
            pos = v.header().last_offset() + 1;
        }
    }
    return out;
}

// Every node registered and unfenced, as node 1 sees it.
bool all_alive(cluster_t& c) {
    const auto img = c.node(1).member()->image();
    if (img->brokers.size() != static_cast<std::size_t>(c.size())) return false;
    for (const auto& [id, b] : img->brokers)
        if (b.fenced) return false;
    return true;
}

offset high_watermark(cluster_t& c, int id, const std::string& topic, int p) {
    auto* part = c.broker_of(id).find_partition(topic, partition_id{p});
    return part ? part->offsets().high_watermark : offset{-1};
}

} // namespace

TEST_CASE("local cluster: acks=all records are on every replica, same offsets, same bytes", "[local_cluster]") {
    temp_dir d;
    cluster_t c(opts(d.path));
    REQUIRE(c.wait_until([&] { return all_alive(c); }, 10s));
    constexpr int n = 3000;
    std::atomic<int> ok{0}, failed{0};
    {
        auto cfg = prod_cfg(c.bootstrap());
        tcp_producer p(cfg, transport::tcp{cfg});
        for (int i = 0; i < n; ++i) {
            const std::string v = "v" + std::to_string(i);
            REQUIRE(!p.send({.topic = "replicated", .key = "k", .value = v},
                            [&](std::error_code ec, const record_metadata&) {
                                if (ec && failed.load() == 0) std::printf("first failure: %s\n", ec.message().c_str());
                                ++(ec ? failed : ok);
                            }));
        }
        REQUIRE(!p.flush());
    }
    CHECK(ok.load() == n);
    CHECK(failed.load() == 0);
    // Followers learn the high watermark on their next fetch: wait until all three agree.
    REQUIRE(c.wait_until(
        [&] {
            for (int id = 1; id <= 3; ++id)
                if (high_watermark(c, id, "replicated", 0) != offset{n}) return false;
            return true;
        },
        10s));
    const auto leader_values = values_on(c, 1, "replicated", 0);
    REQUIRE(leader_values.size() == static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) CHECK(leader_values[static_cast<std::size_t>(i)] == std::pair<std::int64_t, std::string>{i, "v" + std::to_string(i)});
    for (int id = 2; id <= 3; ++id) CHECK(values_on(c, id, "replicated", 0) == leader_values);
    // Byte for byte: the same batches (CRCs included) on every replica.
    const auto bytes1 = c.broker_of(1).fetch_copy("replicated", partition_id{0}, offset{0}, 64 << 20);
    for (int id = 2; id <= 3; ++id) {
        const auto other = c.broker_of(id).fetch_copy("replicated", partition_id{0}, offset{0}, 64 << 20);
        CHECK(other.records.size() == bytes1.records.size());
        CHECK(std::equal(other.records.view().begin(), other.records.view().end(), bytes1.records.view().begin()));
    }
}

TEST_CASE("local cluster: the leader killed under an idempotent acks=all stream loses nothing acknowledged",
          "[local_cluster]") {
    temp_dir d;
    cluster_t c(opts(d.path));
    REQUIRE(c.wait_until([&] { return all_alive(c); }, 10s));
    // Created up front so the partition has a leader before the stream starts.
    REQUIRE(c.node(1).controller()->create_topic("stream", topic_req(1, 3)).error == error_code::none);
    REQUIRE(c.wait_until([&] { return c.leader_of("stream", 0) > 0; }, 10s));
    constexpr int n = 6000;
    std::mutex mu;
    std::vector<int> acked;
    std::atomic<int> failed{0};
    int killed = -1;
    const auto t0 = std::chrono::steady_clock::now();
    std::chrono::steady_clock::time_point killed_at{}, last_ack{};
    {
        auto cfg = prod_cfg(c.bootstrap());
        tcp_producer p(cfg, transport::tcp{cfg});
        for (int i = 0; i < n; ++i) {
            REQUIRE(!p.send({.topic = "stream", .key = "k", .value = std::to_string(i)},
                            [&, i](std::error_code ec, const record_metadata&) {
                                std::lock_guard lk(mu);
                                if (ec) {
                                    ++failed;
                                } else {
                                    acked.push_back(i);
                                    last_ack = std::chrono::steady_clock::now();
                                }
                            }));
            if (i == n / 3) {
                REQUIRE(!p.flush());
                // Never the controller's node: a cluster without its controller elects nobody.
                const int leader = c.leader_of("stream", 0);
                killed = leader != 1 ? leader : 2;
                killed_at = std::chrono::steady_clock::now();
                c.kill(killed);
            }
        }
        REQUIRE(!p.flush());
    }
    (void)t0;
    const auto failover =
        std::chrono::duration_cast<std::chrono::milliseconds>(last_ack - killed_at).count();
    std::printf("local cluster failover: killed node %d; %zu/%d acknowledged, %d failed, last ack %lld ms after\n",
                killed, acked.size(), n, failed.load(), static_cast<long long>(failover));
    CHECK(failed.load() == 0);
    CHECK(acked.size() == static_cast<std::size_t>(n));
    const int reader = killed == 1 ? 2 : 1;
    REQUIRE(c.wait_until([&] { return c.leader_of("stream", 0, reader) > 0 && c.leader_of("stream", 0, reader) != killed; },
                         10s));
    const int leader = c.leader_of("stream", 0, reader);
    REQUIRE(c.wait_until([&] { return high_watermark(c, leader, "stream", 0) >= offset{static_cast<std::int64_t>(acked.size())}; }, 10s));
    const auto got = values_on(c, leader, "stream", 0);
    std::set<std::string> seen;
    std::vector<int> order;
    for (const auto& [o, v] : got) {
        CHECK(seen.insert(v).second); // exactly once
        order.push_back(std::stoi(v));
    }
    CHECK(std::is_sorted(order.begin(), order.end()));
    std::size_t lost = 0;
    for (const int a : acked) lost += seen.count(std::to_string(a)) ? 0 : 1;
    CHECK(lost == 0);
    // The killed node comes back, catches up and rejoins: all replicas agree again.
    c.restart(killed);
    REQUIRE(c.wait_until(
        [&] {
            const auto img = c.node(reader).member()->image();
            const auto* s = img->find("stream", partition_id{0});
            return s && s->isr.size() == 3;
        },
        20s));
    REQUIRE(c.wait_until([&] { return high_watermark(c, killed, "stream", 0) == high_watermark(c, leader, "stream", 0); }, 10s));
    CHECK(values_on(c, killed, "stream", 0) == got);
}

namespace {

// Sends `n` records "<prefix><i>" to partition 0 of `topic` with `acks` (idempotence off for
// acks=1); returns how many were acknowledged.
int produce(cluster_t& c, const std::string& topic, const std::string& prefix, int n, std::int16_t acks) {
    auto cfg = prod_cfg(c.bootstrap());
    cfg.acks = acks;
    cfg.enable_idempotence = acks == -1;
    cfg.delivery_timeout_ms = 20000;
    std::atomic<int> ok{0};
    tcp_producer p(cfg, transport::tcp{cfg});
    for (int i = 0; i < n; ++i) {
        const auto v = prefix + std::to_string(i);
        REQUIRE(!p.send({.topic = topic, .partition = partition_id{0}, .key = "k", .value = v},
                        [&](std::error_code ec, const record_metadata&) {
                            if (!ec) ++ok;
                        }));
    }
    (void)p.flush();
    return ok.load();
}

cluster_t::options loss_opts(const std::filesystem::path& dir, std::int64_t lag_ms) {
    auto o = opts(dir);
    o.base.min_insync_replicas = 1;
    o.base.replica_lag_time_max_ms = lag_ms;
    return o;
}

create_topic_request on(std::vector<std::int32_t> replicas, std::map<std::string, std::string> configs = {}) {
    create_topic_request r;
    r.assignment = {std::move(replicas)};
    r.configs = std::move(configs);
    return r;
}

std::vector<std::string> only_values(const std::vector<std::pair<std::int64_t, std::string>>& v) {
    std::vector<std::string> out;
    for (const auto& [o, s] : v) out.push_back(s);
    return out;
}

const partition_state* state_seen_by(cluster_t& c, int id, const std::string& topic) {
    static thread_local std::shared_ptr<const cluster::metadata_image> keep;
    keep = c.node(id).member()->image();
    return keep->find(topic, partition_id{0});
}

} // namespace

TEST_CASE("local cluster: acks=1 records the leader alone had are lost when it dies; the returning node "
          "truncates its diverging tail",
          "[local_cluster]") {
    temp_dir d;
    cluster_t c(loss_opts(d.path, 60000)); // followers that stop fetching stay in the ISR
    REQUIRE(c.wait_until([&] { return all_alive(c); }, 10s));
    REQUIRE(c.node(1).controller()->create_topic("a1", on({2, 3, 1})).error == error_code::none);
    REQUIRE(c.wait_until([&] { return c.leader_of("a1", 0) == 2; }, 10s));
    REQUIRE(produce(c, "a1", "safe-", 100, -1) == 100);
    REQUIRE(c.wait_until([&] { return high_watermark(c, 3, "a1", 0) == offset{100}; }, 10s));
    // The followers stop copying; the leader acknowledges acks=1 records on its own.
    c.node(1).member()->pause_replication(true);
    c.node(3).member()->pause_replication(true);
    const int acked = produce(c, "a1", "acks1-", 50, 1);
    CHECK(acked == 50);
    c.kill(2);
    REQUIRE(c.wait_until([&] { return c.leader_of("a1", 0, 1) == 3; }, 10s));
    c.node(1).member()->pause_replication(false);
    c.node(3).member()->pause_replication(false);
    const auto survived = only_values(values_on(c, 3, "a1", 0));
    std::size_t lost = 0;
    for (int i = 0; i < 50; ++i)
        lost += std::find(survived.begin(), survived.end(), "acks1-" + std::to_string(i)) == survived.end() ? 1 : 0;
    std::printf("acks=1 loss: leader died before its followers copied; %zu of %d acknowledged records lost, "
                "%zu records survive\n",
                lost, acked, survived.size());
    CHECK(lost == 50);
    CHECK(survived.size() == 100);
    // New writes go on at the new leader's offsets; node 2 returns and drops its own tail.
    REQUIRE(produce(c, "a1", "after-", 10, -1) == 10);
    c.restart(2);
    REQUIRE(c.wait_until([&] { return high_watermark(c, 2, "a1", 0) == offset{110}; }, 20s));
    CHECK(values_on(c, 2, "a1", 0) == values_on(c, 3, "a1", 0));
}

TEST_CASE("local cluster: with unclean.leader.election.enable an out-of-sync replica leads and acknowledged "
          "records are lost; without it the partition stays offline until an in-sync replica returns",
          "[local_cluster]") {
    temp_dir d;
    cluster_t c(loss_opts(d.path, 1000)); // a stalled follower leaves the ISR after 1 s
    REQUIRE(c.wait_until([&] { return all_alive(c); }, 10s));
    auto* ctl = c.node(1).controller();
    REQUIRE(ctl->create_topic("clean", on({2, 3})).error == error_code::none);
    REQUIRE(ctl->create_topic("dirty", on({2, 3}, {{"unclean.leader.election.enable", "true"}})).error ==
            error_code::none);
    REQUIRE(c.wait_until([&] { return c.leader_of("clean", 0) == 2 && c.leader_of("dirty", 0) == 2; }, 10s));
    for (const auto* t : {"clean", "dirty"}) REQUIRE(produce(c, t, "in-", 20, -1) == 20);
    // Node 3 stops copying while node 2 takes acks=1 records alone: node 3 falls behind and
    // leaves the ISR after replica.lag.time.max.ms.
    c.node(3).member()->pause_replication(true);
    for (const auto* t : {"clean", "dirty"}) REQUIRE(produce(c, t, "only-on-2-", 30, 1) == 30);
    REQUIRE(c.wait_until(
        [&] {
            const auto* a = state_seen_by(c, 1, "clean");
            const auto* b = state_seen_by(c, 1, "dirty");
            return a && b && a->isr.size() == 1 && b->isr.size() == 1;
        },
        10s));
    c.kill(2);
    c.node(3).member()->pause_replication(false);
    // Unclean: node 3 leads "dirty" with what it had.
    REQUIRE(c.wait_until([&] { return c.leader_of("dirty", 0, 1) == 3; }, 10s));
    // Node 1's image names the leader before node 3 has taken the role and moved its high
    // watermark (a follower learns it one fetch late), so wait for what node 3 serves.
    REQUIRE(c.wait_until([&] { return high_watermark(c, 3, "dirty", 0) == offset{20}; }, 10s));
    const auto dirty = only_values(values_on(c, 3, "dirty", 0));
    std::printf("unclean election: node 3 leads 'dirty' with %zu records; 30 acknowledged records lost\n",
                dirty.size());
    CHECK(dirty.size() == 20);
    // Clean: no leader while the only in-sync replica is away.
    CHECK(c.leader_of("clean", 0, 1) == -1);
    c.restart(2);
    REQUIRE(c.wait_until([&] { return c.leader_of("clean", 0, 1) == 2; }, 20s));
    REQUIRE(c.wait_until([&] { return high_watermark(c, 2, "clean", 0) == offset{50}; }, 10s));
    CHECK(values_on(c, 2, "clean", 0).size() == 50); // nothing lost without unclean election
    // Node 2's own copy of "dirty" gives way to the unclean leader's history.
    REQUIRE(c.wait_until([&] { return high_watermark(c, 2, "dirty", 0) == offset{20}; }, 20s));
    CHECK(values_on(c, 2, "dirty", 0) == values_on(c, 3, "dirty", 0));
}
