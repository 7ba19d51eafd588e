// The aborted-transaction index (storage/txn_index.hpp, the log's .txnindex files): the 34-byte
// entry, appending and collecting across segments with Kafka's stop rule, refusals, truncation,
// retention, recovery from torn and stale entries, compaction, and durability under power loss.
#include "storage_test_util.hpp"

#include <gregor/storage/compaction.hpp>
#include <gregor/storage/log.hpp>
#include <gregor/storage/txn_index.hpp>
#include <gregor/testing/crashy_storage.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

using namespace gregor;
using namespace gregor::test;
using storage::aborted_txn;

namespace {

constexpr std::string_view marker = ".kafka_cleanshutdown";

std::string txn_name(std::int64_t base) { return storage::segment_file_name(offset{base}, storage::txn_index_suffix); }

/// Appends an ABORT marker of `pid` at the log end; returns its offset.
template <typename Log>
offset append_abort_marker(Log& l, producer_id pid) {
    const auto at = l.log_end_offset();
    auto b = wire::build_control_batch(wire::control_type::abort, pid, producer_epoch{0}, 0, t0 + at.value());
    wire::patch_base_offset(b.mutable_view(), at);
    REQUIRE_FALSE(l.append(b.view()));
    return at;
}

/// An aborted transaction of `pid` from `first`, closed by a marker appended now, recorded.
template <typename Log>
aborted_txn abort_txn(Log& l, std::int64_t pid, std::int64_t first, std::optional<std::int64_t> lso = {}) {
    const auto at = append_abort_marker(l, producer_id{pid});
    const aborted_txn e{producer_id{pid}, offset{first}, at, lso ? offset{*lso} : at + 1};
    REQUIRE_FALSE(l.append_aborted_txn(e));
    return e;
}

template <typename Log>
std::vector<aborted_txn> all_aborted(const Log& l) {
    return l.collect_aborted_txns(l.log_start_offset(), offset::max());
}

/// Files named *.txnindex in the directory.
template <typename B>
std::vector<std::string> txn_files(const std::filesystem::path& dir, const typename B::options& o) {
    B b(dir, o);
    std::error_code ec;
    auto names = b.list(ec);
    REQUIRE_FALSE(ec);
    std::vector<std::string> out;
    for (const auto& n : names)
        if (storage::parse_segment_file_name(n, storage::txn_index_suffix)) out.push_back(n);
    std::sort(out.begin(), out.end());
    return out;
}

/// The layout most tests use, in segments rolled by hand:
///   [0]  data 0-2 (pid 1), 3-5 (pid 2), ABORT pid 1 at 6, data 7-9, ABORT pid 2 at 10
///   [11] data 11-13 (pid 3), ABORT pid 3 at 14
///   [15] data 15-17, 18-20 (pid 4), ABORT pid 4 at 21
///   [22] data 22-24, ABORT pid 5 at 25 (a transaction from 12: see "the scan stops")
///   [26] data 26-28 (active, no aborts)
template <typename Log>
std::vector<aborted_txn> build_layout(Log& l) {
    std::vector<aborted_txn> v;
    append_batches(l, 2);
    v.push_back(abort_txn(l, 1, 0, 3)); // pid 2 still open from 3
    append_batches(l, 1);
    v.push_back(abort_txn(l, 2, 3));
    REQUIRE_FALSE(l.roll());
    append_batches(l, 1);
    v.push_back(abort_txn(l, 3, 11)); // LSO 15 though pid 5 is open from 12: a wrong entry shows the stop
    REQUIRE_FALSE(l.roll());
    append_batches(l, 2);
    v.push_back(abort_txn(l, 4, 18));
    REQUIRE_FALSE(l.roll());
    append_batches(l, 1);
    v.push_back(abort_txn(l, 5, 12));
    REQUIRE_FALSE(l.roll());
    append_batches(l, 1);
    REQUIRE(l.segment_base_offsets() == std::vector<offset>{offset{0}, offset{11}, offset{15}, offset{22}, offset{26}});
    REQUIRE(l.log_end_offset() == offset{29});
    return v;
}

} // namespace

TEST_CASE("an aborted-transaction entry is Kafka's 34 big-endian bytes", "[txn_index]") {
    // version 0, producerId 0x0102030405060708, firstOffset 0x1122334455667788,
    // lastOffset 0x1122334455667799, lastStableOffset 0x11223344556677aa
    const unsigned char expected[] = {
        0x00, 0x00,                                     //
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, //
        0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, //
        0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x99, //
        0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0xaa,
    };
    static_assert(sizeof expected == storage::aborted_txn_size);
    const aborted_txn e{producer_id{0x0102030405060708}, offset{0x1122334455667788}, offset{0x1122334455667799},
                        offset{0x11223344556677aa}};
    std::byte out[storage::aborted_txn_size];
    storage::encode_aborted_txn(e, out);
    CHECK(std::memcmp(out, expected, sizeof expected) == 0);

    const bytes_view in{reinterpret_cast<const std::byte*>(expected), sizeof expected};
    CHECK(storage::decode_aborted_txn(in) == e);
    CHECK_FALSE(storage::decode_aborted_txn(in.first(33)));
    unsigned char v1[sizeof expected];
    std::memcpy(v1, expected, sizeof v1);
    v1[1] = 1; // a version this build does not know
    CHECK_FALSE(storage::decode_aborted_txn(bytes_view{reinterpret_cast<const std::byte*>(v1), sizeof v1}));

    // A file: whole entries are kept up to the first that is torn, unknown or out of order.
    byte_buffer file;
    const aborted_txn a{producer_id{1}, offset{0}, offset{6}, offset{7}};
    const aborted_txn b{producer_id{2}, offset{3}, offset{10}, offset{11}};
    storage::encode_aborted_txn(a, file.grow(34));
    storage::encode_aborted_txn(b, file.grow(34));
    CHECK(storage::decode_txn_index(file.view()) == std::vector{a, b});
    file.append(as_bytes("torn"));
    CHECK(storage::decode_txn_index(file.view()) == std::vector{a, b});
    file.resize(68);
    storage::encode_aborted_txn(a, file.grow(34)); // not above b
    storage::encode_aborted_txn(aborted_txn{producer_id{3}, offset{20}, offset{30}, offset{31}}, file.grow(34));
    CHECK(storage::decode_txn_index(file.view()) == std::vector{a, b});
    CHECK(storage::decode_txn_index({}).empty());
}

TEMPLATE_LIST_TEST_CASE("aborted transactions are indexed in their marker's segment and collected with Kafka's stop",
                        "[txn_index]", all_backends) {
    temp_dir d;
    backend_env<TestType> env;
    testing::manual_clock clk;
    const auto opts = env.options();
    const auto cfg = small_config(1 << 20, 100);
    std::vector<aborted_txn> v;
    const auto check_collect = [&](const auto& l) {
        using V = std::vector<aborted_txn>;
        CHECK(all_aborted(l) == v);
        // From the start, bounded at 3: the first segment has an entry with LSO >= 3, so it ends the scan.
        CHECK(l.collect_aborted_txns(offset{0}, offset{3}) == V{v[0]});
        CHECK(l.collect_aborted_txns(offset{0}, offset{11}) == V{v[0], v[1]});
        // A fetch from 7: pid 1's abort (marker at 6) is behind it.
        CHECK(l.collect_aborted_txns(offset{7}, offset{11}) == V{v[1]});
        // Segment [11]'s entry has LSO 15 >= 13: pid 5's transaction (12..25), in a later segment,
        // is not reached although it overlaps [7, 13).
        CHECK(l.collect_aborted_txns(offset{7}, offset{13}) == V{v[1], v[2]});
        // Bound 16: no entry of [0] or [11] reaches it, [15]'s does (LSO 22); its own entry starts at 18.
        CHECK(l.collect_aborted_txns(offset{7}, offset{16}) == V{v[1], v[2]});
        // From 12 (in [11]) bounded at 23: pid 5's transaction began at 12, and [22]'s LSO 26 ends it.
        CHECK(l.collect_aborted_txns(offset{12}, offset{23}) == V{v[2], v[3], v[4]});
        CHECK(l.collect_aborted_txns(offset{22}, offset{29}) == V{v[4]});
        CHECK(l.collect_aborted_txns(offset{26}, offset{29}).empty());
        CHECK(l.collect_aborted_txns(offset{14}, offset{14}) == V{v[2]}); // the marker itself (a replay's check)
    };
    {
        test_log<TestType> l{d.partition(), cfg, opts, testing::manual_clock_ref{clk}};
        CHECK(all_aborted(l).empty());
        v = build_layout(l);
        check_collect(l);
    }
    // One file per segment with an entry, 34 bytes an entry; none for the active segment.
    CHECK(txn_files<TestType>(d.partition(), opts) ==
          std::vector<std::string>{txn_name(0), txn_name(11), txn_name(15), txn_name(22)});
    CHECK(read_whole<TestType>(d.partition(), txn_name(0), opts).size() == 68);
    CHECK(read_whole<TestType>(d.partition(), txn_name(22), opts).size() == 34);
    {
        byte_buffer expect;
        storage::encode_aborted_txn(v[0], expect.grow(34));
        storage::encode_aborted_txn(v[1], expect.grow(34));
        const auto got = read_whole<TestType>(d.partition(), txn_name(0), opts);
        CHECK(std::equal(got.view().begin(), got.view().end(), expect.view().begin(), expect.view().end()));
    }
    for (const bool clean : {true, false}) {
        INFO((clean ? "clean" : "unclean") << " reopen");
        if (!clean) remove_file<TestType>(d.partition(), std::string(marker), opts);
        test_log<TestType> l{d.partition(), cfg, opts, testing::manual_clock_ref{clk}};
        check_collect(l);
    }
}

TEMPLATE_LIST_TEST_CASE("a log without aborted transactions writes no .txnindex", "[txn_index]", all_backends) {
    temp_dir d;
    backend_env<TestType> env;
    testing::manual_clock clk;
    const auto opts = env.options();
    {
        test_log<TestType> l{d.partition(), small_config(600, 100), opts, testing::manual_clock_ref{clk}};
        append_batches(l, 20);
        // A marker alone (a COMMIT, or an ABORT of an empty transaction) records nothing either.
        append_abort_marker(l, producer_id{3});
        REQUIRE(l.segment_count() > 2);
        REQUIRE_FALSE(l.truncate_to(offset{30}));
        CHECK(all_aborted(l).empty());
        CHECK(l.collect_aborted_txns(offset{0}, offset{30}).empty());
    }
    CHECK(txn_files<TestType>(d.partition(), opts).empty());
    test_log<TestType> l{d.partition(), small_config(600, 100), opts, testing::manual_clock_ref{clk}};
    CHECK(all_aborted(l).empty());
    CHECK(txn_files<TestType>(d.partition(), opts).empty());
}

TEMPLATE_LIST_TEST_CASE("an entry must come after the last one, for a marker in the log", "[txn_index]", all_backends) {
    temp_dir d;
    backend_env<TestType> env;
    testing::manual_clock clk;
    const auto opts = env.options();
    const auto invalid = make_error_code(local_error::invalid_argument);
    test_log<TestType> l{d.partition(), small_config(1 << 20, 100), opts, testing::manual_clock_ref{clk}};
    append_batches(l, 2);
    const auto m1 = append_abort_marker(l, producer_id{1}); // 6
    append_batches(l, 1);
    const auto m2 = append_abort_marker(l, producer_id{2}); // 10
    REQUIRE_FALSE(l.roll());
    append_batches(l, 1);
    const auto m3 = append_abort_marker(l, producer_id{3}); // 14
    const aborted_txn e2{producer_id{2}, offset{7}, m2, m2 + 1};
    // The marker in a sealed segment: its entry goes there.
    REQUIRE_FALSE(l.append_aborted_txn(e2));
    CHECK(file_exists<TestType>(d.partition(), txn_name(0), opts));
    CHECK_FALSE(file_exists<TestType>(d.partition(), txn_name(11), opts));
    // Not above the last entry: the same marker, an earlier one.
    CHECK(l.append_aborted_txn(e2) == invalid);
    CHECK(l.append_aborted_txn({producer_id{1}, offset{0}, m1, m1 + 1}) == invalid);
    // A marker not (yet) in the log, before its start, or a transaction ending before it began.
    CHECK(l.append_aborted_txn({producer_id{4}, offset{11}, l.log_end_offset(), l.log_end_offset() + 1}) == invalid);
    CHECK(l.append_aborted_txn({producer_id{4}, offset{11}, offset{-1}, offset{0}}) == invalid);
    CHECK(l.append_aborted_txn({producer_id{3}, m3 + 1, m3, m3 + 1}) == invalid);
    const aborted_txn e3{producer_id{3}, offset{11}, m3, m3 + 1};
    REQUIRE_FALSE(l.append_aborted_txn(e3));
    // Nothing refused was written.
    CHECK(all_aborted(l) == std::vector{e2, e3});
    // Once the active segment has one, a marker of an older segment can no longer be recorded.
    CHECK(l.append_aborted_txn({producer_id{1}, offset{0}, m1, m1 + 1}) == invalid);
    l.close();
    CHECK(l.append_aborted_txn({producer_id{5}, offset{0}, m3, m3 + 1}) == make_error_code(local_error::closed));
    CHECK(read_whole<TestType>(d.partition(), txn_name(0), opts).size() == 34);
    CHECK(read_whole<TestType>(d.partition(), txn_name(11), opts).size() == 34);
}

TEMPLATE_LIST_TEST_CASE("truncation drops the entries whose marker it removes, for good", "[txn_index][truncate]",
                        all_backends) {
    temp_dir d;
    backend_env<TestType> env;
    testing::manual_clock clk;
    const auto opts = env.options();
    const auto cfg = small_config(1 << 20, 100);
    std::vector<aborted_txn> v;
    {
        test_log<TestType> l{d.partition(), cfg, opts, testing::manual_clock_ref{clk}};
        v = build_layout(l);
        // At a marker: that entry goes and every later one; the segment left with none loses its file.
        REQUIRE_FALSE(l.truncate_to(offset{14}));
        CHECK(all_aborted(l) == std::vector{v[0], v[1]});
        CHECK(txn_files<TestType>(d.partition(), opts) == std::vector<std::string>{txn_name(0)});
        // Inside a batch (7-9): the log end becomes 7, so the marker at 10 goes with it.
        REQUIRE_FALSE(l.truncate_to(offset{8}));
        CHECK(l.log_end_offset() == offset{7});
        CHECK(all_aborted(l) == std::vector{v[0]});
        CHECK(read_whole<TestType>(d.partition(), txn_name(0), opts).size() == 34);
        // New data over the old offsets: the dropped entry must not come back, now or after a reopen.
        append_batches(l, 4);
        CHECK(l.collect_aborted_txns(offset{7}, offset::max()).empty());
        const auto e = abort_txn(l, 7, 13);
        v = {v[0], e};
        CHECK(all_aborted(l) == v);
    }
    for (const bool clean : {true, false}) {
        INFO((clean ? "clean" : "unclean") << " reopen");
        if (!clean) remove_file<TestType>(d.partition(), std::string(marker), opts);
        test_log<TestType> l{d.partition(), cfg, opts, testing::manual_clock_ref{clk}};
        CHECK(all_aborted(l) == v);
    }
    {
        test_log<TestType> l{d.partition(), cfg, opts, testing::manual_clock_ref{clk}};
        // Below the log start the log restarts empty, and so does the index.
        REQUIRE_FALSE(l.truncate_fully_and_start_at(offset{100}));
        CHECK(all_aborted(l).empty());
        CHECK(txn_files<TestType>(d.partition(), opts).empty());
    }
}

TEMPLATE_LIST_TEST_CASE("segments deleted by retention or a log start advance take their .txnindex along",
                        "[txn_index][retention]", all_backends) {
    temp_dir d;
    backend_env<TestType> env;
    testing::manual_clock clk;
    const auto opts = env.options();
    auto cfg = small_config(1 << 20, 100);
    test_log<TestType> l{d.partition(), cfg, opts, testing::manual_clock_ref{clk}};
    const auto v = build_layout(l);
    REQUIRE_FALSE(l.advance_log_start(offset{12}));
    CHECK(l.segment_base_offsets().front() == offset{11});
    CHECK(txn_files<TestType>(d.partition(), opts) ==
          std::vector<std::string>{txn_name(11), txn_name(15), txn_name(22)});
    CHECK(all_aborted(l) == std::vector{v[2], v[3], v[4]});
    // Size retention down to the active segment.
    cfg.retention_bytes = 1;
    REQUIRE_FALSE(l.set_config(cfg));
    CHECK(l.enforce_retention() == 3);
    CHECK(l.segment_base_offsets() == std::vector<offset>{offset{26}});
    CHECK(txn_files<TestType>(d.partition(), opts).empty());
    CHECK(all_aborted(l).empty());
    // A topic deleted with its files: nothing of the index stays either.
    const auto e = abort_txn(l, 9, 26);
    CHECK(all_aborted(l) == std::vector{e});
    l.abandon(true);
    CHECK(txn_files<TestType>(d.partition(), opts).empty());
    CHECK(all_aborted(l).empty());
}

TEMPLATE_LIST_TEST_CASE("recovery cuts a torn or unreadable tail of a .txnindex and keeps the whole entries",
                        "[txn_index][recovery]", all_backends) {
    temp_dir d;
    backend_env<TestType> env;
    testing::manual_clock clk;
    const auto opts = env.options();
    const auto cfg = small_config(1 << 20, 100);
    std::vector<aborted_txn> v;
    {
        test_log<TestType> l{d.partition(), cfg, opts, testing::manual_clock_ref{clk}};
        v = build_layout(l);
    }
    const auto good = read_whole<TestType>(d.partition(), txn_name(0), opts);
    REQUIRE(good.size() == 68);
    byte_buffer v5;
    storage::encode_aborted_txn(v[4], v5.grow(34));
    for (const bool clean : {true, false}) {
        // A torn append of every length, in the first segment and in a later one; a whole entry of
        // an unknown version; an entry out of order.
        for (std::size_t extra = 1; extra < 34; extra += clean ? 11 : 4) {
            INFO((clean ? "clean" : "unclean") << ", " << extra << " stray bytes");
            byte_buffer torn;
            torn.append(good.view());
            torn.append(v5.view().first(extra));
            write_whole<TestType>(d.partition(), txn_name(0), torn.view(), opts);
            byte_buffer torn22;
            torn22.append(v5.view());
            torn22.append(good.view().first(extra));
            write_whole<TestType>(d.partition(), txn_name(22), torn22.view(), opts);
            if (!clean) remove_file<TestType>(d.partition(), std::string(marker), opts);
            {
                test_log<TestType> l{d.partition(), cfg, opts, testing::manual_clock_ref{clk}};
                CHECK(all_aborted(l) == v);
                // It appends after the whole entries.
                append_batches(l, 1);
                const auto e = abort_txn(l, 8, 29);
                CHECK(all_aborted(l).back() == e);
                REQUIRE_FALSE(l.truncate_to(offset{29}));
            }
            CHECK(read_whole<TestType>(d.partition(), txn_name(0), opts).size() == 68);
            CHECK(read_whole<TestType>(d.partition(), txn_name(22), opts).size() == 34);
        }
    }
    byte_buffer bad;
    bad.append(good.view());
    bad.append(v5.view());
    bad.data()[68 + 1] = std::byte{1}; // version 1
    write_whole<TestType>(d.partition(), txn_name(0), bad.view(), opts);
    byte_buffer unordered;
    unordered.append(good.view().first(34));
    unordered.append(good.view().first(34));
    write_whole<TestType>(d.partition(), txn_name(11), unordered.view(), opts);
    {
        test_log<TestType> l{d.partition(), cfg, opts, testing::manual_clock_ref{clk}};
        // [11] holds v[0] (marker 6, not in that segment) twice: nothing there can be believed.
        CHECK(all_aborted(l) == std::vector{v[0], v[1], v[3], v[4]});
    }
    CHECK(read_whole<TestType>(d.partition(), txn_name(0), opts).size() == 68);
    CHECK_FALSE(file_exists<TestType>(d.partition(), txn_name(11), opts));
}

TEMPLATE_LIST_TEST_CASE("recovery drops entries whose marker it cut from the log, and orphan .txnindex files",
                        "[txn_index][recovery]", all_backends) {
    temp_dir d;
    backend_env<TestType> env;
    testing::manual_clock clk;
    const auto opts = env.options();
    const auto cfg = small_config(1 << 20, 100);
    std::vector<aborted_txn> v;
    {
        test_log<TestType> l{d.partition(), cfg, opts, testing::manual_clock_ref{clk}};
        append_batches(l, 1);
        v.push_back(abort_txn(l, 1, 0)); // 3
        append_batches(l, 1);            // 4-6
        v.push_back(abort_txn(l, 2, 4)); // 7
    }
    // The second marker's batch torn: the log ends at 7 and the entry for 7 must go.
    const auto seg = read_whole<TestType>(d.partition(), log_name(0), opts);
    write_whole<TestType>(d.partition(), log_name(0), seg.view().first(seg.size() - 5), opts);
    remove_file<TestType>(d.partition(), std::string(marker), opts);
    // An index for a segment that does not exist.
    byte_buffer orphan;
    storage::encode_aborted_txn(aborted_txn{producer_id{9}, offset{100}, offset{101}, offset{102}}, orphan.grow(34));
    write_whole<TestType>(d.partition(), txn_name(100), orphan.view(), opts);
    {
        test_log<TestType> l{d.partition(), cfg, opts, testing::manual_clock_ref{clk}};
        CHECK(l.log_end_offset() == offset{7});
        CHECK(all_aborted(l) == std::vector{v[0]});
        // The marker comes again (a retried WriteTxnMarkers) and with it its entry.
        const auto e = abort_txn(l, 2, 4);
        CHECK(e == v[1]);
    }
    CHECK(txn_files<TestType>(d.partition(), opts) == std::vector<std::string>{txn_name(0)});
    CHECK(read_whole<TestType>(d.partition(), txn_name(0), opts).size() == 68);
    // Cut before the first marker: nothing is left, and neither is the file.
    write_whole<TestType>(d.partition(), log_name(0), seg.view().first(10), opts);
    remove_file<TestType>(d.partition(), std::string(marker), opts);
    {
        test_log<TestType> l{d.partition(), cfg, opts, testing::manual_clock_ref{clk}};
        CHECK(l.log_end_offset() == offset{0});
        CHECK(all_aborted(l).empty());
    }
    CHECK(txn_files<TestType>(d.partition(), opts).empty());
}

TEST_CASE("a compacted segment keeps its aborted transactions", "[txn_index][compaction]") {
    temp_dir d;
    backend_env<storage::file_backend> env;
    testing::manual_clock clk;
    auto cfg = small_config(1 << 20, 64);
    cfg.cleanup_policy = storage::cleanup_policy::compact;
    const auto keyed = [](offset base, const char* key, const char* value, wire::producer_stamp stamp = {}) {
        wire::batch_builder b(256);
        b.append(t0 + base.value(), as_bytes(std::string_view(key)), as_bytes(std::string_view(value)));
        auto out = b.seal(stamp);
        wire::patch_base_offset(out.mutable_view(), base);
        return out;
    };
    std::vector<aborted_txn> v;
    {
        test_log<storage::file_backend> l{d.partition(), cfg, env.options(), testing::manual_clock_ref{clk}};
        for (int i = 0; i < 4; ++i) REQUIRE_FALSE(l.append(keyed(l.log_end_offset(), "k", "old").view()));
        const wire::producer_stamp tx{producer_id{8}, producer_epoch{0}, sequence{0}, true};
        REQUIRE_FALSE(l.append(keyed(offset{4}, "t", "aborted", tx).view()));
        v.push_back(abort_txn(l, 8, 4)); // 5
        REQUIRE_FALSE(l.append(keyed(offset{6}, "k", "newer").view()));
        REQUIRE_FALSE(l.roll());
        REQUIRE_FALSE(l.append(keyed(offset{7}, "k", "newest").view()));
        REQUIRE_FALSE(l.roll());
        const auto before = read_whole<storage::file_backend>(d.partition(), txn_name(0), env.options());
        storage::compaction::stats st;
        storage::compaction::options o;
        o.now_ms = t0;
        REQUIRE_FALSE(
            storage::compaction::clean<test_log<storage::file_backend>>([&](auto&& f) { return f(l); }, o, st));
        REQUIRE(st.segments_rewritten >= 1);
        REQUIRE(st.records_removed >= 4);
        CHECK(all_aborted(l) == v);
        const auto after = read_whole<storage::file_backend>(d.partition(), txn_name(0), env.options());
        CHECK(std::equal(before.view().begin(), before.view().end(), after.view().begin(), after.view().end()));
        // Still appended to after the swap (a replica's late entry for a marker in it: none later yet).
        append_batches(l, 1);
        v.push_back(abort_txn(l, 9, 9));
    }
    test_log<storage::file_backend> l{d.partition(), cfg, env.options(), testing::manual_clock_ref{clk}};
    CHECK(all_aborted(l) == v);
}

TEMPLATE_LIST_TEST_CASE("an entry is durable once its marker is: flush, synced append, roll, deferred flush",
                        "[txn_index][crash]", all_backends) {
    using backend = testing::crashy_storage<TestType>;
    const auto cfg = small_config(1 << 20, 100);
    const auto reopen_after_power_loss = [&](temp_dir& d, backend_env<backend>& env, testing::manual_clock& clk) {
        env.ctl->power_loss(testing::crash_mode::lose_unsynced);
        test_log<backend> l{d.partition(), cfg, env.options(), testing::manual_clock_ref{clk}};
        return all_aborted(l);
    };
    const auto durable = [](temp_dir& d, backend_env<backend>& env, std::int64_t base) {
        return env.ctl->durable_size(d.partition() / txn_name(base));
    };
    SECTION("flush::never: flush() syncs the entry with the segment, an unflushed one is lost with its marker") {
        temp_dir d;
        backend_env<backend> env;
        testing::manual_clock clk;
        aborted_txn a;
        {
            test_log<backend> l{d.partition(), cfg, env.options(), testing::manual_clock_ref{clk}};
            append_batches(l, 1);
            a = abort_txn(l, 1, 0);
            CHECK(durable(d, env, 0) == 0);
            REQUIRE_FALSE(l.flush());
            CHECK(durable(d, env, 0) == 34);
            append_batches(l, 1);
            abort_txn(l, 2, 4);
            CHECK(durable(d, env, 0) == 34);
            const auto syncs = env.ctl->syncs();
            REQUIRE_FALSE(l.flush());
            CHECK(env.ctl->syncs() == syncs + 2); // the segment and its index
            REQUIRE_FALSE(l.flush());
            CHECK(env.ctl->syncs() == syncs + 2); // nothing new: no I/O
            append_batches(l, 1);
            REQUIRE_FALSE(l.flush());
            CHECK(env.ctl->syncs() == syncs + 3); // no new entry: the segment alone
            append_batches(l, 1);
            abort_txn(l, 3, 11);
            // The last marker and entry were never flushed.
            env.ctl->power_loss(testing::crash_mode::lose_unsynced);
        }
        test_log<backend> l{d.partition(), cfg, env.options(), testing::manual_clock_ref{clk}};
        CHECK(l.log_end_offset() == offset{11});
        CHECK(all_aborted(l).size() == 2);
        CHECK(all_aborted(l).front() == a);
    }
    SECTION("flush::every_append: the marker is synced by its append, the entry at once") {
        temp_dir d;
        backend_env<backend> env;
        testing::manual_clock clk;
        std::vector<aborted_txn> v;
        {
            test_log<backend, flush::every_append> l{d.partition(), cfg, env.options(), testing::manual_clock_ref{clk}};
            append_batches(l, 1);
            v.push_back(abort_txn(l, 1, 0));
            CHECK(durable(d, env, 0) == 34);
            append_batches(l, 1);
            v.push_back(abort_txn(l, 2, 4));
            CHECK(durable(d, env, 0) == 68);
            env.ctl->power_loss(testing::crash_mode::lose_unsynced);
        }
        test_log<backend> l{d.partition(), cfg, env.options(), testing::manual_clock_ref{clk}};
        CHECK(all_aborted(l) == v);
    }
    SECTION("flush::every_messages: the append that syncs the segment syncs the entry too") {
        temp_dir d;
        backend_env<backend> env;
        testing::manual_clock clk;
        auto c = cfg;
        c.flush_interval_messages = 5;
        test_log<backend, flush::every_messages> l{d.partition(), c, env.options(), testing::manual_clock_ref{clk}};
        append_batches(l, 1);              // 3 messages
        const auto e = abort_txn(l, 1, 0); // 4
        CHECK(durable(d, env, 0) == 0);
        CHECK(l.flushed_offset() == offset{0});
        append_batches(l, 1); // 7: synced
        CHECK(l.flushed_offset() == l.log_end_offset());
        CHECK(durable(d, env, 0) == 34);
        (void)e;
    }
    SECTION("a roll syncs the entries of the segment it leaves; an entry for a sealed segment is synced at once") {
        temp_dir d;
        backend_env<backend> env;
        testing::manual_clock clk;
        std::vector<aborted_txn> v;
        {
            test_log<backend> l{d.partition(), cfg, env.options(), testing::manual_clock_ref{clk}};
            append_batches(l, 1);
            v.push_back(abort_txn(l, 1, 0));
            const auto m = append_abort_marker(l, producer_id{2});
            REQUIRE_FALSE(l.roll());
            CHECK(durable(d, env, 0) == 34);
            v.push_back({producer_id{2}, offset{1}, m, m + 1});
            REQUIRE_FALSE(l.append_aborted_txn(v.back()));
            CHECK(durable(d, env, 0) == 68);
            append_batches(l, 1);
            env.ctl->power_loss(testing::crash_mode::lose_unsynced);
        }
        test_log<backend> l{d.partition(), cfg, env.options(), testing::manual_clock_ref{clk}};
        CHECK(all_aborted(l) == v);
    }
    SECTION("close syncs an entry that a log start advance put below the flushed offset") {
        temp_dir d;
        backend_env<backend> env;
        testing::manual_clock clk;
        {
            test_log<backend> l{d.partition(), cfg, env.options(), testing::manual_clock_ref{clk}};
            append_batches(l, 1);
            abort_txn(l, 1, 0);
            REQUIRE_FALSE(l.advance_log_start(l.log_end_offset()));
            CHECK(l.flushed_offset() == l.log_end_offset());
            CHECK(durable(d, env, 0) == 0);
            l.close();
            CHECK(durable(d, env, 0) == 34);
        }
    }
    SECTION("deferred flushes: the ticket syncs the entry; one recorded after flush_begin is synced by flush_end") {
        temp_dir d;
        backend_env<backend> env;
        testing::manual_clock clk;
        std::vector<aborted_txn> v;
        {
            test_log<backend> l{d.partition(), cfg, env.options(), testing::manual_clock_ref{clk}};
            l.defer_flushes(true);
            append_batches(l, 1);
            v.push_back(abort_txn(l, 1, 0));
            auto t = l.flush_begin();
            REQUIRE(t.needed);
            REQUIRE_FALSE(l.flush_sync(t));
            CHECK(durable(d, env, 0) == 34);
            l.flush_end(t);
            CHECK(l.flushed_offset() == l.log_end_offset());
            // A marker, then flush_begin, then its entry: the sync did not cover the entry, but the
            // flushed offset passes its marker.
            const auto m = append_abort_marker(l, producer_id{2});
            t = l.flush_begin();
            v.push_back({producer_id{2}, offset{1}, m, m + 1});
            REQUIRE_FALSE(l.append_aborted_txn(v.back()));
            REQUIRE_FALSE(l.flush_sync(t));
            CHECK(durable(d, env, 0) == 34);
            l.flush_end(t);
            CHECK(l.flushed_offset() == l.log_end_offset());
            CHECK(durable(d, env, 0) == 68);
            env.ctl->power_loss(testing::crash_mode::lose_unsynced);
        }
        CHECK(reopen_after_power_loss(d, env, clk) == v);
    }
}

TEMPLATE_LIST_TEST_CASE("after any power loss the index holds exactly the entries of the markers that survived",
                        "[txn_index][crash]", all_backends) {
    using backend = testing::crashy_storage<TestType>;
    const auto cfg = small_config(700, 100);
    for (const auto mode : {testing::crash_mode::lose_unsynced, testing::crash_mode::torn_prefix}) {
        for (std::uint64_t seed = 1; seed <= 6; ++seed) {
            INFO("mode " << static_cast<int>(mode) << " seed " << seed);
            temp_dir d;
            backend_env<backend> env(seed);
            testing::manual_clock clk;
            std::vector<aborted_txn> v;
            offset flushed{0};
            {
                test_log<backend> l{d.partition(), cfg, env.options(), testing::manual_clock_ref{clk}};
                for (int i = 0; i < 12; ++i) {
                    const auto first = l.log_end_offset();
                    append_batches(l, 1 + i % 2);
                    v.push_back(abort_txn(l, 10 + i, first.value()));
                    if (i % 4 == 1) REQUIRE_FALSE(l.flush());
                }
                flushed = l.flushed_offset();
                REQUIRE(l.segment_count() > 2);
                env.ctl->power_loss(mode);
            }
            test_log<backend> l{d.partition(), cfg, env.options(), testing::manual_clock_ref{clk}};
            REQUIRE(l.log_end_offset() >= flushed);
            const auto got = all_aborted(l);
            // A prefix of what was recorded: all those whose marker was flushed, none past the log end.
            REQUIRE(got.size() <= v.size());
            for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == v[i]);
            for (const auto& e : v)
                if (e.last_offset < flushed) CHECK(std::find(got.begin(), got.end(), e) != got.end());
            for (const auto& e : got) CHECK(e.last_offset < l.log_end_offset());
            if (mode == testing::crash_mode::lose_unsynced) {
                CHECK(l.log_end_offset() == flushed);
            }
        }
    }
}
