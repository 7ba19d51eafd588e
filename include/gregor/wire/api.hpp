// Kafka API keys, their names and first flexible versions, version ranges and negotiation, and one
// tag struct per API this library implements. A tag says which versions our codecs handle
// (`min_version`..`max_version`), where the flexible encoding starts (`first_flexible`) and what a
// gregor broker advertises in ApiVersions (`advertised`, docs/protocol.md §4 "Broker adv.").
// The advertised range may be wider than the implemented one where a client needs it (§3.1:
// librdkafka only compresses if Produce v0 is advertised; Kafka 4 does the same and rejects v0-2).
//
// Each tag is checked against the `kafka_api` concept where it is declared.
// Thread-safety: everything here is constexpr data and pure functions.
#pragma once

#include <algorithm>
#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace gregor::wire {

/// Kafka's request type numbers. Values not listed (newer APIs) are still representable.
enum class api_key : std::int16_t {
    produce = 0,
    fetch = 1,
    list_offsets = 2,
    metadata = 3,
    controlled_shutdown = 7,
    offset_commit = 8,
    offset_fetch = 9,
    find_coordinator = 10,
    join_group = 11,
    heartbeat = 12,
    leave_group = 13,
    sync_group = 14,
    describe_groups = 15,
    list_groups = 16,
    api_versions = 18,
    create_topics = 19,
    delete_topics = 20,
    delete_records = 21,
    init_producer_id = 22,
    offset_for_leader_epoch = 23,
    add_partitions_to_txn = 24,
    add_offsets_to_txn = 25,
    end_txn = 26,
    write_txn_markers = 27,
    txn_offset_commit = 28,
    describe_configs = 32,
    alter_configs = 33,
    create_partitions = 37,
    delete_groups = 42,
    incremental_alter_configs = 44,
    offset_delete = 47,
    alter_partition = 56,
    describe_cluster = 60,
    broker_registration = 62,
    broker_heartbeat = 63,
};

/// "No version of this API is flexible" (or the key is unknown here).
inline constexpr std::int16_t never_flexible = std::numeric_limits<std::int16_t>::max();

namespace detail {
struct api_info {
    api_key key;
    std::string_view name;
    std::int16_t first_flexible;
};
// First flexible versions from apache/kafka's message JSON (docs/protocol.md §4).
inline constexpr std::array<api_info, 35> api_table{{
    {api_key::produce, "Produce", 9},
    {api_key::fetch, "Fetch", 12},
    {api_key::list_offsets, "ListOffsets", 6},
    {api_key::metadata, "Metadata", 9},
    {api_key::controlled_shutdown, "ControlledShutdown", 3},
    {api_key::offset_commit, "OffsetCommit", 8},
    {api_key::offset_fetch, "OffsetFetch", 6},
    {api_key::find_coordinator, "FindCoordinator", 3},
    {api_key::join_group, "JoinGroup", 6},
    {api_key::heartbeat, "Heartbeat", 4},
    {api_key::leave_group, "LeaveGroup", 4},
    {api_key::sync_group, "SyncGroup", 4},
    {api_key::describe_groups, "DescribeGroups", 5},
    {api_key::list_groups, "ListGroups", 3},
    {api_key::api_versions, "ApiVersions", 3},
    {api_key::create_topics, "CreateTopics", 5},
    {api_key::delete_topics, "DeleteTopics", 4},
    {api_key::delete_records, "DeleteRecords", 2},
    {api_key::init_producer_id, "InitProducerId", 2},
    {api_key::offset_for_leader_epoch, "OffsetForLeaderEpoch", 4},
    {api_key::add_partitions_to_txn, "AddPartitionsToTxn", 3},
    {api_key::add_offsets_to_txn, "AddOffsetsToTxn", 3},
    {api_key::end_txn, "EndTxn", 3},
    {api_key::write_txn_markers, "WriteTxnMarkers", 1},
    {api_key::txn_offset_commit, "TxnOffsetCommit", 3},
    {api_key::describe_configs, "DescribeConfigs", 4},
    {api_key::alter_configs, "AlterConfigs", 2},
    {api_key::create_partitions, "CreatePartitions", 2},
    {api_key::delete_groups, "DeleteGroups", 2},
    {api_key::incremental_alter_configs, "IncrementalAlterConfigs", 1},
    {api_key::offset_delete, "OffsetDelete", never_flexible},
    {api_key::alter_partition, "AlterPartition", 0},
    {api_key::describe_cluster, "DescribeCluster", 0},
    {api_key::broker_registration, "BrokerRegistration", 0},
    {api_key::broker_heartbeat, "BrokerHeartbeat", 0},
}};
// An index rather than a pointer: GCC's UBSan instrumentation makes pointer tests non-constant.
inline constexpr std::size_t not_found = api_table.size();
constexpr std::size_t find_api(api_key k) noexcept {
    for (std::size_t i = 0; i < api_table.size(); ++i)
        if (api_table[i].key == k) return i;
    return not_found;
}
} // namespace detail

/// True for the keys listed in api_key.
constexpr bool is_known(api_key k) noexcept { return detail::find_api(k) != detail::not_found; }

/// Kafka's name ("Produce"), or "" for a key this build does not know.
constexpr std::string_view api_name(api_key k) noexcept {
    const auto i = detail::find_api(k);
    return i != detail::not_found ? detail::api_table[i].name : std::string_view{};
}
/// Kafka's name, or "ApiKey(n)" for unknown keys (for logs and error messages).
inline std::string to_string(api_key k) {
    const auto n = api_name(k);
    if (!n.empty()) return std::string(n);
    return "ApiKey(" + std::to_string(static_cast<int>(k)) + ")";
}

/// The first version of `k` that uses the flexible encoding (never_flexible if none / unknown).
constexpr std::int16_t first_flexible_version(api_key k) noexcept {
    const auto i = detail::find_api(k);
    return i != detail::not_found ? detail::api_table[i].first_flexible : never_flexible;
}
constexpr bool is_flexible(api_key k, std::int16_t version) noexcept { return version >= first_flexible_version(k); }

/// An inclusive version range [min, max].
struct version_range {
    std::int16_t min = 0;
    std::int16_t max = -1;
    [[nodiscard]] constexpr bool contains(std::int16_t v) const noexcept { return v >= min && v <= max; }
    [[nodiscard]] constexpr bool empty() const noexcept { return max < min; }
    friend constexpr bool operator==(version_range, version_range) = default;
};

/// The highest version in both ranges (librdkafka's and Java's rule), or nullopt if disjoint.
constexpr std::optional<std::int16_t> highest_common_version(version_range ours, version_range theirs) noexcept {
    const auto lo = std::max(ours.min, theirs.min);
    const auto hi = std::min(ours.max, theirs.max);
    if (hi < lo) return std::nullopt;
    return hi;
}

/// What a tag struct provides: the key, Kafka's name, the versions our codecs implement, the first
/// flexible version, and the range a gregor broker advertises.
template <typename A>
concept kafka_api = requires {
    { A::key } -> std::convertible_to<api_key>;
    { A::name } -> std::convertible_to<std::string_view>;
    { A::min_version } -> std::convertible_to<std::int16_t>;
    { A::max_version } -> std::convertible_to<std::int16_t>;
    { A::first_flexible } -> std::convertible_to<std::int16_t>;
    { A::advertised } -> std::convertible_to<version_range>;
}
&&(A::min_version >= 0) && (A::min_version <= A::max_version);

/// Versions the codecs of API `A` encode and decode.
template <kafka_api A>
constexpr version_range implemented_versions() noexcept {
    return {A::min_version, A::max_version};
}
template <kafka_api A>
constexpr bool supports_version(std::int16_t v) noexcept {
    return v >= A::min_version && v <= A::max_version;
}
template <kafka_api A>
constexpr bool is_flexible_version(std::int16_t v) noexcept {
    return v >= A::first_flexible;
}
/// Encoding a version the codec does not implement is misuse: throws std::invalid_argument.
template <kafka_api A>
void require_version(std::int16_t v) {
    if (!supports_version<A>(v))
        throw std::invalid_argument("gregor::wire: " + std::string(A::name) + " v" + std::to_string(v) +
                                    " is not implemented (" + std::to_string(A::min_version) + "-" +
                                    std::to_string(A::max_version) + ")");
}

// ---------------------------------------------------------------------------------------------
// Tags of the implemented APIs. min/max: what the codecs in wire/messages/ handle -- up to the
// versions Kafka 3.9 serves (docs/protocol.md §13), flexible ones included, keeping the old
// versions older clients send. `advertised` is what the broker offers today, which may be far
// below max (a client that negotiates from implemented_versions may cap itself further, as
// gregor's own TCP transports do).

struct api_versions_api {
    static constexpr api_key key = api_key::api_versions;
    static constexpr std::string_view name = "ApiVersions";
    static constexpr std::int16_t min_version = 0;
    static constexpr std::int16_t max_version = 4;
    static constexpr std::int16_t first_flexible = 3;
    static constexpr version_range advertised{0, 4};
};

struct metadata_api {
    static constexpr api_key key = api_key::metadata;
    static constexpr std::string_view name = "Metadata";
    static constexpr std::int16_t min_version = 0;
    static constexpr std::int16_t max_version = 12;
    static constexpr std::int16_t first_flexible = 9;
    // v7+ adds leader_epoch, which would make librdkafka >= 2.1 validate positions with
    // OffsetForLeaderEpoch (docs/protocol.md §10); stay at 6.
    static constexpr version_range advertised{0, 12};
};

struct produce_api {
    static constexpr api_key key = api_key::produce;
    static constexpr std::string_view name = "Produce";
    // v0-2 carry message format 0/1, which gregor does not read.
    static constexpr std::int16_t min_version = 3;
    static constexpr std::int16_t max_version = 11;
    static constexpr std::int16_t first_flexible = 9;
    // Advertised from 0 so that librdkafka compresses (its check looks at Produce v0, §3.1);
    // requests below min_version are rejected like Kafka 4 does.
    static constexpr version_range advertised{0, 11};
};

struct fetch_api {
    static constexpr api_key key = api_key::fetch;
    static constexpr std::string_view name = "Fetch";
    // v0-3 readers expect message format 0/1; v4 is where format 2 and isolation start. 4 is also
    // the version librdkafka's MsgVer2 probe needs (§3.1), and Kafka 4 dropped 0-3 too.
    static constexpr std::int16_t min_version = 4;
    static constexpr std::int16_t max_version = 16;
    static constexpr std::int16_t first_flexible = 12;
    static constexpr version_range advertised{4, 16};
};

struct list_offsets_api {
    static constexpr api_key key = api_key::list_offsets;
    static constexpr std::string_view name = "ListOffsets";
    static constexpr std::int16_t min_version = 0;
    static constexpr std::int16_t max_version = 8;
    static constexpr std::int16_t first_flexible = 6;
    static constexpr version_range advertised{0, 8};
};

struct init_producer_id_api {
    static constexpr api_key key = api_key::init_producer_id;
    static constexpr std::string_view name = "InitProducerId";
    static constexpr std::int16_t min_version = 0;
    static constexpr std::int16_t max_version = 5;
    static constexpr std::int16_t first_flexible = 2;
    static constexpr version_range advertised{0, 5};
};

struct find_coordinator_api {
    static constexpr api_key key = api_key::find_coordinator;
    static constexpr std::string_view name = "FindCoordinator";
    static constexpr std::int16_t min_version = 0;
    static constexpr std::int16_t max_version = 5;
    static constexpr std::int16_t first_flexible = 3;
    static constexpr version_range advertised{0, 5};
};

// The admin APIs (docs/protocol.md §17): codecs for every version Kafka 3.9 serves (§13).

struct create_topics_api {
    static constexpr api_key key = api_key::create_topics;
    static constexpr std::string_view name = "CreateTopics";
    static constexpr std::int16_t min_version = 0;
    static constexpr std::int16_t max_version = 7;
    static constexpr std::int16_t first_flexible = 5;
    static constexpr version_range advertised{0, 7};
};

struct delete_topics_api {
    static constexpr api_key key = api_key::delete_topics;
    static constexpr std::string_view name = "DeleteTopics";
    static constexpr std::int16_t min_version = 0;
    static constexpr std::int16_t max_version = 6;
    static constexpr std::int16_t first_flexible = 4;
    static constexpr version_range advertised{0, 6};
};

struct delete_records_api {
    static constexpr api_key key = api_key::delete_records;
    static constexpr std::string_view name = "DeleteRecords";
    static constexpr std::int16_t min_version = 0;
    static constexpr std::int16_t max_version = 2;
    static constexpr std::int16_t first_flexible = 2;
    static constexpr version_range advertised{0, 2};
};

struct describe_configs_api {
    static constexpr api_key key = api_key::describe_configs;
    static constexpr std::string_view name = "DescribeConfigs";
    static constexpr std::int16_t min_version = 0;
    static constexpr std::int16_t max_version = 4;
    static constexpr std::int16_t first_flexible = 4;
    static constexpr version_range advertised{0, 4};
};

struct alter_configs_api {
    static constexpr api_key key = api_key::alter_configs;
    static constexpr std::string_view name = "AlterConfigs";
    static constexpr std::int16_t min_version = 0;
    static constexpr std::int16_t max_version = 2;
    static constexpr std::int16_t first_flexible = 2;
    static constexpr version_range advertised{0, 2};
};

struct create_partitions_api {
    static constexpr api_key key = api_key::create_partitions;
    static constexpr std::string_view name = "CreatePartitions";
    static constexpr std::int16_t min_version = 0;
    static constexpr std::int16_t max_version = 3;
    static constexpr std::int16_t first_flexible = 2;
    static constexpr version_range advertised{0, 3};
};

struct incremental_alter_configs_api {
    static constexpr api_key key = api_key::incremental_alter_configs;
    static constexpr std::string_view name = "IncrementalAlterConfigs";
    static constexpr std::int16_t min_version = 0;
    static constexpr std::int16_t max_version = 1;
    static constexpr std::int16_t first_flexible = 1;
    static constexpr version_range advertised{0, 1};
};

struct describe_cluster_api {
    static constexpr api_key key = api_key::describe_cluster;
    static constexpr std::string_view name = "DescribeCluster";
    static constexpr std::int16_t min_version = 0;
    static constexpr std::int16_t max_version = 1;
    static constexpr std::int16_t first_flexible = 0; // flexible from v0
    static constexpr version_range advertised{0, 1};
};

// The APIs between the brokers of a cluster and its controller (docs/protocol.md §14, §14.11):
// codecs for every version Kafka 3.9 serves, all served and advertised by gregor brokers
// (docs/replication.md). Advertising OffsetForLeaderEpoch (max >= 3) makes Java consumers and
// librdkafka validate positions with it after a leader change (§13.1).

struct offset_for_leader_epoch_api {
    static constexpr api_key key = api_key::offset_for_leader_epoch;
    static constexpr std::string_view name = "OffsetForLeaderEpoch";
    static constexpr std::int16_t min_version = 0;
    static constexpr std::int16_t max_version = 4;
    static constexpr std::int16_t first_flexible = 4;
    static constexpr version_range advertised{0, 4};
};

struct alter_partition_api {
    static constexpr api_key key = api_key::alter_partition;
    static constexpr std::string_view name = "AlterPartition";
    static constexpr std::int16_t min_version = 0;
    static constexpr std::int16_t max_version = 3;
    static constexpr std::int16_t first_flexible = 0; // flexible from v0
    static constexpr version_range advertised{0, 3};
};

struct broker_registration_api {
    static constexpr api_key key = api_key::broker_registration;
    static constexpr std::string_view name = "BrokerRegistration";
    static constexpr std::int16_t min_version = 0;
    static constexpr std::int16_t max_version = 4;
    static constexpr std::int16_t first_flexible = 0; // flexible from v0
    static constexpr version_range advertised{0, 4};
};

struct broker_heartbeat_api {
    static constexpr api_key key = api_key::broker_heartbeat;
    static constexpr std::string_view name = "BrokerHeartbeat";
    static constexpr std::int16_t min_version = 0;
    static constexpr std::int16_t max_version = 1;
    static constexpr std::int16_t first_flexible = 0; // flexible from v0
    static constexpr version_range advertised{0, 1};
};

// The classic consumer-group APIs (docs/protocol.md §16): codecs for every version Kafka 3.9
// serves. The group coordinator (docs/groups.md) serves them all.

struct offset_commit_api {
    static constexpr api_key key = api_key::offset_commit;
    static constexpr std::string_view name = "OffsetCommit";
    static constexpr std::int16_t min_version = 0;
    static constexpr std::int16_t max_version = 9;
    static constexpr std::int16_t first_flexible = 8;
    static constexpr version_range advertised{0, 9};
};

struct offset_fetch_api {
    static constexpr api_key key = api_key::offset_fetch;
    static constexpr std::string_view name = "OffsetFetch";
    static constexpr std::int16_t min_version = 0;
    static constexpr std::int16_t max_version = 9;
    static constexpr std::int16_t first_flexible = 6;
    static constexpr version_range advertised{0, 9};
};

struct join_group_api {
    static constexpr api_key key = api_key::join_group;
    static constexpr std::string_view name = "JoinGroup";
    static constexpr std::int16_t min_version = 0;
    static constexpr std::int16_t max_version = 9;
    static constexpr std::int16_t first_flexible = 6;
    static constexpr version_range advertised{0, 9};
};

struct heartbeat_api {
    static constexpr api_key key = api_key::heartbeat;
    static constexpr std::string_view name = "Heartbeat";
    static constexpr std::int16_t min_version = 0;
    static constexpr std::int16_t max_version = 4;
    static constexpr std::int16_t first_flexible = 4;
    static constexpr version_range advertised{0, 4};
};

struct leave_group_api {
    static constexpr api_key key = api_key::leave_group;
    static constexpr std::string_view name = "LeaveGroup";
    static constexpr std::int16_t min_version = 0;
    static constexpr std::int16_t max_version = 5;
    static constexpr std::int16_t first_flexible = 4;
    static constexpr version_range advertised{0, 5};
};

struct sync_group_api {
    static constexpr api_key key = api_key::sync_group;
    static constexpr std::string_view name = "SyncGroup";
    static constexpr std::int16_t min_version = 0;
    static constexpr std::int16_t max_version = 5;
    static constexpr std::int16_t first_flexible = 4;
    static constexpr version_range advertised{0, 5};
};

struct describe_groups_api {
    static constexpr api_key key = api_key::describe_groups;
    static constexpr std::string_view name = "DescribeGroups";
    static constexpr std::int16_t min_version = 0;
    static constexpr std::int16_t max_version = 5;
    static constexpr std::int16_t first_flexible = 5;
    static constexpr version_range advertised{0, 5};
};

struct list_groups_api {
    static constexpr api_key key = api_key::list_groups;
    static constexpr std::string_view name = "ListGroups";
    static constexpr std::int16_t min_version = 0;
    static constexpr std::int16_t max_version = 5;
    static constexpr std::int16_t first_flexible = 3;
    static constexpr version_range advertised{0, 5};
};

struct delete_groups_api {
    static constexpr api_key key = api_key::delete_groups;
    static constexpr std::string_view name = "DeleteGroups";
    static constexpr std::int16_t min_version = 0;
    static constexpr std::int16_t max_version = 2;
    static constexpr std::int16_t first_flexible = 2;
    static constexpr version_range advertised{0, 2};
};

struct offset_delete_api {
    static constexpr api_key key = api_key::offset_delete;
    static constexpr std::string_view name = "OffsetDelete";
    static constexpr std::int16_t min_version = 0;
    static constexpr std::int16_t max_version = 0;
    static constexpr std::int16_t first_flexible = never_flexible;
    static constexpr version_range advertised{0, 0};
};

// The transaction APIs (docs/protocol.md §7, §15): codecs for every version Kafka 3.9 serves
// (§13). AddPartitionsToTxn v4+ and WriteTxnMarkers are sent by brokers, not clients; Java
// producers cap AddPartitionsToTxn at v3 themselves (§13.1). EndTxn stops at 3.9's v4: trunk's v5
// (KIP-890 part 2, still marked unstable) bumps the epoch on every commit, which a client that
// negotiates up to max_version must not get by accident.

struct add_partitions_to_txn_api {
    static constexpr api_key key = api_key::add_partitions_to_txn;
    static constexpr std::string_view name = "AddPartitionsToTxn";
    static constexpr std::int16_t min_version = 0;
    static constexpr std::int16_t max_version = 5;
    static constexpr std::int16_t first_flexible = 3;
    static constexpr version_range advertised{0, 5};
};

struct add_offsets_to_txn_api {
    static constexpr api_key key = api_key::add_offsets_to_txn;
    static constexpr std::string_view name = "AddOffsetsToTxn";
    static constexpr std::int16_t min_version = 0;
    static constexpr std::int16_t max_version = 4;
    static constexpr std::int16_t first_flexible = 3;
    static constexpr version_range advertised{0, 4};
};

struct end_txn_api {
    static constexpr api_key key = api_key::end_txn;
    static constexpr std::string_view name = "EndTxn";
    static constexpr std::int16_t min_version = 0;
    static constexpr std::int16_t max_version = 4;
    static constexpr std::int16_t first_flexible = 3;
    static constexpr version_range advertised{0, 4};
};

struct write_txn_markers_api {
    static constexpr api_key key = api_key::write_txn_markers;
    static constexpr std::string_view name = "WriteTxnMarkers";
    static constexpr std::int16_t min_version = 0;
    static constexpr std::int16_t max_version = 1;
    static constexpr std::int16_t first_flexible = 1;
    static constexpr version_range advertised{0, 1};
};

struct txn_offset_commit_api {
    static constexpr api_key key = api_key::txn_offset_commit;
    static constexpr std::string_view name = "TxnOffsetCommit";
    static constexpr std::int16_t min_version = 0;
    static constexpr std::int16_t max_version = 4;
    static constexpr std::int16_t first_flexible = 3;
    static constexpr version_range advertised{0, 4};
};

static_assert(kafka_api<api_versions_api>, "gregor::wire: api_versions_api must model kafka_api");
static_assert(kafka_api<metadata_api>, "gregor::wire: metadata_api must model kafka_api");
static_assert(kafka_api<produce_api>, "gregor::wire: produce_api must model kafka_api");
static_assert(kafka_api<fetch_api>, "gregor::wire: fetch_api must model kafka_api");
static_assert(kafka_api<list_offsets_api>, "gregor::wire: list_offsets_api must model kafka_api");
static_assert(kafka_api<init_producer_id_api>, "gregor::wire: init_producer_id_api must model kafka_api");
static_assert(kafka_api<find_coordinator_api>, "gregor::wire: find_coordinator_api must model kafka_api");
static_assert(kafka_api<create_topics_api>, "gregor::wire: create_topics_api must model kafka_api");
static_assert(kafka_api<delete_topics_api>, "gregor::wire: delete_topics_api must model kafka_api");
static_assert(kafka_api<delete_records_api>, "gregor::wire: delete_records_api must model kafka_api");
static_assert(kafka_api<describe_configs_api>, "gregor::wire: describe_configs_api must model kafka_api");
static_assert(kafka_api<alter_configs_api>, "gregor::wire: alter_configs_api must model kafka_api");
static_assert(kafka_api<create_partitions_api>, "gregor::wire: create_partitions_api must model kafka_api");
static_assert(kafka_api<incremental_alter_configs_api>,
              "gregor::wire: incremental_alter_configs_api must model kafka_api");
static_assert(kafka_api<describe_cluster_api>, "gregor::wire: describe_cluster_api must model kafka_api");
static_assert(kafka_api<offset_for_leader_epoch_api>, "gregor::wire: offset_for_leader_epoch_api must model kafka_api");
static_assert(kafka_api<alter_partition_api>, "gregor::wire: alter_partition_api must model kafka_api");
static_assert(kafka_api<broker_registration_api>, "gregor::wire: broker_registration_api must model kafka_api");
static_assert(kafka_api<broker_heartbeat_api>, "gregor::wire: broker_heartbeat_api must model kafka_api");
static_assert(kafka_api<offset_commit_api>, "gregor::wire: offset_commit_api must model kafka_api");
static_assert(kafka_api<offset_fetch_api>, "gregor::wire: offset_fetch_api must model kafka_api");
static_assert(kafka_api<join_group_api>, "gregor::wire: join_group_api must model kafka_api");
static_assert(kafka_api<heartbeat_api>, "gregor::wire: heartbeat_api must model kafka_api");
static_assert(kafka_api<leave_group_api>, "gregor::wire: leave_group_api must model kafka_api");
static_assert(kafka_api<sync_group_api>, "gregor::wire: sync_group_api must model kafka_api");
static_assert(kafka_api<describe_groups_api>, "gregor::wire: describe_groups_api must model kafka_api");
static_assert(kafka_api<list_groups_api>, "gregor::wire: list_groups_api must model kafka_api");
static_assert(kafka_api<delete_groups_api>, "gregor::wire: delete_groups_api must model kafka_api");
static_assert(kafka_api<offset_delete_api>, "gregor::wire: offset_delete_api must model kafka_api");
static_assert(kafka_api<add_partitions_to_txn_api>, "gregor::wire: add_partitions_to_txn_api must model kafka_api");
static_assert(kafka_api<add_offsets_to_txn_api>, "gregor::wire: add_offsets_to_txn_api must model kafka_api");
static_assert(kafka_api<end_txn_api>, "gregor::wire: end_txn_api must model kafka_api");
static_assert(kafka_api<write_txn_markers_api>, "gregor::wire: write_txn_markers_api must model kafka_api");
static_assert(kafka_api<txn_offset_commit_api>, "gregor::wire: txn_offset_commit_api must model kafka_api");

/// One entry of an ApiVersions answer.
struct advertised_api {
    api_key key;
    version_range versions;
};

template <kafka_api A>
constexpr advertised_api advertise() noexcept {
    static_assert(A::first_flexible == first_flexible_version(A::key),
                  "gregor::wire: an API tag's first_flexible must match Kafka's");
    static_assert(A::advertised.max <= A::max_version,
                  "gregor::wire: never advertise a version above what the codec implements");
    return {A::key, A::advertised};
}

/// What a gregor broker answers in ApiVersions, ordered by key. Add an entry when an API's
/// handler lands in the broker.
inline constexpr std::array broker_advertised_apis{
    advertise<produce_api>(),
    advertise<fetch_api>(),
    advertise<list_offsets_api>(),
    advertise<metadata_api>(),
    advertise<offset_commit_api>(),
    advertise<offset_fetch_api>(),
    advertise<find_coordinator_api>(),
    advertise<join_group_api>(),
    advertise<heartbeat_api>(),
    advertise<leave_group_api>(),
    advertise<sync_group_api>(),
    advertise<describe_groups_api>(),
    advertise<list_groups_api>(),
    advertise<api_versions_api>(),
    advertise<create_topics_api>(),
    advertise<delete_topics_api>(),
    advertise<delete_records_api>(),
    advertise<init_producer_id_api>(),
    advertise<offset_for_leader_epoch_api>(),
    advertise<add_partitions_to_txn_api>(),
    advertise<add_offsets_to_txn_api>(),
    advertise<end_txn_api>(),
    advertise<write_txn_markers_api>(),
    advertise<txn_offset_commit_api>(),
    advertise<describe_configs_api>(),
    advertise<alter_configs_api>(),
    advertise<create_partitions_api>(),
    advertise<delete_groups_api>(),
    advertise<incremental_alter_configs_api>(),
    advertise<offset_delete_api>(),
    advertise<alter_partition_api>(),
    advertise<describe_cluster_api>(),
    advertise<broker_registration_api>(),
    advertise<broker_heartbeat_api>(),
};

} // namespace gregor::wire
