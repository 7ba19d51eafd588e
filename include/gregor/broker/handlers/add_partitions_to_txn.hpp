// AddPartitionsToTxn: a transactional producer names the partitions it is about to write before
// its first batch to each (docs/transactions.md, docs/protocol.md §15.3). v0-3 carry one
// transaction (what clients send); v4+ several, from brokers, where `verify_only` asks whether the
// partitions are in the transaction already. Partitions of unknown topics get
// UNKNOWN_TOPIC_OR_PARTITION and the others of that request OPERATION_NOT_ATTEMPTED, as in Kafka.
#pragma once

#include <gregor/broker/handlers/context.hpp>
#include <gregor/broker/handlers/group_common.hpp>
#include <gregor/broker/handlers/txn_common.hpp>
#include <gregor/net/response.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/messages/add_partitions_to_txn.hpp>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace gregor::broker_handlers {

struct add_partitions_to_txn_handler {
    using api = wire::add_partitions_to_txn_api;
    static constexpr wire::version_range served{0, 5};
    static constexpr bool off_loop = true;

    // One transaction's request and, once answered, its error (the same for every partition).
    struct one {
        std::string transactional_id;
        producer_id pid{-1};
        producer_epoch epoch{-1};
        bool verify_only = false;
        std::vector<std::pair<std::string, std::vector<partition_id>>> topics;
        error_code error = error_code::none;
        bool unknown_topics = false;
        std::vector<bool> topic_unknown;
    };

    template <typename Broker>
    static void handle(request_context<Broker>& ctx, net::responder r) {
        using namespace wire::add_partitions_to_txn;
        auto req = decode_request<request>(ctx);
        if (!req) return r.complete(net::close_connection);
        const auto h = group_detail::answer_header(ctx.header);
        const auto v = h.version;
        auto all = std::make_shared<std::vector<one>>();
        const auto take = [&](std::string_view id, producer_id pid, producer_epoch epoch, bool verify,
                              const std::vector<topic>& topics) {
            one o{std::string(id), pid, epoch, verify, {}, error_code::none, false, {}};
            for (const auto& t : topics) {
                o.topics.emplace_back(std::string(t.name), t.partitions);
                bool unknown = false;
                for (const auto p : t.partitions)
                    unknown |= !group_detail::partition_exists(ctx.broker, t.name, p.value());
                o.topic_unknown.push_back(unknown);
                o.unknown_topics |= unknown;
            }
            all->push_back(std::move(o));
        };
        if (v >= 4) {
            for (const auto& t : req->transactions)
                take(t.transactional_id, t.producer_id, t.producer_epoch, t.verify_only, t.topics);
        } else {
            take(req->v3_and_below_transactional_id, req->v3_and_below_producer_id, req->v3_and_below_producer_epoch,
                 false, req->v3_and_below_topics);
        }
        struct gather {
            std::mutex mu;
            std::size_t left = 0;
            net::responder r;
        };
        auto g = std::make_shared<gather>();
        g->r = std::move(r);
        g->left = all->size();
        const auto finish = [all, g, h] {
            response resp;
            const auto topics_of = [&](const one& o) {
                std::vector<topic_result> out;
                for (std::size_t i = 0; i < o.topics.size(); ++i) {
                    topic_result tr;
                    tr.name = o.topics[i].first;
                    const auto e = !o.unknown_topics ? txn_detail::for_version(o.error, h.version, 2)
                                   : o.topic_unknown[i] ? error_code::unknown_topic_or_partition
                                                        : error_code::operation_not_attempted;
                    for (const auto p : o.topics[i].second) tr.results_by_partition.push_back({p, e});
                    out.push_back(std::move(tr));
                }
                return out;
            };
            if (h.version >= 4) {
                for (const auto& o : *all) resp.results_by_transaction.push_back({o.transactional_id, topics_of(o)});
            } else if (!all->empty()) {
                resp.results_by_topic_v3_and_below = topics_of(all->front());
            }
            group_detail::reply(g->r, h, resp);
        };
        if (all->empty()) return finish();
        for (std::size_t i = 0; i < all->size(); ++i) {
            auto& o = (*all)[i];
            const auto done = [all, g, i, finish](error_code e) {
                bool last = false;
                {
                    std::lock_guard lk(g->mu);
                    (*all)[i].error = e;
                    last = --g->left == 0;
                }
                if (last) finish();
            };
            if (o.unknown_topics) {
                done(error_code::none);
                continue;
            }
            std::vector<txn::topic_partition> parts;
            for (const auto& [t, ps] : o.topics)
                for (const auto p : ps) parts.push_back({t, p.value()});
            if (o.verify_only) {
                done(ctx.broker.transactions().verify_partitions(o.transactional_id, o.pid, o.epoch, parts));
                continue;
            }
            ctx.broker.transactions().add_partitions(o.transactional_id, o.pid, o.epoch, std::move(parts), done);
        }
    }
};

} // namespace gregor::broker_handlers
