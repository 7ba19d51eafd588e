// AlterPartition: a leader asks the controller to change a partition's ISR (docs/protocol.md
// §14.9). Served by the node running the controller (cluster/controller.hpp checks it as Kafka's
// controller does); any other node answers NOT_CONTROLLER, and so does a single node.
#pragma once

#include <gregor/broker/controller.hpp>
#include <gregor/broker/handlers/context.hpp>
#include <gregor/core/error.hpp>
#include <gregor/core/strong_types.hpp>
#include <gregor/net/response.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/messages/alter_partition.hpp>

#include <string>
#include <utility>
#include <vector>

namespace gregor::broker_handlers {

struct alter_partition_handler {
    using api = wire::alter_partition_api;
    // v0-1 name topics; v2+ carry topic ids, v3 broker epochs per ISR member. gregor's leaders
    // send v1; v2-3 are served for Kafka's tools, with ids resolved from the topic table.
    static constexpr wire::version_range served{0, 3};
    // The controller syncs its metadata log: run on the server's background_worker.
    static constexpr bool off_loop = true;

    template <typename Broker>
    static void handle(request_context<Broker>& ctx, net::responder r) {
        using namespace wire::alter_partition;
        auto req = decode_request<request>(ctx);
        if (!req) return r.complete(net::close_connection);
        const auto v = ctx.header.version;
        response resp;
        auto* ctl = ctx.broker.controller();
        if (!ctl) {
            resp.error_code = error_code::not_controller;
            return r.complete(net::response(encode_response(ctx.header, v, resp)));
        }
        std::vector<std::string> names; // the answer's topic names point here
        names.reserve(req->topics.size());
        for (const auto& t : req->topics) {
            response_topic rt;
            rt.topic_id = t.topic_id;
            if (v >= 2) {
                auto name = ctx.broker.topic_name_of(t.topic_id);
                names.push_back(name.value_or(std::string{}));
            } else {
                names.emplace_back(t.topic_name);
            }
            rt.topic_name = names.back();
            for (const auto& p : t.partitions) {
                std::vector<node_id> isr;
                if (v >= 3)
                    for (const auto& b : p.new_isr_with_epochs) isr.push_back(b.broker_id);
                else
                    isr = p.new_isr;
                response_partition rp;
                rp.partition_index = p.partition_index;
                if (names.back().empty()) {
                    rp.error_code = error_code::unknown_topic_id;
                } else {
                    const auto res = ctl->alter_partition(req->broker_id, req->broker_epoch, names.back(),
                                                          p.partition_index, p.leader_epoch, p.partition_epoch, isr);
                    rp.error_code = res.error;
                    rp.leader_id = res.state.leader;
                    rp.leader_epoch = res.state.leader_epoch;
                    rp.isr = res.state.isr;
                    rp.partition_epoch = res.state.partition_epoch;
                }
                rt.partitions.push_back(std::move(rp));
            }
            resp.topics.push_back(std::move(rt));
        }
        r.complete(net::response(encode_response(ctx.header, v, resp)));
    }
};

} // namespace gregor::broker_handlers
