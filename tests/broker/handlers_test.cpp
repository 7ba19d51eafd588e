// The Kafka API handlers (broker/handlers/): the ApiVersions answer and the dispatch both come from
// one list, so every advertised API is answered, nothing unlisted is, and the advertised ranges
// are still those wire::broker_advertised_apis (docs/protocol.md §4) asks for.
#include "broker_test_util.hpp"

#include <gregor/broker/handlers/handlers.hpp>
#include <gregor/broker/kafka_server.hpp>
#include <gregor/net/client.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/header.hpp>
#include <gregor/wire/messages/api_versions.hpp>
#include <gregor/wire/messages/fetch.hpp>
#include <gregor/wire/messages/find_coordinator.hpp>
#include <gregor/wire/messages/init_producer_id.hpp>
#include <gregor/wire/messages/list_offsets.hpp>
#include <gregor/wire/messages/metadata.hpp>
#include <gregor/wire/messages/produce.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

using namespace gregor;
using namespace std::chrono_literals;
namespace bh = gregor::broker_handlers;

namespace {

using memory_broker = broker<>;

template <typename... H>
constexpr std::optional<wire::version_range> served_of(bh::handler_list<H...>, wire::api_key k) {
    std::optional<wire::version_range> out;
    ((H::api::key == k ? (out = H::served, 0) : 0), ...);
    return out;
}

std::unique_ptr<kafka_server<memory_broker>> serve(memory_broker& b) {
    kafka_server_config sc;
    sc.net.host = "127.0.0.1";
    sc.net.port = 0;
    return std::make_unique<kafka_server<memory_broker>>(b, sc);
}

/// A request frame with only a header: what the dispatcher decides on before any body is read.
byte_buffer header_only(wire::api_key key, std::int16_t version, std::int32_t corr) {
    byte_buffer out;
    byte_writer w(out);
    const auto start = wire::begin_frame(w);
    wire::request_header{key, version, corr, "handlers-test"}.encode(w);
    wire::finish_frame(w, start);
    return out;
}

/// A request with a body that decodes wherever the codec implements `version`, so that only the
/// dispatcher's served range can turn it away (a bare header elsewhere).
template <typename Req>
byte_buffer decodable(std::int16_t version, std::int32_t corr) {
    if (!wire::supports_version<typename Req::api>(version)) return header_only(Req::api::key, version, corr);
    byte_buffer out;
    wire::encode_request_frame(out, version, corr, "handlers-test", Req{});
    return out;
}
byte_buffer decodable_request(wire::api_key key, std::int16_t version, std::int32_t corr) {
    switch (key) {
    case wire::api_key::api_versions: return decodable<wire::api_versions::request>(version, corr);
    case wire::api_key::metadata: return decodable<wire::metadata::request>(version, corr);
    case wire::api_key::produce: return decodable<wire::produce::request>(version, corr);
    case wire::api_key::fetch: return decodable<wire::fetch::request>(version, corr);
    case wire::api_key::list_offsets: return decodable<wire::list_offsets::request>(version, corr);
    case wire::api_key::init_producer_id: return decodable<wire::init_producer_id::request>(version, corr);
    case wire::api_key::find_coordinator: return decodable<wire::find_coordinator::request>(version, corr);
    default: return header_only(key, version, corr);
    }
}

/// The frame of the latest roundtrip's answer: decoded responses hold views into it (names, keys,
/// records), valid until the next roundtrip.
byte_buffer& last_frame() {
    static byte_buffer frame;
    return frame;
}

template <typename Resp, typename Req>
Resp roundtrip(net::blocking_client& c, std::int16_t version, std::int32_t corr, const Req& req) {
    byte_buffer frame;
    wire::encode_request_frame(frame, version, corr, "handlers-test", req);
    REQUIRE(c.send_raw(frame.view()) == net::blocking_client::status::ok);
    byte_buffer f;
    const auto st = c.read_frame(f, 5s);
    INFO("read status " << static_cast<int>(st));
    REQUIRE(st == net::blocking_client::status::ok);
    byte_reader r(f.view());
    const auto h = wire::response_header::decode(r, wire::response_header_version(Req::api::key, version));
    REQUIRE(h);
    CHECK(h->correlation_id == corr);
    auto resp = Resp::decode(r, version);
    REQUIRE(resp);
    last_frame() = std::move(f); // the heap block the views point into moves with it
    return std::move(*resp);
}

wire::api_versions::response api_versions(net::blocking_client& c, std::int16_t version, std::int32_t corr) {
    wire::api_versions::request req;
    req.client_software_name = "handlers-test";
    req.client_software_version = "1";
    return roundtrip<wire::api_versions::response>(c, version, corr, req);
}

/// Sends a request of API `key` at `version` that the broker can answer and checks the answer.
/// `id` is topic "t"'s id (Metadata v10+ answers it, Fetch v13+ names the topic by it).
void exercise(net::blocking_client& c, wire::api_key key, std::int16_t version, std::int32_t corr, wire::uuid id = {}) {
    INFO(wire::to_string(key) << " v" << version);
    switch (key) {
    case wire::api_key::api_versions: {
        const auto resp = api_versions(c, version, corr);
        CHECK(resp.error_code == error_code::none);
        return;
    }
    case wire::api_key::metadata: {
        wire::metadata::request req;
        req.topics.emplace();
        req.topics->push_back({"t"});
        const auto resp = roundtrip<wire::metadata::response>(c, version, corr, req);
        REQUIRE(resp.topics.size() == 1);
        CHECK(resp.topics[0].error_code == error_code::none);
        CHECK(resp.topics[0].partitions.size() == 1);
        if (version >= 10) CHECK(resp.topics[0].topic_id == id);
        if (version >= 7) CHECK(resp.topics[0].partitions.at(0).leader_epoch == leader_epoch{0});
        return;
    }
    case wire::api_key::produce: {
        const auto batch = test::make_batch("h", 2);
        wire::produce::request req;
        req.acks = 1;
        wire::produce::partition_data pd;
        pd.partition_index = partition_id{0};
        pd.records = batch.view();
        req.topics.push_back({"t", {pd}});
        const auto resp = roundtrip<wire::produce::response>(c, version, corr, req);
        REQUIRE(resp.responses.size() == 1);
        REQUIRE(resp.responses[0].partitions.size() == 1);
        CHECK(resp.responses[0].partitions[0].error_code == error_code::none);
        return;
    }
    case wire::api_key::fetch: {
        wire::fetch::request req;
        req.max_wait_ms = 500; // the produces above left data: answered at once
        req.max_bytes = 1 << 20;
        wire::fetch::fetch_partition fp;
        fp.partition_index = partition_id{0};
        fp.fetch_offset = offset{0};
        fp.partition_max_bytes = 1 << 20;
        req.topics.push_back({"t", {fp}, id});
        const auto resp = roundtrip<wire::fetch::response>(c, version, corr, req);
        REQUIRE(resp.responses.size() == 1);
        CHECK(resp.responses[0].partitions.at(0).error_code == error_code::none);
        CHECK(resp.responses[0].partitions.at(0).records);
        CHECK(!resp.responses[0].partitions.at(0).records->empty());
        if (version >= 13) CHECK(resp.responses[0].topic_id == id);
        return;
    }
    case wire::api_key::list_offsets: {
        wire::list_offsets::request req;
        req.topics.push_back({"t", {{partition_id{0}, wire::list_offsets::latest_timestamp, 1}}});
        const auto resp = roundtrip<wire::list_offsets::response>(c, version, corr, req);
        REQUIRE(resp.topics.size() == 1);
        CHECK(resp.topics[0].partitions.at(0).error_code == error_code::none);
        return;
    }
    case wire::api_key::init_producer_id: {
        const auto resp =
            roundtrip<wire::init_producer_id::response>(c, version, corr, wire::init_producer_id::request{});
        CHECK(resp.error_code == error_code::none);
        CHECK(resp.producer_id.value() >= 0);
        return;
    }
    case wire::api_key::find_coordinator: {
        wire::find_coordinator::request req;
        req.key = "group";
        const auto resp = roundtrip<wire::find_coordinator::response>(c, version, corr, req);
        CHECK(resp.error_code == error_code::none);
        return;
    }
    default: FAIL("advertised but this test has no request for it: " << wire::to_string(key));
    }
}

} // namespace

TEST_CASE("the generated ApiVersions list is one entry per handler, with its advertised range", "[handlers]") {
    CHECK(bh::broker_advertised.size() == bh::all_handlers::size);
    // Produce is the one API advertised wider than it is served (librdkafka's compression check).
    CHECK(served_of(bh::all_handlers{}, wire::api_key::produce) == wire::version_range{3, 11});
    for (const auto& a : bh::broker_advertised) {
        INFO(wire::to_string(a.key));
        const auto served = served_of(bh::all_handlers{}, a.key);
        REQUIRE(served);
        CHECK(a.versions.min <= served->min);
        CHECK(a.versions.max == served->max);
    }
    // Nothing drifted when the hand-kept wire::broker_advertised_apis (still what the wire tests
    // and fuzz seeds use) gave way to the generated list; a new handler updates both.
    REQUIRE(bh::broker_advertised.size() == wire::broker_advertised_apis.size());
    for (std::size_t i = 0; i < wire::broker_advertised_apis.size(); ++i) {
        CHECK(bh::broker_advertised[i].key == wire::broker_advertised_apis[i].key);
        CHECK(bh::broker_advertised[i].versions == wire::broker_advertised_apis[i].versions);
    }
}

TEST_CASE("ApiVersions over TCP lists exactly the handlers, and every listed API is answered", "[handlers]") {
    memory_broker b;
    REQUIRE(b.create_topic("t", 1) == error_code::none);
    auto srv = serve(b);
    net::blocking_client c("127.0.0.1", srv->port());

    for (const std::int16_t v : {std::int16_t{0}, std::int16_t{3}, std::int16_t{4}}) {
        INFO("ApiVersions v" << v);
        const auto resp = api_versions(c, v, 100 + v);
        CHECK(resp.error_code == error_code::none);
        REQUIRE(resp.api_keys.size() == bh::broker_advertised.size());
        for (std::size_t i = 0; i < resp.api_keys.size(); ++i) {
            CHECK(resp.api_keys[i].key == bh::broker_advertised[i].key);
            CHECK(resp.api_keys[i].min_version == bh::broker_advertised[i].versions.min);
            CHECK(resp.api_keys[i].max_version == bh::broker_advertised[i].versions.max);
        }
    }

    std::int32_t corr = 1000;
    const auto id = b.topic_metadata("t")->id;
    for (const auto& a : bh::broker_advertised) {
        const auto served = served_of(bh::all_handlers{}, a.key);
        REQUIRE(served);
        // Every served version, flexible ones included, answers in full.
        for (auto v = served->min; v <= served->max; ++v) exercise(c, a.key, v, ++corr, id);
    }
    // Still the same connection: nothing above closed it.
    exercise(c, wire::api_key::metadata, 6, ++corr);
}

TEST_CASE("unknown keys and unserved versions close only their own connection", "[handlers]") {
    memory_broker b;
    REQUIRE(b.create_topic("t", 1) == error_code::none);
    auto srv = serve(b);
    net::blocking_client other("127.0.0.1", srv->port());
    (void)api_versions(other, 3, 1);

    const auto closes = [&](wire::api_key key, std::int16_t version) {
        INFO(wire::to_string(key) << " v" << version);
        net::blocking_client c("127.0.0.1", srv->port());
        // A request before the bad one is still answered: the close follows earlier responses.
        auto frames = header_only(wire::api_key::api_versions, 0, 7);
        const auto bad = decodable_request(key, version, 8);
        frames.append(bad.view());
        REQUIRE(c.send_raw(frames.view()) == net::blocking_client::status::ok);
        auto f = c.read_frame(5s);
        REQUIRE(f);
        byte_reader r(f->view());
        const auto h = wire::response_header::decode(r, 0);
        REQUIRE(h);
        CHECK(h->correlation_id == 7);
        CHECK(c.wait_closed(5s));
        // The other connection keeps being served.
        exercise(other, wire::api_key::metadata, 6, 9);
    };

    closes(static_cast<wire::api_key>(999), 0);
    closes(wire::api_key::api_versions, -1);
    for (const auto& a : bh::broker_advertised) {
        if (a.key != wire::api_key::api_versions) closes(a.key, static_cast<std::int16_t>(a.versions.max + 1));
        const auto served = served_of(bh::all_handlers{}, a.key);
        REQUIRE(served);
        if (served->min > 0) closes(a.key, static_cast<std::int16_t>(served->min - 1)); // Produce v2, Fetch v3
    }
}

TEST_CASE("ApiVersions above our range gets UNSUPPORTED_VERSION in a v0 body (KIP-511)", "[handlers]") {
    memory_broker b;
    auto srv = serve(b);
    net::blocking_client c("127.0.0.1", srv->port());
    // Our range is the handler's, which may be narrower than what the codec implements.
    constexpr auto ours = bh::advertised_range<bh::api_versions_handler>();
    const auto frame = header_only(wire::api_key::api_versions, static_cast<std::int16_t>(ours.max + 1), 3);
    REQUIRE(c.send_raw(frame.view()) == net::blocking_client::status::ok);
    auto f = c.read_frame(5s);
    REQUIRE(f);
    byte_reader r(f->view());
    const auto h = wire::response_header::decode(r, 0);
    REQUIRE(h);
    CHECK(h->correlation_id == 3);
    const auto resp = wire::api_versions::response::decode(r, 0);
    REQUIRE(resp);
    CHECK(resp->error_code == error_code::unsupported_version);
    REQUIRE(resp->api_keys.size() == 1);
    CHECK(resp->api_keys[0].key == wire::api_key::api_versions);
    CHECK(resp->api_keys[0].min_version == ours.min);
    CHECK(resp->api_keys[0].max_version == ours.max);
    // The client retries at a version we know, on the same connection.
    CHECK(api_versions(c, 0, 4).api_keys.size() == bh::broker_advertised.size());
}

TEST_CASE("topic ids, leader epochs, sessions and batched coordinators as current clients use them", "[handlers]") {
    memory_broker b;
    REQUIRE(b.create_topic("t", 1) == error_code::none);
    REQUIRE(b.produce("t", partition_id{0}, test::make_batch("x", 3), 1).error == error_code::none);
    auto srv = serve(b);
    net::blocking_client c("127.0.0.1", srv->port());
    const auto id = b.topic_metadata("t")->id;
    const auto fetch = [&](std::int16_t v, wire::uuid tid, leader_epoch epoch, std::int32_t session,
                           std::int32_t wait) {
        wire::fetch::request req;
        req.max_wait_ms = wait;
        req.max_bytes = 1 << 20;
        req.session_id = session;
        wire::fetch::fetch_partition fp;
        fp.partition_index = partition_id{0};
        fp.fetch_offset = offset{3}; // the end: nothing to read
        fp.partition_max_bytes = 1 << 20;
        fp.current_leader_epoch = epoch;
        req.topics.push_back({"t", {fp}, tid});
        return roundtrip<wire::fetch::response>(c, v, 7, req);
    };
    // Metadata v12 by id alone (null name) names the topic; an unknown id is UNKNOWN_TOPIC_ID.
    {
        wire::metadata::request req;
        req.topics.emplace();
        req.topics->push_back({std::string_view{}, id});
        wire::uuid other = id;
        other.bytes[0] ^= std::byte{1};
        req.topics->push_back({std::string_view{}, other});
        const auto resp = roundtrip<wire::metadata::response>(c, 12, 1, req);
        REQUIRE(resp.topics.size() == 2);
        CHECK(resp.topics[0].name == "t");
        CHECK(resp.topics[0].topic_id == id);
        CHECK(resp.topics[0].error_code == error_code::none);
        CHECK(resp.topics[1].error_code == error_code::unknown_topic_id);
        CHECK(resp.topics[1].topic_id == other);
    }
    // max_wait_ms 0 answers at once, with nothing.
    auto r0 = fetch(16, id, leader_epoch{-1}, 0, 0);
    CHECK(r0.responses.at(0).partitions.at(0).error_code == error_code::none);
    CHECK(r0.responses.at(0).partitions.at(0).high_watermark == offset{3});
    CHECK(r0.session_id == 0); // sessionless: the client keeps sending full fetches
    // Fetch v13+ with an id this broker does not know.
    wire::uuid unknown{};
    unknown.bytes[3] = std::byte{9};
    CHECK(fetch(13, unknown, leader_epoch{-1}, 0, 0).responses.at(0).partitions.at(0).error_code ==
          error_code::unknown_topic_id);
    // Leader epochs: the current one reads, an older one is fenced, a newer one unknown.
    CHECK(fetch(12, {}, leader_epoch{0}, 0, 0).responses.at(0).partitions.at(0).error_code == error_code::none);
    CHECK(fetch(12, {}, leader_epoch{1}, 0, 0).responses.at(0).partitions.at(0).error_code ==
          error_code::unknown_leader_epoch);
    // A session this broker never created.
    CHECK(fetch(12, {}, leader_epoch{-1}, 42, 0).error_code == error_code::fetch_session_id_not_found);
    // FindCoordinator v4+: one coordinator per key.
    {
        wire::find_coordinator::request req;
        req.coordinator_keys = {"g1", "g2"};
        const auto resp = roundtrip<wire::find_coordinator::response>(c, 5, 3, req);
        REQUIRE(resp.coordinators.size() == 2);
        CHECK(resp.coordinators[1].key == "g2");
        CHECK(resp.coordinators[1].node_id == node_id{0});
        CHECK(resp.coordinators[1].port == static_cast<std::int32_t>(srv->port()));
    }
    // ListOffsets v8: MAX_TIMESTAMP and EARLIEST_LOCAL, with the leader epoch.
    {
        wire::list_offsets::request req;
        req.topics.push_back({"t", {{partition_id{0}, -3, 1}, {partition_id{0}, -4, 1}}});
        const auto resp = roundtrip<wire::list_offsets::response>(c, 8, 4, req);
        REQUIRE(resp.topics.at(0).partitions.size() == 2);
        CHECK(resp.topics[0].partitions[0].offset == offset{2});
        CHECK(resp.topics[0].partitions[0].leader_epoch == leader_epoch{0});
        CHECK(resp.topics[0].partitions[1].offset == offset{0});
    }
}
