// Quick start: encode a batch of records in Kafka's record-batch v2 format, validate it as a broker
// would, patch its offset in place and read every record back.
#include <gregor/gregor.hpp>

#include <chrono>
#include <cstdio>
#include <string>

int main() {
    using namespace gregor;
    constexpr int records = 1'000'000;
    std::string value(100, 'x');
    std::size_t bytes = 0, batches = 0, verified = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (int base = 0; base < records;) {
        wire::batch_builder b(16384);
        std::string key;
        while (base < records && b.size_bytes() + 150 < 16384) {
            key = "key-" + std::to_string(base % 1000);
            b.append(1'700'000'000'000 + base, as_bytes(key), as_bytes(value));
            ++base;
        }
        auto batch = b.seal();
        if (wire::validate(batch.view()) != wire::batch_error::none) { std::puts("validation failed"); return 1; }
        wire::patch_base_offset(batch.mutable_view(), offset{base - b.record_count()});
        wire::batch_view v{batch.view()};
        for (const auto& r : v) verified += r.value && r.value->size() == value.size();
        bytes += batch.size();
        ++batches;
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("encoded, validated and read back %d records in %zu batches (%.1f MB) in %.3f s: "
                "%.0f records/s, %.1f MB/s; verified %zu/%d\n",
                records, batches, static_cast<double>(bytes) / 1e6, s, records / s, static_cast<double>(bytes) / 1e6 / s,
                verified, records);
    return verified == static_cast<std::size_t>(records) ? 0 : 1;
}
