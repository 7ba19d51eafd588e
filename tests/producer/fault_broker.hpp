// The broker the fault tests run against: the real gregor::broker with memory storage.
#pragma once

#include <gregor/broker/broker.hpp>
#include <gregor/storage/backends/memory.hpp>

namespace gregor::test {
using fault_broker = gregor::broker<gregor::broker_policies<gregor::storage::memory_backend>>;
} // namespace gregor::test
