// Consumer groups against the real gregor-broker program (docs/groups.md): librdkafka's
// high-level consumers sharing a topic through the group coordinator, taking over from committed
// offsets when one leaves, and kcat -G consuming, committing and resuming across a broker restart.
#include "broker_process.hpp"
#include "rdkafka_helpers.hpp"

#include <gregor/consumer/consumer.hpp>
#include <gregor/consumer/tcp_transport.hpp>

#include <catch2/catch.hpp>
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace gregor;
using test::broker_exe;
using test::broker_process;
using test::produce_keyed;

namespace {

/// A librdkafka high-level consumer (subscribe, not assign) in group `group`.
class group_consumer {
public:
    group_consumer(const std::string& bootstrap, const std::string& group, const std::string& topic) {
        auto* conf = test::make_conf({{"bootstrap.servers", bootstrap},
                                      {"group.id", group},
                                      {"auto.offset.reset", "earliest"},
                                      {"enable.auto.commit", "false"},
                                      {"session.timeout.ms", "6000"},
                                      {"heartbeat.interval.ms", "500"},
                                      {"enable.partition.eof", "false"}});
        char err[512];
        rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
        REQUIRE(rk_ != nullptr);
        rd_kafka_poll_set_consumer(rk_);
        auto* topics = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(topics, topic.c_str(), RD_KAFKA_PARTITION_UA);
        REQUIRE(rd_kafka_subscribe(rk_, topics) == RD_KAFKA_RESP_ERR_NO_ERROR);
        rd_kafka_topic_partition_list_destroy(topics);
    }
    group_consumer(const group_consumer&) = delete;
    group_consumer& operator=(const group_consumer&) = delete;
    ~group_consumer() {
        close();
        rd_kafka_destroy(rk_);
    }

    /// One poll: a record's (partition, offset, value), or nothing.
    void poll(int ms) {
        rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, ms);
        if (!m) return;
        if (!m->err) {
            records.push_back({m->partition, m->offset, std::string(static_cast<const char*>(m->payload), m->len)});
        } else {
            errors.push_back(rd_kafka_err2str(m->err));
        }
        rd_kafka_message_destroy(m);
    }

    std::set<int> assignment() {
        rd_kafka_topic_partition_list_t* l = nullptr;
        std::set<int> out;
        if (rd_kafka_assignment(rk_, &l) != RD_KAFKA_RESP_ERR_NO_ERROR) return out;
        for (int i = 0; i < l->cnt; ++i) out.insert(l->elems[i].partition);
        rd_kafka_topic_partition_list_destroy(l);
        return out;
    }

    /// Commits what was consumed, synchronously (OffsetCommit through the coordinator).
    rd_kafka_resp_err_t commit() { return rd_kafka_commit(rk_, nullptr, 0); }

    /// The group's committed offset of `topic`/`p` as the coordinator answers it (OffsetFetch).
    std::int64_t committed(const std::string& topic, int p) {
        auto* l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, topic.c_str(), p);
        const auto e = rd_kafka_committed(rk_, l, 10000);
        const auto o = e == RD_KAFKA_RESP_ERR_NO_ERROR ? l->elems[0].offset : -1000;
        rd_kafka_topic_partition_list_destroy(l);
        return o;
    }

    void close() {
        if (closed_) return;
        closed_ = true;
        rd_kafka_consumer_close(rk_); // LeaveGroup
    }

    struct record {
        int partition;
        std::int64_t offset;
        std::string value;
    };
    std::vector<record> records;
    std::vector<std::string> errors;

private:
    rd_kafka_t* rk_ = nullptr;
    bool closed_ = false;
};

std::string joined(const std::vector<std::string>& v) {
    std::ostringstream o;
    for (const auto& s : v) o << s << "; ";
    return o.str();
}

} // namespace

TEST_CASE("two librdkafka group consumers share a topic; one leaves and the other resumes from the commits",
          "[groups]") {
    test::temp_dir dir;
    broker_process b(broker_exe(), {"--data-dir", dir.path.string(), "-X", "num.partitions=4", "-X",
                                    "group.initial.rebalance.delay.ms=0"});
    const std::string topic = "shared";
    // The topic exists before anyone subscribes (auto-created by the first records).
    REQUIRE(produce_keyed(b.bootstrap(), topic, 1, "warmup").ok == 1);

    group_consumer c1(b.bootstrap(), "g1", topic);
    group_consumer c2(b.bootstrap(), "g1", topic);
    // Both members in the group, the four partitions split between them.
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    std::set<int> a1, a2;
    while (std::chrono::steady_clock::now() < until) {
        c1.poll(50);
        c2.poll(50);
        a1 = c1.assignment();
        a2 = c2.assignment();
        if (!a1.empty() && !a2.empty() && a1.size() + a2.size() == 4) break;
    }
    INFO("c1 errors: " << joined(c1.errors) << " c2 errors: " << joined(c2.errors));
    REQUIRE(!a1.empty());
    REQUIRE(!a2.empty());
    REQUIRE(a1.size() + a2.size() == 4);
    for (int p : a1) CHECK(a2.count(p) == 0);

    REQUIRE(produce_keyed(b.bootstrap(), topic, 400, "first").ok == 400);
    auto count = [](const group_consumer& c, const std::string& prefix) {
        std::size_t n = 0;
        for (const auto& r : c.records) n += r.value.rfind(prefix, 0) == 0;
        return n;
    };
    const auto until2 = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (count(c1, "first-") + count(c2, "first-") < 400 && std::chrono::steady_clock::now() < until2) {
        c1.poll(20);
        c2.poll(20);
    }
    // Every record exactly once, each from the consumer that owns its partition.
    std::set<std::string> seen;
    for (const auto* c : {&c1, &c2})
        for (const auto& r : c->records) {
            if (r.value.rfind("first-", 0) != 0) continue;
            CHECK(seen.insert(r.value).second);
            CHECK((c == &c1 ? a1 : a2).count(r.partition) == 1);
        }
    CHECK(seen.size() == 400);

    REQUIRE(c1.commit() == RD_KAFKA_RESP_ERR_NO_ERROR);
    REQUIRE(c2.commit() == RD_KAFKA_RESP_ERR_NO_ERROR);
    // The commits are what the coordinator answers: one past the last record read per partition.
    std::map<int, std::int64_t> last;
    for (const auto* c : {&c1, &c2})
        for (const auto& r : c->records) last[r.partition] = std::max(last[r.partition], r.offset);
    for (const auto& [p, o] : last) CHECK(c2.committed(topic, p) == o + 1);

    c1.close(); // leaves: c2 takes all four partitions from the committed offsets
    // Produce once the rebalance is done: records c2 read on its old assignment and had not
    // committed would (rightly, at-least-once) be read again after it.
    const auto until_all = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (c2.assignment().size() < 4 && std::chrono::steady_clock::now() < until_all) c2.poll(50);
    REQUIRE(c2.assignment().size() == 4);
    const auto before = c2.records.size();
    REQUIRE(produce_keyed(b.bootstrap(), topic, 200, "second").ok == 200);
    const auto until3 = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (count(c2, "second-") < 200 && std::chrono::steady_clock::now() < until3) c2.poll(50);
    CHECK(c2.assignment().size() == 4);
    std::set<std::string> after;
    for (std::size_t i = before; i < c2.records.size(); ++i) {
        const auto& v = c2.records[i].value;
        CHECK(v.rfind("second-", 0) == 0); // nothing before the commits is read twice
        CHECK(after.insert(v).second);
    }
    CHECK(after.size() == 200);
}

TEST_CASE("kcat -G consumes in a group, commits, and resumes after a broker restart", "[groups]") {
    test::temp_dir dir;
    broker_process b(broker_exe(), {"--data-dir", dir.path.string(), "-X", "num.partitions=2", "-X",
                                    "group.initial.rebalance.delay.ms=0"});
    auto produce = [&](const std::string& prefix, int n) {
        std::string lines;
        for (int i = 0; i < n; ++i) lines += prefix + "-" + std::to_string(i) + "\n";
        const auto [rc, out] = test::run("printf '" + lines + "' | kcat -b " + b.bootstrap() + " -P -t kt 2>&1");
        REQUIRE(rc == 0);
    };
    // -e: exit once every assigned partition is at its end; kcat commits on its way out. (Not
    // "-o beginning": in -G mode kcat then starts every run from the beginning.)
    auto consume = [&] {
        const auto [rc, out] = test::run("timeout 60 kcat -b " + b.bootstrap() +
                                         " -G kg kt -e -q -X auto.offset.reset=earliest -X session.timeout.ms=6000 2>/dev/null");
        REQUIRE(rc == 0);
        std::multiset<std::string> got;
        std::istringstream in(out);
        for (std::string l; std::getline(in, l);)
            if (!l.empty()) got.insert(l);
        return got;
    };
    produce("a", 50);
    auto first = consume();
    CHECK(first.size() == 50);
    for (int i = 0; i < 50; ++i) CHECK(first.count("a-" + std::to_string(i)) == 1);
    CHECK(consume().empty()); // everything was committed

    produce("b", 10);
    auto second = consume();
    CHECK(second.size() == 10);
    for (int i = 0; i < 10; ++i) CHECK(second.count("b-" + std::to_string(i)) == 1);

    REQUIRE(b.stop() == 0);
    b.start_again();
    produce("c", 5);
    auto third = consume(); // the commits came back from __consumer_offsets
    CHECK(third.size() == 5);
    for (int i = 0; i < 5; ++i) CHECK(third.count("c-" + std::to_string(i)) == 1);
}

namespace {

/// A gregor group consumer over TCP, with what it read as (partition, value).
struct gregor_member {
    gregor::consumer<fetch_transport::tcp> c;
    std::vector<std::pair<int, std::string>> records;

    static consumer_config config(const std::string& bootstrap, const std::string& group) {
        consumer_config cfg;
        cfg.bootstrap_servers = bootstrap;
        cfg.group_id = group;
        cfg.auto_offset_reset = offset_reset::earliest;
        cfg.enable_auto_commit = false;
        cfg.session_timeout_ms = 6000;
        cfg.heartbeat_interval_ms = 500;
        cfg.fetch_max_wait_ms = 100;
        return cfg;
    }
    gregor_member(const std::string& bootstrap, const std::string& group, const std::string& topic)
            : c(config(bootstrap, group), fetch_transport::tcp{config(bootstrap, group)}) {
        c.subscribe({topic});
    }
    void poll(int ms) {
        auto r = c.poll(std::chrono::milliseconds(ms));
        r.for_each_record([&](const consumed_batch& b, const wire::record_view& rec) {
            records.emplace_back(b.tp->partition.value(), std::string(as_string_view(*rec.value)));
        });
    }
    std::set<int> assignment() const {
        std::set<int> out;
        for (const auto& tp : c.assignment()) out.insert(tp.partition.value());
        return out;
    }
};

} // namespace

TEST_CASE("gregor and librdkafka consumers share one group: either may lead, each reads the other's formats",
          "[groups]") {
    test::temp_dir dir;
    broker_process b(broker_exe(), {"--data-dir", dir.path.string(), "-X", "num.partitions=4", "-X",
                                    "group.initial.rebalance.delay.ms=0"});
    for (const bool gregor_first : {true, false}) {
        DYNAMIC_SECTION((gregor_first ? "gregor joins first (leads)" : "librdkafka joins first (leads)")) {
            const std::string topic = gregor_first ? "mixed-a" : "mixed-b";
            const std::string group = gregor_first ? "mixed-ga" : "mixed-gb";
            REQUIRE(produce_keyed(b.bootstrap(), topic, 1, "warmup").ok == 1);
            std::unique_ptr<gregor_member> g;
            std::unique_ptr<group_consumer> r;
            if (gregor_first) {
                g = std::make_unique<gregor_member>(b.bootstrap(), group, topic);
                for (int i = 0; i < 100 && g->assignment().size() < 4; ++i) g->poll(50);
                r = std::make_unique<group_consumer>(b.bootstrap(), group, topic);
            } else {
                r = std::make_unique<group_consumer>(b.bootstrap(), group, topic);
                for (int i = 0; i < 100 && r->assignment().size() < 4; ++i) r->poll(50);
                g = std::make_unique<gregor_member>(b.bootstrap(), group, topic);
            }
            const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
            std::set<int> ag, ar;
            while (std::chrono::steady_clock::now() < until) {
                g->poll(20);
                r->poll(20);
                ag = g->assignment();
                ar = r->assignment();
                if (ag.size() == 2 && ar.size() == 2) break;
            }
            INFO("librdkafka errors: " << joined(r->errors));
            // Both run range (the protocol both offer): two partitions each, no overlap.
            REQUIRE(ag.size() == 2);
            REQUIRE(ar.size() == 2);
            for (int p : ag) CHECK(ar.count(p) == 0);

            REQUIRE(produce_keyed(b.bootstrap(), topic, 400, "first").ok == 400);
            std::set<std::string> seen;
            std::size_t dup = 0;
            const auto count_first = [&] {
                std::size_t n = 0;
                for (const auto& [p, v] : g->records) n += v.rfind("first-", 0) == 0;
                for (const auto& rec : r->records) n += rec.value.rfind("first-", 0) == 0;
                return n;
            };
            const auto until2 = std::chrono::steady_clock::now() + std::chrono::seconds(60);
            while (count_first() < 400 && std::chrono::steady_clock::now() < until2) {
                g->poll(20);
                r->poll(20);
            }
            for (const auto& [p, v] : g->records) {
                if (v.rfind("first-", 0) != 0) continue;
                CHECK(ag.count(p) == 1);
                dup += !seen.insert(v).second;
            }
            for (const auto& rec : r->records) {
                if (rec.value.rfind("first-", 0) != 0) continue;
                CHECK(ar.count(rec.partition) == 1);
                dup += !seen.insert(rec.value).second;
            }
            CHECK(dup == 0);
            CHECK(seen.size() == 400);

            // The gregor member commits and leaves; librdkafka takes its partitions from the
            // commits and reads only what comes after.
            REQUIRE(!g->c.commit_sync());
            REQUIRE(r->commit() == RD_KAFKA_RESP_ERR_NO_ERROR);
            g->c.close();
            const auto until3 = std::chrono::steady_clock::now() + std::chrono::seconds(60);
            while (r->assignment().size() < 4 && std::chrono::steady_clock::now() < until3) r->poll(50);
            REQUIRE(r->assignment().size() == 4);
            const auto before = r->records.size();
            REQUIRE(produce_keyed(b.bootstrap(), topic, 100, "second").ok == 100);
            const auto until4 = std::chrono::steady_clock::now() + std::chrono::seconds(60);
            std::set<std::string> after;
            while (after.size() < 100 && std::chrono::steady_clock::now() < until4) {
                r->poll(50);
                for (std::size_t i = before; i < r->records.size(); ++i) after.insert(r->records[i].value);
            }
            for (std::size_t i = before; i < r->records.size(); ++i)
                CHECK(r->records[i].value.rfind("second-", 0) == 0); // nothing read twice
            CHECK(after.size() == 100);
            r->close();
        }
    }
}
