// Idempotent-producer bookkeeping of one partition (Kafka >= 2.5 rules, docs/protocol.md §6.1):
// per producer id the current epoch and the last five appended batches' sequence ranges, so a
// retried batch is recognised and answered with its original offset, a gap is refused with
// OUT_OF_ORDER_SEQUENCE_NUMBER and an older epoch with INVALID_PRODUCER_EPOCH.
//
// The table is persisted as snapshot files beside the segments (`<20-digit offset>.snapshot`,
// holding the state as of that log offset), written through the log's storage backend (so they
// are durable and atomic, and crash-simulation backends see them), and rebuilt by replaying
// batches from the latest snapshot (or the log start) when the broker opens the partition.
//
// Not thread-safe: owned by a partition and used under the partition's lock.
#pragma once

#include <gregor/core/buffer.hpp>
#include <gregor/core/crc32c.hpp>
#include <gregor/core/error.hpp>
#include <gregor/core/strong_types.hpp>
#include <gregor/wire/record_batch.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <system_error>
#include <unordered_map>
#include <vector>

namespace gregor::broker_detail {

/// What the table remembers of one appended batch.
struct batch_metadata {
    sequence first_seq{0};
    sequence last_seq{0};
    offset first_offset{0};
    offset last_offset{0};
    std::int64_t timestamp = 0;
};

struct producer_entry {
    static constexpr std::size_t cached_batches = 5; // what the producer's max.in.flight <= 5 relies on
    producer_epoch epoch{-1};
    std::array<batch_metadata, cached_batches> batches{}; // ring, newest at (head + count - 1)
    std::uint8_t head = 0;
    std::uint8_t count = 0;
    std::int32_t coordinator_epoch = -1;
    std::optional<offset> txn_first_offset; // open transaction, if any
    std::int64_t last_timestamp = 0;

    [[nodiscard]] const batch_metadata& at(std::size_t i) const noexcept {
        return batches[(head + i) % cached_batches];
    }
    [[nodiscard]] const batch_metadata* newest() const noexcept { return count ? &at(count - 1u) : nullptr; }
    void push(const batch_metadata& m) noexcept {
        if (count == cached_batches) {
            batches[head] = m;
            head = static_cast<std::uint8_t>((head + 1) % cached_batches);
        } else {
            batches[(head + count) % cached_batches] = m;
            ++count;
        }
    }
    void clear_batches() noexcept { head = count = 0; }
};

/// A transaction a marker ended: its data spans first_offset up to the marker at last_offset.
struct completed_txn {
    producer_id pid{-1};
    offset first_offset{0};
    offset last_offset{0};
    bool aborted = false;
};

/// The verdict on an incoming idempotent batch.
struct sequence_check {
    enum class kind { append, duplicate, reject } what = kind::append;
    error_code error = error_code::none; // for reject
    batch_metadata original{};           // for duplicate: where the batch already is
};

class producer_state_table {
public:
    /// Applies §6.1 rules 1-3 and 5 to a client batch with producerId >= 0. Does not modify state.
    [[nodiscard]] sequence_check check(const wire::batch_header& h) const {
        const auto it = entries_.find(h.producer_id.value());
        const auto first = h.base_sequence;
        const auto last = h.last_sequence();
        if (it == entries_.end()) return {}; // unknown producer (new, or expired): any sequence
        const auto& e = it->second;
        if (h.producer_epoch == e.epoch) {
            for (std::size_t i = 0; i < e.count; ++i) {
                const auto& b = e.at(i);
                if (b.first_seq == first && b.last_seq == last)
                    return {sequence_check::kind::duplicate, error_code::none, b};
            }
        }
        if (h.producer_epoch < e.epoch) return reject(error_code::invalid_producer_epoch);
        if (h.producer_epoch > e.epoch) {
            if (first != sequence{0} && e.epoch.value() >= 0) return reject(error_code::out_of_order_sequence_number);
        } else if (const auto* n = e.newest()) {
            if (first != n->last_seq.advanced(1)) return reject(error_code::out_of_order_sequence_number);
        }
        if (!h.is_transactional() && e.txn_first_offset) return reject(error_code::invalid_txn_state);
        return {};
    }

    /// Records an appended batch (data or control) at its final offsets. For a control batch
    /// (a transaction marker, `marker` its decoded record) the producer's open transaction ends:
    /// returned when it held data, so the caller can index an abort (docs/protocol.md §7.3).
    std::optional<completed_txn> update(const wire::batch_header& h,
                                        const std::optional<wire::control_record>& marker = std::nullopt) {
        auto& e = entries_[h.producer_id.value()];
        if (h.producer_epoch != e.epoch) {
            e.epoch = h.producer_epoch;
            e.clear_batches();
        }
        e.last_timestamp = h.max_timestamp;
        if (h.is_control()) {
            if (marker && marker->coordinator_epoch > e.coordinator_epoch) e.coordinator_epoch = marker->coordinator_epoch;
            std::optional<completed_txn> done;
            if (e.txn_first_offset)
                done = completed_txn{h.producer_id, *e.txn_first_offset, h.base_offset,
                                     !marker || marker->type == wire::control_type::abort};
            e.txn_first_offset.reset(); // a marker closes the open transaction
            return done;
        }
        e.push({h.base_sequence, h.last_sequence(), h.base_offset, h.last_offset(), h.max_timestamp});
        if (h.is_transactional() && !e.txn_first_offset) e.txn_first_offset = h.base_offset;
        return std::nullopt;
    }

    /// Replays one stored batch (recovery, a follower's append): as update() for batches with a
    /// producer id.
    std::optional<completed_txn> replay(bytes_view batch) {
        const auto h = wire::batch_header::parse(batch);
        if (!h || !h->is_idempotent()) return std::nullopt;
        return update(*h, h->is_control() ? control_of(batch) : std::nullopt);
    }

    /// The marker record of a control batch (nullopt if it holds none).
    static std::optional<wire::control_record> control_of(bytes_view batch) {
        wire::batch_view v(batch);
        for (const auto& rec : v) return wire::parse_control_record(rec);
        return std::nullopt;
    }

    /// Smallest first offset of an open transaction of a producer other than `pid`: where the
    /// last stable offset stands once pid's transaction has ended (an aborted index entry's LSO).
    [[nodiscard]] std::optional<offset> first_unstable_offset_except(producer_id pid) const {
        std::optional<offset> o;
        for (const auto& [id, e] : entries_)
            if (id != pid.value() && e.txn_first_offset && (!o || *e.txn_first_offset < *o)) o = e.txn_first_offset;
        return o;
    }

    /// Smallest first offset of an open transaction (the first unstable offset), if any.
    [[nodiscard]] std::optional<offset> first_unstable_offset() const {
        std::optional<offset> o;
        for (const auto& [pid, e] : entries_)
            if (e.txn_first_offset && (!o || *e.txn_first_offset < *o)) o = e.txn_first_offset;
        return o;
    }

    [[nodiscard]] const producer_entry* find(producer_id pid) const {
        const auto it = entries_.find(pid.value());
        return it == entries_.end() ? nullptr : &it->second;
    }
    [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }
    void clear() noexcept { entries_.clear(); }

    /// Drops producers idle since before `cutoff_ms` (producer.id.expiration.ms), except those with
    /// an open transaction.
    std::size_t expire(std::int64_t cutoff_ms) {
        return static_cast<std::size_t>(std::erase_if(entries_, [&](const auto& kv) {
            return kv.second.last_timestamp < cutoff_ms && !kv.second.txn_first_offset;
        }));
    }

    // ---- snapshots ----------------------------------------------------------------------------

    /// The file name of the snapshot as of log offset `at`.
    static std::string snapshot_name(offset at) {
        char name[40];
        std::snprintf(name, sizeof name, "%020lld.snapshot", static_cast<long long>(at.value()));
        return name;
    }

    /// Offsets of the snapshot files the backend's directory holds, ascending.
    template <typename Backend>
    static std::vector<offset> list_snapshots(const Backend& b) {
        std::vector<offset> out;
        std::error_code ec;
        for (const auto& name : b.list(ec)) {
            if (name.size() != 29 || name.substr(20) != ".snapshot") continue;
            long long v = 0;
            if (std::from_chars(name.data(), name.data() + 20, v).ptr == name.data() + 20) out.push_back(offset{v});
        }
        std::sort(out.begin(), out.end());
        return out;
    }

    /// Writes the table as of log offset `at` through the backend's durable write_file (atomic:
    /// a crash leaves the previous snapshot set, never a torn file).
    template <typename Backend>
    std::error_code write_snapshot(Backend& b, offset at) const {
        return b.write_file(snapshot_name(at), encode_snapshot(at).view());
    }

    /// Loads the snapshot as of `at`; false (table untouched) when it is missing, torn or corrupt.
    template <typename Backend>
    bool read_snapshot(const Backend& b, offset at) {
        byte_buffer data;
        if (b.read_file(snapshot_name(at), data)) return false;
        return decode_snapshot(data.view());
    }

    [[nodiscard]] byte_buffer encode_snapshot(offset at) const {
        byte_buffer buf;
        byte_writer w(buf);
        w.u32(snapshot_magic);
        w.i64(at.value());
        w.i32(static_cast<std::int32_t>(entries_.size()));
        for (const auto& [pid, e] : entries_) {
            w.i64(pid);
            w.i16(e.epoch.value());
            w.i32(e.coordinator_epoch);
            w.i64(e.txn_first_offset ? e.txn_first_offset->value() : -1);
            w.i64(e.last_timestamp);
            w.i8(static_cast<std::int8_t>(e.count));
            for (std::size_t i = 0; i < e.count; ++i) {
                const auto& b = e.at(i);
                w.i32(b.first_seq.value());
                w.i32(b.last_seq.value());
                w.i64(b.first_offset.value());
                w.i64(b.last_offset.value());
                w.i64(b.timestamp);
            }
        }
        w.u32(crc32c::compute(buf.view()));
        return buf;
    }

    bool decode_snapshot(bytes_view bytes) {
        if (bytes.size() < 20) return false;
        const auto body = bytes.first(bytes.size() - 4);
        if (crc32c::compute(body) != load_be<std::uint32_t>(bytes.data() + body.size())) return false;
        byte_reader r(body);
        if (r.u32() != snapshot_magic) return false;
        (void)r.i64();
        const auto n = r.i32();
        if (n < 0) return false;
        std::unordered_map<std::int64_t, producer_entry> fresh;
        for (std::int32_t i = 0; i < n && r.ok(); ++i) {
            const auto pid = r.i64();
            producer_entry e;
            e.epoch = producer_epoch{r.i16()};
            e.coordinator_epoch = r.i32();
            if (const auto t = r.i64(); t >= 0) e.txn_first_offset = offset{t};
            e.last_timestamp = r.i64();
            const auto cnt = r.i8();
            if (cnt < 0 || cnt > static_cast<std::int8_t>(producer_entry::cached_batches)) return false;
            for (std::int8_t j = 0; j < cnt; ++j) {
                batch_metadata b;
                b.first_seq = sequence{r.i32()};
                b.last_seq = sequence{r.i32()};
                b.first_offset = offset{r.i64()};
                b.last_offset = offset{r.i64()};
                b.timestamp = r.i64();
                e.push(b);
            }
            fresh.emplace(pid, e);
        }
        if (!r.ok() || !r.at_end()) return false;
        entries_ = std::move(fresh);
        return true;
    }

private:
    static constexpr std::uint32_t snapshot_magic = 0x47505331; // "GPS1"
    static sequence_check reject(error_code e) { return {sequence_check::kind::reject, e, {}}; }

    std::unordered_map<std::int64_t, producer_entry> entries_;
};

} // namespace gregor::broker_detail
