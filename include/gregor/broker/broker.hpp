// gregor::broker<Policies>: topics, partitions, the append path with idempotence, fetch and
// offsets of a single node, usable directly as a C++ object (the embedded surface). The Kafka
// protocol server calls the same operations.
//
//   gregor::broker<gregor::broker_policies<gregor::storage::file_backend>> b{cfg};
//   auto r = b.produce("orders", gregor::partition_id{0}, std::move(sealed_batch), -1);
//
// Policies (broker_policies.hpp): storage backend (memory | file | uring), flush policy (never |
// every_messages | every_interval | every_append, numbers from broker_config.log), durability
// (page_cache: Kafka's ack after append | fsync_before_ack) and clock.
//
// Thread safety: every public member function is thread-safe. Topic lookups share a
// reader/writer lock; each partition serialises its own appends and reads, so many producers
// append to many partitions in parallel. Work on the append path is per batch: the broker checks
// the batch CRC (and, unless told the batch is trusted, walks its records once to validate their
// lengths), patches the base offset in place and appends the same bytes.
//
// A maintenance thread owned by the broker runs interval flushes (log.flush.interval.ms),
// retention (log.retention.check.interval.ms), producer-state snapshots and the data dir's offset
// checkpoints; tick() runs the same work on demand.
//
// What the broker remembers lives in the data dir, every file replaced through the storage
// backend's durable write_file (so a crash leaves the old or the new version, and crashy_storage
// sees each write): `topic-table` (topic ids, per-topic config overrides, replica assignment,
// leader epochs, ISR; topic_table.hpp), `producer_id_block`,
// `replication-offset-checkpoint` (high watermarks) and `recovery-point-offset-checkpoint`
// (flushed offsets); per partition, `leader-epoch-checkpoint` and producer-state snapshots. A data
// dir from before the topic table gets one built from its partition directories at start.
//
// Admin operations (docs/protocol.md §17; types in admin.hpp): create_topic with a request,
// delete_topic, create_partitions, describe/set/alter topic configs and delete_records. Each
// changes the topic table first (the commit point), then the live partitions: altered configs
// reach running partitions at once (partition::set_config), deleted topics' partitions are closed
// and their directories renamed "<topic>-<p>.<topic id hex>-delete" (Kafka's form, which start-up
// never mistakes for a partition) and removed before the call returns, and log start offsets moved
// by delete_records are kept in `log-start-offset-checkpoint`.
#pragma once

#include <gregor/broker/admin.hpp>
#include <gregor/broker/broker_config.hpp>
#include <gregor/broker/broker_policies.hpp>
#include <gregor/broker/flusher.hpp>
#include <gregor/broker/group_coordinator.hpp>
#include <gregor/broker/txn_coordinator.hpp>
#include <gregor/broker/offset_monitor.hpp>
#include <gregor/broker/partition.hpp>
#include <gregor/broker/producer_ids.hpp>
#include <gregor/broker/results.hpp>
#include <gregor/broker/topic_config.hpp>
#include <gregor/broker/topic_table.hpp>
#include <gregor/core/buffer.hpp>
#include <gregor/core/clock.hpp>
#include <gregor/core/error.hpp>
#include <gregor/core/strong_types.hpp>
#include <gregor/detail/unique_function.hpp>
#include <gregor/storage/checkpoint.hpp>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace gregor {

/// Kafka's topic name rules: 1..249 characters of [a-zA-Z0-9._-], not "." or "..".
inline bool valid_topic_name(std::string_view name) noexcept {
    if (name.empty() || name.size() > 249 || name == "." || name == "..") return false;
    for (char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                        c == '_' || c == '-';
        if (!ok) return false;
    }
    return true;
}

namespace cluster {
template <typename Broker>
class controller;
template <typename Broker>
class member;
} // namespace cluster

template <typename Policies = default_broker_policies>
class broker {
    static_assert(storage::storage_backend<typename Policies::storage_backend>,
                  "gregor::broker: Policies::storage_backend must satisfy gregor::storage::storage_backend "
                  "(memory_backend, file_backend or uring_backend)");
    static_assert(storage::flush_policy<typename Policies::flush_policy>,
                  "gregor::broker: Policies::flush_policy must satisfy gregor::storage::flush_policy "
                  "(flush::never, every_messages, every_interval or every_append)");
    static_assert(durability_policy<typename Policies::durability>,
                  "gregor::broker: Policies::durability must provide `static constexpr bool flush_before_ack`");
    static_assert(gregor::clock<typename Policies::clock_type>,
                  "gregor::broker: Policies::clock_type must provide now() and wall_ms()");

public:
    using policies = Policies;
    using clock_type = typename Policies::clock_type;
    using backend_options = typename Policies::storage_backend::options;
    using partition_type = broker_detail::partition<Policies>;

    using produce_result = broker_results::produce_result;
    using init_producer_id_result = broker_results::init_producer_id_result;
    using topic_info = broker_results::topic_info;
    using fetch_result = typename partition_type::read_result;
    struct fetch_copy_result {
        error_code error = error_code::none;
        offset high_watermark{-1};
        offset log_start_offset{-1};
        byte_buffer records;
    };
    struct list_offset_result {
        error_code error = error_code::none;
        offset found{-1};
        std::int64_t timestamp = -1; // the found record's (ListOffsets v1+); -1 for -1/-2 or none
    };

    /// Opens (or creates) the data dir and every topic in it. Throws std::system_error when a
    /// metadata file cannot be read or is damaged, and std::invalid_argument for a bad config.
    explicit broker(broker_config cfg = {}, backend_options opts = {}, clock_type clk = {})
            : cfg_(checked(std::move(cfg))), backend_opts_(std::move(opts)), clock_(clk), pid_backend_(dir_backend()),
              pids_(pid_backend_.get()), meta_backend_(dir_backend()) {
        if (persistent()) load_topics();
        maintenance_ = std::thread([this] { maintenance_loop(); });
        // Transactions decided before a restart are finished at once, not at the next client's
        // request: the coordinator loads its partitions when it starts.
        if (find_partition(txn::state_topic, partition_id{0})) (void)transactions();
        if (cfg_.log_cleaner_enable) cleaner_ = std::thread([this] { cleaner_loop(); });
    }

    broker(const broker&) = delete;
    broker& operator=(const broker&) = delete;
    ~broker() { close(); }

    [[nodiscard]] const broker_config& config() const noexcept { return cfg_; }

    // ---- cluster mode (docs/replication.md) ----

    /// Whether this broker is one node of a cluster (controller.quorum.voters set): its partitions
    /// then take their roles from the cluster metadata, and until it arrives they lead nothing.
    [[nodiscard]] bool cluster_mode() const noexcept { return !cfg_.controller_quorum_voters.empty(); }

    /// The controller running on this node, if any, and this node's cluster membership (set by
    /// whoever runs them, cluster_node.hpp; the handlers use them).
    cluster::controller<broker>* controller() const noexcept { return controller_.load(std::memory_order_acquire); }
    cluster::member<broker>* member() const noexcept { return member_.load(std::memory_order_acquire); }
    void set_controller(cluster::controller<broker>* c) noexcept { controller_.store(c, std::memory_order_release); }
    void set_member(cluster::member<broker>* m) noexcept { member_.store(m, std::memory_order_release); }

    /// Writes a transaction marker to a partition another node leads (WriteTxnMarkers to it):
    /// set by whoever runs this node's cluster membership (cluster_node.hpp), empty otherwise.
    using marker_forwarder =
            std::function<void(std::string topic, std::int32_t partition, producer_id, producer_epoch, bool commit,
                               std::int32_t coordinator_epoch, gregor::detail::unique_function<void(error_code)> done)>;
    void set_marker_forwarder(marker_forwarder f) {
        std::lock_guard lk(forwarder_mu_);
        forwarder_ = std::move(f);
    }

    // ---- consumer groups (docs/groups.md) ----

    /// This broker's group coordinator, started on first use (its timer thread is not needed by a
    /// broker nobody consumes from in a group).
    groups::coordinator<broker>& groups() {
        std::call_once(groups_once_, [this] { groups_ = std::make_unique<groups::coordinator<broker>>(*this); });
        return *groups_;
    }

    // ---- transactions (docs/transactions.md) ----

    /// This broker's transaction coordinator, started on first use or at start when
    /// `__transaction_state` exists.
    txn::coordinator<broker>& transactions() {
        std::call_once(txn_once_, [this] {
            txn_ = std::make_unique<txn::coordinator<broker>>(*this);
            txn_started_.store(true);
        });
        return *txn_;
    }

    /// Creates `__transaction_state` on a single broker if it is missing (compacted, one replica,
    /// transaction.state.log.num.partitions partitions); in a cluster the controller creates it.
    /// Writes the topic table: never call it on an event loop.
    error_code ensure_txn_topic() {
        if (find_partition(txn::state_topic, partition_id{0})) return error_code::none;
        if (cluster_mode()) return error_code::coordinator_not_available;
        const auto e = create_topic(txn::state_topic, cfg_.transaction_state_log_num_partitions, txn_topic_configs());
        return e == error_code::topic_already_exists ? error_code::none : e;
    }

    /// The topic configs `__transaction_state` is created with.
    [[nodiscard]] std::map<std::string, std::string> txn_topic_configs() const {
        return {{"cleanup.policy", "compact"},
                {"segment.bytes", std::to_string(cfg_.transaction_state_log_segment_bytes)},
                {"min.insync.replicas", std::to_string(cfg_.transaction_state_log_min_isr)}};
    }

    /// Creates `__consumer_offsets` on a single broker if it is missing (compacted, one replica,
    /// offsets.topic.num.partitions partitions); in a cluster the controller creates it
    /// (FindCoordinator asks). Writes the topic table: never call it on an event loop.
    error_code ensure_offsets_topic() {
        if (find_partition(groups::offsets_topic, partition_id{0})) return error_code::none;
        if (cluster_mode()) return error_code::coordinator_not_available;
        const auto e = create_topic(groups::offsets_topic, cfg_.offsets_topic_num_partitions, offsets_topic_configs());
        return e == error_code::topic_already_exists ? error_code::none : e;
    }

    /// The topic configs `__consumer_offsets` is created with: compacted, offsets.topic.segment.bytes.
    [[nodiscard]] std::map<std::string, std::string> offsets_topic_configs() const {
        return {{"cleanup.policy", "compact"}, {"segment.bytes", std::to_string(cfg_.offsets_topic_segment_bytes)}};
    }

    /// The controller's metadata log: partition 0 of `__cluster_metadata` in this data dir, led by
    /// this node alone, never listed among the topics (Metadata, list_topics) but readable with
    /// Fetch like any partition.
    partition_type* open_metadata_log() {
        std::lock_guard tl(table_mu_);
        if (!metadata_log_) {
            topic_record rec;
            rec.name = std::string(metadata_log_topic);
            const node_id self{cfg_.node_id};
            rec.partitions.push_back({{self}, self, leader_epoch{0}, {self}});
            // Kept whole: a broker that joins later replays it from the first record.
            auto mcfg = cfg_;
            mcfg.log.retention_ms = -1;
            mcfg.log.retention_bytes = -1;
            mcfg.log.cleanup_policy = storage::cleanup_policy::delete_segments; // never compacted either
            mcfg.min_insync_replicas = 1;
            auto part = std::make_unique<partition_type>(rec.name, partition_id{0}, partition_dir(rec.name, 0), mcfg,
                                                         backend_opts_, clock_, leader_epoch{0}, offset{-1});
            part->attach(&scheduler_, [this](partition_type* q) { flusher_.request(q); });
            metadata_log_ = std::move(part);
            metadata_log_ptr_.store(metadata_log_.get(), std::memory_order_release);
        }
        return metadata_log_.get();
    }

    /// The cluster metadata says this node hosts `name`: its topic-table entry and partitions are
    /// created (with the controller's topic id and overrides) or grown to `partitions`. New
    /// partitions lead nothing until their state is applied.
    error_code host_topic(const std::string& name, const wire::uuid& id, const std::map<std::string, std::string>& configs,
                          std::int32_t partitions) {
        std::lock_guard tl(table_mu_);
        std::int32_t have = -1;
        {
            std::shared_lock lk(topics_mu_);
            if (auto it = meta_.find(name); it != meta_.end()) {
                if (!(it->second.rec.id == id)) return error_code::inconsistent_topic_id;
                have = static_cast<std::int32_t>(it->second.rec.partitions.size());
            }
        }
        const node_id self{cfg_.node_id};
        if (have < 0) {
            topic_record rec;
            rec.name = name;
            rec.id = id;
            rec.configs = configs;
            for (std::int32_t i = 0; i < partitions; ++i) rec.partitions.push_back({{self}, node_id{-1}, leader_epoch{0}, {}});
            std::unique_ptr<broker_config> tcfg;
            try {
                tcfg = std::make_unique<broker_config>(checked(effective_topic_config(cfg_, configs)));
            } catch (const std::invalid_argument&) {
                tcfg = std::make_unique<broker_config>(cfg_);
            }
            return add_new_topic(std::move(rec), std::move(tcfg));
        }
        if (have < partitions) {
            auto r = create_partitions_held(name, partitions);
            return r.error;
        }
        return error_code::none;
    }

    /// For the controller: Kafka's message for a bad topic name ("" when valid), the check of a
    /// topic's config overrides, a fresh topic id, and the wall clock.
    static std::string topic_name_problem_of(std::string_view name) { return topic_name_problem(name); }
    admin_result check_topic_configs(const std::map<std::string, std::string>& configs) const {
        try {
            (void)checked(effective_topic_config(cfg_, configs));
        } catch (const std::invalid_argument& e) {
            return {error_code::invalid_config, e.what()};
        }
        return {};
    }
    static wire::uuid fresh_cluster_topic_id() { return random_topic_id(); }

    /// The high watermark replication-offset-checkpoint held for the partition at start, once
    /// (the cluster member restores it after the partition's first role).
    std::optional<offset> take_restored_high_watermark(std::string_view topic, partition_id p) {
        std::lock_guard lk(restored_hw_mu_);
        const auto it = restored_high_watermarks_.find({std::string(topic), p.value()});
        if (it == restored_high_watermarks_.end()) return std::nullopt;
        const auto hw = it->second;
        restored_high_watermarks_.erase(it);
        return hw;
    }
    std::int64_t wall_ms() const { return clock_.wall_ms(); }
    /// Milliseconds of the broker's monotonic clock (replication timers: lag, sessions).
    std::int64_t now_ms() const {
        return std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now().time_since_epoch()).count();
    }

    /// Creates a topic with a fresh topic id and optional topic-level config overrides (Kafka's
    /// topic keys: retention.ms, segment.bytes, min.insync.replicas, ...), recorded in the topic
    /// table before its partitions exist. TOPIC_ALREADY_EXISTS, INVALID_TOPIC_EXCEPTION,
    /// INVALID_PARTITIONS, INVALID_CONFIG or KAFKA_STORAGE_ERROR (the table could not be written)
    /// on error. The request form below with the partition count given and one replica.
    error_code create_topic(std::string_view name, std::int32_t partitions,
                            const std::map<std::string, std::string>& configs = {}) {
        if (!valid_topic_name(name)) return error_code::invalid_topic_exception;
        if (partitions <= 0) return error_code::invalid_partitions; // -1 is the request form's default
        create_topic_request req;
        req.partitions = partitions;
        req.replication_factor = 1;
        req.configs = configs;
        return create_topic(name, req).error;
    }

    /// CreateTopics semantics (docs/protocol.md §17.1), checked in Kafka's order: the name
    /// (INVALID_TOPIC_EXCEPTION), TOPIC_ALREADY_EXISTS, a collision with another topic once '.'
    /// and '_' are taken as one (INVALID_TOPIC_EXCEPTION), the configs (INVALID_CONFIG naming the
    /// key), then either the assignment (INVALID_REQUEST with partitions or replication factor
    /// given too; INVALID_REPLICA_ASSIGNMENT for an empty or duplicate broker list, an unknown
    /// broker or uneven replica counts) or the numbers (INVALID_REPLICATION_FACTOR for 0, < -1 or
    /// more than this one broker; INVALID_PARTITIONS for 0, < -1 or more than 100000).
    /// validate_only: every check, nothing created. KAFKA_STORAGE_ERROR if the table or a
    /// partition directory cannot be written.
    admin_result create_topic(std::string_view name, const create_topic_request& req) {
        if (auto problem = topic_name_problem(name); !problem.empty())
            return {error_code::invalid_topic_exception, std::move(problem)};
        const std::string tname(name);
        std::lock_guard tl(table_mu_);
        std::shared_lock lk(topics_mu_);
        if (topics_.count(name)) return {error_code::topic_already_exists, "Topic '" + tname + "' already exists."};
        if (const auto other = colliding_topic_locked(name))
            return {error_code::invalid_topic_exception,
                    "Topic '" + tname + "' collides with existing topic: " + *other};
        std::unique_ptr<broker_config> tcfg;
        try {
            tcfg = std::make_unique<broker_config>(checked(effective_topic_config(cfg_, req.configs)));
        } catch (const std::invalid_argument& e) {
            return {error_code::invalid_config, e.what()};
        }
        std::int32_t partitions = 0;
        if (!req.assignment.empty()) {
            if (req.partitions != -1 || req.replication_factor != -1)
                return {error_code::invalid_request,
                        "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be "
                        "used at the same time."};
            if (auto r = check_assignment(req.assignment); !r) return r;
            if (req.assignment.size() > max_partitions)
                return {error_code::invalid_partitions, too_many_partitions(req.assignment.size())};
            partitions = static_cast<std::int32_t>(req.assignment.size());
        } else {
            if (req.replication_factor == 0 || req.replication_factor < -1)
                return {error_code::invalid_replication_factor,
                        "Replication factor must be larger than 0, or -1 to use the default value."};
            if (req.partitions == 0 || req.partitions < -1)
                return {error_code::invalid_partitions,
                        "Number of partitions was set to an invalid non-positive value."};
            const std::int32_t rf =
                req.replication_factor == -1 ? cfg_.default_replication_factor : req.replication_factor;
            if (rf > 1) {
                const auto n = std::to_string(rf);
                return {error_code::invalid_replication_factor,
                        "Unable to replicate the partition " + n + " time(s): The target replication factor of " + n +
                            " cannot be reached because only 1 broker(s) are registered."};
            }
            partitions = req.partitions == -1 ? cfg_.num_partitions : req.partitions;
            if (static_cast<std::size_t>(partitions) > max_partitions)
                return {error_code::invalid_partitions, too_many_partitions(static_cast<std::size_t>(partitions))};
        }
        if (req.validate_only) return {};
        auto rec = new_record_locked(tname, partitions, req.configs);
        lk.unlock();
        const auto e = add_new_topic(std::move(rec), std::move(tcfg));
        if (e != error_code::none) return {e, "Topic '" + tname + "' could not be created: storage error."};
        return {};
    }

    /// Removes the topic (docs/protocol.md §17.2): the table is written without it first (the
    /// commit point; KAFKA_STORAGE_ERROR and nothing changed if that fails), then its partitions
    /// are closed and their directories renamed aside and removed, all before returning, so the
    /// name can be created again at once (a new topic id, empty partitions). A crash after the
    /// table write leaves renamed directories, which the next start removes.
    /// UNKNOWN_TOPIC_OR_PARTITION if absent.
    ///
    /// In-flight calls on its partitions: find_partition() hands out raw pointers (the Kafka
    /// handlers, parked fetches and acks=all waits keep them, the flusher queues them), so a
    /// deleted partition is never freed while the broker lives: it moves to a graveyard freed with
    /// the broker. Closed, it refuses appends (NOT_LEADER_OR_FOLLOWER) and reads
    /// (UNKNOWN_TOPIC_OR_PARTITION), and its monitor ends every wait with `shutdown` (answered
    /// NOT_LEADER_OR_FOLLOWER). What it keeps is small: its segments and their file handles are
    /// let go at once (a read result still holding a file keeps only that file alive).
    admin_result delete_topic(std::string_view name) {
        std::unique_lock tl(table_mu_);
        std::vector<std::unique_ptr<partition_type>> parts;
        std::vector<std::filesystem::path> doomed;
        wire::uuid id{};
        std::string tname;
        {
            std::shared_lock lk(topics_mu_);
            const auto mit = meta_.find(name);
            if (!topics_.count(name) || mit == meta_.end())
                return {error_code::unknown_topic_or_partition, unknown_topic_message(name)};
            id = mit->second.rec.id;
            tname = mit->first;
        }
        // table_mu_ keeps the table as read while it is written, without the topic lock.
        if (write_table(table_without(name)))
            return {error_code::kafka_storage_error, "The topic table could not be written."};
        {
            std::unique_lock lk(topics_mu_);
            const auto it = topics_.find(name);
            parts = std::move(it->second);
            topics_.erase(it);
            meta_.erase(meta_.find(name));
        }
        // Under table_mu_, so a topic created with this name right after finds no old directory.
        for (std::size_t i = 0; i < parts.size(); ++i) {
            parts[i]->abandon(!persistent());
            if (!persistent()) continue;
            const auto dir = partition_dir(tname, static_cast<std::int32_t>(i));
            auto aside = dir;
            aside += "." + uuid_hex(id) + "-delete";
            std::error_code ec;
            std::filesystem::rename(dir, aside, ec);
            if (ec) {
                // Could not set it aside: remove it in place (the name must be free now).
                std::filesystem::remove_all(dir, ec);
            } else {
                doomed.push_back(std::move(aside));
            }
        }
        // The checkpoints without the topic, before a topic of the same name can be created (its
        // partitions must not inherit this one's log start offsets after a crash); the forced
        // write also syncs the data dir, which makes the renames above durable.
        (void)write_offset_checkpoints(true);
        tl.unlock();
        // Waits end outside the broker's locks: their callbacks may call back into the broker.
        for (auto& part : parts) part->monitor().shutdown();
        for (const auto& d : doomed) {
            std::error_code ec;
            std::filesystem::remove_all(d, ec); // left for the next start if it fails
        }
        std::lock_guard lk(graveyard_mu_);
        for (auto& part : parts) graveyard_.push_back(std::move(part));
        return {};
    }

    /// Grows the topic to `new_total` partitions (docs/protocol.md §17.3): the table records the
    /// new partitions' assignment first, then they are created empty.
    /// UNKNOWN_TOPIC_OR_PARTITION; INVALID_PARTITIONS when new_total is not above the current
    /// count or above 100000; KAFKA_STORAGE_ERROR if the table or a directory cannot be written.
    /// validate_only: the checks only.
    admin_result create_partitions(std::string_view name, std::int32_t new_total, bool validate_only = false) {
        std::lock_guard tl(table_mu_);
        return create_partitions_held(name, new_total, validate_only);
    }

private:
    admin_result create_partitions_held(std::string_view name, std::int32_t new_total, bool validate_only = false) {
        std::shared_lock lk(topics_mu_);
        const auto it = topics_.find(name);
        const auto mit = meta_.find(name);
        if (it == topics_.end() || mit == meta_.end())
            return {error_code::unknown_topic_or_partition, unknown_topic_message(name)};
        const auto current = static_cast<std::int32_t>(it->second.size());
        if (new_total == current)
            return {error_code::invalid_partitions, "Topic already has " + std::to_string(current) + " partitions."};
        if (new_total < current)
            return {error_code::invalid_partitions, "Topic currently has " + std::to_string(current) +
                                                        " partitions, which is higher than the requested " +
                                                        std::to_string(new_total) + "."};
        if (static_cast<std::size_t>(new_total) > max_partitions)
            return {error_code::invalid_partitions, too_many_partitions(static_cast<std::size_t>(new_total))};
        if (validate_only) return {};
        auto rec = mit->second.rec;
        const node_id self{cfg_.node_id};
        while (static_cast<std::int32_t>(rec.partitions.size()) < new_total)
            rec.partitions.push_back({{self}, self, leader_epoch{0}, {self}});
        const auto tcfg = *mit->second.cfg;
        const auto before = table_locked();
        const auto after = table_replacing_locked(rec);
        // table_mu_ keeps both as read while the disk is written, without the topic lock.
        lk.unlock();
        if (write_table(after)) return {error_code::kafka_storage_error, "The topic table could not be written."};
        std::vector<std::unique_ptr<partition_type>> added;
        try {
            for (auto i = current; i < new_total; ++i) added.push_back(make_partition(rec, i, tcfg));
        } catch (const std::exception&) {
            (void)write_table(before); // best effort: back to the table as it was
            return {error_code::kafka_storage_error, "The new partitions could not be created."};
        }
        std::unique_lock ul(topics_mu_);
        auto& parts = topics_.find(name)->second;
        for (auto& part : added) parts.push_back(std::move(part));
        meta_.find(name)->second.rec = std::move(rec);
        return {};
    }

public:
    /// Every topic-level config of the topic (docs/protocol.md §17.4), by name, with the value it
    /// runs with and its source: its override (config_source::topic_config), else static_broker when the
    /// broker's own value for the synonym is not the built-in default, else default_config; with
    /// synonyms and documentation. `keys` empty = all (unknown keys are left out). nullopt if the
    /// topic does not exist.
    std::optional<std::vector<config_entry>> describe_topic_configs(std::string_view name,
                                                                    std::span<const std::string> keys = {}) const {
        std::shared_lock lk(topics_mu_);
        const auto it = meta_.find(name);
        if (it == meta_.end()) return std::nullopt;
        return describe_topic_config_entries(cfg_, it->second.rec.configs, keys);
    }

    /// The broker's own configs (every key of broker_keys and storage::log_keys, or those named
    /// in `keys`), read-only, static_broker when not the built-in default, else default_config.
    std::vector<config_entry> describe_broker_configs(std::span<const std::string> keys = {}) const {
        return describe_broker_config_entries(cfg_, keys);
    }

    /// Replaces the topic's whole override set (AlterConfigs, docs/protocol.md §17.5: keys not
    /// given go back to the broker's value). UNKNOWN_TOPIC_OR_PARTITION; INVALID_CONFIG naming the
    /// key for an unknown key or a bad value; KAFKA_STORAGE_ERROR if the table cannot be written.
    /// Persisted in the topic table, then applied to the running partitions: retention from the
    /// next retention pass, segment.bytes/segment.ms from the next append, max.message.bytes,
    /// min.insync.replicas and message.timestamp.type from the next produce, flush.* from the next
    /// append or tick. validate_only: the checks only.
    admin_result set_topic_configs(std::string_view name, std::map<std::string, std::string> overrides,
                                   bool validate_only = false) {
        std::lock_guard tl(table_mu_);
        return set_topic_configs_held(name, std::move(overrides), validate_only);
    }

    /// IncrementalAlterConfigs (docs/protocol.md §17.6): the changes applied to the topic's
    /// current overrides (set/remove; append/subtract only on list keys such as cleanup.policy,
    /// else INVALID_CONFIG; the same name twice or a missing value is INVALID_REQUEST), then as
    /// set_topic_configs.
    admin_result alter_topic_configs(std::string_view name, std::span<const config_change> changes,
                                     bool validate_only = false) {
        std::lock_guard tl(table_mu_);
        std::map<std::string, std::string> overrides;
        {
            std::shared_lock lk(topics_mu_);
            const auto mit = meta_.find(name);
            if (mit == meta_.end()) return {error_code::unknown_topic_or_partition, unknown_topic_message(name)};
            overrides = mit->second.rec.configs;
            if (auto r = apply_config_changes(overrides, changes, *mit->second.cfg); !r) return r;
        }
        return set_topic_configs_held(name, std::move(overrides), validate_only);
    }

    /// DeleteRecords on one partition (docs/protocol.md §17.8): offset -1 = the high watermark;
    /// any other offset < 0 or one beyond the high watermark is OFFSET_OUT_OF_RANGE; a topic whose
    /// cleanup.policy lacks "delete" gets POLICY_VIOLATION; UNKNOWN_TOPIC_OR_PARTITION. Otherwise
    /// the log start offset becomes max(current, offset): written to `log-start-offset-checkpoint`
    /// first (KAFKA_STORAGE_ERROR if that fails, nothing moved), then moved, which deletes the
    /// segments wholly below it. Fetches below it get OFFSET_OUT_OF_RANGE and ListOffsets earliest
    /// answers it, also after a restart. Returns the new low watermark (the log start offset: one
    /// replica).
    delete_records_result delete_records(std::string_view topic, partition_id p, offset o) {
        if (topic == metadata_log_topic) return {error_code::invalid_topic_exception, offset{-1}};
        auto* part = find_or_create(topic, p, false);
        if (!part) return {error_code::unknown_topic_or_partition, offset{-1}};
        // One move at a time, written in the order made, so the file never goes back.
        std::lock_guard ck(checkpoint_mu_);
        const auto [err, to] = part->check_delete_records(o);
        if (err != error_code::none) return {err, offset{-1}};
        if (persistent()) {
            const auto text = storage::encode_offset_checkpoint(log_starts(part, to));
            if (text != last_lso_checkpoint_) {
                if (storage::write_text_file(*meta_backend_, storage::log_start_offset_checkpoint_file, text))
                    return {error_code::kafka_storage_error, offset{-1}};
                last_lso_checkpoint_ = text;
            }
        }
        const auto [err2, start] = part->delete_records(to);
        return {err2, start};
    }

    /// What the topic table holds for `name` (id, config overrides, assignment), if it exists.
    std::optional<topic_record> topic_metadata(std::string_view name) const {
        std::shared_lock lk(topics_mu_);
        const auto it = meta_.find(name);
        if (it == meta_.end()) return std::nullopt;
        return it->second.rec;
    }

    /// The name of the topic whose id is `id` (Fetch v13+ and Metadata v10+ name topics by id).
    std::optional<std::string> topic_name_of(const wire::uuid& id) const {
        std::shared_lock lk(topics_mu_);
        for (const auto& [name, m] : meta_)
            if (m.rec.id == id) return name;
        return std::nullopt;
    }

    /// The settings a topic's partitions run with: the broker's, with its overrides applied.
    std::optional<broker_config> topic_config(std::string_view name) const {
        std::shared_lock lk(topics_mu_);
        const auto it = meta_.find(name);
        if (it == meta_.end()) return std::nullopt;
        return *it->second.cfg;
    }

    /// Partition count of a topic, auto-creating it with num.partitions when allowed by both the
    /// caller and auto.create.topics.enable.
    topic_info describe_topic(std::string_view name, bool allow_auto_create = true) {
        {
            std::shared_lock lk(topics_mu_);
            if (auto it = topics_.find(name); it != topics_.end())
                return {error_code::none, static_cast<std::int32_t>(it->second.size())};
        }
        if (!valid_topic_name(name)) return {error_code::invalid_topic_exception, 0};
        // __consumer_offsets is made by the first FindCoordinator, with its own partition count.
        if (!allow_auto_create || !cfg_.auto_create_topics_enable || name == groups::offsets_topic ||
            name == txn::state_topic)
            return {error_code::unknown_topic_or_partition, 0};
        std::lock_guard tl(table_mu_);
        topic_record rec;
        {
            std::shared_lock lk(topics_mu_);
            if (auto it = topics_.find(name); it != topics_.end())
                return {error_code::none, static_cast<std::int32_t>(it->second.size())};
            // As CreateTopics: "a.b" and "a_b" would share metric names, so one of them only.
            if (colliding_topic_locked(name)) return {error_code::invalid_topic_exception, 0};
            rec = new_record_locked(std::string(name), cfg_.num_partitions, {});
        }
        const auto e = add_new_topic(std::move(rec), std::make_unique<broker_config>(cfg_));
        return {e, e == error_code::none ? cfg_.num_partitions : 0};
    }

    /// Every topic and its partition count.
    std::vector<std::pair<std::string, std::int32_t>> list_topics() const {
        std::shared_lock lk(topics_mu_);
        std::vector<std::pair<std::string, std::int32_t>> out;
        for (const auto& [n, parts] : topics_) out.emplace_back(n, static_cast<std::int32_t>(parts.size()));
        return out;
    }

    /// Appends one sealed client batch to a partition (the bytes are patched in place: base offset
    /// and leader epoch) and calls `done(produce_result)` once the answer `acks` (0, 1 or -1) and the
    /// durability policy demand is known: at once for acks 0/1 on the page cache, else when the
    /// partition's offset monitor sees the high watermark (acks=all) or the flushed offset
    /// (fsync-before-ack, log.flush.interval.messages) cover the batch, or at `timeout`
    /// (REQUEST_TIMED_OUT). Never blocks: `done` runs on this thread when nothing has to be waited
    /// for, otherwise on the thread that moved the offset (an appender, the flusher) or on the
    /// deadline thread, so it must be short and thread-safe. `verify_records=false` skips the
    /// per-record walk for batches this process built itself (the CRC is always checked).
    template <typename Done>
    void produce_async(std::string_view topic, partition_id p, mutable_bytes_view batch, std::int16_t acks,
                       std::chrono::milliseconds timeout, bool verify_records, Done&& done) {
        append_to(find_or_create(topic, p, true), topic, batch, acks, timeout, verify_records,
                  std::forward<Done>(done));
    }

    /// produce_async() for an existing partition only (UNKNOWN_TOPIC_OR_PARTITION otherwise), as
    /// Kafka's Produce: clients create topics through Metadata or CreateTopics, and creating one
    /// writes the topic table, which an event loop must not wait for.
    template <typename Done>
    void append_async(std::string_view topic, partition_id p, mutable_bytes_view batch, std::int16_t acks,
                      std::chrono::milliseconds timeout, bool verify_records, Done&& done) {
        append_to(find_or_create(topic, p, false), topic, batch, acks, timeout, verify_records,
                  std::forward<Done>(done));
    }

    /// Appends a batch a coordinator writes as a transaction's producer (TxnOffsetCommit's
    /// offsets into `__consumer_offsets`), acks=all; see partition::append's `from_coordinator`.
    template <typename Done>
    void append_from_coordinator_async(std::string_view topic, partition_id p, mutable_bytes_view batch,
                                       std::chrono::milliseconds timeout, Done&& done) {
        auto* part = find_or_create(topic, p, false);
        if (!part) return done(produce_result{part_error(topic, false), offset{-1}, -1, offset{-1}});
        finish_append(part, part->append(batch, -1, false, true), timeout, std::forward<Done>(done));
    }

private:
    template <typename Done>
    void append_to(partition_type* part, std::string_view topic, mutable_bytes_view batch, std::int16_t acks,
                   std::chrono::milliseconds timeout, bool verify_records, Done&& done) {
        if (!part) return done(produce_result{part_error(topic), offset{-1}, -1, offset{-1}});
        // The controller's metadata log is written by the controller alone.
        if (topic == metadata_log_topic)
            return done(produce_result{error_code::invalid_topic_exception, offset{-1}, -1, offset{-1}});
        finish_append(part, part->append(batch, acks, verify_records), timeout, std::forward<Done>(done));
    }

    // Answers an append at once, or once what it waits for (high watermark, flush) is reached.
    template <typename Done>
    void finish_append(partition_type* part, const typename partition_type::append_result& r,
                       std::chrono::milliseconds timeout, Done&& done) {
        produce_result out{r.error, r.base_offset, r.log_append_time_ms, r.log_start_offset};
        if (r.error != error_code::none || (r.wait_high_watermark < offset{0} && r.wait_flushed < offset{0}))
            return done(out);
        auto st = std::make_shared<append_wait>();
        st->part = part;
        st->result = out;
        st->hw = r.wait_high_watermark;
        st->flushed = r.wait_flushed;
        st->check_isr = r.wait_high_watermark >= offset{0};
        st->epoch = r.epoch;
        st->deadline = broker_detail::wait_clock::now() + timeout;
        st->done = std::forward<Done>(done);
        await_append(std::move(st));
    }

public:
    /// produce_async() for a caller that can wait on its own thread (embedded producers, tools,
    /// tests); never call it from an event loop.
    produce_result produce(std::string_view topic, partition_id p, mutable_bytes_view batch, std::int16_t acks,
                           std::optional<std::string_view> transactional_id = std::nullopt,
                           std::chrono::milliseconds timeout = std::chrono::milliseconds{30000},
                           bool verify_records = true) {
        (void)transactional_id;
        struct state {
            std::mutex mu;
            std::condition_variable cv;
            std::optional<produce_result> r;
        };
        auto st = std::make_shared<state>();
        produce_async(topic, p, batch, acks, timeout, verify_records, [st](produce_result r) {
            std::lock_guard lk(st->mu);
            st->r = r;
            st->cv.notify_all();
        });
        std::unique_lock lk(st->mu);
        st->cv.wait(lk, [&] { return st->r.has_value(); });
        return *st->r;
    }

    produce_result produce(std::string_view topic, partition_id p, byte_buffer batch, std::int16_t acks,
                           std::optional<std::string_view> transactional_id = std::nullopt,
                           std::chrono::milliseconds timeout = std::chrono::milliseconds{30000},
                           bool verify_records = true) {
        return produce(topic, p, batch.mutable_view(), acks, transactional_id, timeout, verify_records);
    }

    /// InitProducerId. Without a transactional id: a fresh producer id, epoch 0 (ids are reserved
    /// in synced blocks, so none repeats after a restart). With one: the transaction coordinator's
    /// answer (docs/protocol.md §15.2), waited for on this thread: never call that form from an
    /// event loop (the handler uses transactions().init_producer_id, which answers later).
    init_producer_id_result init_producer_id(std::optional<std::string_view> transactional_id = std::nullopt,
                                             std::int32_t transaction_timeout_ms = 60000) {
        if (!transactional_id) {
            // A block that could not be made durable hands out nothing: COORDINATOR_NOT_AVAILABLE
            // is retriable, so the client asks again.
            const auto id = next_pid();
            if (!id) return {error_code::coordinator_not_available, producer_id{-1}, producer_epoch{-1}};
            return {error_code::none, *id, producer_epoch{0}};
        }
        struct state {
            std::mutex mu;
            std::condition_variable cv;
            std::optional<init_producer_id_result> r;
        };
        auto st = std::make_shared<state>();
        transactions().init_producer_id(std::string(*transactional_id), transaction_timeout_ms, producer_id{-1},
                                        producer_epoch{-1}, [st](txn::init_result r) {
                                            std::lock_guard lk(st->mu);
                                            st->r = init_producer_id_result{r.error, r.id, r.epoch};
                                            st->cv.notify_all();
                                        });
        std::unique_lock lk(st->mu);
        st->cv.wait(lk, [&] { return st->r.has_value(); });
        return *st->r;
    }

    /// A transaction coordinator's marker (docs/protocol.md §15.6): written here when this node
    /// leads the partition, else (in a cluster) sent to its leader as WriteTxnMarkers. `done`
    /// gets the partition's answer. Never blocks.
    void write_marker_anywhere(std::string_view topic, partition_id p, producer_id pid, producer_epoch epoch,
                               bool commit, std::int32_t coordinator_epoch, std::chrono::milliseconds timeout,
                               gregor::detail::unique_function<void(error_code)> done) {
        auto* part = find_or_create(topic, p, false);
        if (cluster_mode() && (!part || !part->is_leader())) {
            marker_forwarder f;
            {
                std::lock_guard lk(forwarder_mu_);
                f = forwarder_;
            }
            if (!f) return done(error_code::not_leader_or_follower);
            return f(std::string(topic), p.value(), pid, epoch, commit, coordinator_epoch, std::move(done));
        }
        write_marker_async(topic, p, pid, epoch, commit, coordinator_epoch, timeout,
                           [done = std::move(done)](produce_result r) mutable { done(r.error); });
    }

    /// Appends a transaction marker to a partition this node leads (docs/protocol.md §15.6) and
    /// calls `done(produce_result)` once it is below the high watermark (and flushed, when the
    /// durability policy says so), or at `timeout`. Never blocks, as produce_async().
    template <typename Done>
    void write_marker_async(std::string_view topic, partition_id p, producer_id pid, producer_epoch epoch, bool commit,
                            std::int32_t coordinator_epoch, std::chrono::milliseconds timeout, Done&& done) {
        auto* part = find_or_create(topic, p, false);
        if (!part) return done(produce_result{part_error(topic, false), offset{-1}, -1, offset{-1}});
        const auto r = part->append_marker(pid, epoch, commit, coordinator_epoch);
        finish_append(part, r, timeout, std::forward<Done>(done));
    }

    /// Whole batches from `from` as zero-copy slices (memory views or file ranges).
    fetch_result fetch(std::string_view topic, partition_id p, offset from, std::size_t max_bytes,
                       isolation iso = isolation::read_uncommitted) {
        auto* part = find_or_create(topic, p, false);
        if (!part) {
            fetch_result r;
            r.error = part_error(topic, false);
            return r;
        }
        return part->read(from, max_bytes, iso);
    }

    /// fetch() with the batches copied into one buffer (embedded readers, tests, tools).
    fetch_copy_result fetch_copy(std::string_view topic, partition_id p, offset from, std::size_t max_bytes,
                                 isolation iso = isolation::read_uncommitted) {
        auto r = fetch(topic, p, from, max_bytes, iso);
        fetch_copy_result out{r.error, r.high_watermark, r.log_start_offset, {}};
        storage::copy_to(r.records, out.records);
        return out;
    }

    /// ListOffsets: ts -2 earliest, -1 latest, -3 the record with the largest timestamp, else the
    /// first record with timestamp >= ts, and that record's timestamp (offset -1 when there is
    /// none).
    list_offset_result list_offset(std::string_view topic, partition_id p, std::int64_t ts,
                                   isolation iso = isolation::read_uncommitted) {
        auto* part = find_or_create(topic, p, false);
        if (!part) return {part_error(topic, false), offset{-1}, -1};
        const auto o = part->list_offset(ts, iso);
        if (!o) return {error_code::none, offset{-1}, -1};
        return {error_code::none, o->record_offset, o->timestamp};
    }

    /// The partition object itself (nullptr if absent), for the server and replication layers.
    partition_type* find_partition(std::string_view topic, partition_id p) { return find_or_create(topic, p, false); }

    /// One compaction pass over every partition whose cleanup.policy compacts and that needs one
    /// (see partition::compact; `force`: every such partition, however little is dirty). What the
    /// cleaner thread does every log.cleaner.backoff.ms; tools and tests call it to clean now.
    /// Returns the number of passes that ran; the first error, if any, in `ec`.
    std::size_t compact_now(bool force, std::error_code& ec) {
        ec.clear();
        std::size_t passes = 0;
        for (auto* part : all_partitions()) {
            std::error_code e;
            if (part->compact(clock_.wall_ms(), static_cast<std::size_t>(cfg_.log_cleaner_dedupe_buffer_size), force, e))
                ++passes;
            // A segment removed under the pass (retention, truncation) just ends it; the next one starts over.
            if (e && e != make_error_code(local_error::invalid_argument) && !ec) ec = e;
        }
        return passes;
    }

    /// Runs the periodic work now: interval flushes, roll, retention, snapshots.
    void tick(bool run_retention = true) {
        for (auto* part : all_partitions()) part->tick(run_retention);
        (void)write_offset_checkpoints();
    }

    /// Writes `replication-offset-checkpoint` (high watermarks), `recovery-point-offset-checkpoint`
    /// (flushed offsets) and `log-start-offset-checkpoint` when they changed (the last one always
    /// with `force_log_start`); tick() and close() call it. The first error is returned (the
    /// previous files stay, as write_file is atomic).
    std::error_code write_offset_checkpoints(bool force_log_start = false) {
        if (!persistent()) return {};
        // Offsets are gathered under checkpoint_mu_ so a value delete_records() wrote is never
        // overwritten by an older one gathered before it.
        std::lock_guard lk(checkpoint_mu_);
        std::vector<storage::partition_offset> hw, recovery, starts;
        {
            std::shared_lock tlk(topics_mu_);
            for (auto& [name, parts] : topics_) {
                for (auto& part : parts) {
                    const auto o = part->offsets();
                    hw.push_back({name, part->id().value(), o.high_watermark});
                    recovery.push_back({name, part->id().value(), o.flushed_offset});
                    starts.push_back({name, part->id().value(), o.log_start_offset});
                }
            }
        }
        const auto hw_text = storage::encode_offset_checkpoint(hw);
        const auto rp_text = storage::encode_offset_checkpoint(recovery);
        const auto ls_text = storage::encode_offset_checkpoint(starts);
        if (force_log_start || ls_text != last_lso_checkpoint_) {
            if (auto ec = storage::write_text_file(*meta_backend_, storage::log_start_offset_checkpoint_file, ls_text))
                return ec;
            last_lso_checkpoint_ = ls_text;
        }
        if (hw_text != last_hw_checkpoint_) {
            if (auto ec =
                    storage::write_text_file(*meta_backend_, storage::replication_offset_checkpoint_file, hw_text))
                return ec;
            last_hw_checkpoint_ = hw_text;
        }
        if (rp_text != last_recovery_checkpoint_) {
            if (auto ec = storage::write_text_file(*meta_backend_, storage::recovery_point_checkpoint_file, rp_text))
                return ec;
            last_recovery_checkpoint_ = rp_text;
        }
        return {};
    }

    /// Syncs done by the flusher thread so far (one per partition per round; benchmarks, tests).
    [[nodiscard]] std::uint64_t flusher_syncs() const { return flusher_.syncs(); }

    /// Syncs every partition's log to disk.
    void flush_all() {
        for (auto* part : all_partitions()) (void)part->flush();
    }

    /// Clean shutdown: stops maintenance, snapshots producer state, closes segments with the
    /// clean-shutdown marker. Idempotent; the destructor calls it.
    void close() {
        if (closed_.exchange(true)) return;
        // Through the once flag: a groups() racing with close() has either made the coordinator
        // (waited for here) or will find this one, stopped, answering NOT_COORDINATOR.
        transactions().stop(); // markers still to write are written by whoever leads next
        groups().stop();       // parked joins and syncs are answered NOT_COORDINATOR
        {
            std::lock_guard lk(maint_mu_);
            stop_ = true;
        }
        maint_cv_.notify_all();
        if (maintenance_.joinable()) maintenance_.join();
        if (cleaner_.joinable()) cleaner_.join();
        flusher_.stop(); // runs the syncs already asked for
        for (auto* part : all_partitions()) part->close();
        (void)write_offset_checkpoints();
        scheduler_.stop();
    }

private:
    static constexpr bool persistent() { return Policies::storage_backend::persistent; }

    // In a cluster any broker hands out producer ids, and a follower that becomes leader must
    // never confuse two producers: each node's ids carry its node id in the bits above 2^40
    // (a stop-gap until the controller hands out id blocks, Kafka's AllocateProducerIds).
    std::optional<producer_id> next_pid() {
        const auto id = pids_.next();
        if (!id || !cluster_mode()) return id;
        return producer_id{(static_cast<std::int64_t>(cfg_.node_id) << 40) | (id->value() & ((std::int64_t{1} << 40) - 1))};
    }

    // What an appended batch's answer still waits for, and who to tell.
    struct append_wait {
        partition_type* part = nullptr;
        produce_result result;
        offset hw{-1};
        offset flushed{-1};
        bool check_isr = false;
        leader_epoch epoch{-1};
        broker_detail::wait_clock::time_point deadline{};
        gregor::detail::unique_function<void(produce_result)> done;
    };

    static error_code wait_error(wait_status s) noexcept {
        switch (s) {
        case wait_status::reached: return error_code::none;
        case wait_status::timed_out: return error_code::request_timed_out;
        case wait_status::shutdown: return error_code::not_leader_or_follower;
        case wait_status::failed: return error_code::kafka_storage_error;
        }
        return error_code::unknown_server_error;
    }

    // Waits for the flushed offset, then the high watermark, each through the monitor; a step
    // whose condition already holds continues on this thread.
    static void await_append(std::shared_ptr<append_wait> st) {
        const auto next = [](const std::shared_ptr<append_wait>& w) {
            return [w](wait_status s) {
                if (s != wait_status::reached) {
                    w->result.error = wait_error(s);
                    auto d = std::move(w->done);
                    d(w->result);
                    return;
                }
                await_append(w);
            };
        };
        if (st->flushed >= offset{0}) {
            const auto target = std::exchange(st->flushed, offset{-1});
            if (st->part->monitor().async_wait(offset_kind::flushed, target, st->deadline, next(st))) return;
        }
        if (st->hw >= offset{0}) {
            const auto target = std::exchange(st->hw, offset{-1});
            // Deposed while the sync ran: its high watermark will not move for this batch.
            if (!st->part->is_leader()) {
                st->result.error = error_code::not_leader_or_follower;
                auto d = std::move(st->done);
                return d(st->result);
            }
            if (st->part->monitor().async_wait(offset_kind::high_watermark, target, st->deadline, next(st))) return;
        }
        // acks=all: the ISR must still be large enough once the high watermark covers the batch.
        if (st->check_isr) {
            // Written in an epoch this partition no longer leads: its offset may hold another
            // leader's record by now.
            st->result.error = st->epoch.value() >= 0 && st->part->current_leader_epoch() != st->epoch
                                   ? error_code::not_leader_or_follower
                                   : st->part->ack_all_check();
        }
        auto d = std::move(st->done);
        d(st->result);
    }

    static constexpr std::size_t max_partitions = 100000;

    static std::string too_many_partitions(std::size_t n) {
        return "Number of partitions " + std::to_string(n) + " exceeds the limit of " + std::to_string(max_partitions) +
               ".";
    }

    static std::string unknown_topic_message(std::string_view name) {
        return "The topic '" + std::string(name) + "' does not exist.";
    }

    // Kafka's messages for a name that breaks its rules (Topic.validate); "" when valid.
    static std::string topic_name_problem(std::string_view name) {
        if (valid_topic_name(name)) return {};
        const std::string n(name);
        if (name.empty()) return "Topic name is illegal, it can't be empty";
        if (name == "." || name == "..") return "Topic name cannot be \".\" or \"..\"";
        if (name.size() > 249) return "Topic name is illegal, it can't be longer than 249 characters, topic name: " + n;
        return "Topic name \"" + n +
               "\" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'";
    }

    // Another topic whose name equals `name` once '.' and '_' are taken as one (their metric
    // names would collide, so Kafka refuses the second).
    std::optional<std::string> colliding_topic_locked(std::string_view name) const {
        if (name.find_first_of("._") == std::string_view::npos) return std::nullopt;
        const auto unify = [](std::string_view v) {
            std::string out(v);
            std::replace(out.begin(), out.end(), '.', '_');
            return out;
        };
        const auto key = unify(name);
        for (const auto& [n, m] : meta_)
            if (n != name && unify(n) == key) return n;
        return std::nullopt;
    }

    // A manual assignment (CreateTopics Assignments, index = partition) for this single broker,
    // with Kafka's messages (docs/protocol.md §17.1).
    admin_result check_assignment(const std::vector<std::vector<std::int32_t>>& assignment) const {
        std::size_t rf = 0;
        for (std::size_t i = 0; i < assignment.size(); ++i) {
            const auto& brokers = assignment[i];
            if (brokers.empty())
                return {error_code::invalid_replica_assignment,
                        "The manual partition assignment includes an empty replica list."};
            for (std::size_t j = 0; j < brokers.size(); ++j) {
                if (std::find(brokers.begin(), brokers.begin() + static_cast<std::ptrdiff_t>(j), brokers[j]) !=
                    brokers.begin() + static_cast<std::ptrdiff_t>(j))
                    return {error_code::invalid_replica_assignment,
                            "The manual partition assignment includes the broker " + std::to_string(brokers[j]) +
                                " more than once."};
                if (brokers[j] != cfg_.node_id)
                    return {error_code::invalid_replica_assignment, "The manual partition assignment includes broker " +
                                                                        std::to_string(brokers[j]) +
                                                                        ", but no such broker is registered."};
            }
            if (i > 0 && brokers.size() != rf)
                return {error_code::invalid_replica_assignment,
                        "The manual partition assignment includes a partition with " + std::to_string(brokers.size()) +
                            " replica(s), but this is not consistent with previous partitions, which have " +
                            std::to_string(rf) + " replica(s)."};
            rf = brokers.size();
        }
        return {};
    }

    // Lower-case hex of a topic id (the "<topic>-<p>.<id>-delete" names of deleted partitions).
    static std::string uuid_hex(const wire::uuid& u) {
        static constexpr char digits[] = "0123456789abcdef";
        std::string out;
        for (const auto b : u.bytes) {
            const auto v = std::to_integer<unsigned>(b);
            out += digits[v >> 4];
            out += digits[v & 15];
        }
        return out;
    }

    // Shared by set_topic_configs and alter_topic_configs; the caller holds table_mu_ (only).
    admin_result set_topic_configs_held(std::string_view name, std::map<std::string, std::string> overrides,
                                        bool validate_only) {
        broker_config next;
        topic_record rec;
        std::vector<topic_record> table;
        {
            std::shared_lock lk(topics_mu_);
            const auto mit = meta_.find(name);
            if (mit == meta_.end() || !topics_.count(name))
                return {error_code::unknown_topic_or_partition, unknown_topic_message(name)};
            try {
                next = checked(effective_topic_config(cfg_, overrides));
            } catch (const std::invalid_argument& e) {
                return {error_code::invalid_config, e.what()};
            }
            if (validate_only) return {};
            rec = mit->second.rec;
            rec.configs = std::move(overrides);
            table = table_replacing_locked(rec);
        }
        // Persisted first: a restart must run the topic with what the caller was told is set.
        if (write_table(table)) return {error_code::kafka_storage_error, "The topic table could not be written."};
        std::vector<partition_type*> parts;
        {
            std::unique_lock lk(topics_mu_);
            auto& meta = meta_.find(name)->second;
            meta.rec = std::move(rec);
            *meta.cfg = next;
            for (auto& part : topics_.find(name)->second) parts.push_back(part.get());
        }
        // Outside the topic lock (a partition's lock may be held across a disk write); the
        // partitions stay: table_mu_ is held and partitions are never freed while the broker lives.
        // Validated above, so no partition refuses it.
        for (auto* part : parts) (void)part->set_config(next);
        return {};
    }

    // Every partition's log start offset, with `moved` at max(its own, `to`). Caller holds
    // checkpoint_mu_ (not topics_mu_).
    std::vector<storage::partition_offset> log_starts(const partition_type* moved, offset to) {
        std::vector<storage::partition_offset> out;
        std::shared_lock lk(topics_mu_);
        for (auto& [name, parts] : topics_) {
            for (auto& part : parts) {
                auto o = part->offsets().log_start_offset;
                if (part.get() == moved) o = std::max(o, to);
                out.push_back({name, part->id().value(), o});
            }
        }
        return out;
    }

    std::filesystem::path partition_dir(const std::string& topic, std::int32_t p) const {
        return cfg_.data_dir / (topic + "-" + std::to_string(p));
    }

    using backend_type = typename Policies::storage_backend;

    static broker_config checked(broker_config c) {
        c.validate();
        return c;
    }

    // The data dir's own files (topic table, checkpoints, id blocks) go through a backend on the
    // data dir, like a partition's files through its log's.
    std::unique_ptr<backend_type> dir_backend() const {
        if (!persistent()) return nullptr;
        std::filesystem::create_directories(cfg_.data_dir);
        return std::make_unique<backend_type>(cfg_.data_dir, backend_opts_);
    }

    // The table as it would be with `rec` in place of the record of the same name.
    std::vector<topic_record> table_replacing_locked(const topic_record& rec) const {
        std::vector<topic_record> out;
        for (const auto& [n, m] : meta_) out.push_back(n == rec.name ? rec : m.rec);
        return out;
    }

    // The table as it would be with `extra` added (and `without` left out).
    std::vector<topic_record> table_locked(const topic_record* extra = nullptr, std::string_view without = {}) const {
        std::vector<topic_record> out;
        for (const auto& [n, m] : meta_)
            if (n != without) out.push_back(m.rec);
        if (extra) out.push_back(*extra);
        return out;
    }

    std::error_code write_table(const std::vector<topic_record>& table) {
        if (!persistent()) return {};
        return storage::write_text_file(*meta_backend_, topic_table_file, encode_topic_table(table));
    }

    wire::uuid fresh_topic_id_locked() const {
        for (;;) {
            const auto id = random_topic_id();
            bool used = false;
            for (const auto& [n, m] : meta_) used |= m.rec.id == id;
            if (!used) return id;
        }
    }

    topic_record new_record_locked(std::string name, std::int32_t partitions,
                                   std::map<std::string, std::string> configs) const {
        topic_record rec;
        rec.name = std::move(name);
        rec.id = fresh_topic_id_locked();
        rec.configs = std::move(configs);
        const node_id self{cfg_.node_id};
        for (std::int32_t i = 0; i < partitions; ++i) rec.partitions.push_back({{self}, self, leader_epoch{0}, {self}});
        return rec;
    }

    // A new topic: recorded in the table first, so a crash after it recreates the partitions at
    // start, while partitions without a table entry could never get their id back. The caller
    // holds table_mu_ and not topics_mu_: the disk is written without blocking readers.
    error_code add_new_topic(topic_record rec, std::unique_ptr<broker_config> tcfg) {
        std::vector<topic_record> with, without;
        {
            std::shared_lock lk(topics_mu_);
            without = table_locked();
            with = table_locked(&rec);
        }
        if (write_table(with)) return error_code::kafka_storage_error;
        std::vector<std::unique_ptr<partition_type>> parts;
        try {
            for (std::size_t i = 0; i < rec.partitions.size(); ++i)
                parts.push_back(make_partition(rec, static_cast<std::int32_t>(i), *tcfg));
        } catch (const std::exception&) {
            (void)write_table(without); // best effort: start clean
            return error_code::kafka_storage_error;
        }
        std::unique_lock lk(topics_mu_);
        auto name = rec.name;
        topics_.emplace(name, std::move(parts));
        meta_.insert_or_assign(std::move(name), topic_meta{std::move(rec), std::move(tcfg)});
        return error_code::none;
    }

    // The table without `name` (table_mu_ held).
    std::vector<topic_record> table_without(std::string_view name) const {
        std::shared_lock lk(topics_mu_);
        return table_locked(nullptr, name);
    }

    // Opens partition `i` of `rec` with the topic's settings and hooks it to the broker's threads.
    // A log start offset restored from log-start-offset-checkpoint applies at start only.
    std::unique_ptr<partition_type> make_partition(const topic_record& rec, std::int32_t i, const broker_config& tcfg) {
        offset start{-1};
        if (const auto it = restored_log_starts_.find({rec.name, i}); it != restored_log_starts_.end())
            start = it->second;
        auto part =
            std::make_unique<partition_type>(rec.name, partition_id{i}, partition_dir(rec.name, i), tcfg, backend_opts_,
                                             clock_, rec.partitions[static_cast<std::size_t>(i)].epoch, start);
        part->attach(&scheduler_, [this](partition_type* q) { flusher_.request(q); });
        // In a cluster a partition learns its role from the metadata log; until then it must not
        // take appends as the leader it was before a restart (a newer leader may exist).
        if (cluster_mode()) {
            partition_state none;
            none.leader_epoch = rec.partitions[static_cast<std::size_t>(i)].epoch;
            none.replicas = rec.partitions[static_cast<std::size_t>(i)].replicas;
            part->apply_state(none, now_ms());
        }
        return part;
    }

    error_code add_topic_locked(const topic_record& rec, std::unique_ptr<broker_config> tcfg) {
        std::vector<std::unique_ptr<partition_type>> parts;
        try {
            for (std::size_t i = 0; i < rec.partitions.size(); ++i)
                parts.push_back(make_partition(rec, static_cast<std::int32_t>(i), *tcfg));
        } catch (const std::exception&) {
            return error_code::kafka_storage_error;
        }
        topics_.emplace(rec.name, std::move(parts));
        meta_.insert_or_assign(rec.name, topic_meta{rec, std::move(tcfg)});
        return error_code::none;
    }

    // Partition directories are "<topic>-<partition>" (topic names may contain '-': the partition
    // number is after the last one).
    std::map<std::string, std::int32_t> partition_dirs() const {
        std::map<std::string, std::int32_t> found;
        for (const auto& de : std::filesystem::directory_iterator(cfg_.data_dir)) {
            if (!de.is_directory()) continue;
            const auto name = de.path().filename().string();
            const auto dash = name.rfind('-');
            if (dash == std::string::npos || dash == 0) continue;
            std::int32_t p = -1;
            const auto* b = name.data() + dash + 1;
            const auto* e = name.data() + name.size();
            if (std::from_chars(b, e, p).ptr != e || p < 0) continue;
            const auto topic = name.substr(0, dash);
            if (!valid_topic_name(topic) || topic == metadata_log_topic) continue;
            auto& n = found[topic];
            n = std::max(n, p + 1);
        }
        return found;
    }

    // The topic table, completed from the partition directories: a data dir written before the
    // table existed (or a topic whose directories appeared without it) gets entries with fresh
    // ids and no overrides, recorded before anything is served.
    void load_topics() {
        remove_deleted_dirs();
        load_log_starts();
        if (cluster_mode()) load_high_watermarks();
        std::vector<topic_record> table;
        byte_buffer buf;
        if (const auto ec = meta_backend_->read_file(topic_table_file, buf)) {
            if (ec != std::errc::no_such_file_or_directory)
                throw std::system_error(ec, "gregor: cannot read topic-table");
        } else {
            auto decoded = decode_topic_table(as_string_view(buf.view()));
            if (!decoded)
                throw std::system_error(make_error_code(local_error::corrupt_data), "gregor: topic-table is damaged");
            table = std::move(*decoded);
        }
        std::unique_lock lk(topics_mu_);
        bool changed = false;
        const node_id self{cfg_.node_id};
        for (const auto& dir : partition_dirs()) {
            const auto& name = dir.first;
            const auto n = dir.second;
            auto it = std::find_if(table.begin(), table.end(), [&](const topic_record& r) { return r.name == name; });
            if (it == table.end()) {
                table.push_back(new_record_locked(name, n, {}));
                changed = true;
            } else {
                while (static_cast<std::int32_t>(it->partitions.size()) < n) {
                    it->partitions.push_back({{self}, self, leader_epoch{0}, {self}});
                    changed = true;
                }
            }
        }
        if (changed) {
            if (auto ec = write_table(table)) throw std::system_error(ec, "gregor: cannot write topic-table");
        }
        for (const auto& rec : table) {
            auto tcfg = std::make_unique<broker_config>(checked(effective_topic_config(cfg_, rec.configs)));
            if (add_topic_locked(rec, std::move(tcfg)) != error_code::none)
                throw std::system_error(make_error_code(local_error::io_error), "cannot open topic " + rec.name);
        }
        // Entries of partitions that no longer exist (a topic deleted just before a crash) must
        // not reach a topic created later under the same name: rewritten without them now.
        bool stale = false;
        for (const auto& [tp, o] : restored_log_starts_) {
            const auto it = topics_.find(tp.first);
            stale |= it == topics_.end() || static_cast<std::size_t>(tp.second) >= it->second.size();
        }
        restored_log_starts_.clear();
        if (stale) {
            std::vector<storage::partition_offset> starts;
            for (auto& [name, parts] : topics_)
                for (auto& part : parts) starts.push_back({name, part->id().value(), part->offsets().log_start_offset});
            last_lso_checkpoint_ = storage::encode_offset_checkpoint(starts);
            if (auto ec = storage::write_text_file(*meta_backend_, storage::log_start_offset_checkpoint_file,
                                                   last_lso_checkpoint_))
                throw std::system_error(ec, "gregor: cannot write log-start-offset-checkpoint");
        }
    }

    // Partition directories of deleted topics ("<topic>-<p>.<id>-delete") left by a crash or a
    // failed removal.
    void remove_deleted_dirs() {
        std::error_code ec;
        for (const auto& de : std::filesystem::directory_iterator(cfg_.data_dir, ec)) {
            const auto name = de.path().filename().string();
            if (name.size() > 7 && name.compare(name.size() - 7, 7, "-delete") == 0 && de.is_directory()) {
                std::error_code rec;
                std::filesystem::remove_all(de.path(), rec);
            }
        }
    }

    // replication-offset-checkpoint: the high watermarks at the last checkpoint. A cluster node
    // restores them once its partitions have their roles (a follower's HW is what it knew to be
    // committed; a single node's HW is simply its log end).
    void load_high_watermarks() {
        std::error_code ec;
        const auto text = storage::read_text_file(*meta_backend_, storage::replication_offset_checkpoint_file, ec);
        if (!text) {
            if (storage::missing_file(ec)) return;
            throw std::system_error(ec, "gregor: cannot read replication-offset-checkpoint");
        }
        const auto entries = storage::decode_offset_checkpoint(*text);
        if (!entries)
            throw std::system_error(make_error_code(local_error::corrupt_data),
                                    "gregor: replication-offset-checkpoint is damaged");
        for (const auto& e : *entries) restored_high_watermarks_[{e.topic, e.partition}] = e.value;
        last_hw_checkpoint_ = *text;
    }

    // log-start-offset-checkpoint, read before the partitions open (they start there).
    void load_log_starts() {
        std::error_code ec;
        const auto text = storage::read_text_file(*meta_backend_, storage::log_start_offset_checkpoint_file, ec);
        if (!text) {
            if (storage::missing_file(ec)) return;
            throw std::system_error(ec, "gregor: cannot read log-start-offset-checkpoint");
        }
        const auto entries = storage::decode_offset_checkpoint(*text);
        if (!entries)
            throw std::system_error(make_error_code(local_error::corrupt_data),
                                    "gregor: log-start-offset-checkpoint is damaged");
        for (const auto& e : *entries) restored_log_starts_[{e.topic, e.partition}] = e.value;
        last_lso_checkpoint_ = *text;
    }

    partition_type* find_or_create(std::string_view topic, partition_id p, bool auto_create) {
        if (topic == metadata_log_topic) {
            return p == partition_id{0} ? metadata_log_ptr_.load(std::memory_order_acquire) : nullptr;
        }
        {
            std::shared_lock lk(topics_mu_);
            if (auto it = topics_.find(topic); it != topics_.end()) {
                if (p.value() < 0 || static_cast<std::size_t>(p.value()) >= it->second.size()) return nullptr;
                return it->second[static_cast<std::size_t>(p.value())].get();
            }
        }
        if (!auto_create) return nullptr;
        if (describe_topic(topic, true).error != error_code::none) return nullptr;
        return find_or_create(topic, p, false);
    }

    error_code part_error(std::string_view topic, bool may_create = true) {
        if (!valid_topic_name(topic)) return error_code::invalid_topic_exception;
        (void)may_create;
        return error_code::unknown_topic_or_partition;
    }

    std::vector<partition_type*> all_partitions() {
        std::shared_lock lk(topics_mu_);
        std::vector<partition_type*> out;
        for (auto& [n, parts] : topics_)
            for (auto& p : parts) out.push_back(p.get());
        if (auto* m = metadata_log_ptr_.load(std::memory_order_acquire)) out.push_back(m);
        return out;
    }

    // The log cleaner: a pass over the compacted partitions, then log.cleaner.backoff.ms of sleep
    // (Kafka's cleaner backs off only when it found nothing; one pass per partition per round keeps
    // a busy log from starving the others).
    void cleaner_loop() {
        using namespace std::chrono;
        std::unique_lock lk(maint_mu_);
        while (!stop_) {
            maint_cv_.wait_for(lk, milliseconds(cfg_.log_cleaner_backoff_ms), [&] { return stop_; });
            if (stop_) break;
            lk.unlock();
            std::error_code ec;
            (void)compact_now(false, ec); // an I/O error is retried at the next round
            lk.lock();
        }
    }

    void maintenance_loop() {
        using namespace std::chrono;
        auto next_retention = steady_clock::now() + milliseconds(cfg_.log_retention_check_interval_ms);
        std::unique_lock lk(maint_mu_);
        while (!stop_) {
            maint_cv_.wait_for(lk, milliseconds(cfg_.log_flush_scheduler_interval_ms), [&] { return stop_; });
            if (stop_) break;
            const bool retention = steady_clock::now() >= next_retention;
            if (retention) next_retention = steady_clock::now() + milliseconds(cfg_.log_retention_check_interval_ms);
            lk.unlock();
            tick(retention);
            // A node that came to hold __transaction_state partitions (a cluster's metadata made
            // it a replica) runs a coordinator, which finishes what a dead one decided.
            if (!txn_started_.load(std::memory_order_relaxed)) {
                for (std::int32_t p = 0; p < cfg_.transaction_state_log_num_partitions; ++p)
                    if (find_partition(txn::state_topic, partition_id{p})) {
                        (void)transactions();
                        break;
                    }
            }
            lk.lock();
        }
    }

    // The deadline thread and the flusher outlive the partitions that point at them.
    broker_detail::deadline_scheduler scheduler_;
    broker_detail::flusher<partition_type> flusher_;

    // A topic's table entry and its effective settings (topic_config(); each partition runs with
    // its own copy, replaced through partition::set_config when the overrides change).
    struct topic_meta {
        topic_record rec;
        std::unique_ptr<broker_config> cfg;
    };

    broker_config cfg_;
    backend_options backend_opts_;
    clock_type clock_;
    std::unique_ptr<backend_type> pid_backend_; // the id allocator's own (it locks on its own)
    broker_detail::producer_id_allocator<backend_type> pids_;
    std::unique_ptr<backend_type> meta_backend_; // topic table (under table_mu_), offset checkpoints
                                                 // (checkpoint_mu_)
    // Every change of the topic table, held across its write to disk (a temp file, fsync, rename),
    // so that the topic lock below never is: readers on an event loop wait for memory only.
    std::mutex table_mu_;
    mutable std::shared_mutex topics_mu_;
    std::map<std::string, std::vector<std::unique_ptr<partition_type>>, std::less<>> topics_;
    std::map<std::string, topic_meta, std::less<>> meta_;
    // Lock order: table_mu_, checkpoint_mu_, then topics_mu_, then a partition's mutex.
    std::mutex checkpoint_mu_;
    std::string last_hw_checkpoint_, last_recovery_checkpoint_, last_lso_checkpoint_;
    // Read at start, used while the partitions open, then cleared.
    std::map<std::pair<std::string, std::int32_t>, offset> restored_log_starts_;
    // Read at start; taken once per partition by the cluster member (take_restored_high_watermark).
    std::mutex restored_hw_mu_;
    std::map<std::pair<std::string, std::int32_t>, offset> restored_high_watermarks_;
    // Partitions of deleted topics, kept until the broker is destroyed (see delete_topic).
    std::mutex graveyard_mu_;
    std::vector<std::unique_ptr<partition_type>> graveyard_;
    std::mutex maint_mu_;
    std::condition_variable maint_cv_;
    bool stop_ = false;
    std::atomic<bool> closed_{false};
    std::thread maintenance_;
    std::thread cleaner_;
    static constexpr std::string_view metadata_log_topic = "__cluster_metadata";
    std::unique_ptr<partition_type> metadata_log_; // the controller's (created under table_mu_)
    std::atomic<partition_type*> metadata_log_ptr_{nullptr};
    std::atomic<cluster::controller<broker>*> controller_{nullptr};
    std::atomic<cluster::member<broker>*> member_{nullptr};
    std::mutex forwarder_mu_;
    marker_forwarder forwarder_;
    std::once_flag groups_once_;
    std::unique_ptr<groups::coordinator<broker>> groups_;
    std::once_flag txn_once_;
    std::atomic<bool> txn_started_{false};
    std::unique_ptr<txn::coordinator<broker>> txn_; // after groups_: destroyed first (it calls groups())
};

} // namespace gregor
