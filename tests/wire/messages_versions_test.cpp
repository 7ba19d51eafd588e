// The versions up to Kafka 3.9's: every message with every field set, round-tripped at every
// version; byte-exact flexible encodings assembled by hand from Kafka's message schemas (topic ids,
// batched coordinator keys, tagged fields); unknown tagged fields skipped at every level; and the
// field-description machinery itself (sizer, tag order, known tags with bad sizes).
#include "message_test_util.hpp"

#include <gregor/wire/header.hpp>
#include <gregor/wire/messages/alter_configs.hpp>
#include <gregor/wire/messages/alter_partition.hpp>
#include <gregor/wire/messages/api_versions.hpp>
#include <gregor/wire/messages/broker_heartbeat.hpp>
#include <gregor/wire/messages/broker_registration.hpp>
#include <gregor/wire/messages/create_partitions.hpp>
#include <gregor/wire/messages/create_topics.hpp>
#include <gregor/wire/messages/delete_records.hpp>
#include <gregor/wire/messages/delete_topics.hpp>
#include <gregor/wire/messages/describe_cluster.hpp>
#include <gregor/wire/messages/describe_configs.hpp>
#include <gregor/wire/messages/fetch.hpp>
#include <gregor/wire/messages/find_coordinator.hpp>
#include <gregor/wire/messages/incremental_alter_configs.hpp>
#include <gregor/wire/messages/init_producer_id.hpp>
#include <gregor/wire/messages/list_offsets.hpp>
#include <gregor/wire/messages/metadata.hpp>
#include <gregor/wire/messages/offset_for_leader_epoch.hpp>
#include <gregor/wire/messages/produce.hpp>

#include <catch2/catch.hpp>

#include <functional>
#include <string>
#include <vector>

using namespace gregor;
using namespace gregor::wire;
using gregor::test::encode_bytes;
using gregor::test::for_each_version;
using gregor::test::from_hex;
using gregor::test::hex;
using gregor::test::round_trip;
using gregor::test::same_bytes;
using gregor::test::uuid_of;
using gregor::test::uuid_hex;
using gregor::test::sample_batch;
using gregor::test::encoded_hex;

namespace {



template <typename M>
std::optional<M> decode_hex(const std::vector<std::byte>& in, std::int16_t version, bool& at_end) {
    byte_reader r(bytes_view{in});
    auto m = M::decode(r, version);
    at_end = r.at_end();
    return m;
}


} // namespace

// ---------------------------------------------------------------------------------------------
// The declared ranges.

TEST_CASE("codecs implement Kafka 3.9's versions and keep the old ones", "[wire_api]") {
    CHECK(implemented_versions<api_versions_api>() == version_range{0, 4});
    CHECK(implemented_versions<metadata_api>() == version_range{0, 12});
    CHECK(implemented_versions<produce_api>() == version_range{3, 11});
    CHECK(implemented_versions<fetch_api>() == version_range{4, 16});
    CHECK(implemented_versions<list_offsets_api>() == version_range{0, 8});
    CHECK(implemented_versions<init_producer_id_api>() == version_range{0, 5});
    CHECK(implemented_versions<find_coordinator_api>() == version_range{0, 5});
    CHECK(implemented_versions<create_topics_api>() == version_range{0, 7});
    CHECK(implemented_versions<delete_topics_api>() == version_range{0, 6});
    CHECK(implemented_versions<delete_records_api>() == version_range{0, 2});
    CHECK(implemented_versions<describe_configs_api>() == version_range{0, 4});
    CHECK(implemented_versions<alter_configs_api>() == version_range{0, 2});
    CHECK(implemented_versions<create_partitions_api>() == version_range{0, 3});
    CHECK(implemented_versions<incremental_alter_configs_api>() == version_range{0, 1});
    CHECK(implemented_versions<describe_cluster_api>() == version_range{0, 1});
    CHECK(implemented_versions<offset_for_leader_epoch_api>() == version_range{0, 4});
    CHECK(implemented_versions<alter_partition_api>() == version_range{0, 3});
    CHECK(implemented_versions<broker_registration_api>() == version_range{0, 4});
    CHECK(implemented_versions<broker_heartbeat_api>() == version_range{0, 1});
    CHECK(implemented_versions<add_partitions_to_txn_api>() == version_range{0, 5});
    CHECK(implemented_versions<add_offsets_to_txn_api>() == version_range{0, 4});
    CHECK(implemented_versions<end_txn_api>() == version_range{0, 4}); // trunk's v5 is not 3.9's
    CHECK(implemented_versions<write_txn_markers_api>() == version_range{0, 1});
    CHECK(implemented_versions<txn_offset_commit_api>() == version_range{0, 4});
    // Flexible from the schemas' flexibleVersions.
    CHECK(is_flexible_version<metadata_api>(9));
    CHECK_FALSE(is_flexible_version<metadata_api>(8));
    CHECK(is_flexible_version<produce_api>(9));
    CHECK(is_flexible_version<fetch_api>(12));
    CHECK(is_flexible_version<list_offsets_api>(6));
    CHECK(is_flexible_version<find_coordinator_api>(3));
    CHECK(request_header_version(api_key::fetch, 16) == 2);
    CHECK(response_header_version(api_key::metadata, 12) == 1);
    CHECK(response_header_version(api_key::api_versions, 4) == 0);
}

// ---------------------------------------------------------------------------------------------
// Every field at every version.

TEST_CASE("ApiVersions with feature tags round-trips at every version", "[wire_messages]") {
    for_each_version<api_versions_api>([](std::int16_t v) {
        api_versions::response resp;
        resp.api_keys = {{api_key::produce, 0, 11}, {static_cast<api_key>(68), 0, 1}};
        resp.throttle_time_ms = 4;
        resp.supported_features = {{"metadata.version", 1, 21}, {"kraft.version", 0, 1}};
        resp.finalized_features_epoch = 12;
        resp.finalized_features = {{"metadata.version", 21, 21}};
        resp.zk_migration_ready = true;
        const auto d = round_trip(resp, v);
        CHECK(d.msg.api_keys[1].key == static_cast<api_key>(68));
        if (v >= 3) {
            REQUIRE(d.msg.supported_features.size() == 2);
            CHECK(d.msg.supported_features[0].name == "metadata.version");
            CHECK(d.msg.supported_features[0].max_version == 21);
            CHECK(d.msg.finalized_features_epoch == 12);
            REQUIRE(d.msg.finalized_features.size() == 1);
            CHECK(d.msg.finalized_features[0].max_version_level == 21);
            CHECK(d.msg.zk_migration_ready);
        } else {
            CHECK(d.msg.supported_features.empty());
            CHECK(d.msg.finalized_features_epoch == -1);
            CHECK_FALSE(d.msg.zk_migration_ready);
        }
    });
}

TEST_CASE("Metadata with topic ids, leader epochs and authorized operations round-trips", "[wire_messages]") {
    for_each_version<metadata_api>([](std::int16_t v) {
        metadata::request req;
        req.topics = std::vector<metadata::request_topic>{{"orders", uuid_of(1)}, {"", uuid_of(2)}};
        req.include_cluster_authorized_operations = true;
        req.include_topic_authorized_operations = true;
        const auto d = round_trip(req, v);
        REQUIRE(d.msg.topics);
        REQUIRE(d.msg.topics->size() == 2);
        CHECK((*d.msg.topics)[0].topic_id == (v >= 10 ? uuid_of(1) : wire::uuid{}));
        CHECK((*d.msg.topics)[1].name.data() != nullptr); // "" stays "" where null exists too
        CHECK(d.msg.include_cluster_authorized_operations == (v >= 8 && v <= 10));
        CHECK(d.msg.include_topic_authorized_operations == (v >= 8));

        metadata::response resp;
        resp.brokers = {{node_id{1}, "h", 9092, "r"}};
        resp.controller_id = node_id{1};
        resp.topics = {
            {error_code::none,
             "orders",
             true,
             {{error_code::none, partition_id{0}, node_id{1}, {node_id{1}}, {node_id{1}}, {}, leader_epoch{7}}},
             uuid_of(3),
             0x1f8}};
        resp.cluster_authorized_operations = 0x40;
        const auto r = round_trip(resp, v);
        const auto& t = r.msg.topics.at(0);
        CHECK(t.partitions.at(0).leader_epoch == leader_epoch{v >= 7 ? 7 : -1});
        CHECK(t.topic_id == (v >= 10 ? uuid_of(3) : wire::uuid{}));
        CHECK(t.topic_authorized_operations == (v >= 8 ? 0x1f8 : metadata::authorized_operations_unknown));
        CHECK(r.msg.cluster_authorized_operations ==
              (v >= 8 && v <= 10 ? 0x40 : metadata::authorized_operations_unknown));
    });
}

TEST_CASE("Metadata names: null where the version allows it, empty otherwise", "[wire_messages]") {
    metadata::request by_id;
    by_id.topics = std::vector<metadata::request_topic>{{std::string_view{}, uuid_of(1)}};
    for (std::int16_t v : {std::int16_t{10}, std::int16_t{12}}) {
        const auto d = round_trip(by_id, v);
        CHECK((*d.msg.topics)[0].name.data() == nullptr);
    }
    // v9: names are not nullable; a null view goes out as "".
    CHECK(encoded_hex(by_id, 9) == "02"
                                   "01"
                                   "00"
                                   "01"
                                   "00"
                                   "00"
                                   "00");
    metadata::response unknown;
    unknown.topics = {{error_code::unknown_topic_id, std::string_view{}, false, {}, uuid_of(4)}};
    const auto d12 = round_trip(unknown, 12);
    CHECK(d12.msg.topics[0].name.data() == nullptr);
    const auto d11 = round_trip(unknown, 11);
    CHECK(d11.msg.topics[0].name.data() != nullptr);
    CHECK(d11.msg.topics[0].name.empty());
}

TEST_CASE("Produce responses with record errors and KIP-951 leader hints round-trip", "[wire_messages]") {
    for_each_version<produce_api>([](std::int16_t v) {
        produce::response resp;
        resp.responses = {{"orders",
                           {{partition_id{0},
                             error_code::invalid_record,
                             offset{-1},
                             -1,
                             offset{3},
                             {{2, "bad key"}, {5, std::nullopt}},
                             "2 records dropped",
                             {}},
                            {partition_id{1},
                             error_code::not_leader_or_follower,
                             offset{-1},
                             -1,
                             offset{-1},
                             {},
                             std::nullopt,
                             {node_id{2}, leader_epoch{9}}}}}};
        resp.throttle_time_ms = 5;
        resp.node_endpoints = {{node_id{2}, "b2", 9093, "rack-b"}};
        const auto r = round_trip(resp, v);
        const auto& p0 = r.msg.responses[0].partitions[0];
        const auto& p1 = r.msg.responses[0].partitions[1];
        CHECK(p0.record_errors.size() == (v >= 8 ? 2u : 0u));
        CHECK(p0.error_message == (v >= 8 ? std::optional<std::string_view>("2 records dropped") : std::nullopt));
        CHECK(p1.current_leader ==
              (v >= 10 ? leader_id_and_epoch{node_id{2}, leader_epoch{9}} : leader_id_and_epoch{}));
        CHECK(r.msg.node_endpoints.size() == (v >= 10 ? 1u : 0u));
        if (v >= 10) {
            CHECK(r.msg.node_endpoints[0].host == "b2");
            CHECK(r.msg.node_endpoints[0].rack == std::optional<std::string_view>("rack-b"));
        }
        CHECK(r.msg.throttle_time_ms == 5);
    });
}

TEST_CASE("Fetch with topic ids, epochs, replica state and tagged fields round-trips", "[wire_messages]") {
    const auto batch = sample_batch();
    for_each_version<fetch_api>([&](std::int16_t v) {
        fetch::request req;
        req.replica_id = node_id{3};
        req.replica_epoch = 17;
        req.isolation_level = isolation_level::read_committed;
        req.topics = {{"orders",
                       {{partition_id{1}, leader_epoch{4}, offset{100}, offset{10}, 4096, leader_epoch{3}}},
                       uuid_of(7)}};
        req.forgotten_topics_data = {{"old", {partition_id{2}}, uuid_of(8)}};
        req.rack_id = "rack-a";
        req.cluster_id = "cluster";
        const auto d = round_trip(req, v);
        CHECK(d.msg.replica_id == node_id{3});
        CHECK(d.msg.replica_epoch == (v >= 15 ? 17 : -1));
        const auto& t = d.msg.topics.at(0);
        CHECK(t.name == (v <= 12 ? "orders" : ""));
        CHECK(t.topic_id == (v >= 13 ? uuid_of(7) : wire::uuid{}));
        CHECK(t.partitions.at(0).last_fetched_epoch == leader_epoch{v >= 12 ? 3 : -1});
        if (v >= 7) CHECK(d.msg.forgotten_topics_data.at(0).topic_id == (v >= 13 ? uuid_of(8) : wire::uuid{}));
        CHECK(d.msg.cluster_id == (v >= 12 ? std::optional<std::string_view>("cluster") : std::nullopt));

        // A consumer at v15+ sends no replica state at all.
        fetch::request consumer;
        const auto c = round_trip(consumer, v);
        CHECK(c.msg.replica_id == node_id{-1});

        fetch::response resp;
        resp.session_id = 0;
        fetch::partition_data p;
        p.partition_index = partition_id{1};
        p.error_code = error_code::fenced_leader_epoch;
        p.high_watermark = offset{50};
        p.last_stable_offset = offset{50};
        p.log_start_offset = offset{0};
        p.records = bytes_view{batch};
        p.diverging_epoch = {leader_epoch{2}, offset{40}};
        p.current_leader = {node_id{2}, leader_epoch{5}};
        p.snapshot_id = {offset{30}, leader_epoch{1}};
        resp.responses = {{"orders", {p}, uuid_of(9)}};
        resp.node_endpoints = {{node_id{2}, "b2", 9093, std::nullopt}};
        const auto r = round_trip(resp, v);
        const auto& rt = r.msg.responses.at(0);
        CHECK(rt.name == (v <= 12 ? "orders" : ""));
        CHECK(rt.topic_id == (v >= 13 ? uuid_of(9) : wire::uuid{}));
        const auto& rp = rt.partitions.at(0);
        CHECK(same_bytes(rp.records, bytes_view{batch}));
        CHECK(rp.diverging_epoch ==
              (v >= 12 ? fetch::epoch_end_offset{leader_epoch{2}, offset{40}} : fetch::epoch_end_offset{}));
        CHECK(rp.current_leader ==
              (v >= 12 ? leader_id_and_epoch{node_id{2}, leader_epoch{5}} : leader_id_and_epoch{}));
        CHECK(rp.snapshot_id ==
              (v >= 12 ? fetch::snapshot_position{offset{30}, leader_epoch{1}} : fetch::snapshot_position{}));
        CHECK(r.msg.node_endpoints.size() == (v >= 16 ? 1u : 0u));
    });
}

TEST_CASE("ListOffsets with leader epochs round-trips at every version", "[wire_messages]") {
    for_each_version<list_offsets_api>([](std::int16_t v) {
        list_offsets::request req;
        req.topics = {{"orders", {{partition_id{0}, list_offsets::max_timestamp, 1, leader_epoch{6}}}}};
        const auto d = round_trip(req, v);
        CHECK(d.msg.topics[0].partitions[0].timestamp == list_offsets::max_timestamp);
        CHECK(d.msg.topics[0].partitions[0].current_leader_epoch == leader_epoch{v >= 4 ? 6 : -1});
        list_offsets::response resp;
        resp.topics = {
            {"orders", {{partition_id{0}, error_code::none, {12}, 1700000000000, offset{12}, leader_epoch{6}}}}};
        const auto r = round_trip(resp, v);
        CHECK(r.msg.topics[0].partitions[0].leader_epoch == leader_epoch{v >= 4 ? 6 : -1});
    });
}

// ---------------------------------------------------------------------------------------------
// Byte-exact flexible encodings, assembled by hand from the schemas.

TEST_CASE("Metadata v12 request frame asks by topic id with a null name", "[wire_vectors]") {
    metadata::request req;
    req.topics = std::vector<metadata::request_topic>{{std::string_view{}, uuid_of(1)}};
    req.allow_auto_topic_creation = false;
    req.include_topic_authorized_operations = true;
    byte_buffer b;
    encode_request_frame(b, 12, 3, "rdkafka", req);
    const std::string body = std::string("02") + uuid_hex(1) + "00" + "00" + // topic: id, null name, tags
                             "00" + "01" + "00";                             // auto-create, topic ops, tags
    const std::string expected = std::string("00000028") +
                                 "0003"
                                 "000c"
                                 "00000003" +
                                 "0007" + hex(as_bytes("rdkafka")) + "00" + body;
    CHECK(hex(b.view()) == expected);
    byte_reader r(b.view().subspan(4));
    const auto h = request_header::decode(r);
    REQUIRE(h);
    const auto d = metadata::request::decode(r, h->version);
    REQUIRE(d);
    CHECK(r.at_end());
    REQUIRE(d->topics);
    CHECK((*d->topics)[0].topic_id == uuid_of(1));
    CHECK((*d->topics)[0].name.data() == nullptr);
    CHECK_FALSE(d->allow_auto_topic_creation);
}

TEST_CASE("Metadata v12 response with a topic id is byte exact", "[wire_vectors]") {
    metadata::response resp;
    resp.brokers = {{node_id{1}, "h", 9092, std::nullopt}};
    resp.cluster_id = "c";
    resp.controller_id = node_id{1};
    resp.topics = {{error_code::none,
                    "t",
                    false,
                    {{error_code::none, partition_id{0}, node_id{1}, {node_id{1}}, {node_id{1}}, {}, leader_epoch{5}}},
                    uuid_of(2)},
                   {error_code::unknown_topic_id, std::string_view{}, false, {}, uuid_of(3)}};
    const std::string expected = std::string("00000000") + // throttle
                                 "02"
                                 "00000001"
                                 "0268"
                                 "00002384"
                                 "00"
                                 "00" + // brokers: 1 h:9092, no rack
                                 "0263" +
                                 "00000001" + // cluster "c", controller 1
                                 "03" +       // two topics
                                 "0000"
                                 "0274" +
                                 uuid_hex(2) + "00" + // t, id, not internal
                                 "02"
                                 "0000"
                                 "00000000"
                                 "00000001"
                                 "00000005"
                                 "0200000001"
                                 "0200000001"
                                 "01"
                                 "00" + // partition 0
                                 "80000000"
                                 "00" + // topic ops unknown, tags
                                 "0064"
                                 "00" +
                                 uuid_hex(3) +
                                 "00"
                                 "01"
                                 "80000000"
                                 "00" + // unknown id: null name
                                 "00";  // tags
    CHECK(encoded_hex(resp, 12) == expected);
    bool at_end = false;
    const auto in = from_hex(expected);
    const auto d = decode_hex<metadata::response>(in, 12, at_end);
    REQUIRE(d);
    CHECK(at_end);
    CHECK(d->topics[0].topic_id == uuid_of(2));
    CHECK(d->topics[0].partitions[0].leader_epoch == leader_epoch{5});
    CHECK(d->topics[1].error_code == error_code::unknown_topic_id);
    CHECK(d->topics[1].name.data() == nullptr);
}

TEST_CASE("Fetch v13 request names topics by id", "[wire_vectors]") {
    fetch::request req;
    req.max_wait_ms = 500;
    req.min_bytes = 1;
    req.max_bytes = 52428800;
    req.isolation_level = isolation_level::read_committed;
    req.topics = {{"ignored",
                   {{partition_id{0}, leader_epoch{4}, offset{100}, offset{-1}, 1048576, leader_epoch{-1}}},
                   uuid_of(5)}};
    const std::string expected = std::string("ffffffff") + "000001f4" + "00000001" + "03200000" + "01" + "00000000" +
                                 "ffffffff" +         // session 0 / -1
                                 "02" + uuid_hex(5) + // one topic, by id
                                 "02"
                                 "00000000"
                                 "00000004"
                                 "0000000000000064"
                                 "ffffffff" // partition
                                 "ffffffffffffffff"
                                 "00100000"
                                 "00" +
                                 "00" + "01" + "01" + "00"; // topic tags, no forgotten, rack "", tags
    CHECK(encoded_hex(req, 13) == expected);
    bool at_end = false;
    const auto in = from_hex(expected);
    const auto d = decode_hex<fetch::request>(in, 13, at_end);
    REQUIRE(d);
    CHECK(at_end);
    CHECK(d->topics[0].topic_id == uuid_of(5));
    CHECK(d->topics[0].name.empty());
    CHECK(d->topics[0].partitions[0].fetch_offset == offset{100});
}

TEST_CASE("Fetch v15 request carries the follower in tagged replica_state", "[wire_vectors]") {
    fetch::request req;
    req.replica_id = node_id{2};
    req.replica_epoch = 7;
    req.cluster_id = "c";
    req.max_wait_ms = 0;
    req.min_bytes = 0;
    req.max_bytes = 0;
    const std::string expected = std::string("00000000"
                                             "00000000"
                                             "00000000"
                                             "00") + // no replica_id
                                 "00000000"
                                 "ffffffff" +
                                 "01" + "01" + "01" + // session, no topics, rack ""
                                 "02" +
                                 "00"
                                 "02"
                                 "0263" + // tag 0: cluster "c"
                                 "01"
                                 "0d"
                                 "00000002"
                                 "0000000000000007"
                                 "00"; // tag 1: replica 2, epoch 7
    CHECK(encoded_hex(req, 15) == expected);
    bool at_end = false;
    const auto in = from_hex(expected);
    const auto d = decode_hex<fetch::request>(in, 15, at_end);
    REQUIRE(d);
    CHECK(at_end);
    CHECK(d->replica_id == node_id{2});
    CHECK(d->replica_epoch == 7);
    CHECK(d->cluster_id == std::optional<std::string_view>("c"));
    // v14 still has replica_id in the body and knows no tag 1: it is skipped.
    const auto v14 = from_hex("00000005 00000000 00000000 00000000 00 00000000 ffffffff 01 01 01"
                              "01 01 0d 00000002 0000000000000007 00");
    const auto d14 = decode_hex<fetch::request>(v14, 14, at_end);
    REQUIRE(d14);
    CHECK(at_end);
    CHECK(d14->replica_id == node_id{5});
    CHECK(d14->replica_epoch == -1);
}

TEST_CASE("Fetch v16 response with a leader hint and node endpoints is byte exact", "[wire_vectors]") {
    fetch::response resp;
    fetch::partition_data p;
    p.partition_index = partition_id{0};
    p.error_code = error_code::not_leader_or_follower;
    p.current_leader = {node_id{2}, leader_epoch{3}};
    resp.responses = {{"", {p}, uuid_of(6)}};
    resp.node_endpoints = {{node_id{2}, "b", 9092, std::nullopt}};
    const std::string expected = std::string("00000000"
                                             "0000"
                                             "00000000") +
                                 "02" + uuid_hex(6) + // throttle, error, session, topic id
                                 "02"
                                 "00000000"
                                 "0006"
                                 "ffffffffffffffff"
                                 "ffffffffffffffff"
                                 "ffffffffffffffff" + // index, error, offsets
                                 "00"
                                 "ffffffff"
                                 "00" + // aborted null, replica -1, records null
                                 "01"
                                 "01"
                                 "09"
                                 "00000002"
                                 "00000003"
                                 "00" + // tag 1: current leader 2 epoch 3
                                 "00" + // topic tags
                                 "01"
                                 "00"
                                 "0d"
                                 "02"
                                 "00000002"
                                 "0262"
                                 "00002384"
                                 "00"
                                 "00"; // tag 0: node endpoints
    CHECK(encoded_hex(resp, 16) == expected);
    bool at_end = false;
    const auto in = from_hex(expected);
    const auto d = decode_hex<fetch::response>(in, 16, at_end);
    REQUIRE(d);
    CHECK(at_end);
    CHECK(d->responses[0].partitions[0].current_leader == leader_id_and_epoch{node_id{2}, leader_epoch{3}});
    REQUIRE(d->node_endpoints.size() == 1);
    CHECK(d->node_endpoints[0].host == "b");
    // At v15 the top-level tag 0 is not known: skipped, not read as endpoints.
    const auto d15 = decode_hex<fetch::response>(in, 15, at_end);
    REQUIRE(d15);
    CHECK(at_end);
    CHECK(d15->node_endpoints.empty());
}

TEST_CASE("FindCoordinator v4 batches keys and answers one coordinator per key", "[wire_vectors]") {
    find_coordinator::request req;
    req.key_type = find_coordinator::coordinator_type::transaction;
    req.coordinator_keys = {"a", "b"};
    byte_buffer b;
    encode_request_frame(b, 4, 9, std::nullopt, req);
    CHECK(hex(b.view()) == std::string("00000012") +
                               "000a"
                               "0004"
                               "00000009"
                               "ffff"
                               "00" + // header v2
                               "01"
                               "03"
                               "0261"
                               "0262"
                               "00");
    byte_reader rr(b.view().subspan(4));
    REQUIRE(request_header::decode(rr));
    const auto dreq = find_coordinator::request::decode(rr, 4);
    REQUIRE(dreq);
    CHECK(rr.at_end());
    CHECK(dreq->coordinator_keys == std::vector<std::string_view>{"a", "b"});
    CHECK(dreq->key_type == find_coordinator::coordinator_type::transaction);

    find_coordinator::response resp;
    resp.coordinators = {{"a", node_id{1}, "h", 9092, error_code::none, std::nullopt},
                         {"b", node_id{-1}, "", -1, error_code::coordinator_not_available, "x"}};
    const std::string expected = std::string("00000000") + "03" +
                                 "0261"
                                 "00000001"
                                 "0268"
                                 "00002384"
                                 "0000"
                                 "00"
                                 "00" +
                                 "0262"
                                 "ffffffff"
                                 "01"
                                 "ffffffff"
                                 "000f"
                                 "0278"
                                 "00" +
                                 "00";
    CHECK(encoded_hex(resp, 4) == expected);
    bool at_end = false;
    const auto in = from_hex(expected);
    const auto d = decode_hex<find_coordinator::response>(in, 5, at_end); // v5 = v4 on the wire
    REQUIRE(d);
    CHECK(at_end);
    REQUIRE(d->coordinators.size() == 2);
    CHECK(d->coordinators[1].error_code == error_code::coordinator_not_available);
    CHECK(d->coordinators[1].error_message == std::optional<std::string_view>("x"));
    // v3 is flexible but still single-key.
    CHECK(encoded_hex(find_coordinator::request{"g", find_coordinator::coordinator_type::group, {}}, 3) == "0267"
                                                                                                           "00"
                                                                                                           "00");
}

TEST_CASE("Produce v9 request and v10 response are byte exact", "[wire_vectors]") {
    const auto batch = sample_batch();
    produce::request req;
    req.topics = {{"t", {{partition_id{0}, bytes_view{batch}, {}}}}};
    CHECK(encoded_hex(req, 9) == std::string("00") + "ffff" + "00007530" + "02" + "0274" + "02" + "00000000" + "4c" +
                                     hex(bytes_view{batch}) + "00" + "00" + "00");

    produce::response resp;
    resp.responses = {{"t",
                       {{partition_id{0},
                         error_code::not_leader_or_follower,
                         offset{-1},
                         -1,
                         offset{-1},
                         {},
                         std::nullopt,
                         {node_id{2}, leader_epoch{3}}}}}};
    resp.node_endpoints = {{node_id{2}, "b", 9092, std::nullopt}};
    const std::string expected = std::string("02") + "0274" + "02" +
                                 "00000000"
                                 "0006" +
                                 "ffffffffffffffff" +
                                 "ffffffffffffffff"
                                 "ffffffffffffffff" +
                                 "01"
                                 "00" + // no record errors, null msg
                                 "01"
                                 "00"
                                 "09"
                                 "00000002"
                                 "00000003"
                                 "00" +
                                 "00" +       // tag 0 current leader; topic tags
                                 "00000000" + // throttle
                                 "01"
                                 "00"
                                 "0d"
                                 "02"
                                 "00000002"
                                 "0262"
                                 "00002384"
                                 "00"
                                 "00";
    CHECK(encoded_hex(resp, 10) == expected);
    bool at_end = false;
    const auto in = from_hex(expected);
    const auto d = decode_hex<produce::response>(in, 11, at_end);
    REQUIRE(d);
    CHECK(at_end);
    CHECK(d->responses[0].partitions[0].current_leader == leader_id_and_epoch{node_id{2}, leader_epoch{3}});
    // v9 knows neither tag: both skipped.
    const auto d9 = decode_hex<produce::response>(in, 9, at_end);
    REQUIRE(d9);
    CHECK(at_end);
    CHECK(d9->responses[0].partitions[0].current_leader == leader_id_and_epoch{});
    CHECK(d9->node_endpoints.empty());

    // v8 (classic) with record errors.
    produce::response v8;
    v8.responses = {
        {"t", {{partition_id{0}, error_code::invalid_record, offset{-1}, -1, offset{0}, {{1, "k"}}, "m", {}}}}};
    CHECK(encoded_hex(v8, 8) == std::string("00000001") + "000174" + "00000001" +
                                    "00000000"
                                    "0057" +
                                    "ffffffffffffffff"
                                    "ffffffffffffffff"
                                    "0000000000000000" +
                                    "00000001"
                                    "00000001"
                                    "00016b" +
                                    "00016d" + "00000000");
}

TEST_CASE("ListOffsets v6+ and InitProducerId v5 are byte exact", "[wire_vectors]") {
    list_offsets::request req;
    req.topics = {{"t", {{partition_id{0}, list_offsets::max_timestamp, 1, leader_epoch{-1}}}}};
    CHECK(encoded_hex(req, 7) == "ffffffff"
                                 "00"
                                 "02"
                                 "0274"
                                 "02"
                                 "00000000"
                                 "ffffffff"
                                 "fffffffffffffffd"
                                 "00"
                                 "00"
                                 "00");
    list_offsets::response resp;
    resp.topics = {{"t", {{partition_id{0}, error_code::none, {}, 1700000000000, offset{42}, leader_epoch{3}}}}};
    CHECK(encoded_hex(resp, 8) == "00000000"
                                  "02"
                                  "0274"
                                  "02"
                                  "00000000"
                                  "0000"
                                  "0000018bcfe56800"
                                  "000000000000002a"
                                  "00000003"
                                  "00"
                                  "00"
                                  "00");
    // v4/v5: the same fields, classic.
    CHECK(encoded_hex(resp, 4) == "00000000"
                                  "00000001"
                                  "000174"
                                  "00000001"
                                  "00000000"
                                  "0000"
                                  "0000018bcfe56800"
                                  "000000000000002a"
                                  "00000003");

    init_producer_id::request ipid{"tx", 60000, producer_id{7}, producer_epoch{1}};
    CHECK(encoded_hex(ipid, 5) == "03"
                                  "7478"
                                  "0000ea60"
                                  "0000000000000007"
                                  "0001"
                                  "00");
    CHECK(encoded_hex(init_producer_id::response{0, error_code::none, producer_id{7}, producer_epoch{2}}, 5) ==
          "00000000"
          "0000"
          "0000000000000007"
          "0002"
          "00");
}

TEST_CASE("ApiVersions v4 request and response are v3 on the wire", "[wire_vectors]") {
    CHECK(encoded_hex(api_versions::request{"gregor", "1"}, 4) == "07" + hex(as_bytes("gregor")) +
                                                                      "02"
                                                                      "31"
                                                                      "00");
    api_versions::response resp;
    resp.api_keys = {{api_key::fetch, 4, 16}};
    resp.supported_features = {{"x", 0, 1}};
    resp.finalized_features_epoch = 5;
    // error, one api (tags), throttle, then tag 0 (features) and tag 1 (epoch), ascending.
    const std::string expected = "0000"
                                 "02"
                                 "0001"
                                 "0004"
                                 "0010"
                                 "00"
                                 "00000000"
                                 "02"
                                 "00"
                                 "08"
                                 "02"
                                 "0278"
                                 "0000"
                                 "0001"
                                 "00"
                                 "01"
                                 "08"
                                 "0000000000000005";
    CHECK(encoded_hex(resp, 4) == expected);
    CHECK(encoded_hex(resp, 3) == expected);
}

// ---------------------------------------------------------------------------------------------
// Unknown tagged fields.

namespace {

// An encoding whose top-level tagged section is empty (last byte 00), with that section replaced
// by two unknown tags; the decoder must skip them and re-encode the original.
template <typename M>
void check_unknown_top_level_tags(const M& m, std::int16_t version) {
    INFO(std::string(M::api::name) << " v" << version);
    auto bytes = encode_bytes(m, version);
    REQUIRE_FALSE(bytes.empty());
    REQUIRE(bytes.back() == std::byte{0});
    bytes.pop_back();
    for (auto b : from_hex("02 28 03 aabbcc 8001 00")) bytes.push_back(b); // tags 40 and 128
    byte_reader r(bytes_view{bytes});
    const auto d = M::decode(r, version);
    REQUIRE(d);
    CHECK(r.at_end());
    CHECK(hex(bytes_view{encode_bytes(*d, version)}) == hex(bytes_view{encode_bytes(m, version)}));
}

template <typename Api, typename M>
void unknown_tags_every_flexible_version(const M& m) {
    for (std::int16_t v = std::max(Api::min_version, Api::first_flexible); v <= Api::max_version; ++v)
        check_unknown_top_level_tags(m, v);
}

} // namespace

TEST_CASE("unknown top-level tagged fields are skipped by every message at every flexible version",
          "[wire_robustness]") {
    const auto batch = sample_batch();
    unknown_tags_every_flexible_version<api_versions_api>(api_versions::request{"librdkafka", "2.0.2"});
    unknown_tags_every_flexible_version<api_versions_api>(api_versions::response::advertising(broker_advertised_apis));
    metadata::request mreq;
    mreq.topics = std::vector<metadata::request_topic>{{"a", uuid_of(1)}};
    unknown_tags_every_flexible_version<metadata_api>(mreq);
    metadata::response mresp;
    mresp.topics = {{error_code::none, "a", false, {{error_code::none, partition_id{0}, node_id{1}, {}, {}, {}}}}};
    unknown_tags_every_flexible_version<metadata_api>(mresp);
    produce::request preq;
    preq.topics = {{"a", {{partition_id{0}, bytes_view{batch}, {}}}}};
    unknown_tags_every_flexible_version<produce_api>(preq);
    produce::response presp;
    presp.responses = {{"a", {{partition_id{0}, error_code::none, offset{1}, -1, offset{0}}}}};
    unknown_tags_every_flexible_version<produce_api>(presp);
    fetch::request freq;
    freq.topics = {{"a", {{partition_id{0}, leader_epoch{-1}, offset{0}, offset{-1}, 100}}}};
    unknown_tags_every_flexible_version<fetch_api>(freq);
    fetch::response fresp;
    fetch::partition_data fp;
    fp.records = bytes_view{batch};
    fresp.responses = {{"a", {fp}}};
    unknown_tags_every_flexible_version<fetch_api>(fresp);
    list_offsets::request lreq;
    lreq.topics = {{"a", {{partition_id{0}, -1, 1}}}};
    unknown_tags_every_flexible_version<list_offsets_api>(lreq);
    list_offsets::response lresp;
    lresp.topics = {{"a", {{partition_id{0}, error_code::none, {}, -1, offset{3}}}}};
    unknown_tags_every_flexible_version<list_offsets_api>(lresp);
    unknown_tags_every_flexible_version<init_producer_id_api>(
        init_producer_id::request{"t", 1, producer_id{2}, producer_epoch{3}});
    unknown_tags_every_flexible_version<init_producer_id_api>(
        init_producer_id::response{0, error_code::none, producer_id{2}, producer_epoch{3}});
    unknown_tags_every_flexible_version<find_coordinator_api>(
        find_coordinator::request{"g", find_coordinator::coordinator_type::group, {"g"}});
    unknown_tags_every_flexible_version<find_coordinator_api>(
        find_coordinator::response{0,
                                   error_code::none,
                                   std::nullopt,
                                   node_id{1},
                                   "h",
                                   1,
                                   {{"g", node_id{1}, "h", 1, error_code::none, std::nullopt}}});
    // The admin APIs (docs/protocol.md §17).
    unknown_tags_every_flexible_version<create_topics_api>(
        create_topics::request{{{"a", 1, 1, {{partition_id{0}, {node_id{1}}}}, {{"k", "v"}}}}, 1000, true});
    unknown_tags_every_flexible_version<create_topics_api>(
        create_topics::response{0,
                                {{"a", uuid_of(1), error_code::none, std::nullopt, error_code::invalid_config, 1, 1,
                                  std::vector<create_topics::creatable_topic_configs>{{"k", "v", false, 1, false}}}}});
    unknown_tags_every_flexible_version<delete_topics_api>(delete_topics::request{{{"a", uuid_of(2)}}, {"a"}, 1000});
    unknown_tags_every_flexible_version<delete_topics_api>(
        delete_topics::response{0, {{"a", uuid_of(2), error_code::none, std::nullopt}}});
    unknown_tags_every_flexible_version<delete_records_api>(
        delete_records::request{{{"a", {{partition_id{0}, offset{1}}}}}, 1000});
    unknown_tags_every_flexible_version<delete_records_api>(
        delete_records::response{0, {{"a", {{partition_id{0}, offset{1}, error_code::none}}}}});
    unknown_tags_every_flexible_version<describe_configs_api>(describe_configs::request{
        {{describe_configs::resource_type::topic, "a", std::vector<std::string_view>{"k"}}}, true, true});
    describe_configs::response dcresp;
    dcresp.results = {{error_code::none, std::nullopt, describe_configs::resource_type::topic, "a", {{"k", "v"}}}};
    dcresp.results[0].configs[0].synonyms = {{"k", "v", describe_configs::config_source::topic_config}};
    unknown_tags_every_flexible_version<describe_configs_api>(dcresp);
    unknown_tags_every_flexible_version<alter_configs_api>(
        alter_configs::request{{{describe_configs::resource_type::topic, "a", {{"k", "v"}}}}, false});
    unknown_tags_every_flexible_version<alter_configs_api>(
        alter_configs::response{0, {{error_code::none, std::nullopt, describe_configs::resource_type::topic, "a"}}});
    unknown_tags_every_flexible_version<create_partitions_api>(create_partitions::request{
        {{"a", 2, std::vector<create_partitions::assignment>{{{node_id{1}}}}}}, 1000, false});
    unknown_tags_every_flexible_version<create_partitions_api>(
        create_partitions::response{0, {{"a", error_code::none, std::nullopt}}});
    unknown_tags_every_flexible_version<incremental_alter_configs_api>(incremental_alter_configs::request{
        {{describe_configs::resource_type::topic, "a", {{"k", incremental_alter_configs::config_operation::set, "v"}}}},
        false});
    unknown_tags_every_flexible_version<incremental_alter_configs_api>(incremental_alter_configs::response{
        0, {{error_code::none, std::nullopt, describe_configs::resource_type::topic, "a"}}});
    unknown_tags_every_flexible_version<describe_cluster_api>(
        describe_cluster::request{true, describe_cluster::endpoint_type::brokers});
    unknown_tags_every_flexible_version<describe_cluster_api>(
        describe_cluster::response{0,
                                   error_code::none,
                                   std::nullopt,
                                   describe_cluster::endpoint_type::brokers,
                                   "c",
                                   node_id{1},
                                   {{node_id{1}, "h", 9092, std::nullopt}}});
    // Between brokers and controller (docs/protocol.md §14.11).
    unknown_tags_every_flexible_version<offset_for_leader_epoch_api>(
        offset_for_leader_epoch::request{node_id{1}, {{"a", {{partition_id{0}, leader_epoch{2}, leader_epoch{1}}}}}});
    unknown_tags_every_flexible_version<offset_for_leader_epoch_api>(offset_for_leader_epoch::response{
        0, {{"a", {{error_code::none, partition_id{0}, leader_epoch{1}, offset{5}}}}}});
    alter_partition::request apreq{node_id{1}, 2, {{"a", uuid_of(3), {}}}};
    apreq.topics[0].partitions.push_back({partition_id{0}, leader_epoch{1}, {node_id{1}}, {{node_id{1}, 2}}});
    unknown_tags_every_flexible_version<alter_partition_api>(apreq);
    alter_partition::response apresp{0, error_code::none, {{"a", uuid_of(3), {}}}};
    apresp.topics[0].partitions.push_back(
        {partition_id{0}, error_code::none, node_id{1}, leader_epoch{1}, {node_id{1}}});
    unknown_tags_every_flexible_version<alter_partition_api>(apresp);
    unknown_tags_every_flexible_version<broker_registration_api>(
        broker_registration::request{node_id{1}, "c", uuid_of(4), {{"PLAINTEXT", "h", 9092, 0}}, {}, std::nullopt});
    unknown_tags_every_flexible_version<broker_registration_api>(broker_registration::response{0, error_code::none, 3});
    // Tag 0 (offline_log_dirs) stays empty here: the check appends tags 40 and 128 after it.
    unknown_tags_every_flexible_version<broker_heartbeat_api>(broker_heartbeat::request{node_id{1}, 3, 10});
    unknown_tags_every_flexible_version<broker_heartbeat_api>(broker_heartbeat::response{});
}

TEST_CASE("unknown tagged fields inside nested structs are skipped", "[wire_robustness]") {
    // Metadata v9 response: one broker and one partition, each with an unknown tag.
    const auto in = from_hex("00000000"                                    // throttle
                             "02 00000001 0268 00002384 00 01 05 01 ff"    // broker + tag 5
                             "00 00000001"                                 // null cluster id, controller
                             "02 0000 0274 00"                             // topic "t"
                             "02 0000 00000000 00000001 00000000 01 01 01" // partition, empty lists
                             "02 07 00 09 02 abcd"                         // tags 7 (empty) and 9
                             "80000000 00 80000000 00");                   // topic ops, cluster ops
    bool at_end = false;
    const auto d = decode_hex<metadata::response>(in, 9, at_end);
    REQUIRE(d);
    CHECK(at_end);
    CHECK(d->brokers[0].port == 9092);
    CHECK(d->topics[0].partitions[0].leader_id == node_id{1});
    // Re-encoding drops the unknown tags.
    CHECK(encoded_hex(*d, 9) == "00000000"
                                "02"
                                "00000001"
                                "0268"
                                "00002384"
                                "00"
                                "00"
                                "00"
                                "00000001"
                                "02"
                                "0000"
                                "0274"
                                "00"
                                "02"
                                "0000"
                                "00000000"
                                "00000001"
                                "00000000"
                                "01"
                                "01"
                                "01"
                                "00"
                                "80000000"
                                "00"
                                "80000000"
                                "00");

    // Fetch v12 response: an unknown partition tag beside a known one.
    const auto f = from_hex("00000000 0000 00000000 02 0274"
                            "02 00000000 0000 0000000000000001 0000000000000001 0000000000000000 00 ffffffff 00"
                            "02 01 09 00000003 00000004 00 06 01 00"
                            "00 00");
    const auto fd = decode_hex<fetch::response>(f, 12, at_end);
    REQUIRE(fd);
    CHECK(at_end);
    CHECK(fd->responses[0].partitions[0].current_leader == leader_id_and_epoch{node_id{3}, leader_epoch{4}});
}

TEST_CASE("a known tagged field whose size does not match its value fails", "[wire_robustness]") {
    bool at_end = false;
    // Produce v10 response, current_leader tag claiming 10 bytes for a 9-byte value (+1 junk).
    const auto too_long = from_hex("02 0274 02 00000000 0000 0000000000000000 ffffffffffffffff ffffffffffffffff 01 00"
                                   "01 00 0a 00000002 00000003 00 ee 00 00000000 00");
    CHECK_FALSE(decode_hex<produce::response>(too_long, 10, at_end));
    // ... and 8 bytes, cutting the struct's own tagged section.
    const auto too_short = from_hex("02 0274 02 00000000 0000 0000000000000000 ffffffffffffffff ffffffffffffffff 01 00"
                                    "01 00 08 00000002 00000003 00 00000000 00");
    CHECK_FALSE(decode_hex<produce::response>(too_short, 10, at_end));
    // The same bytes at v9, where tag 0 is unknown, decode (the tag is skipped).
    const auto ok9 = decode_hex<produce::response>(too_long, 9, at_end);
    CHECK(ok9);
    CHECK(at_end);
}

// ---------------------------------------------------------------------------------------------
// The field-description machinery.

TEST_CASE("the sizer counts exactly what the encoder writes", "[wire_primitives]") {
    const auto batch = sample_batch();
    fetch::response resp;
    fetch::partition_data p;
    p.records = bytes_view{batch};
    p.current_leader = {node_id{1}, leader_epoch{1}};
    p.aborted_transactions = std::vector<fetch::aborted_transaction>{{producer_id{1}, offset{0}}};
    resp.responses = {{"topic", {p, p}, uuid_of(1)}};
    resp.node_endpoints = {{node_id{1}, "host", 1, "rack"}};
    for_each_version<fetch_api>([&](std::int16_t v) {
        byte_counter n;
        sizer s(n, is_flexible_version<fetch_api>(v), v);
        fetch::response::fields(s, resp);
        CHECK(n.position() == encode_bytes(resp, v).size());
    });
    // External records count their wire bytes.
    fetch::response ext;
    fetch::partition_data e;
    e.external = external_records{100, 1};
    ext.responses = {{"t", {e}}};
    byte_counter n;
    sizer s(n, true, 12);
    fetch::response::fields(s, ext);
    byte_buffer b;
    byte_writer w(b);
    gap_list gaps;
    ext.encode(w, 12, gaps);
    CHECK(n.position() == b.size() + 100);
}

TEST_CASE("tagged fields must be described in ascending order", "[wire_primitives]") {
    byte_buffer b;
    byte_writer w(b);
    encoder e(w, true);
    std::int32_t x = 1;
    const auto body = [&](auto& io) { io.i32(x); };
    CHECK_THROWS_AS(e.tagged_fields(tag(2, true, body), tag(1, true, body)), std::logic_error);
    b.clear();
    e.tagged_fields(tag(1, true, body), tag(2, false, body), tag(3, true, body));
    CHECK(hex(b.view()) == "02"
                           "01"
                           "04"
                           "00000001"
                           "03"
                           "04"
                           "00000001");
    // Classic versions have no tagged section at all.
    byte_buffer c;
    byte_writer cw(c);
    encoder classic(cw, false);
    classic.tagged_fields(tag(1, true, body));
    CHECK(c.empty());
}

TEST_CASE("array bounds come from the smallest element encoding", "[wire_primitives]") {
    // Metadata v12 response topics: the smallest topic is error(2) + null name(1) + uuid(16) +
    // internal(1) + no partitions(1) + ops(4) + tags(1) = 26 bytes. A count of 2 topics in 51
    // bytes must fail before reading; in 52 it gets as far as decoding them.
    std::vector<std::byte> in = from_hex("00000000 01 00 ffffffff 03");
    const auto one_topic = from_hex("0000 00 00000000000000000000000000000000 00 01 80000000 00");
    REQUIRE(one_topic.size() == 26);
    auto short_in = in;
    short_in.insert(short_in.end(), one_topic.begin(), one_topic.end());
    short_in.insert(short_in.end(), one_topic.begin(), one_topic.end() - 1); // 51 bytes of topics
    bool at_end = false;
    CHECK_FALSE(decode_hex<metadata::response>(short_in, 12, at_end));
    auto full = in;
    full.insert(full.end(), one_topic.begin(), one_topic.end());
    full.insert(full.end(), one_topic.begin(), one_topic.end());
    full.push_back(std::byte{0}); // top-level tags
    const auto d = decode_hex<metadata::response>(full, 12, at_end);
    REQUIRE(d);
    CHECK(at_end);
    CHECK(d->topics.size() == 2);
}
