// A small in-memory broker with the embedded surface transport::in_process expects, for the
// producer's unit tests: batch validation, Kafka's idempotence rules (docs/protocol.md §6.1:
// 5-batch duplicate cache, epoch fencing, sequence gaps) and offset assignment. The integration
// tests use the real gregor::broker; this one lets a test count and inspect what arrived.
#pragma once

#include <gregor/broker/results.hpp>
#include <gregor/core/buffer.hpp>
#include <gregor/core/error.hpp>
#include <gregor/core/strong_types.hpp>
#include <gregor/wire/record_batch.hpp>

#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gregor::test {

class mock_broker {
public:
    using produce_result = gregor::broker_results::produce_result;
    using init_producer_id_result = gregor::broker_results::init_producer_id_result;
    using topic_info = gregor::broker_results::topic_info;

    explicit mock_broker(std::int32_t default_partitions = 1, bool auto_create = true)
            : default_partitions_(default_partitions), auto_create_(auto_create) {}

    void create_topic(const std::string& name, std::int32_t partitions) {
        std::lock_guard lk(mu_);
        topics_[name].resize(static_cast<std::size_t>(partitions));
    }

    produce_result produce(std::string_view topic, partition_id p, mutable_bytes_view batch, std::int16_t acks) {
        std::lock_guard lk(mu_);
        ++produce_calls_;
        auto it = topics_.find(std::string(topic));
        if (it == topics_.end() || p.value() < 0 || static_cast<std::size_t>(p.value()) >= it->second.size())
            return {error_code::unknown_topic_or_partition};
        if (acks != 0 && acks != 1 && acks != -1) return {error_code::invalid_required_acks};
        if (const auto e = wire::validate(batch); e != wire::batch_error::none) return {wire::to_kafka(e)};
        auto& part = it->second[static_cast<std::size_t>(p.value())];
        const auto h = *wire::batch_header::parse(batch);
        if (h.is_idempotent()) {
            auto& st = part.producers[h.producer_id.value()];
            if (st.known && h.producer_epoch == st.epoch) {
                for (const auto& c : st.cache)
                    if (c.first == h.base_sequence && c.last == h.last_sequence()) {
                        ++duplicates_;
                        return {error_code::none, c.base, -1, offset{0}};
                    }
            }
            if (st.known && h.producer_epoch < st.epoch) return {error_code::invalid_producer_epoch};
            if (st.known) {
                if (h.producer_epoch > st.epoch) {
                    if (h.base_sequence.value() != 0) return {error_code::out_of_order_sequence_number};
                } else if (st.cache.empty() || st.cache.back().last.advanced(1) != h.base_sequence) {
                    return {error_code::out_of_order_sequence_number};
                }
            }
            if (!st.known || h.producer_epoch != st.epoch) st.cache.clear();
            st.known = true;
            st.epoch = h.producer_epoch;
            st.cache.push_back({h.base_sequence, h.last_sequence(), part.next});
            if (st.cache.size() > 5) st.cache.pop_front();
        }
        const offset base = part.next;
        wire::patch_base_offset(batch, base);
        part.log.emplace_back(bytes_view(batch));
        part.next = base + h.records_count;
        return {error_code::none, base, -1, offset{0}};
    }

    init_producer_id_result init_producer_id(std::optional<std::string_view>, std::int32_t) {
        std::lock_guard lk(mu_);
        return {error_code::none, producer_id{next_pid_++}, producer_epoch{0}};
    }

    topic_info describe_topic(std::string_view topic, bool allow_auto_create = true) {
        std::lock_guard lk(mu_);
        auto it = topics_.find(std::string(topic));
        if (it == topics_.end()) {
            if (!allow_auto_create || !auto_create_) return {error_code::unknown_topic_or_partition, 0};
            it = topics_
                     .emplace(std::string(topic), std::vector<partition>(static_cast<std::size_t>(default_partitions_)))
                     .first;
        }
        return {error_code::none, static_cast<std::int32_t>(it->second.size())};
    }

    /// Every batch of a partition, in log order (copies).
    std::vector<byte_buffer> batches(const std::string& topic, std::int32_t p) {
        std::lock_guard lk(mu_);
        auto it = topics_.find(topic);
        if (it == topics_.end()) return {};
        return it->second[static_cast<std::size_t>(p)].log;
    }
    std::size_t produce_calls() {
        std::lock_guard lk(mu_);
        return produce_calls_;
    }
    std::size_t duplicates() {
        std::lock_guard lk(mu_);
        return duplicates_;
    }

private:
    struct cached {
        sequence first;
        sequence last;
        offset base;
    };
    struct producer_state {
        bool known = false;
        producer_epoch epoch{0};
        std::deque<cached> cache;
    };
    struct partition {
        offset next{0};
        std::vector<byte_buffer> log;
        std::map<std::int64_t, producer_state> producers;
    };

    std::mutex mu_;
    std::int32_t default_partitions_;
    bool auto_create_;
    std::map<std::string, std::vector<partition>> topics_;
    std::int64_t next_pid_ = 1000;
    std::size_t produce_calls_ = 0;
    std::size_t duplicates_ = 0;
};

} // namespace gregor::test
