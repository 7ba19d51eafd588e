// A clock that moves only when a test says so, for deterministic timeout and linger tests.
// advance() is thread-safe; readers see the new time after it returns.
#pragma once

#include <gregor/core/clock.hpp>

#include <atomic>

namespace gregor::testing {

class manual_clock {
public:
    explicit manual_clock(std::int64_t wall_start_ms = 1'700'000'000'000) noexcept : wall_start_(wall_start_ms) {}
    time_point now() const noexcept { return time_point{duration{ns_.load(std::memory_order_acquire)}}; }
    std::int64_t wall_ms() const noexcept { return wall_start_ + ns_.load(std::memory_order_acquire) / 1'000'000; }
    void advance(duration d) noexcept { ns_.fetch_add(d.count(), std::memory_order_acq_rel); }

private:
    std::int64_t wall_start_;
    std::atomic<std::int64_t> ns_{0};
};

/// Shares one manual clock between components that each hold their clock by value.
class manual_clock_ref {
public:
    explicit manual_clock_ref(manual_clock& c) noexcept : c_(&c) {}
    time_point now() const noexcept { return c_->now(); }
    std::int64_t wall_ms() const noexcept { return c_->wall_ms(); }

private:
    manual_clock* c_;
};
static_assert(clock<manual_clock_ref>);

} // namespace gregor::testing
