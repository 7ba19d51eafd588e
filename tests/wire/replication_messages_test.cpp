// The codecs of the APIs between the brokers of a cluster and its controller (docs/protocol.md
// §14.11): OffsetForLeaderEpoch, AlterPartition, BrokerRegistration and BrokerHeartbeat. Every
// message with every field set, round-tripped at every version Kafka 3.9 serves (fields a version
// lacks come back as their defaults); byte-exact encodings assembled by hand from the schemas,
// classic and flexible, decoded back field by field; every truncation failing; and the version
// rules particular to these APIs (AlterPartition's ISR with broker epochs, BrokerRegistration's
// features, BrokerHeartbeat's tagged offline log dirs).
#include "message_test_util.hpp"

#include <gregor/wire/api.hpp>
#include <gregor/wire/header.hpp>
#include <gregor/wire/messages/alter_partition.hpp>
#include <gregor/wire/messages/broker_heartbeat.hpp>
#include <gregor/wire/messages/broker_registration.hpp>
#include <gregor/wire/messages/offset_for_leader_epoch.hpp>

#include <catch2/catch.hpp>

#include <string>
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

namespace {

wire::uuid repl_uuid_of(std::uint8_t last) {
    wire::uuid u;
    u.bytes[0] = std::byte{0xb0};
    u.bytes[15] = std::byte{last};
    return u;
}
std::string repl_uuid_hex(std::uint8_t last) { return hex(bytes_view{repl_uuid_of(last).bytes}); }

// Samples with every field of every version away from its default.
offset_for_leader_epoch::request sample_ofle_request() {
    offset_for_leader_epoch::request req;
    req.replica_id = node_id{3};
    req.topics = {
        {"orders",
         {{partition_id{0}, leader_epoch{7}, leader_epoch{5}}, {partition_id{4}, leader_epoch{7}, leader_epoch{6}}}},
        {"audit", {{partition_id{1}, leader_epoch{2}, leader_epoch{1}}}}};
    return req;
}
offset_for_leader_epoch::response sample_ofle_response() {
    offset_for_leader_epoch::response resp;
    resp.throttle_time_ms = 12;
    resp.topics = {{"orders",
                    {{error_code::none, partition_id{0}, leader_epoch{5}, offset{1500}},
                     {error_code::fenced_leader_epoch, partition_id{4}, leader_epoch{-1}, offset{-1}}}}};
    return resp;
}

alter_partition::request sample_alter_partition_request() {
    alter_partition::request req;
    req.broker_id = node_id{2};
    req.broker_epoch = 77;
    alter_partition::partition_data p;
    p.partition_index = partition_id{3};
    p.leader_epoch = leader_epoch{4};
    p.new_isr = {node_id{2}, node_id{1}};
    p.new_isr_with_epochs = {{node_id{2}, 77}, {node_id{1}, 55}};
    p.leader_recovery_state = alter_partition::leader_recovery_state::recovering;
    p.partition_epoch = 9;
    req.topics = {{"orders", repl_uuid_of(1), {p}}};
    return req;
}
alter_partition::response sample_alter_partition_response() {
    alter_partition::response resp;
    resp.throttle_time_ms = 5;
    resp.error_code = error_code::none;
    alter_partition::response_partition p;
    p.partition_index = partition_id{3};
    p.error_code = error_code::invalid_update_version;
    p.leader_id = node_id{2};
    p.leader_epoch = leader_epoch{4};
    p.isr = {node_id{2}, node_id{1}};
    p.leader_recovery_state = alter_partition::leader_recovery_state::recovering;
    p.partition_epoch = 10;
    resp.topics = {{"orders", repl_uuid_of(2), {p}}};
    return resp;
}

broker_registration::request sample_registration_request() {
    broker_registration::request req;
    req.broker_id = node_id{1};
    req.cluster_id = "gregor-cluster";
    req.incarnation_id = repl_uuid_of(3);
    req.listeners = {{"PLAINTEXT", "broker-1", 9092, broker_registration::security_protocol_plaintext},
                     {"SSL", "broker-1", 65535, broker_registration::security_protocol_ssl}};
    req.features = {{"metadata.version", 1, 21}, {"kraft.version", 0, 1}};
    req.rack = "r1";
    req.is_migrating_zk_broker = true;
    req.log_dirs = {repl_uuid_of(4), repl_uuid_of(5)};
    req.previous_broker_epoch = 41;
    return req;
}

broker_heartbeat::request sample_broker_heartbeat_request() {
    broker_heartbeat::request req;
    req.broker_id = node_id{1};
    req.broker_epoch = 42;
    req.current_metadata_offset = 1234;
    req.want_fence = true;
    req.want_shut_down = true;
    req.offline_log_dirs = {repl_uuid_of(6)};
    return req;
}

} // namespace

// Generic clients find each request's answer type.
static_assert(std::is_same_v<offset_for_leader_epoch::request::response_type, offset_for_leader_epoch::response>);
static_assert(std::is_same_v<alter_partition::request::response_type, alter_partition::response>);
static_assert(std::is_same_v<broker_registration::request::response_type, broker_registration::response>);
static_assert(std::is_same_v<broker_heartbeat::request::response_type, broker_heartbeat::response>);

// ---------------------------------------------------------------------------------------------
// Keys, names and ranges.

TEST_CASE("replication APIs carry Kafka's keys, names, Kafka 3.9's versions and flexible versions",
          "[wire_replication]") {
    check_api<offset_for_leader_epoch_api>(23, "OffsetForLeaderEpoch", {0, 4}, 4);
    check_api<alter_partition_api>(56, "AlterPartition", {0, 3}, 0);
    check_api<broker_registration_api>(62, "BrokerRegistration", {0, 4}, 0);
    check_api<broker_heartbeat_api>(63, "BrokerHeartbeat", {0, 1}, 0);
    // Header versions follow the flexible versions.
    CHECK(request_header_version(api_key::offset_for_leader_epoch, 3) == 1);
    CHECK(request_header_version(api_key::offset_for_leader_epoch, 4) == 2);
    CHECK(response_header_version(api_key::offset_for_leader_epoch, 3) == 0);
    CHECK(response_header_version(api_key::offset_for_leader_epoch, 4) == 1);
    for (const auto k : {api_key::alter_partition, api_key::broker_registration, api_key::broker_heartbeat}) {
        CHECK(request_header_version(k, 0) == 2);
        CHECK(response_header_version(k, 0) == 1);
    }
    // Neighbours without a codec stay unknown.
    CHECK_FALSE(is_known(static_cast<api_key>(57)));
    CHECK_FALSE(is_known(static_cast<api_key>(64)));
}

TEST_CASE("replication messages refuse versions Kafka 3.9 does not serve", "[wire_replication]") {
    const auto any = from_hex("00000000 00000000 00000000 00000000 00000000");
    const auto refuses = [&](auto tag, std::int16_t version) {
        using M = typename decltype(tag)::type;
        byte_reader r(bytes_view{any});
        return !M::decode(r, version).has_value();
    };
    CHECK(refuses(std::type_identity<offset_for_leader_epoch::request>{}, 5));
    CHECK(refuses(std::type_identity<offset_for_leader_epoch::response>{}, -1));
    CHECK(refuses(std::type_identity<alter_partition::request>{}, 4));
    CHECK(refuses(std::type_identity<broker_registration::response>{}, 5));
    CHECK(refuses(std::type_identity<broker_heartbeat::request>{}, 2));
    byte_buffer b;
    byte_writer w(b);
    CHECK_THROWS_AS(offset_for_leader_epoch::request{}.encode(w, 5), std::invalid_argument);
    CHECK_THROWS_AS(broker_registration::request{}.encode(w, 5), std::invalid_argument);
    CHECK_THROWS_AS(broker_heartbeat::response{}.encode(w, 2), std::invalid_argument);
    CHECK_THROWS_AS(alter_partition::response{}.encode(w, -1), std::invalid_argument);
}

// ---------------------------------------------------------------------------------------------
// Every field at every version.

TEST_CASE("OffsetForLeaderEpoch round-trips every field at every version", "[wire_replication]") {
    for_each_version<offset_for_leader_epoch_api>([](std::int16_t v) {
        const auto d = round_trip(sample_ofle_request(), v);
        CHECK(d.msg.replica_id == node_id{v >= 3 ? 3 : offset_for_leader_epoch::debug_replica_id});
        REQUIRE(d.msg.topics.size() == 2);
        CHECK(d.msg.topics[0].topic == "orders");
        CHECK(d.msg.topics[1].topic == "audit");
        REQUIRE(d.msg.topics[0].partitions.size() == 2);
        const auto& p = d.msg.topics[0].partitions[1];
        CHECK(p.partition == partition_id{4});
        CHECK(p.current_leader_epoch == leader_epoch{v >= 2 ? 7 : -1});
        CHECK(p.leader_epoch == leader_epoch{6});
        CHECK(d.msg.topics[1].partitions[0].current_leader_epoch == leader_epoch{v >= 2 ? 2 : -1});

        const auto r = round_trip(sample_ofle_response(), v);
        CHECK(r.msg.throttle_time_ms == (v >= 2 ? 12 : 0));
        REQUIRE(r.msg.topics.size() == 1);
        CHECK(r.msg.topics[0].topic == "orders");
        REQUIRE(r.msg.topics[0].partitions.size() == 2);
        const auto& a = r.msg.topics[0].partitions[0];
        CHECK(a.error_code == error_code::none);
        CHECK(a.partition == partition_id{0});
        CHECK(a.leader_epoch == leader_epoch{v >= 1 ? 5 : -1});
        CHECK(a.end_offset == offset{1500});
        const auto& b = r.msg.topics[0].partitions[1];
        CHECK(b.error_code == error_code::fenced_leader_epoch);
        CHECK(b.end_offset == offset{-1});
    });
}

TEST_CASE("AlterPartition round-trips every field at every version", "[wire_replication]") {
    for_each_version<alter_partition_api>([](std::int16_t v) {
        const auto d = round_trip(sample_alter_partition_request(), v);
        CHECK(d.msg.broker_id == node_id{2});
        CHECK(d.msg.broker_epoch == 77);
        REQUIRE(d.msg.topics.size() == 1);
        const auto& t = d.msg.topics[0];
        CHECK(t.topic_name == (v <= 1 ? "orders" : ""));
        CHECK(t.topic_id == (v >= 2 ? repl_uuid_of(1) : wire::uuid{}));
        REQUIRE(t.partitions.size() == 1);
        const auto& p = t.partitions[0];
        CHECK(p.partition_index == partition_id{3});
        CHECK(p.leader_epoch == leader_epoch{4});
        if (v <= 2) {
            CHECK(p.new_isr == std::vector<node_id>{node_id{2}, node_id{1}});
            CHECK(p.new_isr_with_epochs.empty());
        } else {
            CHECK(p.new_isr.empty());
            CHECK(p.new_isr_with_epochs ==
                  std::vector<alter_partition::broker_state>{{node_id{2}, 77}, {node_id{1}, 55}});
        }
        CHECK(p.leader_recovery_state == (v >= 1 ? alter_partition::leader_recovery_state::recovering
                                                 : alter_partition::leader_recovery_state::recovered));
        CHECK(p.partition_epoch == 9);

        const auto r = round_trip(sample_alter_partition_response(), v);
        CHECK(r.msg.throttle_time_ms == 5);
        CHECK(r.msg.error_code == error_code::none);
        REQUIRE(r.msg.topics.size() == 1);
        const auto& rt = r.msg.topics[0];
        CHECK(rt.topic_name == (v <= 1 ? "orders" : ""));
        CHECK(rt.topic_id == (v >= 2 ? repl_uuid_of(2) : wire::uuid{}));
        REQUIRE(rt.partitions.size() == 1);
        const auto& rp = rt.partitions[0];
        CHECK(rp.partition_index == partition_id{3});
        CHECK(rp.error_code == error_code::invalid_update_version);
        CHECK(rp.leader_id == node_id{2});
        CHECK(rp.leader_epoch == leader_epoch{4});
        CHECK(rp.isr == std::vector<node_id>{node_id{2}, node_id{1}});
        CHECK(rp.leader_recovery_state == (v >= 1 ? alter_partition::leader_recovery_state::recovering
                                                  : alter_partition::leader_recovery_state::recovered));
        CHECK(rp.partition_epoch == 10);
    });
}

TEST_CASE("BrokerRegistration round-trips every field at every version", "[wire_replication]") {
    for_each_version<broker_registration_api>([](std::int16_t v) {
        const auto d = round_trip(sample_registration_request(), v);
        CHECK(d.msg.broker_id == node_id{1});
        CHECK(d.msg.cluster_id == "gregor-cluster");
        CHECK(d.msg.incarnation_id == repl_uuid_of(3));
        REQUIRE(d.msg.listeners.size() == 2);
        CHECK(d.msg.listeners[0].name == "PLAINTEXT");
        CHECK(d.msg.listeners[0].host == "broker-1");
        CHECK(d.msg.listeners[0].port == 9092);
        CHECK(d.msg.listeners[0].security_protocol == broker_registration::security_protocol_plaintext);
        CHECK(d.msg.listeners[1].name == "SSL");
        CHECK(d.msg.listeners[1].port == 65535); // uint16 above int16's range
        CHECK(d.msg.listeners[1].security_protocol == broker_registration::security_protocol_ssl);
        // v0-3 leave out features whose minimum is 0 (KAFKA-17492); v4 carries them.
        REQUIRE(d.msg.features.size() == (v >= 4 ? 2u : 1u));
        CHECK(d.msg.features[0].name == "metadata.version");
        CHECK(d.msg.features[0].min_supported_version == 1);
        CHECK(d.msg.features[0].max_supported_version == 21);
        if (v >= 4) {
            CHECK(d.msg.features[1].name == "kraft.version");
            CHECK(d.msg.features[1].min_supported_version == 0);
            CHECK(d.msg.features[1].max_supported_version == 1);
        }
        REQUIRE(d.msg.rack);
        CHECK(*d.msg.rack == "r1");
        CHECK(d.msg.is_migrating_zk_broker == (v >= 1));
        CHECK(d.msg.log_dirs == (v >= 2 ? std::vector<wire::uuid>{repl_uuid_of(4), repl_uuid_of(5)} : std::vector<wire::uuid>{}));
        CHECK(d.msg.previous_broker_epoch == (v >= 3 ? 41 : -1));

        auto no_rack = sample_registration_request();
        no_rack.rack = std::nullopt;
        CHECK_FALSE(round_trip(no_rack, v).msg.rack.has_value());

        const auto r = round_trip(broker_registration::response{3, error_code::duplicate_broker_registration, 99}, v);
        CHECK(r.msg.throttle_time_ms == 3);
        CHECK(r.msg.error_code == error_code::duplicate_broker_registration);
        CHECK(r.msg.broker_epoch == 99);
    });
}

TEST_CASE("BrokerHeartbeat round-trips every field at every version", "[wire_replication]") {
    for_each_version<broker_heartbeat_api>([](std::int16_t v) {
        const auto d = round_trip(sample_broker_heartbeat_request(), v);
        CHECK(d.msg.broker_id == node_id{1});
        CHECK(d.msg.broker_epoch == 42);
        CHECK(d.msg.current_metadata_offset == 1234);
        CHECK(d.msg.want_fence);
        CHECK(d.msg.want_shut_down);
        CHECK(d.msg.offline_log_dirs == (v >= 1 ? std::vector<wire::uuid>{repl_uuid_of(6)} : std::vector<wire::uuid>{}));

        broker_heartbeat::response resp;
        resp.throttle_time_ms = 8;
        resp.error_code = error_code::stale_broker_epoch;
        resp.is_caught_up = true;
        resp.is_fenced = false;
        resp.should_shut_down = true;
        const auto r = round_trip(resp, v);
        CHECK(r.msg.throttle_time_ms == 8);
        CHECK(r.msg.error_code == error_code::stale_broker_epoch);
        CHECK(r.msg.is_caught_up);
        CHECK_FALSE(r.msg.is_fenced);
        CHECK(r.msg.should_shut_down);
    });
    CHECK(broker_heartbeat::response{}.is_fenced); // the schema's default
}

// ---------------------------------------------------------------------------------------------
// Byte-exact encodings, assembled by hand from the schemas.

TEST_CASE("OffsetForLeaderEpoch v4 (flexible) and v0/v3 (classic) are byte exact", "[wire_replication]") {
    offset_for_leader_epoch::request req;
    req.replica_id = node_id{1};
    req.topics = {{"t", {{partition_id{0}, leader_epoch{5}, leader_epoch{3}}}}};
    auto d = check_layout(req, 4,
                          "00000001" // replica_id
                          "02"       // topics: compact array, 1 + 1
                          "02 74"    // topic "t": compact string, 1 + 1
                          "02"       // partitions: 1 + 1
                          "00000000" // partition
                          "00000005" // current_leader_epoch
                          "00000003" // leader_epoch
                          "00"       // partition tags
                          "00"       // topic tags
                          "00");     // top-level tags
    CHECK(d.msg.replica_id == node_id{1});
    CHECK(d.msg.topics[0].topic == "t");
    CHECK(d.msg.topics[0].partitions[0].current_leader_epoch == leader_epoch{5});
    CHECK(d.msg.topics[0].partitions[0].leader_epoch == leader_epoch{3});
    check_layout(req, 3,
                 "00000001"   // replica_id
                 "00000001"   // topics: int32 count
                 "0001 74"    // "t": int16 length
                 "00000001"   // partitions
                 "00000000"   // partition
                 "00000005"   // current_leader_epoch
                 "00000003"); // leader_epoch
    d = check_layout(req, 0,
                     "00000001"
                     "0001 74"
                     "00000001"
                     "00000000"
                     "00000003"); // v0: no replica_id, no current_leader_epoch
    CHECK(d.msg.replica_id == node_id{offset_for_leader_epoch::debug_replica_id});
    CHECK(d.msg.topics[0].partitions[0].current_leader_epoch == leader_epoch{-1});

    offset_for_leader_epoch::response resp;
    resp.throttle_time_ms = 0;
    resp.topics = {{"t", {{error_code::none, partition_id{0}, leader_epoch{3}, offset{100}}}}};
    const auto r = check_layout(resp, 4,
                                "00000000"         // throttle_time_ms
                                "02"               // topics
                                "02 74"            // "t"
                                "02"               // partitions
                                "0000"             // error_code
                                "00000000"         // partition
                                "00000003"         // leader_epoch
                                "0000000000000064" // end_offset
                                "00 00 00");       // tags: partition, topic, top level
    CHECK(r.msg.topics[0].partitions[0].end_offset == offset{100});
    check_layout(resp, 0,
                 "00000001"
                 "0001 74"
                 "00000001"
                 "0000"
                 "00000000"
                 "0000000000000064"); // v0: no throttle, no leader_epoch
}

TEST_CASE("AlterPartition v3, v1 and v2 are byte exact; v3 sends the ISR with epochs only", "[wire_replication]") {
    alter_partition::request req;
    req.broker_id = node_id{1};
    req.broker_epoch = 10;
    alter_partition::partition_data p;
    p.partition_index = partition_id{0};
    p.leader_epoch = leader_epoch{5};
    p.new_isr = {node_id{9}}; // must not appear in v3
    p.new_isr_with_epochs = {{node_id{1}, 10}, {node_id{2}, 11}};
    p.partition_epoch = 7;
    req.topics = {{"t", repl_uuid_of(1), {p}}};
    auto d = check_layout(req, 3,
                          "00000001"         // broker_id
                          "000000000000000a" // broker_epoch
                          "02" +             // topics
                              repl_uuid_hex(1) +  // topic_id (v2+)
                              "02"           // partitions
                              "00000000"     // partition_index
                              "00000005"     // leader_epoch
                              "03"           // new_isr_with_epochs: 2 + 1
                              "00000001 000000000000000a 00"
                              "00000002 000000000000000b 00"
                              "00"         // leader_recovery_state
                              "00000007"   // partition_epoch
                              "00 00 00"); // tags
    REQUIRE(d.msg.topics.size() == 1);
    CHECK(d.msg.topics[0].topic_name.empty());
    CHECK(d.msg.topics[0].topic_id == repl_uuid_of(1));
    const auto& dp = d.msg.topics[0].partitions[0];
    CHECK(dp.new_isr.empty()); // v3 has no new_isr
    CHECK(dp.new_isr_with_epochs == std::vector<alter_partition::broker_state>{{node_id{1}, 10}, {node_id{2}, 11}});
    // Only new_isr_with_epochs decides v3's bytes: changing new_isr changes nothing, changing the
    // epochs does.
    auto other = req;
    other.topics[0].partitions[0].new_isr = {node_id{1}, node_id{2}, node_id{3}};
    CHECK(encoded_hex(other, 3) == encoded_hex(req, 3));
    other.topics[0].partitions[0].new_isr_with_epochs[1].broker_epoch = 12;
    CHECK(encoded_hex(other, 3) != encoded_hex(req, 3));

    p.leader_recovery_state = alter_partition::leader_recovery_state::recovering;
    req.topics = {{"t", repl_uuid_of(1), {p}}};
    d = check_layout(req, 1,
                     "00000001"
                     "000000000000000a"
                     "02"
                     "02 74" // topic_name (v0-1)
                     "02"
                     "00000000"
                     "00000005"
                     "02 00000009" // new_isr (v0-2): 1 + 1
                     "01"          // leader_recovery_state (v1+)
                     "00000007"
                     "00 00 00");
    CHECK(d.msg.topics[0].topic_name == "t");
    CHECK(d.msg.topics[0].topic_id == wire::uuid{});
    CHECK(d.msg.topics[0].partitions[0].new_isr == std::vector<node_id>{node_id{9}});
    CHECK(d.msg.topics[0].partitions[0].new_isr_with_epochs.empty());

    alter_partition::response resp;
    resp.throttle_time_ms = 0;
    resp.error_code = error_code::none;
    alter_partition::response_partition rp;
    rp.partition_index = partition_id{0};
    rp.error_code = error_code::none;
    rp.leader_id = node_id{1};
    rp.leader_epoch = leader_epoch{5};
    rp.isr = {node_id{1}, node_id{2}};
    rp.partition_epoch = 8;
    resp.topics = {{"t", repl_uuid_of(2), {rp}}};
    const auto r = check_layout(resp, 2,
                                "00000000"                 // throttle_time_ms
                                "0000"                     // error_code
                                "02" +                     // topics
                                    repl_uuid_hex(2) +          // topic_id
                                    "02"                   // partitions
                                    "00000000"             // partition_index
                                    "0000"                 // error_code
                                    "00000001"             // leader_id
                                    "00000005"             // leader_epoch
                                    "03 00000001 00000002" // isr
                                    "00"                   // leader_recovery_state
                                    "00000008"             // partition_epoch
                                    "00 00 00");
    CHECK(r.msg.topics[0].partitions[0].isr == std::vector<node_id>{node_id{1}, node_id{2}});
    CHECK(r.msg.topics[0].partitions[0].partition_epoch == 8);
}

TEST_CASE("BrokerRegistration v4 and v0 and its response are byte exact", "[wire_replication]") {
    broker_registration::request req;
    req.broker_id = node_id{1};
    req.cluster_id = "c";
    req.incarnation_id = repl_uuid_of(3);
    req.listeners = {{"PLAINTEXT", "h", 9092, broker_registration::security_protocol_plaintext}};
    req.features = {{"kraft.version", 0, 1}};
    req.rack = std::nullopt;
    req.log_dirs = {repl_uuid_of(4)};
    req.previous_broker_epoch = -1;
    const auto d = check_layout(req, 4,
                                "00000001"        // broker_id
                                "02 63" +         // cluster_id "c"
                                    repl_uuid_hex(3) + // incarnation_id
                                    "02"          // listeners: 1 + 1
                                    "0a" +
                                    hex(as_bytes("PLAINTEXT")) + // name: 9 + 1
                                    "02 68"                      // host "h"
                                    "2384"                       // port 9092 (uint16)
                                    "0000"                       // security_protocol
                                    "00"                         // listener tags
                                    "02"                         // features: 1 + 1
                                    "0e" +
                                    hex(as_bytes("kraft.version")) + // name: 13 + 1
                                    "0000 0001"                      // min, max supported
                                    "00"                             // feature tags
                                    "00"                             // rack: null
                                    "00"                             // is_migrating_zk_broker (v1+)
                                    "02" +
                                    repl_uuid_hex(4) +      // log_dirs (v2+)
                                    "ffffffffffffffff" // previous_broker_epoch (v3+)
                                    "00");             // tags
    CHECK(d.msg.listeners[0].port == 9092);
    REQUIRE(d.msg.features.size() == 1);
    CHECK(d.msg.features[0].min_supported_version == 0);
    CHECK_FALSE(d.msg.rack);

    // v0: no migration flag, log dirs or previous epoch; the min-0 feature is left out.
    req.rack = "r";
    const auto d0 = check_layout(req, 0,
                                 "00000001"
                                 "02 63" +
                                     repl_uuid_hex(3) + "02 0a" + hex(as_bytes("PLAINTEXT")) +
                                     "02 68 2384 0000 00"
                                     "01"    // features: none
                                     "02 72" // rack "r"
                                     "00");
    CHECK(d0.msg.features.empty());
    CHECK(d0.msg.log_dirs.empty());
    REQUIRE(d0.msg.rack);
    CHECK(*d0.msg.rack == "r");

    const auto r = check_layout(broker_registration::response{0, error_code::none, 10}, 0,
                                "00000000"         // throttle_time_ms
                                "0000"             // error_code
                                "000000000000000a" // broker_epoch
                                "00");
    CHECK(r.msg.broker_epoch == 10);
}

TEST_CASE("BrokerHeartbeat v1 with tagged offline log dirs and v0 are byte exact", "[wire_replication]") {
    broker_heartbeat::request req;
    req.broker_id = node_id{1};
    req.broker_epoch = 10;
    req.current_metadata_offset = 100;
    req.want_fence = false;
    req.want_shut_down = true;
    req.offline_log_dirs = {repl_uuid_of(6)};
    const auto d = check_layout(req, 1,
                                "00000001"         // broker_id
                                "000000000000000a" // broker_epoch
                                "0000000000000064" // current_metadata_offset
                                "00"               // want_fence
                                "01"               // want_shut_down
                                "01"               // tagged fields: one
                                "00 11"            // tag 0, 17 bytes
                                "02" +
                                    repl_uuid_hex(6)); // offline_log_dirs: 1 + 1, one uuid
    CHECK(d.msg.offline_log_dirs == std::vector<wire::uuid>{repl_uuid_of(6)});
    // v0 knows no tag: the dirs are not written.
    check_layout(req, 0, "00000001 000000000000000a 0000000000000064 00 01 00");
    // Without offline dirs, v1 writes an empty tag section.
    req.offline_log_dirs.clear();
    check_layout(req, 1, "00000001 000000000000000a 0000000000000064 00 01 00");

    broker_heartbeat::response resp;
    resp.is_caught_up = true;
    resp.is_fenced = false;
    const auto r = check_layout(resp, 1,
                                "00000000" // throttle_time_ms
                                "0000"     // error_code
                                "01"       // is_caught_up
                                "00"       // is_fenced
                                "00"       // should_shut_down
                                "00");
    CHECK(r.msg.is_caught_up);
    CHECK_FALSE(r.msg.is_fenced);
}

TEST_CASE("replication messages skip unknown tags, and a v1 tag is unknown to v0", "[wire_replication]") {
    // A BrokerHeartbeat v0 request carrying tag 0 (offline dirs exist only from v1) and tag 40.
    const auto in = from_hex("00000001 000000000000000a 0000000000000064 00 00"
                             "02 00 11 02" +
                             repl_uuid_hex(6) + "28 01 ff");
    byte_reader r0(bytes_view{in});
    const auto v0 = broker_heartbeat::request::decode(r0, 0);
    REQUIRE(v0);
    CHECK(r0.at_end());
    CHECK(v0->offline_log_dirs.empty());
    byte_reader r1(bytes_view{in});
    const auto v1 = broker_heartbeat::request::decode(r1, 1);
    REQUIRE(v1);
    CHECK(r1.at_end());
    CHECK(v1->offline_log_dirs == std::vector<wire::uuid>{repl_uuid_of(6)});
    // Tag 0 whose size does not match its value fails at v1.
    const auto bad = from_hex("00000001 000000000000000a 0000000000000064 00 00"
                              "01 00 12 02" +
                              repl_uuid_hex(6) + "ff");
    byte_reader rb(bytes_view{bad});
    CHECK_FALSE(broker_heartbeat::request::decode(rb, 1));

    // An unknown tag inside an AlterPartition v3 ISR entry and inside an OffsetForLeaderEpoch
    // v4 partition.
    const auto ap = from_hex("00000001 000000000000000a 02" + repl_uuid_hex(1) +
                             "02 00000000 00000005 02 00000001 000000000000000a 01 05 02 abcd"
                             "00 00000007 00 00 00");
    byte_reader ra(bytes_view{ap});
    const auto a = alter_partition::request::decode(ra, 3);
    REQUIRE(a);
    CHECK(ra.at_end());
    CHECK(a->topics[0].partitions[0].new_isr_with_epochs ==
          std::vector<alter_partition::broker_state>{{node_id{1}, 10}});
    const auto ofle = from_hex("00000001 02 0274 02 00000000 00000005 00000003 01 07 00 00 00");
    byte_reader ro(bytes_view{ofle});
    const auto o = offset_for_leader_epoch::request::decode(ro, 4);
    REQUIRE(o);
    CHECK(ro.at_end());
    CHECK(o->topics[0].partitions[0].leader_epoch == leader_epoch{3});
}

TEST_CASE("every truncation of every replication message fails at every version", "[wire_replication]") {
    // round_trip checks this too; here explicitly, with the full samples and the decoder's
    // return value.
    for_each_version<offset_for_leader_epoch_api>([](std::int16_t v) {
        gregor::test::require_truncations_fail<offset_for_leader_epoch::request>(encode_bytes(sample_ofle_request(), v), v);
        gregor::test::require_truncations_fail<offset_for_leader_epoch::response>(encode_bytes(sample_ofle_response(), v), v);
    });
    for_each_version<alter_partition_api>([](std::int16_t v) {
        gregor::test::require_truncations_fail<alter_partition::request>(encode_bytes(sample_alter_partition_request(), v), v);
        gregor::test::require_truncations_fail<alter_partition::response>(encode_bytes(sample_alter_partition_response(), v), v);
    });
    for_each_version<broker_registration_api>([](std::int16_t v) {
        gregor::test::require_truncations_fail<broker_registration::request>(encode_bytes(sample_registration_request(), v), v);
        gregor::test::require_truncations_fail<broker_registration::response>(
            encode_bytes(broker_registration::response{1, error_code::none, 5}, v), v);
    });
    for_each_version<broker_heartbeat_api>([](std::int16_t v) {
        gregor::test::require_truncations_fail<broker_heartbeat::request>(encode_bytes(sample_broker_heartbeat_request(), v), v);
        gregor::test::require_truncations_fail<broker_heartbeat::response>(encode_bytes(broker_heartbeat::response{}, v), v);
    });
}

TEST_CASE("replication requests travel in frames with the right header", "[wire_replication]") {
    // BrokerHeartbeat v0 is flexible: request header v2 (client id, then an empty tag section).
    byte_buffer out;
    broker_heartbeat::request req;
    req.broker_id = node_id{1};
    req.broker_epoch = 10;
    encode_request_frame(out, 0, 7, "b", req);
    const auto frame = test::to_vec(out.view());
    CHECK(hex(bytes_view{frame}) == hex(bytes_view{from_hex("00000023"                      // size: 12 + 23
                                                            "003f 0000 00000007 0001 62 00" // header v2
                                                            "00000001 000000000000000a 0000000000000000 00 00 00")}));
    CHECK(request_header_version(broker_heartbeat_api::key, 0) == 2);
}
