// The cluster's metadata as a log (docs/replication.md): the controller appends one record per
// change (a broker registered, was fenced or unfenced; a topic was created or removed; a
// partition's leader, ISR or replicas changed; a topic config was set) to its partition
// `__cluster_metadata`-0, and every broker, the controller's own included, reads that partition
// with Fetch and applies the records in order to a metadata_image. The image is what Metadata
// answers, what tells a broker which partitions it hosts and whom it follows, and what the
// controller decides from.
//
// Records are framed as KRaft frames them (docs/protocol.md §14.9): unsigned varints frame
// version 1, record type, record version, then the fields in the flexible encoding with a tagged
// field section. The type numbers are KRaft's for the same facts; the field lists are gregor's
// (names instead of topic ids in partition records, the whole partition state in every change),
// so the log is read by gregor, not by Kafka's metadata shell.
//
// Thread-safety: values and pure functions; callers serialise access to an image.
#pragma once

#include <gregor/broker/partition.hpp>
#include <gregor/core/buffer.hpp>
#include <gregor/core/strong_types.hpp>
#include <gregor/wire/primitives.hpp>
#include <gregor/wire/record_batch.hpp>

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace gregor::cluster {

/// The metadata log's topic name and its one partition.
inline constexpr std::string_view metadata_topic = "__cluster_metadata";

struct broker_info {
    node_id id{-1};
    std::int64_t epoch = -1; // the offset of its registration record (KRaft's broker epoch)
    std::string host;
    std::int32_t port = 0;
    std::string rack;
    bool fenced = true;
    friend bool operator==(const broker_info&, const broker_info&) = default;
};

struct topic_info {
    std::string name;
    wire::uuid id{};
    std::map<std::string, std::string> configs; // overrides, by topic-level key
    std::vector<partition_state> partitions;
};

// ---- records (KRaft type numbers) ----
struct register_broker_record { // type 0
    static constexpr std::uint16_t type = 0;
    broker_info broker;
};
struct topic_record { // type 2
    static constexpr std::uint16_t type = 2;
    std::string name;
    wire::uuid id{};
};
struct partition_record { // type 3: the whole state after a change (PartitionRecord/PartitionChangeRecord)
    static constexpr std::uint16_t type = 3;
    std::string topic;
    partition_id partition{0};
    partition_state state;
};
struct config_record { // type 4
    static constexpr std::uint16_t type = 4;
    std::string topic;
    std::string key;
    std::optional<std::string> value; // nullopt: back to the default
};
struct fence_broker_record { // type 7
    static constexpr std::uint16_t type = 7;
    node_id id{-1};
    std::int64_t epoch = -1;
};
struct unfence_broker_record { // type 8
    static constexpr std::uint16_t type = 8;
    node_id id{-1};
    std::int64_t epoch = -1;
};
struct remove_topic_record { // type 9
    static constexpr std::uint16_t type = 9;
    std::string name;
};

using record = std::variant<register_broker_record, topic_record, partition_record, config_record, fence_broker_record,
                            unfence_broker_record, remove_topic_record>;

namespace detail {

template <typename IO, typename NodeVec>
void node_list(IO& io, NodeVec& v) {
    io.array(v, [](auto& io2, auto& n) { io2.i32(n); });
}

template <typename IO, typename R>
void fields(IO& io, R& r) {
    using T = std::remove_const_t<R>;
    if constexpr (std::is_same_v<T, register_broker_record>) {
        io.i32(r.broker.id);
        io.i64(r.broker.epoch);
        io.string(r.broker.host);
        io.i32(r.broker.port);
        io.string(r.broker.rack);
        io.boolean(r.broker.fenced);
    } else if constexpr (std::is_same_v<T, topic_record>) {
        io.string(r.name);
        io.uuid(r.id);
    } else if constexpr (std::is_same_v<T, partition_record>) {
        io.string(r.topic);
        io.i32(r.partition);
        io.i32(r.state.leader);
        io.i32(r.state.leader_epoch);
        io.i32(r.state.partition_epoch);
        node_list(io, r.state.replicas);
        node_list(io, r.state.isr);
    } else if constexpr (std::is_same_v<T, config_record>) {
        io.string(r.topic);
        io.string(r.key);
        io.nullable_string(r.value);
    } else if constexpr (std::is_same_v<T, fence_broker_record> || std::is_same_v<T, unfence_broker_record>) {
        io.i32(r.id);
        io.i64(r.epoch);
    } else if constexpr (std::is_same_v<T, remove_topic_record>) {
        io.string(r.name);
    }
    io.tagged_fields();
}

// The decoder hands out string views into the record; records own their strings.
struct owning_decoder {
    wire::decoder d;
    bool flexible() const noexcept { return true; }
    std::int16_t version() const noexcept { return 0; }
    void i8(std::int8_t& v) { v = d.i8(); }
    template <typename T>
    void i32(T& v) {
        if constexpr (std::is_same_v<T, std::int32_t>)
            v = d.i32();
        else
            v = T{d.i32()};
    }
    void i64(std::int64_t& v) { v = d.i64(); }
    void boolean(bool& v) { v = d.boolean(); }
    void uuid(wire::uuid& u) { u = d.uuid(); }
    void string(std::string& s) { s = std::string(d.string()); }
    void nullable_string(std::optional<std::string>& s) {
        const auto v = d.nullable_string();
        if (v)
            s = std::string(*v);
        else
            s.reset();
    }
    template <typename Vec, typename Fn>
    void array(Vec& v, Fn&& fn) {
        const auto n = wire::read_compact_array_count(d.reader(), 1);
        if (n < 0) return d.fail();
        v.clear();
        for (std::int64_t i = 0; i < n && d.ok(); ++i) {
            v.emplace_back();
            fn(*this, v.back());
        }
    }
    void tagged_fields() { wire::skip_tagged_fields(d.reader()); }
};

// Writes a record's fields through the wire encoder (strings owned by the record).
struct owning_encoder {
    wire::encoder& e;
    template <typename T>
    void i32(const T& v) {
        e.i32(v);
    }
    void i64(std::int64_t v) { e.i64(v); }
    void boolean(bool v) { e.boolean(v); }
    void uuid(const wire::uuid& u) { e.uuid(u); }
    void string(const std::string& s) { e.string(s); }
    void nullable_string(const std::optional<std::string>& s) {
        if (s)
            e.nullable_string(std::string_view(*s));
        else
            e.nullable_string(std::nullopt);
    }
    template <typename Vec, typename Fn>
    void array(const Vec& v, Fn&& fn) {
        e.array_count(v.size());
        for (const auto& x : v) fn(*this, x);
    }
    void tagged_fields() { e.tagged_fields(); }
};

} // namespace detail

/// One record as the value of a metadata log record.
inline byte_buffer encode(const record& rec) {
    byte_buffer out;
    byte_writer w(out);
    std::visit(
        [&](const auto& r) {
            w.uvarint(1); // frame version
            w.uvarint(std::remove_cvref_t<decltype(r)>::type);
            w.uvarint(0); // record version
            wire::encoder e(w, true, 0);
            detail::owning_encoder a{e};
            detail::fields(a, r);
        },
        rec);
    return out;
}

/// The record in a metadata log record's value; nullopt for an unknown type or bad bytes.
inline std::optional<record> decode(bytes_view value) {
    byte_reader r(value);
    const auto frame = wire::read_uvarint32(r);
    const auto type = wire::read_uvarint32(r);
    const auto version = wire::read_uvarint32(r);
    if (!r.ok() || frame != 1 || version != 0) return std::nullopt;
    detail::owning_decoder d{wire::decoder(r, true, 0)};
    auto one = [&](auto rec) -> std::optional<record> {
        detail::fields(d, rec);
        if (!r.ok() || r.remaining() != 0) return std::nullopt;
        return record{std::move(rec)};
    };
    switch (type) {
    case register_broker_record::type: return one(register_broker_record{});
    case topic_record::type: return one(topic_record{});
    case partition_record::type: return one(partition_record{});
    case config_record::type: return one(config_record{});
    case fence_broker_record::type: return one(fence_broker_record{});
    case unfence_broker_record::type: return one(unfence_broker_record{});
    case remove_topic_record::type: return one(remove_topic_record{});
    default: return std::nullopt;
    }
}

/// The cluster as the metadata log says up to `next_offset` (the next offset to apply).
struct metadata_image {
    std::map<std::int32_t, broker_info> brokers;
    std::map<std::string, topic_info, std::less<>> topics;
    offset next_offset{0};

    const topic_info* find(std::string_view name) const {
        const auto it = topics.find(name);
        return it == topics.end() ? nullptr : &it->second;
    }
    const partition_state* find(std::string_view name, partition_id p) const {
        const auto* t = find(name);
        if (!t || p.value() < 0 || static_cast<std::size_t>(p.value()) >= t->partitions.size()) return nullptr;
        return &t->partitions[static_cast<std::size_t>(p.value())];
    }
    bool alive(node_id id) const {
        const auto it = brokers.find(id.value());
        return it != brokers.end() && !it->second.fenced;
    }

    void apply(const record& rec) {
        std::visit([this](const auto& r) { apply_one(r); }, rec);
    }

private:
    void apply_one(const register_broker_record& r) { brokers[r.broker.id.value()] = r.broker; }
    void apply_one(const topic_record& r) {
        auto& t = topics[r.name];
        t.name = r.name;
        t.id = r.id;
    }
    void apply_one(const partition_record& r) {
        const auto it = topics.find(r.topic);
        if (it == topics.end() || r.partition.value() < 0) return;
        auto& parts = it->second.partitions;
        const auto i = static_cast<std::size_t>(r.partition.value());
        if (parts.size() <= i) parts.resize(i + 1);
        parts[i] = r.state;
    }
    void apply_one(const config_record& r) {
        const auto it = topics.find(r.topic);
        if (it == topics.end()) return;
        if (r.value)
            it->second.configs[r.key] = *r.value;
        else
            it->second.configs.erase(r.key);
    }
    void apply_one(const fence_broker_record& r) {
        if (auto it = brokers.find(r.id.value()); it != brokers.end() && it->second.epoch == r.epoch)
            it->second.fenced = true;
    }
    void apply_one(const unfence_broker_record& r) {
        if (auto it = brokers.find(r.id.value()); it != brokers.end() && it->second.epoch == r.epoch)
            it->second.fenced = false;
    }
    void apply_one(const remove_topic_record& r) {
        if (auto it = topics.find(r.name); it != topics.end()) topics.erase(it);
    }
};

/// A batch of metadata records (uncompressed v2, timestamps `now_ms`), to append to the log.
inline byte_buffer build_batch(const std::vector<record>& recs, std::int64_t now_ms) {
    wire::batch_builder b(256);
    for (const auto& r : recs) {
        const auto v = encode(r);
        b.append(now_ms, std::nullopt, bytes_view{v.view()}, {});
    }
    return b.seal();
}

/// Applies every record of the whole batches in `bytes` not applied yet to `img` (a trailing
/// partial batch is left for the next read).
inline void apply_batches(metadata_image& img, bytes_view bytes) {
    wire::batch_splitter s(bytes);
    while (auto b = s.next()) {
        wire::batch_view v(*b);
        const auto& h = v.header();
        if (h.last_offset() < img.next_offset) continue;
        for (const auto& rec : v) {
            if (rec.record_offset < img.next_offset || !rec.value) continue;
            if (auto r = decode(*rec.value)) img.apply(*r);
        }
        img.next_offset = h.last_offset() + 1;
    }
}

} // namespace gregor::cluster
