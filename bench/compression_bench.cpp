// Producer throughput and bytes on the wire per codec (issue: gregor >= 1.5x librdkafka's
// records/s for every codec): the gregor producer over TCP and librdkafka's producer, both against
// the same gregor broker (file storage, kafka_server on 127.0.0.1, compression.type=producer so
// the stored bytes are what each producer sent), one run. Records are realistic text (JSON-ish
// events with varying ids and words, never one repeated byte), 100 B and 1 KiB; acks=1,
// linger.ms=5, each library's defaults otherwise (batch.size 16 KiB for gregor as Java's, 1 MB
// for librdkafka) but the lz4 level (below). Bytes on the wire = the batch bytes the broker stored for the run's topic.
// Also the broker's append cost per codec with the default compressed-batch policy
// (validate_records) and with header_only.
// Usage: compression_bench [records_100B] [records_1KiB]
#include "bench.hpp"

#include <gregor/broker/broker.hpp>
#include <gregor/broker/kafka_server.hpp>
#include <gregor/compression/codec.hpp>
#include <gregor/producer/producer.hpp>
#include <gregor/producer/tcp_transport.hpp>

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <unistd.h>

namespace {

using clk = std::chrono::steady_clock;
using file_broker = gregor::broker<gregor::broker_policies<gregor::storage::file_backend>>;
using codec = gregor::compression::codec;

/// `count` distinct text values of `size` bytes: JSON-like events whose words, ids and amounts
/// vary from record to record, as application payloads do.
std::vector<std::string> payloads(std::size_t size, std::size_t count) {
    static const char* words[] = {"order",   "shipped", "customer", "warehouse", "invoice", "busan",    "lisbon",
                                  "paid",    "pending", "express",  "parcel",    "refund",  "checkout", "cart",
                                  "premium", "mobile",  "desktop",  "campaign",  "session", "currency"};
    std::vector<std::string> out;
    std::uint64_t x = 88172645463325252ull;
    const auto next = [&] {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        return x;
    };
    for (std::size_t i = 0; i < count; ++i) {
        std::string v = "{\"event_id\":" + std::to_string(next() % 100000000) + ",\"user\":\"u" +
                        std::to_string(next() % 50000) + "\",\"amount\":" + std::to_string(next() % 100000) + ".";
        v += std::to_string(next() % 100) + ",\"tags\":[";
        while (v.size() < size) {
            v += std::string("\"") + words[next() % 20] + "\",";
            if (next() % 5 == 0) v += std::to_string(next() % 1000) + ",";
        }
        v.resize(size);
        out.push_back(std::move(v));
    }
    return out;
}

struct run_result {
    double records_per_sec = -1;
    double wire_bytes_per_record = 0;
};

std::size_t stored_bytes(file_broker& b, const std::string& topic) {
    std::size_t total = 0;
    gregor::offset at{0};
    for (int i = 0; i < 1000000; ++i) {
        auto r = b.fetch(topic, gregor::partition_id{0}, at, 64u << 20);
        if (r.error != gregor::error_code::none || r.records.bytes == 0) break;
        total += r.records.bytes;
        // The next batch after what was read: walk the headers of the copy.
        gregor::byte_buffer copy;
        gregor::storage::copy_to(r.records, copy);
        gregor::wire::batch_splitter s(copy.view());
        while (auto bt = s.next()) at = gregor::wire::batch_header::parse(*bt)->next_offset();
    }
    return total;
}

// ---- librdkafka ------------------------------------------------------------------------------

void rd_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* c = static_cast<std::map<bool, long>*>(opaque);
    ++(*c)[m->err == RD_KAFKA_RESP_ERR_NO_ERROR];
}

run_result rdkafka_run(file_broker& b, const std::string& bootstrap, const std::string& topic, codec c,
                       const std::vector<std::string>& values, long n) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    char err[512];
    const std::map<std::string, std::string> props{{"bootstrap.servers", bootstrap},
                                                   {"acks", "1"},
                                                   {"linger.ms", "5"},
                                                   {"compression.codec", std::string(gregor::compression::name(c))},
                                                   {"queue.buffering.max.messages", "1000000"}};
    for (const auto& [k, v] : props) rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err);
    std::map<bool, long> done;
    rd_kafka_conf_set_dr_msg_cb(conf, rd_delivery);
    rd_kafka_conf_set_opaque(conf, &done);
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    // Warm up: metadata, connection and the topic (one 1-byte record, in the byte count).
    rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_VALUE(const_cast<char*>("w"), 1),
                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    rd_kafka_flush(rk, 30000);
    done.clear();
    const auto t0 = clk::now();
    for (long i = 0; i < n; ++i) {
        const auto& v = values[static_cast<std::size_t>(i) % values.size()];
        while (rd_kafka_producev(
                   rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_VALUE(const_cast<char*>(v.data()), v.size()),
                   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(rk, 1);
    }
    rd_kafka_flush(rk, 300000);
    const double s = std::chrono::duration<double>(clk::now() - t0).count();
    rd_kafka_destroy(rk);
    run_result r;
    if (done[false] == 0 && done[true] == n) r.records_per_sec = static_cast<double>(n) / s;
    r.wire_bytes_per_record = static_cast<double>(stored_bytes(b, topic)) / static_cast<double>(n);
    return r;
}

// ---- gregor ----------------------------------------------------------------------------------

run_result gregor_run(file_broker& b, const std::string& bootstrap, const std::string& topic, codec c,
                      const std::vector<std::string>& values, long n) {
    gregor::producer_config cfg;
    cfg.bootstrap_servers = bootstrap;
    cfg.acks = 1;
    cfg.linger_ms = 5;
    cfg.compression_type = std::string(gregor::compression::name(c));
    // The same codec settings as librdkafka's defaults: its lz4 is the fast mode (LZ4F level 0),
    // while Kafka's compression.lz4.level default (9, gregor's default too) is LZ4HC, several times
    // slower; gzip (zlib's 6) and zstd (3) defaults already agree.
    cfg.compression_lz4_level = 1;
    using policies = gregor::producer_policies<gregor::transport::tcp>;
    gregor::producer<policies> p{cfg, gregor::transport::tcp{cfg}};
    (void)p.send({.topic = topic, .value = "w"}, gregor::use_future).get();
    std::atomic<long> ok{0}, failed{0};
    const auto t0 = clk::now();
    for (long i = 0; i < n; ++i) {
        const auto& v = values[static_cast<std::size_t>(i) % values.size()];
        (void)p.send({.topic = topic, .partition = gregor::partition_id{0}, .value = v},
                     [&](std::error_code ec, const gregor::record_metadata&) {
                         (ec ? failed : ok).fetch_add(1, std::memory_order_relaxed);
                     });
    }
    (void)p.flush();
    const double s = std::chrono::duration<double>(clk::now() - t0).count();
    run_result r;
    if (failed == 0 && ok == n) r.records_per_sec = static_cast<double>(n) / s;
    r.wire_bytes_per_record = static_cast<double>(stored_bytes(b, topic)) / static_cast<double>(n);
    return r;
}

// ---- broker append cost per policy -----------------------------------------------------------

template <typename Policies>
double broker_appends_per_sec(codec c, const std::vector<std::string>& values, int batches) {
    gregor::broker<Policies> b;
    b.create_topic("t", 1);
    std::vector<gregor::byte_buffer> prepared;
    for (int k = 0; k < 16; ++k) {
        gregor::wire::batch_builder bb(20000);
        for (std::size_t i = 0; i < 100; ++i) {
            const auto& v = values[(static_cast<std::size_t>(k) * 100 + i) % values.size()];
            bb.append(1'700'000'000'000, std::nullopt, gregor::as_bytes(v));
        }
        auto out = bb.seal();
        (void)gregor::compression::compress_batch(out, c, gregor::compression::default_level(c));
        prepared.push_back(std::move(out));
    }
    const auto t0 = clk::now();
    for (int i = 0; i < batches; ++i) {
        gregor::byte_buffer copy(prepared[static_cast<std::size_t>(i) % prepared.size()].view());
        (void)b.produce("t", gregor::partition_id{0}, std::move(copy), 1);
    }
    return batches / std::chrono::duration<double>(clk::now() - t0).count();
}

struct header_only_policies : gregor::default_broker_policies {
    using compressed_batches = gregor::compressed_batches::header_only;
};

} // namespace

int main(int argc, char** argv) {
    const long n100 = argc > 1 ? std::atol(argv[1]) : 500000;
    const long n1k = argc > 2 ? std::atol(argv[2]) : 100000;
    const auto dir =
        std::filesystem::temp_directory_path() / ("gregor-compression-bench-" + std::to_string(::getpid()));
    gregor::broker_config bcfg;
    bcfg.data_dir = dir;
    {
        file_broker b{bcfg};
        gregor::kafka_server_config sc;
        sc.net.host = "127.0.0.1";
        sc.net.port = 0;
        gregor::kafka_server<file_broker> srv{b, sc};
        const std::string bootstrap = "127.0.0.1:" + std::to_string(srv.port());
        for (const std::size_t size : {std::size_t{100}, std::size_t{1024}}) {
            const long n = size == 100 ? n100 : n1k;
            const auto values = payloads(size, 4096);
            for (const auto c : {codec::none, codec::gzip, codec::snappy, codec::lz4, codec::zstd}) {
                if (!gregor::compression::available(c)) continue;
                const std::string tag = std::string(gregor::compression::name(c)) + "_" + std::to_string(size) + "B";
                const auto g = gregor_run(b, bootstrap, "g-" + tag, c, values, n);
                const auto r = rdkafka_run(b, bootstrap, "r-" + tag, c, values, n);
                gregor_bench::emit("gregor_produce_" + tag, g.records_per_sec, "records/s");
                gregor_bench::emit("librdkafka_produce_" + tag, r.records_per_sec, "records/s");
                gregor_bench::emit("gregor_vs_librdkafka_" + tag,
                                   r.records_per_sec > 0 ? g.records_per_sec / r.records_per_sec : 0, "x");
                gregor_bench::emit("gregor_wire_bytes_per_record_" + tag, g.wire_bytes_per_record, "bytes");
                gregor_bench::emit("librdkafka_wire_bytes_per_record_" + tag, r.wire_bytes_per_record, "bytes");
            }
        }
    }
    const auto values = payloads(100, 4096);
    for (const auto c : {codec::gzip, codec::snappy, codec::lz4, codec::zstd}) {
        if (!gregor::compression::available(c)) continue;
        const std::string name(gregor::compression::name(c));
        gregor_bench::emit("broker_append_validate_records_" + name,
                           broker_appends_per_sec<gregor::default_broker_policies>(c, values, 20000), "batches/s");
        gregor_bench::emit("broker_append_header_only_" + name,
                           broker_appends_per_sec<header_only_policies>(c, values, 20000), "batches/s");
    }
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
}
