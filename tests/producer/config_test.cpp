#include <gregor/producer/batching.hpp>
#include <gregor/producer/producer_config.hpp>

#include <catch2/catch.hpp>

#include <limits>
#include <string>

using namespace gregor;

namespace {
std::string error_of(auto&& f) {
    try {
        f();
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "";
}
} // namespace

TEST_CASE("producer_config defaults are Kafka's", "[config]") {
    const producer_config c;
    CHECK(c.acks == -1);
    CHECK(!c.enable_idempotence.has_value());
    CHECK(c.idempotence(-1));
    CHECK(c.linger_ms == 5);
    CHECK(c.batch_size == 16384);
    CHECK(c.buffer_memory == 33554432);
    CHECK(c.max_block_ms == 60000);
    CHECK(c.request_timeout_ms == 30000);
    CHECK(c.delivery_timeout_ms == 120000);
    CHECK(c.retries == std::numeric_limits<std::int32_t>::max());
    CHECK(c.retry_backoff_ms == 100);
    CHECK(c.retry_backoff_max_ms == 1000);
    CHECK(c.max_in_flight_requests_per_connection == 5);
    CHECK(c.max_request_size == 1048576);
    CHECK(c.compression_type == "none");
    CHECK_NOTHROW(c.validate(-1));
}

TEST_CASE("from_properties reads every supported key", "[config]") {
    const auto c = producer_config::from_properties({{"bootstrap.servers", "127.0.0.1:9092"},
                                                     {"client.id", "me"},
                                                     {"acks", "1"},
                                                     {"enable.idempotence", "false"},
                                                     {"linger.ms", "100"},
                                                     {"batch.size", "1000000"},
                                                     {"buffer.memory", "1048576"},
                                                     {"max.block.ms", "10"},
                                                     {"request.timeout.ms", "2000"},
                                                     {"delivery.timeout.ms", "5000"},
                                                     {"retries", "3"},
                                                     {"retry.backoff.ms", "7"},
                                                     {"retry.backoff.max.ms", "70"},
                                                     {"max.in.flight.requests.per.connection", "1"},
                                                     {"max.request.size", "2000000"},
                                                     {"compression.type", "none"},
                                                     {"partitioner.ignore.keys", "true"}});
    CHECK(c.bootstrap_servers == "127.0.0.1:9092");
    CHECK(c.client_id == "me");
    CHECK(c.acks == 1);
    CHECK(c.enable_idempotence == false);
    CHECK(c.linger_ms == 100);
    CHECK(c.batch_size == 1000000);
    CHECK(c.buffer_memory == 1048576);
    CHECK(c.max_block_ms == 10);
    CHECK(c.request_timeout_ms == 2000);
    CHECK(c.delivery_timeout_ms == 5000);
    CHECK(c.retries == 3);
    CHECK(c.retry_backoff_ms == 7);
    CHECK(c.retry_backoff_max_ms == 70);
    CHECK(c.max_in_flight_requests_per_connection == 1);
    CHECK(c.max_request_size == 2000000);
    CHECK(c.partitioner_ignore_keys);
    CHECK_NOTHROW(c.validate(c.acks));
    CHECK(producer_config::from_properties({{"acks", "all"}}).acks == -1);
    CHECK(producer_config::from_properties({{"acks", "-1"}}).acks == -1);
    CHECK(producer_config::from_properties({{"acks", "0"}}).acks == 0);
}

TEST_CASE("from_properties rejects unknown keys and bad values by name", "[config]") {
    CHECK_THAT(error_of([] { producer_config::from_properties({{"lingr.ms", "5"}}); }), Catch::Contains("lingr.ms"));
    CHECK_THAT(error_of([] {
                   producer_config::from_properties({{"linger.ms", "soon"}});
               }),
               Catch::Contains("linger.ms"));
    CHECK_THAT(error_of([] { producer_config::from_properties({{"linger.ms", "-1"}}); }), Catch::Contains("linger.ms"));
    CHECK_THAT(error_of([] { producer_config::from_properties({{"acks", "2"}}); }), Catch::Contains("acks"));
    CHECK_THAT(error_of([] {
                   producer_config::from_properties({{"enable.idempotence", "yes"}});
               }),
               Catch::Contains("enable.idempotence"));
    CHECK_THAT(error_of([] {
                   producer_config::from_properties({{"batch.size", "99999999999"}});
               }),
               Catch::Contains("batch.size"));
    CHECK_THAT(error_of([] {
                   producer_config::from_properties({{"compression.type", "brotli"}});
               }),
               Catch::Contains("compression.type"));
    CHECK_THAT(error_of([] {
                   producer_config::from_properties({{"key.serializer", "x"}});
               }),
               Catch::Contains("key.serializer"));
}

TEST_CASE("delivery.timeout.ms below linger.ms + request.timeout.ms is rejected naming the keys", "[config]") {
    producer_config c;
    c.linger_ms = 100;
    c.request_timeout_ms = 1000;
    c.delivery_timeout_ms = 1099;
    const auto msg = error_of([&] { c.validate(-1); });
    CHECK_THAT(msg, Catch::Contains("delivery.timeout.ms") && Catch::Contains("linger.ms") &&
                        Catch::Contains("request.timeout.ms") && Catch::Contains("1099"));
    c.delivery_timeout_ms = 1100;
    CHECK_NOTHROW(c.validate(-1));
}

TEST_CASE("explicit idempotence conflicts are rejected naming the keys", "[config]") {
    producer_config c;
    c.enable_idempotence = true;
    CHECK_THAT(error_of([&] { c.validate(1); }), Catch::Contains("enable.idempotence") && Catch::Contains("acks"));
    c.max_in_flight_requests_per_connection = 6;
    CHECK_THAT(error_of([&] { c.validate(-1); }), Catch::Contains("max.in.flight.requests.per.connection"));
    c.max_in_flight_requests_per_connection = 5;
    c.retries = 0;
    CHECK_THAT(error_of([&] { c.validate(-1); }), Catch::Contains("retries"));
}

TEST_CASE("unset enable.idempotence turns off quietly when acks, retries or in-flight conflict", "[config]") {
    producer_config c;
    CHECK(c.idempotence(-1));
    CHECK(!c.idempotence(1));
    CHECK(!c.idempotence(0));
    CHECK_NOTHROW(c.validate(1));
    c.max_in_flight_requests_per_connection = 10;
    CHECK(!c.idempotence(-1));
    c.max_in_flight_requests_per_connection = 5;
    c.retries = 0;
    CHECK(!c.idempotence(-1));
    c.enable_idempotence = false;
    c.retries = 1;
    CHECK(!c.idempotence(-1));
}

TEST_CASE("transactional.id implies idempotence and refuses what conflicts; a codec this build lacks is refused",
          "[config]") {
    auto c = producer_config::from_properties({{"transactional.id", "tx"}, {"transaction.timeout.ms", "30000"}});
    CHECK(c.transaction_timeout_ms == 30000);
    CHECK(error_of([&] { c.validate(-1); }).empty());
    CHECK(c.idempotence(-1));
    CHECK_THAT(error_of([&] { c.validate(1); }), Catch::Contains("acks=all"));
    c.enable_idempotence = false;
    CHECK_THAT(error_of([&] { c.validate(-1); }), Catch::Contains("transactional.id"));
    c.enable_idempotence.reset();
    c.max_in_flight_requests_per_connection = 6;
    CHECK_THAT(error_of([&] { c.validate(-1); }), Catch::Contains("max.in.flight"));
    CHECK_THROWS_WITH(producer_config::from_properties({{"transaction.timeout.ms", "0"}}),
                      Catch::Contains("transaction.timeout.ms"));
    for (const char* name : {"gzip", "snappy", "lz4", "zstd"}) {
        auto z = producer_config::from_properties({{"compression.type", name}});
        if (compression::available(*compression::parse(name)))
            CHECK(error_of([&] { z.validate(-1); }).empty());
        else
            CHECK_THAT(error_of([&] { z.validate(-1); }), Catch::Contains("not available in this build"));
    }
    CHECK_THROWS_WITH(producer_config::from_properties({{"compression.type", "brotli"}}),
                      Catch::Contains("compression.type"));
    CHECK_THAT(error_of([&] {
                   // Levels are checked whatever the codec, and whether or not it is built.
                   producer_config::from_properties({{"compression.lz4.level", "18"}}).validate(-1);
               }),
               Catch::Contains("compression.lz4.level"));
}

TEST_CASE("batching policies say when a batch is ready", "[batching]") {
    const time_point t0{std::chrono::seconds{10}};
    batching::linger_or_size l(1000, std::chrono::milliseconds{5});
    CHECK(l.batch_size() == 1000);
    CHECK(l.ready_at({t0, 100, 1, false}) == t0 + std::chrono::milliseconds{5});
    CHECK(l.ready_at({t0, 990, 9, true}) == time_point::min());
    producer_config c;
    c.batch_size = 64;
    batching::size_only s(c);
    CHECK(s.batch_size() == 64);
    CHECK(s.ready_at({t0, 10, 1, false}) == time_point::max());
    CHECK(s.ready_at({t0, 60, 3, true}) == time_point::min());
    batching::manual m(c);
    CHECK(m.ready_at({t0, 60, 3, true}) == time_point::max());
    CHECK(m.ready_at({t0, 6, 1, false}) == time_point::max());
}
