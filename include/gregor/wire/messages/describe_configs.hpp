// DescribeConfigs (key 32), versions 0-4; v4+ flexible. A BROKER resource goes to that broker,
// TOPIC resources to the controller or any broker (docs/protocol.md §17).
//
//   request   resources[resource_type, resource_name, configuration_keys[] (nullable: all)],
//             include_synonyms (v1+), include_documentation (v3+)
//   response  throttle_time_ms,
//             results[error_code, error_message (nullable), resource_type, resource_name,
//                     configs[name, value (nullable), read_only, is_default (v0 only),
//                             config_source (v1+), is_sensitive,
//                             synonyms (v1+)[name, value (nullable), source],
//                             config_type (v3+), documentation (v3+, nullable)]]
//   Per version (§13): v1 config sources and synonyms instead of is_default; v2 = v1 (throttling
//   after the answer); v3 config types and documentation; v4 flexible.
//
// The resource types, config sources and config types below carry Kafka's numbers; AlterConfigs,
// IncrementalAlterConfigs and CreateTopics use the same ones.
//
// Decoded strings are views into the frame. Thread-safety: value types.
#pragma once

#include <gregor/core/buffer.hpp>
#include <gregor/core/error.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/header.hpp>
#include <gregor/wire/primitives.hpp>

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace gregor::wire::describe_configs {

/// What a config resource is (Kafka's ConfigResource.Type).
enum class resource_type : std::int8_t {
    unknown = 0,
    topic = 2,
    broker = 4, // name: the broker id in decimal, "" = cluster-wide defaults
    broker_logger = 8,
    client_metrics = 16,
};

/// Where a config value comes from (v1+; -1 = not given).
enum class config_source : std::int8_t {
    not_given = -1,
    unknown = 0,
    topic_config = 1,
    dynamic_broker_config = 2,
    dynamic_default_broker_config = 3,
    static_broker_config = 4,
    default_config = 5,
    dynamic_broker_logger_config = 6,
    client_metrics_config = 7,
};

/// A config's value type (v3+).
enum class config_type : std::int8_t {
    unknown = 0,
    boolean = 1,
    string = 2,
    int_ = 3,
    short_ = 4,
    long_ = 5,
    double_ = 6,
    list = 7,
    class_ = 8,
    password = 9,
};

struct resource {
    describe_configs::resource_type resource_type = describe_configs::resource_type::unknown;
    std::string_view resource_name{};
    std::optional<std::vector<std::string_view>> configuration_keys{}; // nullopt = all
};

struct response;

struct request {
    using api = describe_configs_api;
    using response_type = response;

    std::vector<resource> resources{};
    bool include_synonyms = false;      // v1+
    bool include_documentation = false; // v3+

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<request> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<request>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        const auto v = io.version();
        io.array(m.resources, [](auto& io2, auto& res) {
            io2.i8(res.resource_type);
            io2.string(res.resource_name);
            io2.nullable_array(res.configuration_keys, [](auto& io3, auto& k) { io3.string(k); });
            io2.tagged_fields();
        });
        if (v >= 1) io.boolean(m.include_synonyms);
        if (v >= 3) io.boolean(m.include_documentation);
        io.tagged_fields();
    }
};

/// The same setting at one level where it is defined (v1+).
struct synonym {
    std::string_view name{};
    std::optional<std::string_view> value{};
    describe_configs::config_source source = describe_configs::config_source::unknown;
};

struct config {
    std::string_view name{};
    std::optional<std::string_view> value{}; // null for sensitive entries
    bool read_only = false;
    bool is_default = false;                                                                    // v0 only
    describe_configs::config_source config_source = describe_configs::config_source::not_given; // v1+
    bool is_sensitive = false;
    std::vector<synonym> synonyms{};                                                    // v1+
    describe_configs::config_type config_type = describe_configs::config_type::unknown; // v3+
    std::optional<std::string_view> documentation{};                                    // v3+
};

struct result {
    gregor::error_code error_code = gregor::error_code::none;
    std::optional<std::string_view> error_message{};
    describe_configs::resource_type resource_type = describe_configs::resource_type::unknown;
    std::string_view resource_name{};
    std::vector<config> configs{};
};

struct response {
    using api = describe_configs_api;

    std::int32_t throttle_time_ms = 0;
    std::vector<result> results{};

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<response> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<response>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        io.i32(m.throttle_time_ms);
        io.array(m.results, [](auto& io2, auto& res) {
            io2.i16(res.error_code);
            io2.nullable_string(res.error_message);
            io2.i8(res.resource_type);
            io2.string(res.resource_name);
            io2.array(res.configs, [](auto& io3, auto& c) {
                const auto cv = io3.version();
                io3.string(c.name);
                io3.nullable_string(c.value);
                io3.boolean(c.read_only);
                if (cv == 0) io3.boolean(c.is_default);
                if (cv >= 1) io3.i8(c.config_source);
                io3.boolean(c.is_sensitive);
                if (cv >= 1) {
                    io3.array(c.synonyms, [](auto& io4, auto& s) {
                        io4.string(s.name);
                        io4.nullable_string(s.value);
                        io4.i8(s.source);
                        io4.tagged_fields();
                    });
                }
                if (cv >= 3) {
                    io3.i8(c.config_type);
                    io3.nullable_string(c.documentation);
                }
                io3.tagged_fields();
            });
            io2.tagged_fields();
        });
        io.tagged_fields();
    }
};

static_assert(kafka_message<request>, "gregor::wire::describe_configs::request must model kafka_message");
static_assert(kafka_message<response>, "gregor::wire::describe_configs::response must model kafka_message");

} // namespace gregor::wire::describe_configs
