// Consumer scenarios shared by the in-process and the TCP tests: each runs against a real gregor
// broker reached through the Env's transport.
#pragma once
#include <gregor/broker/broker.hpp>
#include <gregor/broker/broker_policies.hpp>
#include <gregor/consumer/consumer.hpp>
#include <gregor/consumer/in_process.hpp>
#include <gregor/storage/backends/memory.hpp>
#include <gregor/wire/record_batch.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

using namespace gregor;
using namespace std::chrono_literals;

namespace consumer_test {

using memory_broker = broker<broker_policies<storage::memory_backend>>;

struct got {
    std::int64_t offset;
    std::string value;
    std::int64_t timestamp;
};

// Produces `n` records "<prefix>-<i>" in one batch with timestamp `ts`.
inline void produce(memory_broker& b, const std::string& topic, int first, int n, std::int64_t ts,
                    const std::string& prefix = "v") {
    wire::batch_builder bb;
    std::vector<std::string> vals;
    for (int i = 0; i < n; ++i) vals.push_back(prefix + "-" + std::to_string(first + i));
    for (const auto& v : vals) bb.append(ts, as_bytes(std::string_view("k")), as_bytes(v));
    const auto r = b.produce(topic, partition_id{0}, bb.seal(), 1);
    REQUIRE(r.error == error_code::none);
}

// Polls until `want` records arrived (bounded by count and time).
template <typename C>
std::vector<got> consume(C& c, std::size_t want, std::chrono::milliseconds budget = 5s) {
    std::vector<got> out;
    const auto until = std::chrono::steady_clock::now() + budget;
    for (int i = 0; i < 1000 && out.size() < want && std::chrono::steady_clock::now() < until; ++i) {
        auto r = c.poll(200ms);
        for (const auto& e : r.errors()) FAIL("poll error: " << e.error.message());
        r.for_each_record([&](const consumed_batch&, const wire::record_view& rec) {
            out.push_back({rec.record_offset.value(), std::string(as_string_view(*rec.value)), rec.timestamp});
        });
    }
    return out;
}

inline const topic_partition tp0{"t", partition_id{0}};

struct in_process_env {
    memory_broker b;
    in_process_env() { REQUIRE(b.create_topic("t", 1) == error_code::none); }
    auto make(consumer_config cfg) {
        return consumer<fetch_transport::in_process<memory_broker>>{std::move(cfg), fetch_transport::in_process{b}};
    }
};

inline consumer_config earliest() {
    consumer_config c;
    c.auto_offset_reset = offset_reset::earliest;
    c.fetch_max_wait_ms = 100;
    return c;
}

template <typename Env>
void scenario_consume() {
    Env env;
    produce(env.b, "t", 0, 5, 1000);
    produce(env.b, "t", 5, 5, 2000);
    produce(env.b, "t", 10, 5, 3000);
    auto c = env.make(earliest());
    c.assign({tp0});
    const auto recs = consume(c, 15);
    REQUIRE(recs.size() == 15);
    for (int i = 0; i < 15; ++i) {
        CHECK(recs[i].offset == i);
        CHECK(recs[i].value == "v-" + std::to_string(i));
        CHECK(recs[i].timestamp == 1000 * (i / 5 + 1));
    }
    CHECK(c.position(tp0) == offset{15});
    CHECK(c.last_watermarks(tp0).high_watermark == offset{15});
    // Nothing more: a short poll returns empty, then new records arrive.
    CHECK(c.poll(50ms).empty());
    produce(env.b, "t", 15, 3, 4000);
    const auto more = consume(c, 3);
    REQUIRE(more.size() == 3);
    CHECK(more[0].offset == 15);
    CHECK(more[2].value == "v-17");
}

template <typename Env>
void scenario_seek() {
    Env env;
    produce(env.b, "t", 0, 5, 1000);
    produce(env.b, "t", 5, 5, 2000);
    produce(env.b, "t", 10, 5, 3000);
    auto c = env.make(earliest());
    c.assign({tp0});

    REQUIRE(!c.seek(tp0, offset{7}));
    auto recs = consume(c, 8);
    REQUIRE(recs.size() == 8);
    CHECK(recs.front().offset == 7); // the batch starting at 5 is skipped up to 7
    CHECK(recs.back().offset == 14);

    REQUIRE(!c.seek_to_beginning(tp0));
    CHECK(c.position(tp0) == offset{0});
    recs = consume(c, 15);
    REQUIRE(recs.size() == 15);
    CHECK(recs.front().value == "v-0");

    REQUIRE(!c.seek_to_timestamp(tp0, 1500));
    CHECK(c.position(tp0) == offset{5});
    recs = consume(c, 10);
    REQUIRE(recs.size() == 10);
    CHECK(recs.front().offset == 5);

    REQUIRE(!c.seek_to_timestamp(tp0, 99999)); // after every record: the end
    CHECK(c.position(tp0) == offset{15});

    REQUIRE(!c.seek_to_beginning(tp0));
    REQUIRE(!c.seek_to_end(tp0));
    CHECK(c.position(tp0) == offset{15});
    CHECK(c.poll(50ms).empty());
    produce(env.b, "t", 15, 1, 5000);
    recs = consume(c, 1);
    REQUIRE(recs.size() == 1);
    CHECK(recs[0].offset == 15);

    topic_partition other{"nope", partition_id{0}};
    CHECK(c.seek(other, offset{0}) == make_error_code(local_error::invalid_argument));
}

template <typename Env>
void scenario_reset() {
    Env env;
    produce(env.b, "t", 0, 4, 1000);

    SECTION("earliest: an unknown position starts at the log start, out of range too") {
        auto c = env.make(earliest());
        c.assign({tp0});
        auto recs = consume(c, 4);
        REQUIRE(recs.size() == 4);
        CHECK(recs[0].offset == 0);
        REQUIRE(!c.seek(tp0, offset{1000}));
        recs = consume(c, 4);
        REQUIRE(recs.size() == 4);
        CHECK(recs[0].offset == 0);
    }
    SECTION("latest: only records produced after the reset") {
        auto cfg = earliest();
        cfg.auto_offset_reset = offset_reset::latest;
        auto c = env.make(cfg);
        c.assign({tp0});
        CHECK(c.poll(50ms).empty());
        CHECK(c.position(tp0) == offset{4});
        produce(env.b, "t", 4, 2, 2000);
        auto recs = consume(c, 2);
        REQUIRE(recs.size() == 2);
        CHECK(recs[0].offset == 4);
        CHECK(recs[0].value == "v-4");
        REQUIRE(!c.seek(tp0, offset{1000}));
        CHECK(c.poll(100ms).empty());
        CHECK(c.position(tp0) == offset{6});
    }
    SECTION("none: OFFSET_OUT_OF_RANGE reaches the caller") {
        auto cfg = earliest();
        cfg.auto_offset_reset = offset_reset::none;
        auto c = env.make(cfg);
        c.assign({tp0});
        auto r = c.poll(100ms);
        REQUIRE(r.errors().size() == 1);
        CHECK(r.errors()[0].error == make_error_code(error_code::offset_out_of_range));
        REQUIRE(!c.seek(tp0, offset{1000}));
        r = c.poll(100ms);
        REQUIRE(r.errors().size() == 1);
        CHECK(r.errors()[0].error == make_error_code(error_code::offset_out_of_range));
        CHECK(*r.errors()[0].tp == tp0);
        REQUIRE(!c.seek(tp0, offset{2}));
        const auto recs = consume(c, 2);
        REQUIRE(recs.size() == 2);
        CHECK(recs[0].offset == 2);
    }
}

template <typename Env>
void scenario_committed() {
    Env env;
    produce(env.b, "t", 0, 3, 1000);
    auto cfg = earliest();
    cfg.read_committed = true;
    auto c = env.make(cfg);
    c.assign({tp0});
    const auto recs = consume(c, 3);
    REQUIRE(recs.size() == 3);
    CHECK(recs[2].value == "v-2");
    CHECK(c.last_watermarks(tp0).last_stable_offset == offset{3});
}

} // namespace consumer_test
