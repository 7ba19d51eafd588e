#include <gregor/producer/partitioner.hpp>

#include <catch2/catch.hpp>

#include <set>
#include <string>

using namespace gregor;

namespace {
std::int32_t hash(std::string_view s) { return partitioners::murmur2(as_bytes(s)); }
std::int32_t place(std::string_view s, std::int32_t n) { return partitioners::murmur2_partition(as_bytes(s), n); }
} // namespace

TEST_CASE("murmur2 matches Java's Utils.murmur2 on Kafka's own test vectors", "[partitioner]") {
    CHECK(hash("21") == -973932308);
    CHECK(hash("foobar") == -790332482);
    CHECK(hash("a-little-bit-long-string") == -985981536);
    CHECK(hash("a-little-bit-longer-string") == -1486304829);
    CHECK(hash("abc") == 479470107);
    CHECK(static_cast<std::uint32_t>(hash("kafka")) == 0xd067cf64u);
    CHECK(static_cast<std::uint32_t>(hash("")) == 0x106e08d9u);
    static_assert(partitioners::murmur2(bytes_view{}) == 0x106e08d9, "usable at compile time");
}

TEST_CASE("keyed placement masks the sign bit like Java's toPositive, not abs()", "[partitioner]") {
    CHECK(partitioners::to_positive(hash("21")) == 1173551340);
    CHECK(place("21", 10) == 0); // abs() would give 8
    CHECK(place("foobar", 10) == 6);
    CHECK(place("a-little-bit-long-string", 10) == 2);
    CHECK(place("a-little-bit-longer-string", 10) == 9);
    CHECK(place("abc", 10) == 7);
    CHECK(place("kafka", 10) == 0);
    CHECK(place("", 10) == 1);
    CHECK(partitioners::to_positive(std::numeric_limits<std::int32_t>::min()) == 0);
}

TEST_CASE("every stock partitioner places keyed records by murmur2 except round robin", "[partitioner]") {
    const std::string key = "foobar";
    partition_context c{"t", as_bytes(key), 10, 20};
    partitioners::sticky s;
    partitioners::sticky::topic_state ss;
    CHECK(s.partition(c, ss) == 6);
    partitioners::uniform_sticky u;
    partitioners::uniform_sticky::topic_state us;
    CHECK(u.partition(c, us) == 6);
    partitioners::round_robin rr;
    partitioners::round_robin::topic_state rs;
    CHECK(rr.partition(c, rs) == 0);
    CHECK(rr.partition(c, rs) == 1);
}

TEST_CASE("the sticky partitioner keeps keyless records on one partition until it needs a new batch", "[partitioner]") {
    partitioners::sticky s(42);
    partitioners::sticky::topic_state st;
    partition_context c{"t", std::nullopt, 8, 100};
    const auto first = s.partition(c, st);
    for (int i = 0; i < 100; ++i) REQUIRE(s.partition(c, st) == first);
    // Another partition's batch filling up changes nothing.
    s.on_new_batch(c, st, (first + 1) % 8);
    CHECK(s.partition(c, st) == first);
    // Its own batch filling up moves it, always to a different partition.
    std::set<std::int32_t> seen{first};
    auto cur = first;
    for (int i = 0; i < 200; ++i) {
        s.on_new_batch(c, st, cur);
        const auto next = s.partition(c, st);
        REQUIRE(next != cur);
        REQUIRE(next >= 0);
        REQUIRE(next < 8);
        seen.insert(next);
        cur = next;
    }
    CHECK(seen.size() == 8);
}

TEST_CASE("the uniform sticky partitioner switches after batch.size bytes went to its partition", "[partitioner]") {
    partitioners::uniform_sticky u(1000, false, 7);
    partitioners::uniform_sticky::topic_state st;
    partition_context c{"t", std::nullopt, 4, 100};
    const auto first = u.partition(c, st);
    for (int i = 0; i < 9; ++i) {
        REQUIRE(u.partition(c, st) == first);
        u.on_append(c, st, first, 100);
    }
    REQUIRE(u.partition(c, st) == first);
    u.on_append(c, st, first, 100); // 1000 bytes reached
    CHECK(u.partition(c, st) != first);
}

TEST_CASE("partitioner.ignore.keys makes the uniform sticky partitioner treat keyed records as keyless",
          "[partitioner]") {
    producer_config cfg;
    cfg.partitioner_ignore_keys = true;
    partitioners::uniform_sticky u(cfg);
    partitioners::uniform_sticky::topic_state st;
    const std::string k1 = "a", k2 = "b", k3 = "c";
    partition_context c1{"t", as_bytes(k1), 16, 10}, c2{"t", as_bytes(k2), 16, 10}, c3{"t", as_bytes(k3), 16, 10};
    const auto p = u.partition(c1, st);
    CHECK(u.partition(c2, st) == p);
    CHECK(u.partition(c3, st) == p);
}

namespace {
// A user-defined partitioner: stateless, everything to the last partition.
struct last_partition {
    std::int32_t partition(const partition_context& c, partitioners::no_state&) const { return c.partition_count - 1; }
};
struct not_a_partitioner {
    int partition(int) const { return 0; }
};
} // namespace

TEST_CASE("user-defined partitioners satisfy the concept, others do not", "[partitioner]") {
    STATIC_REQUIRE(partitioner<last_partition>);
    STATIC_REQUIRE(!partitioner<not_a_partitioner>);
    STATIC_REQUIRE(partitioner<partitioners::explicit_only>);
}
