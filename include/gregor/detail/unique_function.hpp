// A move-only type-erased callable (std::move_only_function arrives only in C++23). Event loops
// queue work that owns move-only state (a responder, a byte_buffer), which std::function cannot
// hold. Not thread-safe: one owner at a time, like any value.
#pragma once

#include <concepts>
#include <cstddef>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

namespace gregor::detail {

template <typename Signature>
class unique_function;

template <typename R, typename... Args>
class unique_function<R(Args...)> {
public:
    unique_function() noexcept = default;
    unique_function(std::nullptr_t) noexcept {}

    template <typename F>
    requires(!std::same_as<std::remove_cvref_t<F>, unique_function> &&
             std::is_invocable_r_v<R, std::decay_t<F>&, Args...>) unique_function(F&& f)
            : impl_(std::make_unique<model<std::decay_t<F>>>(std::forward<F>(f))) {}

    unique_function(unique_function&&) noexcept = default;
    unique_function& operator=(unique_function&&) noexcept = default;

    R operator()(Args... args) { return impl_->call(std::forward<Args>(args)...); }
    explicit operator bool() const noexcept { return impl_ != nullptr; }

private:
    struct concept_base {
        virtual ~concept_base() = default;
        virtual R call(Args&&... args) = 0;
    };
    template <typename F>
    struct model final : concept_base {
        template <typename G>
        explicit model(G&& g) : f(std::forward<G>(g)) {}
        R call(Args&&... args) override { return std::invoke(f, std::forward<Args>(args)...); }
        F f;
    };
    std::unique_ptr<concept_base> impl_;
};

} // namespace gregor::detail
