// Helpers shared by the producer tests: reading a partition back from a broker (the real one
// through fetch_copy, the mock through its batch list) and driving a manual clock until the
// producer is done.
#pragma once

#include "mock_broker.hpp"

#include <gregor/core/buffer.hpp>
#include <gregor/producer/record_metadata.hpp>
#include <gregor/testing/manual_clock.hpp>
#include <gregor/wire/record_batch.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace gregor::test {

struct read_record {
    offset at{-1};
    std::optional<std::string> key;
    std::optional<std::string> value;
    std::int64_t timestamp = 0;
    std::vector<std::pair<std::string, std::optional<std::string>>> headers;
    wire::batch_header batch;
};

inline void decode_into(bytes_view batches, std::vector<read_record>& out, offset& next) {
    wire::batch_splitter split(batches);
    while (auto b = split.next()) {
        REQUIRE(wire::validate(*b) == wire::batch_error::none);
        wire::batch_view v(*b);
        std::int32_t n = 0;
        for (const auto& r : v) {
            read_record rr;
            rr.at = r.record_offset;
            if (r.key) rr.key = std::string(as_string_view(*r.key));
            if (r.value) rr.value = std::string(as_string_view(*r.value));
            rr.timestamp = r.timestamp;
            auto hc = r.headers();
            while (auto h = hc.next())
                rr.headers.emplace_back(std::string(h->key),
                                        h->value ? std::optional<std::string>(std::string(as_string_view(*h->value)))
                                                 : std::nullopt);
            rr.batch = v.header();
            if (rr.at >= next) out.push_back(std::move(rr));
            ++n;
        }
        REQUIRE(n == v.header().records_count);
        next = v.header().next_offset();
    }
}

/// Every completion, by record value (values are unique in the tests that use it); completions
/// run on the sender thread.
struct reports {
    std::mutex mu;
    std::map<std::string, std::vector<delivery_report>> by_value;
    std::atomic<int> count{0};

    auto callback(std::string value) {
        return [this, value = std::move(value)](std::error_code ec, const record_metadata& md) {
            std::lock_guard lk(mu);
            by_value[value].push_back({md, ec});
            ++count;
        };
    }
};

/// Every record of a partition, in log order.
inline std::vector<read_record> read_partition(mock_broker& b, const std::string& topic, std::int32_t p) {
    std::vector<read_record> out;
    offset next{0};
    for (const auto& batch : b.batches(topic, p)) decode_into(batch.view(), out, next);
    return out;
}

template <typename Broker>
requires requires(Broker& b) { b.fetch_copy("t", partition_id{0}, offset{0}, std::size_t{1}); }
std::vector<read_record> read_partition(Broker& b, const std::string& topic, std::int32_t p) {
    std::vector<read_record> out;
    offset next{0};
    for (int guard = 0; guard < 1000000; ++guard) {
        auto r = b.fetch_copy(topic, partition_id{p}, next, std::size_t{1} << 20);
        INFO("fetch " << topic << "-" << p << " at " << next.value() << " hw " << r.high_watermark.value() << " start "
                      << r.log_start_offset.value());
        REQUIRE(r.error == error_code::none);
        if (r.records.empty()) break;
        const offset before = next;
        decode_into(r.records.view(), out, next);
        if (next == before || next >= r.high_watermark) break;
    }
    return out;
}

/// Moves a manual clock forward whenever the producer's sender is idle, by at most `max_step` and
/// never past its next deadline, until `done()` (bounded by `max_turns`).
template <typename Producer, typename Done>
bool drive(Producer& p, testing::manual_clock& mc, Done done, int max_turns = 200000,
           duration max_step = std::chrono::milliseconds{10}) {
    for (int i = 0; i < max_turns; ++i) {
        if (done()) return true;
        const auto next = p.wait_until_idle(std::chrono::seconds{10});
        if (done()) return true;
        if (!next) return false;
        const auto now = mc.now();
        duration step = max_step;
        if (*next > now && *next - now < step) step = *next - now;
        if (step <= duration::zero()) step = std::chrono::microseconds{100};
        mc.advance(step);
    }
    return done();
}

} // namespace gregor::test
