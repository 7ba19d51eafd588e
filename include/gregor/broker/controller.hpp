// The cluster controller (docs/replication.md): one node of the cluster (the one
// `controller.quorum.voters` names) owns the cluster metadata as a log, KRaft's shape with one
// voter. Brokers register (BrokerRegistration) and heartbeat (BrokerHeartbeat); a broker whose
// heartbeats stop for broker.session.timeout.ms is fenced and the partitions it led get new
// leaders from their ISR; leaders ask for ISR changes with AlterPartition; topics are created
// here with their replicas spread over the live brokers. Every decision is a record appended to
// the metadata log (cluster_metadata.hpp) before anyone acts on it; brokers, this node's own
// included, learn it by fetching that log.
//
// The log is the partition `__cluster_metadata`-0 of this node's broker, stored like any other
// partition and served by the ordinary Fetch handler, so a restarted controller replays it and
// brokers read it with the same zero-copy path consumers use. A controller that is down stops
// leader changes, ISR changes, registrations and topic creation; produce and fetch on current
// leaders go on (the brokers keep their last image).
//
// Election rules (docs/protocol.md §14.8): a partition's new leader is the first replica in
// assignment order that is in the ISR and alive (registered, not fenced, not shutting down);
// with none, and unclean.leader.election.enable, the first alive replica, whose ISR becomes just
// itself (what it lacks is lost); else no leader (-1) and the last ISR member stays in the ISR.
// A leader change bumps the leader epoch; every change bumps the partition epoch.
//
// Thread-safety: every public call is thread-safe (one mutex); calls never wait for the network,
// but a change is synced to disk before the call returns, so the Kafka handlers call it from the
// server's background worker, never from the event loop.
#pragma once

#include <gregor/broker/admin.hpp>
#include <gregor/broker/cluster_metadata.hpp>
#include <gregor/broker/partition.hpp>
#include <gregor/core/error.hpp>
#include <gregor/core/strong_types.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace gregor::cluster {

struct registration_result {
    error_code error = error_code::none;
    std::int64_t broker_epoch = -1;
};

struct heartbeat_result {
    error_code error = error_code::none;
    bool is_caught_up = false;
    bool is_fenced = true;
    bool should_shut_down = false;
};

struct alter_partition_result {
    error_code error = error_code::none;
    partition_state state;
};

template <typename Broker>
class controller {
public:
    using partition_type = typename Broker::partition_type;

    /// Opens (recovering) the metadata log in the broker's data directory and replays it.
    explicit controller(Broker& b) : b_(b), log_(b.open_metadata_log()), rng_(std::random_device{}()) {
        offset at{0};
        for (int guard = 0; guard < 1000000; ++guard) {
            auto r = b_.fetch_copy(metadata_topic, partition_id{0}, at, 1 << 20);
            if (r.error != error_code::none || r.records.empty()) break;
            apply_batches(image_, r.records.view());
            if (image_.next_offset <= at) break;
            at = image_.next_offset;
        }
        // Every broker gets a full session after a controller restart before it can be fenced.
        const auto now = now_ms();
        for (auto& [id, info] : image_.brokers) last_seen_[id] = now;
    }

    controller(const controller&) = delete;
    controller& operator=(const controller&) = delete;

    [[nodiscard]] node_id id() const noexcept { return node_id{b_.config().node_id}; }

    /// A copy of the controller's image (tests, diagnostics).
    metadata_image image() const {
        std::lock_guard lk(mu_);
        return image_;
    }

    /// BrokerRegistration: a new incarnation of `id` starts fenced, with a new broker epoch (the
    /// offset of its registration record). A previous incarnation is treated as gone: the
    /// partitions it led move, as if its session had expired.
    registration_result register_broker(node_id id, std::string host, std::int32_t port, std::string rack) {
        std::lock_guard lk(mu_);
        if (id.value() < 0) return {error_code::invalid_request, -1};
        // The registration record goes first in its batch: its offset is the new broker epoch.
        broker_info info{id, image_.next_offset.value(), std::move(host), port, std::move(rack), true};
        std::vector<record> recs{register_broker_record{info}};
        if (image_.brokers.count(id.value())) remove_broker_locked(id, recs);
        if (append_locked(recs) != error_code::none) return {error_code::unknown_server_error, -1};
        last_seen_[id.value()] = now_ms();
        shutting_down_.erase(id.value());
        return {error_code::none, info.epoch};
    }

    /// BrokerHeartbeat: keeps the session; unfences a broker once its metadata has caught up to
    /// its own registration; drives a controlled shutdown (leaderships move away first).
    heartbeat_result heartbeat(node_id id, std::int64_t broker_epoch, offset metadata_offset, bool want_fence,
                               bool want_shutdown) {
        std::lock_guard lk(mu_);
        heartbeat_result out;
        const auto it = image_.brokers.find(id.value());
        if (it == image_.brokers.end() || it->second.epoch != broker_epoch) {
            out.error = error_code::stale_broker_epoch;
            return out;
        }
        last_seen_[id.value()] = now_ms();
        out.is_caught_up = metadata_offset.value() >= broker_epoch;
        std::vector<record> recs;
        if (want_shutdown) {
            shutting_down_.insert(id.value());
            move_leadership_away_locked(id, recs);
            if (!recs.empty() && append_locked(recs) != error_code::none) out.error = error_code::unknown_server_error;
            out.should_shut_down = !leads_anything_locked(id);
            out.is_fenced = it->second.fenced;
            return out;
        }
        if (it->second.fenced && !want_fence && out.is_caught_up) {
            recs.push_back(unfence_broker_record{id, broker_epoch});
            image_preview_unfence_ = id;
            elect_offline_locked(id, recs);
            image_preview_unfence_ = node_id{-1};
            if (append_locked(recs) != error_code::none) out.error = error_code::unknown_server_error;
        }
        out.is_fenced = image_.brokers[id.value()].fenced;
        return out;
    }

    /// AlterPartition from a leader (docs/protocol.md §14.9, Kafka's checks in Kafka's order).
    alter_partition_result alter_partition(node_id broker, std::int64_t broker_epoch, std::string_view topic,
                                           partition_id p, leader_epoch epoch, std::int32_t partition_epoch,
                                           const std::vector<node_id>& new_isr) {
        std::lock_guard lk(mu_);
        alter_partition_result out;
        const auto bit = image_.brokers.find(broker.value());
        if (bit == image_.brokers.end() || (broker_epoch != -1 && bit->second.epoch != broker_epoch)) {
            out.error = error_code::stale_broker_epoch;
            return out;
        }
        const auto* cur = image_.find(topic, p);
        if (!cur) {
            out.error = error_code::unknown_topic_or_partition;
            return out;
        }
        out.state = *cur;
        if (epoch > cur->leader_epoch || partition_epoch > cur->partition_epoch) {
            out.error = error_code::not_controller;
            return out;
        }
        if (epoch < cur->leader_epoch) {
            out.error = error_code::fenced_leader_epoch;
            return out;
        }
        if (cur->leader != broker) {
            out.error = error_code::invalid_request;
            return out;
        }
        if (partition_epoch < cur->partition_epoch) {
            out.error = error_code::invalid_update_version;
            return out;
        }
        if (std::find(new_isr.begin(), new_isr.end(), broker) == new_isr.end()) {
            out.error = error_code::invalid_request;
            return out;
        }
        for (const auto r : new_isr) {
            if (std::find(cur->replicas.begin(), cur->replicas.end(), r) == cur->replicas.end()) {
                out.error = error_code::invalid_request;
                return out;
            }
            const bool already = std::find(cur->isr.begin(), cur->isr.end(), r) != cur->isr.end();
            if (!already && !eligible_locked(r)) {
                out.error = error_code::ineligible_replica;
                return out;
            }
        }
        partition_state next = *cur;
        next.isr = new_isr;
        next.partition_epoch += 1;
        if (append_locked({partition_record{std::string(topic), p, next}}) != error_code::none) {
            out.error = error_code::unknown_server_error;
            return out;
        }
        out.state = next;
        return out;
    }

    /// CreateTopics / auto-creation: replicas spread over the live brokers (Kafka's rack-unaware
    /// round robin from a random start), first replica leads, every replica in the ISR.
    admin_result create_topic(std::string_view name, const create_topic_request& req) {
        if (auto problem = b_.topic_name_problem_of(name); !problem.empty())
            return {error_code::invalid_topic_exception, std::move(problem)};
        if (name == metadata_topic) return {error_code::invalid_topic_exception, "Topic name is reserved."};
        if (auto r = b_.check_topic_configs(req.configs); !r) return r;
        std::lock_guard lk(mu_);
        const std::string tname(name);
        if (image_.topics.count(name)) return {error_code::topic_already_exists, "Topic '" + tname + "' already exists."};
        std::vector<std::int32_t> live;
        for (const auto& [id, info] : image_.brokers)
            if (!info.fenced && !shutting_down_.count(id)) live.push_back(id);
        std::vector<std::vector<std::int32_t>> assignment = req.assignment;
        if (!assignment.empty()) {
            if (req.partitions != -1 || req.replication_factor != -1)
                return {error_code::invalid_request,
                        "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be "
                        "used at the same time."};
            for (const auto& reps : assignment) {
                if (reps.empty())
                    return {error_code::invalid_replica_assignment,
                            "The manual partition assignment includes an empty replica list."};
                for (const auto r : reps)
                    if (!image_.brokers.count(r))
                        return {error_code::invalid_replica_assignment,
                                "The manual partition assignment includes broker " + std::to_string(r) +
                                    ", but no such broker is registered."};
            }
        } else {
            const auto& cfg = b_.config();
            const std::int32_t rf = req.replication_factor == -1 ? cfg.default_replication_factor : req.replication_factor;
            const std::int32_t n = req.partitions == -1 ? cfg.num_partitions : req.partitions;
            if (rf <= 0)
                return {error_code::invalid_replication_factor,
                        "Replication factor must be larger than 0, or -1 to use the default value."};
            if (n <= 0)
                return {error_code::invalid_partitions, "Number of partitions was set to an invalid non-positive value."};
            if (static_cast<std::size_t>(rf) > live.size())
                return {error_code::invalid_replication_factor,
                        "Unable to replicate the partition " + std::to_string(rf) +
                            " time(s): The target replication factor of " + std::to_string(rf) +
                            " cannot be reached because only " + std::to_string(live.size()) +
                            " broker(s) are registered."};
            const auto start = std::uniform_int_distribution<std::size_t>(0, live.size() - 1)(rng_);
            for (std::int32_t p = 0; p < n; ++p) {
                std::vector<std::int32_t> reps;
                for (std::int32_t j = 0; j < rf; ++j)
                    reps.push_back(live[(start + static_cast<std::size_t>(p + j)) % live.size()]);
                assignment.push_back(std::move(reps));
            }
        }
        if (req.validate_only) return {};
        std::vector<record> recs;
        recs.push_back(topic_record{tname, b_.fresh_cluster_topic_id()});
        for (const auto& [k, v] : req.configs) recs.push_back(config_record{tname, k, v});
        for (std::size_t p = 0; p < assignment.size(); ++p) {
            partition_state s;
            for (const auto r : assignment[p]) s.replicas.push_back(node_id{r});
            s.isr = s.replicas;
            s.leader = s.replicas.front();
            recs.push_back(partition_record{tname, partition_id{static_cast<std::int32_t>(p)}, s});
        }
        if (append_locked(recs) != error_code::none)
            return {error_code::kafka_storage_error, "Topic '" + tname + "' could not be created: storage error."};
        return {};
    }

    /// DeleteTopics: the topic leaves the image; every broker removes its replicas.
    admin_result delete_topic(std::string_view name) {
        std::lock_guard lk(mu_);
        if (!image_.topics.count(name))
            return {error_code::unknown_topic_or_partition, "The topic '" + std::string(name) + "' does not exist."};
        if (append_locked({remove_topic_record{std::string(name)}}) != error_code::none)
            return {error_code::kafka_storage_error, "storage error"};
        return {};
    }

    /// CreatePartitions: the new partitions' replicas continue the round robin over the live
    /// brokers with the topic's replication factor.
    admin_result create_partitions(std::string_view name, std::int32_t new_total, bool validate_only) {
        std::lock_guard lk(mu_);
        const auto* t = image_.find(name);
        if (!t) return {error_code::unknown_topic_or_partition, "The topic '" + std::string(name) + "' does not exist."};
        const auto current = static_cast<std::int32_t>(t->partitions.size());
        if (new_total == current)
            return {error_code::invalid_partitions, "Topic already has " + std::to_string(current) + " partitions."};
        if (new_total < current)
            return {error_code::invalid_partitions, "Topic currently has " + std::to_string(current) +
                                                        " partitions, which is higher than the requested " +
                                                        std::to_string(new_total) + "."};
        const auto rf = t->partitions.empty() ? std::size_t{1} : t->partitions.front().replicas.size();
        std::vector<std::int32_t> live;
        for (const auto& [id, info] : image_.brokers)
            if (!info.fenced && !shutting_down_.count(id)) live.push_back(id);
        if (rf > live.size())
            return {error_code::invalid_replication_factor,
                    "Unable to replicate the partition " + std::to_string(rf) + " time(s): only " +
                        std::to_string(live.size()) + " broker(s) are registered."};
        if (validate_only) return {};
        std::vector<record> recs;
        const auto start = std::uniform_int_distribution<std::size_t>(0, live.size() - 1)(rng_);
        for (auto p = current; p < new_total; ++p) {
            partition_state s;
            for (std::size_t j = 0; j < rf; ++j)
                s.replicas.push_back(node_id{live[(start + static_cast<std::size_t>(p) + j) % live.size()]});
            s.isr = s.replicas;
            s.leader = s.replicas.front();
            recs.push_back(partition_record{std::string(name), partition_id{p}, s});
        }
        if (append_locked(recs) != error_code::none)
            return {error_code::kafka_storage_error, "The new partitions could not be created."};
        return {};
    }

    /// A topic as the controller knows it.
    std::optional<topic_info> topic(std::string_view name) const {
        std::lock_guard lk(mu_);
        const auto* t = image_.find(name);
        return t ? std::optional<topic_info>(*t) : std::nullopt;
    }

    /// Fences every broker whose session expired; run a few times a second.
    void tick() {
        std::lock_guard lk(mu_);
        const auto now = now_ms();
        const auto timeout = b_.config().broker_session_timeout_ms;
        for (const auto& [id, info] : image_.brokers) {
            if (info.fenced) continue;
            const auto it = last_seen_.find(id);
            if (it != last_seen_.end() && now - it->second <= timeout) continue;
            std::vector<record> recs;
            fence_locked(node_id{id}, recs);
            (void)append_locked(recs);
            break; // the image changed under the loop: the next tick continues
        }
    }

    /// Whether `id` is registered and unfenced (tests).
    bool alive(node_id id) const {
        std::lock_guard lk(mu_);
        return image_.alive(id);
    }

private:
    // The broker's monotonic clock: a manual clock drives sessions in tests.
    std::int64_t now_ms() const { return b_.now_ms(); }

    // Appends `recs` as one batch and applies them to the image. The metadata log is a partition
    // with this node as its one replica: the append is final when it returns.
    error_code append_locked(const std::vector<record>& recs) {
        if (recs.empty()) return error_code::none;
        auto batch = build_batch(recs, b_.wall_ms());
        const auto r = log_->append(batch.mutable_view(), 1, false);
        if (r.error != error_code::none) return r.error;
        // Brokers act on what they read of the log: it must survive a crash of this node first.
        if (log_->flush()) return error_code::kafka_storage_error;
        for (const auto& rec : recs) image_.apply(rec);
        image_.next_offset = r.last_offset + 1;
        return error_code::none;
    }

    bool eligible_locked(node_id r) const {
        if (r == image_preview_unfence_) return true;
        return image_.alive(r) && !shutting_down_.count(r.value());
    }

    bool unclean_allowed_locked(const topic_info& t) const {
        if (const auto it = t.configs.find("unclean.leader.election.enable"); it != t.configs.end())
            return it->second == "true";
        return b_.config().unclean_leader_election_enable;
    }

    // The new state of `cur` with `gone` out of service (fenced, restarted, or shutting down when
    // `keep_last` is false); nullopt when nothing changes.
    std::optional<partition_state> without_locked(const topic_info& t, const partition_state& cur, node_id gone) const {
        partition_state next = cur;
        const bool in_isr = std::find(cur.isr.begin(), cur.isr.end(), gone) != cur.isr.end();
        if (in_isr && cur.isr.size() > 1) std::erase(next.isr, gone);
        if (cur.leader == gone || cur.leader == node_id{-1}) next.leader = choose_leader_locked(t, next, gone);
        if (next.leader == node_id{-1} && unclean_allowed_locked(t)) {
            for (const auto r : cur.replicas)
                if (r != gone && eligible_locked(r)) {
                    next.leader = r;
                    next.isr = {r};
                    break;
                }
        }
        if (next.leader == cur.leader && next.isr == cur.isr) return std::nullopt;
        if (next.leader != cur.leader) next.leader_epoch = leader_epoch{cur.leader_epoch.value() + 1};
        next.partition_epoch = cur.partition_epoch + 1;
        return next;
    }

    node_id choose_leader_locked(const topic_info&, const partition_state& s, node_id excluded) const {
        for (const auto r : s.replicas)
            if (r != excluded && std::find(s.isr.begin(), s.isr.end(), r) != s.isr.end() && eligible_locked(r))
                return r;
        return node_id{-1};
    }

    void fence_locked(node_id id, std::vector<record>& recs) {
        const auto& info = image_.brokers.at(id.value());
        recs.push_back(fence_broker_record{id, info.epoch});
        const auto saved = shutting_down_;
        shutting_down_.insert(id.value()); // not eligible while its records are computed
        for (const auto& [name, t] : image_.topics)
            for (std::size_t p = 0; p < t.partitions.size(); ++p)
                if (auto next = without_locked(t, t.partitions[p], id))
                    recs.push_back(partition_record{name, partition_id{static_cast<std::int32_t>(p)}, *next});
        shutting_down_ = saved;
    }

    // A new incarnation: the old one's leaderships and ISR places go (KRaft's unclean-shutdown
    // handling); the new registration then starts fenced.
    void remove_broker_locked(node_id id, std::vector<record>& recs) {
        const auto saved = shutting_down_;
        shutting_down_.insert(id.value());
        for (const auto& [name, t] : image_.topics)
            for (std::size_t p = 0; p < t.partitions.size(); ++p)
                if (auto next = without_locked(t, t.partitions[p], id))
                    recs.push_back(partition_record{name, partition_id{static_cast<std::int32_t>(p)}, *next});
        shutting_down_ = saved;
    }

    void move_leadership_away_locked(node_id id, std::vector<record>& recs) {
        for (const auto& [name, t] : image_.topics) {
            for (std::size_t p = 0; p < t.partitions.size(); ++p) {
                const auto& cur = t.partitions[p];
                const bool in_isr = std::find(cur.isr.begin(), cur.isr.end(), id) != cur.isr.end();
                if (cur.leader != id && !in_isr) continue;
                partition_state next = cur;
                if (cur.leader == id) {
                    const auto nl = choose_leader_locked(t, cur, id);
                    if (nl == node_id{-1}) continue; // nobody to take over: it leads until it goes
                    next.leader = nl;
                    next.leader_epoch = leader_epoch{cur.leader_epoch.value() + 1};
                }
                if (cur.isr.size() > 1) std::erase(next.isr, id);
                if (next.leader == cur.leader && next.isr == cur.isr) continue;
                next.partition_epoch = cur.partition_epoch + 1;
                recs.push_back(partition_record{name, partition_id{static_cast<std::int32_t>(p)}, next});
            }
        }
    }

    bool leads_anything_locked(node_id id) const {
        for (const auto& [name, t] : image_.topics)
            for (const auto& s : t.partitions)
                if (s.leader == id && s.isr.size() > 1) return true;
        return false;
    }

    // `id` came back: partitions without a leader whose ISR holds it (or, with unclean election,
    // any of its replicas) get it as leader.
    void elect_offline_locked(node_id id, std::vector<record>& recs) {
        for (const auto& [name, t] : image_.topics) {
            for (std::size_t p = 0; p < t.partitions.size(); ++p) {
                const auto& cur = t.partitions[p];
                if (cur.leader != node_id{-1}) continue;
                if (std::find(cur.replicas.begin(), cur.replicas.end(), id) == cur.replicas.end()) continue;
                partition_state next = cur;
                next.leader = choose_leader_locked(t, cur, node_id{-1});
                if (next.leader == node_id{-1} && unclean_allowed_locked(t)) {
                    next.leader = id;
                    next.isr = {id};
                }
                if (next.leader == node_id{-1}) continue;
                next.leader_epoch = leader_epoch{cur.leader_epoch.value() + 1};
                next.partition_epoch = cur.partition_epoch + 1;
                recs.push_back(partition_record{name, partition_id{static_cast<std::int32_t>(p)}, next});
            }
        }
    }

    Broker& b_;
    partition_type* log_;
    mutable std::mutex mu_;
    metadata_image image_;
    std::map<std::int32_t, std::int64_t> last_seen_; // steady ms of the last heartbeat
    std::set<std::int32_t> shutting_down_;
    node_id image_preview_unfence_{-1}; // counted alive while its unfence record is being built
    std::mt19937_64 rng_;
};

} // namespace gregor::cluster
