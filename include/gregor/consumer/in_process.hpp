// fetch_transport::in_process<Broker>: the consumer's transport for an embedded gregor::broker
// (direct calls to broker.fetch / broker.list_offset, no sockets).
//
// Thread-safety: one consumer on one thread uses a transport; the broker's calls are thread-safe,
// so many in-process consumers (and producers) may share one broker.
#pragma once

#include <gregor/broker/group_coordinator.hpp>
#include <gregor/broker/offset_monitor.hpp>
#include <gregor/broker/partition.hpp>
#include <gregor/consumer/consumer_config.hpp>
#include <gregor/consumer/fetch_transport.hpp>
#include <gregor/consumer/group_channel.hpp>
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
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace gregor::group {

/// A group consumer's coordinator calls against an embedded broker. JoinGroup and SyncGroup are
/// answered from the coordinator's own threads when the group is ready; the call waits for that
/// on a condition variable, bounded as the TCP channel's are.
template <typename Broker>
class in_process_channel final : public channel {
public:
    in_process_channel(Broker& b, std::string client_id, std::chrono::milliseconds request_timeout)
            : b_(&b), client_id_(std::move(client_id)), request_timeout_(request_timeout) {}

    join_outcome join(const join_args& a) override {
        groups::join_request r;
        r.group_id = a.group_id;
        r.session_timeout_ms = a.session_timeout_ms;
        r.rebalance_timeout_ms = a.rebalance_timeout_ms;
        r.member_id = a.member_id;
        r.group_instance_id = a.group_instance_id;
        r.protocol_type = "consumer";
        for (const auto& [n, m] : a.protocols) r.protocols.push_back({n, m});
        r.client_id = client_id_;
        r.client_host = "/127.0.0.1";
        r.require_known_member_id = true;
        r.supports_skip_assignment = true; // the member handles it (a static leader that rejoined)
        auto res = wait_for<groups::join_result>(
            [&](auto done) { b_->groups().join(std::move(r), std::move(done)); },
            std::chrono::milliseconds(std::max(a.rebalance_timeout_ms, 0)) + std::chrono::seconds(5));
        join_outcome out;
        if (!res) {
            out.error = make_error_code(error_code::request_timed_out);
            return out;
        }
        out.error = kafka(res->error);
        out.generation = res->generation_id;
        out.protocol_name = res->protocol_name.value_or("");
        out.leader = res->leader;
        out.member_id = res->member_id;
        out.skip_assignment = res->skip_assignment;
        for (auto& m : res->members) out.members.push_back({m.member_id, m.group_instance_id, m.metadata});
        return out;
    }

    sync_outcome sync(const sync_args& a) override {
        groups::sync_request r;
        r.group_id = a.member.group_id;
        r.generation_id = a.member.generation;
        r.member_id = a.member.member_id;
        r.group_instance_id = a.member.group_instance_id;
        r.protocol_type = a.protocol_type;
        r.protocol_name = a.protocol_name;
        r.assignments = a.assignments;
        auto res = wait_for<groups::sync_result>([&](auto done) { b_->groups().sync(std::move(r), std::move(done)); },
                                                 std::chrono::milliseconds(0));
        sync_outcome out;
        if (!res) {
            out.error = make_error_code(error_code::request_timed_out);
            return out;
        }
        out.error = kafka(res->error);
        out.assignment = std::move(res->assignment);
        return out;
    }

    std::error_code heartbeat(const member_ref& m) override {
        return kafka(b_->groups().heartbeat(m.group_id, m.generation, m.member_id, m.group_instance_id));
    }

    std::error_code leave(const member_ref& m, const std::string&) override {
        std::vector<groups::leave_member> who{{m.member_id, m.group_instance_id, error_code::none}};
        if (auto e = b_->groups().leave(m.group_id, who); e != error_code::none) return kafka(e);
        return kafka(who.front().error);
    }

    offsets_outcome commit(const member_ref& m, const std::vector<committed_offset>& offsets) override {
        groups::commit_request r;
        r.group_id = m.group_id;
        r.generation_id = m.generation;
        r.member_id = m.member_id;
        r.group_instance_id = m.group_instance_id;
        for (const auto& c : offsets)
            r.partitions.push_back({c.tp.topic, c.tp.partition.value(), c.next.value(), c.leader_epoch, c.metadata,
                                    error_code::none});
        auto res = wait_for<std::vector<groups::commit_partition>>(
            [&](auto done) { b_->groups().commit(std::move(r), std::move(done)); }, std::chrono::milliseconds(0));
        offsets_outcome out;
        if (!res) {
            out.error = make_error_code(error_code::request_timed_out);
            return out;
        }
        for (const auto& p : *res) {
            committed_offset c;
            c.tp = {p.topic, partition_id{p.partition}};
            c.next = offset{p.offset};
            c.error = kafka(p.error);
            if (c.error && !out.error) out.error = c.error;
            out.partitions.push_back(std::move(c));
        }
        return out;
    }

    offsets_outcome fetch_committed(const std::string& group_id, const std::vector<topic_partition>& tps) override {
        std::vector<std::pair<std::string, std::vector<std::int32_t>>> want;
        for (const auto& tp : tps) {
            if (want.empty() || want.back().first != tp.topic) want.push_back({tp.topic, {}});
            want.back().second.push_back(tp.partition.value());
        }
        auto res = b_->groups().fetch_offsets(group_id, want, true);
        offsets_outcome out;
        out.error = kafka(res.error);
        for (auto& f : res.offsets) {
            committed_offset c;
            c.tp = {f.topic, partition_id{f.partition}};
            c.next = offset{f.offset};
            c.leader_epoch = f.leader_epoch;
            c.metadata = std::move(f.metadata);
            c.error = kafka(f.error);
            out.partitions.push_back(std::move(c));
        }
        return out;
    }

    void cancel() override {
        std::lock_guard lk(w_->mu);
        w_->cancelled = true;
        w_->cv.notify_all();
    }
    void reset_cancel() override {
        std::lock_guard lk(w_->mu);
        w_->cancelled = false;
    }

    counts_outcome partition_counts(const std::vector<std::string>& topics) override {
        counts_outcome out;
        for (const auto& t : topics) {
            const auto info = b_->describe_topic(t, false);
            if (info.error == error_code::none && info.partition_count > 0) out.counts[t] = info.partition_count;
        }
        return out;
    }

private:
    static std::error_code kafka(error_code e) { return e == error_code::none ? std::error_code{} : make_error_code(e); }

    // Runs `start(done)` and waits for `done(Result)`, at most request.timeout.ms plus `extra`.
    // The completion may come late (after the bound, or after the channel is gone): it only
    // touches what it shares.
    template <typename Result, typename Start>
    std::optional<Result> wait_for(Start&& start, std::chrono::milliseconds extra) {
        auto slot = std::make_shared<std::optional<Result>>();
        auto w = w_;
        start([w, slot](Result r) {
            std::lock_guard lk(w->mu);
            *slot = std::move(r);
            w->cv.notify_all();
        });
        std::unique_lock lk(w->mu);
        w->cv.wait_for(lk, request_timeout_ + extra, [&] { return slot->has_value() || w->cancelled; });
        return std::move(*slot);
    }

    struct waiter {
        std::mutex mu;
        std::condition_variable cv;
        bool cancelled = false;
    };

    Broker* b_;
    std::string client_id_;
    std::chrono::milliseconds request_timeout_;
    std::shared_ptr<waiter> w_ = std::make_shared<waiter>();
};

} // namespace gregor::group

namespace gregor::fetch_transport {

/// Direct calls into a gregor::broker (an embedded consumer): the batches are copied once out of
/// the log into a buffer the response owns. With less than min_bytes to return it waits on the
/// partitions' offset monitors (high watermark, or last stable offset for read_committed) and
/// reads again only when one of them moves, or at max_wait_ms: no polling.
template <typename Broker>
class in_process {
public:
    explicit in_process(Broker& b) : broker_(&b) {}

    /// A channel to the broker's group coordinator, for subscribe().
    std::unique_ptr<group::channel> group_channel(const consumer_config& cfg) const {
        return std::make_unique<group::in_process_channel<Broker>>(*broker_, cfg.client_id,
                                                                   std::chrono::milliseconds(cfg.request_timeout_ms));
    }

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
