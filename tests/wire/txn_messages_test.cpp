// The codecs of the transaction APIs and of the `__transaction_state` records (docs/protocol.md §7,
// §15): AddPartitionsToTxn, AddOffsetsToTxn, EndTxn, WriteTxnMarkers and TxnOffsetCommit, every
// message with every field set, round-tripped at every version Kafka 3.9 serves (fields a version
// lacks come back as their defaults); byte-exact encodings assembled by hand from the schemas and
// from what librdkafka 2.0.2 sends, classic and flexible, decoded back field by field; every
// truncation failing; nullable strings keeping null apart from ""; unknown tagged fields skipped.
// Then the transaction log's key and value: the design's vector in both directions, value v1 with
// its tagged fields, truncated, mutated and malformed input failing cleanly, and the placement of
// transactional ids on the topic's partitions.
#include "message_test_util.hpp"

#include <gregor/wire/api.hpp>
#include <gregor/wire/header.hpp>
#include <gregor/wire/messages/add_offsets_to_txn.hpp>
#include <gregor/wire/messages/add_partitions_to_txn.hpp>
#include <gregor/wire/messages/end_txn.hpp>
#include <gregor/wire/messages/txn_offset_commit.hpp>
#include <gregor/wire/messages/write_txn_markers.hpp>
#include <gregor/wire/txn_records.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

using namespace gregor;
using namespace gregor::wire;
using gregor::test::check_api;
using gregor::test::check_layout;
using gregor::test::encode_bytes;
using gregor::test::encoded_hex;
using gregor::test::for_each_version;
using gregor::test::from_hex;
using gregor::test::hex;
using gregor::test::round_trip;
using gregor::test::str_hex;

namespace tr = gregor::wire::txn_records;

namespace {

using bytes = std::vector<std::byte>;
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

/// `m` at a flexible `version` with its (empty) top-level tagged section replaced by two unknown
/// tags decodes to what re-encodes as `m`.
template <typename M>
void skips_unknown_top_level_tags(const M& m, std::int16_t version) {
    INFO(std::string(M::api::name) << " v" << version);
    const auto plain = encode_bytes(m, version);
    REQUIRE_FALSE(plain.empty());
    REQUIRE(plain.back() == std::byte{0});
    auto tagged = plain;
    tagged.pop_back();
    for (auto b : from_hex("02 09 02 abcd 8001 00")) tagged.push_back(b); // tags 9 and 128
    byte_reader r(bytes_view{tagged});
    const auto d = M::decode(r, version);
    REQUIRE(d);
    CHECK(r.at_end());
    CHECK(hex(bytes_view{encode_bytes(*d, version)}) == hex(bytes_view{plain}));
}

template <typename Api, typename M>
void skips_unknown_tags_every_flexible_version(const M& m) {
    for (std::int16_t v = Api::first_flexible; v <= Api::max_version; ++v) skips_unknown_top_level_tags(m, v);
}

std::vector<partition_id> parts(std::initializer_list<std::int32_t> ids) {
    std::vector<partition_id> out;
    for (auto i : ids) out.emplace_back(i);
    return out;
}

// Samples with every field of every version away from its default.

add_partitions_to_txn::request sample_add_partitions_request() {
    add_partitions_to_txn::request req;
    req.transactions = {
        {"tx-a", producer_id{1000}, producer_epoch{3}, true, {{"orders", parts({0, 2})}, {"audit", parts({1})}}},
        {"tx-b", producer_id{1001}, producer_epoch{0}, false, {{"orders", parts({1})}}}};
    req.v3_and_below_transactional_id = "tx-1";
    req.v3_and_below_producer_id = producer_id{4000};
    req.v3_and_below_producer_epoch = producer_epoch{5};
    req.v3_and_below_topics = {{"orders", parts({0, 2})}, {"audit", {}}};
    return req;
}
add_partitions_to_txn::response sample_add_partitions_response() {
    add_partitions_to_txn::response resp;
    resp.throttle_time_ms = 7;
    resp.error_code = error_code::not_coordinator;
    resp.results_by_transaction = {
        {"tx-a",
         {{"orders", {{partition_id{0}, error_code::none}, {partition_id{2}, error_code::concurrent_transactions}}}}},
        {"tx-b", {}}};
    resp.results_by_topic_v3_and_below = {{"orders",
                                           {{partition_id{0}, error_code::unknown_topic_or_partition},
                                            {partition_id{2}, error_code::operation_not_attempted}}},
                                          {"audit", {{partition_id{1}, error_code::producer_fenced}}}};
    return resp;
}

add_offsets_to_txn::request sample_add_offsets_request() {
    return {"tx-1", producer_id{4000}, producer_epoch{5}, "grp"};
}

end_txn::request sample_end_txn_request() { return {"tx-1", producer_id{4000}, producer_epoch{5}, true}; }

write_txn_markers::request sample_markers_request() {
    write_txn_markers::request req;
    req.markers = {{producer_id{4000}, producer_epoch{5}, true, {{"orders", parts({0, 2})}, {"audit", parts({1})}}, 9},
                   {producer_id{4001}, producer_epoch{0}, false, {{"__consumer_offsets", parts({12})}}, 10}};
    return req;
}
write_txn_markers::response sample_markers_response() {
    write_txn_markers::response resp;
    resp.markers = {
        {producer_id{4000},
         {{"orders", {{partition_id{0}, error_code::none}, {partition_id{2}, error_code::not_leader_or_follower}}}}},
        {producer_id{4001}, {{"__consumer_offsets", {{partition_id{12}, error_code::none}}}}}};
    return resp;
}

txn_offset_commit::request sample_txn_commit_request() {
    txn_offset_commit::request req;
    req.transactional_id = "tx-1";
    req.group_id = "grp";
    req.producer_id = producer_id{4000};
    req.producer_epoch = producer_epoch{5};
    req.generation_id = 12;
    req.member_id = "member-1";
    req.group_instance_id = "instance-1";
    req.topics = {{"orders",
                   {{partition_id{0}, offset{100}, leader_epoch{4}, "meta"},
                    {partition_id{3}, offset{250}, leader_epoch{5}, std::nullopt}}},
                  {"audit", {{partition_id{1}, offset{7}, leader_epoch{2}, ""}}}};
    return req;
}
txn_offset_commit::response sample_txn_commit_response() {
    txn_offset_commit::response resp;
    resp.throttle_time_ms = 25;
    resp.topics = {{"orders", {{partition_id{0}, error_code::none}, {partition_id{3}, error_code::illegal_generation}}},
                   {"audit", {{partition_id{1}, error_code::unknown_member_id}}}};
    return resp;
}

constexpr std::int64_t a_timestamp = 1700000000000; // 0x0000018bcfe56800

} // namespace

// Generic clients find each request's answer type.
static_assert(std::is_same_v<add_partitions_to_txn::request::response_type, add_partitions_to_txn::response>);
static_assert(std::is_same_v<add_offsets_to_txn::request::response_type, add_offsets_to_txn::response>);
static_assert(std::is_same_v<end_txn::request::response_type, end_txn::response>);
static_assert(std::is_same_v<write_txn_markers::request::response_type, write_txn_markers::response>);
static_assert(std::is_same_v<txn_offset_commit::request::response_type, txn_offset_commit::response>);
// The placement is usable at compile time, like the group coordinator's.
static_assert(tr::partition_for("tx-1") == 20);

// ---------------------------------------------------------------------------------------------
// Keys, names and ranges.

TEST_CASE("transaction APIs carry Kafka's keys, names, Kafka 3.9's versions and flexible versions", "[wire_txn]") {
    check_api<add_partitions_to_txn_api>(24, "AddPartitionsToTxn", {0, 5}, 3);
    check_api<add_offsets_to_txn_api>(25, "AddOffsetsToTxn", {0, 4}, 3);
    check_api<end_txn_api>(26, "EndTxn", {0, 4}, 3);
    check_api<write_txn_markers_api>(27, "WriteTxnMarkers", {0, 1}, 1);
    check_api<txn_offset_commit_api>(28, "TxnOffsetCommit", {0, 4}, 3);
    // Header versions follow the flexible versions.
    CHECK(request_header_version(api_key::add_partitions_to_txn, 2) == 1);
    CHECK(request_header_version(api_key::add_partitions_to_txn, 3) == 2);
    CHECK(response_header_version(api_key::add_offsets_to_txn, 2) == 0);
    CHECK(response_header_version(api_key::add_offsets_to_txn, 3) == 1);
    CHECK(request_header_version(api_key::end_txn, 3) == 2);
    CHECK(request_header_version(api_key::write_txn_markers, 0) == 1);
    CHECK(response_header_version(api_key::write_txn_markers, 1) == 1);
    CHECK(response_header_version(api_key::txn_offset_commit, 2) == 0);
    CHECK(response_header_version(api_key::txn_offset_commit, 3) == 1);
}

TEST_CASE("transaction messages refuse versions Kafka 3.9 does not serve", "[wire_txn]") {
    const std::string any = "00000000 00000000 00000000 00000000 00000000";
    CHECK(refuses_layout<add_partitions_to_txn::request>(any, 6));
    CHECK(refuses_layout<add_partitions_to_txn::response>(any, -1));
    CHECK(refuses_layout<add_offsets_to_txn::request>(any, 5));
    CHECK(refuses_layout<end_txn::request>(any, 5));
    CHECK(refuses_layout<end_txn::response>(any, 5)); // trunk's unstable v5
    CHECK(refuses_layout<write_txn_markers::request>(any, 2));
    CHECK(refuses_layout<txn_offset_commit::response>(any, 5));
    byte_buffer b;
    byte_writer w(b);
    CHECK_THROWS_AS(add_partitions_to_txn::request{}.encode(w, 6), std::invalid_argument);
    CHECK_THROWS_AS(add_offsets_to_txn::response{}.encode(w, 5), std::invalid_argument);
    CHECK_THROWS_AS(end_txn::response{}.encode(w, 5), std::invalid_argument);
    CHECK_THROWS_AS(write_txn_markers::response{}.encode(w, 2), std::invalid_argument);
    CHECK_THROWS_AS(txn_offset_commit::request{}.encode(w, -1), std::invalid_argument);
}

// ---------------------------------------------------------------------------------------------
// Every field at every version.

TEST_CASE("AddPartitionsToTxn round-trips every field at every version, one transaction to v3, batches from v4",
          "[wire_txn]") {
    for_each_version<add_partitions_to_txn_api>([](std::int16_t v) {
        const auto d = round_trip(sample_add_partitions_request(), v);
        if (v <= 3) {
            CHECK(d.msg.transactions.empty());
            CHECK(d.msg.v3_and_below_transactional_id == "tx-1");
            CHECK(d.msg.v3_and_below_producer_id == producer_id{4000});
            CHECK(d.msg.v3_and_below_producer_epoch == producer_epoch{5});
            REQUIRE(d.msg.v3_and_below_topics.size() == 2);
            CHECK(d.msg.v3_and_below_topics[0].name == "orders");
            CHECK(d.msg.v3_and_below_topics[0].partitions == parts({0, 2}));
            CHECK(d.msg.v3_and_below_topics[1].name == "audit");
            CHECK(d.msg.v3_and_below_topics[1].partitions.empty());
        } else {
            CHECK(d.msg.v3_and_below_transactional_id.empty());
            CHECK(d.msg.v3_and_below_producer_id == producer_id{0});
            CHECK(d.msg.v3_and_below_producer_epoch == producer_epoch{0});
            CHECK(d.msg.v3_and_below_topics.empty());
            REQUIRE(d.msg.transactions.size() == 2);
            const auto& a = d.msg.transactions[0];
            CHECK(a.transactional_id == "tx-a");
            CHECK(a.producer_id == producer_id{1000});
            CHECK(a.producer_epoch == producer_epoch{3});
            CHECK(a.verify_only);
            REQUIRE(a.topics.size() == 2);
            CHECK(a.topics[0].name == "orders");
            CHECK(a.topics[0].partitions == parts({0, 2}));
            CHECK(a.topics[1].name == "audit");
            CHECK(a.topics[1].partitions == parts({1}));
            const auto& b = d.msg.transactions[1];
            CHECK(b.transactional_id == "tx-b");
            CHECK(b.producer_id == producer_id{1001});
            CHECK_FALSE(b.verify_only);
            REQUIRE(b.topics.size() == 1);
            CHECK(b.topics[0].partitions == parts({1}));
        }

        const auto r = round_trip(sample_add_partitions_response(), v);
        CHECK(r.msg.throttle_time_ms == 7);
        if (v <= 3) {
            CHECK(r.msg.error_code == error_code::none);
            CHECK(r.msg.results_by_transaction.empty());
            REQUIRE(r.msg.results_by_topic_v3_and_below.size() == 2);
            const auto& t = r.msg.results_by_topic_v3_and_below[0];
            CHECK(t.name == "orders");
            REQUIRE(t.results_by_partition.size() == 2);
            CHECK(t.results_by_partition[0].partition_index == partition_id{0});
            CHECK(t.results_by_partition[0].partition_error_code == error_code::unknown_topic_or_partition);
            CHECK(t.results_by_partition[1].partition_index == partition_id{2});
            CHECK(t.results_by_partition[1].partition_error_code == error_code::operation_not_attempted);
            CHECK(r.msg.results_by_topic_v3_and_below[1].results_by_partition[0].partition_error_code ==
                  error_code::producer_fenced);
        } else {
            CHECK(r.msg.error_code == error_code::not_coordinator);
            CHECK(r.msg.results_by_topic_v3_and_below.empty());
            REQUIRE(r.msg.results_by_transaction.size() == 2);
            const auto& a = r.msg.results_by_transaction[0];
            CHECK(a.transactional_id == "tx-a");
            REQUIRE(a.topic_results.size() == 1);
            CHECK(a.topic_results[0].name == "orders");
            REQUIRE(a.topic_results[0].results_by_partition.size() == 2);
            CHECK(a.topic_results[0].results_by_partition[1].partition_error_code ==
                  error_code::concurrent_transactions);
            CHECK(r.msg.results_by_transaction[1].transactional_id == "tx-b");
            CHECK(r.msg.results_by_transaction[1].topic_results.empty());
        }
    });
}

TEST_CASE("AddOffsetsToTxn and EndTxn round-trip every field at every version", "[wire_txn]") {
    for_each_version<add_offsets_to_txn_api>([](std::int16_t v) {
        const auto d = round_trip(sample_add_offsets_request(), v);
        CHECK(d.msg.transactional_id == "tx-1");
        CHECK(d.msg.producer_id == producer_id{4000});
        CHECK(d.msg.producer_epoch == producer_epoch{5});
        CHECK(d.msg.group_id == "grp");
        const auto r = round_trip(add_offsets_to_txn::response{3, error_code::invalid_producer_epoch}, v);
        CHECK(r.msg.throttle_time_ms == 3);
        CHECK(r.msg.error_code == error_code::invalid_producer_epoch);
    });
    for_each_version<end_txn_api>([](std::int16_t v) {
        const auto d = round_trip(sample_end_txn_request(), v);
        CHECK(d.msg.transactional_id == "tx-1");
        CHECK(d.msg.producer_id == producer_id{4000});
        CHECK(d.msg.producer_epoch == producer_epoch{5});
        CHECK(d.msg.committed);
        auto abort = sample_end_txn_request();
        abort.committed = false;
        CHECK_FALSE(round_trip(abort, v).msg.committed);
        // The v5 fields never travel in the versions served: the answer is exactly throttle and
        // error (and a tag section from v3).
        const end_txn::response resp{4, error_code::invalid_txn_state, producer_id{4000}, producer_epoch{6}};
        const auto r = round_trip(resp, v);
        CHECK(r.wire.size() == (v >= 3 ? 7u : 6u));
        CHECK(r.msg.throttle_time_ms == 4);
        CHECK(r.msg.error_code == error_code::invalid_txn_state);
        CHECK(r.msg.producer_id == no_producer_id);
        CHECK(r.msg.producer_epoch == no_producer_epoch);
    });
}

TEST_CASE("WriteTxnMarkers round-trips every field at every version", "[wire_txn]") {
    for_each_version<write_txn_markers_api>([](std::int16_t v) {
        const auto d = round_trip(sample_markers_request(), v);
        REQUIRE(d.msg.markers.size() == 2);
        const auto& m = d.msg.markers[0];
        CHECK(m.producer_id == producer_id{4000});
        CHECK(m.producer_epoch == producer_epoch{5});
        CHECK(m.transaction_result);
        REQUIRE(m.topics.size() == 2);
        CHECK(m.topics[0].name == "orders");
        CHECK(m.topics[0].partition_indexes == parts({0, 2}));
        CHECK(m.topics[1].name == "audit");
        CHECK(m.topics[1].partition_indexes == parts({1}));
        CHECK(m.coordinator_epoch == 9);
        const auto& n = d.msg.markers[1];
        CHECK(n.producer_id == producer_id{4001});
        CHECK_FALSE(n.transaction_result);
        CHECK(n.coordinator_epoch == 10);
        REQUIRE(n.topics.size() == 1);
        CHECK(n.topics[0].name == "__consumer_offsets");

        const auto r = round_trip(sample_markers_response(), v);
        REQUIRE(r.msg.markers.size() == 2);
        CHECK(r.msg.markers[0].producer_id == producer_id{4000});
        REQUIRE(r.msg.markers[0].topics.size() == 1);
        const auto& t = r.msg.markers[0].topics[0];
        CHECK(t.name == "orders");
        REQUIRE(t.partitions.size() == 2);
        CHECK(t.partitions[0].partition_index == partition_id{0});
        CHECK(t.partitions[0].error_code == error_code::none);
        CHECK(t.partitions[1].partition_index == partition_id{2});
        CHECK(t.partitions[1].error_code == error_code::not_leader_or_follower);
        CHECK(r.msg.markers[1].topics[0].partitions[0].partition_index == partition_id{12});
    });
}

TEST_CASE("TxnOffsetCommit round-trips every field at every version", "[wire_txn]") {
    for_each_version<txn_offset_commit_api>([](std::int16_t v) {
        const auto d = round_trip(sample_txn_commit_request(), v);
        CHECK(d.msg.transactional_id == "tx-1");
        CHECK(d.msg.group_id == "grp");
        CHECK(d.msg.producer_id == producer_id{4000});
        CHECK(d.msg.producer_epoch == producer_epoch{5});
        CHECK(d.msg.generation_id == (v >= 3 ? 12 : txn_offset_commit::no_generation));
        CHECK(d.msg.member_id == (v >= 3 ? "member-1" : ""));
        CHECK(d.msg.group_instance_id == (v >= 3 ? opt_string{"instance-1"} : std::nullopt));
        REQUIRE(d.msg.topics.size() == 2);
        CHECK(d.msg.topics[0].name == "orders");
        REQUIRE(d.msg.topics[0].partitions.size() == 2);
        const auto& p0 = d.msg.topics[0].partitions[0];
        CHECK(p0.partition_index == partition_id{0});
        CHECK(p0.committed_offset == offset{100});
        CHECK(p0.committed_leader_epoch == leader_epoch{v >= 2 ? 4 : -1});
        CHECK(p0.committed_metadata == opt_string{"meta"});
        const auto& p1 = d.msg.topics[0].partitions[1];
        CHECK(p1.partition_index == partition_id{3});
        CHECK(p1.committed_offset == offset{250});
        CHECK_FALSE(p1.committed_metadata);
        CHECK(d.msg.topics[1].name == "audit");
        const auto& p2 = d.msg.topics[1].partitions[0];
        REQUIRE(p2.committed_metadata);
        CHECK(p2.committed_metadata->empty());

        const auto r = round_trip(sample_txn_commit_response(), v);
        CHECK(r.msg.throttle_time_ms == 25);
        REQUIRE(r.msg.topics.size() == 2);
        CHECK(r.msg.topics[0].name == "orders");
        REQUIRE(r.msg.topics[0].partitions.size() == 2);
        CHECK(r.msg.topics[0].partitions[1].partition_index == partition_id{3});
        CHECK(r.msg.topics[0].partitions[1].error_code == error_code::illegal_generation);
        CHECK(r.msg.topics[1].partitions[0].error_code == error_code::unknown_member_id);
    });
}

TEST_CASE("transaction messages keep their schema defaults", "[wire_txn]") {
    const txn_offset_commit::request oc;
    CHECK(oc.generation_id == -1);
    CHECK(oc.member_id.empty());
    CHECK_FALSE(oc.group_instance_id);
    CHECK(txn_offset_commit::request_partition{}.committed_leader_epoch == leader_epoch{-1});
    CHECK_FALSE(add_partitions_to_txn::transaction{}.verify_only);
    const end_txn::response et;
    CHECK(et.producer_id == producer_id{-1});
    CHECK(et.producer_epoch == producer_epoch{-1});
}

// ---------------------------------------------------------------------------------------------
// Byte-exact encodings, assembled by hand from the schemas.

TEST_CASE("AddPartitionsToTxn v0 is byte exact: what librdkafka 2.0.2 sends and what it reads back", "[wire_txn]") {
    // librdkafka sends only v0 (docs/protocol.md §3.1): the classic single-transaction form.
    add_partitions_to_txn::request req;
    req.v3_and_below_transactional_id = "tx-1";
    req.v3_and_below_producer_id = producer_id{1000};
    req.v3_and_below_producer_epoch = producer_epoch{0};
    req.v3_and_below_topics = {{"orders", parts({0, 2})}};
    const auto d = check_layout(req, 0,
                                "0004" + str_hex("tx-1") + // transactional_id: int16 length
                                    "00000000000003e8"     // producer_id 1000
                                    "0000"                 // producer_epoch
                                    "00000001"             // topics: int32 count
                                    "0006" +
                                    str_hex("orders") +
                                    "00000002"   // partitions
                                    "00000000"   // 0
                                    "00000002"); // 2
    CHECK(d.msg.v3_and_below_transactional_id == "tx-1");
    CHECK(d.msg.v3_and_below_topics[0].partitions == parts({0, 2}));

    add_partitions_to_txn::response resp;
    resp.throttle_time_ms = 0;
    resp.results_by_topic_v3_and_below = {
        {"orders", {{partition_id{0}, error_code::none}, {partition_id{2}, error_code::concurrent_transactions}}}};
    const auto r = check_layout(resp, 0,
                                "00000000" // throttle_time_ms
                                "00000001" // results_by_topic_v3_and_below
                                "0006" +
                                    str_hex("orders") +
                                    "00000002"        // results_by_partition
                                    "00000000 0000"   // 0: NONE
                                    "00000002 0033"); // 2: CONCURRENT_TRANSACTIONS (51)
    CHECK(r.msg.results_by_topic_v3_and_below[0].results_by_partition[1].partition_error_code ==
          error_code::concurrent_transactions);
}

TEST_CASE("AddPartitionsToTxn v3 (flexible, one transaction) and v4 (batched) are byte exact", "[wire_txn]") {
    add_partitions_to_txn::request req;
    req.v3_and_below_transactional_id = "tx";
    req.v3_and_below_producer_id = producer_id{1000};
    req.v3_and_below_producer_epoch = producer_epoch{1};
    req.v3_and_below_topics = {{"t", parts({0})}};
    check_layout(req, 3,
                 "03 7478"           // transactional_id: compact string, 1 + 2
                 "00000000000003e8"  // producer_id
                 "0001"              // producer_epoch
                 "02"                // topics: compact array, 1 + 1
                 "02 74 02 00000000" // name "t", partitions [0]
                 "00"                // topic tags
                 "00");              // top-level tags

    add_partitions_to_txn::request batched;
    batched.transactions = {{"tx", producer_id{1000}, producer_epoch{1}, true, {{"t", parts({0})}}}};
    const auto d = check_layout(batched, 4,
                                "02"                      // transactions
                                "03 7478"                 // transactional_id
                                "00000000000003e8"        // producer_id
                                "0001"                    // producer_epoch
                                "01"                      // verify_only
                                "02 02 74 02 00000000 00" // topics
                                "00"                      // transaction tags
                                "00");                    // top-level tags
    CHECK(d.msg.transactions[0].verify_only);

    add_partitions_to_txn::response resp;
    resp.results_by_transaction = {{"tx", {{"t", {{partition_id{0}, error_code::producer_fenced}}}}}};
    check_layout(resp, 4,
                 "00000000"            // throttle_time_ms
                 "0000"                // error_code
                 "02 03 7478"          // results_by_transaction, transactional_id
                 "02 02 74"            // topic_results, name
                 "02 00000000 005a 00" // results_by_partition: 0, PRODUCER_FENCED (90), tags
                 "00"                  // topic tags
                 "00"                  // transaction tags
                 "00");                // top-level tags
}

TEST_CASE("AddOffsetsToTxn v0 and EndTxn v1, v3 are byte exact", "[wire_txn]") {
    check_layout(add_offsets_to_txn::request{"tx", producer_id{1000}, producer_epoch{2}, "grp"}, 0,
                 "0002 7478 00000000000003e8 0002 0003" + str_hex("grp"));
    check_layout(add_offsets_to_txn::response{0, error_code::invalid_producer_epoch}, 0, "00000000 002f");

    const end_txn::request commit{"tx-1", producer_id{1000}, producer_epoch{2}, true};
    check_layout(commit, 1, "0004" + str_hex("tx-1") + "00000000000003e8 0002 01");
    const auto d = check_layout(commit, 3,
                                "05" + str_hex("tx-1") + // transactional_id: compact string, 1 + 4
                                    "00000000000003e8"   // producer_id
                                    "0002"               // producer_epoch
                                    "01"                 // committed
                                    "00");               // tags
    CHECK(d.msg.committed);
    check_layout(end_txn::request{"tx-1", producer_id{1000}, producer_epoch{2}, false}, 3,
                 "05" + str_hex("tx-1") + "00000000000003e8 0002 00 00");
    check_layout(end_txn::response{0, error_code::invalid_txn_state}, 3, "00000000 0030 00");
    check_layout(end_txn::response{5, error_code::none}, 1, "00000005 0000");

    // EndTxn v3 in its frame: request header v2 (client id, then a tag section).
    byte_buffer out;
    encode_request_frame(out, 3, 7, "c", commit);
    CHECK(hex(out.view()) == hex(bytes_view{from_hex("0000001d"                      // size: 12 + 17
                                                     "001a 0003 00000007 0001 63 00" // header v2
                                                     "05" +
                                                     str_hex("tx-1") + "00000000000003e8 0002 01 00")}));
    // EndTxn v2 answers with response header v0, v3 with v1.
    byte_buffer resp2;
    encode_response_frame(resp2, 2, 9, end_txn::response{});
    CHECK(hex(resp2.view()) == "0000000a" // size
                               "00000009" // header v0: correlation id
                               "00000000" // throttle_time_ms
                               "0000");   // error_code
    byte_buffer resp3;
    encode_response_frame(resp3, 3, 9, end_txn::response{});
    CHECK(hex(resp3.view()) == "0000000c" // size
                               "00000009" // header v1: correlation id
                               "00"       // and a tag section
                               "00000000" // throttle_time_ms
                               "0000"     // error_code
                               "00");     // tags
}

TEST_CASE("WriteTxnMarkers v0 (classic) and v1 (flexible) are byte exact", "[wire_txn]") {
    write_txn_markers::request req;
    req.markers = {{producer_id{1000}, producer_epoch{2}, true, {{"t1", parts({0, 1})}}, 5}};
    const auto d = check_layout(req, 1,
                                "02"                   // markers: compact array, 1 + 1
                                "00000000000003e8"     // producer_id
                                "0002"                 // producer_epoch
                                "01"                   // transaction_result: COMMIT
                                "02"                   // topics
                                "03 7431"              // name "t1"
                                "03 00000000 00000001" // partition_indexes [0, 1]
                                "00"                   // topic tags
                                "00000005"             // coordinator_epoch
                                "00"                   // marker tags
                                "00");                 // top-level tags
    CHECK(d.msg.markers[0].coordinator_epoch == 5);
    CHECK(d.msg.markers[0].topics[0].partition_indexes == parts({0, 1}));
    check_layout(req, 0,
                 "00000001 00000000000003e8 0002 01"
                 "00000001 0002 7431 00000002 00000000 00000001"
                 "00000005");

    write_txn_markers::response resp;
    resp.markers = {
        {producer_id{1000},
         {{"t1", {{partition_id{0}, error_code::none}, {partition_id{1}, error_code::not_leader_or_follower}}}}}};
    const auto r = check_layout(resp, 1,
                                "02"               // markers
                                "00000000000003e8" // producer_id
                                "02 03 7431"       // topics, name "t1"
                                "03"               // partitions
                                "00000000 0000 00" // 0: NONE, tags
                                "00000001 0006 00" // 1: NOT_LEADER_OR_FOLLOWER, tags
                                "00"               // topic tags
                                "00"               // marker tags
                                "00");             // top-level tags
    CHECK(r.msg.markers[0].topics[0].partitions[1].error_code == error_code::not_leader_or_follower);
    check_layout(resp, 0,
                 "00000001 00000000000003e8 00000001 0002 7431 00000002"
                 "00000000 0000 00000001 0006");
}

TEST_CASE("TxnOffsetCommit v0, v2 (classic) and v3 (flexible, group membership) are byte exact", "[wire_txn]") {
    txn_offset_commit::request req;
    req.transactional_id = "tx";
    req.group_id = "g";
    req.producer_id = producer_id{1000};
    req.producer_epoch = producer_epoch{2};
    req.generation_id = 5;
    req.member_id = "m";
    req.group_instance_id = std::nullopt;
    req.topics = {{"t", {{partition_id{0}, offset{100}, leader_epoch{3}, ""}}}};
    check_layout(req, 3,
                 "03 7478"          // transactional_id
                 "02 67"            // group_id "g"
                 "00000000000003e8" // producer_id
                 "0002"             // producer_epoch
                 "00000005"         // generation_id
                 "02 6d"            // member_id "m"
                 "00"               // group_instance_id: null
                 "02 02 74"         // topics, name "t"
                 "02 00000000"      // partitions, partition_index
                 "0000000000000064" // committed_offset
                 "00000003"         // committed_leader_epoch
                 "01"               // committed_metadata ""
                 "00 00 00");       // partition, topic and top-level tags
    check_layout(req, 2,
                 "0002 7478 0001 67 00000000000003e8 0002"
                 "00000001 0001 74 00000001 00000000 0000000000000064 00000003 0000");
    req.topics[0].partitions[0].committed_metadata = std::nullopt;
    check_layout(req, 0,
                 "0002 7478 0001 67 00000000000003e8 0002"
                 "00000001 0001 74 00000001 00000000 0000000000000064 ffff"); // metadata null

    txn_offset_commit::response resp;
    resp.topics = {{"t", {{partition_id{0}, error_code::fenced_instance_id}}}};
    check_layout(resp, 3, "00000000 02 02 74 02 00000000 0052 00 00 00");
    check_layout(resp, 0, "00000000 00000001 0001 74 00000001 00000000 0052");
}

// ---------------------------------------------------------------------------------------------
// Nullable strings, unknown tags, truncations.

TEST_CASE("nullable strings of TxnOffsetCommit keep null apart from empty", "[wire_txn]") {
    for_each_version<txn_offset_commit_api>([](std::int16_t v) {
        txn_offset_commit::request req;
        req.transactional_id = "tx";
        req.group_id = "g";
        req.group_instance_id = "";
        req.topics = {{"t", {{partition_id{0}, offset{1}, leader_epoch{-1}, ""}}}};
        const auto empty = round_trip(req, v);
        REQUIRE(empty.msg.topics[0].partitions[0].committed_metadata);
        CHECK(empty.msg.topics[0].partitions[0].committed_metadata->empty());
        CHECK(empty.msg.group_instance_id == (v >= 3 ? opt_string{""} : std::nullopt));
        req.group_instance_id = std::nullopt;
        req.topics[0].partitions[0].committed_metadata = std::nullopt;
        const auto null = round_trip(req, v);
        CHECK_FALSE(null.msg.topics[0].partitions[0].committed_metadata);
        CHECK_FALSE(null.msg.group_instance_id);
        CHECK(null.wire != empty.wire);
    });
    // A null where the schema has a plain string fails.
    CHECK(refuses_layout<end_txn::request>("ffff 0000000000000000 0000 00", 0));
    CHECK(refuses_layout<end_txn::request>("00 0000000000000000 0000 00 00", 3));
    CHECK(refuses_layout<txn_offset_commit::request>("0002 7478 ffff 0000000000000000 0000 00000000", 0));
    CHECK(refuses_layout<write_txn_markers::request>("00000001 0000000000000000 0000 00 00000001 ffff", 0));
}

TEST_CASE("transaction messages skip unknown tagged fields", "[wire_txn]") {
    skips_unknown_tags_every_flexible_version<add_partitions_to_txn_api>(sample_add_partitions_request());
    skips_unknown_tags_every_flexible_version<add_partitions_to_txn_api>(sample_add_partitions_response());
    skips_unknown_tags_every_flexible_version<add_offsets_to_txn_api>(sample_add_offsets_request());
    skips_unknown_tags_every_flexible_version<add_offsets_to_txn_api>(
        add_offsets_to_txn::response{1, error_code::none});
    skips_unknown_tags_every_flexible_version<end_txn_api>(sample_end_txn_request());
    skips_unknown_tags_every_flexible_version<end_txn_api>(end_txn::response{1, error_code::none});
    skips_unknown_tags_every_flexible_version<write_txn_markers_api>(sample_markers_request());
    skips_unknown_tags_every_flexible_version<write_txn_markers_api>(sample_markers_response());
    skips_unknown_tags_every_flexible_version<txn_offset_commit_api>(sample_txn_commit_request());
    skips_unknown_tags_every_flexible_version<txn_offset_commit_api>(sample_txn_commit_response());

    // Inside nested structs. AddPartitionsToTxn v4: a tag in a topic and in a transaction.
    const auto ap = decode_layout<add_partitions_to_txn::request>("02 03 7478 00000000000003e8 0001 00"
                                                                  "02 02 74 02 00000000 01 07 01 ff" // topic
                                                                  "01 0a 00"                         // txn
                                                                  "00",
                                                                  4);
    REQUIRE(ap.msg.transactions.size() == 1);
    CHECK(ap.msg.transactions[0].topics[0].partitions == parts({0}));
    // WriteTxnMarkers v1: a tag in a marker's topic and in a response partition.
    const auto wm = decode_layout<write_txn_markers::request>("02 00000000000003e8 0002 00"
                                                              "02 03 7431 02 00000001 01 05 02 abcd"
                                                              "00000007 00 00",
                                                              1);
    CHECK(wm.msg.markers[0].coordinator_epoch == 7);
    CHECK_FALSE(wm.msg.markers[0].transaction_result);
    const auto wr = decode_layout<write_txn_markers::response>("02 00000000000003e8 02 03 7431"
                                                               "02 00000001 0006 01 03 00 00 00 00",
                                                               1);
    CHECK(wr.msg.markers[0].topics[0].partitions[0].error_code == error_code::not_leader_or_follower);
    // TxnOffsetCommit v3: a tag in a partition.
    const auto tc = decode_layout<txn_offset_commit::request>("03 7478 02 67 00000000000003e8 0002 ffffffff 01 00"
                                                              "02 02 74 02 00000000 0000000000000064 ffffffff 00"
                                                              "01 00 01 ee" // partition tags: tag 0, 1 byte
                                                              "00 00",
                                                              3);
    CHECK(tc.msg.generation_id == -1);
    CHECK_FALSE(tc.msg.topics[0].partitions[0].committed_metadata);
    // A tag whose size runs past the frame fails.
    CHECK(refuses_layout<end_txn::response>("00000000 0000 01 05 03 abcd", 3));
}

TEST_CASE("every truncation of every transaction message fails at every version", "[wire_txn]") {
    // round_trip checks this too; here explicitly, with the full samples and the decoder's
    // return value.
    using gregor::test::require_truncations_fail;
    for_each_version<add_partitions_to_txn_api>([](std::int16_t v) {
        require_truncations_fail<add_partitions_to_txn::request>(encode_bytes(sample_add_partitions_request(), v), v);
        require_truncations_fail<add_partitions_to_txn::response>(encode_bytes(sample_add_partitions_response(), v), v);
    });
    for_each_version<add_offsets_to_txn_api>([](std::int16_t v) {
        require_truncations_fail<add_offsets_to_txn::request>(encode_bytes(sample_add_offsets_request(), v), v);
        require_truncations_fail<add_offsets_to_txn::response>(
            encode_bytes(add_offsets_to_txn::response{1, error_code::none}, v), v);
    });
    for_each_version<end_txn_api>([](std::int16_t v) {
        require_truncations_fail<end_txn::request>(encode_bytes(sample_end_txn_request(), v), v);
        require_truncations_fail<end_txn::response>(encode_bytes(end_txn::response{1, error_code::none}, v), v);
    });
    for_each_version<write_txn_markers_api>([](std::int16_t v) {
        require_truncations_fail<write_txn_markers::request>(encode_bytes(sample_markers_request(), v), v);
        require_truncations_fail<write_txn_markers::response>(encode_bytes(sample_markers_response(), v), v);
    });
    for_each_version<txn_offset_commit_api>([](std::int16_t v) {
        require_truncations_fail<txn_offset_commit::request>(encode_bytes(sample_txn_commit_request(), v), v);
        require_truncations_fail<txn_offset_commit::response>(encode_bytes(sample_txn_commit_response(), v), v);
    });
}

TEST_CASE("absurd counts in transaction messages are rejected before allocating", "[wire_txn]") {
    // AddPartitionsToTxn v0: ids, then 2^31-1 topics in a few bytes.
    CHECK(refuses_layout<add_partitions_to_txn::request>("0001 74 0000000000000001 0000 7fffffff 0001 74", 0));
    // WriteTxnMarkers v1: compact count 2^32-2 markers.
    CHECK(refuses_layout<write_txn_markers::request>("ffffffff0f 00", 1));
    // A negative (not -1) count is malformed, and -1 (null) is not allowed either.
    CHECK(refuses_layout<txn_offset_commit::response>("00000000 80000000", 0));
    CHECK(refuses_layout<txn_offset_commit::response>("00000000 ffffffff", 0));
}

// ---------------------------------------------------------------------------------------------
// The `__transaction_state` records.

namespace {

// The design's vector (docs/protocol.md §15): key v0 "tx", value v0 Ongoing, pid 1000, epoch 0,
// timeout 60000, partitions t1:[0], last update 1700000000500, start 1700000000000.
const std::string key_vector = "0000 0002 7478";
const std::string value_vector = "0000 00000000000003e8 0000 0000ea60 01 00000001 0002 7431 00000001 00000000"
                                 "0000018bcfe569f4 0000018bcfe56800";

tr::transaction_log_value ongoing_value() {
    tr::transaction_log_value v;
    v.producer_id = producer_id{1000};
    v.producer_epoch = producer_epoch{0};
    v.timeout_ms = 60000;
    v.status = tr::transaction_state::ongoing;
    v.partitions = std::vector<tr::topic_partitions>{{"t1", parts({0})}};
    v.last_update_ms = a_timestamp + 500;
    v.start_ms = a_timestamp;
    return v;
}

/// Every field away from its default, the v1 tagged ones included.
tr::transaction_log_value full_value() {
    tr::transaction_log_value v;
    v.producer_id = producer_id{4000};
    v.producer_epoch = producer_epoch{7};
    v.timeout_ms = 900000;
    v.status = tr::transaction_state::prepare_commit;
    v.partitions = std::vector<tr::topic_partitions>{{"orders", parts({0, 2})}, {"__consumer_offsets", parts({12})}};
    v.last_update_ms = a_timestamp + 9;
    v.start_ms = a_timestamp;
    v.previous_producer_id = producer_id{3999};
    v.next_producer_id = producer_id{4001};
    v.client_transaction_version = 2;
    return v;
}

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

void check_same_value(const tr::transaction_log_value& a, const tr::transaction_log_value& b, bool tagged) {
    CHECK(a.producer_id == b.producer_id);
    CHECK(a.producer_epoch == b.producer_epoch);
    CHECK(a.timeout_ms == b.timeout_ms);
    CHECK(a.status == b.status);
    REQUIRE(a.partitions.has_value() == b.partitions.has_value());
    if (a.partitions) {
        REQUIRE(a.partitions->size() == b.partitions->size());
        for (std::size_t i = 0; i < a.partitions->size(); ++i) {
            CHECK((*a.partitions)[i].topic == (*b.partitions)[i].topic);
            CHECK((*a.partitions)[i].partition_ids == (*b.partitions)[i].partition_ids);
        }
    }
    CHECK(a.last_update_ms == b.last_update_ms);
    CHECK(a.start_ms == b.start_ms);
    if (tagged) {
        CHECK(a.previous_producer_id == b.previous_producer_id);
        CHECK(a.next_producer_id == b.next_producer_id);
        CHECK(a.client_transaction_version == b.client_transaction_version);
    } else {
        CHECK(a.previous_producer_id == producer_id{-1});
        CHECK(a.next_producer_id == producer_id{-1});
        CHECK(a.client_transaction_version == 0);
    }
}

} // namespace

TEST_CASE("the transaction log vector encodes and decodes both ways", "[wire_txn]") {
    CHECK(hex(tr::encode_key("tx").view()) == hex(bytes_view{from_hex(key_vector)}));
    CHECK(hex(tr::encode_value(ongoing_value()).view()) == hex(bytes_view{from_hex(value_vector)}));
    CHECK(hex(tr::encode_value(ongoing_value(), 0).view()) == hex(bytes_view{from_hex(value_vector)}));

    const auto key_bytes = from_hex(key_vector);
    const auto k = tr::decode_key(bytes_view{key_bytes});
    REQUIRE(k);
    REQUIRE(std::holds_alternative<tr::transaction_log_key>(*k));
    CHECK(std::get<tr::transaction_log_key>(*k).transactional_id == "tx");

    const auto value_bytes = from_hex(value_vector);
    const auto v = tr::decode_value(bytes_view{value_bytes});
    REQUIRE(v);
    CHECK(v->version == 0);
    check_same_value(*v, ongoing_value(), false);
    CHECK(v->partitions->at(0).topic == "t1");
    CHECK(v->last_update_ms == 1700000000500);

    const auto rec = tr::decode_record(bytes_view{key_bytes}, bytes_view{value_bytes});
    REQUIRE(rec);
    const auto& txn = std::get<tr::transaction_record>(*rec);
    CHECK(txn.key.transactional_id == "tx");
    REQUIRE(txn.value);
    CHECK(txn.value->status == tr::transaction_state::ongoing);
}

TEST_CASE("transaction log values round-trip at v0 and v1; v0 leaves the tagged fields out", "[wire_txn]") {
    for (std::int16_t version = 0; version <= tr::value_max_version; ++version) {
        INFO("value v" << version);
        const auto encoded = to_bytes(tr::encode_value(full_value(), version));
        const auto d = tr::decode_value(bytes_view{encoded});
        REQUIRE(d);
        CHECK(d->version == version);
        check_same_value(*d, full_value(), version >= 1);
        CHECK(hex(tr::encode_value(*d, version).view()) == hex(bytes_view{encoded}));
        check_every_prefix_fails(encoded, [](bytes_view b) { return tr::decode_value(b); });
    }
    // State Empty: partitions null (the -1 count of v0, the 0 of v1's compact form) and not started.
    tr::transaction_log_value empty;
    empty.producer_id = producer_id{5};
    empty.producer_epoch = producer_epoch{0};
    empty.timeout_ms = 60000;
    empty.last_update_ms = a_timestamp;
    const auto v0 = tr::encode_value(empty);
    CHECK(hex(v0.view()) == "0000"               // version
                            "0000000000000005"   // producer_id
                            "0000"               // producer_epoch
                            "0000ea60"           // timeout_ms
                            "00"                 // status: Empty
                            "ffffffff"           // partitions: null
                            "0000018bcfe56800"   // last_update_ms
                            "ffffffffffffffff"); // start_ms: not started
    const auto d0 = tr::decode_value(v0.view());
    REQUIRE(d0);
    CHECK(d0->status == tr::transaction_state::empty);
    CHECK_FALSE(d0->partitions);
    CHECK(d0->start_ms == tr::not_started);
    CHECK(hex(tr::encode_value(empty, 1).view()) == "0001"             // version
                                                    "0000000000000005" // producer_id
                                                    "0000"             // producer_epoch
                                                    "0000ea60"         // timeout_ms
                                                    "00"               // status: Empty
                                                    "00"               // partitions: compact null
                                                    "0000018bcfe56800" // last_update_ms
                                                    "ffffffffffffffff" // start_ms
                                                    "00");             // no tagged fields
    // An empty list is not null.
    empty.partitions = std::vector<tr::topic_partitions>{};
    CHECK(hex(tr::encode_value(empty).view()).substr(34, 8) == "00000000");
    CHECK(tr::decode_value(tr::encode_value(empty).view())->partitions->empty());
    CHECK_THROWS_AS(tr::encode_value(empty, 2), std::invalid_argument);
    CHECK_THROWS_AS(tr::encode_value(empty, -1), std::invalid_argument);
}

TEST_CASE("transaction log value v1 is byte exact and skips unknown tags", "[wire_txn]") {
    auto v = ongoing_value();
    v.previous_producer_id = producer_id{999};
    v.client_transaction_version = 2;
    const std::string body = "0001 00000000000003e8 0000 0000ea60 01"
                             "02 03 7431 02 00000000 00" // partitions: compact, t1:[0], element tags
                             "0000018bcfe569f4 0000018bcfe56800";
    const std::string tags = "02"                     // two tagged fields (next_producer_id at its default)
                             "00 08 00000000000003e7" // tag 0 previous_producer_id 999
                             "02 02 0002";            // tag 2 client_transaction_version 2
    CHECK(hex(tr::encode_value(v, 1).view()) == hex(bytes_view{from_hex(body + tags)}));

    // A newer writer's tags: known ones read, unknown ones (3 and 200, and one inside a partitions
    // element) skipped.
    const auto newer = from_hex("0001 00000000000003e8 0000 0000ea60 01"
                                "02 03 7431 02 00000000 01 04 01 ff"
                                "0000018bcfe569f4 0000018bcfe56800"
                                "04"
                                "01 08 00000000000003e9" // tag 1 next_producer_id 1001
                                "02 02 0001"             // tag 2 client_transaction_version 1
                                "03 03 aabbcc"           // tag 3, unknown
                                "c801 00");              // tag 200, unknown, empty
    const auto d = tr::decode_value(bytes_view{newer});
    REQUIRE(d);
    CHECK(d->version == 1);
    CHECK(d->previous_producer_id == producer_id{-1});
    CHECK(d->next_producer_id == producer_id{1001});
    CHECK(d->client_transaction_version == 1);
    CHECK(d->partitions->at(0).partition_ids == parts({0}));
    check_every_prefix_fails(newer, [](bytes_view b) { return tr::decode_value(b); });
    // A known tag whose size does not match its type fails.
    CHECK_FALSE(tr::decode_value(bytes_view{from_hex(body + "01 00 04 00000001")}));
}

TEST_CASE("transaction log keys: version 0, unknown versions, malformed keys", "[wire_txn]") {
    const auto key = from_hex(key_vector);
    check_every_prefix_fails(key, [](bytes_view b) { return tr::decode_key(b); });
    // A key of another version is not a transaction: kept whole, for the loader to skip.
    const auto other = from_hex("0001 0002 7478");
    const auto u = tr::decode_key(bytes_view{other});
    REQUIRE(u);
    REQUIRE(std::holds_alternative<tr::unknown_key>(*u));
    CHECK(std::get<tr::unknown_key>(*u).version == 1);
    CHECK(hex(std::get<tr::unknown_key>(*u).body) == "00027478");
    // Malformed: negative version, null id, bytes left over, too short.
    CHECK_FALSE(tr::decode_key(bytes_view{from_hex("ffff 0002 7478")}));
    CHECK_FALSE(tr::decode_key(bytes_view{from_hex("0000 ffff")}));
    CHECK_FALSE(tr::decode_key(bytes_view{from_hex("0000 0002 7478 00")}));
    CHECK_FALSE(tr::decode_key(bytes_view{from_hex("0000 0003 7478")}));
    CHECK_FALSE(tr::decode_key(bytes_view{}));
    // An empty id is a key (Kafka refuses such ids before they get here).
    const auto empty_id = tr::encode_key("");
    const auto k = tr::decode_key(empty_id.view());
    REQUIRE(k);
    CHECK(std::get<tr::transaction_log_key>(*k).transactional_id.empty());
}

TEST_CASE("malformed transaction log values fail", "[wire_txn]") {
    const auto good = from_hex(value_vector);
    check_every_prefix_fails(good, [](bytes_view b) { return tr::decode_value(b); });
    auto trailing = good;
    trailing.push_back(std::byte{0});
    CHECK_FALSE(tr::decode_value(bytes_view{trailing}));
    // Versions Kafka does not know.
    auto v2 = good;
    v2[1] = std::byte{2};
    CHECK_FALSE(tr::decode_value(bytes_view{v2}));
    auto negative = good;
    negative[0] = std::byte{0xff};
    negative[1] = std::byte{0xff};
    CHECK_FALSE(tr::decode_value(bytes_view{negative}));
    // Status ids: 0-7 load (6 and 7 are transient but Kafka's load accepts them), others fail.
    for (int status : {0, 5, 6, 7, 8, 127, -1, -128}) {
        INFO("status " << status);
        auto s = good;
        s[16] = static_cast<std::byte>(status);
        CHECK(tr::decode_value(bytes_view{s}).has_value() == (status >= 0 && status <= 7));
    }
    // 2^31-1 partitions in a handful of bytes, a negative topic length, a null partition list.
    CHECK_FALSE(tr::decode_value(
        bytes_view{from_hex("0000 00000000000003e8 0000 0000ea60 01 7fffffff 0002 7431 00000001 00000000")}));
    CHECK_FALSE(tr::decode_value(bytes_view{from_hex("0000 00000000000003e8 0000 0000ea60 01 00000001 fffe 7431"
                                                     "00000001 00000000 0000018bcfe569f4 0000018bcfe56800")}));
    CHECK_FALSE(tr::decode_value(bytes_view{from_hex("0000 00000000000003e8 0000 0000ea60 01 00000001 0002 7431"
                                                     "ffffffff 0000018bcfe569f4 0000018bcfe56800")}));
}

TEST_CASE("mutated transaction log records never crash the decoders and re-encode to a fixed point", "[wire_txn]") {
    const std::vector<bytes> samples{from_hex(value_vector), to_bytes(tr::encode_value(full_value(), 0)),
                                     to_bytes(tr::encode_value(full_value(), 1))};
    std::mt19937 rng(20250101);
    int decoded = 0;
    for (int iter = 0; iter < 20000; ++iter) {
        auto b = samples[rng() % samples.size()];
        const int edits = 1 + static_cast<int>(rng() % 4);
        for (int e = 0; e < edits; ++e) {
            const auto op = rng() % 3;
            if (op == 0 && !b.empty())
                b[rng() % b.size()] = static_cast<std::byte>(rng());
            else if (op == 1 && !b.empty())
                b.erase(b.begin() + static_cast<std::ptrdiff_t>(rng() % b.size()));
            else
                b.insert(b.begin() + static_cast<std::ptrdiff_t>(rng() % (b.size() + 1)),
                         static_cast<std::byte>(rng()));
        }
        const bytes exact(b); // an allocation of exactly the input's size
        const auto v = tr::decode_value(bytes_view{exact.data(), exact.size()});
        (void)tr::decode_key(bytes_view{exact.data(), exact.size()});
        if (!v) continue;
        ++decoded;
        const auto once = to_bytes(tr::encode_value(*v, v->version));
        const auto again = tr::decode_value(bytes_view{once});
        REQUIRE(again);
        REQUIRE(hex(tr::encode_value(*again, again->version).view()) == hex(bytes_view{once}));
    }
    CHECK(decoded > 0);
}

TEST_CASE("whole transaction log records: tombstones, unknown keys, bad values", "[wire_txn]") {
    const auto key = from_hex(key_vector);
    const auto tomb = tr::decode_record(bytes_view{key}, std::nullopt);
    REQUIRE(tomb);
    const auto& t = std::get<tr::transaction_record>(*tomb);
    CHECK(t.key.transactional_id == "tx");
    CHECK_FALSE(t.value); // the id expired
    const auto other = from_hex("0005 abcd");
    const auto u = tr::decode_record(bytes_view{other}, bytes_view{from_hex("ffff")});
    REQUIRE(u);
    CHECK(std::get<tr::unknown_key>(*u).version == 5);
    CHECK_FALSE(tr::decode_record(bytes_view{key}, bytes_view{from_hex("0000 00")}));
    CHECK_FALSE(tr::decode_record(bytes_view{from_hex("0000 0002 74")}, std::nullopt));
}

TEST_CASE("partition_for places transactional ids where Kafka does", "[wire_txn]") {
    CHECK(tr::topic_name == "__transaction_state");
    CHECK(tr::default_partition_count == 50);
    // docs/protocol.md §15: "tx-1" hashes to 3572520.
    CHECK(group_records::java_string_hash("tx-1") == 3572520);
    CHECK(tr::partition_for("tx-1") == 20);
    CHECK(tr::partition_for("tx-1", 50) == 20);
    CHECK(tr::partition_for("my-group") == 12);          // a negative hash: |h|, not h & 0x7fffffff
    CHECK(tr::partition_for("polygenelubricants") == 0); // hash INT_MIN
    CHECK(tr::partition_for("") == 0);
    CHECK(tr::partition_for("my-group", 7) == 1);
    CHECK(tr::partition_for("my-group", 1) == 0);
    // The same function as the group coordinator's.
    for (const char* id : {"tx-1", "tx-2", "orders-writer", "gr\xc3\xbcppe", "group-\xf0\x9f\x98\x80"})
        CHECK(tr::partition_for(id) == group_records::partition_for(id));
    CHECK_THROWS_AS(tr::partition_for("tx", 0), std::invalid_argument);
    CHECK_THROWS_AS(tr::partition_for("tx", -50), std::invalid_argument);
}
