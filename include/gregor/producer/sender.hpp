// The sender: the producer's event loop, on a thread the producer owns. Each turn it
//   1. applies the transport's answers (completing, retrying or failing batches),
//   2. gives up on requests older than request.timeout.ms (as if answered REQUEST_TIMED_OUT),
//   3. takes the ready batches from the accumulator,
//   4. fails batches older than delivery.timeout.ms (queued or in flight),
//   5. asks for metadata and the idempotent producer id where needed, bumps epochs,
//   6. with transactional.id, works on the queued transactional operation (transactions.hpp) and
//      adds new partitions to the transaction,
//   7. sends: per destination broker, one request takes at most one batch per partition (up to
//      max.request.size), and at most max.in.flight.requests.per.connection are outstanding,
//   8. runs the completions of finished batches, then releases their memory,
// and sleeps in the transport's poll() until the next deadline or a wake-up. All work here is per
// batch; the per-record work is the completion callbacks themselves.
//
// Ordering: a partition's batches are sent, and resent, in creation order; a batch waiting for
// its retry backoff holds back the later ones of its partition (as Java does), so with
// max.in.flight=1 order survives retries. With idempotence the rules of idempotence.hpp apply.
//
// Transactions (docs/producer.md, "Transactions"; docs/protocol.md §7.2, §15): a partition's
// batches are held back until the coordinator confirmed the partition in the current transaction.
// Partitions that need it are collected as their batches come up and added with one
// AddPartitionsToTxn at a time (the ones that came up meanwhile go in the next). Batches are sealed
// with the transactional attribute. A commit sends EndTxn once every batch completed; an abort
// first fails every batch not in flight (local_error::purged) and waits for those that are. A
// failed batch makes the transaction abortable, or the producer fatal (fenced); in those states
// unsent batches are failed with that error instead of being sent. A batch that failed after it was
// given a sequence leaves the broker's sequence for its partition unknown, so the abort that follows
// bumps the epoch (InitProducerId with the current id and epoch, KIP-360), which restarts every
// partition's sequences.
//
// Thread-safety: run() is the sender thread; wake() and wait_idle() are thread-safe.
#pragma once

#include <gregor/compression/codec.hpp>
#include <gregor/core/clock.hpp>
#include <gregor/core/error.hpp>
#include <gregor/producer/accumulator.hpp>
#include <gregor/producer/idempotence.hpp>
#include <gregor/producer/producer_config.hpp>
#include <gregor/producer/stats.hpp>
#include <gregor/producer/transactions.hpp>
#include <gregor/producer/transport.hpp>
#include <gregor/wire/record_batch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace gregor::producer_detail {

template <typename Transport, typename Accumulator, typename Clock>
class sender {
public:
    using txn_type = txn_manager<Accumulator>;

    /// `txn`: the transaction state machine when transactional.id is set (else nullptr).
    sender(const producer_config& cfg, std::int16_t acks, bool idempotent, Transport t, Accumulator& acc, Clock clk,
           stats_counters& stats, txn_type* txn = nullptr)
            : transport_(std::move(t)), acc_(&acc), clock_(clk), stats_(&stats), txn_(txn),
              txn_id_(cfg.transactional_id.value_or("")), txn_timeout_ms_(cfg.transaction_timeout_ms),
              acks_(acks), idempotent_(idempotent),
              max_in_flight_(cfg.max_in_flight_requests_per_connection), retries_(cfg.retries),
              max_request_size_(static_cast<std::size_t>(cfg.max_request_size)),
              request_timeout_ms_(cfg.request_timeout_ms),
              request_timeout_(std::chrono::milliseconds{cfg.request_timeout_ms}),
              delivery_timeout_(std::chrono::milliseconds{cfg.delivery_timeout_ms}),
              backoff_(std::chrono::milliseconds{cfg.retry_backoff_ms}),
              backoff_max_(std::chrono::milliseconds{cfg.retry_backoff_max_ms}),
              metadata_max_age_(std::chrono::milliseconds{std::max<std::int64_t>(cfg.metadata_max_age_ms, 1)}),
              codec_(compression::parse(cfg.compression_type).value_or(compression::codec::none)),
              level_(codec_ == compression::codec::gzip  ? cfg.compression_gzip_level
                     : codec_ == compression::codec::lz4 ? cfg.compression_lz4_level
                                                         : cfg.compression_zstd_level),
              rng_(std::random_device{}()) {
        if (txn_) acc.set_txn_number(txn_number_);
    }

    sender(const sender&) = delete;
    sender& operator=(const sender&) = delete;

    [[nodiscard]] Transport& transport() noexcept { return transport_; }
    void wake() { transport_.wake(); }

    /// Waits (real time) until the loop has run a full turn that started after this call and is
    /// about to sleep; returns the time it plans to wake up at (nullopt on timeout). For tests
    /// that drive a manual clock.
    std::optional<time_point> wait_idle(duration real_timeout) {
        const auto started = turn_.load(std::memory_order_acquire);
        wake();
        std::unique_lock lk(idle_mu_);
        if (!idle_cv_.wait_for(lk, real_timeout, [&] { return idle_turn_ > started || exited_; })) return std::nullopt;
        return idle_next_;
    }

    /// The event loop; returns when the producer is closed and every batch completed (or was
    /// aborted).
    void run() {
        for (;;) {
            turn_.fetch_add(1, std::memory_order_acq_rel);
            const time_point now = clock_.now();
            for (auto& e : events_) std::visit([&](auto& ev) { on_event(ev, now); }, e);
            events_.clear();
            check_timeouts(now);
            finish();

            got_.clear();
            wanted_.clear();
            fresh_.clear();
            const collect_result cr = acc_->collect(now, got_, wanted_, txn_ ? &fresh_ : nullptr);
            for (partition_entry* pe : got_) activate(*pe);
            // A partition joins the transaction as its first batch opens, so the coordinator's
            // answer usually arrives before the batch is ready (Java does the same).
            for (partition_entry* pe : fresh_)
                if (pe->txn_added != txn_number_) want_added(*pe);
            for (topic_entry* t : wanted_) want_metadata(*t);
            if (cr.abort) {
                abort_everything();
                finish();
                break;
            }
            if (now >= next_expiry_) expire(now);
            if (now >= next_metadata_refresh_) refresh_old_metadata(now);
            send_metadata(now);
            send_init_producer_id(now);
            run_bumps(now);
            drive_transaction(now);
            send_produce(now);
            send_txn_adds(now); // the partitions send_produce() found unconfirmed
            finish();
            if (cr.closing && acc_->empty() && (!txn_ || txn_->idle())) {
                // acks=0 records completed when their request was handed over; a network
                // transport may still hold those bytes: let it write them before the producer goes.
                if constexpr (requires { transport_.drain(duration{}); }) transport_.drain(request_timeout_);
                break;
            }

            const time_point next = std::min(cr.next_ready, next_deadline(now));
            if (more_to_send_ || !acc_->set_sleep(next)) {
                transport_.poll(events_, duration::zero());
                continue;
            }
            const time_point t = clock_.now();
            duration wait =
                next <= t ? duration::zero() : (next == time_point::max() ? duration{std::chrono::hours{1}} : next - t);
            if constexpr (!std::is_same_v<Clock, system_clock>)
                wait = std::min<duration>(wait, std::chrono::milliseconds{1});
            if (wait > duration::zero()) {
                std::lock_guard lk(idle_mu_);
                idle_turn_ = turn_.load(std::memory_order_acquire);
                idle_next_ = next;
                idle_cv_.notify_all();
            }
            transport_.poll(events_, wait);
        }
        if (txn_) txn_->fail_all(local_error::closed);
        end_txn_flush();
        std::lock_guard lk(idle_mu_);
        exited_ = true;
        idle_cv_.notify_all();
    }

private:
    struct slot {
        producer_batch* batch; // null once the batch expired while the request was out
        partition_entry* part;
    };
    struct inflight_request {
        std::uint64_t id;
        node_id node;
        time_point deadline;
        std::vector<slot> slots;
    };
    struct building {
        node_id node;
        produce_request req;
        std::vector<slot> slots;
        std::size_t bytes = 0;
    };
    struct metadata_inflight {
        std::uint64_t id;
        topic_entry* topic;
    };

    // ---- answers ---------------------------------------------------------------------------

    void on_event(produce_response& r, time_point now) {
        auto it =
            std::find_if(inflight_.begin(), inflight_.end(), [&](const auto& q) { return q.id == r.correlation_id; });
        if (it == inflight_.end()) return; // given up on already
        inflight_request req = std::move(*it);
        inflight_.erase(it);
        node_done(req.node);
        for (std::size_t i = 0; i < req.slots.size(); ++i) {
            auto [b, pe] = req.slots[i];
            --pe->outstanding;
            if (!b || b->request != req.id) continue;
            b->request = 0;
            produce_response::partition_result res;
            if (i < r.results.size())
                res = r.results[i];
            else
                res.error = error_code::network_exception;
            on_result(*b, *pe, res, now);
        }
    }

    void on_event(metadata_response& m, time_point now) {
        auto it = std::find_if(meta_inflight_.begin(), meta_inflight_.end(),
                               [&](const auto& q) { return q.id == m.correlation_id; });
        if (it == meta_inflight_.end()) return;
        topic_entry* t = it->topic;
        meta_inflight_.erase(it);
        t->metadata_request = 0;
        if (m.error == error_code::none && !m.leaders.empty()) {
            t->metadata_attempts = 0;
            t->metadata_time = now;
            if (!t->metadata_known) {
                t->metadata_known = true;
                known_topics_.push_back(t);
            }
            next_metadata_refresh_ = std::min(next_metadata_refresh_, now + metadata_max_age_);
            failed_records_.clear();
            acc_->apply_metadata(*t, m.leaders, failed_records_);
            for (auto& [rc, ec] : failed_records_) {
                record_metadata md{t->name, partition_id{-1}, offset{-1}, rc.timestamp, rc.key_size, rc.value_size};
                stats_counters::add(stats_->records_failed);
                if (txn_) txn_->fail(ec, txn_type::fail_mode::automatic);
                invoke(rc.fn, ec, md);
            }
            failed_records_.clear();
            return;
        }
        const error_code e = m.error == error_code::none ? error_code::leader_not_available : m.error;
        if (e == error_code::invalid_topic_exception || e == error_code::topic_authorization_failed) {
            std::vector<std::unique_ptr<producer_batch>> failed;
            acc_->fail_topic(*t, e, failed);
            for (auto& b : failed) done_detached(std::move(b), e);
            return;
        }
        t->metadata_retry_at = now + backoff(++t->metadata_attempts);
        want_metadata(*t);
    }

    void on_event(init_producer_id_response& r, time_point now) {
        if (txn_) return on_txn_init(r, now);
        if (r.correlation_id != pid_request_) return;
        pid_request_ = 0;
        if (r.error != error_code::none || r.id.value() < 0) {
            pid_retry_at_ = now + backoff(++pid_attempts_);
            return;
        }
        pid_attempts_ = 0;
        pid_ = r.id;
        epoch_ = r.epoch;
        need_fresh_pid_ = false;
        for (partition_entry* pe : active_) {
            if (pe->seq.awaiting_pid) {
                pe->seq.reset(pid_, epoch_);
                renumber(*pe, now);
            }
        }
    }

    void on_result(producer_batch& b, partition_entry& pe, const produce_response::partition_result& res,
                   time_point now) {
        if (res.error == error_code::none || res.error == error_code::duplicate_sequence_number) {
            if (b.epoch == pe.seq.epoch && b.pid == pe.seq.pid) pe.seq.confirmed = true;
            complete(b, pe, {}, res.error == error_code::none ? res.base_offset : offset{-1}, res.log_append_time_ms);
            return;
        }
        stats_counters::add(stats_->errors);
        if (needs_metadata_refresh(res.error)) want_metadata(*pe.topic);
        const bool oldest = !pe.owned.empty() && pe.owned.front().get() == &b;
        const bool may_retry = acks_ != 0 && b.attempts <= retries_;
        switch (classify_answer(res.error, idempotent_, oldest, may_retry)) {
        case answer_action::complete: complete(b, pe, {}, res.base_offset, res.log_append_time_ms); break;
        case answer_action::retry: b.retry_at = now + backoff(b.attempts); break;
        case answer_action::bump_then_retry:
            // A transactional producer bumps through the coordinator, after the abort this
            // failure makes necessary (KIP-360), not on its own.
            if (txn_) {
                complete(b, pe, res.error, offset{-1}, -1);
                break;
            }
            pe.seq.needs_bump = true;
            b.retry_at = now;
            break;
        case answer_action::fail: complete(b, pe, res.error, offset{-1}, -1); break;
        }
    }

    // ---- timeouts --------------------------------------------------------------------------

    void check_timeouts(time_point now) {
        for (std::size_t i = 0; i < inflight_.size();) {
            if (inflight_[i].deadline > now) {
                ++i;
                continue;
            }
            inflight_request req = std::move(inflight_[i]);
            inflight_.erase(inflight_.begin() + static_cast<std::ptrdiff_t>(i));
            node_done(req.node);
            stats_counters::add(stats_->request_timeouts);
            produce_response::partition_result res;
            res.error = error_code::request_timed_out;
            for (auto [b, pe] : req.slots) {
                --pe->outstanding;
                if (!b || b->request != req.id) continue;
                b->request = 0;
                on_result(*b, *pe, res, now);
            }
        }
        for (std::size_t i = 0; i < meta_inflight_.size();) {
            topic_entry* t = meta_inflight_[i].topic;
            if (t->metadata_deadline > now) {
                ++i;
                continue;
            }
            meta_inflight_.erase(meta_inflight_.begin() + static_cast<std::ptrdiff_t>(i));
            t->metadata_request = 0;
            t->metadata_retry_at = now + backoff(++t->metadata_attempts);
            want_metadata(*t);
        }
        if (pid_request_ && pid_deadline_ <= now) {
            pid_request_ = 0;
            pid_retry_at_ = now + backoff(++pid_attempts_);
        }
        // A transactional request without an answer is sent again (the same request is harmless
        // twice: the coordinator answers a repeated one as it did the first).
        if (txn_req_ && txn_deadline_ <= now) {
            stats_counters::add(stats_->request_timeouts);
            txn_req_ = 0;
            txn_retry_at_ = now + backoff(++txn_attempts_);
        }
        if (add_req_ && add_deadline_ <= now) {
            stats_counters::add(stats_->request_timeouts);
            add_req_ = 0;
            for (partition_entry* pe : add_parts_) txn_pending_adds_.push_back(pe);
            add_parts_.clear();
            add_retry_at_ = now + backoff(++add_attempts_);
        }
    }

    void expire(time_point now) {
        expired_.clear();
        owned_expired_.clear();
        next_expiry_ = acc_->expire(now, delivery_timeout_, expired_, owned_expired_);
        // Nothing incomplete: whatever comes next expires no earlier than this.
        if (next_expiry_ == time_point::max()) next_expiry_ = now + delivery_timeout_;
        for (producer_batch* b : owned_expired_) {
            partition_entry& pe = *b->part;
            if (b->request) {
                for (auto& q : inflight_)
                    if (q.id == b->request)
                        for (auto& s : q.slots)
                            if (s.batch == b) s.batch = nullptr;
                b->request = 0;
            }
            auto up = take_owned(pe, b);
            if (!up) continue; // completed in this turn already
            stats_counters::add(stats_->batches_expired);
            done_detached(std::move(up), local_error::timed_out);
        }
        for (auto& up : expired_) {
            stats_counters::add(stats_->batches_expired);
            done_detached(std::move(up), local_error::timed_out);
        }
        expired_.clear();
    }

    /// metadata.max.age.ms: leaders move without telling producers that are not failing.
    void refresh_old_metadata(time_point now) {
        next_metadata_refresh_ = time_point::max();
        for (topic_entry* t : known_topics_) {
            const time_point due = t->metadata_time + metadata_max_age_;
            if (due <= now) {
                t->metadata_time = now; // asked for; the answer (or its retries) sets it again
                want_metadata(*t);
                next_metadata_refresh_ = std::min(next_metadata_refresh_, now + metadata_max_age_);
            } else {
                next_metadata_refresh_ = std::min(next_metadata_refresh_, due);
            }
        }
    }

    // ---- requests --------------------------------------------------------------------------

    void want_metadata(topic_entry& t) {
        if (t.refresh_wanted) return;
        t.refresh_wanted = true;
        meta_pending_.push_back(&t);
    }

    void send_metadata(time_point now) {
        for (std::size_t i = 0; i < meta_pending_.size();) {
            topic_entry* t = meta_pending_[i];
            if (t->metadata_request || t->metadata_retry_at > now) {
                ++i;
                continue;
            }
            meta_pending_.erase(meta_pending_.begin() + static_cast<std::ptrdiff_t>(i));
            t->refresh_wanted = false;
            t->metadata_request = ++correlation_;
            t->metadata_deadline = now + request_timeout_;
            meta_inflight_.push_back({t->metadata_request, t});
            stats_counters::add(stats_->metadata_requests);
            transport_.send(metadata_request{t->metadata_request, t->name});
        }
    }

    void send_init_producer_id(time_point now) {
        // A transactional producer gets its id from init_transactions() (drive_transaction).
        if (!idempotent_ || txn_ || pid_request_ || (pid_.value() >= 0 && !need_fresh_pid_) || pid_retry_at_ > now)
            return;
        pid_request_ = ++correlation_;
        pid_deadline_ = now + request_timeout_;
        transport_.send(init_producer_id_request{pid_request_, std::nullopt, 60000});
    }

    void activate(partition_entry& pe) {
        if (!pe.active) {
            pe.active = true;
            active_.push_back(&pe);
        }
    }

    /// The batch of `pe` that may go next, if any: the oldest not in flight, unless it waits for
    /// its backoff (later ones wait behind it) or, with idempotence, lies outside the window.
    producer_batch* candidate(partition_entry& pe, time_point now) {
        if (txn_) {
            // Sequences restart with every producer id/epoch the coordinator hands out; when it
            // does, no batch of the partition is sealed (see drive_transaction).
            if (pe.seq.pid != pid_ || pe.seq.epoch != epoch_) pe.seq.reset(pid_, epoch_);
            if (pe.txn_added != txn_number_) {
                want_added(pe);
                return nullptr;
            }
        }
        if (idempotent_ && (pe.seq.needs_bump || pe.seq.awaiting_pid)) return nullptr;
        for (auto& up : pe.owned) {
            producer_batch* b = up.get();
            if (b->request) continue;
            if (b->retry_at > now) return nullptr;
            if (idempotent_) {
                const producer_batch& front = *pe.owned.front();
                const std::int64_t oldest = front.sealed.empty() ? pe.seq.batches : front.ordinal;
                const std::int64_t k = b->sealed.empty() ? pe.seq.batches : b->ordinal;
                if (!pe.seq.in_window(k, oldest, max_in_flight_)) return nullptr;
            }
            return b;
        }
        return nullptr;
    }

    /// Seals a batch at its first send (stamping producer id, epoch and sequence when idempotent).
    void prepare(producer_batch& b, partition_entry& pe) {
        if (!b.sealed.empty()) return;
        wire::producer_stamp stamp;
        if (idempotent_) {
            if (pe.seq.pid.value() < 0) pe.seq.reset(pid_, epoch_);
            b.pid = pe.seq.pid;
            b.epoch = pe.seq.epoch;
            b.ordinal = pe.seq.batches;
            b.base_seq = pe.seq.assign(b.record_count);
            stamp = {b.pid, b.epoch, b.base_seq, txn_ != nullptr};
        }
        b.sealed = b.builder.seal(stamp);
        // Compressed here, on the sender thread, once: retries resend these bytes (only the
        // header's producer fields are patched, outside the compressed part). The config was
        // validated, so the codec is compiled in; were it not, the batch goes uncompressed.
        if (codec_ != compression::codec::none) {
            const auto before = b.sealed.size();
            if (!compression::compress_batch(b.sealed, codec_, level_)) {
                stats_counters::add(stats_->compression_input_bytes, before);
                stats_counters::add(stats_->compression_output_bytes, b.sealed.size());
                update_compression_estimate(pe.topic->compression_estimate,
                                            static_cast<float>(b.sealed.size()) / static_cast<float>(before));
            }
        }
    }

    void send_produce(time_point now) {
        more_to_send_ = false;
        if (idempotent_ && pid_.value() < 0) return;
        if (txn_) {
            const auto st = txn_->state();
            if (st != transaction_state::in_transaction && st != transaction_state::committing) return;
        }
        for (std::int32_t round = 0; round < max_in_flight_ + 1; ++round) {
            builders_.clear();
            const std::size_t n = active_.size();
            for (std::size_t k = 0; k < n; ++k) {
                partition_entry& pe = *active_[(rr_ + k) % n];
                if (pe.owned.empty()) continue;
                producer_batch* b = candidate(pe, now);
                if (!b) continue;
                building* bl = builder_for(pe.leader);
                if (!bl) continue;
                prepare(*b, pe);
                const std::size_t size = b->sealed.size();
                if (!bl->slots.empty() && bl->bytes + size > max_request_size_) continue;
                bl->req.batches.push_back({pe.topic->name, partition_id{pe.id}, b->sealed.mutable_view()});
                bl->slots.push_back({b, &pe});
                bl->bytes += size;
            }
            ++rr_;
            bool any = false;
            for (auto& bl : builders_) {
                if (bl.slots.empty()) continue;
                dispatch(bl, now);
                any = true;
            }
            if (!any) break;
            // acks=0 requests take no in-flight slot, so a turn can end with batches still ready to
            // go and nothing (no answer) to wake the loop for them: it must not sleep then.
            if (round == max_in_flight_) more_to_send_ = true;
        }
        prune_active();
    }

    building* builder_for(node_id node) {
        for (auto& bl : builders_)
            if (bl.node == node) return &bl;
        if (in_flight_of(node) >= max_in_flight_) return nullptr;
        builders_.push_back(building{node, {}, {}, 0});
        return &builders_.back();
    }

    void dispatch(building& bl, time_point now) {
        const std::uint64_t id = ++correlation_;
        bl.req.correlation_id = id;
        bl.req.destination = bl.node;
        bl.req.acks = acks_;
        bl.req.timeout_ms = request_timeout_ms_;
        for (auto [b, pe] : bl.slots) {
            if (b->attempts++ > 0) stats_counters::add(stats_->retries);
            ++pe->outstanding;
            if (acks_ != 0) b->request = id;
            stats_counters::add(stats_->batches_sent);
            stats_counters::add(stats_->bytes_sent, b->sealed.size());
        }
        stats_counters::add(stats_->requests_sent);
        transport_.send(std::move(bl.req));
        if (acks_ == 0) {
            for (auto [b, pe] : bl.slots) {
                --pe->outstanding;
                complete(*b, *pe, {}, offset{-1}, -1);
            }
            return;
        }
        node_sent(bl.node);
        inflight_.push_back({id, bl.node, now + request_timeout_, std::move(bl.slots)});
    }

    void run_bumps(time_point now) {
        if (!idempotent_) return;
        for (partition_entry* pe : active_) {
            if (!pe->seq.needs_bump || pe->outstanding > 0) continue;
            if (!pe->seq.bump()) {
                pe->seq.needs_bump = false;
                pe->seq.awaiting_pid = true;
                need_fresh_pid_ = true;
                continue;
            }
            stats_counters::add(stats_->epoch_bumps);
            renumber(*pe, now);
        }
    }

    /// After an epoch change: the unacknowledged (sealed) batches get new sequences from 0, in
    /// order; none of them is in the log (see idempotence.hpp), so none is written twice.
    void renumber(partition_entry& pe, time_point now) {
        for (auto& up : pe.owned) {
            producer_batch& b = *up;
            if (b.sealed.empty()) break;
            b.pid = pe.seq.pid;
            b.epoch = pe.seq.epoch;
            b.ordinal = pe.seq.batches;
            b.base_seq = pe.seq.assign(b.record_count);
            wire::patch_producer_state(b.sealed.mutable_view(), b.pid, b.epoch, b.base_seq, txn_ != nullptr);
            b.retry_at = now;
        }
    }

    // ---- transactions ----------------------------------------------------------------------

    using op_kind = typename txn_type::op_kind;
    using fail_mode = typename txn_type::fail_mode;

    /// A partition with a batch to send that the coordinator has not confirmed in this
    /// transaction: it goes into the next AddPartitionsToTxn.
    void want_added(partition_entry& pe) {
        if (pe.txn_queued == txn_number_) return;
        pe.txn_queued = txn_number_;
        txn_pending_adds_.push_back(&pe);
    }

    void send_add_partitions(time_point now) {
        if (add_req_ || txn_pending_adds_.empty() || add_retry_at_ > now || pid_.value() < 0) return;
        add_parts_ = std::move(txn_pending_adds_);
        txn_pending_adds_.clear();
        add_partitions_to_txn_request r;
        r.correlation_id = add_req_ = ++correlation_;
        r.transactional_id = txn_id_;
        r.id = pid_;
        r.epoch = epoch_;
        for (partition_entry* pe : add_parts_) r.partitions.push_back({pe->topic->name, partition_id{pe->id}});
        add_deadline_ = now + request_timeout_;
        txn_started_ = true; // whatever the answer, the coordinator may now have the transaction
        transport_.send(std::move(r));
    }

    void on_event(add_partitions_to_txn_response& r, time_point now) {
        if (!txn_ || r.correlation_id != add_req_) return;
        add_req_ = 0;
        auto parts = std::move(add_parts_);
        add_parts_.clear();
        bool again = false;
        bool concurrent = false;
        std::optional<error_code> failed;
        for (std::size_t i = 0; i < parts.size(); ++i) {
            const error_code e = i < r.errors.size() ? r.errors[i] : error_code::network_exception;
            if (e == error_code::none) {
                parts[i]->txn_added = txn_number_;
            } else if (txn_retriable(e)) {
                txn_pending_adds_.push_back(parts[i]);
                again = true;
                concurrent |= e == error_code::concurrent_transactions;
            } else if (!failed || fatal_transaction_error(e)) {
                failed = e;
            }
        }
        // The batches of a partition that was refused stay unsent: the transaction is abortable
        // (or the producer fatal), and drive_transaction() fails them.
        if (failed) txn_->fail(*failed, fail_mode::automatic);
        add_attempts_ = again ? add_attempts_ + 1 : 0;
        add_retry_at_ = time_point::min();
        if (again) {
            // CONCURRENT_TRANSACTIONS mostly means the previous transaction's markers are still
            // being written, which takes milliseconds: Java retries that one after 20 ms at most.
            duration wait = backoff(add_attempts_);
            if (concurrent) wait = std::min<duration>(wait, std::chrono::milliseconds{20});
            add_retry_at_ = now + wait;
        }
    }

    void on_txn_init(init_producer_id_response& r, time_point now) {
        if (r.correlation_id != txn_req_) return;
        txn_req_ = 0;
        if (r.error == error_code::none && r.id.value() >= 0) {
            txn_attempts_ = 0;
            // No batch is sealed now (init: none was ever accepted; abort: every one completed or
            // was dropped), so every partition restarts its sequences at its next batch.
            pid_ = r.id;
            epoch_ = r.epoch;
            bump_required_ = false;
            if (auto op = txn_->front(); op && op->kind == op_kind::abort) finish_transaction();
            txn_->complete_front({}, transaction_state::ready);
            return;
        }
        const error_code e = r.error == error_code::none ? error_code::unknown_server_error : r.error;
        if (txn_retriable(e)) {
            txn_retry_at_ = now + backoff(++txn_attempts_);
            return;
        }
        txn_->fail(e, fail_mode::fatal); // as Java: a refused InitProducerId leaves nothing to go on with
        txn_->fail_all(txn_->last_error());
    }

    void on_event(add_offsets_to_txn_response& r, time_point now) {
        if (!txn_ || r.correlation_id != txn_req_) return;
        txn_req_ = 0;
        if (r.error == error_code::none) {
            txn_attempts_ = 0;
            txn_step_ = 1; // TxnOffsetCommit next
            return;
        }
        if (txn_retriable(r.error)) {
            txn_retry_at_ = now + backoff(++txn_attempts_);
            return;
        }
        txn_->fail(r.error, fail_mode::automatic);
        txn_->complete_front(op_error(r.error));
    }

    void on_event(txn_offset_commit_response& r, time_point now) {
        if (!txn_ || r.correlation_id != txn_req_) return;
        txn_req_ = 0;
        std::vector<transaction_offset> again;
        std::optional<error_code> failed;
        for (std::size_t i = 0; i < txn_offsets_left_.size(); ++i) {
            const error_code e = i < r.errors.size() ? r.errors[i] : error_code::network_exception;
            if (e == error_code::none) continue;
            if (txn_retriable(e))
                again.push_back(std::move(txn_offsets_left_[i]));
            else if (!failed || fatal_transaction_error(e))
                failed = e;
        }
        if (failed) {
            // ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID: the consumer left the
            // generation, so these offsets must not be committed: abortable, as in Java.
            txn_->fail(*failed, fail_mode::automatic);
            txn_->complete_front(op_error(*failed));
            return;
        }
        txn_offsets_left_ = std::move(again);
        if (txn_offsets_left_.empty()) {
            txn_attempts_ = 0;
            txn_->complete_front({});
            return;
        }
        txn_retry_at_ = now + backoff(++txn_attempts_);
    }

    void on_event(end_txn_response& r, time_point now) {
        if (!txn_ || r.correlation_id != txn_req_) return;
        txn_req_ = 0;
        auto op = txn_->front();
        if (!op) return;
        const bool commit = op->kind == op_kind::commit;
        if (r.error == error_code::none) {
            txn_attempts_ = 0;
            if (commit || !bump_required_) {
                finish_transaction();
                txn_->complete_front({}, transaction_state::ready);
            } else {
                txn_step_ = 1; // abort: the epoch bump next
            }
            return;
        }
        if (txn_retriable(r.error)) {
            txn_retry_at_ = now + backoff(++txn_attempts_);
            return;
        }
        // A failed abort may be tried again (Java: abortable unless fenced); a failed commit
        // leaves the transaction to be aborted.
        txn_->fail(r.error, fatal_transaction_error(r.error) ? fail_mode::fatal : fail_mode::abortable);
        txn_->complete_front(op_error(r.error));
    }

    /// The error an operation reports: fenced whichever way the broker spelled it.
    std::error_code op_error(error_code e) const {
        if (e == error_code::invalid_producer_epoch) return error_code::producer_fenced;
        return e;
    }

    /// The transaction is over (committed or aborted): the next one adds its partitions afresh.
    void finish_transaction() {
        acc_->set_txn_number(++txn_number_);
        txn_started_ = false;
        txn_pending_adds_.clear();
    }

    void txn_batch_failed(const producer_batch& b, std::error_code ec) {
        if (!txn_) return;
        // Its sequence was used: the broker's next expected sequence for the partition is no
        // longer known here (docs/protocol.md §6).
        if (!b.sealed.empty()) bump_required_ = true;
        txn_->fail(ec, fail_mode::automatic);
    }

    /// Fails every batch not in flight with `ec` (the accumulator's too).
    void purge_unsent(std::error_code ec) {
        if (!acc_->empty()) {
            std::vector<std::unique_ptr<producer_batch>> rest;
            acc_->abort_all(rest);
            for (auto& up : rest) done_detached(std::move(up), ec);
        }
        for (partition_entry* pe : active_) {
            for (auto it = pe->owned.begin(); it != pe->owned.end();) {
                if ((*it)->request) {
                    ++it;
                    continue;
                }
                auto up = std::move(*it);
                it = pe->owned.erase(it);
                done_detached(std::move(up), ec);
            }
        }
    }

    void send_txn_adds(time_point now) {
        if constexpr (transactional_transport<Transport>) {
            if (!txn_) return;
            const auto st = txn_->state();
            if (st == transaction_state::in_transaction || st == transaction_state::committing)
                send_add_partitions(now);
        }
    }

    /// Works on the queued transactional operations, front first, until one has to wait.
    void drive_transaction(time_point now) {
        if constexpr (transactional_transport<Transport>) {
            if (txn_) drive_transaction_steps(now);
        }
    }

    void end_txn_flush() {
        if (!txn_flushing_) return;
        acc_->end_flush();
        txn_flushing_ = 0;
    }

    void drive_transaction_steps(time_point now) {
        // Each pass either completes the front operation or returns; the bound only guards
        // against a queue refilled faster than it drains.
        for (int guard = 0; guard < 1024; ++guard) {
            if (txn_flushing_) {
                const auto op = txn_->front();
                if (!op || op->id != txn_flushing_) end_txn_flush(); // that commit is over
            }
            const auto st = txn_->state();
            if (st == transaction_state::fatal_error) {
                txn_req_ = 0;
                purge_unsent(txn_->last_error());
                txn_->fail_all(txn_->last_error());
                return;
            }
            if (st == transaction_state::abortable_error) purge_unsent(txn_->last_error());
            if (st == transaction_state::aborting) purge_unsent(local_error::purged);
            send_txn_adds(now);
            auto op = txn_->front();
            if (!op) return;
            if (op->id != txn_op_) {
                txn_op_ = op->id;
                txn_step_ = 0;
                txn_attempts_ = 0;
                txn_req_ = 0;
                txn_retry_at_ = time_point::min();
                if (op->kind == op_kind::send_offsets) txn_offsets_left_ = op->offsets;
            }
            if (txn_req_ || txn_retry_at_ > now) return;
            if (!step(*op, st, now)) return;
        }
    }

    /// One step of `op`; true if it completed (the next operation may go on at once).
    bool step(const typename txn_type::op& op, transaction_state st, time_point now) {
        switch (op.kind) {
        case op_kind::init:
            send_txn_request(init_producer_id_request{0, txn_id_, txn_timeout_ms_, producer_id{-1}, producer_epoch{-1}},
                             now);
            return false;
        case op_kind::send_offsets:
            // A commit queued behind it has made the state committing already.
            if (st != transaction_state::in_transaction && st != transaction_state::committing) {
                txn_->complete_front(st == transaction_state::abortable_error ? txn_->last_error()
                                                                               : make_error_code(local_error::invalid_state));
                return true;
            }
            if (txn_step_ == 0) {
                txn_started_ = true;
                send_txn_request(add_offsets_to_txn_request{0, txn_id_, pid_, epoch_, op.group.group_id}, now);
            } else {
                send_txn_request(txn_offset_commit_request{0, txn_id_, pid_, epoch_, op.group, txn_offsets_left_}, now);
            }
            return false;
        case op_kind::commit:
            if (st == transaction_state::abortable_error) {
                txn_->complete_front(txn_->last_error());
                return true;
            }
            if (txn_flushing_ != op.id) {
                // Every batch ready now, and so is every batch opened until the commit is over
                // (records staged for a topic whose partitions were not known yet among them).
                end_txn_flush();
                bool wake = false;
                (void)acc_->begin_flush(wake);
                txn_flushing_ = op.id;
            }
            // EndTxn(commit) goes after the last batch of the transaction completed.
            finish();
            if (!acc_->empty() || add_req_) return false;
            txn_pending_adds_.clear();
            if (!txn_started_) {
                finish_transaction();
                txn_->complete_front({}, transaction_state::ready);
                return true;
            }
            send_txn_request(end_txn_request{0, txn_id_, pid_, epoch_, true}, now);
            return false;
        case op_kind::abort:
            // Batches in flight are waited for: their outcome is part of what is aborted.
            finish();
            if (!inflight_.empty() || add_req_) return false;
            txn_pending_adds_.clear();
            if (txn_step_ == 0 && txn_started_) {
                send_txn_request(end_txn_request{0, txn_id_, pid_, epoch_, false}, now);
                return false;
            }
            if (bump_required_) {
                send_txn_request(init_producer_id_request{0, txn_id_, txn_timeout_ms_, pid_, epoch_}, now);
                return false;
            }
            finish_transaction();
            txn_->complete_front({}, transaction_state::ready);
            return true;
        }
        return false;
    }

    template <typename Request>
    void send_txn_request(Request r, time_point now) {
        r.correlation_id = txn_req_ = ++correlation_;
        txn_deadline_ = now + request_timeout_;
        transport_.send(std::move(r));
    }

    // ---- completion ------------------------------------------------------------------------

    std::unique_ptr<producer_batch> take_owned(partition_entry& pe, producer_batch* b) {
        for (auto it = pe.owned.begin(); it != pe.owned.end(); ++it) {
            if (it->get() == b) {
                auto up = std::move(*it);
                pe.owned.erase(it);
                return up;
            }
        }
        return nullptr;
    }

    void complete(producer_batch& b, partition_entry& pe, std::error_code ec, offset base, std::int64_t append_time) {
        auto up = take_owned(pe, &b);
        if (!up) return;
        up->result = ec;
        up->result_base = base;
        up->result_append_time = append_time;
        if (!ec) {
            stats_counters::add(stats_->records_acked, static_cast<std::uint64_t>(up->record_count));
            stats_counters::add(stats_->batches_acked);
            stats_counters::add(stats_->acked_bytes, up->sealed.size());
            const auto lat = std::chrono::duration_cast<std::chrono::microseconds>(clock_.now() - up->created).count();
            stats_counters::add(stats_->latency_us_sum, static_cast<std::uint64_t>(lat > 0 ? lat : 0));
        } else {
            stats_counters::add(stats_->records_failed, static_cast<std::uint64_t>(up->record_count));
            txn_batch_failed(*up, ec);
        }
        done_.push_back(std::move(up));
    }

    void done_detached(std::unique_ptr<producer_batch> up, std::error_code ec) {
        up->result = ec;
        up->result_base = offset{-1};
        const auto n = up->record_count ? up->record_count : up->builder.record_count();
        stats_counters::add(stats_->records_failed, static_cast<std::uint64_t>(n));
        txn_batch_failed(*up, ec);
        done_.push_back(std::move(up));
    }

    static void invoke(completion& fn, std::error_code ec, const record_metadata& md) {
        try {
            fn(ec, md);
        } catch (...) {
            // A completion must not throw; the sender thread carries on regardless.
        }
    }

    /// Runs the completions of finished batches (no lock held), then lets the accumulator forget
    /// them, which is what flush() and close() wait for.
    void finish() {
        if (done_.empty()) return;
        for (auto& up : done_) {
            producer_batch& b = *up;
            record_metadata md;
            md.topic = b.topic->name;
            md.partition = partition_id{b.partition};
            for (auto& c : b.completions) {
                md.offset = (!b.result && b.result_base.value() >= 0) ? b.result_base + c.offset_delta : offset{-1};
                md.timestamp = b.result_append_time >= 0 ? b.result_append_time : c.timestamp;
                md.serialized_key_size = c.key_size;
                md.serialized_value_size = c.value_size;
                invoke(c.fn, b.result, md);
            }
        }
        acc_->finish(done_);
    }

    void abort_everything() {
        std::vector<std::unique_ptr<producer_batch>> rest;
        acc_->abort_all(rest);
        for (auto& up : rest) done_detached(std::move(up), local_error::closed);
        for (partition_entry* pe : active_) {
            for (auto& up : pe->owned) done_detached(std::move(up), local_error::closed);
            pe->owned.clear();
            pe->outstanding = 0;
        }
        inflight_.clear();
        nodes_.clear();
        stats_->in_flight_requests.store(0, std::memory_order_relaxed);
    }

    // ---- bookkeeping -----------------------------------------------------------------------

    duration backoff(std::int32_t attempt) {
        std::uniform_real_distribution<double> u(0.0, 1.0);
        return retry_backoff(attempt < 1 ? 1 : attempt, std::chrono::duration_cast<std::chrono::milliseconds>(backoff_),
                             std::chrono::duration_cast<std::chrono::milliseconds>(backoff_max_), u(rng_));
    }

    std::int32_t in_flight_of(node_id n) const {
        for (const auto& [node, count] : nodes_)
            if (node == n) return count;
        return 0;
    }
    void node_sent(node_id n) {
        stats_counters::add(stats_->in_flight_requests);
        for (auto& [node, count] : nodes_)
            if (node == n) {
                ++count;
                return;
            }
        nodes_.emplace_back(n, 1);
    }
    void node_done(node_id n) {
        stats_->in_flight_requests.fetch_sub(1, std::memory_order_relaxed);
        for (auto& [node, count] : nodes_)
            if (node == n) {
                --count;
                return;
            }
    }

    void prune_active() {
        std::erase_if(active_, [](partition_entry* pe) {
            if (!pe->owned.empty() || pe->outstanding > 0) return false;
            pe->active = false;
            return true;
        });
    }

    /// The earliest time something of ours (not the accumulator's) needs attention.
    time_point next_deadline(time_point now) const {
        time_point next = std::min(next_expiry_, next_metadata_refresh_);
        for (const auto& q : inflight_) next = std::min(next, q.deadline);
        for (const auto& m : meta_inflight_) next = std::min(next, m.topic->metadata_deadline);
        // A topic whose refresh is wanted while one is in flight waits for that answer (or its
        // deadline, above); counting it as due now would spin the sender until the answer came.
        for (topic_entry* t : meta_pending_)
            if (!t->metadata_request) next = std::min(next, std::max(t->metadata_retry_at, now));
        if (pid_request_)
            next = std::min(next, pid_deadline_);
        else if (idempotent_ && !txn_ && (pid_.value() < 0 || need_fresh_pid_))
            next = std::min(next, pid_retry_at_);
        if (txn_) {
            // Retry times in the past were acted on this turn; what waits then waits for an answer.
            if (txn_req_)
                next = std::min(next, txn_deadline_);
            else if (txn_retry_at_ > now)
                next = std::min(next, txn_retry_at_);
            if (add_req_)
                next = std::min(next, add_deadline_);
            else if (!txn_pending_adds_.empty() && add_retry_at_ > now)
                next = std::min(next, add_retry_at_);
        }
        for (partition_entry* pe : active_) {
            for (auto& up : pe->owned) {
                if (up->request) continue;
                if (up->retry_at > now) next = std::min(next, up->retry_at);
                break;
            }
        }
        return next;
    }

    Transport transport_;
    Accumulator* acc_;
    Clock clock_;
    stats_counters* stats_;
    txn_type* txn_; // null unless transactional
    const std::string txn_id_;
    const std::int32_t txn_timeout_ms_;
    const std::int16_t acks_;
    const bool idempotent_;
    const std::int32_t max_in_flight_;
    const std::int32_t retries_;
    const std::size_t max_request_size_;
    const std::int32_t request_timeout_ms_;
    const duration request_timeout_;
    const duration delivery_timeout_;
    const duration backoff_;
    const duration backoff_max_;
    const duration metadata_max_age_;
    const compression::codec codec_; // compression.type
    const int level_;                // its compression.<codec>.level
    std::mt19937_64 rng_;
    std::vector<topic_entry*> known_topics_;
    time_point next_metadata_refresh_ = time_point::max();

    std::vector<transport_event> events_;
    std::vector<partition_entry*> got_;
    std::vector<partition_entry*> fresh_;
    std::vector<topic_entry*> wanted_;
    std::vector<partition_entry*> active_;
    std::vector<inflight_request> inflight_;
    std::vector<std::pair<node_id, std::int32_t>> nodes_;
    std::vector<building> builders_;
    std::vector<metadata_inflight> meta_inflight_;
    std::vector<topic_entry*> meta_pending_;
    std::vector<std::unique_ptr<producer_batch>> done_;
    std::vector<std::unique_ptr<producer_batch>> expired_;
    std::vector<producer_batch*> owned_expired_;
    std::vector<std::pair<record_completion, std::error_code>> failed_records_;
    std::uint64_t correlation_ = 0;
    std::size_t rr_ = 0;
    bool more_to_send_ = false;
    time_point next_expiry_ = time_point::min();

    producer_id pid_ = no_producer_id;
    producer_epoch epoch_ = no_producer_epoch;
    std::uint64_t pid_request_ = 0;
    time_point pid_deadline_{};
    time_point pid_retry_at_ = time_point::min();
    std::int32_t pid_attempts_ = 0;
    bool need_fresh_pid_ = false;

    // Transactions (sender thread only).
    std::uint64_t txn_number_ = 1;    // the current transaction; partitions added to it have txn_added == it
    bool txn_started_ = false;        // the coordinator may have something of this transaction
    bool bump_required_ = false;      // a sequenced batch failed: bump the epoch on abort
    std::uint64_t txn_op_ = 0;        // the operation (its id) the step below belongs to
    std::uint64_t txn_flushing_ = 0;  // the commit (its id) holding the accumulator in flush mode
    int txn_step_ = 0;                // how far that operation got
    std::vector<transaction_offset> txn_offsets_left_; // send_offsets: offsets not yet accepted
    std::uint64_t txn_req_ = 0;       // the operation's request in flight
    time_point txn_deadline_{};
    time_point txn_retry_at_ = time_point::min();
    std::int32_t txn_attempts_ = 0;
    std::vector<partition_entry*> txn_pending_adds_; // waiting for the next AddPartitionsToTxn
    std::vector<partition_entry*> add_parts_;        // in the one in flight
    std::uint64_t add_req_ = 0;
    time_point add_deadline_{};
    time_point add_retry_at_ = time_point::min();
    std::int32_t add_attempts_ = 0;

    std::atomic<std::uint64_t> turn_{0};
    std::mutex idle_mu_;
    std::condition_variable idle_cv_;
    std::uint64_t idle_turn_ = 0;
    time_point idle_next_{};
    bool exited_ = false;
};

} // namespace gregor::producer_detail
