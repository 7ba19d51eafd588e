// Fetch: long-polls up to max_wait_ms for min_bytes without holding the event loop, and sends the
// records zero-copy from the log. A fetch without enough data parks in the server state on the
// monitors of its partitions and is re-run on the loop when any of them moves, whoever appended
// (this server, an embedded producer on another thread, later a follower moving the high
// watermark), or answered at max_wait_ms.
#pragma once

#include <gregor/broker/handlers/context.hpp>
#include <gregor/broker/handlers/server_state.hpp>
#include <gregor/broker/offset_monitor.hpp>
#include <gregor/broker/partition.hpp>
#include <gregor/compression/codec.hpp>
#include <gregor/core/buffer.hpp>
#include <gregor/core/error.hpp>
#include <gregor/core/strong_types.hpp>
#include <gregor/net/response.hpp>
#include <gregor/storage/read_result.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/header.hpp>
#include <gregor/wire/messages/fetch.hpp>
#include <gregor/wire/primitives.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace gregor::broker_handlers {

struct fetch_handler {
    using api = wire::fetch_api;
    // v0-3 readers expect message formats 0/1; v4 is also what librdkafka's MsgVer2 probe needs.
    // v7+ fetch sessions are answered sessionless (session_id 0: clients send full fetches), v9+
    // leader epochs are checked, v12 flexible, v13+ topics by id (from the topic table), v15 the
    // replica state tag (consumers only until replication).
    static constexpr wire::version_range served{4, 16};

    template <typename Broker>
    static void handle(request_context<Broker>& ctx, net::responder r) {
        auto req = decode_request<wire::fetch::request>(ctx);
        if (!req) return r.complete(net::close_connection);
        fetch_plan plan;
        plan.header = ctx.header;
        plan.header.client_id.reset(); // points into the frame
        plan.version = ctx.header.version;
        plan.correlation_id = ctx.header.correlation_id;
        plan.min_bytes = req->min_bytes;
        plan.max_bytes = req->max_bytes;
        plan.iso = req->isolation_level == wire::isolation_level::read_committed ? isolation::read_committed
                                                                                 : isolation::read_uncommitted;
        // A follower's fetch reads up to the log end and moves the leader's view of it
        // (docs/protocol.md §14.3); replica ids below -1 are Kafka's debug/future ones: consumers.
        plan.replica_id = req->replica_id.value() >= 0 && ctx.broker.cluster_mode() ? req->replica_id : node_id{-1};
        plan.received_ms = ctx.broker.now_ms();
        // An incremental fetch session this broker never created (it creates none): the client
        // starts over with a full fetch.
        if (plan.version >= 7 && req->session_id != 0) {
            wire::fetch::response resp;
            resp.error_code = error_code::fetch_session_id_not_found;
            return r.complete(net::response(encode_response(ctx.header, plan.version, resp)));
        }
        for (const auto& t : req->topics) {
            plan_topic pt{std::string(t.name), t.topic_id, {}};
            error_code topic_error = error_code::none;
            if (plan.version >= 13) {
                if (auto name = ctx.broker.topic_name_of(t.topic_id))
                    pt.name = std::move(*name);
                else
                    topic_error = error_code::unknown_topic_id;
            }
            for (const auto& p : t.partitions) {
                auto e = topic_error;
                if (e == error_code::none && plan.replica_id.value() < 0)
                    e = check_leader_epoch(ctx.broker.find_partition(pt.name, p.partition_index),
                                           plan.version >= 9 ? p.current_leader_epoch : leader_epoch{-1});
                // A topic whose compression.type is zstd stores zstd batches only; Fetch before v10
                // cannot promise its client reads them (KIP-110). Producer-chosen zstd in a
                // `producer` topic is served unchanged, as Kafka does (docs/compression.md).
                if (e == error_code::none && plan.version < 10) {
                    const auto* part = ctx.broker.find_partition(pt.name, p.partition_index);
                    if (part && part->stored_codec() == compression::codec::zstd)
                        e = error_code::unsupported_compression_type;
                }
                pt.partitions.push_back({p.partition_index, p.fetch_offset, p.partition_max_bytes, e,
                                         p.current_leader_epoch, p.last_fetched_epoch, p.log_start_offset});
            }
            plan.topics.push_back(std::move(pt));
        }
        // max_wait_ms <= 0: answer now with whatever there is, even nothing (no long poll).
        if (answer(ctx.broker, plan, r, req->max_wait_ms <= 0)) return;
        // Not enough data yet: park until a partition's monitor says more is readable, or
        // max_wait_ms.
        auto& st = ctx.state;
        const auto id = ++st.next_park_id;
        st.parked.push_back({ctx.conn, std::move(plan), std::move(r), {}, id, {}});
        auto& pf = st.parked.back();
        pf.timer = ctx.loop.run_after(std::chrono::milliseconds(req->max_wait_ms), [b = &ctx.broker, s = &st, id] {
            for (auto it = s->parked.begin(); it != s->parked.end(); ++it) {
                if (it->id != id) continue;
                auto p = std::move(*it);
                s->parked.erase(it);
                p.cancel();
                answer(*b, p.plan, p.responder, true);
                return;
            }
        });
        arm(ctx.broker, st, pf);
    }

    /// A parked fetch's connection went away: nobody is left to answer.
    static void on_close(server_state& st, net::connection_id conn) {
        for (auto it = st.parked.begin(); it != st.parked.end();) {
            if (it->conn == conn) {
                it->cancel();
                it = st.parked.erase(it);
            } else {
                ++it;
            }
        }
    }

    /// The client closed its side (EOF): its parked fetches are answered now with what there is,
    /// so the connection closes at once instead of holding its socket until max_wait_ms (which a
    /// client may set to weeks). A client that only half-closed still gets a valid answer.
    template <typename Broker>
    static void on_input_closed(Broker& b, server_state& st, net::connection_id conn) {
        for (auto it = st.parked.begin(); it != st.parked.end();) {
            if (it->conn != conn) {
                ++it;
                continue;
            }
            auto p = std::move(*it);
            it = st.parked.erase(it);
            p.cancel();
            answer(b, p.plan, p.responder, true);
        }
    }

    /// Shutdown: every parked fetch is answered with what there is now.
    template <typename Broker>
    static void on_stop(Broker& b, server_state& st) {
        while (!st.parked.empty()) {
            auto p = std::move(st.parked.front());
            st.parked.pop_front();
            p.cancel();
            answer(b, p.plan, p.responder, true);
        }
    }

private:
    // Registers one monitor wait per partition for "more than is readable now"; any of them firing
    // re-runs the fetch on the loop thread (through the gate, which shutdown closes).
    template <typename Broker>
    static void arm(Broker& b, server_state& st, parked_fetch& pf) {
        const auto kind = pf.plan.replica_id.value() >= 0           ? offset_kind::log_end
                          : pf.plan.iso == isolation::read_committed ? offset_kind::last_stable
                                                                     : offset_kind::high_watermark;
        const auto wake = [gate = st.gate, b = &b, s = &st, id = pf.id] {
            gate->post([b, s, id] { retry(*b, *s, id); });
        };
        bool ready = false;
        for (const auto& t : pf.plan.topics) {
            for (const auto& p : t.partitions) {
                auto* part = b.find_partition(t.name, p.id);
                if (!part) continue;
                auto& mon = part->monitor();
                const auto target = offset{std::max(p.fetch_offset.value(), mon.current(kind).value()) + 1};
                auto h = mon.async_wait(kind, target, broker_detail::wait_clock::time_point::max(),
                                        [wake](wait_status) { wake(); });
                if (h)
                    pf.waits.push_back(std::move(*h));
                else
                    ready = true; // moved between current() and async_wait()
            }
        }
        if (ready) wake();
    }

    template <typename Broker>
    static void retry(Broker& b, server_state& st, std::uint64_t id) {
        for (auto it = st.parked.begin(); it != st.parked.end(); ++it) {
            if (it->id != id) continue;
            for (auto& w : it->waits) w.cancel();
            it->waits.clear();
            if (answer(b, it->plan, it->responder, false)) {
                it->cancel();
                st.parked.erase(it);
            } else {
                arm(b, st, *it); // not min_bytes yet: wait for the next move
            }
            return;
        }
    }

    /// Reads every partition of the plan; answers (consuming `r`) and returns true when there is
    /// at least min_bytes, an error to report, or `force`. Otherwise leaves `r` untouched.
    template <typename Broker>
    static bool answer(Broker& b, fetch_plan& plan, net::responder& r, bool force) {
        using namespace wire::fetch;
        response resp;
        std::vector<std::vector<storage::slice>> slices;
        std::size_t total = 0;
        bool any_error = false;
        std::int64_t remaining = plan.max_bytes;
        for (const auto& t : plan.topics) {
            topic_response tr;
            tr.name = t.name;
            tr.topic_id = t.topic_id;
            for (const auto& p : t.partitions) {
                partition_data pd;
                pd.partition_index = p.id;
                if (plan.iso == isolation::read_committed) pd.aborted_transactions.emplace();
                const std::int64_t limit = std::min<std::int64_t>(p.max_bytes, remaining);
                if (p.error != error_code::none) {
                    pd.error_code = p.error;
                    pd.records = bytes_view{};
                    any_error = true;
                } else if (limit <= 0 && total > 0) {
                    // Over the request's max_bytes: report offsets only.
                    if (auto* part = b.find_partition(t.name, p.id)) {
                        const auto o = part->offsets();
                        pd.high_watermark = o.high_watermark;
                        pd.last_stable_offset = o.last_stable_offset;
                        pd.log_start_offset = o.log_start_offset;
                    } else {
                        pd.error_code = error_code::unknown_topic_or_partition;
                    }
                } else {
                    const auto max = static_cast<std::size_t>(std::max<std::int64_t>(limit, 1));
                    // Both reads give the offsets and the records (zero-copy slices) alike; a
                    // follower's also moves the leader's view of it and may say it diverged.
                    const auto take = [&](error_code e, offset hw, offset lso, offset start,
                                          storage::read_result& rec) {
                        pd.error_code = e;
                        pd.high_watermark = hw;
                        pd.last_stable_offset = lso;
                        pd.log_start_offset = start;
                        if (e == error_code::none && rec.bytes > 0) {
                            pd.external = wire::external_records{static_cast<std::uint32_t>(rec.bytes), slices.size()};
                            total += rec.bytes;
                            remaining -= static_cast<std::int64_t>(rec.bytes);
                            slices.push_back(std::move(rec.slices));
                        } else {
                            pd.records = bytes_view{};
                        }
                        any_error |= e != error_code::none;
                    };
                    if (plan.replica_id.value() >= 0) {
                        if (auto* part = b.find_partition(t.name, p.id)) {
                            auto fr = part->follower_read(plan.replica_id, p.current_leader_epoch, p.fetch_offset,
                                                          p.last_fetched_epoch, p.log_start_offset, max,
                                                          plan.received_ms, !plan.follower_state_done);
                            if (fr.diverging) {
                                pd.diverging_epoch = {fr.diverging->epoch, fr.diverging->end_offset};
                                any_error = true; // answer now: the follower truncates before anything else
                            }
                            take(fr.error, fr.high_watermark, fr.last_stable_offset, fr.log_start_offset, fr.records);
                        } else {
                            storage::read_result none;
                            take(error_code::unknown_topic_or_partition, offset{-1}, offset{-1}, offset{-1}, none);
                        }
                    } else {
                        auto fr = b.fetch(t.name, p.id, p.fetch_offset, max, plan.iso);
                        take(fr.error, fr.high_watermark, fr.last_stable_offset, fr.log_start_offset, fr.records);
                        if (pd.aborted_transactions && pd.external)
                            for (const auto& a : fr.aborted) pd.aborted_transactions->push_back({a.id, a.first_offset});
                    }
                }
                tr.partitions.push_back(std::move(pd));
            }
            resp.responses.push_back(std::move(tr));
        }
        // A follower's position counts once, at its first read (a parked fetch re-read later does
        // not move its caught-up time, docs/protocol.md §14.3).
        plan.follower_state_done = true;
        if (!force && !any_error && total < static_cast<std::size_t>(std::max(plan.min_bytes, 1))) return false;

        auto buf = std::make_shared<byte_buffer>(512);
        wire::gap_list gaps;
        byte_writer w(*buf);
        wire::response_header{plan.correlation_id}.encode(
            w, wire::response_header_version(wire::api_key::fetch, plan.version));
        resp.encode(w, plan.version, gaps);
        net::response out;
        wire::for_each_piece(
            buf->view(), gaps, [&](bytes_view bv) { out.append(bv, buf); },
            [&](const wire::records_gap& g) {
                for (const auto& s : slices[g.cookie]) out.append(s);
            });
        r.complete(std::move(out));
        return true;
    }
};

} // namespace gregor::broker_handlers
