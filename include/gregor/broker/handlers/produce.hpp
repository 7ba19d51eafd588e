// Produce: appends each partition's batch where it lies in the request frame (the broker patches
// base offset and leader epoch in place, nothing is copied) and answers once the partition's
// offset monitor says what acks/durability need holds, from whichever thread moved the offset.
#pragma once

#include <gregor/broker/group_coordinator.hpp>
#include <gregor/broker/handlers/context.hpp>
#include <gregor/core/buffer.hpp>
#include <gregor/core/error.hpp>
#include <gregor/core/strong_types.hpp>
#include <gregor/net/response.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/header.hpp>
#include <gregor/wire/messages/produce.hpp>
#include <gregor/wire/record_batch.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gregor::broker_handlers {

struct produce_handler {
    using api = wire::produce_api;
    // v0-2 carry message formats 0/1, which gregor does not read: they close the connection, as
    // Kafka 4 does. They are advertised all the same because librdkafka compresses only if Produce
    // v0 is (docs/protocol.md §3.1).
    static constexpr wire::version_range served{3, 11};
    static constexpr wire::version_range advertised{0, 11};

    // One produce request whose partitions answer at different times (acks=all, fsync before ack):
    // the last partition to finish encodes and sends the response, from whichever thread it is on.
    struct pending {
        std::mutex mu;
        std::int32_t correlation_id = 0;
        std::int16_t version = 0;
        std::int16_t acks = 1;
        std::vector<std::string> names; // the topic names the response points at
        wire::produce::response resp;
        std::size_t remaining = 1; // partitions still waiting, plus the request itself
        bool any_error = false;
        net::responder r;

        void finish_one() {
            {
                std::lock_guard lk(mu);
                if (--remaining != 0) return;
            }
            if (acks == 0) {
                // No response at all; on failure Kafka closes so the client refreshes its metadata.
                if (any_error) return r.complete(net::close_connection);
                return r.complete(net::no_response);
            }
            byte_buffer out(256);
            byte_writer w(out);
            wire::response_header{correlation_id}.encode(
                w, wire::response_header_version(wire::api_key::produce, version));
            resp.encode(w, version);
            r.complete(net::response(std::move(out)));
        }
    };

    template <typename Broker>
    static void handle(request_context<Broker>& ctx, net::responder r) {
        using namespace wire::produce;
        auto req = decode_request<request>(ctx);
        if (!req) return r.complete(net::close_connection);
        auto st = std::make_shared<pending>();
        st->correlation_id = ctx.header.correlation_id;
        st->version = ctx.header.version;
        st->acks = req->acks;
        st->r = std::move(r);
        // Shape the whole response first: completions may arrive before the loop below ends.
        st->names.reserve(req->topics.size());
        for (const auto& t : req->topics) {
            st->names.emplace_back(t.name);
            topic_response tr;
            tr.name = st->names.back();
            tr.partitions.resize(t.partitions.size());
            for (std::size_t i = 0; i < t.partitions.size(); ++i)
                tr.partitions[i].partition_index = t.partitions[i].partition_index;
            st->resp.responses.push_back(std::move(tr));
            st->remaining += t.partitions.size();
        }
        const std::chrono::milliseconds timeout{std::max(req->timeout_ms, 0)};
        for (std::size_t ti = 0; ti < req->topics.size(); ++ti) {
            const auto& t = req->topics[ti];
            for (std::size_t pi = 0; pi < t.partitions.size(); ++pi) {
                auto done = [st, ti, pi](typename Broker::produce_result res) {
                    {
                        std::lock_guard lk(st->mu);
                        auto& pr = st->resp.responses[ti].partitions[pi];
                        pr.error_code = res.error;
                        pr.base_offset = res.base_offset;
                        pr.log_append_time_ms = res.log_append_time_ms;
                        pr.log_start_offset = res.log_start_offset;
                        st->any_error |= res.error != error_code::none;
                    }
                    st->finish_one();
                };
                append_one(ctx, t.name, t.partitions[pi], req->acks, timeout, std::move(done));
            }
        }
        st->finish_one();
    }

private:
    template <typename Broker, typename Done>
    static void append_one(request_context<Broker>& ctx, std::string_view topic, const wire::produce::partition_data& p,
                           std::int16_t acks, std::chrono::milliseconds timeout, Done&& done) {
        const auto fail = [&](error_code e) { done(typename Broker::produce_result{e, offset{-1}, -1, offset{-1}}); };
        if (!p.records) return fail(error_code::invalid_record);
        // Only the group coordinator writes its internal topic (as Kafka: clients may read it).
        if (topic == groups::offsets_topic) return fail(error_code::invalid_topic_exception);
        // Produce v3+ carries exactly one record batch per partition.
        wire::batch_splitter split(*p.records);
        const auto first = split.next();
        if (!first) return fail(error_code::corrupt_message);
        if (split.next() || !split.remainder().empty()) return fail(error_code::invalid_record);
        // zstd came with Produce v7 (KIP-110): an older request cannot carry it.
        if (ctx.header.version < 7 && first->size() >= wire::batch_layout::header_size &&
            wire::batch_header::parse(*first)->compression() == wire::compression::zstd)
            return fail(error_code::unsupported_compression_type);
        // The server lends us its receive buffer mutably for the duration of the call, so the
        // batch is patched where it lies. The append itself happens before produce_async returns;
        // only the answer may come later.
        const auto at = static_cast<std::size_t>(first->data() - ctx.frame.data());
        const mutable_bytes_view batch = ctx.frame.subspan(at, first->size());
        ctx.broker.append_async(topic, p.partition_index, batch, acks, timeout, true, std::forward<Done>(done));
    }
};

} // namespace gregor::broker_handlers
