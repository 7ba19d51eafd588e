// gregor-dump-log (storage/dump_log.hpp) on segments the log wrote.
#include "storage_test_util.hpp"

#include <gregor/storage/dump_log.hpp>
#include <gregor/storage/log.hpp>

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

using namespace gregor;
using namespace gregor::test;

namespace {

std::vector<std::string> lines(const std::string& s) {
    std::vector<std::string> out;
    std::istringstream in(s);
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
}

int run(const std::vector<std::string>& args, std::string& out, std::string& err) {
    std::ostringstream o, e;
    const int rc = storage::dump_log_main(args, o, e);
    out = o.str();
    err = e.str();
    return rc;
}

} // namespace

TEST_CASE("gregor-dump-log prints one line per batch with its producer fields and CRC", "[dump_log]") {
    temp_dir d;
    testing::manual_clock clk;
    {
        storage::log<storage::file_backend, flush::never, testing::manual_clock_ref> l{
            d.partition(), small_config(1 << 20, 100), {}, testing::manual_clock_ref{clk}};
        append_batches(l, 3, 2);
        wire::batch_builder b;
        b.append(t0, as_bytes("k"), as_bytes("v"));
        auto idem = b.seal(wire::producer_stamp{producer_id{42}, producer_epoch{3}, sequence{7}, true});
        wire::patch_base_offset(idem.mutable_view(), l.log_end_offset());
        REQUIRE_FALSE(l.append(idem.view()));
        auto marker = wire::build_control_batch(wire::control_type::commit, producer_id{42}, producer_epoch{3}, 0, t0);
        wire::patch_base_offset(marker.mutable_view(), l.log_end_offset());
        REQUIRE_FALSE(l.append(marker.view()));
    }
    const auto file = (d.partition() / log_name(0)).string();
    std::string out, err;
    REQUIRE(run({"--verify", file}, out, err) == 0);
    CHECK(err.empty());
    const auto ls = lines(out);
    REQUIRE(ls.size() == 2 + 5);
    CHECK(ls[0] == "Dumping " + file);
    CHECK(ls[1] == "Starting offset: 0");
    CHECK(ls[2].rfind("baseOffset: 0 lastOffset: 1 count: 2 position: 0 size: ", 0) == 0);
    CHECK(ls[2].find("producerId: -1 producerEpoch: -1 baseSequence: -1 isTransactional: false isControl: false") !=
          std::string::npos);
    CHECK(ls[5].find("baseOffset: 6 lastOffset: 6 count: 1") != std::string::npos);
    CHECK(ls[5].find("producerId: 42 producerEpoch: 3 baseSequence: 7 isTransactional: true isControl: false") !=
          std::string::npos);
    CHECK(ls[6].find("isTransactional: true isControl: true") != std::string::npos);
    for (std::size_t i = 2; i < ls.size(); ++i) CHECK(ls[i].find("crcValid: true") != std::string::npos);

    // The index files print too.
    REQUIRE(run({(d.partition() / "00000000000000000000.index").string()}, out, err) == 0);
    REQUIRE(run({(d.partition() / "00000000000000000000.timeindex").string()}, out, err) == 0);
    CHECK(out.find("timestamp: ") != std::string::npos);
}

TEST_CASE("gregor-dump-log --verify exits 1 at the first invalid batch and names its position", "[dump_log]") {
    temp_dir d;
    testing::manual_clock clk;
    {
        storage::log<storage::file_backend, flush::never, testing::manual_clock_ref> l{
            d.partition(), {}, {}, testing::manual_clock_ref{clk}};
        append_batches(l, 4, 2);
    }
    const auto path = d.partition() / log_name(0);
    const auto size = std::filesystem::file_size(path);
    const auto batch = size / 4;
    char original = 0;
    {
        // Flip a record byte of the third batch.
        std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
        f.seekg(static_cast<std::streamoff>(2 * batch + 70));
        f.get(original);
        f.seekp(static_cast<std::streamoff>(2 * batch + 70));
        f.put(static_cast<char>(original ^ 0x40));
    }
    std::string out, err;
    CHECK(run({"--verify", path.string()}, out, err) == 1);
    CHECK(err.find("invalid batch at position " + std::to_string(2 * batch)) != std::string::npos);
    CHECK(err.find("CRC") != std::string::npos);
    CHECK(lines(out).size() == 2 + 3); // the bad batch is printed, then it stops
    // Without --verify every batch is printed and the bad one says so.
    CHECK(run({path.string()}, out, err) == 0);
    CHECK(lines(out).size() == 2 + 4);
    CHECK(lines(out)[4].find("crcValid: false") != std::string::npos);

    // A torn tail (the flipped byte restored).
    {
        std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(static_cast<std::streamoff>(2 * batch + 70));
        f.put(original);
    }
    CHECK(run({"--verify", path.string()}, out, err) == 0);
    std::filesystem::resize_file(path, size - 5);
    CHECK(run({"--verify", path.string()}, out, err) == 1);
    INFO(err);
    CHECK(err.find("invalid batch at position " + std::to_string(3 * batch) + ": truncated batch") !=
          std::string::npos);
    CHECK(run({path.string()}, out, err) == 0);
    CHECK(out.find("stopped at position " + std::to_string(3 * batch)) != std::string::npos);

    CHECK(run({}, out, err) == 2);
    CHECK(run({"--bogus", path.string()}, out, err) == 2);
    CHECK(run({(d.path() / "missing.log").string()}, out, err) == 2);
}
