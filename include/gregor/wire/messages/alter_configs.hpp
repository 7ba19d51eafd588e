// AlterConfigs (key 33), versions 0-2; v2+ flexible. Replaces the whole set of a resource's
// dynamic configs: configs not listed revert to their defaults (IncrementalAlterConfigs edits
// single keys instead). Routed like DescribeConfigs (docs/protocol.md §17).
//
//   request   resources[resource_type, resource_name, configs[name, value (nullable)]],
//             validate_only
//   response  throttle_time_ms,
//             responses[error_code, error_message (nullable), resource_type, resource_name]
//   Per version (§13): v1 = v0 (throttling after the answer); v2 flexible.
//
// Resource types are DescribeConfigs' (describe_configs.hpp).
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

namespace gregor::wire::alter_configs {

using resource_type = describe_configs::resource_type;

struct alterable_config {
    std::string_view name{};
    std::optional<std::string_view> value{};
};

struct resource {
    alter_configs::resource_type resource_type = alter_configs::resource_type::unknown;
    std::string_view resource_name{};
    std::vector<alterable_config> configs{};
};

struct response;

struct request {
    using api = alter_configs_api;
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
    alter_configs::resource_type resource_type = alter_configs::resource_type::unknown;
    std::string_view resource_name{};
};

struct response {
    using api = alter_configs_api;

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

static_assert(kafka_message<request>, "gregor::wire::alter_configs::request must model kafka_message");
static_assert(kafka_message<response>, "gregor::wire::alter_configs::response must model kafka_message");

} // namespace gregor::wire::alter_configs
