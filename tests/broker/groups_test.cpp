// The group coordinator (broker/group_coordinator.hpp) driven directly on a real broker: the
// KIP-394 join, the leader's assignment reaching every member, heartbeats telling members to
// rejoin, a second member triggering a rebalance, session expiry, LeaveGroup, offsets committed
// to __consumer_offsets and read back (also after a broker restart from its files), simple
// consumers' commits, DescribeGroups/ListGroups, DeleteGroups and OffsetDelete, and the static
// member that rejoins without a rebalance.
#include "broker_test_util.hpp"

#include <gregor/broker/broker.hpp>
#include <gregor/broker/group_coordinator.hpp>
#include <gregor/testing/manual_clock.hpp>
#include <gregor/wire/consumer_protocol.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace gregor;
using namespace std::chrono_literals;

namespace {

using file_broker = broker<broker_policies<storage::file_backend>>;
using memory_broker = broker<broker_policies<storage::memory_backend>>;

broker_config group_config(const std::filesystem::path& dir) {
    broker_config c;
    c.data_dir = dir;
    c.offsets_topic_num_partitions = 4;
    c.group_initial_rebalance_delay_ms = 0;
    c.group_min_session_timeout_ms = 100;
    return c;
}

/// A result delivered on another thread, waited for with a bound.
template <typename T>
struct later {
    std::shared_ptr<std::promise<T>> p = std::make_shared<std::promise<T>>();
    std::future<T> f = p->get_future();
    auto setter() {
        return [p = p](T v) { p->set_value(std::move(v)); };
    }
    bool ready(std::chrono::milliseconds within = 0ms) { return f.wait_for(within) == std::future_status::ready; }
    T get(std::chrono::milliseconds within = 10s) {
        REQUIRE(f.wait_for(within) == std::future_status::ready);
        return f.get();
    }
};

groups::join_request join_req(const std::string& group, const std::string& member, std::int32_t session_ms = 10000,
                              std::string protocol = "range", std::string metadata = "sub") {
    groups::join_request j;
    j.group_id = group;
    j.session_timeout_ms = session_ms;
    j.rebalance_timeout_ms = session_ms;
    j.member_id = member;
    j.protocol_type = "consumer";
    j.protocols.push_back({std::move(protocol), std::move(metadata)});
    j.client_id = "test";
    j.client_host = "/127.0.0.1";
    j.require_known_member_id = true;
    return j;
}

template <typename Broker>
groups::join_result join(Broker& b, groups::join_request j) {
    later<groups::join_result> l;
    b.groups().join(std::move(j), l.setter());
    return l.get();
}

/// The KIP-394 dance: the first join hands out an id, the second joins with it.
template <typename Broker>
std::string new_member_id(Broker& b, const std::string& group) {
    const auto first = join(b, join_req(group, ""));
    REQUIRE(first.error == error_code::member_id_required);
    REQUIRE(!first.member_id.empty());
    return first.member_id;
}

template <typename Broker>
groups::sync_result sync(Broker& b, const std::string& group, std::int32_t gen, const std::string& member,
                         std::vector<std::pair<std::string, std::string>> assignments = {}) {
    later<groups::sync_result> l;
    groups::sync_request s;
    s.group_id = group;
    s.generation_id = gen;
    s.member_id = member;
    s.assignments = std::move(assignments);
    b.groups().sync(std::move(s), l.setter());
    return l.get();
}

template <typename Broker>
std::vector<groups::commit_partition> commit(Broker& b, const std::string& group, std::int32_t gen,
                                             const std::string& member, const std::string& topic, std::int32_t p,
                                             std::int64_t off, std::string meta = "m") {
    later<std::vector<groups::commit_partition>> l;
    groups::commit_request c;
    c.group_id = group;
    c.generation_id = gen;
    c.member_id = member;
    groups::commit_partition cp;
    cp.topic = topic;
    cp.partition = p;
    cp.offset = off;
    cp.metadata = std::move(meta);
    c.partitions.push_back(cp);
    b.groups().commit(std::move(c), l.setter());
    return l.get();
}

template <typename Broker>
std::int64_t committed(Broker& b, const std::string& group, const std::string& topic, std::int32_t p) {
    const auto r = b.groups().fetch_offsets(group, std::vector<std::pair<std::string, std::vector<std::int32_t>>>{{topic, {p}}});
    REQUIRE(r.error == error_code::none);
    REQUIRE(r.offsets.size() == 1);
    return r.offsets.front().offset;
}

/// Polls `pred` every 10 ms for at most `within`: group timers have no event a test can wait on.
template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds within = 10s) {
    const auto until = std::chrono::steady_clock::now() + within;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > until) return false;
        std::this_thread::sleep_for(10ms);
    }
    return true;
}

} // namespace

TEST_CASE("one member joins, is leader, assigns and heartbeats", "[groups]") {
    test::temp_dir dir;
    memory_broker b{group_config(dir.path)};
    REQUIRE(b.ensure_offsets_topic() == error_code::none);
    const auto id = new_member_id(b, "g");
    const auto j = join(b, join_req("g", id));
    REQUIRE(j.error == error_code::none);
    CHECK(j.generation_id == 1);
    CHECK(j.leader == id);
    CHECK(j.member_id == id);
    CHECK(j.protocol_name == std::optional<std::string>("range"));
    REQUIRE(j.members.size() == 1);
    CHECK(j.members[0].metadata == "sub");
    const auto s = sync(b, "g", 1, id, {{id, "assignment-bytes"}});
    REQUIRE(s.error == error_code::none);
    CHECK(s.assignment == "assignment-bytes");
    CHECK(b.groups().heartbeat("g", 1, id, std::nullopt) == error_code::none);
    CHECK(b.groups().heartbeat("g", 0, id, std::nullopt) == error_code::illegal_generation);
    CHECK(b.groups().heartbeat("g", 1, "nobody", std::nullopt) == error_code::unknown_member_id);
    CHECK(b.groups().heartbeat("", 1, id, std::nullopt) == error_code::invalid_group_id);
    const auto d = b.groups().describe("g");
    CHECK(d.state == groups::group_state::stable);
    CHECK(d.protocol_data == "range");
    REQUIRE(d.members.size() == 1);
    CHECK(d.members[0].assignment == "assignment-bytes");
    const auto l = b.groups().list();
    REQUIRE(l.size() == 1);
    CHECK(l[0].group_id == "g");
    CHECK(l[0].state == groups::group_state::stable);
}

TEST_CASE("a second member rebalances the group; both get the leader's assignment", "[groups]") {
    test::temp_dir dir;
    memory_broker b{group_config(dir.path)};
    REQUIRE(b.ensure_offsets_topic() == error_code::none);
    const auto a = new_member_id(b, "g");
    auto ja = join(b, join_req("g", a));
    REQUIRE(ja.error == error_code::none);
    REQUIRE(sync(b, "g", 1, a, {{a, "A1"}}).error == error_code::none);

    const auto bid = new_member_id(b, "g");
    later<groups::join_result> jb;
    b.groups().join(join_req("g", bid), jb.setter());
    CHECK_FALSE(jb.ready(50ms)); // parked until the first member rejoins
    CHECK(b.groups().heartbeat("g", 1, a, std::nullopt) == error_code::rebalance_in_progress);
    later<groups::join_result> ja2;
    b.groups().join(join_req("g", a), ja2.setter());
    const auto r1 = ja2.get();
    const auto r2 = jb.get();
    REQUIRE(r1.error == error_code::none);
    REQUIRE(r2.error == error_code::none);
    CHECK(r1.generation_id == 2);
    CHECK(r2.generation_id == 2);
    CHECK(r1.leader == a);
    CHECK(r1.members.size() == 2);
    CHECK(r2.members.empty()); // only the leader learns the members

    later<groups::sync_result> follower;
    groups::sync_request fs;
    fs.group_id = "g";
    fs.generation_id = 2;
    fs.member_id = bid;
    b.groups().sync(std::move(fs), follower.setter());
    CHECK_FALSE(follower.ready(50ms)); // waits for the leader's assignment
    const auto leader = sync(b, "g", 2, a, {{a, "A2"}, {bid, "B2"}});
    CHECK(leader.assignment == "A2");
    CHECK(follower.get().assignment == "B2");
    CHECK(b.groups().heartbeat("g", 2, bid, std::nullopt) == error_code::none);

    SECTION("the follower leaves: the leader is told to rejoin, and gets the group alone") {
        std::vector<groups::leave_member> ms{{bid, std::nullopt}};
        CHECK(b.groups().leave("g", ms) == error_code::none);
        CHECK(ms[0].error == error_code::none);
        CHECK(b.groups().heartbeat("g", 2, a, std::nullopt) == error_code::rebalance_in_progress);
        const auto r = join(b, join_req("g", a));
        CHECK(r.generation_id == 3);
        CHECK(r.members.size() == 1);
    }
    SECTION("LeaveGroup for an unknown member answers UNKNOWN_MEMBER_ID for it alone") {
        std::vector<groups::leave_member> unknown{{"not-a-member", std::nullopt}};
        CHECK(b.groups().leave("g", unknown) == error_code::none);
        CHECK(unknown[0].error == error_code::unknown_member_id);
        CHECK(b.groups().heartbeat("g", 2, a, std::nullopt) == error_code::none);
    }
}

TEST_CASE("a member whose session lapses is removed", "[groups]") {
    test::temp_dir dir;
    memory_broker b{group_config(dir.path)};
    REQUIRE(b.ensure_offsets_topic() == error_code::none);
    const auto a = new_member_id(b, "g");
    auto j = join_req("g", a, 200);
    REQUIRE(join(b, j).error == error_code::none);
    REQUIRE(sync(b, "g", 1, a, {{a, "A"}}).error == error_code::none);
    // No heartbeats: after 200 ms the member is gone and the group is Empty.
    REQUIRE(eventually([&] { return b.groups().describe("g").state == groups::group_state::empty; }));
    CHECK(b.groups().heartbeat("g", 1, a, std::nullopt) == error_code::unknown_member_id);
}

TEST_CASE("session timeouts outside the broker's bounds are refused", "[groups]") {
    test::temp_dir dir;
    memory_broker b{group_config(dir.path)};
    REQUIRE(b.ensure_offsets_topic() == error_code::none);
    CHECK(join(b, join_req("g", "", 50)).error == error_code::invalid_session_timeout);
    CHECK(join(b, join_req("g", "", 1800001)).error == error_code::invalid_session_timeout);
    CHECK(join(b, join_req("g", "someone")).error == error_code::unknown_member_id);
    auto bad = join_req("g", "");
    bad.protocol_type.clear();
    CHECK(join(b, bad).error == error_code::inconsistent_group_protocol);
}

TEST_CASE("members with no protocol in common cannot share a group", "[groups]") {
    test::temp_dir dir;
    memory_broker b{group_config(dir.path)};
    REQUIRE(b.ensure_offsets_topic() == error_code::none);
    const auto a = new_member_id(b, "g");
    REQUIRE(join(b, join_req("g", a, 10000, "range")).error == error_code::none);
    CHECK(join(b, join_req("g", "", 10000, "RoundRobinAssigner")).error == error_code::inconsistent_group_protocol);
}

TEST_CASE("committed offsets are stored in __consumer_offsets and survive a restart", "[groups]") {
    test::temp_dir dir;
    std::string a;
    {
        file_broker b{group_config(dir.path)};
        REQUIRE(b.ensure_offsets_topic() == error_code::none);
        REQUIRE(b.create_topic("t", 2) == error_code::none);
        a = new_member_id(b, "g");
        REQUIRE(join(b, join_req("g", a)).error == error_code::none);
        REQUIRE(sync(b, "g", 1, a, {{a, "A"}}).error == error_code::none);
        auto r = commit(b, "g", 1, a, "t", 0, 42);
        REQUIRE(r.size() == 1);
        CHECK(r[0].error == error_code::none);
        CHECK(committed(b, "g", "t", 0) == 42);
        CHECK(committed(b, "g", "t", 1) == -1);
        CHECK(commit(b, "g", 0, a, "t", 0, 7)[0].error == error_code::illegal_generation);
        CHECK(commit(b, "g", 1, "stranger", "t", 0, 7)[0].error == error_code::unknown_member_id);
        CHECK(committed(b, "g", "t", 0) == 42);
        // A simple consumer (no group membership) commits to a group of its own.
        CHECK(commit(b, "simple", -1, "", "t", 1, 9)[0].error == error_code::none);
        CHECK(commit(b, "g", 1, a, "t", 1, 100, std::string(5000, 'x'))[0].error == error_code::offset_metadata_too_large);
        // The records are in the group's partition of __consumer_offsets.
        const auto p = groups::partition_for("g", 4);
        const auto recs = b.fetch_copy(std::string(groups::offsets_topic), partition_id{p}, offset{0}, 1 << 20);
        CHECK(recs.records.size() > 0);
    }
    file_broker b{group_config(dir.path)};
    CHECK(committed(b, "g", "t", 0) == 42);
    CHECK(committed(b, "simple", "t", 1) == 9);
    // The group came back Stable with its member; that member may carry on.
    const auto d = b.groups().describe("g");
    CHECK(d.state == groups::group_state::stable);
    REQUIRE(d.members.size() == 1);
    CHECK(d.members[0].member_id == a);
    CHECK(b.groups().heartbeat("g", 1, a, std::nullopt) == error_code::none);
    const auto all = b.groups().fetch_offsets("g", std::nullopt);
    REQUIRE(all.offsets.size() == 1);
    CHECK(all.offsets[0].metadata == "m");
}

TEST_CASE("DeleteGroups and OffsetDelete", "[groups]") {
    test::temp_dir dir;
    file_broker b{group_config(dir.path)};
    REQUIRE(b.ensure_offsets_topic() == error_code::none);
    REQUIRE(b.create_topic("t", 2) == error_code::none);
    REQUIRE(commit(b, "simple", -1, "", "t", 0, 5)[0].error == error_code::none);
    REQUIRE(commit(b, "simple", -1, "", "t", 1, 6)[0].error == error_code::none);
    const auto a = new_member_id(b, "busy");
    REQUIRE(join(b, join_req("busy", a)).error == error_code::none);

    later<std::pair<error_code, std::size_t>> od;
    b.groups().delete_offsets("simple", {{"t", {1}}}, [s = od.setter()](error_code e, auto res) mutable {
        s({e, res.size()});
    });
    CHECK(od.get().first == error_code::none);
    CHECK(committed(b, "simple", "t", 1) == -1);
    CHECK(committed(b, "simple", "t", 0) == 5);

    later<std::vector<std::pair<std::string, error_code>>> del;
    b.groups().delete_groups({"simple", "busy", "nope"}, del.setter());
    const auto res = del.get();
    REQUIRE(res.size() == 3);
    CHECK(res[0].second == error_code::none);
    CHECK(res[1].second == error_code::non_empty_group);
    CHECK(res[2].second == error_code::group_id_not_found);
    CHECK(committed(b, "simple", "t", 0) == -1);
    CHECK(b.groups().describe("simple").state == groups::group_state::dead);
}

TEST_CASE("a static member rejoins without a rebalance and fences its old id", "[groups]") {
    test::temp_dir dir;
    memory_broker b{group_config(dir.path)};
    REQUIRE(b.ensure_offsets_topic() == error_code::none);
    auto j = join_req("g", "");
    j.group_instance_id = "instance-1";
    const auto first = join(b, j);
    REQUIRE(first.error == error_code::none); // static members get their id at once
    REQUIRE(sync(b, "g", 1, first.member_id, {{first.member_id, "A"}}).error == error_code::none);
    const auto again = join(b, j); // a restarted client: same instance id, no member id
    REQUIRE(again.error == error_code::none);
    CHECK(again.generation_id == 1); // no rebalance
    CHECK(again.member_id != first.member_id);
    CHECK(b.groups().heartbeat("g", 1, first.member_id, "instance-1") == error_code::fenced_instance_id);
    CHECK(b.groups().heartbeat("g", 1, again.member_id, "instance-1") == error_code::none);
}

TEST_CASE("offsets expire after offsets.retention.minutes: an empty group's, a simple consumer's, never a live "
          "group's subscribed topic",
          "[groups]") {
    struct clocked_policies : broker_policies<storage::file_backend, flush::never, durability::page_cache,
                                              testing::manual_clock_ref> {};
    using clocked_broker = broker<clocked_policies>;
    test::temp_dir dir;
    testing::manual_clock clk;
    auto cfg = group_config(dir.path);
    cfg.offsets_retention_minutes = 1;
    {
        clocked_broker b{cfg, {}, testing::manual_clock_ref{clk}};
        REQUIRE(b.ensure_offsets_topic() == error_code::none);
        REQUIRE(b.create_topic("t", 3) == error_code::none);
        // "live" stays Stable, subscribed to t; "gone" empties; "simple" never joins.
        wire::consumer_protocol::subscription sub;
        sub.topics = {"t"};
        const auto sub_bytes = wire::consumer_protocol::encode_subscription(sub, 0);
        const std::string meta(reinterpret_cast<const char*>(sub_bytes.data()), sub_bytes.size());
        const auto live = new_member_id(b, "live");
        REQUIRE(join(b, join_req("live", live, 600000, "range", meta)).error == error_code::none);
        REQUIRE(sync(b, "live", 1, live, {{live, "A"}}).error == error_code::none);
        const auto gone = new_member_id(b, "gone");
        REQUIRE(join(b, join_req("gone", gone, 600000, "range", meta)).error == error_code::none);
        REQUIRE(sync(b, "gone", 1, gone, {{gone, "A"}}).error == error_code::none);
        REQUIRE(commit(b, "live", 1, live, "t", 0, 10)[0].error == error_code::none);
        REQUIRE(commit(b, "gone", 1, gone, "t", 1, 11)[0].error == error_code::none);
        REQUIRE(commit(b, "simple", -1, "", "t", 2, 12)[0].error == error_code::none);
        std::vector<groups::leave_member> ms{{gone, std::nullopt}};
        REQUIRE(b.groups().leave("gone", ms) == error_code::none);
        REQUIRE(b.groups().describe("gone").state == groups::group_state::empty);

        clk.advance(std::chrono::seconds(59));
        b.groups().expire_offsets_now();
        CHECK(committed(b, "live", "t", 0) == 10);
        CHECK(committed(b, "gone", "t", 1) == 11);
        CHECK(committed(b, "simple", "t", 2) == 12);
        // The live member keeps its session through the wall-clock jump (sessions use the steady clock).
        REQUIRE(b.groups().heartbeat("live", 1, live, std::nullopt) == error_code::none);

        clk.advance(std::chrono::seconds(2));
        b.groups().expire_offsets_now();
        CHECK(committed(b, "live", "t", 0) == 10);
        CHECK(committed(b, "gone", "t", 1) == -1);
        CHECK(committed(b, "simple", "t", 2) == -1);
        std::set<std::string> listed;
        for (const auto& g : b.groups().list()) listed.insert(g.group_id);
        CHECK(listed == std::set<std::string>{"live"});
    }
    // The tombstones are in __consumer_offsets: a restart does not bring them back.
    clocked_broker b{cfg, {}, testing::manual_clock_ref{clk}};
    CHECK(committed(b, "live", "t", 0) == 10);
    CHECK(committed(b, "gone", "t", 1) == -1);
    CHECK(committed(b, "simple", "t", 2) == -1);
}
