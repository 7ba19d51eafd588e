// The producer's transport concept: how sealed batches reach brokers and answers come back.
// Implementations: transport::in_process<Broker> (transports.hpp, a direct call into a
// gregor::broker), testing::faulty_transport<T> (a decorator that loses, duplicates, delays,
// reorders and fails requests), and the TCP transport (the Kafka protocol over sockets).
//
// The producer's sender thread is the only caller of send() and poll(); wake() is called from any
// thread to interrupt a poll() (it must be remembered if no poll() is running, so that the next
// poll() returns at once).
//
//   t.send(produce_request&&)           queue/issue a Produce request; never blocks on the network
//   t.send(metadata_request&&)          ask for a topic's partitions and their leaders
//   t.send(init_producer_id_request&&)  ask for an idempotent producer id/epoch (with a
//                                       transactional id: the transaction coordinator's)
//   t.poll(std::vector<transport_event>& out, duration max_wait) -> std::size_t
//                                       appends the answers that arrived (waiting at most
//                                       max_wait for the first one, or until wake()); returns how
//                                       many it appended
//   t.wake()                            thread-safe
//
// A transport that serves transactions (transactional_transport below) also takes
//   t.send(add_partitions_to_txn_request&&), t.send(add_offsets_to_txn_request&&),
//   t.send(end_txn_request&&)           to the transaction coordinator of the transactional id
//   t.send(txn_offset_commit_request&&) to the group coordinator of the group
// finding the coordinators itself (FindCoordinator over TCP; docs/protocol.md §7.2, §15.1). Only
// a producer with transactional.id sends them.
//
// Every request carries a correlation id chosen by the producer; answers echo it, in any order. A
// transport answers each request at most once (a produce request with acks=0 not at all) and may
// never answer (the producer then gives up after request.timeout.ms and never looks at that
// correlation id again).
//
// Batch bytes: a produce_request holds mutable views of batches the producer owns. They stay valid
// and unchanged until the producer receives the answer for that correlation id or gives up on it
// (request.timeout.ms); a transport that holds a request longer must copy the bytes. A transport
// may patch the fields outside the batch CRC in place (baseOffset, partitionLeaderEpoch), as a
// broker does on append; the producer resends the same bytes on retry.
#pragma once

#include <gregor/core/buffer.hpp>
#include <gregor/core/clock.hpp>
#include <gregor/core/error.hpp>
#include <gregor/core/consumer_group_metadata.hpp>
#include <gregor/core/strong_types.hpp>

#include <concepts>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace gregor {

struct produce_request {
    struct partition_batch {
        std::string_view topic; // owned by the producer, valid while it lives
        partition_id partition{0};
        mutable_bytes_view batch; // one sealed record batch v2
    };
    std::uint64_t correlation_id = 0;
    node_id destination{0};
    std::int16_t acks = -1;
    std::int32_t timeout_ms = 30000;
    std::vector<partition_batch> batches; // at most one per partition
};

struct produce_response {
    struct partition_result {
        error_code error = error_code::none;
        offset base_offset{-1};
        std::int64_t log_append_time_ms = -1;
        offset log_start_offset{-1};
    };
    std::uint64_t correlation_id = 0;
    std::vector<partition_result> results; // same order as the request's batches
};

struct metadata_request {
    std::uint64_t correlation_id = 0;
    std::string topic;
};

struct metadata_response {
    std::uint64_t correlation_id = 0;
    std::string topic;
    error_code error = error_code::none;
    std::vector<node_id> leaders; // one per partition: the partition count is leaders.size()
};

struct init_producer_id_request {
    std::uint64_t correlation_id = 0;
    std::optional<std::string> transactional_id;
    std::int32_t transaction_timeout_ms = 60000;
    // The id and epoch in use, when a transactional producer asks for an epoch bump after a
    // failed transaction (InitProducerId v3+, KIP-360); -1 on a first InitProducerId.
    producer_id expected_id{-1};
    producer_epoch expected_epoch{-1};
};

struct init_producer_id_response {
    std::uint64_t correlation_id = 0;
    error_code error = error_code::none;
    producer_id id{-1};
    producer_epoch epoch{-1};
};

/// One partition a transactional producer is about to write.
struct txn_partition {
    std::string topic;
    partition_id partition{0};
};

/// What a transaction commits for a consumer group (send_offsets_to_transaction): Java's
/// TopicPartition -> OffsetAndMetadata.
struct transaction_offset {
    std::string topic{};
    partition_id partition{0};
    offset next{-1};                       // the next offset the group should consume
    std::int32_t leader_epoch = -1;        // of the last consumed record, -1 if unknown
    std::optional<std::string> metadata{}; // null: none
};

struct add_partitions_to_txn_request {
    std::uint64_t correlation_id = 0;
    std::string transactional_id;
    producer_id id{-1};
    producer_epoch epoch{-1};
    std::vector<txn_partition> partitions;
};

struct add_partitions_to_txn_response {
    std::uint64_t correlation_id = 0;
    std::vector<error_code> errors; // one per requested partition, in the request's order
};

struct add_offsets_to_txn_request {
    std::uint64_t correlation_id = 0;
    std::string transactional_id;
    producer_id id{-1};
    producer_epoch epoch{-1};
    std::string group_id;
};

struct add_offsets_to_txn_response {
    std::uint64_t correlation_id = 0;
    error_code error = error_code::none;
};

struct end_txn_request {
    std::uint64_t correlation_id = 0;
    std::string transactional_id;
    producer_id id{-1};
    producer_epoch epoch{-1};
    bool commit = false;
};

struct end_txn_response {
    std::uint64_t correlation_id = 0;
    error_code error = error_code::none;
};

struct txn_offset_commit_request {
    std::uint64_t correlation_id = 0;
    std::string transactional_id;
    producer_id id{-1};
    producer_epoch epoch{-1};
    consumer_group_metadata group;
    std::vector<transaction_offset> offsets;
};

struct txn_offset_commit_response {
    std::uint64_t correlation_id = 0;
    std::vector<error_code> errors; // one per offset, in the request's order
};

using transport_event =
    std::variant<produce_response, metadata_response, init_producer_id_response, add_partitions_to_txn_response,
                 add_offsets_to_txn_response, end_txn_response, txn_offset_commit_response>;

template <typename T>
concept producer_transport = std::move_constructible<T> &&
    requires(T& t, produce_request p, metadata_request m, init_producer_id_request i, std::vector<transport_event>& out,
             duration wait) {
    t.send(std::move(p));
    t.send(std::move(m));
    t.send(std::move(i));
    { t.poll(out, wait) } -> std::convertible_to<std::size_t>;
    t.wake();
};

/// A producer transport that can also carry a transactional producer's coordinator requests.
template <typename T>
concept transactional_transport = producer_transport<T> &&
    requires(T& t, add_partitions_to_txn_request a, add_offsets_to_txn_request o, end_txn_request e,
             txn_offset_commit_request c) {
    t.send(std::move(a));
    t.send(std::move(o));
    t.send(std::move(e));
    t.send(std::move(c));
};

} // namespace gregor
