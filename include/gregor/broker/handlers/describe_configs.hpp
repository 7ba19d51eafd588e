// DescribeConfigs (docs/protocol.md §17): a TOPIC resource through broker::describe_topic_configs
// (unknown topic: UNKNOWN_TOPIC_OR_PARTITION), a BROKER resource named by this node's id in decimal
// (or "", the cluster-wide defaults, which are the same here: gregor has no dynamic configs)
// through broker::describe_broker_configs, anything else INVALID_REQUEST. Null or empty
// configuration_keys ask for every config. Per config: v0 is_default; v1+ the source, and the
// synonyms only when include_synonyms; v3+ the config type, and the documentation only when
// include_documentation, as Kafka does.
#pragma once

#include <gregor/broker/admin.hpp>
#include <gregor/broker/handlers/context.hpp>
#include <gregor/core/error.hpp>
#include <gregor/net/response.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/messages/describe_configs.hpp>

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gregor::broker_handlers {

struct describe_configs_handler {
    using api = wire::describe_configs_api;
    // v1 sources and synonyms, v3 types and documentation, v4 flexible.
    static constexpr wire::version_range served{0, 4};

    template <typename Broker>
    static void handle(request_context<Broker>& ctx, net::responder r) {
        using namespace wire::describe_configs;
        auto req = decode_request<request>(ctx);
        if (!req) return r.complete(net::close_connection);
        const auto v = ctx.header.version;
        const bool synonyms = v >= 1 && req->include_synonyms;
        const bool documentation = v >= 3 && req->include_documentation;
        const auto self = std::to_string(ctx.broker.config().node_id);

        // The response holds views: the described entries and the messages live here.
        std::deque<std::vector<config_entry>> described;
        std::deque<std::string> messages;

        response resp;
        resp.results.reserve(req->resources.size());
        for (const auto& res : req->resources) {
            result out;
            out.resource_type = res.resource_type;
            out.resource_name = res.resource_name;
            std::vector<std::string> keys;
            if (res.configuration_keys)
                for (const auto k : *res.configuration_keys) keys.emplace_back(k);
            std::optional<std::vector<config_entry>> entries;
            if (res.resource_type == resource_type::topic) {
                entries = ctx.broker.describe_topic_configs(res.resource_name, keys);
                if (!entries) {
                    out.error_code = error_code::unknown_topic_or_partition;
                    out.error_message =
                        messages.emplace_back("The topic '" + std::string(res.resource_name) + "' does not exist.");
                }
            } else if (res.resource_type == resource_type::broker) {
                if (res.resource_name.empty() || res.resource_name == self) {
                    entries = ctx.broker.describe_broker_configs(keys);
                } else {
                    out.error_code = error_code::invalid_request;
                    out.error_message =
                        messages.emplace_back("Unexpected broker id, expected " + self +
                                              " or empty string, but received " + std::string(res.resource_name));
                }
            } else {
                out.error_code = error_code::invalid_request;
                out.error_message = messages.emplace_back("Unsupported resource type: " +
                                                          std::to_string(static_cast<int>(res.resource_type)));
            }
            if (entries) {
                const auto& kept = described.emplace_back(std::move(*entries));
                out.configs.reserve(kept.size());
                for (const auto& e : kept) out.configs.push_back(to_wire(e, synonyms, documentation));
            }
            resp.results.push_back(std::move(out));
        }
        r.complete(net::response(encode_response(ctx.header, v, resp)));
    }

private:
    /// One entry as the wire carries it (views into `e`); the codec drops what the version lacks.
    static wire::describe_configs::config to_wire(const config_entry& e, bool synonyms, bool documentation) {
        namespace dc = wire::describe_configs;
        dc::config c;
        c.name = e.name;
        if (e.value && !e.sensitive) c.value = std::string_view{*e.value};
        c.read_only = e.read_only;
        c.is_default = e.is_default();
        c.config_source = e.source;
        c.is_sensitive = e.sensitive;
        if (synonyms) {
            c.synonyms.reserve(e.synonyms.size());
            for (const auto& s : e.synonyms) {
                dc::synonym w;
                w.name = s.name;
                if (s.value) w.value = std::string_view{*s.value};
                w.source = s.source;
                c.synonyms.push_back(w);
            }
        }
        c.config_type = e.type;
        if (documentation) c.documentation = std::string_view{e.documentation};
        return c;
    }
};

} // namespace gregor::broker_handlers
