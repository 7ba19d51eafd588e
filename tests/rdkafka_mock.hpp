// librdkafka's mock cluster (rdkafka_mock.h, docs/protocol.md §11) owned for one test: the
// brokers listen on 127.0.0.1 ephemeral ports for as long as the object lives. Shared by the
// producer's and the consumer's tests against a broker gregor did not write.
#pragma once

#include <catch2/catch.hpp>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <string>

namespace gregor::test {

struct rdkafka_mock_cluster {
    rd_kafka_t* host = nullptr; // the mock needs a client handle for its bookkeeping
    rd_kafka_mock_cluster_t* mc = nullptr;

    explicit rdkafka_mock_cluster(int brokers) {
        char err[512];
        host = rd_kafka_new(RD_KAFKA_PRODUCER, rd_kafka_conf_new(), err, sizeof err);
        REQUIRE(host);
        mc = rd_kafka_mock_cluster_new(host, brokers);
        REQUIRE(mc);
    }
    ~rdkafka_mock_cluster() {
        rd_kafka_mock_cluster_destroy(mc);
        rd_kafka_destroy(host);
    }
    rdkafka_mock_cluster(const rdkafka_mock_cluster&) = delete;
    rdkafka_mock_cluster& operator=(const rdkafka_mock_cluster&) = delete;

    /// "127.0.0.1:P1,127.0.0.1:P2,..." for bootstrap.servers.
    [[nodiscard]] std::string bootstraps() const { return rd_kafka_mock_cluster_bootstraps(mc); }
};

} // namespace gregor::test
