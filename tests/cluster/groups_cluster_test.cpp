// Consumer groups in a cluster (docs/groups.md): __consumer_offsets is a replicated topic like any
// other, a group's coordinator is the leader of its partition, a commit is answered once every
// in-sync replica has it, and when the coordinator's broker dies the new leader of the partition
// serves the same committed offsets and group.
#include <gregor/broker/broker.hpp>
#include <gregor/broker/group_coordinator.hpp>
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
std::vector<groups::commit_partition> commit(Broker& b, const std::string& group, const std::string& topic, std::int64_t off) {
    auto p = std::make_shared<std::promise<std::vector<groups::commit_partition>>>();
    auto f = p->get_future();
    groups::commit_request c;
    c.group_id = group;
    groups::commit_partition cp;
    cp.topic = topic;
    cp.partition = 0;
    cp.offset = off;
    c.partitions.push_back(cp);
    b.groups().commit(std::move(c), [p](std::vector<groups::commit_partition> r) { p->set_value(std::move(r)); });
    REQUIRE(f.wait_for(20s) == std::future_status::ready);
    return f.get();
}

} // namespace

TEST_CASE("a group's offsets survive the death of its coordinator", "[cluster_groups]") {
    test::temp_dir dir;
    cluster_t::options o;
    o.nodes = 3;
    o.dir = dir.path;
    o.base.default_replication_factor = 3;
    o.base.min_insync_replicas = 2;
    o.base.broker_session_timeout_ms = 2000;
    o.base.broker_heartbeat_interval_ms = 200;
    o.base.replica_lag_time_max_ms = 2000;
    o.base.offsets_topic_num_partitions = 3;
    o.base.group_initial_rebalance_delay_ms = 0;
    cluster_t c(o);
    const std::string offsets(groups::offsets_topic);
    REQUIRE(c.wait_until([&] {
        for (int id = 1; id <= 3; ++id)
            if (!c.node(id).member() || !c.node(id).member()->unfenced()) return false;
        return true;
    }, 20s));
    // What FindCoordinator does on a cluster member: ask the controller for the topic, again on
    // every lookup until it has leaders (a request refused while brokers register is not retried).
    REQUIRE(c.wait_until([&] {
        c.node(2).member()->request_topic(offsets, 3, 3, {{"cleanup.policy", "compact"}});
        c.node(2).member()->request_topic("t", 1, 3);
        for (int q = 0; q < 3; ++q)
            if (c.leader_of(offsets, q) <= 0) return false;
        return c.leader_of("t", 0) > 0;
    }, 20s));
    // Node 1 runs the controller, which must outlive the coordinator: a group led elsewhere.
    std::string group;
    for (int i = 0; i < 100 && group.empty(); ++i) {
        const auto g = "cg" + std::to_string(i);
        if (c.leader_of(offsets, groups::partition_for(g, 3)) != 1) group = g;
    }
    REQUIRE(!group.empty());
    const auto p = groups::partition_for(group, 3);
    const int leader = c.leader_of(offsets, p);
    // The leader's own view must have caught up before it acts as coordinator.
    REQUIRE(c.wait_until([&] { return c.broker_of(leader).find_partition(offsets, partition_id{p}) &&
                                      c.broker_of(leader).find_partition(offsets, partition_id{p})->is_leader(); },
                         20s));

    const auto ok = commit(c.broker_of(leader), group, "t", 42);
    REQUIRE(ok.size() == 1);
    CHECK(ok[0].error == error_code::none);
    const int other = leader == 2 ? 3 : 2;
    CHECK(commit(c.broker_of(other), group, "t", 7)[0].error == error_code::not_coordinator);

    // acks=all: both followers have the record before the commit was answered. Kill the leader.
    c.kill(leader);
    int next = -1;
    REQUIRE(c.wait_until([&] {
        for (int id = 1; id <= 3; ++id) {
            if (id == leader || !c.running(id)) continue;
            const int l = c.leader_of(offsets, p, id);
            auto* part = l > 0 && l != leader ? c.broker_of(l).find_partition(offsets, partition_id{p}) : nullptr;
            if (part && part->is_leader()) {
                next = l;
                return true;
            }
        }
        return false;
    }, 30s));
    REQUIRE(next != leader);
    const auto got = c.broker_of(next).groups().fetch_offsets(
            group, std::vector<std::pair<std::string, std::vector<std::int32_t>>>{{"t", {0}}});
    CHECK(got.error == error_code::none);
    REQUIRE(got.offsets.size() == 1);
    CHECK(got.offsets[0].offset == 42);
    // And the new coordinator takes new commits.
    CHECK(commit(c.broker_of(next), group, "t", 43)[0].error == error_code::none);
}
