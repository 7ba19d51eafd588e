// OffsetForLeaderEpoch: for each partition, the largest leader epoch up to the one asked for and
// the offset where it ended on this leader (docs/protocol.md §14.6.2-14.6.3). Followers ask it to
// find where their log diverges from the leader's; Java consumers validate their position with it
// after a leader change (KIP-320). Leader only: CurrentLeaderEpoch is checked as Fetch checks it.
#pragma once

#include <gregor/broker/handlers/context.hpp>
#include <gregor/core/error.hpp>
#include <gregor/core/strong_types.hpp>
#include <gregor/net/response.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/messages/offset_for_leader_epoch.hpp>

#include <utility>

namespace gregor::broker_handlers {

struct offset_for_leader_epoch_handler {
    using api = wire::offset_for_leader_epoch_api;
    // v2 CurrentLeaderEpoch, v3 ReplicaId, v4 flexible.
    static constexpr wire::version_range served{0, 4};

    template <typename Broker>
    static void handle(request_context<Broker>& ctx, net::responder r) {
        using namespace wire::offset_for_leader_epoch;
        auto req = decode_request<request>(ctx);
        if (!req) return r.complete(net::close_connection);
        response resp;
        resp.topics.reserve(req->topics.size());
        for (const auto& t : req->topics) {
            response_topic rt;
            rt.topic = t.topic;
            for (const auto& p : t.partitions) {
                response_partition rp;
                rp.partition = p.partition;
                auto* part = ctx.broker.find_partition(t.topic, p.partition);
                if (!part) {
                    rp.error_code = error_code::unknown_topic_or_partition;
                } else if (const auto e = part->check_epoch(p.current_leader_epoch, true); e != error_code::none) {
                    rp.error_code = e;
                } else {
                    const auto [epoch, end] = part->end_offset_for(p.leader_epoch);
                    if (end.value() >= 0) {
                        rp.leader_epoch = epoch;
                        rp.end_offset = end;
                    }
                }
                rt.partitions.push_back(rp);
            }
            resp.topics.push_back(std::move(rt));
        }
        r.complete(net::response(encode_response(ctx.header, ctx.header.version, resp)));
    }
};

} // namespace gregor::broker_handlers
