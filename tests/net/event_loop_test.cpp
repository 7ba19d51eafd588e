#include "net_test_util.hpp"

#include <gregor/net/event_loop.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include <unistd.h>

using namespace gregor;
using namespace gregor::net;
using namespace gregor::net::testing;

TEST_CASE("work posted from many threads runs on the loop thread, in per-thread order", "[event_loop]") {
    event_loop loop;
    loop.start();
    waiter w;
    constexpr int threads = 4;
    constexpr int per_thread = 500;
    std::vector<std::vector<int>> seen(threads);
    int total = 0;
    bool all_on_loop = true;
    std::vector<std::thread> posters;
    for (int t = 0; t < threads; ++t) {
        posters.emplace_back([&, t] {
            for (int i = 0; i < per_thread; ++i) {
                loop.post([&, t, i] {
                    w.update([&] {
                        all_on_loop = all_on_loop && loop.in_loop_thread();
                        seen[t].push_back(i);
                        ++total;
                    });
                });
            }
        });
    }
    for (auto& p : posters) p.join();
    REQUIRE(w.wait([&] { return total == threads * per_thread; }));
    CHECK(all_on_loop);
    for (const auto& s : seen) {
        REQUIRE(s.size() == per_thread);
        for (int i = 0; i < per_thread; ++i) CHECK(s[static_cast<std::size_t>(i)] == i);
    }
    CHECK_FALSE(loop.in_loop_thread());
}

TEST_CASE("timers fire in deadline order and a cancelled timer never runs", "[event_loop]") {
    event_loop loop;
    loop.start();
    waiter w;
    std::vector<int> order;
    auto add = [&](int v) { w.update([&] { order.push_back(v); }); };
    loop.run_after(30ms, [&] { add(3); });
    loop.run_after(10ms, [&] { add(1); });
    auto cancelled = loop.run_after(20ms, [&] { add(99); });
    loop.run_after(20ms, [&] { add(2); });
    CHECK(cancelled.cancel());
    CHECK_FALSE(cancelled.cancel()); // second time: nothing to cancel
    REQUIRE(w.wait([&] { return order.size() == 3; }));
    CHECK(order == std::vector<int>{1, 2, 3});
    // A timer that already ran cannot be cancelled.
    std::atomic<bool> ran{false};
    auto t = loop.run_after(0ms, [&] { w.update([&] { ran = true; }); });
    REQUIRE(w.wait([&] { return ran.load(); }));
    CHECK_FALSE(t.cancel());
}

TEST_CASE("a timer cancelled from the loop thread before its deadline does not run", "[event_loop]") {
    event_loop loop;
    loop.start();
    waiter w;
    bool fired = false;
    bool done = false;
    loop.post([&] {
        auto t = loop.run_after(5ms, [&] { fired = true; });
        CHECK(t.cancel());
        // A later timer proves the loop went past the cancelled deadline.
        loop.run_after(20ms, [&] { w.update([&] { done = true; }); });
    });
    REQUIRE(w.wait([&] { return done; }));
    CHECK_FALSE(fired);
}

TEST_CASE("fd callbacks report readiness and stop after remove_fd", "[event_loop]") {
    event_loop loop;
    int fds[2];
    REQUIRE(::pipe2(fds, O_NONBLOCK | O_CLOEXEC) == 0);
    waiter w;
    int reads = 0;
    loop.add_fd(fds[0], io::readable, [&](std::uint32_t ev) {
        CHECK((ev & io::readable) != 0);
        char c;
        while (::read(fds[0], &c, 1) == 1) {}
        w.update([&] { ++reads; });
        loop.remove_fd(fds[0]); // from inside its own callback
    });
    CHECK(loop.watched_fds() == 1);
    loop.start();
    REQUIRE(::write(fds[1], "x", 1) == 1);
    REQUIRE(w.wait([&] { return reads == 1; }));
    // After removal, more data produces no callback; prove it with a posted marker.
    REQUIRE(::write(fds[1], "y", 1) == 1);
    bool marker = false;
    loop.post([&] { w.update([&] { marker = true; }); });
    REQUIRE(w.wait([&] { return marker; }));
    loop.run_and_wait([&] { CHECK(loop.watched_fds() == 0); });
    CHECK(reads == 1);
    ::close(fds[0]);
    ::close(fds[1]);
}

TEST_CASE("run on the caller's thread returns after stop from a callback", "[event_loop]") {
    event_loop loop;
    int ran = 0;
    loop.post([&] { ++ran; });
    loop.run_after(5ms, [&] {
        ++ran;
        loop.stop();
    });
    loop.run(); // bounded: the timer stops it
    CHECK(ran == 2);
    CHECK_FALSE(loop.running());
    // A stop() before run() makes run() return at once; posted work still runs on the way out.
    loop.post([&] { ++ran; });
    loop.stop();
    loop.run();
    CHECK(ran == 3);
}

TEST_CASE("run_and_wait executes on the loop thread, or inline when the loop is not running", "[event_loop]") {
    event_loop loop;
    bool inline_ok = false;
    loop.run_and_wait([&] { inline_ok = !loop.in_loop_thread(); });
    CHECK(inline_ok);
    loop.start();
    bool on_loop = false;
    loop.run_and_wait([&] { on_loop = loop.in_loop_thread(); });
    CHECK(on_loop);
    loop.stop();
    loop.join();
    CHECK_FALSE(loop.running());
}

TEST_CASE("a move-only task can be posted and queued work is destroyed with the loop", "[event_loop]") {
    auto token = std::make_shared<int>(5);
    std::weak_ptr<int> weak = token;
    {
        event_loop loop; // never run
        auto owned = std::make_unique<std::shared_ptr<int>>(std::move(token));
        loop.post([p = std::move(owned)] { (void)p; });
        CHECK_FALSE(weak.expired());
    }
    CHECK(weak.expired());
}

TEST_CASE("run_once waits at most its timeout, and a post from another thread or a timer ends the wait",
          "[event_loop]") {
    event_loop loop;
    using clk = std::chrono::steady_clock;
    // Nothing to do: returns after about the timeout, having run nothing.
    auto t0 = clk::now();
    CHECK(loop.run_once(std::chrono::milliseconds(30)) == 0);
    CHECK(clk::now() - t0 >= std::chrono::milliseconds(25));

    // A post from another thread wakes a long wait; the task runs on the calling thread.
    std::atomic<bool> ran{false};
    std::thread::id ran_on;
    std::thread poster([&] {
        loop.post([&] {
            ran_on = std::this_thread::get_id();
            ran = true;
        });
    });
    t0 = clk::now();
    for (int i = 0; i < 100 && !ran; ++i) loop.run_once(std::chrono::seconds(10));
    poster.join();
    CHECK(ran);
    CHECK(ran_on == std::this_thread::get_id());
    CHECK(clk::now() - t0 < std::chrono::seconds(5));
    CHECK(!loop.running()); // between calls the loop is not running

    // A due timer ends the wait and runs.
    bool fired = false;
    loop.run_after(std::chrono::milliseconds(20), [&] { fired = true; });
    t0 = clk::now();
    for (int i = 0; i < 100 && !fired; ++i) loop.run_once(std::chrono::seconds(10));
    CHECK(fired);
    CHECK(clk::now() - t0 < std::chrono::seconds(5));

    // While run() owns the loop, run_once is refused.
    loop.start();
    CHECK_THROWS_AS(loop.run_once(std::chrono::milliseconds(0)), std::logic_error);
}
