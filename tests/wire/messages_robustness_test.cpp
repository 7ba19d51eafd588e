// Hostile input for the message decoders: absurd counts, and bounded random mutation of valid
// encodings of every message at every version. Nothing may crash or read out of bounds (run under
// AddressSanitizer), and whatever decodes must re-encode to bytes that decode to the same thing.
#include "message_test_util.hpp"

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

#include <array>
#include <functional>
#include <random>
#include <string>
#include <vector>

using namespace gregor;
using namespace gregor::wire;
using gregor::test::from_hex;
using gregor::test::hex;

namespace {

template <typename M>
bool decodes(const std::vector<std::byte>& in, std::int16_t version) {
    const std::vector<std::byte> exact(in); // own allocation of exactly the input's size
    byte_reader r(bytes_view{exact.data(), exact.size()});
    return M::decode(r, version).has_value();
}

struct codec {
    std::string name;
    std::int16_t version;
    std::vector<std::byte> sample;
    // Decodes `in`; if it decodes, re-encodes and checks the re-encoding is a fixed point.
    std::function<bool(const std::vector<std::byte>&)> check;
};

template <typename M>
codec make_codec(const M& sample, std::int16_t version) {
    codec c;
    c.name = std::string(M::api::name) + " v" + std::to_string(version);
    c.version = version;
    c.sample = test::encode_bytes(sample, version);
    c.check = [version](const std::vector<std::byte>& in) {
        const std::vector<std::byte> exact(in);
        byte_reader r(bytes_view{exact.data(), exact.size()});
        const auto m = M::decode(r, version);
        if (!m) return false;
        const auto once = test::encode_bytes(*m, version);
        byte_reader r2(bytes_view{once});
        const auto m2 = M::decode(r2, version);
        REQUIRE(m2);
        REQUIRE(r2.at_end());
        REQUIRE(hex(bytes_view{test::encode_bytes(*m2, version)}) == hex(bytes_view{once}));
        return true;
    };
    return c;
}

template <typename Api, typename F>
void add_versions(std::vector<codec>& out, F&& make) {
    for (std::int16_t v = Api::min_version; v <= Api::max_version; ++v) make(out, v);
}

wire::uuid sample_uuid(int seed) {
    wire::uuid u;
    for (std::size_t i = 0; i < u.bytes.size(); ++i)
        u.bytes[i] = static_cast<std::byte>(seed * 16 + static_cast<int>(i));
    return u;
}

// Samples with every field of every version set away from its default (tagged fields included),
// so that truncation and mutation reach each of them.
std::vector<codec> all_codecs(const std::vector<std::byte>& batch) {
    std::vector<codec> cs;
    add_versions<api_versions_api>(cs, [](auto& out, std::int16_t v) {
        out.push_back(make_codec(api_versions::request{"librdkafka", "2.0.2"}, v));
        auto resp = api_versions::response::advertising(broker_advertised_apis);
        resp.supported_features = {{"metadata.version", 1, 21}};
        resp.finalized_features_epoch = 7;
        resp.finalized_features = {{"metadata.version", 21, 1}};
        resp.zk_migration_ready = true;
        out.push_back(make_codec(resp, v));
    });
    add_versions<metadata_api>(cs, [](auto& out, std::int16_t v) {
        metadata::request req;
        req.topics = std::vector<metadata::request_topic>{{"a", sample_uuid(1)}, {"bb", {}}};
        req.include_cluster_authorized_operations = true;
        req.include_topic_authorized_operations = true;
        out.push_back(make_codec(req, v));
        metadata::response resp;
        resp.brokers = {{node_id{1}, "h", 1, "r"}};
        resp.cluster_id = "c";
        resp.controller_id = node_id{1};
        resp.topics = {{error_code::none,
                        "a",
                        false,
                        {{error_code::none,
                          partition_id{0},
                          node_id{1},
                          {node_id{1}},
                          {node_id{1}},
                          {node_id{2}},
                          leader_epoch{3}}},
                        sample_uuid(2),
                        0x1f8}};
        resp.cluster_authorized_operations = 0x20;
        out.push_back(make_codec(resp, v));
    });
    add_versions<produce_api>(cs, [&batch](auto& out, std::int16_t v) {
        produce::request req;
        req.transactional_id = "t";
        req.topics = {{"a", {{partition_id{0}, bytes_view{batch}, {}}, {partition_id{1}, std::nullopt, {}}}}};
        out.push_back(make_codec(req, v));
        produce::response resp;
        resp.responses = {{"a",
                           {{partition_id{0},
                             error_code::invalid_record,
                             offset{5},
                             -1,
                             offset{0},
                             {{1, "bad"}},
                             "dropped",
                             {node_id{2}, leader_epoch{4}}}}}};
        resp.node_endpoints = {{node_id{2}, "h", 9092, "r"}};
        out.push_back(make_codec(resp, v));
    });
    add_versions<fetch_api>(cs, [&batch](auto& out, std::int16_t v) {
        fetch::request req;
        req.replica_id = node_id{2};
        req.replica_epoch = 9;
        req.topics = {
            {"a", {{partition_id{0}, leader_epoch{1}, offset{2}, offset{-1}, 100, leader_epoch{1}}}, sample_uuid(3)}};
        req.forgotten_topics_data = {{"b", {partition_id{3}}, sample_uuid(4)}};
        req.rack_id = "r";
        req.cluster_id = "c";
        out.push_back(make_codec(req, v));
        fetch::response resp;
        fetch::partition_data p;
        p.aborted_transactions = std::vector<fetch::aborted_transaction>{{producer_id{1}, offset{2}}};
        p.records = bytes_view{batch};
        p.diverging_epoch = {leader_epoch{1}, offset{10}};
        p.current_leader = {node_id{1}, leader_epoch{2}};
        p.snapshot_id = {offset{20}, leader_epoch{1}};
        resp.responses = {{"a", {p}, sample_uuid(5)}};
        resp.node_endpoints = {{node_id{1}, "h", 9092, std::nullopt}};
        out.push_back(make_codec(resp, v));
    });
    add_versions<list_offsets_api>(cs, [](auto& out, std::int16_t v) {
        list_offsets::request req;
        req.topics = {{"a", {{partition_id{0}, -2, 1, leader_epoch{4}}}}};
        out.push_back(make_codec(req, v));
        list_offsets::response resp;
        resp.topics = {{"a", {{partition_id{0}, error_code::none, {1, 2}, 3, offset{4}, leader_epoch{5}}}}};
        out.push_back(make_codec(resp, v));
    });
    add_versions<init_producer_id_api>(cs, [](auto& out, std::int16_t v) {
        out.push_back(make_codec(init_producer_id::request{"t", 1, producer_id{2}, producer_epoch{3}}, v));
        out.push_back(
            make_codec(init_producer_id::response{0, error_code::none, producer_id{2}, producer_epoch{3}}, v));
    });
    add_versions<find_coordinator_api>(cs, [](auto& out, std::int16_t v) {
        out.push_back(
            make_codec(find_coordinator::request{"g", find_coordinator::coordinator_type::group, {"g", "h"}}, v));
        out.push_back(make_codec(
            find_coordinator::response{
                0, error_code::none, "m", node_id{1}, "h", 9, {{"g", node_id{1}, "h", 9, error_code::none, "m"}}},
            v));
    });
    add_versions<create_topics_api>(cs, [](auto& out, std::int16_t v) {
        create_topics::request req;
        req.topics = {{"a", -1, -1, {{partition_id{0}, {node_id{1}}}}, {{"k", "v"}, {"n", std::nullopt}}}};
        req.validate_only = true;
        out.push_back(make_codec(req, v));
        create_topics::response resp;
        resp.throttle_time_ms = 1;
        resp.topics = {{"a", sample_uuid(6), error_code::invalid_config, "m", error_code::invalid_config, 3, 1,
                        std::vector<create_topics::creatable_topic_configs>{{"k", "v", true, 1, true}}}};
        out.push_back(make_codec(resp, v));
    });
    add_versions<delete_topics_api>(cs, [](auto& out, std::int16_t v) {
        out.push_back(make_codec(delete_topics::request{{{"a", sample_uuid(7)}}, {"a", "b"}, 100}, v));
        out.push_back(
            make_codec(delete_topics::response{1, {{"a", sample_uuid(8), error_code::unknown_topic_id, "m"}}}, v));
    });
    add_versions<delete_records_api>(cs, [](auto& out, std::int16_t v) {
        out.push_back(make_codec(delete_records::request{{{"a", {{partition_id{0}, offset{3}}}}}, 100}, v));
        out.push_back(
            make_codec(delete_records::response{1, {{"a", {{partition_id{0}, offset{3}, error_code::none}}}}}, v));
    });
    add_versions<describe_configs_api>(cs, [](auto& out, std::int16_t v) {
        using describe_configs::resource_type;
        out.push_back(
            make_codec(describe_configs::request{{{resource_type::topic, "a", std::vector<std::string_view>{"k"}},
                                                  {resource_type::broker, "1", {}}},
                                                 true,
                                                 true},
                       v));
        describe_configs::config c{"k",
                                   "v",
                                   true,
                                   true,
                                   describe_configs::config_source::topic_config,
                                   true,
                                   {{"k", "v", describe_configs::config_source::topic_config}},
                                   describe_configs::config_type::list,
                                   "d"};
        out.push_back(
            make_codec(describe_configs::response{1, {{error_code::none, "m", resource_type::topic, "a", {c}}}}, v));
    });
    add_versions<alter_configs_api>(cs, [](auto& out, std::int16_t v) {
        using alter_configs::resource_type;
        out.push_back(make_codec(
            alter_configs::request{{{resource_type::topic, "a", {{"k", "v"}, {"n", std::nullopt}}}}, true}, v));
        out.push_back(
            make_codec(alter_configs::response{1, {{error_code::invalid_config, "m", resource_type::topic, "a"}}}, v));
    });
    add_versions<create_partitions_api>(cs, [](auto& out, std::int16_t v) {
        out.push_back(
            make_codec(create_partitions::request{{{"a", 3, std::vector<create_partitions::assignment>{{{node_id{1}}}}},
                                                   {"b", 2, std::nullopt}},
                                                  100,
                                                  true},
                       v));
        out.push_back(make_codec(create_partitions::response{1, {{"a", error_code::invalid_partitions, "m"}}}, v));
    });
    add_versions<incremental_alter_configs_api>(cs, [](auto& out, std::int16_t v) {
        using incremental_alter_configs::config_operation;
        using incremental_alter_configs::resource_type;
        out.push_back(make_codec(incremental_alter_configs::request{{{resource_type::topic,
                                                                      "a",
                                                                      {{"k", config_operation::append, "v"},
                                                                       {"n", config_operation::remove, {}}}}},
                                                                    true},
                                 v));
        out.push_back(make_codec(
            incremental_alter_configs::response{1, {{error_code::invalid_config, "m", resource_type::topic, "a"}}}, v));
    });
    add_versions<describe_cluster_api>(cs, [](auto& out, std::int16_t v) {
        out.push_back(make_codec(describe_cluster::request{true, describe_cluster::endpoint_type::controllers}, v));
        out.push_back(make_codec(describe_cluster::response{1,
                                                            error_code::mismatched_endpoint_type,
                                                            "m",
                                                            describe_cluster::endpoint_type::controllers,
                                                            "c",
                                                            node_id{1},
                                                            {{node_id{1}, "h", 9092, "r"}},
                                                            0x20},
                                 v));
    });
    // Between brokers and controller (docs/protocol.md §14.11).
    add_versions<offset_for_leader_epoch_api>(cs, [](auto& out, std::int16_t v) {
        out.push_back(
            make_codec(offset_for_leader_epoch::request{node_id{1},
                                                        {{"a", {{partition_id{0}, leader_epoch{4}, leader_epoch{3}}}}}},
                       v));
        out.push_back(make_codec(
            offset_for_leader_epoch::response{
                1, {{"a", {{error_code::fenced_leader_epoch, partition_id{0}, leader_epoch{3}, offset{7}}}}}},
            v));
    });
    add_versions<alter_partition_api>(cs, [](auto& out, std::int16_t v) {
        alter_partition::partition_data p{partition_id{0},
                                          leader_epoch{2},
                                          {node_id{1}, node_id{2}},
                                          {{node_id{1}, 5}, {node_id{2}, 6}},
                                          alter_partition::leader_recovery_state::recovering,
                                          3};
        out.push_back(make_codec(alter_partition::request{node_id{1}, 5, {{"a", sample_uuid(9), {p}}}}, v));
        alter_partition::response_partition rp{partition_id{0},
                                               error_code::ineligible_replica,
                                               node_id{1},
                                               leader_epoch{2},
                                               {node_id{1}},
                                               alter_partition::leader_recovery_state::recovering,
                                               4};
        out.push_back(make_codec(alter_partition::response{1, error_code::none, {{"a", sample_uuid(10), {rp}}}}, v));
    });
    add_versions<broker_registration_api>(cs, [](auto& out, std::int16_t v) {
        out.push_back(make_codec(broker_registration::request{node_id{1},
                                                              "c",
                                                              sample_uuid(11),
                                                              {{"PLAINTEXT", "h", 9092, 0}},
                                                              {{"metadata.version", 1, 21}},
                                                              "r",
                                                              true,
                                                              {sample_uuid(12)},
                                                              8},
                                 v));
        out.push_back(make_codec(broker_registration::response{1, error_code::none, 9}, v));
    });
    add_versions<broker_heartbeat_api>(cs, [](auto& out, std::int16_t v) {
        out.push_back(make_codec(broker_heartbeat::request{node_id{1}, 9, 100, true, true, {sample_uuid(13)}}, v));
        out.push_back(make_codec(broker_heartbeat::response{1, error_code::none, true, false, true}, v));
    });
    return cs;
}

} // namespace

TEST_CASE("absurd counts in real messages are rejected", "[wire_robustness]") {
    // Produce v7: null txn id, acks, timeout, then 2^31-1 topics in 8 bytes.
    CHECK_FALSE(decodes<produce::request>(from_hex("ffff ffff 00007530 7fffffff 0001 74 00000000"), 7));
    // One topic claiming 2^31-1 partitions.
    CHECK_FALSE(decodes<produce::request>(from_hex("ffff ffff 00007530 00000001 0001 74 7fffffff 00000000"), 7));
    // A record set claiming 2 GiB.
    CHECK_FALSE(
        decodes<produce::request>(from_hex("ffff ffff 00007530 00000001 0001 74 00000001 00000000 7fffffff 00"), 7));
    // Metadata v6 response: throttle, then 2^31-1 brokers.
    CHECK_FALSE(decodes<metadata::response>(from_hex("00000000 7fffffff 00000001 0001 68"), 6));
    // Metadata v5 partition with 2^31-1 replicas.
    CHECK_FALSE(decodes<metadata::response>(from_hex("00000000 00000000 ffff 00000001 00000001 0000 000161 00 00000001 "
                                                     "0000 00000000 00000001 7fffffff 00000001"),
                                            5));
    // ApiVersions v3 response: compact count 2^32-2.
    CHECK_FALSE(decodes<api_versions::response>(from_hex("0000 ffffffff0f 0000 0000 0003 00"), 3));
    // Fetch v11 response: aborted transactions 2^31-1.
    CHECK_FALSE(decodes<fetch::response>(
        from_hex("00000000 0000 00000000 00000001 0001 61 00000001 00000000 0000 "
                 "0000000000000000 0000000000000000 0000000000000000 7fffffff ffffffff ffffffff"),
        11));
    // ListOffsets v0 response: 2^31-1 old-style offsets.
    CHECK_FALSE(decodes<list_offsets::response>(from_hex("00000001 0001 61 00000001 00000000 0000 7fffffff"), 0));
    // A negative (not -1) count is malformed too.
    CHECK_FALSE(decodes<fetch::request>(from_hex("ffffffff 000001f4 00000001 7fffffff 00 80000000"), 4));
}

TEST_CASE("decoding with a version outside the implemented range fails", "[wire_robustness]") {
    const auto any = from_hex("0000 00000000 00000000");
    CHECK_FALSE(decodes<fetch::request>(any, 3));
    CHECK_FALSE(decodes<fetch::request>(any, 17));
    CHECK_FALSE(decodes<metadata::request>(any, 13));
    CHECK_FALSE(decodes<api_versions::request>(any, 5));
    CHECK_FALSE(decodes<produce::response>(any, 2));
    CHECK_FALSE(decodes<produce::response>(any, 12));
    CHECK_FALSE(decodes<list_offsets::request>(any, 9));
    CHECK_FALSE(decodes<find_coordinator::request>(any, 6));
    CHECK_FALSE(decodes<init_producer_id::response>(any, 6));
    CHECK_FALSE(decodes<init_producer_id::response>(any, -1));
}

TEST_CASE("every truncation of every message sample fails cleanly", "[wire_robustness]") {
    const auto batch = from_hex(test::data_batch_hex);
    for (const auto& c : all_codecs(batch)) {
        INFO(c.name);
        REQUIRE(c.check(c.sample));
        for (std::size_t n = 0; n < c.sample.size(); ++n) {
            const std::vector<std::byte> prefix(c.sample.begin(), c.sample.begin() + static_cast<std::ptrdiff_t>(n));
            CHECK_FALSE(c.check(prefix));
        }
    }
}

TEST_CASE("mutated messages never crash the decoders and re-encode to a fixed point", "[wire_robustness]") {
    const auto batch = from_hex(test::data_batch_hex);
    const auto codecs = all_codecs(batch);
    std::mt19937 rng(20240611);
    int decoded = 0, rejected = 0;
    for (int iter = 0; iter < 30000; ++iter) {
        const auto& c = codecs[rng() % codecs.size()];
        auto bytes = c.sample;
        if (bytes.empty()) bytes.push_back(static_cast<std::byte>(rng())); // ApiVersions v0-2 requests
        switch (rng() % 4) {
        case 0: // bit flips
            for (int f = 0, nf = 1 + static_cast<int>(rng() % 4); f < nf; ++f)
                bytes[rng() % bytes.size()] ^= static_cast<std::byte>(1u << (rng() % 8));
            break;
        case 1: // a random int32 written over a length or count
            if (bytes.size() >= 4)
                store_be<std::int32_t>(bytes.data() + rng() % (bytes.size() - 3), static_cast<std::int32_t>(rng()));
            break;
        case 2: // a byte set to 0xff / 0x00 / 0x80 (-1 lengths, zero counts, varint continuations)
            bytes[rng() % bytes.size()] = static_cast<std::byte>(std::array<int, 3>{0xff, 0x00, 0x80}[rng() % 3]);
            break;
        case 3: // trailing garbage or a cut
            if (rng() % 2)
                bytes.resize(rng() % bytes.size());
            else
                bytes.push_back(static_cast<std::byte>(rng()));
            break;
        }
        INFO(c.name << " iteration " << iter);
        if (c.check(bytes))
            ++decoded;
        else
            ++rejected;
    }
    CHECK(decoded > 0);
    CHECK(rejected > 0);
}
