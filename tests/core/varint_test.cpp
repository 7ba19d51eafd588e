#include <gregor/core/buffer.hpp>
#include <gregor/core/varint.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <vector>

using namespace gregor;

TEST_CASE("zigzag maps small magnitudes to small codes as Kafka's records expect", "[varint]") {
    CHECK(zigzag_encode32(0) == 0u);
    CHECK(zigzag_encode32(-1) == 1u);
    CHECK(zigzag_encode32(1) == 2u);
    CHECK(zigzag_encode32(13) == 0x1au);
    CHECK(zigzag_encode32(std::numeric_limits<std::int32_t>::min()) == 0xffffffffu);
    CHECK(zigzag_decode32(0xffffffffu) == std::numeric_limits<std::int32_t>::min());
    CHECK(zigzag_decode64(zigzag_encode64(std::numeric_limits<std::int64_t>::min())) ==
          std::numeric_limits<std::int64_t>::min());
}

TEST_CASE("varints round-trip across the whole range", "[varint]") {
    std::vector<std::int64_t> values{0,
                                     1,
                                     -1,
                                     63,
                                     -64,
                                     64,
                                     127,
                                     128,
                                     300,
                                     -300,
                                     16383,
                                     16384,
                                     std::numeric_limits<std::int32_t>::max(),
                                     std::numeric_limits<std::int32_t>::min(),
                                     std::numeric_limits<std::int64_t>::max(),
                                     std::numeric_limits<std::int64_t>::min()};
    for (auto v : values) {
        std::byte buf[10];
        const auto n = encode_varlong(buf, v);
        CHECK(n == varlong_size(v));
        std::int64_t out = 0;
        CHECK(decode_varlong(buf, buf + n, out) == n);
        CHECK(out == v);
        if (v >= std::numeric_limits<std::int32_t>::min() && v <= std::numeric_limits<std::int32_t>::max()) {
            const auto n32 = encode_varint(buf, static_cast<std::int32_t>(v));
            std::int32_t o32 = 0;
            CHECK(decode_varint(buf, buf + n32, o32) == n32);
            CHECK(o32 == v);
        }
    }
}

TEST_CASE("varint decoding refuses truncated and over-long input", "[varint]") {
    std::byte buf[10];
    const auto n = encode_uvarint(buf, 1u << 28);
    REQUIRE(n == 5);
    std::uint64_t out = 0;
    for (std::size_t cut = 0; cut < n; ++cut) CHECK(decode_uvarint(buf, buf + cut, out) == 0);
    std::byte six[6] = {std::byte{0x80}, std::byte{0x80}, std::byte{0x80},
                        std::byte{0x80}, std::byte{0x80}, std::byte{0}};
    std::int32_t o32 = 0;
    CHECK(decode_varint(six, six + 6, o32) == 0);
    byte_reader r(bytes_view{six, 6});
    (void)r.varint();
    CHECK_FALSE(r.ok());
}
