// Small timing helpers shared by the bench/ programs (not part of the installed library).
// Every figure is printed as one JSON line: {"name": ..., "value": ..., "unit": ...}, so
// scripts/bench.sh output can be grepped, diffed and pasted into notes as is.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string_view>

namespace gregor_bench {

/// Prints one figure as a JSON line. Names are plain identifiers, so they need no escaping.
inline void emit(std::string_view name, double value, std::string_view unit) {
    std::printf("{\"name\": \"%.*s\", \"value\": %.6g, \"unit\": \"%.*s\"}\n", static_cast<int>(name.size()),
                name.data(), value, static_cast<int>(unit.size()), unit.data());
    std::fflush(stdout);
}

/// Keeps a result alive so the optimiser cannot drop the work that produced it.
template <typename T>
inline void keep(const T& v) {
    asm volatile("" : : "r,m"(v) : "memory");
}

/// Seconds per call of `op`, the best of `rounds` rounds of at least `min_round` each. The best
/// round is the one least disturbed by other work on the machine (the figure we want to compare).
template <typename Op>
double best_seconds_per_call(Op&& op, int rounds = 7,
                             std::chrono::nanoseconds min_round = std::chrono::milliseconds(40)) {
    using clk = std::chrono::steady_clock;
    std::uint64_t calls = 1;
    for (;;) { // calibrate: how many calls fill one round
        const auto t0 = clk::now();
        for (std::uint64_t i = 0; i < calls; ++i) op();
        if (clk::now() - t0 >= min_round / 4 || calls >= (std::uint64_t{1} << 40)) break;
        calls *= 2;
    }
    calls *= 4;
    double best = 1e300;
    for (int r = 0; r < rounds; ++r) {
        const auto t0 = clk::now();
        for (std::uint64_t i = 0; i < calls; ++i) op();
        const double s = std::chrono::duration<double>(clk::now() - t0).count() / static_cast<double>(calls);
        if (s < best) best = s;
    }
    return best;
}

} // namespace gregor_bench
