// The backends on their own, the zero-copy read contract, io_uring's availability error, the
// configuration parser and the flush policies.
#include "storage_test_util.hpp"

#include <gregor/storage/backend.hpp>
#include <gregor/storage/flush.hpp>
#include <gregor/storage/log.hpp>
#include <gregor/storage/log_config.hpp>
#include <gregor/testing/crashy_storage.hpp>

#include <catch2/catch.hpp>

#include <cstddef>
#include <cstring>

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace gregor;
using namespace gregor::test;

static_assert(storage::storage_backend<testing::crashy_storage<storage::memory_backend>>);
static_assert(storage::storage_backend<testing::crashy_storage<storage::file_backend>>);
static_assert(!storage::storage_backend<int>);
static_assert(storage::flush_policy<flush::every_interval>);
static_assert(!storage::flush_policy<int>);
static_assert(storage::memory_backend::persistent == false && storage::file_backend::persistent);
static_assert(std::is_same_v<storage::default_backend, storage::file_backend>);

TEMPLATE_LIST_TEST_CASE("a backend writes at positions, truncates, and replaces whole files", "[backend]",
                        all_backends) {
    temp_dir d;
    backend_env<TestType> env;
    TestType b(d.partition(), env.options());
    std::error_code ec;
    auto f = b.open("00000000000000000000.log", ec);
    REQUIRE_FALSE(ec);
    CHECK(b.size(f) == 0);
    REQUIRE_FALSE(b.append(f, 0, as_bytes("hello "), false));
    REQUIRE_FALSE(b.append(f, 6, as_bytes("world"), true));
    CHECK(b.size(f) == 11);
    byte_buffer scratch;
    auto v = b.read(f, 0, 100, scratch, ec);
    REQUIRE_FALSE(ec);
    std::string got(as_string_view(v));
    while (got.size() < 11) { // a backend may stop at the end of one append
        v = b.read(f, got.size(), 100, scratch, ec);
        REQUIRE(!v.empty());
        got += as_string_view(v);
    }
    CHECK(got == "hello world");
    // Writing below the end replaces what followed.
    REQUIRE_FALSE(b.append(f, 6, as_bytes("there"), false));
    REQUIRE_FALSE(b.truncate(f, 8));
    CHECK(b.size(f) == 8);
    REQUIRE_FALSE(b.write_file("x.index", as_bytes("abc")));
    byte_buffer out;
    REQUIRE_FALSE(b.read_file("x.index", out));
    CHECK(as_string_view(out.view()) == "abc");
    CHECK(b.read_file("missing", out) == std::errc::no_such_file_or_directory);
    auto names = b.list(ec);
    std::sort(names.begin(), names.end());
    CHECK(names == std::vector<std::string>{"00000000000000000000.log", "x.index"});
    REQUIRE_FALSE(b.remove("x.index"));
    REQUIRE_FALSE(b.remove("x.index")); // absent is fine
    CHECK(b.list(ec).size() == 1);
}

TEST_CASE("memory reads stay valid and unchanged while appends, truncation and retention go on", "[backend]") {
    temp_dir d;
    backend_env<storage::memory_backend> env; // 4 KiB chunks
    testing::manual_clock clk;
    test_log<storage::memory_backend> l{d.partition(), small_config(1 << 20, 100), env.options(),
                                        testing::manual_clock_ref{clk}};
    const auto first = append_batches(l, 50, 3, 40);
    const auto r = l.read(offset{0}, 1 << 20, l.log_end_offset());
    // Batches never straddle chunks, so a read is several slices, each whole batches.
    CHECK(r.slices.size() > 1);
    for (const auto& s : r.slices) {
        CHECK_FALSE(s.is_file());
        CHECK(s.length == s.bytes.size());
        wire::batch_splitter sp(s.bytes);
        while (sp.next()) {}
        CHECK(sp.remainder().empty());
    }
    std::vector<std::byte> snapshot;
    for (const auto& s : r.slices) snapshot.insert(snapshot.end(), s.bytes.begin(), s.bytes.end());
    // Many more appends (new chunks), a truncation into the read's range and new appends there.
    append_batches(l, 500, 3, 40);
    REQUIRE_FALSE(l.truncate_to(offset{60}));
    append_batches(l, 100, 3, 90);
    std::vector<std::byte> again;
    for (const auto& s : r.slices) again.insert(again.end(), s.bytes.begin(), s.bytes.end());
    CHECK(again == snapshot);
    byte_buffer expected;
    for (const auto& b : first) expected.append(b.view());
    CHECK(std::equal(again.begin(), again.end(), expected.view().begin(), expected.view().end()));
}

TEMPLATE_LIST_TEST_CASE("file slices are ranges of an fd that stays open after the segment is deleted", "[backend]",
                        all_backends) {
    if constexpr (TestType::persistent) {
        temp_dir d;
        testing::manual_clock clk;
        auto cfg = small_config(400, 100);
        cfg.retention_bytes = 0;
        test_log<TestType> l{d.partition(), cfg, {}, testing::manual_clock_ref{clk}};
        const auto batches = append_batches(l, 10, 2);
        const auto r = l.read(offset{0}, 1 << 20, l.log_end_offset());
        REQUIRE(r.slices.size() >= 2);
        l.enforce_retention();
        CHECK_FALSE(std::filesystem::exists(d.partition() / log_name(0)));
        std::size_t n = 0;
        for (const auto& s : r.slices) {
            REQUIRE(s.is_file());
            std::vector<std::byte> buf(s.length);
            REQUIRE(::pread(s.fd, buf.data(), s.length, static_cast<off_t>(s.file_position)) ==
                    static_cast<ssize_t>(s.length));
            wire::batch_splitter sp{bytes_view{buf}};
            while (auto b = sp.next()) {
                REQUIRE(n < batches.size());
                CHECK(std::equal(b->begin(), b->end(), batches[n].view().begin(), batches[n].view().end()));
                ++n;
            }
        }
        CHECK(n == batches.size());
    }
}

#if GREGOR_HAS_URING
namespace {
/// In a child process, make io_uring_setup fail as a container's seccomp profile does.
bool deny_io_uring() {
    sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog prog{static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
    return ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 && ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0;
}
} // namespace

TEST_CASE("opening a uring log where io_uring is unavailable fails with a clear error", "[uring]") {
    temp_dir d;
    int pipefd[2];
    REQUIRE(::pipe(pipefd) == 0);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::close(pipefd[0]);
        std::string what = "no exception";
        if (!deny_io_uring()) {
            what = "seccomp unavailable";
        } else {
            try {
                storage::log<storage::uring_backend> l{d.partition(), {}};
            } catch (const std::system_error& e) {
                what = e.what();
            }
        }
        (void)!::write(pipefd[1], what.data(), what.size());
        ::_exit(0);
    }
    ::close(pipefd[1]);
    std::string what;
    char buf[512];
    for (ssize_t n; (n = ::read(pipefd[0], buf, sizeof buf)) > 0;) what.append(buf, static_cast<std::size_t>(n));
    ::close(pipefd[0]);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    if (what == "seccomp unavailable") {
        WARN("seccomp filters are not allowed here; the io_uring availability error was not exercised");
        return;
    }
    INFO(what);
    CHECK(what.find("io_uring is unavailable") != std::string::npos);
    CHECK(what.find("file_backend") != std::string::npos);
}
#endif

TEST_CASE("log_config reads Kafka properties and rejects unknown keys and bad values naming the key", "[config]") {
    const auto c = storage::log_config::from_properties({{"log.segment.bytes", "1048576"},
                                                         {"log.roll.hours", "2"},
                                                         {"log.retention.minutes", "30"},
                                                         {"retention.bytes", "-1"},
                                                         {"index.interval.bytes", "0"},
                                                         {"log.flush.interval.messages", "10000"},
                                                         {"flush.ms", "250"}});
    CHECK(c.segment_bytes == 1048576);
    CHECK(c.segment_ms == 7'200'000);
    CHECK(c.retention_ms == 1'800'000);
    CHECK(c.retention_bytes == -1);
    CHECK(c.index_interval_bytes == 0);
    CHECK(c.flush_interval_messages == 10000);
    CHECK(c.flush_interval_ms == 250);
    // *.ms wins over *.hours whatever the order.
    CHECK(
        storage::log_config::from_properties({{"log.retention.hours", "1"}, {"log.retention.ms", "5"}}).retention_ms ==
        5);
    const storage::log_config defaults;
    CHECK(defaults.segment_bytes == 1073741824);
    CHECK(defaults.retention_ms == 604800000);
    CHECK(defaults.index_interval_bytes == 4096);
    CHECK_THROWS_WITH(storage::log_config::from_properties({{"log.segment.bites", "1"}}),
                      Catch::Contains("log.segment.bites"));
    CHECK_THROWS_WITH(storage::log_config::from_properties({{"log.segment.bytes", "12x"}}),
                      Catch::Contains("log.segment.bytes"));
    CHECK_THROWS_WITH(storage::log_config::from_properties({{"log.segment.bytes", "4294967296"}}),
                      Catch::Contains("log.segment.bytes"));
    CHECK_THROWS_WITH(storage::log_config::from_properties({{"log.flush.interval.messages", "0"}}),
                      Catch::Contains("log.flush.interval.messages"));
    storage::log_config bad;
    bad.segment_bytes = 1ull << 32;
    temp_dir d;
    CHECK_THROWS_AS((storage::log<storage::memory_backend>{d.partition(), bad}), std::invalid_argument);
}

TEST_CASE("flush policies decide from record counts and elapsed time", "[flush]") {
    storage::log_config cfg;
    cfg.flush_interval_messages = 5;
    cfg.flush_interval_ms = 100;
    const time_point t{};
    flush::never n{cfg};
    CHECK_FALSE(n.on_append(1'000'000, t));
    CHECK_FALSE(n.on_tick(t + ms(1'000'000)));
    flush::every_append a{cfg};
    CHECK(a.on_append(1, t));
    flush::every_messages m{cfg};
    CHECK_FALSE(m.on_append(4, t));
    CHECK(m.on_append(1, t));
    m.on_flushed(t);
    CHECK_FALSE(m.on_append(2, t));
    CHECK(m.on_append(10, t));
    flush::every_interval i{cfg};
    i.on_flushed(t);
    CHECK_FALSE(i.on_tick(t + ms(500))); // nothing pending
    CHECK_FALSE(i.on_append(1, t + ms(99)));
    CHECK_FALSE(i.on_tick(t + ms(99)));
    CHECK(i.on_tick(t + ms(100)));
    // The defaults (INT64_MAX) never flush and never overflow.
    flush::every_interval never_due{storage::log_config{}};
    never_due.on_flushed(t);
    CHECK_FALSE(never_due.on_append(1, t + std::chrono::hours(24 * 365 * 100)));
    flush::every_messages never_count{storage::log_config{}};
    CHECK_FALSE(never_count.on_append(std::numeric_limits<std::int32_t>::max(), t));
}

TEST_CASE("Kafka file names: 20-digit base offsets and topic-partition directories", "[backend]") {
    CHECK(storage::segment_file_name(offset{0}, ".log") == "00000000000000000000.log");
    CHECK(storage::segment_file_name(offset{1234567}, ".timeindex") == "00000000000001234567.timeindex");
    CHECK(storage::parse_segment_file_name("00000000000001234567.index", ".index") == offset{1234567});
    CHECK_FALSE(storage::parse_segment_file_name("00000000000001234567.index", ".log"));
    CHECK_FALSE(storage::parse_segment_file_name("0000000000000123456.log", ".log"));
    CHECK_FALSE(storage::parse_segment_file_name("0000000000000123456x.log", ".log"));
    CHECK_FALSE(storage::parse_segment_file_name("99999999999999999999.log", ".log"));
    CHECK(storage::partition_dir("/data", "orders", 3) == std::filesystem::path("/data/orders-3"));
}

TEST_CASE("memory chunks grow to huge-page sized mappings and keep batches whole", "[backend]") {
    temp_dir d;
    testing::manual_clock clk;
    storage::memory_backend::options o; // default chunks: up to 8 MiB, 2 MiB-aligned mappings
    test_log<storage::memory_backend> l{d.partition(), small_config(64u << 20, 4096), o,
                                        testing::manual_clock_ref{clk}};
    const auto batches = append_batches(l, 200, 30, 1000); // ~6 MiB
    const auto r = l.read(offset{0}, 64u << 20, l.log_end_offset());
    const auto hs = batches_of(r);
    REQUIRE(hs.size() == 200);
    CHECK(r.slices.size() < 12); // 64 KiB, 128 KiB, ... 4 MiB, 8 MiB chunks
    REQUIRE_FALSE(l.truncate_to(offset{3000}));
    append_batches(l, 50, 30, 1000);
    const auto again = batches_of(r); // the old read is unchanged
    CHECK(again.size() == 200);
    CHECK(again.back().next_offset() == offset{6000});
    CHECK(batches_of(l.read(offset{0}, 64u << 20, l.log_end_offset())).size() == 150);
}
