// AlterPartition (key 56), versions 0-3; flexible from v0 (request header v2, response header v1).
// A partition leader asks the controller to commit a new ISR (docs/protocol.md §14.4, §14.9); the
// controller answers the partition state it now holds, which the leader adopts.
//
//   request   broker_id, broker_epoch,
//             topics[topic_name (v0-1) | topic_id (v2+),
//                    partitions[partition_index, leader_epoch, new_isr[] (v0-2) |
//                               new_isr_with_epochs[broker_id, broker_epoch] (v3+),
//                               leader_recovery_state (v1+), partition_epoch]]
//   response  throttle_time_ms, error_code,
//             topics[topic_name (v0-1) | topic_id (v2+),
//                    partitions[partition_index, error_code, leader_id, leader_epoch, isr[],
//                               leader_recovery_state (v1+), partition_epoch]]
//   Per version (§14.11.2): v1 leader recovery state (KIP-704); v2 topic ids instead of names and
//   the errors INELIGIBLE_REPLICA, NEW_LEADER_ELECTED, UNKNOWN_TOPIC_ID (KIP-841); v3 the
//   proposed ISR carries each member's broker epoch (KIP-903), the response is v2's. No tagged
//   fields are defined.
//
// Names and ids, new_isr and new_isr_with_epochs: a version carries one of each pair; the one it
// does not carry is left at its default by decode and ignored by encode. A sender that does not
// know the version it will negotiate may fill both.
//
// Decoded strings are views into the frame. Thread-safety: value types.
#pragma once

#include <gregor/core/buffer.hpp>
#include <gregor/core/error.hpp>
#include <gregor/core/strong_types.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/header.hpp>
#include <gregor/wire/primitives.hpp>

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace gregor::wire::alter_partition {

/// KIP-704: whether the leader was chosen by an unclean election and is still recovering (v1+).
enum class leader_recovery_state : std::int8_t { recovered = 0, recovering = 1 };

/// An ISR member with the broker epoch the leader saw it with (v3+); -1 = not checked.
struct broker_state {
    gregor::node_id broker_id{-1};
    std::int64_t broker_epoch = -1;
    friend bool operator==(const broker_state&, const broker_state&) = default;
};

struct partition_data {
    gregor::partition_id partition_index{0};
    gregor::leader_epoch leader_epoch{-1};
    std::vector<gregor::node_id> new_isr{};          // v0-2
    std::vector<broker_state> new_isr_with_epochs{}; // v3+
    alter_partition::leader_recovery_state leader_recovery_state =
        alter_partition::leader_recovery_state::recovered; // v1+
    std::int32_t partition_epoch = 0;
};

struct topic_data {
    std::string_view topic_name{}; // v0-1
    wire::uuid topic_id{};         // v2+
    std::vector<partition_data> partitions{};
};

struct response;

struct request {
    using api = alter_partition_api;
    using response_type = response;

    gregor::node_id broker_id{-1};
    std::int64_t broker_epoch = -1;
    std::vector<topic_data> topics{};

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<request> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<request>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        io.i32(m.broker_id);
        io.i64(m.broker_epoch);
        io.array(m.topics, [](auto& io2, auto& t) {
            if (io2.version() <= 1)
                io2.string(t.topic_name);
            else
                io2.uuid(t.topic_id);
            io2.array(t.partitions, [](auto& io3, auto& p) {
                const auto pv = io3.version();
                io3.i32(p.partition_index);
                io3.i32(p.leader_epoch);
                if (pv <= 2) {
                    io3.array(p.new_isr, [](auto& io4, auto& id) { io4.i32(id); });
                } else {
                    io3.array(p.new_isr_with_epochs, [](auto& io4, auto& b) {
                        io4.i32(b.broker_id);
                        io4.i64(b.broker_epoch);
                        io4.tagged_fields();
                    });
                }
                if (pv >= 1) io3.i8(p.leader_recovery_state);
                io3.i32(p.partition_epoch);
                io3.tagged_fields();
            });
            io2.tagged_fields();
        });
        io.tagged_fields();
    }
};

struct response_partition {
    gregor::partition_id partition_index{0};
    gregor::error_code error_code = gregor::error_code::none;
    gregor::node_id leader_id{-1};
    gregor::leader_epoch leader_epoch{-1};
    std::vector<gregor::node_id> isr{};
    alter_partition::leader_recovery_state leader_recovery_state =
        alter_partition::leader_recovery_state::recovered; // v1+
    std::int32_t partition_epoch = 0;
};

struct response_topic {
    std::string_view topic_name{}; // v0-1
    wire::uuid topic_id{};         // v2+
    std::vector<response_partition> partitions{};
};

struct response {
    using api = alter_partition_api;

    std::int32_t throttle_time_ms = 0;
    gregor::error_code error_code = gregor::error_code::none;
    std::vector<response_topic> topics{};

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<response> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<response>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        io.i32(m.throttle_time_ms);
        io.i16(m.error_code);
        io.array(m.topics, [](auto& io2, auto& t) {
            if (io2.version() <= 1)
                io2.string(t.topic_name);
            else
                io2.uuid(t.topic_id);
            io2.array(t.partitions, [](auto& io3, auto& p) {
                io3.i32(p.partition_index);
                io3.i16(p.error_code);
                io3.i32(p.leader_id);
                io3.i32(p.leader_epoch);
                io3.array(p.isr, [](auto& io4, auto& id) { io4.i32(id); });
                if (io3.version() >= 1) io3.i8(p.leader_recovery_state);
                io3.i32(p.partition_epoch);
                io3.tagged_fields();
            });
            io2.tagged_fields();
        });
        io.tagged_fields();
    }
};

static_assert(kafka_message<request>, "gregor::wire::alter_partition::request must model kafka_message");
static_assert(kafka_message<response>, "gregor::wire::alter_partition::response must model kafka_message");

} // namespace gregor::wire::alter_partition
