#include "message_test_util.hpp"

#include <gregor/core/error.hpp>
#include <gregor/core/strong_types.hpp>
#include <gregor/wire/primitives.hpp>

#include <catch2/catch.hpp>

#include <cstdlib>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

using namespace gregor;
using namespace gregor::wire;
using gregor::test::from_hex;
using gregor::test::hex;

namespace {

template <typename F>
std::string written(F&& f) {
    byte_buffer b;
    byte_writer w(b);
    f(w);
    return hex(b.view());
}

/// Allocator that records the largest single allocation, to prove hostile counts do not reserve.
struct allocation_log {
    static inline std::size_t largest = 0;
    static inline std::size_t calls = 0;
};
template <typename T>
struct counting_allocator {
    using value_type = T;
    counting_allocator() noexcept = default;
    template <typename U>
    counting_allocator(const counting_allocator<U>&) noexcept {}
    T* allocate(std::size_t n) {
        allocation_log::largest = std::max(allocation_log::largest, n * sizeof(T));
        ++allocation_log::calls;
        return std::allocator<T>{}.allocate(n);
    }
    void deallocate(T* p, std::size_t n) noexcept { std::allocator<T>{}.deallocate(p, n); }
    template <typename U>
    bool operator==(const counting_allocator<U>&) const noexcept {
        return true;
    }
};

} // namespace

TEST_CASE("classic strings, bytes and arrays use int16/int32 lengths with -1 for null", "[wire_primitives]") {
    CHECK(written([](byte_writer& w) { write_string(w, "abc"); }) == "0003616263");
    CHECK(written([](byte_writer& w) { write_nullable_string(w, std::nullopt); }) == "ffff");
    CHECK(written([](byte_writer& w) { write_string(w, ""); }) == "0000");
    CHECK(written([](byte_writer& w) { write_bytes(w, as_bytes("xy")); }) == "000000027879");
    CHECK(written([](byte_writer& w) { write_nullable_bytes(w, std::nullopt); }) == "ffffffff");
    CHECK(written([](byte_writer& w) { write_array_count(w, 3); }) == "00000003");
    CHECK(written([](byte_writer& w) { write_null_array(w); }) == "ffffffff");
    CHECK(written([](byte_writer& w) { write_bool(w, true); }) == "01");

    const auto in = from_hex("0003616263 ffff 0000 000000027879 ffffffff 02");
    byte_reader r(bytes_view{in});
    CHECK(read_string(r) == "abc");
    CHECK_FALSE(read_nullable_string(r).has_value());
    CHECK(read_nullable_string(r) == std::optional<std::string_view>(""));
    CHECK(as_string_view(read_bytes(r)) == "xy");
    CHECK_FALSE(read_nullable_bytes(r).has_value());
    CHECK(read_bool(r)); // any non-zero byte is true, as in Kafka
    CHECK(r.ok());
    CHECK(r.at_end());
}

TEST_CASE("null or negative lengths are rejected where the field is not nullable", "[wire_primitives]") {
    for (const char* h : {"ffff", "fffe", "8000"}) {
        const auto in = from_hex(h);
        byte_reader r(bytes_view{in});
        (void)read_string(r);
        CHECK_FALSE(r.ok());
    }
    for (const char* h : {"fffe", "8000"}) {
        const auto in = from_hex(h);
        byte_reader r(bytes_view{in});
        CHECK_FALSE(read_nullable_string(r).has_value());
        CHECK_FALSE(r.ok());
    }
    for (const char* h : {"ffffffff", "fffffffe", "80000000"}) {
        const auto in = from_hex(h);
        byte_reader r(bytes_view{in});
        (void)read_bytes(r);
        CHECK_FALSE(r.ok());
    }
    const auto in = from_hex("fffffffe");
    byte_reader r(bytes_view{in});
    CHECK_FALSE(read_nullable_bytes(r).has_value());
    CHECK_FALSE(r.ok());
}

TEST_CASE("compact forms encode length plus one as an unsigned varint with 0 for null", "[wire_primitives]") {
    CHECK(written([](byte_writer& w) { write_compact_string(w, "abc"); }) == "04616263");
    CHECK(written([](byte_writer& w) { write_compact_nullable_string(w, std::nullopt); }) == "00");
    CHECK(written([](byte_writer& w) { write_compact_string(w, ""); }) == "01");
    CHECK(written([](byte_writer& w) { write_compact_bytes(w, as_bytes("xy")); }) == "037879");
    CHECK(written([](byte_writer& w) { write_compact_array_count(w, 0); }) == "01");
    CHECK(written([](byte_writer& w) { write_compact_array_count(w, 200); }) == "c901");
    CHECK(written([](byte_writer& w) { write_compact_null_array(w); }) == "00");
    CHECK(written([](byte_writer& w) { write_empty_tagged_fields(w); }) == "00");
    const std::string long_name(300, 'n');
    CHECK(written([&](byte_writer& w) { write_compact_string(w, long_name); }).substr(0, 4) == "ad02");

    const auto in = from_hex("04616263 00 01 037879 00 c901");
    byte_reader r(bytes_view{in});
    CHECK(read_compact_string(r) == "abc");
    CHECK_FALSE(read_compact_nullable_string(r).has_value());
    CHECK(read_compact_nullable_string(r) == std::optional<std::string_view>(""));
    CHECK(as_string_view(read_compact_bytes(r)) == "xy");
    CHECK_FALSE(read_compact_nullable_bytes(r).has_value());
    CHECK(r.ok());
    // 200 elements cannot fit in the 0 bytes left.
    CHECK(read_compact_array_count(r, 1) == -1);
    CHECK_FALSE(r.ok());
}

TEST_CASE("a compact string that is null where the field is not nullable fails", "[wire_primitives]") {
    const auto in = from_hex("00");
    byte_reader r(bytes_view{in});
    (void)read_compact_string(r);
    CHECK_FALSE(r.ok());
}

TEST_CASE("unsigned varints longer than five bytes or above 32 bits are rejected", "[wire_primitives]") {
    {
        const auto in = from_hex("ffffffff0f");
        byte_reader r(bytes_view{in});
        CHECK(read_uvarint32(r) == 0xffffffffu);
        CHECK(r.ok());
    }
    for (const char* h : {"ffffffff1f", "ffffffffff01", "ff", "80808080"}) {
        const auto in = from_hex(h);
        byte_reader r(bytes_view{in});
        (void)read_uvarint32(r);
        CHECK_FALSE(r.ok());
    }
}

TEST_CASE("tagged-field sections hand over known tags and skip unknown ones", "[wire_primitives]") {
    // Three fields: tag 0 (2 bytes), tag 5 (0 bytes), tag 300 (1 byte), then a trailing int8.
    const auto in = from_hex("03 00 02 abcd 05 00 ac02 01 ee 7f");
    byte_reader r(bytes_view{in});
    std::vector<std::pair<std::uint32_t, std::string>> seen;
    read_tagged_fields(r, [&](std::uint32_t tag, bytes_view data) { seen.emplace_back(tag, hex(data)); });
    REQUIRE(r.ok());
    REQUIRE(seen.size() == 3);
    CHECK(seen[0] == std::pair<std::uint32_t, std::string>{0, "abcd"});
    CHECK(seen[1] == std::pair<std::uint32_t, std::string>{5, ""});
    CHECK(seen[2] == std::pair<std::uint32_t, std::string>{300, "ee"});
    CHECK(r.i8() == 0x7f);

    byte_reader skip(bytes_view{in});
    skip_tagged_fields(skip);
    CHECK(skip.i8() == 0x7f);
    CHECK(skip.at_end());
}

TEST_CASE("tagged-field sections that overrun their bytes fail", "[wire_primitives]") {
    for (const char* h : {"01 00 05 abcd", "02 00 00", "ffffffff0f 00 00", "01 00"}) {
        const auto in = from_hex(h);
        byte_reader r(bytes_view{in});
        skip_tagged_fields(r);
        CHECK_FALSE(r.ok());
    }
}

TEST_CASE("uuids are sixteen raw bytes", "[wire_primitives]") {
    uuid u;
    for (std::size_t i = 0; i < 16; ++i) u.bytes[i] = static_cast<std::byte>(i * 17);
    byte_buffer b;
    byte_writer w(b);
    write_uuid(w, u);
    CHECK(hex(b.view()) == "00112233445566778899aabbccddeeff");
    byte_reader r(b.view());
    CHECK(read_uuid(r) == u);
    byte_reader short_r(b.view().first(15));
    (void)read_uuid(short_r);
    CHECK_FALSE(short_r.ok());
}

TEST_CASE("encoder and decoder switch every field form with the flexible flag", "[wire_primitives]") {
    for (bool flexible : {false, true}) {
        byte_buffer b;
        byte_writer w(b);
        encoder e(w, flexible);
        e.string("topic");
        e.nullable_string(std::nullopt);
        e.bytes(as_bytes("payload"));
        e.nullable_bytes(std::nullopt);
        const std::vector<std::int32_t> xs{1, 2, 3};
        e.array(xs, [](encoder& e2, std::int32_t x) { e2.i32(x); });
        e.nullable_array(std::optional<std::vector<std::int32_t>>{}, [](encoder& e2, std::int32_t x) { e2.i32(x); });
        e.tagged_fields();
        e.i64(-5);

        byte_reader r(b.view());
        decoder d(r, flexible);
        CHECK(d.string() == "topic");
        CHECK_FALSE(d.nullable_string());
        CHECK(as_string_view(d.bytes()) == "payload");
        CHECK_FALSE(d.nullable_bytes());
        std::vector<std::int32_t> ys;
        d.array(ys, 4, [](decoder& d2, std::int32_t& y) { y = d2.i32(); });
        CHECK(ys == xs);
        std::optional<std::vector<std::int32_t>> none;
        d.nullable_array(none, 4, [](decoder& d2, std::int32_t& y) { y = d2.i32(); });
        CHECK_FALSE(none);
        d.tagged_fields();
        CHECK(d.i64() == -5);
        CHECK(d.ok());
        CHECK(r.at_end());
        // Flexible: 6+1+8+1+1+12+1+1+8 bytes; classic: 7+2+11+4+4+12+4+0+8.
        CHECK(b.size() == (flexible ? 39u : 52u));
    }
}

TEST_CASE("absurd array counts fail before anything is allocated", "[wire_primitives]") {
    using vec = std::vector<std::int64_t, counting_allocator<std::int64_t>>;
    // Classic count 0x7fffffff and compact count 2^32-2, each followed by 16 bytes.
    for (const char* h : {"7fffffff 00000000000000000000000000000000", "ffffffff0f 00000000000000000000000000000000"}) {
        const bool flexible = std::string(h).rfind("7f", 0) != 0;
        const auto in = from_hex(h);
        byte_reader r(bytes_view{in});
        decoder d(r, flexible);
        allocation_log::largest = 0;
        allocation_log::calls = 0;
        vec out;
        d.array(out, 8, [](decoder& d2, std::int64_t& x) { x = d2.i64(); });
        CHECK_FALSE(d.ok());
        CHECK(allocation_log::calls == 0);
        CHECK(out.empty());
    }
    {
        // 3 elements of 8 bytes need 24 bytes; 16 remain.
        const auto in = from_hex("00000003 00000000000000000000000000000000");
        byte_reader r(bytes_view{in});
        CHECK(read_array_count(r, 8) == -1);
        CHECK_FALSE(r.ok());
    }
}

TEST_CASE("a plausible count with bad elements reserves at most a bounded amount", "[wire_primitives]") {
    // One million 1-byte-minimum string elements claimed, backed by one million bytes that start
    // with an invalid (negative) string length: the count passes the size check but decoding
    // stops at the first element, and the up-front reservation stays capped.
    std::vector<std::byte> in(4 + 1000000, std::byte{0xff});
    store_be<std::int32_t>(in.data(), 1000000);
    byte_reader r(bytes_view{in});
    decoder d(r, false);
    using vec = std::vector<std::string_view, counting_allocator<std::string_view>>;
    allocation_log::largest = 0;
    vec out;
    d.array(out, 1, [](decoder& d2, std::string_view& s) { s = d2.string(); });
    CHECK_FALSE(d.ok());
    CHECK(allocation_log::largest <= 1024 * sizeof(std::string_view));
}

TEST_CASE("a null array where the schema forbids null fails", "[wire_primitives]") {
    const auto in = from_hex("ffffffff");
    byte_reader r(bytes_view{in});
    decoder d(r, false);
    std::vector<std::int32_t> out;
    d.array(out, 4, [](decoder& d2, std::int32_t& x) { x = d2.i32(); });
    CHECK_FALSE(d.ok());
}

TEST_CASE("strings too long for a classic field are refused at encode", "[wire_primitives]") {
    const std::string big(40000, 'x');
    byte_buffer b;
    byte_writer w(b);
    CHECK_THROWS_AS(write_string(w, big), std::length_error);
    encoder flex(w, true);
    CHECK_NOTHROW(flex.string(big));
}

TEST_CASE("gaps split an encoded buffer into inline pieces and external inserts in order", "[wire_primitives]") {
    byte_buffer b;
    byte_writer w(b);
    encoder e(w, false);
    gap_list gaps;
    e.i8(1);
    e.external({5, 42}, gaps);
    e.i8(2);
    e.external({3, 43}, gaps);
    REQUIRE(gaps.size() == 2);
    CHECK(gaps[0].position == 5);
    CHECK(gaps[0].size == 5);
    CHECK(gaps[0].cookie == 42);
    CHECK(gaps[1].position == 10);
    CHECK(external_size(gaps) == 8);
    std::string order;
    for_each_piece(
        b.view(), gaps, [&](bytes_view p) { order += "b" + std::to_string(p.size()); },
        [&](const records_gap& g) { order += "g" + std::to_string(g.cookie); });
    CHECK(order == "b5g42b5g43");
    CHECK(hex(b.view()) == "01"
                           "00000005"
                           "02"
                           "00000003");
}

namespace {
// A struct described once for every IO, as messages are (primitives.hpp, "Field descriptions").
struct described {
    gregor::node_id node{-1};
    gregor::error_code error = gregor::error_code::none;
    std::int64_t value = 0;
    std::string_view name;                         // nullable where the "version" is >= 2
    std::optional<std::vector<std::int32_t>> list; // null travels as empty at "version" 0
    std::int32_t tagged = -1;                      // tag 3, default -1

    template <typename IO, typename Self>
    static void fields(IO& io, Self& m) {
        io.i32(m.node);
        io.i16(m.error);
        io.i64(m.value);
        io.string_or_null(m.name, io.version() >= 2);
        if (io.version() == 0)
            io.null_as_empty_array(m.list, [](auto& io2, auto& x) { io2.i32(x); });
        else
            io.nullable_array(m.list, [](auto& io2, auto& x) { io2.i32(x); });
        io.tagged_fields(tag(3, m.tagged != -1, [&](auto& t) { t.i32(m.tagged); }));
    }
};

std::vector<std::byte> encode_described(const described& m, bool flexible, std::int16_t version) {
    byte_buffer b;
    byte_writer w(b);
    encoder e(w, flexible, version);
    described::fields(e, m);
    return {b.view().begin(), b.view().end()};
}

std::optional<described> decode_described(const std::vector<std::byte>& in, bool flexible, std::int16_t version) {
    byte_reader r(bytes_view{in});
    decoder d(r, flexible, version);
    described m;
    described::fields(d, m);
    if (!d.ok() || !r.at_end()) return std::nullopt;
    return m;
}
} // namespace

TEST_CASE("one field description reads, writes and measures", "[wire_primitives]") {
    described m;
    m.node = gregor::node_id{7};
    m.error = gregor::error_code::not_leader_or_follower;
    m.value = -2;
    m.name = "n";
    m.list = std::vector<std::int32_t>{1, 2};
    m.tagged = 9;
    const auto flex = encode_described(m, true, 2);
    CHECK(hex(bytes_view{flex}) == "00000007"
                                   "0006"
                                   "fffffffffffffffe"
                                   "026e"
                                   "03"
                                   "00000001"
                                   "00000002"
                                   "01"
                                   "03"
                                   "04"
                                   "00000009");
    const auto d = decode_described(flex, true, 2);
    REQUIRE(d);
    CHECK(d->node == gregor::node_id{7});
    CHECK(d->error == gregor::error_code::not_leader_or_follower);
    CHECK(d->name == "n");
    CHECK(d->list == std::optional<std::vector<std::int32_t>>(std::vector<std::int32_t>{1, 2}));
    CHECK(d->tagged == 9);
    // The sizer agrees with the encoder.
    byte_counter n;
    sizer s(n, true, 2);
    described::fields(s, m);
    CHECK(n.position() == flex.size());

    // Null name and null list where the version allows them; defaults leave the tag out.
    described nulls;
    CHECK(hex(bytes_view{encode_described(nulls, true, 2)}) == "ffffffff"
                                                               "0000"
                                                               "0000000000000000"
                                                               "00"
                                                               "00"
                                                               "00");
    CHECK(hex(bytes_view{encode_described(nulls, false, 1)}) == "ffffffff"
                                                                "0000"
                                                                "0000000000000000"
                                                                "0000"
                                                                "ffffffff");
    const auto dn = decode_described(encode_described(nulls, true, 2), true, 2);
    REQUIRE(dn);
    CHECK(dn->name.data() == nullptr);
    CHECK_FALSE(dn->list);
    // "Version" 0: the null list is an empty array and reads back as null.
    CHECK(hex(bytes_view{encode_described(nulls, false, 0)}) == "ffffffff"
                                                                "0000"
                                                                "0000000000000000"
                                                                "0000"
                                                                "00000000");
    const auto d0 = decode_described(encode_described(nulls, false, 0), false, 0);
    REQUIRE(d0);
    CHECK_FALSE(d0->list);
    // Unknown tags are skipped; a known tag with the wrong size fails.
    CHECK(decode_described(from_hex("ffffffff 0000 0000000000000000 00 00 02 01 01 ff 03 04 00000005"), true, 2)
              ->tagged == 5);
    CHECK_FALSE(decode_described(from_hex("ffffffff 0000 0000000000000000 00 00 01 03 05 00000005 ff"), true, 2));
}
