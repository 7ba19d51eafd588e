// IncrementalAlterConfigs (key 44), versions 0-1; v1+ flexible. Changes only the listed configs
// of a resource (AlterConfigs replaces the whole set). Routed like DescribeConfigs
// (docs/protocol.md §17).
//
//   request   resources[resource_type, resource_name, configs[name, config_operation,
//                                                             value (nullable)]],
//             validate_only
//   response  throttle_time_ms,
//             responses[error_code, error_message (nullable), resource_type, resource_name]
//   Per version (§13): v1 flexible.
//
// config_operation: 0 SET, 1 DELETE (revert to the default), 2 APPEND, 3 SUBTRACT (the last two
// for list-typed configs only). Resource types are DescribeConfigs' (describe_configs.hpp).
//
// Decoded strings are views into the frame. Thread-safety: value types.
#pragma once

#include <gregor/core/buffer.hpp>
#include <gregor/core/error.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/header.hpp>
#include <gregor/wire/messages/describe_configs.hpp>
#include <gregor/wire/primitives.hpp>

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace gregor::wire::incremental_alter_configs {

using resource_type = describe_configs::resource_type;

/// Kafka's AlterConfigOp.OpType.
enum class config_operation : std::int8_t { set = 0, remove = 1, append = 2, subtract = 3 };

struct alterable_config {
    std::string_view name{};
    incremental_alter_configs::config_operation config_operation = incremental_alter_configs::config_operation::set;
    std::optional<std::string_view> value{};
};

struct resource {
    incremental_alter_configs::resource_type resource_type = incremental_alter_configs::resource_type::unknown;
    std::string_view resource_name{};
    std::vector<alterable_config> configs{};
};

struct response;

struct request {
    using api = incremental_alter_configs_api;
    using response_type = response;

    std::vector<resource> resources{};
    bool validate_only = false;

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<request> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<request>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        io.array(m.resources, [](auto& io2, auto& res) {
            io2.i8(res.resource_type);
            io2.string(res.resource_name);
            io2.array(res.configs, [](auto& io3, auto& c) {
                io3.string(c.name);
                io3.i8(c.config_operation);
                io3.nullable_string(c.value);
                io3.tagged_fields();
            });
            io2.tagged_fields();
        });
        io.boolean(m.validate_only);
        io.tagged_fields();
    }
};

struct resource_response {
    gregor::error_code error_code = gregor::error_code::none;
    std::optional<std::string_view> error_message{};
    incremental_alter_configs::resource_type resource_type = incremental_alter_configs::resource_type::unknown;
    std::string_view resource_name{};
};

struct response {
    using api = incremental_alter_configs_api;

    std::int32_t throttle_time_ms = 0;
    std::vector<resource_response> responses{};

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<response> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<response>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        io.i32(m.throttle_time_ms);
        io.array(m.responses, [](auto& io2, auto& res) {
            io2.i16(res.error_code);
            io2.nullable_string(res.error_message);
            io2.i8(res.resource_type);
            io2.string(res.resource_name);
            io2.tagged_fields();
        });
        io.tagged_fields();
    }
};

static_assert(kafka_message<request>, "gregor::wire::incremental_alter_configs::request must model kafka_message");
static_assert(kafka_message<response>, "gregor::wire::incremental_alter_configs::response must model kafka_message");

} // namespace gregor::wire::incremental_alter_configs
