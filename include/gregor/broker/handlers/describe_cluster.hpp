// DescribeCluster (docs/protocol.md §17): the cluster id, this node as controller and as the one
// broker (at the advertised address), and the cluster operations when asked (no ACLs: all, as in
// Metadata). A broker only serves endpoint type 1 (brokers): type 2 (controllers) is
// MISMATCHED_ENDPOINT_TYPE, any other UNSUPPORTED_ENDPOINT_TYPE (v0, which cannot ask for another
// type, would get INVALID_REQUEST).
#pragma once

#include <gregor/broker/handlers/context.hpp>
#include <gregor/broker/handlers/metadata.hpp>
#include <gregor/core/error.hpp>
#include <gregor/core/strong_types.hpp>
#include <gregor/net/response.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/messages/describe_cluster.hpp>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>

namespace gregor::broker_handlers {

struct describe_cluster_handler {
    using api = wire::describe_cluster_api;
    // Flexible from v0; v1 endpoint types (KIP-919).
    static constexpr wire::version_range served{0, 1};

    template <typename Broker>
    static void handle(request_context<Broker>& ctx, net::responder r) {
        using namespace wire::describe_cluster;
        auto req = decode_request<request>(ctx);
        if (!req) return r.complete(net::close_connection);
        const auto v = ctx.header.version;
        const node_id self{ctx.broker.config().node_id};
        response resp;       // an error leaves the rest at its defaults, as Kafka does
        std::string message; // the response holds a view
        if (req->endpoint_type == endpoint_type::controllers) {
            resp.error_code = v >= 1 ? error_code::mismatched_endpoint_type : error_code::invalid_request;
            message = "The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type "
                      "CONTROLLER";
        } else if (req->endpoint_type != endpoint_type::brokers) {
            resp.error_code = v >= 1 ? error_code::unsupported_endpoint_type : error_code::invalid_request;
            message = "Unsupported endpoint type " + std::to_string(static_cast<int>(req->endpoint_type));
        }
        if (resp.error_code != error_code::none) {
            resp.error_message = message;
        } else {
            resp.endpoint_type = endpoint_type::brokers;
            resp.cluster_id = ctx.cluster_id;
            resp.controller_id = self;
            std::shared_ptr<const cluster::metadata_image> img; // the answer's hosts point into it
            if (auto* m = ctx.broker.member()) {
                // A cluster node: the live brokers of the metadata image (docs/replication.md).
                img = m->image();
                resp.controller_id = m->controller_id();
                for (const auto& [id, b] : img->brokers)
                    if (!b.fenced) resp.brokers.push_back({b.id, b.host, b.port, std::nullopt});
            }
            if (std::none_of(resp.brokers.begin(), resp.brokers.end(), [&](const auto& b) { return b.broker_id == self; }))
                resp.brokers.push_back({self, ctx.advertised_host, ctx.advertised_port, std::nullopt});
            if (req->include_cluster_authorized_operations)
                resp.cluster_authorized_operations = metadata_handler::cluster_operations;
        }
        r.complete(net::response(encode_response(ctx.header, v, resp)));
    }
};

} // namespace gregor::broker_handlers
