// The one exponential backoff with jitter that every retry in gregor uses (the producer's retries,
// a client connection's reconnects), so they all behave as Java's ExponentialBackoff does.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace gregor {

/// The wait before attempt number `attempt` (1 = the first retry): base * 2^(attempt-1), capped at
/// `max` (at least `base`), then scaled by a factor in [1-jitter, 1+jitter] picked by `unit` (a
/// number in [0, 1), e.g. from the caller's random generator).
inline std::chrono::nanoseconds exponential_backoff(std::int32_t attempt, std::chrono::nanoseconds base,
                                                    std::chrono::nanoseconds max, double unit,
                                                    double jitter = 0.2) noexcept {
    if (max < base) max = base;
    double ns = static_cast<double>(base.count());
    for (std::int32_t i = 1; i < attempt && ns < static_cast<double>(max.count()); ++i) ns *= 2;
    ns = std::min(ns, static_cast<double>(max.count()));
    ns *= 1.0 - jitter + 2.0 * jitter * std::clamp(unit, 0.0, 1.0);
    // A configured maximum of years would not fit int64 nanoseconds: saturate, never overflow.
    constexpr double most = 9.0e18;
    return std::chrono::nanoseconds(static_cast<std::int64_t>(std::min(ns, most)));
}

} // namespace gregor
