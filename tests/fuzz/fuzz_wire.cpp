// libFuzzer target for the protocol layer: primitive decoders, request/response headers and every
// message decoder at every implemented version. Not part of the meson build; scripts/fuzz.sh
// builds it with clang++ -fsanitize=fuzzer,address,undefined.
//
// Input: byte 0 picks the target, byte 1 the version, the rest is the wire bytes. Whatever decodes
// must re-encode to a fixed point (encode(decode(encode(decode(x)))) == encode(decode(x))); a
// violation traps. With GREGOR_FUZZ_SEEDS=<dir> set, LLVMFuzzerInitialize writes one valid input
// per message and version there as a starting corpus.
#include <gregor/wire/header.hpp>
#include <gregor/wire/messages/api_versions.hpp>
#include <gregor/wire/messages/fetch.hpp>
#include <gregor/wire/messages/find_coordinator.hpp>
#include <gregor/wire/messages/init_producer_id.hpp>
#include <gregor/wire/messages/list_offsets.hpp>
#include <gregor/wire/messages/metadata.hpp>
#include <gregor/wire/messages/produce.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

using namespace gregor;
using namespace gregor::wire;

namespace {

std::vector<std::byte> encoded(const auto& m, std::int16_t version) {
    byte_buffer b;
    byte_writer w(b);
    m.encode(w, version);
    return {b.view().begin(), b.view().end()};
}

bool same(const std::vector<std::byte>& a, const std::vector<std::byte>& b) {
    return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}

template <typename M>
void fuzz_message(bytes_view in, std::int16_t version) {
    byte_reader r(in);
    const auto m = M::decode(r, version);
    if (!m) return;
    const auto once = encoded(*m, version);
    byte_reader r2(bytes_view{once});
    const auto m2 = M::decode(r2, version);
    if (!m2 || !r2.at_end()) __builtin_trap();
    if (!same(encoded(*m2, version), once)) __builtin_trap();
}

template <typename Api>
std::int16_t pick_version(std::uint8_t b) {
    return static_cast<std::int16_t>(Api::min_version + b % (Api::max_version - Api::min_version + 1));
}

void fuzz_primitives(bytes_view in, bool flexible) {
    byte_reader r(in);
    decoder d(r, flexible);
    // A fixed walk over every primitive; each read is bounds-checked and failure is sticky.
    (void)d.string();
    (void)d.nullable_string();
    (void)d.bytes();
    (void)d.nullable_bytes();
    std::vector<std::int64_t> xs;
    d.array(xs, 8, [](decoder& d2, std::int64_t& x) { x = d2.i64(); });
    std::optional<std::vector<std::string_view>> ss;
    d.nullable_array(ss, d.min_string(), [](decoder& d2, std::string_view& s) { s = d2.string(); });
    d.tagged_fields([](std::uint32_t, bytes_view data) {
        byte_reader inner(data);
        skip_tagged_fields(inner);
    });
    (void)d.uuid();
    (void)read_uvarint32(r);
    (void)d.boolean();
}

/// What a broker does with a request frame (after the size prefix).
void fuzz_request_frame(bytes_view in) {
    byte_reader r(in);
    const auto h = request_header::decode(r);
    if (!h) return;
    const auto body = in.subspan(r.position());
    switch (h->key) {
    case api_key::api_versions: fuzz_message<api_versions::request>(body, h->version); break;
    case api_key::metadata: fuzz_message<metadata::request>(body, h->version); break;
    case api_key::produce: fuzz_message<produce::request>(body, h->version); break;
    case api_key::fetch: fuzz_message<fetch::request>(body, h->version); break;
    case api_key::list_offsets: fuzz_message<list_offsets::request>(body, h->version); break;
    case api_key::init_producer_id: fuzz_message<init_producer_id::request>(body, h->version); break;
    case api_key::find_coordinator: fuzz_message<find_coordinator::request>(body, h->version); break;
    default: break;
    }
}

void write_seed(const std::string& dir, int index, std::uint8_t target, std::uint8_t version_byte,
                const std::vector<std::byte>& body) {
    std::ofstream f(dir + "/seed-" + std::to_string(index), std::ios::binary);
    f.put(static_cast<char>(target));
    f.put(static_cast<char>(version_byte));
    f.write(reinterpret_cast<const char*>(body.data()), static_cast<std::streamsize>(body.size()));
}

template <typename Api, typename M>
void seeds_for(const std::string& dir, int& index, std::uint8_t target, const M& m) {
    for (std::int16_t v = Api::min_version; v <= Api::max_version; ++v)
        write_seed(dir, index++, target, static_cast<std::uint8_t>(v - Api::min_version), encoded(m, v));
}

const std::byte seed_batch[] = {std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0}};

wire::uuid seed_uuid() {
    wire::uuid u;
    u.bytes[15] = std::byte{1};
    return u;
}

// One valid input per message and version, with the fields newer versions add (topic ids, leader
// epochs, tagged fields) set away from their defaults so that the fuzzer starts from encodings
// that carry them.
void write_seeds(const std::string& dir) {
    int i = 0;
    seeds_for<api_versions_api>(dir, i, 2, api_versions::request{"librdkafka", "2.0.2"});
    auto avresp = api_versions::response::advertising(broker_advertised_apis);
    avresp.supported_features = {{"metadata.version", 1, 21}};
    avresp.finalized_features_epoch = 3;
    avresp.finalized_features = {{"metadata.version", 21, 21}};
    seeds_for<api_versions_api>(dir, i, 3, avresp);
    metadata::request mreq;
    mreq.topics = std::vector<metadata::request_topic>{{"a", seed_uuid()}};
    mreq.include_topic_authorized_operations = true;
    seeds_for<metadata_api>(dir, i, 4, mreq);
    metadata::response mresp;
    mresp.brokers = {{node_id{1}, "h", 9092, "r"}};
    mresp.topics = {{error_code::none,
                     "a",
                     false,
                     {{error_code::none, partition_id{0}, node_id{1}, {node_id{1}}, {node_id{1}}, {}, leader_epoch{2}}},
                     seed_uuid(),
                     0x1f8}};
    seeds_for<metadata_api>(dir, i, 5, mresp);
    produce::request preq;
    preq.transactional_id = "t";
    preq.topics = {{"a", {{partition_id{0}, bytes_view{seed_batch}, {}}}}};
    seeds_for<produce_api>(dir, i, 6, preq);
    produce::response presp;
    presp.responses = {{"a",
                        {{partition_id{0},
                          error_code::none,
                          offset{1},
                          -1,
                          offset{0},
                          {{0, "e"}},
                          "m",
                          {node_id{1}, leader_epoch{2}}}}}};
    presp.node_endpoints = {{node_id{1}, "h", 9092, std::nullopt}};
    seeds_for<produce_api>(dir, i, 7, presp);
    fetch::request freq;
    freq.replica_id = node_id{1};
    freq.replica_epoch = 2;
    freq.cluster_id = "c";
    freq.topics = {
        {"a", {{partition_id{0}, leader_epoch{-1}, offset{0}, offset{-1}, 1000, leader_epoch{1}}}, seed_uuid()}};
    freq.forgotten_topics_data = {{"b", {partition_id{1}}, seed_uuid()}};
    seeds_for<fetch_api>(dir, i, 8, freq);
    fetch::response fresp;
    fetch::partition_data fp;
    fp.aborted_transactions = std::vector<fetch::aborted_transaction>{{producer_id{1}, offset{0}}};
    fp.records = bytes_view{seed_batch};
    fp.diverging_epoch = {leader_epoch{1}, offset{2}};
    fp.current_leader = {node_id{1}, leader_epoch{2}};
    fp.snapshot_id = {offset{3}, leader_epoch{1}};
    fresp.responses = {{"a", {fp}, seed_uuid()}};
    fresp.node_endpoints = {{node_id{1}, "h", 9092, std::nullopt}};
    seeds_for<fetch_api>(dir, i, 9, fresp);
    list_offsets::request lreq;
    lreq.topics = {{"a", {{partition_id{0}, -2, 1, leader_epoch{1}}}}};
    seeds_for<list_offsets_api>(dir, i, 10, lreq);
    list_offsets::response lresp;
    lresp.topics = {{"a", {{partition_id{0}, error_code::none, {1}, 2, offset{3}, leader_epoch{1}}}}};
    seeds_for<list_offsets_api>(dir, i, 11, lresp);
    seeds_for<init_producer_id_api>(dir, i, 12, init_producer_id::request{"t", 1, producer_id{2}, producer_epoch{3}});
    seeds_for<init_producer_id_api>(dir, i, 13,
                                    init_producer_id::response{0, error_code::none, producer_id{2}, producer_epoch{3}});
    seeds_for<find_coordinator_api>(
        dir, i, 14, find_coordinator::request{"g", find_coordinator::coordinator_type::transaction, {"g", "h"}});
    seeds_for<find_coordinator_api>(
        dir, i, 15,
        find_coordinator::response{
            0, error_code::none, "m", node_id{1}, "h", 1, {{"g", node_id{1}, "h", 1, error_code::none, std::nullopt}}});
    // A whole request (header + body) for the broker-style dispatch.
    byte_buffer frame;
    byte_writer w(frame);
    request_header{api_key::api_versions, 3, 1, "rdkafka"}.encode(w);
    api_versions::request{"librdkafka", "2.0.2"}.encode(w, 3);
    write_seed(dir, i++, 16, 0, {frame.view().begin(), frame.view().end()});
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    if (const char* dir = std::getenv("GREGOR_FUZZ_SEEDS")) write_seeds(dir);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    const auto target = data[0];
    const auto vb = data[1];
    const bytes_view in{reinterpret_cast<const std::byte*>(data) + 2, size - 2};
    switch (target % 17) {
    case 0: fuzz_primitives(in, false); break;
    case 1: fuzz_primitives(in, true); break;
    case 2: fuzz_message<api_versions::request>(in, pick_version<api_versions_api>(vb)); break;
    case 3: fuzz_message<api_versions::response>(in, pick_version<api_versions_api>(vb)); break;
    case 4: fuzz_message<metadata::request>(in, pick_version<metadata_api>(vb)); break;
    case 5: fuzz_message<metadata::response>(in, pick_version<metadata_api>(vb)); break;
    case 6: fuzz_message<produce::request>(in, pick_version<produce_api>(vb)); break;
    case 7: fuzz_message<produce::response>(in, pick_version<produce_api>(vb)); break;
    case 8: fuzz_message<fetch::request>(in, pick_version<fetch_api>(vb)); break;
    case 9: fuzz_message<fetch::response>(in, pick_version<fetch_api>(vb)); break;
    case 10: fuzz_message<list_offsets::request>(in, pick_version<list_offsets_api>(vb)); break;
    case 11: fuzz_message<list_offsets::response>(in, pick_version<list_offsets_api>(vb)); break;
    case 12: fuzz_message<init_producer_id::request>(in, pick_version<init_producer_id_api>(vb)); break;
    case 13: fuzz_message<init_producer_id::response>(in, pick_version<init_producer_id_api>(vb)); break;
    case 14: fuzz_message<find_coordinator::request>(in, pick_version<find_coordinator_api>(vb)); break;
    case 15: fuzz_message<find_coordinator::response>(in, pick_version<find_coordinator_api>(vb)); break;
    case 16: fuzz_request_frame(in); break;
    }
    return 0;
}
