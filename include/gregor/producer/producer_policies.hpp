// The compile-time choices of a producer, as one bundle with defaults; override by position
//
//   using my_producer = gregor::producer<gregor::producer_policies<
//       gregor::transport::in_process<my_broker>,   // how batches travel
//       gregor::partitioners::sticky,               // where keyless records go
//       gregor::batching::linger_or_size,           // when a batch is ready
//       gregor::acks::all>>;                        // what an answer waits for
//
// or by name, deriving from a bundle:
//
//   struct my_policies : gregor::producer_policies<gregor::transport::in_process<my_broker>> {
//       using partitioner = gregor::partitioners::round_robin;
//       using value_serializer = gregor::serializers::bytes;
//   };
//
// Kinds (each a concept next to its stock implementations):
//   transport         producer_transport   transport.hpp / transports.hpp   (no default)
//   partitioner       partitioner          partitioner.hpp   uniform_sticky (Java's default)
//   batching          batching_policy      batching.hpp      linger_or_size
//   acks              acks_policy          acks.hpp          from_config (acks property, default all)
//   key_serializer    serializer           record.hpp        string (borrowed std::string_view)
//   value_serializer  serializer           record.hpp        string
//   clock_type        clock                core/clock.hpp    system_clock
#pragma once

#include <gregor/core/clock.hpp>
#include <gregor/producer/acks.hpp>
#include <gregor/producer/batching.hpp>
#include <gregor/producer/partitioner.hpp>
#include <gregor/producer/record.hpp>
#include <gregor/producer/transport.hpp>

namespace gregor {

template <typename Transport, typename Partitioner = partitioners::uniform_sticky,
          typename Batching = batching::linger_or_size, typename Acks = acks::from_config,
          typename KeySerializer = serializers::string, typename ValueSerializer = serializers::string,
          typename Clock = system_clock>
struct producer_policies {
    using transport = Transport;
    using partitioner = Partitioner;
    using batching = Batching;
    using acks = Acks;
    using key_serializer = KeySerializer;
    using value_serializer = ValueSerializer;
    using clock_type = Clock;
};

} // namespace gregor
