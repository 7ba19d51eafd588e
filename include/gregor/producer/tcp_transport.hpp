// transport::tcp: the producer's transport to any Kafka broker over TCP -- a gregor-broker, Apache
// Kafka, librdkafka's mock cluster. The same producer that runs against an in-process broker runs
// against a cluster by swapping this in:
//
//   gregor::producer_config cfg;
//   cfg.bootstrap_servers = "127.0.0.1:9092";
//   gregor::producer<gregor::producer_policies<gregor::transport::tcp>> p{cfg, gregor::transport::tcp{cfg}};
//
// It is a thin adapter over gregor's one Kafka client (client/cluster.hpp, docs/client.md), which
// does the connections: one per broker, ApiVersions first (v3 with fallback, docs/protocol.md §1.4,
// §3.1), then the highest version both sides implement, capped by spoken_versions() below;
// pipelining; request timeouts (an answer older than request.timeout.ms closes its connection, as
// Java's NetworkClient does); reconnects after reconnect.backoff.ms doubling to
// reconnect.backoff.max.ms with jitter; every request answered exactly once. What is left here:
//   - Metadata and InitProducerId go to the least loaded broker; Produce goes to the broker the
//     producer names (the partition's leader from the last Metadata). Metadata answers also feed
//     the client's broker list, so that a leader's connection exists before its first Produce.
//   - Transactions (transactional.id): InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn and
//     EndTxn go to the transaction coordinator, TxnOffsetCommit to the group's coordinator, each
//     found with FindCoordinator (key type 1 or 0) and cached by the client until an answer or a
//     lost connection says it moved (docs/protocol.md §7.2, §15.1). Produce carries the
//     transactional id. A coordinator that cannot be found is answered with FindCoordinator's
//     error (COORDINATOR_NOT_AVAILABLE and the like), which the producer retries.
//   - The producer bounds requests in flight itself (max.in.flight.requests.per.connection), so
//     the client layer is left unbounded and a Produce to a ready connection is written at once.
//   - Produce with acks=0 expects no answer (one that comes anyway -- the 2.0.2 mock sends them --
//     is skipped by the connection).
//   - Anything that did not get an answer (connection refused or lost, unparsable answer, timeout)
//     is answered NETWORK_EXCEPTION, which the producer retries after refreshing metadata (its
//     sequence numbers make that safe with idempotence); a version the broker lacks,
//     UNSUPPORTED_VERSION; a destination no Metadata named, LEADER_NOT_AVAILABLE.
//
// Batch bytes: a Produce to a connection that writes at once is encoded straight from the
// producer's batches (one copy, into the frame). One that has to wait (the connection is coming
// up) gets its own copy of the batches, so the producer may free a batch it gave up on at
// request.timeout.ms while the request still waits.
//
// Threads: all I/O runs on the producer's sender thread, inside poll() (the client's event loop
// driven with run_once); send() only queues or writes without blocking. wake() is thread-safe.
#pragma once

#include <gregor/client/cluster.hpp>
#include <gregor/core/buffer.hpp>
#include <gregor/core/clock.hpp>
#include <gregor/core/error.hpp>
#include <gregor/core/strong_types.hpp>
#include <gregor/producer/producer_config.hpp>
#include <gregor/producer/transport.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/header.hpp>
#include <gregor/wire/messages/add_offsets_to_txn.hpp>
#include <gregor/wire/messages/add_partitions_to_txn.hpp>
#include <gregor/wire/messages/end_txn.hpp>
#include <gregor/wire/messages/find_coordinator.hpp>
#include <gregor/wire/messages/init_producer_id.hpp>
#include <gregor/wire/messages/metadata.hpp>
#include <gregor/wire/messages/produce.hpp>
#include <gregor/wire/messages/txn_offset_commit.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace gregor::transport {

/// What a tcp transport has done so far; safe to read from any thread.
struct tcp_counters {
    std::atomic<std::uint64_t> connects{0};         // connections opened (attempts that got through)
    std::atomic<std::uint64_t> connect_failures{0}; // refused, unreachable, setup timeout
    std::atomic<std::uint64_t> disconnects{0};      // connections lost after they were up
    std::atomic<std::uint64_t> api_versions_requests{0};
    std::atomic<std::uint64_t> requests_written{0}; // Produce, Metadata, InitProducerId, FindCoordinator, txn
    std::atomic<std::int16_t> produce_version{-1};  // last negotiated versions
    std::atomic<std::int16_t> metadata_version{-1};
    std::atomic<std::int16_t> init_producer_id_version{-1};
    std::atomic<std::int16_t> api_versions_version{-1};
};

class tcp {
public:
    /// Reads bootstrap.servers, client.id, request.timeout.ms, reconnect.backoff(.max).ms,
    /// socket.connection.setup.timeout.ms, send/receive.buffer.bytes and allow.auto.create.topics.
    /// Throws std::invalid_argument when bootstrap.servers is empty or malformed. Connects lazily.
    explicit tcp(const producer_config& cfg) : d_(std::make_unique<impl>(cfg)) {}

    /// The versions this transport negotiates per API: the codec's range (wire/api.hpp) capped
    /// at the highest version its requests and answer handling were written for, so that codecs
    /// growing newer versions do not change what it sends.
    template <wire::kafka_api Api>
    static constexpr wire::version_range spoken_versions() noexcept {
        std::int16_t cap = -1;
        if constexpr (std::same_as<Api, wire::api_versions_api>)
            cap = 3;
        else if constexpr (std::same_as<Api, wire::metadata_api>)
            cap = 6;
        else if constexpr (std::same_as<Api, wire::produce_api>)
            cap = 7;
        else if constexpr (std::same_as<Api, wire::init_producer_id_api>)
            cap = 4;
        // v4+ of AddPartitionsToTxn is the broker-to-coordinator form; later versions of the
        // others may answer TRANSACTION_ABORTABLE (KIP-890), which this producer does not expect.
        else if constexpr (std::same_as<Api, wire::add_partitions_to_txn_api> ||
                           std::same_as<Api, wire::add_offsets_to_txn_api> || std::same_as<Api, wire::end_txn_api> ||
                           std::same_as<Api, wire::txn_offset_commit_api>)
            cap = 3;
        return {Api::min_version, std::min(Api::max_version, cap)};
    }

    void send(produce_request&& r) { d_->send_produce(std::move(r)); }
    void send(metadata_request&& m) { d_->send_metadata(std::move(m)); }
    void send(init_producer_id_request&& i) { d_->send_init_producer_id(std::move(i)); }
    void send(add_partitions_to_txn_request&& r) { d_->send_add_partitions(std::move(r)); }
    void send(add_offsets_to_txn_request&& r) { d_->send_add_offsets(std::move(r)); }
    void send(end_txn_request&& r) { d_->send_end_txn(std::move(r)); }
    void send(txn_offset_commit_request&& r) { d_->send_txn_offset_commit(std::move(r)); }

    std::size_t poll(std::vector<transport_event>& out, duration max_wait) { return d_->poll(out, max_wait); }

    /// Runs the sockets until every request handed over so far is written (or its connection
    /// failed), for at most `max_wait`. The producer calls it once on its way out of close():
    /// acks=0 records complete when handed over, so this is what keeps close() from dropping them.
    void drain(duration max_wait) {
        d_->client.drain(std::chrono::duration_cast<client::clock::duration>(max_wait));
        d_->ready.clear(); // nobody will read these answers any more
    }

    void wake() { d_->client.wake(); }

    [[nodiscard]] const tcp_counters& counters() const noexcept {
        d_->update_counters();
        return d_->counters;
    }

private:
    /// A Produce's batches when the request has to wait for its connection (see the header).
    struct owned_batches {
        std::vector<byte_buffer> bytes;
    };

    struct impl {
        explicit impl(const producer_config& cfg)
                : allow_auto_create(cfg.allow_auto_create_topics), transactional_id(cfg.transactional_id),
                  client(config_of(cfg)) {}

        static client::cluster_config config_of(const producer_config& cfg) {
            client::cluster_config c;
            c.bootstrap_servers = cfg.bootstrap_servers;
            c.connection.client_id = cfg.client_id;
            c.connection.request_timeout = std::chrono::milliseconds(cfg.request_timeout_ms);
            c.connection.reconnect_backoff = std::chrono::milliseconds(cfg.reconnect_backoff_ms);
            c.connection.reconnect_backoff_max =
                std::chrono::milliseconds(std::max(cfg.reconnect_backoff_max_ms, cfg.reconnect_backoff_ms));
            c.connection.max_in_flight = 0; // the producer bounds itself
            c.connection.socket.connection_setup_timeout_ms = cfg.socket_connection_setup_timeout_ms;
            c.connection.socket.socket_send_buffer_bytes = cfg.send_buffer_bytes;
            c.connection.socket.socket_receive_buffer_bytes = cfg.receive_buffer_bytes;
            c.metadata_max_version = spoken_versions<wire::metadata_api>().max;
            return c;
        }

        /// What a failure without an answer becomes for the producer.
        static error_code answer_error(const std::error_code& ec) {
            if (ec == make_error_code(error_code::unsupported_version)) return error_code::unsupported_version;
            if (ec == make_error_code(error_code::broker_not_available)) return error_code::leader_not_available;
            return error_code::network_exception;
        }

        void send_produce(produce_request&& r) {
            const auto dest = client::destination::node(r.destination.value());
            if (r.destination.value() < 0 || client.connection_to(r.destination.value()) == nullptr) {
                // No such broker in the last metadata (a leaderless partition, or metadata older
                // than a broker that left): the producer refreshes and retries.
                return answer_produce(r.correlation_id, r.acks, r.batches.size(), error_code::leader_not_available);
            }
            std::shared_ptr<owned_batches> owned;
            if (!client.ready(dest)) {
                owned = std::make_shared<owned_batches>();
                owned->bytes.reserve(r.batches.size());
                for (const auto& b : r.batches) owned->bytes.emplace_back(bytes_view(b.batch));
            }
            wire::produce::request req;
            if (transactional_id) req.transactional_id = std::string_view(*transactional_id);
            req.acks = r.acks;
            req.timeout_ms = r.timeout_ms;
            std::vector<std::pair<std::string_view, partition_id>> order;
            order.reserve(r.batches.size());
            for (std::size_t i = 0; i < r.batches.size(); ++i) {
                const auto& b = r.batches[i];
                auto t = std::find_if(req.topics.begin(), req.topics.end(),
                                      [&](const wire::produce::topic_data& td) { return td.name == b.topic; });
                if (t == req.topics.end()) {
                    req.topics.push_back({b.topic, {}});
                    t = std::prev(req.topics.end());
                }
                wire::produce::partition_data pd;
                pd.partition_index = b.partition;
                pd.records = owned ? owned->bytes[i].view() : bytes_view(b.batch);
                t->partitions.push_back(pd);
                order.emplace_back(b.topic, b.partition);
            }
            const auto corr = r.correlation_id;
            const auto acks = r.acks;
            client.send(
                dest, std::move(req),
                [this, corr, acks, owned, order = std::move(order)](client::reply<wire::produce::response>& rep) {
                    if (acks == 0) return; // completes when written; nobody waits for it
                    if (rep.error) return answer_produce(corr, acks, order.size(), answer_error(rep.error));
                    counters.produce_version.store(rep.version, std::memory_order_relaxed);
                    produce_response pr;
                    pr.correlation_id = corr;
                    pr.results.reserve(order.size());
                    for (const auto& [topic, part] : order) {
                        produce_response::partition_result res;
                        res.error = error_code::network_exception; // not in the answer: retried
                        for (const auto& t : rep.body->responses) {
                            if (t.name != topic) continue;
                            for (const auto& p : t.partitions) {
                                if (p.partition_index != part) continue;
                                res.error = p.error_code;
                                res.base_offset = p.base_offset;
                                res.log_append_time_ms = p.log_append_time_ms;
                                res.log_start_offset = p.log_start_offset;
                            }
                        }
                        pr.results.push_back(res);
                    }
                    ready.emplace_back(std::move(pr));
                },
                {.max_version = spoken_versions<wire::produce_api>().max, .expects_response = acks != 0});
        }

        void send_metadata(metadata_request&& m) {
            auto topic = std::make_shared<std::string>(std::move(m.topic));
            wire::metadata::request req;
            req.topics.emplace();
            req.topics->push_back({*topic, {}});
            req.allow_auto_topic_creation = allow_auto_create;
            const auto corr = m.correlation_id;
            client.send(client::destination::any(), std::move(req),
                        [this, corr, topic](client::reply<wire::metadata::response>& rep) {
                            if (rep.error) {
                                ready.emplace_back(metadata_response{corr, *topic, answer_error(rep.error), {}});
                                return;
                            }
                            counters.metadata_version.store(rep.version, std::memory_order_relaxed);
                            // Brokers (and moved addresses) reach the client's connection table.
                            client.update_metadata(*rep.body, false);
                            metadata_response out;
                            out.correlation_id = corr;
                            out.topic = *topic;
                            out.error = error_code::unknown_topic_or_partition;
                            for (const auto& t : rep.body->topics) {
                                if (t.name != *topic) continue;
                                out.error = t.error_code;
                                if (t.error_code != error_code::none) break;
                                std::int32_t n = 0;
                                for (const auto& p : t.partitions) n = std::max(n, p.partition_index.value() + 1);
                                out.leaders.assign(static_cast<std::size_t>(n), node_id{-1});
                                for (const auto& p : t.partitions)
                                    if (p.partition_index.value() >= 0)
                                        out.leaders[static_cast<std::size_t>(p.partition_index.value())] = p.leader_id;
                                if (out.leaders.empty()) out.error = error_code::leader_not_available;
                                break;
                            }
                            ready.emplace_back(std::move(out));
                        },
                        {.max_version = spoken_versions<wire::metadata_api>().max});
        }

        void send_init_producer_id(init_producer_id_request&& i) {
            auto tid = std::make_shared<std::optional<std::string>>(std::move(i.transactional_id));
            wire::init_producer_id::request req;
            if (*tid) req.transactional_id = std::string_view(**tid);
            req.transaction_timeout_ms = i.transaction_timeout_ms;
            req.producer_id = i.expected_id;
            req.producer_epoch = i.expected_epoch;
            const auto corr = i.correlation_id;
            // An idempotent producer's id comes from any broker; a transactional one's from its
            // transaction coordinator (docs/protocol.md §15.1).
            const auto dest = *tid ? txn_coordinator(**tid) : client::destination::any();
            client.send(dest, std::move(req),
                        [this, corr, tid](client::reply<wire::init_producer_id::response>& rep) {
                            init_producer_id_response out{corr, error_code::network_exception, producer_id{-1},
                                                          producer_epoch{-1}};
                            if (rep.error) {
                                out.error = *tid ? coordinator_error(rep.error) : answer_error(rep.error);
                            } else if (const auto* b = rep.body ? &*rep.body : nullptr) {
                                counters.init_producer_id_version.store(rep.version, std::memory_order_relaxed);
                                out.error = b->error_code;
                                out.id = b->producer_id;
                                out.epoch = b->producer_epoch;
                            }
                            if (*tid) coordinator_answered(wire::find_coordinator::coordinator_type::transaction, **tid,
                                                           out.error);
                            ready.emplace_back(out);
                        },
                        {.max_version = spoken_versions<wire::init_producer_id_api>().max});
        }

        // ---- transactions ----

        static client::destination txn_coordinator(const std::string& txn_id) {
            return client::destination::coordinator_of(wire::find_coordinator::coordinator_type::transaction, txn_id);
        }

        /// A request to a coordinator that got no answer: FindCoordinator's own error when the
        /// lookup failed (the client reports it as a Kafka code), else as answer_error().
        static error_code coordinator_error(const std::error_code& ec) {
            if (ec.category() == kafka_category()) return static_cast<error_code>(ec.value());
            return answer_error(ec);
        }

        /// After an answer saying the coordinator moved, or none at all, the next request to it
        /// looks it up again.
        void coordinator_answered(wire::find_coordinator::coordinator_type type, const std::string& key, error_code e) {
            switch (e) {
            case error_code::not_coordinator:
            case error_code::coordinator_not_available:
            case error_code::network_exception:
            case error_code::request_timed_out:
            case error_code::leader_not_available:
            case error_code::broker_not_available: client.invalidate_coordinator(type, key); break;
            default: break;
            }
        }

        void send_add_partitions(add_partitions_to_txn_request&& r) {
            auto held = std::make_shared<add_partitions_to_txn_request>(std::move(r));
            wire::add_partitions_to_txn::request req;
            req.v3_and_below_transactional_id = held->transactional_id;
            req.v3_and_below_producer_id = held->id;
            req.v3_and_below_producer_epoch = held->epoch;
            for (const auto& p : held->partitions) {
                auto t = std::find_if(req.v3_and_below_topics.begin(), req.v3_and_below_topics.end(),
                                      [&](const wire::add_partitions_to_txn::topic& x) { return x.name == p.topic; });
                if (t == req.v3_and_below_topics.end()) {
                    req.v3_and_below_topics.push_back({p.topic, {}});
                    t = std::prev(req.v3_and_below_topics.end());
                }
                t->partitions.push_back(p.partition);
            }
            client.send(
                txn_coordinator(held->transactional_id), std::move(req),
                [this, held](client::reply<wire::add_partitions_to_txn::response>& rep) {
                    add_partitions_to_txn_response out{held->correlation_id, {}};
                    out.errors.assign(held->partitions.size(), error_code::network_exception);
                    if (rep.error) {
                        std::fill(out.errors.begin(), out.errors.end(), coordinator_error(rep.error));
                    } else {
                        for (std::size_t i = 0; i < held->partitions.size(); ++i) {
                            const auto& p = held->partitions[i];
                            for (const auto& t : rep.body->results_by_topic_v3_and_below) {
                                if (t.name != p.topic) continue;
                                for (const auto& pr : t.results_by_partition)
                                    if (pr.partition_index == p.partition) out.errors[i] = pr.partition_error_code;
                            }
                        }
                    }
                    for (const auto e : out.errors)
                        coordinator_answered(wire::find_coordinator::coordinator_type::transaction,
                                             held->transactional_id, e);
                    ready.emplace_back(std::move(out));
                },
                {.max_version = spoken_versions<wire::add_partitions_to_txn_api>().max});
        }

        void send_add_offsets(add_offsets_to_txn_request&& r) {
            auto held = std::make_shared<add_offsets_to_txn_request>(std::move(r));
            wire::add_offsets_to_txn::request req;
            req.transactional_id = held->transactional_id;
            req.producer_id = held->id;
            req.producer_epoch = held->epoch;
            req.group_id = held->group_id;
            client.send(
                txn_coordinator(held->transactional_id), std::move(req),
                [this, held](client::reply<wire::add_offsets_to_txn::response>& rep) {
                    const error_code e = rep.error ? coordinator_error(rep.error) : rep.body->error_code;
                    coordinator_answered(wire::find_coordinator::coordinator_type::transaction, held->transactional_id,
                                         e);
                    ready.emplace_back(add_offsets_to_txn_response{held->correlation_id, e});
                },
                {.max_version = spoken_versions<wire::add_offsets_to_txn_api>().max});
        }

        void send_end_txn(end_txn_request&& r) {
            auto held = std::make_shared<end_txn_request>(std::move(r));
            wire::end_txn::request req;
            req.transactional_id = held->transactional_id;
            req.producer_id = held->id;
            req.producer_epoch = held->epoch;
            req.committed = held->commit;
            client.send(
                txn_coordinator(held->transactional_id), std::move(req),
                [this, held](client::reply<wire::end_txn::response>& rep) {
                    const error_code e = rep.error ? coordinator_error(rep.error) : rep.body->error_code;
                    coordinator_answered(wire::find_coordinator::coordinator_type::transaction, held->transactional_id,
                                         e);
                    ready.emplace_back(end_txn_response{held->correlation_id, e});
                },
                {.max_version = spoken_versions<wire::end_txn_api>().max});
        }

        void send_txn_offset_commit(txn_offset_commit_request&& r) {
            auto held = std::make_shared<txn_offset_commit_request>(std::move(r));
            wire::txn_offset_commit::request req;
            req.transactional_id = held->transactional_id;
            req.group_id = held->group.group_id;
            req.producer_id = held->id;
            req.producer_epoch = held->epoch;
            // v3+ (KIP-447): the coordinator fences offsets from a member that left the generation.
            req.generation_id = held->group.generation_id;
            req.member_id = held->group.member_id;
            if (held->group.group_instance_id) req.group_instance_id = std::string_view(*held->group.group_instance_id);
            for (const auto& o : held->offsets) {
                auto t = std::find_if(req.topics.begin(), req.topics.end(),
                                      [&](const wire::txn_offset_commit::request_topic& x) { return x.name == o.topic; });
                if (t == req.topics.end()) {
                    req.topics.push_back({o.topic, {}});
                    t = std::prev(req.topics.end());
                }
                wire::txn_offset_commit::request_partition p;
                p.partition_index = o.partition;
                p.committed_offset = o.next;
                p.committed_leader_epoch = leader_epoch{o.leader_epoch};
                if (o.metadata) p.committed_metadata = std::string_view(*o.metadata);
                t->partitions.push_back(p);
            }
            const auto group = held->group.group_id;
            client.send(
                client::destination::coordinator_of(wire::find_coordinator::coordinator_type::group, group),
                std::move(req),
                [this, held](client::reply<wire::txn_offset_commit::response>& rep) {
                    txn_offset_commit_response out{held->correlation_id, {}};
                    out.errors.assign(held->offsets.size(), error_code::network_exception);
                    if (rep.error) {
                        std::fill(out.errors.begin(), out.errors.end(), coordinator_error(rep.error));
                    } else {
                        for (std::size_t i = 0; i < held->offsets.size(); ++i) {
                            const auto& o = held->offsets[i];
                            for (const auto& t : rep.body->topics) {
                                if (t.name != o.topic) continue;
                                for (const auto& pr : t.partitions)
                                    if (pr.partition_index == o.partition) out.errors[i] = pr.error_code;
                            }
                        }
                    }
                    for (const auto e : out.errors)
                        coordinator_answered(wire::find_coordinator::coordinator_type::group, held->group.group_id, e);
                    ready.emplace_back(std::move(out));
                },
                {.max_version = spoken_versions<wire::txn_offset_commit_api>().max});
        }

        void answer_produce(std::uint64_t correlation_id, std::int16_t acks, std::size_t n, error_code e) {
            if (acks == 0) return;
            produce_response pr;
            pr.correlation_id = correlation_id;
            pr.results.assign(n, produce_response::partition_result{e, offset{-1}, -1, offset{-1}});
            ready.emplace_back(std::move(pr));
        }

        std::size_t poll(std::vector<transport_event>& out, duration max_wait) {
            const std::size_t start = out.size();
            const auto deadline = client::clock::now() + std::chrono::duration_cast<client::clock::duration>(max_wait);
            for (;;) {
                const auto now = client::clock::now();
                const auto ran =
                    client.poll(ready.empty() && now < deadline ? deadline - now : client::clock::duration::zero());
                for (auto& e : ready) out.push_back(std::move(e));
                ready.clear();
                // No completion means woken or out of time; a completion without an event (acks=0)
                // keeps waiting.
                if (out.size() > start || ran == 0 || client::clock::now() >= deadline) break;
            }
            update_counters();
            return out.size() - start;
        }

        void update_counters() const {
            const auto& s = client.stats();
            counters.connects.store(s.connects.load(std::memory_order_relaxed), std::memory_order_relaxed);
            counters.connect_failures.store(s.connect_failures.load(std::memory_order_relaxed),
                                            std::memory_order_relaxed);
            counters.disconnects.store(s.disconnects.load(std::memory_order_relaxed), std::memory_order_relaxed);
            counters.api_versions_requests.store(s.api_versions_requests.load(std::memory_order_relaxed),
                                                 std::memory_order_relaxed);
            counters.requests_written.store(s.requests_written.load(std::memory_order_relaxed),
                                            std::memory_order_relaxed);
            counters.api_versions_version.store(s.api_versions_version.load(std::memory_order_relaxed),
                                                std::memory_order_relaxed);
        }

        bool allow_auto_create;
        std::optional<std::string> transactional_id; // sent with every Produce
        std::vector<transport_event> ready;
        mutable tcp_counters counters;
        // Last, so it goes first: destroying it completes what is still open, and those
        // completions write to `ready` and `counters`.
        client::cluster client;
    };

    std::unique_ptr<impl> d_;
};

} // namespace gregor::transport
