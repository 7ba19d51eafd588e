// The codecs of the consumer-group offset and admin APIs (docs/protocol.md §16.7-16.8):
// OffsetCommit, OffsetFetch, ListGroups, DescribeGroups, DeleteGroups and OffsetDelete. Every
// message with every field set, round-tripped at every version Kafka 3.9 serves (fields a version
// lacks come back as their defaults); byte-exact encodings assembled by hand from the schemas,
// classic and flexible, decoded back field by field; every truncation failing; nullable strings
// keeping null apart from ""; unknown tagged fields skipped; and the rules particular to these
// APIs (OffsetFetch's groups from v8 and its error code after the topics, OffsetDelete's error
// code before the throttle time).
#include "message_test_util.hpp"

#include <gregor/wire/api.hpp>
#include <gregor/wire/header.hpp>
#include <gregor/wire/messages/delete_groups.hpp>
#include <gregor/wire/messages/describe_groups.hpp>
#include <gregor/wire/messages/list_groups.hpp>
#include <gregor/wire/messages/offset_commit.hpp>
#include <gregor/wire/messages/offset_delete.hpp>
#include <gregor/wire/messages/offset_fetch.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <initializer_list>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

using namespace gregor;
using namespace gregor::wire;
using gregor::test::encode_bytes;
using gregor::test::for_each_version;
using gregor::test::from_hex;
using gregor::test::hex;
using gregor::test::round_trip;
using gregor::test::encoded_hex;
using gregor::test::check_layout;
using gregor::test::check_api;
using gregor::test::str_hex;

namespace {

using opt_string = std::optional<std::string_view>;

/// A string's bytes in hex, for layouts.

/// Decodes `layout` (hex) at `version`, requiring success and that every byte was read.
template <typename M>
test::decoded<M> decode_layout(const std::string& layout, std::int16_t version) {
    auto in = from_hex(layout);
    byte_reader r(bytes_view{in});
    auto d = M::decode(r, version);
    REQUIRE(d);
    CHECK(r.ok());
    CHECK(r.at_end());
    return {std::move(in), std::move(*d)};
}

/// True if `layout` (hex) does not decode at `version`.
template <typename M>
bool refuses_layout(const std::string& layout, std::int16_t version) {
    const auto in = from_hex(layout);
    byte_reader r(bytes_view{in});
    return !M::decode(r, version).has_value();
}

const std::array<std::byte, 2> subscription_bytes{std::byte{0x01}, std::byte{0x02}};
const std::array<std::byte, 1> assignment_bytes{std::byte{0x03}};
constexpr std::int64_t a_timestamp = 1700000000000;  // 0x0000018bcfe56800
constexpr std::int64_t a_day_ms = 86400000;          // 0x0000000005265c00
constexpr std::int32_t some_operations = 0x00000f08; // a bit set of ACL operations

// Samples with every field of every version away from its default.
offset_commit::request sample_commit_request() {
    offset_commit::request req;
    req.group_id = "grp";
    req.generation_id_or_member_epoch = 12;
    req.member_id = "member-1";
    req.group_instance_id = "instance-1";
    req.retention_time_ms = a_day_ms;
    req.topics = {{"orders",
                   {{partition_id{0}, offset{100}, leader_epoch{4}, a_timestamp, "meta"},
                    {partition_id{3}, offset{250}, leader_epoch{5}, a_timestamp + 1, std::nullopt}}},
                  {"audit", {{partition_id{1}, offset{7}, leader_epoch{2}, a_timestamp + 2, ""}}}};
    return req;
}
offset_commit::response sample_commit_response() {
    offset_commit::response resp;
    resp.throttle_time_ms = 25;
    resp.topics = {
        {"orders", {{partition_id{0}, error_code::none}, {partition_id{3}, error_code::offset_metadata_too_large}}}};
    return resp;
}

offset_fetch::request sample_fetch_request() {
    offset_fetch::request req;
    req.group_id = "grp";
    req.topics = std::vector<offset_fetch::request_topic>{{"orders", {partition_id{0}, partition_id{3}}},
                                                          {"audit", {partition_id{1}}}};
    req.groups = {{"grp", "member-1", 9, std::vector<offset_fetch::request_topic>{{"orders", {partition_id{0}}}}},
                  {"other", std::nullopt, -1, std::nullopt}};
    req.require_stable = true;
    return req;
}
offset_fetch::response sample_fetch_response() {
    offset_fetch::response resp;
    resp.throttle_time_ms = 30;
    const std::vector<offset_fetch::response_topic> topics{
        {"orders",
         {{partition_id{0}, offset{100}, leader_epoch{4}, "meta", error_code::none},
          {partition_id{3}, offset{-1}, leader_epoch{-1}, std::nullopt, error_code::unstable_offset_commit}}}};
    resp.topics = topics;
    resp.error_code = error_code::coordinator_load_in_progress;
    resp.groups = {{"grp", topics, error_code::none}, {"other", {}, error_code::group_authorization_failed}};
    return resp;
}

list_groups::request sample_list_request() {
    list_groups::request req;
    req.states_filter = {"Stable", "Empty"};
    req.types_filter = {"classic"};
    return req;
}
list_groups::response sample_list_response() {
    list_groups::response resp;
    resp.throttle_time_ms = 3;
    resp.error_code = error_code::coordinator_load_in_progress;
    resp.groups = {{"grp", "consumer", "Stable", "classic"}, {"offsets-only", "", "Empty", "classic"}};
    return resp;
}

describe_groups::request sample_describe_request() {
    describe_groups::request req;
    req.groups = {"grp", "gone"};
    req.include_authorized_operations = true;
    return req;
}
describe_groups::response sample_describe_response() {
    describe_groups::response resp;
    resp.throttle_time_ms = 4;
    describe_groups::described_group g;
    g.error_code = error_code::none;
    g.group_id = "grp";
    g.group_state = "Stable";
    g.protocol_type = "consumer";
    g.protocol_data = "range";
    g.members = {{"m-1", "i-1", "client", "/127.0.0.1", bytes_view{subscription_bytes}, bytes_view{assignment_bytes}},
                 {"m-2", std::nullopt, "client2", "/10.0.0.2", {}, {}}};
    g.authorized_operations = some_operations;
    describe_groups::described_group dead;
    dead.group_id = "gone";
    dead.group_state = "Dead";
    dead.authorized_operations = 0;
    resp.groups = {g, dead};
    return resp;
}

delete_groups::response sample_delete_groups_response() {
    delete_groups::response resp;
    resp.throttle_time_ms = 6;
    resp.results = {{"a", error_code::none}, {"b", error_code::non_empty_group}};
    return resp;
}

offset_delete::request sample_offset_delete_request() {
    offset_delete::request req;
    req.group_id = "grp";
    req.topics = {{"orders", {{partition_id{0}}, {partition_id{3}}}}};
    return req;
}
offset_delete::response sample_offset_delete_response() {
    offset_delete::response resp;
    resp.error_code = error_code::none;
    resp.throttle_time_ms = 8;
    resp.topics = {
        {"orders", {{partition_id{0}, error_code::none}, {partition_id{3}, error_code::group_subscribed_to_topic}}}};
    return resp;
}

} // namespace

// Generic clients find each request's answer type.
static_assert(std::is_same_v<offset_commit::request::response_type, offset_commit::response>);
static_assert(std::is_same_v<offset_fetch::request::response_type, offset_fetch::response>);
static_assert(std::is_same_v<list_groups::request::response_type, list_groups::response>);
static_assert(std::is_same_v<describe_groups::request::response_type, describe_groups::response>);
static_assert(std::is_same_v<delete_groups::request::response_type, delete_groups::response>);
static_assert(std::is_same_v<offset_delete::request::response_type, offset_delete::response>);

// ---------------------------------------------------------------------------------------------
// Keys, names and ranges.

TEST_CASE("group offset and admin APIs carry Kafka's keys, names, Kafka 3.9's versions and flexible versions",
          "[wire_group_admin]") {
    check_api<offset_commit_api>(8, "OffsetCommit", {0, 9}, 8);
    check_api<offset_fetch_api>(9, "OffsetFetch", {0, 9}, 6);
    check_api<describe_groups_api>(15, "DescribeGroups", {0, 5}, 5);
    check_api<list_groups_api>(16, "ListGroups", {0, 5}, 3);
    check_api<delete_groups_api>(42, "DeleteGroups", {0, 2}, 2);
    check_api<offset_delete_api>(47, "OffsetDelete", {0, 0}, never_flexible);
    // Header versions follow the flexible versions.
    CHECK(request_header_version(api_key::offset_commit, 7) == 1);
    CHECK(request_header_version(api_key::offset_commit, 8) == 2);
    CHECK(response_header_version(api_key::offset_fetch, 5) == 0);
    CHECK(response_header_version(api_key::offset_fetch, 6) == 1);
    CHECK(request_header_version(api_key::list_groups, 3) == 2);
    CHECK(response_header_version(api_key::describe_groups, 4) == 0);
    CHECK(response_header_version(api_key::delete_groups, 2) == 1);
    CHECK(request_header_version(api_key::offset_delete, 0) == 1);
    CHECK(response_header_version(api_key::offset_delete, 0) == 0);
}

TEST_CASE("group offset and admin messages refuse versions Kafka 3.9 does not serve", "[wire_group_admin]") {
    const std::string any = "00000000 00000000 00000000 00000000 00000000";
    CHECK(refuses_layout<offset_commit::request>(any, 10));
    CHECK(refuses_layout<offset_commit::response>(any, -1));
    CHECK(refuses_layout<offset_fetch::request>(any, 10));
    CHECK(refuses_layout<offset_fetch::response>(any, 10));
    CHECK(refuses_layout<list_groups::request>(any, 6));
    CHECK(refuses_layout<describe_groups::response>(any, 6));
    CHECK(refuses_layout<delete_groups::request>(any, 3));
    CHECK(refuses_layout<offset_delete::request>(any, 1));
    CHECK(refuses_layout<offset_delete::response>(any, 1));
    byte_buffer b;
    byte_writer w(b);
    CHECK_THROWS_AS(offset_commit::request{}.encode(w, 10), std::invalid_argument);
    CHECK_THROWS_AS(offset_fetch::response{}.encode(w, -1), std::invalid_argument);
    CHECK_THROWS_AS(list_groups::response{}.encode(w, 6), std::invalid_argument);
    CHECK_THROWS_AS(describe_groups::request{}.encode(w, 6), std::invalid_argument);
    CHECK_THROWS_AS(delete_groups::response{}.encode(w, 3), std::invalid_argument);
    CHECK_THROWS_AS(offset_delete::request{}.encode(w, 1), std::invalid_argument);
}

// ---------------------------------------------------------------------------------------------
// Every field at every version.

TEST_CASE("OffsetCommit round-trips every field at every version", "[wire_group_admin]") {
    for_each_version<offset_commit_api>([](std::int16_t v) {
        const auto d = round_trip(sample_commit_request(), v);
        CHECK(d.msg.group_id == "grp");
        CHECK(d.msg.generation_id_or_member_epoch == (v >= 1 ? 12 : offset_commit::no_generation));
        CHECK(d.msg.member_id == (v >= 1 ? "member-1" : ""));
        CHECK(d.msg.group_instance_id == (v >= 7 ? opt_string{"instance-1"} : std::nullopt));
        CHECK(d.msg.retention_time_ms == (v >= 2 && v <= 4 ? a_day_ms : offset_commit::default_retention));
        REQUIRE(d.msg.topics.size() == 2);
        CHECK(d.msg.topics[0].name == "orders");
        CHECK(d.msg.topics[1].name == "audit");
        REQUIRE(d.msg.topics[0].partitions.size() == 2);
        const auto& p0 = d.msg.topics[0].partitions[0];
        CHECK(p0.partition_index == partition_id{0});
        CHECK(p0.committed_offset == offset{100});
        CHECK(p0.committed_leader_epoch == leader_epoch{v >= 6 ? 4 : -1});
        CHECK(p0.commit_timestamp == (v == 1 ? a_timestamp : offset_commit::default_commit_timestamp));
        CHECK(p0.committed_metadata == opt_string{"meta"});
        const auto& p1 = d.msg.topics[0].partitions[1];
        CHECK(p1.partition_index == partition_id{3});
        CHECK(p1.committed_offset == offset{250});
        CHECK_FALSE(p1.committed_metadata.has_value());
        REQUIRE(d.msg.topics[1].partitions.size() == 1);
        const auto& p2 = d.msg.topics[1].partitions[0];
        REQUIRE(p2.committed_metadata.has_value());
        CHECK(p2.committed_metadata->empty());

        const auto r = round_trip(sample_commit_response(), v);
        CHECK(r.msg.throttle_time_ms == (v >= 3 ? 25 : 0));
        REQUIRE(r.msg.topics.size() == 1);
        CHECK(r.msg.topics[0].name == "orders");
        REQUIRE(r.msg.topics[0].partitions.size() == 2);
        CHECK(r.msg.topics[0].partitions[0].partition_index == partition_id{0});
        CHECK(r.msg.topics[0].partitions[0].error_code == error_code::none);
        CHECK(r.msg.topics[0].partitions[1].partition_index == partition_id{3});
        CHECK(r.msg.topics[0].partitions[1].error_code == error_code::offset_metadata_too_large);
    });
}

TEST_CASE("OffsetFetch round-trips every field at every version, one group before v8 and groups from v8",
          "[wire_group_admin]") {
    for_each_version<offset_fetch_api>([](std::int16_t v) {
        const auto d = round_trip(sample_fetch_request(), v);
        if (v <= 7) {
            CHECK(d.msg.group_id == "grp");
            REQUIRE(d.msg.topics);
            REQUIRE(d.msg.topics->size() == 2);
            CHECK((*d.msg.topics)[0].name == "orders");
            CHECK((*d.msg.topics)[0].partition_indexes == std::vector<partition_id>{partition_id{0}, partition_id{3}});
            CHECK((*d.msg.topics)[1].name == "audit");
            CHECK((*d.msg.topics)[1].partition_indexes == std::vector<partition_id>{partition_id{1}});
            CHECK(d.msg.groups.empty());
        } else {
            CHECK(d.msg.group_id.empty());
            REQUIRE(d.msg.topics); // the default: an empty list
            CHECK(d.msg.topics->empty());
            REQUIRE(d.msg.groups.size() == 2);
            const auto& g = d.msg.groups[0];
            CHECK(g.group_id == "grp");
            CHECK(g.member_id == (v >= 9 ? opt_string{"member-1"} : std::nullopt));
            CHECK(g.member_epoch == (v >= 9 ? 9 : offset_fetch::no_member_epoch));
            REQUIRE(g.topics);
            REQUIRE(g.topics->size() == 1);
            CHECK((*g.topics)[0].name == "orders");
            CHECK((*g.topics)[0].partition_indexes == std::vector<partition_id>{partition_id{0}});
            CHECK(d.msg.groups[1].group_id == "other");
            CHECK_FALSE(d.msg.groups[1].member_id);
            CHECK_FALSE(d.msg.groups[1].topics); // all topics
        }
        CHECK(d.msg.require_stable == (v >= 7));

        const auto r = round_trip(sample_fetch_response(), v);
        CHECK(r.msg.throttle_time_ms == (v >= 3 ? 30 : 0));
        const auto check_topics = [v](const std::vector<offset_fetch::response_topic>& topics, bool has_epoch) {
            INFO("version " << v);
            REQUIRE(topics.size() == 1);
            CHECK(topics[0].name == "orders");
            REQUIRE(topics[0].partitions.size() == 2);
            const auto& a = topics[0].partitions[0];
            CHECK(a.partition_index == partition_id{0});
            CHECK(a.committed_offset == offset{100});
            CHECK(a.committed_leader_epoch == leader_epoch{has_epoch ? 4 : -1});
            CHECK(a.metadata == opt_string{"meta"});
            CHECK(a.error_code == error_code::none);
            const auto& b = topics[0].partitions[1];
            CHECK(b.partition_index == partition_id{3});
            CHECK(b.committed_offset == offset{offset_fetch::no_offset});
            CHECK_FALSE(b.metadata);
            CHECK(b.error_code == error_code::unstable_offset_commit);
        };
        if (v <= 7) {
            check_topics(r.msg.topics, v >= 5);
            CHECK(r.msg.error_code == (v >= 2 ? error_code::coordinator_load_in_progress : error_code::none));
            CHECK(r.msg.groups.empty());
        } else {
            CHECK(r.msg.topics.empty());
            CHECK(r.msg.error_code == error_code::none);
            REQUIRE(r.msg.groups.size() == 2);
            CHECK(r.msg.groups[0].group_id == "grp");
            check_topics(r.msg.groups[0].topics, true);
            CHECK(r.msg.groups[0].error_code == error_code::none);
            CHECK(r.msg.groups[1].group_id == "other");
            CHECK(r.msg.groups[1].topics.empty());
            CHECK(r.msg.groups[1].error_code == error_code::group_authorization_failed);
        }
    });
}

TEST_CASE("ListGroups round-trips every field at every version", "[wire_group_admin]") {
    for_each_version<list_groups_api>([](std::int16_t v) {
        const auto d = round_trip(sample_list_request(), v);
        CHECK(d.msg.states_filter ==
              (v >= 4 ? std::vector<std::string_view>{"Stable", "Empty"} : std::vector<std::string_view>{}));
        CHECK(d.msg.types_filter ==
              (v >= 5 ? std::vector<std::string_view>{"classic"} : std::vector<std::string_view>{}));

        const auto r = round_trip(sample_list_response(), v);
        CHECK(r.msg.throttle_time_ms == (v >= 1 ? 3 : 0));
        CHECK(r.msg.error_code == error_code::coordinator_load_in_progress);
        REQUIRE(r.msg.groups.size() == 2);
        CHECK(r.msg.groups[0].group_id == "grp");
        CHECK(r.msg.groups[0].protocol_type == "consumer");
        CHECK(r.msg.groups[0].group_state == (v >= 4 ? "Stable" : ""));
        CHECK(r.msg.groups[0].group_type == (v >= 5 ? "classic" : ""));
        CHECK(r.msg.groups[1].group_id == "offsets-only");
        CHECK(r.msg.groups[1].protocol_type.empty());
        CHECK(r.msg.groups[1].group_state == (v >= 4 ? "Empty" : ""));
    });
}

TEST_CASE("DescribeGroups round-trips every field at every version", "[wire_group_admin]") {
    for_each_version<describe_groups_api>([](std::int16_t v) {
        const auto d = round_trip(sample_describe_request(), v);
        CHECK(d.msg.groups == std::vector<std::string_view>{"grp", "gone"});
        CHECK(d.msg.include_authorized_operations == (v >= 3));

        const auto r = round_trip(sample_describe_response(), v);
        CHECK(r.msg.throttle_time_ms == (v >= 1 ? 4 : 0));
        REQUIRE(r.msg.groups.size() == 2);
        const auto& g = r.msg.groups[0];
        CHECK(g.error_code == error_code::none);
        CHECK(g.group_id == "grp");
        CHECK(g.group_state == "Stable");
        CHECK(g.protocol_type == "consumer");
        CHECK(g.protocol_data == "range");
        CHECK(g.authorized_operations == (v >= 3 ? some_operations : describe_groups::authorized_operations_unknown));
        REQUIRE(g.members.size() == 2);
        const auto& m1 = g.members[0];
        CHECK(m1.member_id == "m-1");
        CHECK(m1.group_instance_id == (v >= 4 ? opt_string{"i-1"} : std::nullopt));
        CHECK(m1.client_id == "client");
        CHECK(m1.client_host == "/127.0.0.1");
        CHECK(hex(m1.member_metadata) == "0102");
        CHECK(hex(m1.member_assignment) == "03");
        const auto& m2 = g.members[1];
        CHECK(m2.member_id == "m-2");
        CHECK_FALSE(m2.group_instance_id);
        CHECK(m2.member_metadata.empty());
        CHECK(m2.member_assignment.empty());
        const auto& dead = r.msg.groups[1];
        CHECK(dead.group_id == "gone");
        CHECK(dead.group_state == "Dead");
        CHECK(dead.protocol_type.empty());
        CHECK(dead.members.empty());
        CHECK(dead.authorized_operations == (v >= 3 ? 0 : describe_groups::authorized_operations_unknown));
    });
}

TEST_CASE("DeleteGroups and OffsetDelete round-trip every field at every version", "[wire_group_admin]") {
    for_each_version<delete_groups_api>([](std::int16_t v) {
        const auto d = round_trip(delete_groups::request{{"a", "b"}}, v);
        CHECK(d.msg.groups_names == std::vector<std::string_view>{"a", "b"});
        const auto r = round_trip(sample_delete_groups_response(), v);
        CHECK(r.msg.throttle_time_ms == 6); // in every version
        REQUIRE(r.msg.results.size() == 2);
        CHECK(r.msg.results[0].group_id == "a");
        CHECK(r.msg.results[0].error_code == error_code::none);
        CHECK(r.msg.results[1].group_id == "b");
        CHECK(r.msg.results[1].error_code == error_code::non_empty_group);
    });
    for_each_version<offset_delete_api>([](std::int16_t v) {
        const auto d = round_trip(sample_offset_delete_request(), v);
        CHECK(d.msg.group_id == "grp");
        REQUIRE(d.msg.topics.size() == 1);
        CHECK(d.msg.topics[0].name == "orders");
        REQUIRE(d.msg.topics[0].partitions.size() == 2);
        CHECK(d.msg.topics[0].partitions[1].partition_index == partition_id{3});
        const auto r = round_trip(sample_offset_delete_response(), v);
        CHECK(r.msg.error_code == error_code::none);
        CHECK(r.msg.throttle_time_ms == 8);
        REQUIRE(r.msg.topics.size() == 1);
        REQUIRE(r.msg.topics[0].partitions.size() == 2);
        CHECK(r.msg.topics[0].partitions[1].error_code == error_code::group_subscribed_to_topic);
    });
}

TEST_CASE("group offset and admin messages keep their schema defaults", "[wire_group_admin]") {
    const offset_commit::request oc;
    CHECK(oc.generation_id_or_member_epoch == -1);
    CHECK(oc.retention_time_ms == -1);
    CHECK_FALSE(oc.group_instance_id);
    const offset_commit::request_partition ocp;
    CHECK(ocp.committed_leader_epoch == leader_epoch{-1});
    CHECK(ocp.commit_timestamp == -1);
    const offset_fetch::request of;
    REQUIRE(of.topics); // an empty list, not "all topics"
    CHECK(of.topics->empty());
    CHECK_FALSE(of.require_stable);
    const offset_fetch::request_group ofg;
    CHECK(ofg.member_epoch == -1);
    CHECK_FALSE(ofg.member_id);
    REQUIRE(ofg.topics);
    CHECK(ofg.topics->empty());
    const offset_fetch::response_partition ofp;
    CHECK(ofp.committed_leader_epoch == leader_epoch{-1});
    CHECK(describe_groups::described_group{}.authorized_operations == std::numeric_limits<std::int32_t>::min());
    CHECK_FALSE(describe_groups::described_group_member{}.group_instance_id);
}

// ---------------------------------------------------------------------------------------------
// Byte-exact encodings, assembled by hand from the schemas.

TEST_CASE("OffsetCommit v8 (flexible) and v0, v1, v2, v7 (classic) are byte exact", "[wire_group_admin]") {
    offset_commit::request req;
    req.group_id = "g";
    req.generation_id_or_member_epoch = 5;
    req.member_id = "m";
    req.group_instance_id = std::nullopt;
    req.retention_time_ms = a_day_ms;
    req.topics = {{"t", {{partition_id{0}, offset{100}, leader_epoch{3}, a_timestamp, ""}}}};
    auto d = check_layout(req, 8,
                          "02 67"            // group_id "g": compact string, 1 + 1
                          "00000005"         // generation_id_or_member_epoch
                          "02 6d"            // member_id "m"
                          "00"               // group_instance_id: null
                          "02"               // topics: compact array, 1 + 1
                          "02 74"            // name "t"
                          "02"               // partitions
                          "00000000"         // partition_index
                          "0000000000000064" // committed_offset
                          "00000003"         // committed_leader_epoch
                          "01"               // committed_metadata: "" (0 + 1)
                          "00 00 00");       // tags: partition, topic, top level
    CHECK(d.msg.group_id == "g");
    CHECK(d.msg.generation_id_or_member_epoch == 5);
    CHECK(d.msg.member_id == "m");
    CHECK_FALSE(d.msg.group_instance_id);
    CHECK(d.msg.retention_time_ms == -1); // v2-4 only
    const auto& p = d.msg.topics[0].partitions[0];
    CHECK(p.committed_offset == offset{100});
    CHECK(p.committed_leader_epoch == leader_epoch{3});
    CHECK(p.commit_timestamp == -1); // v1 only
    REQUIRE(p.committed_metadata);
    CHECK(p.committed_metadata->empty());

    req.topics[0].partitions[0].committed_metadata = std::nullopt;
    req.group_instance_id = "i";
    d = check_layout(req, 7,
                     "0001 67"          // group_id: int16 length
                     "00000005"         // generation_id_or_member_epoch
                     "0001 6d"          // member_id
                     "0001 69"          // group_instance_id "i" (v7+)
                     "00000001"         // topics: int32 count
                     "0001 74"          // name
                     "00000001"         // partitions
                     "00000000"         // partition_index
                     "0000000000000064" // committed_offset
                     "00000003"         // committed_leader_epoch (v6+)
                     "ffff");           // committed_metadata: null
    CHECK(d.msg.group_instance_id == opt_string{"i"});
    CHECK_FALSE(d.msg.topics[0].partitions[0].committed_metadata);

    d = check_layout(req, 2,
                     "0001 67 00000005 0001 6d"
                     "0000000005265c00" // retention_time_ms (v2-4)
                     "00000001 0001 74 00000001 00000000 0000000000000064"
                     "ffff"); // no leader epoch before v6, no timestamp after v1
    CHECK(d.msg.retention_time_ms == a_day_ms);
    CHECK(d.msg.topics[0].partitions[0].commit_timestamp == -1);

    d = check_layout(req, 1,
                     "0001 67 00000005 0001 6d"
                     "00000001 0001 74 00000001 00000000 0000000000000064"
                     "0000018bcfe56800" // commit_timestamp (v1 only)
                     "ffff");
    CHECK(d.msg.topics[0].partitions[0].commit_timestamp == a_timestamp);
    CHECK(d.msg.retention_time_ms == -1);

    d = check_layout(req, 0, "0001 67 00000001 0001 74 00000001 00000000 0000000000000064 ffff");
    CHECK(d.msg.generation_id_or_member_epoch == -1);
    CHECK(d.msg.member_id.empty());

    offset_commit::response resp;
    resp.throttle_time_ms = 2;
    resp.topics = {{"t", {{partition_id{0}, error_code::illegal_generation}}}};
    const auto r = check_layout(resp, 8,
                                "00000002" // throttle_time_ms
                                "02 02 74" // topics, name
                                "02"       // partitions
                                "00000000" // partition_index
                                "0016"     // error_code ILLEGAL_GENERATION
                                "00 00 00");
    CHECK(r.msg.topics[0].partitions[0].error_code == error_code::illegal_generation);
    check_layout(resp, 2, "00000001 0001 74 00000001 00000000 0016"); // no throttle before v3
}

TEST_CASE("OffsetFetch v1, v2, v7 (one group) and v8, v9 (groups) requests are byte exact", "[wire_group_admin]") {
    offset_fetch::request req;
    req.group_id = "g";
    req.topics = std::vector<offset_fetch::request_topic>{{"t", {partition_id{0}, partition_id{1}}}};
    req.require_stable = true;
    auto d = check_layout(req, 1,
                          "0001 67"             // group_id
                          "00000001"            // topics
                          "0001 74"             // name
                          "00000002"            // partition_indexes
                          "00000000 00000001"); // no require_stable before v7
    REQUIRE(d.msg.topics);
    CHECK((*d.msg.topics)[0].partition_indexes == std::vector<partition_id>{partition_id{0}, partition_id{1}});
    CHECK_FALSE(d.msg.require_stable);

    d = check_layout(req, 7,
                     "02 67"                // group_id
                     "02"                   // topics
                     "02 74"                // name
                     "03 00000000 00000001" // partition_indexes: 2 + 1
                     "00"                   // topic tags
                     "01"                   // require_stable (v7+)
                     "00");
    CHECK(d.msg.require_stable);

    // v2+: a null topics array asks for every committed offset of the group.
    req.topics = std::nullopt;
    d = check_layout(req, 2, "0001 67 ffffffff");
    CHECK(d.msg.group_id == "g");
    CHECK_FALSE(d.msg.topics);
    d = check_layout(req, 6, "02 67 00 00");
    CHECK_FALSE(d.msg.topics);

    offset_fetch::request multi;
    multi.groups = {{"g", std::nullopt, -1, std::nullopt}};
    d = check_layout(multi, 8,
                     "02"    // groups
                     "02 67" // group_id
                     "00"    // topics: null (all)
                     "00"    // group tags
                     "00"    // require_stable
                     "00");
    REQUIRE(d.msg.groups.size() == 1);
    CHECK(d.msg.groups[0].group_id == "g");
    CHECK_FALSE(d.msg.groups[0].topics);
    CHECK(d.msg.group_id.empty());

    multi.groups = {{"g", "m", 7, std::vector<offset_fetch::request_topic>{{"t", {partition_id{2}}}}}};
    multi.require_stable = true;
    d = check_layout(multi, 9,
                     "02"          // groups
                     "02 67"       // group_id
                     "02 6d"       // member_id "m" (v9+)
                     "00000007"    // member_epoch (v9+)
                     "02"          // topics
                     "02 74"       // name
                     "02 00000002" // partition_indexes
                     "00"          // topic tags
                     "00"          // group tags
                     "01"          // require_stable
                     "00");
    const auto& g = d.msg.groups[0];
    CHECK(g.member_id == opt_string{"m"});
    CHECK(g.member_epoch == 7);
    REQUIRE(g.topics);
    CHECK((*g.topics)[0].partition_indexes == std::vector<partition_id>{partition_id{2}});
    CHECK(d.msg.require_stable);
}

TEST_CASE("OffsetFetch v0-1 cannot ask for all topics", "[wire_group_admin]") {
    offset_fetch::request req;
    req.group_id = "g";
    req.topics = std::nullopt;
    byte_buffer b;
    byte_writer w(b);
    CHECK_THROWS_AS(req.encode(w, 0), std::invalid_argument);
    CHECK_THROWS_AS(req.encode(w, 1), std::invalid_argument);
    // A null array is malformed there; the same bytes mean "all topics" at v2.
    CHECK(refuses_layout<offset_fetch::request>("0001 67 ffffffff", 1));
    CHECK(refuses_layout<offset_fetch::request>("0001 67 ffffffff", 0));
    const auto v2 = decode_layout<offset_fetch::request>("0001 67 ffffffff", 2);
    CHECK_FALSE(v2.msg.topics);
    // An empty array stays an empty list (not "all") in every version.
    req.topics.emplace();
    for (const std::int16_t v : std::initializer_list<std::int16_t>{0, 1, 2, 7}) {
        const auto d = round_trip(req, v);
        REQUIRE(d.msg.topics);
        CHECK(d.msg.topics->empty());
    }
    // The v8+ form's groups are ignored before v8, the v0-7 form's fields from v8.
    req.groups = {{"other", std::nullopt, -1, std::nullopt}};
    CHECK(encoded_hex(req, 1) == "00016700000000");
    req.group_id = "ignored";
    req.topics = std::nullopt;
    CHECK(encoded_hex(req, 8) == hex(bytes_view{from_hex("02 06" + str_hex("other") + "00 00 00 00")}));
}

TEST_CASE("OffsetFetch responses are byte exact: the error after the topics (v2-7), groups from v8",
          "[wire_group_admin]") {
    offset_fetch::response resp;
    resp.throttle_time_ms = 10;
    resp.topics = {{"t", {{partition_id{0}, offset{100}, leader_epoch{3}, "", error_code::none}}}};
    resp.error_code = error_code::coordinator_load_in_progress;
    auto d = check_layout(resp, 2,
                          "00000001"         // topics (no throttle before v3)
                          "0001 74"          // name
                          "00000001"         // partitions
                          "00000000"         // partition_index
                          "0000000000000064" // committed_offset (no leader epoch before v5)
                          "0000"             // metadata ""
                          "0000"             // error_code
                          "000e");           // top-level error_code, after the topics
    CHECK(d.msg.error_code == error_code::coordinator_load_in_progress);
    CHECK(d.msg.throttle_time_ms == 0);
    CHECK(d.msg.topics[0].partitions[0].committed_leader_epoch == leader_epoch{-1});
    REQUIRE(d.msg.topics[0].partitions[0].metadata);
    CHECK(d.msg.topics[0].partitions[0].metadata->empty());

    d = check_layout(resp, 0, "00000001 0001 74 00000001 00000000 0000000000000064 0000 0000"); // no top error
    CHECK(d.msg.error_code == error_code::none);

    resp.topics[0].partitions[0].metadata = std::nullopt;
    d = check_layout(resp, 6,
                     "0000000a"         // throttle_time_ms
                     "02"               // topics
                     "02 74"            // name
                     "02"               // partitions
                     "00000000"         // partition_index
                     "0000000000000064" // committed_offset
                     "00000003"         // committed_leader_epoch (v5+)
                     "00"               // metadata: null
                     "0000"             // error_code
                     "00 00"            // tags: partition, topic
                     "000e"             // top-level error_code
                     "00");
    CHECK(d.msg.throttle_time_ms == 10);
    CHECK(d.msg.topics[0].partitions[0].committed_leader_epoch == leader_epoch{3});
    CHECK_FALSE(d.msg.topics[0].partitions[0].metadata);

    offset_fetch::response multi;
    multi.groups = {{"g",
                     {{"t", {{partition_id{0}, offset{-1}, leader_epoch{-1}, "", error_code::none}}}},
                     error_code::not_coordinator}};
    const auto m = check_layout(multi, 8,
                                "00000000"         // throttle_time_ms
                                "02"               // groups
                                "02 67"            // group_id
                                "02"               // topics
                                "02 74"            // name
                                "02"               // partitions
                                "00000000"         // partition_index
                                "ffffffffffffffff" // committed_offset: none
                                "ffffffff"         // committed_leader_epoch
                                "01"               // metadata ""
                                "0000"             // error_code
                                "00 00"            // tags: partition, topic
                                "0010"             // group error_code NOT_COORDINATOR
                                "00 00");          // tags: group, top level
    REQUIRE(m.msg.groups.size() == 1);
    CHECK(m.msg.groups[0].group_id == "g");
    CHECK(m.msg.groups[0].error_code == error_code::not_coordinator);
    CHECK(m.msg.groups[0].topics[0].partitions[0].committed_offset == offset{-1});
    CHECK(m.msg.error_code == error_code::none);
}

TEST_CASE("ListGroups v0, v3, v4, v5 are byte exact", "[wire_group_admin]") {
    list_groups::request req;
    req.states_filter = {"Stable"};
    req.types_filter = {"classic"};
    CHECK(encode_bytes(req, 0).empty()); // v0-2 requests have no body
    check_layout(req, 2, "");
    check_layout(req, 3, "00"); // v3: only the tagged section
    auto d = check_layout(req, 4, "02 07" + str_hex("Stable") + "00");
    CHECK(d.msg.states_filter == std::vector<std::string_view>{"Stable"});
    CHECK(d.msg.types_filter.empty());
    d = check_layout(req, 5, "02 07" + str_hex("Stable") + "02 08" + str_hex("classic") + "00");
    CHECK(d.msg.types_filter == std::vector<std::string_view>{"classic"});

    list_groups::response resp;
    resp.throttle_time_ms = 1;
    resp.groups = {{"g", "consumer", "Stable", "classic"}};
    auto r = check_layout(resp, 0,
                          "0000"     // error_code (no throttle in v0)
                          "00000001" // groups
                          "0001 67"  // group_id
                          "0008" +
                              str_hex("consumer")); // protocol_type
    CHECK(r.msg.groups[0].protocol_type == "consumer");
    CHECK(r.msg.groups[0].group_state.empty());
    r = check_layout(resp, 5,
                     "00000001" // throttle_time_ms
                     "0000"     // error_code
                     "02"       // groups
                     "02 67"    // group_id
                     "09" +     // protocol_type: 8 + 1
                         str_hex("consumer") +
                         "07" + str_hex("Stable") +  // group_state (v4+)
                         "08" + str_hex("classic") + // group_type (v5+)
                         "00 00");
    CHECK(r.msg.throttle_time_ms == 1);
    CHECK(r.msg.groups[0].group_state == "Stable");
    CHECK(r.msg.groups[0].group_type == "classic");
}

TEST_CASE("DescribeGroups v0 (classic) and v5 (flexible) are byte exact", "[wire_group_admin]") {
    describe_groups::request req;
    req.groups = {"g"};
    req.include_authorized_operations = true;
    auto d = check_layout(req, 0, "00000001 0001 67");
    CHECK_FALSE(d.msg.include_authorized_operations);
    d = check_layout(req, 3, "00000001 0001 67 01");
    CHECK(d.msg.include_authorized_operations);
    d = check_layout(req, 5, "02 02 67 01 00");
    CHECK(d.msg.groups == std::vector<std::string_view>{"g"});

    describe_groups::response resp;
    resp.throttle_time_ms = 0;
    describe_groups::described_group g;
    g.group_id = "g";
    g.group_state = "Stable";
    g.protocol_type = "consumer";
    g.protocol_data = "range";
    g.members = {{"m", "i", "c", "/127.0.0.1", bytes_view{subscription_bytes}, bytes_view{}}};
    resp.groups = {g};
    auto r = check_layout(resp, 0,
                          "00000001" // groups (no throttle in v0)
                          "0000"     // error_code
                          "0001 67"  // group_id
                          "0006" +
                              str_hex("Stable") + "0008" + str_hex("consumer") + "0005" + str_hex("range") +
                              "00000001" // members
                              "0001 6d"  // member_id (no instance id before v4)
                              "0001 63"  // client_id
                              "000a" +
                              str_hex("/127.0.0.1") +
                              "00000002 0102" // member_metadata
                              "00000000");    // member_assignment: empty
    REQUIRE(r.msg.groups.size() == 1);
    const auto& m0 = r.msg.groups[0].members[0];
    CHECK(m0.member_id == "m");
    CHECK_FALSE(m0.group_instance_id);
    CHECK(m0.client_host == "/127.0.0.1");
    CHECK(hex(m0.member_metadata) == "0102");
    CHECK(r.msg.groups[0].authorized_operations == describe_groups::authorized_operations_unknown);

    r = check_layout(resp, 5,
                     "00000000" // throttle_time_ms
                     "02"       // groups
                     "0000"     // error_code
                     "02 67"    // group_id
                     "07" +
                         str_hex("Stable") + "09" + str_hex("consumer") + "06" + str_hex("range") +
                         "02"    // members
                         "02 6d" // member_id
                         "02 69" // group_instance_id "i" (v4+)
                         "02 63" // client_id
                         "0b" +
                         str_hex("/127.0.0.1") +
                         "03 0102"  // member_metadata: compact bytes, 2 + 1
                         "01"       // member_assignment: empty
                         "00"       // member tags
                         "80000000" // authorized_operations (v3+): INT32_MIN, not requested
                         "00 00");  // tags: group, top level
    const auto& m5 = r.msg.groups[0].members[0];
    CHECK(m5.group_instance_id == opt_string{"i"});
    CHECK(m5.client_id == "c");
    CHECK(hex(m5.member_metadata) == "0102");
    CHECK(m5.member_assignment.empty());
    CHECK(r.msg.groups[0].protocol_data == "range");
}

TEST_CASE("DeleteGroups v0 (classic) and v2 (flexible) are byte exact", "[wire_group_admin]") {
    const delete_groups::request req{{"a", "b"}};
    auto d = check_layout(req, 0, "00000002 0001 61 0001 62");
    CHECK(d.msg.groups_names == std::vector<std::string_view>{"a", "b"});
    d = check_layout(req, 2, "03 02 61 02 62 00");
    CHECK(d.msg.groups_names == std::vector<std::string_view>{"a", "b"});

    delete_groups::response resp;
    resp.throttle_time_ms = 5;
    resp.results = {{"a", error_code::non_empty_group}, {"b", error_code::group_id_not_found}};
    auto r = check_layout(resp, 0,
                          "00000005" // throttle_time_ms, already in v0
                          "00000002" // results
                          "0001 61 0044"
                          "0001 62 0045");
    CHECK(r.msg.throttle_time_ms == 5);
    CHECK(r.msg.results[0].error_code == error_code::non_empty_group);
    CHECK(r.msg.results[1].error_code == error_code::group_id_not_found);
    r = check_layout(resp, 2, "00000005 03 02 61 0044 00 02 62 0045 00 00");
    CHECK(r.msg.results[1].group_id == "b");
}

TEST_CASE("OffsetDelete v0 is byte exact, its error code before the throttle time", "[wire_group_admin]") {
    const auto d = check_layout(sample_offset_delete_request(), 0,
                                "0003" + str_hex("grp") + // group_id
                                    "00000001"            // topics
                                    "0006" +
                                    str_hex("orders") +
                                    "00000002"            // partitions
                                    "00000000 00000003"); // partition_index each
    CHECK(d.msg.group_id == "grp");
    CHECK(d.msg.topics[0].partitions[0].partition_index == partition_id{0});

    offset_delete::response resp;
    resp.error_code = error_code::group_id_not_found;
    resp.throttle_time_ms = 7;
    auto r = check_layout(resp, 0,
                          "0045"       // error_code GROUP_ID_NOT_FOUND, first
                          "00000007"   // throttle_time_ms
                          "00000000"); // topics
    CHECK(r.msg.error_code == error_code::group_id_not_found);
    CHECK(r.msg.throttle_time_ms == 7);
    r = check_layout(sample_offset_delete_response(), 0,
                     "0000 00000008 00000001 0006" + str_hex("orders") +
                         "00000002 00000000 0000 00000003 0056"); // GROUP_SUBSCRIBED_TO_TOPIC
    CHECK(r.msg.topics[0].partitions[1].error_code == error_code::group_subscribed_to_topic);
}

// ---------------------------------------------------------------------------------------------
// Nullable strings, unknown tags, truncations, frames.

TEST_CASE("nullable strings of the group offset and admin messages keep null apart from empty", "[wire_group_admin]") {
    for_each_version<offset_commit_api>([](std::int16_t v) {
        offset_commit::request req;
        req.group_id = "g";
        req.group_instance_id = "";
        req.topics = {{"t", {{partition_id{0}, offset{1}, leader_epoch{-1}, -1, ""}}}};
        const auto empty = round_trip(req, v);
        REQUIRE(empty.msg.topics[0].partitions[0].committed_metadata);
        CHECK(empty.msg.topics[0].partitions[0].committed_metadata->empty());
        CHECK(empty.msg.group_instance_id == (v >= 7 ? opt_string{""} : std::nullopt));
        req.group_instance_id = std::nullopt;
        req.topics[0].partitions[0].committed_metadata = std::nullopt;
        const auto null = round_trip(req, v);
        CHECK_FALSE(null.msg.topics[0].partitions[0].committed_metadata);
        CHECK_FALSE(null.msg.group_instance_id);
        CHECK(null.wire != empty.wire);
    });
    for_each_version<offset_fetch_api>([](std::int16_t v) {
        offset_fetch::request req;
        req.groups = {{"g", "", -1, std::nullopt}};
        const auto empty = round_trip(req, v);
        req.groups[0].member_id = std::nullopt;
        const auto null = round_trip(req, v);
        if (v >= 9) {
            CHECK(empty.msg.groups[0].member_id == opt_string{""});
            CHECK_FALSE(null.msg.groups[0].member_id);
            CHECK(null.wire != empty.wire);
        }
        offset_fetch::response resp;
        const std::vector<offset_fetch::response_topic> with_empty{
            {"t", {{partition_id{0}, offset{1}, leader_epoch{-1}, "", error_code::none}}}};
        resp.topics = with_empty;
        resp.groups = {{"g", with_empty, error_code::none}};
        const auto e = round_trip(resp, v);
        const auto& ep = v <= 7 ? e.msg.topics[0].partitions[0] : e.msg.groups[0].topics[0].partitions[0];
        REQUIRE(ep.metadata);
        CHECK(ep.metadata->empty());
        resp.topics[0].partitions[0].metadata = std::nullopt;
        resp.groups[0].topics[0].partitions[0].metadata = std::nullopt;
        const auto n = round_trip(resp, v);
        const auto& np = v <= 7 ? n.msg.topics[0].partitions[0] : n.msg.groups[0].topics[0].partitions[0];
        CHECK_FALSE(np.metadata);
        CHECK(n.wire != e.wire);
    });
    for_each_version<describe_groups_api>([](std::int16_t v) {
        describe_groups::response resp;
        describe_groups::described_group g;
        g.group_id = "g";
        g.members = {{"m", "", "c", "h", {}, {}}, {"n", std::nullopt, "c", "h", {}, {}}};
        resp.groups = {g};
        const auto d = round_trip(resp, v);
        CHECK(d.msg.groups[0].members[0].group_instance_id == (v >= 4 ? opt_string{""} : std::nullopt));
        CHECK_FALSE(d.msg.groups[0].members[1].group_instance_id);
    });
    // A null where the schema has a plain string fails.
    CHECK(refuses_layout<offset_commit::request>("ffff 00000000", 0));
    CHECK(refuses_layout<list_groups::response>("00000000 0000 02 00 01 00 00", 3));
}

TEST_CASE("group offset and admin messages skip unknown tagged fields", "[wire_group_admin]") {
    // OffsetCommit v8: an unknown tag in a partition, an empty one in a topic, one at the top.
    const auto oc = decode_layout<offset_commit::request>("02 67 00000005 02 6d 00"
                                                          "02 02 74 02 00000000 0000000000000064 00000003 01"
                                                          "01 07 01 ff" // partition tags: tag 7, 1 byte
                                                          "01 0a 00"    // topic tags: tag 10, 0 bytes
                                                          "01 21 02 abcd",
                                                          8);
    CHECK(oc.msg.topics[0].partitions[0].committed_leader_epoch == leader_epoch{3});
    CHECK(oc.msg.topics[0].partitions[0].committed_metadata == opt_string{""});

    // OffsetFetch v9: two unknown tags in a group.
    const auto of = decode_layout<offset_fetch::request>("02 02 67 00 ffffffff 00"
                                                         "02 01 01 aa 03 00" // group tags
                                                         "01 00",
                                                         9);
    REQUIRE(of.msg.groups.size() == 1);
    CHECK(of.msg.groups[0].member_epoch == -1);
    CHECK(of.msg.require_stable);

    // ListGroups v3: a request that is only an unknown tag.
    const auto lg = decode_layout<list_groups::request>("01 05 02 abcd", 3);
    CHECK(lg.msg.states_filter.empty());

    // DescribeGroups v5: an unknown tag in a member.
    const auto dg = decode_layout<describe_groups::response>("00000000 02 0000 02 67 01 01 01"
                                                             "02 02 6d 00 02 63 02 68 01 01"
                                                             "01 04 03 010203" // member tags
                                                             "80000000 00 00",
                                                             5);
    REQUIRE(dg.msg.groups[0].members.size() == 1);
    CHECK(dg.msg.groups[0].members[0].client_host == "h");

    // DeleteGroups v2: an unknown tag in a result.
    const auto del = decode_layout<delete_groups::response>("00000000 02 02 61 0000 01 00 01 00 00", 2);
    CHECK(del.msg.results[0].group_id == "a");

    // A tag whose size runs past the frame fails.
    CHECK(refuses_layout<list_groups::request>("01 05 03 abcd", 3));
}

TEST_CASE("every truncation of every group offset and admin message fails at every version", "[wire_group_admin]") {
    // round_trip checks this too; here explicitly, with the full samples and the decoder's
    // return value.
    for_each_version<offset_commit_api>([](std::int16_t v) {
        gregor::test::require_truncations_fail<offset_commit::request>(encode_bytes(sample_commit_request(), v), v);
        gregor::test::require_truncations_fail<offset_commit::response>(encode_bytes(sample_commit_response(), v), v);
    });
    for_each_version<offset_fetch_api>([](std::int16_t v) {
        gregor::test::require_truncations_fail<offset_fetch::request>(encode_bytes(sample_fetch_request(), v), v);
        gregor::test::require_truncations_fail<offset_fetch::response>(encode_bytes(sample_fetch_response(), v), v);
    });
    for_each_version<list_groups_api>([](std::int16_t v) {
        gregor::test::require_truncations_fail<list_groups::request>(encode_bytes(sample_list_request(), v), v);
        gregor::test::require_truncations_fail<list_groups::response>(encode_bytes(sample_list_response(), v), v);
    });
    for_each_version<describe_groups_api>([](std::int16_t v) {
        gregor::test::require_truncations_fail<describe_groups::request>(encode_bytes(sample_describe_request(), v), v);
        gregor::test::require_truncations_fail<describe_groups::response>(encode_bytes(sample_describe_response(), v), v);
    });
    for_each_version<delete_groups_api>([](std::int16_t v) {
        gregor::test::require_truncations_fail<delete_groups::request>(encode_bytes(delete_groups::request{{"a", "b"}}, v), v);
        gregor::test::require_truncations_fail<delete_groups::response>(encode_bytes(sample_delete_groups_response(), v), v);
    });
    for_each_version<offset_delete_api>([](std::int16_t v) {
        gregor::test::require_truncations_fail<offset_delete::request>(encode_bytes(sample_offset_delete_request(), v), v);
        gregor::test::require_truncations_fail<offset_delete::response>(encode_bytes(sample_offset_delete_response(), v), v);
    });
}

TEST_CASE("group offset and admin messages travel in frames with the right header", "[wire_group_admin]") {
    // OffsetDelete is never flexible: request header v1 (client id, no tag section).
    byte_buffer out;
    offset_delete::request req;
    req.group_id = "g";
    encode_request_frame(out, 0, 7, "c", req);
    CHECK(hex(out.view()) == hex(bytes_view{from_hex("00000012"                   // size: 11 + 7
                                                     "002f 0000 00000007 0001 63" // header v1
                                                     "0001 67 00000000")}));
    // ListGroups v3 is flexible: response header v1 (an empty tag section after the id).
    byte_buffer resp_out;
    encode_response_frame(resp_out, 3, 9, list_groups::response{});
    CHECK(hex(resp_out.view()) == hex(bytes_view{from_hex("0000000d"    // size: 5 + 8
                                                          "00000009 00" // header v1
                                                          "00000000 0000 01 00")}));
    // OffsetFetch v6 is flexible: request header v2.
    byte_buffer fetch_out;
    offset_fetch::request fetch;
    fetch.group_id = "g";
    fetch.topics = std::nullopt;
    encode_request_frame(fetch_out, 6, 1, "c", fetch);
    CHECK(hex(fetch_out.view()) == hex(bytes_view{from_hex("00000010"                      // size: 12 + 4
                                                           "0009 0006 00000001 0001 63 00" // header v2
                                                           "02 67 00 00")}));
}
