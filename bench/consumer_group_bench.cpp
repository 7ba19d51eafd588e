// Consumer groups over TCP: gregor's consumer next to librdkafka's high-level consumer, against the
// same in-process gregor broker (memory storage, kafka_server on 127.0.0.1) in one run.
//   - End-to-end consume throughput: a topic of 4 partitions is pre-filled through the broker with
//     N records of 100-byte values (batches of 1000, spread evenly); a fresh group of 1 member, and
//     one of 4 members (one thread each), subscribes and reads from the earliest offset. The time
//     runs from the subscribe() calls (consumers already created) to the moment the last record of
//     every partition has been read by some member; the figure is N / that time. Every run checks
//     (on stderr) that exactly N records were read in total -- more means some were read twice --
//     and shows how they split over the members: with each client's default heartbeat (3 s) the
//     first member to join may read much of the topic before the others are in.
//   - Rebalance time for 4 members: 4 members of a fresh group subscribe at once to an idle topic
//     of 4 partitions and poll (10 ms polls here); the time until all 4 hold a non-empty
//     assignment at once.
// Both clients run with their own default settings (heartbeat.interval.ms 3000 and
// session.timeout.ms 45000 for both; partition.assignment.strategy range,roundrobin for librdkafka,
// range,cooperative-sticky for gregor), plus enable.auto.commit=true, auto.offset.reset=earliest
// and (librdkafka) enable.partition.eof=false; both read with 100 ms polls. The broker has
// group.initial.rebalance.delay.ms=0. One untimed warm-up read per client, then `rounds`
// alternating rounds; the medians are printed. Every run is bounded at 120 s.
// Goal (issue): gregor's consumer >= 1.5x librdkafka's records/s.
// Usage: consumer_group_bench [records] [rounds]   (defaults 2000000 and 3)
#include "bench.hpp"

#include <gregor/broker/broker.hpp>
#include <gregor/broker/kafka_server.hpp>
#include <gregor/consumer/consumer.hpp>
#include <gregor/consumer/tcp_transport.hpp>
#include <gregor/storage/backends/memory.hpp>
#include <gregor/wire/record_batch.hpp>

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <latch>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

using memory_broker = gregor::broker<gregor::broker_policies<gregor::storage::memory_backend>>;
using clk = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr int partitions = 4;
constexpr std::size_t value_size = 100;
constexpr auto run_budget = 120s;

// ---- the two kinds of member, with the same shape ----

struct gregor_member {
    std::optional<gregor::consumer<gregor::fetch_transport::tcp>> c;
    gregor_member(const std::string& bootstrap, const std::string& group) {
        gregor::consumer_config cfg;
        cfg.bootstrap_servers = bootstrap;
        cfg.group_id = group;
        cfg.auto_offset_reset = gregor::offset_reset::earliest;
        cfg.enable_auto_commit = true;
        gregor::fetch_transport::tcp t{cfg};
        c.emplace(std::move(cfg), std::move(t));
    }
    void subscribe(const std::string& topic) { c->subscribe({topic}); }
    // f(partition, offset, value size) for every record of one poll.
    template <typename F>
    void poll(std::chrono::milliseconds timeout, F&& f) {
        auto r = c->poll(timeout);
        r.for_each_record([&](const gregor::consumed_batch& b, const gregor::wire::record_view& rec) {
            f(b.tp->partition.value(), rec.record_offset.value(), rec.value ? rec.value->size() : 0);
        });
    }
    bool assigned() const { return !c->assignment().empty(); }
};

struct rdkafka_member {
    rd_kafka_t* rk = nullptr;
    rdkafka_member(const std::string& bootstrap, const std::string& group) {
        char err[512];
        rd_kafka_conf_t* conf = rd_kafka_conf_new();
        for (const auto& [k, v] : {std::pair<const char*, std::string>{"bootstrap.servers", bootstrap},
                                   {"group.id", group},
                                   {"auto.offset.reset", "earliest"},
                                   {"enable.auto.commit", "true"},
                                   {"enable.partition.eof", "false"}})
            if (rd_kafka_conf_set(conf, k, v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK)
                std::fprintf(stderr, "librdkafka conf %s: %s\n", k, err);
        rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
        if (!rk) {
            std::fprintf(stderr, "rd_kafka_new: %s\n", err);
            std::exit(1);
        }
        rd_kafka_poll_set_consumer(rk);
    }
    ~rdkafka_member() {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
    rdkafka_member(const rdkafka_member&) = delete;
    rdkafka_member& operator=(const rdkafka_member&) = delete;
    void subscribe(const std::string& topic) {
        auto* l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, topic.c_str(), RD_KAFKA_PARTITION_UA);
        if (const auto e = rd_kafka_subscribe(rk, l))
            std::fprintf(stderr, "rd_kafka_subscribe: %s\n", rd_kafka_err2str(e));
        rd_kafka_topic_partition_list_destroy(l);
    }
    template <typename F>
    void poll(std::chrono::milliseconds timeout, F&& f) {
        rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, static_cast<int>(timeout.count()));
        if (!m) return;
        if (!m->err) f(m->partition, m->offset, m->len);
        rd_kafka_message_destroy(m);
    }
    bool assigned() const {
        rd_kafka_topic_partition_list_t* l = nullptr;
        if (rd_kafka_assignment(rk, &l) != RD_KAFKA_RESP_ERR_NO_ERROR || !l) return false;
        const bool any = l->cnt > 0;
        rd_kafka_topic_partition_list_destroy(l);
        return any;
    }
};

// ---- one run: `members` members of a fresh group, each on its own thread ----

enum class until { all_read, all_assigned };

struct shared_state {
    until goal = until::all_read;
    std::array<std::int64_t, partitions> last{}; // offset of each partition's last record (-1: empty)
    std::array<std::atomic<bool>, partitions> part_done{};
    std::atomic<int> parts_done{0};
    std::vector<std::atomic<bool>> assigned;
    std::atomic<bool> stop{false};
    clk::time_point deadline, t_end;
    std::atomic<bool> first_seen{false};
    clk::time_point t_first; // the first record read by any member
    explicit shared_state(int members) : assigned(static_cast<std::size_t>(members)) {}
};

struct run_result {
    double seconds = 0;       // subscribe -> goal reached (the budget if it never was)
    double first_seconds = 0; // subscribe -> first record read (0: none)
    long records = 0;         // read by all members, until they stopped
    std::vector<long> per_member;
    std::size_t value_bytes = 0; // sum of the value sizes read (100 per record)
    bool completed = false;
};

template <typename Member>
void member_loop(Member& m, shared_state& s, std::size_t idx, long& count, std::size_t& value_bytes) {
    long n = 0;
    std::size_t bytes = 0;
    const auto on_record = [&](std::int32_t p, std::int64_t off, std::size_t len) {
        if (n++ == 0 && !s.first_seen.exchange(true)) s.t_first = clk::now();
        bytes += len;
        if (p >= 0 && p < partitions && off == s.last[static_cast<std::size_t>(p)] &&
            !s.part_done[static_cast<std::size_t>(p)].exchange(true) && s.parts_done.fetch_add(1) + 1 == partitions &&
            !s.stop.exchange(true))
            s.t_end = clk::now();
    };
    while (!s.stop.load(std::memory_order_relaxed) && clk::now() < s.deadline) {
        // 100 ms polls; 10 ms while waiting for the assignment, to time it to 10 ms.
        m.poll(s.goal == until::all_read ? 100ms : 10ms, on_record);
        if (s.goal == until::all_assigned) {
            s.assigned[idx] = m.assigned();
            bool all = true;
            for (const auto& a : s.assigned) all = all && a.load();
            if (all && !s.stop.exchange(true)) s.t_end = clk::now();
        }
    }
    count = n;
    value_bytes = bytes;
}

template <typename Member>
run_result run_group(const std::string& bootstrap, const std::string& topic, const std::string& group, int members,
                     until goal, const std::array<std::int64_t, partitions>& last) {
    shared_state s{members};
    s.goal = goal;
    s.last = last;
    for (std::size_t p = 0; p < partitions; ++p)
        if (last[p] < 0) {
            s.part_done[p] = true;
            ++s.parts_done;
        }
    std::latch ready(members), go(1);
    std::vector<long> counts(static_cast<std::size_t>(members), 0);
    std::vector<std::size_t> bytes(static_cast<std::size_t>(members), 0);
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < static_cast<std::size_t>(members); ++i)
        threads.emplace_back([&, i] {
            Member m(bootstrap, group);
            ready.count_down();
            go.wait();
            m.subscribe(topic);
            member_loop(m, s, i, counts[i], bytes[i]);
        }); // ~Member leaves the group (outside the measured time)
    ready.wait();
    const auto t0 = clk::now();
    s.deadline = t0 + run_budget;
    go.count_down();
    for (auto& t : threads) t.join();
    run_result r;
    r.completed = s.stop.load();
    r.seconds = std::chrono::duration<double>((r.completed ? s.t_end : s.deadline) - t0).count();
    for (long c : counts) r.records += c;
    r.per_member = counts;
    for (auto b : bytes) r.value_bytes += b;
    if (s.first_seen) r.first_seconds = std::chrono::duration<double>(s.t_first - t0).count();
    return r;
}

std::string fresh_group(const std::string& prefix) {
    static int run_no = 0;
    return prefix + "-" + std::to_string(++run_no);
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

// Records/s of a run reading all `n` records; checks the count on stderr.
template <typename Member>
double read_all_rate(const char* what, const std::string& bootstrap, const std::string& group, int members, long n,
                     const std::array<std::int64_t, partitions>& last) {
    const auto r = run_group<Member>(bootstrap, "bench", fresh_group(group), members, until::all_read, last);
    std::string split;
    for (long c : r.per_member) split += (split.empty() ? "" : " ") + std::to_string(c);
    std::fprintf(
        stderr, "%s, %d member(s): read %ld of %ld records in %.3f s (first record after %.3f s; per member: %s)%s\n",
        what, members, r.records, n, r.seconds, r.first_seconds, split.c_str(), r.completed ? "" : " (TIMED OUT)");
    if (r.value_bytes != static_cast<std::size_t>(r.records) * value_size)
        std::fprintf(stderr, "WARNING: %s, %d member(s): values add up to %zu bytes, not %ld x %zu\n", what, members,
                     r.value_bytes, r.records, value_size);
    if (r.records != n || !r.completed)
        std::fprintf(stderr, "WARNING: %s, %d member(s): read %ld records, expected exactly %ld\n", what, members,
                     r.records, n);
    return r.seconds > 0 ? static_cast<double>(n) / r.seconds : 0;
}

template <typename Member>
double rebalance_ms(const char* what, const std::string& bootstrap, const std::string& group) {
    const auto r = run_group<Member>(bootstrap, "idle", fresh_group(group), 4, until::all_assigned, {-1, -1, -1, -1});
    std::fprintf(stderr, "%s, 4 members: all hold partitions after %.1f ms%s\n", what, r.seconds * 1000,
                 r.completed ? "" : " (TIMED OUT)");
    if (!r.completed) std::fprintf(stderr, "WARNING: %s: 4 members never all held partitions\n", what);
    return r.seconds * 1000;
}

} // namespace

int main(int argc, char** argv) {
    const long n = argc > 1 ? std::atol(argv[1]) : 2000000;
    const int rounds = argc > 2 ? std::max(1, std::atoi(argv[2])) : 3;
    gregor::broker_config cfg;
    cfg.group_initial_rebalance_delay_ms = 0;
    cfg.offsets_topic_num_partitions = 4;
    cfg.group_min_session_timeout_ms = 100;
    memory_broker b{cfg};
    if (b.create_topic("bench", partitions) != gregor::error_code::none ||
        b.create_topic("idle", partitions) != gregor::error_code::none) {
        std::fprintf(stderr, "create_topic failed\n");
        return 1;
    }
    // Pre-fill: n 100-byte values, evenly over the partitions, batches of 1000.
    std::array<std::int64_t, partitions> last{};
    const std::string value(value_size, 'v');
    const auto now_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    for (int p = 0; p < partitions; ++p) {
        const long count = n / partitions + (p < n % partitions ? 1 : 0);
        last[static_cast<std::size_t>(p)] = count - 1;
        for (long done = 0; done < count;) {
            gregor::wire::batch_builder bb(1000 * 120);
            const long k = std::min<long>(1000, count - done);
            for (long i = 0; i < k; ++i) bb.append(now_ms, std::nullopt, gregor::as_bytes(value));
            if (b.produce("bench", gregor::partition_id{p}, bb.seal(), 1).error != gregor::error_code::none) {
                std::fprintf(stderr, "pre-fill produce failed\n");
                return 1;
            }
            done += k;
        }
    }
    gregor::kafka_server_config sc;
    sc.net.host = "127.0.0.1";
    sc.net.port = 0;
    gregor::kafka_server<memory_broker> srv{b, sc};
    const std::string bootstrap = "127.0.0.1:" + std::to_string(srv.port());

    // Warm-up (not counted): one full read by each client, so no run pays first-touch costs.
    (void)read_all_rate<gregor_member>("warm-up gregor", bootstrap, "warm-gregor", 1, n, last);
    (void)read_all_rate<rdkafka_member>("warm-up librdkafka", bootstrap, "warm-rdkafka", 1, n, last);
    // `rounds` alternating rounds (which client goes first flips each round); medians are emitted.
    for (const int members : {1, 4}) {
        const auto m = std::to_string(members);
        std::vector<double> g, rd;
        for (int round = 0; round < rounds; ++round) {
            const auto run_g = [&] {
                g.push_back(read_all_rate<gregor_member>("gregor", bootstrap, "g" + m + "-gregor", members, n, last));
            };
            const auto run_rd = [&] {
                rd.push_back(
                    read_all_rate<rdkafka_member>("librdkafka", bootstrap, "g" + m + "-rdkafka", members, n, last));
            };
            if (round % 2 == 0) {
                run_g();
                run_rd();
            } else {
                run_rd();
                run_g();
            }
        }
        const double gm = median(g), rdm = median(rd);
        gregor_bench::emit("consumer_group" + m + "_gregor_records_per_s", gm, "records/s");
        gregor_bench::emit("consumer_group" + m + "_librdkafka_records_per_s", rdm, "records/s");
        gregor_bench::emit("consumer_group" + m + "_ratio", rdm > 0 ? gm / rdm : 0, "x");
    }
    std::vector<double> rb_g, rb_rd;
    for (int round = 0; round < rounds; ++round) {
        rb_g.push_back(rebalance_ms<gregor_member>("gregor", bootstrap, "rb-gregor"));
        rb_rd.push_back(rebalance_ms<rdkafka_member>("librdkafka", bootstrap, "rb-rdkafka"));
    }
    gregor_bench::emit("rebalance4_gregor_ms", median(rb_g), "ms");
    gregor_bench::emit("rebalance4_librdkafka_ms", median(rb_rd), "ms");
}
