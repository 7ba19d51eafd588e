// Group commit with durability::fsync_before_ack over TCP: every produce is answered only after a
// sync covers it, and the syncs run on the broker's flusher thread, so one sync covers every
// append that arrived before it. Figures, in one run, on real files under the data dir:
//   - records/s with 1 producer connection and with 16 (each connection keeps one request in
//     flight, 10 records of 100 bytes per request, acks=1): throughput must grow with producers;
//   - appends per sync (how many answers one fdatasync released);
//   - Metadata round trip p50/p99/max from another connection while the producers run: the event
//     loop never waits for a sync, so it stays sub-millisecond;
//   - the same 16-producer run with durability::page_cache (no sync at all), as the ceiling the
//     fsync figures are read against.
// Usage: group_commit_bench [seconds_per_run] [data_dir]
#include "bench.hpp"

#include <gregor/broker/broker.hpp>
#include <gregor/broker/kafka_server.hpp>
#include <gregor/net/client.hpp>
#include <gregor/storage/backends/file.hpp>
#include <gregor/wire/header.hpp>
#include <gregor/wire/messages/metadata.hpp>
#include <gregor/wire/messages/produce.hpp>
#include <gregor/wire/record_batch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace {

using clk = std::chrono::steady_clock;

struct fsync_policies : gregor::default_broker_policies {
    using storage_backend = gregor::storage::file_backend;
    using durability = gregor::durability::fsync_before_ack;
};
using fsync_broker = gregor::broker<fsync_policies>;
struct page_cache_policies : gregor::default_broker_policies {
    using storage_backend = gregor::storage::file_backend;
};
using page_cache_broker = gregor::broker<page_cache_policies>;

double percentile(std::vector<double> v, double q) {
    if (v.empty()) return 0;
    const auto k = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1));
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
    return v[k];
}

gregor::byte_buffer produce_frame(std::int32_t corr, const std::string& topic) {
    gregor::wire::batch_builder b(2048);
    const std::string value(100, 'v');
    for (int i = 0; i < 10; ++i) b.append(1700000000000 + i, std::nullopt, gregor::as_bytes(value));
    const auto batch = b.seal();
    gregor::wire::produce::request req;
    req.acks = 1;
    req.timeout_ms = 30000;
    gregor::wire::produce::partition_data pd;
    pd.partition_index = gregor::partition_id{0};
    pd.records = batch.view();
    req.topics.push_back({topic, {pd}});
    gregor::byte_buffer frame;
    gregor::wire::encode_request_frame(frame, 7, corr, "group-commit-bench", req);
    return frame;
}

struct run_figures {
    double records_per_sec = 0;
    double appends_per_sync = 0;
    double md_p50_ms = 0, md_p99_ms = 0, md_max_ms = 0;
    long errors = 0;
};

template <typename Broker>
run_figures run(const std::filesystem::path& dir, int producers, double seconds) {
    std::filesystem::remove_all(dir);
    gregor::broker_config cfg;
    cfg.data_dir = dir;
    Broker b{cfg};
    const std::string topic = "gc";
    if (b.create_topic(topic, 1) != gregor::error_code::none) std::abort();
    gregor::kafka_server_config sc;
    sc.net.host = "127.0.0.1";
    sc.net.port = 0;
    gregor::kafka_server<Broker> srv{b, sc};

    std::atomic<bool> stop{false};
    std::atomic<long> requests{0}, errors{0};
    std::vector<std::thread> ts;
    for (int i = 0; i < producers; ++i) {
        ts.emplace_back([&, i] {
            gregor::net::blocking_client c("127.0.0.1", srv.port());
            std::int32_t corr = i * 1000000;
            gregor::byte_buffer resp;
            while (!stop.load(std::memory_order_relaxed)) {
                const auto f = produce_frame(++corr, topic);
                if (c.send_raw(f.view()) != gregor::net::blocking_client::status::ok ||
                    c.read_frame(resp, std::chrono::seconds(30)) != gregor::net::blocking_client::status::ok) {
                    ++errors;
                    return;
                }
                gregor::byte_reader r(resp.view());
                (void)gregor::wire::response_header::decode(r, 0);
                const auto pr = gregor::wire::produce::response::decode(r, 7);
                if (!pr || pr->responses.empty() || pr->responses[0].partitions.empty() ||
                    pr->responses[0].partitions[0].error_code != gregor::error_code::none)
                    ++errors;
                else
                    ++requests;
            }
        });
    }
    std::vector<double> md;
    std::thread meta([&] {
        gregor::net::blocking_client c("127.0.0.1", srv.port());
        gregor::wire::metadata::request req;
        req.topics.emplace();
        req.topics->push_back({topic});
        gregor::byte_buffer resp;
        std::int32_t corr = 0;
        while (!stop.load(std::memory_order_relaxed)) {
            gregor::byte_buffer frame;
            gregor::wire::encode_request_frame(frame, 6, ++corr, "group-commit-bench", req);
            const auto t0 = clk::now();
            if (c.send_raw(frame.view()) != gregor::net::blocking_client::status::ok ||
                c.read_frame(resp, std::chrono::seconds(30)) != gregor::net::blocking_client::status::ok) {
                ++errors;
                return;
            }
            md.push_back(std::chrono::duration<double, std::milli>(clk::now() - t0).count());
            std::this_thread::sleep_for(std::chrono::milliseconds(2)); // a client's pace, not a flood
        }
    });
    const auto syncs0 = b.flusher_syncs();
    const auto t0 = clk::now();
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop = true;
    for (auto& t : ts) t.join();
    meta.join();
    const double elapsed = std::chrono::duration<double>(clk::now() - t0).count();
    run_figures f;
    f.records_per_sec = static_cast<double>(requests.load()) * 10 / elapsed;
    const auto syncs = b.flusher_syncs() - syncs0;
    f.appends_per_sync = syncs ? static_cast<double>(requests.load()) / static_cast<double>(syncs) : 0;
    f.md_p50_ms = percentile(md, 0.50);
    f.md_p99_ms = percentile(md, 0.99);
    f.md_max_ms = md.empty() ? 0 : *std::max_element(md.begin(), md.end());
    f.errors = errors.load();
    srv.stop();
    b.close();
    std::filesystem::remove_all(dir);
    return f;
}

} // namespace

int main(int argc, char** argv) {
    const double seconds = argc > 1 ? std::atof(argv[1]) : 5.0;
    const std::filesystem::path dir =
        argc > 2 ? argv[2] : std::filesystem::temp_directory_path() / "gregor-group-commit-bench";
    for (const int n : {1, 16, -16}) {
        const auto f = n > 0 ? run<fsync_broker>(dir, n, seconds) : run<page_cache_broker>(dir, -n, seconds);
        const std::string p = n > 0 ? "group_commit_fsync_before_ack_" + std::to_string(n) + "_producers_"
                                    : "group_commit_page_cache_" + std::to_string(-n) + "_producers_";
        gregor_bench::emit(p + "records_per_sec", f.records_per_sec, "records/s");
        if (n > 0) gregor_bench::emit(p + "appends_per_sync", f.appends_per_sync, "appends");
        gregor_bench::emit(p + "metadata_p50", f.md_p50_ms, "ms");
        gregor_bench::emit(p + "metadata_p99", f.md_p99_ms, "ms");
        gregor_bench::emit(p + "metadata_max", f.md_max_ms, "ms");
        if (f.errors) gregor_bench::emit(p + "errors", static_cast<double>(f.errors), "requests");
    }
    return 0;
}
