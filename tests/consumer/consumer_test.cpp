// gregor::consumer in process against a gregor::broker, and the read_committed filter on a
// hand-built log (docs/protocol.md §7.3).
#include "consumer_scenarios.hpp"

using namespace gregor;
using namespace std::chrono_literals;
using consumer_test::earliest;
using consumer_test::tp0;

TEST_CASE("records come back exactly, in order, with their offsets (in process)", "[consume]") {
    consumer_test::scenario_consume<consumer_test::in_process_env>();
}
TEST_CASE("seek to an offset inside a batch, to the beginning, the end and a timestamp (in process)", "[seek]") {
    consumer_test::scenario_seek<consumer_test::in_process_env>();
}
TEST_CASE("auto.offset.reset picks earliest, latest or reports the error (in process)", "[reset]") {
    consumer_test::scenario_reset<consumer_test::in_process_env>();
}
TEST_CASE("read_committed without transactions reads up to the last stable offset (in process)", "[committed]") {
    consumer_test::scenario_committed<consumer_test::in_process_env>();
}

TEST_CASE("consumer_config reads Kafka property names and rejects unknown keys", "[config]") {
    const auto c = consumer_config::from_properties({{"auto.offset.reset", "earliest"},
                                                     {"isolation.level", "read_committed"},
                                                     {"fetch.max.wait.ms", "10"},
                                                     {"bootstrap.servers", "h:1"}});
    CHECK(c.auto_offset_reset == offset_reset::earliest);
    CHECK(c.read_committed);
    CHECK(c.fetch_max_wait_ms == 10);
    CHECK_THROWS_WITH(consumer_config::from_properties({{"no.such", "1"}}), Catch::Contains("no.such"));
    CHECK_THROWS_WITH(consumer_config::from_properties({{"auto.offset.reset", "sometimes"}}),
                      Catch::Contains("auto.offset.reset"));
    CHECK_THROWS_WITH(consumer_config::from_properties({{"fetch.min.bytes", "-3"}}),
                      Catch::Contains("fetch.min.bytes"));
}

// ---------------------------------------------------------------------------------------------
// read_committed filtering on a hand-built log (docs/protocol.md §7.3): 0 plain, 1 pid 5 txn
// data, 2 ABORT pid 5, 3 pid 6 txn data, 4 COMMIT pid 6; aborted list [(5, 1)].

namespace {

byte_buffer one_record(const std::string& v, std::int64_t base, producer_id pid, bool txn) {
    wire::batch_builder bb;
    bb.append(100 + base, std::nullopt, as_bytes(v));
    auto out = bb.seal(wire::producer_stamp{pid, producer_epoch{0}, sequence{0}, txn});
    wire::patch_base_offset(out.mutable_view(), offset{base});
    return out;
}

struct scripted_transport {
    std::shared_ptr<byte_buffer> log = std::make_shared<byte_buffer>();
    std::vector<wire::fetch::aborted_transaction> aborted;
    int fetches = 0;

    fetch_transport::fetch_response fetch(std::span<const fetch_transport::partition_request> reqs,
                                          const fetch_transport::fetch_options& opt) {
        ++fetches;
        fetch_transport::fetch_response r;
        r.keepalive = log;
        for (const auto& q : reqs) {
            fetch_transport::partition_data p;
            p.tp = q.tp;
            p.high_watermark = offset{5};
            p.last_stable_offset = offset{5};
            p.log_start_offset = offset{0};
            if (opt.isolation == wire::isolation_level::read_committed) p.aborted = aborted;
            if (q.fetch_offset < offset{5}) p.records = log->view(); // the whole log: the consumer skips
            r.partitions.push_back(p);
        }
        return r;
    }
    fetch_transport::list_offset_result list_offset(const topic_partition&, std::int64_t ts, wire::isolation_level) {
        return {{}, offset{ts == -2 ? 0 : 5}};
    }
};

std::vector<std::int64_t> consume_offsets(bool committed, bool with_aborted_list = true) {
    scripted_transport t;
    t.log->append(one_record("plain", 0, producer_id{-1}, false).view());
    t.log->append(one_record("aborted", 1, producer_id{5}, true).view());
    auto abort = wire::build_control_batch(wire::control_type::abort, producer_id{5}, producer_epoch{0}, 0, 102);
    wire::patch_base_offset(abort.mutable_view(), offset{2});
    t.log->append(abort.view());
    t.log->append(one_record("committed", 3, producer_id{6}, true).view());
    auto commit = wire::build_control_batch(wire::control_type::commit, producer_id{6}, producer_epoch{0}, 0, 104);
    wire::patch_base_offset(commit.mutable_view(), offset{4});
    t.log->append(commit.view());
    if (with_aborted_list) t.aborted = {{producer_id{5}, offset{1}}};

    consumer_config cfg = earliest();
    cfg.read_committed = committed;
    consumer c{cfg, std::move(t)};
    c.assign({tp0});
    std::vector<std::int64_t> out;
    for (int i = 0; i < 3; ++i) {
        auto r = c.poll(10ms);
        REQUIRE(r.errors().empty());
        r.for_each_record([&](const consumed_batch& b, const wire::record_view& rec) {
            CHECK(!b.batch.header().is_control());
            out.push_back(rec.record_offset.value());
        });
    }
    CHECK(c.position(tp0) == offset{5}); // past the markers too
    return out;
}

} // namespace

TEST_CASE("read_committed skips aborted transactions and control batches, read_uncommitted only control",
          "[committed]") {
    CHECK(consume_offsets(true) == std::vector<std::int64_t>{0, 3});
    CHECK(consume_offsets(false) == std::vector<std::int64_t>{0, 1, 3});
    // With no aborted list (a broker without transactions) nothing but the markers is dropped.
    CHECK(consume_offsets(true, false) == std::vector<std::int64_t>{0, 1, 3});
}

TEST_CASE("a corrupt batch is reported and the position stays put", "[committed]") {
    scripted_transport t;
    auto b = one_record("x", 0, producer_id{-1}, false);
    b.mutable_view()[b.size() - 1] ^= std::byte{0xff};
    t.log->append(b.view());
    consumer c{earliest(), std::move(t)};
    c.assign({tp0});
    auto r = c.poll(10ms);
    CHECK(r.empty());
    REQUIRE(r.errors().size() == 1);
    CHECK(r.errors()[0].error == make_error_code(error_code::corrupt_message));
    CHECK(c.position(tp0) == offset{0});
}
