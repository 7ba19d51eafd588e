// DeleteRecords (key 21), versions 0-2; v2+ flexible. Sent to each partition's leader; moves the
// log start offset up to the given offset (-1 = the high watermark) and answers the partition's
// new low watermark (docs/protocol.md §17).
//
//   request   topics[name, partitions[partition_index, offset]], timeout_ms
//   response  throttle_time_ms,
//             topics[name, partitions[partition_index, low_watermark, error_code]]
//   Per version (§13): v1 = v0 (throttling after the answer); v2 flexible.
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

namespace gregor::wire::delete_records {

/// "Delete up to the high watermark".
inline constexpr std::int64_t high_watermark_offset = -1;

struct request_partition {
    gregor::partition_id partition_index{0};
    gregor::offset offset{high_watermark_offset}; // records below it go
};

struct request_topic {
    std::string_view name{};
    std::vector<request_partition> partitions{};
};

struct response;

struct request {
    using api = delete_records_api;
    using response_type = response;

    std::vector<request_topic> topics{};
    std::int32_t timeout_ms = 0;

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<request> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<request>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        io.array(m.topics, [](auto& io2, auto& t) {
            io2.string(t.name);
            io2.array(t.partitions, [](auto& io3, auto& p) {
                io3.i32(p.partition_index);
                io3.i64(p.offset);
                io3.tagged_fields();
            });
            io2.tagged_fields();
        });
        io.i32(m.timeout_ms);
        io.tagged_fields();
    }
};

struct response_partition {
    gregor::partition_id partition_index{0};
    gregor::offset low_watermark{-1};
    gregor::error_code error_code = gregor::error_code::none;
};

struct response_topic {
    std::string_view name{};
    std::vector<response_partition> partitions{};
};

struct response {
    using api = delete_records_api;

    std::int32_t throttle_time_ms = 0;
    std::vector<response_topic> topics{};

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<response> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<response>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        io.i32(m.throttle_time_ms);
        io.array(m.topics, [](auto& io2, auto& t) {
            io2.string(t.name);
            io2.array(t.partitions, [](auto& io3, auto& p) {
                io3.i32(p.partition_index);
                io3.i64(p.low_watermark);
                io3.i16(p.error_code);
                io3.tagged_fields();
            });
            io2.tagged_fields();
        });
        io.tagged_fields();
    }
};

static_assert(kafka_message<request>, "gregor::wire::delete_records::request must model kafka_message");
static_assert(kafka_message<response>, "gregor::wire::delete_records::response must model kafka_message");

} // namespace gregor::wire::delete_records
