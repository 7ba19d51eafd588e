// The machinery behind the one list of Kafka API handlers (handlers.hpp): from a handler_list it
// generates the dispatch on (api key, version) and the ApiVersions answer, so that the two cannot
// disagree, and it checks each handler's version ranges against its message codec at compile time.
//
// A handler is a struct with
//   using api = wire::<name>_api;                           // key, codec versions
//   static constexpr wire::version_range served{min, max};  // what handle() decodes and answers
//   static constexpr wire::version_range advertised{...};   // optional, defaults to served;
//                                                           // only its min may be lower
//   template <class Broker> static void handle(request_context<Broker>&, net::responder);
// and optionally
//   template <class Broker> static void unsupported_version(request_context<Broker>&, net::responder);
//                                  // a version outside `served` (default: close the connection)
//   static void on_close(server_state&, net::connection_id);   // a connection went away
//   template <class Broker> static void on_input_closed(Broker&, server_state&, net::connection_id);
//                                  // its peer sent EOF: answer what waits for an event now
//   template <class Broker> static void on_stop(Broker&, server_state&); // shutdown, on the loop
//   static constexpr bool off_loop = true;  // handle() may wait on the disk: it runs on the
//                                            // server's background_worker with a copy of the frame
#pragma once

#include <gregor/broker/handlers/context.hpp>
#include <gregor/broker/handlers/server_state.hpp>
#include <gregor/net/response.hpp>
#include <gregor/wire/api.hpp>

#include <algorithm>
#include <array>
#include <concepts>
#include <cstddef>
#include <utility>

namespace gregor::broker_handlers {

template <typename H>
concept api_handler = wire::kafka_api<typename H::api> && requires {
    { H::served } -> std::convertible_to<wire::version_range>;
};

/// What ApiVersions lists for `H`: its `advertised` range if it declares one, else `served`.
template <api_handler H>
constexpr wire::version_range advertised_range() noexcept {
    if constexpr (requires {
                      { H::advertised } -> std::convertible_to<wire::version_range>;
                  })
        return H::advertised;
    else
        return H::served;
}

namespace detail {

constexpr bool within(wire::version_range inner, wire::version_range outer) noexcept {
    return inner.min >= outer.min && inner.max <= outer.max;
}

template <api_handler H>
constexpr bool check_handler() noexcept {
    static_assert(!H::served.empty(), "gregor: a handler must serve at least one version");
    static_assert(within(H::served, wire::implemented_versions<typename H::api>()),
                  "gregor: a handler cannot serve versions its message codec does not implement");
    static_assert(within(H::served, advertised_range<H>()),
                  "gregor: a handler's served versions must all be advertised");
    static_assert(advertised_range<H>().max <= H::api::max_version,
                  "gregor: never advertise a version above what the codec implements");
    // Clients send the highest version both sides list: one we advertise but do not serve at the
    // top would close every such client's connection (only the bottom may be wider, see Produce).
    static_assert(advertised_range<H>().max == H::served.max,
                  "gregor: a handler must serve its highest advertised version");
    return true;
}

template <api_handler... H>
constexpr bool distinct_keys() noexcept {
    const std::array<wire::api_key, sizeof...(H)> keys{H::api::key...};
    for (std::size_t i = 0; i < keys.size(); ++i)
        for (std::size_t j = i + 1; j < keys.size(); ++j)
            if (keys[i] == keys[j]) return false;
    return true;
}

template <api_handler H>
constexpr bool off_loop() noexcept {
    if constexpr (requires {
                      { H::off_loop } -> std::convertible_to<bool>;
                  })
        return H::off_loop;
    else
        return false;
}

template <api_handler H, typename Broker>
void serve(request_context<Broker>& ctx, net::responder r) {
    if (!H::served.contains(ctx.header.version)) {
        if constexpr (requires { H::unsupported_version(ctx, std::move(r)); })
            return H::unsupported_version(ctx, std::move(r));
        else
            return r.complete(net::close_connection); // as Kafka does
    }
    if constexpr (off_loop<H>())
        if (!ctx.on_worker) return run_on_worker<H>(ctx, std::move(r));
    H::handle(ctx, std::move(r));
}

template <api_handler H>
void close_one(server_state& st, net::connection_id conn) {
    if constexpr (requires { H::on_close(st, conn); }) H::on_close(st, conn);
}

template <api_handler H, typename Broker>
void input_closed_one(Broker& b, server_state& st, net::connection_id conn) {
    if constexpr (requires { H::on_input_closed(b, st, conn); }) H::on_input_closed(b, st, conn);
}

template <api_handler H, typename Broker>
void stop_one(Broker& b, server_state& st) {
    if constexpr (requires { H::on_stop(b, st); }) H::on_stop(b, st);
}

} // namespace detail

template <api_handler... H>
struct handler_list {
    static_assert((detail::check_handler<H>() && ...));
    static_assert(detail::distinct_keys<H...>(), "gregor: one handler per API key");
    static constexpr std::size_t size = sizeof...(H);
};

/// The ApiVersions entries of a list, ordered by key as Kafka lists them.
template <api_handler... H>
constexpr std::array<wire::advertised_api, sizeof...(H)> advertised_apis(handler_list<H...>) noexcept {
    std::array<wire::advertised_api, sizeof...(H)> out{{{H::api::key, advertised_range<H>()}...}};
    std::ranges::sort(out, {}, &wire::advertised_api::key);
    return out;
}

/// Runs the handler of the request's API key; an unknown key closes the connection, as Kafka does.
template <typename Broker, api_handler... H>
void dispatch(handler_list<H...>, request_context<Broker>& ctx, net::responder r) {
    const auto key = ctx.header.key;
    const bool known = ((H::api::key == key && (detail::serve<H>(ctx, std::move(r)), true)) || ...);
    if (!known) r.complete(net::close_connection);
}

/// Tells every handler that wants to know that `conn` closed.
template <api_handler... H>
void connection_closed(handler_list<H...>, server_state& st, net::connection_id conn) {
    (detail::close_one<H>(st, conn), ...);
}

/// `conn`'s peer will send nothing more: handlers answer its waiting requests now (loop thread).
template <typename Broker, api_handler... H>
void input_closed(handler_list<H...>, Broker& b, server_state& st, net::connection_id conn) {
    (detail::input_closed_one<H>(b, st, conn), ...);
}

/// Shutdown: every handler that keeps requests waiting answers them now (loop thread).
template <typename Broker, api_handler... H>
void server_stopping(handler_list<H...>, Broker& b, server_state& st) {
    (detail::stop_one<H>(b, st), ...);
}

} // namespace gregor::broker_handlers
