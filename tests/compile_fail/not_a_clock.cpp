// A type with now() but no wall_ms() is not a gregor::clock: a template constrained on the concept
// must reject it, and the diagnostic must name the missing member.
#include <gregor/core/clock.hpp>

struct half_clock {
    gregor::time_point now() const { return {}; }
};

template <gregor::clock C>
std::int64_t stamp(const C& c) {
    return c.wall_ms();
}

int main() { return static_cast<int>(stamp(half_clock{})); }
