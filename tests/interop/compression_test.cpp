// Compressed batches across real clients (docs/compression.md): librdkafka and kcat -z write
// every codec into a gregor-broker process and gregor's consumer and kcat read every byte back
// (keys, values, headers, timestamps); gregor's producer compresses for gregor-broker (read by
// librdkafka and kcat) and for librdkafka's mock cluster (read back by gregor's consumer).
#include "../rdkafka_mock.hpp"
#include "broker_process.hpp"
#include "rdkafka_helpers.hpp"

#include <gregor/compression/codec.hpp>
#include <gregor/consumer/consumer.hpp>
#include <gregor/consumer/tcp_transport.hpp>
#include <gregor/producer/producer.hpp>
#include <gregor/producer/tcp_transport.hpp>

#include <catch2/catch.hpp>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <chrono>
#include <cstdio>
#include <future>
#include <set>
#include <string>
#include <vector>

using namespace gregor;
using namespace std::chrono_literals;
using test::broker_exe;
using test::broker_process;

namespace {

using codec = compression::codec;

struct rec {
    std::string key, value, header;
    std::int64_t ts = -1;
    friend bool operator==(const rec&, const rec&) = default;
};

std::string text_value(const std::string& tag, int i) {
    static const char* words[] = {"order",  "shipped", "customer", "warehouse", "invoice", "busan",
                                  "lisbon", "paid",    "pending",  "express",   "parcel",  "refund"};
    std::string out = tag + " {\"id\":" + std::to_string(i) + ",\"events\":[";
    for (int k = 0; k < 8; ++k) out += std::string("\"") + words[(i * 7 + k * 5) % 12] + "\",";
    out += "\"n" + std::to_string(i * 31 % 1000) + "\"]}";
    return out;
}

std::vector<rec> sample(const std::string& tag, int n) {
    std::vector<rec> out;
    for (int i = 0; i < n; ++i)
        out.push_back(
            {"key-" + std::to_string(i % 13), text_value(tag, i), "trace-" + std::to_string(i), 1'700'000'000'000 + i});
    return out;
}

const char* rd_name(codec c) {
    switch (c) {
    case codec::gzip: return "gzip";
    case codec::snappy: return "snappy";
    case codec::lz4: return "lz4";
    case codec::zstd: return "zstd";
    default: return "none";
    }
}

const std::vector<codec>& codecs() {
    static const std::vector<codec> v{codec::gzip, codec::snappy, codec::lz4, codec::zstd};
    return v;
}

/// librdkafka producing `recs` to partition 0 of `topic` with compression.codec `c`.
void produce_rdkafka(const std::string& bootstrap, const std::string& topic, codec c, const std::vector<rec>& recs) {
    test::delivery_stats stats;
    auto* conf = test::make_conf({{"bootstrap.servers", bootstrap},
                                  {"compression.codec", rd_name(c)},
                                  {"linger.ms", "20"},
                                  {"message.timeout.ms", "30000"}});
    rd_kafka_conf_set_dr_msg_cb(conf, test::on_delivery);
    rd_kafka_conf_set_opaque(conf, &stats);
    char err[512];
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    REQUIRE(rk != nullptr);
    for (const auto& r : recs) {
        REQUIRE(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(0),
                                  RD_KAFKA_V_KEY(r.key.data(), r.key.size()),
                                  RD_KAFKA_V_VALUE(const_cast<char*>(r.value.data()), r.value.size()),
                                  RD_KAFKA_V_HEADER("trace", r.header.data(), static_cast<ssize_t>(r.header.size())),
                                  RD_KAFKA_V_TIMESTAMP(r.ts), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                  RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    REQUIRE(rd_kafka_flush(rk, 30000) == RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(rk);
    CHECK(stats.failed == 0);
    CHECK(stats.ok == static_cast<int>(recs.size()));
}

struct gregor_read {
    std::vector<rec> recs;
    std::set<codec> codecs;
};

/// gregor's TCP consumer reading partition 0 of `topic` from the beginning until `want` records.
gregor_read consume_gregor(const std::string& bootstrap, const std::string& topic, std::size_t want) {
    consumer_config cfg;
    cfg.bootstrap_servers = bootstrap;
    cfg.auto_offset_reset = offset_reset::earliest;
    cfg.fetch_max_wait_ms = 50;
    consumer c{cfg, fetch_transport::tcp{cfg}};
    c.assign({{topic, partition_id{0}}});
    gregor_read out;
    const auto until = std::chrono::steady_clock::now() + 30s;
    for (int i = 0; i < 1000 && out.recs.size() < want && std::chrono::steady_clock::now() < until; ++i) {
        auto r = c.poll(200ms);
        for (const auto& e : r.errors()) FAIL("poll error: " << e.error.message());
        for (const auto& b : r.batches()) out.codecs.insert(b.batch.header().compression());
        r.for_each_record([&](const consumed_batch&, const wire::record_view& rv) {
            rec x;
            if (rv.key) x.key = std::string(as_string_view(*rv.key));
            if (rv.value) x.value = std::string(as_string_view(*rv.value));
            auto hc = rv.headers();
            if (const auto h = hc.next(); h && h->value) x.header = std::string(as_string_view(*h->value));
            x.ts = rv.timestamp;
            out.recs.push_back(std::move(x));
        });
    }
    return out;
}

std::vector<std::string> values_of(const std::vector<rec>& recs) {
    std::vector<std::string> out;
    for (const auto& r : recs) out.push_back(r.value);
    return out;
}

/// kcat reading partition 0 from the beginning: one value per line.
std::vector<std::string> consume_kcat(const std::string& bootstrap, const std::string& topic) {
    const auto [rc, out] = test::run("kcat -b " + bootstrap + " -C -t " + topic + " -p 0 -o beginning -e -q 2>&1");
    INFO(out);
    CHECK(rc == 0);
    std::vector<std::string> lines;
    std::size_t at = 0;
    while (at < out.size()) {
        const auto nl = out.find('\n', at);
        if (nl == std::string::npos) break;
        lines.push_back(out.substr(at, nl - at));
        at = nl + 1;
    }
    return lines;
}

using tcp_producer = producer<producer_policies<transport::tcp>>;

/// gregor's TCP producer sending `recs` to partition 0 of `topic` with compression.type `c`;
/// returns the producer's compression ratio.
double produce_gregor(const std::string& bootstrap, const std::string& topic, codec c, const std::vector<rec>& recs) {
    producer_config cfg;
    cfg.bootstrap_servers = bootstrap;
    cfg.compression_type = std::string(compression::name(c));
    cfg.linger_ms = 10;
    cfg.request_timeout_ms = 30000;
    tcp_producer p{cfg, transport::tcp{cfg}};
    std::vector<std::future<delivery_report>> acks;
    for (const auto& r : recs) {
        const record_header h{"trace", as_bytes(r.header)};
        acks.push_back(p.send({.topic = topic,
                               .partition = partition_id{0},
                               .key = r.key,
                               .value = r.value,
                               .headers = std::span{&h, 1},
                               .timestamp = r.ts},
                              use_future));
    }
    REQUIRE(!p.flush());
    for (auto& f : acks) {
        const auto d = f.get();
        CHECK(!d.error);
        CHECK(d.metadata.offset.value() >= 0);
    }
    return p.metrics().compression_ratio();
}

} // namespace

TEST_CASE("librdkafka and kcat -z write every codec; gregor's consumer and kcat read every byte back",
          "[compression]") {
    test::temp_dir dir;
    broker_process b(broker_exe(), {"--data-dir", dir.path.string()});
    for (const auto c : codecs()) {
        if (!compression::available(c)) continue;
        const std::string name(compression::name(c));
        CAPTURE(name);
        const auto recs = sample("rd-" + name, 2000);
        produce_rdkafka(b.bootstrap(), "rd-" + name, c, recs);
        const auto got = consume_gregor(b.bootstrap(), "rd-" + name, recs.size());
        REQUIRE(got.recs.size() == recs.size());
        CHECK(got.recs == recs);
        // librdkafka sends a batch uncompressed when the codec would not shrink it (a small
        // last batch, often with snappy): every batch is `c` or none, and at least one is `c`.
        CHECK(got.codecs.count(c) == 1);
        for (const auto x : got.codecs) CHECK((x == c || x == codec::none));
        CHECK(consume_kcat(b.bootstrap(), "rd-" + name) == values_of(recs));

        // kcat -z: lines in, the same lines out through gregor's consumer.
        std::string lines;
        std::vector<std::string> want;
        for (int i = 0; i < 500; ++i) {
            want.push_back(text_value("kcat-" + name, i));
            lines += want.back() + "\n";
        }
        const auto file = dir.path / ("in-" + name + ".txt");
        {
            FILE* f = std::fopen(file.c_str(), "w");
            std::fwrite(lines.data(), 1, lines.size(), f);
            std::fclose(f);
        }
        const auto [prc, pout] = test::run("kcat -b " + b.bootstrap() + " -P -z " + name + " -t kcat-" + name +
                                           " -p 0 < " + file.string() + " 2>&1");
        INFO(pout);
        REQUIRE(prc == 0);
        const auto kgot = consume_gregor(b.bootstrap(), "kcat-" + name, want.size());
        CHECK(values_of(kgot.recs) == want);
        // librdkafka sends a batch uncompressed when compressing would not shrink it (a lone
        // first line, say): every batch is in the codec or plain, and most in the codec.
        CHECK(kgot.codecs.count(c) == 1);
        for (const auto x : kgot.codecs) CHECK((x == c || x == codec::none));
    }
    CHECK(b.stop() == 0);
}

TEST_CASE("gregor's producer compresses every codec for gregor-broker: librdkafka, kcat and gregor read it",
          "[compression]") {
    test::temp_dir dir;
    broker_process b(broker_exe(), {"--data-dir", dir.path.string()});
    for (const auto c : codecs()) {
        if (!compression::available(c)) continue;
        const std::string name(compression::name(c));
        CAPTURE(name);
        const std::string topic = "gp-" + name;
        const auto recs = sample(topic, 3000);
        const double ratio = produce_gregor(b.bootstrap(), topic, c, recs);
        CHECK(ratio < 0.8); // JSON-ish text compresses
        const auto got = consume_gregor(b.bootstrap(), topic, recs.size());
        REQUIRE(got.recs.size() == recs.size());
        CHECK(got.recs == recs);
        CHECK(got.codecs == std::set<codec>{c});
        CHECK(consume_kcat(b.bootstrap(), topic) == values_of(recs));
        const auto rd = test::consume_all(b.bootstrap(), topic, 1, recs.size(), 30s);
        REQUIRE(rd.total == recs.size());
        const auto& part = rd.by_partition.at(0);
        for (std::size_t i = 0; i < recs.size(); ++i) {
            CHECK(part[i].first == static_cast<std::int64_t>(i));
            CHECK(part[i].second == recs[i].value);
        }
    }
    CHECK(b.stop() == 0);
}

TEST_CASE("gregor's producer compresses into librdkafka's mock cluster and reads it back", "[compression]") {
    test::rdkafka_mock_cluster mock(1);
    for (const auto c : codecs()) {
        if (!compression::available(c)) continue;
        const std::string name(compression::name(c));
        CAPTURE(name);
        const std::string topic = "mock-" + name;
        REQUIRE(rd_kafka_mock_topic_create(mock.mc, topic.c_str(), 1, 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
        const auto recs = sample(topic, 1000);
        (void)produce_gregor(mock.bootstraps(), topic, c, recs);
        const auto got = consume_gregor(mock.bootstraps(), topic, recs.size());
        REQUIRE(got.recs.size() == recs.size());
        CHECK(got.recs == recs);
        CHECK(got.codecs == std::set<codec>{c});
    }
}
