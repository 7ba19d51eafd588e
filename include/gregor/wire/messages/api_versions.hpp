// ApiVersions (key 18), versions 0-4; v3+ flexible. The first request on every connection.
//
//   request   v0-2: empty; v3+: client_software_name, client_software_version (compact), tags
//   response  error_code, api_keys[api_key, min_version, max_version (+tags v3+)],
//             throttle_time_ms (v1+), tags (v3+): supported_features (tag 0),
//             finalized_features_epoch (tag 1), finalized_features (tag 2), zk_migration_ready
//             (tag 3)
//   v1 adds throttle_time_ms; v2 is v1; v3 is flexible and adds the client software fields and
//   the feature tags; v4 is v3 on the wire (it only lets a broker list features whose
//   min_version is 0, KAFKA-17011).
//
// Pitfalls (docs/protocol.md §1.3, §1.4): the response header is always v0, even for v3/v4; a
// broker that does not know the requested version answers error 35 with a v0-shaped body holding
// at least its ApiVersions range (`unsupported_version_response`), and clients retry with v0.
// The feature tags are written only when set (a gregor broker sets none) and read when a Kafka
// broker sends them; other tags are skipped.
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

struct response;

struct request {
    using api = api_versions_api;
    using response_type = response;

    std::string_view client_software_name;    // v3+ (librdkafka: "librdkafka")
    std::string_view client_software_version; // v3+

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<request> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<request>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        if (io.version() >= 3) {
            io.string(m.client_software_name);
            io.string(m.client_software_version);
        }
        io.tagged_fields();
    }
};

/// One API's supported range. `key` may be a value this build does not know.
struct api_version {
    api_key key = api_key::api_versions;
    std::int16_t min_version = 0;
    std::int16_t max_version = 0;
};

/// A feature the broker supports (v3+, tag 0), e.g. "metadata.version".
struct supported_feature {
    std::string_view name;
    std::int16_t min_version = 0;
    std::int16_t max_version = 0;
};

/// A cluster-wide finalized feature level (v3+, tag 2). Note the wire order: max before min.
struct finalized_feature {
    std::string_view name;
    std::int16_t max_version_level = 0;
    std::int16_t min_version_level = 0;
};

struct response {
    using api = api_versions_api;

    gregor::error_code error_code = gregor::error_code::none;
    std::vector<api_version> api_keys;
    std::int32_t throttle_time_ms = 0;                   // v1+
    std::vector<supported_feature> supported_features{}; // v3+, tag 0
    std::int64_t finalized_features_epoch = -1;          // v3+, tag 1; -1 = unknown
    std::vector<finalized_feature> finalized_features{}; // v3+, tag 2
    bool zk_migration_ready = false;                     // v3+, tag 3 (KRaft controllers)

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

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<response> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<response>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        io.i16(m.error_code);
        io.array(m.api_keys, [](auto& io2, auto& a) {
            io2.i16(a.key);
            io2.i16(a.min_version);
            io2.i16(a.max_version);
            io2.tagged_fields();
        });
        if (io.version() >= 1) io.i32(m.throttle_time_ms);
        io.tagged_fields(tag(0, !m.supported_features.empty(),
                             [&](auto& t) {
                                 t.array(m.supported_features, [](auto& io2, auto& f) {
                                     io2.string(f.name);
                                     io2.i16(f.min_version);
                                     io2.i16(f.max_version);
                                     io2.tagged_fields();
                                 });
                             }),
                         tag(1, m.finalized_features_epoch != -1, [&](auto& t) { t.i64(m.finalized_features_epoch); }),
                         tag(2, !m.finalized_features.empty(),
                             [&](auto& t) {
                                 t.array(m.finalized_features, [](auto& io2, auto& f) {
                                     io2.string(f.name);
                                     io2.i16(f.max_version_level);
                                     io2.i16(f.min_version_level);
                                     io2.tagged_fields();
                                 });
                             }),
                         tag(3, m.zk_migration_ready, [&](auto& t) { t.boolean(m.zk_migration_ready); }));
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
