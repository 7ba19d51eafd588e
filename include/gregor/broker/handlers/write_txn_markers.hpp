// WriteTxnMarkers: a transaction coordinator on another broker asks this one, as leader of some of
// the transaction's partitions, to write its COMMIT or ABORT marker there (docs/transactions.md,
// docs/protocol.md §15.6). Each marker is appended with acks=all; a marker reaching a
// __consumer_offsets partition also settles the transaction's offsets in the group coordinator.
#pragma once

#include <gregor/broker/handlers/context.hpp>
#include <gregor/broker/handlers/group_common.hpp>
#include <gregor/net/response.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/messages/write_txn_markers.hpp>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace gregor::broker_handlers {

struct write_txn_markers_handler {
    using api = wire::write_txn_markers_api;
    static constexpr wire::version_range served{0, 1};
    static constexpr bool off_loop = true;

    template <typename Broker>
    static void handle(request_context<Broker>& ctx, net::responder r) {
        using namespace wire::write_txn_markers;
        auto req = decode_request<request>(ctx);
        if (!req) return r.complete(net::close_connection);
        struct slot {
            std::size_t marker, topic;
            partition_id p;
            error_code e = error_code::none;
        };
        struct state {
            std::mutex mu;
            std::size_t left = 0;
            net::responder r;
            wire::request_header h;
            std::vector<std::pair<producer_id, std::vector<std::string>>> names; // per marker: topics
            std::vector<slot> slots;
        };
        auto st = std::make_shared<state>();
        st->r = std::move(r);
        st->h = group_detail::answer_header(ctx.header);
        for (std::size_t m = 0; m < req->markers.size(); ++m) {
            const auto& mk = req->markers[m];
            auto& names = st->names.emplace_back(mk.producer_id, std::vector<std::string>{}).second;
            for (std::size_t t = 0; t < mk.topics.size(); ++t) {
                names.emplace_back(mk.topics[t].name);
                for (const auto p : mk.topics[t].partition_indexes) st->slots.push_back({m, t, p});
            }
        }
        const auto finish = [st] {
            response resp;
            for (std::size_t m = 0; m < st->names.size(); ++m) {
                marker_result mr;
                mr.producer_id = st->names[m].first;
                for (std::size_t t = 0; t < st->names[m].second.size(); ++t) {
                    topic_result tr;
                    tr.name = st->names[m].second[t];
                    for (const auto& s : st->slots)
                        if (s.marker == m && s.topic == t) tr.partitions.push_back({s.p, s.e});
                    mr.topics.push_back(std::move(tr));
                }
                resp.markers.push_back(std::move(mr));
            }
            group_detail::reply(st->r, st->h, resp);
        };
        st->left = st->slots.size();
        if (st->slots.empty()) return finish();
        auto& b = ctx.broker;
        const auto timeout = std::chrono::milliseconds(b.config().offsets_commit_timeout_ms);
        for (std::size_t i = 0; i < st->slots.size(); ++i) {
            const auto& s = st->slots[i];
            const auto& mk = req->markers[s.marker];
            const std::string topic(mk.topics[s.topic].name);
            const bool commit = mk.transaction_result;
            const auto pid = mk.producer_id;
            b.write_marker_async(topic, s.p, pid, mk.producer_epoch, commit, mk.coordinator_epoch, timeout,
                                 [st, i, finish, &b, topic, commit, pid](auto res) {
                                     if (res.error == error_code::none && topic == groups::offsets_topic)
                                         b.groups().complete_txn(st->slots[i].p.value(), pid, commit);
                                     bool last = false;
                                     {
                                         std::lock_guard lk(st->mu);
                                         st->slots[i].e = res.error;
                                         last = --st->left == 0;
                                     }
                                     if (last) finish();
                                 });
        }
    }
};

} // namespace gregor::broker_handlers
