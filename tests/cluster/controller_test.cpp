// The controller's decisions (docs/replication.md) with a manual clock: registration and
// unfencing, topic assignment, fencing on a lapsed session with elections from the ISR, the
// last ISR member kept, unclean election, controlled shutdown, AlterPartition's checks, and a
// restarted controller replaying its metadata log.
#include <gregor/broker/broker.hpp>
#include <gregor/broker/cluster_metadata.hpp>
#include <gregor/broker/controller.hpp>
#include <gregor/testing/manual_clock.hpp>

#include "../broker/broker_test_util.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <chrono>
#include <filesystem>
#include <random>
#include <set>
#include <string>

using namespace gregor;

namespace {

create_topic_request make_req(std::int32_t partitions, std::int16_t rf, std::map<std::string, std::string> configs = {}) {
    create_topic_request r;
    r.partitions = partitions;
    r.replication_factor = rf;
    r.configs = std::move(configs);
    return r;
}

[[maybe_unused]] create_topic_request assigned(std::vector<std::vector<std::int32_t>> a) {
    create_topic_request r;
    r.assignment = std::move(a);
    return r;
}

struct clocked : broker_policies<storage::file_backend, flush::never, durability::page_cache, testing::manual_clock_ref> {};
using broker_t = broker<clocked>;
using controller_t = cluster::controller<broker_t>;

using gregor::test::temp_dir;

broker_config cluster_cfg(const std::filesystem::path& dir) {
    broker_config c;
    c.node_id = 1;
    c.data_dir = dir.string();
    c.controller_quorum_voters = "1@127.0.0.1:9092";
    c.broker_session_timeout_ms = 9000;
    c.default_replication_factor = 3;
    c.num_partitions = 1;
    return c;
}

// Registers `id` and heartbeats it until unfenced; returns its broker epoch.
std::int64_t join(controller_t& ctl, std::int32_t id) {
    const auto r = ctl.register_broker(node_id{id}, "127.0.0.1", 9000 + id, "");
    REQUIRE(r.error == error_code::none);
    const auto img = ctl.image();
    const auto h = ctl.heartbeat(node_id{id}, r.broker_epoch, img.next_offset - 1, false, false);
    REQUIRE(h.error == error_code::none);
    CHECK_FALSE(h.is_fenced);
    return r.broker_epoch;
}

const partition_state& state_of(const cluster::metadata_image& img, const std::string& t, int p) {
    const auto* s = img.find(t, partition_id{p});
    REQUIRE(s != nullptr);
    return *s;
}

} // namespace

TEST_CASE("metadata records round-trip through their log encoding", "[cluster_metadata]") {
    std::vector<cluster::record> recs{
        cluster::register_broker_record{{node_id{2}, 17, "host-2", 9093, "rack-a", true}},
        cluster::topic_record{"orders", wire::uuid{}},
        cluster::partition_record{"orders", partition_id{3},
                                  partition_state{node_id{2}, leader_epoch{4}, 9, {node_id{2}, node_id{1}}, {node_id{2}}}},
        cluster::config_record{"orders", "retention.ms", std::string("1000")},
        cluster::config_record{"orders", "cleanup.policy", std::nullopt},
        cluster::fence_broker_record{node_id{2}, 17},
        cluster::unfence_broker_record{node_id{2}, 17},
        cluster::remove_topic_record{"orders"},
    };
    for (const auto& r : recs) {
        const auto bytes = cluster::encode(r);
        const auto back = cluster::decode(bytes.view());
        REQUIRE(back.has_value());
        CHECK(back->index() == r.index());
        CHECK(cluster::encode(*back).view().size() == bytes.view().size());
        CHECK(std::equal(bytes.view().begin(), bytes.view().end(), cluster::encode(*back).view().begin()));
        // Every truncation is refused, never misread.
        for (std::size_t n = 0; n < bytes.size(); ++n) CHECK_FALSE(cluster::decode(bytes.view().first(n)).has_value());
    }
    // Applied in order, they build the image.
    cluster::metadata_image img;
    auto batch = cluster::build_batch(recs, 0);
    cluster::apply_batches(img, batch.view());
    CHECK(img.next_offset == offset{static_cast<std::int64_t>(recs.size())});
    CHECK(img.brokers.at(2).host == "host-2");
    CHECK_FALSE(img.brokers.at(2).fenced);
    CHECK(img.topics.empty()); // removed by the last record
}

TEST_CASE("controller: brokers register fenced, unfence once caught up; topics spread over live brokers",
          "[controller]") {
    temp_dir d;
    testing::manual_clock clk;
    broker_t b{cluster_cfg(d.path), {}, testing::manual_clock_ref{clk}};
    controller_t ctl{b};
    const auto r1 = ctl.register_broker(node_id{1}, "127.0.0.1", 9001, "");
    REQUIRE(r1.error == error_code::none);
    // Behind its own registration: still fenced.
    auto h = ctl.heartbeat(node_id{1}, r1.broker_epoch, offset{r1.broker_epoch - 1}, false, false);
    CHECK(h.is_fenced);
    CHECK_FALSE(h.is_caught_up);
    h = ctl.heartbeat(node_id{1}, r1.broker_epoch, offset{r1.broker_epoch}, false, false);
    CHECK_FALSE(h.is_fenced);
    // A stale epoch is refused.
    CHECK(ctl.heartbeat(node_id{1}, r1.broker_epoch + 100, offset{1000}, false, false).error ==
          error_code::stale_broker_epoch);
    // RF 3 with one live broker: refused with Kafka's message.
    auto res = ctl.create_topic("t", {});
    CHECK(res.error == error_code::invalid_replication_factor);
    join(ctl, 2);
    join(ctl, 3);
    res = ctl.create_topic("t", make_req(6, 3));
    REQUIRE(res.error == error_code::none);
    CHECK(ctl.create_topic("t", {}).error == error_code::topic_already_exists);
    const auto img = ctl.image();
    std::set<std::int32_t> leaders;
    for (int p = 0; p < 6; ++p) {
        const auto& s = state_of(img, "t", p);
        CHECK(s.replicas.size() == 3);
        CHECK(s.isr == s.replicas);
        CHECK(s.leader == s.replicas.front());
        leaders.insert(s.leader.value());
    }
    CHECK(leaders.size() == 3);
}

TEST_CASE("controller: a lapsed session fences the broker; leaders move to the next ISR member, the last "
          "ISR member stays, unclean election only when enabled",
          "[controller]") {
    temp_dir d;
    testing::manual_clock clk;
    broker_t b{cluster_cfg(d.path), {}, testing::manual_clock_ref{clk}};
    controller_t ctl{b};
    const auto e1 = join(ctl, 1);
    const auto e2 = join(ctl, 2);
    const auto e3 = join(ctl, 3);
    REQUIRE(ctl.create_topic("t", make_req(1, 3)).error == error_code::none);
    REQUIRE(ctl.create_topic("u", make_req(1, 3, {{"unclean.leader.election.enable", "true"}}))
                .error == error_code::none);
    auto s = state_of(ctl.image(), "t", 0);
    const auto first = s.leader;
    // Everyone but the leader keeps heartbeating past the session.
    clk.advance(std::chrono::milliseconds(5000));
    for (auto [id, e] : {std::pair{1, e1}, std::pair{2, e2}, std::pair{3, e3}})
        if (node_id{id} != first) ctl.heartbeat(node_id{id}, e, offset{1000}, false, false);
    clk.advance(std::chrono::milliseconds(5000));
    for (int i = 0; i < 3; ++i) ctl.tick();
    CHECK_FALSE(ctl.alive(first));
    auto after = state_of(ctl.image(), "t", 0);
    CHECK(after.leader != first);
    CHECK(after.leader != node_id{-1});
    CHECK(after.leader_epoch == leader_epoch{s.leader_epoch.value() + 1});
    CHECK(after.partition_epoch > s.partition_epoch);
    CHECK(std::find(after.isr.begin(), after.isr.end(), first) == after.isr.end());
    // The remaining two lapse as well: the last ISR member stays, with no leader.
    clk.advance(std::chrono::milliseconds(20000));
    for (int i = 0; i < 6; ++i) ctl.tick();
    after = state_of(ctl.image(), "t", 0);
    CHECK(after.leader == node_id{-1});
    CHECK(after.isr.size() == 1);
    const auto last_isr = after.isr.front();
    // A replica that was not in the ISR comes back: "t" stays offline (clean), "u" elects it.
    const auto back = first; // out of both ISRs
    const auto r = ctl.register_broker(back, "127.0.0.1", 9100, "");
    ctl.heartbeat(back, r.broker_epoch, offset{100000}, false, false);
    CHECK(state_of(ctl.image(), "t", 0).leader == node_id{-1});
    const auto u = state_of(ctl.image(), "u", 0);
    CHECK(u.leader == back);
    CHECK(u.isr == std::vector<node_id>{back});
    CHECK(u.leader_epoch.value() > s.leader_epoch.value());
    // The last ISR member of "t" returns: it leads again.
    const auto r2 = ctl.register_broker(last_isr, "127.0.0.1", 9101, "");
    ctl.heartbeat(last_isr, r2.broker_epoch, offset{100000}, false, false);
    CHECK(state_of(ctl.image(), "t", 0).leader == last_isr);
}

TEST_CASE("controller: controlled shutdown moves leadership first; AlterPartition follows Kafka's checks; a "
          "restarted controller replays its log",
          "[controller]") {
    temp_dir d;
    testing::manual_clock clk;
    {
        broker_t b{cluster_cfg(d.path), {}, testing::manual_clock_ref{clk}};
        controller_t ctl{b};
        const auto e1 = join(ctl, 1);
        join(ctl, 2);
        join(ctl, 3);
        REQUIRE(ctl.create_topic("t", assigned({{1, 2, 3}})).error ==
                error_code::none);
        auto s = state_of(ctl.image(), "t", 0);
        REQUIRE(s.leader == node_id{1});
        // Node 1 asks to shut down: node 2 leads, node 1 leaves the ISR, then it may go.
        const auto h = ctl.heartbeat(node_id{1}, e1, offset{1000}, false, true);
        CHECK(h.should_shut_down);
        s = state_of(ctl.image(), "t", 0);
        CHECK(s.leader == node_id{2});
        CHECK(std::find(s.isr.begin(), s.isr.end(), node_id{1}) == s.isr.end());
        // AlterPartition: only the leader, with the current epochs, a subset of the replicas.
        const auto e2 = ctl.image().brokers.at(2).epoch;
        CHECK(ctl.alter_partition(node_id{3}, ctl.image().brokers.at(3).epoch, "t", partition_id{0}, s.leader_epoch,
                                  s.partition_epoch, {node_id{3}})
                  .error == error_code::invalid_request);
        CHECK(ctl.alter_partition(node_id{2}, e2, "t", partition_id{0}, leader_epoch{s.leader_epoch.value() - 1}, s.partition_epoch,
                                  {node_id{2}})
                  .error == error_code::fenced_leader_epoch);
        CHECK(ctl.alter_partition(node_id{2}, e2, "t", partition_id{0}, s.leader_epoch, s.partition_epoch + 1,
                                  {node_id{2}})
                  .error == error_code::not_controller);
        CHECK(ctl.alter_partition(node_id{2}, e2, "t", partition_id{0}, s.leader_epoch, s.partition_epoch,
                                  {node_id{2}, node_id{7}})
                  .error == error_code::invalid_request);
        // Node 1 is shutting down: not eligible to rejoin.
        CHECK(ctl.alter_partition(node_id{2}, e2, "t", partition_id{0}, s.leader_epoch, s.partition_epoch,
                                  {node_id{2}, node_id{3}, node_id{1}})
                  .error == error_code::ineligible_replica);
        const auto ok =
            ctl.alter_partition(node_id{2}, e2, "t", partition_id{0}, s.leader_epoch, s.partition_epoch, {node_id{2}});
        REQUIRE(ok.error == error_code::none);
        CHECK(ok.state.isr == std::vector<node_id>{node_id{2}});
        CHECK(ok.state.partition_epoch == s.partition_epoch + 1);
        CHECK(ctl.alter_partition(node_id{2}, e2, "t", partition_id{0}, s.leader_epoch, s.partition_epoch,
                                  {node_id{2}, node_id{3}})
                  .error == error_code::invalid_update_version);
    }
    // The same data dir: the image comes back from the log.
    broker_t b{cluster_cfg(d.path), {}, testing::manual_clock_ref{clk}};
    controller_t ctl{b};
    const auto img = ctl.image();
    CHECK(img.brokers.size() == 3);
    const auto& s = state_of(img, "t", 0);
    CHECK(s.leader == node_id{2});
    CHECK(s.isr == std::vector<node_id>{node_id{2}});
    CHECK(b.list_topics().empty()); // the metadata log is not a topic
}
