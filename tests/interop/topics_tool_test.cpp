// gregor-topics (examples/gregor-topics.cpp), the program, against a real gregor-broker process
// and against librdkafka's mock cluster: what it prints, what it changes on the broker (checked
// with a second tool call and with librdkafka's metadata), and its exit codes (0 ok, 1 Kafka
// error, 2 usage).
#include "../rdkafka_mock.hpp"
#include "broker_process.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <regex>
#include <string>
#include <vector>

using namespace gregor::test;

namespace {

std::string topics_exe() {
    const char* e = std::getenv("GREGOR_TOPICS");
    if (e == nullptr || *e == 0) throw std::runtime_error("GREGOR_TOPICS is not set");
    return e;
}

/// Runs gregor-topics with `args` (stderr folded into the output).
std::pair<int, std::string> topics(const std::string& bootstrap, const std::string& args) {
    return run("timeout 60 " + topics_exe() + " --bootstrap-server " + bootstrap + " " + args + " 2>&1");
}

std::size_t count_lines(const std::string& s, const std::string& needle) {
    std::size_t n = 0;
    for (std::size_t at = s.find(needle); at != std::string::npos; at = s.find(needle, at + 1)) ++n;
    return n;
}

} // namespace

TEST_CASE("gregor-topics creates, lists, describes, alters and deletes topics on a gregor broker", "[topics_tool]") {
    temp_dir dir;
    broker_process b(broker_exe(), {"--data-dir", dir.path.string()});
    const auto bs = b.bootstrap();

    auto [rc, out] = topics(bs, "--create --topic orders --partitions 3 --config retention.ms=123456");
    INFO(out);
    REQUIRE(rc == 0);
    CHECK(out.find("Created topic orders.") != std::string::npos);

    std::tie(rc, out) = topics(bs, "--create --topic orders --partitions 3");
    CHECK(rc == 1);
    CHECK(out.find("already exists") != std::string::npos);
    std::tie(rc, out) = topics(bs, "--create --topic orders --partitions 3 --if-not-exists");
    CHECK(rc == 0);

    std::tie(rc, out) = topics(bs, "--create --topic bad/name --partitions 1");
    CHECK(rc == 1);
    CHECK(out.find("Error while executing topic command") != std::string::npos);
    std::tie(rc, out) = topics(bs, "--create --topic zero --partitions 0");
    CHECK(rc == 1);
    std::tie(rc, out) = topics(bs, "--create --topic badcfg --config no.such.config=1");
    CHECK(rc == 1);

    std::tie(rc, out) = topics(bs, "--create --topic payments");
    REQUIRE(rc == 0);
    std::tie(rc, out) = topics(bs, "--list");
    REQUIRE(rc == 0);
    CHECK(out == "orders\npayments\n");

    std::tie(rc, out) = topics(bs, "--describe --topic orders");
    REQUIRE(rc == 0);
    CHECK(out.find("Topic: orders\tTopicId: ") == 0);
    CHECK(out.find("PartitionCount: 3\tReplicationFactor: 1\tConfigs: retention.ms=123456") != std::string::npos);
    CHECK(count_lines(out, "\tTopic: orders\tPartition: ") == 3);
    CHECK(std::regex_search(out, std::regex("Partition: 2\tLeader: [0-9]+\tReplicas: [0-9]+\tIsr: [0-9]+")));

    std::tie(rc, out) = topics(bs, "--alter --topic orders --partitions 5");
    REQUIRE(rc == 0);
    std::tie(rc, out) = topics(bs, "--alter --topic orders --partitions 2");
    CHECK(rc == 1);
    CHECK(out.find("partitions") != std::string::npos); // "Topic currently has 5 partitions, ..."
    std::tie(rc, out) =
        topics(bs, "--alter-config --topic orders --config retention.ms=999 --config segment.bytes=1048576");
    REQUIRE(rc == 0);
    CHECK(out.find("Completed updating config for topic orders.") != std::string::npos);
    std::tie(rc, out) = topics(bs, "--alter-config --topic orders --delete-config segment.bytes");
    REQUIRE(rc == 0);
    std::tie(rc, out) = topics(bs, "--describe --topic orders");
    REQUIRE(rc == 0);
    CHECK(out.find("PartitionCount: 5") != std::string::npos);
    CHECK(out.find("Configs: retention.ms=999\n") != std::string::npos);
    CHECK(count_lines(out, "\tTopic: orders\tPartition: ") == 5);

    // The changes survive a restart.
    REQUIRE(b.restart() == 0);
    std::tie(rc, out) = topics(b.bootstrap(), "--describe --topic orders");
    REQUIRE(rc == 0);
    CHECK(out.find("PartitionCount: 5") != std::string::npos);
    CHECK(out.find("Configs: retention.ms=999\n") != std::string::npos);

    std::tie(rc, out) = topics(b.bootstrap(), "--delete --topic orders");
    REQUIRE(rc == 0);
    std::tie(rc, out) = topics(b.bootstrap(), "--list");
    CHECK(out == "payments\n");
    std::tie(rc, out) = topics(b.bootstrap(), "--delete --topic orders");
    CHECK(rc == 1);
    CHECK(out.find("does not exist") != std::string::npos);
    std::tie(rc, out) = topics(b.bootstrap(), "--delete --topic orders --if-exists");
    CHECK(rc == 0);
    std::tie(rc, out) = topics(b.bootstrap(), "--describe --topic orders");
    CHECK(rc == 1);
}

TEST_CASE("gregor-topics reports usage errors with status 2 and --help like Kafka's tools", "[topics_tool]") {
    auto [rc, out] = run("timeout 30 " + topics_exe() + " --help 2>&1");
    CHECK(rc == 0);
    CHECK(out.find("--bootstrap-server") != std::string::npos);
    CHECK(out.find("--create") != std::string::npos);
    CHECK(out.find("--replication-factor") != std::string::npos);
    std::tie(rc, out) = run("timeout 30 " + topics_exe() + " --list 2>&1");
    CHECK(rc == 2);
    CHECK(out.find("--bootstrap-server is required") != std::string::npos);
    std::tie(rc, out) = run("timeout 30 " + topics_exe() + " --bootstrap-server 127.0.0.1:1 --create 2>&1");
    CHECK(rc == 2);
    std::tie(rc, out) = run("timeout 30 " + topics_exe() + " --bootstrap-server 127.0.0.1:1 --list --delete 2>&1");
    CHECK(rc == 2);
    std::tie(rc, out) = run("timeout 30 " + topics_exe() + " --bootstrap-server nonsense --list 2>&1");
    CHECK(rc == 2);
    // Nothing listens there: a clear error, status 1, within the timeout.
    std::tie(rc, out) =
        run("timeout 30 " + topics_exe() + " --bootstrap-server 127.0.0.1:1 --list --timeout-ms 1000 2>&1");
    CHECK(rc == 1);
    CHECK(out.find("Error while executing topic command") != std::string::npos);
}

TEST_CASE("gregor-topics lists and describes the topics of librdkafka's mock cluster", "[topics_tool]") {
    rdkafka_mock_cluster mock(3);
    REQUIRE(rd_kafka_mock_topic_create(mock.mc, "mocked", 4, 3) == RD_KAFKA_RESP_ERR_NO_ERROR);
    const auto bs = mock.bootstraps();
    auto [rc, out] = topics(bs, "--list");
    INFO(out);
    REQUIRE(rc == 0);
    CHECK(out.find("mocked\n") != std::string::npos);
    std::tie(rc, out) = topics(bs, "--describe --topic mocked");
    INFO(out);
    REQUIRE(rc == 0);
    CHECK(out.find("PartitionCount: 4\tReplicationFactor: 3") != std::string::npos);
    CHECK(count_lines(out, "\tTopic: mocked\tPartition: ") == 4);
    // The 2.0.2 mock has no CreateTopics: a clear error and status 1, not a hang. A mock that has
    // it must then list the topic.
    std::tie(rc, out) = topics(bs, "--create --topic fresh --partitions 2");
    if (rc != 0) {
        CHECK(rc == 1);
        CHECK(out.find("Error while executing topic command") != std::string::npos);
    } else {
        std::tie(rc, out) = topics(bs, "--list");
        CHECK(rc == 0);
        CHECK(out.find("fresh\n") != std::string::npos);
    }
}
