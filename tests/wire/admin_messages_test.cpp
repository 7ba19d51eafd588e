// The admin APIs' codecs (docs/protocol.md §17): CreateTopics, DeleteTopics, DeleteRecords,
// DescribeConfigs, AlterConfigs, CreatePartitions, IncrementalAlterConfigs and DescribeCluster.
// Every message with every field set, round-tripped at every version Kafka 3.9 serves (each
// version keeps only the fields it has); byte-exact encodings assembled by hand from the field
// tables, one classic and one flexible per API (DescribeCluster is flexible from v0), decoded back
// field by field; and every truncation of those failing.
#include "message_test_util.hpp"

#include <gregor/wire/api.hpp>
#include <gregor/wire/header.hpp>
#include <gregor/wire/messages/alter_configs.hpp>
#include <gregor/wire/messages/create_partitions.hpp>
#include <gregor/wire/messages/create_topics.hpp>
#include <gregor/wire/messages/delete_records.hpp>
#include <gregor/wire/messages/delete_topics.hpp>
#include <gregor/wire/messages/describe_cluster.hpp>
#include <gregor/wire/messages/describe_configs.hpp>
#include <gregor/wire/messages/incremental_alter_configs.hpp>

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
using gregor::test::uuid_of;
using gregor::test::uuid_hex;

namespace {

const std::string zero_uuid_hex = "00000000000000000000000000000000";

/// A layout cut anywhere decodes to nullopt (explicitly, beside require_truncations_fail).
template <typename M>
void check_truncated(const std::string& layout, std::int16_t version) {
    auto full = from_hex(layout);
    for (const std::size_t cut : {std::size_t{0}, std::size_t{1}, full.size() / 2, full.size() - 1}) {
        const std::vector<std::byte> prefix(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(cut));
        byte_reader r(bytes_view{prefix.data(), prefix.size()});
        CHECK_FALSE(M::decode(r, version).has_value());
    }
}

std::optional<std::string_view> sv(const char* s) { return std::string_view{s}; }

} // namespace

// Generic clients find each request's answer type.
static_assert(std::is_same_v<create_topics::request::response_type, create_topics::response>);
static_assert(std::is_same_v<delete_topics::request::response_type, delete_topics::response>);
static_assert(std::is_same_v<delete_records::request::response_type, delete_records::response>);
static_assert(std::is_same_v<describe_configs::request::response_type, describe_configs::response>);
static_assert(std::is_same_v<alter_configs::request::response_type, alter_configs::response>);
static_assert(std::is_same_v<create_partitions::request::response_type, create_partitions::response>);
static_assert(std::is_same_v<incremental_alter_configs::request::response_type, incremental_alter_configs::response>);
static_assert(std::is_same_v<describe_cluster::request::response_type, describe_cluster::response>);

// ---------------------------------------------------------------------------------------------
// Keys, names and ranges.

namespace {
} // namespace

TEST_CASE("admin APIs carry Kafka's keys, names, Kafka 3.9's versions and flexible versions", "[wire_admin]") {
    check_api<create_topics_api>(19, "CreateTopics", {0, 7}, 5);
    check_api<delete_topics_api>(20, "DeleteTopics", {0, 6}, 4);
    check_api<delete_records_api>(21, "DeleteRecords", {0, 2}, 2);
    check_api<describe_configs_api>(32, "DescribeConfigs", {0, 4}, 4);
    check_api<alter_configs_api>(33, "AlterConfigs", {0, 2}, 2);
    check_api<create_partitions_api>(37, "CreatePartitions", {0, 3}, 2);
    check_api<incremental_alter_configs_api>(44, "IncrementalAlterConfigs", {0, 1}, 1);
    check_api<describe_cluster_api>(60, "DescribeCluster", {0, 1}, 0);
    // Header versions follow: DescribeCluster is flexible from v0.
    CHECK(request_header_version(api_key::describe_cluster, 0) == 2);
    CHECK(response_header_version(api_key::describe_cluster, 0) == 1);
    CHECK(request_header_version(api_key::create_topics, 4) == 1);
    CHECK(response_header_version(api_key::create_topics, 5) == 1);
    // In the hand-kept broker list too, with the whole range (the handler test compares it with
    // the list the handlers generate).
    const auto listed = [](api_key k) {
        for (const auto& a : broker_advertised_apis)
            if (a.key == k) return true;
        return false;
    };
    for (const auto k : {api_key::create_topics, api_key::delete_topics, api_key::delete_records,
                         api_key::describe_configs, api_key::alter_configs, api_key::create_partitions,
                         api_key::incremental_alter_configs, api_key::describe_cluster})
        CHECK(listed(k));
}

// ---------------------------------------------------------------------------------------------
// CreateTopics

TEST_CASE("CreateTopics round-trips at every version", "[wire_admin]") {
    for_each_version<create_topics_api>([](std::int16_t v) {
        create_topics::request req;
        req.topics = {{"orders", 3, 1, {}, {{"retention.ms", sv("1000")}, {"cleanup.policy", std::nullopt}}},
                      {"explicit", -1, -1, {{partition_id{0}, {node_id{1}, node_id{2}}}, {partition_id{1}, {}}}, {}}};
        req.timeout_ms = 1234;
        req.validate_only = true;
        const auto d = round_trip(req, v);
        REQUIRE(d.msg.topics.size() == 2);
        CHECK(d.msg.topics[0].name == "orders");
        CHECK(d.msg.topics[0].num_partitions == 3);
        CHECK(d.msg.topics[0].replication_factor == 1);
        REQUIRE(d.msg.topics[0].configs.size() == 2);
        CHECK(d.msg.topics[0].configs[0].name == "retention.ms");
        CHECK(d.msg.topics[0].configs[0].value == sv("1000"));
        CHECK_FALSE(d.msg.topics[0].configs[1].value);
        CHECK(d.msg.topics[1].num_partitions == -1);
        REQUIRE(d.msg.topics[1].assignments.size() == 2);
        CHECK(d.msg.topics[1].assignments[0].broker_ids == std::vector<node_id>{node_id{1}, node_id{2}});
        CHECK(d.msg.topics[1].assignments[1].partition_index == partition_id{1});
        CHECK(d.msg.timeout_ms == 1234);
        CHECK(d.msg.validate_only == (v >= 1));

        create_topics::response resp;
        resp.throttle_time_ms = 7;
        create_topics::creatable_topic_result ok;
        ok.name = "orders";
        ok.topic_id = uuid_of(1);
        ok.num_partitions = 3;
        ok.replication_factor = 1;
        ok.topic_config_error_code = error_code::invalid_config;
        ok.configs = std::vector<create_topics::creatable_topic_configs>{{"retention.ms", sv("1000"), false, 1, false},
                                                                         {"secret", std::nullopt, true, 5, true}};
        create_topics::creatable_topic_result bad;
        bad.name = "x y";
        bad.error_code = error_code::invalid_topic_exception;
        bad.error_message = "bad name";
        resp.topics = {ok, bad};
        const auto r = round_trip(resp, v);
        REQUIRE(r.msg.topics.size() == 2);
        const auto& t0 = r.msg.topics[0];
        const auto& t1 = r.msg.topics[1];
        CHECK(r.msg.throttle_time_ms == (v >= 2 ? 7 : 0));
        CHECK(t0.name == "orders");
        CHECK(t0.topic_id == (v >= 7 ? uuid_of(1) : wire::uuid{}));
        CHECK(t1.error_code == error_code::invalid_topic_exception);
        CHECK(t1.error_message == (v >= 1 ? sv("bad name") : std::nullopt));
        CHECK(t0.topic_config_error_code == (v >= 5 ? error_code::invalid_config : error_code::none));
        CHECK(t0.num_partitions == (v >= 5 ? 3 : -1));
        CHECK(t0.replication_factor == (v >= 5 ? 1 : -1));
        if (v >= 5) {
            REQUIRE(t0.configs);
            REQUIRE(t0.configs->size() == 2);
            CHECK((*t0.configs)[0].value == sv("1000"));
            CHECK((*t0.configs)[0].config_source == 1);
            CHECK((*t0.configs)[1].read_only);
            CHECK((*t0.configs)[1].is_sensitive);
            CHECK_FALSE((*t0.configs)[1].value);
            CHECK_FALSE(t1.configs); // null stays null
        } else {
            CHECK_FALSE(t0.configs);
        }
    });
}

TEST_CASE("CreateTopics v4 and v5 requests are byte exact", "[wire_admin]") {
    create_topics::request req;
    req.topics = {{"t", 3, 1, {}, {{"k", sv("v")}}},
                  {"u", -1, -1, {{partition_id{0}, {node_id{1}, node_id{2}}}}, {{"a", std::nullopt}}}};
    req.timeout_ms = 30000;
    req.validate_only = true;
    const std::string v4 = "00000002"                                     // topics
                           "0001 74 00000003 0001"                        // "t", 3 partitions, rf 1
                           "00000000"                                     // no assignments
                           "00000001 0001 6b 0001 76"                     // configs k=v
                           "0001 75 ffffffff ffff"                        // "u", -1, -1
                           "00000001 00000000 00000002 00000001 00000002" // partition 0 on 1, 2
                           "00000001 0001 61 ffff"                        // configs a=null
                           "00007530 01";                                 // timeout, validate_only
    const auto d4 = check_layout(req, 4, v4);
    CHECK(d4.msg.topics[1].assignments[0].broker_ids.size() == 2);
    CHECK(d4.msg.topics[0].configs[0].value == sv("v"));
    CHECK(d4.msg.validate_only);
    const std::string v5 = "03"
                           "02 74 00000003 0001 01 02 02 6b 02 76 00 00"
                           "02 75 ffffffff ffff 02 00000000 03 00000001 00000002 00 02 02 61 00 00 00"
                           "00007530 01 00";
    const auto d5 = check_layout(req, 5, v5);
    CHECK_FALSE(d5.msg.topics[1].configs[0].value);
    CHECK(d5.msg.timeout_ms == 30000);
    // v0: no validate_only.
    CHECK(encoded_hex(create_topics::request{{}, 60000, true}, 0) == "00000000"
                                                                     "0000ea60");
    check_truncated<create_topics::request>(v5, 5);
}

TEST_CASE("CreateTopics responses: v2 classic, v5 with configs and tagged config error, v7 with topic id",
          "[wire_admin]") {
    create_topics::response classic;
    classic.throttle_time_ms = 5;
    classic.topics = {{"t", {}, error_code::topic_already_exists, sv("x")}};
    const auto d2 = check_layout(classic, 2, "00000005 00000001 0001 74 0024 0001 78");
    CHECK(d2.msg.topics[0].error_code == error_code::topic_already_exists);
    CHECK(d2.msg.topics[0].error_message == sv("x"));
    // v0: no throttle, no message.
    check_layout(classic, 0, "00000001 0001 74 0024");

    create_topics::response flex;
    create_topics::creatable_topic_result t;
    t.name = "t";
    t.topic_id = uuid_of(7);
    t.topic_config_error_code = error_code::invalid_config;
    t.num_partitions = 3;
    t.replication_factor = 1;
    t.configs = std::vector<create_topics::creatable_topic_configs>{{"k", sv("v"), false, 1, false}};
    flex.topics = {t};
    const std::string v5 = "00000000 02"
                           "02 74 0000 00"              // name, error, null message
                           "00000003 0001"              // partitions, replication factor
                           "02 02 6b 02 76 00 01 00 00" // configs: k=v, rw, source 1, not sensitive
                           "01 00 02 0028"              // tag 0: topic_config_error_code 40
                           "00";
    const auto d5 = check_layout(flex, 5, v5);
    CHECK(d5.msg.topics[0].topic_config_error_code == error_code::invalid_config);
    CHECK(d5.msg.topics[0].topic_id == wire::uuid{});
    REQUIRE(d5.msg.topics[0].configs);
    CHECK((*d5.msg.topics[0].configs)[0].config_source == 1);
    check_layout(flex, 6, v5);
    const auto d7 = check_layout(flex, 7,
                                 "00000000 02 02 74" + uuid_hex(7) +
                                     "0000 00 00000003 0001 02 02 6b 02 76 00 01 00 00 01 00 02 0028 00");
    CHECK(d7.msg.topics[0].topic_id == uuid_of(7));
    // Without a config error the tagged section is empty; null configs are a 00.
    flex.topics[0].topic_config_error_code = error_code::none;
    flex.topics[0].configs.reset();
    check_layout(flex, 5, "00000000 02 02 74 0000 00 00000003 0001 00 00 00");
    check_truncated<create_topics::response>(v5, 5);
}

// ---------------------------------------------------------------------------------------------
// DeleteTopics

TEST_CASE("DeleteTopics round-trips at every version", "[wire_admin]") {
    for_each_version<delete_topics_api>([](std::int16_t v) {
        delete_topics::request req;
        req.topics = {{"a", {}}, {std::string_view{}, uuid_of(2)}};
        req.topic_names = {"a", "b"};
        req.timeout_ms = 500;
        const auto d = round_trip(req, v);
        CHECK(d.msg.timeout_ms == 500);
        if (v >= 6) {
            REQUIRE(d.msg.topics.size() == 2);
            CHECK(d.msg.topics[0].name == "a");
            CHECK(d.msg.topics[1].name.data() == nullptr);
            CHECK(d.msg.topics[1].topic_id == uuid_of(2));
            CHECK(d.msg.topic_names.empty());
        } else {
            CHECK(d.msg.topic_names == std::vector<std::string_view>{"a", "b"});
            CHECK(d.msg.topics.empty());
        }

        delete_topics::response resp;
        resp.throttle_time_ms = 3;
        resp.responses = {{"a", uuid_of(1), error_code::none, std::nullopt},
                          {std::string_view{}, uuid_of(2), error_code::unknown_topic_id, sv("no such id")}};
        const auto r = round_trip(resp, v);
        REQUIRE(r.msg.responses.size() == 2);
        CHECK(r.msg.throttle_time_ms == (v >= 1 ? 3 : 0));
        CHECK(r.msg.responses[0].name == "a");
        CHECK(r.msg.responses[0].topic_id == (v >= 6 ? uuid_of(1) : wire::uuid{}));
        CHECK(r.msg.responses[1].error_code == error_code::unknown_topic_id);
        CHECK(r.msg.responses[1].error_message == (v >= 5 ? sv("no such id") : std::nullopt));
        // A null name goes out as "" where names cannot be null.
        CHECK((r.msg.responses[1].name.data() == nullptr) == (v >= 6));
    });
}

TEST_CASE("DeleteTopics v3 and v6 are byte exact", "[wire_admin]") {
    delete_topics::request req;
    req.topic_names = {"a", "b"};
    req.topics = {{"a", {}}, {std::string_view{}, uuid_of(1)}};
    req.timeout_ms = 1000;
    const auto d3 = check_layout(req, 3, "00000002 0001 61 0001 62 000003e8");
    CHECK(d3.msg.topic_names.size() == 2);
    check_layout(req, 4, "03 02 61 02 62 000003e8 00");
    const std::string v6 = "03 02 61" + zero_uuid_hex + "00 00" + uuid_hex(1) + "00 000003e8 00";
    const auto d6 = check_layout(req, 6, v6);
    CHECK(d6.msg.topics[1].name.data() == nullptr);
    CHECK(d6.msg.topics[1].topic_id == uuid_of(1));

    delete_topics::response resp;
    resp.responses = {{"a", {}, error_code::unknown_topic_or_partition, std::nullopt}};
    check_layout(resp, 0, "00000001 0001 61 0003");
    check_layout(resp, 3, "00000000 00000001 0001 61 0003");
    check_layout(resp, 4, "00000000 02 02 61 0003 00 00");
    resp.responses.push_back({std::string_view{}, uuid_of(1), error_code::unknown_topic_id, sv("x")});
    const auto r6 = check_layout(resp, 6,
                                 "00000000 03"
                                 "02 61" +
                                     zero_uuid_hex + "0003 00 00" + "00" + uuid_hex(1) + "0064 02 78 00" + "00");
    CHECK(r6.msg.responses[1].error_code == error_code::unknown_topic_id);
    CHECK(r6.msg.responses[1].error_message == sv("x"));
    check_truncated<delete_topics::request>(v6, 6);
}

// ---------------------------------------------------------------------------------------------
// DeleteRecords

TEST_CASE("DeleteRecords round-trips at every version and is byte exact at v1 and v2", "[wire_admin]") {
    delete_records::request req;
    req.topics = {{"t", {{partition_id{0}, offset{5}}, {partition_id{1}, offset{-1}}}}};
    req.timeout_ms = 1000;
    delete_records::response resp;
    resp.throttle_time_ms = 2;
    resp.topics = {{"t",
                    {{partition_id{0}, offset{5}, error_code::none},
                     {partition_id{1}, offset{-1}, error_code::offset_out_of_range}}}};
    for_each_version<delete_records_api>([&](std::int16_t v) {
        const auto d = round_trip(req, v);
        REQUIRE(d.msg.topics.at(0).partitions.size() == 2);
        CHECK(d.msg.topics[0].partitions[0].offset == offset{5});
        CHECK(d.msg.topics[0].partitions[1].offset == offset{delete_records::high_watermark_offset});
        CHECK(d.msg.timeout_ms == 1000);
        const auto r = round_trip(resp, v);
        CHECK(r.msg.throttle_time_ms == 2);
        CHECK(r.msg.topics.at(0).partitions.at(0).low_watermark == offset{5});
        CHECK(r.msg.topics[0].partitions.at(1).error_code == error_code::offset_out_of_range);
    });

    const auto d1 = check_layout(req, 1,
                                 "00000001 0001 74 00000002"
                                 "00000000 0000000000000005 00000001 ffffffffffffffff"
                                 "000003e8");
    CHECK(d1.msg.topics[0].partitions[1].partition_index == partition_id{1});
    const std::string v2 = "02 02 74 03"
                           "00000000 0000000000000005 00 00000001 ffffffffffffffff 00"
                           "00 000003e8 00";
    check_layout(req, 2, v2);
    resp.throttle_time_ms = 0;
    const auto r1 = check_layout(resp, 1,
                                 "00000000 00000001 0001 74 00000002"
                                 "00000000 0000000000000005 0000 00000001 ffffffffffffffff 0001");
    CHECK(r1.msg.topics[0].partitions[0].low_watermark == offset{5});
    CHECK(r1.msg.topics[0].partitions[1].error_code == error_code::offset_out_of_range);
    check_layout(resp, 2,
                 "00000000 02 02 74 03"
                 "00000000 0000000000000005 0000 00 00000001 ffffffffffffffff 0001 00"
                 "00 00");
    check_truncated<delete_records::request>(v2, 2);
}

// ---------------------------------------------------------------------------------------------
// DescribeConfigs

TEST_CASE("DescribeConfigs round-trips at every version", "[wire_admin]") {
    using namespace describe_configs;
    for_each_version<describe_configs_api>([](std::int16_t v) {
        request req;
        req.resources = {{resource_type::topic, "orders", std::vector<std::string_view>{"retention.ms"}},
                         {resource_type::broker, "1", std::nullopt}};
        req.include_synonyms = true;
        req.include_documentation = true;
        const auto d = round_trip(req, v);
        REQUIRE(d.msg.resources.size() == 2);
        CHECK(d.msg.resources[0].resource_type == resource_type::topic);
        REQUIRE(d.msg.resources[0].configuration_keys);
        CHECK((*d.msg.resources[0].configuration_keys)[0] == "retention.ms");
        CHECK_FALSE(d.msg.resources[1].configuration_keys);
        CHECK(d.msg.include_synonyms == (v >= 1));
        CHECK(d.msg.include_documentation == (v >= 3));

        response resp;
        resp.throttle_time_ms = 4;
        config c;
        c.name = "retention.ms";
        c.value = "1000";
        c.read_only = false;
        c.is_default = true;
        c.config_source = config_source::topic_config;
        c.is_sensitive = false;
        c.synonyms = {{"retention.ms", sv("1000"), config_source::topic_config},
                      {"log.retention.ms", std::nullopt, config_source::default_config}};
        c.config_type = config_type::long_;
        c.documentation = "How long";
        config secret;
        secret.name = "ssl.key.password";
        secret.read_only = true;
        secret.is_sensitive = true;
        resp.results = {{error_code::none, std::nullopt, resource_type::topic, "orders", {c, secret}},
                        {error_code::unknown_topic_or_partition, sv("gone"), resource_type::topic, "gone", {}}};
        const auto r = round_trip(resp, v);
        REQUIRE(r.msg.results.size() == 2);
        CHECK(r.msg.throttle_time_ms == 4);
        CHECK(r.msg.results[1].error_code == error_code::unknown_topic_or_partition);
        CHECK(r.msg.results[1].error_message == sv("gone"));
        const auto& rc = r.msg.results[0].configs.at(0);
        CHECK(rc.name == "retention.ms");
        CHECK(rc.value == sv("1000"));
        CHECK(rc.is_default == (v == 0));
        CHECK(rc.config_source == (v >= 1 ? config_source::topic_config : config_source::not_given));
        CHECK(rc.synonyms.size() == (v >= 1 ? 2u : 0u));
        if (v >= 1) {
            CHECK(rc.synonyms[1].name == "log.retention.ms");
            CHECK_FALSE(rc.synonyms[1].value);
            CHECK(rc.synonyms[1].source == config_source::default_config);
        }
        CHECK(rc.config_type == (v >= 3 ? config_type::long_ : config_type::unknown));
        CHECK(rc.documentation == (v >= 3 ? sv("How long") : std::nullopt));
        const auto& rs = r.msg.results[0].configs.at(1);
        CHECK_FALSE(rs.value);
        CHECK(rs.read_only);
        CHECK(rs.is_sensitive);
    });
}

TEST_CASE("DescribeConfigs v0, v1, v3 and v4 are byte exact", "[wire_admin]") {
    using namespace describe_configs;
    request req;
    req.resources = {{resource_type::topic, "t", std::vector<std::string_view>{"k"}},
                     {resource_type::broker, "1", std::nullopt}};
    req.include_synonyms = true;
    req.include_documentation = true;
    check_layout(req, 0, "00000002 02 0001 74 00000001 0001 6b 04 0001 31 ffffffff");
    const auto d1 = check_layout(req, 1, "00000002 02 0001 74 00000001 0001 6b 04 0001 31 ffffffff 01");
    CHECK(d1.msg.resources[1].resource_type == resource_type::broker);
    CHECK(d1.msg.resources[1].resource_name == "1");
    check_layout(req, 3, "00000002 02 0001 74 00000001 0001 6b 04 0001 31 ffffffff 01 01");
    const std::string req4 = "03 02 02 74 02 02 6b 00 04 02 31 00 00 01 01 00";
    check_layout(req, 4, req4);

    response resp;
    config c;
    c.name = "k";
    c.value = "v";
    c.is_default = true;
    c.config_source = config_source::topic_config;
    c.synonyms = {{"k", sv("v"), config_source::topic_config}};
    c.config_type = config_type::int_;
    c.documentation = "d";
    resp.results = {{error_code::none, std::nullopt, resource_type::topic, "t", {c}}};
    // v0: name, value, read_only, is_default, is_sensitive.
    const auto r0 = check_layout(resp, 0, "00000000 00000001 0000 ffff 02 0001 74 00000001 0001 6b 0001 76 00 01 00");
    CHECK(r0.msg.results[0].configs[0].is_default);
    // v1: config_source instead of is_default, then synonyms after is_sensitive.
    const auto r1 = check_layout(resp, 1,
                                 "00000000 00000001 0000 ffff 02 0001 74 00000001"
                                 "0001 6b 0001 76 00 01 00 00000001 0001 6b 0001 76 01");
    CHECK(r1.msg.results[0].configs[0].config_source == config_source::topic_config);
    CHECK_FALSE(r1.msg.results[0].configs[0].is_default);
    // v3: config_type and documentation at the end.
    const auto r3 = check_layout(resp, 3,
                                 "00000000 00000001 0000 ffff 02 0001 74 00000001"
                                 "0001 6b 0001 76 00 01 00 00000001 0001 6b 0001 76 01 03 0001 64");
    CHECK(r3.msg.results[0].configs[0].config_type == config_type::int_);
    CHECK(r3.msg.results[0].configs[0].documentation == sv("d"));
    const std::string resp4 = "00000000 02 0000 00 02 02 74 02"
                              "02 6b 02 76 00 01 00 02 02 6b 02 76 01 00 03 02 64 00"
                              "00 00";
    const auto r4 = check_layout(resp, 4, resp4);
    CHECK(r4.msg.results[0].configs[0].synonyms[0].source == config_source::topic_config);
    check_truncated<request>(req4, 4);
    check_truncated<response>(resp4, 4);
}

// ---------------------------------------------------------------------------------------------
// AlterConfigs

TEST_CASE("AlterConfigs round-trips at every version and is byte exact at v1 and v2", "[wire_admin]") {
    using namespace alter_configs;
    request req;
    req.resources = {{resource_type::topic, "t", {{"k", sv("v")}, {"j", std::nullopt}}}};
    req.validate_only = true;
    response resp;
    resp.throttle_time_ms = 1;
    resp.responses = {{error_code::invalid_config, sv("bad"), resource_type::topic, "t"},
                      {error_code::none, std::nullopt, resource_type::broker, "1"}};
    for_each_version<alter_configs_api>([&](std::int16_t v) {
        const auto d = round_trip(req, v);
        REQUIRE(d.msg.resources.at(0).configs.size() == 2);
        CHECK(d.msg.resources[0].resource_type == resource_type::topic);
        CHECK(d.msg.resources[0].configs[0].value == sv("v"));
        CHECK_FALSE(d.msg.resources[0].configs[1].value);
        CHECK(d.msg.validate_only);
        const auto r = round_trip(resp, v);
        CHECK(r.msg.throttle_time_ms == 1);
        CHECK(r.msg.responses.at(0).error_message == sv("bad"));
        CHECK(r.msg.responses.at(1).resource_type == resource_type::broker);
    });

    check_layout(req, 1, "00000001 02 0001 74 00000002 0001 6b 0001 76 0001 6a ffff 01");
    const std::string req2 = "02 02 02 74 03 02 6b 02 76 00 02 6a 00 00 00 01 00";
    check_layout(req, 2, req2);
    resp.throttle_time_ms = 0;
    resp.responses.pop_back();
    const auto r1 = check_layout(resp, 1, "00000000 00000001 0028 0003 626164 02 0001 74");
    CHECK(r1.msg.responses[0].error_code == error_code::invalid_config);
    CHECK(r1.msg.responses[0].resource_name == "t");
    check_layout(resp, 2, "00000000 02 0028 04 626164 02 02 74 00 00");
    check_truncated<request>(req2, 2);
}

// ---------------------------------------------------------------------------------------------
// CreatePartitions

TEST_CASE("CreatePartitions round-trips at every version and is byte exact at v1 and v2", "[wire_admin]") {
    using namespace create_partitions;
    request req;
    req.topics = {{"t", 4, std::vector<assignment>{{{node_id{1}}}, {{node_id{1}, node_id{2}}}}},
                  {"u", 2, std::nullopt}};
    req.timeout_ms = 1000;
    req.validate_only = false;
    response resp;
    resp.throttle_time_ms = 3;
    resp.results = {{"t", error_code::invalid_partitions, sv("x")}, {"u", error_code::none, std::nullopt}};
    for_each_version<create_partitions_api>([&](std::int16_t v) {
        const auto d = round_trip(req, v);
        REQUIRE(d.msg.topics.size() == 2);
        CHECK(d.msg.topics[0].count == 4);
        REQUIRE(d.msg.topics[0].assignments);
        CHECK((*d.msg.topics[0].assignments)[1].broker_ids == std::vector<node_id>{node_id{1}, node_id{2}});
        CHECK_FALSE(d.msg.topics[1].assignments);
        CHECK(d.msg.timeout_ms == 1000);
        const auto r = round_trip(resp, v);
        CHECK(r.msg.throttle_time_ms == 3);
        CHECK(r.msg.results.at(0).error_code == error_code::invalid_partitions);
        CHECK(r.msg.results[0].error_message == sv("x"));
        CHECK_FALSE(r.msg.results.at(1).error_message);
    });

    check_layout(req, 1,
                 "00000002"
                 "0001 74 00000004 00000002 00000001 00000001 00000002 00000001 00000002"
                 "0001 75 00000002 ffffffff"
                 "000003e8 00");
    const std::string req2 = "03"
                             "02 74 00000004 03 02 00000001 00 03 00000001 00000002 00 00"
                             "02 75 00000002 00 00"
                             "000003e8 00 00";
    check_layout(req, 2, req2);
    resp.throttle_time_ms = 0;
    resp.results.pop_back();
    const auto r0 = check_layout(resp, 0, "00000000 00000001 0001 74 0025 0001 78");
    CHECK(r0.msg.results[0].name == "t");
    check_layout(resp, 3, "00000000 02 02 74 0025 02 78 00 00");
    check_truncated<request>(req2, 2);
}

// ---------------------------------------------------------------------------------------------
// IncrementalAlterConfigs

TEST_CASE("IncrementalAlterConfigs round-trips at every version and is byte exact at v0 and v1", "[wire_admin]") {
    using namespace incremental_alter_configs;
    request req;
    req.resources = {
        {resource_type::topic, "t", {{"k", config_operation::set, sv("v")}, {"j", config_operation::remove, {}}}}};
    response resp;
    resp.throttle_time_ms = 8;
    resp.responses = {{error_code::none, std::nullopt, resource_type::topic, "t"}};
    for_each_version<incremental_alter_configs_api>([&](std::int16_t v) {
        req.validate_only = true;
        const auto d = round_trip(req, v);
        REQUIRE(d.msg.resources.at(0).configs.size() == 2);
        CHECK(d.msg.resources[0].configs[1].config_operation == config_operation::remove);
        CHECK_FALSE(d.msg.resources[0].configs[1].value);
        CHECK(d.msg.validate_only);
        const auto r = round_trip(resp, v);
        CHECK(r.msg.throttle_time_ms == 8);
        CHECK(r.msg.responses.at(0).resource_name == "t");
    });

    req.validate_only = false;
    const auto d0 = check_layout(req, 0, "00000001 02 0001 74 00000002 0001 6b 00 0001 76 0001 6a 01 ffff 00");
    CHECK(d0.msg.resources[0].configs[0].config_operation == config_operation::set);
    CHECK(d0.msg.resources[0].configs[0].value == sv("v"));
    const std::string req1 = "02 02 02 74 03 02 6b 00 02 76 00 02 6a 01 00 00 00 00 00";
    check_layout(req, 1, req1);
    resp.throttle_time_ms = 0;
    check_layout(resp, 0, "00000000 00000001 0000 ffff 02 0001 74");
    check_layout(resp, 1, "00000000 02 0000 00 02 02 74 00 00");
    check_truncated<request>(req1, 1);
}

// ---------------------------------------------------------------------------------------------
// DescribeCluster

TEST_CASE("DescribeCluster round-trips at every version and is byte exact at v0 and v1", "[wire_admin]") {
    using namespace describe_cluster;
    response resp;
    resp.throttle_time_ms = 1;
    resp.error_code = error_code::mismatched_endpoint_type;
    resp.error_message = "wrong endpoint";
    resp.endpoint_type = endpoint_type::controllers;
    resp.cluster_id = "cluster";
    resp.controller_id = node_id{1};
    resp.brokers = {{node_id{1}, "h1", 9092, sv("r1")}, {node_id{2}, "h2", 9093, std::nullopt}};
    resp.cluster_authorized_operations = 0x1f8;
    for_each_version<describe_cluster_api>([&](std::int16_t v) {
        const auto d = round_trip(request{true, endpoint_type::controllers}, v);
        CHECK(d.msg.include_cluster_authorized_operations);
        CHECK(d.msg.endpoint_type == (v >= 1 ? endpoint_type::controllers : endpoint_type::brokers));
        const auto r = round_trip(resp, v);
        CHECK(r.msg.throttle_time_ms == 1);
        CHECK(r.msg.error_message == sv("wrong endpoint"));
        CHECK(r.msg.endpoint_type == (v >= 1 ? endpoint_type::controllers : endpoint_type::brokers));
        CHECK(r.msg.cluster_id == "cluster");
        CHECK(r.msg.controller_id == node_id{1});
        REQUIRE(r.msg.brokers.size() == 2);
        CHECK(r.msg.brokers[0].rack == sv("r1"));
        CHECK_FALSE(r.msg.brokers[1].rack);
        CHECK(r.msg.brokers[1].port == 9093);
        CHECK(r.msg.cluster_authorized_operations == 0x1f8);
    });

    check_layout(request{true, endpoint_type::controllers}, 0, "01 00");
    const auto q1 = check_layout(request{true, endpoint_type::controllers}, 1, "01 02 00");
    CHECK(q1.msg.endpoint_type == endpoint_type::controllers);

    response ok;
    ok.cluster_id = "c";
    ok.controller_id = node_id{1};
    ok.brokers = {{node_id{1}, "h", 9092, std::nullopt}};
    const std::string v0 = "00000000 0000 00 02 63 00000001 02 00000001 02 68 00002384 00 00 80000000 00";
    const auto r0 = check_layout(ok, 0, v0);
    CHECK(r0.msg.brokers[0].host == "h");
    CHECK(r0.msg.cluster_authorized_operations == authorized_operations_unknown);
    ok.error_code = error_code::mismatched_endpoint_type;
    ok.error_message = "x";
    ok.endpoint_type = endpoint_type::controllers;
    ok.brokers.clear();
    const auto r1 = check_layout(ok, 1, "00000000 0072 02 78 02 02 63 00000001 01 80000000 00");
    CHECK(r1.msg.error_code == error_code::mismatched_endpoint_type);
    CHECK(r1.msg.endpoint_type == endpoint_type::controllers);
    check_truncated<response>(v0, 0);
}

// ---------------------------------------------------------------------------------------------
// Unknown tagged fields in the flexible versions.

TEST_CASE("admin messages skip unknown tagged fields beside known ones", "[wire_admin]") {
    // (Top-level unknown tags at every flexible version: messages_versions_test.cpp.)
    // A CreateTopics v5 topic result with an unknown tag beside tag 0.
    const auto in = from_hex("00000000 02 02 74 0000 00 00000003 0001 00"
                             "02 00 02 0028 05 01 ff"
                             "00");
    byte_reader r(bytes_view{in});
    const auto d = create_topics::response::decode(r, 5);
    REQUIRE(d);
    CHECK(r.at_end());
    CHECK(d->topics[0].topic_config_error_code == error_code::invalid_config);
}

TEST_CASE("admin messages refuse versions Kafka 3.9 does not serve", "[wire_admin]") {
    const auto any = from_hex("00000000 00000000 00000000");
    const auto refuses = [&](auto tag, std::int16_t version) {
        using M = typename decltype(tag)::type;
        byte_reader r(bytes_view{any});
        return !M::decode(r, version).has_value();
    };
    CHECK(refuses(std::type_identity<create_topics::request>{}, 8));
    CHECK(refuses(std::type_identity<delete_topics::response>{}, 7));
    CHECK(refuses(std::type_identity<delete_records::request>{}, 3));
    CHECK(refuses(std::type_identity<describe_configs::response>{}, 5));
    CHECK(refuses(std::type_identity<alter_configs::request>{}, 3));
    CHECK(refuses(std::type_identity<create_partitions::response>{}, 4));
    CHECK(refuses(std::type_identity<incremental_alter_configs::request>{}, 2));
    CHECK(refuses(std::type_identity<describe_cluster::request>{}, 2));
    CHECK(refuses(std::type_identity<describe_cluster::request>{}, -1));
    byte_buffer b;
    byte_writer w(b);
    CHECK_THROWS_AS(create_topics::request{}.encode(w, 8), std::invalid_argument);
}
