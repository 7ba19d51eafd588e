// AlterConfigs (docs/protocol.md §17): a TOPIC resource's configs become its whole override set
// through broker::set_topic_configs (configs not listed, or listed with a null value, go back to
// the broker's value; INVALID_CONFIG names a bad key or value; validate_only checks only). BROKER
// resources are INVALID_REQUEST: a gregor broker's configs are static, read at start-up. Other
// types are INVALID_REQUEST too. As Kafka: a resource given twice changes nothing and is answered
// once with INVALID_REQUEST "Duplicate resource.".
#pragma once

#include <gregor/broker/admin.hpp>
#include <gregor/broker/handlers/context.hpp>
#include <gregor/core/error.hpp>
#include <gregor/net/response.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/messages/alter_configs.hpp>

#include <deque>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>

namespace gregor::broker_handlers {

/// The answer to altering a BROKER resource's configs (AlterConfigs, IncrementalAlterConfigs).
inline constexpr std::string_view static_broker_configs_message =
    "Broker configs are static in gregor: set them in the broker's configuration and restart it.";

/// The answer both config-altering APIs share: each resource answered once, duplicates
/// INVALID_REQUEST "Duplicate resource." (answered once, nothing changed), BROKER resources
/// static, other types unsupported; a TOPIC resource goes to `alter_topic(resource)`, which
/// returns the broker's admin_result. `Response` is the API's response (the same layout for both).
template <typename Response, typename Request, typename AlterTopic>
Response answer_config_alterations(const Request& req, std::deque<std::string>& messages, AlterTopic&& alter_topic) {
    using resource_type = decltype(req.resources.front().resource_type);
    std::map<std::pair<resource_type, std::string_view>, int> uses;
    for (const auto& res : req.resources) ++uses[{res.resource_type, res.resource_name}];
    std::set<std::pair<resource_type, std::string_view>> answered_duplicates;
    Response resp;
    for (const auto& res : req.resources) {
        typename decltype(resp.responses)::value_type out;
        out.resource_type = res.resource_type;
        out.resource_name = res.resource_name;
        const std::pair key{res.resource_type, res.resource_name};
        if (uses[key] > 1) {
            if (!answered_duplicates.insert(key).second) continue;
            out.error_code = error_code::invalid_request;
            out.error_message = "Duplicate resource.";
        } else if (res.resource_type == resource_type::topic) {
            const admin_result ar = alter_topic(res);
            if (!ar) {
                out.error_code = ar.error;
                out.error_message = messages.emplace_back(ar.message);
            }
        } else if (res.resource_type == resource_type::broker) {
            out.error_code = error_code::invalid_request;
            out.error_message = static_broker_configs_message;
        } else {
            out.error_code = error_code::invalid_request;
            out.error_message = messages.emplace_back("Unsupported resource type: " +
                                                      std::to_string(static_cast<int>(res.resource_type)));
        }
        resp.responses.push_back(out);
    }
    return resp;
}

struct alter_configs_handler {
    using api = wire::alter_configs_api;
    // v2 flexible.
    static constexpr wire::version_range served{0, 2};
    // Writes the topic table or a checkpoint (fsync): run on the server's background_worker.
    static constexpr bool off_loop = true;

    template <typename Broker>
    static void handle(request_context<Broker>& ctx, net::responder r) {
        using namespace wire::alter_configs;
        auto req = decode_request<request>(ctx);
        if (!req) return r.complete(net::close_connection);
        std::deque<std::string> messages; // the response holds views
        const auto resp = answer_config_alterations<response>(*req, messages, [&](const resource& res) {
            std::map<std::string, std::string> overrides;
            for (const auto& c : res.configs)
                if (c.value) overrides[std::string(c.name)] = std::string(*c.value);
            return ctx.broker.set_topic_configs(res.resource_name, std::move(overrides), req->validate_only);
        });
        r.complete(net::response(encode_response(ctx.header, ctx.header.version, resp)));
    }
};

} // namespace gregor::broker_handlers
