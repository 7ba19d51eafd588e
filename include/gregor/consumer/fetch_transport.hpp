// How gregor::consumer reaches partitions: the fetch transport concept and the types it trades
// in. Implementations: fetch_transport::in_process<Broker> (consumer/in_process.hpp, direct calls
// into a gregor::broker) and fetch_transport::tcp (consumer/tcp_transport.hpp, the Kafka protocol
// to any broker).
//
//   t.fetch(std::span<const partition_request>, const fetch_options&) -> fetch_response
//       One Fetch round for the given partitions: waits at most max_wait_ms for min_bytes. The
//       partitions' `records` views stay valid while the response's `keepalive` is held.
//   t.list_offset(const topic_partition&, std::int64_t timestamp, wire::isolation_level)
//       -> list_offset_result   (-2 earliest, -1 latest, else first offset with ts >= timestamp)
//
// Errors: a partition's Kafka error travels in partition_data::error; a failure of the whole
// round (connection lost, no leader known yet) in fetch_response::error. Both are std::error_code
// (kafka_category or local_category).
//
// Thread-safety: a transport is used by one consumer on one thread; in_process only needs the
// broker, whose calls are thread-safe, so many in-process consumers may share a broker.
#pragma once

#include <gregor/core/buffer.hpp>
#include <gregor/core/error.hpp>
#include <gregor/core/strong_types.hpp>
#include <gregor/wire/messages/fetch.hpp>
#include <gregor/wire/primitives.hpp>

#include <algorithm>
#include <chrono>
#include <compare>
#include <concepts>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <vector>

namespace gregor {

/// One partition of one topic.
struct topic_partition {
    std::string topic;
    partition_id partition{0};
    friend bool operator==(const topic_partition& a, const topic_partition& b) {
        return a.partition == b.partition && a.topic == b.topic;
    }
    friend bool operator<(const topic_partition& a, const topic_partition& b) {
        if (a.topic != b.topic) return a.topic < b.topic;
        return a.partition.value() < b.partition.value();
    }
};

namespace fetch_transport {

struct fetch_options {
    std::int32_t max_wait_ms = 500;    // fetch.max.wait.ms
    std::int32_t min_bytes = 1;        // fetch.min.bytes
    std::int32_t max_bytes = 52428800; // fetch.max.bytes
    wire::isolation_level isolation = wire::isolation_level::read_uncommitted;
};

struct partition_request {
    const topic_partition* tp = nullptr;
    offset fetch_offset{0};
    std::int32_t max_bytes = 1048576; // max.partition.fetch.bytes
};

struct partition_data {
    const topic_partition* tp = nullptr; // the request's
    std::error_code error;
    offset high_watermark{-1};
    offset last_stable_offset{-1};
    offset log_start_offset{-1};
    std::optional<std::vector<wire::fetch::aborted_transaction>> aborted; // read_committed only
    bytes_view records; // whole batches (a cut trailing batch is normal)
};

struct fetch_response {
    std::error_code error;                 // the whole round failed (partitions then empty)
    std::shared_ptr<const void> keepalive; // owns the bytes `records` point into
    std::vector<partition_data> partitions;
};

struct list_offset_result {
    std::error_code error;
    offset found{-1}; // -1: no offset with such a timestamp
};

template <typename T>
concept transport = requires(T& t, std::span<const partition_request> reqs, const fetch_options& opt,
                             const topic_partition& tp, std::int64_t ts, wire::isolation_level iso) {
    { t.fetch(reqs, opt) } -> std::same_as<fetch_response>;
    { t.list_offset(tp, ts, iso) } -> std::same_as<list_offset_result>;
};

} // namespace fetch_transport
} // namespace gregor
