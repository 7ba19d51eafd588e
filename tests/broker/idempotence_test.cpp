#include "broker_test_util.hpp"

#include <catch2/catch.hpp>

using namespace gregor;
using gregor::test::idem;
using gregor::test::make_batch;

namespace {
using memory_broker = broker<broker_policies<storage::memory_backend>>;
using file_broker = broker<broker_policies<storage::file_backend>>;
} // namespace

TEST_CASE("init producer id hands out distinct ids with epoch 0", "[idempotence]") {
    memory_broker b;
    auto a = b.init_producer_id();
    auto c = b.init_producer_id();
    CHECK(a.error == error_code::none);
    CHECK(a.epoch == producer_epoch{0});
    CHECK(a.id != c.id);
    auto t1 = b.init_producer_id("txn-a");
    auto t2 = b.init_producer_id("txn-a");
    CHECK(t1.id == t2.id);
    CHECK(t2.epoch.value() == t1.epoch.value() + 1);
    CHECK(b.init_producer_id("txn-b", 0).error == error_code::invalid_transaction_timeout);
}

TEST_CASE("a retried batch is answered with its original offset and not appended twice", "[idempotence]") {
    memory_broker b;
    const auto pid = b.init_producer_id().id.value();
    auto r0 = b.produce("t", partition_id{0}, make_batch("a", 3, idem(pid, 0, 0)), -1);
    auto r1 = b.produce("t", partition_id{0}, make_batch("b", 2, idem(pid, 0, 3)), -1);
    REQUIRE(r0.error == error_code::none);
    REQUIRE(r1.error == error_code::none);
    CHECK(r1.base_offset == offset{3});
    // the first batch again (a retry after a lost response): same offset, nothing appended
    auto dup = b.produce("t", partition_id{0}, make_batch("a", 3, idem(pid, 0, 0)), -1);
    CHECK(dup.error == error_code::none);
    CHECK(dup.base_offset == offset{0});
    CHECK(b.list_offset("t", partition_id{0}, -1).found == offset{5});
    const auto recs = test::read_partition(b, "t", 0);
    REQUIRE(recs.size() == 5);
    CHECK(recs[3].second == "b-0");
}

TEST_CASE("a sequence gap is refused with OUT_OF_ORDER_SEQUENCE_NUMBER", "[idempotence]") {
    memory_broker b;
    const auto pid = b.init_producer_id().id.value();
    REQUIRE(b.produce("t", partition_id{0}, make_batch("a", 3, idem(pid, 0, 0)), -1).error == error_code::none);
    CHECK(b.produce("t", partition_id{0}, make_batch("skip", 1, idem(pid, 0, 5)), -1).error ==
          error_code::out_of_order_sequence_number);
    CHECK(b.produce("t", partition_id{0}, make_batch("old", 1, idem(pid, 0, 1)), -1).error ==
          error_code::out_of_order_sequence_number);
    CHECK(b.produce("t", partition_id{0}, make_batch("next", 1, idem(pid, 0, 3)), -1).error == error_code::none);
    CHECK(b.list_offset("t", partition_id{0}, -1).found == offset{4});
}

TEST_CASE("an older epoch is fenced and a new epoch must start at sequence 0", "[idempotence]") {
    memory_broker b;
    const auto pid = b.init_producer_id().id.value();
    REQUIRE(b.produce("t", partition_id{0}, make_batch("e0", 2, idem(pid, 0, 0)), -1).error == error_code::none);
    CHECK(b.produce("t", partition_id{0}, make_batch("e1", 1, idem(pid, 1, 4)), -1).error ==
          error_code::out_of_order_sequence_number);
    REQUIRE(b.produce("t", partition_id{0}, make_batch("e1", 1, idem(pid, 1, 0)), -1).error == error_code::none);
    CHECK(b.produce("t", partition_id{0}, make_batch("e0", 1, idem(pid, 0, 2)), -1).error ==
          error_code::invalid_producer_epoch);
    // a batch without a sequence from an idempotent producer is malformed
    CHECK(b.produce("t", partition_id{0}, make_batch("x", 1, idem(pid, 1, -1)), -1).error ==
          error_code::invalid_record);
}

TEST_CASE("only the last five batches are remembered as duplicates", "[idempotence]") {
    memory_broker b;
    const auto pid = b.init_producer_id().id.value();
    for (int i = 0; i < 7; ++i)
        REQUIRE(b.produce("t", partition_id{0}, make_batch("b" + std::to_string(i), 1, idem(pid, 0, i)), -1).error ==
                error_code::none);
    // batches 2..6 are cached: a retry of 2 is a duplicate; 1 fell out of the window
    auto dup = b.produce("t", partition_id{0}, make_batch("b2", 1, idem(pid, 0, 2)), -1);
    CHECK(dup.error == error_code::none);
    CHECK(dup.base_offset == offset{2});
    CHECK(b.produce("t", partition_id{0}, make_batch("b1", 1, idem(pid, 0, 1)), -1).error ==
          error_code::out_of_order_sequence_number);
}

TEST_CASE("sequence numbers wrap from INT32_MAX to 0", "[idempotence]") {
    memory_broker b;
    const auto pid = b.init_producer_id().id.value();
    const auto max = std::numeric_limits<std::int32_t>::max();
    REQUIRE(b.produce("t", partition_id{0}, make_batch("a", 2, idem(pid, 0, max - 1)), -1).error == error_code::none);
    CHECK(b.produce("t", partition_id{0}, make_batch("b", 1, idem(pid, 0, 0)), -1).error == error_code::none);
}

TEST_CASE("producer state survives a clean restart and an unclean one", "[broker_restart]") {
    test::temp_dir dir;
    broker_config cfg;
    cfg.data_dir = dir.path;
    std::int64_t pid = 0;
    {
        file_broker b{cfg};
        pid = b.init_producer_id().id.value();
        for (int i = 0; i < 4; ++i)
            REQUIRE(b.produce("t", partition_id{0}, make_batch("b" + std::to_string(i), 2, idem(pid, 0, 2 * i)), -1)
                        .error == error_code::none);
    }
    {
        file_broker b{cfg};
        // the ids continue past every id handed out before the restart
        CHECK(b.init_producer_id().id.value() > pid);
        auto dup = b.produce("t", partition_id{0}, make_batch("b3", 2, idem(pid, 0, 6)), -1);
        CHECK(dup.error == error_code::none);
        CHECK(dup.base_offset == offset{6});
        CHECK(b.produce("t", partition_id{0}, make_batch("gap", 1, idem(pid, 0, 9)), -1).error ==
              error_code::out_of_order_sequence_number);
        REQUIRE(b.produce("t", partition_id{0}, make_batch("b4", 1, idem(pid, 0, 8)), -1).error == error_code::none);
    }
    // unclean: remove every snapshot, so the state must be rebuilt from the log itself
    for (const auto& de : std::filesystem::directory_iterator(dir.path / "t-0"))
        if (de.path().extension() == ".snapshot") std::filesystem::remove(de.path());
    {
        file_broker b{cfg};
        auto dup = b.produce("t", partition_id{0}, make_batch("b4", 1, idem(pid, 0, 8)), -1);
        CHECK(dup.error == error_code::none);
        CHECK(dup.base_offset == offset{8});
        CHECK(b.produce("t", partition_id{0}, make_batch("b5", 1, idem(pid, 0, 9)), -1).base_offset == offset{9});
    }
}
