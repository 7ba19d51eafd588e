// Producer metrics: `producer_stats` is a snapshot (plain numbers) taken by producer::metrics();
// `producer_detail::stats_counters` are the live counters behind it, updated per batch by the
// sender thread (per record only where a record is counted once at send()).
//
// Thread-safety: counters are relaxed atomics; a snapshot is consistent per field, not across
// fields.
#pragma once

#include <atomic>
#include <cstdint>

namespace gregor {

struct producer_stats {
    std::uint64_t records_sent = 0;     // send()/try_send() calls accepted into a batch
    std::uint64_t records_acked = 0;    // completed successfully
    std::uint64_t records_failed = 0;   // completed with an error (incl. timeouts, rejections at send)
    std::uint64_t records_rejected = 0; // refused by send()/try_send() (subset of records_failed)
    std::uint64_t batches_sent = 0;     // batches handed to the transport (retries included)
    std::uint64_t batches_acked = 0;
    std::uint64_t bytes_sent = 0;       // batch bytes handed to the transport (retries included)
    std::uint64_t requests_sent = 0;    // produce requests
    std::uint64_t retries = 0;          // batch resends
    std::uint64_t errors = 0;           // error answers and request timeouts seen (per batch)
    std::uint64_t request_timeouts = 0; // requests given up after request.timeout.ms
    std::uint64_t batches_expired = 0;  // batches failed by delivery.timeout.ms
    std::uint64_t epoch_bumps = 0;      // idempotent producer epoch bumps (sequence resets)
    std::uint64_t metadata_requests = 0;
    double avg_batch_bytes = 0; // of acknowledged batches
    double avg_batch_records = 0;
    double avg_record_latency_ms = 0;     // first record appended -> batch acknowledged, per batch
    std::int64_t buffer_memory_used = 0;  // bytes of buffer.memory held by batches now
    std::int64_t buffer_memory_total = 0; // buffer.memory
    std::uint64_t blocked_sends = 0;      // send() calls that had to wait for buffer space
    std::uint64_t in_flight_requests = 0; // now
    // compression.type: batch bytes before and after compressing (once per batch, not per retry);
    // their ratio is Java's compression-rate-avg.
    std::uint64_t compression_input_bytes = 0;
    std::uint64_t compression_output_bytes = 0;
    [[nodiscard]] double compression_ratio() const noexcept {
        return compression_input_bytes ? static_cast<double>(compression_output_bytes) /
                                             static_cast<double>(compression_input_bytes)
                                       : 1.0;
    }
};

namespace producer_detail {

struct stats_counters {
    using counter = std::atomic<std::uint64_t>;
    counter records_sent{0}, records_acked{0}, records_failed{0}, records_rejected{0};
    counter batches_sent{0}, batches_acked{0}, bytes_sent{0}, requests_sent{0}, retries{0}, errors{0};
    counter request_timeouts{0}, batches_expired{0}, epoch_bumps{0}, metadata_requests{0};
    counter acked_bytes{0}, latency_us_sum{0}, blocked_sends{0}, in_flight_requests{0};
    counter compression_input_bytes{0}, compression_output_bytes{0};
    std::atomic<std::int64_t> buffer_used{0};

    static void add(counter& c, std::uint64_t n = 1) noexcept { c.fetch_add(n, std::memory_order_relaxed); }

    producer_stats snapshot(std::int64_t buffer_total) const noexcept {
        auto ld = [](const counter& c) { return c.load(std::memory_order_relaxed); };
        producer_stats s;
        s.records_sent = ld(records_sent);
        s.records_acked = ld(records_acked);
        s.records_failed = ld(records_failed);
        s.records_rejected = ld(records_rejected);
        s.batches_sent = ld(batches_sent);
        s.batches_acked = ld(batches_acked);
        s.bytes_sent = ld(bytes_sent);
        s.requests_sent = ld(requests_sent);
        s.retries = ld(retries);
        s.errors = ld(errors);
        s.request_timeouts = ld(request_timeouts);
        s.batches_expired = ld(batches_expired);
        s.epoch_bumps = ld(epoch_bumps);
        s.metadata_requests = ld(metadata_requests);
        const auto acked_batches = s.batches_acked;
        if (acked_batches) {
            s.avg_batch_bytes = static_cast<double>(ld(acked_bytes)) / static_cast<double>(acked_batches);
            s.avg_batch_records = static_cast<double>(s.records_acked) / static_cast<double>(acked_batches);
            s.avg_record_latency_ms =
                static_cast<double>(ld(latency_us_sum)) / 1000.0 / static_cast<double>(acked_batches);
        }
        s.buffer_memory_used = buffer_used.load(std::memory_order_relaxed);
        s.buffer_memory_total = buffer_total;
        s.blocked_sends = ld(blocked_sends);
        s.in_flight_requests = ld(in_flight_requests);
        s.compression_input_bytes = ld(compression_input_bytes);
        s.compression_output_bytes = ld(compression_output_bytes);
        return s;
    }
};

} // namespace producer_detail
} // namespace gregor
