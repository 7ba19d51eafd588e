// Acks policies: how much of the broker's work a produce request waits for (Kafka's `acks`).
//
//   acks::from_config  (default) the `acks` property of producer_config (Kafka default: all)
//   acks::none         0: fire and forget; records complete when handed to the transport, with
//                      offset -1, and nothing is retried (the broker never answers)
//   acks::leader       1: the leader appended it; lost if the leader dies before followers copy it
//   acks::all          -1: every in-sync replica has it (required by idempotence)
//
// A fixed policy takes precedence over the `acks` property (which it ignores); enable.idempotence
// then follows from it (set explicitly to true with acks::leader or acks::none, it is rejected at
// construction). An acks policy is a class with `static constexpr std::int16_t value` (0, 1 or
// -1), or acks::from_config.
#pragma once

#include <concepts>
#include <cstdint>

namespace gregor {
namespace acks {

struct none {
    static constexpr std::int16_t value = 0;
};
struct leader {
    static constexpr std::int16_t value = 1;
};
struct all {
    static constexpr std::int16_t value = -1;
};
/// Read `acks` from producer_config at construction.
struct from_config {};

} // namespace acks

template <typename A>
concept acks_policy = std::same_as<A, acks::from_config> || requires {
    { A::value } -> std::convertible_to<std::int16_t>;
};

static_assert(acks_policy<acks::none> && acks_policy<acks::leader> && acks_policy<acks::all> &&
              acks_policy<acks::from_config>);

} // namespace gregor
