// The partition assignors (gregor/consumer/assignors.hpp): range and roundrobin on the examples of
// Kafka's documentation and Java's member order; cooperative-sticky's balance, stickiness, claim
// conflicts and two-round hand-over, on fixed cases and on a seeded random sweep.
#include <gregor/consumer/assignors.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

using namespace gregor;
using assignors::assignment_map;
using assignors::member_subscription;
using assignors::partition_counts;

namespace {

member_subscription member(std::string id, std::vector<std::string> topics, std::vector<topic_partition> owned = {},
                           std::int32_t generation = -1, std::optional<std::string> instance = std::nullopt) {
    return {std::move(id), std::move(instance), std::move(topics), std::move(owned), generation};
}

topic_partition tp(const std::string& topic, std::int32_t p) { return {topic, partition_id{p}}; }

/// "C0: t0p0 t0p1; C1: t1p0" -- what a failed REQUIRE prints, and what the cases spell out.
std::string show(const assignment_map& a) {
    std::string s;
    for (const auto& [id, tps] : a) {
        if (!s.empty()) s += "; ";
        s += id + ":";
        for (const auto& t : tps) s += " " + t.topic + "p" + std::to_string(t.partition.value());
    }
    return s;
}

} // namespace

TEST_CASE("range: Kafka's example, uneven subscriptions, unknown topics", "[assignors]") {
    const partition_counts counts{{"t0", 3}, {"t1", 3}, {"t2", 2}};
    SECTION("two members, two topics of three partitions") {
        const auto r = assignors::range({member("C1", {"t0", "t1"}), member("C0", {"t0", "t1"})}, counts);
        REQUIRE(show(r) == "C0: t0p0 t0p1 t1p0 t1p1; C1: t0p2 t1p2");
    }
    SECTION("each topic is split among its own subscribers") {
        const auto r = assignors::range(
            {member("C0", {"t0"}), member("C1", {"t0", "t1"}), member("C2", {"t0", "t1", "t2"})}, counts);
        REQUIRE(show(r) == "C0: t0p0; C1: t0p1 t1p0 t1p1; C2: t0p2 t1p2 t2p0 t2p1");
    }
    SECTION("more members than partitions: the last ones get none") {
        const auto r = assignors::range(
            {member("a", {"t2"}), member("b", {"t2"}), member("c", {"t2"}), member("d", {"t1"})}, counts);
        REQUIRE(show(r) == "a: t2p0; b: t2p1; c:; d: t1p0 t1p1 t1p2");
    }
    SECTION("topics without a partition count (or with none) are skipped, their subscribers listed") {
        const auto r = assignors::range({member("a", {"gone", "empty"}), member("b", {"t2", "gone"})},
                                        {{"t2", 2}, {"empty", 0}});
        REQUIRE(show(r) == "a:; b: t2p0 t2p1");
    }
}

TEST_CASE("roundrobin: Kafka's examples, heterogeneous subscriptions", "[assignors]") {
    SECTION("two members, two topics of three partitions") {
        const auto r = assignors::roundrobin({member("C0", {"t0", "t1"}), member("C1", {"t1", "t0"})},
                                             {{"t0", 3}, {"t1", 3}});
        REQUIRE(show(r) == "C0: t0p0 t0p2 t1p1; C1: t0p1 t1p0 t1p2");
    }
    SECTION("the iterator skips members not subscribed to the partition's topic") {
        // RoundRobinAssignor's javadoc: t0, t1, t2 with 1, 2 and 3 partitions.
        const auto r = assignors::roundrobin(
            {member("C2", {"t0", "t1", "t2"}), member("C1", {"t0", "t1"}), member("C0", {"t0"})},
            {{"t0", 1}, {"t1", 2}, {"t2", 3}});
        REQUIRE(show(r) == "C0: t0p0; C1: t1p0; C2: t1p1 t2p0 t2p1 t2p2");
    }
    SECTION("unknown topics are skipped") {
        const auto r = assignors::roundrobin({member("a", {"gone", "t0"}), member("b", {"gone"})}, {{"t0", 2}});
        REQUIRE(show(r) == "a: t0p0 t0p1; b:");
    }
}

TEST_CASE("member order is Java's MemberInfo order: static members first, by instance id", "[assignors]") {
    const std::vector<member_subscription> members{
        member("a-dynamic", {"t"}), member("b-static", {"t"}, {}, -1, "zeta"),
        member("c-static", {"t"}, {}, -1, "alpha"), member("0-dynamic", {"t"})};
    REQUIRE(show(assignors::range(members, {{"t", 3}})) == "0-dynamic: tp2; a-dynamic:; b-static: tp1; c-static: tp0");
    REQUIRE(show(assignors::roundrobin(members, {{"t", 5}})) ==
            "0-dynamic: tp2; a-dynamic: tp3; b-static: tp1; c-static: tp0 tp4");
    SECTION("ids compare as Java strings (UTF-16 units), not as UTF-8 bytes") {
        // U+FF21 (EF BC A1) sorts before U+1F600 (F0 9F 98 80) by bytes, after it (D83D) in UTF-16.
        const auto r = assignors::range({member("\xEF\xBC\xA1", {"t"}), member("\xF0\x9F\x98\x80", {"t"})},
                                        {{"t", 1}});
        REQUIRE(r.at("\xF0\x9F\x98\x80").size() == 1);
        REQUIRE(r.at("\xEF\xBC\xA1").empty());
    }
}

TEST_CASE("no members, no assignment", "[assignors]") {
    for (const auto& a : {"range", "roundrobin", "cooperative-sticky"})
        REQUIRE(assignors::find(a)->assign({}, {{"t0", 3}}).empty());
}

TEST_CASE("find: the three assignors and their rebalance protocols", "[assignors]") {
    REQUIRE(assignors::find("range")->protocol == assignors::rebalance_protocol::eager);
    REQUIRE(assignors::find("roundrobin")->protocol == assignors::rebalance_protocol::eager);
    REQUIRE(assignors::find("cooperative-sticky")->protocol == assignors::rebalance_protocol::cooperative);
    REQUIRE(assignors::find("range")->name == "range");
    REQUIRE(assignors::find("cooperative-sticky")->assign == &assignors::cooperative_sticky);
    REQUIRE(assignors::find("sticky") == nullptr);
    REQUIRE(assignors::find("") == nullptr);
    REQUIRE(assignors::find("Range") == nullptr);
}

TEST_CASE("cooperative-sticky: fresh group, joining, leaving, conflicting claims", "[assignors]") {
    const partition_counts counts{{"t0", 4}, {"t1", 3}};
    const std::vector<std::string> both{"t0", "t1"};
    SECTION("a fresh group is balanced") {
        const auto r = assignors::cooperative_sticky({member("C", both), member("A", both), member("B", both)}, counts);
        REQUIRE(show(r) == "A: t0p0 t0p3 t1p2; B: t0p1 t1p0; C: t0p2 t1p1");
    }
    SECTION("a member joins: the others keep two of their three, the newcomer waits a round") {
        const partition_counts six{{"t", 6}};
        std::vector<member_subscription> m{member("A", {"t"}, {tp("t", 0), tp("t", 1), tp("t", 2)}, 4),
                                           member("B", {"t"}, {tp("t", 3), tp("t", 4), tp("t", 5)}, 4),
                                           member("N", {"t"})};
        const auto first = assignors::cooperative_sticky(m, six);
        REQUIRE(show(first) == "A: tp0 tp1; B: tp3 tp4; N:");
        // A and B revoke tp2 and tp5 and rejoin without them.
        m[0].owned = first.at("A"), m[1].owned = first.at("B");
        m[0].generation = m[1].generation = 5;
        const auto second = assignors::cooperative_sticky(m, six);
        REQUIRE(show(second) == "A: tp0 tp1; B: tp3 tp4; N: tp2 tp5");
    }
    SECTION("a member leaves: its partitions go to the others at once") {
        const auto r = assignors::cooperative_sticky(
            {member("A", both, {tp("t0", 0), tp("t0", 1), tp("t1", 0)}, 7),
             member("B", both, {tp("t0", 2), tp("t1", 1)}, 7)}, // C had t0p3 and t1p2
            counts);
        REQUIRE(show(r) == "A: t0p0 t0p1 t1p0 t1p2; B: t0p2 t0p3 t1p1");
    }
    SECTION("of two claims on a partition the newer generation wins; a tie goes to the first") {
        const partition_counts two{{"t", 2}};
        auto a = member("A", {"t"}, {tp("t", 1)}, 3);
        auto b = member("B", {"t"}, {tp("t", 1)}, 5);
        // B's newer claim stands: A, whose claim was stale, gets the other partition at once.
        REQUIRE(show(assignors::cooperative_sticky({a, b}, two)) == "A: tp0; B: tp1");
        REQUIRE(show(assignors::cooperative_sticky({b, a}, two)) == "A: tp0; B: tp1");
        b.generation = 3;
        REQUIRE(show(assignors::cooperative_sticky({a, b}, two)) == "A: tp1; B: tp0");
        REQUIRE(show(assignors::cooperative_sticky({b, a}, two)) == "A: tp0; B: tp1");
    }
    SECTION("claims on unsubscribed topics, unknown topics or missing partitions do not count") {
        const auto r = assignors::cooperative_sticky(
            {member("A", {"t1"}, {tp("t0", 0), tp("gone", 0), tp("t1", 9), tp("t1", -1)}, 2),
             member("B", {"t0"}, {tp("t0", 1)}, 2)},
            counts);
        REQUIRE(show(r) == "A: t1p0 t1p1 t1p2; B: t0p0 t0p1 t0p2 t0p3");
    }
    SECTION("over its quota a member releases its highest partitions") {
        const auto r = assignors::cooperative_sticky(
            {member("A", {"t0"}, {tp("t0", 0), tp("t0", 1), tp("t0", 2), tp("t0", 3)}, 1), member("B", {"t0"})},
            counts);
        REQUIRE(show(r) == "A: t0p0 t0p1; B:");
    }
}

// ---------------------------------------------------------------------------------------------
// A seeded sweep over random groups: topics of 0-7 partitions plus an unknown one, identical or
// random subscriptions, static and dynamic members, random (often invalid or conflicting) claims.

namespace {

struct random_group {
    std::vector<member_subscription> members;
    partition_counts counts;
    bool identical = false;
};

random_group make_group(std::mt19937& rng) {
    const auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    random_group g;
    std::vector<std::string> topics;
    for (int t = 0, n = pick(1, 4); t < n; ++t) {
        topics.push_back("t" + std::to_string(t));
        g.counts[topics.back()] = pick(0, 7);
    }
    std::vector<std::string> named = topics;
    named.push_back("gone"); // subscribed and claimed, never in the counts
    g.identical = pick(0, 1) == 1;
    std::set<std::string> ids;
    for (int i = 0, n = pick(1, 6); i < n; ++i) {
        member_subscription m;
        do {
            m.member_id = "m-" + std::to_string(pick(0, 99));
        } while (!ids.insert(m.member_id).second);
        if (pick(0, 2) == 0) m.group_instance_id = "i-" + std::to_string(pick(0, 99) + 100 * i);
        for (const auto& t : named)
            if (g.identical ? t != "gone" : pick(0, 1) == 1) m.topics.push_back(t);
        for (int c = 0, k = pick(0, 6); c < k; ++c) {
            const auto& topic = named[static_cast<std::size_t>(pick(0, static_cast<int>(named.size()) - 1))];
            m.owned.push_back(tp(topic, pick(-1, 8))); // one draw per statement: same cases on every compiler
        }
        m.generation = pick(-1, 3);
        g.members.push_back(std::move(m));
    }
    return g;
}

/// The group, for a failed case's message.
std::string describe(const random_group& g) {
    std::string s;
    for (const auto& [t, n] : g.counts) s += t + "=" + std::to_string(n) + " ";
    for (const auto& m : g.members) {
        s += "\n" + m.member_id + (m.group_instance_id ? "/" + *m.group_instance_id : "") + " gen " +
             std::to_string(m.generation) + " topics";
        for (const auto& t : m.topics) s += " " + t;
        s += " owned";
        for (const auto& t : m.owned) s += " " + t.topic + "p" + std::to_string(t.partition.value());
    }
    return s;
}

bool subscribes(const member_subscription& m, const std::string& topic) {
    return std::find(m.topics.begin(), m.topics.end(), topic) != m.topics.end();
}

/// Every partition of a known topic someone subscribes to.
std::set<topic_partition> all_partitions(const random_group& g) {
    std::set<topic_partition> all;
    for (const auto& m : g.members)
        for (const auto& t : m.topics)
            if (const auto c = g.counts.find(t); c != g.counts.end())
                for (std::int32_t p = 0; p < c->second; ++p) all.insert(tp(t, p));
    return all;
}

/// Sorted, each partition at most once, only to members subscribed to it, every member listed;
/// and, unless `partial`, every partition assigned.
void check_valid(const random_group& g, const assignment_map& a, bool partial) {
    REQUIRE(a.size() == g.members.size());
    std::set<topic_partition> seen;
    for (const auto& m : g.members) {
        const auto& got = a.at(m.member_id);
        REQUIRE(std::is_sorted(got.begin(), got.end()));
        for (const auto& t : got) {
            REQUIRE(seen.insert(t).second);
            REQUIRE(subscribes(m, t.topic));
            REQUIRE(g.counts.count(t.topic) == 1);
            REQUIRE(t.partition.value() < g.counts.at(t.topic));
        }
    }
    if (!partial) REQUIRE(seen == all_partitions(g));
}

/// Balanced: loads differ by at most one with identical subscriptions; otherwise no member holds
/// two more than another that could take one of its partitions.
void check_balanced(const random_group& g, const assignment_map& a) {
    for (const auto& x : g.members)
        for (const auto& y : g.members) {
            const auto& ax = a.at(x.member_id);
            if (ax.size() < a.at(y.member_id).size() + 2) continue;
            REQUIRE_FALSE(g.identical);
            for (const auto& t : ax) REQUIRE_FALSE(subscribes(y, t.topic));
        }
}

/// Nothing goes to a member while another validly owns it (the reference rule: subscribed, known,
/// newest generation, the first claim on a tie).
void check_handover(const random_group& g, const assignment_map& a) {
    std::map<topic_partition, std::pair<std::string, std::int32_t>> owner;
    for (const auto& m : g.members)
        for (const auto& t : m.owned) {
            const auto c = g.counts.find(t.topic);
            if (!subscribes(m, t.topic) || c == g.counts.end() || t.partition.value() < 0 ||
                t.partition.value() >= c->second)
                continue;
            const auto [at, fresh] = owner.try_emplace(t, m.member_id, m.generation);
            if (!fresh && m.generation > at->second.second) at->second = {m.member_id, m.generation};
        }
    for (const auto& [id, tps] : a)
        for (const auto& t : tps)
            if (const auto o = owner.find(t); o != owner.end()) REQUIRE(o->second.first == id);
}

} // namespace

TEST_CASE("random groups: range and roundrobin assign everything once, to subscribers", "[assignors]") {
    std::mt19937 rng(20240611);
    for (int i = 0; i < 200; ++i) {
        const auto g = make_group(rng);
        check_valid(g, assignors::range(g.members, g.counts), false);
        check_valid(g, assignors::roundrobin(g.members, g.counts), false);
    }
}

TEST_CASE("random groups: cooperative-sticky is valid, hands over, then is balanced", "[assignors]") {
    std::mt19937 rng(4711);
    int three_rounds = 0;
    for (int i = 0; i < 200; ++i) {
        auto g = make_group(rng);
        INFO("case " << i << ": " << describe(g));

        // Fresh: everything assigned, balanced.
        auto fresh = g;
        for (auto& m : fresh.members) m.owned.clear();
        const auto r0 = assignors::cooperative_sticky(fresh.members, fresh.counts);
        check_valid(fresh, r0, false);
        check_balanced(fresh, r0);

        // With the random claims, deterministic and never handing a partition over at once.
        const auto r1 = assignors::cooperative_sticky(g.members, g.counts);
        REQUIRE(r1 == assignors::cooperative_sticky(g.members, g.counts));
        check_valid(g, r1, true);
        check_handover(g, r1);

        // Everyone revokes what it lost and rejoins owning its assignment. With identical
        // subscriptions the next round assigns everything and takes nothing from anyone. With
        // differing ones balance can cost a partition again, rarely: the sweep allows a third round.
        auto prev = r1;
        assignment_map r;
        for (int round = 2;; ++round) {
            for (auto& m : g.members) m.owned = prev.at(m.member_id), m.generation = round;
            r = assignors::cooperative_sticky(g.members, g.counts);
            INFO("round " << round - 1 << ": " << show(prev) << "\nround " << round << ": " << show(r));
            check_valid(g, r, true);
            check_handover(g, r);
            if (g.identical)
                for (const auto& [id, tps] : prev)
                    for (const auto& t : tps) REQUIRE(std::binary_search(r.at(id).begin(), r.at(id).end(), t));
            std::size_t n = 0;
            for (const auto& [id, tps] : r) n += tps.size();
            if (n == all_partitions(g).size()) break;
            REQUIRE_FALSE(g.identical);
            REQUIRE(round < 3);
            ++three_rounds;
            prev = r;
        }
        check_valid(g, r, false);
        check_balanced(g, r);
        // No generation ties left: the input order does not matter.
        auto reversed = g.members;
        std::reverse(reversed.begin(), reversed.end());
        REQUIRE(show(assignors::cooperative_sticky(reversed, g.counts)) == show(r));
    }
    REQUIRE(three_rounds <= 2); // 200 groups, half of them with differing subscriptions
}
