// The transactional producer against a real gregor broker, in process (transport::in_process) and
// over TCP (transport::tcp to kafka_server on 127.0.0.1): commit makes records visible to
// read_committed readers and abort hides them (read_uncommitted still sees them), interleaved
// commits and aborts over two partitions keep their order, a second producer with the same
// transactional.id fences the first (fatal), the state rules (Java's IllegalStateException as
// local_error::invalid_state), a failed send makes the transaction abortable, abort drops what was
// not sent, and send_offsets_to_transaction commits a group's offsets only when the transaction
// commits, fenced by the group's generation when the consumer's group_metadata() is passed.
#include <gregor/broker/broker.hpp>
#include <gregor/broker/kafka_server.hpp>
#include <gregor/consumer/consumer.hpp>
#include <gregor/consumer/in_process.hpp>
#include <gregor/producer/producer.hpp>
#include <gregor/producer/tcp_transport.hpp>
#include <gregor/producer/transports.hpp>
#include <gregor/storage/backends/memory.hpp>
#include <gregor/testing/faulty_transport.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

using namespace gregor;
using namespace std::chrono_literals;

/// An error_code expression that must succeed, printing its message when it does not.
#define REQUIRE_OK(expr)                                                                                             \
    do {                                                                                                             \
        const std::error_code ec_ = (expr);                                                                          \
        INFO(#expr << ": " << ec_.message());                                                                        \
        REQUIRE(!ec_);                                                                                               \
    } while (0)

namespace {

using memory_broker = broker<broker_policies<storage::memory_backend>>;

broker_config txn_broker_config() {
    broker_config c;
    c.transaction_state_log_num_partitions = 4;
    c.offsets_topic_num_partitions = 4;
    c.group_initial_rebalance_delay_ms = 0;
    c.group_min_session_timeout_ms = 100;
    return c;
}

producer_config txn_config(const std::string& txn_id) {
    producer_config c;
    c.transactional_id = txn_id;
    c.linger_ms = 2;
    c.max_block_ms = 20000; // every transactional call is bounded by it
    c.retry_backoff_ms = 10;
    c.retry_backoff_max_ms = 100;
    c.reconnect_backoff_ms = 10;
    c.reconnect_backoff_max_ms = 100;
    return c;
}

struct in_process_env {
    static constexpr const char* name = "in process";
    using producer_type = producer<producer_policies<transport::in_process<memory_broker>>>;
    memory_broker b{txn_broker_config()};

    std::unique_ptr<producer_type> make(producer_config cfg) {
        return std::make_unique<producer_type>(std::move(cfg), transport::in_process{b});
    }
};

struct tcp_env {
    static constexpr const char* name = "tcp";
    using producer_type = producer<producer_policies<transport::tcp>>;
    memory_broker b{txn_broker_config()};
    std::unique_ptr<kafka_server<memory_broker>> srv;

    tcp_env() {
        kafka_server_config sc;
        sc.net.host = "127.0.0.1";
        sc.net.port = 0;
        srv = std::make_unique<kafka_server<memory_broker>>(b, sc);
    }
    std::unique_ptr<producer_type> make(producer_config cfg) {
        cfg.bootstrap_servers = "127.0.0.1:" + std::to_string(srv->port());
        transport::tcp t{cfg};
        return std::make_unique<producer_type>(std::move(cfg), std::move(t));
    }
};

/// Waits (bounded) until the coordinator has finished the transaction of `txn_id` with `state`
/// (markers written everywhere: the last stable offsets have moved past it).
bool wait_complete(memory_broker& b, const std::string& txn_id, txn::txn_state state) {
    const auto until = std::chrono::steady_clock::now() + 10s;
    for (int i = 0; i < 2000 && std::chrono::steady_clock::now() < until; ++i) {
        const auto d = b.transactions().describe(txn_id);
        if (d && d->state == state) return true;
        std::this_thread::sleep_for(5ms); // polling the coordinator's state: nothing to wait on
    }
    return false;
}

/// Every value of one partition up to its end (the last stable offset for read_committed, the
/// high watermark otherwise), read by gregor's consumer, which drops aborted transactions.
std::vector<std::string> read_values(memory_broker& b, const std::string& topic, std::int32_t p, bool committed) {
    consumer_config cfg;
    cfg.auto_offset_reset = offset_reset::earliest;
    cfg.read_committed = committed;
    cfg.fetch_max_wait_ms = 10;
    consumer<fetch_transport::in_process<memory_broker>> c{cfg, fetch_transport::in_process{b}};
    const topic_partition tp{topic, partition_id{p}};
    c.assign({tp});
    const auto end =
        b.list_offset(topic, partition_id{p}, -1, committed ? isolation::read_committed : isolation::read_uncommitted)
            .found;
    std::vector<std::string> out;
    const auto until = std::chrono::steady_clock::now() + 5s;
    for (int i = 0; i < 500 && std::chrono::steady_clock::now() < until; ++i) {
        if (c.position(tp) && *c.position(tp) >= end) break;
        auto r = c.poll(20ms);
        for (const auto& e : r.errors()) FAIL("poll error: " << e.error.message());
        r.for_each_record([&](const consumed_batch&, const wire::record_view& rec) {
            out.emplace_back(as_string_view(*rec.value));
        });
    }
    INFO(topic << "-" << p << " end " << end.value());
    CHECK((c.position(tp) && *c.position(tp) >= end));
    return out;
}

/// Completions by value; they run on the producer's sender thread.
struct txn_outcomes {
    std::mutex mu;
    std::map<std::string, std::error_code> by_value;

    auto callback(std::string value) {
        return [this, value = std::move(value)](std::error_code ec, const record_metadata&) {
            std::lock_guard lk(mu);
            by_value[value] = ec;
        };
    }
    std::error_code of(const std::string& v) {
        std::lock_guard lk(mu);
        const auto it = by_value.find(v);
        return it == by_value.end() ? make_error_code(local_error::timed_out) : it->second;
    }
    std::size_t size() {
        std::lock_guard lk(mu);
        return by_value.size();
    }
};

template <typename P>
void send_to(P& p, txn_outcomes& o, const std::string& topic, std::int32_t part, const std::string& value) {
    REQUIRE(!p.send({.topic = topic, .partition = partition_id{part}, .value = value}, o.callback(value)));
}

std::error_code fenced() { return make_error_code(error_code::producer_fenced); }
std::error_code invalid_state() { return make_error_code(local_error::invalid_state); }

// ---- scenarios ----------------------------------------------------------------------------

template <typename Env>
void scenario_commit_and_abort() {
    Env env;
    REQUIRE(env.b.create_topic("txn", 2) == error_code::none);
    const std::string id = std::string("tx-basic-") + Env::name;
    auto p = env.make(txn_config(id));
    REQUIRE(p->transactional());
    REQUIRE(p->idempotent());
    CHECK(p->txn_state() == transaction_state::uninitialized);
    REQUIRE_OK(p->init_transactions());
    CHECK(p->txn_state() == transaction_state::ready);

    txn_outcomes o;
    REQUIRE_OK(p->begin_transaction());
    CHECK(p->txn_state() == transaction_state::in_transaction);
    for (int i = 0; i < 3; ++i) {
        send_to(*p, o, "txn", 0, "c0-" + std::to_string(i));
        send_to(*p, o, "txn", 1, "c1-" + std::to_string(i));
    }
    REQUIRE_OK(p->commit_transaction());
    CHECK(p->txn_state() == transaction_state::ready);
    if constexpr (std::is_same_v<Env, tcp_env>) {
        // InitProducerId went to the transaction coordinator at a version that carries the
        // current id and epoch (v3+), which an epoch bump needs.
        CHECK(p->transport().counters().init_producer_id_version.load() >= 3);
    }
    // commit_transaction() returns after every record of the transaction completed.
    REQUIRE(o.size() == 6);
    for (const auto& [v, ec] : o.by_value) CHECK_FALSE(ec);
    REQUIRE(wait_complete(env.b, id, txn::txn_state::complete_commit));
    CHECK(read_values(env.b, "txn", 0, true) == std::vector<std::string>{"c0-0", "c0-1", "c0-2"});
    CHECK(read_values(env.b, "txn", 1, true) == std::vector<std::string>{"c1-0", "c1-1", "c1-2"});

    // Aborted after the records reached the log: read_committed never sees them.
    REQUIRE_OK(p->begin_transaction());
    for (int i = 0; i < 3; ++i) {
        send_to(*p, o, "txn", 0, "a0-" + std::to_string(i));
        send_to(*p, o, "txn", 1, "a1-" + std::to_string(i));
    }
    REQUIRE_OK(p->flush());
    for (int i = 0; i < 3; ++i) CHECK_FALSE(o.of("a0-" + std::to_string(i)));
    REQUIRE_OK(p->abort_transaction());
    CHECK(p->txn_state() == transaction_state::ready);
    REQUIRE(wait_complete(env.b, id, txn::txn_state::complete_abort));
    CHECK(read_values(env.b, "txn", 0, true) == std::vector<std::string>{"c0-0", "c0-1", "c0-2"});
    CHECK(read_values(env.b, "txn", 1, true) == std::vector<std::string>{"c1-0", "c1-1", "c1-2"});
    CHECK(read_values(env.b, "txn", 0, false) ==
          std::vector<std::string>{"c0-0", "c0-1", "c0-2", "a0-0", "a0-1", "a0-2"});
    CHECK(read_values(env.b, "txn", 1, false) ==
          std::vector<std::string>{"c1-0", "c1-1", "c1-2", "a1-0", "a1-1", "a1-2"});

    // The producer goes on with a new transaction after the abort.
    REQUIRE_OK(p->begin_transaction());
    send_to(*p, o, "txn", 0, "c0-3");
    REQUIRE_OK(p->commit_transaction());
    REQUIRE(wait_complete(env.b, id, txn::txn_state::complete_commit));
    CHECK(read_values(env.b, "txn", 0, true) == std::vector<std::string>{"c0-0", "c0-1", "c0-2", "c0-3"});
    CHECK(!p->close());
}

template <typename Env>
void scenario_interleaved() {
    Env env;
    REQUIRE(env.b.create_topic("mix", 2) == error_code::none);
    const std::string id = std::string("tx-mix-") + Env::name;
    auto p = env.make(txn_config(id));
    REQUIRE_OK(p->init_transactions());
    txn_outcomes o;
    std::vector<std::string> committed[2], all[2];
    for (int k = 0; k < 9; ++k) {
        REQUIRE_OK(p->begin_transaction());
        const bool commit = k % 3 != 1;
        for (int j = 0; j < 5; ++j) {
            for (std::int32_t part = 0; part < 2; ++part) {
                const auto v = std::to_string(part) + "-" + std::to_string(k) + "-" + std::to_string(j);
                send_to(*p, o, "mix", part, v);
                all[part].push_back(v);
                if (commit) committed[part].push_back(v);
            }
        }
        if (commit) {
            INFO("transaction " << k);
            REQUIRE_OK(p->commit_transaction());
        } else {
            REQUIRE_OK(p->flush()); // in the log, so that read_uncommitted sees them
            REQUIRE_OK(p->abort_transaction());
        }
    }
    REQUIRE(wait_complete(env.b, id, txn::txn_state::complete_commit));
    for (std::int32_t part = 0; part < 2; ++part) {
        INFO("partition " << part);
        CHECK(read_values(env.b, "mix", part, true) == committed[part]);
        CHECK(read_values(env.b, "mix", part, false) == all[part]);
    }
}

template <typename Env>
void scenario_fencing() {
    Env env;
    REQUIRE(env.b.create_topic("fence", 1) == error_code::none);
    std::vector<std::string> all;
    // The fenced instance learns it from EndTxn (commit right away), or from a Produce answer
    // (a record sent after the fence: INVALID_PRODUCER_EPOCH, reported as PRODUCER_FENCED).
    for (const bool send_after : {false, true}) {
        INFO((send_after ? "send after the fence" : "commit after the fence"));
        const std::string id = std::string("tx-fence-") + Env::name + (send_after ? "-send" : "-commit");
        auto first = env.make(txn_config(id));
        REQUIRE_OK(first->init_transactions());
        txn_outcomes o;
        REQUIRE_OK(first->begin_transaction());
        const std::string old0 = "old-0-" + id;
        send_to(*first, o, "fence", 0, old0);
        all.push_back(old0);
        REQUIRE_OK(first->flush());
        CHECK_FALSE(o.of(old0));

        // A new instance with the same id: its InitProducerId aborts the open transaction with a
        // higher epoch (answering CONCURRENT_TRANSACTIONS until that is done, which it retries).
        auto second = env.make(txn_config(id));
        REQUIRE_OK(second->init_transactions());

        if (send_after) {
            const std::string old1 = "old-1-" + id;
            send_to(*first, o, "fence", 0, old1);
            CHECK(first->commit_transaction() == fenced());
            const auto e = o.of(old1);
            CHECK((e == make_error_code(error_code::invalid_producer_epoch) || e == fenced()));
        } else {
            CHECK(first->commit_transaction() == fenced());
        }
        CHECK(first->txn_state() == transaction_state::fatal_error);
        CHECK(first->txn_error() == fenced());
        // Fatal: every later call fails the same way.
        CHECK(first->begin_transaction() == fenced());
        CHECK(first->abort_transaction() == fenced());
        CHECK(first->commit_transaction() == fenced());
        auto f = first->send({.topic = "fence", .partition = partition_id{0}, .value = std::string("old-2")}, use_future);
        REQUIRE(f.wait_for(10s) == std::future_status::ready);
        CHECK(f.get().error == fenced());

        REQUIRE_OK(second->begin_transaction());
        const std::string new0 = "new-0-" + id;
        send_to(*second, o, "fence", 0, new0);
        all.push_back(new0);
        REQUIRE_OK(second->commit_transaction());
        REQUIRE(wait_complete(env.b, id, txn::txn_state::complete_commit));
        CHECK(!first->close());
    }
    CHECK(read_values(env.b, "fence", 0, true) ==
          std::vector<std::string>{"new-0-" + std::string("tx-fence-") + Env::name + "-commit",
                                   "new-0-" + std::string("tx-fence-") + Env::name + "-send"});
    CHECK(read_values(env.b, "fence", 0, false) == all);
}

template <typename Env>
void scenario_offsets() {
    Env env;
    REQUIRE(env.b.create_topic("in", 1) == error_code::none);
    REQUIRE(env.b.create_topic("out", 1) == error_code::none);
    const std::string id = std::string("tx-offsets-") + Env::name;
    const std::string group = std::string("g-") + Env::name;
    auto p = env.make(txn_config(id));
    REQUIRE_OK(p->init_transactions());
    txn_outcomes o;
    const auto committed = [&] {
        const auto r = env.b.groups().fetch_offsets(group, std::vector<std::pair<std::string, std::vector<std::int32_t>>>{
                                                                {"in", {0}}});
        REQUIRE(r.error == error_code::none);
        REQUIRE(r.offsets.size() == 1);
        return r.offsets[0].offset;
    };

    // Outside a transaction: refused.
    CHECK(p->send_offsets_to_transaction({{.topic = "in", .partition = partition_id{0}, .next = offset{3}}},
                                         {.group_id = group}) == invalid_state());

    // Aborted: the offsets never become the group's.
    REQUIRE_OK(p->begin_transaction());
    send_to(*p, o, "out", 0, "x-0");
    REQUIRE_OK(p->send_offsets_to_transaction({{.topic = "in", .partition = partition_id{0}, .next = offset{5}}},
                                            {.group_id = group}));
    REQUIRE_OK(p->abort_transaction());
    REQUIRE(wait_complete(env.b, id, txn::txn_state::complete_abort));
    CHECK(committed() == -1);

    // Committed: they do, with the records.
    REQUIRE_OK(p->begin_transaction());
    send_to(*p, o, "out", 0, "x-1");
    REQUIRE_OK(p->send_offsets_to_transaction(
            {{.topic = "in", .partition = partition_id{0}, .next = offset{7}, .metadata = std::string("m")}},
            {.group_id = group}));
    REQUIRE_OK(p->commit_transaction());
    REQUIRE(wait_complete(env.b, id, txn::txn_state::complete_commit));
    CHECK(committed() == 7);
    CHECK(read_values(env.b, "out", 0, true) == std::vector<std::string>{"x-1"});

    // Offsets only (no record): the transaction still commits them.
    REQUIRE_OK(p->begin_transaction());
    REQUIRE_OK(p->send_offsets_to_transaction({{.topic = "in", .partition = partition_id{0}, .next = offset{9}}},
                                            {.group_id = group}));
    REQUIRE_OK(p->commit_transaction());
    REQUIRE(wait_complete(env.b, id, txn::txn_state::complete_commit));
    CHECK(committed() == 9);
}

/// A batch the broker refused after it got its sequence number: the transaction is abortable,
/// and the abort bumps the epoch (InitProducerId with the current id and epoch), without which
/// the partition's next batch would be out of sequence.
template <typename Env>
void scenario_bump_after_failed_batch() {
    Env env;
    REQUIRE(env.b.create_topic("tiny", 1, {{"max.message.bytes", "300"}}) == error_code::none);
    const std::string id = std::string("tx-bump-") + Env::name;
    auto p = env.make(txn_config(id));
    REQUIRE_OK(p->init_transactions());
    txn_outcomes o;
    REQUIRE_OK(p->begin_transaction());
    send_to(*p, o, "tiny", 0, "s-0");
    REQUIRE_OK(p->commit_transaction());
    const auto before = env.b.transactions().describe(id);
    REQUIRE(before);

    REQUIRE_OK(p->begin_transaction());
    send_to(*p, o, "tiny", 0, std::string(500, 'b'));
    REQUIRE(p->flush(10s) == std::error_code{});
    const auto too_large = make_error_code(error_code::message_too_large);
    CHECK(o.of(std::string(500, 'b')) == too_large);
    CHECK(p->txn_state() == transaction_state::abortable_error);
    CHECK(p->commit_transaction() == too_large);
    REQUIRE_OK(p->abort_transaction());
    const auto after = env.b.transactions().describe(id);
    REQUIRE(after);
    CHECK(after->id == before->id);
    CHECK(after->epoch.value() == before->epoch.value() + 1);

    REQUIRE_OK(p->begin_transaction());
    send_to(*p, o, "tiny", 0, "s-1");
    REQUIRE_OK(p->commit_transaction());
    CHECK_FALSE(o.of("s-1"));
    REQUIRE(wait_complete(env.b, id, txn::txn_state::complete_commit));
    CHECK(read_values(env.b, "tiny", 0, true) == std::vector<std::string>{"s-0", "s-1"});
}

/// consume-transform-produce with a subscribed consumer: its group_metadata() makes the
/// coordinator check the generation, and a stale one makes the transaction abortable.
template <typename Env>
void scenario_group_metadata() {
    Env env;
    REQUIRE(env.b.create_topic("src", 1) == error_code::none);
    REQUIRE(env.b.create_topic("dst", 1) == error_code::none);
    const std::string id = std::string("tx-group-") + Env::name;
    const std::string group = std::string("cg-") + Env::name;
    consumer_config cc;
    cc.group_id = group;
    cc.auto_offset_reset = offset_reset::earliest;
    cc.fetch_max_wait_ms = 20;
    cc.heartbeat_interval_ms = 50;
    cc.session_timeout_ms = 3000;
    cc.retry_backoff_ms = 20;
    consumer<fetch_transport::in_process<memory_broker>> c{cc, fetch_transport::in_process{env.b}};
    CHECK(c.group_metadata() == consumer_group_metadata{.group_id = group});
    c.subscribe({"src"});
    const topic_partition tp{"src", partition_id{0}};
    const auto until = std::chrono::steady_clock::now() + 10s;
    for (int i = 0; i < 500 && c.assignment().empty() && std::chrono::steady_clock::now() < until; ++i)
        (void)c.poll(20ms);
    REQUIRE(c.assignment() == std::vector<topic_partition>{tp});
    const auto md = c.group_metadata();
    CHECK(md.group_id == group);
    CHECK(md.generation_id >= 0);
    CHECK(!md.member_id.empty());

    auto p = env.make(txn_config(id));
    REQUIRE_OK(p->init_transactions());
    txn_outcomes o;
    REQUIRE_OK(p->begin_transaction());
    send_to(*p, o, "dst", 0, "t-0");
    REQUIRE_OK(p->send_offsets_to_transaction({{.topic = "src", .partition = partition_id{0}, .next = offset{1}}}, md));
    REQUIRE_OK(p->commit_transaction());
    REQUIRE(wait_complete(env.b, id, txn::txn_state::complete_commit));
    const auto r = c.committed({tp});
    REQUIRE(!r.error);
    REQUIRE(r.partitions.size() == 1);
    CHECK(r.partitions[0].next == offset{1});

    // A generation the group is not at: ILLEGAL_GENERATION, and the transaction is abortable.
    auto stale = md;
    stale.generation_id += 5;
    REQUIRE_OK(p->begin_transaction());
    send_to(*p, o, "dst", 0, "t-1");
    const auto e =
        p->send_offsets_to_transaction({{.topic = "src", .partition = partition_id{0}, .next = offset{2}}}, stale);
    CHECK(e == make_error_code(error_code::illegal_generation));
    CHECK(p->txn_state() == transaction_state::abortable_error);
    CHECK(p->commit_transaction() == e);
    REQUIRE_OK(p->abort_transaction());
    CHECK(p->txn_state() == transaction_state::ready);
    c.close();
}

} // namespace

TEST_CASE("transactions: commit shows records to read_committed, abort hides them (in process)", "[producer_txn]") {
    scenario_commit_and_abort<in_process_env>();
}
TEST_CASE("transactions: commit shows records to read_committed, abort hides them (over TCP)", "[producer_txn]") {
    scenario_commit_and_abort<tcp_env>();
}
TEST_CASE("transactions: interleaved commits and aborts over two partitions keep order (in process)",
          "[producer_txn]") {
    scenario_interleaved<in_process_env>();
}
TEST_CASE("transactions: interleaved commits and aborts over two partitions keep order (over TCP)",
          "[producer_txn]") {
    scenario_interleaved<tcp_env>();
}
TEST_CASE("transactions: a second producer with the same transactional.id fences the first (in process)",
          "[producer_txn]") {
    scenario_fencing<in_process_env>();
}
TEST_CASE("transactions: a second producer with the same transactional.id fences the first (over TCP)",
          "[producer_txn]") {
    scenario_fencing<tcp_env>();
}
TEST_CASE("transactions: send_offsets_to_transaction commits the group's offsets only on commit (in process)",
          "[producer_txn]") {
    scenario_offsets<in_process_env>();
}
TEST_CASE("transactions: send_offsets_to_transaction commits the group's offsets only on commit (over TCP)",
          "[producer_txn]") {
    scenario_offsets<tcp_env>();
}
TEST_CASE("transactions: a batch refused after sequencing makes the abort bump the epoch (in process)",
          "[producer_txn]") {
    scenario_bump_after_failed_batch<in_process_env>();
}
TEST_CASE("transactions: a batch refused after sequencing makes the abort bump the epoch (over TCP)",
          "[producer_txn]") {
    scenario_bump_after_failed_batch<tcp_env>();
}
TEST_CASE("transactions: the consumer's group_metadata() fences offsets of a stale generation (in process)",
          "[producer_txn]") {
    scenario_group_metadata<in_process_env>();
}
TEST_CASE("transactions: the consumer's group_metadata() fences offsets of a stale generation (over TCP)",
          "[producer_txn]") {
    scenario_group_metadata<tcp_env>();
}

TEST_CASE("transactions: calls in the wrong state are refused with invalid_state", "[producer_txn]") {
    in_process_env env;
    REQUIRE(env.b.create_topic("st", 1) == error_code::none);

    // Not transactional: none of the transactional calls applies.
    {
        auto plain = env.make(producer_config{});
        CHECK_FALSE(plain->transactional());
        CHECK(plain->init_transactions() == invalid_state());
        CHECK(plain->begin_transaction() == invalid_state());
        CHECK(plain->commit_transaction() == invalid_state());
        CHECK(plain->abort_transaction() == invalid_state());
    }

    auto p = env.make(txn_config("tx-state"));
    // Before init_transactions(): nothing else, and no send.
    CHECK(p->begin_transaction() == invalid_state());
    CHECK(p->commit_transaction() == invalid_state());
    CHECK(p->abort_transaction() == invalid_state());
    auto early = p->send({.topic = "st", .value = std::string("early")}, use_future);
    REQUIRE(early.wait_for(5s) == std::future_status::ready);
    CHECK(early.get().error == invalid_state());

    REQUIRE_OK(p->init_transactions());
    CHECK(p->init_transactions() == invalid_state()); // once per producer
    // Ready: no commit, abort or send without a transaction.
    CHECK(p->commit_transaction() == invalid_state());
    CHECK(p->abort_transaction() == invalid_state());
    CHECK(p->send({.topic = "st", .value = std::string("outside")}) == invalid_state());

    REQUIRE_OK(p->begin_transaction());
    CHECK(p->begin_transaction() == invalid_state()); // one at a time
    // An empty transaction commits without asking the coordinator.
    REQUIRE_OK(p->commit_transaction());
    CHECK(p->txn_state() == transaction_state::ready);
    CHECK(p->send({.topic = "st", .value = std::string("after")}) == invalid_state());

    txn_outcomes o;
    REQUIRE_OK(p->begin_transaction());
    send_to(*p, o, "st", 0, "inside");
    REQUIRE_OK(p->commit_transaction());
    CHECK_FALSE(o.of("inside"));
    CHECK(p->txn_state() == transaction_state::ready);
    REQUIRE(wait_complete(env.b, "tx-state", txn::txn_state::complete_commit));
    CHECK(read_values(env.b, "st", 0, true) == std::vector<std::string>{"inside"});
}

TEST_CASE("transactions: configuration and transport are checked at construction", "[producer_txn]") {
    in_process_env env;
    auto with = [](auto f) {
        auto c = txn_config("tx-cfg");
        f(c);
        return c;
    };
    CHECK_THROWS_WITH(env.make(with([](producer_config& c) { c.acks = 1; })), Catch::Contains("acks=all"));
    CHECK_THROWS_WITH(env.make(with([](producer_config& c) { c.enable_idempotence = false; })),
                      Catch::Contains("idempotence"));
    CHECK_THROWS_WITH(env.make(with([](producer_config& c) { c.max_in_flight_requests_per_connection = 6; })),
                      Catch::Contains("max.in.flight"));
    CHECK_THROWS_WITH(env.make(with([](producer_config& c) { c.transactional_id = ""; })),
                      Catch::Contains("transactional.id"));
    CHECK_THROWS_WITH(env.make(with([](producer_config& c) { c.transaction_timeout_ms = 0; })),
                      Catch::Contains("transaction.timeout.ms"));
    // A transport that cannot carry AddPartitionsToTxn and friends.
    using faulty = testing::faulty_transport<transport::in_process<memory_broker>>;
    CHECK_THROWS_WITH((producer<producer_policies<faulty>>{txn_config("tx-cfg"),
                                                           faulty{transport::in_process{env.b}, {}}}),
                      Catch::Contains("transactional"));
    // The broker refuses a timeout above transaction.max.timeout.ms: fatal, as in Java.
    auto p = env.make(with([](producer_config& c) { c.transaction_timeout_ms = 1000000; }));
    CHECK(p->init_transactions() == make_error_code(error_code::invalid_transaction_timeout));
    CHECK(p->txn_state() == transaction_state::fatal_error);
    CHECK(p->begin_transaction() == make_error_code(error_code::invalid_transaction_timeout));
}

TEST_CASE("transactions: a failed send makes the transaction abortable; abort drops unsent records",
          "[producer_txn]") {
    in_process_env env;
    REQUIRE(env.b.create_topic("ab", 1) == error_code::none);
    auto cfg = txn_config("tx-abortable");
    cfg.max_request_size = 1024;
    cfg.batch_size = 512;
    auto p = env.make(cfg);
    REQUIRE_OK(p->init_transactions());
    txn_outcomes o;

    // A record the producer cannot send (too large) spoils the transaction, as in Java.
    REQUIRE_OK(p->begin_transaction());
    send_to(*p, o, "ab", 0, "fine-0");
    const std::string big(4096, 'x');
    const auto too_large = make_error_code(error_code::message_too_large);
    CHECK(p->send({.topic = "ab", .partition = partition_id{0}, .value = big}) == too_large);
    CHECK(p->txn_state() == transaction_state::abortable_error);
    CHECK(p->txn_error() == too_large);
    // Nothing goes on in it: not sends, not a commit; only an abort.
    CHECK(p->send({.topic = "ab", .partition = partition_id{0}, .value = std::string("late")}) == too_large);
    CHECK(p->commit_transaction() == too_large);
    CHECK(p->begin_transaction() == too_large);
    REQUIRE_OK(p->abort_transaction());
    CHECK(p->txn_state() == transaction_state::ready);
    // "fine-0" was either sent (then aborted), or dropped before it went out: with the
    // transaction's error if the sender saw the abortable state first (as Java's sender does),
    // else as purged by the abort.
    const auto fine = o.of("fine-0");
    CHECK((!fine || fine == too_large || fine == make_error_code(local_error::purged)));

    // Records still buffered when the abort comes are dropped, reported as purged, and nothing is
    // written for them.
    auto slow_cfg = txn_config("tx-purge");
    slow_cfg.linger_ms = 60000;
    slow_cfg.delivery_timeout_ms = 200000;
    auto slow = env.make(slow_cfg);
    REQUIRE_OK(slow->init_transactions());
    REQUIRE_OK(slow->begin_transaction());
    for (int i = 0; i < 5; ++i) send_to(*slow, o, "ab", 0, "held-" + std::to_string(i));
    REQUIRE_OK(slow->abort_transaction());
    for (int i = 0; i < 5; ++i) CHECK(o.of("held-" + std::to_string(i)) == make_error_code(local_error::purged));
    // The partition joins the transaction as its first batch opens, so the coordinator may have
    // heard of the transaction (then it is aborted) or not (the abort came first); either way it
    // is over.
    const auto d = env.b.transactions().describe("tx-purge");
    REQUIRE(d);
    CHECK((d->state == txn::txn_state::empty || d->state == txn::txn_state::complete_abort));
    REQUIRE_OK(slow->begin_transaction());
    send_to(*slow, o, "ab", 0, "kept");
    REQUIRE_OK(slow->commit_transaction());
    REQUIRE(wait_complete(env.b, "tx-purge", txn::txn_state::complete_commit));
    CHECK(read_values(env.b, "ab", 0, true) == std::vector<std::string>{"kept"});
    for (const auto& v : read_values(env.b, "ab", 0, false)) CHECK(v.rfind("held-", 0) == std::string::npos);
}

TEST_CASE("transactions: close() aborts an open transaction", "[producer_txn]") {
    in_process_env env;
    REQUIRE(env.b.create_topic("cl", 1) == error_code::none);
    {
        auto p = env.make(txn_config("tx-close"));
        REQUIRE_OK(p->init_transactions());
        REQUIRE_OK(p->begin_transaction());
        txn_outcomes o;
        send_to(*p, o, "cl", 0, "open-0");
        REQUIRE_OK(p->flush());
        CHECK(!p->close());
    }
    REQUIRE(wait_complete(env.b, "tx-close", txn::txn_state::complete_abort));
    CHECK(read_values(env.b, "cl", 0, true).empty());
    CHECK(read_values(env.b, "cl", 0, false) == std::vector<std::string>{"open-0"});
}
