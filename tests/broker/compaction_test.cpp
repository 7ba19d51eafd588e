// Compaction on a running broker: a topic created with cleanup.policy=compact keeps each key's
// newest value through a cleaning pass and a restart, with every offset where it was; records
// without a key are refused with INVALID_RECORD; __consumer_offsets shrinks to the last commit per
// key and the group's offsets survive; the cleaner thread cleans on its own.
#include "broker_test_util.hpp"

#include <gregor/broker/broker.hpp>
#include <gregor/broker/group_coordinator.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <future>
#include <map>
#include <string>
#include <thread>
#include <vector>

using namespace gregor;
using namespace std::chrono_literals;

namespace {

using file_broker = broker<broker_policies<storage::file_backend>>;

broker_config cleaner_config(const std::filesystem::path& dir) {
    broker_config c;
    c.data_dir = dir;
    c.log_cleaner_enable = false; // the tests run the passes themselves
    c.offsets_topic_num_partitions = 1;
    c.offsets_topic_segment_bytes = 2048;
    c.group_initial_rebalance_delay_ms = 0;
    return c;
}

/// (key, value) records, timestamped now.
byte_buffer keyed(const std::vector<std::pair<std::optional<std::string>, std::string>>& kv) {
    wire::batch_builder b(1024);
    const auto now = system_clock{}.wall_ms();
    for (const auto& [k, v] : kv) {
        std::optional<bytes_view> key;
        if (k) key = as_bytes(*k);
        b.append(now, key, as_bytes(v));
    }
    return b.seal();
}

/// offset -> (key, value) of every record in the partition.
template <typename Broker>
std::map<std::int64_t, std::pair<std::string, std::string>> contents(Broker& b, const std::string& topic) {
    std::map<std::int64_t, std::pair<std::string, std::string>> out;
    offset pos{0};
    for (int guard = 0; guard < 10000; ++guard) {
        auto r = b.fetch_copy(topic, partition_id{0}, pos, 1 << 16);
        REQUIRE(r.error == error_code::none);
        if (r.records.empty()) break;
        wire::batch_splitter sp(r.records.view());
        std::int64_t last = pos.value() - 1;
        while (auto bv = sp.next()) {
            const auto h = *wire::batch_header::parse(*bv);
            last = std::max(last, h.last_offset().value());
            for (const auto& rec : wire::batch_view(*bv))
                if (rec.record_offset >= pos)
                    out[rec.record_offset.value()] = {std::string(as_string_view(*rec.key)),
                                                      std::string(as_string_view(*rec.value))};
        }
        pos = offset{last + 1};
    }
    return out;
}

} // namespace

TEST_CASE("a compacted topic keeps each key's newest value at its offset, through a restart", "[compaction]") {
    test::temp_dir dir;
    std::map<std::int64_t, std::pair<std::string, std::string>> all, after;
    std::int64_t end = 0;
    {
        file_broker b{cleaner_config(dir.path)};
        REQUIRE(b.create_topic("c", 1, {{"cleanup.policy", "compact"}, {"segment.bytes", "1024"}}) == error_code::none);
        for (int i = 0; i < 60; ++i) {
            std::vector<std::pair<std::optional<std::string>, std::string>> kv;
            for (int j = 0; j < 5; ++j) {
                const int o = i * 5 + j;
                kv.emplace_back("key-" + std::to_string(o % 11), "value-" + std::to_string(o));
                all[o] = {*kv.back().first, kv.back().second};
            }
            const auto r = b.produce("c", partition_id{0}, keyed(kv), -1);
            REQUIRE(r.error == error_code::none);
            REQUIRE(r.base_offset == offset{i * 5});
        }
        // A record without a key cannot be compacted: refused, nothing written.
        const auto bad = b.produce("c", partition_id{0}, keyed({{"k", "v"}, {std::nullopt, "no key"}}), -1);
        CHECK(bad.error == error_code::invalid_record);
        REQUIRE(contents(b, "c") == all);
        std::error_code ec;
        CHECK(b.compact_now(false, ec) == 1);
        CHECK_FALSE(ec);
        after = contents(b, "c");
        CHECK(after.size() < all.size());
        // Every record left is the one written at that offset; each key's newest is there.
        std::map<std::string, std::int64_t> newest;
        for (const auto& [o, kv] : all) newest[kv.first] = o;
        for (const auto& [o, kv] : after) CHECK(all.at(o) == kv);
        for (const auto& [k, o] : newest) CHECK(after.count(o) == 1);
        end = b.fetch_copy("c", partition_id{0}, offset{0}, 1).high_watermark.value();
        CHECK(end == 300);
        // Nothing new: the ratio says no pass is needed.
        CHECK(b.compact_now(false, ec) == 0);
    }
    file_broker b{cleaner_config(dir.path)};
    CHECK(contents(b, "c") == after);
    CHECK(b.fetch_copy("c", partition_id{0}, offset{0}, 1).high_watermark.value() == end);
    // Appends carry on at the old log end.
    const auto r = b.produce("c", partition_id{0}, keyed({{"key-0", "after restart"}}), -1);
    CHECK(r.base_offset == offset{end});
}

TEST_CASE("__consumer_offsets is compacted to the last commit per key and the offsets survive", "[compaction][groups]") {
    test::temp_dir dir;
    const auto commit = [](file_broker& b, std::int64_t off) {
        groups::commit_request c;
        c.group_id = "g";
        c.generation_id = -1;
        groups::commit_partition cp;
        cp.topic = "t";
        cp.partition = 0;
        cp.offset = off;
        cp.metadata = "m";
        c.partitions.push_back(cp);
        std::promise<std::vector<groups::commit_partition>> p;
        auto f = p.get_future();
        b.groups().commit(std::move(c), [&p](std::vector<groups::commit_partition> r) { p.set_value(std::move(r)); });
        REQUIRE(f.wait_for(10s) == std::future_status::ready);
        const auto r = f.get();
        REQUIRE(r.size() == 1);
        REQUIRE(r[0].error == error_code::none);
    };
    std::uint64_t before = 0, after = 0;
    {
        file_broker b{cleaner_config(dir.path)};
        REQUIRE(b.ensure_offsets_topic() == error_code::none);
        REQUIRE(b.create_topic("t", 1) == error_code::none);
        for (int i = 1; i <= 300; ++i) commit(b, i);
        auto* part = b.find_partition(groups::offsets_topic, partition_id{0});
        REQUIRE(part);
        before = part->log_size_bytes();
        std::error_code ec;
        CHECK(b.compact_now(false, ec) == 1);
        CHECK_FALSE(ec);
        after = part->log_size_bytes();
        CHECK(after * 4 < before);
    }
    file_broker b{cleaner_config(dir.path)};
    const auto r = b.groups().fetch_offsets("g", std::vector<std::pair<std::string, std::vector<std::int32_t>>>{{"t", {0}}});
    REQUIRE(r.offsets.size() == 1);
    CHECK(r.offsets[0].offset == 300);
    CHECK(r.offsets[0].metadata == "m");
}

TEST_CASE("the cleaner thread compacts on its own", "[compaction]") {
    test::temp_dir dir;
    auto cfg = cleaner_config(dir.path);
    cfg.log_cleaner_enable = true;
    cfg.log_cleaner_backoff_ms = 20;
    file_broker b{cfg};
    REQUIRE(b.create_topic("c", 1, {{"cleanup.policy", "compact"}, {"segment.bytes", "512"}}) == error_code::none);
    for (int i = 0; i < 40; ++i) REQUIRE(b.produce("c", partition_id{0}, keyed({{"same", std::to_string(i)}}), 1).error ==
                                         error_code::none);
    // Condition wait, bounded: the sealed segments end up holding at most the newest "same".
    bool cleaned = false;
    for (int i = 0; i < 500 && !cleaned; ++i) {
        cleaned = contents(b, "c").size() < 40;
        if (!cleaned) std::this_thread::sleep_for(10ms);
    }
    CHECK(cleaned);
    CHECK(contents(b, "c").rbegin()->second.second == "39");
}
