// DeleteRecords: each partition through broker::delete_records (docs/protocol.md §17): offset -1 is
// the high watermark, beyond it OFFSET_OUT_OF_RANGE, a topic without "delete" in cleanup.policy
// POLICY_VIOLATION. The answer is the partition's new low watermark, which on one node is its log
// start offset, so nothing waits for followers and timeout_ms is not needed.
#pragma once

#include <gregor/broker/admin.hpp>
#include <gregor/broker/handlers/context.hpp>
#include <gregor/core/error.hpp>
#include <gregor/core/strong_types.hpp>
#include <gregor/net/response.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/messages/delete_records.hpp>

#include <utility>

namespace gregor::broker_handlers {

struct delete_records_handler {
    using api = wire::delete_records_api;
    // v2 flexible.
    static constexpr wire::version_range served{0, 2};
    // Writes the topic table or a checkpoint (fsync): run on the server's background_worker.
    static constexpr bool off_loop = true;

    template <typename Broker>
    static void handle(request_context<Broker>& ctx, net::responder r) {
        using namespace wire::delete_records;
        auto req = decode_request<request>(ctx);
        if (!req) return r.complete(net::close_connection);
        response resp;
        resp.topics.reserve(req->topics.size());
        for (const auto& t : req->topics) {
            response_topic rt;
            rt.name = t.name;
            rt.partitions.reserve(t.partitions.size());
            for (const auto& p : t.partitions) {
                const auto res = ctx.broker.delete_records(t.name, p.partition_index, p.offset);
                rt.partitions.push_back({p.partition_index, res.low_watermark, res.error});
            }
            resp.topics.push_back(std::move(rt));
        }
        r.complete(net::response(encode_response(ctx.header, ctx.header.version, resp)));
    }
};

} // namespace gregor::broker_handlers
