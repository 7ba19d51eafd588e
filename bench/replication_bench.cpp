// What replication costs (docs/replication.md): three broker processes on 127.0.0.1 form one
// cluster (this program re-runs itself as each node, so it needs no other binary), and in one run
//   - throughput of 100-byte records: acks=all + idempotence to a topic with replication factor 3
//     and min.insync.replicas=2, next to acks=1 to a topic with replication factor 1 (issue 13
//     goal: RF=3 acks=all >= 0.7x RF=1 acks=1; Kafka's own 2014 figure was 0.51x), for librdkafka
//     and gregor's producer, the median of three alternating rounds each;
//   - acks=all produce latency p50/p99 at a fixed rate on the RF=3 topic, next to the round trip of a
//     100-byte message over a loopback TCP connection measured in the same run.
// Usage: replication_bench [records_for_throughput] [rate_per_sec] [latency_seconds]
//        replication_bench --node ID PORT VOTER_PORT DIR   (internal: one cluster node)
#include "bench.hpp"
#include "producer_runs.hpp"

#include <gregor/broker/broker.hpp>
#include <gregor/broker/cluster_node.hpp>
#include <gregor/broker/kafka_server.hpp>
#include <gregor/testing/local_cluster.hpp>

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

using file_broker = gregor::broker<gregor::broker_policies<gregor::storage::file_backend>>;
using namespace gregor_bench;

// One node until SIGTERM (controlled shutdown), as gregor-broker runs it.
int run_node(int id, int port, int voter_port, const std::string& dir) {
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    gregor::broker_config cfg;
    cfg.node_id = id;
    cfg.data_dir = dir;
    cfg.controller_quorum_voters = "1@127.0.0.1:" + std::to_string(voter_port);
    cfg.default_replication_factor = 3;
    cfg.min_insync_replicas = 2;
    file_broker b{cfg};
    gregor::kafka_server_config sc;
    sc.net.host = "127.0.0.1";
    sc.net.port = static_cast<std::uint16_t>(port);
    gregor::kafka_server<file_broker> srv{b, sc};
    gregor::cluster_node<file_broker> node{b, "127.0.0.1", port};
    std::printf("listening\n");
    std::fflush(stdout);
    int sig = 0;
    sigwait(&signals, &sig);
    node.shutdown(std::chrono::seconds(5));
    srv.stop();
    node.shutdown(std::chrono::milliseconds(0));
    return 0;
}

struct child {
    pid_t pid = -1;
};

child spawn_node(int id, int port, int voter_port, const std::string& dir) {
    int out[2];
    if (::pipe(out) != 0) std::exit(1);
    const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
    std::vector<std::string> args{self, "--node", std::to_string(id), std::to_string(port), std::to_string(voter_port),
                                  dir};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::dup2(out[1], 1);
        ::execv(self.c_str(), argv.data());
        ::_exit(127);
    }
    ::close(out[1]);
    // Bounded wait for its "listening" line.
    std::string line;
    pollfd p{out[0], POLLIN, 0};
    for (int i = 0; i < 300 && line.find('\n') == std::string::npos; ++i) {
        if (::poll(&p, 1, 100) <= 0) continue;
        char c;
        if (::read(out[0], &c, 1) != 1) break;
        line += c;
    }
    ::close(out[0]);
    return {pid};
}

void create_topic(const std::string& bootstrap, const std::string& topic, int rf) {
    char err[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    auto* nt = rd_kafka_NewTopic_new(topic.c_str(), 1, rf, err, sizeof err);
    if (rf < 3) rd_kafka_NewTopic_set_config(nt, "min.insync.replicas", "1");
    auto* q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, nullptr, q);
    if (auto* ev = rd_kafka_queue_poll(q, 20000)) rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_destroy(rk);
    std::this_thread::sleep_for(std::chrono::seconds(1)); // leaders take their roles from the metadata log
}

} // namespace

int main(int argc, char** argv) {
    if (argc == 6 && std::string(argv[1]) == "--node")
        return run_node(std::atoi(argv[2]), std::atoi(argv[3]), std::atoi(argv[4]), argv[5]);
    const long n = argc > 1 ? std::atol(argv[1]) : 300000;
    const long rate = argc > 2 ? std::atol(argv[2]) : 5000;
    const long seconds = argc > 3 ? std::atol(argv[3]) : 3;
    const auto dir = std::filesystem::temp_directory_path() / ("gregor-replication-bench-" + std::to_string(::getpid()));
    std::vector<int> ports;
    for (int i = 0; i < 3; ++i) ports.push_back(gregor::testing::free_loopback_port());
    std::vector<child> nodes;
    for (int i = 0; i < 3; ++i)
        nodes.push_back(spawn_node(i + 1, ports[static_cast<std::size_t>(i)], ports[0],
                                   (dir / ("n" + std::to_string(i + 1))).string()));
    const std::string bootstrap = "127.0.0.1:" + std::to_string(ports[0]) + ",127.0.0.1:" + std::to_string(ports[1]) +
                                  ",127.0.0.1:" + std::to_string(ports[2]);
    std::this_thread::sleep_for(std::chrono::seconds(2)); // registration: brokers heartbeat every 2 s
    std::vector<double> rf1_rd, rf3_rd, rf1_gr, rf3_gr;
    for (int round = 0; round < 3; ++round) {
        const auto r = std::to_string(round);
        for (const auto* t : {"rf1_rd_", "rf1_gr_"}) create_topic(bootstrap, t + r, 1);
        for (const auto* t : {"rf3_rd_", "rf3_gr_"}) create_topic(bootstrap, t + r, 3);
        rf1_rd.push_back(rdkafka_run(bootstrap, "rf1_rd_" + r, false, n, 0).records_per_sec);
        rf3_rd.push_back(rdkafka_run(bootstrap, "rf3_rd_" + r, true, n, 0).records_per_sec);
        rf1_gr.push_back(gregor_run(bootstrap, "rf1_gr_" + r, false, n, 0).records_per_sec);
        rf3_gr.push_back(gregor_run(bootstrap, "rf3_gr_" + r, true, n, 0).records_per_sec);
    }
    const auto med = [](std::vector<double> v) { return percentile(std::move(v), 0.5); };
    for (const auto& [lib, rf1, rf3] : {std::tuple{"librdkafka", med(rf1_rd), med(rf3_rd)},
                                        std::tuple{"gregor", med(rf1_gr), med(rf3_gr)}}) {
        gregor_bench::emit(std::string(lib) + "_rf1_acks1", rf1, "records/s");
        gregor_bench::emit(std::string(lib) + "_rf3_acks_all", rf3, "records/s");
        gregor_bench::emit(std::string(lib) + "_rf3_acks_all_vs_rf1_acks1_ratio", rf1 > 0 ? rf3 / rf1 : 0, "x");
    }
    create_topic(bootstrap, "latency_rf3", 3);
    const auto g = gregor_run(bootstrap, "latency_rf3", true, rate * seconds, rate);
    const auto rd = rdkafka_run(bootstrap, "latency_rf3", true, rate * seconds, rate);
    const std::string tag = "rf3_acks_all_" + std::to_string(rate) + "_per_s";
    gregor_bench::emit("gregor_produce_latency_p50_" + tag, g.p50_ms, "ms");
    gregor_bench::emit("gregor_produce_latency_p99_" + tag, g.p99_ms, "ms");
    gregor_bench::emit("librdkafka_produce_latency_p50_" + tag, rd.p50_ms, "ms");
    gregor_bench::emit("librdkafka_produce_latency_p99_" + tag, rd.p99_ms, "ms");
    const auto [p50, p99] = loopback_rtt(20000);
    gregor_bench::emit("loopback_tcp_rtt_100B_p50", p50, "ms");
    gregor_bench::emit("loopback_tcp_rtt_100B_p99", p99, "ms");
    for (auto& c : nodes) ::kill(c.pid, SIGTERM);
    for (auto& c : nodes) ::waitpid(c.pid, nullptr, 0);
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
}
