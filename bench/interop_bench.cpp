// librdkafka producer throughput against a gregor broker (file storage, Kafka protocol over
// loopback) next to the same producer against librdkafka's own mock cluster, in one run;
// 100-byte values, acks=1 and acks=all with idempotence. Goal (issue 6): gregor >= 1.0x the mock.
#include "bench.hpp"

#include <gregor/broker/broker.hpp>
#include <gregor/broker/kafka_server.hpp>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>

namespace {

struct counter {
    long ok = 0, failed = 0;
};

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* c = static_cast<counter*>(opaque);
    if (m->err)
        ++c->failed;
    else
        ++c->ok;
}

/// Records per second for `n` 100-byte records; -1 if any failed.
double produce_rate(const std::string& bootstrap, bool idempotent, long n) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    char err[512];
    const std::map<std::string, std::string> props{{"bootstrap.servers", bootstrap},
                                                   {"acks", idempotent ? "all" : "1"},
                                                   {"enable.idempotence", idempotent ? "true" : "false"},
                                                   {"linger.ms", "5"},
                                                   {"queue.buffering.max.messages", "1000000"}};
    for (const auto& [k, v] : props) rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err);
    counter c;
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, &c);
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    const std::string value(100, 'v');
    // Warm up: metadata, connection, producer id.
    rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("bench"), RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    rd_kafka_flush(rk, 30000);
    c = {};
    const auto t0 = std::chrono::steady_clock::now();
    for (long i = 0; i < n; ++i) {
        while (rd_kafka_producev(
                   rk, RD_KAFKA_V_TOPIC("bench"), RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(rk, 1);
    }
    rd_kafka_flush(rk, 120000);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rd_kafka_destroy(rk);
    return c.failed || c.ok != n ? -1 : static_cast<double>(n) / s;
}

} // namespace

int main(int argc, char** argv) {
    const long n = argc > 1 ? std::atol(argv[1]) : 1000000;
    using file_broker = gregor::broker<gregor::broker_policies<gregor::storage::file_backend>>;
    for (const bool idem : {false, true}) {
        const std::string tag = idem ? "acks_all_idempotent" : "acks_1";
        double gregor_rate = 0, mock_rate = 0;
        {
            const auto dir =
                std::filesystem::temp_directory_path() / ("gregor-interop-bench-" + std::to_string(::getpid()));
            gregor::broker_config cfg;
            cfg.data_dir = dir;
            {
                file_broker b{cfg};
                gregor::kafka_server_config sc;
                sc.net.host = "127.0.0.1";
                sc.net.port = 0;
                gregor::kafka_server<file_broker> srv{b, sc};
                gregor_rate = produce_rate("127.0.0.1:" + std::to_string(srv.port()), idem, n);
            }
            std::filesystem::remove_all(dir);
        }
        {
            char err[512];
            rd_kafka_t* host = rd_kafka_new(RD_KAFKA_PRODUCER, rd_kafka_conf_new(), err, sizeof err);
            rd_kafka_mock_cluster_t* mc = rd_kafka_mock_cluster_new(host, 1);
            rd_kafka_mock_topic_create(mc, "bench", 1, 1);
            mock_rate = produce_rate(rd_kafka_mock_cluster_bootstraps(mc), idem, n);
            rd_kafka_mock_cluster_destroy(mc);
            rd_kafka_destroy(host);
        }
        gregor_bench::emit("librdkafka_produce_to_gregor_file_" + tag, gregor_rate, "records/s");
        gregor_bench::emit("librdkafka_produce_to_rdkafka_mock_" + tag, mock_rate, "records/s");
        gregor_bench::emit("gregor_vs_mock_ratio_" + tag, mock_rate > 0 ? gregor_rate / mock_rate : 0, "x");
    }
}
