#include "batch_vectors.hpp"

#include <gregor/wire/record_batch.hpp>

#include <catch2/catch.hpp>

#include <limits>
#include <string>
#include <vector>

using namespace gregor;
using namespace gregor::wire;

namespace {
std::vector<std::byte> to_vec(bytes_view b) { return {b.begin(), b.end()}; }
} // namespace

TEST_CASE("batch builder reproduces Kafka's reference data batch byte for byte", "[record_batch]") {
    const auto expected = test::from_hex(test::data_batch_hex);
    REQUIRE(expected.size() == 75);
    batch_builder b;
    const record_header h{"h1", as_bytes("x")};
    b.append(1700000000000, as_bytes("k"), as_bytes("v"), std::span(&h, 1));
    auto sealed = b.seal();
    // Java and librdkafka differ on partitionLeaderEpoch (-1 vs 0); the vector uses -1 as we do.
    CHECK(to_vec(sealed.view()) == expected);
    CHECK(validate(sealed.view()) == batch_error::none);
}

TEST_CASE("batch view decodes the reference batch's header and record in place", "[record_batch]") {
    const auto bytes = test::from_hex(test::data_batch_hex);
    batch_view v{bytes_view{bytes}};
    const auto& h = v.header();
    CHECK(h.magic == 2);
    CHECK(h.records_count == 1);
    CHECK(h.base_timestamp == 1700000000000);
    CHECK(h.producer_id == no_producer_id);
    CHECK(h.total_size() == 75);
    int n = 0;
    for (const auto& r : v) {
        ++n;
        CHECK(as_string_view(*r.key) == "k");
        CHECK(as_string_view(*r.value) == "v");
        CHECK(r.timestamp == 1700000000000);
        CHECK(r.record_offset == offset{0});
        auto hc = r.headers();
        auto hdr = hc.next();
        REQUIRE(hdr);
        CHECK(hdr->key == "h1");
        CHECK(as_string_view(*hdr->value) == "x");
        CHECK_FALSE(hc.next());
        // The record's key points into the batch: no copy was made.
        CHECK(r.key->data() > bytes.data());
        CHECK(r.key->data() < bytes.data() + bytes.size());
    }
    CHECK(n == 1);
}

TEST_CASE("patching base offset and leader epoch keeps the CRC valid", "[record_batch]") {
    auto bytes = test::from_hex(test::data_batch_hex);
    mutable_bytes_view m{bytes};
    patch_base_offset(m, offset{123456});
    patch_leader_epoch(m, leader_epoch{7});
    CHECK(validate(bytes_view{bytes}) == batch_error::none);
    const auto h = *batch_header::parse(bytes_view{bytes});
    CHECK(h.base_offset == offset{123456});
    CHECK(h.partition_leader_epoch == 7);
    CHECK(h.last_offset() == offset{123456});
}

TEST_CASE("offsets and timestamps of a hostile batch wrap instead of overflowing", "[record_batch]") {
    // Base offset and base timestamp come from the wire; near INT64_MAX the sums must wrap as
    // Java's longs do (the sanitizer build turns an overflow into a failure).
    batch_builder b;
    b.append(std::numeric_limits<std::int64_t>::max(), std::nullopt, as_bytes(std::string_view{"a"}));
    b.append(std::numeric_limits<std::int64_t>::min(), std::nullopt, as_bytes(std::string_view{"b"}));
    auto batch = b.seal();
    patch_base_offset(batch.mutable_view(), offset{std::numeric_limits<std::int64_t>::max()});
    CHECK(validate(batch.view()) == batch_error::none);
    const auto h = *batch_header::parse(batch.view());
    CHECK(h.last_offset() == offset{std::numeric_limits<std::int64_t>::min()});
    std::vector<std::int64_t> offsets, stamps;
    for (const auto& r : batch_view{batch.view()}) {
        offsets.push_back(r.record_offset.value());
        stamps.push_back(r.timestamp);
    }
    CHECK(offsets == std::vector<std::int64_t>{std::numeric_limits<std::int64_t>::max(),
                                               std::numeric_limits<std::int64_t>::min()});
    CHECK(stamps == std::vector<std::int64_t>{std::numeric_limits<std::int64_t>::max(),
                                              std::numeric_limits<std::int64_t>::min()});
}

TEST_CASE("changing a CRC-covered field without resealing is detected", "[record_batch]") {
    auto bytes = test::from_hex(test::data_batch_hex);
    patch_producer_state(mutable_bytes_view{bytes}, producer_id{9}, producer_epoch{1}, sequence{0}, false);
    CHECK(validate(bytes_view{bytes}) == batch_error::none);
    bytes[batch_layout::max_timestamp + 7] ^= std::byte{1};
    CHECK(validate(bytes_view{bytes}) == batch_error::bad_crc);
    CHECK(to_kafka(batch_error::bad_crc) == error_code::corrupt_message);
}

TEST_CASE("builder encodes many records with nulls, headers and timestamps that round-trip", "[record_batch]") {
    batch_builder b(1024);
    std::vector<std::string> keys, values;
    for (int i = 0; i < 500; ++i) {
        keys.push_back("key-" + std::to_string(i));
        values.push_back(std::string(static_cast<std::size_t>(i % 50), static_cast<char>('a' + i % 26)));
    }
    for (int i = 0; i < 500; ++i) {
        const record_header hs[2] = {{"trace", as_bytes(keys[static_cast<std::size_t>(i)])}, {"null", std::nullopt}};
        std::optional<bytes_view> key =
            i % 3 == 0 ? std::nullopt : std::optional(as_bytes(keys[static_cast<std::size_t>(i)]));
        std::optional<bytes_view> value =
            i % 7 == 0 ? std::nullopt : std::optional(as_bytes(values[static_cast<std::size_t>(i)]));
        const auto before = b.size_bytes();
        const auto expect = b.record_size(1000 + i * 3, key, value, std::span(hs, i % 2 ? 2 : 0));
        CHECK(b.append(1000 + i * 3, key, value, std::span(hs, i % 2 ? 2 : 0)) == i);
        CHECK(b.size_bytes() - before == expect);
    }
    auto sealed = b.seal(producer_stamp{producer_id{42}, producer_epoch{3}, sequence{100}, false});
    REQUIRE(validate(sealed.view()) == batch_error::none);
    batch_view v{sealed.view()};
    CHECK(v.header().producer_id == producer_id{42});
    CHECK(v.header().producer_epoch == producer_epoch{3});
    CHECK(v.header().base_sequence == sequence{100});
    CHECK(v.header().last_sequence() == sequence{599});
    CHECK(v.header().max_timestamp == 1000 + 499 * 3);
    int i = 0;
    for (auto it = v.begin(); it != v.end(); ++it, ++i) {
        const auto& r = *it;
        const auto ui = static_cast<std::size_t>(i);
        CHECK(r.timestamp == 1000 + i * 3);
        CHECK(r.offset_delta == i);
        if (i % 3 == 0)
            CHECK_FALSE(r.key);
        else
            CHECK(as_string_view(*r.key) == keys[ui]);
        if (i % 7 == 0)
            CHECK_FALSE(r.value);
        else
            CHECK(as_string_view(*r.value) == values[ui]);
        CHECK(r.header_count == (i % 2 ? 2 : 0));
        if (i % 2) {
            auto hc = r.headers();
            auto h1 = hc.next();
            auto h2 = hc.next();
            REQUIRE((h1 && h2));
            CHECK(as_string_view(*h1->value) == keys[ui]);
            CHECK_FALSE(h2->value);
        }
    }
    CHECK(i == 500);
}

TEST_CASE("validator names what is wrong with a malformed batch", "[record_batch]") {
    const auto good = test::from_hex(test::data_batch_hex);
    CHECK(validate(bytes_view{good}.first(60)) == batch_error::truncated);
    CHECK(validate(bytes_view{good}.first(74)) == batch_error::truncated);
    auto bad = good;
    bad[batch_layout::magic] = std::byte{1};
    CHECK(validate(bytes_view{bad}) == batch_error::bad_magic);
    auto longer = good;
    longer.push_back(std::byte{0});
    CHECK(validate(bytes_view{longer}) == batch_error::bad_length);
    // records count says 2 but one record is present (CRC resealed so the count check is reached)
    auto count = good;
    store_be<std::int32_t>(count.data() + batch_layout::records_count, 2);
    store_be<std::int32_t>(count.data() + batch_layout::last_offset_delta, 1);
    reseal_crc(mutable_bytes_view{count});
    CHECK(validate(bytes_view{count}) == batch_error::bad_record_count);
    auto delta = good;
    store_be<std::int32_t>(delta.data() + batch_layout::last_offset_delta, 5);
    reseal_crc(mutable_bytes_view{delta});
    CHECK(validate(bytes_view{delta}) == batch_error::bad_offset_delta);
}

TEST_CASE("splitter walks consecutive batches and leaves a partial tail", "[record_batch]") {
    const auto one = test::from_hex(test::data_batch_hex);
    std::vector<std::byte> three;
    for (int i = 0; i < 3; ++i) three.insert(three.end(), one.begin(), one.end());
    three.insert(three.end(), one.begin(), one.begin() + 30);
    batch_splitter s{bytes_view{three}};
    int n = 0;
    while (auto b = s.next()) {
        CHECK(validate(*b) == batch_error::none);
        ++n;
    }
    CHECK(n == 3);
    CHECK(s.remainder().size() == 30);
}

TEST_CASE("control batch builder reproduces the reference ABORT marker", "[control_batch]") {
    const auto expected = test::from_hex(test::abort_marker_hex);
    REQUIRE(expected.size() == 78);
    auto b = build_control_batch(control_type::abort, producer_id{5}, producer_epoch{0}, 0, 1700000000000);
    patch_base_offset(b.mutable_view(), offset{2});
    CHECK(to_vec(b.view()) == expected);
    batch_view v{b.view()};
    CHECK(v.header().is_control());
    CHECK(v.header().is_transactional());
    CHECK(v.header().base_sequence == no_sequence);
    for (const auto& r : v) {
        auto c = parse_control_record(r);
        REQUIRE(c);
        CHECK(c->type == control_type::abort);
        CHECK(c->coordinator_epoch == 0);
    }
    CHECK(validate(b.view(), {.reject_control = true}) == batch_error::control_from_client);
}

TEST_CASE("commit marker decodes as commit with its coordinator epoch", "[control_batch]") {
    auto b = build_control_batch(control_type::commit, producer_id{77}, producer_epoch{2}, 9, 5);
    CHECK(validate(b.view()) == batch_error::none);
    batch_view v{b.view()};
    auto it = v.begin();
    REQUIRE(!(it == v.end()));
    auto c = parse_control_record(*it);
    REQUIRE(c);
    CHECK(c->type == control_type::commit);
    CHECK(c->coordinator_epoch == 9);
    CHECK(v.header().producer_id == producer_id{77});
}
