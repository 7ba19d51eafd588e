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
    // v4 leader epochs, v6 flexible, v7 MAX_TIMESTAMP (-3), v8 EARLIEST_LOCAL (-4, the log start
    // here: gregor has no tiered storage).
    static constexpr wire::version_range served{0, 8};

    template <typename Broker>
    static void handle(request_context<Broker>& ctx, net::responder r) {
        using namespace wire::list_offsets;
        auto req = decode_request<request>(ctx);
        if (!req) return r.complete(net::close_connection);
        const auto iso = req->isolation_level == wire::isolation_level::read_committed ? isolation::read_committed
                                                                                       : isolation::read_uncommitted;
        response resp;
        const auto v = ctx.header.version;
        for (const auto& t : req->topics) {
            response_topic rt;
            rt.name = t.name;
            for (const auto& p : t.partitions) {
                response_partition rp;
                rp.partition_index = p.partition_index;
                auto* part = ctx.broker.find_partition(t.name, p.partition_index);
                std::int64_t ts = p.timestamp;
                if (ts == -4 && v >= 8) ts = -2;
                if ((ts == -3 && v < 7) || ts == -4 || ts < -4) {
                    rp.error_code = error_code::unsupported_version; // as Kafka: not at this version
                    rt.partitions.push_back(std::move(rp));
                    continue;
                }
                if (const auto e = check_leader_epoch(part, v >= 4 ? p.current_leader_epoch : leader_epoch{-1});
                    e != error_code::none) {
                    rp.error_code = e;
                    rt.partitions.push_back(std::move(rp));
                    continue;
                }
                const auto lo = ctx.broker.list_offset(t.name, p.partition_index, ts, iso);
                rp.error_code = lo.error;
                if (lo.error == error_code::none && part && lo.found.value() >= 0)
                    rp.leader_epoch = part->current_leader_epoch();
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
