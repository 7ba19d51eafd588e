// TxnOffsetCommit (key 28), versions 0-4; v3+ flexible. Sent by a transactional producer to the
// *group* coordinator (after AddOffsetsToTxn to the transaction coordinator): the offsets are
// appended to `__consumer_offsets` inside the producer's transaction and become the group's
// committed offsets only when the COMMIT marker reaches that partition (docs/protocol.md §7, §15).
//
//   request   transactional_id, group_id, producer_id, producer_epoch,
//             generation_id (v3+), member_id (v3+), group_instance_id (v3+, nullable),
//             topics[name, partitions[partition_index, committed_offset,
//                                     committed_leader_epoch (v2+), committed_metadata (nullable)]]
//   response  throttle_time_ms, topics[name, partitions[partition_index, error_code]]
//   Per version (§13): v1 = v0 (throttling after the answer); v2 committed leader epoch; v3 flexible,
//   and the group membership fields (KIP-447), with which the coordinator fences a producer whose
//   consumer has left the generation (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID);
//   v4 = v3 (may answer TRANSACTION_ABORTABLE, KIP-890). No tagged fields are defined.
//
// A v0-2 request, or a v3+ one with generation -1, member "" and no instance id, carries no
// membership: the coordinator then accepts it whatever the group's state.
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

namespace gregor::wire::txn_offset_commit {

/// generation_id's default (and what v0-2 imply): no group membership is claimed.
inline constexpr std::int32_t no_generation = -1;

struct request_partition {
    gregor::partition_id partition_index{0};
    gregor::offset committed_offset{0};
    gregor::leader_epoch committed_leader_epoch{-1}; // v2+; -1 = unknown
    std::optional<std::string_view> committed_metadata{};
};

struct request_topic {
    std::string_view name{};
    std::vector<request_partition> partitions{};
};

struct response;

struct request {
    using api = txn_offset_commit_api;
    using response_type = response;

    std::string_view transactional_id{};
    std::string_view group_id{};
    gregor::producer_id producer_id{0};
    gregor::producer_epoch producer_epoch{0};
    std::int32_t generation_id = no_generation;          // v3+
    std::string_view member_id{};                        // v3+
    std::optional<std::string_view> group_instance_id{}; // v3+; null = not a static member
    std::vector<request_topic> topics{};

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<request> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<request>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        const auto v = io.version();
        io.string(m.transactional_id);
        io.string(m.group_id);
        io.i64(m.producer_id);
        io.i16(m.producer_epoch);
        if (v >= 3) {
            io.i32(m.generation_id);
            io.string(m.member_id);
            io.nullable_string(m.group_instance_id);
        }
        io.array(m.topics, [](auto& io2, auto& t) {
            io2.string(t.name);
            io2.array(t.partitions, [](auto& io3, auto& p) {
                io3.i32(p.partition_index);
                io3.i64(p.committed_offset);
                if (io3.version() >= 2) io3.i32(p.committed_leader_epoch);
                io3.nullable_string(p.committed_metadata);
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
};

struct response_topic {
    std::string_view name{};
    std::vector<response_partition> partitions{};
};

struct response {
    using api = txn_offset_commit_api;

    std::int32_t throttle_time_ms = 0;
    std::vector<response_topic> topics{};

    void encode(byte_writer& w, std::int16_t version) const { encode_fields(*this, w, version); }
    static std::optional<response> decode(byte_reader& r, std::int16_t version) {
        return decode_fields<response>(r, version);
    }

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        io.i32(m.throttle_time_ms);
        io.array(m.topics, [](auto& io2, auto& t) {
            io2.string(t.name);
            io2.array(t.partitions, [](auto& io3, auto& p) {
                io3.i32(p.partition_index);
                io3.i16(p.error_code);
                io3.tagged_fields();
            });
            io2.tagged_fields();
        });
        io.tagged_fields();
    }
};

static_assert(kafka_message<request>, "gregor::wire::txn_offset_commit::request must model kafka_message");
static_assert(kafka_message<response>, "gregor::wire::txn_offset_commit::response must model kafka_message");

} // namespace gregor::wire::txn_offset_commit
