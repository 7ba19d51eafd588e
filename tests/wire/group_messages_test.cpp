// The codecs of the classic consumer-group APIs (docs/protocol.md §16): JoinGroup, SyncGroup,
// Heartbeat and LeaveGroup. Every message with every field set, round-tripped at every version
// Kafka 3.9 serves (fields a version lacks come back as their defaults); nullable strings keeping
// null and "" apart; byte-exact encodings assembled by hand from the schemas, classic and
// flexible, decoded back field by field; every truncation failing; unknown tagged fields skipped
// at every level; and the version rules particular to these APIs (JoinGroup's protocol name that
// only v7+ may leave null, LeaveGroup's single member before v3 and member list from v3).
#include "message_test_util.hpp"

#include <gregor/wire/api.hpp>
#include <gregor/wire/header.hpp>
#include <gregor/wire/messages/heartbeat.hpp>
#include <gregor/wire/messages/join_group.hpp>
#include <gregor/wire/messages/leave_group.hpp>
#include <gregor/wire/messages/sync_group.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

using namespace gregor;
using namespace gregor::wire;
using namespace std::string_view_literals;
using gregor::test::encode_bytes;
using gregor::test::for_each_version;
using gregor::test::from_hex;
using gregor::test::hex;
using gregor::test::round_trip;
using gregor::test::encoded_hex;
using gregor::test::check_layout;
using gregor::test::decode_all;
using gregor::test::check_api;
using gregor::test::str_hex;

namespace {

using opt_string = std::optional<std::string_view>;
opt_string sv(const char* s) { return std::string_view{s}; }
const opt_string null_string{};

/// Two metadata/assignment bytes, 00 01 (a NUL first, so nothing treats them as a C string).
constexpr std::array<std::byte, 2> two_bytes{std::byte{0x00}, std::byte{0x01}};
bytes_view blob() { return bytes_view{two_bytes}; }
std::string text(bytes_view b) { return std::string(as_string_view(b)); }

// Samples with every field of every version away from its default.
join_group::request sample_join_request() {
    join_group::request req;
    req.group_id = "group-1";
    req.session_timeout_ms = 45000;
    req.rebalance_timeout_ms = 300000;
    req.member_id = "m-1";
    req.group_instance_id = "i-1";
    req.protocol_type = "consumer";
    req.protocols = {{"range", blob()}, {"roundrobin", as_bytes("rr-meta")}};
    req.reason = "rebalance needed";
    return req;
}
join_group::response sample_join_response() {
    join_group::response resp;
    resp.throttle_time_ms = 7;
    resp.error_code = error_code::none;
    resp.generation_id = 3;
    resp.protocol_type = "consumer";
    resp.protocol_name = "range";
    resp.leader = "m-1";
    resp.skip_assignment = true;
    resp.member_id = "m-2";
    resp.members = {{"m-1", sv("i-1"), blob()}, {"m-2", null_string, as_bytes("meta-2")}};
    return resp;
}

sync_group::request sample_sync_request() {
    sync_group::request req;
    req.group_id = "group-1";
    req.generation_id = 5;
    req.member_id = "m-1";
    req.group_instance_id = "i-1";
    req.protocol_type = "consumer";
    req.protocol_name = "range";
    req.assignments = {{"m-1", blob()}, {"m-2", bytes_view{}}};
    return req;
}
sync_group::response sample_sync_response() {
    sync_group::response resp;
    resp.throttle_time_ms = 9;
    resp.error_code = error_code::rebalance_in_progress;
    resp.protocol_type = "consumer";
    resp.protocol_name = "range";
    resp.assignment = as_bytes("assignment-1");
    return resp;
}

heartbeat::request sample_heartbeat_request() {
    heartbeat::request req;
    req.group_id = "group-1";
    req.generation_id = 5;
    req.member_id = "m-1";
    req.group_instance_id = "i-1";
    return req;
}

leave_group::request sample_leave_request() {
    leave_group::request req;
    req.group_id = "group-1";
    req.member_id = "m-1";
    req.members = {{"m-1", sv("i-1"), sv("closing")}, {"", sv("i-2"), null_string}};
    return req;
}
leave_group::response sample_leave_response() {
    leave_group::response resp;
    resp.throttle_time_ms = 6;
    resp.error_code = error_code::none;
    resp.members = {{"m-1", sv("i-1"), error_code::none}, {"", sv("i-2"), error_code::unknown_member_id}};
    return resp;
}

} // namespace

// Generic clients find each request's answer type.
static_assert(std::is_same_v<join_group::request::response_type, join_group::response>);
static_assert(std::is_same_v<sync_group::request::response_type, sync_group::response>);
static_assert(std::is_same_v<heartbeat::request::response_type, heartbeat::response>);
static_assert(std::is_same_v<leave_group::request::response_type, leave_group::response>);

// ---------------------------------------------------------------------------------------------
// Keys, names and ranges.

TEST_CASE("group APIs carry Kafka's keys, names, Kafka 3.9's versions and flexible versions", "[wire_groups]") {
    check_api<join_group_api>(11, "JoinGroup", {0, 9}, 6);
    check_api<heartbeat_api>(12, "Heartbeat", {0, 4}, 4);
    check_api<leave_group_api>(13, "LeaveGroup", {0, 5}, 4);
    check_api<sync_group_api>(14, "SyncGroup", {0, 5}, 4);
    // Header versions follow the flexible versions.
    CHECK(request_header_version(api_key::join_group, 5) == 1);
    CHECK(request_header_version(api_key::join_group, 6) == 2);
    CHECK(response_header_version(api_key::join_group, 5) == 0);
    CHECK(response_header_version(api_key::join_group, 6) == 1);
    for (const auto k : {api_key::heartbeat, api_key::leave_group, api_key::sync_group}) {
        CHECK(request_header_version(k, 3) == 1);
        CHECK(request_header_version(k, 4) == 2);
        CHECK(response_header_version(k, 3) == 0);
        CHECK(response_header_version(k, 4) == 1);
    }
}

TEST_CASE("group messages refuse versions Kafka 3.9 does not serve", "[wire_groups]") {
    const auto any = from_hex("00000000 00000000 00000000 00000000 00000000 00000000");
    const auto refuses = [&](auto tag, std::int16_t version) {
        using M = typename decltype(tag)::type;
        byte_reader r(bytes_view{any});
        const bool refused = !M::decode(r, version).has_value();
        return refused && !r.ok();
    };
    CHECK(refuses(std::type_identity<join_group::request>{}, 10));
    CHECK(refuses(std::type_identity<join_group::response>{}, -1));
    CHECK(refuses(std::type_identity<sync_group::request>{}, 6));
    CHECK(refuses(std::type_identity<sync_group::response>{}, 6));
    CHECK(refuses(std::type_identity<heartbeat::request>{}, 5));
    CHECK(refuses(std::type_identity<heartbeat::response>{}, -1));
    CHECK(refuses(std::type_identity<leave_group::request>{}, 6));
    CHECK(refuses(std::type_identity<leave_group::response>{}, 6));
    byte_buffer b;
    byte_writer w(b);
    CHECK_THROWS_AS(join_group::request{}.encode(w, 10), std::invalid_argument);
    CHECK_THROWS_AS(join_group::response{}.encode(w, -1), std::invalid_argument);
    CHECK_THROWS_AS(sync_group::request{}.encode(w, 6), std::invalid_argument);
    CHECK_THROWS_AS(heartbeat::response{}.encode(w, 5), std::invalid_argument);
    CHECK_THROWS_AS(leave_group::request{}.encode(w, 6), std::invalid_argument);
}

// ---------------------------------------------------------------------------------------------
// Every field at every version.

TEST_CASE("JoinGroup round-trips every field at every version", "[wire_groups]") {
    for_each_version<join_group_api>([](std::int16_t v) {
        const auto d = round_trip(sample_join_request(), v);
        CHECK(d.msg.group_id == "group-1");
        CHECK(d.msg.session_timeout_ms == 45000);
        CHECK(d.msg.rebalance_timeout_ms == (v >= 1 ? 300000 : -1));
        CHECK(d.msg.member_id == "m-1");
        CHECK(d.msg.group_instance_id == (v >= 5 ? sv("i-1") : null_string));
        CHECK(d.msg.protocol_type == "consumer");
        REQUIRE(d.msg.protocols.size() == 2);
        CHECK(d.msg.protocols[0].name == "range");
        CHECK(text(d.msg.protocols[0].metadata) == "\x00\x01"sv);
        CHECK(d.msg.protocols[1].name == "roundrobin");
        CHECK(text(d.msg.protocols[1].metadata) == "rr-meta");
        CHECK(d.msg.reason == (v >= 8 ? sv("rebalance needed") : null_string));

        const auto r = round_trip(sample_join_response(), v);
        CHECK(r.msg.throttle_time_ms == (v >= 2 ? 7 : 0));
        CHECK(r.msg.error_code == error_code::none);
        CHECK(r.msg.generation_id == 3);
        CHECK(r.msg.protocol_type == (v >= 7 ? sv("consumer") : null_string));
        CHECK(r.msg.protocol_name == "range");
        CHECK(r.msg.leader == "m-1");
        CHECK(r.msg.skip_assignment == (v >= 9));
        CHECK(r.msg.member_id == "m-2");
        REQUIRE(r.msg.members.size() == 2);
        CHECK(r.msg.members[0].member_id == "m-1");
        CHECK(r.msg.members[0].group_instance_id == (v >= 5 ? sv("i-1") : null_string));
        CHECK(text(r.msg.members[0].metadata) == "\x00\x01"sv);
        CHECK(r.msg.members[1].member_id == "m-2");
        CHECK_FALSE(r.msg.members[1].group_instance_id);
        CHECK(text(r.msg.members[1].metadata) == "meta-2");
    });
    // The schema's defaults.
    const join_group::request req;
    CHECK(req.rebalance_timeout_ms == -1);
    CHECK_FALSE(req.group_instance_id);
    CHECK_FALSE(req.reason);
    const join_group::response resp;
    CHECK(resp.generation_id == join_group::no_generation);
    CHECK(resp.generation_id == -1);
    CHECK_FALSE(resp.protocol_type);
    CHECK(resp.protocol_name.data() == nullptr);
    CHECK_FALSE(resp.skip_assignment);
}

TEST_CASE("JoinGroup keeps null and empty strings apart where they are nullable", "[wire_groups]") {
    for_each_version<join_group_api>([](std::int16_t v) {
        auto req = sample_join_request();
        req.group_instance_id = ""sv;
        req.reason = ""sv;
        req.member_id = "";
        req.protocols.clear();
        const auto empty = round_trip(req, v);
        CHECK(empty.msg.group_instance_id == (v >= 5 ? sv("") : null_string));
        CHECK(empty.msg.reason == (v >= 8 ? sv("") : null_string));
        CHECK(empty.msg.member_id.empty());
        CHECK(empty.msg.protocols.empty());
        req.group_instance_id = std::nullopt;
        req.reason = std::nullopt;
        const auto null = round_trip(req, v);
        CHECK_FALSE(null.msg.group_instance_id);
        CHECK_FALSE(null.msg.reason);

        auto resp = sample_join_response();
        resp.protocol_type = ""sv;
        resp.protocol_name = ""sv; // non-null, empty
        resp.members[0].group_instance_id = ""sv;
        const auto r_empty = round_trip(resp, v);
        CHECK(r_empty.msg.protocol_type == (v >= 7 ? sv("") : null_string));
        CHECK(r_empty.msg.protocol_name.empty());
        CHECK(r_empty.msg.protocol_name.data() != nullptr);
        CHECK(r_empty.msg.members[0].group_instance_id == (v >= 5 ? sv("") : null_string));

        resp.protocol_type = std::nullopt;
        resp.protocol_name = std::string_view{}; // null
        const auto r_null = round_trip(resp, v);
        CHECK_FALSE(r_null.msg.protocol_type);
        CHECK(r_null.msg.protocol_name.empty());
        // Only v7+ can say null; older versions carry "" (Kafka's answer when there is no protocol).
        CHECK((r_null.msg.protocol_name.data() == nullptr) == (v >= 7));
    });
}

TEST_CASE("SyncGroup round-trips every field at every version", "[wire_groups]") {
    for_each_version<sync_group_api>([](std::int16_t v) {
        const auto d = round_trip(sample_sync_request(), v);
        CHECK(d.msg.group_id == "group-1");
        CHECK(d.msg.generation_id == 5);
        CHECK(d.msg.member_id == "m-1");
        CHECK(d.msg.group_instance_id == (v >= 3 ? sv("i-1") : null_string));
        CHECK(d.msg.protocol_type == (v >= 5 ? sv("consumer") : null_string));
        CHECK(d.msg.protocol_name == (v >= 5 ? sv("range") : null_string));
        REQUIRE(d.msg.assignments.size() == 2);
        CHECK(d.msg.assignments[0].member_id == "m-1");
        CHECK(text(d.msg.assignments[0].assignment) == "\x00\x01"sv);
        CHECK(d.msg.assignments[1].member_id == "m-2");
        CHECK(d.msg.assignments[1].assignment.empty());

        const auto r = round_trip(sample_sync_response(), v);
        CHECK(r.msg.throttle_time_ms == (v >= 1 ? 9 : 0));
        CHECK(r.msg.error_code == error_code::rebalance_in_progress);
        CHECK(r.msg.protocol_type == (v >= 5 ? sv("consumer") : null_string));
        CHECK(r.msg.protocol_name == (v >= 5 ? sv("range") : null_string));
        CHECK(text(r.msg.assignment) == "assignment-1");

        // Null and "" stay apart where the version has the field.
        auto req = sample_sync_request();
        req.group_instance_id = ""sv;
        req.protocol_type = ""sv;
        req.protocol_name = std::nullopt;
        const auto e = round_trip(req, v);
        CHECK(e.msg.group_instance_id == (v >= 3 ? sv("") : null_string));
        CHECK(e.msg.protocol_type == (v >= 5 ? sv("") : null_string));
        CHECK_FALSE(e.msg.protocol_name);
        auto resp = sample_sync_response();
        resp.protocol_type = std::nullopt;
        resp.protocol_name = ""sv;
        const auto re = round_trip(resp, v);
        CHECK_FALSE(re.msg.protocol_type);
        CHECK(re.msg.protocol_name == (v >= 5 ? sv("") : null_string));
    });
    const sync_group::request req;
    CHECK_FALSE(req.group_instance_id);
    CHECK_FALSE(req.protocol_type);
    CHECK_FALSE(req.protocol_name);
}

TEST_CASE("Heartbeat round-trips every field at every version", "[wire_groups]") {
    for_each_version<heartbeat_api>([](std::int16_t v) {
        const auto d = round_trip(sample_heartbeat_request(), v);
        CHECK(d.msg.group_id == "group-1");
        CHECK(d.msg.generation_id == 5);
        CHECK(d.msg.member_id == "m-1");
        CHECK(d.msg.group_instance_id == (v >= 3 ? sv("i-1") : null_string));

        auto empty = sample_heartbeat_request();
        empty.group_instance_id = ""sv;
        CHECK(round_trip(empty, v).msg.group_instance_id == (v >= 3 ? sv("") : null_string));

        const auto r = round_trip(heartbeat::response{4, error_code::rebalance_in_progress}, v);
        CHECK(r.msg.throttle_time_ms == (v >= 1 ? 4 : 0));
        CHECK(r.msg.error_code == error_code::rebalance_in_progress);
    });
}

TEST_CASE("LeaveGroup round-trips every field at every version", "[wire_groups]") {
    for_each_version<leave_group_api>([](std::int16_t v) {
        const auto d = round_trip(sample_leave_request(), v);
        CHECK(d.msg.group_id == "group-1");
        if (v <= 2) {
            CHECK(d.msg.member_id == "m-1");
            CHECK(d.msg.members.empty());
        } else {
            CHECK(d.msg.member_id.empty());
            REQUIRE(d.msg.members.size() == 2);
            CHECK(d.msg.members[0].member_id == "m-1");
            CHECK(d.msg.members[0].group_instance_id == sv("i-1"));
            CHECK(d.msg.members[0].reason == (v >= 5 ? sv("closing") : null_string));
            CHECK(d.msg.members[1].member_id.empty());
            CHECK(d.msg.members[1].group_instance_id == sv("i-2"));
            CHECK_FALSE(d.msg.members[1].reason);
        }

        const auto r = round_trip(sample_leave_response(), v);
        CHECK(r.msg.throttle_time_ms == (v >= 1 ? 6 : 0));
        CHECK(r.msg.error_code == error_code::none);
        if (v <= 2) {
            CHECK(r.msg.members.empty());
        } else {
            REQUIRE(r.msg.members.size() == 2);
            CHECK(r.msg.members[0].member_id == "m-1");
            CHECK(r.msg.members[0].group_instance_id == sv("i-1"));
            CHECK(r.msg.members[0].error_code == error_code::none);
            CHECK(r.msg.members[1].member_id.empty());
            CHECK(r.msg.members[1].group_instance_id == sv("i-2"));
            CHECK(r.msg.members[1].error_code == error_code::unknown_member_id);
        }

        // Null and "" stay apart in the member identities.
        leave_group::request req;
        req.group_id = "g";
        req.members = {{"m", ""sv, ""sv}, {"n", null_string, null_string}};
        const auto e = round_trip(req, v);
        if (v >= 3) {
            CHECK(e.msg.members[0].group_instance_id == sv(""));
            CHECK(e.msg.members[0].reason == (v >= 5 ? sv("") : null_string));
            CHECK_FALSE(e.msg.members[1].group_instance_id);
            CHECK_FALSE(e.msg.members[1].reason);
        }
        leave_group::response resp;
        resp.members = {{"m", ""sv, error_code::none}, {"n", null_string, error_code::none}};
        const auto re = round_trip(resp, v);
        if (v >= 3) {
            CHECK(re.msg.members[0].group_instance_id == sv(""));
            CHECK_FALSE(re.msg.members[1].group_instance_id);
        }
    });
}

TEST_CASE("LeaveGroup: v0-2 carry only member_id, v3+ only members", "[wire_groups]") {
    const auto req = sample_leave_request();
    auto other = req;
    other.members.push_back({"m-3", null_string, null_string});
    for (std::int16_t v = 0; v <= 2; ++v) CHECK(encoded_hex(other, v) == encoded_hex(req, v));
    for (std::int16_t v = 3; v <= 5; ++v) CHECK(encoded_hex(other, v) != encoded_hex(req, v));
    other = req;
    other.member_id = "someone-else";
    for (std::int16_t v = 0; v <= 2; ++v) CHECK(encoded_hex(other, v) != encoded_hex(req, v));
    for (std::int16_t v = 3; v <= 5; ++v) CHECK(encoded_hex(other, v) == encoded_hex(req, v));
    // The reason exists from v5 only.
    other = req;
    other.members[0].reason = "another reason";
    CHECK(encoded_hex(other, 4) == encoded_hex(req, 4));
    CHECK(encoded_hex(other, 5) != encoded_hex(req, 5));
}

// ---------------------------------------------------------------------------------------------
// Byte-exact encodings, assembled by hand from the schemas.

TEST_CASE("JoinGroup requests v9 (flexible), v5 and v0 (classic) are byte exact", "[wire_groups]") {
    join_group::request req;
    req.group_id = "g";
    req.session_timeout_ms = 10000;
    req.rebalance_timeout_ms = 60000;
    req.member_id = "";
    req.group_instance_id = std::nullopt;
    req.protocol_type = "consumer";
    req.protocols = {{"range", blob()}};
    req.reason = "x";
    auto d = check_layout(req, 9,
                          "02 67"    // group_id "g": compact string, 1 + 1
                          "00002710" // session_timeout_ms 10000
                          "0000ea60" // rebalance_timeout_ms 60000
                          "01"       // member_id ""
                          "00"       // group_instance_id: null
                          "09" +
                              str_hex("consumer") + // protocol_type: 8 + 1
                              "02"                  // protocols: 1 + 1
                              "06 72616e6765"       // name "range"
                              "03 0001"             // metadata: 2 + 1 bytes
                              "00"                  // protocol tags
                              "02 78"               // reason "x" (v8+)
                              "00");                // top-level tags
    CHECK(d.msg.group_id == "g");
    CHECK(d.msg.session_timeout_ms == 10000);
    CHECK(d.msg.rebalance_timeout_ms == 60000);
    CHECK(d.msg.member_id.empty());
    CHECK_FALSE(d.msg.group_instance_id);
    CHECK(d.msg.protocol_type == "consumer");
    REQUIRE(d.msg.protocols.size() == 1);
    CHECK(d.msg.protocols[0].name == "range");
    CHECK(text(d.msg.protocols[0].metadata) == "\x00\x01"sv);
    CHECK(d.msg.reason == sv("x"));

    // v5: the same without the reason, with classic lengths; a static member.
    req.member_id = "m-1";
    req.group_instance_id = "i-1";
    d = check_layout(req, 5,
                     "0001 67"     // group_id: int16 length
                     "00002710"    // session_timeout_ms
                     "0000ea60"    // rebalance_timeout_ms (v1+)
                     "0003 6d2d31" // member_id "m-1"
                     "0003 692d31" // group_instance_id "i-1" (v5+)
                     "0008" +
                         str_hex("consumer") + // protocol_type
                         "00000001"            // protocols: int32 count
                         "0005 72616e6765"     // name
                         "00000002 0001");     // metadata: int32 length
    CHECK(d.msg.member_id == "m-1");
    CHECK(d.msg.group_instance_id == sv("i-1"));
    CHECK_FALSE(d.msg.reason);

    // v0: no rebalance timeout, no instance id.
    d = check_layout(
        req, 0, "0001 67 00002710 0003 6d2d31 0008" + str_hex("consumer") + "00000001 0005 72616e6765 00000002 0001");
    CHECK(d.msg.rebalance_timeout_ms == -1);
    CHECK_FALSE(d.msg.group_instance_id);
    CHECK(text(d.msg.protocols[0].metadata) == "\x00\x01"sv);
}

TEST_CASE("JoinGroup responses v9 and v7/v6 (flexible), v5 and v1 (classic) are byte exact", "[wire_groups]") {
    // The leader's answer.
    join_group::response resp;
    resp.throttle_time_ms = 0;
    resp.error_code = error_code::none;
    resp.generation_id = 1;
    resp.protocol_type = "consumer";
    resp.protocol_name = "range";
    resp.leader = "m";
    resp.skip_assignment = true;
    resp.member_id = "m";
    resp.members = {{"m", sv("i-1"), blob()}};
    auto d = check_layout(resp, 9,
                          "00000000" // throttle_time_ms
                          "0000"     // error_code
                          "00000001" // generation_id
                          "09" +
                              str_hex("consumer") + // protocol_type (v7+)
                              "06 72616e6765"       // protocol_name "range"
                              "02 6d"               // leader "m"
                              "01"                  // skip_assignment (v9+)
                              "02 6d"               // member_id "m"
                              "02"                  // members: 1 + 1
                              "02 6d"               // member_id
                              "04 692d31"           // group_instance_id "i-1"
                              "03 0001"             // metadata
                              "00"                  // member tags
                              "00");                // top-level tags
    CHECK(d.msg.generation_id == 1);
    CHECK(d.msg.protocol_type == sv("consumer"));
    CHECK(d.msg.protocol_name == "range");
    CHECK(d.msg.leader == "m");
    CHECK(d.msg.skip_assignment);
    CHECK(d.msg.member_id == "m");
    REQUIRE(d.msg.members.size() == 1);
    CHECK(d.msg.members[0].member_id == "m");
    CHECK(d.msg.members[0].group_instance_id == sv("i-1"));
    CHECK(text(d.msg.members[0].metadata) == "\x00\x01"sv);

    d = check_layout(resp, 5,
                     "00000000"        // throttle_time_ms (v2+)
                     "0000"            // error_code
                     "00000001"        // generation_id
                     "0005 72616e6765" // protocol_name
                     "0001 6d"         // leader
                     "0001 6d"         // member_id
                     "00000001"        // members
                     "0001 6d"         // member_id
                     "0003 692d31"     // group_instance_id (v5+)
                     "00000002 0001"); // metadata
    CHECK_FALSE(d.msg.protocol_type);
    CHECK_FALSE(d.msg.skip_assignment);
    CHECK(d.msg.members[0].group_instance_id == sv("i-1"));

    // A first join answered MEMBER_ID_REQUIRED: everything but the error and the new id at its
    // default; v7+ say "no protocol" with nulls, v6 and older with "".
    join_group::response err;
    err.error_code = error_code::member_id_required;
    err.member_id = "m-1";
    auto e = check_layout(err, 7,
                          "00000000"  // throttle_time_ms
                          "004f"      // error_code 79
                          "ffffffff"  // generation_id -1
                          "00"        // protocol_type: null
                          "00"        // protocol_name: null
                          "01"        // leader ""
                          "04 6d2d31" // member_id "m-1"
                          "01"        // members: none
                          "00");
    CHECK(e.msg.error_code == error_code::member_id_required);
    CHECK(e.msg.generation_id == -1);
    CHECK_FALSE(e.msg.protocol_type);
    CHECK(e.msg.protocol_name.data() == nullptr);
    CHECK(e.msg.member_id == "m-1");
    CHECK(e.msg.members.empty());
    e = check_layout(err, 6, "00000000 004f ffffffff 01 01 04 6d2d31 01 00");
    CHECK(e.msg.protocol_name.data() != nullptr);
    CHECK(e.msg.protocol_name.empty());
    e = check_layout(err, 1,
                     "004f"        // error_code (no throttle before v2)
                     "ffffffff"    // generation_id
                     "0000"        // protocol_name ""
                     "0000"        // leader ""
                     "0003 6d2d31" // member_id
                     "00000000");  // members
    CHECK(e.msg.throttle_time_ms == 0);
    CHECK(e.msg.member_id == "m-1");
}

TEST_CASE("SyncGroup v5 (flexible), v4 and v3/v0 (classic) are byte exact", "[wire_groups]") {
    sync_group::request req;
    req.group_id = "g";
    req.generation_id = 1;
    req.member_id = "m";
    req.group_instance_id = std::nullopt;
    req.protocol_type = "consumer";
    req.protocol_name = "range";
    req.assignments = {{"m", blob()}};
    auto d = check_layout(req, 5,
                          "02 67"    // group_id
                          "00000001" // generation_id
                          "02 6d"    // member_id
                          "00"       // group_instance_id: null (v3+)
                          "09" +
                              str_hex("consumer") + // protocol_type (v5+)
                              "06 72616e6765"       // protocol_name (v5+)
                              "02"                  // assignments: 1 + 1
                              "02 6d"               // member_id
                              "03 0001"             // assignment
                              "00"                  // assignment tags
                              "00");                // top-level tags
    CHECK(d.msg.generation_id == 1);
    CHECK_FALSE(d.msg.group_instance_id);
    CHECK(d.msg.protocol_type == sv("consumer"));
    CHECK(d.msg.protocol_name == sv("range"));
    REQUIRE(d.msg.assignments.size() == 1);
    CHECK(d.msg.assignments[0].member_id == "m");
    CHECK(text(d.msg.assignments[0].assignment) == "\x00\x01"sv);
    check_layout(req, 4, "02 67 00000001 02 6d 00 02 02 6d 03 0001 00 00"); // no protocol fields

    req.group_instance_id = "i-1";
    d = check_layout(req, 3,
                     "0001 67"                 // group_id
                     "00000001"                // generation_id
                     "0001 6d"                 // member_id
                     "0003 692d31"             // group_instance_id (v3+)
                     "00000001"                // assignments
                     "0001 6d 00000002 0001"); // member_id, assignment
    CHECK(d.msg.group_instance_id == sv("i-1"));
    CHECK_FALSE(d.msg.protocol_type);
    d = check_layout(req, 0, "0001 67 00000001 0001 6d 00000001 0001 6d 00000002 0001");
    CHECK_FALSE(d.msg.group_instance_id);

    sync_group::response resp;
    resp.protocol_type = "consumer";
    resp.protocol_name = "range";
    resp.assignment = blob();
    auto r = check_layout(resp, 5,
                          "00000000" // throttle_time_ms
                          "0000"     // error_code
                          "09" +
                              str_hex("consumer") + // protocol_type
                              "06 72616e6765"       // protocol_name
                              "03 0001"             // assignment
                              "00");
    CHECK(r.msg.protocol_type == sv("consumer"));
    CHECK(text(r.msg.assignment) == "\x00\x01"sv);
    check_layout(resp, 4, "00000000 0000 03 0001 00");
    r = check_layout(resp, 0, "0000 00000002 0001"); // no throttle before v1
    CHECK(r.msg.throttle_time_ms == 0);
    CHECK_FALSE(r.msg.protocol_name);

    // An error answer with nothing known: nulls and an empty assignment.
    sync_group::response err;
    err.error_code = error_code::rebalance_in_progress;
    r = check_layout(err, 5, "00000000 001b 00 00 01 00");
    CHECK(r.msg.error_code == error_code::rebalance_in_progress);
    CHECK_FALSE(r.msg.protocol_type);
    CHECK_FALSE(r.msg.protocol_name);
    CHECK(r.msg.assignment.empty());
    check_layout(err, 2, "00000000 001b 00000000");
}

TEST_CASE("Heartbeat v4 (flexible), v3 and v0 (classic) are byte exact", "[wire_groups]") {
    heartbeat::request req;
    req.group_id = "g";
    req.generation_id = 1;
    req.member_id = "m";
    req.group_instance_id = "i-1";
    auto d = check_layout(req, 4,
                          "02 67"     // group_id
                          "00000001"  // generation_id
                          "02 6d"     // member_id
                          "04 692d31" // group_instance_id (v3+)
                          "00");      // tags
    CHECK(d.msg.group_id == "g");
    CHECK(d.msg.generation_id == 1);
    CHECK(d.msg.member_id == "m");
    CHECK(d.msg.group_instance_id == sv("i-1"));
    d = check_layout(req, 3, "0001 67 00000001 0001 6d 0003 692d31");
    CHECK(d.msg.group_instance_id == sv("i-1"));
    req.group_instance_id = std::nullopt;
    d = check_layout(req, 3, "0001 67 00000001 0001 6d ffff");
    CHECK_FALSE(d.msg.group_instance_id);
    check_layout(req, 4, "02 67 00000001 02 6d 00 00");
    req.group_instance_id = "i-1";
    d = check_layout(req, 0, "0001 67 00000001 0001 6d");
    CHECK_FALSE(d.msg.group_instance_id);

    const heartbeat::response resp{0, error_code::rebalance_in_progress};
    auto r = check_layout(resp, 4, "00000000 001b 00");
    CHECK(r.msg.error_code == error_code::rebalance_in_progress);
    check_layout(resp, 1, "00000000 001b");
    r = check_layout(heartbeat::response{3, error_code::illegal_generation}, 0, "0016");
    CHECK(r.msg.error_code == error_code::illegal_generation);
    CHECK(r.msg.throttle_time_ms == 0);
}

TEST_CASE("LeaveGroup v5 and v4 (flexible), v3 and v0 (classic) are byte exact", "[wire_groups]") {
    leave_group::request req;
    req.group_id = "g";
    req.member_id = "m";
    req.members = {{"m", null_string, sv("x")}, {"", sv("i-1"), null_string}};
    auto d = check_layout(req, 5,
                          "02 67"     // group_id
                          "03"        // members: 2 + 1
                          "02 6d"     // member_id "m"
                          "00"        // group_instance_id: null
                          "02 78"     // reason "x" (v5+)
                          "00"        // member tags
                          "01"        // member_id ""
                          "04 692d31" // group_instance_id "i-1"
                          "00"        // reason: null
                          "00"        // member tags
                          "00");      // top-level tags
    REQUIRE(d.msg.members.size() == 2);
    CHECK(d.msg.member_id.empty());
    CHECK(d.msg.members[0].member_id == "m");
    CHECK_FALSE(d.msg.members[0].group_instance_id);
    CHECK(d.msg.members[0].reason == sv("x"));
    CHECK(d.msg.members[1].member_id.empty());
    CHECK(d.msg.members[1].group_instance_id == sv("i-1"));
    CHECK_FALSE(d.msg.members[1].reason);
    d = check_layout(req, 4, "02 67 03 02 6d 00 00 01 04 692d31 00 00"); // no reasons
    CHECK_FALSE(d.msg.members[0].reason);
    d = check_layout(req, 3,
                     "0001 67"            // group_id
                     "00000002"           // members
                     "0001 6d ffff"       // "m", no instance id
                     "0000 0003 692d31"); // "", "i-1"
    CHECK(d.msg.members[1].group_instance_id == sv("i-1"));
    d = check_layout(req, 0, "0001 67 0001 6d"); // group_id, member_id
    CHECK(d.msg.member_id == "m");
    CHECK(d.msg.members.empty());

    leave_group::response resp;
    resp.members = {{"m", null_string, error_code::none}, {"", sv("i-1"), error_code::unknown_member_id}};
    auto r = check_layout(resp, 5,
                          "00000000"     // throttle_time_ms
                          "0000"         // error_code
                          "03"           // members: 2 + 1
                          "02 6d 00"     // "m", null instance id
                          "0000 00"      // error_code, tags
                          "01 04 692d31" // "", "i-1"
                          "0019 00"      // UNKNOWN_MEMBER_ID, tags
                          "00");
    REQUIRE(r.msg.members.size() == 2);
    CHECK(r.msg.members[1].error_code == error_code::unknown_member_id);
    CHECK(r.msg.members[1].group_instance_id == sv("i-1"));
    check_layout(resp, 4, "00000000 0000 03 02 6d 00 0000 00 01 04 692d31 0019 00 00");
    r = check_layout(resp, 3, "00000000 0000 00000002 0001 6d ffff 0000 0000 0003 692d31 0019");
    CHECK_FALSE(r.msg.members[0].group_instance_id);
    // Before v3 the answer is one error code: the single member's when the whole request is fine.
    leave_group::response single;
    single.error_code = error_code::unknown_member_id;
    r = check_layout(single, 0, "0019");
    CHECK(r.msg.error_code == error_code::unknown_member_id);
    check_layout(single, 2, "00000000 0019");
}

// ---------------------------------------------------------------------------------------------
// Tagged fields, malformed input, truncation, frames.

TEST_CASE("group messages skip unknown tagged fields at every level", "[wire_groups]") {
    // JoinGroup v9 request: a tag in the protocol entry and two at the top level.
    auto join = decode_all<join_group::request>("02 67 00002710 0000ea60 01 00 09" + str_hex("consumer") +
                                                    "02 06 72616e6765 03 0001"
                                                    "01 05 02 abcd" // protocol tags: tag 5, 2 bytes
                                                    "02 78"
                                                    "02 00 01 ff 21 00", // tag 0 (1 byte), tag 33 (empty)
                                                9);
    REQUIRE(join);
    REQUIRE(join->msg.protocols.size() == 1);
    CHECK(join->msg.protocols[0].name == "range");
    CHECK(text(join->msg.protocols[0].metadata) == "\x00\x01"sv);
    CHECK(join->msg.reason == sv("x"));
    // Re-encoding drops what was not understood.
    CHECK(encoded_hex(join->msg, 9) ==
          hex(bytes_view{from_hex("02 67 00002710 0000ea60 01 00 09" + str_hex("consumer") +
                                  "02 06 72616e6765 03 0001 00 02 78 00")}));

    // JoinGroup v6 response: a tag in the member entry.
    const auto jr = decode_all<join_group::response>("00000000 0000 00000001 06 72616e6765 02 6d 02 6d"
                                                     "02 02 6d 00 03 0001 01 00 03 616263" // member: tag 0, "abc"
                                                     "00",
                                                     6);
    REQUIRE(jr);
    REQUIRE(jr->msg.members.size() == 1);
    CHECK(jr->msg.members[0].member_id == "m");
    CHECK(text(jr->msg.members[0].metadata) == "\x00\x01"sv);

    // SyncGroup v4 request: a tag in the assignment entry; response: a top-level tag.
    const auto sr = decode_all<sync_group::request>("02 67 00000001 02 6d 00 02 02 6d 03 0001 01 07 01 00 00", 4);
    REQUIRE(sr);
    CHECK(sr->msg.assignments.size() == 1);
    CHECK(text(sr->msg.assignments[0].assignment) == "\x00\x01"sv);
    const auto sresp = decode_all<sync_group::response>("00000000 0000 03 0001 01 0a 02 ffff", 4);
    REQUIRE(sresp);
    CHECK(text(sresp->msg.assignment) == "\x00\x01"sv);

    // Heartbeat v4: tags at the top level of both messages.
    const auto hb = decode_all<heartbeat::request>("02 67 00000001 02 6d 00 01 00 01 00", 4);
    REQUIRE(hb);
    CHECK(hb->msg.member_id == "m");
    const auto hbr = decode_all<heartbeat::response>("00000000 001b 01 63 00", 4);
    REQUIRE(hbr);
    CHECK(hbr->msg.error_code == error_code::rebalance_in_progress);

    // LeaveGroup v5: a tag in the member identity; response: a tag in the member result.
    const auto lg = decode_all<leave_group::request>("02 67 02 02 6d 00 02 78 01 01 01 ee 00", 5);
    REQUIRE(lg);
    REQUIRE(lg->msg.members.size() == 1);
    CHECK(lg->msg.members[0].reason == sv("x"));
    const auto lgr = decode_all<leave_group::response>("00000000 0000 02 02 6d 00 0019 01 02 00 00", 5);
    REQUIRE(lgr);
    REQUIRE(lgr->msg.members.size() == 1);
    CHECK(lgr->msg.members[0].error_code == error_code::unknown_member_id);

    // A tag whose size runs past the end fails.
    CHECK_FALSE(decode_all<heartbeat::request>("02 67 00000001 02 6d 00 01 00 05 00", 4));
}

TEST_CASE("group messages reject nulls where the schema has none, and impossible counts", "[wire_groups]") {
    // Null group_id (classic and compact).
    CHECK_FALSE(decode_all<heartbeat::request>("ffff 00000001 0001 6d", 0));
    CHECK_FALSE(decode_all<heartbeat::request>("00 00000001 02 6d 00 00", 4));
    // Null member_id in a v0 LeaveGroup; null member list in v3.
    CHECK_FALSE(decode_all<leave_group::request>("0001 67 ffff", 0));
    CHECK_FALSE(decode_all<leave_group::request>("0001 67 ffffffff", 3));
    // JoinGroup v5: null protocols array; null metadata bytes.
    const std::string head = "0001 67 00002710 0000ea60 0000 ffff 0008" + str_hex("consumer");
    CHECK(decode_all<join_group::request>(head + "00000000", 5));
    CHECK_FALSE(decode_all<join_group::request>(head + "ffffffff", 5));
    CHECK_FALSE(decode_all<join_group::request>(head + "00000001 0001 72 ffffffff", 5));
    // Compact null bytes (length 0) for a SyncGroup v4 assignment.
    CHECK_FALSE(decode_all<sync_group::response>("00000000 0000 00 00", 4));
    // JoinGroup v6 response with a null protocol_name (only v7+ allow it).
    CHECK_FALSE(decode_all<join_group::response>("00000000 0000 00000001 00 01 01 01 00", 6));
    CHECK(decode_all<join_group::response>("00000000 0000 00000001 00 00 01 01 01 00", 7));
    // A member count no frame of this size could hold fails before allocating.
    CHECK_FALSE(decode_all<join_group::response>("0000 00000001 0000 0000 0000 7fffffff", 1));
    CHECK_FALSE(decode_all<leave_group::response>("00000000 0000 ffffff7f 00", 4));
}

TEST_CASE("every truncation of every group message fails at every version", "[wire_groups]") {
    // round_trip checks this too; here explicitly, with the full samples and the decoder's
    // return value.
    for_each_version<join_group_api>([](std::int16_t v) {
        gregor::test::require_truncations_fail<join_group::request>(encode_bytes(sample_join_request(), v), v);
        gregor::test::require_truncations_fail<join_group::response>(encode_bytes(sample_join_response(), v), v);
    });
    for_each_version<sync_group_api>([](std::int16_t v) {
        gregor::test::require_truncations_fail<sync_group::request>(encode_bytes(sample_sync_request(), v), v);
        gregor::test::require_truncations_fail<sync_group::response>(encode_bytes(sample_sync_response(), v), v);
    });
    for_each_version<heartbeat_api>([](std::int16_t v) {
        gregor::test::require_truncations_fail<heartbeat::request>(encode_bytes(sample_heartbeat_request(), v), v);
        gregor::test::require_truncations_fail<heartbeat::response>(encode_bytes(heartbeat::response{}, v), v);
    });
    for_each_version<leave_group_api>([](std::int16_t v) {
        gregor::test::require_truncations_fail<leave_group::request>(encode_bytes(sample_leave_request(), v), v);
        gregor::test::require_truncations_fail<leave_group::response>(encode_bytes(sample_leave_response(), v), v);
    });
}

TEST_CASE("group messages travel in frames with the right header", "[wire_groups]") {
    heartbeat::request req;
    req.group_id = "g";
    req.generation_id = 1;
    req.member_id = "m";
    // Heartbeat v4 is flexible: request header v2 (client id, then an empty tag section).
    byte_buffer out;
    encode_request_frame(out, 4, 7, "c", req);
    CHECK(hex(out.view()) == hex(bytes_view{from_hex("00000016"                      // size: 12 + 10
                                                     "000c 0004 00000007 0001 63 00" // header v2
                                                     "02 67 00000001 02 6d 00 00")}));
    // v3 is classic: request header v1.
    byte_buffer out3;
    encode_request_frame(out3, 3, 7, "c", req);
    CHECK(hex(out3.view()) == hex(bytes_view{from_hex("00000017"                   // size: 11 + 12
                                                      "000c 0003 00000007 0001 63" // header v1
                                                      "0001 67 00000001 0001 6d ffff")}));
    // Responses: header v1 (with tags) from v4, v0 before.
    byte_buffer r4;
    encode_response_frame(r4, 4, 7, heartbeat::response{});
    CHECK(hex(r4.view()) == hex(bytes_view{from_hex("0000000c 00000007 00 00000000 0000 00")}));
    byte_buffer r3;
    encode_response_frame(r3, 3, 7, heartbeat::response{});
    CHECK(hex(r3.view()) == hex(bytes_view{from_hex("0000000a 00000007 00000000 0000")}));
    // JoinGroup switches at v6.
    byte_buffer j6;
    encode_response_frame(j6, 6, 9, join_group::response{});
    const auto frame = test::to_vec(j6.view());
    CHECK(hex(bytes_view{frame}) ==
          hex(bytes_view{from_hex("00000014 00000009 00 00000000 0000 ffffffff 01 01 01 01 00")}));
}
