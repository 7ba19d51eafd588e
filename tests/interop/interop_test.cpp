// Real Kafka clients against the real gregor-broker program: kcat and librdkafka (idempotent
// producer, read_committed consumer), a broker restart, and malformed input on raw sockets.
#include "broker_process.hpp"

#include <gregor/net/client.hpp>
#include <gregor/wire/header.hpp>
#include <gregor/wire/messages/api_versions.hpp>
#include <gregor/wire/messages/metadata.hpp>
#include <gregor/wire/messages/produce.hpp>
#include <gregor/wire/record_batch.hpp>

#include <catch2/catch.hpp>
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

using namespace gregor;
using test::broker_process;

namespace {

std::string broker_exe() {
    const char* e = std::getenv("GREGOR_BROKER");
    REQUIRE(e != nullptr);
    return e;
}

// ---- librdkafka helpers ---------------------------------------------------------------------

struct delivery_stats {
    int ok = 0;
    int failed = 0;
    rd_kafka_resp_err_t first_error = RD_KAFKA_RESP_ERR_NO_ERROR;
};

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* s = static_cast<delivery_stats*>(opaque);
    if (m->err) {
        if (!s->failed) s->first_error = m->err;
        ++s->failed;
    } else {
        ++s->ok;
    }
}

rd_kafka_conf_t* make_conf(const std::map<std::string, std::string>& props) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    char err[512];
    for (const auto& [k, v] : props) {
        if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
            FAIL("librdkafka config " << k << ": " << err);
        }
    }
    return conf;
}

/// Produces `n` keyed records (key "key-<i % 1000>", value "<prefix>-<i>") idempotently with acks=all.
delivery_stats produce_keyed(const std::string& bootstrap, const std::string& topic, int n, const std::string& prefix) {
    delivery_stats stats;
    auto* conf = make_conf({{"bootstrap.servers", bootstrap},
                            {"enable.idempotence", "true"},
                            {"acks", "all"},
                            {"linger.ms", "5"},
                            {"partitioner", "murmur2_random"},
                            {"message.timeout.ms", "60000"}});
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, &stats);
    char err[512];
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    REQUIRE(rk != nullptr);
    for (int i = 0; i < n; ++i) {
        const std::string key = "key-" + std::to_string(i % 1000);
        const std::string value = prefix + "-" + std::to_string(i);
        for (int attempt = 0; attempt < 1000; ++attempt) {
            const auto e =
                rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_KEY(key.data(), key.size()),
                                  RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
            if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                REQUIRE(e == RD_KAFKA_RESP_ERR_NO_ERROR);
                break;
            }
            rd_kafka_poll(rk, 10); // serves delivery reports, freeing queue space
        }
    }
    CHECK(rd_kafka_flush(rk, 60000) == RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(rk);
    return stats;
}

struct consumed {
    std::map<int, std::vector<std::pair<std::int64_t, std::string>>> by_partition; // offset, value
    std::map<std::string, std::string> key_of;                                     // value -> key
    std::size_t total = 0;
};

/// Reads partitions [0, partitions) from the beginning (assign mode, read_committed) until
/// `expect` records arrived or `timeout` passed.
consumed consume_all(const std::string& bootstrap, const std::string& topic, int partitions, std::size_t expect,
                     std::chrono::seconds timeout = std::chrono::seconds(60)) {
    consumed c;
    auto* conf = make_conf({{"bootstrap.servers", bootstrap},
                            {"isolation.level", "read_committed"},
                            {"enable.auto.commit", "false"},
                            {"group.id", "gregor-interop"},
                            {"enable.partition.eof", "false"}});
    char err[512];
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    REQUIRE(rk != nullptr);
    auto* list = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; ++p)
        rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    REQUIRE(rd_kafka_assign(rk, list) == RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(list);
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (c.total < expect && std::chrono::steady_clock::now() < until) {
        rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 200);
        if (!m) continue;
        if (!m->err) {
            std::string value(static_cast<const char*>(m->payload), m->len);
            c.key_of[value] = std::string(static_cast<const char*>(m->key), m->key_len);
            c.by_partition[m->partition].emplace_back(m->offset, std::move(value));
            ++c.total;
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return c;
}

/// Every "<prefix>-<i>" for i < n exactly once; offsets dense and increasing per partition; each
/// key's values in production order (a key lives in one partition, so this is partition order).
void check_exactly_once_in_order(const consumed& c, const std::string& prefix, int n) {
    std::set<std::string> seen;
    for (const auto& [p, recs] : c.by_partition) {
        std::map<std::string, int> last_index_of_key;
        for (std::size_t i = 0; i < recs.size(); ++i) {
            if (i > 0) REQUIRE(recs[i].first == recs[i - 1].first + 1);
            const auto& v = recs[i].second;
            if (v.rfind(prefix + "-", 0) != 0) continue;
            REQUIRE(seen.insert(v).second); // no duplicate
            const int idx = std::stoi(v.substr(prefix.size() + 1));
            const auto& key = c.key_of.at(v);
            auto it = last_index_of_key.find(key);
            if (it != last_index_of_key.end()) REQUIRE(idx > it->second);
            last_index_of_key[key] = idx;
        }
    }
    CHECK(seen.size() == static_cast<std::size_t>(n));
}

} // namespace

TEST_CASE("kcat lists the gregor broker's metadata", "[kcat]") {
    test::temp_dir dir;
    broker_process b(broker_exe(), {"--data-dir", dir.path.string(), "-X", "num.partitions=3"});
    const auto [rc0, _] = test::run("printf 'x\\n' | kcat -b " + b.bootstrap() + " -P -t listed 2>&1");
    REQUIRE(rc0 == 0);
    const auto [rc, out] = test::run("kcat -b " + b.bootstrap() + " -L 2>&1");
    INFO(out);
    CHECK(rc == 0);
    CHECK(out.find("1 brokers:") != std::string::npos);
    CHECK(out.find("broker 0 at 127.0.0.1:" + std::to_string(b.port())) != std::string::npos);
    CHECK(out.find("topic \"listed\" with 3 partitions") != std::string::npos);
    CHECK(b.stop() == 0);
}

TEST_CASE("lines produced with kcat come back identical from kcat", "[kcat]") {
    test::temp_dir dir;
    broker_process b(broker_exe(), {"--data-dir", dir.path.string()});
    std::string lines;
    for (int i = 0; i < 500; ++i) lines += "line number " + std::to_string(i) + " with some text\n";
    const auto file = dir.path / "in.txt";
    {
        FILE* f = std::fopen(file.c_str(), "w");
        std::fwrite(lines.data(), 1, lines.size(), f);
        std::fclose(f);
    }
    const auto [prc, pout] = test::run("kcat -b " + b.bootstrap() + " -P -t lines -p 0 < " + file.string() + " 2>&1");
    INFO(pout);
    REQUIRE(prc == 0);
    const auto [crc, cout] = test::run("kcat -b " + b.bootstrap() + " -C -t lines -p 0 -o beginning -e -q 2>&1");
    CHECK(crc == 0);
    CHECK(cout == lines);
    CHECK(b.stop() == 0);
}

TEST_CASE("librdkafka's idempotent producer and read_committed consumer see every record once, in order, also after a "
          "restart",
          "[librdkafka]") {
    test::temp_dir dir;
    const std::vector<std::string> args{"--data-dir", dir.path.string(), "-X", "num.partitions=4"};
    constexpr int n = 100000;
    {
        broker_process b(broker_exe(), args);
        const auto stats = produce_keyed(b.bootstrap(), "orders", n, "first");
        CHECK(stats.failed == 0);
        CHECK(stats.ok == n);
        const auto c = consume_all(b.bootstrap(), "orders", 4, n);
        REQUIRE(c.total == static_cast<std::size_t>(n));
        check_exactly_once_in_order(c, "first", n);
        CHECK(b.stop() == 0);
    }
    broker_process b(broker_exe(), args);
    const auto again = consume_all(b.bootstrap(), "orders", 4, n);
    REQUIRE(again.total == static_cast<std::size_t>(n));
    check_exactly_once_in_order(again, "first", n);
    const auto stats = produce_keyed(b.bootstrap(), "orders", 10000, "second");
    CHECK(stats.failed == 0);
    const auto all = consume_all(b.bootstrap(), "orders", 4, n + 10000);
    REQUIRE(all.total == static_cast<std::size_t>(n + 10000));
    check_exactly_once_in_order(all, "first", n);
    check_exactly_once_in_order(all, "second", 10000);
    CHECK(b.stop() == 0);
}

// ---- malformed input -------------------------------------------------------------------------

namespace {

/// The broker still answers a well-formed ApiVersions on a fresh connection.
bool still_serves(std::uint16_t port) {
    net::blocking_client c("127.0.0.1", port);
    byte_buffer req;
    wire::encode_request_frame(req, 2, 42, "check", wire::api_versions::request{});
    if (c.send_raw(req.view()) != net::blocking_client::status::ok) return false;
    auto resp = c.read_frame();
    if (!resp) return false;
    byte_reader r(resp->view());
    const auto h = wire::response_header::decode(r, 0);
    const auto body = wire::api_versions::response::decode(r, 2);
    return h && h->correlation_id == 42 && body && body->error_code == error_code::none && !body->api_keys.empty();
}

byte_buffer frame_of(const std::vector<std::byte>& body) {
    byte_buffer out(body.size() + 4);
    out.resize(body.size() + 4);
    store_be<std::int32_t>(out.data(), static_cast<std::int32_t>(body.size()));
    std::copy(body.begin(), body.end(), out.data() + 4);
    return out;
}

} // namespace

TEST_CASE("malformed frames close only their own connection and the broker keeps serving", "[malformed]") {
    test::temp_dir dir;
    broker_process b(broker_exe(), {"--data-dir", dir.path.string(), "-X", "socket.request.max.bytes=1048576"});
    REQUIRE(still_serves(b.port()));

    SECTION("a negative size") {
        net::blocking_client c("127.0.0.1", b.port());
        const std::byte neg[4] = {std::byte{0xff}, std::byte{0xff}, std::byte{0xff}, std::byte{0xfe}};
        c.send_raw(bytes_view{neg, 4});
        CHECK(c.wait_closed());
    }
    SECTION("a size above socket.request.max.bytes") {
        net::blocking_client c("127.0.0.1", b.port());
        const std::byte huge[4] = {std::byte{0x7f}, std::byte{0xff}, std::byte{0xff}, std::byte{0xff}};
        c.send_raw(bytes_view{huge, 4});
        CHECK(c.wait_closed());
    }
    SECTION("a truncated frame followed by a hang-up") {
        {
            net::blocking_client c("127.0.0.1", b.port());
            std::byte partial[14] = {};
            store_be<std::int32_t>(partial, 100);
            c.send_raw(bytes_view{partial, 14});
        }
        CHECK(still_serves(b.port()));
    }
    SECTION("random bytes") {
        std::mt19937 rng(7);
        for (int i = 0; i < 50; ++i) {
            net::blocking_client c("127.0.0.1", b.port());
            std::vector<std::byte> junk(1 + rng() % 300);
            for (auto& x : junk) x = static_cast<std::byte>(rng());
            c.send_raw(frame_of(junk).view());
            // either an error answer or a close; never a hang and never a crash
            (void)c.read_frame(std::chrono::milliseconds(2000));
        }
    }
    SECTION("an unknown API key") {
        net::blocking_client c("127.0.0.1", b.port());
        byte_buffer body;
        byte_writer w(body);
        w.i16(999);
        w.i16(0);
        w.i32(1);
        w.i16(-1);
        c.send_frame(body.view());
        CHECK(c.wait_closed());
    }
    CHECK(still_serves(b.port()));
    CHECK(b.alive());
    CHECK(b.stop() == 0);
}

TEST_CASE("a produce with a bad CRC is answered with CORRUPT_MESSAGE and nothing is stored", "[malformed]") {
    test::temp_dir dir;
    broker_process b(broker_exe(), {"--data-dir", dir.path.string()});
    wire::batch_builder bb;
    bb.append(1, as_bytes("k"), as_bytes("v"));
    auto batch = bb.seal();
    batch[batch.size() - 1] ^= std::byte{1};
    wire::produce::request req;
    req.acks = 1;
    req.topics.push_back({"crc", {{partition_id{0}, batch.view(), std::nullopt}}});
    byte_buffer frame;
    wire::encode_request_frame(frame, 7, 5, "test", req);
    net::blocking_client c("127.0.0.1", b.port());
    REQUIRE(c.send_raw(frame.view()) == net::blocking_client::status::ok);
    auto resp = c.read_frame();
    REQUIRE(resp);
    byte_reader r(resp->view());
    REQUIRE(wire::response_header::decode(r, 0));
    const auto body = wire::produce::response::decode(r, 7);
    REQUIRE(body);
    REQUIRE(body->responses.size() == 1);
    CHECK(body->responses[0].partitions[0].error_code == error_code::corrupt_message);
    // The connection stays usable, and the topic holds nothing.
    const auto [rc, out] = test::run("kcat -b " + b.bootstrap() + " -C -t crc -p 0 -o beginning -e -q 2>&1");
    CHECK(out.empty());
    CHECK(still_serves(b.port()));
    CHECK(b.stop() == 0);
}

TEST_CASE("gregor-producer-perf --bootstrap writes verifiable records a librdkafka consumer reads back whole",
          "[perf]") {
    const char* perf = std::getenv("GREGOR_PRODUCER_PERF");
    REQUIRE(perf != nullptr);
    test::temp_dir dir;
    broker_process b(broker_exe(), {"--data-dir", dir.path.string(), "-X", "num.partitions=3"});
    constexpr int n = 30000;
    constexpr int size = 60;
    const auto [rc, out] = test::run(std::string(perf) + " --bootstrap " + b.bootstrap() +
                                     " --topic perf --num-records " + std::to_string(n) + " --record-size " +
                                     std::to_string(size) + " --acks all --idempotence --keys --verifiable 2>&1");
    INFO(out);
    REQUIRE(rc == 0);
    CHECK(out.find("\"records\": " + std::to_string(n) + ",") != std::string::npos);
    CHECK(out.find("\"errors\": 0}") != std::string::npos);

    const auto c = consume_all(b.bootstrap(), "perf", 3, n);
    REQUIRE(c.total == static_cast<std::size_t>(n));
    std::set<long long> seqs;
    for (const auto& [p, recs] : c.by_partition) {
        std::map<std::string, long long> last;
        for (const auto& [off, v] : recs) {
            REQUIRE(v.size() == static_cast<std::size_t>(size));
            REQUIRE(v.rfind("seq=", 0) == 0);
            const long long seq = std::stoll(v.substr(4, 10));
            for (std::size_t j = 15; j < v.size(); ++j)
                REQUIRE(v[j] == static_cast<char>('a' + (static_cast<unsigned long long>(seq) + (j - 15)) % 26));
            CHECK(c.key_of.at(v) == "key-" + std::to_string(seq % 1000));
            REQUIRE(seqs.insert(seq).second);
            const auto& key = c.key_of.at(v);
            if (auto it = last.find(key); it != last.end()) CHECK(seq > it->second);
            last[key] = seq;
        }
    }
    CHECK(seqs.size() == static_cast<std::size_t>(n));
    CHECK(*seqs.begin() == 0);
    CHECK(*seqs.rbegin() == n - 1);

    // A malformed bootstrap list is a usage error (exit 2), named in the message.
    const auto [brc, bout] =
        test::run(std::string(perf) + " --bootstrap nohost --topic perf --num-records 1 --record-size 1 2>&1");
    CHECK(brc == 2);
    CHECK(bout.find("bootstrap.servers") != std::string::npos);
    CHECK(b.stop() == 0);
}
