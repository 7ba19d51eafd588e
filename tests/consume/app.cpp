// The consumption smoke program: what a user's first file looks like. It includes gregor the way
// an installed copy is included, builds a record batch, validates it as a broker would, patches
// its base offset and reads the records back. Exit status 0 means every check held.
#include <gregor/gregor.hpp>

#include <cstdio>
#include <string>

int main() {
    using namespace gregor;
    if (crc32c::compute(as_bytes("123456789")) != 0xE3069283u) {
        std::puts("crc32c of \"123456789\" is wrong");
        return 1;
    }
    wire::batch_builder builder;
    const std::string value = "hello from a consumer of gregor";
    for (int i = 0; i < 3; ++i) {
        const std::string key = "key-" + std::to_string(i);
        builder.append(1'700'000'000'000 + i, as_bytes(key), as_bytes(value));
    }
    auto batch = builder.seal();
    if (const auto e = wire::validate(batch.view()); e != wire::batch_error::none) {
        std::printf("the sealed batch does not validate: %s\n", wire::to_string(e));
        return 1;
    }
    wire::patch_base_offset(batch.mutable_view(), offset{42});
    int seen = 0;
    for (const auto& r : wire::batch_view{batch.view()}) {
        const bool good = r.record_offset == offset{42 + seen} && r.key &&
                          as_string_view(*r.key) == "key-" + std::to_string(seen) && r.value &&
                          as_string_view(*r.value) == value;
        if (!good) {
            std::printf("record %d came back different\n", seen);
            return 1;
        }
        ++seen;
    }
    if (seen != 3) {
        std::printf("read %d records back, wanted 3\n", seen);
        return 1;
    }
    std::printf("ok: gregor %s, %d records built, validated and read back\n", GREGOR_VERSION_STRING, seen);
    return 0;
}
