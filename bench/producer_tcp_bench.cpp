// The gregor producer over TCP (transport::tcp) next to librdkafka's producer, both against the
// same gregor broker (file storage, kafka_server on 127.0.0.1, i.e. what gregor-broker runs), in
// one run:
//   - throughput, 100-byte values, acks=1 and acks=all+idempotence (issue 7 goal: gregor >= 1.5x
//     librdkafka's records/s); each library with its own defaults otherwise, linger.ms=5 for both;
//   - produce latency p50/p99 (send to completion) at a moderate fixed rate, linger.ms=0, next to
//     the round trip of a 100-byte message over a loopback TCP connection measured in the same run.
//     Both senders sleep between records; librdkafka's reports are taken by rd_kafka_poll() right
//     after each send, so its figures include up to one send interval of reporting delay.
// Usage: producer_tcp_bench [records_for_throughput] [rate_per_sec] [latency_seconds]
#include "bench.hpp"
#include "producer_runs.hpp"

#include <gregor/broker/broker.hpp>
#include <gregor/broker/kafka_server.hpp>
#include <gregor/producer/producer.hpp>
#include <gregor/producer/tcp_transport.hpp>

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

using file_broker = gregor::broker<gregor::broker_policies<gregor::storage::file_backend>>;
using namespace gregor_bench;

} // namespace

int main(int argc, char** argv) {
    const long n = argc > 1 ? std::atol(argv[1]) : 1000000;
    const long rate = argc > 2 ? std::atol(argv[2]) : 10000;
    const long seconds = argc > 3 ? std::atol(argv[3]) : 3;
    const auto dir =
        std::filesystem::temp_directory_path() / ("gregor-producer-tcp-bench-" + std::to_string(::getpid()));
    {
        gregor::broker_config cfg;
        cfg.data_dir = dir;
        file_broker b{cfg};
        gregor::kafka_server_config sc;
        sc.net.host = "127.0.0.1";
        sc.net.port = 0;
        gregor::kafka_server<file_broker> srv{b, sc};
        const std::string bootstrap = "127.0.0.1:" + std::to_string(srv.port());
        for (const bool idem : {false, true}) {
            const std::string tag = idem ? "acks_all_idempotent" : "acks_1";
            // Three alternating rounds each (fresh topics), the median of each series reported.
            std::vector<double> g, r;
            for (int round = 0; round < 3; ++round) {
                const auto suffix = tag + "_" + std::to_string(round);
                r.push_back(rdkafka_run(bootstrap, "rd_" + suffix, idem, n, 0).records_per_sec);
                g.push_back(gregor_run(bootstrap, "gr_" + suffix, idem, n, 0).records_per_sec);
            }
            const double gm = percentile(g, 0.5), rm = percentile(r, 0.5);
            gregor_bench::emit("gregor_producer_tcp_" + tag, gm, "records/s");
            gregor_bench::emit("librdkafka_producer_" + tag, rm, "records/s");
            gregor_bench::emit("gregor_vs_librdkafka_ratio_" + tag, rm > 0 ? gm / rm : 0, "x");
        }
        const long m = rate * seconds;
        for (const bool idem : {false, true}) {
            const std::string tag =
                (idem ? std::string("acks_all_idempotent_") : std::string("acks_1_")) + std::to_string(rate) + "_per_s";
            const auto g = gregor_run(bootstrap, "gl_" + tag, idem, m, rate);
            const auto r = rdkafka_run(bootstrap, "rl_" + tag, idem, m, rate);
            gregor_bench::emit("gregor_produce_latency_p50_" + tag, g.p50_ms, "ms");
            gregor_bench::emit("gregor_produce_latency_p99_" + tag, g.p99_ms, "ms");
            gregor_bench::emit("librdkafka_produce_latency_p50_" + tag, r.p50_ms, "ms");
            gregor_bench::emit("librdkafka_produce_latency_p99_" + tag, r.p99_ms, "ms");
        }
        const auto [p50, p99] = loopback_rtt(20000);
        gregor_bench::emit("loopback_tcp_rtt_100B_p50", p50, "ms");
        gregor_bench::emit("loopback_tcp_rtt_100B_p99", p99, "ms");
    }
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
}
