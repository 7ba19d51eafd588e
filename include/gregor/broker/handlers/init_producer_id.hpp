// InitProducerId: hands idempotent producers a fresh id and epoch (ids never repeat across
// restarts: the broker reserves them in synced blocks), and transactional producers the answer of
// the transaction coordinator (docs/transactions.md, docs/protocol.md §15.2), which bumps the
// epoch, fences the previous instance and aborts what it left open.
#pragma once

#include <gregor/broker/handlers/context.hpp>
#include <gregor/broker/handlers/group_common.hpp>
#include <gregor/broker/handlers/txn_common.hpp>
#include <gregor/net/response.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/messages/init_producer_id.hpp>

#include <string>

namespace gregor::broker_handlers {

struct init_producer_id_handler {
    using api = wire::init_producer_id_api;
    // v3+ requests carry the producer's current id and epoch (KIP-360); as in Kafka, a
    // non-transactional producer gets a fresh id whatever it sends.
    static constexpr wire::version_range served{0, 5};
    // A first transactional id creates __transaction_state and a coordinator loads its partition:
    // not on the event loop.
    static constexpr bool off_loop = true;

    template <typename Broker>
    static void handle(request_context<Broker>& ctx, net::responder r) {
        using namespace wire::init_producer_id;
        auto req = decode_request<request>(ctx);
        if (!req) return r.complete(net::close_connection);
        const auto h = group_detail::answer_header(ctx.header);
        if (!req->transactional_id) {
            const auto res = ctx.broker.init_producer_id(std::nullopt, req->transaction_timeout_ms);
            response resp;
            resp.error_code = res.error;
            resp.producer_id = res.id;
            resp.producer_epoch = res.epoch;
            return group_detail::reply(r, h, resp);
        }
        ctx.broker.transactions().init_producer_id(
                std::string(*req->transactional_id), req->transaction_timeout_ms, req->producer_id,
                req->producer_epoch, [h, r = std::move(r)](txn::init_result res) mutable {
                    response resp;
                    resp.error_code = txn_detail::for_version(res.error, h.version, 4);
                    resp.producer_id = res.id;
                    resp.producer_epoch = res.epoch;
                    group_detail::reply(r, h, resp);
                });
    }
};

} // namespace gregor::broker_handlers
