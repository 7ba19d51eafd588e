// Error vocabulary. `error_code` carries Kafka's own numbering so a value read off the wire is
// usable as is; `local_error` holds failures that never travel (queue full, timed out, ...), and
// `to_kafka()` is the single place that maps them onto a wire code when one must be sent.
// Both plug into std::error_code. Delivery results carry error codes; exceptions are reserved for
// misuse and invalid configuration at construction time.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

namespace gregor {

// Kafka protocol error codes (org.apache.kafka.common.protocol.Errors).
#define GREGOR_KAFKA_ERRORS(X)                                                                                         \
    X(unknown_server_error, -1, "UNKNOWN_SERVER_ERROR")                                                                \
    X(none, 0, "NONE")                                                                                                 \
    X(offset_out_of_range, 1, "OFFSET_OUT_OF_RANGE")                                                                   \
    X(corrupt_message, 2, "CORRUPT_MESSAGE")                                                                           \
    X(unknown_topic_or_partition, 3, "UNKNOWN_TOPIC_OR_PARTITION")                                                     \
    X(invalid_fetch_size, 4, "INVALID_FETCH_SIZE")                                                                     \
    X(leader_not_available, 5, "LEADER_NOT_AVAILABLE")                                                                 \
    X(not_leader_or_follower, 6, "NOT_LEADER_OR_FOLLOWER")                                                             \
    X(request_timed_out, 7, "REQUEST_TIMED_OUT")                                                                       \
    X(broker_not_available, 8, "BROKER_NOT_AVAILABLE")                                                                 \
    X(replica_not_available, 9, "REPLICA_NOT_AVAILABLE")                                                               \
    X(message_too_large, 10, "MESSAGE_TOO_LARGE")                                                                      \
    X(stale_controller_epoch, 11, "STALE_CONTROLLER_EPOCH")                                                            \
    X(offset_metadata_too_large, 12, "OFFSET_METADATA_TOO_LARGE")                                                      \
    X(network_exception, 13, "NETWORK_EXCEPTION")                                                                      \
    X(coordinator_load_in_progress, 14, "COORDINATOR_LOAD_IN_PROGRESS")                                                \
    X(coordinator_not_available, 15, "COORDINATOR_NOT_AVAILABLE")                                                      \
    X(not_coordinator, 16, "NOT_COORDINATOR")                                                                          \
    X(invalid_topic_exception, 17, "INVALID_TOPIC_EXCEPTION")                                                          \
    X(record_list_too_large, 18, "RECORD_LIST_TOO_LARGE")                                                              \
    X(not_enough_replicas, 19, "NOT_ENOUGH_REPLICAS")                                                                  \
    X(not_enough_replicas_after_append, 20, "NOT_ENOUGH_REPLICAS_AFTER_APPEND")                                        \
    X(invalid_required_acks, 21, "INVALID_REQUIRED_ACKS")                                                              \
    X(illegal_generation, 22, "ILLEGAL_GENERATION")                                                                    \
    X(inconsistent_group_protocol, 23, "INCONSISTENT_GROUP_PROTOCOL")                                                  \
    X(invalid_group_id, 24, "INVALID_GROUP_ID")                                                                        \
    X(unknown_member_id, 25, "UNKNOWN_MEMBER_ID")                                                                      \
    X(invalid_session_timeout, 26, "INVALID_SESSION_TIMEOUT")                                                          \
    X(rebalance_in_progress, 27, "REBALANCE_IN_PROGRESS")                                                              \
    X(invalid_commit_offset_size, 28, "INVALID_COMMIT_OFFSET_SIZE")                                                    \
    X(topic_authorization_failed, 29, "TOPIC_AUTHORIZATION_FAILED")                                                    \
    X(group_authorization_failed, 30, "GROUP_AUTHORIZATION_FAILED")                                                    \
    X(cluster_authorization_failed, 31, "CLUSTER_AUTHORIZATION_FAILED")                                                \
    X(invalid_timestamp, 32, "INVALID_TIMESTAMP")                                                                      \
    X(unsupported_sasl_mechanism, 33, "UNSUPPORTED_SASL_MECHANISM")                                                    \
    X(illegal_sasl_state, 34, "ILLEGAL_SASL_STATE")                                                                    \
    X(unsupported_version, 35, "UNSUPPORTED_VERSION")                                                                  \
    X(topic_already_exists, 36, "TOPIC_ALREADY_EXISTS")                                                                \
    X(invalid_partitions, 37, "INVALID_PARTITIONS")                                                                    \
    X(invalid_replication_factor, 38, "INVALID_REPLICATION_FACTOR")                                                    \
    X(invalid_replica_assignment, 39, "INVALID_REPLICA_ASSIGNMENT")                                                    \
    X(invalid_config, 40, "INVALID_CONFIG")                                                                            \
    X(not_controller, 41, "NOT_CONTROLLER")                                                                            \
    X(invalid_request, 42, "INVALID_REQUEST")                                                                          \
    X(unsupported_for_message_format, 43, "UNSUPPORTED_FOR_MESSAGE_FORMAT")                                            \
    X(policy_violation, 44, "POLICY_VIOLATION")                                                                        \
    X(out_of_order_sequence_number, 45, "OUT_OF_ORDER_SEQUENCE_NUMBER")                                                \
    X(duplicate_sequence_number, 46, "DUPLICATE_SEQUENCE_NUMBER")                                                      \
    X(invalid_producer_epoch, 47, "INVALID_PRODUCER_EPOCH")                                                            \
    X(invalid_txn_state, 48, "INVALID_TXN_STATE")                                                                      \
    X(invalid_producer_id_mapping, 49, "INVALID_PRODUCER_ID_MAPPING")                                                  \
    X(invalid_transaction_timeout, 50, "INVALID_TRANSACTION_TIMEOUT")                                                  \
    X(concurrent_transactions, 51, "CONCURRENT_TRANSACTIONS")                                                          \
    X(transaction_coordinator_fenced, 52, "TRANSACTION_COORDINATOR_FENCED")                                            \
    X(transactional_id_authorization_failed, 53, "TRANSACTIONAL_ID_AUTHORIZATION_FAILED")                              \
    X(security_disabled, 54, "SECURITY_DISABLED")                                                                      \
    X(operation_not_attempted, 55, "OPERATION_NOT_ATTEMPTED")                                                          \
    X(kafka_storage_error, 56, "KAFKA_STORAGE_ERROR")                                                                  \
    X(log_dir_not_found, 57, "LOG_DIR_NOT_FOUND")                                                                      \
    X(sasl_authentication_failed, 58, "SASL_AUTHENTICATION_FAILED")                                                    \
    X(unknown_producer_id, 59, "UNKNOWN_PRODUCER_ID")                                                                  \
    X(reassignment_in_progress, 60, "REASSIGNMENT_IN_PROGRESS")                                                        \
    X(delegation_token_auth_disabled, 61, "DELEGATION_TOKEN_AUTH_DISABLED")                                            \
    X(delegation_token_not_found, 62, "DELEGATION_TOKEN_NOT_FOUND")                                                    \
    X(delegation_token_owner_mismatch, 63, "DELEGATION_TOKEN_OWNER_MISMATCH")                                          \
    X(delegation_token_request_not_allowed, 64, "DELEGATION_TOKEN_REQUEST_NOT_ALLOWED")                                \
    X(delegation_token_authorization_failed, 65, "DELEGATION_TOKEN_AUTHORIZATION_FAILED")                              \
    X(delegation_token_expired, 66, "DELEGATION_TOKEN_EXPIRED")                                                        \
    X(invalid_principal_type, 67, "INVALID_PRINCIPAL_TYPE")                                                            \
    X(non_empty_group, 68, "NON_EMPTY_GROUP")                                                                          \
    X(group_id_not_found, 69, "GROUP_ID_NOT_FOUND")                                                                    \
    X(fetch_session_id_not_found, 70, "FETCH_SESSION_ID_NOT_FOUND")                                                    \
    X(invalid_fetch_session_epoch, 71, "INVALID_FETCH_SESSION_EPOCH")                                                  \
    X(listener_not_found, 72, "LISTENER_NOT_FOUND")                                                                    \
    X(topic_deletion_disabled, 73, "TOPIC_DELETION_DISABLED")                                                          \
    X(fenced_leader_epoch, 74, "FENCED_LEADER_EPOCH")                                                                  \
    X(unknown_leader_epoch, 75, "UNKNOWN_LEADER_EPOCH")                                                                \
    X(unsupported_compression_type, 76, "UNSUPPORTED_COMPRESSION_TYPE")                                                \
    X(stale_broker_epoch, 77, "STALE_BROKER_EPOCH")                                                                    \
    X(offset_not_available, 78, "OFFSET_NOT_AVAILABLE")                                                                \
    X(member_id_required, 79, "MEMBER_ID_REQUIRED")                                                                    \
    X(preferred_leader_not_available, 80, "PREFERRED_LEADER_NOT_AVAILABLE")                                            \
    X(group_max_size_reached, 81, "GROUP_MAX_SIZE_REACHED")                                                            \
    X(fenced_instance_id, 82, "FENCED_INSTANCE_ID")                                                                    \
    X(eligible_leaders_not_available, 83, "ELIGIBLE_LEADERS_NOT_AVAILABLE")                                            \
    X(election_not_needed, 84, "ELECTION_NOT_NEEDED")                                                                  \
    X(no_reassignment_in_progress, 85, "NO_REASSIGNMENT_IN_PROGRESS")                                                  \
    X(group_subscribed_to_topic, 86, "GROUP_SUBSCRIBED_TO_TOPIC")                                                      \
    X(invalid_record, 87, "INVALID_RECORD")                                                                            \
    X(unstable_offset_commit, 88, "UNSTABLE_OFFSET_COMMIT")                                                            \
    X(throttling_quota_exceeded, 89, "THROTTLING_QUOTA_EXCEEDED")                                                      \
    X(producer_fenced, 90, "PRODUCER_FENCED")                                                                          \
    X(resource_not_found, 91, "RESOURCE_NOT_FOUND")                                                                    \
    X(duplicate_resource, 92, "DUPLICATE_RESOURCE")                                                                    \
    X(unacceptable_credential, 93, "UNACCEPTABLE_CREDENTIAL")                                                          \
    X(inconsistent_voter_set, 94, "INCONSISTENT_VOTER_SET")                                                            \
    X(invalid_update_version, 95, "INVALID_UPDATE_VERSION")                                                            \
    X(feature_update_failed, 96, "FEATURE_UPDATE_FAILED")                                                              \
    X(principal_deserialization_failure, 97, "PRINCIPAL_DESERIALIZATION_FAILURE")                                      \
    X(snapshot_not_found, 98, "SNAPSHOT_NOT_FOUND")                                                                    \
    X(position_out_of_range, 99, "POSITION_OUT_OF_RANGE")                                                              \
    X(unknown_topic_id, 100, "UNKNOWN_TOPIC_ID")                                                                       \
    X(duplicate_broker_registration, 101, "DUPLICATE_BROKER_REGISTRATION")                                             \
    X(broker_id_not_registered, 102, "BROKER_ID_NOT_REGISTERED")                                                       \
    X(inconsistent_topic_id, 103, "INCONSISTENT_TOPIC_ID")                                                             \
    X(inconsistent_cluster_id, 104, "INCONSISTENT_CLUSTER_ID")                                                         \
    X(transactional_id_not_found, 105, "TRANSACTIONAL_ID_NOT_FOUND")                                                   \
    X(fetch_session_topic_id_error, 106, "FETCH_SESSION_TOPIC_ID_ERROR")                                               \
    X(ineligible_replica, 107, "INELIGIBLE_REPLICA")                                                                   \
    X(new_leader_elected, 108, "NEW_LEADER_ELECTED")                                                                   \
    X(mismatched_endpoint_type, 114, "MISMATCHED_ENDPOINT_TYPE")                                                       \
    X(unsupported_endpoint_type, 115, "UNSUPPORTED_ENDPOINT_TYPE")

/// Kafka's wire error codes; the enumerator value is the int16 sent on the wire.
enum class error_code : std::int16_t {
#define GREGOR_X(name, value, text) name = value,
    GREGOR_KAFKA_ERRORS(GREGOR_X)
#undef GREGOR_X
};

/// Kafka's upper-case name ("NOT_LEADER_OR_FOLLOWER"), or "UNKNOWN_ERROR_CODE(n)" for codes this
/// build does not know (a newer broker may send them; they must still print).
inline std::string to_string(error_code e) {
    switch (e) {
#define GREGOR_X(name, value, text)                                                                                    \
    case error_code::name: return text;
        GREGOR_KAFKA_ERRORS(GREGOR_X)
#undef GREGOR_X
    }
    return "UNKNOWN_ERROR_CODE(" + std::to_string(static_cast<int>(e)) + ")";
}

/// True for the codes a producer may retry with the same batch (Java's RetriableException
/// subclasses). Everything else is permanent for the batch it answers.
constexpr bool retriable(error_code e) noexcept {
    switch (e) {
    case error_code::corrupt_message:
    case error_code::unknown_topic_or_partition:
    case error_code::leader_not_available:
    case error_code::not_leader_or_follower:
    case error_code::request_timed_out:
    case error_code::replica_not_available:
    case error_code::network_exception:
    case error_code::coordinator_load_in_progress:
    case error_code::coordinator_not_available:
    case error_code::not_coordinator:
    case error_code::not_enough_replicas:
    case error_code::not_enough_replicas_after_append:
    case error_code::not_controller:
    case error_code::concurrent_transactions:
    case error_code::kafka_storage_error:
    case error_code::fetch_session_id_not_found:
    case error_code::invalid_fetch_session_epoch:
    case error_code::listener_not_found:
    case error_code::fenced_leader_epoch:
    case error_code::unknown_leader_epoch:
    case error_code::offset_not_available:
    case error_code::preferred_leader_not_available:
    case error_code::unstable_offset_commit:
    case error_code::throttling_quota_exceeded:
    case error_code::unknown_topic_id: return true;
    default: return false;
    }
}

/// Failures that happen inside this process and are never sent as such.
enum class local_error : int {
    queue_full = 1,   // buffer.memory exhausted (try_send), or max.block.ms elapsed (send)
    timed_out,        // delivery.timeout.ms / request.timeout.ms / flush deadline elapsed
    closed,           // the component was closed, or the connection went away
    invalid_config,   // a configuration key or value was rejected
    invalid_argument, // a call's argument is out of its domain
    io_error,         // the operating system refused a read/write/sync
    corrupt_data,     // bytes read back from storage failed validation
    fatal,            // the producer hit an unrecoverable state (e.g. fenced epoch)
    purged,           // the record was removed before it was sent
    unsupported,      // the feature is not available in this build or on this machine
    invalid_state,    // the call is not allowed in the object's current state (Java's IllegalStateException)
};

} // namespace gregor

template <>
struct std::is_error_code_enum<gregor::error_code> : std::true_type {};
template <>
struct std::is_error_code_enum<gregor::local_error> : std::true_type {};

namespace gregor {
namespace detail {

class kafka_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "kafka"; }
    std::string message(int ev) const override {
        return to_string(static_cast<error_code>(static_cast<std::int16_t>(ev)));
    }
};

class local_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "gregor"; }
    std::string message(int ev) const override {
        switch (static_cast<local_error>(ev)) {
        case local_error::queue_full: return "local queue full (buffer.memory exhausted)";
        case local_error::timed_out: return "timed out";
        case local_error::closed: return "closed";
        case local_error::invalid_config: return "invalid configuration";
        case local_error::invalid_argument: return "invalid argument";
        case local_error::io_error: return "I/O error";
        case local_error::corrupt_data: return "corrupt data";
        case local_error::fatal: return "fatal error";
        case local_error::purged: return "purged";
        case local_error::unsupported: return "unsupported";
        case local_error::invalid_state: return "not allowed in the current state";
        }
        return "unknown local error " + std::to_string(ev);
    }
};

inline const kafka_category_impl kafka_category_instance{};
inline const local_category_impl local_category_instance{};

} // namespace detail

inline const std::error_category& kafka_category() noexcept { return detail::kafka_category_instance; }
inline const std::error_category& local_category() noexcept { return detail::local_category_instance; }

inline std::error_code make_error_code(error_code e) noexcept { return {static_cast<int>(e), kafka_category()}; }
inline std::error_code make_error_code(local_error e) noexcept { return {static_cast<int>(e), local_category()}; }

/// The one mapping from local failures to what a peer should be told.
constexpr error_code to_kafka(local_error e) noexcept {
    switch (e) {
    case local_error::timed_out: return error_code::request_timed_out;
    case local_error::closed: return error_code::network_exception;
    case local_error::invalid_config: return error_code::invalid_config;
    case local_error::invalid_argument:
    case local_error::invalid_state: return error_code::invalid_request;
    case local_error::io_error: return error_code::kafka_storage_error;
    case local_error::corrupt_data: return error_code::corrupt_message;
    case local_error::queue_full: return error_code::throttling_quota_exceeded;
    case local_error::unsupported: return error_code::unsupported_version;
    case local_error::fatal:
    case local_error::purged: return error_code::unknown_server_error;
    }
    return error_code::unknown_server_error;
}

/// Kafka code of any std::error_code this library produces (none for success).
inline error_code to_kafka(const std::error_code& ec) noexcept {
    if (!ec) return error_code::none;
    if (ec.category() == kafka_category()) return static_cast<error_code>(ec.value());
    if (ec.category() == local_category()) return to_kafka(static_cast<local_error>(ec.value()));
    // An operating-system error (a full disk, EIO, a read-only file system, a file size limit):
    // the paths that map one are storage paths, and Kafka answers those KAFKA_STORAGE_ERROR, which
    // clients retry; UNKNOWN_SERVER_ERROR would make librdkafka fail every queued record at once.
    return error_code::kafka_storage_error;
}

/// Whether a producer may retry after `ec` (local timeouts and closes are retried by the
/// sender's own deadline logic, not by this predicate).
inline bool retriable(const std::error_code& ec) noexcept {
    if (ec.category() == kafka_category()) return retriable(static_cast<error_code>(ec.value()));
    if (ec.category() == local_category()) return static_cast<local_error>(ec.value()) == local_error::closed;
    return false;
}

} // namespace gregor
