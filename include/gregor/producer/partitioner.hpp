// Partitioner policies: which partition a record without an explicit partition goes to.
//
//   partitioners::uniform_sticky   (default) keyed: Java murmur2; null key: stay on one partition
//                                  until about batch.size bytes went there, then switch (KIP-794)
//   partitioners::sticky           keyed: Java murmur2; null key: stay on one partition until its
//                                  batch is full and a new one would be opened, then switch (KIP-480)
//   partitioners::round_robin      every record to the next partition, keys ignored
//   partitioners::explicit_only    records must name their partition (send fails otherwise)
//
// Keyed placement is Java's: toPositive(murmur2(key)) % partition_count with
// toPositive(x) = x & 0x7fffffff (not abs()), so gregor puts a key where the Java client,
// kafkajs and librdkafka's murmur2_random do (docs/protocol.md §9.1).
//
// A partitioner is a class with
//   std::int32_t partition(const gregor::partition_context&, topic_state&)
// where `topic_state` is the partitioner's nested `topic_state` type (one per topic, owned by the
// producer) or `partitioners::no_state` when it declares none. It may also provide the hooks
//   void on_new_batch(const partition_context&, topic_state&, std::int32_t full_partition)
//       called when a keyless record's partition had to open a new batch; the producer then asks
//       partition() once more, so a sticky partitioner can move on (KIP-480);
//   void on_append(const partition_context&, topic_state&, std::int32_t partition, std::size_t bytes)
//       called after a keyless record was appended.
// A partitioner may be constructed from `const producer_config&` (batch.size,
// partitioner.ignore.keys); otherwise it is default-constructed.
//
// Thread-safety: the producer calls a partitioner only with its accumulator lock held, so a
// partitioner needs no synchronisation of its own.
#pragma once

#include <gregor/core/buffer.hpp>
#include <gregor/producer/producer_config.hpp>

#include <concepts>
#include <cstdint>
#include <optional>
#include <random>
#include <string_view>
#include <type_traits>

namespace gregor {

/// What a partitioner sees of a record.
struct partition_context {
    std::string_view topic;
    std::optional<bytes_view> key; // serialized key; nullopt for a null key
    std::int32_t partition_count = 0;
    std::size_t record_bytes = 0; // encoded size of the record (for byte-counting partitioners)
};

namespace partitioners {

/// Kafka's `Utils.murmur2`: MurmurHash2, 32 bits, seed 0x9747b28c, little-endian words.
constexpr std::int32_t murmur2(bytes_view data) noexcept {
    constexpr std::uint32_t seed = 0x9747b28cu;
    constexpr std::uint32_t m = 0x5bd1e995u;
    constexpr int r = 24;
    const auto length = static_cast<std::uint32_t>(data.size());
    std::uint32_t h = seed ^ length;
    const std::size_t words = data.size() / 4;
    for (std::size_t i = 0; i < words; ++i) {
        const std::size_t i4 = i * 4;
        std::uint32_t k = static_cast<std::uint32_t>(data[i4]) | (static_cast<std::uint32_t>(data[i4 + 1]) << 8) |
                          (static_cast<std::uint32_t>(data[i4 + 2]) << 16) |
                          (static_cast<std::uint32_t>(data[i4 + 3]) << 24);
        k *= m;
        k ^= k >> r;
        k *= m;
        h *= m;
        h ^= k;
    }
    const std::size_t tail = data.size() & ~std::size_t{3};
    switch (data.size() % 4) {
    case 3: h ^= static_cast<std::uint32_t>(data[tail + 2]) << 16; [[fallthrough]];
    case 2: h ^= static_cast<std::uint32_t>(data[tail + 1]) << 8; [[fallthrough]];
    case 1:
        h ^= static_cast<std::uint32_t>(data[tail]);
        h *= m;
        break;
    default: break;
    }
    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return static_cast<std::int32_t>(h);
}

/// Kafka's `Utils.toPositive`: masks the sign bit (abs() would map some keys elsewhere).
constexpr std::int32_t to_positive(std::int32_t v) noexcept { return v & 0x7fffffff; }

/// The partition Java's default partitioner gives a keyed record.
constexpr std::int32_t murmur2_partition(bytes_view key, std::int32_t partition_count) noexcept {
    return to_positive(murmur2(key)) % partition_count;
}

/// The state of a partitioner that keeps none.
struct no_state {};

namespace detail {
/// A small fast generator for picking sticky partitions (quality is irrelevant here).
class xorshift {
public:
    xorshift() : s_(std::random_device{}() | 1u) {}
    explicit xorshift(std::uint64_t seed) : s_(seed | 1u) {}
    std::uint32_t next() noexcept {
        s_ ^= s_ << 13;
        s_ ^= s_ >> 7;
        s_ ^= s_ << 17;
        return static_cast<std::uint32_t>(s_ >> 16);
    }
    /// A value in [0, n) different from `avoid` when n > 1.
    std::int32_t pick(std::int32_t n, std::int32_t avoid) noexcept {
        if (n <= 1) return 0;
        if (avoid < 0 || avoid >= n) return static_cast<std::int32_t>(next() % static_cast<std::uint32_t>(n));
        const auto r = static_cast<std::int32_t>(next() % static_cast<std::uint32_t>(n - 1));
        return r >= avoid ? r + 1 : r;
    }

private:
    std::uint64_t s_;
};
} // namespace detail

/// KIP-480 sticky partitioner (Java 2.4-3.2 default): keyed records by murmur2; keyless records
/// stick to one partition until that partition needs a new batch, then move to another one.
class sticky {
public:
    struct topic_state {
        std::int32_t current = -1;
    };
    sticky() = default;
    explicit sticky(std::uint64_t seed) : rng_(seed) {}

    std::int32_t partition(const partition_context& c, topic_state& s) noexcept {
        if (c.key) return murmur2_partition(*c.key, c.partition_count);
        if (s.current < 0 || s.current >= c.partition_count) s.current = rng_.pick(c.partition_count, -1);
        return s.current;
    }
    void on_new_batch(const partition_context& c, topic_state& s, std::int32_t full_partition) noexcept {
        if (s.current == full_partition) s.current = rng_.pick(c.partition_count, full_partition);
    }

private:
    detail::xorshift rng_;
};

/// KIP-794 uniform sticky partitioner (Java 3.3+ built-in default, without the adaptive
/// weighting): keyed records by murmur2 (unless partitioner.ignore.keys); keyless records stick to
/// a partition until batch.size bytes were produced to it, then move to another one.
class uniform_sticky {
public:
    struct topic_state {
        std::int32_t current = -1;
        std::size_t produced = 0;
    };
    uniform_sticky() = default;
    explicit uniform_sticky(const producer_config& cfg)
            : switch_bytes_(static_cast<std::size_t>(cfg.batch_size > 0 ? cfg.batch_size : 1)),
              ignore_keys_(cfg.partitioner_ignore_keys) {}
    uniform_sticky(std::size_t switch_bytes, bool ignore_keys, std::uint64_t seed)
            : switch_bytes_(switch_bytes ? switch_bytes : 1), ignore_keys_(ignore_keys), rng_(seed) {}

    std::int32_t partition(const partition_context& c, topic_state& s) noexcept {
        if (c.key && !ignore_keys_) return murmur2_partition(*c.key, c.partition_count);
        if (s.current < 0 || s.current >= c.partition_count) {
            s.current = rng_.pick(c.partition_count, -1);
            s.produced = 0;
        }
        return s.current;
    }
    void on_append(const partition_context& c, topic_state& s, std::int32_t p, std::size_t bytes) noexcept {
        if (p != s.current) return;
        s.produced += bytes;
        if (s.produced >= switch_bytes_) {
            s.current = rng_.pick(c.partition_count, s.current);
            s.produced = 0;
        }
    }

private:
    std::size_t switch_bytes_ = 16384;
    bool ignore_keys_ = false;
    detail::xorshift rng_;
};

/// Every record (keyed or not) to the next partition in turn, per topic.
class round_robin {
public:
    struct topic_state {
        std::uint32_t next = 0;
    };
    std::int32_t partition(const partition_context& c, topic_state& s) noexcept {
        return static_cast<std::int32_t>(s.next++ % static_cast<std::uint32_t>(c.partition_count));
    }
};

/// Placement is the application's business: a record without a partition is rejected
/// (send() fails with local_error::invalid_argument).
struct explicit_only {
    static constexpr bool requires_explicit_partition = true;
    std::int32_t partition(const partition_context&, no_state&) const noexcept { return -1; }
};

} // namespace partitioners

namespace producer_detail {
template <typename P>
struct partitioner_state {
    using type = partitioners::no_state;
};
template <typename P>
requires requires { typename P::topic_state; }
struct partitioner_state<P> {
    using type = typename P::topic_state;
};
} // namespace producer_detail

/// The per-topic state type of partitioner P.
template <typename P>
using partitioner_state_t = typename producer_detail::partitioner_state<P>::type;

template <typename P>
concept partitioner = std::default_initializable<partitioner_state_t<P>> &&
    requires(P& p, const partition_context& c, partitioner_state_t<P>& s) {
    { p.partition(c, s) } -> std::convertible_to<std::int32_t>;
};

static_assert(partitioner<partitioners::sticky> && partitioner<partitioners::uniform_sticky> &&
              partitioner<partitioners::round_robin> && partitioner<partitioners::explicit_only>);

} // namespace gregor
