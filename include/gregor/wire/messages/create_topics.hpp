// CreateTopics (key 19), versions 0-7; v5+ flexible. Sent to the controller named in Metadata
// (docs/protocol.md §17).
//
//   request   topics[name, num_partitions, replication_factor,
//                    assignments[partition_index, broker_ids[]],
//                    configs[name, value (nullable)]],
//             timeout_ms, validate_only (v1+)
//   response  throttle_time_ms (v2+),
//             topics[name, topic_id (v7+), error_code, error_message (v1+, nullable),
//                    num_partitions (v5+), replication_factor (v5+),
//                    configs (v5+, nullable)[name, value (nullable), read_only, config_source,
//                                            is_sensitive],
//                    tags (v5+): topic_config_error_code (tag 0)]
//   Per version (§13): v1 validate_only and error messages; v2 throttle; v3 = v2 (throttling after
//   the answer); v4 lets num_partitions/replication_factor be -1 (broker defaults) without
//   assignments; v5 flexible, and a successful topic's answer carries its partition count,
//   replication factor and configs (a failure to describe those goes in the tagged
//   topic_config_error_code); v6 = v5 (may answer THROTTLING_QUOTA_EXCEEDED); v7 the topic id.
//
// -1 in num_partitions/replication_factor means "the broker's default" (v4+; also what a request
// with explicit assignments must carry). The all-zero uuid means "no topic id". config_source uses
// DescribeConfigs' numbers (describe_configs.hpp), -1 = not given.
//
// Decoded strings are views into the frame. Thread-safety: value types.
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

namespace gregor::wire::create_topics {

/// Where a partition's replicas go (index = partition).
struct creatable_replica_assignment {
    gregor::partition_id partition_index{0};
    std::vector<gregor::node_id> broker_ids{};
};

/// A topic-level config override.
struct creatable_topic_config {
    std::string_view name{};
    std::optional<std::string_view> value{};
};

struct creatable_topic {
    std::string_view name{};
    std::int32_t num_partitions = -1;
    std::int16_t replication_factor = -1;
    std::vector<creatable_replica_assignment> assignments{};
    std::vector<creatable_topic_config> configs{};
};

struct response;

struct request {
    using api = create_topics_api;
    using response_type = response;

    std::vector<creatable_topic> topics{};
    std::int32_t timeout_ms = 60000;
    bool validate_only = false; // v1+

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<request> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<request>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        io.array(m.topics, [](auto& io2, auto& t) {
            io2.string(t.name);
            io2.i32(t.num_partitions);
            io2.i16(t.replication_factor);
            io2.array(t.assignments, [](auto& io3, auto& a) {
                io3.i32(a.partition_index);
                io3.array(a.broker_ids, [](auto& io4, auto& b) { io4.i32(b); });
                io3.tagged_fields();
            });
            io2.array(t.configs, [](auto& io3, auto& c) {
                io3.string(c.name);
                io3.nullable_string(c.value);
                io3.tagged_fields();
            });
            io2.tagged_fields();
        });
        io.i32(m.timeout_ms);
        if (io.version() >= 1) io.boolean(m.validate_only);
        io.tagged_fields();
    }
};

/// One config of a created topic (v5+).
struct creatable_topic_configs {
    std::string_view name{};
    std::optional<std::string_view> value{};
    bool read_only = false;
    std::int8_t config_source = -1;
    bool is_sensitive = false;
};

struct creatable_topic_result {
    std::string_view name{};
    wire::uuid topic_id{}; // v7+
    gregor::error_code error_code = gregor::error_code::none;
    std::optional<std::string_view> error_message{};                       // v1+
    gregor::error_code topic_config_error_code = gregor::error_code::none; // v5+, tag 0
    std::int32_t num_partitions = -1;                                      // v5+
    std::int16_t replication_factor = -1;                                  // v5+
    std::optional<std::vector<creatable_topic_configs>> configs{};         // v5+
};

struct response {
    using api = create_topics_api;

    std::int32_t throttle_time_ms = 0; // v2+
    std::vector<creatable_topic_result> topics{};

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<response> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<response>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        if (io.version() >= 2) io.i32(m.throttle_time_ms);
        io.array(m.topics, [](auto& io2, auto& t) {
            const auto tv = io2.version();
            io2.string(t.name);
            if (tv >= 7) io2.uuid(t.topic_id);
            io2.i16(t.error_code);
            if (tv >= 1) io2.nullable_string(t.error_message);
            if (tv >= 5) {
                io2.i32(t.num_partitions);
                io2.i16(t.replication_factor);
                io2.nullable_array(t.configs, [](auto& io3, auto& c) {
                    io3.string(c.name);
                    io3.nullable_string(c.value);
                    io3.boolean(c.read_only);
                    io3.i8(c.config_source);
                    io3.boolean(c.is_sensitive);
                    io3.tagged_fields();
                });
            }
            io2.tagged_fields(tag(0, t.topic_config_error_code != gregor::error_code::none,
                                  [&](auto& t2) { t2.i16(t.topic_config_error_code); }));
        });
        io.tagged_fields();
    }
};

static_assert(kafka_message<request>, "gregor::wire::create_topics::request must model kafka_message");
static_assert(kafka_message<response>, "gregor::wire::create_topics::response must model kafka_message");

} // namespace gregor::wire::create_topics
