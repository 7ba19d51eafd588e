// Runtime configuration of a gregor producer, by Kafka's property names and with Kafka's (4.0)
// defaults. Compile-time choices (partitioner, batching, acks, serializers, transport, clock) are
// in producer_policies.hpp; the numbers are here.
//
// How the knobs combine, in one place:
//   - A record is appended to its partition's open batch. The batch is closed when the next
//     record does not fit in batch.size bytes (a record bigger than batch.size gets a batch of its
//     own); the batching policy then says when a batch is ready (linger_or_size: closed, or
//     linger.ms after its first record; flush() makes every batch ready at once).
//   - Memory for batches comes from buffer.memory. When it is used up, send() waits for space at
//     most max.block.ms and then fails with local_error::queue_full; try_send() fails at once.
//     Nothing else ever blocks send(): not metadata, not the network.
//   - Each request waits at most request.timeout.ms for its answer; a retriable failure is retried
//     after retry.backoff.ms, doubling up to retry.backoff.max.ms (±20% jitter), at most `retries`
//     times; every record is reported (success or failure) within delivery.timeout.ms of send(),
//     which must therefore be >= linger.ms + request.timeout.ms.
//   - At most max.in.flight.requests.per.connection requests are outstanding per broker. With
//     enable.idempotence (default) it must be <= 5, acks must be all and retries >= 1; order within
//     a partition is then kept across retries and nothing is written twice. Unset
//     enable.idempotence means "on unless acks/retries/max.in.flight conflict", as in Java.
//   - transactional.id makes the producer transactional (docs/producer.md, "Transactions"), which
//     implies idempotence: enable.idempotence must not be false, acks must be all,
//     max.in.flight.requests.per.connection <= 5 and retries >= 1. transaction.timeout.ms is how
//     long the coordinator lets a transaction stay open before it aborts it (at most the
//     broker's transaction.max.timeout.ms, which InitProducerId checks).
//
// Thread-safety: a plain value; from_properties() and validate() are pure.
#pragma once

#include <gregor/compression/codec.hpp>
#include <gregor/detail/properties.hpp>

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>

namespace gregor {

struct producer_config {
    std::string bootstrap_servers;             // bootstrap.servers (network transports only)
    std::string client_id = "gregor-producer"; // client.id
    std::int16_t acks = -1;                    // acks: 0, 1 or all (-1); used by acks::from_config
    std::optional<bool> enable_idempotence;    // enable.idempotence (unset: on unless conflicting)
    std::int64_t linger_ms = 5;                // linger.ms
    std::int32_t batch_size = 16384;           // batch.size (bytes)
    std::int64_t buffer_memory = 33554432;     // buffer.memory (bytes)
    std::int64_t max_block_ms = 60000;         // max.block.ms
    std::int32_t request_timeout_ms = 30000;   // request.timeout.ms
    std::int32_t delivery_timeout_ms = 120000; // delivery.timeout.ms
    std::int32_t retries = std::numeric_limits<std::int32_t>::max(); // retries
    std::int64_t retry_backoff_ms = 100;                             // retry.backoff.ms
    std::int64_t retry_backoff_max_ms = 1000;                        // retry.backoff.max.ms
    std::int32_t max_in_flight_requests_per_connection = 5;          // max.in.flight.requests.per.connection
    std::int32_t max_request_size = 1048576;                         // max.request.size (bytes)
    std::string compression_type = "none";                           // compression.type
    std::int32_t compression_gzip_level = -1;                        // compression.gzip.level (-1: zlib's)
    std::int32_t compression_lz4_level = 9;                          // compression.lz4.level
    std::int32_t compression_zstd_level = 3;                         // compression.zstd.level
    bool partitioner_ignore_keys = false;                            // partitioner.ignore.keys
    std::optional<std::string> transactional_id;                     // transactional.id (unset: not transactional)
    std::int32_t transaction_timeout_ms = 60000;                     // transaction.timeout.ms
    // Network transports only (transport::tcp); the in-process transport ignores them.
    std::int64_t metadata_max_age_ms = 300000;               // metadata.max.age.ms (periodic refresh)
    std::int64_t reconnect_backoff_ms = 50;                  // reconnect.backoff.ms
    std::int64_t reconnect_backoff_max_ms = 1000;            // reconnect.backoff.max.ms
    std::int64_t socket_connection_setup_timeout_ms = 10000; // socket.connection.setup.timeout.ms
    std::int32_t send_buffer_bytes = 131072;                 // send.buffer.bytes (-1: the OS default)
    std::int32_t receive_buffer_bytes = 32768;               // receive.buffer.bytes (-1: the OS default)
    bool allow_auto_create_topics = true;                    // allow.auto.create.topics (Metadata v4+)

    /// Whether idempotence is on for the given effective acks (the acks policy may fix it).
    [[nodiscard]] bool idempotence(std::int16_t effective_acks) const noexcept {
        if (enable_idempotence) return *enable_idempotence;
        if (transactional_id) return true; // validate() refused what conflicts
        return effective_acks == -1 && retries > 0 && max_in_flight_requests_per_connection <= 5;
    }

    /// Throws std::invalid_argument naming the offending key(s) when values or their combination
    /// cannot work. The producer calls it at construction.
    void validate(std::int16_t effective_acks) const {
        auto fail = [](const std::string& msg) { throw std::invalid_argument("producer config: " + msg); };
        if (effective_acks != 0 && effective_acks != 1 && effective_acks != -1)
            fail("acks must be 0, 1 or all (-1), got " + std::to_string(effective_acks));
        if (linger_ms < 0) fail("linger.ms must be >= 0");
        if (batch_size < 0) fail("batch.size must be >= 0");
        if (buffer_memory <= 0) fail("buffer.memory must be > 0");
        if (max_block_ms < 0) fail("max.block.ms must be >= 0");
        if (request_timeout_ms <= 0) fail("request.timeout.ms must be > 0");
        if (retries < 0) fail("retries must be >= 0");
        if (retry_backoff_ms < 0) fail("retry.backoff.ms must be >= 0");
        if (retry_backoff_max_ms < 0) fail("retry.backoff.max.ms must be >= 0");
        if (max_in_flight_requests_per_connection < 1) fail("max.in.flight.requests.per.connection must be >= 1");
        if (max_request_size < 128) fail("max.request.size must be >= 128");
        if (static_cast<std::int64_t>(delivery_timeout_ms) < linger_ms + request_timeout_ms)
            fail("delivery.timeout.ms (" + std::to_string(delivery_timeout_ms) + ") must be >= linger.ms (" +
                 std::to_string(linger_ms) + ") + request.timeout.ms (" + std::to_string(request_timeout_ms) + ")");
        const auto codec = compression::parse(compression_type);
        if (!codec) fail("compression.type must be none, gzip, snappy, lz4 or zstd, got '" + compression_type + "'");
        if (!compression::available(*codec))
            fail("compression.type '" + compression_type +
                 "' is not available in this build (its library was not found when gregor was built; see "
                 "docs/compression.md)");
        if (!compression::valid_level(compression::codec::gzip, compression_gzip_level))
            fail("compression.gzip.level must be 1..9 or -1, got " + std::to_string(compression_gzip_level));
        if (!compression::valid_level(compression::codec::lz4, compression_lz4_level))
            fail("compression.lz4.level must be 1..17, got " + std::to_string(compression_lz4_level));
        if (!compression::valid_level(compression::codec::zstd, compression_zstd_level))
            fail("compression.zstd.level is out of zstd's range, got " + std::to_string(compression_zstd_level));
        if (transaction_timeout_ms <= 0) fail("transaction.timeout.ms must be > 0");
        if (transactional_id) {
            // Java's rules: a transaction is built on the idempotent producer.
            if (transactional_id->empty()) fail("transactional.id must not be empty");
            if (enable_idempotence == false)
                fail("transactional.id requires idempotence; remove enable.idempotence=false");
            if (effective_acks != -1)
                fail("transactional.id requires acks=all, got acks=" + std::to_string(effective_acks));
            if (max_in_flight_requests_per_connection > 5)
                fail("transactional.id requires max.in.flight.requests.per.connection <= 5, got " +
                     std::to_string(max_in_flight_requests_per_connection));
            if (retries < 1) fail("transactional.id requires retries >= 1");
        }
        if (enable_idempotence.value_or(false)) {
            if (effective_acks != -1)
                fail("enable.idempotence=true requires acks=all, got acks=" + std::to_string(effective_acks) +
                     " (set enable.idempotence=false to use it)");
            if (max_in_flight_requests_per_connection > 5)
                fail("enable.idempotence=true requires max.in.flight.requests.per.connection <= 5, got " +
                     std::to_string(max_in_flight_requests_per_connection));
            if (retries < 1) fail("enable.idempotence=true requires retries >= 1");
        }
    }

    /// Parses Kafka-style properties; unknown keys and bad values throw std::invalid_argument
    /// naming the key. Combinations are checked by validate() at construction.
    static producer_config from_properties(const std::map<std::string, std::string>& props) {
        return gregor::detail::props::from_map<producer_config>(props);
    }

    /// Sets one property by its Kafka name (throws std::invalid_argument naming the key).
    void set(const std::string& key, const std::string& value) {
        using namespace detail::props;
        using i32 = std::int32_t;
        using i64 = std::int64_t;
        if (key == "bootstrap.servers")
            bootstrap_servers = value;
        else if (key == "client.id")
            client_id = value;
        else if (key == "acks") {
            if (value == "all" || value == "-1")
                acks = -1;
            else if (value == "0")
                acks = 0;
            else if (value == "1")
                acks = 1;
            else
                bad_value(key, value, "must be 0, 1, -1 or all");
        } else if (key == "enable.idempotence")
            enable_idempotence = parse_bool(key, value);
        else if (key == "linger.ms")
            linger_ms = parse_int<i64>(key, value, 0);
        else if (key == "batch.size")
            batch_size = parse_int<i32>(key, value, 0);
        else if (key == "buffer.memory")
            buffer_memory = parse_int<i64>(key, value, 1);
        else if (key == "max.block.ms")
            max_block_ms = parse_int<i64>(key, value, 0);
        else if (key == "request.timeout.ms")
            request_timeout_ms = parse_int<i32>(key, value, 1);
        else if (key == "delivery.timeout.ms")
            delivery_timeout_ms = parse_int<i32>(key, value, 1);
        else if (key == "retries")
            retries = parse_int<i32>(key, value, 0);
        else if (key == "retry.backoff.ms")
            retry_backoff_ms = parse_int<i64>(key, value, 0);
        else if (key == "retry.backoff.max.ms")
            retry_backoff_max_ms = parse_int<i64>(key, value, 0);
        else if (key == "max.in.flight.requests.per.connection")
            max_in_flight_requests_per_connection = parse_int<i32>(key, value, 1);
        else if (key == "max.request.size")
            max_request_size = parse_int<i32>(key, value, 128);
        else if (key == "compression.type") {
            if (!compression::parse(value)) bad_value(key, value, "must be none, gzip, snappy, lz4 or zstd");
            compression_type = value;
        } else if (key == "compression.gzip.level")
            compression_gzip_level = parse_int<i32>(key, value, -1);
        else if (key == "compression.lz4.level")
            compression_lz4_level = parse_int<i32>(key, value, 1);
        else if (key == "compression.zstd.level")
            compression_zstd_level = parse_int<i32>(key, value, std::numeric_limits<i32>::min());
        else if (key == "partitioner.ignore.keys")
            partitioner_ignore_keys = parse_bool(key, value);
        else if (key == "transactional.id")
            transactional_id = value;
        else if (key == "transaction.timeout.ms")
            transaction_timeout_ms = parse_int<i32>(key, value, 1);
        else if (key == "metadata.max.age.ms")
            metadata_max_age_ms = parse_int<i64>(key, value, 0);
        else if (key == "reconnect.backoff.ms")
            reconnect_backoff_ms = parse_int<i64>(key, value, 0);
        else if (key == "reconnect.backoff.max.ms")
            reconnect_backoff_max_ms = parse_int<i64>(key, value, 0);
        else if (key == "socket.connection.setup.timeout.ms")
            socket_connection_setup_timeout_ms = parse_int<i64>(key, value, 1);
        else if (key == "send.buffer.bytes")
            send_buffer_bytes = parse_int<i32>(key, value, -1);
        else if (key == "receive.buffer.bytes")
            receive_buffer_bytes = parse_int<i32>(key, value, -1);
        else if (key == "allow.auto.create.topics")
            allow_auto_create_topics = parse_bool(key, value);
        else if (key == "key.serializer" || key == "value.serializer" || key == "partitioner.class")
            throw std::invalid_argument("property '" + key +
                                        "' is a compile-time choice in gregor: set it in producer_policies");
        else
            throw std::invalid_argument("unknown producer property '" + key + "'");
    }
};

} // namespace gregor
