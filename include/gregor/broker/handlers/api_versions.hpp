// ApiVersions: the first request on every connection; clients pick every later version from it.
// The list it answers with is generated from the handler list (handlers.hpp), so what is
// advertised is what is dispatched.
#pragma once

#include <gregor/broker/handlers/context.hpp>
#include <gregor/broker/handlers/handler_list.hpp>
#include <gregor/core/error.hpp>
#include <gregor/net/response.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/messages/api_versions.hpp>

#include <utility>

namespace gregor::broker_handlers {

struct api_versions_handler {
    using api = wire::api_versions_api;
    static constexpr wire::version_range served{0, 4};

    template <typename Broker>
    static void handle(request_context<Broker>& ctx, net::responder r) {
        using namespace wire::api_versions;
        auto req = decode_request<request>(ctx);
        auto resp = response::advertising(ctx.advertised_apis);
        if (!req) resp.error_code = error_code::invalid_request;
        r.complete(net::response(encode_response(ctx.header, ctx.header.version, resp)));
    }

    /// KIP-511: a client newer than us must still learn our range, so a version above ours gets a
    /// v0 body with UNSUPPORTED_VERSION and our ApiVersions range, whatever was asked.
    template <typename Broker>
    static void unsupported_version(request_context<Broker>& ctx, net::responder r) {
        if (ctx.header.version < served.min) return r.complete(net::close_connection); // malformed
        constexpr auto ours = advertised_range<api_versions_handler>();
        wire::api_versions::response resp;
        resp.error_code = error_code::unsupported_version;
        resp.api_keys.push_back({api::key, ours.min, ours.max});
        r.complete(net::response(encode_response(ctx.header, 0, resp)));
    }
};

} // namespace gregor::broker_handlers
