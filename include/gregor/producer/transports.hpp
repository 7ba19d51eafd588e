// transport::in_process<Broker>: the producer talks to a broker object in the same process by a
// direct call. No sockets, no request encoding: each sealed batch is handed to
// Broker::produce() as it is (a mutable view, patched in place by the broker, when the broker
// accepts views; otherwise a copy), and the answer is queued for the producer's next poll().
// When the broker offers produce_async (gregor::broker does), the sender thread never waits for
// an answer: the append happens in the call, and the answer (acks=all: when the high watermark
// covers it; fsync before ack: when the flushed offset does) is queued by whichever thread the
// partition's offset monitor calls back on, waking the sender's poll().
//
// The producer never includes broker headers: Broker is any type with (duck-typed, thread-safe,
// synchronous)
//   produce(std::string_view topic, partition_id, mutable_bytes_view | byte_buffer batch,
//           std::int16_t acks, ...) -> { error, base_offset, log_append_time_ms, log_start_offset }
//   describe_topic(std::string_view topic, bool allow_auto_create) -> { error, partition_count }
//   init_producer_id(std::optional<std::string_view> transactional_id, std::int32_t timeout_ms)
//       -> { error, id, epoch }
// which is the embedded surface of gregor::broker<...>. A broker that also has transactions()
// and groups() (gregor::broker does) makes the transport a transactional_transport: InitProducerId
// with a transactional id, AddPartitionsToTxn, AddOffsetsToTxn and EndTxn go to its transaction
// coordinator and TxnOffsetCommit to its group coordinator, asynchronously (their answers are
// queued like the others), with the same checks the Kafka handlers make.
//
//   gregor::broker<> b{cfg};
//   gregor::producer<gregor::producer_policies<>> p{{}, gregor::transport::in_process{b}};
//
// Thread-safety: as the transport concept (transport.hpp) demands: send()/poll() from the
// producer's sender thread, wake() from any thread. The broker is called on the sender thread.
#pragma once

#include <gregor/core/buffer.hpp>
#include <gregor/producer/transport.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gregor::transport {

template <typename Broker>
class in_process {
public:
    struct options {
        /// Ask the broker to create unknown topics (its auto.create.topics.enable still applies).
        bool allow_auto_create_topics = true;
        /// Tell the broker it may skip the per-record walk of batches this producer built (it still
        /// checks the CRC). Only used when the broker offers that switch.
        bool trusted_batches = true;
        /// The node id reported as every partition's leader.
        node_id node{0};
    };

    /// Whether the broker has the coordinators transactions need (transactions(), groups()).
    static constexpr bool has_txn = requires(Broker & b) {
        b.transactions();
        b.groups();
    };

    explicit in_process(Broker& b) : in_process(b, options{}) {}
    in_process(Broker& b, options o) : broker_(&b), opts_(o), q_(std::make_shared<queue>()) {}

    void send(produce_request&& r) {
        if constexpr (has_async) {
            if (r.acks != 0) return send_async(std::move(r));
        }
        produce_response resp;
        resp.correlation_id = r.correlation_id;
        resp.results.reserve(r.batches.size());
        for (auto& pb : r.batches) {
            const auto res = produce_one(pb, r.acks, r.timeout_ms);
            resp.results.push_back({res.error, res.base_offset, res.log_append_time_ms, res.log_start_offset});
        }
        if (r.acks != 0) push(std::move(resp));
    }

    void send(metadata_request&& m) {
        const auto info = broker_->describe_topic(m.topic, opts_.allow_auto_create_topics);
        metadata_response resp;
        resp.correlation_id = m.correlation_id;
        resp.topic = std::move(m.topic);
        resp.error = info.error;
        if (info.error == error_code::none)
            resp.leaders.assign(static_cast<std::size_t>(info.partition_count > 0 ? info.partition_count : 0),
                                opts_.node);
        push(std::move(resp));
    }

    void send(init_producer_id_request&& i) {
        if constexpr (has_txn) {
            if (i.transactional_id) {
                broker_->transactions().init_producer_id(
                        *i.transactional_id, i.transaction_timeout_ms, i.expected_id, i.expected_epoch,
                        [q = q_, corr = i.correlation_id](auto r) {
                            q->push_notify(init_producer_id_response{corr, r.error, r.id, r.epoch});
                        });
                return;
            }
        }
        std::optional<std::string_view> tid;
        if (i.transactional_id) tid = *i.transactional_id;
        const auto r = broker_->init_producer_id(tid, i.transaction_timeout_ms);
        push(init_producer_id_response{i.correlation_id, r.error, r.id, r.epoch});
    }

    // ---- transactions (a broker with transactions() and groups()) ----

    void send(add_partitions_to_txn_request&& r)
        requires has_txn
    {
        const auto n = r.partitions.size();
        // As the Kafka handler: unknown partitions are named, the others not attempted.
        std::vector<error_code> unknown(n, error_code::none);
        bool any_unknown = false;
        for (std::size_t i = 0; i < n; ++i) {
            if (partition_known(r.partitions[i].topic, r.partitions[i].partition)) continue;
            unknown[i] = error_code::unknown_topic_or_partition;
            any_unknown = true;
        }
        if (any_unknown) {
            for (auto& e : unknown)
                if (e == error_code::none) e = error_code::operation_not_attempted;
            return push_notify(add_partitions_to_txn_response{r.correlation_id, std::move(unknown)});
        }
        broker_->transactions().add_partitions(
                r.transactional_id, r.id, r.epoch, partitions_arg{&r.partitions},
                [q = q_, corr = r.correlation_id, n](auto e) {
                    q->push_notify(add_partitions_to_txn_response{corr, std::vector<error_code>(n, e)});
                });
    }

    void send(add_offsets_to_txn_request&& r)
        requires has_txn
    {
        // As the Kafka handler, which refuses an empty group id before asking the coordinator.
        if (r.group_id.empty())
            return push_notify(add_offsets_to_txn_response{r.correlation_id, error_code::invalid_group_id});
        broker_->transactions().add_offsets(
                r.transactional_id, r.id, r.epoch, r.group_id,
                [q = q_, corr = r.correlation_id](auto e) { q->push_notify(add_offsets_to_txn_response{corr, e}); });
    }

    void send(end_txn_request&& r)
        requires has_txn
    {
        broker_->transactions().end_txn(
                r.transactional_id, r.id, r.epoch, r.commit,
                [q = q_, corr = r.correlation_id](auto e) { q->push_notify(end_txn_response{corr, e}); });
    }

    void send(txn_offset_commit_request&& r)
        requires has_txn
    {
        const auto n = r.offsets.size();
        std::vector<bool> unknown(n);
        for (std::size_t i = 0; i < n; ++i) unknown[i] = !partition_known(r.offsets[i].topic, r.offsets[i].partition);
        broker_->groups().txn_commit(txn_commit_arg{&r, &unknown}, [q = q_, corr = r.correlation_id, n](auto parts) {
            txn_offset_commit_response out{corr, std::vector<error_code>(n, error_code::unknown_server_error)};
            for (std::size_t i = 0; i < n && i < parts.size(); ++i) out.errors[i] = parts[i].error;
            q->push_notify(std::move(out));
        });
    }

    std::size_t poll(std::vector<transport_event>& out, duration max_wait) {
        std::unique_lock lk(q_->mu);
        if (q_->events.empty() && !q_->woken && max_wait > duration::zero())
            q_->cv.wait_for(lk, max_wait, [&] { return !q_->events.empty() || q_->woken; });
        q_->woken = false;
        const auto n = q_->events.size();
        for (auto& e : q_->events) out.push_back(std::move(e));
        q_->events.clear();
        return n;
    }

    void wake() {
        {
            std::lock_guard lk(q_->mu);
            q_->woken = true;
        }
        q_->cv.notify_one();
    }

    [[nodiscard]] Broker& broker() const noexcept { return *broker_; }

private:
    // The coordinators take their own request types, which this header does not include (the
    // producer never includes broker headers): these convert into whatever type the parameter
    // is, filling it by the field names the coordinators use (txn::topic_partition,
    // groups::txn_commit_request).
    struct partitions_arg {
        const std::vector<txn_partition>* parts;
        template <typename Vector>
        operator Vector() const {
            Vector v;
            for (const auto& p : *parts) v.push_back({p.topic, p.partition.value()});
            return v;
        }
    };
    struct txn_commit_arg {
        const txn_offset_commit_request* r;
        const std::vector<bool>* unknown; // per offset: its partition does not exist
        template <typename Request>
        operator Request() const {
            Request out;
            out.transactional_id = r->transactional_id;
            out.pid = r->id;
            out.epoch = r->epoch;
            out.commit.group_id = r->group.group_id;
            out.commit.generation_id = r->group.generation_id;
            out.commit.member_id = r->group.member_id;
            out.commit.group_instance_id = r->group.group_instance_id;
            for (std::size_t i = 0; i < r->offsets.size(); ++i) {
                const auto& o = r->offsets[i];
                typename decltype(out.commit.partitions)::value_type p;
                p.topic = o.topic;
                p.partition = o.partition.value();
                p.offset = o.next.value();
                p.leader_epoch = o.leader_epoch;
                p.metadata = o.metadata;
                if ((*unknown)[i]) p.error = error_code::unknown_topic_or_partition;
                out.commit.partitions.push_back(std::move(p));
            }
            return out;
        }
    };

    bool partition_known(const std::string& topic, partition_id p) const {
        const auto info = broker_->describe_topic(topic, false);
        return info.error == error_code::none && p.value() >= 0 && p.value() < info.partition_count;
    }

    static constexpr bool has_async = requires(Broker & b, produce_request::partition_batch& pb) {
        b.produce_async(pb.topic, pb.partition, pb.batch, std::int16_t{1}, std::chrono::milliseconds{1}, true,
                        [](auto) {});
    };

    // One request's answers, completed from any thread; the last one queues the response.
    struct pending {
        std::mutex mu;
        produce_response resp;
        std::size_t remaining = 1; // batches still waiting, plus the request itself
    };

    void send_async(produce_request&& r) {
        auto st = std::make_shared<pending>();
        st->resp.correlation_id = r.correlation_id;
        st->resp.results.resize(r.batches.size());
        st->remaining += r.batches.size();
        const auto finish = [q = q_](const std::shared_ptr<pending>& p) {
            {
                std::lock_guard lk(p->mu);
                if (--p->remaining != 0) return;
            }
            {
                std::lock_guard lk(q->mu);
                q->events.push_back(std::move(p->resp));
            }
            q->cv.notify_one();
        };
        for (std::size_t i = 0; i < r.batches.size(); ++i) {
            auto& pb = r.batches[i];
            broker_->produce_async(pb.topic, pb.partition, pb.batch, r.acks, std::chrono::milliseconds{r.timeout_ms},
                                   !opts_.trusted_batches, [st, i, finish](auto res) {
                                       {
                                           std::lock_guard lk(st->mu);
                                           st->resp.results[i] = {res.error, res.base_offset, res.log_append_time_ms,
                                                                  res.log_start_offset};
                                       }
                                       finish(st);
                                   });
        }
        finish(st);
    }

    struct queue {
        std::mutex mu;
        std::condition_variable cv;
        std::vector<transport_event> events;
        bool woken = false;

        /// From any thread (the coordinators answer on the thread that made their record durable).
        void push_notify(transport_event e) {
            {
                std::lock_guard lk(mu);
                events.push_back(std::move(e));
            }
            cv.notify_one();
        }
    };

    auto produce_one(produce_request::partition_batch& pb, std::int16_t acks, std::int32_t timeout_ms) {
        if constexpr (requires {
                          broker_->produce(pb.topic, pb.partition, pb.batch, acks, std::nullopt,
                                           std::chrono::milliseconds{timeout_ms}, true);
                      }) {
            return broker_->produce(pb.topic, pb.partition, pb.batch, acks, std::nullopt,
                                    std::chrono::milliseconds{timeout_ms}, !opts_.trusted_batches);
        } else if constexpr (requires { broker_->produce(pb.topic, pb.partition, pb.batch, acks); }) {
            return broker_->produce(pb.topic, pb.partition, pb.batch, acks);
        } else {
            return broker_->produce(pb.topic, pb.partition, byte_buffer(bytes_view(pb.batch)), acks);
        }
    }

    void push(transport_event e) {
        std::lock_guard lk(q_->mu);
        q_->events.push_back(std::move(e));
    }
    void push_notify(transport_event e) { q_->push_notify(std::move(e)); }

    Broker* broker_;
    options opts_;
    std::shared_ptr<queue> q_; // shared with answers still on their way when the transport goes
};

} // namespace gregor::transport
