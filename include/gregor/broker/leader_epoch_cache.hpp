// The leader epoch cache of one partition (docs/protocol.md §14.6.1): for every leader epoch the
// first offset written in it, kept in `<partition dir>/leader-epoch-checkpoint` (Kafka's text
// checkpoint format, storage/checkpoint.hpp) and written through the log's storage backend, so
// the file is replaced atomically and durably and crash-simulation backends see every write.
//
// Every change is written before it takes effect in memory: when the write fails the cache stays
// as it was and the caller gets the error (an append that needs a new entry is refused rather
// than leaving an epoch the file does not know). end_offset_for() is OffsetForLeaderEpoch's
// answer (§14.6.2).
//
// Not thread-safe: owned by a partition and used under the partition's lock, like its log.
#pragma once

#include <gregor/core/error.hpp>
#include <gregor/core/strong_types.hpp>
#include <gregor/storage/checkpoint.hpp>

#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace gregor::broker_detail {

template <typename Backend>
class leader_epoch_cache {
public:
    /// No file: the cache lives in memory only (in-memory brokers).
    leader_epoch_cache() = default;

    /// Loads `<dir>/leader-epoch-checkpoint` through `backend` (absent: empty). A file that does not
    /// parse throws std::system_error: epochs decide what followers truncate, so guessing is worse
    /// than refusing to start.
    explicit leader_epoch_cache(Backend* backend) : backend_(backend) {
        if (!backend_) return;
        std::error_code ec;
        const auto text = storage::read_text_file(*backend_, storage::leader_epoch_checkpoint_file, ec);
        if (!text) {
            if (storage::missing_file(ec)) return;
            throw std::system_error(ec, "gregor: cannot read leader-epoch-checkpoint");
        }
        auto entries = storage::decode_epoch_checkpoint(*text);
        if (!entries)
            throw std::system_error(make_error_code(local_error::corrupt_data),
                                    "gregor: leader-epoch-checkpoint is corrupt");
        for (std::size_t i = 1; i < entries->size(); ++i)
            if ((*entries)[i].epoch <= (*entries)[i - 1].epoch ||
                (*entries)[i].start_offset < (*entries)[i - 1].start_offset)
                throw std::system_error(make_error_code(local_error::corrupt_data),
                                        "gregor: leader-epoch-checkpoint entries are out of order");
        entries_ = std::move(*entries);
    }

    [[nodiscard]] const std::vector<storage::epoch_entry>& entries() const noexcept { return entries_; }
    [[nodiscard]] std::optional<leader_epoch> latest_epoch() const {
        if (entries_.empty()) return std::nullopt;
        return entries_.back().epoch;
    }

    /// `epoch` starts at `start` (a leader taking over at its log end, or a batch of a new epoch):
    /// entries at or after either are replaced. A no-op when it repeats the latest entry.
    std::error_code assign(leader_epoch epoch, offset start) {
        if (epoch.value() < 0 || start < offset{0}) return make_error_code(local_error::invalid_argument);
        if (!entries_.empty() && entries_.back().epoch == epoch && entries_.back().start_offset <= start) return {};
        auto next = entries_;
        while (!next.empty() && (next.back().epoch >= epoch || next.back().start_offset >= start)) next.pop_back();
        next.push_back({epoch, start});
        return commit(std::move(next));
    }

    /// The append path's hook: called with the epoch stamped into a batch and its base offset.
    std::error_code on_append(leader_epoch epoch, offset base) {
        if (!entries_.empty() && entries_.back().epoch == epoch) return {};
        return assign(epoch, base);
    }

    /// The log was cut to end at `end`: epochs that started at or after it are gone.
    std::error_code truncate_from_end(offset end) {
        auto next = entries_;
        while (!next.empty() && next.back().start_offset >= end) next.pop_back();
        return next.size() == entries_.size() ? std::error_code{} : commit(std::move(next));
    }

    /// The log start moved to `start` (retention): older entries go, the epoch in force at `start`
    /// is kept as starting there.
    std::error_code truncate_from_start(offset start) {
        if (entries_.empty() || entries_.front().start_offset >= start) return {};
        auto next = entries_;
        std::optional<storage::epoch_entry> last_removed;
        while (!next.empty() && next.front().start_offset <= start) {
            last_removed = next.front();
            next.erase(next.begin());
        }
        if (last_removed) next.insert(next.begin(), {last_removed->epoch, start});
        return next == entries_ ? std::error_code{} : commit(std::move(next));
    }

    /// OffsetForLeaderEpoch (§14.6.2): the largest epoch <= `requested` and the offset where it
    /// ended (the log end for the latest epoch); (-1, -1) when undefined.
    [[nodiscard]] std::pair<leader_epoch, offset> end_offset_for(leader_epoch requested, offset log_end) const {
        const std::pair<leader_epoch, offset> undefined{leader_epoch{-1}, offset{-1}};
        if (requested.value() < 0 || entries_.empty()) return undefined;
        if (requested == entries_.back().epoch) return {requested, log_end};
        std::size_t higher = 0; // first entry with epoch > requested
        while (higher < entries_.size() && entries_[higher].epoch <= requested) ++higher;
        if (higher == entries_.size()) return undefined;
        if (higher == 0) return {requested, entries_.front().start_offset};
        return {entries_[higher - 1].epoch, entries_[higher].start_offset};
    }

private:
    std::error_code commit(std::vector<storage::epoch_entry> next) {
        if (backend_) {
            if (auto ec = storage::write_text_file(*backend_, storage::leader_epoch_checkpoint_file,
                                                   storage::encode_epoch_checkpoint(next)))
                return ec;
        }
        entries_ = std::move(next);
        return {};
    }

    Backend* backend_ = nullptr;
    std::vector<storage::epoch_entry> entries_;
};

} // namespace gregor::broker_detail
