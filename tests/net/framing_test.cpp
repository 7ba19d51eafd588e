#include "net_test_util.hpp"

#include <gregor/net/framing.hpp>

#include <catch2/catch.hpp>

#include <cstring>
#include <vector>

using namespace gregor;
using namespace gregor::net;
using namespace gregor::net::testing;

namespace {
void feed(frame_reader& r, bytes_view b) {
    while (!b.empty()) {
        auto space = r.prepare();
        const auto n = std::min(space.size(), b.size());
        std::memcpy(space.data(), b.data(), n);
        r.commit(n);
        b = b.subspan(n);
    }
}
byte_buffer body_of(std::size_t n, std::uint8_t seed) {
    byte_buffer b(n);
    auto* p = b.grow(n);
    for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<std::byte>(seed + i);
    return b;
}
} // namespace

TEST_CASE("frames arriving one byte at a time come out whole and in order", "[framing]") {
    std::vector<byte_buffer> bodies;
    byte_buffer stream;
    for (std::size_t i = 0; i < 50; ++i) {
        bodies.push_back(body_of(i * 37 % 300, static_cast<std::uint8_t>(i)));
        stream.append(make_frame(bodies.back().view()).view());
    }
    frame_reader r(1 << 20, 64);
    std::vector<byte_buffer> got;
    for (std::size_t i = 0; i < stream.size(); ++i) {
        auto space = r.prepare();
        REQUIRE(!space.empty());
        space[0] = stream[i];
        r.commit(1);
        bytes_view f;
        frame_status st;
        while ((st = r.next(f)) == frame_status::frame) got.emplace_back(f);
        REQUIRE(st == frame_status::need_more);
    }
    REQUIRE(got.size() == bodies.size());
    for (std::size_t i = 0; i < got.size(); ++i) CHECK(same_bytes(got[i].view(), bodies[i].view()));
    CHECK(r.buffered() == 0);
}

TEST_CASE("many pipelined small frames are cut from one read without copying", "[framing]") {
    byte_buffer stream;
    for (std::uint32_t i = 0; i < 1000; ++i) stream.append(make_frame(u32_frame(i).view()).view());
    frame_reader r;
    auto space = r.prepare();
    REQUIRE(space.size() >= stream.size()); // the default chunk takes them all
    std::memcpy(space.data(), stream.data(), stream.size());
    r.commit(stream.size());
    bytes_view f;
    std::uint32_t expect = 0;
    while (r.next(f) == frame_status::frame) {
        CHECK(f.data() >= space.data());
        CHECK(f.data() < space.data() + space.size());
        CHECK(u32_of(f) == expect++);
    }
    CHECK(expect == 1000);
}

TEST_CASE("a negative or oversized size is rejected before anything is allocated", "[framing]") {
    frame_reader r(1000, 64);
    SECTION("negative") {
        std::byte hdr[4];
        write_frame_header(hdr, -5);
        feed(r, {hdr, 4});
        const auto cap = r.capacity();
        bytes_view f;
        CHECK(r.next(f) == frame_status::negative_size);
        CHECK(r.has_frame());
        CHECK(r.capacity() == cap);
    }
    SECTION("over the limit") {
        std::byte hdr[4];
        write_frame_header(hdr, 0x7fffffff);
        feed(r, {hdr, 4});
        const auto cap = r.capacity();
        bytes_view f;
        CHECK(r.next(f) == frame_status::too_large);
        CHECK(r.capacity() == cap);
        CHECK(cap < 1000);
    }
    SECTION("exactly the limit is fine") {
        const auto body = body_of(1000, 3);
        feed(r, make_frame(body.view()).view());
        bytes_view f;
        REQUIRE(r.next(f) == frame_status::frame);
        CHECK(same_bytes(f, body.view()));
    }
}

TEST_CASE("a frame larger than the read chunk gets one buffer of its size, released afterwards", "[framing]") {
    frame_reader r(1 << 24, 4096);
    const auto body = body_of(1 << 20, 9);
    const auto frame = make_frame(body.view());
    // The header first: the reader learns the size and sizes its buffer to the frame.
    feed(r, frame.view().first(4));
    bytes_view f;
    REQUIRE(r.next(f) == frame_status::need_more);
    auto space = r.prepare();
    CHECK(space.size() == body.size());
    feed(r, frame.view().subspan(4));
    REQUIRE(r.next(f) == frame_status::frame);
    CHECK(same_bytes(f, body.view()));
    REQUIRE(r.next(f) == frame_status::need_more);
    (void)r.prepare();
    CHECK(r.capacity() < 64 * 1024); // the big buffer was given back
    // A zero-size frame is legal framing (the handler decides what it means).
    feed(r, make_frame({}).view());
    REQUIRE(r.next(f) == frame_status::frame);
    CHECK(f.empty());
}
