// InitProducerId: hands idempotent producers their id and epoch (ids never repeat across
// restarts: the broker reserves them in synced blocks).
#pragma once

#include <gregor/broker/handlers/context.hpp>
#include <gregor/net/response.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/messages/init_producer_id.hpp>

namespace gregor::broker_handlers {

struct init_producer_id_handler {
    using api = wire::init_producer_id_api;
    // v3+ requests carry the producer's current id and epoch (KIP-360); as in Kafka, a
    // non-transactional producer gets a fresh id whatever it sends.
    static constexpr wire::version_range served{0, 5};

    template <typename Broker>
    static void handle(request_context<Broker>& ctx, net::responder r) {
        using namespace wire::init_producer_id;
        auto req = decode_request<request>(ctx);
        if (!req) return r.complete(net::close_connection);
        const auto res = ctx.broker.init_producer_id(req->transactional_id, req->transaction_timeout_ms);
        response resp;
        resp.error_code = res.error;
        resp.producer_id = res.id;
        resp.producer_epoch = res.epoch;
        r.complete(net::response(encode_response(ctx.header, ctx.header.version, resp)));
    }
};

} // namespace gregor::broker_handlers
