// librdkafka helpers shared by the interop tests: configuration, a keyed idempotent producer and
// an assign-mode consumer reading partitions from the beginning (all bounded in time).
#pragma once

#include <catch2/catch.hpp>
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace gregor::test {

struct delivery_stats {
    int ok = 0;
    int failed = 0;
    rd_kafka_resp_err_t first_error = RD_KAFKA_RESP_ERR_NO_ERROR;
};

inline void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* s = static_cast<delivery_stats*>(opaque);
    if (m->err) {
        if (!s->failed) s->first_error = m->err;
        ++s->failed;
    } else {
        ++s->ok;
    }
}

inline rd_kafka_conf_t* make_conf(const std::map<std::string, std::string>& props) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    char err[512];
    for (const auto& [k, v] : props) {
        if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
            FAIL("librdkafka config " << k << ": " << err);
        }
    }
    return conf;
}

/// Produces `n` keyed records (key "key-<i % 1000>", value "<prefix>-<i>") idempotently with acks=all.
inline delivery_stats produce_keyed(const std::string& bootstrap, const std::string& topic, int n, const std::string& prefix) {
    delivery_stats stats;
    auto* conf = make_conf({{"bootstrap.servers", bootstrap},
                            {"enable.idempotence", "true"},
                            {"acks", "all"},
                            {"linger.ms", "5"},
                            {"partitioner", "murmur2_random"},
                            {"message.timeout.ms", "60000"}});
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, &stats);
    char err[512];
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    REQUIRE(rk != nullptr);
    for (int i = 0; i < n; ++i) {
        const std::string key = "key-" + std::to_string(i % 1000);
        const std::string value = prefix + "-" + std::to_string(i);
        for (int attempt = 0; attempt < 1000; ++attempt) {
            const auto e =
                rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_KEY(key.data(), key.size()),
                                  RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
            if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                REQUIRE(e == RD_KAFKA_RESP_ERR_NO_ERROR);
                break;
            }
            rd_kafka_poll(rk, 10); // serves delivery reports, freeing queue space
        }
    }
    CHECK(rd_kafka_flush(rk, 60000) == RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(rk);
    return stats;
}

struct consumed {
    std::map<int, std::vector<std::pair<std::int64_t, std::string>>> by_partition; // offset, value
    std::map<std::string, std::string> key_of;                                     // value -> key
    std::size_t total = 0;
};

/// Reads partitions [0, partitions) from the beginning (assign mode, read_committed) until
/// `expect` records arrived or `timeout` passed.
inline consumed consume_all(const std::string& bootstrap, const std::string& topic, int partitions, std::size_t expect,
                     std::chrono::seconds timeout = std::chrono::seconds(60)) {
    consumed c;
    auto* conf = make_conf({{"bootstrap.servers", bootstrap},
                            {"isolation.level", "read_committed"},
                            {"enable.auto.commit", "false"},
                            {"group.id", "gregor-interop"},
                            {"enable.partition.eof", "false"}});
    char err[512];
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    REQUIRE(rk != nullptr);
    auto* list = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; ++p)
        rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    REQUIRE(rd_kafka_assign(rk, list) == RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(list);
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (c.total < expect && std::chrono::steady_clock::now() < until) {
        rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 200);
        if (!m) continue;
        if (!m->err) {
            std::string value(static_cast<const char*>(m->payload), m->len);
            c.key_of[value] = std::string(static_cast<const char*>(m->key), m->key_len);
            c.by_partition[m->partition].emplace_back(m->offset, std::move(value));
            ++c.total;
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return c;
}

} // namespace gregor::test
