// Transactions in a cluster (docs/transactions.md): the coordinator writes markers into partitions
// other brokers lead (WriteTxnMarkers to them), and when the coordinator's broker dies after
// deciding, the new leader of its __transaction_state partition finishes the transaction: every
// partition gets its marker and no last stable offset stays stuck.
#include <gregor/broker/broker.hpp>
#include <gregor/broker/txn_coordinator.hpp>
#include <gregor/testing/local_cluster.hpp>

#include "../broker/broker_test_util.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <vector>

using namespace gregor;
using namespace std::chrono_literals;

namespace {

using cluster_t = testing::local_cluster<broker_policies<storage::file_backend>>;

template <typename Broker>
txn::init_result init(Broker& b, const std::string& id) {
    for (int i = 0; i < 100; ++i) {
        auto p = std::make_shared<std::promise<txn::init_result>>();
        auto f = p->get_future();
        b.transactions().init_producer_id(id, 60000, producer_id{-1}, producer_epoch{-1},
                                          [p](txn::init_result r) { p->set_value(r); });
        REQUIRE(f.wait_for(20s) == std::future_status::ready);
        const auto r = f.get();
        if (r.error != error_code::concurrent_transactions && r.error != error_code::coordinator_not_available) return r;
        std::this_thread::sleep_for(50ms); // the client's retry backoff
    }
    FAIL("InitProducerId kept answering a retriable error");
    return {};
}

template <typename Start>
error_code wait_error(Start&& start) {
    auto p = std::make_shared<std::promise<error_code>>();
    auto f = p->get_future();
    start([p](error_code e) { p->set_value(e); });
    REQUIRE(f.wait_for(20s) == std::future_status::ready);
    return f.get();
}

} // namespace

TEST_CASE("markers reach partitions led elsewhere, and survive the coordinator's death", "[cluster_txn]") {
    test::temp_dir dir;
    cluster_t::options o;
    o.nodes = 3;
    o.dir = dir.path;
    o.base.default_replication_factor = 3;
    o.base.min_insync_replicas = 2;
    o.base.broker_session_timeout_ms = 2000;
    o.base.broker_heartbeat_interval_ms = 200;
    o.base.replica_lag_time_max_ms = 2000;
    o.base.transaction_state_log_num_partitions = 3;
    o.base.transaction_state_log_min_isr = 2;
    cluster_t c(o);
    const std::string state(txn::state_topic);
    REQUIRE(c.wait_until([&] {
        for (int id = 1; id <= 3; ++id)
            if (!c.node(id).member() || !c.node(id).member()->unfenced()) return false;
        return true;
    }, 20s));
    REQUIRE(c.wait_until([&] {
        c.node(2).member()->request_topic(state, 3, 3, {{"cleanup.policy", "compact"}, {"min.insync.replicas", "2"}});
        c.node(2).member()->request_topic("t", 3, 3);
        for (int q = 0; q < 3; ++q)
            if (c.leader_of(state, q) <= 0 || c.leader_of("t", q) <= 0) return false;
        return true;
    }, 20s));
    // A transactional id coordinated away from node 1 (the controller, which must outlive it), and
    // a data partition led by another node than the coordinator.
    std::string id;
    int coord = -1;
    for (int i = 0; i < 100 && id.empty(); ++i) {
        const auto t = "tx" + std::to_string(i);
        const int l = c.leader_of(state, txn::partition_for(t, 3));
        bool remote = false;
        for (int q = 0; q < 3; ++q) remote |= c.leader_of("t", q) != l;
        if (l != 1 && remote) {
            id = t;
            coord = l;
        }
    }
    REQUIRE(!id.empty());
    const auto sp = txn::partition_for(id, 3);
    REQUIRE(c.wait_until([&] {
        auto* part = c.broker_of(coord).find_partition(state, partition_id{sp});
        return part && part->is_leader();
    }, 20s));
    // Every data partition's leader sees itself as leader before records go there.
    REQUIRE(c.wait_until([&] {
        for (int q = 0; q < 3; ++q) {
            auto* part = c.broker_of(c.leader_of("t", q)).find_partition("t", partition_id{q});
            if (!part || !part->is_leader()) return false;
        }
        return true;
    }, 20s));

    auto& cb = c.broker_of(coord);
    auto pr = init(cb, id);
    REQUIRE(pr.error == error_code::none);
    const auto add_all = [&](const txn::init_result& r) {
        return wait_error([&](auto done) {
            cb.transactions().add_partitions(id, r.id, r.epoch, {{"t", 0}, {"t", 1}, {"t", 2}}, std::move(done));
        });
    };
    const auto write_all = [&](const txn::init_result& r, const std::string& prefix, std::int32_t seq) {
        for (int q = 0; q < 3; ++q) {
            auto& lb = c.broker_of(c.leader_of("t", q));
            const auto res = lb.produce("t", partition_id{q},
                                        test::make_batch(prefix, 2, {r.id, r.epoch, sequence{seq}, true}), -1);
            REQUIRE(res.error == error_code::none);
        }
    };
    // Committed across three leaders; each partition's LSO passes its marker (offset 2).
    REQUIRE(add_all(pr) == error_code::none);
    write_all(pr, "c", 0);
    REQUIRE(wait_error([&](auto done) { cb.transactions().end_txn(id, pr.id, pr.epoch, true, std::move(done)); }) ==
            error_code::none);
    const auto all_stable_at = [&](offset at) {
        return c.wait_until([&] {
            for (int q = 0; q < 3; ++q) {
                const int l = c.leader_of("t", q);
                if (l <= 0 || !c.running(l)) return false;
                auto* part = c.broker_of(l).find_partition("t", partition_id{q});
                if (!part || !part->is_leader() || part->offsets().last_stable_offset < at) return false;
            }
            return true;
        }, 30s);
    };
    CHECK(all_stable_at(offset{3}));
    CHECK(c.wait_until([&] {
        const auto d = cb.transactions().describe(id);
        return d && d->state == txn::txn_state::complete_commit;
    }, 20s));

    // The next transaction is decided (abort), and the coordinator's broker dies at once: the new
    // leader of the id's __transaction_state partition (it has the decision: acks=all) finishes it.
    REQUIRE(add_all(pr) == error_code::none);
    write_all(pr, "a", 2);
    REQUIRE(wait_error([&](auto done) { cb.transactions().end_txn(id, pr.id, pr.epoch, false, std::move(done)); }) ==
            error_code::none);
    c.kill(coord);
    CHECK(all_stable_at(offset{6}));
    int next = -1;
    REQUIRE(c.wait_until([&] {
        for (int n = 1; n <= 3; ++n) {
            if (!c.running(n)) continue;
            auto* part = c.broker_of(n).find_partition(state, partition_id{sp});
            if (part && part->is_leader()) {
                next = n;
                return true;
            }
        }
        return false;
    }, 30s));
    CHECK(c.wait_until([&] {
        const auto d = c.broker_of(next).transactions().describe(id);
        return d && d->state == txn::txn_state::complete_abort;
    }, 30s));
    // read_committed on every partition: the committed pair only, the aborted pair listed.
    for (int q = 0; q < 3; ++q) {
        const int l = c.leader_of("t", q);
        REQUIRE(l > 0);
        auto r = c.broker_of(l).fetch("t", partition_id{q}, offset{0}, 1 << 20, isolation::read_committed);
        REQUIRE(r.error == error_code::none);
        REQUIRE(r.aborted.size() == 1);
        CHECK(r.aborted[0].id == pr.id);
        CHECK(r.aborted[0].first_offset == offset{3});
    }
}
