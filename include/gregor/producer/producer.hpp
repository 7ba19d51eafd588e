// gregor::producer<Policies>: what applications write against. Java producer semantics, Kafka
// property names and defaults (producer_config.hpp), compile-time policies (producer_policies.hpp).
//
//   gregor::broker<> b{broker_cfg};
//   using policies = gregor::producer_policies<gregor::transport::in_process<gregor::broker<>>>;
//   gregor::producer<policies> p{gregor::producer_config{}, gregor::transport::in_process{b}};
//   p.send({.topic = "orders", .key = "k1", .value = "v1"},
//          [](std::error_code ec, const gregor::record_metadata& md) { ... });
//   auto f = p.send({.topic = "orders", .value = "v2"}, gregor::use_future);
//   p.flush();
//
// The path of a record: serializers -> partitioner -> accumulator (encoded in place into its
// partition's record batch v2) -> batching policy says "ready" -> sender thread seals it (CRC,
// producer id/epoch/sequence), groups ready batches per broker, sends, retries, completes.
//
// Calls and their thread-safety:
//   send(record[, callback | use_future])   thread-safe. Copies the record into its batch before
//        returning (borrowed views need only live through the call). Waits only for buffer.memory,
//        at most max.block.ms, then fails with local_error::queue_full; never waits for metadata
//        or the network. Returns the enqueue result; the delivery outcome comes later.
//   try_send(...)                          thread-safe; as send() but fails at once when
//        buffer.memory is exhausted (queue_full).
//   flush([timeout])                       thread-safe; makes every batch ready and waits until
//        every record sent before the call completed (timed_out if the timeout passed first).
//   close([timeout])                       thread-safe, idempotent; rejects new records, sends
//        what is buffered, waits up to `timeout`, then fails what is left with local_error::closed
//        and stops the sender thread. The destructor calls close() (bounded by
//        delivery.timeout.ms, since every record completes by then).
//   metrics()                              thread-safe snapshot.
//
// Transactions (transactional.id set; docs/producer.md, "Transactions"; transactions.hpp has the
// state machine): init_transactions() once, then begin_transaction(), send()s,
// send_offsets_to_transaction() and commit_transaction() or abort_transaction(), as in Java. All
// are thread-safe and return std::error_code: local_error::invalid_state for a call the current
// state does not allow (Java's IllegalStateException), the Kafka error that made the transaction
// abortable or the producer fatal, or local_error::timed_out after max.block.ms (the operation
// goes on; calling the same method again waits for it). From a completion callback the blocking
// ones return local_error::invalid_argument, as flush() does. close() aborts an open transaction.
//
// Completions: every record accepted by send()/try_send() completes exactly once: its callback
// is invoked, or its future made ready, with the metadata (topic, partition, offset, timestamp)
// or an error (a Kafka error_code, or local_error::timed_out when delivery.timeout.ms passed,
// local_error::closed when close() gave up). They run on the producer's sender thread, in order
// per partition, and all of them have run when flush() or close() returns. A record rejected by
// send() itself (returned error) completes on the calling thread before send() returns.
// Callbacks must be quick and must not throw (an exception is swallowed); they may call send()
// (which then behaves as try_send(), since the sender thread must not wait for itself) but not
// flush() or close() (those return local_error::invalid_argument there).
#pragma once

#include <gregor/core/clock.hpp>
#include <gregor/core/error.hpp>
#include <gregor/producer/accumulator.hpp>
#include <gregor/producer/acks.hpp>
#include <gregor/producer/batching.hpp>
#include <gregor/producer/partitioner.hpp>
#include <gregor/producer/producer_config.hpp>
#include <gregor/producer/producer_policies.hpp>
#include <gregor/producer/record.hpp>
#include <gregor/producer/record_metadata.hpp>
#include <gregor/producer/sender.hpp>
#include <gregor/producer/stats.hpp>
#include <gregor/producer/transactions.hpp>
#include <gregor/producer/transport.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <stdexcept>
#if defined(__linux__)
#include <pthread.h>
#endif
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace gregor {

namespace producer_detail {
template <typename T>
T make_policy(const producer_config& c) {
    if constexpr (std::is_constructible_v<T, const producer_config&>)
        return T(c);
    else
        return T{};
}
template <typename A>
constexpr std::int16_t effective_acks(const producer_config& c) {
    if constexpr (std::is_same_v<A, acks::from_config>)
        return c.acks;
    else
        return static_cast<std::int16_t>(A::value);
}
struct no_completion {};

/// Record timestamps (wall-clock ms) without a clock read per record: with the system clock on
/// x86-64, the last reading is reused while the time-stamp counter says less than 100,000 cycles
/// passed (25-100 us for any TSC between 1 and 4 GHz), so a stamp is at most 0.1 ms late. A
/// counter that went backwards (another socket, a migrated VM) just forces a fresh reading. Any
/// other clock (a manual one in tests) is read every time.
template <typename Clock>
class timestamp_source {
public:
    std::int64_t now_ms(const Clock& c) noexcept {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
        if constexpr (std::is_same_v<Clock, system_clock>) {
            const std::uint64_t t = __builtin_ia32_rdtsc();
            if (t - tsc_.load(std::memory_order_acquire) < window_cycles) return ms_.load(std::memory_order_relaxed);
            const std::int64_t ms = c.wall_ms();
            ms_.store(ms, std::memory_order_relaxed);
            tsc_.store(t, std::memory_order_release);
            return ms;
        }
#endif
        return c.wall_ms();
    }

private:
    static constexpr std::uint64_t window_cycles = 100'000;
    std::atomic<std::uint64_t> tsc_{0};
    std::atomic<std::int64_t> ms_{0};
};
} // namespace producer_detail

template <typename Policies>
class producer {
    static_assert(producer_transport<typename Policies::transport>,
                  "gregor::producer: the transport policy must provide send(produce_request&&), "
                  "send(metadata_request&&), send(init_producer_id_request&&), "
                  "std::size_t poll(std::vector<gregor::transport_event>&, gregor::duration) and a thread-safe "
                  "wake() (see gregor/producer/transport.hpp)");
    static_assert(gregor::partitioner<typename Policies::partitioner>,
                  "gregor::producer: the partitioner policy must provide std::int32_t partition(const "
                  "gregor::partition_context&, topic_state&), where topic_state is its nested topic_state type "
                  "or gregor::partitioners::no_state");
    static_assert(batching_policy<typename Policies::batching>,
                  "gregor::producer: the batching policy must provide std::size_t batch_size() const and "
                  "gregor::time_point ready_at(const gregor::batch_info&) const");
    static_assert(acks_policy<typename Policies::acks>,
                  "gregor::producer: the acks policy must be gregor::acks::from_config or provide "
                  "static constexpr std::int16_t value (0, 1 or -1)");
    static_assert(serializer<typename Policies::key_serializer>,
                  "gregor::producer: the key_serializer policy must name a value_type and provide "
                  "serialize(const value_type&) returning a contiguous range of bytes");
    static_assert(serializer<typename Policies::value_serializer>,
                  "gregor::producer: the value_serializer policy must name a value_type and provide "
                  "serialize(const value_type&) returning a contiguous range of bytes");
    static_assert(gregor::clock<typename Policies::clock_type>,
                  "gregor::producer: the clock_type policy must provide time_point now() and "
                  "std::int64_t wall_ms()");

public:
    using policies = Policies;
    using transport_type = typename Policies::transport;
    using clock_type = typename Policies::clock_type;
    using key_serializer = typename Policies::key_serializer;
    using value_serializer = typename Policies::value_serializer;
    using key_type = typename key_serializer::value_type;
    using value_type = typename value_serializer::value_type;
    using record = basic_producer_record<key_type, value_type>;

    /// Validates the configuration (std::invalid_argument naming the keys; also when
    /// transactional.id is set and the transport cannot carry transactions) and starts the sender
    /// thread.
    explicit producer(producer_config cfg, transport_type transport, clock_type clk = clock_type{})
            : cfg_(checked(std::move(cfg))), acks_(producer_detail::effective_acks<typename Policies::acks>(cfg_)),
              idempotent_(cfg_.idempotence(acks_)), clock_(clk),
              key_ser_(producer_detail::make_policy<key_serializer>(cfg_)),
              value_ser_(producer_detail::make_policy<value_serializer>(cfg_)),
              acc_(cfg_, producer_detail::make_policy<typename Policies::partitioner>(cfg_),
                   producer_detail::make_policy<typename Policies::batching>(cfg_), clk, stats_),
              txn_(cfg_.transactional_id ? std::make_unique<txn_type>(acc_) : nullptr),
              sender_(cfg_, acks_, idempotent_, std::move(transport), acc_, clk, stats_, txn_.get()) {
        thread_ = std::thread([this] {
#if defined(__linux__)
            pthread_setname_np(pthread_self(), "gregor-producer");
#endif
            sender_.run();
        });
        sender_id_ = thread_.get_id();
    }

    producer(const producer&) = delete;
    producer& operator=(const producer&) = delete;
    ~producer() { (void)close(); }

    // ---- sending ---------------------------------------------------------------------------

    std::error_code send(const record& r) { return send_impl(r, producer_detail::no_completion{}, true); }
    template <delivery_callback F>
    std::error_code send(const record& r, F&& on_delivery) {
        return send_impl(r, std::forward<F>(on_delivery), true);
    }
    std::future<delivery_report> send(const record& r, use_future_t) { return future_impl(r, true); }

    std::error_code try_send(const record& r) { return send_impl(r, producer_detail::no_completion{}, false); }
    template <delivery_callback F>
    std::error_code try_send(const record& r, F&& on_delivery) {
        return send_impl(r, std::forward<F>(on_delivery), false);
    }
    std::future<delivery_report> try_send(const record& r, use_future_t) { return future_impl(r, false); }

    // ---- flush / close ---------------------------------------------------------------------

    std::error_code flush() { return flush(std::chrono::milliseconds::max()); }
    std::error_code flush(std::chrono::milliseconds timeout) {
        if (on_sender_thread()) return local_error::invalid_argument;
        bool wake = false;
        const auto ticket = acc_.begin_flush(wake);
        sender_.wake();
        const bool ok = acc_.wait_flushed(ticket, timeout);
        acc_.end_flush();
        if (!ok) return local_error::timed_out;
        return {};
    }

    std::error_code close() { return close(std::chrono::milliseconds::max()); }
    std::error_code close(std::chrono::milliseconds timeout) {
        if (on_sender_thread()) return local_error::invalid_argument;
        std::lock_guard lk(close_mu_);
        if (!thread_.joinable()) return close_result_;
        const auto started = std::chrono::steady_clock::now();
        if (txn_) {
            // As Java's close(): a transaction left open is aborted, not left to time out.
            const auto st = txn_->state();
            std::error_code ec;
            if (st == gregor::transaction_state::in_transaction || st == gregor::transaction_state::abortable_error)
                (void)txn_->start_abort(ec);
        }
        bool wake = false;
        acc_.begin_close(wake);
        sender_.wake();
        bool ok = acc_.wait_flushed(~std::uint64_t{0}, timeout);
        if (ok && txn_) {
            // The coordinator may not answer: what is left of the close's time, and never more
            // than max.block.ms, is given to the transactional requests still queued.
            auto left = std::chrono::milliseconds{cfg_.max_block_ms};
            if (timeout != std::chrono::milliseconds::max())
                left = std::min(left, std::chrono::duration_cast<std::chrono::milliseconds>(
                                          timeout - (std::chrono::steady_clock::now() - started)));
            ok = txn_->wait_all(std::max(left, std::chrono::milliseconds{0}));
        }
        if (!ok) {
            acc_.request_abort();
            sender_.wake();
        }
        thread_.join();
        close_result_ = ok ? std::error_code{} : make_error_code(local_error::timed_out);
        return close_result_;
    }

    // ---- transactions (transactional.id) ----------------------------------------------------

    /// Gets the producer id and epoch from the transaction coordinator (FindCoordinator first
    /// over TCP), fencing any earlier producer with the same transactional.id and aborting what it
    /// left open; retried on coordinator errors until max.block.ms. Once per producer.
    [[nodiscard]] std::error_code init_transactions() {
        return run_txn_op([this](std::error_code& ec) { return txn_->start_init(ec); });
    }

    /// Opens a transaction (local: the coordinator hears of it with its first partition or
    /// offsets). Only when ready (after init_transactions(), or a commit or abort).
    [[nodiscard]] std::error_code begin_transaction() {
        if (!txn_) return local_error::invalid_state;
        return txn_->begin();
    }

    /// Makes the consumed `offsets` of `group` part of the transaction: they become the group's
    /// committed offsets if and only if the transaction commits (AddOffsetsToTxn to the
    /// transaction coordinator, then TxnOffsetCommit to the group's coordinator). `group` is
    /// consumer::group_metadata(), or {group_id} for a consumer outside the group.
    [[nodiscard]] std::error_code send_offsets_to_transaction(std::vector<transaction_offset> offsets,
                                                              consumer_group_metadata group) {
        return run_txn_op([&](std::error_code& ec) {
            return txn_->start_send_offsets(std::move(offsets), std::move(group), ec);
        });
    }

    /// Sends everything buffered, and commits once every record of the transaction is acknowledged
    /// (EndTxn). If a record of the transaction failed, the commit fails with that error and the
    /// transaction must be aborted.
    [[nodiscard]] std::error_code commit_transaction() {
        return run_txn_op([this](std::error_code& ec) { return txn_->start_commit(ec); });
    }

    /// Drops the records not sent yet (their completions report local_error::purged), waits for
    /// those in flight and aborts the transaction. Allowed in a transaction and after an abortable
    /// error.
    [[nodiscard]] std::error_code abort_transaction() {
        return run_txn_op([this](std::error_code& ec) { return txn_->start_abort(ec); });
    }

    /// Where the transaction state machine is (uninitialized when not transactional).
    [[nodiscard]] gregor::transaction_state txn_state() const {
        return txn_ ? txn_->state() : gregor::transaction_state::uninitialized;
    }
    /// The error that made the transaction abortable or the producer fatal (none otherwise).
    [[nodiscard]] std::error_code txn_error() const { return txn_ ? txn_->last_error() : std::error_code{}; }
    [[nodiscard]] bool transactional() const noexcept { return txn_ != nullptr; }

    // ---- introspection ---------------------------------------------------------------------

    [[nodiscard]] producer_stats metrics() const { return stats_.snapshot(cfg_.buffer_memory); }
    [[nodiscard]] const producer_config& config() const noexcept { return cfg_; }
    /// The acks value in force (policy or config).
    [[nodiscard]] std::int16_t acks() const noexcept { return acks_; }
    /// Whether idempotence is on (enable.idempotence, or its default given acks and the rest).
    [[nodiscard]] bool idempotent() const noexcept { return idempotent_; }
    /// The transport, for its thread-safe parts only (the sender thread drives the rest).
    [[nodiscard]] transport_type& transport() noexcept { return sender_.transport(); }

    /// For tests that drive a manual clock: waits (real time) until the sender thread has
    /// finished a turn that started after this call and is about to sleep, and returns the time
    /// it will next act at by itself (time_point::max() if never). nullopt on real timeout.
    std::optional<time_point> wait_until_idle(std::chrono::milliseconds real_timeout = std::chrono::seconds{10}) {
        return sender_.wait_idle(real_timeout);
    }

private:
    using accumulator_type =
        producer_detail::accumulator<typename Policies::partitioner, typename Policies::batching, clock_type>;
    using sender_type = producer_detail::sender<transport_type, accumulator_type, clock_type>;
    using txn_type = producer_detail::txn_manager<accumulator_type>;

    static producer_config checked(producer_config c) {
        c.validate(producer_detail::effective_acks<typename Policies::acks>(c));
        if (c.transactional_id && !transactional_transport<transport_type>)
            throw std::invalid_argument("producer config: transactional.id is set, but the transport cannot carry "
                                        "transactional requests (see gregor::transactional_transport)");
        return c;
    }

    /// Starts a transactional operation (`start` returns it, or sets the error) and waits for it
    /// at most max.block.ms.
    template <typename Start>
    std::error_code run_txn_op(Start&& start) {
        if (!txn_) return local_error::invalid_state;
        if (on_sender_thread()) return local_error::invalid_argument;
        if (acc_.closed()) return local_error::closed; // nobody would do it
        std::error_code ec;
        auto op = start(ec);
        if (!op) return ec;
        sender_.wake();
        return txn_->wait(op, std::chrono::milliseconds{cfg_.max_block_ms});
    }

    bool on_sender_thread() const noexcept { return std::this_thread::get_id() == sender_id_; }

    template <typename C>
    std::error_code send_impl(const record& r, C&& c, bool block) {
        using kres_t = decltype(std::declval<const key_serializer&>().serialize(std::declval<const key_type&>()));
        using vres_t = decltype(std::declval<const value_serializer&>().serialize(std::declval<const value_type&>()));
        std::optional<kres_t> kres;
        std::optional<vres_t> vres;
        producer_detail::record_in in;
        in.topic = r.topic;
        in.partition = r.partition;
        if (r.key) {
            kres.emplace(key_ser_.serialize(*r.key));
            in.key = producer_detail::as_payload(*kres);
        }
        if (r.value) {
            vres.emplace(value_ser_.serialize(*r.value));
            in.value = producer_detail::as_payload(*vres);
        }
        in.headers = r.headers;
        in.timestamp = r.timestamp >= 0 ? r.timestamp : stamps_.now_ms(clock_);

        producer_detail::completion comp;
        if constexpr (!std::is_same_v<std::remove_cvref_t<C>, producer_detail::no_completion>)
            comp = producer_detail::completion(std::forward<C>(c));
        if (block && on_sender_thread()) block = false;
        bool wake = false;
        const std::error_code ec =
            r.timestamp >= -1 ? acc_.append(in, comp, block, wake) : make_error_code(local_error::invalid_argument);
        if (wake) sender_.wake();
        if (ec) {
            if (txn_) txn_->note_send_error(ec);
            producer_detail::stats_counters::add(stats_.records_rejected);
            producer_detail::stats_counters::add(stats_.records_failed);
            if (comp) {
                record_metadata md{r.topic,
                                   r.partition.value_or(partition_id{-1}),
                                   offset{-1},
                                   in.timestamp,
                                   in.key ? static_cast<std::int32_t>(in.key->size()) : -1,
                                   in.value ? static_cast<std::int32_t>(in.value->size()) : -1};
                comp(ec, md);
            }
        }
        return ec;
    }

    std::future<delivery_report> future_impl(const record& r, bool block) {
        producer_detail::promise_completion pc;
        auto f = pc.promise.get_future();
        (void)send_impl(r, std::move(pc), block);
        return f;
    }

    producer_detail::stats_counters stats_;
    const producer_config cfg_;
    const std::int16_t acks_;
    const bool idempotent_;
    clock_type clock_;
    producer_detail::timestamp_source<clock_type> stamps_;
    key_serializer key_ser_;
    value_serializer value_ser_;
    accumulator_type acc_;
    std::unique_ptr<txn_type> txn_; // transactional.id set
    sender_type sender_;
    std::thread thread_;
    std::thread::id sender_id_;
    std::mutex close_mu_;
    std::error_code close_result_;
};

} // namespace gregor
