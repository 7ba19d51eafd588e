#include "message_test_util.hpp"

#include <gregor/wire/api.hpp>
#include <gregor/wire/header.hpp>
#include <gregor/wire/messages/api_versions.hpp>
#include <gregor/wire/messages/metadata.hpp>

#include <catch2/catch.hpp>

#include <algorithm>

using namespace gregor;
using namespace gregor::wire;
using gregor::test::from_hex;
using gregor::test::hex;

namespace {
struct incomplete_api { // no name, no advertised range
    static constexpr api_key key = api_key::produce;
};
struct inverted_api { // min above max
    static constexpr api_key key = api_key::produce;
    static constexpr std::string_view name = "Produce";
    static constexpr std::int16_t min_version = 3;
    static constexpr std::int16_t max_version = 2;
    static constexpr std::int16_t first_flexible = 9;
    static constexpr version_range advertised{0, 7};
};
} // namespace

static_assert(!kafka_api<incomplete_api>, "a tag without name/versions/advertised is not an API");
static_assert(!kafka_api<inverted_api>, "a tag with min_version > max_version is not an API");
static_assert(kafka_api<produce_api>);
static_assert(kafka_message<api_versions::request>);
static_assert(!kafka_message<int>);

TEST_CASE("api keys carry Kafka's numbers and names", "[wire_api]") {
    CHECK(static_cast<int>(api_key::produce) == 0);
    CHECK(static_cast<int>(api_key::api_versions) == 18);
    CHECK(static_cast<int>(api_key::init_producer_id) == 22);
    CHECK(static_cast<int>(api_key::describe_configs) == 32);
    CHECK(api_name(api_key::txn_offset_commit) == "TxnOffsetCommit");
    CHECK(to_string(api_key::fetch) == "Fetch");
    CHECK(to_string(static_cast<api_key>(57)) == "ApiKey(57)");
    CHECK_FALSE(is_known(static_cast<api_key>(57)));
    CHECK(first_flexible_version(static_cast<api_key>(57)) == never_flexible);
}

TEST_CASE("broker advertises the ranges docs/protocol.md section 4 asks for", "[wire_api]") {
    const auto find = [](api_key k) {
        const auto it = std::find_if(broker_advertised_apis.begin(), broker_advertised_apis.end(),
                                     [k](const advertised_api& a) { return a.key == k; });
        REQUIRE(it != broker_advertised_apis.end());
        return it->versions;
    };
    // Kafka 3.9's maxima (docs/protocol.md §13), keeping the old versions older clients send.
    CHECK(find(api_key::api_versions) == version_range{0, 4});
    CHECK(find(api_key::metadata) == version_range{0, 12});
    CHECK(find(api_key::produce) == version_range{0, 11});
    CHECK(find(api_key::fetch) == version_range{4, 16});
    CHECK(find(api_key::list_offsets) == version_range{0, 8});
    CHECK(find(api_key::init_producer_id) == version_range{0, 5});
    CHECK(find(api_key::find_coordinator) == version_range{0, 5});
    // librdkafka's MsgVer2 probe (Produce v3 and Fetch v4) and compression check (Produce v0).
    CHECK(find(api_key::produce).contains(3));
    CHECK(find(api_key::produce).contains(0));
    CHECK(find(api_key::fetch).contains(4));
    CHECK(find(api_key::find_coordinator).contains(0));
    // Keys ascend, as Kafka lists them.
    CHECK(std::is_sorted(broker_advertised_apis.begin(), broker_advertised_apis.end(),
                         [](const advertised_api& a, const advertised_api& b) { return a.key < b.key; }));
}

TEST_CASE("version negotiation takes the highest version both sides support", "[wire_api]") {
    CHECK(highest_common_version({3, 7}, {0, 7}) == std::optional<std::int16_t>(7));
    CHECK(highest_common_version({0, 6}, {0, 2}) == std::optional<std::int16_t>(2)); // librdkafka mock
    CHECK(highest_common_version({3, 7}, {0, 2}) == std::nullopt);
    CHECK(supports_version<produce_api>(7));
    CHECK_FALSE(supports_version<produce_api>(2));
    CHECK_FALSE(supports_version<fetch_api>(3));
    CHECK(is_flexible_version<init_producer_id_api>(2));
    CHECK_FALSE(is_flexible_version<init_producer_id_api>(1));
}

TEST_CASE("header versions follow flexibility with the ApiVersions response exception", "[wire_api]") {
    CHECK(request_header_version(api_key::api_versions, 2) == 1);
    CHECK(request_header_version(api_key::api_versions, 3) == 2);
    CHECK(request_header_version(api_key::api_versions, 4) == 2); // above our max: still flexible
    CHECK(response_header_version(api_key::api_versions, 3) == 0);
    CHECK(response_header_version(api_key::api_versions, 0) == 0);
    CHECK(request_header_version(api_key::init_producer_id, 1) == 1);
    CHECK(request_header_version(api_key::init_producer_id, 4) == 2);
    CHECK(response_header_version(api_key::init_producer_id, 4) == 1);
    CHECK(response_header_version(api_key::init_producer_id, 1) == 0);
    CHECK(request_header_version(api_key::metadata, 6) == 1);
    CHECK(request_header_version(api_key::metadata, 9) == 2);
    CHECK(request_header_version(api_key::controlled_shutdown, 0) == 0);
    CHECK(request_header_version(api_key::fetch, 11) == 1);
    CHECK(response_header_version(api_key::fetch, 12) == 1);
}

TEST_CASE("request header v1 and v2 keep client_id a classic string", "[wire_api]") {
    for (std::int16_t v : {std::int16_t{2}, std::int16_t{3}}) {
        request_header h{api_key::api_versions, v, 7, "rdkafka"};
        byte_buffer b;
        byte_writer w(b);
        h.encode(w);
        const std::string expected = std::string("0012") + (v == 2 ? "0002" : "0003") + "00000007" + "0007" +
                                     hex(as_bytes("rdkafka")) + (v == 3 ? "00" : "");
        CHECK(hex(b.view()) == expected);
        byte_reader r(b.view());
        const auto d = request_header::decode(r);
        REQUIRE(d);
        CHECK(d->key == api_key::api_versions);
        CHECK(d->version == v);
        CHECK(d->correlation_id == 7);
        CHECK(d->client_id == std::optional<std::string_view>("rdkafka"));
        CHECK(r.at_end());
        const auto full = gregor::test::to_vec(b.view());
        for (std::size_t n = 0; n < full.size(); ++n) {
            const std::vector<std::byte> prefix(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
            byte_reader rt(bytes_view{prefix.data(), prefix.size()});
            CHECK_FALSE(request_header::decode(rt));
        }
    }
}

TEST_CASE("request header with a null client id and unknown tagged fields decodes", "[wire_api]") {
    // InitProducerId v4 (header v2), client_id null, one unknown header tag.
    const auto in = from_hex("0016 0004 00000009 ffff 01 05 02 abcd");
    byte_reader r(bytes_view{in});
    const auto h = request_header::decode(r);
    REQUIRE(h);
    CHECK(h->key == api_key::init_producer_id);
    CHECK_FALSE(h->client_id);
    CHECK(r.at_end());
    for (std::size_t n = 0; n < in.size(); ++n) {
        const std::vector<std::byte> prefix(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(n));
        byte_reader rt(bytes_view{prefix.data(), prefix.size()});
        CHECK_FALSE(request_header::decode(rt));
    }
}

TEST_CASE("an unknown api key still yields its correlation id", "[wire_api]") {
    const auto in = from_hex("0039 0000 0000002a 0003 616263");
    byte_reader r(bytes_view{in});
    const auto h = request_header::decode(r);
    REQUIRE(h);
    CHECK(h->correlation_id == 42);
    CHECK_FALSE(is_known(h->key));
}

TEST_CASE("response header v1 adds a tagged-field section", "[wire_api]") {
    byte_buffer b;
    byte_writer w(b);
    response_header{0x01020304}.encode(w, 0);
    response_header{5}.encode(w, 1);
    CHECK(hex(b.view()) == "01020304"
                           "0000000500");
    byte_reader r(b.view());
    CHECK(response_header::decode(r, 0)->correlation_id == 0x01020304);
    CHECK(response_header::decode(r, 1)->correlation_id == 5);
    CHECK(r.at_end());
}

TEST_CASE("request frames carry a size prefix covering header and body", "[wire_api]") {
    metadata::request m;
    m.topics = std::vector<metadata::request_topic>{{"t"}};
    byte_buffer b;
    encode_request_frame(b, 4, 1, "rdkafka", m);
    // size, header v1 (Metadata v4 is not flexible), body: [ "t" ], allow_auto_topic_creation.
    CHECK(hex(b.view()) == "00000019"
                           "0003"
                           "0004"
                           "00000001"
                           "0007" +
                               hex(as_bytes("rdkafka")) +
                               "00000001"
                               "000174"
                               "01");
    byte_reader r(b.view());
    CHECK(r.i32() == static_cast<std::int32_t>(b.size() - 4));
    const auto h = request_header::decode(r);
    REQUIRE(h);
    const auto body = metadata::request::decode(r, h->version);
    REQUIRE(body);
    REQUIRE(body->topics);
    CHECK((*body->topics)[0].name == "t");
    CHECK(r.at_end());
}
