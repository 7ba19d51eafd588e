// DeleteTopics: each topic through broker::delete_topic (docs/protocol.md §17); the name is free
// for a new topic at once. v0-5 name topics, v6 names or ids (an id resolved with
// broker::topic_name_of; unknown: UNKNOWN_TOPIC_ID). As Kafka: a name (or id) given twice deletes
// nothing and is answered once with INVALID_REQUEST "Duplicate topic name." ("Duplicate topic
// id."); a v6 entry with both a name and an id, or neither, is INVALID_REQUEST. Deletion is always
// enabled (gregor has no delete.topic.enable).
#pragma once

#include <gregor/broker/admin.hpp>
#include <gregor/broker/handlers/cluster_admin.hpp>
#include <gregor/broker/handlers/context.hpp>
#include <gregor/core/error.hpp>
#include <gregor/net/response.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/messages/delete_topics.hpp>
#include <gregor/wire/primitives.hpp>

#include <algorithm>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gregor::broker_handlers {

struct delete_topics_handler {
    using api = wire::delete_topics_api;
    // v3 TOPIC_DELETION_DISABLED (never answered here), v4 flexible, v5 error messages, v6 topic
    // ids.
    static constexpr wire::version_range served{0, 6};
    // Writes the topic table or a checkpoint (fsync): run on the server's background_worker.
    static constexpr bool off_loop = true;

    template <typename Broker>
    static void handle(request_context<Broker>& ctx, net::responder r) {
        using namespace wire::delete_topics;
        auto req = decode_request<request>(ctx);
        if (!req) return r.complete(net::close_connection);
        const auto v = ctx.header.version;

        // One entry per topic asked for, by name (v0-5 names, v6 names) or by id (v6).
        struct entry {
            std::string_view name; // null (data() == nullptr) when by id
            wire::uuid id{};
        };
        std::vector<entry> entries;
        if (v >= 6) {
            for (const auto& t : req->topics) entries.push_back({t.name, t.topic_id});
        } else {
            for (const auto n : req->topic_names) entries.push_back({n.data() ? n : std::string_view{"", 0}, {}});
        }
        const auto by_name = [](const entry& e) { return e.name.data() != nullptr; };
        std::map<std::string_view, int> name_uses;
        std::map<std::string, int> id_uses; // keyed by the id's bytes
        const auto id_key = [](const wire::uuid& u) {
            return std::string(reinterpret_cast<const char*>(u.bytes.data()), u.bytes.size());
        };
        for (const auto& e : entries) {
            if (by_name(e))
                ++name_uses[e.name];
            else
                ++id_uses[id_key(e.id)];
        }

        // The response holds views: names resolved from ids and messages live here.
        std::deque<std::string> strings;
        const auto keep = [&](std::string s) -> std::string_view { return strings.emplace_back(std::move(s)); };
        std::set<std::string_view> answered_names;
        std::set<std::string> answered_ids;

        response resp;
        for (const auto& e : entries) {
            deletable_topic_result res;
            res.name = e.name;
            res.topic_id = e.id;
            if (by_name(e) && e.id != wire::uuid{}) {
                res.error_code = error_code::invalid_request;
                res.error_message = "You may not specify both topic name and topic id.";
            } else if (!by_name(e) && e.id == wire::uuid{}) {
                res.error_code = error_code::invalid_request;
                res.error_message = "Neither topic name nor id were specified.";
            } else if (by_name(e) && name_uses[e.name] > 1) {
                if (!answered_names.insert(e.name).second) continue;
                res.error_code = error_code::invalid_request;
                res.error_message = "Duplicate topic name.";
            } else if (!by_name(e) && id_uses[id_key(e.id)] > 1) {
                if (!answered_ids.insert(id_key(e.id)).second) continue;
                res.error_code = error_code::invalid_request;
                res.error_message = "Duplicate topic id.";
            } else {
                std::string name;
                if (by_name(e)) {
                    name = std::string(e.name);
                } else if (auto found = ctx.broker.topic_name_of(e.id)) {
                    name = std::move(*found);
                    res.name = keep(name);
                } else {
                    res.error_code = error_code::unknown_topic_id;
                    res.error_message = "This server does not host this topic ID.";
                    resp.responses.push_back(res);
                    continue;
                }
                if (const auto rec = cluster_admin::topic_metadata(ctx.broker, name)) res.topic_id = rec->id;
                const auto ar = cluster_admin::delete_topic(ctx.broker, name);
                if (!ar) {
                    res.error_code = ar.error;
                    res.error_message = keep(ar.message);
                }
            }
            resp.responses.push_back(res);
        }
        r.complete(net::response(encode_response(ctx.header, v, resp)));
    }
};

} // namespace gregor::broker_handlers
