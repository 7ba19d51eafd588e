// The producer's retry and idempotence rules, as small pure pieces the sender applies per batch:
// per-partition sequence bookkeeping, what to do with a batch after an answer, and the retry
// backoff. Kept apart from the sender so each rule is tested on its own.
//
// The rules (docs/protocol.md §6):
//   - Sequences are per partition, start at 0, and are stamped into a batch when it is first
//     sent (wire::batch_builder::seal with a producer_stamp). A retry resends the same bytes.
//   - A partition's batches are (re)sent in sequence order, and from its oldest unacknowledged
//     batch to its newest sent one there are at most max.in.flight (<= 5) batches, counted in
//     sequence order (batches acknowledged out of order still count until the oldest is). The broker
//     remembers the last 5 batches of each producer, so a resent batch that was in fact appended
//     is always recognised as a duplicate and answered with its original offset.
//   - OUT_OF_ORDER_SEQUENCE_NUMBER (or UNKNOWN_PRODUCER_ID) for the oldest unacknowledged batch of
//     a partition proves that batch (and so every later one) is not in the log: the sequence
//     cannot be resolved by retrying, so the partition bumps its epoch locally (sequences restart
//     at 0, the unacknowledged batches are renumbered in order) once it has no request
//     outstanding, and resends. The same answer for a later batch only means an earlier one has
//     not landed yet: retry it.
//   - Until the broker acknowledged a first batch for the current id/epoch, a partition has one
//     batch out at a time: a broker with no state for the id accepts any sequence (KIP-360), so
//     a second batch overtaking a lost first one would otherwise be appended ahead of it.
//   - The epoch is kept per partition (the broker keeps producer state per partition), so a bump
//     never renumbers a batch of another partition whose fate is still open.
//
// Thread-safety: none needed; the sender thread is the only user.
#pragma once

#include <gregor/core/backoff.hpp>
#include <gregor/core/clock.hpp>
#include <gregor/core/error.hpp>
#include <gregor/core/strong_types.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>

namespace gregor::producer_detail {

/// Idempotence state of one partition.
struct sequence_state {
    producer_id pid = no_producer_id;
    producer_epoch epoch = no_producer_epoch;
    sequence next{0};
    std::int64_t batches = 0;  // batches sequenced under this id/epoch (each gets the next ordinal)
    bool needs_bump = false;   // an unresolvable sequence was seen; bump when nothing is in flight
    bool awaiting_pid = false; // the epoch ran out; waiting for a fresh producer id
    // The broker acknowledged a batch of this id/epoch. Until then only one batch may be out: a
    // broker without state for an id accepts any first sequence (KIP-360), so a later batch
    // overtaking a lost first one would be appended ahead of it.
    bool confirmed = false;

    /// Adopts a producer id/epoch (a fresh one from InitProducerId): sequences restart at 0.
    void reset(producer_id id, producer_epoch e) noexcept {
        pid = id;
        epoch = e;
        next = sequence{0};
        batches = 0;
        needs_bump = false;
        awaiting_pid = false;
        confirmed = false;
    }
    /// The base sequence for a batch of `records` records; advances the next one (with wrap).
    sequence assign(std::int32_t records) noexcept {
        const sequence s = next;
        next = next.advanced(records);
        ++batches;
        return s;
    }
    /// Whether the batch with ordinal `k` (0 = first sequenced under this id/epoch) may be out
    /// while the oldest unacknowledged one has ordinal `oldest`: the span of batches the broker
    /// may have appended since the oldest must fit its 5-batch duplicate cache.
    [[nodiscard]] bool in_window(std::int64_t k, std::int64_t oldest, std::int32_t max_in_flight) const noexcept {
        return k - oldest < (confirmed ? max_in_flight : 1);
    }
    /// Local epoch bump. False when the epoch is exhausted (a new producer id is needed).
    bool bump() noexcept {
        if (epoch.value() >= std::numeric_limits<std::int16_t>::max() - 1) return false;
        epoch = producer_epoch{static_cast<std::int16_t>(epoch.value() + 1)};
        next = sequence{0};
        batches = 0;
        needs_bump = false;
        confirmed = false;
        return true;
    }
};

enum class answer_action : std::uint8_t {
    complete,        // success (offset known, or unknown for a legacy duplicate answer)
    retry,           // resend the same batch after a backoff
    bump_then_retry, // bump the partition's epoch, renumber, resend
    fail,            // report the error for every record of the batch
};

/// What to do with a batch after an answer (or a local request timeout, given as
/// REQUEST_TIMED_OUT). `oldest_unacked`: no earlier batch of the partition is unresolved.
/// `may_retry`: the retries budget allows another attempt.
constexpr answer_action classify_answer(error_code e, bool idempotent, bool oldest_unacked, bool may_retry) noexcept {
    if (e == error_code::none || e == error_code::duplicate_sequence_number) return answer_action::complete;
    if (idempotent && (e == error_code::out_of_order_sequence_number || e == error_code::unknown_producer_id))
        return oldest_unacked ? answer_action::bump_then_retry : answer_action::retry;
    if (retriable(e)) return may_retry ? answer_action::retry : answer_action::fail;
    return answer_action::fail;
}

/// Whether an answer suggests the producer's view of the partition's leader is stale.
constexpr bool needs_metadata_refresh(error_code e) noexcept {
    switch (e) {
    case error_code::unknown_topic_or_partition:
    case error_code::leader_not_available:
    case error_code::not_leader_or_follower:
    case error_code::fenced_leader_epoch:
    case error_code::unknown_leader_epoch:
    case error_code::kafka_storage_error:
    case error_code::network_exception: return true; // a lost connection: the leader may have moved
    default: return false;
    }
}

/// The producer's wait before retry number `attempt` (1 = first retry): core/backoff.hpp.
inline duration retry_backoff(std::int32_t attempt, std::chrono::milliseconds base, std::chrono::milliseconds max,
                              double unit, double jitter = 0.2) noexcept {
    return std::chrono::duration_cast<duration>(exponential_backoff(attempt, base, max, unit, jitter));
}

} // namespace gregor::producer_detail
