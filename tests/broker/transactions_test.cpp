// The transaction coordinator and the partitions' side of transactions, in process
// (docs/transactions.md): markers, the last stable offset, the aborted-transaction list a
// read_committed fetch returns, fencing of an old producer epoch, EndTxn's state table, the
// timeout abort, transactional offsets (TxnOffsetCommit), and restarts in every coordinator state:
// a decided transaction is finished by the restarted coordinator, an open one stays open until a
// new producer instance or the timeout aborts it.
#include "broker_test_util.hpp"

#include <gregor/broker/broker.hpp>
#include <gregor/storage/backends/file.hpp>
#include <gregor/testing/crashy_storage.hpp>
#include <gregor/testing/manual_clock.hpp>
#include <gregor/wire/txn_records.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <deque>
#include <future>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace gregor;
using namespace std::chrono_literals;
using gregor::test::make_batch;

namespace {

using memory_broker = broker<broker_policies<storage::memory_backend>>;
using file_broker = broker<broker_policies<storage::file_backend>>;
struct clocked_policies : broker_policies<storage::memory_backend, flush::never, durability::page_cache,
                                          testing::manual_clock_ref> {};
using clocked_broker = broker<clocked_policies>;
struct crashy_policies : default_broker_policies {
    using storage_backend = testing::crashy_storage<storage::file_backend>;
    using durability = gregor::durability::fsync_before_ack;
};
using crashy_broker = broker<crashy_policies>;

broker_config small_config() {
    broker_config c;
    c.transaction_state_log_num_partitions = 3;
    c.offsets_topic_num_partitions = 3;
    c.log_flush_scheduler_interval_ms = 3600000;
    return c;
}

broker_config config_in(const test::temp_dir& d) {
    auto c = small_config();
    c.data_dir = d.path;
    return c;
}

// Blocking forms of the coordinator's callbacks (the tests' threads may wait).
template <typename Start>
error_code wait_error(Start&& start) {
    std::promise<error_code> p;
    auto f = p.get_future();
    start([&p](error_code e) { p.set_value(e); });
    REQUIRE(f.wait_for(20s) == std::future_status::ready);
    return f.get();
}

template <typename Broker>
txn::init_result init(Broker& b, const std::string& id, std::int32_t timeout_ms = 60000) {
    std::promise<txn::init_result> p;
    auto f = p.get_future();
    b.transactions().init_producer_id(id, timeout_ms, producer_id{-1}, producer_epoch{-1},
                                      [&p](txn::init_result r) { p.set_value(r); });
    REQUIRE(f.wait_for(20s) == std::future_status::ready);
    return f.get();
}

template <typename Broker>
error_code add(Broker& b, const std::string& id, const txn::init_result& pr, const std::string& topic,
               std::vector<std::int32_t> parts) {
    std::vector<txn::topic_partition> tps;
    for (const auto p : parts) tps.push_back({topic, p});
    return wait_error([&](auto done) { b.transactions().add_partitions(id, pr.id, pr.epoch, tps, std::move(done)); });
}

template <typename Broker>
error_code end(Broker& b, const std::string& id, const txn::init_result& pr, bool commit) {
    return wait_error([&](auto done) { b.transactions().end_txn(id, pr.id, pr.epoch, commit, std::move(done)); });
}

wire::producer_stamp txn_stamp(const txn::init_result& pr, std::int32_t seq) {
    return {pr.id, pr.epoch, sequence{seq}, true};
}

// Waits (bounded) until the partition's last stable offset reaches `target`.
template <typename Broker>
bool lso_reaches(Broker& b, const std::string& topic, int p, offset target) {
    auto* part = b.find_partition(topic, partition_id{p});
    REQUIRE(part);
    std::promise<bool> done;
    auto f = done.get_future();
    if (!part->monitor().async_wait(offset_kind::last_stable, target,
                                    broker_detail::wait_clock::now() + 20s,
                                    [&done](wait_status s) {
                                        done.set_value(s == wait_status::reached);
                                    }))
        return true;
    return f.get();
}

template <typename Broker>
std::vector<std::string> committed_values(Broker& b, const std::string& topic, int p) {
    auto r = b.fetch(topic, partition_id{p}, offset{0}, 1 << 20, isolation::read_committed);
    REQUIRE(r.error == error_code::none);
    byte_buffer bytes;
    REQUIRE_FALSE(storage::copy_to(r.records, bytes));
    // The clients' filter (docs/protocol.md §7.3): per producer its aborted first offsets in
    // order; a transactional batch at or past the next one starts an aborted run, which that
    // producer's ABORT marker ends.
    std::map<std::int64_t, std::deque<offset>> aborted;
    for (const auto& a : r.aborted) aborted[a.id.value()].push_back(a.first_offset);
    for (auto& [pid, q] : aborted) std::sort(q.begin(), q.end());
    std::set<std::int64_t> in_aborted;
    std::vector<std::string> out;
    wire::batch_splitter s(bytes.view());
    while (auto batch = s.next()) {
        wire::batch_view v(*batch);
        const auto h = v.header();
        const auto pid = h.producer_id.value();
        if (h.is_control()) {
            for (const auto& rec : v)
                if (const auto c = wire::parse_control_record(rec); c && c->type == wire::control_type::abort)
                    in_aborted.erase(pid);
            continue;
        }
        if (h.is_transactional()) {
            auto& q = aborted[pid];
            if (!q.empty() && h.base_offset >= q.front()) {
                q.pop_front();
                in_aborted.insert(pid);
            }
            if (in_aborted.count(pid)) continue;
        }
        for (const auto& rec : v) out.emplace_back(as_string_view(*rec.value));
    }
    return out;
}

std::vector<std::string> values(const std::string& prefix, int n) {
    std::vector<std::string> v;
    for (int i = 0; i < n; ++i) v.push_back(prefix + "-" + std::to_string(i));
    return v;
}

} // namespace

TEST_CASE("commit and abort: markers move the last stable offset, aborts are listed for read_committed",
          "[transactions]") {
    memory_broker b{small_config()};
    REQUIRE(b.create_topic("t", 2) == error_code::none);
    const auto pr = init(b, "tx");
    REQUIRE(pr.error == error_code::none);
    CHECK(pr.epoch == producer_epoch{0});
    REQUIRE(add(b, "tx", pr, "t", {0, 1}) == error_code::none);
    REQUIRE(b.produce("t", partition_id{0}, make_batch("c", 3, txn_stamp(pr, 0)), -1).error == error_code::none);
    REQUIRE(b.produce("t", partition_id{1}, make_batch("c", 2, txn_stamp(pr, 0)), -1).error == error_code::none);
    // Open: nothing is stable, read_committed sees nothing; ListOffsets answers the LSO.
    CHECK(b.find_partition("t", partition_id{0})->offsets().last_stable_offset == offset{0});
    CHECK(b.find_partition("t", partition_id{0})->offsets().high_watermark == offset{3});
    CHECK(committed_values(b, "t", 0).empty());
    CHECK(b.list_offset("t", partition_id{0}, -1, isolation::read_committed).found == offset{0});
    CHECK(b.list_offset("t", partition_id{0}, -1, isolation::read_uncommitted).found == offset{3});
    CHECK(b.transactions().describe("tx")->state == txn::txn_state::ongoing);

    REQUIRE(end(b, "tx", pr, true) == error_code::none);
    CHECK(lso_reaches(b, "t", 0, offset{4})); // 3 records and the COMMIT marker
    CHECK(lso_reaches(b, "t", 1, offset{3}));
    CHECK(committed_values(b, "t", 0) == values("c", 3));
    CHECK(b.transactions().describe("tx")->state == txn::txn_state::complete_commit);
    CHECK(b.transactions().describe("tx")->partitions.empty());
    // A retried commit is answered NONE; an abort now is the wrong state.
    CHECK(end(b, "tx", pr, true) == error_code::none);
    CHECK(end(b, "tx", pr, false) == error_code::invalid_txn_state);

    // The next transaction aborts: its records stay in the log, listed as aborted.
    REQUIRE(add(b, "tx", pr, "t", {0}) == error_code::none);
    REQUIRE(b.produce("t", partition_id{0}, make_batch("a", 2, txn_stamp(pr, 3)), -1).error == error_code::none);
    REQUIRE(end(b, "tx", pr, false) == error_code::none);
    CHECK(lso_reaches(b, "t", 0, offset{7}));
    auto r = b.fetch("t", partition_id{0}, offset{0}, 1 << 20, isolation::read_committed);
    REQUIRE(r.aborted.size() == 1);
    CHECK(r.aborted[0].id == pr.id);
    CHECK(r.aborted[0].first_offset == offset{4});
    CHECK(committed_values(b, "t", 0) == values("c", 3));
    CHECK(test::read_partition(b, "t", 0).size() == 7); // read_uncommitted: 5 records and 2 markers
    // read_uncommitted carries no aborted list.
    CHECK(b.fetch("t", partition_id{0}, offset{0}, 1 << 20).aborted.empty());
    CHECK(b.transactions().describe("tx")->state == txn::txn_state::complete_abort);
}

TEST_CASE("EndTxn and AddPartitionsToTxn refuse what Kafka refuses", "[transactions]") {
    memory_broker b{small_config()};
    REQUIRE(b.create_topic("t", 1) == error_code::none);
    const auto pr = init(b, "tx");
    REQUIRE(pr.error == error_code::none);
    CHECK(end(b, "tx", pr, true) == error_code::invalid_txn_state); // Empty
    txn::init_result wrong_pid = pr;
    wrong_pid.id = producer_id{pr.id.value() + 1000};
    CHECK(add(b, "tx", wrong_pid, "t", {0}) == error_code::invalid_producer_id_mapping);
    txn::init_result old_epoch = pr;
    old_epoch.epoch = producer_epoch{static_cast<std::int16_t>(pr.epoch.value() - 1)};
    CHECK(add(b, "tx", old_epoch, "t", {0}) == error_code::producer_fenced);
    CHECK(add(b, "nobody", pr, "t", {0}) == error_code::invalid_producer_id_mapping);
    CHECK(init(b, "tx", 0).error == error_code::invalid_transaction_timeout);
    CHECK(init(b, "tx", static_cast<std::int32_t>(b.config().transaction_max_timeout_ms + 1)).error ==
          error_code::invalid_transaction_timeout);
    CHECK(init(b, "").error == error_code::invalid_request);
    // A transaction without partitions cannot be ended (librdkafka never sends that EndTxn).
    CHECK(end(b, "tx", pr, false) == error_code::invalid_txn_state);
}

TEST_CASE("a new instance fences the old epoch: its open transaction is aborted on every partition",
          "[transactions]") {
    memory_broker b{small_config()};
    REQUIRE(b.create_topic("t", 2) == error_code::none);
    const auto old = init(b, "tx");
    REQUIRE(add(b, "tx", old, "t", {0, 1}) == error_code::none);
    REQUIRE(b.produce("t", partition_id{0}, make_batch("z", 2, txn_stamp(old, 0)), -1).error == error_code::none);
    REQUIRE(b.produce("t", partition_id{1}, make_batch("z", 2, txn_stamp(old, 0)), -1).error == error_code::none);
    // The new instance: the first attempt fences and aborts (CONCURRENT_TRANSACTIONS, retriable),
    // a retry gets the epoch after the fence's.
    txn::init_result fresh;
    for (int i = 0; i < 100; ++i) {
        fresh = init(b, "tx");
        if (fresh.error != error_code::concurrent_transactions) break;
    }
    REQUIRE(fresh.error == error_code::none);
    CHECK(fresh.id == old.id);
    CHECK(fresh.epoch.value() == old.epoch.value() + 2);
    CHECK(lso_reaches(b, "t", 0, offset{3}));
    CHECK(lso_reaches(b, "t", 1, offset{3}));
    CHECK(committed_values(b, "t", 0).empty());
    // The zombie can neither write nor commit.
    CHECK(b.produce("t", partition_id{0}, make_batch("z2", 1, txn_stamp(old, 2)), -1).error ==
          error_code::invalid_producer_epoch);
    CHECK(end(b, "tx", old, true) == error_code::producer_fenced);
    CHECK(add(b, "tx", old, "t", {0}) == error_code::producer_fenced);
    // The new instance works.
    REQUIRE(add(b, "tx", fresh, "t", {0}) == error_code::none);
    REQUIRE(b.produce("t", partition_id{0}, make_batch("f", 2, txn_stamp(fresh, 0)), -1).error == error_code::none);
    REQUIRE(end(b, "tx", fresh, true) == error_code::none);
    CHECK(lso_reaches(b, "t", 0, offset{6}));
    CHECK(committed_values(b, "t", 0) == values("f", 2));
}

TEST_CASE("a transaction open past its timeout is aborted with a bumped epoch", "[transactions]") {
    testing::manual_clock clk;
    clocked_broker b{small_config(), {}, testing::manual_clock_ref{clk}};
    REQUIRE(b.create_topic("t", 1) == error_code::none);
    const auto pr = init(b, "tx", 5000);
    REQUIRE(add(b, "tx", pr, "t", {0}) == error_code::none);
    REQUIRE(b.produce("t", partition_id{0}, make_batch("s", 2, txn_stamp(pr, 0), clk.wall_ms()), -1).error ==
            error_code::none);
    b.transactions().abort_timed_out_now();
    CHECK(b.transactions().describe("tx")->state == txn::txn_state::ongoing); // not yet
    clk.advance(6s);
    b.transactions().abort_timed_out_now();
    CHECK(lso_reaches(b, "t", 0, offset{3}));
    const auto d = b.transactions().describe("tx");
    CHECK(d->state == txn::txn_state::complete_abort);
    CHECK(d->epoch.value() == pr.epoch.value() + 1);
    CHECK(end(b, "tx", pr, true) == error_code::producer_fenced);
    CHECK(committed_values(b, "t", 0).empty());
}

TEST_CASE("idle transactional ids expire", "[transactions]") {
    testing::manual_clock clk;
    auto cfg = small_config();
    cfg.transactional_id_expiration_ms = 60000;
    clocked_broker b{cfg, {}, testing::manual_clock_ref{clk}};
    REQUIRE(init(b, "idle").error == error_code::none);
    b.transactions().expire_now();
    CHECK(b.transactions().describe("idle"));
    clk.advance(61s);
    b.transactions().expire_now();
    // The tombstone is written with acks=all on the caller's thread (a single in-memory broker).
    CHECK_FALSE(b.transactions().describe("idle"));
    // A new producer with that id starts over at epoch 0 with a new producer id.
    const auto again = init(b, "idle");
    REQUIRE(again.error == error_code::none);
    CHECK(again.epoch == producer_epoch{0});
}

TEST_CASE("transactional offsets count only once the transaction commits", "[transactions]") {
    memory_broker b{small_config()};
    REQUIRE(b.create_topic("t", 1) == error_code::none);
    const auto txn_commit = [&](const txn::init_result& pr, std::int64_t off) {
        groups::txn_commit_request req;
        req.transactional_id = "tx";
        req.pid = pr.id;
        req.epoch = pr.epoch;
        req.commit.group_id = "g";
        req.commit.partitions.push_back({"t", 0, off, -1, std::nullopt, error_code::none});
        std::promise<std::vector<groups::commit_partition>> p;
        auto f = p.get_future();
        b.groups().txn_commit(req, [&p](std::vector<groups::commit_partition> ps) { p.set_value(std::move(ps)); });
        REQUIRE(f.wait_for(20s) == std::future_status::ready);
        return f.get().at(0).error;
    };
    const auto fetched = [&](bool require_stable) {
        auto r = b.groups().fetch_offsets("g", std::vector<std::pair<std::string, std::vector<std::int32_t>>>{{"t", {0}}},
                                          require_stable);
        REQUIRE(r.error == error_code::none);
        return r.offsets.at(0);
    };
    const auto pr = init(b, "tx");
    REQUIRE(wait_error([&](auto done) { b.transactions().add_offsets("tx", pr.id, pr.epoch, "g", std::move(done)); }) ==
            error_code::none);
    REQUIRE(txn_commit(pr, 42) == error_code::none);
    CHECK(fetched(false).offset == -1);
    CHECK(fetched(true).error == error_code::unstable_offset_commit);
    REQUIRE(end(b, "tx", pr, true) == error_code::none);
    CHECK(fetched(true).error == error_code::none);
    CHECK(fetched(false).offset == 42);

    // Aborted: the committed offset stays.
    REQUIRE(wait_error([&](auto done) { b.transactions().add_offsets("tx", pr.id, pr.epoch, "g", std::move(done)); }) ==
            error_code::none);
    REQUIRE(txn_commit(pr, 99) == error_code::none);
    // "All partitions" (topics null) says unstable too, for the partition with a pending commit.
    const auto all = b.groups().fetch_offsets("g", std::nullopt, true);
    REQUIRE(all.offsets.size() == 1);
    CHECK(all.offsets[0].error == error_code::unstable_offset_commit);
    CHECK(b.groups().fetch_offsets("g", std::nullopt, false).offsets.at(0).offset == 42);
    REQUIRE(end(b, "tx", pr, false) == error_code::none);
    CHECK(fetched(true).error == error_code::none);
    CHECK(fetched(false).offset == 42);
}

TEST_CASE("transactional offsets and coordinator state survive a restart", "[transactions]") {
    test::temp_dir dir;
    txn::init_result pr;
    {
        file_broker b{config_in(dir)};
        REQUIRE(b.create_topic("t", 1) == error_code::none);
        pr = init(b, "tx");
        REQUIRE(wait_error([&](auto done) { b.transactions().add_offsets("tx", pr.id, pr.epoch, "g", std::move(done)); }) ==
                error_code::none);
        groups::txn_commit_request req;
        req.transactional_id = "tx";
        req.pid = pr.id;
        req.epoch = pr.epoch;
        req.commit.group_id = "g";
        req.commit.partitions.push_back({"t", 0, 7, -1, std::nullopt, error_code::none});
        std::promise<error_code> p;
        auto f = p.get_future();
        b.groups().txn_commit(req, [&p](std::vector<groups::commit_partition> ps) { p.set_value(ps.at(0).error); });
        REQUIRE(f.get() == error_code::none);
        REQUIRE(end(b, "tx", pr, true) == error_code::none);
    }
    file_broker b{config_in(dir)};
    auto r = b.groups().fetch_offsets("g", std::vector<std::pair<std::string, std::vector<std::int32_t>>>{{"t", {0}}}, true);
    REQUIRE(r.error == error_code::none);
    CHECK(r.offsets.at(0).error == error_code::none);
    CHECK(r.offsets.at(0).offset == 7);
    const auto d = b.transactions().describe("tx");
    REQUIRE(d);
    CHECK(d->state == txn::txn_state::complete_commit);
    CHECK(d->id == pr.id);
    // The fence survives: the next instance gets a later epoch.
    const auto again = init(b, "tx");
    REQUIRE(again.error == error_code::none);
    CHECK(again.epoch.value() == pr.epoch.value() + 1);
}

namespace {

// What a coordinator that died right after making its decision durable left behind: the
// transaction's PrepareCommit/PrepareAbort record appended to its __transaction_state partition,
// and no marker anywhere (written here straight into the partition's log while no broker runs).
void append_decision(const test::temp_dir& dir, const std::string& txn_id, const txn::init_result& pr,
                     txn::txn_state state, const std::string& topic, std::int32_t partition) {
    namespace tr = wire::txn_records;
    const auto cfg = config_in(dir);
    const auto p = txn::partition_for(txn_id, cfg.transaction_state_log_num_partitions);
    storage::log<storage::file_backend, flush::never, system_clock> l{
        cfg.data_dir / (std::string(txn::state_topic) + "-" + std::to_string(p)), cfg.log, {}, system_clock{}};
    tr::transaction_log_value v;
    v.producer_id = pr.id;
    v.producer_epoch = pr.epoch;
    v.timeout_ms = 60000;
    v.status = static_cast<tr::transaction_state>(state);
    v.partitions = std::vector<tr::topic_partitions>{{topic, {partition_id{partition}}}};
    v.last_update_ms = system_clock{}.wall_ms();
    v.start_ms = v.last_update_ms;
    const auto key = tr::encode_key(txn_id);
    const auto value = tr::encode_value(v);
    wire::batch_builder bb(256);
    bb.append(v.last_update_ms, bytes_view{key.view()}, bytes_view{value.view()});
    auto batch = bb.seal();
    wire::patch_base_offset(batch.mutable_view(), l.log_end_offset());
    REQUIRE_FALSE(l.append(batch.view()));
    REQUIRE_FALSE(l.flush());
}

} // namespace

TEST_CASE("a restart finishes a decided transaction and keeps an open one open", "[transactions]") {
    const auto decided = GENERATE(txn::txn_state::prepare_commit, txn::txn_state::prepare_abort, txn::txn_state::ongoing);
    CAPTURE(static_cast<int>(decided));
    test::temp_dir dir;
    txn::init_result pr;
    {
        file_broker b{config_in(dir)};
        REQUIRE(b.create_topic("t", 1) == error_code::none);
        pr = init(b, "tx");
        REQUIRE(add(b, "tx", pr, "t", {0}) == error_code::none);
        REQUIRE(b.produce("t", partition_id{0}, make_batch("d", 3, txn_stamp(pr, 0)), -1).error == error_code::none);
    }
    if (decided != txn::txn_state::ongoing) append_decision(dir, "tx", pr, decided, "t", 0);
    file_broker b{config_in(dir)};
    if (decided == txn::txn_state::ongoing) {
        CHECK(b.find_partition("t", partition_id{0})->offsets().last_stable_offset == offset{0});
        CHECK(b.transactions().describe("tx")->state == txn::txn_state::ongoing);
        // A new instance of the producer aborts it.
        txn::init_result fresh;
        for (int i = 0; i < 100; ++i) {
            fresh = init(b, "tx");
            if (fresh.error != error_code::concurrent_transactions) break;
        }
        REQUIRE(fresh.error == error_code::none);
        CHECK(lso_reaches(b, "t", 0, offset{4}));
        CHECK(committed_values(b, "t", 0).empty());
        return;
    }
    // Nobody asks: the coordinator, started with the broker, writes the markers itself.
    CHECK(lso_reaches(b, "t", 0, offset{4}));
    if (decided == txn::txn_state::prepare_commit)
        CHECK(committed_values(b, "t", 0) == values("d", 3));
    else
        CHECK(committed_values(b, "t", 0).empty());
    for (int i = 0; i < 200; ++i) {
        const auto d = b.transactions().describe("tx");
        if (d && (d->state == txn::txn_state::complete_commit || d->state == txn::txn_state::complete_abort)) break;
        std::this_thread::sleep_for(10ms); // the Complete record follows the markers on the coordinator's thread
    }
    CHECK(b.transactions().describe("tx")->state ==
          (decided == txn::txn_state::prepare_commit ? txn::txn_state::complete_commit : txn::txn_state::complete_abort));
}

TEST_CASE("power loss after EndTxn was answered: the decision holds", "[transactions]") {
    const bool commit = GENERATE(true, false);
    CAPTURE(commit);
    test::temp_dir dir;
    auto ctl = std::make_shared<testing::crash_controller>(11);
    txn::init_result pr;
    {
        crashy_broker b{config_in(dir), {.controller = ctl}};
        REQUIRE(b.create_topic("t", 1) == error_code::none);
        pr = init(b, "tx");
        REQUIRE(add(b, "tx", pr, "t", {0}) == error_code::none);
        REQUIRE(b.produce("t", partition_id{0}, make_batch("p", 2, txn_stamp(pr, 0)), -1).error == error_code::none);
        REQUIRE(end(b, "tx", pr, commit) == error_code::none);
        ctl->power_loss(); // whatever was not synced is gone
    }
    crashy_broker b{config_in(dir), {.controller = ctl}};
    CHECK(lso_reaches(b, "t", 0, offset{3}));
    if (commit)
        CHECK(committed_values(b, "t", 0) == values("p", 2));
    else
        CHECK(committed_values(b, "t", 0).empty());
}
