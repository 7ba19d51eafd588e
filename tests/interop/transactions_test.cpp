// Transactions against the real gregor-broker program (docs/transactions.md): librdkafka's
// transactional producer commits and aborts across partitions, and librdkafka consumers read them
// back: read_committed sees exactly the committed records, in order, read_uncommitted everything.
// A second producer instance with the same transactional.id fences the first (its open
// transaction is aborted, its commit fails as fenced), and a transaction left open past its
// timeout is aborted by the coordinator, so the last stable offset moves on.
#include "broker_process.hpp"
#include "rdkafka_helpers.hpp"

#include <catch2/catch.hpp>
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

using namespace gregor;
using test::broker_exe;
using test::broker_process;

namespace {

/// A librdkafka transactional producer; every call bounded by `timeout_ms`.
class txn_producer {
public:
    txn_producer(const std::string& bootstrap, const std::string& txn_id,
                 std::map<std::string, std::string> extra = {}) {
        std::map<std::string, std::string> props{{"bootstrap.servers", bootstrap},
                                                 {"transactional.id", txn_id},
                                                 {"linger.ms", "1"},
                                                 {"message.timeout.ms", "30000"}};
        for (auto& [k, v] : extra) props[k] = v;
        auto* conf = test::make_conf(props);
        char err[512];
        rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
        REQUIRE(rk_ != nullptr);
    }
    txn_producer(const txn_producer&) = delete;
    txn_producer& operator=(const txn_producer&) = delete;
    ~txn_producer() { rd_kafka_destroy(rk_); }

    /// The error of a transactional call (nullptr: success); the caller destroys it.
    static std::string describe(rd_kafka_error_t* e) {
        if (!e) return "ok";
        std::string s = rd_kafka_error_name(e);
        s += ": ";
        s += rd_kafka_error_string(e);
        if (rd_kafka_error_is_fatal(e)) s += " (fatal)";
        return s;
    }

    void init() { ok(rd_kafka_init_transactions(rk_, timeout_ms), "init_transactions"); }
    void begin() { ok(rd_kafka_begin_transaction(rk_), "begin_transaction"); }
    void commit() { ok(rd_kafka_commit_transaction(rk_, timeout_ms), "commit_transaction"); }
    void abort() { ok(rd_kafka_abort_transaction(rk_, timeout_ms), "abort_transaction"); }
    rd_kafka_error_t* try_commit() { return rd_kafka_commit_transaction(rk_, timeout_ms); }

    void send(const std::string& topic, int partition, const std::string& value) {
        const auto err = rd_kafka_producev(rk_, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
                                           RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                                           RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        REQUIRE(err == RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    void flush() { REQUIRE(rd_kafka_flush(rk_, timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR); }

    rd_kafka_t* handle() { return rk_; }

private:
    static constexpr int timeout_ms = 30000;
    static void ok(rd_kafka_error_t* e, const char* what) {
        INFO(what << ": " << describe(e));
        const bool fine = e == nullptr;
        if (e) rd_kafka_error_destroy(e);
        REQUIRE(fine);
    }
    rd_kafka_t* rk_ = nullptr;
};

/// Reads partitions [0, partitions) from the beginning with `isolation` until each partition has
/// delivered a record whose value starts with "end-" (or 60 s passed): per partition, the values
/// in offset order.
std::map<int, std::vector<std::string>> read_until_end(const std::string& bootstrap, const std::string& topic,
                                                       int partitions, const std::string& isolation) {
    auto* conf = test::make_conf({{"bootstrap.servers", bootstrap},
                                  {"isolation.level", isolation},
                                  {"enable.auto.commit", "false"},
                                  {"group.id", "txn-reader"},
                                  {"enable.partition.eof", "false"}});
    char err[512];
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    REQUIRE(rk != nullptr);
    auto* list = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; ++p)
        rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    REQUIRE(rd_kafka_assign(rk, list) == RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(list);
    std::map<int, std::vector<std::string>> out;
    std::set<int> ended;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (static_cast<int>(ended.size()) < partitions && std::chrono::steady_clock::now() < until) {
        rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 200);
        if (!m) continue;
        if (!m->err) {
            std::string value(static_cast<const char*>(m->payload), m->len);
            if (value.rfind("end-", 0) == 0) ended.insert(m->partition);
            out[m->partition].push_back(std::move(value));
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    CHECK(static_cast<int>(ended.size()) == partitions);
    return out;
}

std::vector<std::string> values(const std::string& prefix, int p, int from, int to) {
    std::vector<std::string> v;
    for (int i = from; i < to; ++i) v.push_back(prefix + "-" + std::to_string(p) + "-" + std::to_string(i));
    return v;
}

} // namespace

TEST_CASE("librdkafka's transactional producer commits and aborts; read_committed sees exactly the commits",
          "[transactions]") {
    test::temp_dir dir;
    broker_process b(broker_exe(), {"--data-dir", dir.path.string(), "-X", "num.partitions=2", "-X",
                                    "transaction.state.log.num.partitions=4"});
    const std::string topic = "orders";
    txn_producer p(b.bootstrap(), "tx-orders");
    p.init();
    // Committed, aborted, committed, interleaved over both partitions; then the end markers.
    const std::vector<std::pair<std::string, bool>> rounds{{"c1", true}, {"a1", false}, {"c2", true},
                                                           {"a2", false}, {"c3", true}};
    for (const auto& [prefix, commit] : rounds) {
        p.begin();
        for (int i = 0; i < 5; ++i)
            for (int part = 0; part < 2; ++part) p.send(topic, part, prefix + "-" + std::to_string(part) + "-" + std::to_string(i));
        if (commit) {
            p.commit();
        } else {
            p.flush(); // the aborted records are in the log before the marker
            p.abort();
        }
    }
    p.begin();
    for (int part = 0; part < 2; ++part) p.send(topic, part, "end-" + std::to_string(part));
    p.commit();

    const auto committed = read_until_end(b.bootstrap(), topic, 2, "read_committed");
    for (int part = 0; part < 2; ++part) {
        std::vector<std::string> want;
        for (const auto* prefix : {"c1", "c2", "c3"}) {
            const auto v = values(prefix, part, 0, 5);
            want.insert(want.end(), v.begin(), v.end());
        }
        want.push_back("end-" + std::to_string(part));
        CAPTURE(part);
        CHECK(committed.at(part) == want);
    }
    const auto everything = read_until_end(b.bootstrap(), topic, 2, "read_uncommitted");
    for (int part = 0; part < 2; ++part) {
        std::vector<std::string> want;
        for (const auto& [prefix, commit] : rounds) {
            const auto v = values(prefix, part, 0, 5);
            want.insert(want.end(), v.begin(), v.end());
        }
        want.push_back("end-" + std::to_string(part));
        CAPTURE(part);
        CHECK(everything.at(part) == want);
    }
}

TEST_CASE("a second producer with the same transactional.id fences the first and aborts its transaction",
          "[transactions]") {
    test::temp_dir dir;
    broker_process b(broker_exe(), {"--data-dir", dir.path.string(), "-X", "num.partitions=1", "-X",
                                    "transaction.state.log.num.partitions=4"});
    const std::string topic = "fenced";
    txn_producer zombie(b.bootstrap(), "tx-shared");
    zombie.init();
    zombie.begin();
    for (int i = 0; i < 5; ++i) zombie.send(topic, 0, "zombie-0-" + std::to_string(i));
    zombie.flush(); // in the log, transaction open

    txn_producer fresh(b.bootstrap(), "tx-shared");
    fresh.init(); // the coordinator aborts the zombie's transaction with a bumped epoch first
    fresh.begin();
    for (int i = 0; i < 3; ++i) fresh.send(topic, 0, "fresh-0-" + std::to_string(i));
    fresh.send(topic, 0, "end-0");
    fresh.commit();

    // The zombie is fenced: its commit fails, and nothing it wrote is ever committed.
    rd_kafka_error_t* e = zombie.try_commit();
    INFO(txn_producer::describe(e));
    REQUIRE(e != nullptr);
    CHECK((rd_kafka_error_is_fatal(e) || rd_kafka_error_txn_requires_abort(e)));
    rd_kafka_error_destroy(e);

    const auto committed = read_until_end(b.bootstrap(), topic, 1, "read_committed");
    std::vector<std::string> want = values("fresh", 0, 0, 3);
    want.push_back("end-0");
    CHECK(committed.at(0) == want);
}

TEST_CASE("a transaction left open past its timeout is aborted and the last stable offset moves on",
          "[transactions]") {
    test::temp_dir dir;
    broker_process b(broker_exe(), {"--data-dir", dir.path.string(), "-X", "num.partitions=1", "-X",
                                    "transaction.state.log.num.partitions=4", "-X",
                                    "transaction.abort.timed.out.transaction.cleanup.interval.ms=200"});
    const std::string topic = "stalled";
    {
        // librdkafka: the smallest transaction timeout, and message.timeout.ms may not exceed it.
        txn_producer stalled(b.bootstrap(), "tx-stalled",
                             {{"transaction.timeout.ms", "1000"}, {"message.timeout.ms", "1000"}});
        stalled.init();
        stalled.begin();
        for (int i = 0; i < 4; ++i) stalled.send(topic, 0, "stalled-0-" + std::to_string(i));
        stalled.flush();
        // The producer goes away without ending the transaction (destroy does not abort it).
    }
    // Another producer commits after it; read_committed reaches that only once the coordinator
    // aborted the stalled transaction (else the last stable offset stays at its first record).
    txn_producer after(b.bootstrap(), "tx-after");
    after.init();
    after.begin();
    after.send(topic, 0, "after-0-0");
    after.send(topic, 0, "end-0");
    after.commit();
    const auto committed = read_until_end(b.bootstrap(), topic, 1, "read_committed");
    CHECK(committed.at(0) == std::vector<std::string>{"after-0-0", "end-0"});
}
