// AddOffsetsToTxn: a transactional producer will commit a group's offsets in its transaction
// (send_offsets_to_transaction); the coordinator adds the group's __consumer_offsets partition, so
// the transaction's marker reaches it (docs/transactions.md, docs/protocol.md §15.4).
#pragma once

#include <gregor/broker/handlers/context.hpp>
#include <gregor/broker/handlers/group_common.hpp>
#include <gregor/broker/handlers/txn_common.hpp>
#include <gregor/net/response.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/messages/add_offsets_to_txn.hpp>

#include <string>

namespace gregor::broker_handlers {

struct add_offsets_to_txn_handler {
    using api = wire::add_offsets_to_txn_api;
    static constexpr wire::version_range served{0, 4};
    static constexpr bool off_loop = true;

    template <typename Broker>
    static void handle(request_context<Broker>& ctx, net::responder r) {
        using namespace wire::add_offsets_to_txn;
        auto req = decode_request<request>(ctx);
        if (!req) return r.complete(net::close_connection);
        const auto h = group_detail::answer_header(ctx.header);
        if (req->group_id.empty()) {
            response resp;
            resp.error_code = error_code::invalid_group_id;
            return group_detail::reply(r, h, resp);
        }
        ctx.broker.transactions().add_offsets(std::string(req->transactional_id), req->producer_id,
                                              req->producer_epoch, std::string(req->group_id),
                                              [h, r = std::move(r)](error_code e) mutable {
                                                  response resp;
                                                  resp.error_code = txn_detail::for_version(e, h.version, 2);
                                                  group_detail::reply(r, h, resp);
                                              });
    }
};

} // namespace gregor::broker_handlers
