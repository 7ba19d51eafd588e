// Log compaction (storage/compaction.hpp): what a pass keeps and drops, that offsets never move,
// tombstones and their delete horizon, compressed and producer batches, the key map's budget,
// reopening a compacted log, and power loss at every step of a pass.
#include "storage_test_util.hpp"

#include <gregor/compression/codec.hpp>
#include <gregor/storage/compaction.hpp>

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

using namespace gregor;
using namespace gregor::test;
namespace compaction = gregor::storage::compaction;

namespace {

struct rec {
    offset at{0};
    std::optional<std::string> key;
    std::optional<std::string> value; // nullopt: a tombstone
    std::int64_t timestamp = 0;
    bool operator==(const rec&) const = default;
};

std::optional<std::string> str(const std::optional<bytes_view>& b) {
    if (!b) return std::nullopt;
    return std::string(as_string_view(*b));
}

/// Every record in the log, in offset order, with each batch validated on the way.
template <typename Log>
std::vector<rec> records_of(const Log& l) {
    std::vector<rec> out;
    REQUIRE_FALSE(l.for_each_batch(offset{0}, [&](bytes_view b) {
        REQUIRE(wire::validate(b, {.check_records = true, .client_batch = false}) == wire::batch_error::none);
        byte_buffer plain;
        std::optional<wire::batch_view> v;
        const auto h = *wire::batch_header::parse(b);
        if (h.compression() == wire::compression::none) {
            v.emplace(b);
        } else {
            REQUIRE_FALSE(compression::decompress_records(b, plain, 1 << 26));
            v.emplace(b, plain.view());
        }
        for (const auto& r : *v) out.push_back({r.record_offset, str(r.key), str(r.value), r.timestamp});
    }));
    for (std::size_t i = 1; i < out.size(); ++i) REQUIRE(out[i - 1].at < out[i].at);
    return out;
}

/// A batch of (key, value) records at `base`; value nullopt = tombstone. Timestamps t0 + offset.
byte_buffer keyed_batch(offset base, const std::vector<std::pair<std::string, std::optional<std::string>>>& kv,
                        wire::producer_stamp stamp = {}) {
    wire::batch_builder b(256);
    for (std::size_t i = 0; i < kv.size(); ++i) {
        std::optional<bytes_view> v;
        if (kv[i].second) v = as_bytes(*kv[i].second);
        b.append(t0 + base.value() + static_cast<std::int64_t>(i), as_bytes(kv[i].first), v);
    }
    auto out = b.seal(stamp);
    wire::patch_base_offset(out.mutable_view(), base);
    return out;
}

storage::log_config compact_config(std::uint64_t segment_bytes) {
    storage::log_config c;
    c.segment_bytes = segment_bytes;
    c.index_interval_bytes = 64;
    c.cleanup_policy = storage::cleanup_policy::compact;
    return c;
}

/// One pass with the log itself as the "lock".
template <typename Log>
compaction::stats clean_once(Log& l, compaction::options o = {}) {
    if (o.now_ms == 0) o.now_ms = t0;
    compaction::stats st;
    REQUIRE_FALSE(compaction::clean<Log>([&](auto&& f) { return f(l); }, o, st));
    return st;
}

/// What compaction must leave of `all` (every record ever appended): in the sealed segments
/// [0, sealed_end) each key's newest record there and nothing else; from sealed_end on, everything.
std::vector<rec> expected_after(const std::vector<rec>& all, offset sealed_end) {
    std::map<std::string, offset> newest;
    for (const auto& r : all)
        if (r.at < sealed_end && r.key) newest[*r.key] = r.at;
    std::vector<rec> out;
    for (const auto& r : all)
        if (r.at >= sealed_end || (r.key && newest[*r.key] == r.at)) out.push_back(r);
    return out;
}

/// Appends `n` batches of 4 records over `keys` keys, values naming their offset. The first batch
/// of the log has keys of its own, so the first segment keeps a record (it never empties, see
/// "the first segment never empties").
template <typename Log>
std::vector<rec> append_keyed(Log& l, int n, int keys) {
    std::vector<rec> all;
    for (int i = 0; i < n; ++i) {
        const auto base = l.log_end_offset();
        std::vector<std::pair<std::string, std::optional<std::string>>> kv;
        for (int j = 0; j < 4; ++j) {
            const auto o = base.value() + j;
            const auto key = o < 4 ? "first-" + std::to_string(o) : "key-" + std::to_string((o * 7) % keys);
            kv.emplace_back(key, "value-at-" + std::to_string(o));
            all.push_back({offset{o}, kv.back().first, kv.back().second, t0 + o});
        }
        const auto b = keyed_batch(base, kv);
        REQUIRE_FALSE(l.append(b.view()));
    }
    return all;
}

} // namespace

TEMPLATE_LIST_TEST_CASE("compaction keeps each key's newest record at its offset and reopens the same",
                        "[compaction]", all_backends) {
    temp_dir d;
    backend_env<TestType> env;
    testing::manual_clock clk;
    const auto cfg = compact_config(400);
    std::vector<rec> expect;
    offset end{0};
    {
        test_log<TestType> l{d.partition(), cfg, env.options(), testing::manual_clock_ref{clk}};
        const auto all = append_keyed(l, 40, 9);
        REQUIRE(l.segment_count() > 5);
        const auto before = l.size_bytes();
        const auto sealed_end = l.segment_base_offsets().back();
        const auto st = clean_once(l);
        CHECK(st.segments_rewritten > 0);
        CHECK(st.records_removed > 0);
        CHECK(st.cleaned_to == sealed_end);
        CHECK(l.cleaned_offset() == sealed_end);
        CHECK(l.size_bytes() < before);
        CHECK(l.log_end_offset() == offset{160});
        expect = expected_after(all, sealed_end);
        CHECK(records_of(l) == expect);
        // A read from any offset starts at the first batch that still holds one at or after it.
        for (std::int64_t o = 0; o < 160; ++o) {
            const auto r = batches_of(l.read(offset{o}, 1, l.log_end_offset()));
            REQUIRE(r.size() == 1);
            CHECK(r[0].last_offset() >= offset{o});
            const auto first_kept = std::find_if(expect.begin(), expect.end(), [&](const rec& x) { return x.at >= offset{o}; });
            CHECK(r[0].base_offset <= first_kept->at);
        }
        // A second pass over a log with nothing new changes nothing.
        const auto again = clean_once(l);
        CHECK(again.segments_rewritten == 0);
        CHECK(records_of(l) == expect);
        end = l.log_end_offset();
    }
    for (const bool clean : {true, false}) {
        if (!clean) remove_file<TestType>(d.partition(), std::string(storage::clean_shutdown_marker), env.options());
        test_log<TestType> l{d.partition(), cfg, env.options(), testing::manual_clock_ref{clk}};
        CHECK(l.log_end_offset() == end);
        CHECK(records_of(l) == expect);
    }
}

TEST_CASE("a tombstone stays until its delete horizon, with every timestamp kept", "[compaction]") {
    temp_dir d;
    testing::manual_clock clk;
    test_log<storage::memory_backend> l{d.partition(), compact_config(200), {}, testing::manual_clock_ref{clk}};
    auto b = keyed_batch(offset{0}, {{"a", "1"}, {"b", "1"}, {"c", "1"}});
    REQUIRE_FALSE(l.append(b.view()));
    b = keyed_batch(offset{3}, {{"a", std::nullopt}, {"b", "2"}, {"d", "1"}});
    REQUIRE_FALSE(l.append(b.view()));
    REQUIRE_FALSE(l.roll());
    b = keyed_batch(offset{6}, {{"a", "in the active segment"}});
    REQUIRE_FALSE(l.append(b.view()));
    compaction::options o;
    o.now_ms = t0 + 10'000;
    o.delete_retention_ms = 1000;
    auto st = clean_once(l, o);
    CHECK(st.records_removed == 2); // a=1, b=1
    auto rs = records_of(l);
    REQUIRE(rs.size() == 5);
    CHECK(rs[0] == rec{offset{2}, "c", "1", t0 + 2});
    CHECK(rs[1] == rec{offset{3}, "a", std::nullopt, t0 + 3});
    CHECK(rs[2] == rec{offset{4}, "b", "2", t0 + 4});
    CHECK(rs[3] == rec{offset{5}, "d", "1", t0 + 5});
    // The tombstone's batch carries the horizon in baseTimestamp.
    bool seen = false;
    REQUIRE_FALSE(l.for_each_batch(offset{3}, [&](bytes_view bv) {
        const auto h = *wire::batch_header::parse(bv);
        if (h.base_offset != offset{3}) return true;
        CHECK((h.attributes & wire::attr::delete_horizon) != 0);
        CHECK(h.base_timestamp == t0 + 11'000);
        CHECK(h.max_timestamp == t0 + 5);
        CHECK(h.last_offset_delta == 2);
        seen = true;
        return false;
    }));
    CHECK(seen);
    // Before the horizon a pass keeps it, after it the tombstone goes.
    o.when_clean = true;
    o.now_ms = t0 + 10'999;
    st = clean_once(l, o);
    CHECK(st.tombstones_removed == 0);
    CHECK(records_of(l)[1].at == offset{3});
    o.now_ms = t0 + 11'000;
    st = clean_once(l, o);
    CHECK(st.tombstones_removed == 1);
    rs = records_of(l);
    CHECK(rs[0].at == offset{2});
    CHECK(rs[1] == rec{offset{4}, "b", "2", t0 + 4});
}

TEST_CASE("records without a key go; transactional and control batches stay whole, a producer's last batch as a header",
          "[compaction]") {
    temp_dir d;
    testing::manual_clock clk;
    test_log<storage::memory_backend> l{d.partition(), compact_config(1 << 20), {}, testing::manual_clock_ref{clk}};
    // 0: keyless + k ; 1-2: an idempotent producer's two batches ; 3: transactional ; 4: marker ; 5: newer k
    wire::batch_builder kb(256);
    kb.append(t0, std::nullopt, as_bytes(std::string("no key")));
    kb.append(t0, as_bytes(std::string("k")), as_bytes(std::string("old")));
    auto b0 = kb.seal();
    REQUIRE_FALSE(l.append(b0.view()));
    const wire::producer_stamp p1{producer_id{7}, producer_epoch{0}, sequence{0}, false};
    auto b1 = keyed_batch(offset{2}, {{"k", "p-old"}}, p1);
    REQUIRE_FALSE(l.append(b1.view()));
    const wire::producer_stamp p2{producer_id{7}, producer_epoch{0}, sequence{1}, false};
    auto b2 = keyed_batch(offset{3}, {{"k", "p-last"}}, p2);
    REQUIRE_FALSE(l.append(b2.view()));
    const wire::producer_stamp tx{producer_id{8}, producer_epoch{0}, sequence{0}, true};
    auto b3 = keyed_batch(offset{4}, {{"k", "txn"}}, tx);
    REQUIRE_FALSE(l.append(b3.view()));
    auto b4 = wire::build_control_batch(wire::control_type::commit, producer_id{8}, producer_epoch{0}, 0, t0);
    wire::patch_base_offset(b4.mutable_view(), offset{5});
    REQUIRE_FALSE(l.append(b4.view()));
    auto b5 = keyed_batch(offset{6}, {{"k", "newest"}});
    REQUIRE_FALSE(l.append(b5.view()));
    auto filler = keyed_batch(offset{7}, {{"x", "x"}});
    REQUIRE_FALSE(l.append(filler.view()));
    REQUIRE_FALSE(l.roll());
    auto st = clean_once(l);
    const auto rs = records_of(l);
    std::vector<std::int64_t> at;
    for (const auto& r : rs) at.push_back(r.at.value());
    // 0 (no key) and 1, 2 and 3 (k, superseded) go; 4 is transactional, 5 the marker, 6 the newest
    // k, 7 the filler.
    CHECK(at == std::vector<std::int64_t>{4, 5, 6, 7});
    CHECK(st.records_removed == 4);
    // Producer 7's last batch keeps its header, with no records: its sequence survives.
    std::vector<wire::batch_header> hs;
    REQUIRE_FALSE(l.for_each_batch(offset{0}, [&](bytes_view bv) { hs.push_back(*wire::batch_header::parse(bv)); }));
    REQUIRE(hs.size() == 5);
    CHECK(hs[0].base_offset == offset{3});
    CHECK(hs[0].records_count == 0);
    CHECK(hs[0].producer_id == producer_id{7});
    CHECK(hs[0].base_sequence == sequence{1});
}

TEST_CASE("a compressed batch is filtered and compressed again with its codec", "[compaction]") {
    if (!compression::available(compression::codec::gzip)) return; // built without zlib: nothing to re-compress
    temp_dir d;
    testing::manual_clock clk;
    test_log<storage::memory_backend> l{d.partition(), compact_config(1 << 20), {}, testing::manual_clock_ref{clk}};
    auto b = keyed_batch(offset{0}, {{"a", "1"}, {"b", "1"}, {"a", "2"}, {"c", std::string(300, 'c')}});
    REQUIRE_FALSE(compression::compress_batch(b, compression::codec::gzip, -1));
    REQUIRE_FALSE(l.append(b.view()));
    auto b2 = keyed_batch(offset{4}, {{"c", "2"}});
    REQUIRE_FALSE(l.append(b2.view()));
    REQUIRE_FALSE(l.roll());
    const auto st = clean_once(l);
    CHECK(st.records_removed == 2);
    const auto rs = records_of(l);
    REQUIRE(rs.size() == 3);
    CHECK(rs[0] == rec{offset{1}, "b", "1", t0 + 1});
    CHECK(rs[1] == rec{offset{2}, "a", "2", t0 + 2});
    CHECK(rs[2] == rec{offset{4}, "c", "2", t0 + 4});
    REQUIRE_FALSE(l.for_each_batch(offset{0}, [&](bytes_view bv) {
        const auto h = *wire::batch_header::parse(bv);
        CHECK(h.compression() == wire::compression::gzip);
        CHECK(h.records_count == 2);
        CHECK(h.last_offset_delta == 3);
        return false;
    }));
}

TEST_CASE("a small key map cleans in several passes to the same result", "[compaction]") {
    temp_dir d;
    testing::manual_clock clk;
    test_log<storage::memory_backend> l{d.partition(), compact_config(300), {}, testing::manual_clock_ref{clk}};
    const auto all = append_keyed(l, 50, 23);
    const auto sealed_end = l.segment_base_offsets().back();
    compaction::options o;
    o.dedupe_buffer_bytes = compaction::key_map::cost(12, 12 * 6);
    int passes = 0;
    for (; passes < 100 && l.cleaned_offset() < sealed_end; ++passes) {
        const auto before = l.cleaned_offset();
        clean_once(l, o);
        REQUIRE(l.cleaned_offset() > before);
    }
    CHECK(passes > 1);
    // Later passes knew only their part of the keys: a last pass with room for all of them (over a
    // log with nothing dirty, so it is asked for) finishes the job.
    o.dedupe_buffer_bytes = 1 << 20;
    l.set_cleaned_offset(offset{0});
    clean_once(l, o);
    CHECK(records_of(l) == expected_after(all, sealed_end));
}

TEST_CASE("the first segment never empties, so the log start offset stays", "[compaction]") {
    temp_dir d;
    testing::manual_clock clk;
    backend_env<storage::file_backend> env;
    const auto cfg = compact_config(1 << 20);
    {
        test_log<storage::file_backend> l{d.partition(), cfg, env.options(), testing::manual_clock_ref{clk}};
        for (int i = 0; i < 3; ++i) {
            auto b = keyed_batch(l.log_end_offset(), {{"k", "old-" + std::to_string(i)}});
            REQUIRE_FALSE(l.append(b.view()));
        }
        REQUIRE_FALSE(l.roll());
        auto b = keyed_batch(l.log_end_offset(), {{"k", "mid"}});
        REQUIRE_FALSE(l.append(b.view()));
        REQUIRE_FALSE(l.roll());
        b = keyed_batch(l.log_end_offset(), {{"k", "new"}});
        REQUIRE_FALSE(l.append(b.view()));
        REQUIRE_FALSE(l.roll());
        clean_once(l);
        // The first segment keeps its last batch, emptied of its records; the second, wholly
        // superseded, is gone.
        const auto rs = records_of(l);
        REQUIRE(rs.size() == 1);
        CHECK(rs[0] == rec{offset{4}, "k", "new", t0 + 4});
        std::vector<wire::batch_header> hs;
        REQUIRE_FALSE(l.for_each_batch(offset{0}, [&](bytes_view bv) { hs.push_back(*wire::batch_header::parse(bv)); }));
        REQUIRE(hs.size() == 2);
        CHECK(hs[0].base_offset == offset{2});
        CHECK(hs[0].records_count == 0);
        CHECK(hs[0].total_size() == wire::batch_layout::header_size);
        CHECK(l.log_start_offset() == offset{0});
        CHECK(l.segment_count() == 3);
    }
    test_log<storage::file_backend> l{d.partition(), cfg, env.options(), testing::manual_clock_ref{clk}};
    CHECK(l.log_start_offset() == offset{0});
    CHECK(batches_of(l.read(offset{0}, 1, l.log_end_offset()))[0].base_offset == offset{2});
    CHECK(l.log_end_offset() == offset{5});
}

TEST_CASE("compact alone never deletes by time or size; compact,delete does", "[compaction][retention]") {
    temp_dir d;
    testing::manual_clock clk;
    for (const auto policy : {storage::cleanup_policy::compact, storage::cleanup_policy::compact_and_delete}) {
        auto cfg = compact_config(200);
        cfg.cleanup_policy = policy;
        cfg.retention_ms = 1000;
        cfg.retention_bytes = 1;
        test_log<storage::memory_backend> l{d.partition("r", static_cast<int>(policy)), cfg, {}, testing::manual_clock_ref{clk}};
        append_keyed(l, 10, 5);
        clk.advance(std::chrono::hours(1));
        const auto n = l.segment_count();
        l.enforce_retention();
        if (policy == storage::cleanup_policy::compact)
            CHECK(l.segment_count() == n);
        else
            CHECK(l.segment_count() < n);
    }
}

TEST_CASE("append refuses a gap; a replica's append_at accepts one and reads skip it", "[compaction][log]") {
    temp_dir d;
    testing::manual_clock clk;
    test_log<storage::memory_backend> l{d.partition(), compact_config(1 << 20), {}, testing::manual_clock_ref{clk}};
    auto b = keyed_batch(offset{0}, {{"a", "1"}});
    REQUIRE_FALSE(l.append(b.view()));
    auto gap = keyed_batch(offset{5}, {{"b", "1"}});
    CHECK(l.append(gap.view()) == make_error_code(local_error::invalid_argument));
    auto back = keyed_batch(offset{0}, {{"b", "1"}});
    CHECK(l.append_at(back.view()) == make_error_code(local_error::invalid_argument));
    REQUIRE_FALSE(l.append_at(gap.view()));
    CHECK(l.log_end_offset() == offset{6});
    const auto r = batches_of(l.read(offset{2}, 1 << 20, l.log_end_offset()));
    REQUIRE(r.size() == 1);
    CHECK(r[0].base_offset == offset{5});
}

TEST_CASE("power loss at any step of a pass leaves a log that recovers every key's newest record",
          "[compaction][crash]") {
    using backend = testing::crashy_storage<storage::file_backend>;
    const auto cfg = compact_config(400);
    // Count the steps of an undisturbed pass first.
    std::size_t steps = 0;
    {
        temp_dir d;
        backend_env<backend> env;
        testing::manual_clock clk;
        test_log<backend> l{d.partition(), cfg, env.options(), testing::manual_clock_ref{clk}};
        append_keyed(l, 30, 7);
        compaction::stats st;
        compaction::options o;
        o.now_ms = t0;
        o.read_chunk_bytes = 256;
        REQUIRE_FALSE(compaction::clean<test_log<backend>>([&](auto&& f) { ++steps; return f(l); }, o, st));
        REQUIRE(st.segments_rewritten > 1);
    }
    REQUIRE(steps > 10);
    for (std::size_t k = 1; k <= steps; ++k) {
        INFO("power lost before step " << k << " of " << steps);
        temp_dir d;
        backend_env<backend> env(k);
        testing::manual_clock clk;
        std::vector<rec> all;
        offset sealed_end{0}, end{0};
        {
            test_log<backend> l{d.partition(), cfg, env.options(), testing::manual_clock_ref{clk}};
            all = append_keyed(l, 30, 7);
            REQUIRE_FALSE(l.flush());
            sealed_end = l.segment_base_offsets().back();
            end = l.log_end_offset();
            std::size_t step = 0;
            compaction::stats st;
            compaction::options o;
            o.now_ms = t0;
            o.read_chunk_bytes = 256;
            (void)compaction::clean<test_log<backend>>(
                [&](auto&& f) {
                    if (++step == k) env.ctl->power_loss(testing::crash_mode::torn_prefix);
                    return f(l);
                },
                o, st);
        }
        test_log<backend> l{d.partition(), cfg, env.options(), testing::manual_clock_ref{clk}};
        CHECK(l.log_end_offset() == end);
        const auto rs = records_of(l);
        // Every record left is one that was written, at its offset, and each key's newest is there.
        std::map<offset, rec> by_offset;
        for (const auto& r : all) by_offset[r.at] = r;
        for (const auto& r : rs) CHECK(by_offset[r.at] == r);
        const auto must = expected_after(all, sealed_end);
        std::set<std::int64_t> have;
        for (const auto& r : rs) have.insert(r.at.value());
        std::map<std::string, offset> newest;
        for (const auto& r : all) newest[*r.key] = r.at;
        for (const auto& [key, at] : newest) CHECK(have.count(at.value()) == 1);
        for (const auto& r : must) CHECK(have.count(r.at.value()) == 1);
    }
}
