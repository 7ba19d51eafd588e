// gregor::consumer::subscribe against a real gregor broker's group coordinator, in process and over
// TCP (kafka_server on 127.0.0.1): members share a topic's partitions, hand them over on leave and
// rebalance from the committed offsets, commit sync/async/auto, pause, fall out of the group after
// max.poll.interval.ms, and run the eager and the cooperative protocol.
#include "consumer_scenarios.hpp"

#include <gregor/broker/kafka_server.hpp>
#include <gregor/consumer/tcp_transport.hpp>

#include <map>
#include <memory>
#include <set>
#include <thread>

using namespace gregor;
using namespace std::chrono_literals;

namespace {

using consumer_test::memory_broker;

broker_config group_broker_config() {
    broker_config c;
    c.offsets_topic_num_partitions = 4;
    c.group_initial_rebalance_delay_ms = 0;
    c.group_min_session_timeout_ms = 100;
    return c;
}

consumer_config group_consumer(const std::string& group) {
    consumer_config c;
    c.group_id = group;
    c.auto_offset_reset = offset_reset::earliest;
    c.fetch_max_wait_ms = 50;
    c.heartbeat_interval_ms = 50;
    c.session_timeout_ms = 3000;
    c.max_poll_interval_ms = 10000;
    c.retry_backoff_ms = 20;
    return c;
}

struct in_process_env {
    memory_broker b{group_broker_config()};
    auto make(consumer_config cfg) {
        return consumer<fetch_transport::in_process<memory_broker>>{std::move(cfg), fetch_transport::in_process{b}};
    }
};

struct tcp_env {
    memory_broker b{group_broker_config()};
    std::unique_ptr<kafka_server<memory_broker>> srv;
    tcp_env() {
        kafka_server_config sc;
        sc.net.host = "127.0.0.1";
        sc.net.port = 0;
        srv = std::make_unique<kafka_server<memory_broker>>(b, sc);
    }
    auto make(consumer_config cfg) {
        cfg.bootstrap_servers = "127.0.0.1:" + std::to_string(srv->port());
        fetch_transport::tcp t{cfg};
        return consumer<fetch_transport::tcp>{std::move(cfg), std::move(t)};
    }
};

// `n` records "<p>-<i>" (keyed) into partition p of `topic`.
void produce_to(memory_broker& b, const std::string& topic, int p, int first, int n) {
    wire::batch_builder bb;
    std::vector<std::string> vals;
    for (int i = first; i < first + n; ++i) vals.push_back(std::to_string(p) + "-" + std::to_string(i));
    for (const auto& v : vals) bb.append(1000, as_bytes(std::string_view("k")), as_bytes(v));
    REQUIRE(b.produce(topic, partition_id{p}, bb.seal(), 1).error == error_code::none);
}

using seen_map = std::map<std::string, int>; // value -> times read

template <typename C>
void poll_into(C& c, seen_map& seen, std::chrono::milliseconds t = 50ms) {
    auto r = c.poll(t);
    for (const auto& e : r.errors()) FAIL("poll error: " << e.error.message());
    r.for_each_record([&](const consumed_batch&, const wire::record_view& rec) { ++seen[std::string(as_string_view(*rec.value))]; });
}

template <typename C>
std::set<topic_partition> owned(const C& c) {
    const auto a = c.assignment();
    return {a.begin(), a.end()};
}

// Polls every consumer in turn until `done()`, at most `budget`.
template <typename Done, typename... C>
bool poll_until(Done&& done, seen_map& seen, std::chrono::milliseconds budget, C&... cs) {
    const auto until = std::chrono::steady_clock::now() + budget;
    while (std::chrono::steady_clock::now() < until) {
        (poll_into(cs, seen, 20ms), ...);
        if (done()) return true;
    }
    return done();
}

bool all_once(const seen_map& seen, std::size_t want) {
    if (seen.size() != want) return false;
    for (const auto& [v, n] : seen)
        if (n != 1) return false;
    return true;
}

template <typename Env>
void scenario_share_and_hand_over(const std::string& strategy) {
    Env env;
    REQUIRE(env.b.create_topic("orders", 4) == error_code::none);
    for (int p = 0; p < 4; ++p) produce_to(env.b, "orders", p, 0, 25);

    // The listener's state outlives the consumers: their destructors leave the group, which
    // calls on_revoked.
    std::vector<topic_partition> a_revoked;
    int a_assigned_calls = 0;
    auto cfg = group_consumer("g-share-" + strategy);
    cfg.partition_assignment_strategy = strategy;
    auto a = env.make(cfg);
    auto b = env.make(cfg);
    a.subscribe({"orders"}, {.on_assigned = [&](const std::vector<topic_partition>&) { ++a_assigned_calls; },
                             .on_revoked = [&](const std::vector<topic_partition>& tps) {
                                 a_revoked.insert(a_revoked.end(), tps.begin(), tps.end());
                             },
                             .on_lost = {}});
    b.subscribe({"orders"});
    CHECK(a.subscription() == std::vector<std::string>{"orders"});

    seen_map seen;
    // Both members end up with two partitions each, and every record is read exactly once.
    REQUIRE(poll_until([&] { return owned(a).size() == 2 && owned(b).size() == 2 && seen.size() == 100; }, seen, 20s, a,
                       b));
    CHECK(all_once(seen, 100));
    for (const auto& tp : owned(a)) CHECK(owned(b).count(tp) == 0);
    CHECK(a_assigned_calls >= 1);
    if (strategy == "cooperative-sticky") {
        // Cooperative: a never gives up a partition it keeps; what it gave up went to b.
        for (const auto& tp : a_revoked) CHECK(owned(b).count(tp) == 1);
        CHECK(a_revoked.size() <= 2);
    }

    // b leaves (committing its positions): a takes over b's partitions from b's commits, and
    // reads only what was produced since.
    b.close();
    for (int p = 0; p < 4; ++p) produce_to(env.b, "orders", p, 25, 5);
    REQUIRE(poll_until([&] { return owned(a).size() == 4 && seen.size() == 120; }, seen, 20s, a));
    CHECK(all_once(seen, 120));

    // The group's committed offsets are the ends, after a commit_sync.
    REQUIRE(!a.commit_sync());
    std::vector<topic_partition> all;
    for (int p = 0; p < 4; ++p) all.push_back({"orders", partition_id{p}});
    const auto c = a.committed(all);
    REQUIRE(!c.error);
    REQUIRE(c.partitions.size() == 4);
    for (const auto& p : c.partitions) CHECK(p.next.value() == 30);
}

} // namespace

TEST_CASE("two members share a topic and hand it over on leave, from the commits (range, in process)", "[group]") {
    scenario_share_and_hand_over<in_process_env>("range");
}
TEST_CASE("two members share a topic and hand it over on leave, from the commits (range, over TCP)", "[group][tcp]") {
    scenario_share_and_hand_over<tcp_env>("range");
}
TEST_CASE("two members share a topic (roundrobin, over TCP)", "[group][tcp]") {
    scenario_share_and_hand_over<tcp_env>("roundrobin");
}
TEST_CASE("two members share a topic (cooperative-sticky: incremental rebalancing, over TCP)", "[group][tcp]") {
    scenario_share_and_hand_over<tcp_env>("cooperative-sticky");
}
TEST_CASE("two members share a topic (cooperative-sticky, in process)", "[group]") {
    scenario_share_and_hand_over<in_process_env>("cooperative-sticky");
}

TEST_CASE("a restarted member resumes from its group's commits; commit_async and auto commit", "[group][tcp]") {
    tcp_env env;
    REQUIRE(env.b.create_topic("log", 1) == error_code::none);
    produce_to(env.b, "log", 0, 0, 10);
    const topic_partition tp{"log", partition_id{0}};
    seen_map seen;
    {
        auto cfg = group_consumer("g-restart");
        cfg.enable_auto_commit = false;
        auto c = env.make(cfg);
        c.subscribe({"log"});
        REQUIRE(poll_until([&] { return seen.size() == 10; }, seen, 20s, c));
        bool called = false;
        std::error_code got;
        c.commit_async([&](std::error_code e, const std::vector<group::committed_offset>& ps) {
            called = true;
            got = e;
            REQUIRE(ps.size() == 1);
            CHECK(ps[0].next.value() == 10);
        });
        const auto until = std::chrono::steady_clock::now() + 10s;
        while (!called && std::chrono::steady_clock::now() < until) (void)c.poll(20ms);
        REQUIRE(called);
        CHECK(!got);
        produce_to(env.b, "log", 0, 10, 5);
        REQUIRE(poll_until([&] { return seen.size() == 15; }, seen, 20s, c));
        // Not committed (auto commit off): the close does not commit either.
        c.close();
    }
    {
        auto cfg = group_consumer("g-restart");
        cfg.auto_commit_interval_ms = 0; // every poll
        auto c = env.make(cfg);
        c.subscribe({"log"});
        seen_map again;
        REQUIRE(poll_until([&] { return again.size() == 5; }, again, 20s, c));
        for (int i = 10; i < 15; ++i) CHECK(again.count("0-" + std::to_string(i)) == 1);
        CHECK(again.size() == 5);
        REQUIRE(c.position(tp) == offset{15});
        // Auto commit sends the position on a later poll.
        bool committed = false;
        const auto until = std::chrono::steady_clock::now() + 10s;
        while (!committed && std::chrono::steady_clock::now() < until) {
            (void)c.poll(20ms);
            const auto r = c.committed({tp});
            committed = !r.error && r.partitions.size() == 1 && r.partitions[0].next.value() == 15;
        }
        CHECK(committed);
    }
}

TEST_CASE("pause stops fetching a partition until resume, keeping its position", "[group]") {
    in_process_env env;
    REQUIRE(env.b.create_topic("p2", 2) == error_code::none);
    produce_to(env.b, "p2", 0, 0, 5);
    produce_to(env.b, "p2", 1, 0, 5);
    auto c = env.make(group_consumer("g-pause"));
    c.subscribe({"p2"});
    seen_map seen;
    REQUIRE(poll_until([&] { return owned(c).size() == 2; }, seen, 20s, c));
    const topic_partition p1{"p2", partition_id{1}};
    c.pause({p1});
    CHECK(c.paused() == std::vector<topic_partition>{p1});
    REQUIRE(poll_until([&] { return seen.size() >= 5; }, seen, 20s, c));
    const auto before = seen.size(); // partition 1 may have been read before the pause
    produce_to(env.b, "p2", 1, 5, 5);
    produce_to(env.b, "p2", 0, 5, 5);
    REQUIRE(poll_until([&] { return seen.size() == before + 5; }, seen, 20s, c));
    for (int i = 0; i < 5; ++i) poll_into(c, seen);
    CHECK(seen.size() == before + 5); // partition 0's new records only
    for (int i = 5; i < 10; ++i) CHECK(seen.count("1-" + std::to_string(i)) == 0);
    c.resume({p1});
    REQUIRE(poll_until([&] { return seen.size() == 20; }, seen, 20s, c));
    CHECK(all_once(seen, 20));
}

TEST_CASE("a member that stops polling for max.poll.interval.ms leaves; the other takes over; it rejoins", "[group]") {
    in_process_env env;
    REQUIRE(env.b.create_topic("slow", 2) == error_code::none);
    auto cfg = group_consumer("g-slow");
    cfg.max_poll_interval_ms = 600;
    std::vector<topic_partition> lost;
    auto a = env.make(cfg);
    auto b = env.make(cfg);
    a.subscribe({"slow"}, {.on_assigned = {}, .on_revoked = {}, .on_lost = [&](const std::vector<topic_partition>& tps) {
                               lost.insert(lost.end(), tps.begin(), tps.end());
                           }});
    b.subscribe({"slow"});
    seen_map seen;
    REQUIRE(poll_until([&] { return owned(a).size() == 1 && owned(b).size() == 1; }, seen, 20s, a, b));
    // Only b polls from now on: a's member thread leaves after 600 ms and b gets both.
    REQUIRE(poll_until([&] { return owned(b).size() == 2; }, seen, 20s, b));
    // a's next poll reports the timeout, gives up its partition as lost, and joins again.
    auto r = a.poll(50ms);
    REQUIRE(r.errors().size() == 1);
    CHECK(r.errors()[0].error == make_error_code(local_error::timed_out));
    CHECK(lost.size() == 1);
    CHECK(owned(a).empty());
    REQUIRE(poll_until([&] { return owned(a).size() == 1 && owned(b).size() == 1; }, seen, 20s, a, b));
}

TEST_CASE("heartbeats from the member thread keep a slow poll loop in the group past session.timeout.ms", "[group]") {
    in_process_env env;
    REQUIRE(env.b.create_topic("beat", 2) == error_code::none);
    int revoked = 0, lost = 0;
    auto cfg = group_consumer("g-beat");
    cfg.session_timeout_ms = 500;
    cfg.heartbeat_interval_ms = 100;
    auto c = env.make(cfg);
    c.subscribe({"beat"}, {.on_assigned = {},
                           .on_revoked = [&](const std::vector<topic_partition>&) { ++revoked; },
                           .on_lost = [&](const std::vector<topic_partition>&) { ++lost; }});
    seen_map seen;
    REQUIRE(poll_until([&] { return owned(c).size() == 2; }, seen, 20s, c));
    // The application is slow: four session timeouts without a poll (the condition under test,
    // not a wait for something).
    std::this_thread::sleep_for(2s);
    produce_to(env.b, "beat", 0, 0, 3);
    REQUIRE(poll_until([&] { return seen.size() == 3; }, seen, 20s, c));
    CHECK(owned(c).size() == 2);
    CHECK(revoked == 0);
    CHECK(lost == 0);
    const auto d = env.b.groups().describe("g-beat");
    CHECK(d.members.size() == 1);
}

TEST_CASE("a static member (group.instance.id) restarts without a rebalance and gets its partitions back", "[group]") {
    in_process_env env;
    REQUIRE(env.b.create_topic("static", 4) == error_code::none);
    int b_revoked = 0;
    auto cfg_a = group_consumer("g-static");
    cfg_a.group_instance_id = "instance-a";
    auto cfg_b = group_consumer("g-static");
    cfg_b.group_instance_id = "instance-b";
    seen_map seen;
    auto b = env.make(cfg_b);
    b.subscribe({"static"}, {.on_assigned = {},
                             .on_revoked = [&](const std::vector<topic_partition>&) { ++b_revoked; },
                             .on_lost = {}});
    std::set<topic_partition> first_a;
    {
        auto a = env.make(cfg_a);
        a.subscribe({"static"});
        REQUIRE(poll_until([&] { return owned(a).size() == 2 && owned(b).size() == 2; }, seen, 20s, a, b));
        first_a = owned(a);
        const auto revoked_before = b_revoked;
        // a goes away without LeaveGroup (a static member's session outlives a restart) ...
        a.close();
        const auto d = env.b.groups().describe("g-static");
        CHECK(d.members.size() == 2);
        // ... and comes back under the same instance id: same partitions, b is not disturbed.
        auto a2 = env.make(cfg_a);
        a2.subscribe({"static"});
        REQUIRE(poll_until([&] { return owned(a2).size() == 2; }, seen, 20s, a2, b));
        CHECK(owned(a2) == first_a);
        CHECK(owned(b).size() == 2);
        CHECK(b_revoked == revoked_before);
    }
}

TEST_CASE("the leader notices partitions added to a subscribed topic and the group rebalances onto them", "[group]") {
    in_process_env env;
    REQUIRE(env.b.create_topic("growing", 1) == error_code::none);
    auto cfg = group_consumer("g-grow");
    cfg.metadata_max_age_ms = 200; // the leader checks at most once a second
    auto c = env.make(cfg);
    c.subscribe({"growing"});
    seen_map seen;
    REQUIRE(poll_until([&] { return owned(c).size() == 1; }, seen, 20s, c));
    REQUIRE(env.b.create_partitions("growing", 3).error == error_code::none);
    produce_to(env.b, "growing", 2, 0, 4);
    REQUIRE(poll_until([&] { return owned(c).size() == 3 && seen.size() == 4; }, seen, 20s, c));
    CHECK(all_once(seen, 4));
}

TEST_CASE("close() does not wait out a JoinGroup the coordinator holds for a slow member", "[group]") {
    in_process_env env;
    REQUIRE(env.b.create_topic("held", 2) == error_code::none);
    auto cfg = group_consumer("g-held");
    cfg.max_poll_interval_ms = 20000;
    auto a = env.make(cfg);
    a.subscribe({"held"});
    seen_map seen;
    REQUIRE(poll_until([&] { return owned(a).size() == 2; }, seen, 20s, a));
    auto b = env.make(cfg);
    b.subscribe({"held"});
    // a does not poll: it cannot revoke, so the coordinator holds b's JoinGroup for a's rejoin.
    (void)b.poll(300ms);
    CHECK(b.assignment().empty());
    const auto t0 = std::chrono::steady_clock::now();
    b.close();
    CHECK(std::chrono::steady_clock::now() - t0 < 5s);
    // a carries on alone.
    REQUIRE(poll_until([&] { return owned(a).size() == 2; }, seen, 30s, a));
}

TEST_CASE("subscribe needs group.id; assign and subscribe exclude each other", "[group]") {
    in_process_env env;
    auto cfg = group_consumer("");
    auto c = env.make(cfg);
    CHECK_THROWS_AS(c.subscribe({"t"}), std::invalid_argument);
    auto d = env.make(group_consumer("g-x"));
    d.subscribe({"t"});
    CHECK_THROWS_AS(d.assign({{"t", partition_id{0}}}), std::logic_error);
    d.unsubscribe();
    CHECK(d.subscription().empty());
    d.assign({{"t", partition_id{0}}});
    CHECK(d.assignment().size() == 1);
}

TEST_CASE("consumer_config reads the group properties", "[group][config]") {
    const auto c = consumer_config::from_properties({{"group.id", "g"},
                                                     {"group.instance.id", "i-1"},
                                                     {"session.timeout.ms", "10000"},
                                                     {"heartbeat.interval.ms", "1000"},
                                                     {"max.poll.interval.ms", "60000"},
                                                     {"enable.auto.commit", "false"},
                                                     {"auto.commit.interval.ms", "100"},
                                                     {"partition.assignment.strategy",
                                                      "org.apache.kafka.clients.consumer.RoundRobinAssignor, range"}});
    CHECK(c.group_id == "g");
    CHECK(c.group_instance_id == "i-1");
    CHECK(c.session_timeout_ms == 10000);
    CHECK(c.heartbeat_interval_ms == 1000);
    CHECK(c.max_poll_interval_ms == 60000);
    CHECK_FALSE(c.enable_auto_commit);
    CHECK(c.auto_commit_interval_ms == 100);
    CHECK(c.assignment_strategies() == std::vector<std::string>{"roundrobin", "range"});
    CHECK_THROWS_WITH(consumer_config::from_properties({{"partition.assignment.strategy", "sticky"}}),
                      Catch::Contains("partition.assignment.strategy"));
}
