// The partition assignors a consumer group's leader runs over every member's subscription (the
// classic consumer protocol, docs/protocol.md §16.4): range, roundrobin and cooperative-sticky.
//
// range and roundrobin give exactly what Java's RangeAssignor and RoundRobinAssignor give, so a
// group mixing gregor, librdkafka and Java members gets one assignment whoever leads; that includes
// Java's member order (static members first, then String.compareTo over UTF-16 code units).
// cooperative-sticky is balanced and sticky like Java's CooperativeStickyAssignor without promising
// its exact choice of partitions (only the leader computes it), and it withholds every partition
// that changes owner, as the cooperative protocol requires: the owner gives it up in this
// rebalance and the new member receives it in the next one. With identical subscriptions that
// next rebalance assigns everything; with differing ones, balance now and then costs an owned
// partition again (under 1% of random groups need a third rebalance, none a fourth).
//
// Pure functions over value types; thread-safe.
#pragma once

#include <gregor/consumer/fetch_transport.hpp>
#include <gregor/wire/group_records.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <numeric>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gregor::assignors {

/// One member as the leader sees it in JoinGroup: its id and what its subscription bytes say.
struct member_subscription {
    std::string member_id;
    std::optional<std::string> group_instance_id;
    std::vector<std::string> topics;    // subscribed topics
    std::vector<topic_partition> owned; // what the member says it owns (subscription v1+)
    std::int32_t generation = -1;       // generation the owned list is from (v2+), -1 unknown
};

/// member id -> assigned partitions, sorted by (topic, partition); every member of the input appears
/// (possibly empty).
using assignment_map = std::map<std::string, std::vector<topic_partition>>;
/// topic -> partition count; topics absent are unknown and skipped.
using partition_counts = std::map<std::string, std::int32_t, std::less<>>;

enum class rebalance_protocol : std::uint8_t { eager, cooperative };

namespace detail {

/// Java's String.compareTo on the strings Kafka decodes from these UTF-8 bytes: byte order differs
/// from UTF-16 order once characters beyond U+FFFF meet ones from U+E000 up.
inline bool java_less(std::string_view a, std::string_view b) {
    const auto ascii = [](std::string_view s) {
        return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
    };
    if (ascii(a) && ascii(b)) return a < b;
    std::u16string ua, ub;
    wire::group_records::detail::for_each_utf16_unit(a, [&](char16_t u) { ua.push_back(u); });
    wire::group_records::detail::for_each_utf16_unit(b, [&](char16_t u) { ub.push_back(u); });
    return ua < ub;
}

/// Java's MemberInfo.compareTo.
inline bool member_before(const member_subscription& a, const member_subscription& b) {
    if (a.group_instance_id && b.group_instance_id) return java_less(*a.group_instance_id, *b.group_instance_id);
    if (a.group_instance_id || b.group_instance_id) return a.group_instance_id.has_value();
    return java_less(a.member_id, b.member_id);
}

/// Indices into `members` in MemberInfo order (stable, so equal ids keep their input order).
inline std::vector<std::size_t> member_order(const std::vector<member_subscription>& members) {
    std::vector<std::size_t> order(members.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t x, std::size_t y) { return member_before(members[x], members[y]); });
    return order;
}

inline std::int32_t count_of(const partition_counts& counts, std::string_view topic) {
    const auto it = counts.find(topic);
    return it == counts.end() ? 0 : std::max(it->second, std::int32_t{0});
}

/// Every topic some member subscribes to whose partitions are known, sorted (Java's TreeSet).
inline std::vector<std::string> known_topics(const std::vector<member_subscription>& members,
                                             const partition_counts& counts) {
    std::set<std::string> all;
    for (const auto& m : members)
        for (const auto& t : m.topics)
            if (count_of(counts, t) > 0) all.insert(t);
    return {all.begin(), all.end()};
}

/// For each member (by input index), whether it subscribes to each of `topics`.
inline std::vector<std::vector<bool>> subscriptions(const std::vector<member_subscription>& members,
                                                    const std::vector<std::string>& topics) {
    std::vector<std::vector<bool>> out(members.size(), std::vector<bool>(topics.size(), false));
    for (std::size_t i = 0; i < members.size(); ++i)
        for (const auto& t : members[i].topics)
            if (const auto it = std::lower_bound(topics.begin(), topics.end(), t); it != topics.end() && *it == t)
                out[i][static_cast<std::size_t>(it - topics.begin())] = true;
    return out;
}

inline assignment_map empty_map(const std::vector<member_subscription>& members) {
    assignment_map out;
    for (const auto& m : members) out[m.member_id];
    return out;
}

/// Sorted, and duplicate member ids (which Kafka never sends) cannot leave a partition twice.
inline assignment_map finish(assignment_map out) {
    for (auto& [id, tps] : out) {
        std::sort(tps.begin(), tps.end());
        tps.erase(std::unique(tps.begin(), tps.end()), tps.end());
    }
    return out;
}

} // namespace detail

/// Java's RangeAssignor: each topic on its own, its subscribers in member order, contiguous runs,
/// the first n % m members one partition more.
inline assignment_map range(const std::vector<member_subscription>& members, const partition_counts& counts) {
    auto out = detail::empty_map(members);
    const auto topics = detail::known_topics(members, counts);
    const auto subs = detail::subscriptions(members, topics);
    const auto order = detail::member_order(members);
    for (std::size_t t = 0; t < topics.size(); ++t) {
        std::vector<std::size_t> takers;
        for (const auto i : order)
            if (subs[i][t]) takers.push_back(i);
        const std::int32_t n = detail::count_of(counts, topics[t]);
        const auto m = static_cast<std::int32_t>(takers.size());
        const std::int32_t per = n / m, extra = n % m;
        for (std::int32_t k = 0; k < m; ++k) {
            const std::int32_t start = k * per + std::min(k, extra);
            const std::int32_t len = per + (k < extra ? 1 : 0);
            auto& to = out[members[takers[static_cast<std::size_t>(k)]].member_id];
            for (std::int32_t p = start; p < start + len; ++p) to.push_back({topics[t], partition_id{p}});
        }
    }
    return detail::finish(std::move(out));
}

/// Java's RoundRobinAssignor: every partition in (topic, partition) order to the next member, in
/// circular member order, that subscribes to its topic.
inline assignment_map roundrobin(const std::vector<member_subscription>& members, const partition_counts& counts) {
    auto out = detail::empty_map(members);
    const auto topics = detail::known_topics(members, counts);
    const auto subs = detail::subscriptions(members, topics);
    const auto order = detail::member_order(members);
    std::size_t at = 0;
    for (std::size_t t = 0; t < topics.size(); ++t) {
        const std::int32_t n = detail::count_of(counts, topics[t]);
        for (std::int32_t p = 0; p < n; ++p) {
            while (!subs[order[at]][t]) at = (at + 1) % order.size(); // someone subscribes to it
            out[members[order[at]].member_id].push_back({topics[t], partition_id{p}});
            at = (at + 1) % order.size();
        }
    }
    return detail::finish(std::move(out));
}

/// Balanced and sticky, with the cooperative protocol's hand-over (see the top of this header).
/// Members are worked on by rank (their MemberInfo order), so the result depends on the input order
/// only where two claims of one generation collide.
inline assignment_map cooperative_sticky(const std::vector<member_subscription>& members,
                                         const partition_counts& counts) {
    auto out = detail::empty_map(members);
    const auto topics = detail::known_topics(members, counts);
    const auto order = detail::member_order(members);
    const std::size_t n_members = members.size();
    std::vector<std::vector<bool>> subs(n_members); // by rank
    {
        auto by_index = detail::subscriptions(members, topics);
        for (std::size_t r = 0; r < n_members; ++r) subs[r] = std::move(by_index[order[r]]);
    }
    using part = std::pair<std::size_t, std::int32_t>; // (topic index, partition): sorts as (topic, partition)

    // Claims a member cannot hold (topic unknown or unsubscribed, partition gone) are ignored. Of
    // colliding claims the newest generation wins: an older one comes from a member that missed a
    // rebalance, and the partition has moved on since. Ties go to the first claim in input order.
    std::map<part, std::pair<std::size_t, std::int32_t>> owner; // -> (rank, generation)
    std::vector<std::size_t> rank_of(n_members);
    for (std::size_t r = 0; r < n_members; ++r) rank_of[order[r]] = r;
    for (std::size_t i = 0; i < n_members; ++i) {
        const std::size_t r = rank_of[i];
        for (const auto& tp : members[i].owned) {
            const auto it = std::lower_bound(topics.begin(), topics.end(), tp.topic);
            if (it == topics.end() || *it != tp.topic) continue;
            const auto t = static_cast<std::size_t>(it - topics.begin());
            const std::int32_t p = tp.partition.value();
            if (!subs[r][t] || p < 0 || p >= detail::count_of(counts, tp.topic)) continue;
            const auto [at, fresh] = owner.try_emplace(part{t, p}, r, members[i].generation);
            if (!fresh && members[i].generation > at->second.second) at->second = {r, members[i].generation};
        }
    }
    std::vector<std::set<part>> owned(n_members), held(n_members);
    for (const auto& [p, who] : owner) owned[who.first].insert(p);

    // Keep what one owns up to one's quota. With identical subscriptions the quotas are exact (the
    // ceil(T/M) ones go to those owning most, which moves least); otherwise eligibility makes
    // T/M meaningless, so everyone keeps every claim and the balancing below releases the excess.
    std::int64_t total = 0;
    for (const auto& t : topics) total += detail::count_of(counts, t);
    const bool same = std::all_of(subs.begin(), subs.end(), [&](const auto& s) { return s == subs.front(); });
    if (same && n_members > 0) {
        std::vector<std::size_t> by_owned(n_members);
        std::iota(by_owned.begin(), by_owned.end(), std::size_t{0});
        std::stable_sort(by_owned.begin(), by_owned.end(),
                         [&](std::size_t a, std::size_t b) { return owned[a].size() > owned[b].size(); });
        const auto m = static_cast<std::int64_t>(n_members);
        for (std::size_t k = 0; k < n_members; ++k) {
            const std::int64_t quota = total / m + (static_cast<std::int64_t>(k) < total % m ? 1 : 0);
            const std::size_t r = by_owned[k];
            auto it = owned[r].begin(); // the lowest partitions stay, the highest are released
            for (std::int64_t q = 0; q < quota && it != owned[r].end(); ++q) held[r].insert(*it++);
        }
    } else {
        held = owned;
    }

    // What nobody holds goes, in (topic, partition) order, to the least loaded subscriber.
    std::set<part> taken;
    for (const auto& h : held) taken.insert(h.begin(), h.end());
    for (std::size_t t = 0; t < topics.size(); ++t) {
        const std::int32_t n = detail::count_of(counts, topics[t]);
        for (std::int32_t p = 0; p < n; ++p) {
            if (taken.count(part{t, p}) != 0) continue;
            std::optional<std::size_t> best;
            for (std::size_t r = 0; r < n_members; ++r)
                if (subs[r][t] && (!best || held[r].size() < held[*best].size())) best = r;
            held[*best].insert(part{t, p}); // a known topic has a subscriber
        }
    }

    // Balance: while a member A holds two more than a member B that could take one of them, move
    // one. A gives up a partition B owns, else a free one (that A does not own), else its highest.
    // Before an owned partition moves (and is withheld), a member one above such a B may trade
    // places with it by handing it a free partition: the loads stay, but nothing needs revoking.
    // The other moves lower the sum of the squared loads by at least 2 and trades are counted, so
    // this ends.
    const auto load = [&](std::size_t r) { return held[r].size(); };
    const auto pick = [&](std::size_t a, std::size_t b, bool free_only) -> std::optional<part> {
        std::optional<part> best;
        int best_class = free_only ? 2 : 3;
        for (auto it = held[a].rbegin(); it != held[a].rend(); ++it) {
            if (!subs[b][it->first]) continue;
            const auto o = owner.find(*it);
            const int cls = o != owner.end() && o->second.first == b ? 0
                            : o == owner.end() || o->second.first != a ? 1
                                                                        : 2;
            if (cls < best_class) best = *it, best_class = cls;
        }
        return best;
    };
    std::vector<std::size_t> heavy(n_members), light(n_members);
    std::vector<bool> short_of(n_members); // someone two above could give it a partition
    const auto move = [&](bool free_only, bool trade) {
        std::iota(heavy.begin(), heavy.end(), std::size_t{0});
        std::iota(light.begin(), light.end(), std::size_t{0});
        std::stable_sort(heavy.begin(), heavy.end(), [&](std::size_t a, std::size_t b) { return load(a) > load(b); });
        std::stable_sort(light.begin(), light.end(), [&](std::size_t a, std::size_t b) { return load(a) < load(b); });
        for (std::size_t b = 0; trade && b < n_members; ++b) {
            short_of[b] = false;
            for (std::size_t a = 0; a < n_members && !short_of[b]; ++a)
                short_of[b] = load(a) >= load(b) + 2 &&
                              std::any_of(held[a].begin(), held[a].end(), [&](const part& p) { return subs[b][p.first]; });
        }
        for (const auto a : heavy)
            for (const auto b : light) {
                if (load(a) < load(b) + (trade ? 1 : 2)) break;
                if (trade && !short_of[b]) continue;
                if (const auto p = pick(a, b, free_only)) {
                    held[a].erase(*p);
                    held[b].insert(*p);
                    return true;
                }
            }
        return false;
    };
    for (std::size_t trades = 0;;) {
        if (move(true, false)) continue;
        if (trades < n_members && move(true, true)) {
            ++trades;
            continue;
        }
        if (!move(false, false)) break;
    }

    // The cooperative hand-over: a partition another member validly owns stays unassigned in this
    // round, so its owner revokes it and rejoins before anyone else may fetch it.
    for (std::size_t r = 0; r < n_members; ++r) {
        auto& to = out[members[order[r]].member_id];
        for (const auto& p : held[r]) {
            const auto o = owner.find(p);
            if (o == owner.end() || o->second.first == r) to.push_back({topics[p.first], partition_id{p.second}});
        }
    }
    return detail::finish(std::move(out));
}

/// A named assignor, as partition.assignment.strategy and JoinGroup's protocol names spell it.
struct assignor {
    std::string_view name;
    rebalance_protocol protocol;
    assignment_map (*assign)(const std::vector<member_subscription>&, const partition_counts&);
};

namespace detail {
inline constexpr assignor builtin[] = {
    {"range", rebalance_protocol::eager, &range},
    {"roundrobin", rebalance_protocol::eager, &roundrobin},
    {"cooperative-sticky", rebalance_protocol::cooperative, &cooperative_sticky},
};
} // namespace detail

/// "range" (eager), "roundrobin" (eager), "cooperative-sticky" (cooperative); nullptr for an unknown
/// name.
inline const assignor* find(std::string_view name) noexcept {
    for (const auto& a : detail::builtin)
        if (a.name == name) return &a;
    return nullptr;
}

} // namespace gregor::assignors
