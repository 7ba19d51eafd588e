// Every implemented message at every implemented version: encode -> decode -> identical bytes,
// with every truncation failing, plus field checks and byte-exact known encodings.
#include "message_test_util.hpp"

#include <gregor/wire/header.hpp>
#include <gregor/wire/messages/api_versions.hpp>
#include <gregor/wire/messages/fetch.hpp>
#include <gregor/wire/messages/find_coordinator.hpp>
#include <gregor/wire/messages/init_producer_id.hpp>
#include <gregor/wire/messages/list_offsets.hpp>
#include <gregor/wire/messages/metadata.hpp>
#include <gregor/wire/messages/produce.hpp>
#include <gregor/wire/record_batch.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace gregor;
using namespace gregor::wire;
using gregor::test::for_each_version;
using gregor::test::from_hex;
using gregor::test::hex;
using gregor::test::round_trip;
using gregor::test::same_bytes;
using gregor::test::sample_batch;

namespace {


} // namespace

// ---------------------------------------------------------------------------------------------
// ApiVersions

TEST_CASE("ApiVersions round-trips at every version", "[wire_messages]") {
    for_each_version<api_versions_api>([](std::int16_t v) {
        const auto req = round_trip(api_versions::request{"librdkafka", "2.0.2"}, v);
        CHECK(req.msg.client_software_name == (v >= 3 ? "librdkafka" : ""));
        round_trip(api_versions::request{}, v);

        auto resp = api_versions::response::advertising(broker_advertised_apis);
        resp.throttle_time_ms = 9;
        const auto d = round_trip(resp, v);
        CHECK(d.msg.api_keys.size() == broker_advertised_apis.size());
        CHECK(d.msg.find(api_key::fetch) == std::optional<version_range>(version_range{4, 16}));
        CHECK(d.msg.throttle_time_ms == (v >= 1 ? 9 : 0));
        round_trip(api_versions::response{}, v);
    });
}

TEST_CASE("ApiVersions v3 request frame matches what librdkafka sends", "[wire_vectors]") {
    byte_buffer b;
    encode_request_frame(b, 3, 1, "rdkafka", api_versions::request{"librdkafka", "2.0.2"});
    const std::string expected = std::string("00000024") + // size 36
                                 "0012"
                                 "0003"
                                 "00000001" + // ApiVersions v3, correlation 1
                                 "0007" +
                                 hex(as_bytes("rdkafka")) + "00" +     // client_id, header tags
                                 "0b" + hex(as_bytes("librdkafka")) +  // compact name
                                 "06" + hex(as_bytes("2.0.2")) + "00"; // compact version, tags
    CHECK(hex(b.view()) == expected);

    byte_reader r(b.view().subspan(4));
    const auto h = request_header::decode(r);
    REQUIRE(h);
    CHECK(h->header_version() == 2);
    const auto body = api_versions::request::decode(r, h->version);
    REQUIRE(body);
    CHECK(body->client_software_name == "librdkafka");
    CHECK(body->client_software_version == "2.0.2");
    CHECK(r.at_end());
}

TEST_CASE("ApiVersions unsupported-version answer is v0-shaped with a v0 header", "[wire_vectors]") {
    byte_buffer b;
    // The client asked for v5; the body and header are v0 whatever it asked.
    encode_response_frame(b, 0, 77, api_versions::response::unsupported_version_response());
    CHECK(hex(b.view()) == "00000010"
                           "0000004d"
                           "0023"
                           "00000001"
                           "0012"
                           "0000"
                           "0004");

    // A client that sent v3 falls back to the v0 shape when the v3 parse fails.
    const auto body = b.view().subspan(8);
    byte_reader r3(body);
    CHECK_FALSE(api_versions::response::decode(r3, 3));
    const auto fb = api_versions::response::decode_or_fallback(body, 3);
    REQUIRE(fb);
    CHECK(fb->error_code == error_code::unsupported_version);
    CHECK(fb->find(api_key::api_versions) == std::optional<version_range>(version_range{0, 4}));
}

TEST_CASE("ApiVersions v3 response skips the tagged fields a Kafka broker adds", "[wire_vectors]") {
    // error 0, one api (Produce 0-11, no tags), throttle 0, then two top-level tagged fields:
    // tag 0 SupportedFeatures (compact array, one feature "x" 0-1, tags) and tag 1 epoch int64.
    const auto in = from_hex("0000 02 0000 0000 000b 00 00000000 "
                             "02 00 08 02 0278 0000 0001 00 01 08 0000000000000005");
    byte_reader r(bytes_view{in});
    const auto m = api_versions::response::decode(r, 3);
    REQUIRE(m);
    CHECK(r.at_end());
    REQUIRE(m->api_keys.size() == 1);
    CHECK(m->api_keys[0].max_version == 11);
}

// ---------------------------------------------------------------------------------------------
// Metadata

TEST_CASE("Metadata round-trips at every version", "[wire_messages]") {
    for_each_version<metadata_api>([](std::int16_t v) {
        metadata::request all;
        const auto d_all = round_trip(all, v);
        CHECK_FALSE(d_all.msg.topics);

        metadata::request some;
        some.topics = std::vector<metadata::request_topic>{{"orders"}, {"payments"}};
        some.allow_auto_topic_creation = false;
        const auto d_some = round_trip(some, v);
        REQUIRE(d_some.msg.topics);
        CHECK((*d_some.msg.topics)[1].name == "payments");
        CHECK(d_some.msg.allow_auto_topic_creation == (v < 4));

        metadata::response resp;
        resp.throttle_time_ms = 3;
        resp.brokers = {{node_id{1}, "127.0.0.1", 9092, "rack-a"}, {node_id{2}, "localhost", 9093, std::nullopt}};
        resp.cluster_id = "gregor-cluster";
        resp.controller_id = node_id{1};
        metadata::partition p0{error_code::none,         partition_id{0}, node_id{1},
                               {node_id{1}, node_id{2}}, {node_id{1}},    {node_id{2}}};
        metadata::partition p1{error_code::leader_not_available, partition_id{1}, node_id{-1}, {}, {}, {}};
        resp.topics = {{error_code::none, "orders", false, {p0, p1}},
                       {error_code::unknown_topic_or_partition, "missing", true, {}}};
        const auto d = round_trip(resp, v);
        REQUIRE(d.msg.brokers.size() == 2);
        CHECK(d.msg.brokers[0].host == "127.0.0.1");
        CHECK(d.msg.brokers[1].port == 9093);
        CHECK(d.msg.controller_id == node_id{v >= 1 ? 1 : -1});
        CHECK(d.msg.cluster_id == (v >= 2 ? std::optional<std::string_view>("gregor-cluster") : std::nullopt));
        REQUIRE(d.msg.topics.size() == 2);
        CHECK(d.msg.topics[1].error_code == error_code::unknown_topic_or_partition);
        REQUIRE(d.msg.topics[0].partitions.size() == 2);
        CHECK(d.msg.topics[0].partitions[0].isr_nodes == std::vector<node_id>{node_id{1}});
        CHECK(d.msg.topics[0].partitions[0].offline_replicas.size() == (v >= 5 ? 1u : 0u));
        CHECK(d.msg.topics[0].partitions[1].error_code == error_code::leader_not_available);
        round_trip(metadata::response{}, v);
    });
}

TEST_CASE("Metadata v4 request matches Kafka's layout", "[wire_vectors]") {
    metadata::request m;
    m.topics = std::vector<metadata::request_topic>{{"t"}};
    CHECK(hex(bytes_view{test::encode_bytes(m, 4)}) == "00000001"
                                                       "000174"
                                                       "01");
    m.topics.reset();
    CHECK(hex(bytes_view{test::encode_bytes(m, 4)}) == "ffffffff"
                                                       "01");
    // v0 has no null: "all topics" is the empty array.
    CHECK(hex(bytes_view{test::encode_bytes(m, 0)}) == "00000000");
    // v1+ empty array means "no topics" and stays distinct from null.
    m.topics = std::vector<metadata::request_topic>{};
    const auto d = round_trip(m, 1);
    REQUIRE(d.msg.topics);
    CHECK(d.msg.topics->empty());
}

// ---------------------------------------------------------------------------------------------
// Produce

TEST_CASE("Produce round-trips at every version and records stay in the frame", "[wire_messages]") {
    const auto batch = sample_batch();
    for_each_version<produce_api>([&](std::int16_t v) {
        produce::request req;
        req.transactional_id = "txn-1";
        req.acks = 1;
        req.timeout_ms = 1500;
        req.topics = {{"orders", {{partition_id{0}, bytes_view{batch}, {}}, {partition_id{3}, std::nullopt, {}}}},
                      {"empty", {}}};
        const auto d = round_trip(req, v);
        CHECK(d.msg.transactional_id == std::optional<std::string_view>("txn-1"));
        CHECK(d.msg.acks == 1);
        REQUIRE(d.msg.topics.size() == 2);
        const auto& p = d.msg.topics[0].partitions[0];
        REQUIRE(p.records);
        CHECK(same_bytes(p.records, bytes_view{batch}));
        // Zero copy: the records view points into the encoded request itself.
        CHECK(p.records->data() >= d.wire.data());
        CHECK(p.records->data() + p.records->size() <= d.wire.data() + d.wire.size());
        CHECK(validate(*p.records) == batch_error::none);
        CHECK_FALSE(d.msg.topics[0].partitions[1].records);

        produce::request plain;
        round_trip(plain, v);

        produce::response resp;
        resp.responses = {{"orders",
                           {{partition_id{0}, error_code::none, offset{42}, 1700000000000, offset{7}},
                            {partition_id{3}, error_code::not_leader_or_follower, offset{-1}, -1, offset{-1}}}}};
        resp.throttle_time_ms = 11;
        const auto r = round_trip(resp, v);
        REQUIRE(r.msg.responses[0].partitions.size() == 2);
        CHECK(r.msg.responses[0].partitions[0].base_offset == offset{42});
        CHECK(r.msg.responses[0].partitions[0].log_start_offset == offset{v >= 5 ? 7 : -1});
        CHECK(r.msg.responses[0].partitions[1].error_code == error_code::not_leader_or_follower);
        CHECK(r.msg.throttle_time_ms == 11);
    });
}

TEST_CASE("Produce v0-2 carry old message formats and are refused", "[wire_messages]") {
    produce::request req;
    byte_buffer b;
    byte_writer w(b);
    CHECK_THROWS_AS(req.encode(w, 2), std::invalid_argument);
    CHECK_THROWS_AS(req.encode(w, 12), std::invalid_argument);
    const auto bytes = test::encode_bytes(req, 3);
    for (std::int16_t v : {std::int16_t{0}, std::int16_t{1}, std::int16_t{2}, std::int16_t{12}}) {
        byte_reader r(bytes_view{bytes});
        CHECK_FALSE(produce::request::decode(r, v));
        CHECK_FALSE(r.ok());
    }
}

TEST_CASE("Produce v7 request with the reference batch is byte exact", "[wire_vectors]") {
    const auto batch = sample_batch();
    produce::request req;
    req.acks = -1;
    req.timeout_ms = 30000;
    req.topics = {{"t", {{partition_id{0}, bytes_view{batch}, {}}}}};
    const std::string expected = std::string("ffff") + "ffff" + "00007530" + "00000001" + "000174" + "00000001" +
                                 "00000000" + "0000004b" + hex(bytes_view{batch});
    CHECK(hex(bytes_view{test::encode_bytes(req, 7)}) == expected);
}

TEST_CASE("Produce request can leave batches out as gaps for writev", "[wire_messages]") {
    const auto batch = sample_batch();
    produce::request req;
    req.topics = {
        {"t", {{partition_id{0}, std::nullopt, external_records{static_cast<std::uint32_t>(batch.size()), 9}}}}};
    byte_buffer b;
    gap_list gaps;
    encode_request_frame(b, 7, 5, "gregor", req, gaps);
    REQUIRE(gaps.size() == 1);
    CHECK(gaps[0].cookie == 9);
    CHECK(gaps[0].position == b.size()); // the batch is the last thing in the frame
    // Assemble what the socket would carry and decode it as the broker would.
    std::vector<std::byte> wire;
    for_each_piece(
        b.view(), gaps, [&](bytes_view p) { wire.insert(wire.end(), p.begin(), p.end()); },
        [&](const records_gap&) { wire.insert(wire.end(), batch.begin(), batch.end()); });
    byte_reader r(bytes_view{wire});
    CHECK(static_cast<std::size_t>(r.i32()) == wire.size() - 4);
    const auto h = request_header::decode(r);
    REQUIRE(h);
    const auto body = produce::request::decode(r, h->version);
    REQUIRE(body);
    CHECK(same_bytes(body->topics[0].partitions[0].records, bytes_view{batch}));

    byte_buffer plain;
    byte_writer w(plain);
    CHECK_THROWS_AS(req.encode(w, 7), std::invalid_argument);
}

// ---------------------------------------------------------------------------------------------
// Fetch

namespace {
fetch::request sample_fetch_request() {
    fetch::request req;
    req.replica_id = node_id{-1};
    req.max_wait_ms = 500;
    req.min_bytes = 1;
    req.max_bytes = 52428800;
    req.isolation_level = isolation_level::read_committed;
    req.session_id = 0;
    req.session_epoch = -1;
    req.topics = {{"orders",
                   {{partition_id{0}, leader_epoch{4}, offset{100}, offset{-1}, 1048576},
                    {partition_id{2}, leader_epoch{-1}, offset{0}, offset{0}, 65536}}}};
    req.forgotten_topics_data = {{"old", {partition_id{1}, partition_id{5}}}};
    req.rack_id = "rack-a";
    return req;
}
} // namespace

TEST_CASE("Fetch round-trips at every version", "[wire_messages]") {
    const auto batch = sample_batch();
    for_each_version<fetch_api>([&](std::int16_t v) {
        const auto d = round_trip(sample_fetch_request(), v);
        CHECK(d.msg.isolation_level == isolation_level::read_committed);
        CHECK(d.msg.topics[0].partitions[0].fetch_offset == offset{100});
        CHECK(d.msg.topics[0].partitions[0].current_leader_epoch == leader_epoch{v >= 9 ? 4 : -1});
        CHECK(d.msg.forgotten_topics_data.size() == (v >= 7 ? 1u : 0u));
        CHECK(d.msg.rack_id == (v >= 11 ? "rack-a" : ""));
        round_trip(fetch::request{}, v);

        fetch::response resp;
        resp.throttle_time_ms = 1;
        resp.session_id = 0;
        fetch::partition_data with_data;
        with_data.partition_index = partition_id{0};
        with_data.high_watermark = offset{10};
        with_data.last_stable_offset = offset{8};
        with_data.log_start_offset = offset{0};
        with_data.aborted_transactions = std::vector<fetch::aborted_transaction>{{producer_id{5}, offset{1}}};
        with_data.records = bytes_view{batch};
        fetch::partition_data failed;
        failed.partition_index = partition_id{1};
        failed.error_code = error_code::offset_out_of_range;
        resp.responses = {{"orders", {with_data, failed}}};
        const auto r = round_trip(resp, v);
        const auto& p = r.msg.responses[0].partitions[0];
        CHECK(p.last_stable_offset == offset{8});
        REQUIRE(p.aborted_transactions);
        CHECK((*p.aborted_transactions)[0].producer_id == producer_id{5});
        CHECK(p.preferred_read_replica == node_id{-1});
        CHECK(same_bytes(p.records, bytes_view{batch}));
        CHECK(p.records->data() >= r.wire.data());
        CHECK_FALSE(r.msg.responses[0].partitions[1].records);
        CHECK_FALSE(r.msg.responses[0].partitions[1].aborted_transactions);
        round_trip(fetch::response{}, v);
    });
}

TEST_CASE("Fetch response leaves external records as gaps and the frame size counts them", "[wire_vectors]") {
    const auto batch = sample_batch();
    const auto marker = from_hex(test::abort_marker_hex);

    fetch::response resp;
    fetch::partition_data a; // from "the file": not copied
    a.partition_index = partition_id{0};
    a.high_watermark = offset{3};
    a.last_stable_offset = offset{3};
    a.log_start_offset = offset{0};
    a.aborted_transactions = std::vector<fetch::aborted_transaction>{};
    a.external = external_records{static_cast<std::uint32_t>(batch.size()), 100};
    fetch::partition_data b_inline; // from memory: copied inline
    b_inline.partition_index = partition_id{1};
    b_inline.high_watermark = offset{1};
    b_inline.last_stable_offset = offset{1};
    b_inline.records = bytes_view{marker};
    fetch::partition_data c; // second external range
    c.partition_index = partition_id{2};
    c.high_watermark = offset{3};
    c.last_stable_offset = offset{3};
    c.external = external_records{static_cast<std::uint32_t>(marker.size()), 200};
    resp.responses = {{"t", {a, b_inline, c}}};

    byte_buffer out;
    gap_list gaps;
    encode_response_frame(out, 11, 12, resp, gaps);
    REQUIRE(gaps.size() == 2);
    CHECK(gaps[0].cookie == 100);
    CHECK(gaps[1].cookie == 200);
    CHECK(gaps[0].position < gaps[1].position);
    // The encoded buffer holds no byte of the external records.
    CHECK(out.size() + batch.size() + marker.size() == static_cast<std::size_t>(load_be<std::int32_t>(out.data())) + 4);
    // The length prefix right before each gap announces the gap's size.
    CHECK(load_be<std::int32_t>(out.data() + gaps[0].position - 4) == static_cast<std::int32_t>(batch.size()));

    // The exact bytes up to the first gap: size, header v0, throttle, error, session, one topic
    // "t", three partitions, then partition 0's fields.
    const std::string head = hex(out.view().subspan(4, gaps[0].position - 4));
    const std::string expected_head = std::string("0000000c") + "00000000" + "0000" + "00000000" + "00000001" +
                                      "000174" + "00000003" + "00000000" + "0000" + "0000000000000003" +
                                      "0000000000000003" + "0000000000000000" + "00000000" + "ffffffff" + "0000004b";
    CHECK(head == expected_head);

    // What the consumer receives decodes with the records in place.
    std::vector<std::byte> wire;
    for_each_piece(
        out.view(), gaps, [&](bytes_view p) { wire.insert(wire.end(), p.begin(), p.end()); },
        [&](const records_gap& g) {
            const auto& src = g.cookie == 100 ? batch : marker;
            REQUIRE(src.size() == g.size);
            wire.insert(wire.end(), src.begin(), src.end());
        });
    byte_reader r(bytes_view{wire});
    CHECK(static_cast<std::size_t>(r.i32()) == wire.size() - 4);
    const auto h = response_header::decode(r, response_header_version(api_key::fetch, 11));
    REQUIRE(h);
    CHECK(h->correlation_id == 12);
    const auto m = fetch::response::decode(r, 11);
    REQUIRE(m);
    CHECK(r.at_end());
    const auto& parts = m->responses[0].partitions;
    REQUIRE(parts.size() == 3);
    CHECK(same_bytes(parts[0].records, bytes_view{batch}));
    CHECK(same_bytes(parts[1].records, bytes_view{marker}));
    CHECK(same_bytes(parts[2].records, bytes_view{marker}));
    REQUIRE(parts[0].aborted_transactions);
    CHECK(parts[0].aborted_transactions->empty());
    batch_splitter split(*parts[0].records);
    const auto first = split.next();
    REQUIRE(first);
    CHECK(validate(*first) == batch_error::none);
}

// ---------------------------------------------------------------------------------------------
// ListOffsets, InitProducerId, FindCoordinator

TEST_CASE("ListOffsets round-trips at every version", "[wire_messages]") {
    for_each_version<list_offsets_api>([](std::int16_t v) {
        list_offsets::request req;
        req.replica_id = node_id{-1};
        req.isolation_level = isolation_level::read_committed;
        req.topics = {{"orders",
                       {{partition_id{0}, list_offsets::earliest_timestamp, 1},
                        {partition_id{1}, list_offsets::latest_timestamp, 1},
                        {partition_id{2}, 1700000000000, 5}}}};
        const auto d = round_trip(req, v);
        CHECK(d.msg.topics[0].partitions[0].timestamp == -2);
        CHECK(d.msg.topics[0].partitions[2].max_num_offsets == (v == 0 ? 5 : 1));
        CHECK(d.msg.isolation_level == (v >= 2 ? isolation_level::read_committed : isolation_level::read_uncommitted));

        list_offsets::response resp;
        resp.throttle_time_ms = 2;
        resp.topics = {{"orders",
                        {{partition_id{0}, error_code::none, {0}, -1, offset{0}},
                         {partition_id{1}, error_code::none, {42, 0}, 1700000000000, offset{42}},
                         {partition_id{9}, error_code::unknown_topic_or_partition, {}, -1, offset{-1}}}}};
        const auto r = round_trip(resp, v);
        const auto& p = r.msg.topics[0].partitions[1];
        if (v == 0) {
            CHECK(p.old_style_offsets == std::vector<std::int64_t>{42, 0});
            CHECK(p.offset == offset{-1});
        } else {
            CHECK(p.old_style_offsets.empty());
            CHECK(p.offset == offset{42});
            CHECK(p.timestamp == 1700000000000);
        }
        round_trip(list_offsets::request{}, v);
        round_trip(list_offsets::response{}, v);
    });
}

TEST_CASE("InitProducerId round-trips at every version, flexible from v2", "[wire_messages]") {
    for_each_version<init_producer_id_api>([](std::int16_t v) {
        init_producer_id::request idem; // idempotent only: null transactional id
        const auto a = round_trip(idem, v);
        CHECK_FALSE(a.msg.transactional_id);
        init_producer_id::request txn{"my-txn", 60000, producer_id{1000}, producer_epoch{3}};
        const auto b = round_trip(txn, v);
        CHECK(b.msg.transactional_id == std::optional<std::string_view>("my-txn"));
        CHECK(b.msg.producer_id == (v >= 3 ? producer_id{1000} : no_producer_id));

        init_producer_id::response resp{0, error_code::none, producer_id{1000}, producer_epoch{4}};
        const auto r = round_trip(resp, v);
        CHECK(r.msg.producer_epoch == producer_epoch{4});
        round_trip(init_producer_id::response{5, error_code::producer_fenced, no_producer_id, no_producer_epoch}, v);
    });
}

TEST_CASE("InitProducerId v4 request is compact with header v2 and v1 response header", "[wire_vectors]") {
    byte_buffer b;
    encode_request_frame(b, 4, 2, "rdkafka",
                         init_producer_id::request{std::nullopt, 60000, no_producer_id, no_producer_epoch});
    CHECK(hex(b.view()) == std::string("00000022") +
                               "0016"
                               "0004"
                               "00000002"
                               "0007" +
                               hex(as_bytes("rdkafka")) + "00" + "00" + "0000ea60" + "ffffffffffffffff" + "ffff" +
                               "00");
    byte_buffer resp;
    encode_response_frame(resp, 4, 2,
                          init_producer_id::response{0, error_code::none, producer_id{7}, producer_epoch{0}});
    CHECK(hex(resp.view()) == "00000016"
                              "00000002"
                              "00"
                              "00000000"
                              "0000"
                              "0000000000000007"
                              "0000"
                              "00");
    // v1 (kafkajs) is classic: int16 string length, no tags, header v0.
    byte_buffer v1;
    byte_writer w(v1);
    init_producer_id::request{"tx", 100, no_producer_id, no_producer_epoch}.encode(w, 1);
    CHECK(hex(v1.view()) == "00027478"
                            "00000064");
}

TEST_CASE("FindCoordinator round-trips at every version", "[wire_messages]") {
    for_each_version<find_coordinator_api>([](std::int16_t v) {
        // v0-3 carry `key`, v4+ `coordinator_keys` (KIP-699); each version keeps only its own.
        const auto d = round_trip(
            find_coordinator::request{"my-txn", find_coordinator::coordinator_type::transaction, {"my-txn", "other"}},
            v);
        CHECK(d.msg.key == (v <= 3 ? "my-txn" : ""));
        CHECK(d.msg.coordinator_keys.size() == (v >= 4 ? 2u : 0u));
        CHECK(d.msg.key_type ==
              (v >= 1 ? find_coordinator::coordinator_type::transaction : find_coordinator::coordinator_type::group));
        find_coordinator::response resp{0,
                                        error_code::none,
                                        std::nullopt,
                                        node_id{1},
                                        "127.0.0.1",
                                        9092,
                                        {{"my-txn", node_id{1}, "127.0.0.1", 9092, error_code::none, std::nullopt}}};
        const auto r = round_trip(resp, v);
        if (v <= 3) {
            CHECK(r.msg.node_id == node_id{1});
            CHECK(r.msg.host == "127.0.0.1");
            CHECK(r.msg.coordinators.empty());
        } else {
            REQUIRE(r.msg.coordinators.size() == 1);
            CHECK(r.msg.coordinators[0].key == "my-txn");
            CHECK(r.msg.coordinators[0].node_id == node_id{1});
            CHECK(r.msg.coordinators[0].port == 9092);
            CHECK(r.msg.node_id == node_id{-1});
        }
        round_trip(
            find_coordinator::response{7,
                                       error_code::coordinator_not_available,
                                       "loading",
                                       node_id{-1},
                                       "",
                                       -1,
                                       {{"g", node_id{-1}, "", -1, error_code::coordinator_not_available, "loading"}}},
            v);
    });
    CHECK(hex(bytes_view{test::encode_bytes(find_coordinator::request{"g", find_coordinator::coordinator_type::group},
                                            0)}) == "000167");
}
