// fetch_transport::in_process<Broker>: the consumer's transport for an embedded gregor::broker
// (direct calls to broker.fetch / broker.list_offset, no sockets).
//
// Thread-safety: one consumer on one thread uses a transport; the broker's calls are thread-safe,
// so many in-process consumers (and producers) may share one broker.
#pragma once

#include <gregor/broker/partition.hpp>
#include <gregor/consumer/fetch_transport.hpp>
#include <gregor/core/buffer.hpp>
#include <gregor/core/error.hpp>
#include <gregor/storage/read_result.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <memory>
#include <span>
#include <thread>
#include <vector>

namespace gregor::fetch_transport {

/// Direct calls into a gregor::broker (an embedded consumer): the batches are copied once out of
/// the log into a buffer the response owns. With nothing to return it re-checks the log every
/// millisecond or two until max_wait_ms has passed (the broker has no consumer wake-up hook).
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
            std::this_thread::sleep_for(std::min<clock::duration>(std::chrono::milliseconds(2), until - clock::now()));
        }
    }

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

    Broker* broker_;
};


} // namespace gregor::fetch_transport
