// What the embedded broker surface returns for produce, init_producer_id and describe_topic:
// one definition shared by gregor::broker and every stand-in for it (the producer's tests use a
// mock broker with the same answers), so transport::in_process reads the same shapes from both.
// Thread-safety: value types.
#pragma once

#include <gregor/core/error.hpp>
#include <gregor/core/strong_types.hpp>

#include <cstdint>

namespace gregor::broker_results {

struct produce_result {
    error_code error = error_code::none;
    offset base_offset{-1};
    std::int64_t log_append_time_ms = -1; // -1 unless the topic uses LogAppendTime
    offset log_start_offset{-1};
};

struct init_producer_id_result {
    error_code error = error_code::none;
    producer_id id{-1};
    producer_epoch epoch{-1};
};

struct topic_info {
    error_code error = error_code::none;
    std::int32_t partition_count = 0;
};

} // namespace gregor::broker_results
