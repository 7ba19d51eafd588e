// Request/response headers and framing (docs/protocol.md §1.3).
//
//   frame            int32 size (bytes that follow) + header + body
//   request  v0      api_key int16, api_version int16, correlation_id int32
//   request  v1      v0 + client_id (nullable string, always the classic int16-length form)
//   request  v2      v1 + tagged-field section            (flexible request versions)
//   response v0      correlation_id int32
//   response v1      v0 + tagged-field section            (flexible response versions)
//
// Which header an (api, version) uses: request v2 if the version is flexible, else v1 (v0 only for
// ControlledShutdown v0); response v1 if flexible, else v0 -- except ApiVersions, whose response
// header is ALWAYS v0 (KIP-511) so that a client can parse it before knowing the broker's versions.
//
// The frame helpers write the size prefix and patch it once the body is known; for messages with
// external records (see primitives.hpp) the size includes the gaps' bytes. decode_fields and
// encode_fields turn a message's one field description (`M::fields`, primitives.hpp) into its
// decode and encode, checking the version against the API's implemented range.
//
// Thread-safety: pure functions and value types.
#pragma once

#include <gregor/core/buffer.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/primitives.hpp>

#include <concepts>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <utility>

namespace gregor::wire {

constexpr std::int16_t request_header_version(api_key key, std::int16_t version) noexcept {
    if (key == api_key::controlled_shutdown && version == 0) return 0;
    return is_flexible(key, version) ? 2 : 1;
}

constexpr std::int16_t response_header_version(api_key key, std::int16_t version) noexcept {
    if (key == api_key::api_versions) return 0;
    return is_flexible(key, version) ? 1 : 0;
}

struct request_header {
    api_key key = api_key::api_versions;
    std::int16_t version = 0;
    std::int32_t correlation_id = 0;
    std::optional<std::string_view> client_id; // header v1+; librdkafka sends "rdkafka"

    [[nodiscard]] std::int16_t header_version() const noexcept { return request_header_version(key, version); }

    void encode(byte_writer& w) const {
        w.i16(static_cast<std::int16_t>(key));
        w.i16(version);
        w.i32(correlation_id);
        const auto hv = header_version();
        if (hv >= 1) write_nullable_string(w, client_id);
        if (hv >= 2) write_empty_tagged_fields(w);
    }

    /// Reads a header whose version follows from its own key and version. Unknown keys are read
    /// as v1 so that the caller can still answer or close with the correlation id in hand.
    static std::optional<request_header> decode(byte_reader& r) {
        request_header h;
        h.key = static_cast<api_key>(r.i16());
        h.version = r.i16();
        h.correlation_id = r.i32();
        if (!r.ok()) return std::nullopt;
        const auto hv = h.header_version();
        if (hv >= 1) h.client_id = read_nullable_string(r);
        if (hv >= 2) skip_tagged_fields(r);
        if (!r.ok()) return std::nullopt;
        return h;
    }
};

struct response_header {
    std::int32_t correlation_id = 0;

    /// `header_version` from response_header_version(key, version).
    void encode(byte_writer& w, std::int16_t header_version) const {
        w.i32(correlation_id);
        if (header_version >= 1) write_empty_tagged_fields(w);
    }
    static std::optional<response_header> decode(byte_reader& r, std::int16_t header_version) {
        response_header h;
        h.correlation_id = r.i32();
        if (header_version >= 1) skip_tagged_fields(r);
        if (!r.ok()) return std::nullopt;
        return h;
    }
};

// ---------------------------------------------------------------------------------------------
// Frames.

/// Reserves the int32 size prefix at the writer's position; returns where it is.
inline std::size_t begin_frame(byte_writer& w) { return w.placeholder(4); }

/// Patches the size prefix written by begin_frame: the bytes written since, plus
/// `external_bytes` the sender inserts from gaps.
inline void finish_frame(byte_writer& w, std::size_t frame_start, std::size_t external_bytes = 0) {
    const auto size = w.position() - frame_start - 4 + external_bytes;
    if (size > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()))
        throw std::length_error("gregor::wire: frame larger than 2 GiB");
    w.patch<std::int32_t>(frame_start, static_cast<std::int32_t>(size));
}

// ---------------------------------------------------------------------------------------------
// Message bodies.

/// Decodes the body `M` from its one field description (`M::fields`, primitives.hpp) at
/// `version`. nullopt, with the reader failed, when the codec does not implement `version` or the
/// bytes do not hold a whole body; the decoded strings and bytes are views into the reader's bytes.
template <typename M>
std::optional<M> decode_fields(byte_reader& r, std::int16_t version) {
    using api = typename M::api;
    if (!supports_version<api>(version)) {
        r.fail();
        return std::nullopt;
    }
    decoder d(r, is_flexible_version<api>(version), version);
    std::optional<M> m(std::in_place);
    M::fields(d, *m);
    if (!d.ok()) return std::nullopt;
    return m;
}

/// Encodes `m` from its field description at `version` (std::invalid_argument if the codec does
/// not implement it). External records go to `gaps`; without a gap list they throw.
template <typename M>
void encode_fields(const M& m, byte_writer& w, std::int16_t version, gap_list* gaps = nullptr) {
    using api = typename M::api;
    require_version<api>(version);
    encoder e(w, is_flexible_version<api>(version), version, gaps);
    M::fields(e, m);
}

/// A message body: `encode(writer, version)`, `static decode(reader, version) -> optional`, and
/// its API tag as `M::api`.
template <typename M>
concept kafka_message = kafka_api<typename M::api> && requires(const M& m, byte_writer& w, byte_reader& r) {
    m.encode(w, std::int16_t{});
    { M::decode(r, std::int16_t{}) } -> std::same_as<std::optional<M>>;
};

/// Appends a whole request frame (size, header, body) to `out`.
template <typename M>
void encode_request_frame(byte_buffer& out, std::int16_t version, std::int32_t correlation_id,
                          std::optional<std::string_view> client_id, const M& body) {
    static_assert(kafka_message<M>, "gregor::wire: a request body must model kafka_message");
    byte_writer w(out);
    const auto start = begin_frame(w);
    request_header{M::api::key, version, correlation_id, client_id}.encode(w);
    body.encode(w, version);
    finish_frame(w, start);
}

/// Appends a whole response frame (size, header, body) to `out`.
template <typename M>
void encode_response_frame(byte_buffer& out, std::int16_t version, std::int32_t correlation_id, const M& body) {
    static_assert(kafka_message<M>, "gregor::wire: a response body must model kafka_message");
    byte_writer w(out);
    const auto start = begin_frame(w);
    response_header{correlation_id}.encode(w, response_header_version(M::api::key, version));
    body.encode(w, version);
    finish_frame(w, start);
}

/// As above for bodies with external records: gap positions are offsets into `out`, and the
/// frame size includes the gaps' bytes.
template <typename M>
void encode_response_frame(byte_buffer& out, std::int16_t version, std::int32_t correlation_id, const M& body,
                           gap_list& gaps) {
    static_assert(kafka_message<M>, "gregor::wire: a response body must model kafka_message");
    byte_writer w(out);
    const auto start = begin_frame(w);
    const auto first_gap = gaps.size();
    response_header{correlation_id}.encode(w, response_header_version(M::api::key, version));
    body.encode(w, version, gaps);
    finish_frame(w, start, external_size(std::span<const records_gap>(gaps).subspan(first_gap)));
}

/// As above for requests with external records (a producer writing batches with writev).
template <typename M>
void encode_request_frame(byte_buffer& out, std::int16_t version, std::int32_t correlation_id,
                          std::optional<std::string_view> client_id, const M& body, gap_list& gaps) {
    static_assert(kafka_message<M>, "gregor::wire: a request body must model kafka_message");
    byte_writer w(out);
    const auto start = begin_frame(w);
    const auto first_gap = gaps.size();
    request_header{M::api::key, version, correlation_id, client_id}.encode(w);
    body.encode(w, version, gaps);
    finish_frame(w, start, external_size(std::span<const records_gap>(gaps).subspan(first_gap)));
}

} // namespace gregor::wire
