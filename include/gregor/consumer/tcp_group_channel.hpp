// group::tcp_channel: a group consumer's calls to its coordinator over TCP, to any Kafka broker
// (a gregor-broker, Apache Kafka, librdkafka's mock cluster). Built on the client layer
// (client/cluster.hpp), with a cluster of its own: its connections are not the fetch transport's,
// so a JoinGroup held by the coordinator never delays a Fetch, and the other way round.
//
// The coordinator is found with FindCoordinator (key type group) and cached; NOT_COORDINATOR,
// COORDINATOR_NOT_AVAILABLE or a lost connection drop the cache entry, so the next call asks
// again. Every request goes out at the highest version both sides implement (the codecs cover
// Kafka 3.9's ranges), which is what Java's consumer does too; the older versions of older
// brokers work the same way (docs/protocol.md §16).
//
// Threads: no thread of its own; each call runs the client layer's event loop on the calling
// thread until the answer or the call's bound. Views in a request point into a holder the
// completion owns, so an answer that comes after the bound is dropped safely.
#pragma once

#include <gregor/client/cluster.hpp>
#include <gregor/consumer/consumer_config.hpp>
#include <gregor/consumer/group_channel.hpp>
#include <gregor/wire/consumer_protocol.hpp>
#include <gregor/wire/messages/heartbeat.hpp>
#include <gregor/wire/messages/join_group.hpp>
#include <gregor/wire/messages/leave_group.hpp>
#include <gregor/wire/messages/offset_commit.hpp>
#include <gregor/wire/messages/offset_fetch.hpp>
#include <gregor/wire/messages/sync_group.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace gregor::group {

class tcp_channel final : public channel {
public:
    tcp_channel(client::cluster_config cc, std::string group_id, std::chrono::milliseconds request_timeout)
            : cluster_(std::make_unique<client::cluster>(std::move(cc))), group_(std::move(group_id)),
              request_timeout_(request_timeout) {}

    join_outcome join(const join_args& a) override {
        auto hold = std::make_shared<join_args>(a);
        wire::join_group::request req;
        req.group_id = hold->group_id;
        req.session_timeout_ms = hold->session_timeout_ms;
        req.rebalance_timeout_ms = hold->rebalance_timeout_ms;
        req.member_id = hold->member_id;
        if (hold->group_instance_id) req.group_instance_id = *hold->group_instance_id;
        req.protocol_type = wire::consumer_protocol::protocol_type;
        for (const auto& [name, meta] : hold->protocols) req.protocols.push_back({name, as_bytes(meta)});
        if (!hold->reason.empty()) req.reason = hold->reason;
        // The coordinator holds a JoinGroup until every member has rejoined or the rebalance
        // timeout passes; Java allows 5 s more than that.
        auto rep = call(std::move(req), hold,
                        std::chrono::milliseconds(std::max(hold->rebalance_timeout_ms, 0)) + std::chrono::seconds(5));
        join_outcome out;
        if (!rep.body) {
            out.error = rep.error;
            return out;
        }
        const auto& b = *rep.body;
        out.error = kafka(b.error_code);
        out.generation = b.generation_id;
        out.protocol_name = std::string(b.protocol_name);
        out.leader = std::string(b.leader);
        out.member_id = std::string(b.member_id);
        out.skip_assignment = b.skip_assignment;
        for (const auto& m : b.members)
            out.members.push_back({std::string(m.member_id),
                                   m.group_instance_id ? std::optional<std::string>(std::string(*m.group_instance_id))
                                                       : std::nullopt,
                                   std::string(reinterpret_cast<const char*>(m.metadata.data()), m.metadata.size())});
        return out;
    }

    sync_outcome sync(const sync_args& a) override {
        auto hold = std::make_shared<sync_args>(a);
        wire::sync_group::request req;
        req.group_id = hold->member.group_id;
        req.generation_id = hold->member.generation;
        req.member_id = hold->member.member_id;
        if (hold->member.group_instance_id) req.group_instance_id = *hold->member.group_instance_id;
        req.protocol_type = hold->protocol_type;
        req.protocol_name = hold->protocol_name;
        for (const auto& [id, bytes] : hold->assignments) req.assignments.push_back({id, as_bytes(bytes)});
        auto rep = call(std::move(req), hold, {});
        sync_outcome out;
        if (!rep.body) {
            out.error = rep.error;
            return out;
        }
        out.error = kafka(rep.body->error_code);
        out.assignment.assign(reinterpret_cast<const char*>(rep.body->assignment.data()), rep.body->assignment.size());
        return out;
    }

    std::error_code heartbeat(const member_ref& m) override {
        auto hold = std::make_shared<member_ref>(m);
        wire::heartbeat::request req;
        req.group_id = hold->group_id;
        req.generation_id = hold->generation;
        req.member_id = hold->member_id;
        if (hold->group_instance_id) req.group_instance_id = *hold->group_instance_id;
        auto rep = call(std::move(req), hold, {});
        return rep.body ? kafka(rep.body->error_code) : rep.error;
    }

    std::error_code leave(const member_ref& m, const std::string& reason) override {
        auto hold = std::make_shared<std::pair<member_ref, std::string>>(m, reason);
        wire::leave_group::request req;
        req.group_id = hold->first.group_id;
        req.member_id = hold->first.member_id;
        wire::leave_group::member_identity who;
        who.member_id = hold->first.member_id;
        if (hold->first.group_instance_id) who.group_instance_id = *hold->first.group_instance_id;
        if (!hold->second.empty()) who.reason = hold->second;
        req.members.push_back(who);
        auto rep = call(std::move(req), hold, {});
        if (!rep.body) return rep.error;
        if (rep.body->error_code != error_code::none) return kafka(rep.body->error_code);
        for (const auto& r : rep.body->members)
            if (r.error_code != error_code::none) return kafka(r.error_code);
        return {};
    }

    offsets_outcome commit(const member_ref& m, const std::vector<committed_offset>& offsets) override {
        struct holder {
            member_ref m;
            std::vector<committed_offset> offsets;
        };
        auto hold = std::make_shared<holder>(holder{m, offsets});
        wire::offset_commit::request req;
        req.group_id = hold->m.group_id;
        req.generation_id_or_member_epoch = hold->m.generation;
        req.member_id = hold->m.member_id;
        if (hold->m.group_instance_id) req.group_instance_id = *hold->m.group_instance_id;
        for (const auto& c : hold->offsets) {
            if (req.topics.empty() || req.topics.back().name != c.tp.topic) req.topics.push_back({c.tp.topic, {}});
            wire::offset_commit::request_partition p;
            p.partition_index = c.tp.partition;
            p.committed_offset = c.next;
            p.committed_leader_epoch = leader_epoch{c.leader_epoch};
            p.committed_metadata = c.metadata;
            req.topics.back().partitions.push_back(p);
        }
        auto rep = call(std::move(req), hold, {});
        offsets_outcome out;
        if (!rep.body) {
            out.error = rep.error;
            return out;
        }
        for (const auto& t : rep.body->topics)
            for (const auto& p : t.partitions) {
                committed_offset c;
                c.tp = {std::string(t.name), p.partition_index};
                c.error = kafka(p.error_code);
                for (const auto& in : hold->offsets)
                    if (in.tp == c.tp) c.next = in.next;
                if (c.error && !out.error) out.error = c.error;
                if (coordinator_moved(c.error)) forget_coordinator();
                out.partitions.push_back(std::move(c));
            }
        return out;
    }

    offsets_outcome fetch_committed(const std::string& group_id, const std::vector<topic_partition>& tps) override {
        struct holder {
            std::string group;
            std::vector<topic_partition> tps;
        };
        auto hold = std::make_shared<holder>(holder{group_id, tps});
        wire::offset_fetch::request req;
        req.group_id = hold->group;
        req.require_stable = true;
        std::vector<wire::offset_fetch::request_topic> topics;
        for (const auto& tp : hold->tps) {
            auto it = std::find_if(topics.begin(), topics.end(), [&](const auto& t) { return t.name == tp.topic; });
            if (it == topics.end()) it = topics.insert(topics.end(), {tp.topic, {}});
            it->partition_indexes.push_back(tp.partition);
        }
        req.topics = topics;
        wire::offset_fetch::request_group g;
        g.group_id = hold->group;
        g.topics = topics;
        req.groups.push_back(std::move(g));
        auto rep = call(std::move(req), hold, {});
        offsets_outcome out;
        if (!rep.body) {
            out.error = rep.error;
            return out;
        }
        const auto take = [&](const auto& resp_topics) {
            for (const auto& t : resp_topics)
                for (const auto& p : t.partitions) {
                    committed_offset c;
                    c.tp = {std::string(t.name), p.partition_index};
                    c.next = p.committed_offset;
                    c.leader_epoch = p.committed_leader_epoch.value();
                    if (p.metadata) c.metadata = std::string(*p.metadata);
                    c.error = kafka(p.error_code);
                    if (c.error && !out.error) out.error = c.error;
                    out.partitions.push_back(std::move(c));
                }
        };
        if (rep.version >= 8) {
            for (const auto& gr : rep.body->groups) {
                if (gr.error_code != error_code::none) out.error = kafka(gr.error_code);
                take(gr.topics);
            }
        } else {
            if (rep.body->error_code != error_code::none) out.error = kafka(rep.body->error_code);
            take(rep.body->topics);
        }
        if (coordinator_moved(out.error)) forget_coordinator();
        return out;
    }

    counts_outcome partition_counts(const std::vector<std::string>& topics) override {
        counts_outcome out;
        cluster_->poll(client::clock::duration::zero());
        auto result = std::make_shared<std::optional<std::error_code>>();
        cluster_->refresh_metadata(topics, [result](std::error_code ec) { *result = ec; }, false);
        run_until([&] { return result->has_value(); }, client::clock::now() + request_timeout_);
        if (!result->has_value()) {
            out.error = make_error_code(error_code::request_timed_out);
            return out;
        }
        if (**result) {
            out.error = **result;
            return out;
        }
        for (const auto& name : topics) {
            const auto it = cluster_->metadata().topics.find(name);
            if (it == cluster_->metadata().topics.end() || it->second.error != error_code::none ||
                it->second.partitions.empty())
                continue;
            out.counts[name] = static_cast<std::int32_t>(it->second.partitions.size());
        }
        return out;
    }

    void cancel() override {
        cancelled_ = true;
        cluster_->wake();
    }
    void reset_cancel() override { cancelled_ = false; }

private:
    static bytes_view as_bytes(const std::string& s) noexcept {
        return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
    }
    static std::error_code kafka(error_code e) { return e == error_code::none ? std::error_code{} : make_error_code(e); }

    void forget_coordinator() { cluster_->invalidate_coordinator(wire::find_coordinator::coordinator_type::group, group_); }

    template <typename Done>
    void run_until(Done&& done, client::clock::time_point deadline) {
        while (!done() && !cancelled_) {
            const auto now = client::clock::now();
            if (now >= deadline) return;
            cluster_->poll(deadline - now);
        }
    }

    /// Sends `req` to the group's coordinator and waits for the answer. `hold` owns what the
    /// request's views point at, for as long as the completion may still run.
    template <typename Request, typename Hold>
    client::reply<typename Request::response_type> call(Request req, std::shared_ptr<Hold> hold,
                                                          client::clock::duration extra) {
        using reply_t = client::reply<typename Request::response_type>;
        cluster_->poll(client::clock::duration::zero()); // take in what happened since the last call
        auto slot = std::make_shared<std::optional<reply_t>>();
        client::send_options so;
        so.extra_timeout = extra;
        cluster_->send(client::destination::coordinator_of(wire::find_coordinator::coordinator_type::group, group_),
                       std::move(req), [slot, hold](reply_t& r) { *slot = std::move(r); }, so);
        run_until([&] { return slot->has_value(); }, client::clock::now() + request_timeout_ + extra);
        reply_t out;
        if (!slot->has_value()) {
            out.error = make_error_code(error_code::request_timed_out);
        } else {
            out = std::move(**slot);
            if (out.error && out.error.category() != kafka_category())
                out.error = make_error_code(error_code::network_exception);
        }
        if (out.error) {
            forget_coordinator();
        } else if (out.body) {
            // A coordinator that moved says so at the top level of every group answer.
            const auto top = top_error(*out.body);
            if (top == error_code::not_coordinator || top == error_code::coordinator_not_available) forget_coordinator();
        }
        return out;
    }

    template <typename Resp>
    static error_code top_error(const Resp& r) {
        if constexpr (requires { r.error_code; })
            return r.error_code;
        else
            return error_code::none;
    }

    std::unique_ptr<client::cluster> cluster_;
    std::string group_;
    std::chrono::milliseconds request_timeout_;
    std::atomic<bool> cancelled_{false};
};

} // namespace gregor::group
