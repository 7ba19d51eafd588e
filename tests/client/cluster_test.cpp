// The client layer (client/connection.hpp, client/cluster.hpp) against a real gregor broker over
// real sockets: version negotiation, metadata, routing by destination, the generic send for any
// message, and -- through a proxy that drops, delays, swaps and cuts answers -- that every request
// is completed exactly once, with its answer or an error.
#include "../broker/broker_test_util.hpp"
#include "fault_proxy.hpp"

#include <gregor/broker/kafka_server.hpp>
#include <gregor/client/admin.hpp>
#include <gregor/client/cluster.hpp>
#include <gregor/wire/messages/api_versions.hpp>
#include <gregor/wire/messages/list_offsets.hpp>
#include <gregor/wire/messages/metadata.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

using namespace gregor;
using namespace std::chrono_literals;

namespace {

using memory_broker = broker<>;

struct served_broker {
    memory_broker b;
    std::unique_ptr<kafka_server<memory_broker>> server;
    served_broker() {
        kafka_server_config sc;
        sc.net.host = "127.0.0.1";
        sc.net.port = 0;
        server = std::make_unique<kafka_server<memory_broker>>(b, sc);
    }
    [[nodiscard]] std::string address() const { return "127.0.0.1:" + std::to_string(server->port()); }
};

client::cluster_config config_for(const std::string& bootstrap, std::chrono::milliseconds timeout = 5s) {
    client::cluster_config c;
    c.bootstrap_servers = bootstrap;
    c.connection.request_timeout = timeout;
    c.connection.reconnect_backoff = 10ms;
    c.connection.reconnect_backoff_max = 50ms;
    return c;
}

/// Polls until `done()` or `limit` elapsed.
template <typename Pred>
bool poll_until(client::cluster& c, Pred done, std::chrono::milliseconds limit = 20s) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() > end) return false;
        c.poll(20ms);
    }
    return true;
}

/// The request holds a view of `topic`: pass a name that outlives the request.
wire::list_offsets::request latest_of(std::string_view topic, std::int32_t partitions) {
    wire::list_offsets::request req;
    req.replica_id = node_id{-1};
    wire::list_offsets::request_topic t;
    t.name = topic;
    for (std::int32_t i = 0; i < partitions; ++i) {
        wire::list_offsets::request_partition p;
        p.partition_index = partition_id{i};
        p.timestamp = wire::list_offsets::latest_timestamp;
        t.partitions.push_back(p);
    }
    req.topics.push_back(t);
    return req;
}

} // namespace

TEST_CASE("the cluster view learns brokers, controller and leaders from Metadata", "[client]") {
    served_broker sb;
    REQUIRE(sb.b.create_topic("orders", 3) == error_code::none);
    client::cluster c(config_for(sb.address()));
    bool done = false;
    std::error_code err;
    c.refresh_metadata(std::nullopt, [&](std::error_code ec) {
        err = ec;
        done = true;
    });
    REQUIRE(poll_until(c, [&] { return done; }));
    REQUIRE_FALSE(err);
    const auto& m = c.metadata();
    REQUIRE(m.brokers.size() == 1);
    const auto self = sb.b.config().node_id;
    CHECK(m.brokers.begin()->first == self);
    CHECK(m.brokers.begin()->second.port == sb.server->port());
    CHECK(m.controller == self);
    CHECK_FALSE(m.cluster_id.empty());
    REQUIRE(m.topics.count("orders") == 1);
    CHECK(m.topics.at("orders").partitions.size() == 3);
    CHECK(m.topics.at("orders").id == sb.b.topic_metadata("orders")->id);
    CHECK(c.leader_of("orders", 2) == self);
    CHECK_FALSE(c.leader_of("orders", 3));
    CHECK_FALSE(c.metadata_stale());
    c.note_error(error_code::not_leader_or_follower);
    CHECK(c.metadata_stale());
}

TEST_CASE("send works for any message at the highest version both sides support, capped on request", "[client]") {
    served_broker sb;
    REQUIRE(sb.b.create_topic("t", 2) == error_code::none);
    REQUIRE(sb.b.produce("t", partition_id{1}, test::make_batch("v", 5), -1).error == error_code::none);
    client::cluster c(config_for(sb.address()));

    std::optional<client::reply<wire::list_offsets::response>> got;
    c.send(client::destination::leader("t", 1), latest_of("t", 2),
           [&](client::reply<wire::list_offsets::response>& r) { got = std::move(r); });
    REQUIRE(poll_until(c, [&] { return got.has_value(); }));
    REQUIRE_FALSE(got->error);
    CHECK(got->version == wire::list_offsets_api::max_version); // the broker serves all of them
    CHECK(got->node == sb.b.config().node_id);
    REQUIRE(got->body->topics.size() == 1);
    REQUIRE(got->body->topics[0].partitions.size() == 2);
    std::map<std::int32_t, std::int64_t> ends;
    for (const auto& p : got->body->topics[0].partitions) ends[p.partition_index.value()] = p.offset.value();
    CHECK(ends[0] == 0);
    CHECK(ends[1] == 5);
    const auto* conn = c.connection_to(sb.b.config().node_id);
    REQUIRE(conn != nullptr);
    CHECK(conn->api_versions_version() == 3);

    std::optional<client::reply<wire::list_offsets::response>> capped;
    c.send(client::destination::any(), latest_of("t", 1),
           [&](client::reply<wire::list_offsets::response>& r) { capped = std::move(r); }, {.max_version = 2});
    REQUIRE(poll_until(c, [&] { return capped.has_value(); }));
    REQUIRE_FALSE(capped->error);
    CHECK(capped->version == 2);
}

TEST_CASE("a destination that cannot be resolved is answered with an error, once", "[client]") {
    served_broker sb;
    client::cluster c(config_for(sb.address()));
    int calls = 0;
    std::error_code err;
    c.send(client::destination::leader("no-such-topic", 0), latest_of("no-such-topic", 1),
           [&](client::reply<wire::list_offsets::response>& r) {
               ++calls;
               err = r.error;
           });
    REQUIRE(poll_until(c, [&] { return calls > 0; }));
    c.poll(50ms);
    CHECK(calls == 1);
    CHECK(err == make_error_code(error_code::leader_not_available));

    calls = 0;
    c.send(client::destination::node(4242), wire::metadata::request{}, [&](client::reply<wire::metadata::response>& r) {
        ++calls;
        err = r.error;
    });
    REQUIRE(poll_until(c, [&] { return calls > 0; }));
    CHECK(calls == 1);
    CHECK(err == make_error_code(error_code::broker_not_available));
}

TEST_CASE("a refused connection answers every request NETWORK_EXCEPTION and backs off", "[client]") {
    std::uint16_t dead_port = 0;
    {
        served_broker sb; // a port that was just free and is closed again
        dead_port = sb.server->port();
    }
    client::cluster c(config_for("127.0.0.1:" + std::to_string(dead_port)));
    int calls = 0;
    std::vector<std::error_code> errs;
    for (int i = 0; i < 5; ++i)
        c.send(client::destination::any(), wire::metadata::request{}, [&](client::reply<wire::metadata::response>& r) {
            ++calls;
            errs.push_back(r.error);
        });
    REQUIRE(poll_until(c, [&] { return calls == 5; }));
    for (const auto& e : errs) CHECK(e == make_error_code(error_code::network_exception));
    CHECK(c.stats().connect_failures.load() >= 1);
}

TEST_CASE("pipelined requests beyond the in-flight bound all come back once, in order", "[client]") {
    served_broker sb;
    REQUIRE(sb.b.create_topic("p", 1) == error_code::none);
    auto cfg = config_for(sb.address());
    cfg.connection.max_in_flight = 3;
    client::cluster c(cfg);
    std::vector<int> order;
    constexpr int n = 200;
    for (int i = 0; i < n; ++i)
        c.send(client::destination::any(), latest_of("p", 1),
               [&order, i](client::reply<wire::list_offsets::response>& r) {
                   if (!r.error) order.push_back(i);
               });
    REQUIRE(poll_until(c, [&] { return order.size() == n; }));
    for (int i = 0; i < n; ++i) CHECK(order[static_cast<std::size_t>(i)] == i);
    CHECK(c.stats().connects.load() == 1);
}

TEST_CASE("under dropped, delayed, swapped and cut answers every request completes exactly once", "[client]") {
    served_broker sb;
    REQUIRE(sb.b.create_topic("f", 1) == error_code::none);
    // Answers 1.. : a fixed, seeded pattern over drops, delays, swaps and disconnects. Answer 1 is
    // each connection's ApiVersions only for the first connection; the rest land anywhere.
    std::mt19937 rng(12345);
    std::vector<test::answer_fault> pattern(4000, test::answer_fault::pass);
    for (std::size_t i = 1; i < pattern.size(); ++i) {
        const auto x = rng() % 100;
        if (x < 4)
            pattern[i] = test::answer_fault::drop;
        else if (x < 8)
            pattern[i] = test::answer_fault::delay;
        else if (x < 11)
            pattern[i] = test::answer_fault::swap_with_next;
        else if (x < 14)
            pattern[i] = test::answer_fault::disconnect;
    }
    test::fault_proxy proxy(sb.server->port(), [&pattern](std::uint64_t k) {
        return k < pattern.size() ? pattern[k] : test::answer_fault::pass;
    });
    // The broker must hand out the proxy's address, or the client would go around it.
    client::cluster c(config_for("127.0.0.1:" + std::to_string(proxy.port()), 400ms));
    constexpr int n = 300;
    std::vector<int> calls(n, 0);
    int ok = 0, failed = 0;
    for (int i = 0; i < n; ++i) {
        // Sent in waves, so that some go out on fresh connections after a cut.
        c.send(client::destination::node(-1), latest_of("f", 1),
               [&, i](client::reply<wire::list_offsets::response>& r) {
                   ++calls[static_cast<std::size_t>(i)];
                   if (r.error) {
                       ++failed;
                       CHECK((r.error == make_error_code(error_code::network_exception) ||
                              r.error == make_error_code(error_code::request_timed_out)));
                   } else {
                       ++ok;
                       REQUIRE(r.body->topics.size() == 1);
                       CHECK(r.body->topics[0].partitions[0].error_code == error_code::none);
                   }
               });
        if (i % 10 == 9) c.poll(5ms);
    }
    REQUIRE(poll_until(
        c, [&] { return ok + failed == n; }, 60s));
    c.poll(500ms); // nothing may come twice, also late
    for (int i = 0; i < n; ++i) CHECK(calls[static_cast<std::size_t>(i)] == 1);
    CHECK(ok > 0);
    CHECK(failed > 0);
    CHECK(proxy.connections() > 1); // it reconnected after cuts
    INFO("ok " << ok << " failed " << failed << " connections " << proxy.connections());
}

TEST_CASE("a broker that never answers times the request out and the connection is replaced", "[client]") {
    served_broker sb;
    REQUIRE(sb.b.create_topic("s", 1) == error_code::none);
    // Everything after the first connection's ApiVersions answer is dropped.
    test::fault_proxy proxy(sb.server->port(), [](std::uint64_t k) {
        return k == 1 ? test::answer_fault::pass : test::answer_fault::drop;
    });
    client::cluster c(config_for("127.0.0.1:" + std::to_string(proxy.port()), 300ms));
    std::error_code err;
    int calls = 0;
    const auto t0 = std::chrono::steady_clock::now();
    c.send(client::destination::node(-1), latest_of("s", 1), [&](client::reply<wire::list_offsets::response>& r) {
        ++calls;
        err = r.error;
    });
    REQUIRE(poll_until(
        c, [&] { return calls > 0; }, 10s));
    CHECK(err == make_error_code(error_code::request_timed_out));
    CHECK(std::chrono::steady_clock::now() - t0 >= 300ms);
    CHECK(c.stats().timeouts.load() == 1);
}

TEST_CASE("destroying the cluster completes what is still open", "[client]") {
    served_broker sb;
    test::fault_proxy proxy(sb.server->port(), [](std::uint64_t k) {
        return k == 1 ? test::answer_fault::pass : test::answer_fault::drop;
    });
    int calls = 0;
    {
        client::cluster c(config_for("127.0.0.1:" + std::to_string(proxy.port())));
        for (int i = 0; i < 4; ++i)
            c.send(client::destination::any(), wire::metadata::request{},
                   [&](client::reply<wire::metadata::response>& r) {
                       ++calls;
                       CHECK(r.error == make_error_code(error_code::network_exception));
                   });
        c.poll(200ms);
        CHECK(calls == 0);
    }
    CHECK(calls == 4);
}

TEST_CASE("gregor::admin over TCP and in process give the same answers", "[client]") {
    served_broker tcp_side;
    memory_broker local;
    admin::client over_tcp(tcp_side.address(), 5s);
    admin::in_process<memory_broker> in_proc(local);

    // The same script on both; every answer is compared, and checked against what Kafka answers.
    auto run = [](auto& a) {
        std::vector<std::string> trace;
        auto note = [&](const std::string& what, const std::error_code& ec) {
            trace.push_back(what + "=" + (ec ? ec.message() : std::string("ok")));
        };
        for (const auto& r :
             a.create_topics({{.name = "orders", .partitions = 3, .configs = {{"retention.ms", "123456"}}},
                              {.name = "bad/name", .partitions = 1},
                              {.name = "zero", .partitions = 0},
                              {.name = "cfg", .partitions = 1, .configs = {{"no.such", "1"}}}}))
            note("create " + r.name, r.error);
        for (const auto& r : a.create_topics({{.name = "orders", .partitions = 1}})) note("again " + r.name, r.error);
        for (const auto& r : a.create_topics({{.name = "dry", .partitions = 2}}, true))
            note("validate " + r.name, r.error);
        const auto listed = a.list_topics();
        trace.push_back("list " + std::to_string(listed.size()) + (listed.empty() ? "" : " " + listed.front()));
        const auto cfg = a.describe_configs(admin::resource::topic, "orders");
        note("describe", cfg.error);
        for (const auto& e : cfg.entries)
            if (e.name == "retention.ms" || e.name == "cleanup.policy")
                trace.push_back(e.name + "=" + e.value.value_or("null") + " source " +
                                std::to_string(static_cast<int>(e.source)));
        note("alter",
             a.alter_configs(admin::resource::topic, "orders", {{"retention.ms", admin::config_op::set, "999"}}).error);
        for (const auto& e : a.describe_configs(admin::resource::topic, "orders").entries)
            if (e.name == "retention.ms") trace.push_back("now " + e.value.value_or("null"));
        for (const auto& r : a.create_partitions({{"orders", 5}})) note("grow " + r.name, r.error);
        for (const auto& r : a.create_partitions({{"orders", 2}})) note("shrink " + r.name, r.error);
        const auto d = a.describe_topics(std::vector<std::string>{"orders", "missing"});
        for (const auto& t : d) {
            note("topic " + t.name, t.error);
            trace.push_back("partitions " + std::to_string(t.partitions.size()));
        }
        for (const auto& r : a.delete_records("orders", {{0, -1}})) {
            note("delete records", r.error);
            trace.push_back("low " + std::to_string(r.low_watermark));
        }
        const auto lo = a.list_offset("orders", 0, -2);
        note("earliest", lo.error);
        for (const auto& r : a.delete_topics({"orders", "missing"})) note("delete " + r.name, r.error);
        trace.push_back("left " + std::to_string(a.list_topics().size()));
        return trace;
    };
    const auto tcp_trace = run(over_tcp);
    const auto local_trace = run(in_proc);
    CHECK(tcp_trace == local_trace);
    const std::vector<std::string> expected{
        "create orders=ok",
        "create bad/name=" + make_error_code(error_code::invalid_topic_exception).message(),
        "create zero=" + make_error_code(error_code::invalid_partitions).message(),
        "create cfg=" + make_error_code(error_code::invalid_config).message(),
        "again orders=" + make_error_code(error_code::topic_already_exists).message(),
        "validate dry=ok",
        "list 1 orders",
        "describe=ok",
        "cleanup.policy=delete source 5",
        "retention.ms=123456 source 1",
        "alter=ok",
        "now 999",
        "grow orders=ok",
        "shrink orders=" + make_error_code(error_code::invalid_partitions).message(),
        "topic missing=" + make_error_code(error_code::unknown_topic_or_partition).message(),
        "partitions 0",
        "topic orders=ok",
        "partitions 5",
        "delete records=ok",
        "low 0",
        "earliest=ok",
        "delete orders=ok",
        "delete missing=" + make_error_code(error_code::unknown_topic_or_partition).message(),
        "left 0"};
    CHECK(tcp_trace == expected);
    const auto c = over_tcp.describe_cluster();
    CHECK_FALSE(c.error);
    CHECK(c.controller == tcp_side.b.config().node_id);
    REQUIRE(c.brokers.size() == 1);
    CHECK(c.brokers[0].port == tcp_side.server->port());
    CHECK_FALSE(c.cluster_id.empty());
}
