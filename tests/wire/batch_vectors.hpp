// Byte-exact batches from docs/protocol.md §2.7, accepted by librdkafka with check.crcs.
#pragma once

#include <gregor/core/buffer.hpp>

#include <cctype>
#include <string>
#include <vector>

namespace gregor::test {

inline std::vector<std::byte> from_hex(const std::string& hex) {
    std::vector<std::byte> out;
    std::string digits;
    for (char c : hex)
        if (std::isxdigit(static_cast<unsigned char>(c))) digits += c;
    for (std::size_t i = 0; i + 1 < digits.size(); i += 2)
        out.push_back(static_cast<std::byte>(std::stoi(digits.substr(i, 2), nullptr, 16)));
    return out;
}

// One record key "k" value "v" header h1="x", ts 1700000000000, non-idempotent (75 bytes).
inline const char* data_batch_hex = "0000000000000000 0000003f ffffffff 02 d2151133 0000 00000000"
                                    "0000018bcfe56800 0000018bcfe56800 ffffffffffffffff ffff ffffffff 00000001"
                                    "1a 00 00 00 02 6b 02 76 02 04 6831 02 78";

// ABORT marker for pid 5 epoch 0 at offset 2 (78 bytes).
inline const char* abort_marker_hex = "0000000000000002 00000042 ffffffff 02 582f3576 0030 00000000"
                                      "0000018bcfe56800 0000018bcfe56800 0000000000000005 0000 ffffffff 00000001"
                                      "20 00 00 00 08 00000000 0c 000000000000 00";

} // namespace gregor::test
