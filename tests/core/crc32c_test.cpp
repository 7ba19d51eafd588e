#include <gregor/core/crc32c.hpp>

#include <catch2/catch.hpp>

#include <cstring>
#include <random>
#include <string>
#include <vector>

using namespace gregor;

TEST_CASE("crc32c of the standard check string is 0xE3069283", "[crc32c]") {
    const char* s = "123456789";
    CHECK(crc32c::extend_portable(0, s, 9) == 0xE3069283u);
    CHECK(crc32c::extend_hardware(0, s, 9) == 0xE3069283u);
    CHECK(crc32c::compute(s, 9) == 0xE3069283u);
}

TEST_CASE("crc32c matches the RFC 3720 test vectors", "[crc32c]") {
    std::vector<unsigned char> zeros(32, 0), ones(32, 0xff), inc(32), dec(32);
    for (int i = 0; i < 32; ++i) {
        inc[i] = static_cast<unsigned char>(i);
        dec[i] = static_cast<unsigned char>(31 - i);
    }
    CHECK(crc32c::compute(zeros.data(), 32) == 0x8A9136AAu);
    CHECK(crc32c::compute(ones.data(), 32) == 0x62A8AB43u);
    CHECK(crc32c::compute(inc.data(), 32) == 0x46DD794Eu);
    CHECK(crc32c::compute(dec.data(), 32) == 0x113FDB5Cu);
}

TEST_CASE("crc32c hardware and portable paths agree on random inputs of every shape", "[crc32c]") {
    std::mt19937_64 rng(42);
    std::vector<unsigned char> buf(70000);
    for (auto& b : buf) b = static_cast<unsigned char>(rng());
    std::uniform_int_distribution<std::size_t> len(0, 40000), off(0, 15);
    for (int i = 0; i < 300; ++i) {
        const auto o = off(rng);
        const auto n = i < 100 ? static_cast<std::size_t>(i) * 97 % 7000 : len(rng);
        const auto sw = crc32c::extend_portable(0, buf.data() + o, n);
        const auto hw = crc32c::extend_hardware(0, buf.data() + o, n);
        INFO("offset " << o << " length " << n);
        REQUIRE(sw == hw);
    }
}

TEST_CASE("crc32c extends incrementally and combines split inputs", "[crc32c]") {
    std::string s(20000, 'x');
    for (std::size_t i = 0; i < s.size(); ++i) s[i] = static_cast<char>(i * 31 + 7);
    const auto whole = crc32c::compute(s.data(), s.size());
    for (std::size_t cut : {0u, 1u, 7u, 100u, 6144u, 12345u, 20000u}) {
        const auto a = crc32c::compute(s.data(), cut);
        const auto b = crc32c::compute(s.data() + cut, s.size() - cut);
        CHECK(crc32c::extend(a, s.data() + cut, s.size() - cut) == whole);
        CHECK(crc32c::combine(a, b, s.size() - cut) == whole);
    }
}
