// Batching policies: when a batch is ready to be sent.
//
//   batching::linger_or_size  (default, Kafka's behaviour) a batch goes when it is full (the next
//                             record would not fit in batch.size) or linger.ms after its first record
//   batching::size_only       only full batches go; a partly filled batch waits for flush()/close()
//   batching::manual          nothing goes until flush() (or close()): the application decides
//                             when to pay for a request (full batches wait too, so size
//                             buffer.memory accordingly)
//
// A batching policy is a class with
//   std::size_t batch_size() const                     bytes at which a batch is closed
//   gregor::time_point ready_at(const batch_info&) const
// ready_at is asked when a batch is opened (full == false) and again when it is closed
// (full == true): time_point::min() means "now", time_point::max() "only on flush". It must
// depend only on the batch_info, so readiness can be scheduled instead of polled. A policy may
// be constructed from `const producer_config&`; otherwise it is default-constructed.
//
// Thread-safety: the producer calls the policy under its accumulator lock; const calls only.
#pragma once

#include <gregor/core/clock.hpp>
#include <gregor/producer/producer_config.hpp>

#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>

namespace gregor {

/// What a batching policy sees of a batch.
struct batch_info {
    time_point created{};       // when its first record was appended
    std::size_t size_bytes = 0; // encoded bytes so far (header included)
    std::int32_t record_count = 0;
    bool full = false; // closed because the next record did not fit
};

template <typename B>
concept batching_policy = requires(const B& b, const batch_info& i) {
    { b.batch_size() } -> std::convertible_to<std::size_t>;
    { b.ready_at(i) } -> std::same_as<time_point>;
};

namespace batching {

/// linger.ms / batch.size, as every Kafka client does it.
class linger_or_size {
public:
    linger_or_size() = default;
    explicit linger_or_size(const producer_config& c)
            : batch_size_(static_cast<std::size_t>(c.batch_size)), linger_(std::chrono::milliseconds{c.linger_ms}) {}
    linger_or_size(std::size_t batch_size, std::chrono::milliseconds linger)
            : batch_size_(batch_size), linger_(linger) {}

    [[nodiscard]] std::size_t batch_size() const noexcept { return batch_size_; }
    [[nodiscard]] time_point ready_at(const batch_info& i) const noexcept {
        return i.full ? time_point::min() : i.created + linger_;
    }

private:
    std::size_t batch_size_ = 16384;
    duration linger_ = std::chrono::milliseconds{5};
};

/// Full batches only (plus flush): for throughput-bound pipelines that never want a half batch.
class size_only {
public:
    size_only() = default;
    explicit size_only(const producer_config& c) : batch_size_(static_cast<std::size_t>(c.batch_size)) {}
    [[nodiscard]] std::size_t batch_size() const noexcept { return batch_size_; }
    [[nodiscard]] time_point ready_at(const batch_info& i) const noexcept {
        return i.full ? time_point::min() : time_point::max();
    }

private:
    std::size_t batch_size_ = 16384;
};

/// Explicit flush only: records accumulate (in batch.size batches) until flush() or close().
class manual {
public:
    manual() = default;
    explicit manual(const producer_config& c) : batch_size_(static_cast<std::size_t>(c.batch_size)) {}
    [[nodiscard]] std::size_t batch_size() const noexcept { return batch_size_; }
    [[nodiscard]] time_point ready_at(const batch_info&) const noexcept { return time_point::max(); }

private:
    std::size_t batch_size_ = 16384;
};

} // namespace batching

static_assert(batching_policy<batching::linger_or_size> && batching_policy<batching::size_only> &&
              batching_policy<batching::manual>);

} // namespace gregor
