// Transactions: what they cost gregor's producer. Against one gregor broker (file storage,
// kafka_server on 127.0.0.1, i.e. what gregor-broker runs), over TCP, in one run:
//   - idempotent-only throughput (acks=all, enable.idempotence, linger.ms=5): the anchor;
//   - transactional throughput with transactions of 100, 1,000 and 10,000 records (begin, sends,
//     commit_transaction(), next), and its ratio to the anchor (issue 14 goal: >= 0.8x at 1,000);
//   - commit latency p50/p99: commit_transaction() from call to return (flushing what is still
//     buffered, waiting for the acks, EndTxn; the markers are written after the answer).
// 100-byte values, keys spread over 3 partitions, so each transaction spans three partitions. Each
// figure is the median of three rounds, the runs of a round alternating between the two modes.
// Usage: transactions_bench [records_per_run]
#include "bench.hpp"

#include <gregor/broker/broker.hpp>
#include <gregor/broker/kafka_server.hpp>
#include <gregor/producer/producer.hpp>
#include <gregor/producer/tcp_transport.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>

namespace {

using file_broker = gregor::broker<gregor::broker_policies<gregor::storage::file_backend>>;
using producer_type = gregor::producer<gregor::producer_policies<gregor::transport::tcp>>;
using clk = std::chrono::steady_clock;

double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

double percentile(std::vector<double> v, double q) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[static_cast<std::size_t>(q * static_cast<double>(v.size() - 1))];
}

struct result {
    double records_per_sec = 0;
    std::vector<double> commit_ms;
};

// txn_size 0: idempotent only.
result run(const std::string& bootstrap, const std::string& topic, long n, long txn_size, const std::string& txn_id) {
    gregor::producer_config cfg;
    cfg.bootstrap_servers = bootstrap;
    cfg.set("acks", "all");
    cfg.set("enable.idempotence", "true");
    cfg.set("linger.ms", "5");
    if (txn_size > 0) cfg.set("transactional.id", txn_id);
    producer_type p{cfg, gregor::transport::tcp{cfg}};
    result r;
    if (txn_size > 0 && p.init_transactions()) {
        std::fprintf(stderr, "init_transactions failed\n");
        std::exit(1);
    }
    const std::string value(100, 'v');
    const std::string keys[3] = {"a", "b", "c"};
    long failed = 0;
    const auto done = [&failed](std::error_code e, const gregor::record_metadata&) {
        if (e) ++failed;
    };
    const auto t0 = clk::now();
    for (long i = 0; i < n;) {
        if (txn_size > 0 && p.begin_transaction()) std::exit(1);
        const long end = txn_size > 0 ? std::min(n, i + txn_size) : n;
        for (; i < end; ++i)
            (void)p.send({.topic = topic, .key = std::string_view(keys[i % 3]), .value = std::string_view(value)}, done);
        if (txn_size > 0) {
            const auto c0 = clk::now();
            if (const auto ec = p.commit_transaction()) {
                std::fprintf(stderr, "commit_transaction: %s\n", ec.message().c_str());
                std::exit(1);
            }
            r.commit_ms.push_back(std::chrono::duration<double, std::milli>(clk::now() - c0).count());
        }
    }
    if (txn_size == 0) (void)p.flush();
    const double s = std::chrono::duration<double>(clk::now() - t0).count();
    (void)p.close();
    if (failed) {
        std::fprintf(stderr, "%ld records failed\n", failed);
        std::exit(1);
    }
    r.records_per_sec = static_cast<double>(n) / s;
    return r;
}

} // namespace

int main(int argc, char** argv) {
    const long n = argc > 1 ? std::atol(argv[1]) : 300000;
    const auto dir = std::filesystem::temp_directory_path() / ("gregor-transactions-bench-" + std::to_string(::getpid()));
    {
        gregor::broker_config cfg;
        cfg.data_dir = dir;
        cfg.num_partitions = 3;
        cfg.transaction_state_log_num_partitions = 1; // one coordinator partition: a single broker
        file_broker b{cfg};
        gregor::kafka_server_config sc;
        sc.net.host = "127.0.0.1";
        sc.net.port = 0;
        gregor::kafka_server<file_broker> srv{b, sc};
        const std::string bootstrap = "127.0.0.1:" + std::to_string(srv.port());
        for (const long size : {100L, 1000L, 10000L}) {
            std::vector<double> idem, txn, commits;
            for (int round = 0; round < 3; ++round) {
                const auto tag = std::to_string(size) + "_" + std::to_string(round);
                idem.push_back(run(bootstrap, "idem_" + tag, n, 0, "").records_per_sec);
                auto t = run(bootstrap, "txn_" + tag, n, size, "bench-" + tag);
                txn.push_back(t.records_per_sec);
                commits.insert(commits.end(), t.commit_ms.begin(), t.commit_ms.end());
            }
            const auto s = std::to_string(size);
            const double i = median(idem), t = median(txn);
            gregor_bench::emit("idempotent_records_per_sec_run_" + s, i, "records/s");
            gregor_bench::emit("transactional_records_per_sec_txn_" + s, t, "records/s");
            gregor_bench::emit("transactional_vs_idempotent_ratio_txn_" + s, i > 0 ? t / i : 0, "x");
            gregor_bench::emit("commit_latency_p50_txn_" + s, percentile(commits, 0.50), "ms");
            gregor_bench::emit("commit_latency_p99_txn_" + s, percentile(commits, 0.99), "ms");
        }
    }
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
}
