// EndTxn: commit or abort. The coordinator answers once its decision is durable (PrepareCommit or
// PrepareAbort in __transaction_state) and writes the markers afterwards; readers see the outcome
// when every partition has its marker (docs/transactions.md, docs/protocol.md §15.5).
#pragma once

#include <gregor/broker/handlers/context.hpp>
#include <gregor/broker/handlers/group_common.hpp>
#include <gregor/broker/handlers/txn_common.hpp>
#include <gregor/net/response.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/messages/end_txn.hpp>

#include <string>

namespace gregor::broker_handlers {

struct end_txn_handler {
    using api = wire::end_txn_api;
    static constexpr wire::version_range served{0, 4};
    static constexpr bool off_loop = true;

    template <typename Broker>
    static void handle(request_context<Broker>& ctx, net::responder r) {
        using namespace wire::end_txn;
        auto req = decode_request<request>(ctx);
        if (!req) return r.complete(net::close_connection);
        const auto h = group_detail::answer_header(ctx.header);
        ctx.broker.transactions().end_txn(std::string(req->transactional_id), req->producer_id, req->producer_epoch,
                                          req->committed, [h, r = std::move(r)](error_code e) mutable {
                                              response resp;
                                              resp.error_code = txn_detail::for_version(e, h.version, 2);
                                              group_detail::reply(r, h, resp);
                                          });
    }
};

} // namespace gregor::broker_handlers
