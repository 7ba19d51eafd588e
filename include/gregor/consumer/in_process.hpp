// fetch_transport::in_process<Broker>: the consumer's transport for an embedded gregor::broker
// (direct calls to broker.fetch / broker.list_offset, no sockets).
//
// Thread-safety: one consumer on one thread uses a transport; the broker's calls are thread-safe,
// so many in-process consumers (and producers) may share one broker.
#pragma once

#include <gregor/broker/offset_monitor.hpp>
#include <gregor/broker/partition.hpp>
#include <gregor/consumer/fetch_transport.hpp>
#include <gregor/core/buffer.hpp>
#include <gregor/core/error.hpp>
#include <gregor/storage/read_result.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

namespace gregor::fetch_transport {

/// Direct calls into a gregor::broker (an embedded consumer): the batches are copied once out of
/// the log into a buffer the response owns. With less than min_bytes to return it waits on the
/// partitions' offset monitors (high watermark, or last stable offset for read_committed) and
/// reads again only when one of them moves, or at max_wait_ms: no polling.
template <typename Broker>
class in_process {
public:
    explicit in_process(Broker& b) : broker_(&b) {}

    fetch_response fetch(std::span<const partition_request> reqs, const fetch_options& opt) {
        using clock = std::chrono::steady_clock;
        const auto until = clock::now() + std::chrono::milliseconds(opt.max_wait_ms);
        const auto iso = broker_isolation(opt.isolation);
        for (;;) {
            auto bufs = std::make_shared<std::vector<byte_buffer>>();
            bufs->reserve(reqs.size());
            fetch_response out;
            std::size_t total = 0;
            bool any_error = false;
            for (const auto& r : reqs) {
                std::size_t budget = static_cast<std::size_t>(r.max_bytes);
                if (opt.max_bytes > 0) {
                    const auto left = static_cast<std::size_t>(opt.max_bytes) > total
                                          ? static_cast<std::size_t>(opt.max_bytes) - total
                                          : std::size_t{1};
                    budget = std::min(budget, left);
                }
                auto f = broker_->fetch(r.tp->topic, r.tp->partition, r.fetch_offset, budget, iso);
                ++reads_;
                partition_data p;
                p.tp = r.tp;
                if (f.error != error_code::none) {
                    p.error = make_error_code(f.error);
                    any_error = true;
                }
                p.high_watermark = f.high_watermark;
                p.last_stable_offset = f.last_stable_offset;
                p.log_start_offset = f.log_start_offset;
                if (opt.isolation == wire::isolation_level::read_committed) {
                    p.aborted.emplace();
                    for (const auto& a : f.aborted) p.aborted->push_back({a.id, a.first_offset});
                }
                auto& buf = bufs->emplace_back();
                (void)storage::copy_to(f.records, buf);
                total += buf.size();
                p.records = buf.view();
                out.partitions.push_back(std::move(p));
            }
            if (total >= static_cast<std::size_t>(std::max(opt.min_bytes, 1)) || any_error || clock::now() >= until) {
                out.keepalive = std::move(bufs);
                return out;
            }
            wait_for_more(reqs, out, opt.isolation, until);
        }
    }

    /// Reads of the broker's logs so far (one per partition per round); tests use it to see that
    /// a long poll reads once, then once more per wake-up.
    [[nodiscard]] std::uint64_t reads() const noexcept { return reads_; }

    list_offset_result list_offset(const topic_partition& tp, std::int64_t ts, wire::isolation_level iso) {
        const auto r = broker_->list_offset(tp.topic, tp.partition, ts, broker_isolation(iso));
        list_offset_result out;
        if (r.error != error_code::none) out.error = make_error_code(r.error);
        out.found = r.found;
        return out;
    }

private:
    static auto broker_isolation(wire::isolation_level l) {
        return l == wire::isolation_level::read_committed ? isolation::read_committed : isolation::read_uncommitted;
    }

    // Sleeps until any partition's readable end passes what the last round saw, or `until`.
    template <typename TimePoint>
    void wait_for_more(std::span<const partition_request> reqs, const fetch_response& seen, wire::isolation_level l,
                       TimePoint until) {
        struct state {
            std::mutex mu;
            std::condition_variable cv;
            bool moved = false;
        };
        auto st = std::make_shared<state>();
        const auto kind =
            l == wire::isolation_level::read_committed ? offset_kind::last_stable : offset_kind::high_watermark;
        std::vector<wait_handle> waits;
        bool moved = false;
        for (std::size_t i = 0; i < reqs.size() && i < seen.partitions.size() && !moved; ++i) {
            auto* part = broker_->find_partition(reqs[i].tp->topic, reqs[i].tp->partition);
            if (!part) continue;
            const auto& p = seen.partitions[i];
            const auto end = kind == offset_kind::last_stable ? p.last_stable_offset : p.high_watermark;
            const offset target{std::max(reqs[i].fetch_offset.value(), end.value()) + 1};
            auto h = part->monitor().async_wait(kind, target, broker_detail::wait_clock::time_point::max(),
                                                [st](wait_status) {
                                                    std::lock_guard lk(st->mu);
                                                    st->moved = true;
                                                    st->cv.notify_all();
                                                });
            if (h)
                waits.push_back(std::move(*h));
            else
                moved = true; // it moved since the read
        }
        if (!moved) {
            std::unique_lock lk(st->mu);
            st->cv.wait_until(lk, until, [&] { return st->moved; });
        }
        for (auto& w : waits) w.cancel();
    }

    Broker* broker_;
    std::uint64_t reads_ = 0;
};

} // namespace gregor::fetch_transport
