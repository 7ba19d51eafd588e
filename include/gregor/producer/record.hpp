// What a producer sends: `basic_producer_record<Key, Value>` (topic, optional partition, key, value,
// headers, optional timestamp) and the serializer policies that turn a key or value into bytes.
//
// Payload ownership is a type-level choice made by the serializer's value_type:
//   - borrowed views (serializers::string -> std::string_view, serializers::bytes -> bytes_view):
//     the record points at the caller's memory;
//   - owned values (serializers::owned_string -> std::string, serializers::owned_bytes ->
//     byte_buffer, serializers::int32/int64 -> the integer): the record carries its payload.
// Either way producer::send() encodes the record into its batch before it returns, so a borrowed
// view only has to stay valid for the duration of the send() call; nothing refers to the
// caller's memory afterwards (and in particular not until completion).
//
// Thread-safety: records are plain values. Serializers are called concurrently from every thread
// that calls send() and must therefore be stateless or internally synchronised (the stock ones are
// stateless).
#pragma once

#include <gregor/core/buffer.hpp>
#include <gregor/core/strong_types.hpp>
#include <gregor/wire/record_batch.hpp>

#include <array>
#include <concepts>
#include <cstdint>
#include <optional>
#include <ranges>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

namespace gregor {

/// A record header: UTF-8 key, nullable value (the wire type, reused so headers are never copied
/// into an intermediate form before encoding).
using record_header = wire::record_header;

/// One record to send. `partition` set: the record goes there (the partitioner is not asked);
/// `timestamp` -1 (Kafka's NO_TIMESTAMP, the default): the producer stamps it with the clock's
/// wall time (CreateTime, ms) at send(); other negative values are rejected. A null key (nullopt)
/// lets the partitioner spread records; a null value is a tombstone.
template <typename Key, typename Value>
struct basic_producer_record {
    std::string_view topic;
    std::optional<partition_id> partition{};
    std::optional<Key> key{};
    std::optional<Value> value{};
    std::span<const record_header> headers{};
    std::int64_t timestamp = -1;
};

namespace producer_detail {

template <typename R>
concept byte_range = std::ranges::contiguous_range<R> && std::ranges::sized_range<R> &&
                         sizeof(std::ranges::range_value_t<R>) == 1 &&
                     std::is_trivially_copyable_v<std::ranges::range_value_t<R>>;

/// The bytes of whatever a serializer returned.
template <byte_range R>
inline bytes_view as_payload(const R& r) noexcept {
    return {reinterpret_cast<const std::byte*>(std::ranges::data(r)), std::ranges::size(r)};
}

} // namespace producer_detail

/// A serializer names the type it accepts (`value_type`) and returns, for a value, a contiguous
/// range of bytes (a view, or a small owning array) that stays valid while the result object
/// lives. It is called from the sending thread, once per record.
template <typename S>
concept serializer = requires {
    typename S::value_type;
}
&&requires(const S& s, const typename S::value_type& v) {
    { s.serialize(v) } -> producer_detail::byte_range;
};

namespace serializers {

/// Borrowed UTF-8 / text payloads (the default for keys and values).
struct string {
    using value_type = std::string_view;
    std::string_view serialize(std::string_view v) const noexcept { return v; }
};

/// Borrowed binary payloads.
struct bytes {
    using value_type = bytes_view;
    bytes_view serialize(bytes_view v) const noexcept { return v; }
};

/// Owned text: the record carries its std::string.
struct owned_string {
    using value_type = std::string;
    std::string_view serialize(const std::string& v) const noexcept { return v; }
};

/// Owned binary: the record carries its byte_buffer.
struct owned_bytes {
    using value_type = byte_buffer;
    bytes_view serialize(const byte_buffer& v) const noexcept { return v.view(); }
};

/// Big-endian integers, as Kafka's IntegerSerializer / LongSerializer write them.
struct int32 {
    using value_type = std::int32_t;
    std::array<std::byte, 4> serialize(std::int32_t v) const noexcept {
        std::array<std::byte, 4> out;
        store_be<std::int32_t>(out.data(), v);
        return out;
    }
};
struct int64 {
    using value_type = std::int64_t;
    std::array<std::byte, 8> serialize(std::int64_t v) const noexcept {
        std::array<std::byte, 8> out;
        store_be<std::int64_t>(out.data(), v);
        return out;
    }
};

} // namespace serializers

static_assert(serializer<serializers::string> && serializer<serializers::bytes> &&
              serializer<serializers::owned_string> && serializer<serializers::owned_bytes> &&
              serializer<serializers::int32> && serializer<serializers::int64>);

} // namespace gregor
