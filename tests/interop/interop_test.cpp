// Real Kafka clients against the real gregor-broker program: kcat and librdkafka (idempotent
// producer, read_committed consumer), a broker restart, and malformed input on raw sockets.
#include "broker_process.hpp"
#include "rdkafka_helpers.hpp"

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
using test::broker_exe;
using test::broker_process;
using test::consume_all;
using test::consumed;
using test::produce_keyed;

namespace {

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
    net::blocking_client c("127.0.0.1", b.port());
    {
        // Created the way clients create topics: Produce never does (Kafka's rule), Metadata does.
        wire::metadata::request md;
        md.topics.emplace();
        md.topics->push_back({"crc"});
        byte_buffer mframe;
        wire::encode_request_frame(mframe, 1, 4, "test", md);
        REQUIRE(c.send_raw(mframe.view()) == net::blocking_client::status::ok);
        auto mresp = c.read_frame();
        REQUIRE(mresp);
        byte_reader mr(mresp->view());
        REQUIRE(wire::response_header::decode(mr, 0));
        const auto mbody = wire::metadata::response::decode(mr, 1);
        REQUIRE(mbody);
        REQUIRE(mbody->topics.size() == 1);
        REQUIRE(mbody->topics[0].error_code == error_code::none);
    }
    wire::produce::request req;
    req.acks = 1;
    req.topics.push_back({"crc", {{partition_id{0}, batch.view(), std::nullopt}}});
    byte_buffer frame;
    wire::encode_request_frame(frame, 7, 5, "test", req);
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

    // Transactional: every 700 records one transaction; a read_committed reader (librdkafka)
    // sees them all only if every transaction was committed.
    constexpr int tn = 7000;
    const auto [trc, tout] = test::run(std::string(perf) + " --bootstrap " + b.bootstrap() +
                                       " --topic perf-txn --num-records " + std::to_string(tn) +
                                       " --record-size 40 --keys --verifiable --transactional-id perf-txn"
                                       " --transaction-size 700 2>&1");
    INFO(tout);
    REQUIRE(trc == 0);
    CHECK(tout.find("\"errors\": 0,") != std::string::npos);
    CHECK(tout.find("\"transactions\": 10, \"failed_transactions\": 0,") != std::string::npos);
    CHECK(consume_all(b.bootstrap(), "perf-txn", 3, tn).total == static_cast<std::size_t>(tn));

    // A malformed bootstrap list is a usage error (exit 2), named in the message.
    const auto [brc, bout] =
        test::run(std::string(perf) + " --bootstrap nohost --topic perf --num-records 1 --record-size 1 2>&1");
    CHECK(brc == 2);
    CHECK(bout.find("bootstrap.servers") != std::string::npos);
    CHECK(b.stop() == 0);
}
