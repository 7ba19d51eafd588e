#include "broker_test_util.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include <sys/resource.h>

using namespace gregor;
using gregor::test::make_batch;

namespace {

using memory_broker = broker<broker_policies<storage::memory_backend>>;
using file_broker = broker<broker_policies<storage::file_backend>>;

broker_config config_in(const std::filesystem::path& dir) {
    broker_config c;
    c.data_dir = dir;
    c.log_flush_scheduler_interval_ms = 50;
    return c;
}

} // namespace

#if GREGOR_HAS_URING
#define GREGOR_BROKER_TYPES memory_broker, file_broker, broker<broker_policies<storage::uring_backend>>
#else
#define GREGOR_BROKER_TYPES memory_broker, file_broker
#endif

TEMPLATE_TEST_CASE("offsets are dense and monotonic across many concurrent producers", "[broker]",
                   GREGOR_BROKER_TYPES) {
    test::temp_dir dir;
    auto cfg = config_in(dir.path);
    TestType b{cfg};
    REQUIRE(b.create_topic("events", 3) == error_code::none);
    constexpr int threads = 4, batches = 200, per_batch = 7;
    std::atomic<int> errors{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t) {
        ts.emplace_back([&, t] {
            for (int i = 0; i < batches; ++i) {
                auto r = b.produce("events", partition_id{i % 3},
                                   make_batch("t" + std::to_string(t) + "b" + std::to_string(i), per_batch), 1);
                if (r.error != error_code::none) ++errors;
            }
        });
    }
    for (auto& t : ts) t.join();
    CHECK(errors == 0);
    std::set<std::string> seen;
    std::size_t total = 0;
    for (int p = 0; p < 3; ++p) {
        const auto recs = test::read_partition(b, "events", p);
        for (std::size_t i = 0; i < recs.size(); ++i) {
            REQUIRE(recs[i].first == static_cast<std::int64_t>(i)); // dense from 0, no gaps, no repeats
            seen.insert(recs[i].second);
        }
        total += recs.size();
        // within one partition, each producer's batches keep their submission order
        std::map<std::string, int> last_batch;
        for (const auto& [off, v] : recs) {
            const auto thread = v.substr(0, v.find('b'));
            const int batch = std::stoi(v.substr(v.find('b') + 1));
            auto it = last_batch.find(thread);
            if (it != last_batch.end()) REQUIRE(batch >= it->second);
            last_batch[thread] = batch;
        }
    }
    CHECK(total == static_cast<std::size_t>(threads * batches * per_batch));
    CHECK(seen.size() == total);
}

TEMPLATE_TEST_CASE("fetch at every offset returns the batch holding it first", "[fetch]", GREGOR_BROKER_TYPES) {
    test::temp_dir dir;
    TestType b{config_in(dir.path)};
    REQUIRE(b.create_topic("t", 1) == error_code::none);
    std::vector<int> sizes{1, 5, 3, 10, 1, 2};
    std::vector<std::int64_t> bases;
    for (std::size_t i = 0; i < sizes.size(); ++i) {
        auto r = b.produce("t", partition_id{0}, make_batch("b" + std::to_string(i), sizes[i]), -1);
        REQUIRE(r.error == error_code::none);
        bases.push_back(r.base_offset.value());
    }
    const std::int64_t end = bases.back() + sizes.back();
    CHECK(end == 22);
    for (std::int64_t o = 0; o < end; ++o) {
        auto r = b.fetch_copy("t", partition_id{0}, offset{o}, 1); // tiny max_bytes: first batch still whole
        REQUIRE(r.error == error_code::none);
        REQUIRE(r.high_watermark == offset{end});
        wire::batch_splitter s(r.records.view());
        auto first = s.next();
        REQUIRE(first);
        const auto h = *wire::batch_header::parse(*first);
        CHECK(h.base_offset.value() <= o);
        CHECK(h.last_offset().value() >= o);
        CHECK(wire::validate(*first, {.client_batch = false}) == wire::batch_error::none);
    }
    // at the log end: empty, no error; beyond: OFFSET_OUT_OF_RANGE
    auto at_end = b.fetch_copy("t", partition_id{0}, offset{end}, 1 << 20);
    CHECK(at_end.error == error_code::none);
    CHECK(at_end.records.empty());
    CHECK(b.fetch_copy("t", partition_id{0}, offset{end + 1}, 1 << 20).error == error_code::offset_out_of_range);
    CHECK(b.fetch_copy("t", partition_id{0}, offset{-1}, 1 << 20).error == error_code::offset_out_of_range);
    CHECK(b.fetch_copy("t", partition_id{7}, offset{0}, 1 << 20).error == error_code::unknown_topic_or_partition);
}

TEMPLATE_TEST_CASE("list offsets answers earliest, latest and by timestamp", "[fetch]", GREGOR_BROKER_TYPES) {
    test::temp_dir dir;
    auto cfg = config_in(dir.path);
    cfg.log.retention_ms = -1; // the timestamps below are from 1970
    TestType b{cfg};
    REQUIRE(b.produce("ts", partition_id{0}, make_batch("a", 3, {}, 1000), 1).error ==
            error_code::none); // ts 1000..1002
    REQUIRE(b.produce("ts", partition_id{0}, make_batch("b", 3, {}, 2000), 1).error ==
            error_code::none); // ts 2000..2002
    CHECK(b.list_offset("ts", partition_id{0}, -2).found == offset{0});
    CHECK(b.list_offset("ts", partition_id{0}, -1).found == offset{6});
    CHECK(b.list_offset("ts", partition_id{0}, 1500).found == offset{3});
    CHECK(b.list_offset("ts", partition_id{0}, 0).found == offset{0});
    CHECK(b.list_offset("ts", partition_id{0}, 99999).found == offset{-1});
    CHECK(b.list_offset("nope", partition_id{0}, -1).error == error_code::unknown_topic_or_partition);
}

TEMPLATE_TEST_CASE("list offsets by timestamp names records, not batches, as Kafka does", "[fetch]",
                   GREGOR_BROKER_TYPES) {
    test::temp_dir dir;
    auto cfg = config_in(dir.path);
    cfg.log.retention_ms = -1;
    TestType b{cfg};
    // Records out of timestamp order, and a header whose maxTimestamp is -1 (some clients send
    // that): the broker recomputes it from the records, so the time lookups still find them.
    wire::batch_builder bb(1024);
    for (const std::int64_t ts : {100, 300, 200, 400, 400}) bb.append(ts, std::nullopt, as_bytes(std::to_string(ts)));
    auto batch = bb.seal();
    wire::set_max_timestamp(batch.mutable_view(), -1, false);
    REQUIRE(b.produce("ts", partition_id{0}, std::move(batch), 1).error == error_code::none);
    REQUIRE(b.produce("ts", partition_id{0}, make_batch("late", 2, {}, 1000), 1).error == error_code::none);
    const auto at = [&](std::int64_t ts) {
        const auto r = b.list_offset("ts", partition_id{0}, ts);
        return std::pair{r.found.value(), r.timestamp};
    };
    CHECK(at(0) == std::pair<std::int64_t, std::int64_t>{0, 100});
    CHECK(at(100) == std::pair<std::int64_t, std::int64_t>{0, 100});
    CHECK(at(101) == std::pair<std::int64_t, std::int64_t>{1, 300}); // the first record >= target, in offset order
    CHECK(at(250) == std::pair<std::int64_t, std::int64_t>{1, 300});
    CHECK(at(301) == std::pair<std::int64_t, std::int64_t>{3, 400});
    CHECK(at(401) == std::pair<std::int64_t, std::int64_t>{5, 1000}); // the next batch
    CHECK(at(1001) == std::pair<std::int64_t, std::int64_t>{6, 1001});
    CHECK(at(1002) == std::pair<std::int64_t, std::int64_t>{-1, -1});
    CHECK(at(-3) == std::pair<std::int64_t, std::int64_t>{6, 1001}); // MAX_TIMESTAMP: the record holding it
    CHECK(at(-1) == std::pair<std::int64_t, std::int64_t>{7, -1});
    CHECK(at(-2) == std::pair<std::int64_t, std::int64_t>{0, -1});
    // The stored header now carries the records' true maximum.
    const auto stored = b.fetch_copy("ts", partition_id{0}, offset{0}, 1 << 20);
    const auto h = wire::batch_header::parse(stored.records.view());
    REQUIRE(h);
    CHECK(h->max_timestamp == 400);
}

TEST_CASE("a LogAppendTime topic stamps batches with the append time", "[fetch]") {
    test::temp_dir dir;
    broker<broker_policies<storage::file_backend>> b{config_in(dir.path)};
    REQUIRE(b.create_topic("lat", 1, {{"message.timestamp.type", "LogAppendTime"}}) == error_code::none);
    const auto before = system_clock{}.wall_ms();
    const auto r = b.produce("lat", partition_id{0}, make_batch("x", 3, {}, 5), 1);
    REQUIRE(r.error == error_code::none);
    CHECK(r.log_append_time_ms >= before);
    const auto stored = b.fetch_copy("lat", partition_id{0}, offset{0}, 1 << 20);
    const auto h = wire::batch_header::parse(stored.records.view());
    REQUIRE(h);
    CHECK(h->has_log_append_time());
    CHECK(h->max_timestamp == r.log_append_time_ms);
    // Every record reports the append time, so a lookup at the producer's time 5 names offset 0
    // with the append time, and one just after the append time names nothing.
    const auto lo = b.list_offset("lat", partition_id{0}, 5);
    CHECK(lo.found == offset{0});
    CHECK(lo.timestamp == r.log_append_time_ms);
    CHECK(b.list_offset("lat", partition_id{0}, r.log_append_time_ms + 1).found == offset{-1});
    // A plain topic answers -1 as log_append_time.
    CHECK(b.produce("plain", partition_id{0}, make_batch("y", 1), 1).log_append_time_ms == -1);
}

TEMPLATE_TEST_CASE("bad batches get Kafka's error codes and leave the log untouched", "[broker]", GREGOR_BROKER_TYPES) {
    test::temp_dir dir;
    auto cfg = config_in(dir.path);
    cfg.message_max_bytes = 2000;
    TestType b{cfg};
    REQUIRE(b.create_topic("t", 1) == error_code::none);
    auto big = make_batch(std::string(100, 'x'), 30);
    CHECK(b.produce("t", partition_id{0}, std::move(big), 1).error == error_code::message_too_large);
    auto corrupt = make_batch("c", 3);
    corrupt[corrupt.size() - 1] ^= std::byte{0x40};
    CHECK(b.produce("t", partition_id{0}, std::move(corrupt), 1).error == error_code::corrupt_message);
    auto truncated = make_batch("c", 3);
    truncated.resize(truncated.size() - 5);
    CHECK(b.produce("t", partition_id{0}, std::move(truncated), 1).error == error_code::corrupt_message);
    auto control = wire::build_control_batch(wire::control_type::commit, producer_id{1}, producer_epoch{0}, 0, 5);
    CHECK(b.produce("t", partition_id{0}, std::move(control), 1).error == error_code::invalid_record);
    CHECK(b.produce("t", partition_id{0}, make_batch("ok", 1), 2).error == error_code::invalid_required_acks);
    CHECK(b.list_offset("t", partition_id{0}, -1).found == offset{0});
    auto ok = b.produce("t", partition_id{0}, make_batch("ok", 2), 1);
    CHECK(ok.error == error_code::none);
    CHECK(ok.base_offset == offset{0});
}

TEST_CASE("acks=all with more in-sync replicas required than exist is refused before appending", "[broker]") {
    broker_config cfg;
    cfg.min_insync_replicas = 2; // one replica: effective min ISR is min(2, replicas=1) = 1
    memory_broker b{cfg};
    CHECK(b.produce("t", partition_id{0}, make_batch("x", 1), -1).error == error_code::none);
    auto* part = b.find_partition("t", partition_id{0});
    REQUIRE(part);
    CHECK(part->offsets().high_watermark == offset{1});
}

TEST_CASE("topic names follow Kafka's rules and auto-creation obeys the setting", "[topics]") {
    broker_config cfg;
    cfg.num_partitions = 4;
    memory_broker b{cfg};
    CHECK(b.create_topic("bad name", 1) == error_code::invalid_topic_exception);
    CHECK(b.create_topic(std::string(250, 'a'), 1) == error_code::invalid_topic_exception);
    CHECK(b.create_topic("..", 1) == error_code::invalid_topic_exception);
    CHECK(b.create_topic(std::string(249, 'a'), 1) == error_code::none);
    CHECK(b.create_topic("ok.name_with-dash", 0) == error_code::invalid_partitions);
    CHECK(b.create_topic("ok.name_with-dash", 2) == error_code::none);
    CHECK(b.create_topic("ok.name_with-dash", 2) == error_code::topic_already_exists);
    auto auto_created = b.describe_topic("fresh");
    CHECK(auto_created.error == error_code::none);
    CHECK(auto_created.partition_count == 4);
    CHECK(b.describe_topic("other", false).error == error_code::unknown_topic_or_partition);
    CHECK(b.produce("bad/topic", partition_id{0}, make_batch("x", 1), 1).error == error_code::invalid_topic_exception);
    CHECK(b.produce("fresh", partition_id{9}, make_batch("x", 1), 1).error == error_code::unknown_topic_or_partition);

    broker_config no_auto;
    no_auto.auto_create_topics_enable = false;
    memory_broker strict{no_auto};
    CHECK(strict.describe_topic("fresh").error == error_code::unknown_topic_or_partition);
    CHECK(strict.produce("fresh", partition_id{0}, make_batch("x", 1), 1).error ==
          error_code::unknown_topic_or_partition);
}

TEST_CASE("broker properties parse by Kafka name and reject unknown keys by name", "[topics]") {
    auto c = broker_config::from_properties({{"num.partitions", "6"},
                                             {"log.segment.bytes", "1048576"},
                                             {"auto.create.topics.enable", "false"},
                                             {"log.retention.hours", "2"}});
    CHECK(c.num_partitions == 6);
    CHECK(c.log.segment_bytes == 1048576u);
    CHECK_FALSE(c.auto_create_topics_enable);
    CHECK(c.log.retention_ms == 7200000);
    CHECK_THROWS_WITH(broker_config::from_properties({{"no.such.key", "1"}}), Catch::Contains("no.such.key"));
    CHECK_THROWS_WITH(broker_config::from_properties({{"num.partitions", "x"}}), Catch::Contains("num.partitions"));
    CHECK_THROWS_WITH(broker_config::from_properties({{"num.partitions", "0"}}), Catch::Contains("num.partitions"));
}

TEST_CASE("a restarted file broker serves every acknowledged batch and keeps assigning after them",
          "[broker_restart]") {
    test::temp_dir dir;
    auto cfg = config_in(dir.path);
    cfg.log.segment_bytes = 4096; // several segments
    std::vector<std::string> acked;
    {
        file_broker b{cfg};
        REQUIRE(b.create_topic("keep", 2) == error_code::none);
        for (int i = 0; i < 100; ++i) {
            auto r = b.produce("keep", partition_id{i % 2}, make_batch("r" + std::to_string(i), 3), 1);
            REQUIRE(r.error == error_code::none);
            for (int k = 0; k < 3; ++k) acked.push_back("r" + std::to_string(i) + "-" + std::to_string(k));
        }
    }
    file_broker b{cfg};
    CHECK(b.describe_topic("keep", false).partition_count == 2);
    std::set<std::string> got;
    for (int p = 0; p < 2; ++p) {
        const auto recs = test::read_partition(b, "keep", p);
        CHECK(recs.size() == 150);
        for (const auto& r : recs) got.insert(r.second);
    }
    CHECK(got == std::set<std::string>(acked.begin(), acked.end()));
    auto next = b.produce("keep", partition_id{0}, make_batch("after", 1), 1);
    CHECK(next.base_offset == offset{150});
}

TEST_CASE("time retention deletes whole old segments and moves the log start offset", "[broker]") {
    test::temp_dir dir;
    broker_config cfg;
    cfg.data_dir = dir.path;
    cfg.log.segment_bytes = 1024;
    cfg.log.retention_ms = 3600000;
    file_broker b{cfg};
    const auto now = system_clock{}.wall_ms();
    for (int i = 0; i < 20; ++i) // old records, several segments
        REQUIRE(b.produce("r", partition_id{0}, make_batch("old" + std::to_string(i), 5, {}, now - 7200000), 1).error ==
                error_code::none);
    for (int i = 0; i < 3; ++i)
        REQUIRE(b.produce("r", partition_id{0}, make_batch("new" + std::to_string(i), 5, {}, now), 1).error ==
                error_code::none);
    b.tick(true);
    const auto start = b.list_offset("r", partition_id{0}, -2).found;
    CHECK(start > offset{0});
    CHECK(start <= offset{100});
    CHECK(b.fetch_copy("r", partition_id{0}, offset{0}, 1 << 20).error == error_code::offset_out_of_range);
    const auto recs = test::read_partition(b, "r", 0, start.value());
    REQUIRE(recs.size() >= 15);
    CHECK(recs.back().second == "new2-4");
    CHECK(recs.back().first == 114);
}

namespace {
/// Lowers this process's file size limit (RLIMIT_FSIZE) for a scope, as a disk that fills up
/// would stop writes: past it, write() fails with EFBIG (SIGXFSZ ignored) instead of the data
/// landing. Restored on destruction.
struct file_size_limit {
    rlimit saved{};
    void (*saved_handler)(int) = nullptr;
    explicit file_size_limit(rlim_t bytes) {
        saved_handler = std::signal(SIGXFSZ, SIG_IGN);
        REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved) == 0);
        rlimit now = saved;
        now.rlim_cur = bytes;
        REQUIRE(::setrlimit(RLIMIT_FSIZE, &now) == 0);
    }
    ~file_size_limit() {
        ::setrlimit(RLIMIT_FSIZE, &saved);
        std::signal(SIGXFSZ, saved_handler);
    }
};
} // namespace

TEST_CASE("a full disk answers KAFKA_STORAGE_ERROR, shows no partial batch, keeps reads and recovers", "[broker]") {
    test::temp_dir dir;
    broker_config cfg;
    cfg.data_dir = dir.path;
    using file_broker = broker<broker_policies<storage::file_backend>>;
    file_broker b{cfg};
    REQUIRE(b.create_topic("t", 1) == error_code::none);
    const auto batch_size = test::make_batch("fill", 10).size();
    int ok = 0;
    for (; ok < 5; ++ok)
        REQUIRE(b.produce("t", partition_id{0}, test::make_batch("fill", 10), 1).error == error_code::none);
    const auto end_before = b.find_partition("t", partition_id{0})->offsets().log_end_offset;
    std::size_t seg_size = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir.path / "t-0"))
        if (e.path().extension() == ".log") seg_size = std::max<std::size_t>(seg_size, e.file_size());
    REQUIRE(seg_size > 0);
    std::vector<error_code> errors;
    {
        // Room for one more batch and a half: the next writes fail part-way.
        file_size_limit full(static_cast<rlim_t>(seg_size + batch_size + batch_size / 2));
        for (int i = 0; i < 4; ++i)
            errors.push_back(b.produce("t", partition_id{0}, test::make_batch("more", 10), 1).error);
        // Reads go on meanwhile.
        const auto r = b.fetch_copy("t", partition_id{0}, offset{0}, 1 << 20);
        CHECK(r.error == error_code::none);
    }
    CHECK(errors[0] == error_code::none);
    for (std::size_t i = 1; i < errors.size(); ++i) CHECK(errors[i] == error_code::kafka_storage_error);
    const auto end_full = b.find_partition("t", partition_id{0})->offsets().log_end_offset;
    CHECK(end_full == end_before + 10);
    // Space again: writes are accepted, at the next offset, and the log holds only whole batches.
    const auto again = b.produce("t", partition_id{0}, test::make_batch("again", 10), 1);
    CHECK(again.error == error_code::none);
    CHECK(again.base_offset == end_full);
    const auto all = test::read_partition(b, "t", 0);
    REQUIRE(all.size() == static_cast<std::size_t>(end_full.value() + 10));
    for (std::size_t i = 0; i < all.size(); ++i) CHECK(all[i].first == static_cast<std::int64_t>(i));
    CHECK(all.back().second == "again-9");
}
