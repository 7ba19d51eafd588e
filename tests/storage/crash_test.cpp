// Simulated power loss (testing/crashy_storage.hpp) with each flush policy, on every backend:
// what was flushed survives, what was not may be lost, and recovery always yields a valid prefix.
#include "storage_test_util.hpp"

#include <gregor/storage/log.hpp>
#include <gregor/testing/crashy_storage.hpp>

#include <catch2/catch.hpp>

using namespace gregor;
using namespace gregor::test;

namespace {

constexpr testing::crash_mode modes[] = {testing::crash_mode::lose_unsynced, testing::crash_mode::torn_prefix};

/// After a crash: the log is a whole-batch prefix of what was appended, every batch valid.
template <typename Log>
void check_valid_prefix(const Log& l, const std::vector<byte_buffer>& appended) {
    const auto end = l.log_end_offset();
    CHECK(l.flushed_offset() == end);
    std::size_t n = 0;
    REQUIRE_FALSE(l.for_each_batch(offset{0}, [&](bytes_view b) {
        REQUIRE(n < appended.size());
        // Byte for byte what was appended at that place.
        REQUIRE(b.size() == appended[n].size());
        CHECK(std::equal(b.begin(), b.end(), appended[n].view().begin()));
        ++n;
    }));
    if (n == 0) {
        CHECK(end == offset{0});
    } else {
        CHECK(wire::batch_header::parse(appended[n - 1].view())->next_offset() == end);
    }
}

} // namespace

TEMPLATE_LIST_TEST_CASE("with flush::every_append a power loss loses nothing that append acknowledged", "[crash]",
                        all_backends) {
    using backend = testing::crashy_storage<TestType>;
    for (const auto mode : modes) {
        for (std::uint64_t seed = 1; seed <= 4; ++seed) {
            INFO("mode " << static_cast<int>(mode) << " seed " << seed);
            temp_dir d;
            backend_env<backend> env(seed);
            testing::manual_clock clk;
            std::vector<byte_buffer> appended;
            {
                test_log<backend, flush::every_append> l{d.partition(), small_config(800, 100), env.options(),
                                                         testing::manual_clock_ref{clk}};
                for (int i = 0; i < 25; ++i) {
                    appended.push_back(make_batch(l.log_end_offset(), 1 + i % 3));
                    REQUIRE_FALSE(l.append(appended.back().view()));
                    CHECK(l.flushed_offset() == l.log_end_offset());
                }
                env.ctl->power_loss(mode);
                // The machine is off: nothing more reaches the disk, and the log says so.
                CHECK(l.append(make_batch(l.log_end_offset(), 1).view()));
                CHECK(l.flush() == std::error_code{}); // nothing unflushed: no I/O needed
            }
            test_log<backend, flush::every_append> l{d.partition(), small_config(800, 100), env.options(),
                                                     testing::manual_clock_ref{clk}};
            CHECK(l.log_end_offset() == wire::batch_header::parse(appended.back().view())->next_offset());
            check_valid_prefix(l, appended);
        }
    }
}

TEMPLATE_LIST_TEST_CASE("with flush::never a power loss may lose the unflushed tail but keeps a valid prefix",
                        "[crash]", all_backends) {
    using backend = testing::crashy_storage<TestType>;
    for (const auto mode : modes) {
        for (std::uint64_t seed = 1; seed <= 6; ++seed) {
            INFO("mode " << static_cast<int>(mode) << " seed " << seed);
            temp_dir d;
            backend_env<backend> env(seed);
            testing::manual_clock clk;
            std::vector<byte_buffer> appended;
            offset flushed{0};
            offset end{0};
            {
                test_log<backend, flush::never> l{d.partition(), small_config(900, 100), env.options(),
                                                  testing::manual_clock_ref{clk}};
                for (int i = 0; i < 12; ++i) {
                    appended.push_back(make_batch(l.log_end_offset(), 2));
                    REQUIRE_FALSE(l.append(appended.back().view()));
                }
                REQUIRE_FALSE(l.flush());
                CHECK(l.flushed_offset() == l.log_end_offset());
                for (int i = 0; i < 15; ++i) {
                    appended.push_back(make_batch(l.log_end_offset(), 2));
                    REQUIRE_FALSE(l.append(appended.back().view()));
                }
                flushed = l.flushed_offset(); // the explicit flush, or a later roll
                end = l.log_end_offset();
                CHECK(flushed < end);
                env.ctl->power_loss(mode);
            }
            test_log<backend, flush::never> l{d.partition(), small_config(900, 100), env.options(),
                                              testing::manual_clock_ref{clk}};
            CHECK(l.log_end_offset() >= flushed);
            CHECK(l.log_end_offset() <= end);
            if (mode == testing::crash_mode::lose_unsynced) CHECK(l.log_end_offset() == flushed);
            check_valid_prefix(l, appended);
            // The log goes on from the recovered end.
            appended.resize(static_cast<std::size_t>(l.log_end_offset().value() / 2));
            for (int i = 0; i < 3; ++i) {
                appended.push_back(make_batch(l.log_end_offset(), 2));
                REQUIRE_FALSE(l.append(appended.back().view()));
            }
            REQUIRE_FALSE(l.flush());
            check_valid_prefix(l, appended);
        }
    }
}

TEMPLATE_LIST_TEST_CASE("with flush::every_messages the flushed offset survives a power loss", "[crash]",
                        all_backends) {
    using backend = testing::crashy_storage<TestType>;
    for (const auto mode : modes) {
        INFO("mode " << static_cast<int>(mode));
        temp_dir d;
        backend_env<backend> env(7);
        testing::manual_clock clk;
        auto cfg = small_config(1 << 20, 100);
        cfg.flush_interval_messages = 7;
        std::vector<byte_buffer> appended;
        offset flushed{0};
        {
            test_log<backend, flush::every_messages> l{d.partition(), cfg, env.options(),
                                                       testing::manual_clock_ref{clk}};
            std::int64_t pending = 0;
            for (int i = 0; i < 20; ++i) {
                appended.push_back(make_batch(l.log_end_offset(), 3));
                const auto syncs = env.ctl->syncs();
                REQUIRE_FALSE(l.append(appended.back().view()));
                pending += 3;
                if (pending >= 7) {
                    // The batch that reaches log.flush.interval.messages is synced with its write.
                    CHECK(l.flushed_offset() == l.log_end_offset());
                    CHECK(env.ctl->syncs() == syncs + 1);
                    pending = 0;
                } else {
                    CHECK(l.flushed_offset() < l.log_end_offset());
                    CHECK(env.ctl->syncs() == syncs);
                }
            }
            flushed = l.flushed_offset();
            CHECK(flushed == offset{54});
            env.ctl->power_loss(mode);
        }
        test_log<backend, flush::every_messages> l{d.partition(), cfg, env.options(), testing::manual_clock_ref{clk}};
        CHECK(l.log_end_offset() >= flushed);
        if (mode == testing::crash_mode::lose_unsynced) CHECK(l.log_end_offset() == flushed);
        check_valid_prefix(l, appended);
    }
}

TEMPLATE_LIST_TEST_CASE("with flush::every_interval tick flushes after log.flush.interval.ms and that survives",
                        "[crash]", all_backends) {
    using backend = testing::crashy_storage<TestType>;
    temp_dir d;
    backend_env<backend> env(3);
    testing::manual_clock clk;
    auto cfg = small_config(1 << 20, 100);
    cfg.flush_interval_ms = 1000;
    std::vector<byte_buffer> appended;
    offset flushed{0};
    {
        test_log<backend, flush::every_interval> l{d.partition(), cfg, env.options(), testing::manual_clock_ref{clk}};
        for (int i = 0; i < 5; ++i) {
            appended.push_back(make_batch(l.log_end_offset(), 2));
            REQUIRE_FALSE(l.append(appended.back().view()));
        }
        CHECK(l.flushed_offset() == offset{0});
        clk.advance(ms(999));
        l.tick();
        CHECK(l.flushed_offset() == offset{0});
        clk.advance(ms(1));
        l.tick();
        CHECK(l.flushed_offset() == offset{10});
        // An append after the interval has passed carries the sync itself.
        appended.push_back(make_batch(l.log_end_offset(), 2));
        REQUIRE_FALSE(l.append(appended.back().view()));
        CHECK(l.flushed_offset() == offset{10});
        clk.advance(ms(1000));
        appended.push_back(make_batch(l.log_end_offset(), 2));
        REQUIRE_FALSE(l.append(appended.back().view()));
        CHECK(l.flushed_offset() == offset{14});
        appended.push_back(make_batch(l.log_end_offset(), 2));
        REQUIRE_FALSE(l.append(appended.back().view()));
        flushed = l.flushed_offset();
        env.ctl->power_loss(testing::crash_mode::lose_unsynced);
    }
    test_log<backend, flush::every_interval> l{d.partition(), cfg, env.options(), testing::manual_clock_ref{clk}};
    CHECK(l.log_end_offset() == flushed);
    check_valid_prefix(l, appended);
}

TEMPLATE_LIST_TEST_CASE("a failing disk makes append and flush return errors and leaves the log consistent", "[crash]",
                        all_backends) {
    using backend = testing::crashy_storage<TestType>;
    temp_dir d;
    backend_env<backend> env;
    testing::manual_clock clk;
    std::vector<byte_buffer> appended;
    {
        test_log<backend, flush::every_append> l{d.partition(), small_config(600, 100), env.options(),
                                                 testing::manual_clock_ref{clk}};
        for (int i = 0; i < 8; ++i) {
            appended.push_back(make_batch(l.log_end_offset(), 2));
            REQUIRE_FALSE(l.append(appended.back().view()));
        }
        env.ctl->fail_io(true);
        const auto end = l.log_end_offset();
        for (int i = 0; i < 10; ++i) {
            const auto ec = l.append(make_batch(end, 2).view());
            CHECK(ec == make_error_code(local_error::io_error));
            CHECK(to_kafka(ec) == error_code::kafka_storage_error);
        }
        CHECK(l.log_end_offset() == end);
        env.ctl->fail_io(false);
        for (int i = 0; i < 8; ++i) {
            appended.push_back(make_batch(l.log_end_offset(), 2));
            REQUIRE_FALSE(l.append(appended.back().view()));
        }
        check_valid_prefix(l, appended);
    }
    test_log<backend, flush::every_append> l{d.partition(), small_config(600, 100), env.options(),
                                             testing::manual_clock_ref{clk}};
    CHECK(l.log_end_offset() == offset{32});
    check_valid_prefix(l, appended);
}
