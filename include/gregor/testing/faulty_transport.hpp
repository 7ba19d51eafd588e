// testing::faulty_transport<Inner, Clock>: a producer transport decorator that makes the network
// misbehave on purpose, deterministically, so retries, timeouts and idempotence can be tested
// against a real broker behind the inner transport (usually transport::in_process<Broker>).
//
// Each produce request is numbered (1, 2, ...) and a fault plan decides its fate:
//   drop_request        never reaches the broker, never answered (the producer times it out)
//   drop_response       reaches the broker (appended), the answer is lost
//   duplicate           reaches the broker twice; the second answer is discarded
//   delay               reaches the broker `delay` later (on the transport's clock)
//   reorder             held back and delivered after the next produce request (or after `delay`
//                       when no other request comes)
//   error               not forwarded; answered at once with `error` for every batch
//   error_after_append  forwarded (appended), answered with `error` instead of the real answer
// Metadata and InitProducerId requests are numbered separately (1, 2, ...) and pass untouched
// unless a control plan is set (with_control_faults): then drop_request, drop_response,
// duplicate, delay, reorder (= a delay of at least 1 ms), error (answered at once with `error`)
// and error_after_append (forwarded, answered with `error`) apply to them as well, so a test can
// lose a producer's metadata refresh or its InitProducerId answer.
//
// Plans: testing::random_faults (seeded: a fault with a given probability per request, until a
// budget is spent), testing::scripted_faults (request number -> fault) and any callable
// `fault_action(const produce_request&, std::uint64_t number)`. The counters (a shared handle,
// readable from any thread) tell a test what was injected.
//
// Thread-safety: as the transport concept requires (send/poll on the producer's sender thread,
// wake from anywhere); counters() is thread-safe.
#pragma once

#include <gregor/core/buffer.hpp>
#include <gregor/core/clock.hpp>
#include <gregor/core/error.hpp>
#include <gregor/producer/transport.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

namespace gregor::testing {

enum class fault : std::uint8_t {
    none,
    drop_request,
    drop_response,
    duplicate,
    delay,
    reorder,
    error,
    error_after_append,
};
inline constexpr std::size_t fault_kinds = 8;

struct fault_action {
    fault kind = fault::none;
    error_code error = error_code::none; // for error / error_after_append
    duration delay{};                    // for delay (and the longest a reorder waits)
};

/// What a faulty_transport did; shared so a test keeps a handle after moving the transport.
struct fault_counters {
    std::array<std::atomic<std::uint64_t>, fault_kinds> by_kind{};
    std::atomic<std::uint64_t> produce_requests{0};
    std::atomic<std::uint64_t> forwarded{0};        // produce requests that reached the inner transport
    std::atomic<std::uint64_t> control_requests{0}; // Metadata and InitProducerId requests
    std::atomic<std::uint64_t> control_injected{0}; // faults a control plan injected into them

    [[nodiscard]] std::uint64_t count(fault f) const noexcept {
        return by_kind[static_cast<std::size_t>(f)].load(std::memory_order_relaxed);
    }
    /// Faults injected (everything but `none`).
    [[nodiscard]] std::uint64_t injected() const noexcept {
        std::uint64_t n = 0;
        for (std::size_t i = 1; i < fault_kinds; ++i) n += by_kind[i].load(std::memory_order_relaxed);
        return n;
    }
};

using fault_plan = std::function<fault_action(const produce_request&, std::uint64_t number)>;

/// The requests a control plan sees.
enum class control_request { metadata, init_producer_id };
using control_fault_plan = std::function<fault_action(control_request, std::uint64_t number)>;

/// A seeded random plan: each produce request gets a fault with probability `probability` until
/// `budget` faults were injected. Kinds are drawn uniformly from `kinds`; `error`-like kinds use
/// one of `errors`; delays are uniform in [1 ms, max_delay].
inline fault_plan random_faults(std::uint64_t seed, double probability, std::uint64_t budget, std::vector<fault> kinds,
                                std::vector<error_code> errors, duration max_delay = std::chrono::milliseconds{20}) {
    struct state {
        std::mt19937_64 rng;
        std::uint64_t left;
    };
    auto st = std::make_shared<state>(state{std::mt19937_64{seed}, budget});
    return [st, probability, kinds = std::move(kinds), errors = std::move(errors),
            max_delay](const produce_request&, std::uint64_t) -> fault_action {
        if (st->left == 0 || kinds.empty()) return {};
        std::uniform_real_distribution<double> u(0.0, 1.0);
        if (u(st->rng) >= probability) return {};
        --st->left;
        fault_action a;
        a.kind = kinds[static_cast<std::size_t>(st->rng() % kinds.size())];
        if (!errors.empty()) a.error = errors[static_cast<std::size_t>(st->rng() % errors.size())];
        const auto max_ms =
            std::max<std::int64_t>(1, std::chrono::duration_cast<std::chrono::milliseconds>(max_delay).count());
        a.delay =
            std::chrono::milliseconds{1 + static_cast<std::int64_t>(st->rng() % static_cast<std::uint64_t>(max_ms))};
        return a;
    };
}

/// A plan by request number (1-based); unlisted requests pass.
inline fault_plan scripted_faults(std::map<std::uint64_t, fault_action> script) {
    return [script = std::move(script)](const produce_request&, std::uint64_t n) -> fault_action {
        auto it = script.find(n);
        return it == script.end() ? fault_action{} : it->second;
    };
}

template <typename Inner, typename Clock = system_clock>
class faulty_transport {
public:
    faulty_transport(Inner inner, fault_plan plan, Clock clk = Clock{})
            : inner_(std::move(inner)), plan_(std::move(plan)), clock_(clk),
              counters_(std::make_shared<fault_counters>()) {}

    [[nodiscard]] std::shared_ptr<fault_counters> counters() const noexcept { return counters_; }
    [[nodiscard]] Inner& inner() noexcept { return inner_; }

    void send(produce_request&& r) {
        const std::uint64_t n = ++number_;
        counters_->produce_requests.fetch_add(1, std::memory_order_relaxed);
        const fault_action a = plan_ ? plan_(r, n) : fault_action{};
        counters_->by_kind[static_cast<std::size_t>(a.kind)].fetch_add(1, std::memory_order_relaxed);
        switch (a.kind) {
        case fault::none: forward(std::move(r)); break;
        case fault::drop_request: break;
        case fault::drop_response:
            if (r.acks != 0) swallow_.push_back(r.correlation_id);
            forward(std::move(r));
            break;
        case fault::duplicate: {
            held h = copy(r);
            h.req.correlation_id |= duplicate_bit;
            forward(std::move(r));
            forward_held(std::move(h));
            break;
        }
        case fault::delay: {
            held h = copy(r);
            h.due = clock_.now() + a.delay;
            delayed_.push_back(std::move(h));
            break;
        }
        case fault::reorder: {
            if (reordered_) forward_held(std::move(*std::exchange(reordered_, std::nullopt)));
            held h = copy(r);
            h.due = clock_.now() + (a.delay > duration::zero() ? a.delay : std::chrono::milliseconds{1});
            reordered_ = std::move(h);
            break;
        }
        case fault::error: {
            if (r.acks == 0) break;
            produce_response resp;
            resp.correlation_id = r.correlation_id;
            produce_response::partition_result pr;
            pr.error = a.error;
            resp.results.assign(r.batches.size(), pr);
            local_.push_back(std::move(resp));
            break;
        }
        case fault::error_after_append:
            if (r.acks != 0) rewrite_[r.correlation_id] = a.error;
            forward(std::move(r));
            break;
        }
    }

    /// Applies `plan` to Metadata and InitProducerId requests from now on.
    faulty_transport& with_control_faults(control_fault_plan plan) {
        control_plan_ = std::move(plan);
        return *this;
    }

    void send(metadata_request&& m) { send_control(control_request::metadata, control{std::move(m)}); }
    void send(init_producer_id_request&& i) { send_control(control_request::init_producer_id, control{std::move(i)}); }

    std::size_t poll(std::vector<transport_event>& out, duration max_wait) {
        const auto now = clock_.now();
        bool released = false;
        for (std::size_t i = 0; i < delayed_.size();) {
            if (delayed_[i].due <= now) {
                held h = std::move(delayed_[i]);
                delayed_.erase(delayed_.begin() + static_cast<std::ptrdiff_t>(i));
                forward_held(std::move(h));
                released = true;
            } else {
                ++i;
            }
        }
        if (reordered_ && reordered_->due <= now) {
            forward_held(std::move(*std::exchange(reordered_, std::nullopt)));
            released = true;
        }
        for (std::size_t i = 0; i < delayed_control_.size();) {
            if (delayed_control_[i].first <= now) {
                auto c = std::move(delayed_control_[i].second);
                delayed_control_.erase(delayed_control_.begin() + static_cast<std::ptrdiff_t>(i));
                forward_control(std::move(c));
                released = true;
            } else {
                ++i;
            }
        }
        const std::size_t before = out.size();
        for (auto& e : local_) out.push_back(std::move(e));
        local_.clear();
        for (auto& e : local_control_) out.push_back(std::move(e));
        local_control_.clear();
        duration wait = (released || out.size() > before) ? duration::zero() : max_wait;
        if constexpr (std::is_same_v<Clock, system_clock>) {
            if (auto due = next_due())
                wait = std::min<duration>(wait, std::max<duration>(*due - now, duration::zero()));
        }
        tmp_.clear();
        inner_.poll(tmp_, wait);
        for (auto& e : tmp_) {
            if (auto* p = std::get_if<produce_response>(&e)) {
                if (!keep(*p)) continue;
            } else if (!keep_control(e)) {
                continue;
            }
            out.push_back(std::move(e));
        }
        tmp_.clear();
        return out.size() - before;
    }

    void wake() { inner_.wake(); }

private:
    static constexpr std::uint64_t duplicate_bit = std::uint64_t{1} << 63;

    /// A request whose bytes this transport owns (the producer's may change after it gives up).
    struct held {
        produce_request req;
        std::vector<byte_buffer> bytes;
        time_point due{};
    };

    static held copy(const produce_request& r) {
        held h;
        h.req.correlation_id = r.correlation_id;
        h.req.destination = r.destination;
        h.req.acks = r.acks;
        h.req.timeout_ms = r.timeout_ms;
        h.bytes.reserve(r.batches.size());
        for (const auto& b : r.batches) {
            h.bytes.emplace_back(bytes_view(b.batch));
            h.req.batches.push_back({b.topic, b.partition, h.bytes.back().mutable_view()});
        }
        return h;
    }

    void forward(produce_request&& r) {
        counters_->forwarded.fetch_add(1, std::memory_order_relaxed);
        inner_.send(std::move(r));
        release_reordered();
    }
    void forward_held(held&& h) {
        counters_->forwarded.fetch_add(1, std::memory_order_relaxed);
        // The inner transport may keep the views until it answers, so the bytes live as long as
        // this transport does (tests are bounded).
        inner_.send(std::move(h.req));
        keep_alive_.push_back(std::move(h.bytes));
    }
    /// A reordered request goes right after the next forwarded one.
    void release_reordered() {
        if (reordered_) forward_held(std::move(*std::exchange(reordered_, std::nullopt)));
    }

    using control = std::variant<metadata_request, init_producer_id_request>;

    static std::uint64_t& control_id(control& c) {
        return std::visit([](auto& r) -> std::uint64_t& { return r.correlation_id; }, c);
    }

    void forward_control(control&& c) {
        std::visit([&](auto&& r) { inner_.send(std::move(r)); }, std::move(c));
    }

    void send_control(control_request kind, control&& c) {
        const std::uint64_t n = ++control_number_;
        counters_->control_requests.fetch_add(1, std::memory_order_relaxed);
        const fault_action a = control_plan_ ? control_plan_(kind, n) : fault_action{};
        if (a.kind != fault::none) counters_->control_injected.fetch_add(1, std::memory_order_relaxed);
        const auto id = control_id(c);
        switch (a.kind) {
        case fault::none: return forward_control(std::move(c));
        case fault::drop_request: return;
        case fault::drop_response: swallow_control_.push_back(id); return forward_control(std::move(c));
        case fault::duplicate: {
            control twin = c;
            control_id(twin) |= duplicate_bit;
            forward_control(std::move(c));
            return forward_control(std::move(twin));
        }
        case fault::delay:
        case fault::reorder:
            delayed_control_.emplace_back(clock_.now() + std::max<duration>(a.delay, std::chrono::milliseconds{1}),
                                          std::move(c));
            return;
        case fault::error:
            if (kind == control_request::metadata)
                local_control_.emplace_back(metadata_response{id, std::get<metadata_request>(c).topic, a.error, {}});
            else
                local_control_.emplace_back(
                    init_producer_id_response{id, a.error, producer_id{-1}, producer_epoch{-1}});
            return;
        case fault::error_after_append: rewrite_control_[id] = a.error; return forward_control(std::move(c));
        }
    }

    /// Metadata and InitProducerId answers: duplicates and swallowed ones go, rewritten ones change.
    bool keep_control(transport_event& e) {
        auto* m = std::get_if<metadata_response>(&e);
        auto* i = std::get_if<init_producer_id_response>(&e);
        if (m == nullptr && i == nullptr) return true;
        const auto id = m ? m->correlation_id : i->correlation_id;
        if (id & duplicate_bit) return false;
        if (auto it = std::find(swallow_control_.begin(), swallow_control_.end(), id); it != swallow_control_.end()) {
            swallow_control_.erase(it);
            return false;
        }
        if (auto it = rewrite_control_.find(id); it != rewrite_control_.end()) {
            if (m) {
                m->error = it->second;
                m->leaders.clear();
            } else {
                i->error = it->second;
                i->id = producer_id{-1};
                i->epoch = producer_epoch{-1};
            }
            rewrite_control_.erase(it);
        }
        return true;
    }

    std::optional<time_point> next_due() const {
        std::optional<time_point> d;
        for (const auto& c : delayed_control_) d = d ? std::min(*d, c.first) : c.first;
        for (const auto& h : delayed_) d = d ? std::min(*d, h.due) : h.due;
        if (reordered_) d = d ? std::min(*d, reordered_->due) : reordered_->due;
        return d;
    }

    bool keep(produce_response& p) {
        if (p.correlation_id & duplicate_bit) return false;
        if (auto it = std::find(swallow_.begin(), swallow_.end(), p.correlation_id); it != swallow_.end()) {
            swallow_.erase(it);
            return false;
        }
        if (auto it = rewrite_.find(p.correlation_id); it != rewrite_.end()) {
            for (auto& r : p.results) r.error = it->second;
            rewrite_.erase(it);
        }
        return true;
    }

    Inner inner_;
    fault_plan plan_;
    Clock clock_;
    std::shared_ptr<fault_counters> counters_;
    std::uint64_t number_ = 0;
    std::vector<std::uint64_t> swallow_;
    std::unordered_map<std::uint64_t, error_code> rewrite_;
    std::vector<held> delayed_;
    std::optional<held> reordered_;
    std::vector<produce_response> local_;
    std::deque<std::vector<byte_buffer>> keep_alive_;
    std::vector<transport_event> tmp_;
    control_fault_plan control_plan_;
    std::uint64_t control_number_ = 0;
    std::vector<std::uint64_t> swallow_control_;
    std::unordered_map<std::uint64_t, error_code> rewrite_control_;
    std::vector<std::pair<time_point, control>> delayed_control_;
    std::vector<transport_event> local_control_;
};

} // namespace gregor::testing
