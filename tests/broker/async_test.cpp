// Asynchronous partitions: answers that wait (acks=all, fsync before ack, long-poll fetch) wait on
// the partition's offset monitor, never on the server's event loop, so other connections are
// served meanwhile; embedded consumers are woken by the same monitor instead of polling.
#include "broker_test_util.hpp"

#include <gregor/broker/kafka_server.hpp>
#include <gregor/consumer/in_process.hpp>
#include <gregor/net/client.hpp>
#include <gregor/producer/producer.hpp>
#include <gregor/producer/transports.hpp>
#include <gregor/storage/backends/file.hpp>
#include <gregor/testing/crashy_storage.hpp>
#include <gregor/wire/header.hpp>
#include <gregor/wire/messages/create_topics.hpp>
#include <gregor/wire/messages/fetch.hpp>
#include <gregor/wire/messages/metadata.hpp>
#include <gregor/wire/messages/produce.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <thread>

using namespace gregor;
using namespace std::chrono_literals;

namespace {

using default_broker = broker<>;

std::unique_ptr<kafka_server<default_broker>> serve(default_broker& b) {
    kafka_server_config sc;
    sc.net.host = "127.0.0.1";
    sc.net.port = 0;
    return std::make_unique<kafka_server<default_broker>>(b, sc);
}

void send_produce(net::blocking_client& c, std::int32_t corr, const std::string& topic, bytes_view batch,
                  std::int16_t acks, std::int32_t timeout_ms) {
    wire::produce::request req;
    req.acks = acks;
    req.timeout_ms = timeout_ms;
    wire::produce::partition_data pd;
    pd.partition_index = partition_id{0};
    pd.records = batch;
    req.topics.push_back({topic, {pd}});
    byte_buffer frame;
    wire::encode_request_frame(frame, 7, corr, "async-test", req);
    REQUIRE(c.send_raw(frame.view()) == net::blocking_client::status::ok);
}

wire::produce::partition_response read_produce(net::blocking_client& c, std::int32_t corr,
                                               std::chrono::milliseconds timeout = 10s) {
    auto f = c.read_frame(timeout);
    REQUIRE(f);
    byte_reader r(f->view());
    const auto h = wire::response_header::decode(r, 0);
    REQUIRE(h);
    CHECK(h->correlation_id == corr);
    auto resp = wire::produce::response::decode(r, 7);
    REQUIRE(resp);
    REQUIRE(resp->responses.size() == 1);
    REQUIRE(resp->responses[0].partitions.size() == 1);
    return resp->responses[0].partitions[0];
}

/// A Fetch v11 of partition 0 of "t" from offset 0 that waits up to `max_wait_ms` for one byte.
byte_buffer long_poll_fetch(std::int32_t max_wait_ms) {
    wire::fetch::request req;
    req.max_wait_ms = max_wait_ms;
    req.min_bytes = 1;
    req.max_bytes = 1 << 20;
    wire::fetch::fetch_partition fp;
    fp.partition_index = partition_id{0};
    fp.fetch_offset = offset{0};
    fp.partition_max_bytes = 1 << 20;
    req.topics.push_back({"t", {fp}});
    byte_buffer frame;
    wire::encode_request_frame(frame, 11, 5, "async-test", req);
    return frame;
}

/// The next answer on `c` (a non-flexible response header), checked to be `corr`'s, decoded at
/// `version`.
template <typename Resp>
Resp read_answer(net::blocking_client& c, std::int32_t corr, std::int16_t version,
                 std::chrono::milliseconds timeout = 5s) {
    auto f = c.read_frame(timeout);
    REQUIRE(f);
    byte_reader r(f->view());
    const auto h = wire::response_header::decode(r, 0);
    REQUIRE(h);
    CHECK(h->correlation_id == corr);
    auto resp = Resp::decode(r, version);
    REQUIRE(resp);
    return std::move(*resp);
}

/// Sends Metadata v6 for `topic` and returns how long the answer took; checks what came back.
std::chrono::steady_clock::duration metadata_roundtrip(std::uint16_t port, const std::string& topic) {
    net::blocking_client c("127.0.0.1", port);
    wire::metadata::request req;
    req.topics.emplace();
    req.topics->push_back({topic});
    byte_buffer frame;
    wire::encode_request_frame(frame, 6, 77, "async-test", req);
    const auto t0 = std::chrono::steady_clock::now();
    REQUIRE(c.send_raw(frame.view()) == net::blocking_client::status::ok);
    const auto resp = read_answer<wire::metadata::response>(c, 77, 6);
    const auto took = std::chrono::steady_clock::now() - t0;
    REQUIRE(resp.topics.size() == 1);
    CHECK(resp.topics[0].error_code == error_code::none);
    CHECK(resp.topics[0].partitions.size() == 1);
    return took;
}

} // namespace

TEST_CASE("a Metadata request is answered while an acks=all produce waits for a follower", "[async]") {
    default_broker b;
    REQUIRE(b.create_topic("t", 1) == error_code::none);
    auto* part = b.find_partition("t", partition_id{0});
    REQUIRE(part);
    // A second in-sync replica that has fetched nothing: the high watermark cannot move.
    part->assign_replicas({node_id{0}, node_id{1}}, {node_id{0}, node_id{1}});
    auto srv = serve(b);

    net::blocking_client producer("127.0.0.1", srv->port());
    const auto batch = test::make_batch("all", 3);
    send_produce(producer, 1, "t", batch.view(), -1, 20000);
    // The append happened (log end moved) but its answer waits for the follower.
    REQUIRE(part->monitor().wait_until(offset_kind::log_end, offset{3}, broker_detail::wait_clock::now() + 5s));
    CHECK(part->offsets().high_watermark == offset{0});

    // Other connections are served meanwhile, several times over.
    for (int i = 0; i < 5; ++i) (void)metadata_roundtrip(srv->port(), "t");
    byte_buffer none;
    CHECK(producer.read_frame(none, 200ms) == net::blocking_client::status::timeout);

    // The follower catches up: the high watermark covers the batch and the answer goes out.
    part->update_replica_leo(node_id{1}, offset{3});
    const auto pr = read_produce(producer, 1);
    CHECK(pr.error_code == error_code::none);
    CHECK(pr.base_offset == offset{0});
    CHECK(part->offsets().high_watermark == offset{3});

    SECTION("a follower that never catches up ends the wait at the request timeout") {
        send_produce(producer, 2, "t", test::make_batch("late", 2).view(), -1, 300);
        (void)metadata_roundtrip(srv->port(), "t");
        const auto late = read_produce(producer, 2);
        CHECK(late.error_code == error_code::request_timed_out);
        CHECK(part->offsets().log_end_offset == offset{5}); // appended, just not acknowledged
    }
    SECTION("acks=1 does not wait for the follower") {
        send_produce(producer, 3, "t", test::make_batch("one", 2).view(), 1, 20000);
        const auto one = read_produce(producer, 3, 5s);
        CHECK(one.error_code == error_code::none);
        CHECK(one.base_offset == offset{3});
    }
}

TEST_CASE("a long-poll Fetch waits without blocking and wakes on an embedded append", "[async]") {
    default_broker b;
    REQUIRE(b.create_topic("t", 1) == error_code::none);
    auto srv = serve(b);

    net::blocking_client fetcher("127.0.0.1", srv->port());
    const auto frame = long_poll_fetch(20000);
    REQUIRE(fetcher.send_raw(frame.view()) == net::blocking_client::status::ok);

    // Parked: other connections still get answers, and the fetch has none yet.
    for (int i = 0; i < 3; ++i) (void)metadata_roundtrip(srv->port(), "t");
    byte_buffer none;
    CHECK(fetcher.read_frame(none, 200ms) == net::blocking_client::status::timeout);

    // An append that does not go through the server (an embedded producer) wakes it.
    const auto t0 = std::chrono::steady_clock::now();
    REQUIRE(b.produce("t", partition_id{0}, test::make_batch("woke", 4), 1).error == error_code::none);
    auto f = fetcher.read_frame(5s);
    REQUIRE(f);
    CHECK(std::chrono::steady_clock::now() - t0 < 10s); // well before max_wait_ms (20 s)
    byte_reader r(f->view());
    const auto h = wire::response_header::decode(r, 0);
    REQUIRE(h);
    CHECK(h->correlation_id == 5);
    const auto resp = wire::fetch::response::decode(r, 11);
    REQUIRE(resp);
    REQUIRE(resp->responses.size() == 1);
    const auto& pd = resp->responses[0].partitions.at(0);
    CHECK(pd.error_code == error_code::none);
    CHECK(pd.high_watermark == offset{4});
    REQUIRE(pd.records);
    const auto got = test::decode_all(*pd.records);
    REQUIRE(got.size() == 4);
    CHECK(got[0] == std::pair<std::int64_t, std::string>{0, "woke-0"});
    CHECK(got[3] == std::pair<std::int64_t, std::string>{3, "woke-3"});
}

TEST_CASE("an embedded consumer's long poll is woken by an in-process append, without polling", "[async]") {
    default_broker b;
    REQUIRE(b.create_topic("t", 1) == error_code::none);
    fetch_transport::in_process<default_broker> t{b};
    const topic_partition tp{"t", partition_id{0}};
    fetch_transport::partition_request pr{&tp, offset{0}, 1 << 20};
    fetch_transport::fetch_options opt;
    opt.max_wait_ms = 20000;
    opt.min_bytes = 1;

    std::atomic<bool> started{false};
    auto fut = std::async(std::launch::async, [&] {
        started = true;
        auto resp = t.fetch(std::span(&pr, 1), opt);
        return std::make_pair(std::chrono::steady_clock::now(), std::move(resp));
    });
    auto* part = b.find_partition("t", partition_id{0});
    REQUIRE(part);
    // The consumer has read once and sleeps on the monitor.
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (part->monitor().pending() == 0 && std::chrono::steady_clock::now() < until) std::this_thread::yield();
    REQUIRE(part->monitor().pending() == 1);
    CHECK(t.reads() == 1);

    const auto t0 = std::chrono::steady_clock::now();
    REQUIRE(b.produce("t", partition_id{0}, test::make_batch("e", 2), 1).error == error_code::none);
    REQUIRE(fut.wait_for(10s) == std::future_status::ready);
    auto [woke_at, resp] = fut.get();
    const auto latency = std::chrono::duration_cast<std::chrono::microseconds>(woke_at - t0);
    UNSCOPED_INFO("wake-up latency " << latency.count() << " us");
    CHECK(t.reads() == 2); // once before sleeping, once after the wake-up: no polling
    REQUIRE(resp.partitions.size() == 1);
    const auto got = test::decode_all(resp.partitions[0].records);
    REQUIRE(got.size() == 2);
    CHECK(got[1].second == "e-1");
    CHECK(part->monitor().pending() == 0); // the wait was withdrawn
}

TEST_CASE("an embedded producer's acks=all wait does not hold up its next request", "[async]") {
    default_broker b;
    REQUIRE(b.create_topic("t", 2) == error_code::none);
    auto* p0 = b.find_partition("t", partition_id{0});
    REQUIRE(p0);
    p0->assign_replicas({node_id{0}, node_id{1}}, {node_id{0}, node_id{1}});
    producer_config cfg;
    cfg.acks = -1;
    cfg.linger_ms = 0;
    using embedded = producer<producer_policies<transport::in_process<default_broker>>>;
    embedded prod{cfg, transport::in_process<default_broker>{b}};
    auto slow = prod.send({.topic = "t", .partition = partition_id{0}, .value = "slow"}, use_future);
    // Appended at once; its answer waits for the follower.
    REQUIRE(p0->monitor().wait_until(offset_kind::log_end, offset{1}, broker_detail::wait_clock::now() + 10s));
    // The sender thread is free: a record for another partition goes out and is answered.
    auto fast = prod.send({.topic = "t", .partition = partition_id{1}, .value = "fast"}, use_future);
    REQUIRE(fast.wait_for(10s) == std::future_status::ready);
    CHECK(!fast.get().error);
    CHECK(slow.wait_for(50ms) == std::future_status::timeout);
    p0->update_replica_leo(node_id{1}, offset{1});
    REQUIRE(slow.wait_for(10s) == std::future_status::ready);
    const auto r = slow.get();
    CHECK(!r.error);
    CHECK(r.metadata.offset == offset{0});
    REQUIRE(!prod.flush());
}

namespace {
struct fsync_policies : default_broker_policies {
    using storage_backend = storage::file_backend;
    using durability = gregor::durability::fsync_before_ack;
};
struct crashy_fsync_policies : default_broker_policies {
    using storage_backend = testing::crashy_storage<storage::file_backend>;
    using durability = gregor::durability::fsync_before_ack;
};
} // namespace

TEST_CASE("fsync before ack: concurrent appends share syncs, and every answer follows its sync", "[async]") {
    test::temp_dir dir;
    broker_config cfg;
    cfg.data_dir = dir.path;
    broker<fsync_policies> b{cfg};
    REQUIRE(b.create_topic("t", 1) == error_code::none);
    constexpr int threads = 8, per_thread = 25;
    std::vector<std::thread> ts;
    std::atomic<int> errors{0};
    for (int i = 0; i < threads; ++i) {
        ts.emplace_back([&, i] {
            for (int k = 0; k < per_thread; ++k) {
                const auto r = b.produce("t", partition_id{0}, test::make_batch("w" + std::to_string(i), 1), 1);
                if (r.error != error_code::none) ++errors;
                // Answered only once the flushed offset covers it.
                if (b.find_partition("t", partition_id{0})->monitor().current(offset_kind::flushed) <= r.base_offset)
                    ++errors;
            }
        });
    }
    for (auto& t : ts) t.join();
    CHECK(errors == 0);
    CHECK(b.find_partition("t", partition_id{0})->offsets().log_end_offset == offset{threads * per_thread});
    // Group commit: never more syncs than appends, and syncs ran on the flusher.
    CHECK(b.flusher_syncs() >= 1);
    CHECK(b.flusher_syncs() <= static_cast<std::uint64_t>(threads * per_thread));
    UNSCOPED_INFO("syncs " << b.flusher_syncs() << " for " << threads * per_thread << " appends");
}

TEST_CASE("fsync before ack: a failing sync answers KAFKA_STORAGE_ERROR and acknowledges nothing", "[async]") {
    test::temp_dir dir;
    broker_config cfg;
    cfg.data_dir = dir.path;
    auto ctl = std::make_shared<testing::crash_controller>(3);
    broker<crashy_fsync_policies> b{cfg, {.controller = ctl}};
    REQUIRE(b.create_topic("t", 1) == error_code::none);
    REQUIRE(b.produce("t", partition_id{0}, test::make_batch("ok", 2), 1).error == error_code::none);
    ctl->fail_io(true);
    const auto r = b.produce("t", partition_id{0}, test::make_batch("bad", 2), 1, std::nullopt, 5000ms);
    CHECK(r.error == error_code::kafka_storage_error);
    ctl->fail_io(false);
    CHECK(b.find_partition("t", partition_id{0})->monitor().current(offset_kind::flushed) == offset{2});
}

namespace {
struct crashy_file_policies : default_broker_policies {
    using storage_backend = testing::crashy_storage<storage::file_backend>;
};

/// A file broker whose metadata writes a test can hold (crash_controller::hold_file_writes), with
/// topic "t" and a Kafka server in front.
struct held_disk_server {
    test::temp_dir dir;
    std::shared_ptr<testing::crash_controller> ctl = std::make_shared<testing::crash_controller>(5);
    broker<crashy_file_policies> b{config(), {.controller = ctl}};
    kafka_server<broker<crashy_file_policies>> srv{b, server_config()};
    held_disk_server() { REQUIRE(b.create_topic("t", 1) == error_code::none); }
    broker_config config() const {
        broker_config cfg;
        cfg.data_dir = dir.path;
        return cfg;
    }
    static kafka_server_config server_config() {
        kafka_server_config sc;
        sc.net.host = "127.0.0.1";
        sc.net.port = 0;
        return sc;
    }
};
} // namespace

TEST_CASE("a CreateTopics that waits for the disk leaves the event loop serving produce and metadata", "[async]") {
    held_disk_server fx;
    auto& b = fx.b;
    auto& srv = fx.srv;
    auto& ctl = fx.ctl;
    // The first append of a leader epoch writes leader-epoch-checkpoint: done before the hold.
    REQUIRE(b.produce("t", partition_id{0}, test::make_batch("first", 1), 1).error == error_code::none);

    // The topic table write of this CreateTopics hangs, as on a disk that stalls in fsync.
    ctl->hold_file_writes(true);
    net::blocking_client admin("127.0.0.1", srv.port());
    wire::create_topics::request ct;
    ct.timeout_ms = 30000;
    wire::create_topics::creatable_topic nt;
    nt.name = "new";
    nt.num_partitions = 2;
    nt.replication_factor = -1;
    ct.topics.push_back(nt);
    byte_buffer ct_frame;
    wire::encode_request_frame(ct_frame, 4, 9, "async-test", ct);
    REQUIRE(admin.send_raw(ct_frame.view()) == net::blocking_client::status::ok);
    REQUIRE(ctl->wait_for_held_writes(1, 10s));

    // Meanwhile the loop answers others: a produce to an existing topic, metadata, again and again.
    net::blocking_client producer("127.0.0.1", srv.port());
    for (int i = 0; i < 3; ++i) {
        send_produce(producer, 20 + i, "t", test::make_batch("p", 2).view(), 1, 5000);
        const auto pr = read_produce(producer, 20 + i, 5s);
        CHECK(pr.error_code == error_code::none);
        CHECK(pr.base_offset == offset{1 + 2 * i});
        (void)metadata_roundtrip(srv.port(), "t");
    }
    byte_buffer none;
    CHECK(admin.read_frame(none, 100ms) == net::blocking_client::status::timeout);
    CHECK_FALSE(b.topic_metadata("new"));

    ctl->hold_file_writes(false);
    const auto resp = read_answer<wire::create_topics::response>(admin, 9, 4, 10s);
    REQUIRE(resp.topics.size() == 1);
    CHECK(resp.topics[0].error_code == error_code::none);
    REQUIRE(b.topic_metadata("new"));
    CHECK(b.topic_metadata("new")->partitions.size() == 2);
}

TEST_CASE("a Metadata request that auto-creates a topic does not hold up the loop", "[async]") {
    held_disk_server fx;
    auto& b = fx.b;
    auto& srv = fx.srv;
    auto& ctl = fx.ctl;

    ctl->hold_file_writes(true);
    auto creating = std::async(std::launch::async, [&] { return metadata_roundtrip(srv.port(), "auto-made"); });
    REQUIRE(ctl->wait_for_held_writes(1, 10s));
    // Known topics are answered meanwhile; Produce never creates one (Kafka's rule).
    (void)metadata_roundtrip(srv.port(), "t");
    net::blocking_client producer("127.0.0.1", srv.port());
    send_produce(producer, 5, "other", test::make_batch("x", 1).view(), 1, 5000);
    CHECK(read_produce(producer, 5, 5s).error_code == error_code::unknown_topic_or_partition);
    CHECK(creating.wait_for(50ms) == std::future_status::timeout);
    ctl->hold_file_writes(false);
    (void)creating.get(); // checks the topic came back with its partition
    CHECK(b.topic_metadata("auto-made"));
    CHECK_FALSE(b.topic_metadata("other"));
}

TEST_CASE("clients that close with a long-poll Fetch parked leave no socket behind", "[async]") {
    default_broker b;
    REQUIRE(b.create_topic("t", 1) == error_code::none);
    auto srv = serve(b);
    const auto frame = long_poll_fetch(24 * 24 * 3600 * 1000); // weeks: nothing but the close may end it
    constexpr int clients = 200;
    {
        std::vector<std::unique_ptr<net::blocking_client>> cs;
        for (int i = 0; i < clients; ++i) {
            cs.push_back(std::make_unique<net::blocking_client>("127.0.0.1", srv->port()));
            REQUIRE(cs.back()->send_raw(frame.view()) == net::blocking_client::status::ok);
        }
        // All parked (the server took each request).
        for (int i = 0; i < 500 && srv->stats().requests < static_cast<std::uint64_t>(clients); ++i)
            std::this_thread::sleep_for(10ms);
        REQUIRE(srv->stats().requests >= static_cast<std::uint64_t>(clients));
        REQUIRE(srv->stats().connections == static_cast<std::uint64_t>(clients));
    } // every client closes
    // The server notices each close at once and lets its socket go: bounded wait on the count.
    for (int i = 0; i < 500 && srv->stats().connections > 0; ++i) std::this_thread::sleep_for(10ms);
    CHECK(srv->stats().connections == 0);

    // A client that only half-closes still gets its answer (empty: nothing arrived), then the close.
    net::blocking_client half("127.0.0.1", srv->port());
    REQUIRE(half.send_raw(frame.view()) == net::blocking_client::status::ok);
    for (int i = 0; i < 500 && srv->stats().requests < static_cast<std::uint64_t>(clients + 1); ++i)
        std::this_thread::sleep_for(10ms);
    half.shutdown_write();
    auto f = half.read_frame(5s);
    REQUIRE(f);
    byte_reader r(f->view());
    REQUIRE(wire::response_header::decode(r, 0));
    const auto resp = wire::fetch::response::decode(r, 11);
    REQUIRE(resp);
    CHECK(resp->responses.at(0).partitions.at(0).error_code == error_code::none);
}
