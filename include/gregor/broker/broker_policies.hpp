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

/// How the broker checks a compressed batch before storing it (docs/compression.md). Either way
/// the header and CRC are checked, the codec must be one this build has, and a topic whose
/// compression.type names a codec gets its batches re-compressed (which decompresses them).
namespace compressed_batches {
/// Kafka's LogValidator: decompress and walk every record (lengths, count, offset deltas) and take
/// maxTimestamp from the records. A batch that does not decompress is refused (CORRUPT_MESSAGE).
struct validate_records {
    static constexpr bool decompress = true;
};
/// Redpanda's choice: header and CRC only; the producer's bytes and its maxTimestamp are stored as
/// sent, and the broker never pays for decompression. A client that compresses garbage under a
/// correct CRC gets it stored, and its consumers fail on it.
struct header_only {
    static constexpr bool decompress = false;
};
} // namespace compressed_batches

template <typename D>
concept durability_policy = requires {
    { D::flush_before_ack } -> std::convertible_to<bool>;
};

template <typename StorageBackend = storage::memory_backend, typename FlushPolicy = flush::never,
          typename Durability = durability::page_cache, typename Clock = system_clock,
          typename CompressedBatches = compressed_batches::validate_records>
struct broker_policies {
    using storage_backend = StorageBackend;
    using flush_policy = FlushPolicy;
    using durability = Durability;
    using clock_type = Clock;
    using compressed_batches = CompressedBatches;
};

namespace broker_detail {
/// Whether `Policies` wants compressed batches decompressed to validate them (the default).
template <typename Policies>
constexpr bool decompress_to_validate() noexcept {
    if constexpr (requires { Policies::compressed_batches::decompress; })
        return Policies::compressed_batches::decompress;
    else
        return true;
}
} // namespace broker_detail

struct default_broker_policies : broker_policies<> {};

} // namespace gregor
