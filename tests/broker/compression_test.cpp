// Compressed batches at the broker (docs/compression.md): what each codec stores and serves, the
// topic-level compression.type that re-compresses, the validation policies, Kafka's version rules
// for zstd, and hostile batches (lying payloads, truncated frames, bombs, bad codec ids) answered
// with an error while nothing is stored and the server keeps serving.
#include "broker_test_util.hpp"

#include <gregor/broker/kafka_server.hpp>
#include <gregor/compression/codec.hpp>
#include <gregor/consumer/consumer.hpp>
#include <gregor/consumer/in_process.hpp>
#include <gregor/net/client.hpp>
#include <gregor/producer/producer.hpp>
#include <gregor/producer/transports.hpp>
#include <gregor/wire/header.hpp>
#include <gregor/wire/messages/api_versions.hpp>
#include <gregor/wire/messages/fetch.hpp>
#include <gregor/wire/messages/produce.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <limits>
#include <string>
#include <vector>

using namespace gregor;
using namespace std::chrono_literals;

namespace {

using default_broker = broker<>;
using codec = compression::codec;

struct header_only_policies : default_broker_policies {
    using compressed_batches = gregor::compressed_batches::header_only;
};

/// Text that compresses like real payloads do (not one repeated byte).
std::string text_value(int i) {
    static const char* words[] = {"order", "shipped", "customer", "warehouse", "invoice", "berlin",
                                  "seoul", "paid",    "pending",  "express",   "parcel",  "refund"};
    std::string out = "{\"id\":" + std::to_string(i) + ",\"events\":[";
    for (int k = 0; k < 6; ++k) out += std::string("\"") + words[(i * 7 + k * 5) % 12] + "\",";
    out += "\"n" + std::to_string(i * 31 % 1000) + "\"]}";
    return out;
}

/// A batch of `n` text records with keys, a header each and increasing timestamps, in `c`.
byte_buffer text_batch(codec c, int n, std::int64_t ts0 = system_clock{}.wall_ms(), int first = 0) {
    wire::batch_builder b(4096);
    std::vector<std::string> keep;
    for (int i = first; i < first + n; ++i) {
        keep.push_back("key-" + std::to_string(i % 7));
        keep.push_back(text_value(i));
        keep.push_back("h-" + std::to_string(i));
        const wire::record_header h{"trace", as_bytes(keep.back())};
        b.append(ts0 + i, as_bytes(keep[keep.size() - 3]), as_bytes(keep[keep.size() - 2]), std::span{&h, 1});
    }
    auto out = b.seal();
    REQUIRE(!compression::compress_batch(out, c, compression::default_level(c)));
    return out;
}

const std::vector<codec>& all_codecs() {
    static const std::vector<codec> v{codec::gzip, codec::snappy, codec::lz4, codec::zstd};
    return v;
}

/// Every record of partition 0 read back through the consumer (which decompresses): value,
/// key, header and timestamp, plus the codec of every batch delivered.
template <typename Broker>
struct read_back {
    std::vector<std::string> values, keys, headers;
    std::vector<std::int64_t> timestamps;
    std::vector<codec> codecs;
    read_back(Broker& b, const std::string& topic, std::size_t want) {
        consumer_config cfg;
        cfg.auto_offset_reset = offset_reset::earliest;
        cfg.fetch_max_wait_ms = 50;
        consumer c{cfg, fetch_transport::in_process{b}};
        c.assign({{topic, partition_id{0}}});
        for (int i = 0; i < 200 && values.size() < want; ++i) {
            auto r = c.poll(100ms);
            for (const auto& e : r.errors()) FAIL("poll error: " << e.error.message());
            for (const auto& cb : r.batches()) codecs.push_back(cb.batch.header().compression());
            r.for_each_record([&](const consumed_batch&, const wire::record_view& rec) {
                values.emplace_back(as_string_view(*rec.value));
                keys.emplace_back(as_string_view(*rec.key));
                auto hc = rec.headers();
                const auto h = hc.next();
                headers.emplace_back(h && h->value ? std::string(as_string_view(*h->value)) : std::string("?"));
                timestamps.push_back(rec.timestamp);
            });
        }
    }
};

} // namespace

TEST_CASE("every codec: stored as the producer compressed it, read back whole, maxTimestamp from the records",
          "[compression]") {
    for (const auto c : all_codecs()) {
        if (!compression::available(c)) continue;
        CAPTURE(compression::name(c));
        default_broker b;
        REQUIRE(b.create_topic("t", 1) == error_code::none);
        const std::int64_t ts0 = system_clock{}.wall_ms();
        auto batch = text_batch(c, 50, ts0);
        // A client that leaves maxTimestamp unset: the broker takes it from the records.
        store_be<std::int64_t>(batch.data() + wire::batch_layout::max_timestamp, -1);
        wire::reseal_crc(batch.mutable_view());
        const auto stored_size = batch.size();
        const auto r = b.produce("t", partition_id{0}, std::move(batch), 1);
        REQUIRE(r.error == error_code::none);
        const read_back<default_broker> got(b, "t", 50);
        REQUIRE(got.values.size() == 50);
        for (int i = 0; i < 50; ++i) {
            CHECK(got.values[static_cast<std::size_t>(i)] == text_value(i));
            CHECK(got.keys[static_cast<std::size_t>(i)] == "key-" + std::to_string(i % 7));
            CHECK(got.headers[static_cast<std::size_t>(i)] == "h-" + std::to_string(i));
            CHECK(got.timestamps[static_cast<std::size_t>(i)] == ts0 + i);
        }
        for (const auto bc : got.codecs) CHECK(bc == c);
        // Stored byte for byte as sent (the compressed bytes are not re-encoded).
        const auto rr = b.fetch_copy("t", partition_id{0}, offset{0}, 1 << 20);
        REQUIRE(rr.error == error_code::none);
        REQUIRE(rr.records.size() == stored_size);
        const auto h = wire::batch_header::parse(rr.records.view());
        REQUIRE(h);
        CHECK(h->max_timestamp == ts0 + 49);
        CHECK(h->compression() == c);
        // ListOffsets by timestamp finds the exact record inside the compressed batch.
        const auto lo = b.list_offset("t", partition_id{0}, ts0 + 17);
        CHECK(lo.error == error_code::none);
        CHECK(lo.found == offset{17});
        CHECK(lo.timestamp == ts0 + 17);
    }
}

TEST_CASE("topic compression.type re-compresses into its codec and keeps every record", "[compression]") {
    for (const auto target : {compression_type::uncompressed, compression_type::gzip, compression_type::zstd,
                              compression_type::lz4, compression_type::snappy}) {
        const auto to = *target_codec(target);
        if (!compression::available(to)) continue;
        for (const auto from : {codec::none, codec::lz4, codec::gzip}) {
            if (!compression::available(from) || from == to) continue;
            CAPTURE(compression::name(to), compression::name(from));
            default_broker b;
            create_topic_request req;
            req.partitions = 1;
            req.configs["compression.type"] = std::string(to == codec::none ? "uncompressed" : compression::name(to));
            REQUIRE(b.create_topic("t", req));
            auto batch = from == codec::none ? test::make_batch("plain", 20) : text_batch(from, 20);
            REQUIRE(b.produce("t", partition_id{0}, std::move(batch), 1).error == error_code::none);
            const read_back<default_broker> got(b, "t", 20);
            REQUIRE(got.values.size() == 20);
            for (const auto bc : got.codecs) CHECK(bc == to);
            if (from != codec::none) CHECK(got.values[3] == text_value(3));
        }
    }
}

TEST_CASE("a codec id above zstd, a lying payload and a truncated stream store nothing", "[compression]") {
    default_broker b;
    REQUIRE(b.create_topic("t", 1) == error_code::none);
    for (const auto c : all_codecs()) {
        if (!compression::available(c)) continue;
        CAPTURE(compression::name(c));
        // The compressed stream cut short, with a correct CRC over what is left.
        auto cut = text_batch(c, 30);
        cut.resize(cut.size() - 9);
        store_be<std::int32_t>(cut.data() + wire::batch_layout::batch_length,
                               static_cast<std::int32_t>(cut.size() - wire::batch_layout::log_overhead));
        wire::reseal_crc(cut.mutable_view());
        CHECK(b.produce("t", partition_id{0}, std::move(cut), 1).error == error_code::corrupt_message);
        // Garbage under the codec's bits, CRC correct.
        auto garbage = test::make_batch("g", 5);
        auto attrs = load_be<std::int16_t>(garbage.data() + wire::batch_layout::attributes);
        store_be<std::int16_t>(garbage.data() + wire::batch_layout::attributes,
                               static_cast<std::int16_t>(attrs | static_cast<std::int16_t>(c)));
        wire::reseal_crc(garbage.mutable_view());
        CHECK(b.produce("t", partition_id{0}, std::move(garbage), 1).error == error_code::corrupt_message);
        // Decompresses fine, but to fewer records than the header claims.
        auto liar = text_batch(c, 10);
        store_be<std::int32_t>(liar.data() + wire::batch_layout::records_count, 11);
        store_be<std::int32_t>(liar.data() + wire::batch_layout::last_offset_delta, 10);
        wire::reseal_crc(liar.mutable_view());
        CHECK(b.produce("t", partition_id{0}, std::move(liar), 1).error == error_code::invalid_record);
    }
    for (const std::int16_t id : {5, 6, 7}) {
        auto bad = test::make_batch("id", 3);
        store_be<std::int16_t>(bad.data() + wire::batch_layout::attributes, id);
        wire::reseal_crc(bad.mutable_view());
        CHECK(b.produce("t", partition_id{0}, std::move(bad), 1).error == error_code::corrupt_message);
    }
    CHECK(b.find_partition("t", partition_id{0})->offsets().log_end_offset == offset{0});
    // And the partition still takes good batches.
    CHECK(b.produce("t", partition_id{0}, test::make_batch("ok", 2), 1).error == error_code::none);
}

TEST_CASE("a decompression bomb is refused without inflating it", "[compression]") {
    const auto c = compression::available(codec::zstd) ? codec::zstd : codec::gzip;
    if (!compression::available(c)) return;
    broker_config cfg;
    cfg.message_max_bytes = 1 << 20; // decompressed bound: 64 MiB
    default_broker b{cfg};
    REQUIRE(b.create_topic("t", 1) == error_code::none);
    // 80 MiB of one record's worth of zeros... as records: a batch header claiming one record,
    // whose "records" are 80 MiB of zeros, compressed to a few kilobytes.
    auto bomb = test::make_batch("b", 1);
    bomb.resize(wire::batch_layout::header_size);
    std::vector<std::byte> zeros(80u << 20);
    byte_buffer packed;
    REQUIRE(!compression::compress(c, zeros, packed, compression::default_level(c)));
    REQUIRE(packed.size() < (1u << 20));
    bomb.append(packed.view());
    store_be<std::int16_t>(bomb.data() + wire::batch_layout::attributes, static_cast<std::int16_t>(c));
    store_be<std::int32_t>(bomb.data() + wire::batch_layout::batch_length,
                           static_cast<std::int32_t>(bomb.size() - wire::batch_layout::log_overhead));
    wire::reseal_crc(bomb.mutable_view());
    CHECK(b.produce("t", partition_id{0}, std::move(bomb), 1).error == error_code::corrupt_message);
    CHECK(b.find_partition("t", partition_id{0})->offsets().log_end_offset == offset{0});
}

TEST_CASE("header_only policy stores the producer's compressed bytes without decompressing", "[compression]") {
    const auto c = codec::lz4;
    if (!compression::available(c)) return;
    broker<header_only_policies> b;
    REQUIRE(b.create_topic("t", 1) == error_code::none);
    auto batch = text_batch(c, 10);
    REQUIRE(b.produce("t", partition_id{0}, std::move(batch), 1).error == error_code::none);
    // Garbage under a correct CRC is stored: that is the policy's documented cost.
    auto garbage = test::make_batch("g", 5);
    store_be<std::int16_t>(garbage.data() + wire::batch_layout::attributes, static_cast<std::int16_t>(c));
    wire::reseal_crc(garbage.mutable_view());
    CHECK(b.produce("t", partition_id{0}, std::move(garbage), 1).error == error_code::none);
    // ...but never a header claiming more records than the bytes could hold (2^31-1 here).
    auto huge = text_batch(c, 3);
    store_be<std::int32_t>(huge.data() + wire::batch_layout::records_count, std::numeric_limits<std::int32_t>::max());
    store_be<std::int32_t>(huge.data() + wire::batch_layout::last_offset_delta,
                           std::numeric_limits<std::int32_t>::max() - 1);
    wire::reseal_crc(huge.mutable_view());
    CHECK(b.produce("t", partition_id{0}, std::move(huge), 1).error == error_code::corrupt_message);
    CHECK(b.find_partition("t", partition_id{0})->offsets().log_end_offset == offset{15});
    // ...and never a codec it lacks or an invalid id.
    auto bad = test::make_batch("id", 3);
    store_be<std::int16_t>(bad.data() + wire::batch_layout::attributes, 6);
    wire::reseal_crc(bad.mutable_view());
    CHECK(b.produce("t", partition_id{0}, std::move(bad), 1).error == error_code::corrupt_message);
}

namespace {

/// One request over a fresh connection, answered and decoded at `version`.
template <typename Req>
typename Req::response_type exchange(std::uint16_t port, std::int16_t version, const Req& req) {
    net::blocking_client c("127.0.0.1", port);
    byte_buffer frame;
    wire::encode_request_frame(frame, version, 3, "compression-test", req);
    REQUIRE(c.send_raw(frame.view()) == net::blocking_client::status::ok);
    auto f = c.read_frame(10s);
    REQUIRE(f);
    byte_reader r(f->view());
    REQUIRE(wire::response_header::decode(r, wire::response_header_version(Req::api::key, version)));
    auto resp = Req::response_type::decode(r, version);
    REQUIRE(resp);
    return std::move(*resp);
}

wire::produce::partition_response produce_over_tcp(std::uint16_t port, std::int16_t version, bytes_view batch) {
    wire::produce::request req;
    req.acks = 1;
    req.timeout_ms = 5000;
    wire::produce::partition_data pd;
    pd.partition_index = partition_id{0};
    pd.records = batch;
    req.topics.push_back({"t", {pd}});
    return exchange(port, version, req).responses.at(0).partitions.at(0);
}

error_code fetch_error_over_tcp(std::uint16_t port, std::int16_t version) {
    wire::fetch::request req;
    req.max_wait_ms = 0;
    req.max_bytes = 1 << 20;
    wire::fetch::fetch_topic ft;
    ft.name = "t";
    wire::fetch::fetch_partition fp;
    fp.partition_index = partition_id{0};
    fp.partition_max_bytes = 1 << 20;
    ft.partitions.push_back(fp);
    req.topics.push_back(ft);
    return exchange(port, version, req).responses.at(0).partitions.at(0).error_code;
}

} // namespace

TEST_CASE("zstd needs Produce v7 and, from a zstd topic, Fetch v10 (KIP-110)", "[compression]") {
    if (!compression::available(codec::zstd)) return;
    default_broker b;
    create_topic_request req;
    req.partitions = 1;
    REQUIRE(b.create_topic("t", req));
    kafka_server_config sc;
    sc.net.host = "127.0.0.1";
    sc.net.port = 0;
    kafka_server<default_broker> srv{b, sc};
    const auto z = text_batch(codec::zstd, 5);
    CHECK(produce_over_tcp(srv.port(), 3, z.view()).error_code == error_code::unsupported_compression_type);
    CHECK(produce_over_tcp(srv.port(), 6, z.view()).error_code == error_code::unsupported_compression_type);
    CHECK(b.find_partition("t", partition_id{0})->offsets().log_end_offset == offset{0});
    const auto ok = produce_over_tcp(srv.port(), 7, z.view());
    CHECK(ok.error_code == error_code::none);
    CHECK(ok.base_offset == offset{0});
    // A producer-chosen zstd batch in a `producer` topic is served to old fetchers, as Kafka does.
    CHECK(fetch_error_over_tcp(srv.port(), 4) == error_code::none);
    // A topic that forces zstd is not.
    REQUIRE(b.set_topic_configs("t", {{"compression.type", "zstd"}}));
    CHECK(fetch_error_over_tcp(srv.port(), 4) == error_code::unsupported_compression_type);
    CHECK(fetch_error_over_tcp(srv.port(), 9) == error_code::unsupported_compression_type);
    CHECK(fetch_error_over_tcp(srv.port(), 10) == error_code::none);
}

TEST_CASE("a compression.type naming a codec is refused unless it is compiled in", "[compression]") {
    default_broker b;
    for (const auto c : all_codecs()) {
        create_topic_request req;
        req.partitions = 1;
        req.configs["compression.type"] = std::string(compression::name(c));
        const auto r = b.create_topic("topic-" + std::string(compression::name(c)), req);
        CHECK(static_cast<bool>(r) == compression::available(c));
        if (!compression::available(c)) CHECK(r.error == error_code::invalid_config);
    }
    create_topic_request bad;
    bad.partitions = 1;
    bad.configs["compression.type"] = "brotli";
    CHECK(b.create_topic("brotli", bad).error == error_code::invalid_config);
}

TEST_CASE("an embedded producer compresses each codec once per batch and the consumer reads it back", "[compression]") {
    for (const auto c : all_codecs()) {
        if (!compression::available(c)) continue;
        CAPTURE(compression::name(c));
        default_broker b;
        REQUIRE(b.create_topic("t", 1) == error_code::none);
        producer_config cfg;
        cfg.compression_type = std::string(compression::name(c));
        cfg.linger_ms = 5;
        using embedded = producer<producer_policies<transport::in_process<default_broker>>>;
        embedded prod{cfg, transport::in_process<default_broker>{b}};
        const std::int64_t ts0 = 1'700'000'000'000;
        for (int i = 0; i < 500; ++i) {
            const auto key = "key-" + std::to_string(i % 7);
            const auto value = text_value(i);
            const auto hv = "h-" + std::to_string(i);
            const record_header h{"trace", as_bytes(hv)};
            REQUIRE(!prod.send({.topic = "t",
                                .partition = partition_id{0},
                                .key = key,
                                .value = value,
                                .headers = std::span{&h, 1},
                                .timestamp = ts0 + i}));
        }
        REQUIRE(!prod.flush());
        const auto m = prod.metrics();
        CHECK(m.compression_input_bytes > 0);
        CHECK(m.compression_ratio() < 0.8);
        const read_back<default_broker> got(b, "t", 500);
        REQUIRE(got.values.size() == 500);
        for (int i = 0; i < 500; ++i) {
            CHECK(got.values[static_cast<std::size_t>(i)] == text_value(i));
            CHECK(got.headers[static_cast<std::size_t>(i)] == "h-" + std::to_string(i));
            CHECK(got.timestamps[static_cast<std::size_t>(i)] == ts0 + i);
        }
        for (const auto bc : got.codecs) CHECK(bc == c);
    }
    producer_config bad;
    bad.compression_type = "brotli";
    CHECK_THROWS_WITH(bad.validate(1), Catch::Contains("compression.type"));
    bad.compression_type = "none"; // levels are checked whatever the codec (and whether it is built)
    bad.compression_gzip_level = 12;
    CHECK_THROWS_WITH(bad.validate(1), Catch::Contains("compression.gzip.level"));
}
