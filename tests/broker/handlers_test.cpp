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
    return std::move(*resp);
}

wire::api_versions::response api_versions(net::blocking_client& c, std::int16_t version, std::int32_t corr) {
    wire::api_versions::request req;
    req.client_software_name = "handlers-test";
    req.client_software_version = "1";
    return roundtrip<wire::api_versions::response>(c, version, corr, req);
}

/// Sends a request of API `key` at `version` that the broker can answer and checks the answer.
void exercise(net::blocking_client& c, wire::api_key key, std::int16_t version, std::int32_t corr) {
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
        req.topics.push_back({"t", {fp}});
        const auto resp = roundtrip<wire::fetch::response>(c, version, corr, req);
        REQUIRE(resp.responses.size() == 1);
        CHECK(resp.responses[0].partitions.at(0).error_code == error_code::none);
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
        const auto resp = roundtrip<wire::init_producer_id::response>(c, version, corr, wire::init_producer_id::request{});
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
    CHECK(served_of(bh::all_handlers{}, wire::api_key::produce) == wire::version_range{3, 7});
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

    for (const std::int16_t v : {std::int16_t{0}, std::int16_t{3}}) {
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
    for (const auto& a : bh::broker_advertised) {
        const auto served = served_of(bh::all_handlers{}, a.key);
        REQUIRE(served);
        exercise(c, a.key, a.versions.max, ++corr);
        exercise(c, a.key, served->min, ++corr);
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
