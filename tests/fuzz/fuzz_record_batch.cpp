// libFuzzer target for the record batch reader: batch_splitter over arbitrary bytes, validate()
// with every option combination, and batch_view iteration (records and headers) over whatever
// validate accepted and over raw input too (batch_view promises to stop safely on garbage).
// Not part of the meson build; scripts/fuzz.sh builds it.
//
// Byte 0 holds the validate options; the rest is the bytes. A batch that validates must carry a
// CRC that matches its bytes and yield exactly recordsCount records when uncompressed; violations
// trap. With GREGOR_FUZZ_SEEDS=<dir>, LLVMFuzzerInitialize writes a few valid batches there.
#include <gregor/wire/record_batch.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

using namespace gregor;
using namespace gregor::wire;

namespace {

std::size_t walk(const batch_view& v) {
    std::size_t n = 0;
    std::size_t header_bytes = 0;
    for (auto it = v.begin(); it != v.end(); ++it) {
        ++n;
        auto hc = it->headers();
        for (int i = 0; i < 1000; ++i) {
            const auto h = hc.next();
            if (!h) break;
            header_bytes += h->key.size() + (h->value ? h->value->size() : 0);
        }
        if (it->key) header_bytes += it->key->size();
        if (it->value) header_bytes += it->value->size();
        if (n > 1000000) break;
    }
    return n + (header_bytes & 1);
}

void check_batch(bytes_view b, const validate_options& opt) {
    const auto err = validate(b, opt);
    (void)to_string(err);
    (void)to_kafka(err);
    batch_view v(b);
    if (err != batch_error::none) {
        (void)walk(v); // must stop safely on garbage too
        return;
    }
    const auto& h = v.header();
    if (h.crc != compute_batch_crc(b)) __builtin_trap();
    (void)h.last_sequence();
    (void)h.next_offset();
    if (opt.check_records && h.compression() == compression::none) {
        std::size_t n = 0;
        auto it = v.begin();
        for (; it != v.end(); ++it) {
            if (h.is_control()) (void)parse_control_record(*it);
            ++n;
        }
        if (it.failed() || n != static_cast<std::size_t>(h.records_count)) __builtin_trap();
    }
}

void write_seeds(const std::string& dir) {
    int i = 0;
    const auto put = [&](std::uint8_t opts, bytes_view b) {
        std::ofstream f(dir + "/seed-" + std::to_string(i++), std::ios::binary);
        f.put(static_cast<char>(opts));
        f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    };
    batch_builder one;
    const record_header hdr{"h1", as_bytes("x")};
    one.append(1700000000000, as_bytes("k"), as_bytes("v"), std::span(&hdr, 1));
    const auto a = one.seal();
    batch_builder many;
    for (int r = 0; r < 5; ++r) many.append(1700000000000 + r, std::nullopt, as_bytes(std::string(r * 7, 'v')));
    const auto b = many.seal(producer_stamp{producer_id{5}, producer_epoch{0}, sequence{0}, true});
    const auto c = build_control_batch(control_type::commit, producer_id{5}, producer_epoch{0}, 3, 1700000000000);
    for (std::uint8_t o : {0x3, 0x1, 0x0}) {
        put(o, a.view());
        put(o, b.view());
        put(o, c.view());
    }
    std::vector<std::byte> joined(a.view().begin(), a.view().end());
    joined.insert(joined.end(), b.view().begin(), b.view().end());
    joined.insert(joined.end(), c.view().begin(), c.view().end());
    put(0x3, bytes_view{joined});
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    if (const char* dir = std::getenv("GREGOR_FUZZ_SEEDS")) write_seeds(dir);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    validate_options opt;
    opt.check_records = data[0] & 1;
    opt.client_batch = data[0] & 2;
    opt.reject_control = data[0] & 4;
    const bytes_view in{reinterpret_cast<const std::byte*>(data) + 1, size - 1};

    // The whole input as one batch, and as a sequence of batches (a fetch response's records).
    check_batch(in, opt);
    batch_splitter split(in);
    for (int i = 0; i < 10000; ++i) {
        const auto b = split.next();
        if (!b) break;
        check_batch(*b, opt);
    }
    (void)batch_header::parse(in);
    return 0;
}
