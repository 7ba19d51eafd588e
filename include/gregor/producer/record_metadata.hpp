// The outcome of one record: `record_metadata` (where it landed) and `delivery_report`
// (metadata + error), plus the completion forms producer::send() accepts: a callback
// `void(std::error_code, const record_metadata&)` or `gregor::use_future` (a
// std::future<delivery_report>). Outcomes are values: nothing is thrown for a failed delivery.
//
// Exactly one completion per record. Completions run on the producer's sender thread, except for
// a record that send()/try_send() rejects up front (queue full, closed, invalid argument): its
// completion runs on the calling thread before send() returns. See producer.hpp.
//
// Thread-safety: plain values; `producer_detail::completion` is a move-only single-owner callable.
#pragma once

#include <gregor/core/error.hpp>
#include <gregor/core/strong_types.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <future>
#include <new>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

namespace gregor {

/// Where a record landed. On failure the partition may be known (-1 otherwise) and the offset is
/// -1. The offset is also -1 with acks=0 (no answer is requested) and for a legacy
/// DUPLICATE_SEQUENCE_NUMBER answer (the broker accepted the batch earlier without saying where).
struct record_metadata {
    std::string_view topic; // valid while the producer lives
    partition_id partition{-1};
    gregor::offset offset{-1};
    std::int64_t timestamp = -1;           // CreateTime given or stamped, or the broker's LogAppendTime
    std::int32_t serialized_key_size = -1; // -1 for a null key
    std::int32_t serialized_value_size = -1;
};

struct delivery_report {
    record_metadata metadata;
    std::error_code error; // empty on success; a gregor::error_code (Kafka) or gregor::local_error
};

/// Completion token: `send(record, gregor::use_future)` returns std::future<delivery_report>.
struct use_future_t {};
inline constexpr use_future_t use_future{};

/// A delivery callback: invoked once with the record's outcome.
template <typename F>
concept delivery_callback = std::invocable<F&, std::error_code, const record_metadata&>;

namespace producer_detail {

/// Move-only `void(std::error_code, const record_metadata&)` with inline storage big enough for
/// a std::promise or a lambda capturing a few pointers, so the common completions cost no
/// allocation of their own.
class completion {
public:
    static constexpr std::size_t inline_size = 48;

    completion() noexcept = default;
    template <typename F>
    requires(!std::same_as<std::remove_cvref_t<F>, completion> &&
             delivery_callback<std::decay_t<F>>) explicit completion(F&& f) {
        using D = std::decay_t<F>;
        if constexpr (fits_inline<D>()) {
            ::new (static_cast<void*>(storage_)) D(std::forward<F>(f));
            vt_ = &inline_vtable<D>;
        } else {
            D* p = new D(std::forward<F>(f));
            std::memcpy(storage_, &p, sizeof p);
            vt_ = &heap_vtable<D>;
        }
    }
    completion(completion&& o) noexcept : vt_(o.vt_) {
        if (vt_) vt_->move(storage_, o.storage_);
        o.vt_ = nullptr;
    }
    completion& operator=(completion&& o) noexcept {
        if (this != &o) {
            reset();
            vt_ = o.vt_;
            if (vt_) vt_->move(storage_, o.storage_);
            o.vt_ = nullptr;
        }
        return *this;
    }
    completion(const completion&) = delete;
    completion& operator=(const completion&) = delete;
    ~completion() { reset(); }

    explicit operator bool() const noexcept { return vt_ != nullptr; }

    /// Invokes and then destroys the callable (a completion fires once).
    void operator()(std::error_code ec, const record_metadata& md) {
        if (!vt_) return;
        vt_->invoke(storage_, ec, md);
        reset();
    }

private:
    struct vtable {
        void (*invoke)(void*, std::error_code, const record_metadata&);
        void (*move)(void* dst, void* src) noexcept;
        void (*destroy)(void*) noexcept;
    };
    template <typename D>
    static constexpr bool fits_inline() {
        return sizeof(D) <= inline_size && alignof(D) <= alignof(std::max_align_t) &&
               std::is_nothrow_move_constructible_v<D>;
    }
    template <typename D>
    static D* heap_ptr(void* s) noexcept {
        D* p;
        std::memcpy(&p, s, sizeof p);
        return p;
    }
    template <typename D>
    static constexpr vtable inline_vtable{
        [](void* s, std::error_code ec, const record_metadata& md) { (*std::launder(static_cast<D*>(s)))(ec, md); },
        [](void* d, void* s) noexcept {
            D* src = std::launder(static_cast<D*>(s));
            ::new (d) D(std::move(*src));
            src->~D();
        },
        [](void* s) noexcept { std::launder(static_cast<D*>(s))->~D(); }};
    template <typename D>
    static constexpr vtable heap_vtable{
        [](void* s, std::error_code ec, const record_metadata& md) { (*heap_ptr<D>(s))(ec, md); },
        [](void* d, void* s) noexcept { std::memcpy(d, s, sizeof(D*)); },
        [](void* s) noexcept { delete heap_ptr<D>(s); }};

    void reset() noexcept {
        if (vt_) {
            vt_->destroy(storage_);
            vt_ = nullptr;
        }
    }

    alignas(std::max_align_t) unsigned char storage_[inline_size];
    const vtable* vt_ = nullptr;
};

/// The completion behind gregor::use_future.
struct promise_completion {
    std::promise<delivery_report> promise;
    void operator()(std::error_code ec, const record_metadata& md) { promise.set_value(delivery_report{md, ec}); }
};

} // namespace producer_detail
} // namespace gregor
