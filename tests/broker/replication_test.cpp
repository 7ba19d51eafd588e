// The per-partition replication state machine (docs/protocol.md §14): two or three partition
// objects of one topic partition, one per node, in one process, with the bytes a fetch would carry
// shuttled between them (follower_read on the leader, append_as_follower on the follower) and
// explicit now_ms values standing in for the broker's clock.
#include "broker_test_util.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

using namespace gregor;
using namespace std::chrono_literals;
using gregor::test::make_batch;

namespace {

template <typename Backend>
using part_t = broker_detail::partition<broker_policies<Backend>>;

constexpr std::int64_t t0 = 1'700'000'000'000;

partition_state st(int leader, int epoch, int partition_epoch, std::vector<int> replicas, std::vector<int> isr) {
    partition_state s;
    s.leader = node_id{leader};
    s.leader_epoch = leader_epoch{epoch};
    s.partition_epoch = partition_epoch;
    for (const auto r : replicas) s.replicas.push_back(node_id{r});
    for (const auto r : isr) s.isr.push_back(node_id{r});
    return s;
}

std::vector<node_id> ids(std::vector<int> v) {
    std::vector<node_id> out;
    for (const auto i : v) out.push_back(node_id{i});
    return out;
}

// One partition per node, each in its own directory under one temp dir (reopenable for the file
// backend).
template <typename Backend>
struct replica_set {
    test::temp_dir tmp;
    broker_config base;
    std::vector<std::unique_ptr<part_t<Backend>>> nodes;

    explicit replica_set(int n, broker_config cfg = {}) : base(std::move(cfg)) {
        for (int i = 0; i < n; ++i) nodes.push_back(open(i));
    }

    std::unique_ptr<part_t<Backend>> open(int id) {
        auto c = base;
        c.node_id = id;
        c.data_dir = tmp.path / ("node-" + std::to_string(id));
        const auto dir = c.data_dir / "t-0";
        std::filesystem::create_directories(dir);
        return std::make_unique<part_t<Backend>>("t", partition_id{0}, dir, c, typename Backend::options{},
                                                 system_clock{});
    }

    /// Closes node `id` cleanly and opens it again from its directory.
    void restart(int id) {
        nodes[static_cast<std::size_t>(id)]->close();
        nodes[static_cast<std::size_t>(id)].reset();
        nodes[static_cast<std::size_t>(id)] = open(id);
    }

    part_t<Backend>& operator[](int i) { return *nodes[static_cast<std::size_t>(i)]; }

    /// The controller's decision, applied on every node.
    void decide(const partition_state& s, std::int64_t now) {
        for (auto& n : nodes) REQUIRE(n->apply_state(s, now) == error_code::none);
    }
};

template <typename P>
typename P::append_result produce(P& p, const std::string& prefix, int n, std::int16_t acks = 1,
                                  wire::producer_stamp stamp = {}) {
    auto b = make_batch(prefix, n, stamp);
    return p.append(b.mutable_view(), acks);
}

struct fetch_outcome {
    follower_read_result read;
    error_code appended = error_code::none;
    offset truncated_to{-1};
};

// One fetch round of follower `id` from `leader`, as a replica fetcher does it: ask from the
// follower's position; on DivergingEpoch truncate, else append what came.
template <typename P>
fetch_outcome fetch(P& leader, P& follower, int id, std::int64_t now, std::size_t max_bytes = 1 << 20) {
    const auto pos = follower.position();
    fetch_outcome out;
    out.read = leader.follower_read(node_id{id}, follower.current_leader_epoch(), pos.log_end_offset,
                                    pos.last_fetched_epoch, pos.log_start_offset, max_bytes, now);
    if (out.read.error != error_code::none) return out;
    if (out.read.diverging) {
        out.truncated_to = follower.truncation_offset(*out.read.diverging);
        if (out.truncated_to < pos.log_end_offset) REQUIRE(follower.truncate_to(out.truncated_to) == error_code::none);
        return out;
    }
    byte_buffer buf;
    REQUIRE(!storage::copy_to(out.read.records, buf));
    out.appended = follower.append_as_follower(buf.view(), out.read.high_watermark, out.read.log_start_offset);
    return out;
}

// What a consumer reads (up to the high watermark).
template <typename P>
std::vector<std::pair<std::int64_t, std::string>> consume(P& p, offset from = offset{0}) {
    const auto r = p.read(from, 64 << 20, isolation::read_uncommitted);
    byte_buffer buf;
    REQUIRE(!storage::copy_to(r.records, buf));
    return test::decode_all(buf.view());
}

// Every stored byte, up to the log end.
template <typename P>
std::string log_bytes(P& p) {
    const auto r = p.read(p.position().log_start_offset, 64 << 20, isolation::read_uncommitted, true);
    byte_buffer buf;
    REQUIRE(!storage::copy_to(r.records, buf));
    return std::string(as_string_view(buf.view()));
}

std::vector<storage::epoch_entry> epochs(std::initializer_list<std::pair<int, std::int64_t>> l) {
    std::vector<storage::epoch_entry> v;
    for (const auto& [e, o] : l) v.push_back({leader_epoch{e}, offset{o}});
    return v;
}

// A batch of `n` records as a leader stored it: at `base`, stamped with `epoch`.
byte_buffer stored_batch(std::int64_t base, int epoch, int n) {
    auto b = make_batch("r", n);
    wire::patch_base_offset(b.mutable_view(), offset{base});
    wire::patch_leader_epoch(b.mutable_view(), leader_epoch{epoch});
    return b;
}

// docs/protocol.md §14.7's example: node 0 (L) ends with epochs {0:0, 2:100} and log end 150,
// node 1 (F) with {0:0, 1:90} and log end 120, F following L in epoch 2. Batches of 10 records.
template <typename Backend>
void diverge(replica_set<Backend>& rs, bool restart_follower_midway = false) {
    auto& L = rs[0];
    rs.decide(st(0, 0, 1, {0, 1}, {0, 1}), t0);
    for (int i = 0; i < 9; ++i) REQUIRE(produce(L, "e0", 10).error == error_code::none);
    REQUIRE(fetch(L, rs[1], 1, t0 + 1).appended == error_code::none);
    REQUIRE(rs[1].position().log_end_offset == offset{90});
    // Ten more in epoch 0 that F never fetches.
    REQUIRE(produce(L, "lost", 10).error == error_code::none);
    // Epoch 1: F leads (with only itself in the ISR) and writes 30 that L never sees.
    rs.decide(st(1, 1, 2, {0, 1}, {1}), t0 + 2);
    for (int i = 0; i < 3; ++i) REQUIRE(produce(rs[1], "e1", 10).error == error_code::none);
    if (restart_follower_midway) {
        rs.restart(1);
        REQUIRE(rs[1].apply_state(st(1, 1, 2, {0, 1}, {1}), t0 + 3) == error_code::none);
    }
    // Epoch 2: L leads again.
    rs.decide(st(0, 2, 3, {0, 1}, {0}), t0 + 4);
    for (int i = 0; i < 5; ++i) REQUIRE(produce(rs[0], "e2", 10).error == error_code::none);
    REQUIRE(rs[0].epoch_entries() == epochs({{0, 0}, {2, 100}}));
    REQUIRE(rs[0].position().log_end_offset == offset{150});
    REQUIRE(rs[1].epoch_entries() == epochs({{0, 0}, {1, 90}}));
    REQUIRE(rs[1].position().log_end_offset == offset{120});
}

using memory_set = replica_set<storage::memory_backend>;
using memory_broker = broker<broker_policies<storage::memory_backend>>;

} // namespace

TEST_CASE("a partition nobody assigns stays the leader of itself alone", "[replication]") {
    memory_set rs(1);
    auto& p = rs[0];
    CHECK(p.is_leader());
    CHECK(p.leader() == node_id{0});
    const auto s = p.state();
    CHECK(s.leader == node_id{0});
    CHECK(s.leader_epoch == leader_epoch{0});
    CHECK(s.replicas == ids({0}));
    CHECK(s.isr == ids({0}));
    const auto r = produce(p, "solo", 3, -1);
    CHECK(r.error == error_code::none);
    CHECK(r.wait_high_watermark == offset{-1}); // the high watermark is already past it
    CHECK(p.offsets().high_watermark == offset{3});
    CHECK(p.ack_all_check() == error_code::none);
    CHECK_FALSE(p.isr_change_wanted(t0));
    // A checkpointed high watermark handed back changes nothing: its ISR is itself.
    p.restore_high_watermark(offset{1});
    CHECK(p.offsets().high_watermark == offset{3});
    CHECK(p.monitor().current(offset_kind::high_watermark) == offset{3});
    CHECK(consume(p).size() == 3);
}

TEMPLATE_TEST_CASE("the high watermark is the smallest log end in the ISR and bounds what consumers read",
                   "[replication]", storage::memory_backend, storage::file_backend) {
    replica_set<TestType> rs(3);
    rs.decide(st(0, 1, 1, {0, 1, 2}, {0, 1, 2}), t0);
    auto& L = rs[0];
    CHECK(L.is_leader());
    CHECK_FALSE(rs[1].is_leader());
    CHECK(rs[1].leader() == node_id{0});
    CHECK(rs[2].current_leader_epoch() == leader_epoch{1});
    CHECK(L.state().isr == ids({0, 1, 2}));
    // Becoming leader of epoch 1 recorded where the epoch starts, before any batch of it.
    CHECK(L.epoch_entries() == epochs({{1, 0}}));

    REQUIRE(produce(L, "a", 5).base_offset == offset{0});
    CHECK(L.offsets().high_watermark == offset{0});
    CHECK(consume(L).empty());

    // Follower 1 gets the records, but the leader learns its position only from its next fetch.
    auto f = fetch(L, rs[1], 1, t0 + 1);
    CHECK(f.appended == error_code::none);
    CHECK(f.read.log_end_offset == offset{5});
    CHECK(rs[1].position().log_end_offset == offset{5});
    CHECK(rs[1].epoch_entries() == epochs({{1, 0}}));
    CHECK(L.offsets().high_watermark == offset{0});
    (void)fetch(L, rs[1], 1, t0 + 2);
    CHECK(L.offsets().high_watermark == offset{0}); // follower 2 has not fetched
    (void)fetch(L, rs[2], 2, t0 + 3);
    (void)fetch(L, rs[2], 2, t0 + 4);
    CHECK(L.offsets().high_watermark == offset{5});
    CHECK(L.monitor().current(offset_kind::high_watermark) == offset{5});
    const auto seen = consume(L);
    REQUIRE(seen.size() == 5);
    CHECK(seen.front() == std::pair<std::int64_t, std::string>{0, "a-0"});
    CHECK(seen.back() == std::pair<std::int64_t, std::string>{4, "a-4"});

    // Followers learn the high watermark from the answer to their next fetch.
    CHECK(rs[1].position().high_watermark == offset{0});
    (void)fetch(L, rs[1], 1, t0 + 5);
    CHECK(rs[1].position().high_watermark == offset{5});

    // Only follower 1 takes the next records: the high watermark waits for follower 2.
    REQUIRE(produce(L, "b", 3).base_offset == offset{5});
    (void)fetch(L, rs[1], 1, t0 + 6);
    (void)fetch(L, rs[1], 1, t0 + 7);
    CHECK(L.offsets().high_watermark == offset{5});
    CHECK(consume(L).size() == 5);
    CHECK(consume(L, offset{5}).empty());
    (void)fetch(L, rs[2], 2, t0 + 8);
    (void)fetch(L, rs[2], 2, t0 + 9);
    CHECK(L.offsets().high_watermark == offset{8});
    CHECK(consume(L).size() == 8);

    // The followers hold the leader's bytes, unchanged.
    CHECK(log_bytes(rs[1]) == log_bytes(L));
    CHECK(log_bytes(rs[2]) == log_bytes(L));
}

TEST_CASE("acks=all waits until every ISR follower has fetched past the batch", "[replication]") {
    memory_set rs(3);
    rs.decide(st(0, 1, 1, {0, 1, 2}, {0, 1, 2}), t0);
    auto& L = rs[0];
    const auto r = produce(L, "x", 3, -1);
    REQUIRE(r.error == error_code::none);
    CHECK(r.wait_high_watermark == offset{3});
    std::optional<wait_status> got;
    auto h = L.monitor().async_wait(offset_kind::high_watermark, r.wait_high_watermark,
                                    broker_detail::wait_clock::time_point::max(), [&](wait_status s) { got = s; });
    REQUIRE(h.has_value());
    (void)fetch(L, rs[1], 1, t0 + 1);
    (void)fetch(L, rs[1], 1, t0 + 2);
    CHECK_FALSE(got);
    (void)fetch(L, rs[2], 2, t0 + 3); // takes the records; reports offset 0
    CHECK_FALSE(got);
    (void)fetch(L, rs[2], 2, t0 + 4); // reports offset 3
    REQUIRE(got);
    CHECK(*got == wait_status::reached);
    CHECK(L.ack_all_check() == error_code::none);
}

TEST_CASE("min.insync.replicas refuses acks=all before appending and stops the high watermark", "[replication]") {
    broker_config cfg;
    cfg.min_insync_replicas = 2;
    memory_set rs(3, cfg);
    rs.decide(st(0, 1, 1, {0, 1, 2}, {0}), t0);
    auto& L = rs[0];
    const auto refused = produce(L, "x", 2, -1);
    CHECK(refused.error == error_code::not_enough_replicas);
    CHECK(L.offsets().log_end_offset == offset{0}); // nothing written
    REQUIRE(produce(L, "one", 2, 1).error == error_code::none);

    // Follower 1 catches up, but an ISR below min.insync.replicas moves no high watermark.
    (void)fetch(L, rs[1], 1, t0 + 1);
    auto f = fetch(L, rs[1], 1, t0 + 2);
    CHECK(f.read.isr_expansion_wanted);
    CHECK(L.offsets().high_watermark == offset{0});

    // Its expansion is proposed; until the controller confirms it, the committed ISR counts.
    const auto prop = L.isr_change_wanted(t0 + 3);
    REQUIRE(prop);
    CHECK(prop->new_isr == ids({0, 1}));
    CHECK(prop->leader_epoch == leader_epoch{1});
    CHECK(prop->partition_epoch == 1);
    CHECK(produce(L, "y", 1, -1).error == error_code::not_enough_replicas);
    CHECK(L.offsets().high_watermark == offset{0});

    rs.decide(st(0, 1, 2, {0, 1, 2}, {0, 1}), t0 + 4);
    CHECK(L.state().isr == ids({0, 1}));
    CHECK(L.state().partition_epoch == 2);
    CHECK(L.offsets().high_watermark == offset{2});
    const auto ok = produce(L, "z", 1, -1);
    CHECK(ok.error == error_code::none);
    CHECK(ok.wait_high_watermark == offset{3});

    // Follower 1 falls behind: the shrink in flight keeps acks=all answerable (maximal ISR)...
    const auto shrink = L.isr_change_wanted(t0 + 4 + cfg.replica_lag_time_max_ms + 1);
    REQUIRE(shrink);
    CHECK(shrink->new_isr == ids({0}));
    CHECK(L.ack_all_check() == error_code::none);
    // ...and once it is committed an answer whose batch was committed before is
    // NOT_ENOUGH_REPLICAS_AFTER_APPEND.
    rs.decide(st(0, 1, 3, {0, 1, 2}, {0}), t0 + 4 + cfg.replica_lag_time_max_ms + 2);
    CHECK(L.ack_all_check() == error_code::not_enough_replicas_after_append);
}

TEST_CASE("a follower that stops fetching leaves the ISR after replica.lag.time.max.ms, and rejoins when caught up",
          "[replication]") {
    broker_config cfg;
    cfg.replica_lag_time_max_ms = 1000;
    memory_set rs(3, cfg);
    rs.decide(st(0, 1, 1, {0, 1, 2}, {0, 1, 2}), t0);
    auto& L = rs[0];
    REQUIRE(produce(L, "a", 4).error == error_code::none);
    for (int id : {1, 2}) {
        (void)fetch(L, rs[id], id, t0 + 10);
        (void)fetch(L, rs[id], id, t0 + 10);
    }
    CHECK(L.offsets().high_watermark == offset{4});
    CHECK_FALSE(L.isr_change_wanted(t0 + 20));

    // Follower 2 goes quiet; follower 1 keeps up.
    REQUIRE(produce(L, "b", 4).error == error_code::none);
    (void)fetch(L, rs[1], 1, t0 + 100);
    (void)fetch(L, rs[1], 1, t0 + 101);
    CHECK(L.offsets().high_watermark == offset{4});
    CHECK_FALSE(L.isr_change_wanted(t0 + 1010)); // last caught up at t0 + 10: not yet lagging

    const auto p = L.isr_change_wanted(t0 + 1011);
    REQUIRE(p);
    CHECK(p->new_isr == ids({0, 1}));
    CHECK(p->partition_epoch == 1);
    CHECK_FALSE(L.isr_change_wanted(t0 + 1012));       // one change in flight at a time
    CHECK(L.offsets().high_watermark == offset{4});    // the maximal ISR still has follower 2
    L.isr_change_failed();                             // the controller refused
    const auto again = L.isr_change_wanted(t0 + 1013); // proposed anew
    REQUIRE(again);
    CHECK(again->new_isr == ids({0, 1}));
    // A stale state (older partition epoch) changes nothing.
    REQUIRE(L.apply_state(st(0, 1, 0, {0, 1, 2}, {0}), t0 + 1013) == error_code::none);
    CHECK(L.state().partition_epoch == 1);
    CHECK(L.state().isr == ids({0, 1, 2}));
    rs.decide(st(0, 1, 2, {0, 1, 2}, {0, 1}), t0 + 1014);
    CHECK(L.state().isr == ids({0, 1}));
    CHECK(L.offsets().high_watermark == offset{8});

    // Follower 2 comes back: its first fetch is below the high watermark, its second at the end.
    CHECK_FALSE(fetch(L, rs[2], 2, t0 + 1100).read.isr_expansion_wanted);
    CHECK(fetch(L, rs[2], 2, t0 + 1101).read.isr_expansion_wanted);
    // Caught up but outside the ISR, it still holds the high watermark (so it can join).
    REQUIRE(produce(L, "c", 2).error == error_code::none);
    (void)fetch(L, rs[1], 1, t0 + 1102);
    (void)fetch(L, rs[1], 1, t0 + 1103);
    CHECK(L.offsets().high_watermark == offset{8});
    const auto grow = L.isr_change_wanted(t0 + 1104);
    REQUIRE(grow);
    CHECK(grow->new_isr == ids({0, 1, 2}));
    CHECK(grow->partition_epoch == 2);
    rs.decide(st(0, 1, 3, {0, 1, 2}, {0, 1, 2}), t0 + 1105);
    CHECK(L.state().isr == ids({0, 1, 2}));
    (void)fetch(L, rs[2], 2, t0 + 1106);
    (void)fetch(L, rs[2], 2, t0 + 1107);
    CHECK(L.offsets().high_watermark == offset{10});
}

TEST_CASE("a replica joins the ISR only once its log end reached the leader's epoch start", "[replication]") {
    memory_set rs(3);
    auto& L = rs[0];
    // Node 0 wrote 10 records leading itself (epoch 0); follower 2 took only the first 5.
    REQUIRE(produce(L, "a", 5).error == error_code::none);
    REQUIRE(produce(L, "b", 5).error == error_code::none);
    for (int id : {0, 2}) REQUIRE(rs[id].apply_state(st(0, 0, 0, {0, 2}, {0}), t0) == error_code::none);
    REQUIRE(fetch(L, rs[2], 2, t0, 1).appended == error_code::none); // one batch
    REQUIRE(rs[2].position().log_end_offset == offset{5});
    // Node 0 leads epoch 1 from its log end (10) with an ISR holding a follower that knows nothing
    // yet, and a high watermark restored at 4.
    rs.decide(st(0, 1, 1, {0, 1, 2}, {0, 1}), t0 + 1);
    L.restore_high_watermark(offset{4});
    CHECK(L.offsets().high_watermark == offset{4});
    CHECK(L.epoch_entries() == epochs({{0, 0}, {1, 10}}));
    // Follower 2 at 5: past the high watermark, short of the epoch start.
    auto f = L.follower_read(node_id{2}, leader_epoch{1}, offset{5}, leader_epoch{0}, offset{0}, 1 << 20, t0 + 2);
    CHECK(f.error == error_code::none);
    CHECK_FALSE(f.isr_expansion_wanted);
    CHECK_FALSE(L.isr_change_wanted(t0 + 3));
    f = L.follower_read(node_id{2}, leader_epoch{1}, offset{10}, leader_epoch{0}, offset{0}, 1 << 20, t0 + 4);
    CHECK(f.isr_expansion_wanted);
    const auto p = L.isr_change_wanted(t0 + 5);
    REQUIRE(p);
    CHECK(p->new_isr == ids({0, 1, 2}));
}

TEMPLATE_TEST_CASE("a diverging follower truncates to where the leader's epoch ended and refetches from there",
                   "[replication]", storage::memory_backend, storage::file_backend) {
    replica_set<TestType> rs(2);
    diverge(rs);
    auto& L = rs[0];
    auto& F = rs[1];
    const auto hw_before = L.offsets().high_watermark;
    // (FetchOffset 120, LastFetchedEpoch 1): the leader's end of epoch 1 is (0, 100).
    auto r1 = fetch(L, F, 1, t0 + 10);
    CHECK(r1.read.error == error_code::none);
    REQUIRE(r1.read.diverging);
    CHECK(r1.read.diverging->epoch == leader_epoch{0});
    CHECK(r1.read.diverging->end_offset == offset{100});
    CHECK(r1.read.records.bytes == 0);
    CHECK(r1.read.log_end_offset == offset{150});
    CHECK(L.offsets().high_watermark == hw_before); // follower state untouched
    CHECK(r1.truncated_to == offset{90});
    CHECK(F.position().log_end_offset == offset{90});
    CHECK(F.position().high_watermark <= offset{90});
    CHECK(F.monitor().current(offset_kind::log_end) == offset{90});
    CHECK(F.epoch_entries() == epochs({{0, 0}}));
    CHECK(F.position().last_fetched_epoch == leader_epoch{0});

    // (90, 0): epoch 0 ends at 100 on the leader, no divergence: the records from 90 come.
    auto r2 = fetch(L, F, 1, t0 + 11);
    CHECK_FALSE(r2.read.diverging);
    CHECK(r2.appended == error_code::none);
    CHECK(F.position().log_end_offset == offset{150});
    CHECK(F.epoch_entries() == epochs({{0, 0}, {2, 100}}));
    CHECK(log_bytes(F) == log_bytes(L));
    const auto all = consume(L);
    REQUIRE(all.size() == 150);
    CHECK(all[95].second == "lost-5");
    CHECK(all[100].second == "e2-0");
    // The next fetch finds nothing diverging and nothing new.
    auto r3 = fetch(L, F, 1, t0 + 12);
    CHECK_FALSE(r3.read.diverging);
    CHECK(r3.read.records.bytes == 0);
}

TEST_CASE("the follower's truncation offset follows docs/protocol.md §14.6.4 case by case", "[replication]") {
    memory_set rs(2);
    auto& F = rs[1];
    REQUIRE(F.apply_state(st(0, 3, 1, {0, 1}, {0, 1}), t0) == error_code::none);
    byte_buffer records;
    records.append(stored_batch(0, 0, 90).view());
    records.append(stored_batch(90, 1, 40).view());
    records.append(stored_batch(130, 3, 20).view());
    REQUIRE(F.append_as_follower(records.view(), offset{80}, offset{0}) == error_code::none);
    REQUIRE(F.epoch_entries() == epochs({{0, 0}, {1, 90}, {3, 130}}));
    REQUIRE(F.position().log_end_offset == offset{150});
    REQUIRE(F.position().high_watermark == offset{80});
    const auto to = [&](int e, std::int64_t end) {
        return F.truncation_offset({leader_epoch{e}, offset{end}}).value();
    };
    CHECK(to(-1, -1) == 80);   // undefined end: the initial fetch offset, the high watermark
    CHECK(to(-1, 100) == 100); // an old leader without epochs: min(Lend, LEO)
    CHECK(to(1, 120) == 120);  // Fe == Le: min(Fend 130, Lend 120, LEO 150)
    CHECK(to(1, 140) == 130);  // Fe == Le: min(Fend 130, Lend 140, LEO 150)
    CHECK(to(0, 50) == 50);    // Fe == Le: min(Fend 90, Lend 50, LEO 150)
    CHECK(to(3, 200) == 150);  // the follower's latest epoch ends at its LEO
    CHECK(to(2, 125) == 130);  // Fe 1 != Le 2: min(Fend 130, LEO), then ask again
    CHECK(to(5, 100) == 100);  // no epoch of the follower answers: min(Lend, LEO)

    // A follower without any epoch (batches from before epochs were stamped).
    auto& G = rs[0];
    REQUIRE(G.apply_state(st(1, 3, 1, {0, 1}, {0, 1}), t0) == error_code::none);
    REQUIRE(G.append_as_follower(stored_batch(0, -1, 60).view(), offset{20}, offset{0}) == error_code::none);
    CHECK(G.epoch_entries().empty());
    CHECK(G.position().last_fetched_epoch == leader_epoch{-1});
    CHECK(G.truncation_offset({leader_epoch{1}, offset{50}}) == offset{50});
    CHECK(G.truncation_offset({leader_epoch{1}, offset{-1}}) == offset{20});
}

TEST_CASE("leader epochs fence stale requests and leadership is checked after them", "[replication]") {
    memory_set rs(3);
    rs.decide(st(0, 3, 1, {0, 1}, {0, 1}), t0);
    auto& L = rs[0];
    auto& F = rs[1];
    CHECK(L.check_epoch(leader_epoch{-1}, true) == error_code::none);
    CHECK(L.check_epoch(leader_epoch{3}, true) == error_code::none);
    CHECK(L.check_epoch(leader_epoch{2}, true) == error_code::fenced_leader_epoch);
    CHECK(L.check_epoch(leader_epoch{4}, true) == error_code::unknown_leader_epoch);
    CHECK(F.check_epoch(leader_epoch{3}, true) == error_code::not_leader_or_follower);
    CHECK(F.check_epoch(leader_epoch{-1}, true) == error_code::not_leader_or_follower);
    CHECK(F.check_epoch(leader_epoch{3}, false) == error_code::none);
    CHECK(F.check_epoch(leader_epoch{2}, false) == error_code::fenced_leader_epoch);
    CHECK(F.check_epoch(leader_epoch{4}, true) == error_code::unknown_leader_epoch); // the epoch comes first

    REQUIRE(produce(L, "a", 3).error == error_code::none);
    const auto read = [&](auto& p, int replica, int epoch, std::int64_t at, int last_epoch = -1) {
        return p.follower_read(node_id{replica}, leader_epoch{epoch}, offset{at}, leader_epoch{last_epoch}, offset{0},
                               1 << 20, t0 + 1);
    };
    CHECK(read(L, 1, 3, 0).error == error_code::none);
    CHECK(read(L, 1, 2, 0).error == error_code::fenced_leader_epoch);
    CHECK(read(L, 1, 4, 0).error == error_code::unknown_leader_epoch);
    CHECK(read(F, 1, 3, 0).error == error_code::not_leader_or_follower);
    // Not a replica of the partition (node 2), or the leader itself.
    CHECK(read(L, 2, 3, 0).error == error_code::unknown_leader_epoch);
    CHECK(read(L, 2, -1, 0).error == error_code::not_leader_or_follower);
    CHECK(read(L, 0, -1, 0).error == error_code::not_leader_or_follower);
    // Outside the log, or with an epoch the leader never had.
    CHECK(read(L, 1, 3, 4).error == error_code::offset_out_of_range);
    CHECK(read(L, 1, 3, 3, 7).error == error_code::offset_out_of_range);
    const auto ok = read(L, 1, 3, 3, 3);
    CHECK(ok.error == error_code::none);
    CHECK_FALSE(ok.diverging);
    CHECK(ok.high_watermark == offset{0});
    CHECK(ok.log_end_offset == offset{3});

    // Role checks of the write paths.
    CHECK(produce(F, "x", 1).error == error_code::not_leader_or_follower);
    CHECK(L.append_as_follower({}, offset{0}, offset{0}) == error_code::not_leader_or_follower);
    CHECK(L.truncate_to(offset{0}) == error_code::not_leader_or_follower);
    // Older states are ignored: a lower leader epoch, or a lower partition epoch.
    REQUIRE(L.apply_state(st(1, 2, 5, {0, 1}, {0, 1}), t0 + 2) == error_code::none);
    REQUIRE(L.apply_state(st(1, 3, 0, {0, 1}, {0, 1}), t0 + 2) == error_code::none);
    CHECK(L.is_leader());
    CHECK(L.current_leader_epoch() == leader_epoch{3});
    CHECK(L.state().partition_epoch == 1);
}

TEST_CASE("a follower stores the leader's batches byte for byte and refuses what does not fit", "[replication]") {
    memory_set rs(2);
    rs.decide(st(0, 1, 1, {0, 1}, {0, 1}), t0);
    auto& L = rs[0];
    auto& F = rs[1];
    REQUIRE(produce(L, "a", 3).error == error_code::none);
    REQUIRE(produce(L, "b", 2, 1, test::idem(7, 0, 0)).error == error_code::none);
    REQUIRE(produce(L, "c", 4).error == error_code::none);
    const auto r = L.follower_read(node_id{1}, leader_epoch{1}, offset{0}, leader_epoch{-1}, offset{0}, 1 << 20, t0);
    REQUIRE(r.error == error_code::none);
    byte_buffer buf;
    REQUIRE(!storage::copy_to(r.records, buf));

    // A flipped bit in the last batch: CORRUPT_MESSAGE, and nothing of the answer is appended.
    byte_buffer bad(buf.view());
    bad.data()[bad.size() - 1] ^= std::byte{1};
    CHECK(F.append_as_follower(bad.view(), r.high_watermark, r.log_start_offset) == error_code::corrupt_message);
    CHECK(F.position().log_end_offset == offset{0});
    // A trailing partial batch (cut by a byte limit) is left for the next fetch.
    CHECK(F.append_as_follower(buf.view().first(buf.size() - 5), r.high_watermark, r.log_start_offset) ==
          error_code::none);
    CHECK(F.position().log_end_offset == offset{5});
    // Batches that do not continue the log are refused whole.
    CHECK(F.append_as_follower(buf.view(), r.high_watermark, r.log_start_offset) == error_code::offset_out_of_range);
    CHECK(F.position().log_end_offset == offset{5});
    REQUIRE(fetch(L, F, 1, t0 + 1).appended == error_code::none);
    CHECK(F.position().log_end_offset == offset{9});

    // Same bytes: offsets, epochs, CRCs.
    const auto mine = log_bytes(F);
    CHECK(mine == log_bytes(L));
    CHECK(mine == std::string(as_string_view(buf.view())));
    wire::batch_splitter s(as_bytes(mine));
    int n = 0;
    while (const auto b = s.next()) {
        const auto h = *wire::batch_header::parse(*b);
        CHECK(wire::validate(*b, {.check_records = true, .client_batch = false}) == wire::batch_error::none);
        CHECK(h.partition_leader_epoch == 1);
        ++n;
    }
    CHECK(n == 3);
    // The idempotent producer's state came along.
    const auto last_seq = F.with_producer_state([](const auto& t) {
        const auto* e = t.find(producer_id{7});
        return e && e->newest() ? e->newest()->last_seq.value() : -1;
    });
    CHECK(last_seq == 1);
}

TEST_CASE("a truncated follower rebuilds its producer state and moves its offsets back", "[replication]") {
    memory_set rs(2);
    rs.decide(st(0, 1, 1, {0, 1}, {0, 1}), t0);
    auto& L = rs[0];
    auto& F = rs[1];
    REQUIRE(produce(L, "a", 3, 1, test::idem(5, 0, 0)).error == error_code::none);
    REQUIRE(produce(L, "b", 2, 1, test::idem(5, 0, 3)).error == error_code::none);
    for (int i = 0; i < 3; ++i) (void)fetch(L, F, 1, t0 + 1 + i);
    REQUIRE(F.position().high_watermark == offset{5});
    const auto seq = [&] {
        return F.with_producer_state([](const auto& t) {
            const auto* e = t.find(producer_id{5});
            return e && e->newest() ? e->newest()->last_seq.value() : -1;
        });
    };
    REQUIRE(seq() == 4);
    CHECK(F.truncate_to(offset{4}) == error_code::none); // inside the second batch: it goes whole
    CHECK(F.position().log_end_offset == offset{3});
    CHECK(F.position().high_watermark == offset{3});
    CHECK(F.monitor().current(offset_kind::log_end) == offset{3});
    CHECK(F.monitor().current(offset_kind::high_watermark) == offset{3});
    CHECK(seq() == 2);
    CHECK(F.truncate_to(offset{10}) == error_code::none); // beyond the log end: nothing to do
    CHECK(F.position().log_end_offset == offset{3});
    // Fetching again brings the batch back.
    REQUIRE(fetch(L, F, 1, t0 + 10).appended == error_code::none);
    CHECK(F.position().log_end_offset == offset{5});
    CHECK(seq() == 4);
    CHECK(log_bytes(F) == log_bytes(L));
}

TEST_CASE("a follower behind the leader's log start starts over there, inside a batch if need be", "[replication]") {
    memory_set rs(2);
    rs.decide(st(0, 1, 1, {0, 1}, {0}), t0);
    auto& L = rs[0];
    auto& F = rs[1];
    REQUIRE(produce(L, "a", 10).error == error_code::none);
    REQUIRE(produce(L, "b", 10).error == error_code::none);
    REQUIRE(L.offsets().high_watermark == offset{20});
    REQUIRE(L.delete_records(offset{15}).first == error_code::none);
    const auto r = L.follower_read(node_id{1}, leader_epoch{1}, offset{0}, leader_epoch{-1}, offset{0}, 1 << 20, t0);
    CHECK(r.error == error_code::offset_out_of_range);
    CHECK(r.log_start_offset == offset{15});
    REQUIRE(F.truncate_fully_and_start_at(r.log_start_offset) == error_code::none);
    CHECK(F.position().log_start_offset == offset{15});
    CHECK(F.position().log_end_offset == offset{15});
    // The answer from 15 is the batch 10-19: the empty log restarts at 10, its start stays 15.
    REQUIRE(fetch(L, F, 1, t0 + 1).appended == error_code::none);
    CHECK(F.position().log_end_offset == offset{20});
    CHECK(F.position().log_start_offset == offset{15});
    CHECK(F.position().high_watermark == offset{20});
    // The epoch of the batch starts at 10, moved to the log start like every older entry.
    CHECK(F.epoch_entries() == epochs({{1, 15}}));
    CHECK(F.epoch_entries() == L.epoch_entries());
    CHECK(log_bytes(F) == log_bytes(L));
}

TEST_CASE("a deposed leader answers NOT_LEADER_OR_FOLLOWER to appends and to waiting acks=all produces",
          "[replication]") {
    memory_broker b;
    REQUIRE(b.create_topic("t", 1) == error_code::none);
    auto* p = b.find_partition("t", partition_id{0});
    REQUIRE(p);
    REQUIRE(p->apply_state(st(0, 1, 1, {0, 1}, {0, 1}), t0) == error_code::none);
    std::optional<memory_broker::produce_result> got;
    auto batch = make_batch("w", 2);
    b.append_async("t", partition_id{0}, batch.mutable_view(), -1, 30s, true,
                   [&](memory_broker::produce_result r) { got = r; });
    CHECK_FALSE(got); // waits for follower 1
    CHECK(p->offsets().log_end_offset == offset{2});
    std::optional<wait_status> waited;
    auto h = p->monitor().async_wait(offset_kind::high_watermark, offset{2},
                                     broker_detail::wait_clock::time_point::max(), [&](wait_status s) { waited = s; });
    REQUIRE(h.has_value());

    REQUIRE(p->apply_state(st(1, 2, 2, {0, 1}, {0, 1}), t0 + 1) == error_code::none);
    REQUIRE(got);
    CHECK(got->error == error_code::not_leader_or_follower);
    CHECK(waited == wait_status::shutdown);
    CHECK_FALSE(p->is_leader());
    CHECK(p->leader() == node_id{1});
    CHECK(b.produce("t", partition_id{0}, make_batch("late", 1), 1).error == error_code::not_leader_or_follower);
    CHECK(p->ack_all_check() == error_code::not_leader_or_follower);
    CHECK(p->offsets().log_end_offset == offset{2});
}

TEST_CASE("a restarted file-backed follower keeps its epoch cache and high watermark and still truncates",
          "[replication]") {
    replica_set<storage::file_backend> rs(2);
    diverge(rs, true); // F restarted while it led epoch 1
    auto& L = rs[0];
    // Restart the follower again: its epochs come back from leader-epoch-checkpoint; the broker
    // hands back the high watermark from replication-offset-checkpoint after the first state.
    const auto hw = rs[1].offsets().high_watermark;
    REQUIRE(hw == offset{120}); // it led alone in epoch 1
    rs.restart(1);
    CHECK(rs[1].epoch_entries() == epochs({{0, 0}, {1, 90}}));
    CHECK(rs[1].position().log_end_offset == offset{120});
    REQUIRE(rs[1].apply_state(st(0, 2, 3, {0, 1}, {0}), t0 + 5) == error_code::none);
    rs[1].restore_high_watermark(offset{100});
    CHECK(rs[1].position().high_watermark == offset{100});

    auto r1 = fetch(L, rs[1], 1, t0 + 10);
    REQUIRE(r1.read.diverging);
    CHECK(r1.truncated_to == offset{90});
    CHECK(rs[1].position().high_watermark == offset{90});
    // The truncation is durable too.
    rs.restart(1);
    REQUIRE(rs[1].apply_state(st(0, 2, 3, {0, 1}, {0}), t0 + 11) == error_code::none);
    CHECK(rs[1].epoch_entries() == epochs({{0, 0}}));
    CHECK(rs[1].position().log_end_offset == offset{90});
    REQUIRE(fetch(L, rs[1], 1, t0 + 12).appended == error_code::none);
    CHECK(rs[1].position().log_end_offset == offset{150});
    rs.restart(1);
    CHECK(rs[1].epoch_entries() == epochs({{0, 0}, {2, 100}}));
    CHECK(log_bytes(rs[1]) == log_bytes(L));
}

TEST_CASE("a follower copies a compacted leader's log byte for byte, gaps included", "[replication][compaction]") {
    broker_config cfg;
    cfg.log.cleanup_policy = storage::cleanup_policy::compact;
    cfg.log.segment_bytes = 400;
    memory_set rs(2, cfg);
    // The follower is out of the ISR while the leader writes and compacts.
    rs.decide(st(0, 1, 1, {0, 1}, {0}), t0);
    auto& L = rs[0];
    auto& F = rs[1];
    for (int i = 0; i < 30; ++i) REQUIRE(produce(L, "k", 3).error == error_code::none);
    const auto before = consume(L);
    std::error_code ec;
    storage::compaction::stats stats;
    REQUIRE(L.compact(t0, 1 << 20, true, ec, &stats));
    REQUIRE_FALSE(ec);
    REQUIRE(stats.batches_removed > 10);
    const auto after = consume(L);
    REQUIRE(after.size() < before.size());
    // Small fetches, so answers start and end on both sides of the gaps.
    for (int i = 0; i < 200 && F.position().log_end_offset < L.position().log_end_offset; ++i)
        REQUIRE(fetch(L, F, 1, t0 + 1, 200).appended == error_code::none);
    CHECK(F.position().log_end_offset == offset{90});
    CHECK(log_bytes(F) == log_bytes(L));
    CHECK(consume(F) == after);
    // Below the follower's log end is still refused.
    const auto r = L.follower_read(node_id{1}, leader_epoch{1}, offset{0}, leader_epoch{-1}, offset{0}, 1 << 20, t0 + 2);
    byte_buffer buf;
    REQUIRE(!storage::copy_to(r.records, buf));
    CHECK(F.append_as_follower(buf.view(), r.high_watermark, r.log_start_offset) == error_code::offset_out_of_range);
}
