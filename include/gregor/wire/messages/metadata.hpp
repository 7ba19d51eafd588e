// Metadata (key 3), versions 0-12; v9+ flexible (compact strings/arrays, tagged sections).
//
//   request   topics[topic_id (v10+), name (nullable v10+)] (v0: empty = all topics; v1+: null =
//             all, empty = none), allow_auto_topic_creation (v4+),
//             include_cluster_authorized_operations (v8-10), include_topic_authorized_operations
//             (v8+)
//   response  throttle_time_ms (v3+, first), brokers[node_id, host, port, rack (v1+)],
//             cluster_id (v2+), controller_id (v1+),
//             topics[error_code, name (nullable v12+), topic_id (v10+), is_internal (v1+),
//                    partitions[error_code, partition_index, leader_id, leader_epoch (v7+),
//                               replica_nodes[], isr_nodes[], offline_replicas[] (v5+)],
//                    topic_authorized_operations (v8+)],
//             cluster_authorized_operations (v8-10)
//   Per version (docs/protocol.md §4.1, §13): v1 rack, controller, is_internal and null = all
//   topics; v2 cluster_id; v3 throttle; v4 auto-creation flag; v5 offline replicas; v6 = v5;
//   v7 leader epoch (which makes librdkafka >= 2.1 validate positions, §10); v8 authorized
//   operations; v9 flexible; v10 topic ids (request names may be null); v11 drops the cluster
//   operations; v12 response names may be null (topics asked for by id that do not exist).
//
// `request::topics` is normalised: nullopt always means "all topics". A v0 request's empty array
// decodes to nullopt, and nullopt encodes as an empty array at v0 (v0 cannot ask for no topics).
// A name that the version allows to be null is a string_view: null is a default-constructed view
// (data() == nullptr), "" a non-null empty one (primitives.hpp, string_or_null). The all-zero
// uuid means "no topic id". kafkajs' idempotent producer needs controller_id to name a live broker
// listed in `brokers` (docs/protocol.md §3.2).
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
#include <limits>
#include <optional>
#include <string_view>
#include <vector>

namespace gregor::wire::metadata {

/// The authorized-operations fields' default: "not requested / not known".
inline constexpr std::int32_t authorized_operations_unknown = std::numeric_limits<std::int32_t>::min();

struct request_topic {
    std::string_view name; // null (data() == nullptr) allowed in v10+
    wire::uuid topic_id{}; // v10+
};

struct response;

struct request {
    using api = metadata_api;
    using response_type = response;

    std::optional<std::vector<request_topic>> topics;   // nullopt = all topics
    bool allow_auto_topic_creation = true;              // v4+ (before v4 the broker's config decides)
    bool include_cluster_authorized_operations = false; // v8-10
    bool include_topic_authorized_operations = false;   // v8+

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<request> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<request>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        const auto v = io.version();
        const auto topic = [](auto& io2, auto& t) {
            if (io2.version() >= 10) io2.uuid(t.topic_id);
            io2.string_or_null(t.name, io2.version() >= 10);
            io2.tagged_fields();
        };
        if (v == 0)
            io.null_as_empty_array(m.topics, topic);
        else
            io.nullable_array(m.topics, topic);
        if (v >= 4) io.boolean(m.allow_auto_topic_creation);
        if (v >= 8 && v <= 10) io.boolean(m.include_cluster_authorized_operations);
        if (v >= 8) io.boolean(m.include_topic_authorized_operations);
        io.tagged_fields();
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
    gregor::leader_epoch leader_epoch{-1};         // v7+
};

struct topic {
    gregor::error_code error_code = gregor::error_code::none;
    std::string_view name;    // null (data() == nullptr) allowed in v12+
    bool is_internal = false; // v1+
    std::vector<partition> partitions;
    wire::uuid topic_id{};                                                    // v10+
    std::int32_t topic_authorized_operations = authorized_operations_unknown; // v8+
};

struct response {
    using api = metadata_api;

    std::int32_t throttle_time_ms = 0; // v3+
    std::vector<broker> brokers;
    std::optional<std::string_view> cluster_id; // v2+
    gregor::node_id controller_id{-1};          // v1+
    std::vector<topic> topics;
    std::int32_t cluster_authorized_operations = authorized_operations_unknown; // v8-10

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<response> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<response>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        const auto v = io.version();
        if (v >= 3) io.i32(m.throttle_time_ms);
        io.array(m.brokers, [](auto& io2, auto& b) {
            io2.i32(b.node_id);
            io2.string(b.host);
            io2.i32(b.port);
            if (io2.version() >= 1) io2.nullable_string(b.rack);
            io2.tagged_fields();
        });
        if (v >= 2) io.nullable_string(m.cluster_id);
        if (v >= 1) io.i32(m.controller_id);
        io.array(m.topics, [](auto& io2, auto& t) {
            const auto tv = io2.version();
            io2.i16(t.error_code);
            io2.string_or_null(t.name, tv >= 12);
            if (tv >= 10) io2.uuid(t.topic_id);
            if (tv >= 1) io2.boolean(t.is_internal);
            io2.array(t.partitions, [](auto& io3, auto& p) {
                const auto pv = io3.version();
                const auto node = [](auto& io4, auto& n) { io4.i32(n); };
                io3.i16(p.error_code);
                io3.i32(p.partition_index);
                io3.i32(p.leader_id);
                if (pv >= 7) io3.i32(p.leader_epoch);
                io3.array(p.replica_nodes, node);
                io3.array(p.isr_nodes, node);
                if (pv >= 5) io3.array(p.offline_replicas, node);
                io3.tagged_fields();
            });
            if (tv >= 8) io2.i32(t.topic_authorized_operations);
            io2.tagged_fields();
        });
        if (v >= 8 && v <= 10) io.i32(m.cluster_authorized_operations);
        io.tagged_fields();
    }
};

static_assert(kafka_message<request>, "gregor::wire::metadata::request must model kafka_message");
static_assert(kafka_message<response>, "gregor::wire::metadata::response must model kafka_message");

} // namespace gregor::wire::metadata
