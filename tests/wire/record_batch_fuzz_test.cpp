// Bounded robustness test: random mutations of valid batches must never crash the validator or the
// reader, and a batch whose CRC does not match is never accepted.
#include <gregor/wire/record_batch.hpp>

#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

using namespace gregor;
using namespace gregor::wire;

namespace {
byte_buffer sample_batch(std::mt19937& rng) {
    batch_builder b(256);
    const int n = 1 + static_cast<int>(rng() % 8);
    for (int i = 0; i < n; ++i) {
        std::string k = "k" + std::to_string(rng() % 100), v(rng() % 40, 'v');
        const record_header h{"h", as_bytes(k)};
        b.append(1000 + i, as_bytes(k), as_bytes(v), std::span(&h, rng() % 2));
    }
    return b.seal();
}
} // namespace

TEST_CASE("mutated batches never crash the validator and never pass with a wrong CRC", "[batch_robustness]") {
    std::mt19937 rng(1234);
    int accepted = 0, rejected = 0;
    for (int iter = 0; iter < 20000; ++iter) {
        auto good = sample_batch(rng);
        std::vector<std::byte> bytes(good.view().begin(), good.view().end());
        const auto original_crc = crc32c::compute(bytes_view{bytes}.subspan(batch_layout::attributes));
        switch (rng() % 4) {
        case 0: // bit flips
            for (int f = 0, nf = 1 + static_cast<int>(rng() % 3); f < nf; ++f)
                bytes[rng() % bytes.size()] ^= static_cast<std::byte>(1u << (rng() % 8));
            break;
        case 1: // truncation
            bytes.resize(rng() % bytes.size());
            break;
        case 2: // length field
            store_be<std::int32_t>(bytes.data() + batch_layout::batch_length, static_cast<std::int32_t>(rng()));
            break;
        case 3: // a record length varint rewritten, CRC resealed so the record walk is exercised
            bytes[batch_layout::header_size] = static_cast<std::byte>(rng());
            reseal_crc(mutable_bytes_view{bytes});
            break;
        }
        const auto result = validate(bytes_view{bytes});
        if (result == batch_error::none) {
            ++accepted;
            // Whatever passes must carry a CRC that matches its bytes.
            const auto h = *batch_header::parse(bytes_view{bytes});
            REQUIRE(h.crc == compute_batch_crc(bytes_view{bytes}));
            const bool crc_region_changed =
                crc32c::compute(bytes_view{bytes}.subspan(batch_layout::attributes)) != original_crc;
            if (crc_region_changed) REQUIRE(h.crc != load_be<std::uint32_t>(good.data() + batch_layout::crc));
        } else {
            ++rejected;
        }
        // The reader must stay in bounds on anything, valid or not.
        if (bytes.size() >= batch_layout::header_size) {
            batch_view v{bytes_view{bytes}};
            std::size_t total = 0;
            for (const auto& r : v) total += r.value ? r.value->size() : 0;
            (void)total;
        }
    }
    CHECK(rejected > 10000);
    INFO("accepted " << accepted);
}
