#include <gregor/core/buffer.hpp>

#include <catch2/catch.hpp>

using namespace gregor;

TEST_CASE("writer and reader round-trip big-endian integers", "[buffer]") {
    byte_buffer b;
    byte_writer w(b);
    w.i8(-2);
    w.i16(0x1234);
    w.i32(-5);
    w.i64(0x0102030405060708LL);
    w.varint(-1);
    w.uvarint(300);
    REQUIRE(b.size() == 1 + 2 + 4 + 8 + 1 + 2);
    CHECK(b[1] == std::byte{0x12});
    CHECK(b[2] == std::byte{0x34});
    byte_reader r(b.view());
    CHECK(r.i8() == -2);
    CHECK(r.i16() == 0x1234);
    CHECK(r.i32() == -5);
    CHECK(r.i64() == 0x0102030405060708LL);
    CHECK(r.varint() == -1);
    CHECK(r.uvarint() == 300u);
    CHECK(r.ok());
    CHECK(r.at_end());
}

TEST_CASE("reading past the end fails and keeps failing without touching memory", "[buffer]") {
    const std::byte three[3] = {std::byte{1}, std::byte{2}, std::byte{3}};
    byte_reader r(bytes_view{three, 3});
    CHECK(r.i16() == 0x0102);
    CHECK(r.i32() == 0);
    CHECK_FALSE(r.ok());
    CHECK(r.i8() == 0);
    CHECK(r.bytes(1).empty());
    CHECK_FALSE(r.ok());
}

TEST_CASE("writer patches placeholders for lengths written afterwards", "[buffer]") {
    byte_buffer b;
    byte_writer w(b);
    const auto pos = w.placeholder(4);
    w.bytes(as_bytes("hello"));
    w.patch<std::int32_t>(pos, 5);
    byte_reader r(b.view());
    CHECK(r.i32() == 5);
    CHECK(as_string_view(r.bytes(5)) == "hello");
}

TEST_CASE("byte_buffer copies deeply and moves cheaply", "[buffer]") {
    byte_buffer a;
    a.append(std::string_view("abc"));
    byte_buffer c = a;
    c[0] = std::byte{'x'};
    CHECK(as_string_view(a.view()) == "abc");
    CHECK(as_string_view(c.view()) == "xbc");
    byte_buffer m = std::move(a);
    CHECK(as_string_view(m.view()) == "abc");
    CHECK(a.empty());
}
