// Structures several messages share, each with its one field description (primitives.hpp):
//
//   leader_id_and_epoch  leader_id int32, leader_epoch int32, tags; both -1 by default. The
//                        CurrentLeader tagged field of Produce v10+ and Fetch v12+ partitions.
//   node_endpoint        node_id int32, host, port int32, rack (nullable), tags. The NodeEndpoints
//                        tagged array of Produce v10+ and Fetch v16+ responses (KIP-951: where
//                        the leaders named in CurrentLeader are).
//
// These only occur in flexible versions. Decoded strings are views into the frame.
// Thread-safety: value types.
#pragma once

#include <gregor/core/strong_types.hpp>

#include <cstdint>
#include <optional>
#include <string_view>

namespace gregor::wire {

struct leader_id_and_epoch {
    gregor::node_id leader_id{-1};
    gregor::leader_epoch leader_epoch{-1};

    friend bool operator==(const leader_id_and_epoch&, const leader_id_and_epoch&) = default;

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        io.i32(m.leader_id);
        io.i32(m.leader_epoch);
        io.tagged_fields();
    }
};

struct node_endpoint {
    gregor::node_id node_id{-1};
    std::string_view host;
    std::int32_t port = -1;
    std::optional<std::string_view> rack;

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        io.i32(m.node_id);
        io.string(m.host);
        io.i32(m.port);
        io.nullable_string(m.rack);
        io.tagged_fields();
    }
};

} // namespace gregor::wire
