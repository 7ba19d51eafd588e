// ListOffsets: where a consumer without a committed position starts (earliest, latest, or by
// timestamp). v0 answers in the old multi-offset shape, v1+ with one offset and its timestamp.
#pragma once

#include <gregor/broker/handlers/context.hpp>
#include <gregor/broker/partition.hpp>
#include <gregor/core/error.hpp>
#include <gregor/net/response.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/messages/list_offsets.hpp>
#include <gregor/wire/primitives.hpp>

#include <utility>

namespace gregor::broker_handlers {

struct list_offsets_handler {
    using api = wire::list_offsets_api;
    static constexpr wire::version_range served{0, 3};

    template <typename Broker>
    static void handle(request_context<Broker>& ctx, net::responder r) {
        using namespace wire::list_offsets;
        auto req = decode_request<request>(ctx);
        if (!req) return r.complete(net::close_connection);
        const auto iso = req->isolation_level == wire::isolation_level::read_committed ? isolation::read_committed
                                                                                       : isolation::read_uncommitted;
        response resp;
        for (const auto& t : req->topics) {
            response_topic rt;
            rt.name = t.name;
            for (const auto& p : t.partitions) {
                response_partition rp;
                rp.partition_index = p.partition_index;
                const auto lo = ctx.broker.list_offset(t.name, p.partition_index, p.timestamp, iso);
                rp.error_code = lo.error;
                if (lo.error == error_code::none) {
                    if (ctx.header.version == 0) {
                        if (lo.found.value() >= 0) rp.old_style_offsets.push_back(lo.found.value());
                    } else {
                        rp.offset = lo.found;
                        rp.timestamp = lo.timestamp;
                    }
                }
                rt.partitions.push_back(std::move(rp));
            }
            resp.topics.push_back(std::move(rt));
        }
        r.complete(net::response(encode_response(ctx.header, ctx.header.version, resp)));
    }
};

} // namespace gregor::broker_handlers
