// What the consumer-group handlers share (docs/groups.md): the coordinator's string types from
// the frame's views, a copy of the request header for answers that come later, and whether a
// topic partition exists for OffsetCommit's per-partition check.
#pragma once

#include <gregor/broker/group_coordinator.hpp>
#include <gregor/broker/handlers/context.hpp>
#include <gregor/net/response.hpp>
#include <gregor/wire/header.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gregor::broker_handlers::group_detail {

inline std::optional<std::string> owned(const std::optional<std::string_view>& s) {
    return s ? std::optional<std::string>(std::string(*s)) : std::nullopt;
}

inline std::optional<std::string_view> view(const std::optional<std::string>& s) {
    return s ? std::optional<std::string_view>(*s) : std::nullopt;
}

inline bytes_view bytes_of(const std::string& s) noexcept {
    return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

inline std::string string_of(bytes_view b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

/// The header fields an answer needs, owned: the request's frame is gone when a parked join or a
/// commit's append completes.
inline wire::request_header answer_header(const wire::request_header& h) {
    return wire::request_header{h.key, h.version, h.correlation_id, std::nullopt};
}

/// Answers `body` to a request whose header was kept with answer_header().
template <typename Body>
void reply(net::responder& r, const wire::request_header& h, const Body& body) {
    r.complete(net::response(encode_response(h, h.version, body)));
}

/// Does partition `p` of `topic` exist in the cluster (or on this single broker)?
template <typename Broker>
bool partition_exists(Broker& b, std::string_view topic, std::int32_t p) {
    if (p < 0) return false;
    if (b.cluster_mode()) {
        auto* m = b.member();
        if (!m) return false;
        const auto img = m->image();
        return img->find(topic, partition_id{p}) != nullptr;
    }
    const auto rec = b.topic_metadata(topic);
    return rec && static_cast<std::size_t>(p) < rec->partitions.size();
}

} // namespace gregor::broker_handlers::group_detail
