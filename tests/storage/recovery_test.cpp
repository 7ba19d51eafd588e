// Opening a log after a clean or an unclean stop, on every backend: the clean marker, torn tails cut
// at every byte, flipped bytes, lost and inconsistent indexes, leftovers.
#include "storage_test_util.hpp"

#include <gregor/storage/log.hpp>

#include <catch2/catch.hpp>

#include <algorithm>

using namespace gregor;
using namespace gregor::test;

namespace {

constexpr std::string_view marker = ".kafka_cleanshutdown";

/// Positions of the batches in a segment file.
std::vector<std::size_t> batch_positions(bytes_view seg) {
    std::vector<std::size_t> out;
    wire::batch_splitter sp(seg);
    std::size_t pos = 0;
    while (auto b = sp.next()) {
        out.push_back(pos);
        pos += b->size();
    }
    return out;
}

template <typename Log>
void check_prefix(const Log& l, offset end, std::size_t batches) {
    CHECK(l.log_end_offset() == end);
    CHECK(l.flushed_offset() == end);
    if (end == l.log_start_offset()) return;
    const auto hs = batches_of(l.read(l.log_start_offset(), 1 << 20, end + 1000));
    CHECK(hs.size() == batches);
    CHECK(hs.back().next_offset() == end);
}

} // namespace

TEMPLATE_LIST_TEST_CASE("a clean close leaves a marker and reopening finds everything", "[recovery]", all_backends) {
    temp_dir d;
    backend_env<TestType> env;
    testing::manual_clock clk;
    const auto opts = env.options();
    {
        test_log<TestType> l{d.partition(), small_config(800, 100), opts, testing::manual_clock_ref{clk}};
        append_batches(l, 25, 3);
    }
    CHECK(file_exists<TestType>(d.partition(), std::string(marker), opts));
    {
        test_log<TestType> l{d.partition(), small_config(800, 100), opts, testing::manual_clock_ref{clk}};
        // The marker is consumed at open, so a crash from now on is detected.
        CHECK_FALSE(file_exists<TestType>(d.partition(), std::string(marker), opts));
        check_prefix(l, offset{75}, 25);
        CHECK(l.offset_for_timestamp(t0 + 40) == offset{40});
        append_batches(l, 5, 3);
        for (std::int64_t o = 0; o < 90; ++o) {
            const auto hs = batches_of(l.read(offset{o}, 1, offset{90}));
            REQUIRE(hs.size() == 1);
            CHECK(hs[0].base_offset == offset{o - o % 3});
        }
    }
    test_log<TestType> l{d.partition(), small_config(800, 100), opts, testing::manual_clock_ref{clk}};
    check_prefix(l, offset{90}, 30);
}

TEMPLATE_LIST_TEST_CASE("recovery cuts a segment truncated at every byte of its last batch", "[recovery]",
                        all_backends) {
    temp_dir d;
    backend_env<TestType> env;
    testing::manual_clock clk;
    const auto opts = env.options();
    const auto cfg = small_config(1 << 20, 100);
    {
        test_log<TestType> l{d.partition(), cfg, opts, testing::manual_clock_ref{clk}};
        append_batches(l, 6, 1, 1);
    }
    const auto full = read_whole<TestType>(d.partition(), log_name(0), opts);
    const auto pos = batch_positions(full.view());
    REQUIRE(pos.size() == 6);
    for (const bool clean : {false, true}) {
        // Every byte after a crash; with the clean marker present too (a file cut behind the log's
        // back), sampled to keep the fsyncs of the file backends within budget.
        for (std::size_t cut = pos.back(); cut < full.size(); cut += clean ? 3 : 1) {
            INFO((clean ? "clean" : "unclean") << " cut at " << cut);
            write_whole<TestType>(d.partition(), log_name(0), full.view().first(cut), opts);
            if (!clean) remove_file<TestType>(d.partition(), std::string(marker), opts);
            {
                test_log<TestType> l{d.partition(), cfg, opts, testing::manual_clock_ref{clk}};
                check_prefix(l, offset{5}, 5);
            }
            // The cut is durable: the file now ends at the last whole batch.
            CHECK(read_whole<TestType>(d.partition(), log_name(0), opts).size() == pos.back());
        }
    }
}

TEMPLATE_LIST_TEST_CASE("recovery drops a last batch with any flipped byte the CRC or offsets cover", "[recovery]",
                        all_backends) {
    temp_dir d;
    backend_env<TestType> env;
    testing::manual_clock clk;
    const auto opts = env.options();
    const auto cfg = small_config(1 << 20, 100);
    {
        test_log<TestType> l{d.partition(), cfg, opts, testing::manual_clock_ref{clk}};
        append_batches(l, 5, 1, 1);
    }
    const auto full = read_whole<TestType>(d.partition(), log_name(0), opts);
    const auto last = batch_positions(full.view()).back();
    for (const bool clean : {false, true}) {
        for (std::size_t i = last; i < full.size(); i += clean ? 3 : 1) {
            // partitionLeaderEpoch is outside the CRC and carries nothing recovery could check.
            if (i - last >= wire::batch_layout::partition_leader_epoch && i - last < wire::batch_layout::magic)
                continue;
            INFO((clean ? "clean" : "unclean") << " flip at " << i);
            byte_buffer bad(full.view());
            bad[i] ^= std::byte{0x5a};
            write_whole<TestType>(d.partition(), log_name(0), bad.view(), opts);
            if (!clean) remove_file<TestType>(d.partition(), std::string(marker), opts);
            {
                test_log<TestType> l{d.partition(), cfg, opts, testing::manual_clock_ref{clk}};
                check_prefix(l, offset{4}, 4);
            }
        }
    }
}

TEMPLATE_LIST_TEST_CASE("recovery cuts at a corrupt batch in the middle of the last segment", "[recovery]",
                        all_backends) {
    temp_dir d;
    backend_env<TestType> env;
    testing::manual_clock clk;
    const auto opts = env.options();
    const auto cfg = small_config(1 << 20, 100);
    {
        test_log<TestType> l{d.partition(), cfg, opts, testing::manual_clock_ref{clk}};
        append_batches(l, 10, 2);
    }
    auto bytes = read_whole<TestType>(d.partition(), log_name(0), opts);
    const auto pos = batch_positions(bytes.view());
    bytes[pos[4] + 70] ^= std::byte{1}; // inside batch 4's records
    write_whole<TestType>(d.partition(), log_name(0), bytes.view(), opts);
    remove_file<TestType>(d.partition(), std::string(marker), opts);
    test_log<TestType> l{d.partition(), cfg, opts, testing::manual_clock_ref{clk}};
    check_prefix(l, offset{8}, 4);
    // The index was rebuilt for what is left: appends and reads continue from there.
    append_batches(l, 3, 2);
    REQUIRE_FALSE(l.flush());
    check_prefix(l, offset{14}, 7);
}

TEMPLATE_LIST_TEST_CASE("a corrupt sealed segment is cut and every later segment is deleted", "[recovery]",
                        all_backends) {
    temp_dir d;
    backend_env<TestType> env;
    testing::manual_clock clk;
    const auto opts = env.options();
    const auto cfg = small_config(600, 100);
    std::vector<offset> bases;
    {
        test_log<TestType> l{d.partition(), cfg, opts, testing::manual_clock_ref{clk}};
        append_batches(l, 30, 2);
        bases = l.segment_base_offsets();
    }
    REQUIRE(bases.size() >= 4);
    // Segment 1 loses its tail (as if its data never reached the disk) and its index with it.
    const auto name = storage::segment_file_name(bases[1], ".log");
    const auto seg = read_whole<TestType>(d.partition(), name, opts);
    const auto pos = batch_positions(seg.view());
    write_whole<TestType>(d.partition(), name, seg.view().first(pos[2] + 10), opts);
    remove_file<TestType>(d.partition(), storage::segment_file_name(bases[1], ".index"), opts);
    remove_file<TestType>(d.partition(), std::string(marker), opts);
    test_log<TestType> l{d.partition(), cfg, opts, testing::manual_clock_ref{clk}};
    CHECK(l.segment_count() == 2);
    check_prefix(l, bases[1] + 4, 0 + static_cast<std::size_t>((bases[1].value() + 4) / 2));
    for (std::size_t i = 2; i < bases.size(); ++i)
        CHECK_FALSE(file_exists<TestType>(d.partition(), storage::segment_file_name(bases[i], ".log"), opts));
}

TEMPLATE_LIST_TEST_CASE("missing or inconsistent index files are rebuilt from the segment", "[recovery][index]",
                        all_backends) {
    temp_dir d;
    backend_env<TestType> env;
    testing::manual_clock clk;
    const auto opts = env.options();
    const auto cfg = small_config(700, 60);
    std::vector<offset> bases;
    {
        test_log<TestType> l{d.partition(), cfg, opts, testing::manual_clock_ref{clk}};
        append_batches(l, 30, 2);
        bases = l.segment_base_offsets();
    }
    REQUIRE(bases.size() >= 3);
    const auto idx0 = storage::segment_file_name(bases[0], ".index");
    const auto tidx1 = storage::segment_file_name(bases[1], ".timeindex");
    const auto idx2 = storage::segment_file_name(bases[2], ".index");
    const auto good0 = read_whole<TestType>(d.partition(), idx0, opts);
    REQUIRE(good0.size() >= 16);
    remove_file<TestType>(d.partition(), idx0, opts);
    write_whole<TestType>(d.partition(), tidx1, as_bytes("not a time index"), opts); // 16 bytes: not whole entries
    // Entries whose positions lie past the end of the segment.
    byte_buffer bogus;
    byte_writer w(bogus);
    w.i32(1);
    w.i32(1 << 30);
    write_whole<TestType>(d.partition(), idx2, bogus.view(), opts);
    {
        test_log<TestType> l{d.partition(), cfg, opts, testing::manual_clock_ref{clk}};
        check_prefix(l, offset{60}, 30);
        for (std::int64_t o = 0; o < 60; ++o)
            CHECK(batches_of(l.read(offset{o}, 1, offset{60}))[0].base_offset == offset{o - o % 2});
        CHECK(l.offset_for_timestamp(t0 + 33) == offset{33});
    }
    // Rebuilt indexes were written back, equal to what the log wrote when it rolled.
    const auto rebuilt0 = read_whole<TestType>(d.partition(), idx0, opts);
    CHECK(std::equal(rebuilt0.view().begin(), rebuilt0.view().end(), good0.view().begin(), good0.view().end()));
    CHECK(read_whole<TestType>(d.partition(), tidx1, opts).size() % 12 == 0);
}

TEMPLATE_LIST_TEST_CASE("an index entry that points at the wrong batch is caught at open", "[recovery][index]",
                        all_backends) {
    temp_dir d;
    backend_env<TestType> env;
    testing::manual_clock clk;
    const auto opts = env.options();
    const auto cfg = small_config(1 << 20, 60);
    {
        test_log<TestType> l{d.partition(), cfg, opts, testing::manual_clock_ref{clk}};
        append_batches(l, 10, 2);
    }
    const auto name = storage::segment_file_name(offset{0}, ".index");
    auto idx = read_whole<TestType>(d.partition(), name, opts);
    REQUIRE(idx.size() >= 16);
    // Shift the last entry's offset by one batch: positions still look sane.
    store_be<std::int32_t>(idx.data() + idx.size() - 8, load_be<std::int32_t>(idx.data() + idx.size() - 8) + 2);
    write_whole<TestType>(d.partition(), name, idx.view(), opts);
    test_log<TestType> l{d.partition(), cfg, opts, testing::manual_clock_ref{clk}};
    check_prefix(l, offset{20}, 10);
    for (std::int64_t o = 0; o < 20; ++o)
        CHECK(batches_of(l.read(offset{o}, 1, offset{20}))[0].base_offset == offset{o - o % 2});
}

TEMPLATE_LIST_TEST_CASE("an index entry that passes the index's checks but names the wrong batch is never believed",
                        "[recovery][index]", all_backends) {
    temp_dir d;
    backend_env<TestType> env;
    testing::manual_clock clk;
    const auto opts = env.options();
    const auto cfg = small_config(1 << 20, 150); // an entry every two or three batches
    {
        test_log<TestType> l{d.partition(), cfg, opts, testing::manual_clock_ref{clk}};
        append_batches(l, 20, 2);
    }
    const auto name = storage::segment_file_name(offset{0}, ".index");
    auto idx = read_whole<TestType>(d.partition(), name, opts);
    REQUIRE(idx.size() >= 24);
    const auto seg = read_whole<TestType>(d.partition(), storage::segment_file_name(offset{0}, ".log"), opts);
    const auto pos = batch_positions(seg.view());
    // A middle entry (the open-time check walks from the last one only) gets the position of the
    // batch after its own: still ascending and inside the file, so the index decodes.
    const std::size_t k = idx.size() / 8 / 2 - 1;
    const auto at = static_cast<std::size_t>(load_be<std::int32_t>(idx.data() + k * 8 + 4));
    const auto it = std::find(pos.begin(), pos.end(), at);
    REQUIRE(it != pos.end());
    REQUIRE(std::next(it) != pos.end());
    REQUIRE(*std::next(it) < static_cast<std::size_t>(load_be<std::int32_t>(idx.data() + (k + 1) * 8 + 4)));
    store_be<std::int32_t>(idx.data() + k * 8 + 4, static_cast<std::int32_t>(*std::next(it)));
    write_whole<TestType>(d.partition(), name, idx.view(), opts);

    test_log<TestType> l{d.partition(), cfg, opts, testing::manual_clock_ref{clk}};
    check_prefix(l, offset{40}, 20);
    // Every offset is read from the batch that holds it, before and after the rebuild.
    for (int round = 0; round < 2; ++round) {
        for (std::int64_t o = 0; o < 40; ++o)
            CHECK(batches_of(l.read(offset{o}, 1, offset{40}))[0].base_offset == offset{o - o % 2});
        CHECK(l.offset_for_timestamp(t0 + 21) == offset{21});
        l.tick();
    }
    CHECK(l.index_rebuilds() == 1);
}

TEMPLATE_LIST_TEST_CASE("leftover temporaries and orphan indexes are removed, foreign files kept", "[recovery]",
                        all_backends) {
    temp_dir d;
    backend_env<TestType> env;
    testing::manual_clock clk;
    const auto opts = env.options();
    {
        test_log<TestType> l{d.partition(), {}, opts, testing::manual_clock_ref{clk}};
        append_batches(l, 2);
    }
    write_whole<TestType>(d.partition(), "00000000000000000000.index.tmp", as_bytes("x"), opts);
    write_whole<TestType>(d.partition(), "00000000000000000100.index", as_bytes(""), opts);
    write_whole<TestType>(d.partition(), "00000000000000000100.timeindex", as_bytes(""), opts);
    write_whole<TestType>(d.partition(), "00000000000000000006.snapshot", as_bytes("broker's"), opts);
    {
        test_log<TestType> l{d.partition(), {}, opts, testing::manual_clock_ref{clk}};
        check_prefix(l, offset{6}, 2);
    }
    CHECK_FALSE(file_exists<TestType>(d.partition(), "00000000000000000000.index.tmp", opts));
    CHECK_FALSE(file_exists<TestType>(d.partition(), "00000000000000000100.index", opts));
    CHECK_FALSE(file_exists<TestType>(d.partition(), "00000000000000000100.timeindex", opts));
    CHECK(file_exists<TestType>(d.partition(), "00000000000000000006.snapshot", opts));
}
