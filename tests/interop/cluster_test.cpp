// Three gregor-broker processes as one cluster (docs/replication.md), driven by librdkafka: the
// cluster forms, topics get three replicas, and the notes' acks=all promises hold when brokers are
// killed with SIGKILL: nothing acknowledged is lost or duplicated, order is kept, a new leader
// takes over within the session timeout, and too few in-sync replicas refuse acks=all writes
// until one returns.
#include "broker_process.hpp"
#include "rdkafka_helpers.hpp"

#include <gregor/wire/group_records.hpp>

#include <catch2/catch.hpp>
#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

using gregor::test::broker_exe;
using gregor::test::broker_process;
using gregor::test::free_port;
using gregor::test::make_conf;

namespace {

// Session 3 s, heartbeats every 0.5 s: failover in a test is seconds, not Kafka's 9 s default.
constexpr int session_ms = 3000;

struct partition_view {
    int leader = -1;
    int error = 0;
    std::vector<int> replicas, isr;
};
struct cluster_view {
    int brokers = 0;
    std::map<int, partition_view> partitions;
    bool topic_found = false;
};

// Metadata through librdkafka from `bootstrap` (one request, bounded).
cluster_view describe(const std::string& bootstrap, const std::string& topic) {
    cluster_view v;
    char err[512];
    auto* conf = make_conf({{"bootstrap.servers", bootstrap}, {"allow.auto.create.topics", "false"}});
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    REQUIRE(rk != nullptr);
    rd_kafka_topic_t* t = topic.empty() ? nullptr : rd_kafka_topic_new(rk, topic.c_str(), nullptr);
    const rd_kafka_metadata_t* md = nullptr;
    if (rd_kafka_metadata(rk, t ? 0 : 1, t, &md, 3000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        v.brokers = md->broker_cnt;
        for (int i = 0; i < md->topic_cnt; ++i) {
            if (topic.empty() || md->topics[i].topic != topic || md->topics[i].err) continue;
            v.topic_found = true;
            for (int p = 0; p < md->topics[i].partition_cnt; ++p) {
                const auto& mp = md->topics[i].partitions[p];
                partition_view pv;
                pv.leader = mp.leader;
                pv.error = mp.err;
                pv.replicas.assign(mp.replicas, mp.replicas + mp.replica_cnt);
                pv.isr.assign(mp.isrs, mp.isrs + mp.isr_cnt);
                v.partitions[mp.id] = pv;
            }
        }
        rd_kafka_metadata_destroy(md);
    }
    if (t) rd_kafka_topic_destroy(t);
    rd_kafka_destroy(rk);
    return v;
}

// Polls `cond(view)` on fresh metadata until true, at most `timeout`; returns the last view.
template <typename Cond>
cluster_view wait_for(const std::string& bootstrap, const std::string& topic, Cond cond,
                      std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    cluster_view v;
    while (std::chrono::steady_clock::now() < until) {
        v = describe(bootstrap, topic);
        if (cond(v)) return v;
        std::this_thread::sleep_for(std::chrono::milliseconds(100)); // metadata has no event to wait on
    }
    return v;
}

struct cluster3 {
    std::filesystem::path root;
    std::vector<std::uint16_t> ports;
    std::vector<std::unique_ptr<broker_process>> nodes; // index i = node id i + 1

    explicit cluster3(const std::string& name, int min_isr = 2, int rf = 3, std::vector<std::string> extra = {}) {
        root = std::filesystem::temp_directory_path() / ("gregor-cluster-" + name + "-" + std::to_string(::getpid()));
        std::filesystem::remove_all(root);
        for (int i = 0; i < 3; ++i) ports.push_back(free_port());
        for (int i = 0; i < 3; ++i) {
            std::vector<std::string> args{"--listen",
                                          "127.0.0.1:" + std::to_string(ports[static_cast<std::size_t>(i)]),
                                          "--node-id",
                                          std::to_string(i + 1),
                                          "--data-dir",
                                          (root / ("n" + std::to_string(i + 1))).string(),
                                          "-X",
                                          "controller.quorum.voters=1@127.0.0.1:" + std::to_string(ports[0]),
                                          "-X",
                                          "default.replication.factor=" + std::to_string(rf),
                                          "-X",
                                          "min.insync.replicas=" + std::to_string(min_isr),
                                          "-X",
                                          "broker.session.timeout.ms=" + std::to_string(session_ms),
                                          "-X",
                                          "broker.heartbeat.interval.ms=500",
                                          "-X",
                                          "replica.lag.time.max.ms=" + std::to_string(session_ms)};
            args.insert(args.end(), extra.begin(), extra.end());
            nodes.push_back(std::make_unique<broker_process>(broker_exe(), args));
        }
        // Every node registered and unfenced, as node 1's metadata says.
        const auto v = wait_for(bootstrap({1}), "", [](const cluster_view& x) { return x.brokers == 3; });
        REQUIRE(v.brokers == 3);
    }
    ~cluster3() {
        nodes.clear();
        std::error_code ec;
        std::filesystem::remove_all(root, ec);
    }
    std::string bootstrap(std::initializer_list<int> ids = {1, 2, 3}) const {
        std::string s;
        for (const int id : ids) {
            if (!s.empty()) s += ",";
            s += "127.0.0.1:" + std::to_string(ports[static_cast<std::size_t>(id - 1)]);
        }
        return s;
    }
};

// Creates `topic` through the admin API of librdkafka (sent to the controller); `replicas`, if
// given, is partition 0's assignment (its first broker leads).
void create_topic(const std::string& bootstrap, const std::string& topic, int partitions, int rf,
                  std::vector<std::int32_t> replicas = {}) {
    char err[512];
    auto* conf = make_conf({{"bootstrap.servers", bootstrap}});
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    REQUIRE(rk != nullptr);
    auto* nt = rd_kafka_NewTopic_new(topic.c_str(), partitions, replicas.empty() ? rf : -1, err, sizeof err);
    REQUIRE(nt != nullptr);
    if (!replicas.empty())
        REQUIRE(rd_kafka_NewTopic_set_replica_assignment(nt, 0, replicas.data(), replicas.size(), err, sizeof err) ==
                RD_KAFKA_RESP_ERR_NO_ERROR);
    auto* q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, nullptr, q);
    auto* ev = rd_kafka_queue_poll(q, 20000);
    REQUIRE(ev != nullptr);
    const auto* res = rd_kafka_event_CreateTopics_result(ev);
    REQUIRE(res != nullptr);
    size_t n = 0;
    const auto** topics = rd_kafka_CreateTopics_result_topics(res, &n);
    REQUIRE(n == 1);
    const char* why = rd_kafka_topic_result_error_string(topics[0]);
    INFO(std::string(why ? why : ""));
    REQUIRE(rd_kafka_topic_result_error(topics[0]) == RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_destroy(rk);
}

bool full_isr(const cluster_view& v, std::size_t n) {
    if (!v.topic_found || v.partitions.empty()) return false;
    for (const auto& [p, pv] : v.partitions)
        if (pv.leader < 0 || pv.isr.size() != n) return false;
    return true;
}

// A producer thread: idempotent, acks=all, values "<i>", one partition; records which values
// were acknowledged and when each delivery report came.
struct stream_producer {
    struct stats {
        std::atomic<int> ok{0}, failed{0};
        std::mutex mu;
        std::vector<int> acked;
        std::map<int, int> errors; // librdkafka error -> count
        std::chrono::steady_clock::time_point last_ok{};
    } st;
    rd_kafka_t* rk = nullptr;
    std::string topic;

    stream_producer(const std::string& bootstrap, std::string t, const std::string& acks, int timeout_ms)
            : topic(std::move(t)) {
        auto* conf = make_conf({{"bootstrap.servers", bootstrap},
                                {"enable.idempotence", acks == "all" ? "true" : "false"},
                                {"acks", acks},
                                {"linger.ms", "2"},
                                {"message.timeout.ms", std::to_string(timeout_ms)},
                                {"topic.metadata.refresh.interval.ms", "500"},
                                {"retry.backoff.ms", "100"}});
        rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
            auto* s = static_cast<stats*>(opaque);
            const int v = std::stoi(std::string(static_cast<const char*>(m->payload), m->len));
            std::lock_guard lk(s->mu);
            if (m->err) {
                ++s->failed;
                ++s->errors[m->err];
            } else {
                ++s->ok;
                s->acked.push_back(v);
                s->last_ok = std::chrono::steady_clock::now();
            }
        });
        rd_kafka_conf_set_opaque(conf, &st);
        char err[512];
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
        REQUIRE(rk != nullptr);
    }
    ~stream_producer() {
        if (rk) rd_kafka_destroy(rk);
    }
    void send(int i) {
        const std::string value = std::to_string(i);
        for (int attempt = 0; attempt < 100000; ++attempt) {
            const auto e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(0),
                                             RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
            if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                REQUIRE(e == RD_KAFKA_RESP_ERR_NO_ERROR);
                return;
            }
            rd_kafka_poll(rk, 10);
        }
    }
    void poll() { rd_kafka_poll(rk, 0); }
    void flush(int ms) { (void)rd_kafka_flush(rk, ms); }
};

std::vector<int> read_values(const std::string& bootstrap, const std::string& topic, std::size_t expect) {
    const auto c = gregor::test::consume_all(bootstrap, topic, 1, expect, std::chrono::seconds(60));
    std::vector<int> out;
    if (auto it = c.by_partition.find(0); it != c.by_partition.end())
        for (const auto& [o, v] : it->second) out.push_back(std::stoi(v));
    return out;
}

} // namespace

TEST_CASE("cluster: three processes form a cluster; topics get three replicas", "[cluster]") {
    cluster3 c("form");
    // Every broker registers and every node sees all three.
    for (int id = 1; id <= 3; ++id) {
        const auto v = wait_for(c.bootstrap({id}), "", [](const cluster_view& x) { return x.brokers == 3; });
        CHECK(v.brokers == 3);
    }
    // Auto-created through node 3 (forwarded to the controller): default.replication.factor=3.
    const auto st = gregor::test::produce_keyed(c.bootstrap({3}), "formed", 3000, "v");
    CHECK(st.ok == 3000);
    CHECK(st.failed == 0);
    const auto v = wait_for(c.bootstrap({2}), "formed", [](const cluster_view& x) { return full_isr(x, 3); });
    REQUIRE(v.topic_found);
    for (const auto& [p, pv] : v.partitions) {
        CHECK(pv.replicas.size() == 3);
        CHECK(pv.isr.size() == 3);
    }
    // Created with the admin API on any node: partitions spread their leaders.
    create_topic(c.bootstrap(), "spread", 6, 3);
    const auto s = wait_for(c.bootstrap({1}), "spread", [](const cluster_view& x) { return full_isr(x, 3); });
    std::set<int> leaders;
    for (const auto& [p, pv] : s.partitions) leaders.insert(pv.leader);
    CHECK(s.partitions.size() == 6);
    CHECK(leaders.size() == 3);
    const auto got = gregor::test::consume_all(c.bootstrap({1}), "formed", 1, 3000);
    CHECK(got.total == 3000);
}

TEST_CASE("cluster: RF=3 min.insync.replicas=2 acks=all, leader killed with SIGKILL mid-stream: nothing "
          "acknowledged is lost or duplicated, order kept",
          "[cluster]") {
    cluster3 c("failover");
    // Node 2 leads: the controller (node 1) must outlive the leader to elect its successor.
    create_topic(c.bootstrap(), "failover", 1, 3, {2, 3, 1});
    auto v = wait_for(c.bootstrap(), "failover", [](const cluster_view& x) { return full_isr(x, 3); });
    REQUIRE(full_isr(v, 3));
    const int leader = v.partitions[0].leader;
    REQUIRE(leader == 2);
    INFO("leader before: " << leader);
    constexpr int total = 20000;
    stream_producer prod(c.bootstrap(), "failover", "all", 60000);
    std::chrono::steady_clock::time_point killed_at{};
    int killed = -1;
    for (int i = 0; i < total; ++i) {
        prod.send(i);
        prod.poll();
        if (i == total / 4) {
            // Mid-stream: once some records are acknowledged, the leader dies.
            for (int k = 0; k < 1000 && prod.st.ok.load() < total / 8; ++k) rd_kafka_poll(prod.rk, 10);
            killed = leader;
            killed_at = std::chrono::steady_clock::now();
            c.nodes[static_cast<std::size_t>(killed - 1)]->kill();
        }
    }
    prod.flush(90000);
    const auto failover_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(prod.st.last_ok - killed_at).count();
    std::printf("cluster failover: killed node %d (leader %d) after %d acks; %d/%d acknowledged, %d failed; "
                "last ack %lld ms after the kill\n",
                killed, leader, total / 8, prod.st.ok.load(), total, prod.st.failed.load(),
                static_cast<long long>(failover_ms));
    CHECK(prod.st.failed.load() == 0);
    CHECK(prod.st.ok.load() == total);
    // Read back from the survivors: every acknowledged value exactly once, in order.
    std::string survivors;
    for (int id = 1; id <= 3; ++id)
        if (id != killed) survivors += (survivors.empty() ? "" : ",") + c.bootstrap({id});
    const auto values = read_values(survivors, "failover", static_cast<std::size_t>(prod.st.ok.load()));
    std::set<int> seen(values.begin(), values.end());
    CHECK(seen.size() == values.size()); // no duplicates
    CHECK(std::is_sorted(values.begin(), values.end()));
    std::lock_guard lk(prod.st.mu);
    std::size_t lost = 0;
    for (const int a : prod.st.acked) lost += seen.count(a) ? 0 : 1;
    std::printf("cluster failover: %zu records read back, %zu acknowledged records lost\n", values.size(), lost);
    CHECK(lost == 0);
    // A new leader, not the killed node.
    const auto after = wait_for(survivors, "failover", [&](const cluster_view& x) {
        return x.topic_found && x.partitions.count(0) && x.partitions.at(0).leader > 0 &&
               x.partitions.at(0).leader != killed;
    });
    REQUIRE(after.partitions.count(0));
    CHECK(after.partitions.at(0).leader != killed);
}

TEST_CASE("cluster: RF=3 min.insync.replicas=2 with two brokers down refuses acks=all "
          "(NOT_ENOUGH_REPLICAS, nothing written) and resumes when one returns",
          "[cluster]") {
    cluster3 c("minisr");
    create_topic(c.bootstrap(), "minisr", 1, 3);
    auto v = wait_for(c.bootstrap(), "minisr", [](const cluster_view& x) { return full_isr(x, 3); });
    REQUIRE(full_isr(v, 3));
    const int first_leader = v.partitions[0].leader;
    {
        stream_producer prod(c.bootstrap(), "minisr", "all", 30000);
        for (int i = 0; i < 100; ++i) prod.send(i);
        prod.flush(30000);
        REQUIRE(prod.st.ok.load() == 100);
    }
    // Nodes 2 and 3 die; node 1 (the controller) is left alone in the ISR once their sessions end.
    c.nodes[1]->kill();
    c.nodes[2]->kill();
    v = wait_for(c.bootstrap({1}), "minisr", [](const cluster_view& x) {
        return x.topic_found && x.partitions.count(0) && x.partitions.at(0).leader == 1 &&
               x.partitions.at(0).isr.size() == 1;
    });
    REQUIRE(v.partitions[0].leader == 1);
    REQUIRE(v.partitions[0].isr.size() == 1);
    {
        stream_producer prod(c.bootstrap({1}), "minisr", "all", 4000);
        for (int i = 100; i < 150; ++i) prod.send(i);
        prod.flush(20000);
        std::lock_guard lk(prod.st.mu);
        std::printf("cluster min.isr: with 1 of 3 in sync, %d acknowledged, %d failed (", prod.st.ok.load(),
                    prod.st.failed.load());
        for (const auto& [e, n] : prod.st.errors) std::printf("%s x%d ", rd_kafka_err2name(rd_kafka_resp_err_t(e)), n);
        std::printf(")\n");
        CHECK(prod.st.ok.load() == 0);
        CHECK(prod.st.failed.load() == 50);
        // librdkafka retries NOT_ENOUGH_REPLICAS until message.timeout.ms; either code is the refusal.
        for (const auto& [e, n] : prod.st.errors)
            CHECK((e == RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS || e == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT));
    }
    std::int64_t low = -1, high = -1;
    {
        char err[512];
        auto* conf = make_conf({{"bootstrap.servers", c.bootstrap({1})}});
        rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
        REQUIRE(rd_kafka_query_watermark_offsets(rk, "minisr", 0, &low, &high, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR);
        rd_kafka_destroy(rk);
    }
    // The new leader may not have learnt the last high watermark before its followers died (it
    // comes with their next fetch answer); it cannot move without min.insync.replicas. What was
    // refused is checked on the data below: exactly the 150 acknowledged values, nothing else.
    std::printf("cluster min.isr: leader before %d; watermarks on node 1 low %lld high %lld\n", first_leader,
                static_cast<long long>(low), static_cast<long long>(high));
    CHECK(high <= 100);
    // Node 2 returns, catches up, rejoins the ISR: acks=all works again.
    c.nodes[1]->start_again();
    v = wait_for(c.bootstrap({1}), "minisr",
                 [](const cluster_view& x) { return x.topic_found && x.partitions.count(0) && x.partitions.at(0).isr.size() >= 2; });
    REQUIRE(v.partitions[0].isr.size() >= 2);
    stream_producer prod(c.bootstrap({1, 2}), "minisr", "all", 30000);
    for (int i = 150; i < 200; ++i) prod.send(i);
    prod.flush(30000);
    CHECK(prod.st.ok.load() == 50);
    const auto values = read_values(c.bootstrap({1, 2}), "minisr", 150);
    REQUIRE(values.size() == 150);
    for (std::size_t i = 0; i < 100; ++i) CHECK(values[i] == static_cast<int>(i));
    for (std::size_t i = 100; i < 150; ++i) CHECK(values[i] == static_cast<int>(i + 50));
}

TEST_CASE("cluster: kcat -G consumes in a group whose coordinator is killed: the new coordinator has the "
          "commits",
          "[cluster]") {
    cluster3 c("groups", 2, 3, {"-X", "group.initial.rebalance.delay.ms=0", "-X", "offsets.topic.num.partitions=3"});
    create_topic(c.bootstrap(), "gt", 2, 3);
    REQUIRE(full_isr(wait_for(c.bootstrap(), "gt", [](const cluster_view& x) { return full_isr(x, 3); }), 3));
    auto produce = [&](const std::string& bootstrap, const std::string& prefix, int n) {
        std::string lines;
        for (int i = 0; i < n; ++i) lines += prefix + "-" + std::to_string(i) + "\n";
        const auto [rc, out] =
            gregor::test::run("printf '" + lines + "' | kcat -b " + bootstrap + " -P -t gt -X acks=all 2>&1");
        INFO(out);
        REQUIRE(rc == 0);
    };
    // -e: exit at the end of every assigned partition, committing on the way out.
    auto consume = [&](const std::string& bootstrap, const std::string& group) {
        const auto [rc, out] = gregor::test::run("timeout 60 kcat -b " + bootstrap + " -G " + group +
                                                 " gt -e -q -X auto.offset.reset=earliest 2>/dev/null");
        REQUIRE(rc == 0);
        std::multiset<std::string> got;
        std::size_t from = 0;
        for (std::size_t nl; (nl = out.find('\n', from)) != std::string::npos; from = nl + 1)
            if (nl > from) got.insert(out.substr(from, nl - from));
        return got;
    };
    produce(c.bootstrap(), "a", 40);
    // The first group lookup has the controller create __consumer_offsets (3 partitions, 3 replicas).
    CHECK(consume(c.bootstrap(), "warmup").size() == 40);
    const auto offsets = wait_for(c.bootstrap(), "__consumer_offsets", [](const cluster_view& x) { return full_isr(x, 3); });
    REQUIRE(full_isr(offsets, 3));
    // A group whose coordinator is not node 1 (the controller must outlive it to elect a successor).
    std::string group;
    int coordinator = -1;
    for (int i = 0; i < 100 && group.empty(); ++i) {
        const auto g = "cg-" + std::to_string(i);
        const int l = offsets.partitions.at(gregor::wire::group_records::partition_for(g, 3)).leader;
        if (l != 1) group = g, coordinator = l;
    }
    REQUIRE(!group.empty());
    const auto first = consume(c.bootstrap(), group);
    CHECK(first.size() == 40);
    for (int i = 0; i < 40; ++i) CHECK(first.count("a-" + std::to_string(i)) == 1);

    c.nodes[static_cast<std::size_t>(coordinator - 1)]->kill();
    std::string survivors;
    for (int id = 1; id <= 3; ++id)
        if (id != coordinator) survivors += (survivors.empty() ? "" : ",") + c.bootstrap({id});
    produce(survivors, "b", 10);
    const auto second = consume(survivors, group); // the commits came from the new leader's replica
    std::printf("cluster groups: coordinator node %d killed; the group then read %zu records\n", coordinator,
                second.size());
    CHECK(second.size() == 10);
    for (int i = 0; i < 10; ++i) CHECK(second.count("b-" + std::to_string(i)) == 1);
}
