// Time as the library sees it. Components take a clock policy so tests can drive time by hand
// (gregor/testing/manual_clock.hpp) instead of sleeping.
#pragma once

#include <chrono>
#include <concepts>
#include <cstdint>

namespace gregor {

using duration = std::chrono::nanoseconds;
using time_point = std::chrono::time_point<std::chrono::steady_clock, duration>;

/// A clock gives monotonic time for deadlines and wall time (ms since epoch) for record timestamps.
template <typename C>
concept clock = requires(const C& c) {
    { c.now() } -> std::convertible_to<time_point>;
    { c.wall_ms() } -> std::convertible_to<std::int64_t>;
};

/// The real clocks. Thread-safe.
struct system_clock {
    time_point now() const noexcept { return std::chrono::steady_clock::now(); }
    std::int64_t wall_ms() const noexcept {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
    }
};
static_assert(clock<system_clock>);

inline std::chrono::milliseconds ms(std::int64_t v) noexcept { return std::chrono::milliseconds{v}; }

} // namespace gregor
