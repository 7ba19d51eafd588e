// IncrementalAlterConfigs (docs/protocol.md §17): a TOPIC resource's listed configs change through
// broker::alter_topic_configs (SET, DELETE back to the broker's value, APPEND/SUBTRACT on list
// configs; the same name twice is INVALID_REQUEST; validate_only checks only), the others keep
// their overrides. BROKER resources are INVALID_REQUEST (static configs, as for AlterConfigs),
// other types too; a resource given twice is answered once with INVALID_REQUEST "Duplicate
// resource.", as Kafka does.
#pragma once

#include <gregor/broker/admin.hpp>
#include <gregor/broker/handlers/alter_configs.hpp>
#include <gregor/broker/handlers/context.hpp>
#include <gregor/core/error.hpp>
#include <gregor/net/response.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/messages/incremental_alter_configs.hpp>

#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gregor::broker_handlers {

struct incremental_alter_configs_handler {
    using api = wire::incremental_alter_configs_api;
    // v1 flexible.
    static constexpr wire::version_range served{0, 1};
    // Writes the topic table or a checkpoint (fsync): run on the server's background_worker.
    static constexpr bool off_loop = true;

    template <typename Broker>
    static void handle(request_context<Broker>& ctx, net::responder r) {
        using namespace wire::incremental_alter_configs;
        auto req = decode_request<request>(ctx);
        if (!req) return r.complete(net::close_connection);
        std::deque<std::string> messages; // the response holds views
        const auto resp = answer_config_alterations<response>(*req, messages, [&](const resource& res) {
            std::vector<config_change> changes;
            changes.reserve(res.configs.size());
            for (const auto& c : res.configs) {
                config_change ch;
                ch.name = std::string(c.name);
                // Kafka's AlterConfigOp numbers; an unknown one is the broker's INVALID_REQUEST.
                ch.op = static_cast<config_op>(c.config_operation);
                if (c.value) ch.value = std::string(*c.value);
                changes.push_back(std::move(ch));
            }
            return ctx.broker.alter_topic_configs(res.resource_name, changes, req->validate_only);
        });
        r.complete(net::response(encode_response(ctx.header, ctx.header.version, resp)));
    }
};

} // namespace gregor::broker_handlers
