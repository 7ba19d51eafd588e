// The byte formats around consumer groups that are not API messages (docs/protocol.md §16.3,
// §16.10): the "consumer" protocol's subscription and assignment bytes, and the key and value
// records of `__consumer_offsets` with the partition function that places a group. Every record
// round-tripped at every version; byte-exact encodings assembled by hand from the schemas and
// from what librdkafka, kafkajs and Kafka write; every truncation failing; newer versions read by
// their known fields; the lenient reading of bytes that stop short of their version; Java's
// String.hashCode over UTF-16, checked against values computed by the definition and by JDK 17.
#include "message_test_util.hpp"

#include <gregor/wire/consumer_protocol.hpp>
#include <gregor/wire/group_records.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <variant>
#include <vector>

using namespace gregor;
using namespace gregor::wire;
using gregor::test::from_hex;
using gregor::test::hex;
using gregor::test::same_bytes;
using gregor::test::view;

namespace cp = gregor::wire::consumer_protocol;
namespace gr = gregor::wire::group_records;

namespace {

using bytes = std::vector<std::byte>;

std::string hex_of(const byte_buffer& b) { return hex(b.view()); }
bytes to_bytes(const byte_buffer& b) { return {b.view().begin(), b.view().end()}; }

/// Every strict prefix of `full` fails `decode`, each prefix in an allocation of its own size.
template <typename Decode>
void check_every_prefix_fails(const bytes& full, Decode&& decode) {
    for (std::size_t n = 0; n < full.size(); ++n) {
        const bytes prefix(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
        INFO(n << " of " << full.size() << " bytes");
        CHECK_FALSE(decode(bytes_view{prefix.data(), prefix.size()}).has_value());
    }
}

const auto user_data = from_hex("00010203");

cp::subscription sample_subscription() {
    cp::subscription s;
    s.topics = {"orders", "audit"};
    s.user_data = view(user_data);
    s.owned_partitions = {{"orders", {0, 2}}, {"audit", {1}}};
    s.generation_id = 7;
    s.rack_id = "rack-a";
    return s;
}

cp::assignment sample_assignment() {
    cp::assignment a;
    a.assigned_partitions = {{"orders", {0, 1, 2}}, {"audit", {}}};
    a.user_data = view(user_data);
    return a;
}

/// Encodes `s` at `version`, decodes it strictly, and requires: all bytes read, the same bytes
/// again from the decoded subscription, every truncation failing. Returns the decoded one with the
/// bytes it borrows from.
test::decoded<cp::subscription> round_trip(const cp::subscription& s, std::int16_t version) {
    INFO("subscription v" << version);
    auto wire = to_bytes(cp::encode_subscription(s, version));
    auto d = cp::decode_subscription(view(wire));
    REQUIRE(d);
    CHECK(d->version == version);
    CHECK(hex_of(cp::encode_subscription(*d, version)) == hex(view(wire)));
    check_every_prefix_fails(wire, [](bytes_view b) { return cp::decode_subscription(b); });
    return {std::move(wire), std::move(*d)};
}

test::decoded<cp::assignment> round_trip(const cp::assignment& a, std::int16_t version) {
    INFO("assignment v" << version);
    auto wire = to_bytes(cp::encode_assignment(a, version));
    auto d = cp::decode_assignment(view(wire));
    REQUIRE(d);
    CHECK(d->version == version);
    CHECK(hex_of(cp::encode_assignment(*d, version)) == hex(view(wire)));
    check_every_prefix_fails(wire, [](bytes_view b) { return cp::decode_assignment(b); });
    return {std::move(wire), std::move(*d)};
}

/// `b` with its int16 version prefix replaced.
bytes with_version(bytes b, std::int16_t version) {
    b[0] = static_cast<std::byte>(static_cast<std::uint16_t>(version) >> 8);
    b[1] = static_cast<std::byte>(static_cast<std::uint16_t>(version) & 0xff);
    return b;
}

bytes concat(bytes a, const bytes& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

gr::offset_commit_value sample_offset_value() {
    gr::offset_commit_value v;
    v.offset = 1500;
    v.leader_epoch = 4;
    v.metadata = "checkpoint";
    v.commit_timestamp = 1700000000000;
    v.expire_timestamp = 1700086400000;
    return v;
}

const auto member_subscription = from_hex("0000 00000001 0002 7431 00000000");
const auto member_assignment = from_hex("0000 00000001 0002 7431 00000002 00000000 00000001 00000000");

gr::group_metadata_value sample_group_value() {
    gr::group_metadata_value v;
    v.protocol_type = "consumer";
    v.generation = 3;
    v.protocol = "range";
    v.leader = "m-1";
    v.current_state_timestamp = 1700000000000;
    gr::group_member_metadata m1;
    m1.member_id = "m-1";
    m1.group_instance_id = "instance-1";
    m1.client_id = "cid";
    m1.client_host = "/127.0.0.1";
    m1.rebalance_timeout = 300000;
    m1.session_timeout = 45000;
    m1.subscription = view(member_subscription);
    m1.assignment = view(member_assignment);
    gr::group_member_metadata m2 = m1;
    m2.member_id = "m-2";
    m2.group_instance_id = std::nullopt;
    m2.client_host = "/10.0.0.2";
    m2.subscription = {};
    m2.assignment = {};
    v.members = {m1, m2};
    return v;
}

/// The hash by its definition, s[0]*31^(n-1) + ... + s[n-1] with int32 wrap-around, over code
/// units given directly.
std::int32_t hash_by_definition(const std::u16string& units) {
    std::uint32_t h = 0;
    for (std::size_t i = 0; i < units.size(); ++i) {
        std::uint32_t term = units[i];
        for (std::size_t k = i + 1; k < units.size(); ++k) term *= 31u;
        h += term;
    }
    return static_cast<std::int32_t>(h);
}

} // namespace

// ---------------------------------------------------------------------------------------------
// Consumer protocol: subscriptions.

TEST_CASE("subscriptions round-trip every field at every version", "[wire_group_formats]") {
    for (std::int16_t v = 0; v <= cp::subscription_max_version; ++v) {
        INFO("version " << v);
        const auto d = round_trip(sample_subscription(), v);
        const auto& s = d.msg;
        CHECK(s.topics == std::vector<std::string_view>{"orders", "audit"});
        CHECK(same_bytes(s.user_data, view(user_data)));
        if (v >= 1)
            CHECK(s.owned_partitions == sample_subscription().owned_partitions);
        else
            CHECK(s.owned_partitions.empty());
        CHECK(s.generation_id == (v >= 2 ? 7 : cp::no_generation));
        if (v >= 3) {
            REQUIRE(s.rack_id);
            CHECK(*s.rack_id == "rack-a");
        } else {
            CHECK_FALSE(s.rack_id);
        }
        // Decoded strings are views into the bytes.
        CHECK(s.topics[0].data() >= reinterpret_cast<const char*>(d.wire.data()));
        CHECK(s.topics[0].data() < reinterpret_cast<const char*>(d.wire.data() + d.wire.size()));
    }
}

TEST_CASE("subscriptions keep null apart from empty", "[wire_group_formats]") {
    for (std::int16_t v = 0; v <= cp::subscription_max_version; ++v) {
        INFO("version " << v);
        cp::subscription s;
        s.topics = {"t"};
        const auto null = round_trip(s, v);
        CHECK_FALSE(null.msg.user_data);
        CHECK_FALSE(null.msg.rack_id);

        s.user_data = bytes_view{};
        s.rack_id = "";
        const auto empty = round_trip(s, v);
        REQUIRE(empty.msg.user_data);
        CHECK(empty.msg.user_data->empty());
        CHECK(empty.msg.rack_id.has_value() == (v >= 3));

        cp::subscription none; // no topics at all is still a subscription
        CHECK(round_trip(none, v).msg.topics.empty());
    }
}

TEST_CASE("subscriptions are byte-exact with what the clients write", "[wire_group_formats]") {
    SECTION("kafkajs and kafka-python: v0, empty user data") {
        cp::subscription s;
        s.topics = {"t1"};
        s.user_data = bytes_view{};
        CHECK(hex_of(cp::encode_subscription(s, 0)) == hex(view(from_hex("0000 00000001 0002 7431 00000000"))));
    }
    SECTION("librdkafka 2.0.2: v1, empty user data, empty owned partitions") {
        cp::subscription s;
        s.topics = {"t"};
        s.user_data = bytes_view{};
        const auto expected = from_hex("0001 00000001 0001 74 00000000 00000000");
        CHECK(hex_of(cp::encode_subscription(s, 1)) == hex(view(expected)));
        const auto d = cp::decode_subscription(view(expected));
        REQUIRE(d);
        CHECK(d->version == 1);
        CHECK(d->topics == std::vector<std::string_view>{"t"});
        REQUIRE(d->user_data);
        CHECK(d->user_data->empty());
        CHECK(d->owned_partitions.empty());
        CHECK(d->generation_id == -1);
    }
    SECTION("Java: v3, null user data, owned t1:[0], generation 5, no rack") {
        cp::subscription s;
        s.topics = {"t1"};
        s.owned_partitions = {{"t1", {0}}};
        s.generation_id = 5;
        const auto expected =
                from_hex("0003 00000001 0002 7431 ffffffff 00000001 0002 7431 00000001 00000000 00000005 ffff");
        CHECK(hex_of(cp::encode_subscription(s, 3)) == hex(view(expected)));
        const auto d = cp::decode_subscription(view(expected));
        REQUIRE(d);
        CHECK_FALSE(d->user_data);
        CHECK(d->owned_partitions == s.owned_partitions);
        CHECK(d->generation_id == 5);
        CHECK_FALSE(d->rack_id);
    }
    SECTION("v2 and v3 with every field") {
        const auto ff = from_hex("ff");
        cp::subscription s;
        s.topics = {"a", "bc"};
        s.user_data = view(ff);
        s.owned_partitions = {{"a", {3, 1}}};
        s.generation_id = 0x01020304;
        s.rack_id = "r1";
        const std::string body = "00000002 0001 61 0002 6263 00000001 ff"
                                 "00000001 0001 61 00000002 00000003 00000001"
                                 "01020304";
        CHECK(hex_of(cp::encode_subscription(s, 2)) == hex(view(from_hex("0002" + body))));
        CHECK(hex_of(cp::encode_subscription(s, 3)) == hex(view(from_hex("0003" + body + "0002 7231"))));
    }
}

TEST_CASE("each subscription version appends to the one before", "[wire_group_formats]") {
    // Why a reader that knows fewer fields can stop early: the older layout is a prefix.
    const auto s = sample_subscription();
    for (std::int16_t older = 0; older < cp::subscription_max_version; ++older)
        for (auto newer = static_cast<std::int16_t>(older + 1); newer <= cp::subscription_max_version; ++newer) {
            INFO(older << " < " << newer);
            const auto a = hex_of(cp::encode_subscription(s, older)).substr(4);
            const auto b = hex_of(cp::encode_subscription(s, newer)).substr(4);
            CHECK(b.substr(0, a.size()) == a);
            CHECK(b.size() > a.size());
        }
}

TEST_CASE("subscriptions of newer versions read by the fields this codec knows", "[wire_group_formats]") {
    const auto v3 = to_bytes(cp::encode_subscription(sample_subscription(), 3));
    const auto extra = from_hex("deadbeef 0003 786978");
    for (const std::int16_t newer : {std::int16_t{4}, std::int16_t{9}, std::numeric_limits<std::int16_t>::max()}) {
        INFO("version " << newer);
        // The v3 fields then fields of the newer version, which are skipped.
        const auto wire = concat(with_version(v3, newer), extra);
        const auto d = cp::decode_subscription(view(wire));
        REQUIRE(d);
        CHECK(d->version == newer);
        CHECK(d->topics == std::vector<std::string_view>{"orders", "audit"});
        CHECK(d->owned_partitions == sample_subscription().owned_partitions);
        CHECK(d->generation_id == 7);
        REQUIRE(d->rack_id);
        CHECK(*d->rack_id == "rack-a");
        // Exactly the v3 fields, nothing after them, is fine too.
        CHECK(cp::decode_subscription(view(with_version(v3, newer))));
        // A newer version still needs every field this codec knows.
        check_every_prefix_fails(with_version(v3, newer), [](bytes_view b) { return cp::decode_subscription(b); });
        // Re-encoded at the newest known version, the bytes are the v3 ones.
        CHECK(hex_of(cp::encode_subscription(*d, 3)) == hex(view(v3)));
    }
    // At a known version, bytes after the fields are not a newer version's: strict refuses them.
    CHECK_FALSE(cp::decode_subscription(view(concat(v3, extra))));
    const auto v0 = to_bytes(cp::encode_subscription(sample_subscription(), 0));
    CHECK_FALSE(cp::decode_subscription(view(concat(v0, from_hex("00")))));
}

TEST_CASE("lenient decoding accepts subscriptions that stop at a field boundary", "[wire_group_formats]") {
    // Some clients label v0 bytes v1 (Sarama's decoder puts up with them, and Java does not
    // notice missing bytes it never reads); lenient takes any whole-field end after the topics.
    const auto abcd = from_hex("abcd");
    cp::subscription s;
    s.topics = {"t1"};
    s.user_data = view(abcd);
    s.owned_partitions = {{"t1", {0}}};
    s.generation_id = 5;
    s.rack_id = "r1";
    const auto full = to_bytes(cp::encode_subscription(s, 3));
    // version 2 | topics 8 | user data 6 | owned 16 | generation 4 | rack 4
    REQUIRE(full.size() == 40);
    const std::vector<std::size_t> boundaries{10, 16, 32, 36, 40};
    for (std::size_t n = 0; n <= full.size(); ++n) {
        INFO(n << " of " << full.size() << " bytes");
        const bytes prefix(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
        const auto d = cp::decode_subscription(view(prefix), cp::decode_mode::lenient);
        const bool at_boundary = std::find(boundaries.begin(), boundaries.end(), n) != boundaries.end();
        CHECK(d.has_value() == at_boundary);
        CHECK(cp::decode_subscription(view(prefix)).has_value() == (n == full.size()));
        if (!d) continue;
        CHECK(d->version == 3);
        CHECK(d->topics == std::vector<std::string_view>{"t1"});
        CHECK(d->user_data.has_value() == (n >= 16));
        CHECK(d->owned_partitions.size() == (n >= 32 ? 1u : 0u));
        CHECK(d->generation_id == (n >= 36 ? 5 : -1));
        CHECK(d->rack_id.has_value() == (n >= 40));
    }

    SECTION("v1 without owned partitions") {
        const auto mislabelled = from_hex("0001 00000001 0002 7431 00000000");
        CHECK_FALSE(cp::decode_subscription(view(mislabelled)));
        const auto d = cp::decode_subscription(view(mislabelled), cp::decode_mode::lenient);
        REQUIRE(d);
        CHECK(d->version == 1);
        CHECK(d->topics == std::vector<std::string_view>{"t1"});
        REQUIRE(d->user_data);
        CHECK(d->user_data->empty());
        CHECK(d->owned_partitions.empty());
    }
    SECTION("bytes after the known fields, at a known version") {
        const auto longer = concat(full, from_hex("00"));
        const auto d = cp::decode_subscription(view(longer), cp::decode_mode::lenient);
        REQUIRE(d);
        CHECK(d->rack_id == std::optional<std::string_view>{"r1"});
    }
    SECTION("still refuses what is not a subscription") {
        CHECK_FALSE(cp::decode_subscription({}, cp::decode_mode::lenient));
        CHECK_FALSE(cp::decode_subscription(view(from_hex("00")), cp::decode_mode::lenient));
        CHECK_FALSE(cp::decode_subscription(view(from_hex("0000")), cp::decode_mode::lenient));
        CHECK_FALSE(cp::decode_subscription(view(from_hex("ffff 00000000")), cp::decode_mode::lenient));
    }
}

TEST_CASE("malformed subscriptions fail", "[wire_group_formats]") {
    // A negative version (Java refuses it too).
    CHECK_FALSE(cp::decode_subscription(view(from_hex("ffff 00000000 ffffffff"))));
    CHECK_FALSE(cp::decode_subscription(view(from_hex("8000 00000000 ffffffff"))));
    // Null topics: the array is not nullable.
    CHECK_FALSE(cp::decode_subscription(view(from_hex("0000 ffffffff ffffffff"))));
    // A hostile count fails before anything is allocated.
    CHECK_FALSE(cp::decode_subscription(view(from_hex("0000 7fffffff 0001 61"))));
    // A null topic name, a negative string length, a negative bytes length other than -1.
    CHECK_FALSE(cp::decode_subscription(view(from_hex("0000 00000001 ffff ffffffff"))));
    CHECK_FALSE(cp::decode_subscription(view(from_hex("0000 00000001 fffe ffffffff"))));
    CHECK_FALSE(cp::decode_subscription(view(from_hex("0000 00000000 fffffffe"))));
    // Null owned partitions (v1 array, not nullable).
    CHECK_FALSE(cp::decode_subscription(view(from_hex("0001 00000000 ffffffff ffffffff"))));

    byte_buffer b;
    byte_writer w(b);
    CHECK_THROWS_AS(cp::encode_subscription(w, sample_subscription(), 4), std::invalid_argument);
    CHECK_THROWS_AS(cp::encode_subscription(w, sample_subscription(), -1), std::invalid_argument);
}

// ---------------------------------------------------------------------------------------------
// Consumer protocol: assignments.

TEST_CASE("assignments round-trip at every version, all in one layout", "[wire_group_formats]") {
    const auto v0 = hex_of(cp::encode_assignment(sample_assignment(), 0));
    for (std::int16_t v = 0; v <= cp::assignment_max_version; ++v) {
        INFO("version " << v);
        const auto d = round_trip(sample_assignment(), v);
        CHECK(d.msg.assigned_partitions == sample_assignment().assigned_partitions);
        CHECK(same_bytes(d.msg.user_data, view(user_data)));
        // Only the version differs.
        CHECK(hex(view(d.wire)).substr(4) == v0.substr(4));

        cp::assignment empty;
        const auto e = round_trip(empty, v);
        CHECK(e.msg.assigned_partitions.empty());
        CHECK_FALSE(e.msg.user_data);
    }
}

TEST_CASE("assignments are byte-exact with what the clients write", "[wire_group_formats]") {
    // librdkafka, kafkajs and kafka-python: v0, empty user data.
    cp::assignment a;
    a.assigned_partitions = {{"t1", {0, 1}}};
    a.user_data = bytes_view{};
    const auto expected = from_hex("0000 00000001 0002 7431 00000002 00000000 00000001 00000000");
    CHECK(hex_of(cp::encode_assignment(a, 0)) == hex(view(expected)));
    const auto d = cp::decode_assignment(view(expected));
    REQUIRE(d);
    CHECK(d->version == 0);
    CHECK(d->assigned_partitions == a.assigned_partitions);
    REQUIRE(d->user_data);
    CHECK(d->user_data->empty());
    // Java: v3, null user data.
    a.user_data = std::nullopt;
    CHECK(hex_of(cp::encode_assignment(a, 3)) ==
          hex(view(from_hex("0003 00000001 0002 7431 00000002 00000000 00000001 ffffffff"))));
}

TEST_CASE("assignments of newer versions, lenient assignments, malformed ones", "[wire_group_formats]") {
    const auto v0 = to_bytes(cp::encode_assignment(sample_assignment(), 0));
    const auto wire = concat(with_version(v0, 12), from_hex("0102030405"));
    const auto d = cp::decode_assignment(view(wire));
    REQUIRE(d);
    CHECK(d->version == 12);
    CHECK(d->assigned_partitions == sample_assignment().assigned_partitions);
    CHECK(same_bytes(d->user_data, view(user_data)));
    check_every_prefix_fails(with_version(v0, 12), [](bytes_view b) { return cp::decode_assignment(b); });
    CHECK_FALSE(cp::decode_assignment(view(concat(v0, from_hex("00")))));

    // Lenient: the user data may be missing, and bytes after it are ignored.
    const auto no_user_data = from_hex("0000 00000001 0002 7431 00000001 00000000");
    CHECK_FALSE(cp::decode_assignment(view(no_user_data)));
    const auto l = cp::decode_assignment(view(no_user_data), cp::decode_mode::lenient);
    REQUIRE(l);
    CHECK(l->assigned_partitions == std::vector<cp::topic_partitions>{{"t1", {0}}});
    CHECK_FALSE(l->user_data);
    CHECK(cp::decode_assignment(view(concat(v0, from_hex("00"))), cp::decode_mode::lenient));
    // Mid-field ends fail in both modes.
    for (std::size_t n = 0; n < no_user_data.size(); ++n) {
        const bytes prefix(no_user_data.begin(), no_user_data.begin() + static_cast<std::ptrdiff_t>(n));
        INFO(n << " bytes");
        CHECK_FALSE(cp::decode_assignment(view(prefix), cp::decode_mode::lenient));
    }

    // The coordinator's stand-in for a member the leader left out: empty bytes.
    CHECK_FALSE(cp::decode_assignment({}));
    CHECK_FALSE(cp::decode_assignment({}, cp::decode_mode::lenient));
    CHECK_FALSE(cp::decode_assignment(view(from_hex("ffff 00000000 ffffffff"))));
    CHECK_FALSE(cp::decode_assignment(view(from_hex("0000 ffffffff ffffffff"))));
    CHECK_FALSE(cp::decode_assignment(view(from_hex("0000 00000001 0001 61 7fffffff"))));

    byte_buffer b;
    byte_writer w(b);
    CHECK_THROWS_AS(cp::encode_assignment(w, sample_assignment(), 4), std::invalid_argument);
    CHECK_THROWS_AS(cp::encode_assignment(w, sample_assignment(), -1), std::invalid_argument);
}

// ---------------------------------------------------------------------------------------------
// __consumer_offsets keys.

TEST_CASE("offset commit keys are byte-exact and decode by their version", "[wire_group_formats]") {
    for (const std::int16_t v : {gr::offset_commit_key_v0, gr::offset_commit_key_v1}) {
        INFO("version " << v);
        const auto expected = from_hex((v == 0 ? "0000" : "0001") + std::string("0001 67 0002 7431 00000000"));
        CHECK(hex_of(gr::encode_offset_commit_key("g", "t1", 0, v)) == hex(view(expected)));
        const auto k = gr::decode_key(view(expected));
        REQUIRE(k);
        const auto* ok = std::get_if<gr::offset_commit_key>(&*k);
        REQUIRE(ok);
        CHECK(ok->version == v);
        CHECK(ok->group == "g");
        CHECK(ok->topic == "t1");
        CHECK(ok->partition == 0);
        check_every_prefix_fails(expected, [](bytes_view b) { return gr::decode_key(b); });
        CHECK_FALSE(gr::decode_key(view(concat(expected, from_hex("00")))));
    }
    // Kafka writes version 1 by default.
    const auto k = gr::encode_offset_commit_key("orders-app", "orders", 0x7fffffff);
    CHECK(hex_of(k) == "0001" "000a" + hex(as_bytes("orders-app")) + "0006" + hex(as_bytes("orders")) + "7fffffff");
    byte_buffer b;
    byte_writer w(b);
    CHECK_THROWS_AS(gr::encode_offset_commit_key(w, "g", "t", 0, 2), std::invalid_argument);
}

TEST_CASE("group metadata keys, unknown keys and malformed keys", "[wire_group_formats]") {
    const auto expected = from_hex("0002 0001 67");
    CHECK(hex_of(gr::encode_group_metadata_key("g")) == hex(view(expected)));
    const auto k = gr::decode_key(view(expected));
    REQUIRE(k);
    const auto* gk = std::get_if<gr::group_metadata_key>(&*k);
    REQUIRE(gk);
    CHECK(gk->group == "g");
    check_every_prefix_fails(expected, [](bytes_view b) { return gr::decode_key(b); });
    CHECK_FALSE(gr::decode_key(view(concat(expected, from_hex("00")))));
    // An empty group id is a group id.
    const auto empty_group = from_hex("0002 0000");
    const auto empty = gr::decode_key(view(empty_group));
    REQUIRE(empty);
    CHECK(std::get<gr::group_metadata_key>(*empty).group.empty());

    // Records of newer coordinators (KIP-848 groups: 3 and up) are told apart, not refused.
    for (const std::int16_t v : {std::int16_t{3}, std::int16_t{8}, std::int16_t{0x7fff}}) {
        auto bytes_ = from_hex("0000 0001 67");
        bytes_ = with_version(bytes_, v);
        const auto u = gr::decode_key(view(bytes_));
        REQUIRE(u);
        const auto* uk = std::get_if<gr::unknown_key>(&*u);
        REQUIRE(uk);
        CHECK(uk->version == v);
        CHECK(hex(uk->body) == "000167");
    }
    CHECK(std::holds_alternative<gr::unknown_key>(*gr::decode_key(view(from_hex("0003")))));

    CHECK_FALSE(gr::decode_key({}));
    CHECK_FALSE(gr::decode_key(view(from_hex("00"))));
    CHECK_FALSE(gr::decode_key(view(from_hex("ffff 0001 67"))));
    CHECK_FALSE(gr::decode_key(view(from_hex("0002 ffff"))));               // a null group
    CHECK_FALSE(gr::decode_key(view(from_hex("0001 0001 67 ffff 00000000")))); // a null topic
}

// ---------------------------------------------------------------------------------------------
// __consumer_offsets values.

TEST_CASE("offset commit values round-trip every field at every version", "[wire_group_formats]") {
    for (std::int16_t v = 0; v <= gr::offset_commit_value_max_version; ++v) {
        INFO("version " << v);
        const auto wire = to_bytes(gr::encode_offset_commit_value(sample_offset_value(), v));
        const auto d = gr::decode_offset_commit_value(view(wire));
        REQUIRE(d);
        CHECK(d->version == v);
        CHECK(d->offset == 1500);
        CHECK(d->leader_epoch == (v >= 3 ? 4 : -1));
        CHECK(d->metadata == "checkpoint");
        CHECK(d->commit_timestamp == 1700000000000);
        CHECK(d->expire_timestamp == (v == 1 ? 1700086400000 : -1));
        CHECK(hex_of(gr::encode_offset_commit_value(*d, v)) == hex(view(wire)));
        check_every_prefix_fails(wire, [](bytes_view b) { return gr::decode_offset_commit_value(b); });
        CHECK_FALSE(gr::decode_offset_commit_value(view(concat(wire, from_hex("00")))));
    }
}

TEST_CASE("offset commit values are byte-exact at every version", "[wire_group_formats]") {
    gr::offset_commit_value v;
    v.offset = 42;
    v.metadata = "";
    v.commit_timestamp = 1700000000000;
    const std::string ts = "0000018bcfe56800";
    // Kafka 3.x's usual record: v3.
    CHECK(hex_of(gr::encode_offset_commit_value(v, 3)) ==
          hex(view(from_hex("0003 000000000000002a ffffffff 0000" + ts))));
    CHECK(hex_of(gr::encode_offset_commit_value(v, 0)) == hex(view(from_hex("0000 000000000000002a 0000" + ts))));
    CHECK(hex_of(gr::encode_offset_commit_value(v, 2)) == hex(view(from_hex("0002 000000000000002a 0000" + ts))));
    // v1: a commit with an explicit retention carries its deadline.
    v.expire_timestamp = 1700086400000;
    CHECK(hex_of(gr::encode_offset_commit_value(v, 1)) ==
          hex(view(from_hex("0001 000000000000002a 0000" + ts + "0000018bd50bc400"))));
    // v4: compact metadata and a tagged-field section.
    v.leader_epoch = 9;
    v.metadata = "m";
    const auto v4 = from_hex("0004 000000000000002a 00000009 02 6d" + ts + "00");
    CHECK(hex_of(gr::encode_offset_commit_value(v, 4)) == hex(view(v4)));
    // A tagged field this codec does not know is skipped.
    const auto tagged = from_hex("0004 000000000000002a 00000009 02 6d" + ts + "01 05 02 abcd");
    const auto d = gr::decode_offset_commit_value(view(tagged));
    REQUIRE(d);
    CHECK(d->metadata == "m");
    CHECK(d->leader_epoch == 9);
}

TEST_CASE("group metadata values are byte-exact with what Kafka writes", "[wire_group_formats]") {
    gr::group_metadata_value v;
    v.protocol_type = "consumer";
    v.generation = 1;
    v.protocol = "range";
    v.leader = "m-1";
    v.current_state_timestamp = 1700000000000;
    gr::group_member_metadata m;
    m.member_id = "m-1";
    m.client_id = "cid";
    m.client_host = "/127.0.0.1";
    m.rebalance_timeout = 300000;
    m.session_timeout = 45000;
    m.subscription = view(member_subscription);
    m.assignment = view(member_assignment);
    v.members = {m};
    const auto expected = from_hex("0003 0008 636f6e73756d6572 00000001 0005 72616e6765 0003 6d2d31 0000018bcfe56800"
                                   "00000001 0003 6d2d31 ffff 0003 636964 000a 2f3132372e302e302e31 000493e0 0000afc8"
                                   "0000000e 0000000000010002743100000000"
                                   "0000001a 0000000000010002743100000002000000000000000100000000");
    CHECK(hex_of(gr::encode_group_metadata_value(v, 3)) == hex(view(expected)));
    const auto d = gr::decode_group_metadata_value(view(expected));
    REQUIRE(d);
    CHECK(d->version == 3);
    CHECK(d->protocol_type == "consumer");
    CHECK(d->generation == 1);
    CHECK(d->protocol == std::optional<std::string_view>{"range"});
    CHECK(d->leader == std::optional<std::string_view>{"m-1"});
    CHECK(d->current_state_timestamp == 1700000000000);
    REQUIRE(d->members.size() == 1);
    const auto& dm = d->members[0];
    CHECK(dm.member_id == "m-1");
    CHECK_FALSE(dm.group_instance_id);
    CHECK(dm.client_id == "cid");
    CHECK(dm.client_host == "/127.0.0.1");
    CHECK(dm.rebalance_timeout == 300000);
    CHECK(dm.session_timeout == 45000);
    // The member's bytes are the consumer protocol's.
    const auto s = cp::decode_subscription(dm.subscription);
    REQUIRE(s);
    CHECK(s->topics == std::vector<std::string_view>{"t1"});
    const auto a = cp::decode_assignment(dm.assignment);
    REQUIRE(a);
    CHECK(a->assigned_partitions == std::vector<cp::topic_partitions>{{"t1", {0, 1}}});
    check_every_prefix_fails(expected, [](bytes_view b) { return gr::decode_group_metadata_value(b); });

    // v4: the same fields in compact forms, a tagged-field section per member and at the end.
    const auto v4 = from_hex("0004 09 636f6e73756d6572 00000001 06 72616e6765 04 6d2d31 0000018bcfe56800"
                             "02 04 6d2d31 00 04 636964 0b 2f3132372e302e302e31 000493e0 0000afc8"
                             "0f 0000000000010002743100000000"
                             "1b 0000000000010002743100000002000000000000000100000000 00"
                             "00");
    CHECK(hex_of(gr::encode_group_metadata_value(v, 4)) == hex(view(v4)));
    const auto d4 = gr::decode_group_metadata_value(view(v4));
    REQUIRE(d4);
    CHECK(hex_of(gr::encode_group_metadata_value(*d4, 3)) == hex(view(expected)));
}

TEST_CASE("group metadata values round-trip every field at every version", "[wire_group_formats]") {
    for (std::int16_t v = 0; v <= gr::group_metadata_value_max_version; ++v) {
        INFO("version " << v);
        const auto wire = to_bytes(gr::encode_group_metadata_value(sample_group_value(), v));
        const auto d = gr::decode_group_metadata_value(view(wire));
        REQUIRE(d);
        CHECK(d->version == v);
        CHECK(d->protocol_type == "consumer");
        CHECK(d->generation == 3);
        CHECK(d->protocol == std::optional<std::string_view>{"range"});
        CHECK(d->leader == std::optional<std::string_view>{"m-1"});
        CHECK(d->current_state_timestamp == (v >= 2 ? 1700000000000 : -1));
        REQUIRE(d->members.size() == 2);
        const auto& m1 = d->members[0];
        CHECK(m1.member_id == "m-1");
        CHECK(m1.group_instance_id == (v >= 3 ? std::optional<std::string_view>{"instance-1"} : std::nullopt));
        CHECK(m1.client_id == "cid");
        CHECK(m1.client_host == "/127.0.0.1");
        CHECK(m1.rebalance_timeout == (v >= 1 ? 300000 : -1));
        CHECK(m1.session_timeout == 45000);
        CHECK(hex(m1.subscription) == hex(view(member_subscription)));
        CHECK(hex(m1.assignment) == hex(view(member_assignment)));
        const auto& m2 = d->members[1];
        CHECK(m2.member_id == "m-2");
        CHECK_FALSE(m2.group_instance_id);
        CHECK(m2.client_host == "/10.0.0.2");
        CHECK(m2.subscription.empty());
        CHECK(m2.assignment.empty());
        CHECK(hex_of(gr::encode_group_metadata_value(*d, v)) == hex(view(wire)));
        check_every_prefix_fails(wire, [](bytes_view b) { return gr::decode_group_metadata_value(b); });
        CHECK_FALSE(gr::decode_group_metadata_value(view(concat(wire, from_hex("00")))));

        // An Empty group: no protocol, no leader, no members.
        gr::group_metadata_value empty;
        empty.protocol_type = "consumer";
        empty.generation = 4;
        const auto ew = to_bytes(gr::encode_group_metadata_value(empty, v));
        const auto ed = gr::decode_group_metadata_value(view(ew));
        REQUIRE(ed);
        CHECK_FALSE(ed->protocol);
        CHECK_FALSE(ed->leader);
        CHECK(ed->members.empty());
        CHECK(hex_of(gr::encode_group_metadata_value(*ed, v)) == hex(view(ew)));
    }
    // v0: no state timestamp, no rebalance timeout, no instance id.
    gr::group_metadata_value v0;
    v0.protocol_type = "";
    v0.generation = 0;
    v0.members = {gr::group_member_metadata{"m", std::nullopt, "c", "h", 1, 2, {}, {}}};
    CHECK(hex_of(gr::encode_group_metadata_value(v0, 0)) ==
          hex(view(from_hex("0000 0000 00000000 ffff ffff 00000001 0001 6d 0001 63 0001 68 00000002 00000000 00000000"))));
}

TEST_CASE("values of unknown versions and malformed values fail", "[wire_group_formats]") {
    const auto v3 = to_bytes(gr::encode_offset_commit_value(sample_offset_value(), 3));
    const auto g3 = to_bytes(gr::encode_group_metadata_value(sample_group_value(), 3));
    for (const std::int16_t v : {std::int16_t{5}, std::int16_t{-1}, std::int16_t{0x7fff}}) {
        INFO("version " << v);
        CHECK_FALSE(gr::decode_offset_commit_value(view(with_version(v3, v))));
        CHECK_FALSE(gr::decode_group_metadata_value(view(with_version(g3, v))));
    }
    CHECK_FALSE(gr::decode_offset_commit_value({}));
    CHECK_FALSE(gr::decode_group_metadata_value({}));
    // A null metadata string, a null protocol type, a hostile member count.
    CHECK_FALSE(gr::decode_offset_commit_value(view(from_hex("0000 0000000000000001 ffff 0000000000000000"))));
    CHECK_FALSE(gr::decode_group_metadata_value(view(from_hex("0000 ffff 00000000 ffff ffff 00000000"))));
    CHECK_FALSE(gr::decode_group_metadata_value(view(from_hex("0000 0000 00000000 ffff ffff 7fffffff"))));

    byte_buffer b;
    byte_writer w(b);
    CHECK_THROWS_AS(gr::encode_offset_commit_value(w, {}, 5), std::invalid_argument);
    CHECK_THROWS_AS(gr::encode_group_metadata_value(w, {}, -1), std::invalid_argument);
}

TEST_CASE("whole records: kinds by key version, tombstones, unknown kinds", "[wire_group_formats]") {
    const auto ok = to_bytes(gr::encode_offset_commit_key("g", "t1", 3));
    const auto ov = to_bytes(gr::encode_offset_commit_value(sample_offset_value(), 3));
    const auto gk = to_bytes(gr::encode_group_metadata_key("g"));
    const auto gv = to_bytes(gr::encode_group_metadata_value(sample_group_value(), 3));

    const auto commit = gr::decode_record(view(ok), view(ov));
    REQUIRE(commit);
    const auto* oc = std::get_if<gr::offset_commit_record>(&*commit);
    REQUIRE(oc);
    CHECK(oc->key.group == "g");
    CHECK(oc->key.topic == "t1");
    CHECK(oc->key.partition == 3);
    REQUIRE(oc->value);
    CHECK(oc->value->offset == 1500);

    const auto deleted = gr::decode_record(view(ok), std::nullopt);
    REQUIRE(deleted);
    REQUIRE(std::holds_alternative<gr::offset_commit_record>(*deleted));
    CHECK_FALSE(std::get<gr::offset_commit_record>(*deleted).value);

    const auto group = gr::decode_record(view(gk), view(gv));
    REQUIRE(group);
    const auto* gm = std::get_if<gr::group_metadata_record>(&*group);
    REQUIRE(gm);
    CHECK(gm->key.group == "g");
    REQUIRE(gm->value);
    CHECK(gm->value->members.size() == 2);

    const auto gone = gr::decode_record(view(gk), std::nullopt);
    REQUIRE(gone);
    CHECK_FALSE(std::get<gr::group_metadata_record>(*gone).value);

    // Unknown kinds whatever their value; a bad value under a known key, or a bad key, fails.
    const auto unknown_bytes = from_hex("0005 0001 67");
    const auto unknown = gr::decode_record(view(unknown_bytes), view(from_hex("ff")));
    REQUIRE(unknown);
    CHECK(std::get<gr::unknown_key>(*unknown).version == 5);
    CHECK_FALSE(gr::decode_record(view(ok), view(from_hex("0003"))));
    CHECK_FALSE(gr::decode_record(view(gk), view(from_hex("0009 0000"))));
    CHECK_FALSE(gr::decode_record(view(from_hex("0001 0001")), std::nullopt));
}

// ---------------------------------------------------------------------------------------------
// Placement: Java's String.hashCode and Kafka's Utils.abs.

TEST_CASE("java_string_hash is Java's String.hashCode", "[wire_group_formats]") {
    static_assert(gr::java_string_hash("") == 0);
    static_assert(gr::java_string_hash("a") == 97);
    static_assert(gr::java_string_hash("ab") == 97 * 31 + 98);

    // By the definition, over ASCII code units.
    for (const char* s : {"", "a", "ab", "my-group", "test-group", "console-consumer-12345", "polygenelubricants",
                          "a-rather-long-group-name-that-wraps-around-int32-many-times-over"}) {
        INFO(s);
        const std::string_view sv(s);
        CHECK(gr::java_string_hash(sv) == hash_by_definition(std::u16string(sv.begin(), sv.end())));
    }
    // Values from JDK 17.
    CHECK(gr::java_string_hash("my-group") == -1906497762);
    CHECK(gr::java_string_hash("test-group") == 627841412);
    CHECK(gr::java_string_hash("console-consumer-12345") == 158455506);
    CHECK(gr::java_string_hash("tx-1") == 3572520);
    CHECK(gr::java_string_hash("polygenelubricants") == std::numeric_limits<std::int32_t>::min());

    // Non-ASCII: UTF-8 decoded into UTF-16 code units, astral characters as surrogate pairs.
    CHECK(gr::java_string_hash("\xc3\xa9") == 0xe9);                                   // é
    CHECK(gr::java_string_hash("\xe2\x82\xac") == 0x20ac);                             // €
    CHECK(gr::java_string_hash("\xf0\x9f\x98\x80") == hash_by_definition(u"\U0001F600")); // 😀
    CHECK(gr::java_string_hash("\xf0\x9f\x98\x80") == 0xd83d * 31 + 0xde00);
    CHECK(gr::java_string_hash("gr\xc3\xbcppe") == -1233264812);                         // grüppe
    CHECK(gr::java_string_hash("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e") == 25921943);     // 日本語
    CHECK(gr::java_string_hash("group-\xf0\x9f\x98\x80") == 508083057);
    CHECK(gr::java_string_hash("group-\xf0\x9f\x98\x80") == hash_by_definition(u"group-\U0001F600"));
    CHECK(gr::java_string_hash("\xef\xbf\xbf") == 0xffff);
    CHECK(gr::java_string_hash("\xf4\x8f\xbf\xbf") == hash_by_definition(u"\U0010FFFF"));
}

TEST_CASE("malformed UTF-8 hashes as Java's decoder replaces it", "[wire_group_formats]") {
    // Kafka reads a group id with new String(bytes, UTF_8): each malformed piece becomes U+FFFD.
    // Expected values from JDK 17.
    const std::int32_t r1 = 0xfffd;
    const std::int32_t r2 = 0xfffd * 31 + 0xfffd;
    CHECK(gr::java_string_hash("\xff") == r1);
    CHECK(gr::java_string_hash("\x80") == r1);
    CHECK(gr::java_string_hash("\xf5") == r1);
    CHECK(gr::java_string_hash("\xc0\x80") == r2);        // overlong: two pieces
    CHECK(gr::java_string_hash("\xe0\x80") == r2);        // overlong start
    CHECK(gr::java_string_hash("\xed\xa0\x80") == r1);    // an encoded surrogate: one piece
    CHECK(gr::java_string_hash("\xed\xa0") == r1);        // ... cut off
    CHECK(gr::java_string_hash("\xe2\x82") == r1);        // a valid start cut off
    CHECK(gr::java_string_hash("\xf0\x9f\x98") == r1);
    CHECK(gr::java_string_hash("\xf4\x90\x80\x80") == 2017367872); // beyond U+10FFFF: four pieces
    CHECK(gr::java_string_hash("\xe2\x82\x61\x61") == 62980317);   // U+FFFD a a
    CHECK(gr::java_string_hash("\xf0\x9f\x61") == 2031620);        // U+FFFD a
    CHECK(gr::java_string_hash("\xc2\x41") == hash_by_definition(u"\uFFFDA"));
}

TEST_CASE("partition_for places groups where Kafka does", "[wire_group_formats]") {
    static_assert(gr::kafka_abs(-5) == 5);
    static_assert(gr::kafka_abs(5) == 5);
    static_assert(gr::kafka_abs(0) == 0);
    static_assert(gr::kafka_abs(std::numeric_limits<std::int32_t>::min()) == 0);
    static_assert(gr::partition_for("test-group") == 12);

    CHECK(gr::default_partition_count == 50);
    CHECK(gr::topic_name == "__consumer_offsets");
    CHECK(gr::partition_for("my-group") == 12); // |h| % 50; the producer's mask would give 36
    CHECK((gr::java_string_hash("my-group") & 0x7fffffff) % 50 == 36);
    CHECK(gr::partition_for("test-group") == 12);
    CHECK(gr::partition_for("console-consumer-12345") == 6);
    CHECK(gr::partition_for("tx-1") == 20);
    CHECK(gr::partition_for("polygenelubricants") == 0); // INT_MIN
    CHECK(gr::partition_for("") == 0);
    CHECK(gr::partition_for("a") == 47);
    CHECK(gr::partition_for("gr\xc3\xbcppe") == 12);
    CHECK(gr::partition_for("group-\xf0\x9f\x98\x80") == 7);
    CHECK(gr::partition_for("my-group", 7) == 1);
    CHECK(gr::partition_for("gr\xc3\xbcppe", 7) == 3);
    CHECK(gr::partition_for("my-group", 1) == 0);
    for (int i = 0; i < 500; ++i) {
        const auto g = "group-" + std::to_string(i * 7919);
        const auto p = gr::partition_for(g, 50);
        CHECK(p >= 0);
        CHECK(p < 50);
    }
    CHECK_THROWS_AS(gr::partition_for("g", 0), std::invalid_argument);
    CHECK_THROWS_AS(gr::partition_for("g", -50), std::invalid_argument);
}
