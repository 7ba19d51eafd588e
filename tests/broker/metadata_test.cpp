// Cluster metadata with a home: the topic table (ids, per-topic configs, assignment, leader
// epochs), leader-epoch checkpoints, offset checkpoints, producer-id blocks and transactional ids
// survive restarts, are written through the storage backend, and a power loss at any of those
// writes leaves a broker that starts and has lost nothing it acknowledged.
#include "broker_test_util.hpp"

#include <gregor/broker/topic_table.hpp>
#include <gregor/storage/backends/file.hpp>
#include <gregor/storage/checkpoint.hpp>
#include <gregor/testing/crashy_storage.hpp>

#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

using namespace gregor;
using namespace std::chrono_literals;

namespace {

using file_broker = broker<broker_policies<storage::file_backend>>;

struct crashy_policies : default_broker_policies {
    using storage_backend = testing::crashy_storage<storage::file_backend>;
    using durability = gregor::durability::fsync_before_ack;
};
using crashy_broker = broker<crashy_policies>;

broker_config config_in(const test::temp_dir& d) {
    broker_config c;
    c.data_dir = d.path;
    c.log_flush_scheduler_interval_ms = 3600000; // ticks only when the test calls tick()
    // One __transaction_state partition: the power-loss sweep crashes at every file write, and
    // fifty partition directories made the sweep fifty times longer without covering more.
    c.transaction_state_log_num_partitions = 1;
    return c;
}

std::string slurp(const std::filesystem::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

} // namespace

TEST_CASE("topic ids print as Kafka prints them and the table round-trips", "[metadata]") {
    CHECK(uuid_to_string(wire::uuid{}) == "AAAAAAAAAAAAAAAAAAAAAA");
    wire::uuid one;
    one.bytes[15] = std::byte{1};
    CHECK(uuid_to_string(one) == "AAAAAAAAAAAAAAAAAAAAAQ");
    for (int i = 0; i < 50; ++i) {
        const auto id = random_topic_id();
        CHECK(id != wire::uuid{});
        CHECK(id != one);
        CHECK(uuid_from_string(uuid_to_string(id)) == id);
    }
    CHECK_FALSE(uuid_from_string("short"));
    CHECK_FALSE(uuid_from_string("AAAAAAAAAAAAAAAAAAAA*A"));

    std::vector<topic_record> table;
    table.push_back({"orders",
                     random_topic_id(),
                     {{"retention.ms", "3600000"}, {"cleanup.policy", "compact,delete"}},
                     {{{node_id{0}, node_id{1}}, node_id{0}, leader_epoch{3}, {node_id{0}}},
                      {{node_id{1}}, node_id{1}, leader_epoch{0}, {}}}});
    table.push_back({"with space? no: dots.and-dashes_", random_topic_id(), {}, {}});
    const auto text = encode_topic_table(table);
    const auto back = decode_topic_table(text);
    REQUIRE(back);
    CHECK(*back == table);
    // Any damage to the body is refused, never guessed at (the checksum line is hex, where a
    // changed letter case is no change).
    const auto body_size = text.rfind("crc32c ");
    for (std::size_t i = 0; i < body_size; i += 7) {
        auto bad = text;
        bad[i] = static_cast<char>(bad[i] ^ 0x20);
        CHECK_FALSE(decode_topic_table(bad));
    }
    CHECK_FALSE(decode_topic_table(text.substr(0, text.size() - 3)));
}

TEST_CASE("a restart restores topic ids, per-topic configs and leader-epoch checkpoints", "[metadata]") {
    test::temp_dir dir;
    wire::uuid id_a, id_b;
    {
        file_broker b{config_in(dir)};
        REQUIRE(
            b.create_topic("a", 2,
                           {{"retention.ms", "3600000"}, {"segment.bytes", "1048576"}, {"min.insync.replicas", "1"}}) ==
            error_code::none);
        REQUIRE(b.create_topic("b", 1) == error_code::none);
        CHECK(b.create_topic("bad", 1, {{"no.such.key", "1"}}) == error_code::invalid_config);
        CHECK(b.create_topic("bad", 1, {{"retention.ms", "soon"}}) == error_code::invalid_config);
        CHECK(b.create_topic("bad", 1, {{"segment.bytes", "1"}}) == error_code::invalid_config);
        CHECK_FALSE(b.topic_metadata("bad"));
        id_a = b.topic_metadata("a")->id;
        id_b = b.topic_metadata("b")->id;
        CHECK(id_a != id_b);
        CHECK(b.topic_config("a")->log.retention_ms == 3600000);
        CHECK(b.topic_config("a")->log.segment_bytes == 1048576);
        CHECK(b.topic_config("b")->log.retention_ms == b.config().log.retention_ms);
        REQUIRE(b.produce("a", partition_id{0}, test::make_batch("x", 3), 1).error == error_code::none);
        REQUIRE(b.produce("a", partition_id{0}, test::make_batch("y", 2), 1).error == error_code::none);
        const auto entries = b.find_partition("a", partition_id{0})->epoch_entries();
        REQUIRE(entries.size() == 1);
        CHECK(entries[0] == storage::epoch_entry{leader_epoch{0}, offset{0}});
        CHECK(b.find_partition("a", partition_id{1})->epoch_entries().empty());
    }
    // The files are Kafka's text formats (leader-epoch-checkpoint) and gregor's sealed table.
    CHECK(slurp(dir.path / "a-0" / "leader-epoch-checkpoint") == "0\n1\n0 0\n");
    CHECK(slurp(dir.path / "topic-table").find(uuid_to_string(id_a)) != std::string::npos);
    const auto hw = storage::decode_offset_checkpoint(slurp(dir.path / "replication-offset-checkpoint"));
    REQUIRE(hw);
    CHECK(std::count(hw->begin(), hw->end(), storage::partition_offset{"a", 0, offset{5}}) == 1);
    {
        file_broker b{config_in(dir)};
        const auto a = b.topic_metadata("a");
        REQUIRE(a);
        CHECK(a->id == id_a);
        CHECK(a->partitions.size() == 2);
        CHECK(a->configs == std::map<std::string, std::string>{{"min.insync.replicas", "1"},
                                                               {"retention.ms", "3600000"},
                                                               {"segment.bytes", "1048576"}});
        CHECK(a->partitions[0].replicas == std::vector<node_id>{node_id{0}});
        CHECK(a->partitions[0].isr == std::vector<node_id>{node_id{0}});
        CHECK(a->partitions[0].leader == node_id{0});
        CHECK(b.topic_metadata("b")->id == id_b);
        CHECK(b.topic_config("a")->log.retention_ms == 3600000);
        auto* p0 = b.find_partition("a", partition_id{0});
        REQUIRE(p0);
        CHECK(p0->epoch_entries() == std::vector<storage::epoch_entry>{{leader_epoch{0}, offset{0}}});
        CHECK(p0->end_offset_for(leader_epoch{0}) == std::pair{leader_epoch{0}, offset{5}});
        const auto all = test::read_partition(b, "a", 0);
        REQUIRE(all.size() == 5);
        CHECK(all[4].second == "y-1");
    }
}

TEST_CASE("a data dir from before the topic table gets one, and a damaged table stops the start", "[metadata]") {
    test::temp_dir dir;
    {
        file_broker b{config_in(dir)};
        REQUIRE(b.create_topic("legacy-topic", 3) == error_code::none);
        REQUIRE(b.produce("legacy-topic", partition_id{2}, test::make_batch("l", 2), 1).error == error_code::none);
    }
    std::filesystem::remove(dir.path / "topic-table");
    wire::uuid id;
    {
        file_broker b{config_in(dir)};
        const auto t = b.topic_metadata("legacy-topic");
        REQUIRE(t);
        CHECK(t->partitions.size() == 3);
        CHECK(t->id != wire::uuid{});
        id = t->id;
        CHECK(test::read_partition(b, "legacy-topic", 2).size() == 2);
    }
    {
        file_broker b{config_in(dir)}; // the rebuilt table was written: the same id again
        CHECK(b.topic_metadata("legacy-topic")->id == id);
    }
    {
        std::ofstream f(dir.path / "topic-table", std::ios::binary | std::ios::app);
        f << "garbage\n";
    }
    CHECK_THROWS_AS(file_broker{config_in(dir)}, std::system_error);
}

TEST_CASE("producer ids and transactional ids survive restarts", "[metadata]") {
    test::temp_dir dir;
    producer_id first{-1}, txn{-1};
    {
        file_broker b{config_in(dir)};
        const auto r = b.init_producer_id();
        REQUIRE(r.error == error_code::none);
        first = r.id;
        const auto t = b.init_producer_id("tx-1", 60000);
        REQUIRE(t.error == error_code::none);
        CHECK(t.epoch == producer_epoch{0});
        txn = t.id;
        CHECK(b.init_producer_id("tx-1", 60000).epoch == producer_epoch{1});
    }
    {
        file_broker b{config_in(dir)};
        const auto r = b.init_producer_id();
        REQUIRE(r.error == error_code::none);
        CHECK(r.id.value() > first.value());
        CHECK(r.id != txn);
        const auto t = b.init_producer_id("tx-1", 60000);
        CHECK(t.id == txn);
        CHECK(t.epoch == producer_epoch{2}); // the restart did not reset the fence
    }
}

TEST_CASE("a failed metadata write is an error the caller sees", "[metadata]") {
    test::temp_dir dir;
    auto ctl = std::make_shared<testing::crash_controller>(5);
    crashy_broker b{config_in(dir), {.controller = ctl}};
    ctl->fail_io(true);
    CHECK(b.create_topic("t", 1) == error_code::kafka_storage_error);
    CHECK_FALSE(b.topic_metadata("t"));
    CHECK(b.init_producer_id().error == error_code::coordinator_not_available);
    CHECK(b.init_producer_id("tx", 60000).error == error_code::coordinator_not_available);
    ctl->fail_io(false);
    CHECK(b.create_topic("t", 1) == error_code::none);
    CHECK(b.init_producer_id().error == error_code::none);
}

namespace {

// What one run of the scenario was told had succeeded.
struct acknowledged {
    std::map<std::string, std::set<std::string>> records; // topic -> values acknowledged
    std::map<std::string, wire::uuid> ids;
    std::int64_t max_pid = -1;
    std::map<std::string, std::int16_t> txn_epoch;
};

// Topic creation with configs, acknowledged (fsync-before-ack) produces, idempotent producer
// snapshots, transactional ids, checkpoints and a clean close: every kind of durable file write.
void scenario(crashy_broker& b, acknowledged& ack) {
    const auto produce = [&](const std::string& t, int p, const std::string& v, wire::producer_stamp st = {}) {
        auto batch = test::make_batch(v, 1, st);
        if (b.produce(t, partition_id{p}, std::move(batch), -1).error == error_code::none)
            ack.records[t].insert(v + "-0");
    };
    if (b.create_topic("orders", 2, {{"retention.ms", "86400000"}}) == error_code::none)
        ack.ids["orders"] = b.topic_metadata("orders")->id;
    produce("orders", 0, "a");
    const auto pid = b.init_producer_id();
    if (pid.error == error_code::none) ack.max_pid = std::max(ack.max_pid, pid.id.value());
    if (pid.error == error_code::none) produce("orders", 1, "idem", test::idem(pid.id.value(), 0, 0));
    const auto tx = b.init_producer_id("tx", 60000);
    if (tx.error == error_code::none) {
        ack.max_pid = std::max(ack.max_pid, tx.id.value());
        ack.txn_epoch["tx"] = tx.epoch.value();
    }
    b.tick(); // snapshots, offset checkpoints
    if (b.create_topic("events", 1) == error_code::none) ack.ids["events"] = b.topic_metadata("events")->id;
    produce("events", 0, "e");
    produce("orders", 0, "b");
    b.tick();
    b.close();
}

} // namespace

TEST_CASE("power loss at every durable file write leaves a broker that starts and lost nothing acknowledged",
          "[metadata][crash]") {
    // How many write_file calls one clean run makes.
    std::size_t writes = 0;
    {
        test::temp_dir dir;
        auto ctl = std::make_shared<testing::crash_controller>(1);
        acknowledged ack;
        {
            crashy_broker b{config_in(dir), {.controller = ctl}};
            scenario(b, ack);
        }
        writes = ctl->file_writes();
        CHECK(ack.records["orders"].size() == 3);
        CHECK(ack.records["events"].size() == 1);
    }
    REQUIRE(writes >= 8); // table x2, pid block, txn ids, epochs, snapshots, checkpoints
    for (std::size_t n = 1; n <= writes; ++n) {
        CAPTURE(n);
        test::temp_dir dir;
        auto ctl = std::make_shared<testing::crash_controller>(n);
        acknowledged ack;
        ctl->power_loss_at_file_write(n);
        {
            crashy_broker b{config_in(dir), {.controller = ctl}};
            scenario(b, ack);
        }
        REQUIRE(ctl->crashes() == 1);
        // Power is back: the broker must start, with everything it acknowledged.
        crashy_broker again{config_in(dir), {.controller = ctl}};
        for (const auto& [topic, values] : ack.records) {
            const auto meta = again.topic_metadata(topic);
            REQUIRE(meta);
            std::set<std::string> found;
            for (std::size_t p = 0; p < meta->partitions.size(); ++p)
                for (const auto& [o, v] : test::read_partition(again, topic, static_cast<int>(p))) found.insert(v);
            for (const auto& v : values) CHECK(found.count(v) == 1);
        }
        for (const auto& [topic, id] : ack.ids) {
            REQUIRE(again.topic_metadata(topic));
            CHECK(again.topic_metadata(topic)->id == id);
        }
        // Ids are never handed out twice, and a transactional id's fence never goes back.
        const auto pid = again.init_producer_id();
        REQUIRE(pid.error == error_code::none);
        CHECK(pid.id.value() > ack.max_pid);
        if (ack.txn_epoch.count("tx")) {
            const auto tx = again.init_producer_id("tx", 60000);
            REQUIRE(tx.error == error_code::none);
            CHECK(tx.epoch.value() > ack.txn_epoch["tx"]);
        }
    }
}
