// Strong types for Kafka's int32/int64 look-alikes, so the compiler tells an offset from a
// partition id or a sequence. Construction is explicit; `.value()` gets the raw number back for
// the wire. Offsets and sequences get the arithmetic the log needs; ids get none.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <limits>
#include <ostream>

namespace gregor {

template <typename T, typename Tag>
class named_type {
public:
    using value_type = T;
    constexpr named_type() noexcept = default;
    constexpr explicit named_type(T v) noexcept : value_(v) {}
    [[nodiscard]] constexpr T value() const noexcept { return value_; }
    constexpr explicit operator T() const noexcept { return value_; }
    friend constexpr auto operator<=>(named_type, named_type) noexcept = default;
    friend std::ostream& operator<<(std::ostream& os, named_type v) { return os << v.value_; }

    static constexpr named_type min() noexcept { return named_type{std::numeric_limits<T>::min()}; }
    static constexpr named_type max() noexcept { return named_type{std::numeric_limits<T>::max()}; }

protected:
    T value_{};
};

/// A named type with +/- by its underlying integer, for positions in a sequence (offsets).
template <typename T, typename Tag>
class ordinal_type : public named_type<T, Tag> {
public:
    using named_type<T, Tag>::named_type;
    friend constexpr ordinal_type operator+(ordinal_type a, T d) noexcept { return ordinal_type{a.value_ + d}; }
    friend constexpr ordinal_type operator-(ordinal_type a, T d) noexcept { return ordinal_type{a.value_ - d}; }
    friend constexpr T operator-(ordinal_type a, ordinal_type b) noexcept { return a.value_ - b.value_; }
    constexpr ordinal_type& operator+=(T d) noexcept {
        this->value_ += d;
        return *this;
    }
    constexpr ordinal_type& operator++() noexcept {
        ++this->value_;
        return *this;
    }
    static constexpr ordinal_type min() noexcept { return ordinal_type{std::numeric_limits<T>::min()}; }
    static constexpr ordinal_type max() noexcept { return ordinal_type{std::numeric_limits<T>::max()}; }
    friend constexpr auto operator<=>(ordinal_type, ordinal_type) noexcept = default;
};

struct offset_tag {};
struct partition_id_tag {};
struct node_id_tag {};
struct leader_epoch_tag {};
struct producer_id_tag {};
struct producer_epoch_tag {};
struct sequence_tag {};

/// Position of a record in a partition's log.
using offset = ordinal_type<std::int64_t, offset_tag>;
/// Index of a partition inside its topic.
using partition_id = named_type<std::int32_t, partition_id_tag>;
/// Broker id in a cluster.
using node_id = named_type<std::int32_t, node_id_tag>;
/// Epoch of a partition's leadership, stamped into every appended batch.
using leader_epoch = named_type<std::int32_t, leader_epoch_tag>;
/// Idempotent producer id handed out by InitProducerId (-1: not idempotent).
using producer_id = named_type<std::int64_t, producer_id_tag>;
/// Epoch of a producer id; a higher epoch fences older producers with the same id.
using producer_epoch = named_type<std::int16_t, producer_epoch_tag>;

/// Idempotence sequence number; wraps from INT32_MAX to 0 as Kafka's does.
class sequence : public named_type<std::int32_t, sequence_tag> {
public:
    using named_type::named_type;
    /// The sequence `n` records after this one, with Kafka's wrap-around.
    [[nodiscard]] constexpr sequence advanced(std::int32_t n) const noexcept {
        const auto max = std::numeric_limits<std::int32_t>::max();
        if (value_ > max - n) return sequence{n - (max - value_) - 1};
        return sequence{value_ + n};
    }
    friend constexpr auto operator<=>(sequence, sequence) noexcept = default;
};

inline constexpr producer_id no_producer_id{-1};
inline constexpr producer_epoch no_producer_epoch{-1};
inline constexpr sequence no_sequence{-1};
inline constexpr node_id no_node{-1};

} // namespace gregor

template <typename T, typename Tag>
struct std::hash<gregor::named_type<T, Tag>> {
    std::size_t operator()(gregor::named_type<T, Tag> v) const noexcept { return std::hash<T>{}(v.value()); }
};
template <typename T, typename Tag>
struct std::hash<gregor::ordinal_type<T, Tag>> {
    std::size_t operator()(gregor::ordinal_type<T, Tag> v) const noexcept { return std::hash<T>{}(v.value()); }
};
