// The log's behaviour, run against every backend: append, roll, index lookups, reads at every
// offset, retention, truncation, lookups by timestamp.
#include "storage_test_util.hpp"

#include <gregor/storage/log.hpp>

#include <catch2/catch.hpp>

using namespace gregor;
using namespace gregor::test;

TEMPLATE_LIST_TEST_CASE("an empty log starts at offset zero and reads nothing", "[log]", all_backends) {
    temp_dir d;
    backend_env<TestType> env;
    testing::manual_clock clk;
    test_log<TestType> l{d.partition(), {}, env.options(), testing::manual_clock_ref{clk}};
    CHECK(l.log_start_offset() == offset{0});
    CHECK(l.log_end_offset() == offset{0});
    CHECK(l.flushed_offset() == offset{0});
    CHECK(l.read(offset{0}, 1 << 20, offset{100}).slices.empty());
    CHECK_FALSE(l.offset_for_timestamp(0));
    if constexpr (TestType::persistent) CHECK(std::filesystem::exists(d.partition() / log_name(0)));
}

TEMPLATE_LIST_TEST_CASE("append stores batches byte for byte and advances the log end offset", "[log]", all_backends) {
    temp_dir d;
    backend_env<TestType> env;
    testing::manual_clock clk;
    test_log<TestType> l{d.partition(), {}, env.options(), testing::manual_clock_ref{clk}};
    const auto batches = append_batches(l, 5, 4);
    CHECK(l.log_end_offset() == offset{20});
    const auto r = l.read(offset{0}, 1 << 20, l.log_end_offset());
    byte_buffer all;
    REQUIRE_FALSE(storage::copy_to(r, all));
    byte_buffer expected;
    for (const auto& b : batches) expected.append(b.view());
    REQUIRE(all.size() == expected.size());
    CHECK(std::equal(all.view().begin(), all.view().end(), expected.view().begin()));
    if constexpr (TestType::persistent) {
        for (const auto& s : r.slices) CHECK(s.is_file());
    } else {
        for (const auto& s : r.slices) CHECK_FALSE(s.is_file());
    }
}

TEMPLATE_LIST_TEST_CASE("append refuses a batch whose base offset is not the log end offset", "[log]", all_backends) {
    temp_dir d;
    backend_env<TestType> env;
    testing::manual_clock clk;
    test_log<TestType> l{d.partition(), {}, env.options(), testing::manual_clock_ref{clk}};
    append_batches(l, 1, 2);
    const auto wrong = make_batch(offset{5}, 1);
    CHECK(l.append(wrong.view()) == make_error_code(local_error::invalid_argument));
    const auto stale = make_batch(offset{0}, 1);
    CHECK(l.append(stale.view()) == make_error_code(local_error::invalid_argument));
    const auto good = make_batch(offset{2}, 1);
    auto torn = good.view().first(good.size() - 1);
    CHECK(l.append(torn) == make_error_code(local_error::invalid_argument));
    CHECK(l.log_end_offset() == offset{2});
    CHECK_FALSE(l.append(good.view()));
    CHECK(l.log_end_offset() == offset{3});
}

TEMPLATE_LIST_TEST_CASE("segments roll when log.segment.bytes is reached and are named by base offset", "[log]",
                        all_backends) {
    temp_dir d;
    backend_env<TestType> env;
    testing::manual_clock clk;
    test_log<TestType> l{d.partition(), small_config(1000), env.options(), testing::manual_clock_ref{clk}};
    const auto batches = append_batches(l, 30, 3);
    const auto bases = l.segment_base_offsets();
    REQUIRE(bases.size() > 3);
    CHECK(bases.front() == offset{0});
    // Every segment but the last is full: the next batch would not have fitted.
    const auto batch_size = batches[0].size();
    CHECK(l.size_bytes() == batch_size * 30);
    const auto per_segment = 1000 / batch_size;
    for (std::size_t i = 1; i < bases.size(); ++i)
        CHECK(bases[i] - bases[i - 1] == static_cast<std::int64_t>(per_segment * 3));
    if constexpr (TestType::persistent) {
        for (std::size_t i = 0; i + 1 < bases.size(); ++i) {
            CHECK(std::filesystem::exists(d.partition() / storage::segment_file_name(bases[i], ".log")));
            CHECK(std::filesystem::exists(d.partition() / storage::segment_file_name(bases[i], ".index")));
            CHECK(std::filesystem::exists(d.partition() / storage::segment_file_name(bases[i], ".timeindex")));
        }
    }
    // A roll syncs the segment it leaves.
    CHECK(l.flushed_offset() == bases.back());
}

TEMPLATE_LIST_TEST_CASE("a batch larger than log.segment.bytes gets a segment of its own", "[log]", all_backends) {
    temp_dir d;
    backend_env<TestType> env;
    testing::manual_clock clk;
    test_log<TestType> l{d.partition(), small_config(200), env.options(), testing::manual_clock_ref{clk}};
    append_batches(l, 1, 1);
    const auto big = make_batch(l.log_end_offset(), 2, t0, 500);
    REQUIRE_FALSE(l.append(big.view()));
    append_batches(l, 1, 1);
    CHECK(l.segment_count() == 3);
    const auto r = l.read(offset{1}, 10, l.log_end_offset());
    const auto hs = batches_of(r);
    REQUIRE(hs.size() == 1);
    CHECK(hs[0].total_size() == big.size());
}

TEMPLATE_LIST_TEST_CASE("segments roll when log.roll.ms has passed since their first append", "[log]", all_backends) {
    temp_dir d;
    backend_env<TestType> env;
    testing::manual_clock clk;
    auto cfg = small_config(1 << 20);
    cfg.segment_ms = 1000;
    test_log<TestType> l{d.partition(), cfg, env.options(), testing::manual_clock_ref{clk}};
    append_batches(l, 2);
    clk.advance(ms(999));
    append_batches(l, 1);
    CHECK(l.segment_count() == 1);
    clk.advance(ms(1));
    append_batches(l, 1);
    CHECK(l.segment_count() == 2);
    CHECK(l.segment_base_offsets().back() == offset{9});
    // tick() rolls an idle segment too, so retention can later delete it.
    clk.advance(ms(1000));
    l.tick();
    CHECK(l.segment_count() == 3);
    CHECK(l.segment_base_offsets().back() == offset{12});
    l.tick();
    CHECK(l.segment_count() == 3); // an empty segment does not roll
}

TEMPLATE_LIST_TEST_CASE("a read at every offset starts with the batch containing it, across segments", "[log][read]",
                        all_backends) {
    temp_dir d;
    backend_env<TestType> env;
    testing::manual_clock clk;
    test_log<TestType> l{d.partition(), small_config(700, 100), env.options(), testing::manual_clock_ref{clk}};
    // Batches of 1..5 records, so offsets fall at every place inside a batch.
    std::vector<std::pair<offset, offset>> ranges;
    for (int i = 0; i < 40; ++i) {
        const auto base = l.log_end_offset();
        const int n = 1 + i % 5;
        const auto b = make_batch(base, n, t0 + base.value());
        REQUIRE_FALSE(l.append(b.view()));
        ranges.emplace_back(base, base + (n - 1));
    }
    REQUIRE(l.segment_count() > 3);
    const auto end = l.log_end_offset();
    for (offset o{0}; o < end; ++o) {
        INFO("offset " << o);
        std::size_t k = 0;
        while (ranges[k].second < o) ++k;
        // One byte of budget still yields the whole first batch (KIP-74), and only it.
        auto one = batches_of(l.read(o, 1, end));
        REQUIRE(one.size() == 1);
        CHECK(one[0].base_offset == ranges[k].first);
        CHECK(one[0].last_offset() == ranges[k].second);
        // Unlimited: every batch from there to the end, contiguous.
        auto all = batches_of(l.read(o, 1 << 20, end));
        REQUIRE(all.size() == ranges.size() - k);
        for (std::size_t j = 0; j < all.size(); ++j) CHECK(all[j].base_offset == ranges[k + j].first);
    }
    CHECK(l.read(end, 1 << 20, end + 100).slices.empty());
    CHECK(l.read(end + 5, 1 << 20, end + 100).slices.empty());
}

TEMPLATE_LIST_TEST_CASE("a read stops at max_bytes on a batch boundary and below the upper bound", "[log][read]",
                        all_backends) {
    temp_dir d;
    backend_env<TestType> env;
    testing::manual_clock clk;
    test_log<TestType> l{d.partition(), small_config(2000, 0), env.options(), testing::manual_clock_ref{clk}};
    const auto batches = append_batches(l, 60, 2);
    const auto bs = batches[0].size();
    const auto end = l.log_end_offset();
    for (std::size_t budget : {bs, bs + 1, 2 * bs - 1, 2 * bs, 7 * bs + 3, 25 * bs, 1000 * bs}) {
        for (std::int64_t from : {0, 1, 17, 40, 41, 99}) {
            INFO("budget " << budget << " from " << from);
            const auto r = l.read(offset{from}, budget, end);
            const auto hs = batches_of(r);
            const auto expect = std::min<std::size_t>(budget / bs, 60 - static_cast<std::size_t>(from / 2));
            CHECK(hs.size() == expect);
            CHECK(r.bytes <= budget);
        }
    }
    // The upper bound (a high watermark) cuts at the first batch whose base offset reaches it.
    for (std::int64_t ub : {1, 2, 3, 10, 11, 57, 120}) {
        INFO("upper bound " << ub);
        const auto hs = batches_of(l.read(offset{0}, 1 << 20, offset{ub}));
        REQUIRE_FALSE(hs.empty());
        CHECK(hs.back().base_offset < offset{ub});
        CHECK(hs.size() == static_cast<std::size_t>((ub + 1) / 2));
    }
    CHECK(l.read(offset{10}, 1 << 20, offset{10}).slices.empty());
}

TEMPLATE_LIST_TEST_CASE("the offset index is sparse: an entry every index.interval.bytes", "[log][index]",
                        all_backends) {
    temp_dir d;
    backend_env<TestType> env;
    testing::manual_clock clk;
    const auto opts = env.options();
    {
        test_log<TestType> l{d.partition(), small_config(1 << 20, 4096), opts, testing::manual_clock_ref{clk}};
        append_batches(l, 100, 2, 100); // ~300-byte batches
    }
    const auto idx = read_whole<TestType>(d.partition(), storage::segment_file_name(offset{0}, ".index"), opts);
    const auto log_bytes = read_whole<TestType>(d.partition(), log_name(0), opts);
    REQUIRE(idx.size() % 8 == 0);
    const auto n = idx.size() / 8;
    // One entry after each run of more than 4096 bytes.
    CHECK(n == log_bytes.size() / 4096);
    std::int32_t prev_pos = -1;
    for (std::size_t i = 0; i < n; ++i) {
        const auto rel = load_be<std::int32_t>(idx.data() + i * 8);
        const auto pos = load_be<std::int32_t>(idx.data() + i * 8 + 4);
        CHECK(pos > prev_pos);
        if (prev_pos >= 0) CHECK(pos - prev_pos > 4096);
        prev_pos = pos;
        // Kafka's convention: the entry holds the indexed batch's last offset and its position.
        const auto h = *wire::batch_header::parse(log_bytes.view().subspan(static_cast<std::size_t>(pos)));
        CHECK(h.last_offset() == offset{rel});
    }
    const auto tidx = read_whole<TestType>(d.partition(), storage::segment_file_name(offset{0}, ".timeindex"), opts);
    REQUIRE(tidx.size() % 12 == 0);
    REQUIRE(tidx.size() >= 12);
    // The last time index entry is the segment's largest timestamp.
    CHECK(load_be<std::int64_t>(tidx.data() + tidx.size() - 12) == t0 + 199);
}

TEMPLATE_LIST_TEST_CASE("offset_for_timestamp finds the first record at or after a timestamp", "[log][timestamp]",
                        all_backends) {
    temp_dir d;
    backend_env<TestType> env;
    testing::manual_clock clk;
    test_log<TestType> l{d.partition(), small_config(600, 100), env.options(), testing::manual_clock_ref{clk}};
    // Offsets 0..89, record i has timestamp t0 + 10 * i.
    for (int b = 0; b < 30; ++b) {
        wire::batch_builder bb;
        for (int i = 0; i < 3; ++i) bb.append(t0 + 10 * (3 * b + i), as_bytes("k"), as_bytes("v"));
        auto batch = bb.seal();
        wire::patch_base_offset(batch.mutable_view(), offset{3 * b});
        REQUIRE_FALSE(l.append(batch.view()));
    }
    REQUIRE(l.segment_count() > 2);
    for (int i = 0; i < 90; ++i) {
        INFO("record " << i);
        CHECK(l.offset_for_timestamp(t0 + 10 * i) == offset{i});
        CHECK(l.offset_for_timestamp(t0 + 10 * i - 5) == offset{i});
    }
    CHECK(l.offset_for_timestamp(0) == offset{0});
    CHECK_FALSE(l.offset_for_timestamp(t0 + 10 * 89 + 1));
}

TEMPLATE_LIST_TEST_CASE("retention by log.retention.bytes deletes whole old segments and moves the log start",
                        "[retention]", all_backends) {
    temp_dir d;
    backend_env<TestType> env;
    testing::manual_clock clk;
    auto cfg = small_config(1000);
    cfg.retention_ms = -1;
    cfg.retention_bytes = 2500;
    test_log<TestType> l{d.partition(), cfg, env.options(), testing::manual_clock_ref{clk}};
    append_batches(l, 40, 3);
    const auto before = l.segment_base_offsets();
    const auto deleted = l.enforce_retention();
    CHECK(deleted > 0);
    const auto after = l.segment_base_offsets();
    CHECK(after.size() == before.size() - deleted);
    CHECK(l.log_start_offset() == after.front());
    CHECK(l.size_bytes() >= 2500);
    CHECK(l.size_bytes() - 1000 < 2500); // dropping one more segment would go below the limit
    CHECK(l.read(offset{0}, 1 << 20, l.log_end_offset()).slices.empty());
    const auto hs = batches_of(l.read(l.log_start_offset(), 1 << 20, l.log_end_offset()));
    CHECK(hs.front().base_offset == l.log_start_offset());
    CHECK(hs.back().next_offset() == l.log_end_offset());
    if constexpr (TestType::persistent) CHECK_FALSE(std::filesystem::exists(d.partition() / log_name(0)));
    CHECK(l.enforce_retention() == 0);
}

TEMPLATE_LIST_TEST_CASE("retention by log.retention.ms deletes segments whose newest batch is too old", "[retention]",
                        all_backends) {
    temp_dir d;
    backend_env<TestType> env;
    testing::manual_clock clk{t0};
    auto cfg = small_config(1000);
    cfg.retention_ms = 60'000;
    test_log<TestType> l{d.partition(), cfg, env.options(), testing::manual_clock_ref{clk}};
    for (int i = 0; i < 20; ++i) {
        const auto b = make_batch(l.log_end_offset(), 3, clk.wall_ms());
        REQUIRE_FALSE(l.append(b.view()));
    }
    const auto first_segments = l.segment_count();
    clk.advance(ms(30'000));
    for (int i = 0; i < 20; ++i) {
        const auto b = make_batch(l.log_end_offset(), 3, clk.wall_ms());
        REQUIRE_FALSE(l.append(b.view()));
    }
    CHECK(l.enforce_retention() == 0);
    clk.advance(ms(31'000));
    // The first run of segments is now more than 60 s old; the one holding both runs is not.
    const auto deleted = l.enforce_retention();
    CHECK(deleted >= first_segments - 1);
    CHECK(deleted <= first_segments);
    CHECK(l.log_start_offset() > offset{0});
    // Everything expires: the active segment goes too, and the log is empty at its end offset.
    clk.advance(ms(120'000));
    l.tick();
    CHECK(l.log_start_offset() == l.log_end_offset());
    CHECK(l.log_end_offset() == offset{120});
    CHECK(l.read(l.log_start_offset(), 1 << 20, l.log_end_offset()).slices.empty());
    append_batches(l, 1);
    CHECK(batches_of(l.read(offset{120}, 1 << 20, l.log_end_offset())).size() == 1);
}

TEMPLATE_LIST_TEST_CASE("slices stay readable after retention deleted their segment", "[retention][read]",
                        all_backends) {
    temp_dir d;
    backend_env<TestType> env;
    testing::manual_clock clk;
    auto cfg = small_config(500);
    cfg.retention_bytes = 0;
    test_log<TestType> l{d.partition(), cfg, env.options(), testing::manual_clock_ref{clk}};
    const auto batches = append_batches(l, 10, 3);
    const auto r = l.read(offset{0}, 1 << 20, l.log_end_offset());
    CHECK(l.enforce_retention() > 0);
    CHECK(l.log_start_offset() == l.log_end_offset());
    append_batches(l, 10, 3); // the freed space must not be reused under the reader
    const auto hs = batches_of(r);
    REQUIRE(hs.size() == 10);
    CHECK(hs.back().next_offset() == offset{30});
}

TEMPLATE_LIST_TEST_CASE("truncate_to drops everything at and after an offset, whole batches", "[truncate]",
                        all_backends) {
    temp_dir d;
    backend_env<TestType> env;
    testing::manual_clock clk;
    const auto opts = env.options();
    {
        test_log<TestType> l{d.partition(), small_config(700, 100), opts, testing::manual_clock_ref{clk}};
        append_batches(l, 30, 3); // offsets 0..89
        const auto segs = l.segment_count();
        // Inside a batch: the whole batch goes.
        REQUIRE_FALSE(l.truncate_to(offset{80}));
        CHECK(l.log_end_offset() == offset{78});
        CHECK(l.flushed_offset() <= offset{78});
        // On a segment's first batch: later segments are deleted.
        const auto bases = l.segment_base_offsets();
        const auto cut = bases[bases.size() / 2];
        REQUIRE_FALSE(l.truncate_to(cut + 1));
        CHECK(l.log_end_offset() == cut);
        CHECK(l.segment_count() <= segs);
        CHECK(l.segment_base_offsets().back() <= cut);
        auto hs = batches_of(l.read(offset{0}, 1 << 20, offset{1000}));
        CHECK(hs.back().next_offset() == cut);
        // The log continues from the new end; reads see the new batches, not the old.
        append_batches(l, 5, 3, 20);
        hs = batches_of(l.read(cut, 1 << 20, offset{1000}));
        REQUIRE(hs.size() == 5);
        CHECK(hs[0].base_offset == cut);
        CHECK(hs[0].total_size() == make_batch(cut, 3, t0, 20).size());
        CHECK_FALSE(l.truncate_to(offset{10'000})); // beyond the end: nothing to do
        CHECK(l.log_end_offset() == cut + 15);
    }
    // The truncation is what a reopen finds.
    test_log<TestType> again{d.partition(), small_config(700, 100), opts, testing::manual_clock_ref{clk}};
    const auto hs = batches_of(again.read(offset{0}, 1 << 20, offset{1000}));
    CHECK(hs.back().next_offset() == again.log_end_offset());
    CHECK(hs.size() * 3 == static_cast<std::size_t>(again.log_end_offset().value()));
}

TEMPLATE_LIST_TEST_CASE("truncate_to at or below the log start empties the log and restarts it there", "[truncate]",
                        all_backends) {
    temp_dir d;
    backend_env<TestType> env;
    testing::manual_clock clk;
    test_log<TestType> l{d.partition(), small_config(700), env.options(), testing::manual_clock_ref{clk}};
    append_batches(l, 10, 3);
    REQUIRE_FALSE(l.truncate_to(offset{0}));
    CHECK(l.log_start_offset() == offset{0});
    CHECK(l.log_end_offset() == offset{0});
    CHECK(l.segment_count() == 1);
    append_batches(l, 2, 3);
    CHECK(batches_of(l.read(offset{0}, 1 << 20, offset{100})).size() == 2);
}

TEMPLATE_LIST_TEST_CASE("for_each_batch visits stored batches from the one containing an offset", "[log]",
                        all_backends) {
    temp_dir d;
    backend_env<TestType> env;
    testing::manual_clock clk;
    test_log<TestType> l{d.partition(), small_config(500, 50), env.options(), testing::manual_clock_ref{clk}};
    const auto batches = append_batches(l, 20, 2);
    std::vector<offset> seen;
    REQUIRE_FALSE(l.for_each_batch(offset{7}, [&](bytes_view b) {
        CHECK(wire::validate(b) == wire::batch_error::none);
        seen.push_back(wire::batch_header::parse(b)->base_offset);
    }));
    REQUIRE(seen.size() == 17);
    CHECK(seen.front() == offset{6});
    CHECK(seen.back() == offset{38});
    int n = 0;
    REQUIRE_FALSE(l.for_each_batch(offset{0}, [&](bytes_view) { return ++n < 4; }));
    CHECK(n == 4);
}

TEMPLATE_LIST_TEST_CASE("after close appends fail, reads still work and the clean marker is written", "[log]",
                        all_backends) {
    temp_dir d;
    backend_env<TestType> env;
    testing::manual_clock clk;
    const auto opts = env.options();
    test_log<TestType> l{d.partition(), {}, opts, testing::manual_clock_ref{clk}};
    append_batches(l, 3);
    l.close();
    CHECK(l.flushed_offset() == l.log_end_offset());
    CHECK(l.append(make_batch(l.log_end_offset(), 1).view()) == make_error_code(local_error::closed));
    CHECK(batches_of(l.read(offset{0}, 1 << 20, l.log_end_offset())).size() == 3);
    CHECK(file_exists<TestType>(d.partition(), ".kafka_cleanshutdown", opts));
}
