// The Kafka APIs a gregor broker serves: one handler per API, listed once. The dispatch in
// kafka_server.hpp and the ApiVersions answer are both generated from `all_handlers`, so adding an
// API is one handler header and one entry here (docs/broker.md, "Adding a Kafka API").
#pragma once

#include <gregor/broker/handlers/add_offsets_to_txn.hpp>
#include <gregor/broker/handlers/add_partitions_to_txn.hpp>
#include <gregor/broker/handlers/alter_configs.hpp>
#include <gregor/broker/handlers/alter_partition.hpp>
#include <gregor/broker/handlers/api_versions.hpp>
#include <gregor/broker/handlers/broker_registration.hpp>
#include <gregor/broker/handlers/create_partitions.hpp>
#include <gregor/broker/handlers/create_topics.hpp>
#include <gregor/broker/handlers/delete_groups.hpp>
#include <gregor/broker/handlers/delete_records.hpp>
#include <gregor/broker/handlers/delete_topics.hpp>
#include <gregor/broker/handlers/describe_cluster.hpp>
#include <gregor/broker/handlers/describe_configs.hpp>
#include <gregor/broker/handlers/describe_groups.hpp>
#include <gregor/broker/handlers/end_txn.hpp>
#include <gregor/broker/handlers/fetch.hpp>
#include <gregor/broker/handlers/find_coordinator.hpp>
#include <gregor/broker/handlers/handler_list.hpp>
#include <gregor/broker/handlers/heartbeat.hpp>
#include <gregor/broker/handlers/incremental_alter_configs.hpp>
#include <gregor/broker/handlers/init_producer_id.hpp>
#include <gregor/broker/handlers/join_group.hpp>
#include <gregor/broker/handlers/leave_group.hpp>
#include <gregor/broker/handlers/list_groups.hpp>
#include <gregor/broker/handlers/list_offsets.hpp>
#include <gregor/broker/handlers/metadata.hpp>
#include <gregor/broker/handlers/offset_commit.hpp>
#include <gregor/broker/handlers/offset_delete.hpp>
#include <gregor/broker/handlers/offset_fetch.hpp>
#include <gregor/broker/handlers/offset_for_leader_epoch.hpp>
#include <gregor/broker/handlers/produce.hpp>
#include <gregor/broker/handlers/sync_group.hpp>
#include <gregor/broker/handlers/txn_offset_commit.hpp>
#include <gregor/broker/handlers/write_txn_markers.hpp>
#include <gregor/wire/api.hpp>

#include <array>

namespace gregor::broker_handlers {

using all_handlers = handler_list<api_versions_handler, metadata_handler, produce_handler, fetch_handler,
                                  list_offsets_handler, init_producer_id_handler, find_coordinator_handler,
                                  // The admin APIs (docs/protocol.md §17).
                                  create_topics_handler, delete_topics_handler, delete_records_handler,
                                  describe_configs_handler, alter_configs_handler, create_partitions_handler,
                                  incremental_alter_configs_handler, describe_cluster_handler,
                                  // Replication (docs/replication.md, docs/protocol.md §14).
                                  offset_for_leader_epoch_handler, alter_partition_handler,
                                  broker_registration_handler, broker_heartbeat_handler,
                                  // Consumer groups (docs/groups.md, docs/protocol.md §16).
                                  join_group_handler, sync_group_handler, heartbeat_handler, leave_group_handler,
                                  offset_commit_handler, offset_fetch_handler, list_groups_handler,
                                  describe_groups_handler, delete_groups_handler, offset_delete_handler,
                                  // Transactions (docs/transactions.md, docs/protocol.md §15).
                                  add_partitions_to_txn_handler, add_offsets_to_txn_handler, end_txn_handler,
                                  write_txn_markers_handler, txn_offset_commit_handler>;

/// What the broker answers in ApiVersions, ordered by key.
inline constexpr std::array broker_advertised = advertised_apis(all_handlers{});

} // namespace gregor::broker_handlers
