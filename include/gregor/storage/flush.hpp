// The flush policy of storage::log: when appended batches are made durable (fdatasync). The
// numbers come from log_config; the policy is the compile-time choice of which rule applies.
//
//   flush::never           the OS writes back when it likes (Kafka's default); flush() on demand
//   flush::every_messages  after log.flush.interval.messages records since the last flush
//   flush::every_interval  once log.flush.interval.ms passed since the last flush (on append or tick)
//   flush::every_append    every batch is durable before append() returns
//   flush::by_config       Kafka's rule: whichever of the two intervals above comes first
//
// The log's flushed offset (everything below it is durable) is what an ack that demands
// durability waits for. Segment rolls and explicit flush() calls also count as flushes.
//
// A policy is asked before each batch is written (so the uring backend can link the sync to the
// write) and on every tick(). Thread-safety: owned by one log, called under its serialisation.
#pragma once

#include <gregor/core/clock.hpp>
#include <gregor/storage/log_config.hpp>

#include <chrono>
#include <concepts>
#include <cstdint>

namespace gregor::storage {

template <typename F>
concept flush_policy = std::constructible_from<F, const log_config&> &&
    requires(F& f, std::int64_t records, time_point now) {
    { f.on_append(records, now) } -> std::same_as<bool>; // before a batch of `records`: sync it?
    { f.on_tick(now) } -> std::same_as<bool>;            // periodic: flush what is pending now?
    f.on_flushed(now);                                   // any flush happened (resets the counters)
};

} // namespace gregor::storage

namespace gregor::flush {

using storage::flush_policy;

struct never {
    explicit never(const storage::log_config&) noexcept {}
    bool on_append(std::int64_t, time_point) noexcept { return false; }
    bool on_tick(time_point) noexcept { return false; }
    void on_flushed(time_point) noexcept {}
};

struct every_messages {
    explicit every_messages(const storage::log_config& c) noexcept : interval_(c.flush_interval_messages) {}
    bool on_append(std::int64_t records, time_point) noexcept {
        pending_ += records;
        return pending_ >= interval_;
    }
    bool on_tick(time_point) noexcept { return false; }
    void on_flushed(time_point) noexcept { pending_ = 0; }

private:
    std::int64_t interval_;
    std::int64_t pending_ = 0;
};

struct every_interval {
    explicit every_interval(const storage::log_config& c) noexcept : interval_ms_(c.flush_interval_ms) {}
    bool on_append(std::int64_t, time_point now) noexcept {
        pending_ = true;
        return due(now);
    }
    bool on_tick(time_point now) noexcept { return pending_ && due(now); }
    void on_flushed(time_point now) noexcept {
        last_ = now;
        pending_ = false;
    }

private:
    [[nodiscard]] bool due(time_point now) const noexcept {
        return std::chrono::duration_cast<std::chrono::milliseconds>(now - last_).count() >= interval_ms_;
    }
    std::int64_t interval_ms_;
    time_point last_{};
    bool pending_ = false;
};

struct every_append {
    explicit every_append(const storage::log_config&) noexcept {}
    bool on_append(std::int64_t, time_point) noexcept { return true; }
    bool on_tick(time_point) noexcept { return false; }
    void on_flushed(time_point) noexcept {}
};

/// Kafka's own rule: flush when either log.flush.interval.messages records are pending or
/// log.flush.interval.ms has passed since the last flush, whichever comes first. Both default to
/// "never" (Long.MAX_VALUE), so with default numbers this behaves like flush::never and the
/// numbers alone pick the behaviour at run time (what a broker program with -X properties needs).
struct by_config {
    explicit by_config(const storage::log_config& c) noexcept : messages_(c), interval_(c) {}
    bool on_append(std::int64_t records, time_point now) noexcept {
        const bool m = messages_.on_append(records, now);
        const bool t = interval_.on_append(records, now);
        return m || t;
    }
    bool on_tick(time_point now) noexcept { return interval_.on_tick(now); }
    void on_flushed(time_point now) noexcept {
        messages_.on_flushed(now);
        interval_.on_flushed(now);
    }

private:
    every_messages messages_;
    every_interval interval_;
};

static_assert(flush_policy<never>);
static_assert(flush_policy<by_config>);
static_assert(flush_policy<every_messages>);
static_assert(flush_policy<every_interval>);
static_assert(flush_policy<every_append>);

} // namespace gregor::flush
