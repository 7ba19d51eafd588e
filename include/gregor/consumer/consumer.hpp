// gregor::consumer<Transport>: reads assigned partitions as record batches, in place.
//
//   gregor::broker<P> b{cfg};                                   // embedded ...
//   gregor::consumer c{ccfg, gregor::fetch_transport::in_process{b}};
//   // ... or over TCP to any Kafka broker:
//   // gregor::consumer c{ccfg, gregor::fetch_transport::tcp{ccfg}};
//   c.assign({{"orders", gregor::partition_id{0}}});
//   c.seek_to_beginning({"orders", gregor::partition_id{0}});
//   auto r = c.poll(std::chrono::milliseconds(500));
//   r.for_each_record([](const gregor::consumed_batch& b, const gregor::wire::record_view& rec) { ... });
//
// What a poll returns: whole v2 batches (wire::batch_view over the fetched bytes) plus the offset
// below which records of the first batch were already consumed; records are decoded in place
// while iterating. The fetched buffer belongs to the poll_result: views stay valid as long as it
// lives (independently of later polls). Work per fetch is per batch: parse the 61-byte header,
// check the CRC (check.crcs), decide deliver / skip; records are only touched by the reader.
//
// Isolation (docs/protocol.md §7.3): control batches (transaction markers) are never delivered.
// With isolation.level=read_committed the broker returns data below the last stable offset and
// the aborted transactions of the range; a transactional data batch of producer P is skipped when
// its base offset is >= P's next aborted first offset, and an ABORT marker of P moves P to its
// next aborted transaction.
//
// Positions: assign() without an offset leaves the position unknown; poll() then resolves it with
// auto.offset.reset (earliest/latest via ListOffsets, none: an error). OFFSET_OUT_OF_RANGE from a
// fetch is handled the same way. seek_*() resolve eagerly and return the error if any.
//
// Groups: subscribe(topics) joins cfg's group.id instead of assign(); a member thread
// (consumer/group_member.hpp) runs the group protocol and heartbeats, and poll() applies what it
// decides -- revocations (committing first with enable.auto.commit), assignments starting from
// the committed offsets -- and calls the rebalance_listener, all on the poll thread. commit_sync,
// commit_async, committed, pause/resume work as in Java's consumer (docs/consumer.md, "Groups").
//
// Thread-safety: a consumer is used from one thread at a time (poll, seek, assign are not
// synchronised); poll_result objects are independent values and may move to other threads.
// Compressed batches (gzip, snappy, lz4, zstd: docs/compression.md) are decoded into a buffer the
// poll_result owns, so their records live as long as an uncompressed batch's; a batch in a codec
// this build lacks reports UNSUPPORTED_COMPRESSION_TYPE, one that does not decode or would exceed
// receive.message.max.bytes CORRUPT_MESSAGE (or the codec's error), and the partition stays at
// that batch's offset.
#pragma once

#include <gregor/compression/codec.hpp>
#include <gregor/consumer/consumer_config.hpp>
#include <gregor/consumer/fetch_transport.hpp>
#include <gregor/consumer/group_channel.hpp>
#include <gregor/consumer/group_member.hpp>
#include <gregor/core/buffer.hpp>
#include <gregor/core/consumer_group_metadata.hpp>
#include <gregor/core/error.hpp>
#include <gregor/core/strong_types.hpp>
#include <gregor/wire/messages/fetch.hpp>
#include <gregor/wire/messages/list_offsets.hpp>
#include <gregor/wire/primitives.hpp>
#include <gregor/wire/record_batch.hpp>

#include <algorithm>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace gregor {

/// One delivered batch. `tp` points at the partition's entry in the consumer, which the
/// poll_result keeps alive (past an assign() or a revocation); records with offsets below
/// `skip_below` were consumed by an earlier poll.
struct consumed_batch {
    const topic_partition* tp = nullptr;
    wire::batch_view batch;
    offset skip_below{0};

    /// Calls f(const wire::record_view&) for every record to deliver, in offset order.
    template <typename F>
    void for_each_record(F&& f) const {
        for (const auto& rec : batch) {
            if (rec.record_offset < skip_below) continue;
            f(rec);
        }
    }
};

/// A partition-level failure seen by a poll (tp is null for a failure of the whole fetch round).
struct partition_error {
    const topic_partition* tp = nullptr;
    std::error_code error;
};

class poll_result {
public:
    [[nodiscard]] const std::vector<consumed_batch>& batches() const noexcept { return batches_; }
    [[nodiscard]] const std::vector<partition_error>& errors() const noexcept { return errors_; }
    [[nodiscard]] bool empty() const noexcept { return batches_.empty(); }

    /// Calls f(const consumed_batch&, const wire::record_view&) for every record, batch by batch.
    template <typename F>
    void for_each_record(F&& f) const {
        for (const auto& b : batches_) b.for_each_record([&](const wire::record_view& r) { f(b, r); });
    }

    /// Records delivered by this poll (walks the batches' records: for tests and tools).
    [[nodiscard]] std::size_t record_count() const {
        std::size_t n = 0;
        for_each_record([&](const consumed_batch&, const wire::record_view&) { ++n; });
        return n;
    }

private:
    template <typename>
    friend class consumer;
    std::vector<std::shared_ptr<const void>> keepalive_;
    std::vector<consumed_batch> batches_;
    std::vector<partition_error> errors_;
};

/// Last watermarks a fetch reported for a partition (-1 before the first fetch).
struct watermarks {
    offset log_start_offset{-1};
    offset high_watermark{-1};
    offset last_stable_offset{-1};
};

/// Called on the poll thread, inside poll() (and close()/unsubscribe()), around rebalances.
/// on_revoked runs before the partitions go (after the enable.auto.commit commit), so it may
/// commit itself; on_lost when they are already gone (another member may own them: no commit);
/// without on_lost, on_revoked is called instead, as Java does.
struct rebalance_listener {
    std::function<void(const std::vector<topic_partition>&)> on_assigned;
    std::function<void(const std::vector<topic_partition>&)> on_revoked;
    std::function<void(const std::vector<topic_partition>&)> on_lost;
};

namespace fetch_transport {
/// A transport that can reach a group coordinator (subscribe(), commits).
template <typename T>
concept group_capable = requires(const T& t, const consumer_config& c) {
    { t.group_channel(c) } -> std::convertible_to<std::unique_ptr<group::channel>>;
};
} // namespace fetch_transport

template <typename Transport>
class consumer {
    static_assert(fetch_transport::transport<Transport>,
                  "gregor::consumer: the Transport must provide fetch(span<const partition_request>, "
                  "fetch_options) -> fetch_response and list_offset(topic_partition, int64, isolation_level) "
                  "-> list_offset_result (fetch_transport::in_process or fetch_transport::tcp)");

public:
    consumer(consumer_config cfg, Transport t) : cfg_(std::move(cfg)), transport_(std::move(t)) {}
    consumer(consumer&&) noexcept = default;
    consumer& operator=(consumer&&) noexcept = default;
    consumer(const consumer&) = delete;
    consumer& operator=(const consumer&) = delete;

    /// A subscribed consumer leaves its group (see close()).
    ~consumer() { close(); }

    [[nodiscard]] const consumer_config& config() const noexcept { return cfg_; }
    [[nodiscard]] Transport& transport() noexcept { return transport_; }

    /// Replaces the assignment. Positions of partitions already assigned are kept; new ones start
    /// unknown (auto.offset.reset decides at the next poll). Not while subscribed
    /// (std::logic_error): the group decides the assignment then.
    void assign(std::vector<topic_partition> tps) {
        if (member_) throw std::logic_error("gregor::consumer::assign: the consumer is subscribed; unsubscribe() first");
        std::vector<std::shared_ptr<part_state>> next;
        for (auto& tp : tps) {
            auto it = std::find_if(parts_.begin(), parts_.end(), [&](const auto& p) { return p->tp == tp; });
            if (it != parts_.end())
                next.push_back(std::move(*it));
            else {
                auto p = std::make_shared<part_state>();
                p->tp = std::move(tp);
                next.push_back(std::move(p));
            }
        }
        parts_ = std::move(next);
    }

    [[nodiscard]] std::vector<topic_partition> assignment() const {
        std::vector<topic_partition> out;
        for (const auto& p : parts_) out.push_back(p->tp);
        return out;
    }

    /// The next offset poll() will read from (nullopt: not known yet).
    [[nodiscard]] std::optional<offset> position(const topic_partition& tp) const {
        const auto* p = find(tp);
        return p ? p->position : std::nullopt;
    }

    [[nodiscard]] watermarks last_watermarks(const topic_partition& tp) const {
        const auto* p = find(tp);
        return p ? p->marks : watermarks{};
    }

    // ---- groups (docs/consumer.md, "Groups") ----

    /// Joins cfg's group.id (std::invalid_argument if it is empty) and consumes the partitions of
    /// `topics` that the group assigns this member; poll() applies the assignment as it changes.
    /// A new list leaves the group and joins again with it; an empty one is unsubscribe().
    void subscribe(std::vector<std::string> topics, rebalance_listener listener = {})
        requires fetch_transport::group_capable<Transport>
    {
        if (cfg_.group_id.empty()) throw std::invalid_argument("gregor::consumer::subscribe: group.id is not set");
        if (topics.empty()) return unsubscribe();
        std::sort(topics.begin(), topics.end());
        topics.erase(std::unique(topics.begin(), topics.end()), topics.end());
        if (member_ && member_->topics() == topics) {
            listener_ = std::move(listener);
            return;
        }
        unsubscribe();
        if (!member_ && !parts_.empty()) parts_.clear(); // subscribe() replaces an assign()
        listener_ = std::move(listener);
        member_ = std::make_unique<group::member>(cfg_, transport_.group_channel(cfg_), std::move(topics));
        next_auto_commit_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(cfg_.auto_commit_interval_ms);
    }

    /// The subscribed topics (empty: not subscribed).
    [[nodiscard]] std::vector<std::string> subscription() const { return member_ ? member_->topics() : std::vector<std::string>{}; }

    /// Leaves the group: commits (enable.auto.commit), calls on_revoked, sends LeaveGroup (not for
    /// a static member, whose session outlives restarts). The assignment is then empty.
    void unsubscribe() {
        if (!member_) return;
        apply_group_changes(nullptr);
        if (cfg_.enable_auto_commit && !parts_.empty()) (void)commit_sync();
        if (!parts_.empty() && listener_.on_revoked) listener_.on_revoked(assignment());
        member_->close();
        deliver_commit_results();
        member_.reset();
        parts_.clear();
    }

    /// unsubscribe() if subscribed; then the consumer only serves assign() again.
    void close() { unsubscribe(); }

    /// Commits the positions of every assigned partition (what poll() returned so far is done)
    /// and waits for the answer: REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID
    /// when the group moved on (the partitions are being revoked); retriable coordinator errors
    /// are retried within request.timeout.ms. Without a subscription it commits as a consumer
    /// outside the group (generation -1), as Kafka allows for assign().
    std::error_code commit_sync() { return commit_sync(current_offsets()); }

    std::error_code commit_sync(const std::vector<group::committed_offset>& offsets) {
        if (offsets.empty()) return {};
        auto* ch = commit_channel();
        if (!ch) return make_error_code(cfg_.group_id.empty() ? local_error::invalid_argument : local_error::unsupported);
        const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(cfg_.request_timeout_ms);
        for (;;) {
            const auto r = ch->commit(commit_identity(), offsets);
            if (!r.error || !group::coordinator_moved(r.error) || std::chrono::steady_clock::now() >= until)
                return r.error;
            std::this_thread::sleep_for(std::chrono::milliseconds(std::max<std::int64_t>(cfg_.retry_backoff_ms, 1)));
        }
    }

    /// Commits the positions in the background; `done(error, partitions)` runs inside a later
    /// poll() (or close()). Without a subscription the commit is made at once.
    void commit_async(group::commit_callback done = {}) { commit_async(current_offsets(), std::move(done)); }

    void commit_async(std::vector<group::committed_offset> offsets, group::commit_callback done = {}) {
        if (member_) return member_->commit_async(std::move(offsets), std::move(done));
        const auto e = commit_sync(offsets);
        if (done) done(e, offsets);
    }

    /// Who this consumer commits as (Java's groupMetadata()): its group, generation and member id
    /// once it joined, generation -1 and no member before that or without subscribe(). What a
    /// transactional producer passes to send_offsets_to_transaction(), so that the coordinator
    /// refuses the offsets if this member has left the generation meanwhile.
    [[nodiscard]] consumer_group_metadata group_metadata() const {
        auto r = commit_identity();
        return {std::move(r.group_id), r.generation, std::move(r.member_id), std::move(r.group_instance_id)};
    }

    /// The group's committed offsets for `tps` (offset -1: none committed).
    group::offsets_outcome committed(const std::vector<topic_partition>& tps) {
        auto* ch = commit_channel();
        if (!ch) return {make_error_code(cfg_.group_id.empty() ? local_error::invalid_argument : local_error::unsupported), {}};
        return ch->fetch_committed(cfg_.group_id, tps);
    }

    /// Stops fetching `tps` (assigned ones) until resume(); positions are kept. A rebalance that
    /// takes a partition away forgets its pause, as in Java's consumer.
    void pause(const std::vector<topic_partition>& tps) {
        for (const auto& tp : tps)
            if (auto* p = find(tp)) p->paused = true;
    }
    void resume(const std::vector<topic_partition>& tps) {
        for (const auto& tp : tps)
            if (auto* p = find(tp)) p->paused = false;
    }
    [[nodiscard]] std::vector<topic_partition> paused() const {
        std::vector<topic_partition> out;
        for (const auto& p : parts_)
            if (p->paused) out.push_back(p->tp);
        return out;
    }

    /// Sets the next offset to read (invalid_argument if tp is not assigned).
    std::error_code seek(const topic_partition& tp, offset o) {
        auto* p = find(tp);
        if (!p) return make_error_code(local_error::invalid_argument);
        p->position = o;
        return {};
    }

    std::error_code seek_to_beginning(const topic_partition& tp) {
        return seek_by_time(tp, wire::list_offsets::earliest_timestamp);
    }
    /// The end: high watermark, or last stable offset with read_committed.
    std::error_code seek_to_end(const topic_partition& tp) {
        return seek_by_time(tp, wire::list_offsets::latest_timestamp);
    }
    /// The first offset whose timestamp is >= ts (ms since the epoch); the end if there is none.
    std::error_code seek_to_timestamp(const topic_partition& tp, std::int64_t ts) {
        if (ts < 0) return make_error_code(local_error::invalid_argument);
        return seek_by_time(tp, ts);
    }

    /// Fetches until some batches or a non-retriable error arrive, or `timeout` passes. Returns at
    /// once (empty) when no partition has a position to fetch from.
    poll_result poll(std::chrono::milliseconds timeout) {
        using clock = std::chrono::steady_clock;
        const auto until = clock::now() + timeout;
        poll_result out;
        for (auto& p : parts_) p->stalled = false;
        for (;;) {
            // Group changes only between fetches and before anything is returned: a revocation
            // commits the positions, which must not include records this poll has not handed out.
            if (member_ && out.batches_.empty()) {
                member_->polled(); // a long poll is still polling
                apply_group_changes(&out);
                deliver_commit_results();
                maybe_auto_commit();
            }
            resolve_unknown_positions(out);
            std::vector<fetch_transport::partition_request> reqs;
            for (const auto& p : parts_) {
                if (p->position && !p->stalled && !p->paused)
                    reqs.push_back({&p->tp, *p->position, cfg_.max_partition_fetch_bytes});
            }
            if (reqs.empty()) {
                // Subscribed and waiting for an assignment (or everything paused): wait for the
                // member thread, not the network.
                if (!member_ || !out.errors_.empty() || clock::now() >= until) return out;
                member_->wait_change(until);
                continue;
            }
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - clock::now()).count();
            fetch_transport::fetch_options opt;
            opt.max_wait_ms = static_cast<std::int32_t>(std::clamp<long long>(left, 0, cfg_.fetch_max_wait_ms));
            opt.min_bytes = cfg_.fetch_min_bytes;
            opt.max_bytes = cfg_.fetch_max_bytes;
            opt.isolation = isolation();
            auto resp = transport_.fetch(reqs, opt);
            if (resp.error) {
                out.errors_.push_back({nullptr, resp.error});
            } else {
                bool used = false;
                for (auto& pd : resp.partitions) used |= absorb(pd, out);
                if (used) out.keepalive_.push_back(std::move(resp.keepalive));
            }
            for (auto& p : parts_) p->stalled = false;
            const bool hard_error = std::any_of(out.errors_.begin(), out.errors_.end(), [](const partition_error& e) {
                return e.error.category() != kafka_category() || !retriable(static_cast<error_code>(e.error.value()));
            });
            if (!out.batches_.empty() || hard_error || clock::now() >= until) return out;
            if (!out.errors_.empty()) { // retriable ones only: back off, then try again within the timeout
                out.errors_.clear();
                std::this_thread::sleep_for(
                    std::min<clock::duration>(std::chrono::milliseconds(cfg_.retry_backoff_ms),
                                              std::max<clock::duration>(until - clock::now(), {})));
            }
        }
    }

private:
    struct part_state {
        topic_partition tp;
        std::optional<offset> position;
        watermarks marks;
        bool stalled = false; // skip for the rest of this poll round (error reported)
        bool paused = false;
    };

    static std::vector<group::committed_offset> offsets_of(const std::vector<std::shared_ptr<part_state>>& parts,
                                                           const std::vector<topic_partition>* only) {
        std::vector<group::committed_offset> out;
        for (const auto& p : parts) {
            if (!p->position) continue;
            if (only && std::find(only->begin(), only->end(), p->tp) == only->end()) continue;
            group::committed_offset c;
            c.tp = p->tp;
            c.next = *p->position;
            out.push_back(std::move(c));
        }
        return out;
    }

    std::vector<group::committed_offset> current_offsets() const { return offsets_of(parts_, nullptr); }

    group::member_ref commit_identity() const {
        if (member_) return member_->current();
        group::member_ref r;
        r.group_id = cfg_.group_id;
        return r;
    }

    group::channel* commit_channel() {
        if constexpr (fetch_transport::group_capable<Transport>) {
            if (cfg_.group_id.empty()) return nullptr;
            if (!commit_channel_) commit_channel_ = transport_.group_channel(cfg_);
            return commit_channel_.get();
        } else {
            return nullptr;
        }
    }

    void drop(const std::vector<topic_partition>& tps) {
        std::erase_if(parts_, [&](const auto& p) { return std::find(tps.begin(), tps.end(), p->tp) != tps.end(); });
    }

    // What the member thread decided, in order; `out` (null from unsubscribe) collects errors.
    void apply_group_changes(poll_result* out) {
        while (auto c = member_->take_change()) {
            switch (c->what) {
            case group::change::kind::revoked:
                if (cfg_.enable_auto_commit) (void)commit_sync(offsets_of(parts_, &c->partitions));
                if (listener_.on_revoked) listener_.on_revoked(c->partitions);
                drop(c->partitions);
                member_->ack();
                break;
            case group::change::kind::lost:
                if (listener_.on_lost)
                    listener_.on_lost(c->partitions);
                else if (listener_.on_revoked)
                    listener_.on_revoked(c->partitions);
                drop(c->partitions);
                member_->ack();
                break;
            case group::change::kind::assigned:
                for (const auto& tp : c->partitions) {
                    if (find(tp)) continue;
                    auto p = std::make_shared<part_state>();
                    p->tp = tp;
                    if (auto it = c->committed.find(tp); it != c->committed.end()) p->position = it->second;
                    parts_.push_back(std::move(p));
                }
                if (listener_.on_assigned) listener_.on_assigned(c->partitions);
                break;
            case group::change::kind::error:
                if (out) out->errors_.push_back({nullptr, c->error});
                break;
            }
        }
    }

    void deliver_commit_results() {
        for (auto& [done, res] : member_->take_commit_results())
            if (done) done(res.error, res.partitions);
    }

    void maybe_auto_commit() {
        if (!cfg_.enable_auto_commit || parts_.empty()) return;
        const auto now = std::chrono::steady_clock::now();
        if (now < next_auto_commit_) return;
        next_auto_commit_ = now + std::chrono::milliseconds(cfg_.auto_commit_interval_ms);
        if (member_->current().generation < 0) return;
        auto offsets = current_offsets();
        if (!offsets.empty()) member_->commit_async(std::move(offsets), {});
    }

    [[nodiscard]] wire::isolation_level isolation() const noexcept {
        return cfg_.read_committed ? wire::isolation_level::read_committed : wire::isolation_level::read_uncommitted;
    }

    part_state* find(const topic_partition& tp) const {
        const auto* sp = find_shared(tp);
        return sp ? sp->get() : nullptr;
    }
    const std::shared_ptr<part_state>* find_shared(const topic_partition& tp) const {
        for (const auto& p : parts_)
            if (p->tp == tp) return &p;
        return nullptr;
    }

    std::error_code seek_by_time(const topic_partition& tp, std::int64_t ts) {
        auto* p = find(tp);
        if (!p) return make_error_code(local_error::invalid_argument);
        auto r = transport_.list_offset(p->tp, ts, isolation());
        if (r.error) return r.error;
        if (r.found.value() < 0) {
            // No record at or after ts: Kafka's offsetsForTimes says null; the end is where new
            // records with such timestamps will appear.
            r = transport_.list_offset(p->tp, wire::list_offsets::latest_timestamp, isolation());
            if (r.error) return r.error;
        }
        p->position = r.found;
        return {};
    }

    // auto.offset.reset for a partition without a position; an error stalls it for this round.
    void reset_position(part_state& p, poll_result& out) {
        if (cfg_.auto_offset_reset == offset_reset::none) {
            out.errors_.push_back({&p.tp, make_error_code(error_code::offset_out_of_range)});
            p.stalled = true;
            return;
        }
        const auto ts = cfg_.auto_offset_reset == offset_reset::earliest ? wire::list_offsets::earliest_timestamp
                                                                         : wire::list_offsets::latest_timestamp;
        const auto r = transport_.list_offset(p.tp, ts, isolation());
        if (r.error || r.found.value() < 0) {
            out.errors_.push_back({&p.tp, r.error ? r.error : make_error_code(error_code::offset_not_available)});
            p.stalled = true;
            return;
        }
        p.position = r.found;
    }

    void resolve_unknown_positions(poll_result& out) {
        for (auto& p : parts_)
            if (!p->position && !p->stalled) reset_position(*p, out);
    }

    // Per-producer aborted first offsets of one fetch (read_committed), consumed in order.
    struct aborted_index {
        std::map<std::int64_t, std::vector<std::int64_t>> starts; // pid -> ascending first offsets
        std::map<std::int64_t, std::size_t> next;

        explicit aborted_index(const std::optional<std::vector<wire::fetch::aborted_transaction>>& list) {
            if (!list) return;
            for (const auto& a : *list) starts[a.producer_id.value()].push_back(a.first_offset.value());
            for (auto& [pid, v] : starts) std::sort(v.begin(), v.end());
        }
        [[nodiscard]] bool is_aborted(std::int64_t pid, std::int64_t base) const {
            auto it = starts.find(pid);
            if (it == starts.end()) return false;
            const auto n = next.count(pid) ? next.at(pid) : std::size_t{0};
            return n < it->second.size() && base >= it->second[n];
        }
        void on_abort_marker(std::int64_t pid, std::int64_t marker_offset) {
            auto it = starts.find(pid);
            if (it == starts.end()) return;
            auto& n = next[pid];
            if (n < it->second.size() && it->second[n] <= marker_offset) ++n;
        }
    };

    // One partition of a fetch response: returns whether any batch of it was delivered.
    bool absorb(const fetch_transport::partition_data& pd, poll_result& out) {
        auto* p = find(*pd.tp);
        if (!p || !p->position) return false;
        if (pd.error) {
            if (pd.error == make_error_code(error_code::offset_out_of_range)) {
                p->position.reset();
                reset_position(*p, out);
            } else {
                out.errors_.push_back({&p->tp, pd.error});
            }
            return false;
        }
        p->marks = {pd.log_start_offset, pd.high_watermark, pd.last_stable_offset};
        const bool committed = cfg_.read_committed;
        aborted_index aborted(committed ? pd.aborted : std::nullopt);
        bool used = false;
        offset pos = *p->position;
        wire::batch_splitter split(pd.records);
        while (auto bytes = split.next()) {
            const auto h = wire::batch_header::parse(*bytes);
            if (!h) break;
            if (h->magic != wire::batch_layout::current_magic) {
                out.errors_.push_back({&p->tp, make_error_code(error_code::unsupported_for_message_format)});
                break;
            }
            if (h->next_offset() <= pos) continue; // a batch the broker resent from before our position
            if (cfg_.check_crcs) {
                const auto e = wire::validate(*bytes, {.check_records = false, .client_batch = false});
                if (e != wire::batch_error::none) {
                    out.errors_.push_back({&p->tp, make_error_code(error_code::corrupt_message)});
                    break;
                }
            }
            if (h->is_control()) {
                if (committed) {
                    for (const auto& rec : wire::batch_view(*bytes)) {
                        const auto c = wire::parse_control_record(rec);
                        if (c && c->type == wire::control_type::abort)
                            aborted.on_abort_marker(h->producer_id.value(), rec.record_offset.value());
                    }
                }
                pos = h->next_offset();
                continue;
            }
            if (committed && h->is_transactional() &&
                aborted.is_aborted(h->producer_id.value(), h->base_offset.value())) {
                pos = h->next_offset();
                continue;
            }
            if (h->compression() != wire::compression::none) {
                // Decoded into a buffer the poll result keeps, beside the fetched bytes: the
                // batch's records live exactly as long as an uncompressed batch's would. The
                // bound is receive.message.max.bytes, as librdkafka's: a bomb is an error.
                auto plain = std::make_shared<byte_buffer>();
                const auto ec = compression::decompress_records(
                    *bytes, *plain, static_cast<std::size_t>(std::max(cfg_.receive_message_max_bytes, 0)));
                if (ec) {
                    out.errors_.push_back({&p->tp, ec});
                    break;
                }
                const wire::batch_view view(*bytes, plain->view());
                if (cfg_.check_crcs && wire::validate_records(*h, plain->view()) != wire::batch_error::none) {
                    out.errors_.push_back({&p->tp, make_error_code(error_code::corrupt_message)});
                    break;
                }
                out.keepalive_.push_back(std::move(plain));
                out.batches_.push_back({&p->tp, view, pos});
                used = true;
                pos = h->next_offset();
                continue;
            }
            out.batches_.push_back({&p->tp, wire::batch_view(*bytes), pos});
            used = true;
            pos = h->next_offset();
        }
        p->position = pos;
        // The batches point at p->tp: it lives as long as the result, past a revocation.
        if (used) out.keepalive_.push_back(*find_shared(*pd.tp));
        return used;
    }

    consumer_config cfg_;
    Transport transport_;
    std::vector<std::shared_ptr<part_state>> parts_; // shared with results: batches point at tp
    std::unique_ptr<group::member> member_;          // while subscribed
    std::unique_ptr<group::channel> commit_channel_; // the poll thread's own (commits, committed())
    rebalance_listener listener_;
    std::chrono::steady_clock::time_point next_auto_commit_{};
};

} // namespace gregor
