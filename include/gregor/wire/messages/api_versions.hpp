// ApiVersions (key 18), versions 0-3 (3 is flexible). The first request on every connection.
//
//   request   v0-2: empty; v3+: client_software_name, client_software_version (compact), tags
//   response  error_code, api_keys[api_key, min_version, max_version (+tags v3+)],
//             throttle_time_ms (v1+), tags (v3+)
//
// Pitfalls (docs/protocol.md §1.3, §1.4): the response header is always v0, even for v3; a
// broker that does not know the requested version answers error 35 with a v0-shaped body holding
// at least its ApiVersions range (`unsupported_version_response`), and clients retry with v0.
// Tagged fields a Kafka broker adds to v3 responses (SupportedFeatures, FinalizedFeatures, ...) are
// skipped on decode and never written.
//
// Decoded strings are views into the frame. Thread-safety: value types, no shared state.
#pragma once

#include <gregor/core/buffer.hpp>
#include <gregor/core/error.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/header.hpp>
#include <gregor/wire/primitives.hpp>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace gregor::wire::api_versions {

struct request {
    using api = api_versions_api;

    std::string_view client_software_name;    // v3+ (librdkafka: "librdkafka")
    std::string_view client_software_version; // v3+

    void encode(byte_writer& w, std::int16_t version) const {
        require_version<api>(version);
        encoder e(w, is_flexible_version<api>(version));
        if (version >= 3) {
            e.string(client_software_name);
            e.string(client_software_version);
        }
        e.tagged_fields();
    }

    static std::optional<request> decode(byte_reader& r, std::int16_t version) {
        if (!supports_version<api>(version)) {
            r.fail();
            return std::nullopt;
        }
        decoder d(r, is_flexible_version<api>(version));
        request m;
        if (version >= 3) {
            m.client_software_name = d.string();
            m.client_software_version = d.string();
        }
        d.tagged_fields();
        if (!d.ok()) return std::nullopt;
        return m;
    }
};

/// One API's supported range. `key` may be a value this build does not know.
struct api_version {
    api_key key = api_key::api_versions;
    std::int16_t min_version = 0;
    std::int16_t max_version = 0;
};

struct response {
    using api = api_versions_api;

    gregor::error_code error_code = gregor::error_code::none;
    std::vector<api_version> api_keys;
    std::int32_t throttle_time_ms = 0; // v1+

    /// The broker's range for `key`, if listed.
    [[nodiscard]] std::optional<version_range> find(api_key key) const noexcept {
        for (const auto& a : api_keys)
            if (a.key == key) return version_range{a.min_version, a.max_version};
        return std::nullopt;
    }

    /// A response listing `apis` (e.g. broker_advertised_apis).
    static response advertising(std::span<const advertised_api> apis) {
        response m;
        m.api_keys.reserve(apis.size());
        for (const auto& a : apis) m.api_keys.push_back({a.key, a.versions.min, a.versions.max});
        return m;
    }

    /// The answer to an ApiVersions request above our max: encode it with version 0 whatever the
    /// request's version was (error 35 and our own ApiVersions range, KIP-511).
    static response unsupported_version_response() {
        response m;
        m.error_code = gregor::error_code::unsupported_version;
        m.api_keys.push_back({api::key, api::advertised.min, api::advertised.max});
        return m;
    }

    void encode(byte_writer& w, std::int16_t version) const {
        require_version<api>(version);
        encoder e(w, is_flexible_version<api>(version));
        e.i16(static_cast<std::int16_t>(error_code));
        e.array(api_keys, [](encoder& e2, const api_version& a) {
            e2.i16(static_cast<std::int16_t>(a.key));
            e2.i16(a.min_version);
            e2.i16(a.max_version);
            e2.tagged_fields();
        });
        if (version >= 1) e.i32(throttle_time_ms);
        e.tagged_fields();
    }

    static std::optional<response> decode(byte_reader& r, std::int16_t version) {
        if (!supports_version<api>(version)) {
            r.fail();
            return std::nullopt;
        }
        decoder d(r, is_flexible_version<api>(version));
        response m;
        m.error_code = static_cast<gregor::error_code>(d.i16());
        d.array(m.api_keys, 6 + d.min_tags(), [](decoder& d2, api_version& a) {
            a.key = static_cast<api_key>(d2.i16());
            a.min_version = d2.i16();
            a.max_version = d2.i16();
            d2.tagged_fields();
        });
        if (version >= 1) m.throttle_time_ms = d.i32();
        d.tagged_fields();
        if (!d.ok()) return std::nullopt;
        return m;
    }

    /// Decodes a response to a request sent with `version`, accepting the v0-shaped body a broker
    /// sends with UNSUPPORTED_VERSION when it does not know that version (the client then retries
    /// with the max the body lists, or v0).
    static std::optional<response> decode_or_fallback(bytes_view body, std::int16_t version) {
        byte_reader r(body);
        if (auto m = decode(r, version)) return m;
        byte_reader r0(body);
        auto m0 = decode(r0, 0);
        if (m0 && m0->error_code == gregor::error_code::unsupported_version) return m0;
        return std::nullopt;
    }
};

/// The ApiVersions version to try after `tried` failed (docs/protocol.md §1.4, §3.1): the
/// highest version we implement below `tried` that the broker's v0-shaped UNSUPPORTED_VERSION
/// answer lists, else v0 (also when the answer did not parse or the broker hung up: the 2.0.2
/// mock answers v3 with a body that parses as nothing). Call only with tried > 0.
inline std::int16_t fallback_version(const std::optional<response>& answer, std::int16_t tried) noexcept {
    if (answer) {
        if (auto r = answer->find(api_key::api_versions)) {
            if (auto hv = highest_common_version(implemented_versions<api_versions_api>(), *r))
                return std::min<std::int16_t>(*hv, static_cast<std::int16_t>(tried - 1));
        }
    }
    return 0;
}

static_assert(kafka_message<request>, "gregor::wire::api_versions::request must model kafka_message");
static_assert(kafka_message<response>, "gregor::wire::api_versions::response must model kafka_message");

} // namespace gregor::wire::api_versions
