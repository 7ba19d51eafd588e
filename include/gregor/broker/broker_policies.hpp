// The compile-time choices of a broker, as one bundle with defaults so a user overrides only what
// they care about:
//
//   using my_broker = gregor::broker<gregor::broker_policies<gregor::storage::file_backend,
//                                                            gregor::flush::every_messages>>;
//
// or, by name, deriving from the defaults:
//
//   struct my_policies : gregor::default_broker_policies {
//       using storage_backend = gregor::storage::file_backend;
//       using durability = gregor::durability::fsync_before_ack;
//   };
#pragma once

#include <gregor/core/clock.hpp>
#include <gregor/storage/backend.hpp>
#include <gregor/storage/flush.hpp>

namespace gregor {

/// When an acknowledged produce (acks=1 or all) may be answered, relative to the disk.
namespace durability {
/// Kafka's default: answer once the batch is in the page cache (and, for acks=all, on the ISR);
/// durability comes from replication, and the flush policy decides when the OS is told to sync.
struct page_cache {
    static constexpr bool flush_before_ack = false;
};
/// Answer only after the flushed offset covers the batch (fsync before ack), whatever the flush
/// policy: the choice for a single node that must not lose acknowledged records on power loss.
struct fsync_before_ack {
    static constexpr bool flush_before_ack = true;
};
} // namespace durability

template <typename D>
concept durability_policy = requires {
    { D::flush_before_ack } -> std::convertible_to<bool>;
};

template <typename StorageBackend = storage::memory_backend, typename FlushPolicy = flush::never,
          typename Durability = durability::page_cache, typename Clock = system_clock>
struct broker_policies {
    using storage_backend = StorageBackend;
    using flush_policy = FlushPolicy;
    using durability = Durability;
    using clock_type = Clock;
};

struct default_broker_policies : broker_policies<> {};

} // namespace gregor
