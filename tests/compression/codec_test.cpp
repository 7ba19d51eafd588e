// The codec layer against the verified vectors of docs/protocol.md §18 (what Java and librdkafka
// write), round trips, and the hostile-input contract: every malformed, truncated or oversized
// stream ends in an error code, with the output buffer untouched and never allocated past its budget.
// Codecs missing from the build are checked to answer "unsupported" instead.
#include "../wire/batch_vectors.hpp"
#include <gregor/compression/codec.hpp>
#include <gregor/wire/record_batch.hpp>

#include <catch2/catch.hpp>

#include <cctype>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#if GREGOR_HAS_ZLIB
#include <zlib.h>
#endif
#if GREGOR_HAS_SNAPPY
#include <snappy-c.h>
#endif
#if GREGOR_HAS_LZ4
#include <lz4frame.h>
#endif
#if GREGOR_HAS_ZSTD
#include <zstd.h>
#endif

using namespace gregor;
namespace gc = gregor::compression;
using gc::codec;

using test::from_hex;

namespace {

std::vector<std::byte> to_vec(bytes_view b) { return {b.begin(), b.end()}; }
[[maybe_unused]] std::vector<std::byte> cat(std::initializer_list<bytes_view> parts) {
    std::vector<std::byte> out;
    for (auto p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

const std::error_code corrupt = make_error_code(error_code::corrupt_message);
const std::error_code too_large = make_error_code(error_code::record_list_too_large);
const std::error_code unsupported_type = make_error_code(error_code::unsupported_compression_type);
const std::error_code unsupported = make_error_code(local_error::unsupported);
const std::error_code invalid_argument = make_error_code(local_error::invalid_argument);

constexpr codec all_codecs[] = {codec::gzip, codec::snappy, codec::lz4, codec::zstd};
constexpr std::size_t mib = std::size_t{1} << 20;

// The records of the §2.7 reference batch (key "k", value "v", header h1="x") and that record
// compressed as each writer does.
const auto records14 = from_hex("1a 00 00 00 02 6b 02 76 02 04 68 31 02 78");
const auto gzip_vec = from_hex("1f8b08000000000000039362606060ca662a6362c93064aa0000147efb7d0e000000");
const auto xerial_vec = from_hex("82534e41505059000000000100000001 00000010 0e341a000000026b0276020468310278");
const auto snappy_raw_vec = from_hex("0e341a000000026b0276020468310278");
const auto lz4_vec = from_hex("04224d186040820e0000801a000000026b027602046831027800000000");
const auto lz4_checksums_vec =
    from_hex("04224d187c400e00000000000000c20e0000801a000000026b027602046831027839d0483100000000"
             "39d04831");
const auto zstd_vec = from_hex("28b52ffd00007100001a000000026b0276020468310278");
const auto gzip_batch = from_hex("000000000000000000000053ffffffff020eedbf120001000000000000018bcfe568000000018bcfe568"
                                 "00ffffffffffffffffffffffffffff000000011f8b08000000000000039362606060ca662a6362c930"
                                 "64aa0000147efb7d0e000000");

/// Deterministic, realistic text (JSON log lines of words and numbers): compressible like real
/// payloads, unlike one repeated byte.
std::string text(std::size_t n, std::uint32_t seed = 1) {
    static constexpr std::string_view words[] = {
        "broker", "partition", "offset", "leader", "replica", "segment", "producer", "consumer", "epoch",  "fetch",
        "commit", "abort",     "topic",  "record", "batch",   "index",   "snapshot", "group",    "member", "timeout"};
    std::uint32_t x = seed;
    auto next = [&] {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        return x;
    };
    std::string s;
    s.reserve(n + 256);
    while (s.size() < n) {
        s += R"({"ts":)" + std::to_string(1700000000000 + next() % 100000) + R"(,"level":")" +
             (next() % 4 ? "info" : "warn") + R"(","msg":")";
        for (std::uint32_t i = 0, k = 3 + next() % 8; i < k; ++i) {
            s += words[next() % std::size(words)];
            s += i + 1 < k ? " " : "";
        }
        s += R"(","id":)" + std::to_string(next()) + "}\n";
    }
    s.resize(n);
    return s;
}

/// The §2.7 reference batch, uncompressed (75 bytes, CRC d2151133).
byte_buffer plain_batch() {
    wire::batch_builder b;
    const wire::record_header h{"h1", as_bytes("x")};
    b.append(1700000000000, as_bytes("k"), as_bytes("v"), std::span(&h, 1));
    return b.seal();
}

/// The reference batch with its records replaced by `payload` and the attributes, length and CRC
/// fixed, as each writer sends it.
byte_buffer batch_with(codec c, bytes_view payload) {
    namespace L = wire::batch_layout;
    const auto plain = plain_batch();
    byte_buffer b;
    b.append(plain.view().first(L::header_size));
    b.append(payload);
    store_be<std::int32_t>(b.data() + L::batch_length, static_cast<std::int32_t>(b.size() - L::log_overhead));
    store_be<std::int16_t>(b.data() + L::attributes, static_cast<std::int16_t>(c));
    wire::reseal_crc(b.mutable_view());
    return b;
}

std::uint32_t crc_of(bytes_view batch) { return load_be<std::uint32_t>(batch.data() + wire::batch_layout::crc); }

struct xorshift {
    std::uint64_t s;
    std::uint64_t next() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        return s;
    }
};

/// Decompresses into a fresh buffer; returns the error and leaves the output in `out`.
std::error_code dec(codec c, bytes_view in, byte_buffer& out, std::size_t max_out = 64 * mib) {
    return gc::decompress(c, in, out, max_out);
}

std::vector<int> levels_for(codec c) {
    switch (c) {
    case codec::gzip: return {-1, 1, 6, 9};
    case codec::lz4: return {1, 9, 17};
    case codec::zstd: return {-5, 1, 3, 19};
    default: return {gc::default_level(c)};
    }
}

} // namespace

TEST_CASE("codec names, Kafka's compression.type names, levels and availability", "[compression]") {
    CHECK(gc::name(codec::none) == "none");
    CHECK(gc::name(codec::gzip) == "gzip");
    CHECK(gc::name(codec::snappy) == "snappy");
    CHECK(gc::name(codec::lz4) == "lz4");
    CHECK(gc::name(codec::zstd) == "zstd");
    for (int id = 5; id <= 7; ++id) CHECK(gc::name(static_cast<codec>(id)) == "unknown");
    for (auto c : {codec::none, codec::gzip, codec::snappy, codec::lz4, codec::zstd})
        CHECK(gc::parse(gc::name(c)) == c);
    CHECK_FALSE(gc::parse("GZIP"));
    CHECK_FALSE(gc::parse("producer"));
    CHECK_FALSE(gc::parse("uncompressed"));
    CHECK_FALSE(gc::parse(""));
    CHECK_FALSE(gc::parse("unknown"));

    CHECK(gc::default_level(codec::gzip) == -1);
    CHECK(gc::default_level(codec::lz4) == 9);
    CHECK(gc::default_level(codec::zstd) == 3);
    for (auto c : {codec::none, codec::gzip, codec::snappy, codec::lz4, codec::zstd})
        CHECK(gc::valid_level(c, gc::default_level(c)));
    CHECK(gc::valid_level(codec::gzip, 1));
    CHECK(gc::valid_level(codec::gzip, 9));
    CHECK_FALSE(gc::valid_level(codec::gzip, 0));
    CHECK_FALSE(gc::valid_level(codec::gzip, 10));
    CHECK_FALSE(gc::valid_level(codec::gzip, -2));
    CHECK(gc::valid_level(codec::lz4, 1));
    CHECK(gc::valid_level(codec::lz4, 17));
    CHECK_FALSE(gc::valid_level(codec::lz4, 0));
    CHECK_FALSE(gc::valid_level(codec::lz4, 18));
    CHECK(gc::valid_level(codec::zstd, 22));
    CHECK(gc::valid_level(codec::zstd, -131072));
    CHECK_FALSE(gc::valid_level(codec::zstd, 23));
    CHECK_FALSE(gc::valid_level(codec::zstd, -131073));
    CHECK(gc::valid_level(codec::snappy, 12345)); // no level: ignored
    CHECK_FALSE(gc::valid_level(static_cast<codec>(5), 0));

    static_assert(gc::available(codec::none));
    static_assert(!gc::available(static_cast<codec>(5)) && !gc::available(static_cast<codec>(7)));
    CHECK(gc::available(codec::gzip) == (GREGOR_HAS_ZLIB != 0));
    CHECK(gc::available(codec::snappy) == (GREGOR_HAS_SNAPPY != 0));
    CHECK(gc::available(codec::lz4) == (GREGOR_HAS_LZ4 != 0));
    CHECK(gc::available(codec::zstd) == (GREGOR_HAS_ZSTD != 0));
}

TEST_CASE("the verified vectors decode to the reference records", "[compression]") {
    const std::pair<codec, const std::vector<std::byte>*> vectors[] = {
        {codec::gzip, &gzip_vec}, {codec::snappy, &xerial_vec},     {codec::snappy, &snappy_raw_vec},
        {codec::lz4, &lz4_vec},   {codec::lz4, &lz4_checksums_vec}, {codec::zstd, &zstd_vec}};
    for (const auto& [c, v] : vectors) {
        CAPTURE(gc::name(c), v->size());
        byte_buffer out;
        const auto ec = dec(c, *v, out);
        if (gc::available(c)) {
            REQUIRE_FALSE(ec);
            CHECK(to_vec(out.view()) == records14);
            // exactly the content size is within the budget, one byte less is not
            byte_buffer exact;
            CHECK_FALSE(gc::decompress(c, *v, exact, records14.size()));
            byte_buffer tight;
            CHECK(gc::decompress(c, *v, tight, records14.size() - 1) == too_large);
            CHECK(tight.empty());
        } else {
            CHECK(ec == unsupported_type);
        }
    }
}

TEST_CASE("whole batches carry the verified sizes and CRCs", "[compression]") {
    const auto plain = plain_batch();
    REQUIRE(plain.size() == 75);
    CHECK(crc_of(plain.view()) == 0xd2151133u);
    CHECK(wire::compute_batch_crc(plain.view()) == 0xd2151133u);

    struct row {
        codec c;
        const std::vector<std::byte>* payload;
        std::size_t size;
        std::uint32_t crc;
    };
    const row rows[] = {{codec::gzip, &gzip_vec, 95, 0x0eedbf12u},
                        {codec::snappy, &xerial_vec, 97, 0x98c2ae9au},
                        {codec::snappy, &snappy_raw_vec, 77, 0xf92df134u},
                        {codec::lz4, &lz4_vec, 90, 0xc8680586u},
                        {codec::zstd, &zstd_vec, 84, 0x9b27d100u}};
    for (const auto& r : rows) {
        CAPTURE(gc::name(r.c), r.size);
        const auto b = batch_with(r.c, *r.payload);
        CHECK(b.size() == r.size);
        CHECK(crc_of(b.view()) == r.crc);
        CHECK(wire::compute_batch_crc(b.view()) == r.crc);
        CHECK(wire::validate(b.view()) == wire::batch_error::none);
        if (r.c == codec::gzip) CHECK(to_vec(b.view()) == gzip_batch);
        byte_buffer out;
        const auto ec = gc::decompress_records(b.view(), out, mib);
        if (gc::available(r.c)) {
            REQUIRE_FALSE(ec);
            CHECK(to_vec(out.view()) == records14);
        } else {
            CHECK(ec == unsupported_type);
        }
    }

    // An uncompressed batch yields its records as they are.
    byte_buffer out;
    REQUIRE_FALSE(gc::decompress_records(plain.view(), out, mib));
    CHECK(to_vec(out.view()) == records14);
}

TEST_CASE("compress_batch compresses the records in place and fixes length, attributes and CRC", "[compression]") {
    namespace L = wire::batch_layout;
    const auto plain = plain_batch();
    for (auto c : all_codecs) {
        CAPTURE(gc::name(c));
        auto b = plain;
        const auto ec = gc::compress_batch(b, c, gc::default_level(c));
        if (!gc::available(c)) {
            CHECK(ec == unsupported);
            CHECK(to_vec(b.view()) == to_vec(plain.view()));
            continue;
        }
        REQUIRE_FALSE(ec);
        const auto h = wire::batch_header::parse(b.view());
        REQUIRE(h);
        CHECK(h->compression() == c);
        CHECK(h->total_size() == b.size());
        CHECK(h->crc == wire::compute_batch_crc(b.view()));
        CHECK(wire::validate(b.view()) == wire::batch_error::none);
        // every other header byte is the producer's
        CHECK(to_vec(b.view().subspan(L::last_offset_delta, L::header_size - L::last_offset_delta)) ==
              to_vec(plain.view().subspan(L::last_offset_delta, L::header_size - L::last_offset_delta)));
        CHECK(to_vec(b.view().first(L::batch_length)) == to_vec(plain.view().first(L::batch_length)));
        byte_buffer out;
        REQUIRE_FALSE(gc::decompress_records(b.view(), out, mib));
        CHECK(to_vec(out.view()) == records14);
        // Snappy's output is what Java writes, byte for byte: the verified 97-byte batch.
        if (c == codec::snappy) {
            CHECK(b.size() == 97);
            CHECK(crc_of(b.view()) == 0x98c2ae9au);
            CHECK(to_vec(b.view().subspan(L::header_size)) == xerial_vec);
        }
        // a compressed batch is not compressed again
        auto again = b;
        CHECK(gc::compress_batch(again, c, gc::default_level(c)) == invalid_argument);
        CHECK(to_vec(again.view()) == to_vec(b.view()));
    }
}

TEST_CASE("compress_batch leaves codec none and control batches alone and rejects bad input", "[compression]") {
    const auto plain = plain_batch();
    auto b = plain;
    REQUIRE_FALSE(gc::compress_batch(b, codec::none, 0));
    CHECK(to_vec(b.view()) == to_vec(plain.view()));

    const auto control =
        wire::build_control_batch(wire::control_type::commit, producer_id{7}, producer_epoch{1}, 3, 1700000000000);
    for (auto c : all_codecs) {
        if (!gc::available(c)) continue;
        auto cb = control;
        REQUIRE_FALSE(gc::compress_batch(cb, c, gc::default_level(c)));
        CHECK(to_vec(cb.view()) == to_vec(control.view()));
    }

    for (int id = 5; id <= 7; ++id) {
        auto x = plain;
        CHECK(gc::compress_batch(x, static_cast<codec>(id), 0) == unsupported);
        CHECK(to_vec(x.view()) == to_vec(plain.view()));
    }
    if (gc::available(codec::gzip)) {
        auto x = plain;
        CHECK(gc::compress_batch(x, codec::gzip, 0) == invalid_argument); // level 0 is not Kafka's
        CHECK(to_vec(x.view()) == to_vec(plain.view()));
        byte_buffer short_batch(plain.view().first(60));
        CHECK(gc::compress_batch(short_batch, codec::gzip, -1) == invalid_argument);
        byte_buffer longer(plain.view());
        longer.append(as_bytes("x"));
        CHECK(gc::compress_batch(longer, codec::gzip, -1) == invalid_argument);
    }

    // decompress_records wants exactly one v2 batch
    byte_buffer out;
    CHECK(gc::decompress_records(plain.view().first(60), out, mib) == corrupt);
    CHECK(gc::decompress_records(plain.view().first(74), out, mib) == corrupt);
    auto bad_magic = plain;
    bad_magic[wire::batch_layout::magic] = std::byte{1};
    CHECK(gc::decompress_records(bad_magic.view(), out, mib) == corrupt);
    CHECK(out.empty());
    CHECK(gc::decompress_records(plain.view(), out, 13) == too_large);
    CHECK(out.empty());
}

TEST_CASE("codec ids 5 to 7 are unsupported", "[compression]") {
    for (int id = 5; id <= 7; ++id) {
        const auto c = static_cast<codec>(id);
        byte_buffer out;
        CHECK(gc::decompress(c, gzip_vec, out, mib) == unsupported_type);
        CHECK(gc::compress(c, records14, out, 0) == unsupported);
        CHECK(out.empty());
        const auto b = batch_with(c, gzip_vec);
        CHECK(gc::decompress_records(b.view(), out, mib) == unsupported_type);
        CHECK(out.empty());
    }
    byte_buffer out;
    CHECK(gc::compress(codec::none, records14, out, 0) == unsupported);
    CHECK(out.empty());
    CHECK_FALSE(gc::decompress(codec::none, records14, out, 14));
    CHECK(to_vec(out.view()) == records14);
    CHECK(gc::decompress(codec::none, records14, out, 13) == too_large);
    CHECK(out.size() == 14);
}

TEST_CASE("a codec missing from the build answers unsupported", "[compression]") {
    // In a build with every codec this only checks that the flags agree; the build with
    // -Dzlib=disabled -Dsnappy=disabled -Dlz4=disabled -Dzstd=disabled exercises the rest.
    int missing = 0;
    for (auto c : all_codecs) {
        if (gc::available(c)) continue;
        ++missing;
        CAPTURE(gc::name(c));
        byte_buffer out;
        out.append(as_bytes("prefix"));
        CHECK(gc::compress(c, records14, out, gc::default_level(c)) == unsupported);
        CHECK(gc::decompress(c, gzip_vec, out, mib) == unsupported_type);
        CHECK(as_string_view(out.view()) == "prefix");
        auto b = plain_batch();
        CHECK(gc::compress_batch(b, c, gc::default_level(c)) == unsupported);
        CHECK(b.size() == 75);
        CHECK(gc::decompress_records(batch_with(c, zstd_vec).view(), out, mib) == unsupported_type);
    }
    CHECK(missing == (GREGOR_HAS_ZLIB ? 0 : 1) + (GREGOR_HAS_SNAPPY ? 0 : 1) + (GREGOR_HAS_LZ4 ? 0 : 1) +
                         (GREGOR_HAS_ZSTD ? 0 : 1));
}

TEST_CASE("realistic text round-trips through every codec at several sizes and levels", "[compression]") {
    const auto big = text(mib);
    for (auto c : all_codecs) {
        if (!gc::available(c)) continue;
        for (int level : levels_for(c)) {
            for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{100}, std::size_t{64 * 1024 + 1}, mib}) {
                CAPTURE(gc::name(c), level, n);
                const auto in = as_bytes(std::string_view(big).substr(0, n));
                byte_buffer z;
                z.append(as_bytes("keep")); // compress appends
                REQUIRE_FALSE(gc::compress(c, in, z, level));
                REQUIRE(as_string_view(z.view().first(4)) == "keep");
                const auto zs = z.view().subspan(4);
                if (n > 1000) CHECK(zs.size() < n);
                byte_buffer out;
                out.append(as_bytes("old")); // decompress appends
                REQUIRE_FALSE(gc::decompress(c, zs, out, n));
                REQUIRE(out.size() == 3 + n);
                CHECK(as_string_view(out.view().subspan(3)) == as_string_view(in));
                if (n > 0) {
                    byte_buffer tight;
                    CHECK(gc::decompress(c, zs, tight, n - 1) == too_large);
                    CHECK(tight.empty());
                }
            }
        }
    }
}

TEST_CASE("what gregor writes has Kafka's framing", "[compression]") {
    const auto t = text(200 * 1024, 7);
    const auto in = as_bytes(std::string_view(t));
    if (gc::available(codec::gzip)) {
        byte_buffer z;
        REQUIRE_FALSE(gc::compress(codec::gzip, in, z, -1));
        CHECK(to_vec(z.view().first(3)) == from_hex("1f8b08"));                       // one RFC 1952 member, deflate
        CHECK(load_be<std::uint32_t>(z.view().data() + z.size() - 4) == 0x00200300u); // ISIZE, little endian
    }
    if (gc::available(codec::snappy)) {
        byte_buffer z;
        REQUIRE_FALSE(gc::compress(codec::snappy, in, z, 0));
        CHECK(to_vec(z.view().first(16)) == to_vec(bytes_view(xerial_vec).first(16)));
        // blocks of 32 KiB of input, like snappy-java
        std::size_t pos = 16, blocks = 0;
        while (pos < z.size()) {
            pos += 4 + static_cast<std::size_t>(load_be<std::int32_t>(z.data() + pos));
            ++blocks;
        }
        CHECK(pos == z.size());
        CHECK(blocks == (in.size() + 32767) / 32768);
        byte_buffer empty;
        REQUIRE_FALSE(gc::compress(codec::snappy, {}, empty, 0));
        CHECK(to_vec(empty.view()) == to_vec(bytes_view(xerial_vec).first(16)));
    }
    if (gc::available(codec::lz4)) {
        byte_buffer z;
        REQUIRE_FALSE(gc::compress(codec::lz4, in, z, 9));
        CHECK(to_vec(z.view().first(4)) == from_hex("04224d18"));
        const auto flg = static_cast<unsigned>(z[4]);
        CHECK((flg >> 6) == 1);                     // version 01
        CHECK(((flg >> 5) & 1) == 1);               // independent blocks: Java rejects linked ones
        CHECK(static_cast<unsigned>(z[5]) == 0x40); // 64 KiB blocks
        // the small record gets exactly the header Java and librdkafka emit
        byte_buffer small;
        REQUIRE_FALSE(gc::compress(codec::lz4, records14, small, 9));
        CHECK(to_vec(small.view().first(7)) == from_hex("04224d18604082"));
    }
    if (gc::available(codec::zstd)) {
        byte_buffer z;
        REQUIRE_FALSE(gc::compress(codec::zstd, in, z, 3));
        CHECK(to_vec(z.view().first(4)) == from_hex("28b52ffd"));
    }
}

TEST_CASE("gzip: any header flags, concatenated members, no trailing garbage", "[compression]") {
#if GREGOR_HAS_ZLIB
    const auto a = text(5000, 1), b = text(3000, 2);
    byte_buffer za, zb;
    REQUIRE_FALSE(gc::compress(codec::gzip, as_bytes(a), za, -1));
    REQUIRE_FALSE(gc::compress(codec::gzip, as_bytes(b), zb, 9));
    const auto both = cat({za.view(), zb.view()});
    byte_buffer out;
    REQUIRE_FALSE(dec(codec::gzip, both, out));
    CHECK(as_string_view(out.view()) == a + b);
    const auto three = cat({za.view(), zb.view(), za.view()});
    out.clear();
    REQUIRE_FALSE(dec(codec::gzip, three, out));
    CHECK(as_string_view(out.view()) == a + b + a);

    for (auto garbage : {from_hex("00"), from_hex("1f"), from_hex("1f8b"), from_hex("deadbeef00000000000000000000")}) {
        out.clear();
        CHECK(dec(codec::gzip, cat({za.view(), garbage}), out) == corrupt);
        CHECK(out.empty());
    }
    // a corrupted trailer CRC is caught by zlib
    auto bad_crc = to_vec(za.view());
    bad_crc[bad_crc.size() - 8] ^= std::byte{1};
    CHECK(dec(codec::gzip, bad_crc, out) == corrupt);

    // A member with every optional header field (FTEXT, FEXTRA, FNAME, FCOMMENT, FHCRC).
    z_stream zs{};
    REQUIRE(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    unsigned char extra[] = {'g', 'r', 4, 0, 1, 2, 3, 4};
    char fname[] = "records.bin";
    char comment[] = "a comment";
    gz_header head{};
    head.text = 1;
    head.time = 1700000000;
    head.os = 3;
    head.extra = extra;
    head.extra_len = sizeof extra;
    head.name = reinterpret_cast<Bytef*>(fname);
    head.comment = reinterpret_cast<Bytef*>(comment);
    head.hcrc = 1;
    REQUIRE(deflateSetHeader(&zs, &head) == Z_OK);
    std::vector<unsigned char> buf(1000);
    std::vector<unsigned char> src(reinterpret_cast<const unsigned char*>(records14.data()),
                                   reinterpret_cast<const unsigned char*>(records14.data()) + records14.size());
    zs.next_in = src.data();
    zs.avail_in = static_cast<uInt>(src.size());
    zs.next_out = buf.data();
    zs.avail_out = static_cast<uInt>(buf.size());
    REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
    buf.resize(buf.size() - zs.avail_out);
    deflateEnd(&zs);
    CHECK(buf[3] == 0x1f); // FTEXT | FHCRC | FEXTRA | FNAME | FCOMMENT
    out.clear();
    REQUIRE_FALSE(
        dec(codec::gzip, as_bytes(std::string_view(reinterpret_cast<const char*>(buf.data()), buf.size())), out));
    CHECK(to_vec(out.view()) == records14);
#else
    byte_buffer out;
    CHECK(dec(codec::gzip, gzip_vec, out) == unsupported_type);
#endif
}

TEST_CASE("snappy: xerial with several blocks and repeated headers, and raw blocks", "[compression]") {
#if GREGOR_HAS_SNAPPY
    const auto header = bytes_view(xerial_vec).first(16);
    const auto block14 = bytes_view(xerial_vec).subspan(16); // length + raw block
    byte_buffer out;

    // the header repeated between blocks is skipped (snappy-java streams appended to each other)
    REQUIRE_FALSE(dec(codec::snappy, cat({header, block14, header, block14, block14}), out));
    CHECK(to_vec(out.view()) == cat({records14, records14, records14}));

    // blocks of any size, not only 32 KiB, as other writers choose theirs
    const auto t = text(300 * 1024, 3);
    std::vector<std::byte> stream(header.begin(), header.end());
    std::string expected;
    for (std::size_t pos = 0, n = 1; pos < t.size(); pos += n, n = n * 7 + 1000) {
        n = std::min(n, t.size() - pos);
        std::vector<char> raw(snappy_max_compressed_length(n));
        std::size_t len = raw.size();
        REQUIRE(snappy_compress(t.data() + pos, n, raw.data(), &len) == SNAPPY_OK);
        std::byte be[4];
        store_be<std::int32_t>(be, static_cast<std::int32_t>(len));
        stream.insert(stream.end(), be, be + 4);
        stream.insert(stream.end(), reinterpret_cast<std::byte*>(raw.data()),
                      reinterpret_cast<std::byte*>(raw.data()) + len);
        expected += t.substr(pos, n);
    }
    out.clear();
    REQUIRE_FALSE(dec(codec::snappy, stream, out));
    CHECK(as_string_view(out.view()) == expected);

    // gregor's own multi-block stream
    byte_buffer z;
    REQUIRE_FALSE(gc::compress(codec::snappy, as_bytes(t), z, 0));
    out.clear();
    REQUIRE_FALSE(dec(codec::snappy, z.view(), out));
    CHECK(as_string_view(out.view()) == t);

    // a header with no block is an empty stream (what snappy-java writes for no data)
    out.clear();
    REQUIRE_FALSE(dec(codec::snappy, header, out));
    CHECK(out.empty());

    // librdkafka: the whole payload is one raw block, of any size
    std::vector<char> raw(snappy_max_compressed_length(t.size()));
    std::size_t len = raw.size();
    REQUIRE(snappy_compress(t.data(), t.size(), raw.data(), &len) == SNAPPY_OK);
    out.clear();
    REQUIRE_FALSE(dec(codec::snappy, as_bytes(std::string_view(raw.data(), len)), out));
    CHECK(as_string_view(out.view()) == t);

    // malformed framing
    auto neg = cat({header, from_hex("80000000")});
    CHECK(dec(codec::snappy, neg, out) == corrupt);
    CHECK(dec(codec::snappy, cat({header, from_hex("00000011"), block14.subspan(4)}), out) == corrupt); // overruns
    CHECK(dec(codec::snappy, cat({header, from_hex("00000000")}), out) == corrupt);                     // empty block
    CHECK(dec(codec::snappy, cat({header, block14, from_hex("00")}), out) == corrupt);                  // trailing
    CHECK(dec(codec::snappy, cat({snappy_raw_vec, from_hex("00")}), out) == corrupt); // raw with trailing byte
#else
    byte_buffer out;
    CHECK(dec(codec::snappy, xerial_vec, out) == unsupported_type);
#endif
}

TEST_CASE("lz4: every frame flag, linked blocks, concatenated and skippable frames", "[compression]") {
#if GREGOR_HAS_LZ4
    byte_buffer out;
    REQUIRE_FALSE(dec(codec::lz4, lz4_checksums_vec, out));
    CHECK(to_vec(out.view()) == records14);

    // A content checksum that does not match is corrupt.
    auto bad = lz4_checksums_vec;
    bad[bad.size() - 1] ^= std::byte{1};
    out.clear();
    CHECK(dec(codec::lz4, bad, out) == corrupt);
    // So is a header checksum that does not (the byte after FLG/BD/content size).
    auto bad_hc = lz4_vec;
    bad_hc[6] ^= std::byte{1};
    CHECK(dec(codec::lz4, bad_hc, out) == corrupt);

    // Frames liblz4 writes with every flag combination and block size, linked blocks included.
    const auto t = text(300 * 1024, 5);
    for (int linked = 0; linked < 2; ++linked)
        for (int checks = 0; checks < 4; ++checks)
            for (auto bs : {LZ4F_max64KB, LZ4F_max256KB, LZ4F_max1MB, LZ4F_max4MB}) {
                CAPTURE(linked, checks, bs);
                LZ4F_preferences_t p{};
                p.frameInfo.blockMode = linked ? LZ4F_blockLinked : LZ4F_blockIndependent;
                p.frameInfo.blockSizeID = bs;
                p.frameInfo.contentChecksumFlag = (checks & 1) ? LZ4F_contentChecksumEnabled : LZ4F_noContentChecksum;
                p.frameInfo.blockChecksumFlag = (checks & 2) ? LZ4F_blockChecksumEnabled : LZ4F_noBlockChecksum;
                p.frameInfo.contentSize = (checks & 1) ? t.size() : 0;
                std::vector<char> f(LZ4F_compressFrameBound(t.size(), &p));
                const auto n = LZ4F_compressFrame(f.data(), f.size(), t.data(), t.size(), &p);
                REQUIRE_FALSE(LZ4F_isError(n));
                out.clear();
                REQUIRE_FALSE(dec(codec::lz4, as_bytes(std::string_view(f.data(), n)), out));
                CHECK(as_string_view(out.view()) == t);
            }

    // concatenated frames and a skippable frame (magic 0x184D2A50, little endian) among them
    byte_buffer za, zb;
    REQUIRE_FALSE(gc::compress(codec::lz4, as_bytes(t), za, 1));
    REQUIRE_FALSE(gc::compress(codec::lz4, records14, zb, 9));
    const auto skippable = from_hex("502a4d18 05000000 0102030405");
    out.clear();
    REQUIRE_FALSE(dec(codec::lz4, cat({za.view(), skippable, zb.view(), za.view()}), out));
    CHECK(as_string_view(out.view()) == t + std::string(as_string_view(records14)) + t);
    out.clear();
    CHECK(dec(codec::lz4, cat({zb.view(), from_hex("00")}), out) == corrupt);
    CHECK(dec(codec::lz4, cat({zb.view(), from_hex("04224d18")}), out) == corrupt);
    CHECK(out.empty());
#else
    byte_buffer out;
    CHECK(dec(codec::lz4, lz4_vec, out) == unsupported_type);
#endif
}

TEST_CASE("zstd: concatenated and skippable frames, content size optional, window limit", "[compression]") {
#if GREGOR_HAS_ZSTD
    const auto t = text(200 * 1024, 9);
    byte_buffer za, zb;
    REQUIRE_FALSE(gc::compress(codec::zstd, as_bytes(t), za, 3));
    REQUIRE_FALSE(gc::compress(codec::zstd, records14, zb, 1));
    const auto skippable = from_hex("532a4d18 03000000 aabbcc");
    byte_buffer out;
    REQUIRE_FALSE(dec(codec::zstd, cat({za.view(), zb.view()}), out));
    CHECK(as_string_view(out.view()) == t + std::string(as_string_view(records14)));
    out.clear();
    REQUIRE_FALSE(dec(codec::zstd, cat({skippable, zstd_vec, skippable, za.view(), skippable}), out));
    CHECK(as_string_view(out.view()) == std::string(as_string_view(records14)) + t);
    out.clear();
    REQUIRE_FALSE(dec(codec::zstd, skippable, out)); // nothing but a skippable frame: no content
    CHECK(out.empty());

    // a streamed frame without content size, with a checksum
    {
        const std::unique_ptr<ZSTD_CCtx, std::size_t (*)(ZSTD_CCtx*)> cctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
        ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_checksumFlag, 1);
        ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_contentSizeFlag, 0);
        std::vector<char> f(ZSTD_compressBound(t.size()) + 64);
        ZSTD_outBuffer ob{f.data(), f.size(), 0};
        ZSTD_inBuffer ib{t.data(), t.size(), 0};
        REQUIRE(ZSTD_compressStream2(cctx.get(), &ob, &ib, ZSTD_e_end) == 0);
        REQUIRE(ZSTD_getFrameContentSize(f.data(), ob.pos) == ZSTD_CONTENTSIZE_UNKNOWN);
        out.clear();
        REQUIRE_FALSE(dec(codec::zstd, as_bytes(std::string_view(f.data(), ob.pos)), out));
        CHECK(as_string_view(out.view()) == t);
        auto bad = to_vec(as_bytes(std::string_view(f.data(), ob.pos)));
        bad.back() ^= std::byte{1}; // the checksum
        out.clear();
        CHECK(dec(codec::zstd, bad, out) == corrupt);
    }

    // Window: 8 MiB is accepted, 16 MiB is not (one raw block holding "A").
    out.clear();
    REQUIRE_FALSE(dec(codec::zstd, from_hex("28b52ffd 00 68 090000 41"), out));
    CHECK(as_string_view(out.view()) == "A");
    out.clear();
    CHECK(dec(codec::zstd, from_hex("28b52ffd 00 70 090000 41"), out) == corrupt);
    CHECK(out.empty());

    // trailing garbage
    CHECK(dec(codec::zstd, cat({zstd_vec, from_hex("00")}), out) == corrupt);
    CHECK(dec(codec::zstd, cat({zstd_vec, from_hex("28b52ffd")}), out) == corrupt);
    CHECK(out.empty());
#else
    byte_buffer out;
    CHECK(dec(codec::zstd, zstd_vec, out) == unsupported_type);
#endif
}

TEST_CASE("zstd: gregor's frames stay within the reader's window at the highest levels", "[compression]") {
#if GREGOR_HAS_ZSTD
    // Level 20+ picks a window above 8 MiB for a large input; gregor cuts its frames at 8 MiB instead.
    // (A repeated block of text keeps level 20 fast; its window choice depends on the size only.)
    const auto block = text(100 * 1024, 11);
    std::string t;
    while (t.size() < 9 * mib) t += block;
    t.resize(9 * mib);
    byte_buffer z;
    REQUIRE_FALSE(gc::compress(codec::zstd, as_bytes(t), z, 20));
    byte_buffer out;
    REQUIRE_FALSE(gc::decompress(codec::zstd, z.view(), out, t.size()));
    CHECK(as_string_view(out.view()) == t);

    // The same input as one frame, as another writer may send it, asks for more than the limit.
    std::vector<char> one(ZSTD_compressBound(t.size()));
    const auto n = ZSTD_compress(one.data(), one.size(), t.data(), t.size(), 20);
    REQUIRE_FALSE(ZSTD_isError(n));
    out.clear();
    CHECK(gc::decompress(codec::zstd, as_bytes(std::string_view(one.data(), n)), out, t.size()) == corrupt);
    CHECK(out.empty());
#endif
}

TEST_CASE("decompression bombs stop at max_out without allocating past it", "[compression]") {
    // 100 MiB of zeros; each codec shrinks it to almost nothing.
    const std::vector<std::byte> zeros(100 * mib);
    for (auto c : all_codecs) {
        if (!gc::available(c)) continue;
        CAPTURE(gc::name(c));
        byte_buffer z;
        REQUIRE_FALSE(gc::compress(c, zeros, z, c == codec::gzip || c == codec::lz4 || c == codec::zstd ? 1 : 0));
        CHECK(z.size() < 8 * mib);
        byte_buffer out;
        CHECK(gc::decompress(c, z.view(), out, mib) == too_large);
        CHECK(out.empty());
        CHECK(out.capacity() <= mib + 64 * 1024);
        // the budget counts from what `out` already held
        out.append(as_bytes("prefix"));
        CHECK(gc::decompress(c, z.view(), out, mib) == too_large);
        CHECK(as_string_view(out.view()) == "prefix");
    }
#if GREGOR_HAS_SNAPPY
    // A raw block states its size up front: refused before anything is allocated.
    std::vector<char> raw(snappy_max_compressed_length(zeros.size()));
    std::size_t len = raw.size();
    REQUIRE(snappy_compress(reinterpret_cast<const char*>(zeros.data()), zeros.size(), raw.data(), &len) == SNAPPY_OK);
    byte_buffer out;
    CHECK(gc::decompress(codec::snappy, as_bytes(std::string_view(raw.data(), len)), out, mib) == too_large);
    CHECK(out.capacity() == 0);
    // and a header that lies about a huge size is corrupt, not too large
    CHECK(gc::decompress(codec::snappy, from_hex("ffffffff0f 00"), out, mib) == corrupt);
    CHECK(out.capacity() == 0);
#endif
}

TEST_CASE("every truncation of the small vectors is an error", "[compression]") {
    const std::pair<codec, const std::vector<std::byte>*> vectors[] = {
        {codec::gzip, &gzip_vec}, {codec::snappy, &xerial_vec},     {codec::snappy, &snappy_raw_vec},
        {codec::lz4, &lz4_vec},   {codec::lz4, &lz4_checksums_vec}, {codec::zstd, &zstd_vec}};
    for (const auto& [c, v] : vectors) {
        if (!gc::available(c)) continue;
        for (std::size_t n = 0; n < v->size(); ++n) {
            CAPTURE(gc::name(c), v->size(), n);
            // copied so that a read past the prefix is a heap overflow for the sanitizers
            const std::vector<std::byte> prefix(v->begin(), v->begin() + static_cast<std::ptrdiff_t>(n));
            byte_buffer out;
            const auto ec = dec(c, prefix, out);
            if (v == &xerial_vec && n == 16) {
                CHECK_FALSE(ec); // the bare stream header: an empty stream
            } else {
                CHECK(ec == corrupt);
            }
            CHECK(out.empty());
        }
    }
}

TEST_CASE("garbage and bit flips end in an error or a bounded result, never a crash", "[compression]") {
    xorshift rng{0x9e3779b97f4a7c15ull};
    const auto t = text(20000, 13);
    for (auto c : all_codecs) {
        if (!gc::available(c)) continue;
        CAPTURE(gc::name(c));
        byte_buffer valid;
        REQUIRE_FALSE(gc::compress(c, as_bytes(t), valid, gc::default_level(c)));
        const std::vector<std::byte> magic = c == codec::gzip     ? from_hex("1f8b08")
                                             : c == codec::snappy ? to_vec(bytes_view(xerial_vec).first(16))
                                             : c == codec::lz4    ? from_hex("04224d18")
                                                                  : from_hex("28b52ffd");
        for (int i = 0; i < 3000; ++i) {
            std::vector<std::byte> in;
            switch (i % 3) {
            case 0: // random bytes, sometimes behind the codec's magic
                if (rng.next() % 2) in = magic;
                for (std::size_t k = 0, n = rng.next() % 300; k < n; ++k)
                    in.push_back(static_cast<std::byte>(rng.next()));
                break;
            case 1: { // a valid stream with a few flipped bits
                in = to_vec(valid.view());
                for (int k = 0, n = 1 + static_cast<int>(rng.next() % 4); k < n; ++k)
                    in[rng.next() % in.size()] ^= static_cast<std::byte>(1u << (rng.next() % 8));
                break;
            }
            default: // a valid stream cut short, or with bytes appended
                in = to_vec(valid.view());
                if (rng.next() % 2)
                    in.resize(rng.next() % in.size());
                else
                    for (std::size_t k = 0, n = 1 + rng.next() % 8; k < n; ++k)
                        in.push_back(static_cast<std::byte>(rng.next()));
                break;
            }
            byte_buffer out;
            const auto ec = gc::decompress(c, in, out, 64 * 1024);
            if (ec) {
                CHECK((ec == corrupt || ec == too_large));
                CHECK(out.empty());
            } else {
                CHECK(out.size() <= 64 * 1024);
            }
        }
    }
}
