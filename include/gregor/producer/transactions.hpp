// A transactional producer's state machine (Java's TransactionManager): which call is allowed
// when, which error ends a transaction (abortable) and which ends the producer (fatal). The
// producer's transactional calls (producer.hpp) go through it on the application's threads; the
// sender thread (sender.hpp) does the network part of each queued operation and reports back.
//
// States and calls (docs/producer.md, "Transactions"):
//
//   uninitialized --init_transactions()--> initializing --InitProducerId answered--> ready
//   ready --begin_transaction()--> in_transaction
//   in_transaction --commit_transaction()--> committing --EndTxn(commit) answered--> ready
//   in_transaction | abortable_error --abort_transaction()--> aborting --EndTxn(abort)--> ready
//   in_transaction | committing --a send or request failed--> abortable_error
//   any --fenced, not authorised, state out of sync--> fatal_error (every later call fails)
//
// send() is accepted in in_transaction only; in any other state the accumulator refuses the
// record (local_error::invalid_state, or the error that made the transaction abortable or the
// producer fatal). The refusal is set under the accumulator's lock, so a record is either in the
// accumulator before a commit or abort starts, and then part of it, or refused.
//
// Operations that need the network (init, send_offsets, commit, abort) are queued and done in
// order by the sender; the caller waits at most max.block.ms. A commit, abort or init that timed
// out goes on in the background, and calling the same method again waits for that same
// operation, as in Java; another one of the three meanwhile is local_error::invalid_state.
//
// Thread-safety: every public member is thread-safe. Lock order: this object's mutex, then the
// accumulator's.
#pragma once

#include <gregor/core/consumer_group_metadata.hpp>
#include <gregor/core/error.hpp>
#include <gregor/producer/transport.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace gregor {

enum class transaction_state : std::uint8_t {
    uninitialized,   // transactional, init_transactions() not called yet
    initializing,    // InitProducerId on its way
    ready,           // may begin a transaction
    in_transaction,  // sends are part of the open transaction
    committing,      // flushing, then EndTxn(commit)
    aborting,        // dropping unsent records, then EndTxn(abort)
    abortable_error, // a send or request failed: only abort_transaction() helps
    fatal_error,     // fenced or refused for good: only close() helps
};

constexpr std::string_view to_string(transaction_state s) noexcept {
    switch (s) {
    case transaction_state::uninitialized: return "uninitialized";
    case transaction_state::initializing: return "initializing";
    case transaction_state::ready: return "ready";
    case transaction_state::in_transaction: return "in_transaction";
    case transaction_state::committing: return "committing";
    case transaction_state::aborting: return "aborting";
    case transaction_state::abortable_error: return "abortable_error";
    case transaction_state::fatal_error: return "fatal_error";
    }
    return "unknown";
}

/// Errors after which a transactional producer cannot go on (Java: ProducerFencedException,
/// TransactionalIdAuthorizationException, ClusterAuthorizationException, UnsupportedVersion, and
/// INVALID_TXN_STATE from the coordinator). INVALID_PRODUCER_EPOCH is PRODUCER_FENCED as old
/// versions spell it (docs/protocol.md §7.2, §15.12). Every other error during a transaction
/// only makes it abortable.
constexpr bool fatal_transaction_error(error_code e) noexcept {
    switch (e) {
    case error_code::producer_fenced:
    case error_code::invalid_producer_epoch:
    case error_code::transactional_id_authorization_failed:
    case error_code::cluster_authorization_failed:
    case error_code::unsupported_version:
    case error_code::invalid_txn_state: return true;
    default: return false;
    }
}

inline bool fatal_transaction_error(const std::error_code& ec) noexcept {
    return ec.category() == kafka_category() && fatal_transaction_error(static_cast<error_code>(ec.value()));
}

namespace producer_detail {

/// Coordinator answers a transactional request is simply sent again for (after a backoff; the
/// transport looks the coordinator up again after NOT_COORDINATOR and the like). CONCURRENT_
/// TRANSACTIONS is the coordinator still writing the previous transaction's markers;
/// OPERATION_NOT_ATTEMPTED a partition held back because another one of the request failed.
constexpr bool txn_retriable(error_code e) noexcept {
    return retriable(e) || e == error_code::operation_not_attempted || e == error_code::broker_not_available;
}

template <typename Accumulator>
class txn_manager {
public:
    enum class op_kind : std::uint8_t { init, send_offsets, commit, abort };

    /// One queued operation; `done` and `result` are guarded by the manager's mutex.
    struct op {
        std::uint64_t id = 0; // in queueing order, from 1
        op_kind kind = op_kind::init;
        std::vector<transaction_offset> offsets; // send_offsets
        consumer_group_metadata group;           // send_offsets
        bool done = false;
        std::error_code result;
    };
    using op_ptr = std::shared_ptr<op>;

    explicit txn_manager(Accumulator& acc) : acc_(&acc) { acc_->set_refusal(make_error_code(local_error::invalid_state)); }

    txn_manager(const txn_manager&) = delete;
    txn_manager& operator=(const txn_manager&) = delete;

    // ---- application side ------------------------------------------------------------------

    /// Queues InitProducerId (or returns the one still pending, or an error).
    op_ptr start_init(std::error_code& ec) {
        std::lock_guard lk(mu_);
        if (state_ == transaction_state::fatal_error) return refuse(ec, last_error_);
        if (auto p = resume(op_kind::init, ec)) return p;
        if (ec) return nullptr;
        if (state_ != transaction_state::uninitialized) return refuse(ec, local_error::invalid_state);
        state_ = transaction_state::initializing;
        return enqueue(op_kind::init, true);
    }

    /// Local only, as in Java: the coordinator hears of the transaction with its first partition.
    std::error_code begin() {
        std::lock_guard lk(mu_);
        if (in_error()) return last_error_;
        if (state_ != transaction_state::ready) return local_error::invalid_state;
        if (blocking_ && blocking_->done) blocking_.reset();
        set_state(transaction_state::in_transaction);
        return {};
    }

    op_ptr start_send_offsets(std::vector<transaction_offset> offsets, consumer_group_metadata group,
                              std::error_code& ec) {
        std::lock_guard lk(mu_);
        if (in_error()) return refuse(ec, last_error_);
        if (state_ != transaction_state::in_transaction) return refuse(ec, local_error::invalid_state);
        if (group.group_id.empty()) return refuse(ec, local_error::invalid_argument);
        auto p = enqueue(op_kind::send_offsets, false);
        p->offsets = std::move(offsets);
        p->group = std::move(group);
        return p;
    }

    /// Queues the commit. The caller then makes every buffered batch ready (the sender sends
    /// EndTxn once they have all completed).
    op_ptr start_commit(std::error_code& ec) {
        std::lock_guard lk(mu_);
        if (state_ == transaction_state::fatal_error) return refuse(ec, last_error_);
        if (auto p = resume(op_kind::commit, ec)) return p;
        if (ec) return nullptr;
        // Java: "cannot commit transaction since at least one of the previous sends failed".
        if (state_ == transaction_state::abortable_error) return refuse(ec, last_error_);
        if (state_ != transaction_state::in_transaction) return refuse(ec, local_error::invalid_state);
        set_state(transaction_state::committing);
        return enqueue(op_kind::commit, true);
    }

    op_ptr start_abort(std::error_code& ec) {
        std::lock_guard lk(mu_);
        if (state_ == transaction_state::fatal_error) return refuse(ec, last_error_);
        if (auto p = resume(op_kind::abort, ec)) return p;
        if (ec) return nullptr;
        if (state_ != transaction_state::in_transaction && state_ != transaction_state::abortable_error)
            return refuse(ec, local_error::invalid_state);
        set_state(transaction_state::aborting);
        return enqueue(op_kind::abort, true);
    }

    /// Waits (real time) until `p` is done; its result, or local_error::timed_out.
    std::error_code wait(const op_ptr& p, std::chrono::milliseconds timeout) {
        std::unique_lock lk(mu_);
        const auto pred = [&] { return p->done; };
        if (timeout == std::chrono::milliseconds::max())
            done_cv_.wait(lk, pred);
        else if (!done_cv_.wait_for(lk, timeout, pred))
            return local_error::timed_out;
        if (blocking_ == p) blocking_.reset();
        return p->result;
    }

    /// Waits (real time) until no operation is queued; false on timeout.
    bool wait_all(std::chrono::milliseconds timeout) {
        std::unique_lock lk(mu_);
        return done_cv_.wait_for(lk, timeout, [&] { return ops_.empty(); });
    }

    /// send() had a record refused by the accumulator or the partitioner: as in Java, an error
    /// of the record itself (too large, no buffer memory) makes the transaction abortable.
    void note_send_error(const std::error_code& ec) {
        // Not: the refusal itself, a closed producer, or a call that was wrong (a partition out
        // of range), which Java throws without touching the transaction either.
        if (ec == local_error::invalid_state || ec == local_error::closed || ec == local_error::invalid_argument) return;
        fail(ec, fail_mode::automatic);
    }

    [[nodiscard]] transaction_state state() const {
        std::lock_guard lk(mu_);
        return state_;
    }
    [[nodiscard]] std::error_code last_error() const {
        std::lock_guard lk(mu_);
        return last_error_;
    }

    // ---- sender side -----------------------------------------------------------------------

    enum class fail_mode : std::uint8_t {
        automatic, // fatal if fatal_transaction_error, else abortable when a transaction is open
        abortable, // abortable whatever the state (a failed EndTxn(abort) may be retried)
        fatal,     // fatal whatever the error (InitProducerId refused)
    };

    /// The operation the sender works on (nullptr: none).
    [[nodiscard]] op_ptr front() const {
        std::lock_guard lk(mu_);
        return ops_.empty() ? nullptr : ops_.front();
    }
    [[nodiscard]] bool idle() const {
        std::lock_guard lk(mu_);
        return ops_.empty();
    }

    /// Completes the front operation; `next` is the state it leaves the producer in, if it
    /// changes one.
    void complete_front(std::error_code ec, std::optional<transaction_state> next = std::nullopt) {
        std::lock_guard lk(mu_);
        if (next) set_state(*next);
        if (ops_.empty()) return;
        finish_locked(ops_.front(), ec);
        ops_.pop_front();
        done_cv_.notify_all();
    }

    /// Completes every queued operation with `ec` (close, or the producer turned fatal).
    void fail_all(std::error_code ec) {
        std::lock_guard lk(mu_);
        for (auto& p : ops_) finish_locked(p, ec);
        ops_.clear();
        done_cv_.notify_all();
    }

    /// A batch, a record or a coordinator request failed with `ec`.
    void fail(std::error_code ec, fail_mode mode) {
        std::lock_guard lk(mu_);
        if (state_ == transaction_state::fatal_error) return;
        const bool fatal = mode == fail_mode::fatal || (mode == fail_mode::automatic && fatal_transaction_error(ec));
        if (fatal) {
            // Fenced is one condition whichever version of which API reported it.
            last_error_ = ec == make_error_code(error_code::invalid_producer_epoch)
                              ? make_error_code(error_code::producer_fenced)
                              : ec;
            set_state(transaction_state::fatal_error);
            return;
        }
        if (mode == fail_mode::automatic && state_ != transaction_state::in_transaction &&
            state_ != transaction_state::committing)
            return; // aborting drops everything anyway; outside a transaction nothing is at stake
        last_error_ = ec;
        set_state(transaction_state::abortable_error);
    }

private:
    bool in_error() const noexcept {
        return state_ == transaction_state::fatal_error || state_ == transaction_state::abortable_error;
    }

    op_ptr refuse(std::error_code& ec, std::error_code why) {
        ec = why;
        return nullptr;
    }

    /// A blocking operation the caller gave up waiting for: the same call waits for it again,
    /// another one is refused until it is done.
    op_ptr resume(op_kind kind, std::error_code& ec) {
        if (!blocking_) return nullptr;
        if (blocking_->kind == kind) return blocking_;
        if (!blocking_->done) {
            ec = local_error::invalid_state;
            return nullptr;
        }
        blocking_.reset();
        return nullptr;
    }

    op_ptr enqueue(op_kind kind, bool blocking) {
        auto p = std::make_shared<op>();
        p->id = ++last_id_;
        p->kind = kind;
        ops_.push_back(p);
        if (blocking) blocking_ = p;
        return p;
    }

    static void finish_locked(const op_ptr& p, std::error_code ec) {
        p->done = true;
        p->result = ec;
    }

    void set_state(transaction_state s) {
        state_ = s;
        std::error_code refusal;
        if (s == transaction_state::fatal_error || s == transaction_state::abortable_error)
            refusal = last_error_;
        else if (s != transaction_state::in_transaction)
            refusal = local_error::invalid_state;
        acc_->set_refusal(refusal);
    }

    Accumulator* acc_;
    mutable std::mutex mu_;
    std::condition_variable done_cv_;
    transaction_state state_ = transaction_state::uninitialized;
    std::error_code last_error_;
    std::deque<op_ptr> ops_;
    op_ptr blocking_; // the last init/commit/abort the application started
    std::uint64_t last_id_ = 0;
};

} // namespace producer_detail
} // namespace gregor
