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
// which is the embedded surface of gregor::broker<...>.
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
        std::optional<std::string_view> tid;
        if (i.transactional_id) tid = *i.transactional_id;
        const auto r = broker_->init_producer_id(tid, i.transaction_timeout_ms);
        push(init_producer_id_response{i.correlation_id, r.error, r.id, r.epoch});
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

    Broker* broker_;
    options opts_;
    std::shared_ptr<queue> q_; // shared with answers still on their way when the transport goes
};

} // namespace gregor::transport
