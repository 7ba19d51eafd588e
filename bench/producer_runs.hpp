// Producer runs shared by the benchmarks that compare gregor's producer with librdkafka's over
// TCP (producer_tcp_bench, replication_bench): throughput of n 100-byte records, or latency at a
// fixed rate, for either library, and the loopback TCP round trip to put latencies next to.
#pragma once

#include "bench.hpp"

#include <gregor/producer/producer.hpp>
#include <gregor/producer/tcp_transport.hpp>

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

namespace gregor_bench {

using clk = std::chrono::steady_clock;
struct run_result {
    double records_per_sec = -1;
    double p50_ms = 0, p99_ms = 0;
};

inline double percentile(std::vector<double> v, double q) {
    if (v.empty()) return 0;
    const auto k = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1));
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
    return v[k];
}

// ---- librdkafka ------------------------------------------------------------------------------

struct rd_state {
    std::atomic<long> ok{0}, failed{0};
    std::vector<double>* latencies = nullptr;
};

inline void rd_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* s = static_cast<rd_state*>(opaque);
    if (m->err) {
        ++s->failed;
    } else {
        ++s->ok;
    }
    if (s->latencies && m->_private) {
        const auto sent = reinterpret_cast<std::intptr_t>(m->_private);
        s->latencies->push_back(
            std::chrono::duration<double, std::milli>(clk::now().time_since_epoch() - std::chrono::nanoseconds(sent))
                .count());
    }
}

/// `rate` 0: as fast as possible, n records; else n records at `rate` per second with latencies.
inline run_result rdkafka_run(const std::string& bootstrap, const std::string& topic, bool idempotent, long n, long rate) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    char err[512];
    const std::map<std::string, std::string> props{{"bootstrap.servers", bootstrap},
                                                   {"acks", idempotent ? "all" : "1"},
                                                   {"enable.idempotence", idempotent ? "true" : "false"},
                                                   {"linger.ms", rate ? "0" : "5"},
                                                   {"queue.buffering.max.messages", "1000000"}};
    for (const auto& [k, v] : props) rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err);
    rd_state st;
    std::vector<double> lat;
    rd_kafka_conf_set_dr_msg_cb(conf, rd_delivery);
    rd_kafka_conf_set_opaque(conf, &st);
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    const std::string value(100, 'v');
    // Warm up: metadata, connection, producer id.
    rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic.c_str()),
                      RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    rd_kafka_flush(rk, 30000);
    st.ok = 0;
    st.failed = 0;
    if (rate) {
        lat.reserve(static_cast<std::size_t>(n));
        st.latencies = &lat;
    }
    const auto t0 = clk::now();
    for (long i = 0; i < n; ++i) {
        if (rate) {
            std::this_thread::sleep_until(t0 + std::chrono::nanoseconds(i * 1000000000LL / rate));
            rd_kafka_poll(rk, 0);
        }
        const auto stamp = static_cast<std::intptr_t>(clk::now().time_since_epoch().count());
        while (rd_kafka_producev(
                   rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                   RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(stamp)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                   RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(rk, 1);
        if (rate) rd_kafka_poll(rk, 0); // delivery reports promptly, so their time is the completion time
    }
    rd_kafka_flush(rk, 120000);
    const double s = std::chrono::duration<double>(clk::now() - t0).count();
    rd_kafka_destroy(rk);
    run_result r;
    if (st.failed == 0 && st.ok == n) r.records_per_sec = static_cast<double>(n) / s;
    r.p50_ms = percentile(lat, 0.50);
    r.p99_ms = percentile(lat, 0.99);
    return r;
}

// ---- gregor ----------------------------------------------------------------------------------

inline run_result gregor_run(const std::string& bootstrap, const std::string& topic, bool idempotent, long n, long rate) {
    gregor::producer_config cfg;
    cfg.bootstrap_servers = bootstrap;
    cfg.acks = idempotent ? -1 : 1;
    cfg.enable_idempotence = idempotent;
    cfg.linger_ms = rate ? 0 : 5;
    using policies = gregor::producer_policies<gregor::transport::tcp>;
    gregor::producer<policies> p{cfg, gregor::transport::tcp{cfg}};
    const std::string value(100, 'v');
    (void)p.send({.topic = topic, .value = value}, gregor::use_future).get(); // warm up
    std::atomic<long> ok{0}, failed{0};
    std::vector<double> lat(rate ? static_cast<std::size_t>(n) : 0);
    const auto t0 = clk::now();
    for (long i = 0; i < n; ++i) {
        if (rate) {
            std::this_thread::sleep_until(t0 + std::chrono::nanoseconds(i * 1000000000LL / rate));
            const auto sent = clk::now();
            (void)p.send({.topic = topic, .value = value}, [&, i, sent](std::error_code ec,
                                                                        const gregor::record_metadata&) {
                (ec ? failed : ok).fetch_add(1, std::memory_order_relaxed);
                lat[static_cast<std::size_t>(i)] = std::chrono::duration<double, std::milli>(clk::now() - sent).count();
            });
        } else {
            (void)p.send({.topic = topic, .value = value}, [&](std::error_code ec, const gregor::record_metadata&) {
                (ec ? failed : ok).fetch_add(1, std::memory_order_relaxed);
            });
        }
    }
    (void)p.flush();
    const double s = std::chrono::duration<double>(clk::now() - t0).count();
    run_result r;
    if (failed == 0 && ok == n) r.records_per_sec = static_cast<double>(n) / s;
    r.p50_ms = percentile(lat, 0.50);
    r.p99_ms = percentile(lat, 0.99);
    return r;
}

// ---- loopback round trip ---------------------------------------------------------------------

/// p50/p99 of a 100-byte request answered by 100 bytes over a loopback TCP connection (an echo
/// thread), in ms.
inline std::pair<double, double> loopback_rtt(int rounds) {
    const int lfd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(lfd, 1);
    socklen_t len = sizeof a;
    ::getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len);
    std::thread echo([lfd] {
        const int fd = ::accept(lfd, nullptr, nullptr);
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        char buf[100];
        for (;;) {
            std::size_t got = 0;
            while (got < sizeof buf) {
                const auto r = ::recv(fd, buf + got, sizeof buf - got, 0);
                if (r <= 0) {
                    ::close(fd);
                    return;
                }
                got += static_cast<std::size_t>(r);
            }
            if (::send(fd, buf, sizeof buf, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof buf)) {
                ::close(fd);
                return;
            }
        }
    });
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::vector<double> rtt;
    char buf[100] = {};
    for (int i = 0; i < rounds; ++i) {
        const auto t0 = clk::now();
        if (::send(fd, buf, sizeof buf, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof buf)) break;
        std::size_t got = 0;
        while (got < sizeof buf) {
            const auto r = ::recv(fd, buf + got, sizeof buf - got, 0);
            if (r <= 0) break;
            got += static_cast<std::size_t>(r);
        }
        rtt.push_back(std::chrono::duration<double, std::milli>(clk::now() - t0).count());
    }
    ::close(fd);
    echo.join();
    ::close(lfd);
    return {percentile(rtt, 0.50), percentile(rtt, 0.99)};
}

} // namespace gregor_bench
