// Metadata (key 3), versions 0-6 (none flexible; v9 would be).
//
//   request   topics[name] (v0: empty = all topics; v1+: null = all, empty = none),
//             allow_auto_topic_creation (v4+)
//   response  throttle_time_ms (v3+, first), brokers[node_id, host, port, rack (v1+)],
//             cluster_id (v2+), controller_id (v1+),
//             topics[error_code, name, is_internal (v1+),
//                    partitions[error_code, partition_index, leader_id, replica_nodes[],
//                               isr_nodes[], offline_replicas[] (v5+)]]
//
// `request::topics` is normalised: nullopt always means "all topics". A v0 request's empty array
// decodes to nullopt, and nullopt encodes as an empty array at v0 (v0 cannot ask for no topics).
// kafkajs' idempotent producer needs controller_id to name a live broker listed in `brokers`
// (docs/protocol.md §3.2).
//
// Decoded strings are views into the frame. Thread-safety: value types, no shared state.
#pragma once

#include <gregor/core/buffer.hpp>
#include <gregor/core/error.hpp>
#include <gregor/core/strong_types.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/header.hpp>
#include <gregor/wire/primitives.hpp>

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace gregor::wire::metadata {

struct request_topic {
    std::string_view name;
};

struct request {
    using api = metadata_api;

    std::optional<std::vector<request_topic>> topics; // nullopt = all topics
    bool allow_auto_topic_creation = true;            // v4+ (before v4 the broker's config decides)

    void encode(byte_writer& w, std::int16_t version) const {
        require_version<api>(version);
        encoder e(w, is_flexible_version<api>(version));
        const auto write_topic = [](encoder& e2, const request_topic& t) {
            e2.string(t.name);
            e2.tagged_fields();
        };
        if (version == 0 && !topics) e.array_count(0);
        else e.nullable_array(topics, write_topic);
        if (version >= 4) e.boolean(allow_auto_topic_creation);
        e.tagged_fields();
    }

    static std::optional<request> decode(byte_reader& r, std::int16_t version) {
        if (!supports_version<api>(version)) {
            r.fail();
            return std::nullopt;
        }
        decoder d(r, is_flexible_version<api>(version));
        request m;
        const auto read_topic = [](decoder& d2, request_topic& t) {
            t.name = d2.string();
            d2.tagged_fields();
        };
        const auto min_topic = d.min_string() + d.min_tags();
        if (version == 0) {
            std::vector<request_topic> v;
            d.array(v, min_topic, read_topic);
            if (!v.empty()) m.topics = std::move(v);
        } else {
            d.nullable_array(m.topics, min_topic, read_topic);
        }
        if (version >= 4) m.allow_auto_topic_creation = d.boolean();
        d.tagged_fields();
        if (!d.ok()) return std::nullopt;
        return m;
    }
};

struct broker {
    gregor::node_id node_id{0};
    std::string_view host;
    std::int32_t port = 0;
    std::optional<std::string_view> rack; // v1+
};

struct partition {
    gregor::error_code error_code = gregor::error_code::none;
    gregor::partition_id partition_index{0};
    gregor::node_id leader_id{-1};
    std::vector<gregor::node_id> replica_nodes;
    std::vector<gregor::node_id> isr_nodes;
    std::vector<gregor::node_id> offline_replicas; // v5+
};

struct topic {
    gregor::error_code error_code = gregor::error_code::none;
    std::string_view name;
    bool is_internal = false; // v1+
    std::vector<partition> partitions;
};

struct response {
    using api = metadata_api;

    std::int32_t throttle_time_ms = 0; // v3+
    std::vector<broker> brokers;
    std::optional<std::string_view> cluster_id; // v2+
    gregor::node_id controller_id{-1};          // v1+
    std::vector<topic> topics;

    void encode(byte_writer& w, std::int16_t version) const {
        require_version<api>(version);
        encoder e(w, is_flexible_version<api>(version));
        if (version >= 3) e.i32(throttle_time_ms);
        e.array(brokers, [version](encoder& e2, const broker& b) {
            e2.i32(b.node_id.value());
            e2.string(b.host);
            e2.i32(b.port);
            if (version >= 1) e2.nullable_string(b.rack);
            e2.tagged_fields();
        });
        if (version >= 2) e.nullable_string(cluster_id);
        if (version >= 1) e.i32(controller_id.value());
        e.array(topics, [version](encoder& e2, const topic& t) {
            e2.i16(static_cast<std::int16_t>(t.error_code));
            e2.string(t.name);
            if (version >= 1) e2.boolean(t.is_internal);
            e2.array(t.partitions, [version](encoder& e3, const partition& p) {
                const auto write_node = [](encoder& e4, gregor::node_id n) { e4.i32(n.value()); };
                e3.i16(static_cast<std::int16_t>(p.error_code));
                e3.i32(p.partition_index.value());
                e3.i32(p.leader_id.value());
                e3.array(p.replica_nodes, write_node);
                e3.array(p.isr_nodes, write_node);
                if (version >= 5) e3.array(p.offline_replicas, write_node);
                e3.tagged_fields();
            });
            e2.tagged_fields();
        });
        e.tagged_fields();
    }

    static std::optional<response> decode(byte_reader& r, std::int16_t version) {
        if (!supports_version<api>(version)) {
            r.fail();
            return std::nullopt;
        }
        decoder d(r, is_flexible_version<api>(version));
        response m;
        if (version >= 3) m.throttle_time_ms = d.i32();
        d.array(m.brokers, 8 + d.min_string() + d.min_tags(), [version](decoder& d2, broker& b) {
            b.node_id = gregor::node_id{d2.i32()};
            b.host = d2.string();
            b.port = d2.i32();
            if (version >= 1) b.rack = d2.nullable_string();
            d2.tagged_fields();
        });
        if (version >= 2) m.cluster_id = d.nullable_string();
        if (version >= 1) m.controller_id = gregor::node_id{d.i32()};
        d.array(m.topics, 2 + d.min_string() + d.min_array(), [version](decoder& d2, topic& t) {
            t.error_code = static_cast<gregor::error_code>(d2.i16());
            t.name = d2.string();
            if (version >= 1) t.is_internal = d2.boolean();
            d2.array(t.partitions, 10 + 2 * d2.min_array(), [version](decoder& d3, partition& p) {
                const auto read_node = [](decoder& d4, gregor::node_id& n) { n = gregor::node_id{d4.i32()}; };
                p.error_code = static_cast<gregor::error_code>(d3.i16());
                p.partition_index = gregor::partition_id{d3.i32()};
                p.leader_id = gregor::node_id{d3.i32()};
                d3.array(p.replica_nodes, 4, read_node);
                d3.array(p.isr_nodes, 4, read_node);
                if (version >= 5) d3.array(p.offline_replicas, 4, read_node);
                d3.tagged_fields();
            });
            d2.tagged_fields();
        });
        d.tagged_fields();
        if (!d.ok()) return std::nullopt;
        return m;
    }
};

static_assert(kafka_message<request>, "gregor::wire::metadata::request must model kafka_message");
static_assert(kafka_message<response>, "gregor::wire::metadata::response must model kafka_message");

} // namespace gregor::wire::metadata
