// gregor-producer-perf: produce N records as fast as allowed and print one JSON line, in the spirit
// of Kafka's kafka-producer-perf-test.
//
//   gregor-producer-perf (--bootstrap HOST:PORT | --embedded memory|file) --topic T
//       --num-records N --record-size B [--acks 0|1|all] [--idempotence] [--linger-ms N]
//       [--batch-size N] [--throughput RECORDS_PER_SEC] [--keys] [--verifiable]
//       [--transactional-id ID [--transaction-size N]] [-X producer.property=value ...]
//
// Output (stdout, one line): records, seconds, records_per_sec, mb_per_sec, latency_ms_p50,
// latency_ms_p99, errors; transactional: also transactions, commit_ms_p50, commit_ms_p99. Exit
// status 1 if any record or transaction failed, 2 on bad usage.
// --transactional-id (or -X transactional.id=...) makes every --transaction-size records (default
// 1000) one transaction: init_transactions() once, then begin_transaction(), the sends,
// commit_transaction(); commit latency is the time commit_transaction() took.
// --keys: key "key-<i % 1000>". --verifiable: value "seq=%010d " (15 bytes) then padding where the
// byte at padding position j is 'a' + (seq + j) % 26, so any consumer can check every record.
// --embedded runs a gregor::broker in this process (memory, or file logs in a temporary directory
// removed at exit) and produces through the in-process transport; --bootstrap produces over TCP
// (transport::tcp) to any Kafka broker: a gregor-broker, Apache Kafka, librdkafka's mock.
#include <gregor/broker/broker.hpp>
#include <gregor/broker/broker_policies.hpp>
#include <gregor/producer/producer.hpp>
#include <gregor/producer/tcp_transport.hpp>
#include <gregor/producer/transports.hpp>
#include <gregor/storage/backends/file.hpp>
#include <gregor/storage/backends/memory.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

namespace {

struct options {
    std::string bootstrap;
    std::string embedded;
    std::string topic;
    long long num_records = -1;
    long long record_size = -1;
    long long throughput = -1;
    bool keys = false;
    bool verifiable = false;
    long long transaction_size = 1000;
    std::map<std::string, std::string> props;
};

[[noreturn]] void usage(const std::string& why) {
    std::cerr << "gregor-producer-perf: " << why << "\n"
              << "usage: gregor-producer-perf (--bootstrap HOST:PORT | --embedded memory|file) --topic T\n"
                 "    --num-records N --record-size B [--acks 0|1|all] [--idempotence] [--linger-ms N]\n"
                 "    [--batch-size N] [--throughput RECORDS_PER_SEC] [--keys] [--verifiable]\n"
                 "    [--transactional-id ID [--transaction-size N]] [-X producer.property=value ...]\n";
    std::exit(2);
}

long long number(const std::string& flag, const char* s) {
    char* end = nullptr;
    const long long v = std::strtoll(s, &end, 10);
    if (!s[0] || *end) usage("bad number for " + flag + ": " + s);
    return v;
}

options parse(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> const char* {
            if (i + 1 >= argc) usage(a + " needs a value");
            return argv[++i];
        };
        if (a == "--bootstrap")
            o.bootstrap = next();
        else if (a == "--embedded")
            o.embedded = next();
        else if (a == "--topic")
            o.topic = next();
        else if (a == "--num-records")
            o.num_records = number(a, next());
        else if (a == "--record-size")
            o.record_size = number(a, next());
        else if (a == "--throughput")
            o.throughput = number(a, next());
        else if (a == "--acks")
            o.props["acks"] = next();
        else if (a == "--idempotence")
            o.props["enable.idempotence"] = "true";
        else if (a == "--linger-ms")
            o.props["linger.ms"] = next();
        else if (a == "--batch-size")
            o.props["batch.size"] = next();
        else if (a == "--keys")
            o.keys = true;
        else if (a == "--verifiable")
            o.verifiable = true;
        else if (a == "--transactional-id")
            o.props["transactional.id"] = next();
        else if (a == "--transaction-size")
            o.transaction_size = number(a, next());
        else if (a == "-X") {
            const std::string kv = next();
            const auto eq = kv.find('=');
            if (eq == std::string::npos || eq == 0) usage("-X needs property=value, got " + kv);
            o.props[kv.substr(0, eq)] = kv.substr(eq + 1);
        } else
            usage("unknown argument " + a);
    }
    if (o.bootstrap.empty() == o.embedded.empty()) usage("give exactly one of --bootstrap and --embedded");
    if (!o.embedded.empty() && o.embedded != "memory" && o.embedded != "file") usage("--embedded memory|file");
    if (o.topic.empty()) usage("--topic is required");
    if (o.num_records < 0) usage("--num-records is required");
    if (o.record_size < 0) usage("--record-size is required");
    if (o.verifiable && o.record_size < 15) usage("--verifiable needs --record-size >= 15");
    if (o.transaction_size < 1) usage("--transaction-size must be at least 1");
    return o;
}

// The value of record `seq` (verifiable format) written into `out` (record_size bytes).
void verifiable_value(std::string& out, long long seq) {
    char head[16];
    std::snprintf(head, sizeof head, "seq=%010lld ", seq);
    std::copy(head, head + 15, out.begin());
    for (std::size_t j = 15; j < out.size(); ++j)
        out[j] = static_cast<char>('a' + (static_cast<unsigned long long>(seq) + (j - 15)) % 26);
}

gregor::producer_config make_config(const options& o) {
    gregor::producer_config cfg;
    cfg.bootstrap_servers = o.bootstrap;
    try {
        for (const auto& [k, v] : o.props) cfg.set(k, v);
    } catch (const std::exception& e) {
        usage(e.what());
    }
    return cfg;
}

template <typename Transport>
int run(const options& o, const gregor::producer_config& cfg, Transport t) {
    using policies = gregor::producer_policies<Transport>;
    std::optional<gregor::producer<policies>> made;
    try {
        made.emplace(cfg, std::move(t));
    } catch (const std::invalid_argument& e) {
        usage(e.what()); // a configuration the producer refuses (names the property)
    }
    auto& p = *made;
    const bool transactional = cfg.transactional_id.has_value();
    if (transactional) {
        if (const auto ec = p.init_transactions()) {
            std::cerr << "gregor-producer-perf: init_transactions: " << ec.message() << "\n";
            return 1;
        }
    }
    const auto txn_size = static_cast<std::size_t>(o.transaction_size);
    std::vector<float> commit_ms;
    long long txn_failures = 0;

    const auto n = static_cast<std::size_t>(o.num_records);
    std::vector<float> latency_ms(n, 0.0f);
    std::atomic<long long> errors{0};
    std::string value(static_cast<std::size_t>(o.record_size), 'x');
    std::string key;
    using clock = std::chrono::steady_clock;
    const auto start = clock::now();
    for (std::size_t i = 0; i < n; ++i) {
        if (o.throughput > 0) {
            // At most `throughput` records per second: never run ahead of the schedule.
            const auto due = start + std::chrono::nanoseconds(static_cast<long long>(i) * 1000000000LL / o.throughput);
            if (clock::now() < due) std::this_thread::sleep_until(due);
        }
        if (transactional && i % txn_size == 0) {
            if (const auto ec = p.begin_transaction()) {
                std::cerr << "gregor-producer-perf: begin_transaction: " << ec.message() << "\n";
                return 1;
            }
        }
        if (o.verifiable) verifiable_value(value, static_cast<long long>(i));
        typename gregor::producer<policies>::record r;
        r.topic = o.topic;
        if (o.keys) {
            key = "key-" + std::to_string(i % 1000);
            r.key = std::string_view(key);
        }
        r.value = std::string_view(value);
        const auto sent = clock::now();
        const auto ec = p.send(r, [&latency_ms, &errors, i, sent](std::error_code e, const gregor::record_metadata&) {
            if (e) errors.fetch_add(1, std::memory_order_relaxed);
            latency_ms[i] = std::chrono::duration<float, std::milli>(clock::now() - sent).count();
        });
        // Rejected at send(): the completion already ran and counted it.
        (void)ec;
        if (transactional && ((i + 1) % txn_size == 0 || i + 1 == n)) {
            const auto c0 = clock::now();
            if (const auto ce = p.commit_transaction()) {
                // Its records fail with the abort; the run goes on with the next transaction.
                std::cerr << "gregor-producer-perf: commit_transaction: " << ce.message() << "\n";
                ++txn_failures;
                if (p.txn_state() != gregor::transaction_state::abortable_error || p.abort_transaction()) return 1;
                continue;
            }
            commit_ms.push_back(std::chrono::duration<float, std::milli>(clock::now() - c0).count());
        }
    }
    (void)p.flush();
    const double seconds = std::chrono::duration<double>(clock::now() - start).count();
    (void)p.close();

    const auto pct = [](std::vector<float> v, double q) -> double {
        if (v.empty()) return 0;
        const auto k = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1));
        std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
        return v[k];
    };
    const double rps = seconds > 0 ? static_cast<double>(n) / seconds : 0;
    const double mbps =
        seconds > 0 ? static_cast<double>(n) * static_cast<double>(o.record_size) / (1024.0 * 1024.0) / seconds : 0;
    std::printf("{\"records\": %zu, \"seconds\": %.6f, \"records_per_sec\": %.1f, \"mb_per_sec\": %.3f, "
                "\"latency_ms_p50\": %.3f, \"latency_ms_p99\": %.3f, \"errors\": %lld",
                n, seconds, rps, mbps, pct(latency_ms, 0.50), pct(latency_ms, 0.99), errors.load());
    if (transactional)
        std::printf(", \"transactions\": %zu, \"failed_transactions\": %lld, \"commit_ms_p50\": %.3f, "
                    "\"commit_ms_p99\": %.3f",
                    commit_ms.size(), txn_failures, pct(commit_ms, 0.50), pct(commit_ms, 0.99));
    std::printf("}\n");
    return errors.load() || txn_failures ? 1 : 0;
}

} // namespace

int main(int argc, char** argv) {
    const auto o = parse(argc, argv);
    const auto cfg = make_config(o);
    if (!o.bootstrap.empty()) {
        std::optional<gregor::transport::tcp> t;
        try {
            t.emplace(cfg);
        } catch (const std::invalid_argument& e) {
            usage(e.what());
        }
        return run(o, cfg, std::move(*t));
    }
    gregor::broker_config bc;
    bc.log_flush_scheduler_interval_ms = 1000;
    if (o.embedded == "memory") {
        using broker_type = gregor::broker<gregor::broker_policies<gregor::storage::memory_backend>>;
        broker_type b{bc};
        return run(o, cfg, gregor::transport::in_process<broker_type>{b});
    }
    const auto dir = std::filesystem::temp_directory_path() / ("gregor-producer-perf-" + std::to_string(::getpid()));
    bc.data_dir = dir;
    int rc = 0;
    {
        using broker_type = gregor::broker<gregor::broker_policies<gregor::storage::file_backend>>;
        broker_type b{bc};
        rc = run(o, cfg, gregor::transport::in_process<broker_type>{b});
    }
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    return rc;
}
