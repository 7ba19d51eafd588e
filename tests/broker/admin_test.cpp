// The broker's admin operations (admin.hpp, docs/protocol.md §17) on a real broker over real data
// dirs: CreateTopics' checks and messages, DescribeConfigs' sources and synonyms, AlterConfigs and
// IncrementalAlterConfigs persisted and applied to live partitions (retention, segment size,
// message size), CreatePartitions, DeleteRecords (durable log start offset) and DeleteTopics
// (directories gone, the name reusable at once, in-flight callers safe).
#include "broker_test_util.hpp"

#include <gregor/broker/admin.hpp>
#include <gregor/storage/checkpoint.hpp>
#include <gregor/testing/manual_clock.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace gregor;
using namespace std::chrono_literals;
using gregor::test::make_batch;

namespace {

using file_broker = broker<broker_policies<storage::file_backend>>;
using memory_broker = broker<broker_policies<storage::memory_backend>>;
struct clocked_policies : broker_policies<storage::file_backend, flush::never, durability::page_cache,
                                          testing::manual_clock_ref> {};
using clocked_broker = broker<clocked_policies>;

broker_config config_in(const test::temp_dir& d) {
    broker_config c;
    c.data_dir = d.path;
    c.log_flush_scheduler_interval_ms = 50;
    c.log_retention_check_interval_ms = 3600000; // retention only when the test calls tick()
    return c;
}

std::size_t segment_files(const std::filesystem::path& dir) {
    std::size_t n = 0;
    for (const auto& de : std::filesystem::directory_iterator(dir))
        if (de.path().extension() == ".log") ++n;
    return n;
}

std::vector<std::string> dir_names(const std::filesystem::path& dir) {
    std::vector<std::string> out;
    for (const auto& de : std::filesystem::directory_iterator(dir))
        if (de.is_directory()) out.push_back(de.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}

std::string slurp(const std::filesystem::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

const config_entry* entry(const std::vector<config_entry>& v, const std::string& name) {
    for (const auto& e : v)
        if (e.name == name) return &e;
    return nullptr;
}

template <typename Broker>
admin_result alter(Broker& b, const std::string& topic, std::vector<config_change> changes, bool validate_only = false) {
    return b.alter_topic_configs(topic, std::span<const config_change>(changes), validate_only);
}

create_topic_request with_partitions(std::int32_t n, std::map<std::string, std::string> configs = {}) {
    create_topic_request r;
    r.partitions = n;
    r.configs = std::move(configs);
    return r;
}

} // namespace

TEST_CASE("create_topic checks names, numbers, assignments and configs as CreateTopics does", "[admin]") {
    test::temp_dir dir;
    auto cfg = config_in(dir);
    cfg.num_partitions = 2;
    file_broker b{cfg};

    auto r = b.create_topic("orders", with_partitions(3, {{"retention.ms", "3600000"}, {"cleanup.policy", "delete"}}));
    CHECK(r.error == error_code::none);
    CHECK(r.message.empty());
    CHECK(static_cast<bool>(r));
    REQUIRE(b.topic_metadata("orders"));
    CHECK(b.topic_metadata("orders")->partitions.size() == 3);
    CHECK(b.topic_metadata("orders")->configs.at("retention.ms") == "3600000");
    CHECK(b.topic_config("orders")->log.retention_ms == 3600000);
    CHECK(std::filesystem::is_directory(dir.path / "orders-2"));

    // validate_only: every check, nothing created.
    auto v = with_partitions(4);
    v.validate_only = true;
    CHECK(b.create_topic("checked", v).error == error_code::none);
    CHECK_FALSE(b.topic_metadata("checked"));
    CHECK_FALSE(std::filesystem::exists(dir.path / "checked-0"));
    auto v_bad = with_partitions(4, {{"retention.ms", "soon"}});
    v_bad.validate_only = true;
    CHECK(b.create_topic("checked", v_bad).error == error_code::invalid_config);

    // Names.
    r = b.create_topic("", with_partitions(1));
    CHECK(r.error == error_code::invalid_topic_exception);
    CHECK(r.message == "Topic name is illegal, it can't be empty");
    r = b.create_topic("..", with_partitions(1));
    CHECK(r.error == error_code::invalid_topic_exception);
    CHECK(r.message == "Topic name cannot be \".\" or \"..\"");
    r = b.create_topic(std::string(250, 'x'), with_partitions(1));
    CHECK(r.error == error_code::invalid_topic_exception);
    CHECK(r.message.find("can't be longer than 249 characters") != std::string::npos);
    r = b.create_topic("a b", with_partitions(1));
    CHECK(r.error == error_code::invalid_topic_exception);
    CHECK(r.message == "Topic name \"a b\" is illegal, it contains a character other than ASCII alphanumerics, '.', "
                       "'_' and '-'");
    r = b.create_topic("orders", with_partitions(1));
    CHECK(r.error == error_code::topic_already_exists);
    CHECK(r.message == "Topic 'orders' already exists.");
    REQUIRE(b.create_topic("metrics.cpu", with_partitions(1)));
    r = b.create_topic("metrics_cpu", with_partitions(1));
    CHECK(r.error == error_code::invalid_topic_exception);
    CHECK(r.message == "Topic 'metrics_cpu' collides with existing topic: metrics.cpu");
    // Auto-creation (Metadata) applies the same rule.
    CHECK(b.describe_topic("metrics_cpu", true).error == error_code::invalid_topic_exception);
    CHECK_FALSE(b.topic_metadata("metrics_cpu"));

    // Partition counts and replication factors.
    CHECK(b.create_topic("n", with_partitions(0)).error == error_code::invalid_partitions);
    CHECK(b.create_topic("n", with_partitions(-2)).error == error_code::invalid_partitions);
    CHECK(b.create_topic("n", with_partitions(100001)).error == error_code::invalid_partitions);
    auto rf = with_partitions(1);
    rf.replication_factor = 0;
    CHECK(b.create_topic("n", rf).error == error_code::invalid_replication_factor);
    rf.replication_factor = -2;
    CHECK(b.create_topic("n", rf).error == error_code::invalid_replication_factor);
    rf.replication_factor = 3;
    r = b.create_topic("n", rf);
    CHECK(r.error == error_code::invalid_replication_factor);
    CHECK(r.message == "Unable to replicate the partition 3 time(s): The target replication factor of 3 cannot be "
                       "reached because only 1 broker(s) are registered.");
    rf.replication_factor = 1;
    CHECK(b.create_topic("n", rf).error == error_code::none);
    // -1 takes num.partitions and default.replication.factor.
    CHECK(b.create_topic("defaults", create_topic_request{}).error == error_code::none);
    CHECK(b.describe_topic("defaults", false).partition_count == 2);

    // Manual assignments (this broker is node 0).
    create_topic_request a;
    a.assignment = {{0}, {0}, {0}};
    CHECK(b.create_topic("assigned", a).error == error_code::none);
    CHECK(b.describe_topic("assigned", false).partition_count == 3);
    a.partitions = 3;
    CHECK(b.create_topic("assigned2", a).error == error_code::invalid_request);
    a.partitions = -1;
    a.replication_factor = 1;
    CHECK(b.create_topic("assigned2", a).error == error_code::invalid_request);
    a.replication_factor = -1;
    a.assignment = {{0}, {}};
    CHECK(b.create_topic("assigned2", a).error == error_code::invalid_replica_assignment);
    a.assignment = {{0, 0}};
    r = b.create_topic("assigned2", a);
    CHECK(r.error == error_code::invalid_replica_assignment);
    CHECK(r.message == "The manual partition assignment includes the broker 0 more than once.");
    a.assignment = {{7}};
    r = b.create_topic("assigned2", a);
    CHECK(r.error == error_code::invalid_replica_assignment);
    CHECK(r.message == "The manual partition assignment includes broker 7, but no such broker is registered.");

    // Configs: the message names the key.
    r = b.create_topic("c", with_partitions(1, {{"retention.mss", "1"}}));
    CHECK(r.error == error_code::invalid_config);
    CHECK(r.message.find("retention.mss") != std::string::npos);
    r = b.create_topic("c", with_partitions(1, {{"segment.bytes", "1"}}));
    CHECK(r.error == error_code::invalid_config);
    CHECK(r.message.find("segment.bytes") != std::string::npos);
    r = b.create_topic("c", with_partitions(1, {{"log.retention.ms", "1"}})); // a broker key, not a topic key
    CHECK(r.error == error_code::invalid_config);

    // Nothing of the refused requests exists.
    for (const auto* t : {"c", "assigned2", "metrics_cpu", "checked"}) {
        CAPTURE(t);
        CHECK_FALSE(b.topic_metadata(t));
    }
    CHECK(b.topic_metadata("n")->partitions.size() == 1); // the one with replication factor 1

    // The positional form still works (and keeps its checks).
    CHECK(b.create_topic("plain", 2) == error_code::none);
    CHECK(b.create_topic("plain", 2) == error_code::topic_already_exists);
    CHECK(b.create_topic("plain2", 0) == error_code::invalid_partitions);
    CHECK(b.create_topic("plain2", -1) == error_code::invalid_partitions);
}

TEST_CASE("a default replication factor above one broker refuses CreateTopics' -1", "[admin]") {
    test::temp_dir dir;
    auto cfg = config_in(dir);
    cfg.default_replication_factor = 3;
    file_broker b{cfg};
    CHECK(b.create_topic("t", create_topic_request{}).error == error_code::invalid_replication_factor);
    CHECK(b.create_topic("t", 1) == error_code::none); // the embedded form asks for one replica
}

TEST_CASE("describe_topic_configs reports values, sources, types, documentation and synonyms", "[admin]") {
    test::temp_dir dir;
    auto cfg = config_in(dir);
    cfg.log.segment_bytes = 2000000; // a broker-set value (static_broker)
    file_broker b{cfg};
    REQUIRE(b.create_topic("t", with_partitions(1, {{"retention.ms", "5000"}})));

    const auto all = b.describe_topic_configs("t");
    REQUIRE(all);
    // Every topic-level key of the tables, each once, sorted by name.
    std::set<std::string> topic_keys;
    for (const auto& k : broker_keys)
        if (!k.topic_name.empty()) topic_keys.insert(std::string(k.topic_name));
    for (const auto& k : storage::log_keys)
        if (!k.topic_name.empty()) topic_keys.insert(std::string(k.topic_name));
    std::vector<std::string> names;
    for (const auto& e : *all) names.push_back(e.name);
    CHECK(names == std::vector<std::string>(topic_keys.begin(), topic_keys.end()));

    const auto* ret = entry(*all, "retention.ms");
    REQUIRE(ret);
    CHECK(ret->value == "5000");
    CHECK(ret->source == config_source::topic_config);
    CHECK_FALSE(ret->is_default());
    CHECK_FALSE(ret->read_only);
    CHECK_FALSE(ret->sensitive);
    CHECK(ret->type == config_type::long_);
    CHECK(ret->documentation == std::string(detail::config::find_topic(storage::log_keys, "retention.ms")->doc));
    REQUIRE(ret->synonyms.size() == 2);
    CHECK(ret->synonyms[0].name == "retention.ms");
    CHECK(ret->synonyms[0].value == "5000");
    CHECK(ret->synonyms[0].source == config_source::topic_config);
    CHECK(ret->synonyms[1].name == "log.retention.ms");
    CHECK(ret->synonyms[1].value == "604800000");
    CHECK(ret->synonyms[1].source == config_source::default_config);

    const auto* seg = entry(*all, "segment.bytes");
    REQUIRE(seg);
    CHECK(seg->value == "2000000");
    CHECK(seg->source == config_source::static_broker_config);
    CHECK(seg->type == config_type::int_);
    REQUIRE(seg->synonyms.size() == 2);
    CHECK(seg->synonyms[0].name == "log.segment.bytes");
    CHECK(seg->synonyms[0].value == "2000000");
    CHECK(seg->synonyms[0].source == config_source::static_broker_config);
    CHECK(seg->synonyms[1].value == "1073741824");
    CHECK(seg->synonyms[1].source == config_source::default_config);

    const auto* cp = entry(*all, "cleanup.policy");
    REQUIRE(cp);
    CHECK(cp->value == "delete");
    CHECK(cp->is_default());
    CHECK(cp->type == config_type::list);
    const auto* mmb = entry(*all, "max.message.bytes");
    REQUIRE(mmb);
    CHECK(mmb->value == "1048588");
    CHECK(mmb->type == config_type::int_);
    REQUIRE(mmb->synonyms.size() == 1);
    CHECK(mmb->synonyms[0].name == "message.max.bytes");
    const auto* tst = entry(*all, "message.timestamp.type");
    REQUIRE(tst);
    CHECK(tst->value == "CreateTime");
    CHECK(tst->type == config_type::string);

    const std::vector<std::string> keys{"retention.ms", "no.such.key", "segment.bytes"};
    const auto some = b.describe_topic_configs("t", keys);
    REQUIRE(some);
    REQUIRE(some->size() == 2);
    CHECK((*some)[0].name == "retention.ms");
    CHECK((*some)[1].name == "segment.bytes");
    CHECK_FALSE(b.describe_topic_configs("missing"));

    // The broker's own configs: read-only, static when set, default otherwise.
    const auto broker_all = b.describe_broker_configs();
    const auto* bseg = entry(broker_all, "log.segment.bytes");
    REQUIRE(bseg);
    CHECK(bseg->value == "2000000");
    CHECK(bseg->source == config_source::static_broker_config);
    CHECK(bseg->read_only);
    const auto* np = entry(broker_all, "num.partitions");
    REQUIRE(np);
    CHECK(np->value == "1");
    CHECK(np->is_default());
    const auto* hours = entry(broker_all, "log.retention.hours");
    REQUIRE(hours);
    CHECK(hours->value == "168");
    CHECK(hours->is_default());
    CHECK(entry(broker_all, "log.dirs")->value == dir.path.string());
    CHECK(entry(broker_all, "log.dirs")->source == config_source::static_broker_config);
    const std::vector<std::string> bkeys{"num.partitions"};
    CHECK(b.describe_broker_configs(bkeys).size() == 1);
}

TEST_CASE("set and alter topic configs are validated, persisted and survive a restart", "[admin]") {
    test::temp_dir dir;
    const auto cfg = config_in(dir);
    {
        file_broker b{cfg};
        REQUIRE(b.create_topic("t", with_partitions(2, {{"retention.ms", "5000"}})));

        // AlterConfigs replaces the whole set: retention.ms goes back to the broker's value.
        CHECK(b.set_topic_configs("t", {{"segment.bytes", "100000"}}));
        CHECK(b.topic_metadata("t")->configs == std::map<std::string, std::string>{{"segment.bytes", "100000"}});
        CHECK(b.topic_config("t")->log.retention_ms == cfg.log.retention_ms);
        CHECK(b.topic_config("t")->log.segment_bytes == 100000u);
        CHECK(entry(*b.describe_topic_configs("t"), "retention.ms")->is_default());
        CHECK(entry(*b.describe_topic_configs("t"), "segment.bytes")->source == config_source::topic_config);

        auto r = b.set_topic_configs("t", {{"segment.bytes", "1"}});
        CHECK(r.error == error_code::invalid_config);
        CHECK(r.message.find("segment.bytes") != std::string::npos);
        r = b.set_topic_configs("t", {{"no.such.key", "1"}});
        CHECK(r.error == error_code::invalid_config);
        CHECK(r.message.find("no.such.key") != std::string::npos);
        CHECK(b.set_topic_configs("missing", {}).error == error_code::unknown_topic_or_partition);
        CHECK(b.set_topic_configs("t", {{"retention.ms", "1"}}, true));
        CHECK(b.topic_metadata("t")->configs == std::map<std::string, std::string>{{"segment.bytes", "100000"}});

        // IncrementalAlterConfigs: list operations on cleanup.policy, starting from the default.
        CHECK(alter(b, "t", {{"cleanup.policy", config_op::append, "compact"}}));
        CHECK(b.topic_metadata("t")->configs.at("cleanup.policy") == "delete,compact");
        CHECK(b.topic_config("t")->log.cleanup_policy == storage::cleanup_policy::compact_and_delete);
        CHECK(alter(b, "t", {{"cleanup.policy", config_op::append, "compact"}})); // already there
        CHECK(b.topic_metadata("t")->configs.at("cleanup.policy") == "delete,compact");
        CHECK(alter(b, "t", {{"cleanup.policy", config_op::subtract, "delete"}}));
        CHECK(b.topic_metadata("t")->configs.at("cleanup.policy") == "compact");
        CHECK(b.topic_config("t")->log.cleanup_policy == storage::cleanup_policy::compact);
        CHECK(entry(*b.describe_topic_configs("t"), "cleanup.policy")->value == "compact");

        // Errors change nothing.
        const auto before = b.topic_metadata("t")->configs;
        r = alter(b, "t", {{"retention.ms", config_op::append, "1"}});
        CHECK(r.error == error_code::invalid_config);
        CHECK(r.message == "Config value append is not allowed for config key: retention.ms");
        CHECK(alter(b, "t", {{"retention.ms", config_op::subtract, "1"}}).error == error_code::invalid_config);
        CHECK(alter(b, "t", {{"retention.ms", config_op::set, "1"}, {"retention.ms", config_op::remove, {}}}).error ==
              error_code::invalid_request);
        CHECK(alter(b, "t", {{"retention.ms", config_op::set, std::nullopt}}).error == error_code::invalid_request);
        CHECK(alter(b, "t", {{"retention.ms", config_op::set, "abc"}}).error == error_code::invalid_config);
        CHECK(alter(b, "t", {{"retention.mss", config_op::set, "1"}}).error == error_code::invalid_config);
        CHECK(alter(b, "t", {{"cleanup.policy", config_op::subtract, "compact"}}).error ==
              error_code::invalid_config); // an empty policy
        CHECK(alter(b, "missing", {{"retention.ms", config_op::set, "1"}}).error ==
              error_code::unknown_topic_or_partition);
        CHECK(alter(b, "t", {{"retention.ms", config_op::set, "7"}}, true)); // validate only
        CHECK(b.topic_metadata("t")->configs == before);

        CHECK(alter(b, "t", {{"retention.ms", config_op::set, "86400000"},
                             {"segment.bytes", config_op::remove, {}},
                             {"max.message.bytes", config_op::set, "500000"}}));
        CHECK(b.topic_metadata("t")->configs == std::map<std::string, std::string>{{"cleanup.policy", "compact"},
                                                                                   {"max.message.bytes", "500000"},
                                                                                   {"retention.ms", "86400000"}});
    }
    file_broker b{cfg};
    CHECK(b.topic_metadata("t")->configs == std::map<std::string, std::string>{{"cleanup.policy", "compact"},
                                                                               {"max.message.bytes", "500000"},
                                                                               {"retention.ms", "86400000"}});
    CHECK(b.topic_config("t")->log.retention_ms == 86400000);
    CHECK(b.topic_config("t")->log.segment_bytes == cfg.log.segment_bytes);
    CHECK(b.topic_config("t")->message_max_bytes == 500000);
    CHECK(b.topic_config("t")->log.cleanup_policy == storage::cleanup_policy::compact);
    const auto d = b.describe_topic_configs("t");
    CHECK(entry(*d, "retention.ms")->source == config_source::topic_config);
    CHECK(entry(*d, "segment.bytes")->is_default());
    CHECK(b.topic_metadata("t")->partitions.size() == 2);
}

TEST_CASE("a lowered retention.ms deletes old segments at the next retention pass, no restart", "[admin]") {
    test::temp_dir dir;
    testing::manual_clock clk;
    const auto cfg = config_in(dir);
    {
        clocked_broker b{cfg, {}, testing::manual_clock_ref{clk}};
        REQUIRE(b.create_topic("t", with_partitions(1, {{"segment.bytes", "500"}})));
        // Four batches an hour old, then two fresh ones: one batch per segment.
        for (int i = 0; i < 4; ++i)
            REQUIRE(b.produce("t", partition_id{0}, make_batch("old" + std::to_string(i), 20, {}, clk.wall_ms()), 1)
                        .error == error_code::none);
        clk.advance(1h);
        for (int i = 0; i < 2; ++i)
            REQUIRE(b.produce("t", partition_id{0}, make_batch("new" + std::to_string(i), 20, {}, clk.wall_ms()), 1)
                        .error == error_code::none);
        REQUIRE(segment_files(dir.path / "t-0") == 6);
        b.tick(true); // the default retention (7 days) keeps everything
        CHECK(segment_files(dir.path / "t-0") == 6);
        CHECK(b.list_offset("t", partition_id{0}, -2).found == offset{0});

        REQUIRE(alter(b, "t", {{"retention.ms", config_op::set, "600000"}})); // 10 minutes
        b.tick(true);
        CHECK(segment_files(dir.path / "t-0") == 2);
        CHECK(b.list_offset("t", partition_id{0}, -2).found == offset{80});
        CHECK(b.fetch_copy("t", partition_id{0}, offset{0}, 1 << 20).error == error_code::offset_out_of_range);
        const auto recs = test::read_partition(b, "t", 0, 80);
        REQUIRE(recs.size() == 40);
        CHECK(recs.front().first == 80);
        CHECK(recs.front().second == "new0-0");
        CHECK(recs.back().second == "new1-19");
    }
    clocked_broker b{cfg, {}, testing::manual_clock_ref{clk}};
    CHECK(b.topic_config("t")->log.retention_ms == 600000);
    CHECK(b.list_offset("t", partition_id{0}, -2).found == offset{80});
    CHECK(test::read_partition(b, "t", 0, 80).size() == 40);
}

TEST_CASE("a lowered segment.bytes rolls at the next appends, a lowered max.message.bytes refuses the next batch",
          "[admin]") {
    test::temp_dir dir;
    file_broker b{config_in(dir)};
    REQUIRE(b.create_topic("t", 1) == error_code::none);
    for (int i = 0; i < 3; ++i)
        REQUIRE(b.produce("t", partition_id{0}, make_batch("a" + std::to_string(i), 20), 1).error == error_code::none);
    CHECK(segment_files(dir.path / "t-0") == 1);
    REQUIRE(b.set_topic_configs("t", {{"segment.bytes", "100"}}));
    for (int i = 0; i < 3; ++i)
        REQUIRE(b.produce("t", partition_id{0}, make_batch("b" + std::to_string(i), 20), 1).error == error_code::none);
    CHECK(segment_files(dir.path / "t-0") == 4);
    const auto recs = test::read_partition(b, "t", 0);
    REQUIRE(recs.size() == 120);
    for (std::size_t i = 0; i < recs.size(); ++i) CHECK(recs[i].first == static_cast<std::int64_t>(i));
    CHECK(recs.back().second == "b2-19");

    REQUIRE(alter(b, "t", {{"max.message.bytes", config_op::set, "100"}}));
    CHECK(b.produce("t", partition_id{0}, make_batch("big", 20), 1).error == error_code::message_too_large);
    REQUIRE(alter(b, "t", {{"max.message.bytes", config_op::remove, {}}}));
    CHECK(b.produce("t", partition_id{0}, make_batch("big", 20), 1).error == error_code::none);
}

TEST_CASE("create_partitions grows a topic, records the assignment and survives a restart", "[admin]") {
    test::temp_dir dir;
    const auto cfg = config_in(dir);
    wire::uuid id;
    {
        file_broker b{cfg};
        REQUIRE(b.create_topic("t", 2) == error_code::none);
        id = b.topic_metadata("t")->id;
        REQUIRE(b.produce("t", partition_id{0}, make_batch("p0", 3), 1).error == error_code::none);
        auto r = b.create_partitions("t", 2);
        CHECK(r.error == error_code::invalid_partitions);
        CHECK(r.message == "Topic already has 2 partitions.");
        r = b.create_partitions("t", 1);
        CHECK(r.error == error_code::invalid_partitions);
        CHECK(r.message == "Topic currently has 2 partitions, which is higher than the requested 1.");
        CHECK(b.create_partitions("t", 100001).error == error_code::invalid_partitions);
        CHECK(b.create_partitions("missing", 3).error == error_code::unknown_topic_or_partition);
        CHECK(b.create_partitions("t", 5, true));
        CHECK(b.describe_topic("t", false).partition_count == 2);
        CHECK_FALSE(std::filesystem::exists(dir.path / "t-2"));

        REQUIRE(b.create_partitions("t", 4));
        CHECK(b.describe_topic("t", false).partition_count == 4);
        const auto meta = b.topic_metadata("t");
        REQUIRE(meta->partitions.size() == 4);
        CHECK(meta->id == id);
        CHECK(meta->partitions[3].replicas == std::vector<node_id>{node_id{0}});
        CHECK(meta->partitions[3].isr == std::vector<node_id>{node_id{0}});
        CHECK(meta->partitions[3].leader == node_id{0});
        CHECK(std::filesystem::is_directory(dir.path / "t-3"));
        const auto p3 = b.produce("t", partition_id{3}, make_batch("p3", 2), 1);
        CHECK(p3.error == error_code::none);
        CHECK(p3.base_offset == offset{0});
        CHECK(b.produce("t", partition_id{4}, make_batch("no", 1), 1).error == error_code::unknown_topic_or_partition);
    }
    file_broker b{cfg};
    CHECK(b.describe_topic("t", false).partition_count == 4);
    CHECK(b.topic_metadata("t")->id == id);
    CHECK(test::read_partition(b, "t", 0).size() == 3);
    const auto p3 = test::read_partition(b, "t", 3);
    REQUIRE(p3.size() == 2);
    CHECK(p3[1].second == "p3-1");
}

TEST_CASE("delete_records moves the log start offset durably", "[admin]") {
    test::temp_dir dir;
    const auto cfg = config_in(dir);
    {
        file_broker b{cfg};
        REQUIRE(b.create_topic("t", 1, {{"segment.bytes", "500"}}) == error_code::none);
        for (int i = 0; i < 5; ++i) // offsets 0..99, one 20-record batch per segment
            REQUIRE(b.produce("t", partition_id{0}, make_batch("r" + std::to_string(i), 20), 1).error ==
                    error_code::none);
        REQUIRE(segment_files(dir.path / "t-0") == 5);

        CHECK(b.delete_records("t", partition_id{0}, offset{-2}).error == error_code::offset_out_of_range);
        CHECK(b.delete_records("t", partition_id{0}, offset{101}).error == error_code::offset_out_of_range);
        CHECK(b.delete_records("missing", partition_id{0}, offset{1}).error == error_code::unknown_topic_or_partition);
        CHECK(b.delete_records("t", partition_id{1}, offset{1}).error == error_code::unknown_topic_or_partition);

        const auto r = b.delete_records("t", partition_id{0}, offset{30});
        CHECK(r.error == error_code::none);
        CHECK(r.low_watermark == offset{30});
        CHECK(b.list_offset("t", partition_id{0}, -2).found == offset{30});
        CHECK(b.fetch_copy("t", partition_id{0}, offset{29}, 1 << 20).error == error_code::offset_out_of_range);
        const auto f = b.fetch_copy("t", partition_id{0}, offset{30}, 1 << 20);
        CHECK(f.error == error_code::none);
        CHECK(f.log_start_offset == offset{30});
        const auto recs = test::read_partition(b, "t", 0, 30);
        REQUIRE(recs.size() == 70);
        CHECK(recs.front().first == 30);
        CHECK(recs.front().second == "r1-10");
        // The segment wholly below the new start is gone at once; the one holding 30 stays.
        CHECK(segment_files(dir.path / "t-0") == 4);
        CHECK_FALSE(std::filesystem::exists(dir.path / "t-0" / "00000000000000000000.log"));

        // Never backwards.
        CHECK(b.delete_records("t", partition_id{0}, offset{10}).low_watermark == offset{30});
        // Kafka's file, in its format.
        const auto ck = storage::decode_offset_checkpoint(slurp(dir.path / "log-start-offset-checkpoint"));
        REQUIRE(ck);
        CHECK(std::count(ck->begin(), ck->end(), storage::partition_offset{"t", 0, offset{30}}) == 1);

        // Only topics whose cleanup.policy deletes.
        REQUIRE(b.create_topic("compacted", 1, {{"cleanup.policy", "compact"}}) == error_code::none);
        REQUIRE(b.produce("compacted", partition_id{0}, make_batch("c", 3), 1).error == error_code::none);
        CHECK(b.delete_records("compacted", partition_id{0}, offset{1}).error == error_code::policy_violation);
        REQUIRE(b.create_topic("both", 1, {{"cleanup.policy", "compact,delete"}}) == error_code::none);
        REQUIRE(b.produce("both", partition_id{0}, make_batch("c", 3), 1).error == error_code::none);
        CHECK(b.delete_records("both", partition_id{0}, offset{2}).low_watermark == offset{2});
    }
    {
        file_broker b{cfg};
        CHECK(b.list_offset("t", partition_id{0}, -2).found == offset{30});
        CHECK(b.fetch_copy("t", partition_id{0}, offset{25}, 1 << 20).error == error_code::offset_out_of_range);
        CHECK(test::read_partition(b, "t", 0, 30).size() == 70);
        CHECK(b.list_offset("both", partition_id{0}, -2).found == offset{2});
        // -1: up to the high watermark; the log is then empty at 100 and appends continue there.
        const auto all = b.delete_records("t", partition_id{0}, offset{-1});
        CHECK(all.error == error_code::none);
        CHECK(all.low_watermark == offset{100});
        const auto at_end = b.fetch_copy("t", partition_id{0}, offset{100}, 1 << 20);
        CHECK(at_end.error == error_code::none);
        CHECK(at_end.records.empty());
        CHECK(b.produce("t", partition_id{0}, make_batch("after", 1), 1).base_offset == offset{100});
    }
    file_broker b{cfg};
    CHECK(b.list_offset("t", partition_id{0}, -2).found == offset{100});
    const auto recs = test::read_partition(b, "t", 0, 100);
    REQUIRE(recs.size() == 1);
    CHECK(recs[0].second == "after-0");
}

TEST_CASE("delete_topic removes the directories, frees the name and leaves in-flight callers safe", "[admin]") {
    test::temp_dir dir;
    auto cfg = config_in(dir);
    cfg.auto_create_topics_enable = false; // a produce to the old name must not bring it back
    wire::uuid old_id, new_id;
    {
        file_broker b{cfg};
        REQUIRE(b.create_topic("t", 2, {{"retention.ms", "86400000"}}) == error_code::none);
        REQUIRE(b.create_topic("other", 1) == error_code::none);
        old_id = b.topic_metadata("t")->id;
        for (int p = 0; p < 2; ++p)
            REQUIRE(b.produce("t", partition_id{p}, make_batch("old", 10), 1).error == error_code::none);
        REQUIRE(b.produce("other", partition_id{0}, make_batch("o", 2), 1).error == error_code::none);
        REQUIRE(b.delete_records("t", partition_id{0}, offset{5}).low_watermark == offset{5});

        // A raw partition pointer and a parked wait, as a fetch handler holds them.
        auto* part = b.find_partition("t", partition_id{0});
        REQUIRE(part);
        std::atomic<int> status{-1};
        auto wait = part->monitor().async_wait(offset_kind::high_watermark, offset{1'000'000'000},
                                               broker_detail::wait_clock::time_point::max(),
                                               [&](wait_status s) { status = static_cast<int>(s); });
        REQUIRE(wait);

        // Producers and fetchers keep going on the name while it is deleted.
        std::atomic<bool> stop{false};
        std::atomic<int> bad{0};
        std::vector<std::thread> users;
        for (int k = 0; k < 2; ++k) {
            users.emplace_back([&, k] {
                while (!stop) {
                    const auto pr = b.produce("t", partition_id{k}, make_batch("race", 2), 1);
                    if (pr.error != error_code::none && pr.error != error_code::not_leader_or_follower &&
                        pr.error != error_code::unknown_topic_or_partition)
                        ++bad;
                    const auto fr = b.fetch_copy("t", partition_id{k}, offset{0}, 1 << 16);
                    if (fr.error != error_code::none && fr.error != error_code::unknown_topic_or_partition &&
                        fr.error != error_code::offset_out_of_range)
                        ++bad;
                }
            });
        }
        std::this_thread::sleep_for(20ms);
        const auto r = b.delete_topic("t");
        std::this_thread::sleep_for(20ms);
        stop = true;
        for (auto& t : users) t.join();
        CHECK(r.error == error_code::none);
        CHECK(bad == 0);

        // The parked wait ended; the old pointer still answers, as closed.
        CHECK(status == static_cast<int>(wait_status::shutdown));
        CHECK_FALSE(wait->cancel());
        CHECK(part->append(make_batch("late", 1).mutable_view(), 1).error == error_code::not_leader_or_follower);
        CHECK(part->read(offset{0}, 1024, isolation::read_uncommitted).error == error_code::unknown_topic_or_partition);
        CHECK_FALSE(part->list_offset(-1, isolation::read_uncommitted));
        part->tick(true);
        (void)part->offsets();
        std::atomic<int> late_status{-1};
        auto late = part->monitor().async_wait(offset_kind::high_watermark, offset{2'000'000'000},
                                               broker_detail::wait_clock::time_point::max(),
                                               [&](wait_status s) { late_status = static_cast<int>(s); });
        REQUIRE(late);
        CHECK_FALSE(late->valid()); // ended at once
        CHECK(late_status == static_cast<int>(wait_status::shutdown));

        // Gone: table, lookups, directories (none left aside either).
        CHECK_FALSE(b.topic_metadata("t"));
        CHECK_FALSE(b.describe_topic_configs("t"));
        CHECK(b.find_partition("t", partition_id{0}) == nullptr);
        CHECK(b.fetch_copy("t", partition_id{0}, offset{0}, 1024).error == error_code::unknown_topic_or_partition);
        CHECK(b.produce("t", partition_id{0}, make_batch("x", 1), 1).error == error_code::unknown_topic_or_partition);
        CHECK(dir_names(dir.path) == std::vector<std::string>{"other-0"});
        const auto again = b.delete_topic("t");
        CHECK(again.error == error_code::unknown_topic_or_partition);
        CHECK_FALSE(again.message.empty());

        // The name is free at once: a new id, empty partitions, no inherited configs.
        REQUIRE(b.create_topic("t", 1) == error_code::none);
        new_id = b.topic_metadata("t")->id;
        CHECK(new_id != old_id);
        CHECK(b.topic_metadata("t")->configs.empty());
        CHECK(b.list_offset("t", partition_id{0}, -1).found == offset{0});
        CHECK(b.list_offset("t", partition_id{0}, -2).found == offset{0});
        CHECK(test::read_partition(b, "t", 0).empty());
        CHECK(b.produce("t", partition_id{0}, make_batch("new", 3), 1).base_offset == offset{0});
        CHECK(test::read_partition(b, "other", 0).size() == 2);
    }
    // After a restart: the new topic only, starting at 0 (the old log start offset did not stick).
    file_broker b{cfg};
    REQUIRE(b.topic_metadata("t"));
    CHECK(b.topic_metadata("t")->id == new_id);
    CHECK(b.describe_topic("t", false).partition_count == 1);
    CHECK(b.list_offset("t", partition_id{0}, -2).found == offset{0});
    const auto recs = test::read_partition(b, "t", 0);
    REQUIRE(recs.size() == 3);
    CHECK(recs[0].second == "new-0");
    CHECK(dir_names(dir.path) == std::vector<std::string>{"other-0", "t-0"});
}

TEST_CASE("a start removes partition directories a deleted topic left aside", "[admin]") {
    test::temp_dir dir;
    const auto cfg = config_in(dir);
    std::filesystem::create_directories(dir.path / "gone-0.0123456789abcdef0123456789abcdef-delete");
    {
        std::ofstream(dir.path / "gone-0.0123456789abcdef0123456789abcdef-delete" / "00000000000000000000.log")
            << "x";
    }
    file_broker b{cfg};
    CHECK_FALSE(b.topic_metadata("gone"));
    CHECK(dir_names(dir.path).empty());
}

TEST_CASE("a deleted topic's files leave a shared memory store, so the name starts empty", "[admin]") {
    broker_config cfg;
    storage::memory_backend_options opts;
    opts.store = std::make_shared<storage::memory_store>();
    memory_broker b{cfg, opts};
    REQUIRE(b.create_topic("t", 1) == error_code::none);
    REQUIRE(b.produce("t", partition_id{0}, make_batch("old", 5), 1).error == error_code::none);
    REQUIRE(b.delete_topic("t"));
    REQUIRE(b.create_topic("t", 1) == error_code::none);
    CHECK(b.list_offset("t", partition_id{0}, -1).found == offset{0});
    CHECK(test::read_partition(b, "t", 0).empty());
    CHECK(b.produce("t", partition_id{0}, make_batch("new", 1), 1).base_offset == offset{0});
}

TEST_CASE("configs altered while producers append and maintenance runs keep every record", "[admin]") {
    test::temp_dir dir;
    auto cfg = config_in(dir);
    cfg.log_flush_scheduler_interval_ms = 1; // the maintenance thread ticks all the time
    broker<broker_policies<storage::file_backend, flush::by_config>> b{cfg};
    REQUIRE(b.create_topic("t", 2) == error_code::none);
    std::atomic<bool> stop{false};
    std::atomic<int> errors{0};
    std::atomic<int> appended{0};
    std::vector<std::thread> producers;
    for (int k = 0; k < 2; ++k) {
        producers.emplace_back([&, k] {
            for (int i = 0; !stop; ++i) {
                const auto r = b.produce("t", partition_id{k}, make_batch("v" + std::to_string(i), 5), -1);
                if (r.error == error_code::none)
                    ++appended;
                else
                    ++errors;
            }
        });
    }
    const std::vector<std::string> sizes{"300", "100000", "1000"};
    for (int i = 0; i < 60; ++i) {
        REQUIRE(alter(b, "t", {{"segment.bytes", config_op::set, sizes[static_cast<std::size_t>(i) % 3]},
                               {"flush.messages", config_op::set, std::to_string(1 + i % 7)},
                               {"retention.ms", config_op::set, std::to_string(86400000 + i)}}));
        b.tick(i % 5 == 0);
        std::this_thread::sleep_for(1ms);
    }
    stop = true;
    for (auto& t : producers) t.join();
    CHECK(errors == 0);
    std::size_t total = 0;
    for (int p = 0; p < 2; ++p) {
        const auto recs = test::read_partition(b, "t", p);
        for (std::size_t i = 0; i < recs.size(); ++i) REQUIRE(recs[i].first == static_cast<std::int64_t>(i));
        total += recs.size();
    }
    CHECK(total == static_cast<std::size_t>(appended.load()) * 5);
    CHECK(b.topic_config("t")->log.segment_bytes == 1000u); // the last one set (i = 59)
}
