// gregor-transform: consume-transform-produce exactly once (Kafka's read-process-write loop).
//
//   gregor-transform --bootstrap HOST:PORT --input T --output T --group G --transactional-id ID
//       [--max-per-txn N] [--record-delay-us N] [--exit-when-idle-ms N]
//
// Reads --input as a member of consumer group --group (read_committed, no auto commit), writes
// "<partition>/<offset> <VALUE IN UPPER CASE>" for every input record to --output, and commits the
// consumed offsets inside the same transaction (send_offsets_to_transaction). Kill it at any point
// (kill -9 included) and start it again with the same --transactional-id: the new instance fences
// the old one, the coordinator aborts what was left open, and consumption resumes at the offsets of
// the last committed transaction, so a read_committed reader of --output sees each input record's
// result exactly once (docs/transactions.md, "Read-process-write").
//
// The group membership is static (group.instance.id = the transactional id): a restarted instance
// takes its predecessor's place at once instead of waiting out the dead member's session.
// Prints "committed <records in total>" after every commit. Exits 0 after --exit-when-idle-ms with
// nothing to read (when given), 1 on a fatal error (fenced: another instance took over), 2 on bad usage.
#include <gregor/consumer/consumer.hpp>
#include <gregor/consumer/tcp_transport.hpp>
#include <gregor/producer/producer.hpp>
#include <gregor/producer/tcp_transport.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

struct options {
    std::string bootstrap, input, output, group, transactional_id;
    long long max_per_txn = 500;
    long long record_delay_us = 0;
    long long exit_when_idle_ms = -1;
};

[[noreturn]] void usage(const std::string& why) {
    std::cerr << "gregor-transform: " << why << "\n"
              << "usage: gregor-transform --bootstrap HOST:PORT --input T --output T --group G\n"
                 "    --transactional-id ID [--max-per-txn N] [--record-delay-us N] [--exit-when-idle-ms N]\n";
    std::exit(2);
}

options parse(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const auto next = [&]() -> std::string {
            if (i + 1 >= argc) usage(a + " needs a value");
            return argv[++i];
        };
        const auto number = [&]() {
            const auto v = next();
            try {
                return std::stoll(v);
            } catch (const std::exception&) {
                usage(a + ": not a number: " + v);
            }
        };
        if (a == "--bootstrap") o.bootstrap = next();
        else if (a == "--input") o.input = next();
        else if (a == "--output") o.output = next();
        else if (a == "--group") o.group = next();
        else if (a == "--transactional-id") o.transactional_id = next();
        else if (a == "--max-per-txn") o.max_per_txn = number();
        else if (a == "--record-delay-us") o.record_delay_us = number();
        else if (a == "--exit-when-idle-ms") o.exit_when_idle_ms = number();
        else usage("unknown argument " + a);
    }
    if (o.bootstrap.empty() || o.input.empty() || o.output.empty() || o.group.empty() || o.transactional_id.empty())
        usage("--bootstrap, --input, --output, --group and --transactional-id are required");
    if (o.max_per_txn < 1) usage("--max-per-txn must be at least 1");
    return o;
}

std::string transform(const gregor::consumed_batch& b, const gregor::wire::record_view& rec) {
    std::string out = std::to_string(b.tp->partition.value()) + "/" + std::to_string(rec.record_offset.value()) + " ";
    if (rec.value)
        for (const auto c : gregor::as_string_view(*rec.value))
            out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    return out;
}

using producer_type = gregor::producer<gregor::producer_policies<gregor::transport::tcp>>;

// After an abort, the next transaction must start where the last committed one ended: the group's
// committed offsets (or auto.offset.reset where the group has none yet).
bool rewind(gregor::consumer<gregor::fetch_transport::tcp>& c) {
    const auto tps = c.assignment();
    if (tps.empty()) return true;
    const auto committed = c.committed(tps);
    if (committed.error) return false;
    for (const auto& co : committed.partitions) {
        if (co.error) return false;
        if (co.next.value() >= 0) (void)c.seek(co.tp, co.next);
        else (void)c.seek_to_beginning(co.tp);
    }
    return true;
}

int run(const options& o) {
    auto cc = gregor::consumer_config::from_properties({
        {"bootstrap.servers", o.bootstrap},
        {"group.id", o.group},
        {"group.instance.id", o.transactional_id},
        {"isolation.level", "read_committed"},
        {"enable.auto.commit", "false"},
        {"auto.offset.reset", "earliest"},
    });
    gregor::consumer c{cc, gregor::fetch_transport::tcp{cc}};

    gregor::producer_config pc;
    pc.bootstrap_servers = o.bootstrap;
    pc.set("transactional.id", o.transactional_id);
    pc.set("linger.ms", "5");
    producer_type p{pc, gregor::transport::tcp{pc}};
    if (const auto ec = p.init_transactions()) {
        std::cerr << "gregor-transform: init_transactions: " << ec.message() << "\n";
        return 1;
    }
    c.subscribe({o.input});

    long long total = 0;
    auto idle_since = std::chrono::steady_clock::now();
    for (;;) {
        auto r = c.poll(std::chrono::milliseconds(200));
        for (const auto& e : r.errors()) std::cerr << "gregor-transform: poll: " << e.error.message() << "\n";
        if (r.empty()) {
            if (o.exit_when_idle_ms >= 0 &&
                std::chrono::steady_clock::now() - idle_since > std::chrono::milliseconds(o.exit_when_idle_ms))
                break;
            continue;
        }
        // Every record of the poll, transformed; then transactions of at most --max-per-txn.
        struct item {
            gregor::topic_partition tp;
            gregor::offset next;
            std::optional<std::string> key;
            std::string value;
        };
        std::vector<item> items;
        r.for_each_record([&](const gregor::consumed_batch& b, const gregor::wire::record_view& rec) {
            if (rec.record_offset < b.skip_below) return;
            std::optional<std::string> key;
            if (rec.key) key.emplace(gregor::as_string_view(*rec.key));
            items.push_back({*b.tp, gregor::offset{rec.record_offset.value() + 1}, std::move(key), transform(b, rec)});
        });
        for (std::size_t from = 0; from < items.size();) {
            const auto to = std::min(items.size(), from + static_cast<std::size_t>(o.max_per_txn));
            if (auto ec = p.begin_transaction()) {
                std::cerr << "gregor-transform: begin_transaction: " << ec.message() << "\n";
                return 1;
            }
            std::map<gregor::topic_partition, gregor::offset> next;
            for (std::size_t i = from; i < to; ++i) {
                const auto& it = items[i];
                producer_type::record out{.topic = o.output, .value = std::string_view(it.value)};
                if (it.key) out.key = std::string_view(*it.key);
                (void)p.send(out); // a failed record fails the commit: nothing is lost silently
                next[it.tp] = it.next;
                if (o.record_delay_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(o.record_delay_us));
            }
            std::vector<gregor::transaction_offset> offsets;
            for (const auto& [tp, off] : next) offsets.push_back({.topic = tp.topic, .partition = tp.partition, .next = off});
            auto ec = p.send_offsets_to_transaction(offsets, c.group_metadata());
            if (!ec) ec = p.commit_transaction();
            if (ec && p.txn_state() == gregor::transaction_state::abortable_error) {
                // E.g. the group rebalanced under us (ILLEGAL_GENERATION): undo, and read again
                // from what the group last committed.
                std::cerr << "gregor-transform: transaction aborted: " << ec.message() << "\n";
                if (const auto ae = p.abort_transaction()) {
                    std::cerr << "gregor-transform: abort_transaction: " << ae.message() << "\n";
                    return 1;
                }
                if (!rewind(c)) {
                    std::cerr << "gregor-transform: could not read the committed offsets\n";
                    return 1;
                }
                break;
            }
            if (ec) {
                std::cerr << "gregor-transform: " << ec.message() << "\n"; // fenced: another instance runs
                return 1;
            }
            total += static_cast<long long>(to - from);
            std::printf("committed %lld\n", total);
            std::fflush(stdout);
            from = to;
        }
        idle_since = std::chrono::steady_clock::now();
    }
    c.close();
    (void)p.close();
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    const auto o = parse(argc, argv);
    try {
        return run(o);
    } catch (const std::exception& e) {
        std::cerr << "gregor-transform: " << e.what() << "\n";
        return 1;
    }
}
