// What a Kafka server keeps between requests, for the handlers in this directory: requests that
// wait (parked long-poll fetches) and the gate through which partition monitors, on any thread,
// reach the server's event loop. The dispatcher (kafka_server.hpp) owns one server_state at a
// fixed address for the server's lifetime, so closures that outlive a request may point at it.
//
// Threading: server_state is used on the loop thread only; loop_gate and worker are thread-safe.
#pragma once

#include <gregor/broker/handlers/background_worker.hpp>
#include <gregor/broker/offset_monitor.hpp>
#include <gregor/broker/partition.hpp>
#include <gregor/core/error.hpp>
#include <gregor/core/strong_types.hpp>
#include <gregor/net/event_loop.hpp>
#include <gregor/net/response.hpp>
#include <gregor/wire/header.hpp>
#include <gregor/wire/primitives.hpp>

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gregor::broker_handlers {

/// The way from a partition's monitor (any thread) to the server's loop: tasks are posted while
/// the gate is open; closing it (shutdown) makes later posts no-ops, so a monitor firing after the
/// server is gone touches nothing of it.
class loop_gate {
public:
    void open(net::event_loop& loop) {
        std::lock_guard lk(mu_);
        loop_ = &loop;
    }
    void close() {
        std::lock_guard lk(mu_);
        loop_ = nullptr;
    }
    /// Runs `fn` on the loop unless the gate is closed.
    template <typename Fn>
    void post(Fn&& fn) {
        std::lock_guard lk(mu_);
        if (loop_) loop_->post(std::forward<Fn>(fn));
    }

private:
    std::mutex mu_;
    net::event_loop* loop_ = nullptr;
};

struct plan_partition {
    partition_id id;
    offset fetch_offset;
    std::int32_t max_bytes;
    error_code error = error_code::none; // known before reading (unknown topic id, fenced epoch)
    // A follower's fetch (docs/protocol.md §14.3): its view of the leader epoch, the epoch of its
    // last batch (diverging-epoch check) and its log start.
    leader_epoch current_leader_epoch{-1};
    leader_epoch last_fetched_epoch{-1};
    offset log_start_offset{-1};
};
struct plan_topic {
    std::string name;      // resolved from the id for v13+
    wire::uuid topic_id{}; // v13+: what the response names the topic by
    std::vector<plan_partition> partitions;
};
/// A fetch request copied out of its frame, so it can wait (long poll).
struct fetch_plan {
    wire::request_header header;
    std::int16_t version = 0;
    std::int32_t correlation_id = 0;
    std::int32_t min_bytes = 1;
    std::int32_t max_bytes = 0;
    isolation iso = isolation::read_uncommitted;
    std::vector<plan_topic> topics;
    node_id replica_id{-1};         // >= 0: a follower broker
    std::int64_t received_ms = 0;   // when it came (the follower's fetch time)
    bool follower_state_done = false; // the follower's position was recorded by the first read
};
struct parked_fetch {
    net::connection_id conn;
    fetch_plan plan;
    net::responder responder;
    net::timer_handle timer;
    std::uint64_t id = 0;
    std::vector<wait_handle> waits; // one per partition of the plan that exists

    void cancel() {
        timer.cancel();
        for (auto& w : waits) w.cancel();
        waits.clear();
    }
};

/// Each connection's peer address as Kafka prints a client host ("/127.0.0.1"), for the group
/// coordinator's DescribeGroups; written on the loop, read by handlers on the worker too.
class peer_table {
public:
    void opened(net::connection_id c, std::string_view peer) {
        // "host:port" or "[v6]:port": Kafka shows "/host"
        auto host = peer.substr(0, peer.rfind(':'));
        if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
        std::lock_guard lk(mu_);
        hosts_[c] = "/" + std::string(host);
    }
    void closed(net::connection_id c) {
        std::lock_guard lk(mu_);
        hosts_.erase(c);
    }
    [[nodiscard]] std::string host(net::connection_id c) const {
        std::lock_guard lk(mu_);
        const auto it = hosts_.find(c);
        return it == hosts_.end() ? std::string("/unknown") : it->second;
    }

private:
    mutable std::mutex mu_;
    std::map<net::connection_id, std::string> hosts_;
};

struct server_state {
    peer_table peers;
    std::list<parked_fetch> parked; // timers and wake-ups name entries by id; a list keeps them in place
    std::uint64_t next_park_id = 0;
    // Shared with monitor callbacks, which may outlive the server.
    std::shared_ptr<loop_gate> gate = std::make_shared<loop_gate>();
    // Runs the off_loop handlers (background_worker.hpp). Last: destroyed (drained, joined) first.
    background_worker worker;
};

} // namespace gregor::broker_handlers
