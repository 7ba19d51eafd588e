// What the transaction handlers share (docs/transactions.md): the old-version error mapping and
// the check that a request's topics exist.
#pragma once

#include <gregor/broker/handlers/group_common.hpp>
#include <gregor/broker/txn_coordinator.hpp>
#include <gregor/core/error.hpp>

#include <cstdint>

namespace gregor::broker_handlers::txn_detail {

/// PRODUCER_FENCED is newer than these APIs' old versions: they get INVALID_PRODUCER_EPOCH, which
/// old clients treat as fenced too (docs/protocol.md §15.12). `first_with_fenced` is the first
/// version that may carry PRODUCER_FENCED.
inline error_code for_version(error_code e, std::int16_t version, std::int16_t first_with_fenced) noexcept {
    return e == error_code::producer_fenced && version < first_with_fenced ? error_code::invalid_producer_epoch : e;
}

} // namespace gregor::broker_handlers::txn_detail
