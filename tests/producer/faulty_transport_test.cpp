// The fault-injecting transport on its own, over a recording inner transport: each kind of
// fault does what it says, deterministically.
#include <gregor/testing/faulty_transport.hpp>
#include <gregor/testing/manual_clock.hpp>

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

using namespace gregor;
using namespace gregor::testing;
using namespace std::chrono_literals;

namespace {

/// Answers every produce request at once with base offset = 10 * correlation id.
struct recording_transport {
    struct log {
        std::vector<std::uint64_t> ids;
        std::vector<std::string> payloads;
    };
    std::shared_ptr<log> seen = std::make_shared<log>();
    std::vector<transport_event> pending;

    void send(produce_request&& r) {
        seen->ids.push_back(r.correlation_id);
        seen->payloads.emplace_back(as_string_view(r.batches.at(0).batch));
        if (r.acks == 0) return;
        produce_response resp;
        resp.correlation_id = r.correlation_id;
        produce_response::partition_result pr;
        pr.base_offset = offset{static_cast<std::int64_t>(r.correlation_id * 10)};
        resp.results.assign(r.batches.size(), pr);
        pending.emplace_back(std::move(resp));
    }
    void send(metadata_request&& m) {
        pending.emplace_back(metadata_response{m.correlation_id, m.topic, {}, {node_id{0}}});
    }
    void send(init_producer_id_request&& i) {
        pending.emplace_back(init_producer_id_response{i.correlation_id, {}, producer_id{1}, producer_epoch{0}});
    }
    std::size_t poll(std::vector<transport_event>& out, duration) {
        const auto n = pending.size();
        for (auto& e : pending) out.push_back(std::move(e));
        pending.clear();
        return n;
    }
    void wake() {}
};
static_assert(producer_transport<recording_transport>);
static_assert(producer_transport<faulty_transport<recording_transport, manual_clock_ref>>);

struct rig {
    manual_clock mc;
    recording_transport inner;
    std::shared_ptr<recording_transport::log> seen = inner.seen;
    faulty_transport<recording_transport, manual_clock_ref> t;
    std::vector<std::string> payload_store;

    explicit rig(std::map<std::uint64_t, fault_action> script)
            : t(std::move(inner), scripted_faults(std::move(script)), manual_clock_ref{mc}) {
        payload_store.reserve(64);
    }
    void send(std::uint64_t id, std::string payload) {
        payload_store.push_back(std::move(payload));
        auto& p = payload_store.back();
        produce_request r;
        r.correlation_id = id;
        r.batches.push_back(
            {"t", partition_id{0}, mutable_bytes_view{reinterpret_cast<std::byte*>(p.data()), p.size()}});
        t.send(std::move(r));
    }
    std::vector<produce_response> answers() {
        std::vector<transport_event> ev;
        t.poll(ev, 0ms);
        std::vector<produce_response> out;
        for (auto& e : ev)
            if (auto* p = std::get_if<produce_response>(&e)) out.push_back(std::move(*p));
        return out;
    }
};

} // namespace

TEST_CASE("requests without a fault pass through and are answered", "[faulty_transport]") {
    rig r({});
    r.send(1, "a");
    r.send(2, "b");
    const auto a = r.answers();
    REQUIRE(a.size() == 2);
    CHECK(a[0].correlation_id == 1);
    CHECK(a[1].results.at(0).base_offset == offset{20});
    CHECK(r.t.counters()->injected() == 0);
    CHECK(r.t.counters()->produce_requests == 2);
}

TEST_CASE("drop_request never reaches the inner transport; drop_response reaches it unanswered", "[faulty_transport]") {
    rig r({{1, {fault::drop_request}}, {2, {fault::drop_response}}});
    r.send(1, "a");
    r.send(2, "b");
    r.send(3, "c");
    const auto a = r.answers();
    CHECK(r.seen->ids == std::vector<std::uint64_t>{2, 3});
    REQUIRE(a.size() == 1);
    CHECK(a[0].correlation_id == 3);
    CHECK(r.t.counters()->count(fault::drop_request) == 1);
    CHECK(r.t.counters()->count(fault::drop_response) == 1);
}

TEST_CASE("duplicate delivers a request twice and answers it once", "[faulty_transport]") {
    rig r({{1, {fault::duplicate}}});
    r.send(1, "a");
    const auto a = r.answers();
    REQUIRE(r.seen->payloads.size() == 2);
    CHECK(r.seen->payloads[0] == "a");
    CHECK(r.seen->payloads[1] == "a");
    REQUIRE(a.size() == 1);
    CHECK(a[0].correlation_id == 1);
}

TEST_CASE("delay holds a request (with its own copy of the bytes) until the clock reaches it", "[faulty_transport]") {
    rig r({{1, {fault::delay, error_code::none, 30ms}}});
    r.send(1, "a");
    r.payload_store.back() = "z"; // the producer's buffer may change after it gives up
    CHECK(r.answers().empty());
    r.mc.advance(29ms);
    CHECK(r.answers().empty());
    CHECK(r.seen->ids.empty());
    r.mc.advance(1ms);
    const auto a = r.answers();
    REQUIRE(a.size() == 1);
    CHECK(r.seen->payloads.at(0) == "a");
}

TEST_CASE("reorder delivers a request after the next one", "[faulty_transport]") {
    rig r({{1, {fault::reorder, error_code::none, 50ms}}});
    r.send(1, "a");
    r.send(2, "b");
    CHECK(r.seen->ids == std::vector<std::uint64_t>{2, 1});
    CHECK(r.answers().size() == 2);
    // Alone, it goes when its wait is over.
    rig s({{1, {fault::reorder, error_code::none, 5ms}}});
    s.send(1, "a");
    CHECK(s.answers().empty());
    s.mc.advance(5ms);
    CHECK(s.answers().size() == 1);
}

TEST_CASE("error answers without forwarding; error_after_append forwards and lies", "[faulty_transport]") {
    rig r({{1, {fault::error, error_code::not_leader_or_follower}},
           {2, {fault::error_after_append, error_code::not_enough_replicas_after_append}}});
    r.send(1, "a");
    r.send(2, "b");
    const auto a = r.answers();
    CHECK(r.seen->ids == std::vector<std::uint64_t>{2});
    REQUIRE(a.size() == 2);
    CHECK(a[0].correlation_id == 1);
    CHECK(a[0].results.at(0).error == error_code::not_leader_or_follower);
    CHECK(a[1].correlation_id == 2);
    CHECK(a[1].results.at(0).error == error_code::not_enough_replicas_after_append);
}

TEST_CASE("random_faults is deterministic for a seed and stops at its budget", "[faulty_transport]") {
    auto run = [](std::uint64_t seed) {
        auto plan = random_faults(seed, 0.3, 50, {fault::drop_request, fault::delay, fault::error},
                                  {error_code::request_timed_out});
        std::vector<int> kinds;
        produce_request dummy;
        for (std::uint64_t i = 1; i <= 1000; ++i) kinds.push_back(static_cast<int>(plan(dummy, i).kind));
        return kinds;
    };
    const auto a = run(7), b = run(7), c = run(8);
    CHECK(a == b);
    CHECK(a != c);
    CHECK(std::count_if(a.begin(), a.end(), [](int k) { return k != 0; }) == 50);
}

TEST_CASE("a control plan applies the same faults to Metadata and InitProducerId requests", "[faulty_transport]") {
    rig r({});
    std::vector<fault_action> plan{{fault::drop_request, {}, {}},
                                   {fault::drop_response, {}, {}},
                                   {fault::duplicate, {}, {}},
                                   {fault::delay, {}, 10ms},
                                   {fault::error, error_code::leader_not_available, {}},
                                   {fault::error_after_append, error_code::coordinator_not_available, {}},
                                   {}};
    std::vector<control_request> kinds;
    r.t.with_control_faults([&](control_request k, std::uint64_t n) {
        kinds.push_back(k);
        return plan.at(n - 1);
    });
    for (std::uint64_t id = 1; id <= 6; ++id) r.t.send(metadata_request{id, "t"});
    r.t.send(init_producer_id_request{7, std::nullopt, 60000});
    std::vector<transport_event> ev;
    r.t.poll(ev, 0ms);
    std::map<std::uint64_t, int> seen;
    std::map<std::uint64_t, error_code> errs;
    for (auto& e : ev) {
        if (auto* m = std::get_if<metadata_response>(&e)) {
            ++seen[m->correlation_id];
            errs[m->correlation_id] = m->error;
        } else if (auto* i = std::get_if<init_producer_id_response>(&e)) {
            ++seen[i->correlation_id];
            errs[i->correlation_id] = i->error;
        }
    }
    CHECK(seen.count(1) == 0);                 // dropped request
    CHECK(seen.count(2) == 0);                 // dropped answer
    CHECK(seen[3] == 1);                       // duplicated, answered once
    CHECK(seen.count(4) == 0);                 // not due yet
    CHECK(errs[5] == error_code::leader_not_available);
    CHECK(errs[6] == error_code::coordinator_not_available);
    CHECK(errs[7] == error_code::none);
    r.mc.advance(10ms);
    ev.clear();
    r.t.poll(ev, 0ms);
    REQUIRE(ev.size() == 1);
    CHECK(std::get<metadata_response>(ev[0]).correlation_id == 4);
    CHECK(kinds.back() == control_request::init_producer_id);
    CHECK(r.t.counters()->control_requests == 7);
    CHECK(r.t.counters()->control_injected == 6);
}
