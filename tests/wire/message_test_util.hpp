// Helpers for the protocol message tests: encode to a vector, decode back, and the checks every
// message gets (exact re-encoding, clean failure on every truncation).
#pragma once

#include "batch_vectors.hpp"

#include <gregor/wire/api.hpp>
#include <gregor/wire/header.hpp>
#include <gregor/wire/primitives.hpp>

#include <catch2/catch.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gregor::test {

using bytes = std::vector<std::byte>;

inline bytes to_vec(bytes_view b) { return {b.begin(), b.end()}; }

inline std::string hex(bytes_view b) {
    static const char* digits = "0123456789abcdef";
    std::string s;
    for (auto x : b) {
        s += digits[static_cast<unsigned>(x) >> 4];
        s += digits[static_cast<unsigned>(x) & 15];
    }
    return s;
}

/// A uuid that differs from others in its last byte (and is never the zero uuid).
inline wire::uuid uuid_of(std::uint8_t last) {
    wire::uuid u;
    u.bytes[0] = std::byte{0xa0};
    u.bytes[15] = std::byte{last};
    return u;
}
inline std::string uuid_hex(std::uint8_t last) { return hex(bytes_view{uuid_of(last).bytes}); }
inline std::string str_hex(std::string_view s) { return hex(as_bytes(s)); }
/// A valid record batch (batch_vectors.hpp) to carry in produce and fetch messages.
inline bytes sample_batch() { return from_hex(data_batch_hex); }

template <typename M>
bytes encode_bytes(const M& m, std::int16_t version) {
    byte_buffer b;
    byte_writer w(b);
    m.encode(w, version);
    return to_vec(b.view());
}

/// A decoded message together with the bytes it borrows from (vector moves keep the pointer).
template <typename M>
struct decoded {
    bytes wire;
    M msg;
};

/// Every strict prefix of `full` must fail to decode. Each prefix lives in its own allocation of
/// exactly its size, so AddressSanitizer reports any read past the end.
template <typename M>
void require_truncations_fail(const bytes& full, std::int16_t version) {
    for (std::size_t n = 0; n < full.size(); ++n) {
        const bytes prefix(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
        byte_reader r(bytes_view{prefix.data(), prefix.size()});
        const auto m = M::decode(r, version);
        if (m) FAIL("a " << n << "-byte prefix of " << full.size() << " bytes decoded");
        CHECK_FALSE(r.ok());
    }
}

/// Encodes `m`, decodes it, and requires: the decoder consumed everything, re-encoding the
/// decoded message gives the same bytes, and every truncation fails.
/// Calls f(v) for every version the codec of `Api` implements, naming the version on failure.
template <typename Api, typename F>
void for_each_version(F&& f) {
    for (std::int16_t v = Api::min_version; v <= Api::max_version; ++v) {
        INFO("version " << v);
        f(v);
    }
}

template <typename M>
decoded<M> round_trip(const M& m, std::int16_t version) {
    INFO(std::string(M::api::name) << " v" << version);
    auto wire = encode_bytes(m, version);
    byte_reader r(bytes_view{wire});
    auto d = M::decode(r, version);
    REQUIRE(d);
    REQUIRE(r.ok());
    REQUIRE(r.at_end());
    REQUIRE(hex(bytes_view{encode_bytes(*d, version)}) == hex(bytes_view{wire}));
    require_truncations_fail<M>(wire, version);
    return {std::move(wire), std::move(*d)};
}

template <typename M>
std::string encoded_hex(const M& m, std::int16_t version) {
    return hex(bytes_view{encode_bytes(m, version)});
}

/// `m` must encode at `version` to exactly `layout` (hex, spaces allowed); the layout must decode
/// (to its end) into a message that re-encodes to it, and every strict prefix must fail. Returns
/// the decoded message with the bytes it borrows from, for field checks.
template <typename M>
decoded<M> check_layout(const M& m, std::int16_t version, const std::string& layout) {
    INFO(std::string(M::api::name) << " v" << version);
    auto expected = from_hex(layout);
    CHECK(encoded_hex(m, version) == hex(bytes_view{expected}));
    byte_reader r(bytes_view{expected});
    auto d = M::decode(r, version);
    REQUIRE(d);
    CHECK(r.ok());
    CHECK(r.at_end());
    CHECK(encoded_hex(*d, version) == hex(bytes_view{expected}));
    require_truncations_fail<M>(expected, version);
    return {std::move(expected), std::move(*d)};
}

/// Decodes the hex `layout` at `version`, which must consume all of it; nullopt if the decode
/// fails. The result keeps the bytes its views borrow from.
template <typename M>
std::optional<decoded<M>> decode_all(const std::string& layout, std::int16_t version) {
    auto wire = from_hex(layout);
    byte_reader r(bytes_view{wire});
    auto d = M::decode(r, version);
    if (!d) return std::nullopt;
    CHECK(r.at_end());
    return decoded<M>{std::move(wire), std::move(*d)};
}

/// An API tag's constants agree with Kafka's catalogue: key, name, implemented and advertised
/// versions, first flexible version (or none).
template <typename Api>
void check_api(int key, std::string_view name, wire::version_range versions, std::int16_t first_flexible) {
    using namespace gregor::wire;
    INFO(name);
    CHECK(static_cast<int>(Api::key) == key);
    CHECK(Api::name == name);
    CHECK(api_name(Api::key) == name);
    CHECK(to_string(Api::key) == name);
    CHECK(is_known(Api::key));
    CHECK(implemented_versions<Api>() == versions);
    CHECK(Api::advertised == versions);
    CHECK(Api::first_flexible == first_flexible);
    CHECK(first_flexible_version(Api::key) == first_flexible);
    if (first_flexible <= versions.max) {
        CHECK(is_flexible_version<Api>(first_flexible));
        if (first_flexible > 0) CHECK_FALSE(is_flexible_version<Api>(static_cast<std::int16_t>(first_flexible - 1)));
    } else {
        CHECK_FALSE(is_flexible_version<Api>(versions.max));
    }
    CHECK_FALSE(supports_version<Api>(static_cast<std::int16_t>(versions.max + 1)));
    CHECK_FALSE(supports_version<Api>(-1));
}

inline bytes_view view(const bytes& b) { return {b.data(), b.size()}; }

inline bool same_bytes(std::optional<bytes_view> a, bytes_view b) {
    return a && a->size() == b.size() && std::equal(a->begin(), a->end(), b.begin());
}

} // namespace gregor::test
