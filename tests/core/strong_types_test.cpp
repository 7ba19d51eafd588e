#include <gregor/core/strong_types.hpp>

#include <catch2/catch.hpp>

#include <type_traits>

using namespace gregor;

TEST_CASE("strong types do not convert into each other", "[strong_types]") {
    STATIC_REQUIRE_FALSE(std::is_convertible_v<partition_id, node_id>);
    STATIC_REQUIRE_FALSE(std::is_convertible_v<std::int64_t, offset>);
    STATIC_REQUIRE_FALSE(std::is_convertible_v<offset, producer_id>);
    offset o{10};
    o += 5;
    CHECK(o == offset{15});
    CHECK(offset{20} - o == 5);
    CHECK((o + 1).value() == 16);
}

TEST_CASE("sequence numbers wrap from INT32_MAX to 0 as Kafka's do", "[strong_types]") {
    const auto max = std::numeric_limits<std::int32_t>::max();
    CHECK(sequence{5}.advanced(3) == sequence{8});
    CHECK(sequence{max}.advanced(1) == sequence{0});
    CHECK(sequence{max - 1}.advanced(4) == sequence{2});
}
