// TxnOffsetCommit: a transaction's consumed offsets, sent to the group's coordinator. They are
// written to __consumer_offsets as the transaction's producer and count as committed only once
// its COMMIT marker is there (docs/transactions.md, docs/protocol.md §15.7).
#pragma once

#include <gregor/broker/handlers/context.hpp>
#include <gregor/broker/handlers/group_common.hpp>
#include <gregor/broker/handlers/txn_common.hpp>
#include <gregor/net/response.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/messages/txn_offset_commit.hpp>

#include <string>
#include <utility>
#include <vector>

namespace gregor::broker_handlers {

struct txn_offset_commit_handler {
    using api = wire::txn_offset_commit_api;
    static constexpr wire::version_range served{0, 4};
    static constexpr bool off_loop = true;

    template <typename Broker>
    static void handle(request_context<Broker>& ctx, net::responder r) {
        using namespace wire::txn_offset_commit;
        namespace gd = group_detail;
        auto req = decode_request<request>(ctx);
        if (!req) return r.complete(net::close_connection);
        const auto h = gd::answer_header(ctx.header);
        groups::txn_commit_request c;
        c.transactional_id = std::string(req->transactional_id);
        c.pid = req->producer_id;
        c.epoch = req->producer_epoch;
        c.commit.group_id = std::string(req->group_id);
        if (h.version >= 3) {
            c.commit.generation_id = req->generation_id;
            c.commit.member_id = std::string(req->member_id);
            c.commit.group_instance_id = gd::owned(req->group_instance_id);
        }
        std::vector<std::pair<std::string, std::size_t>> sizes;
        for (const auto& t : req->topics) {
            sizes.emplace_back(std::string(t.name), t.partitions.size());
            for (const auto& p : t.partitions) {
                groups::commit_partition cp;
                cp.topic = std::string(t.name);
                cp.partition = p.partition_index.value();
                cp.offset = p.committed_offset.value();
                cp.leader_epoch = p.committed_leader_epoch.value();
                cp.metadata = gd::owned(p.committed_metadata);
                if (!gd::partition_exists(ctx.broker, t.name, cp.partition)) cp.error = error_code::unknown_topic_or_partition;
                c.commit.partitions.push_back(std::move(cp));
            }
        }
        ctx.broker.groups().txn_commit(std::move(c), [h, r = std::move(r), sizes = std::move(sizes)](
                                                             std::vector<groups::commit_partition> ps) mutable {
            response resp;
            std::size_t i = 0;
            for (const auto& [name, n] : sizes) {
                response_topic rt;
                rt.name = name;
                for (std::size_t k = 0; k < n && i < ps.size(); ++k, ++i)
                    rt.partitions.push_back({partition_id{ps[i].partition}, ps[i].error});
                resp.topics.push_back(std::move(rt));
            }
            gd::reply(r, h, resp);
        });
    }
};

} // namespace gregor::broker_handlers
