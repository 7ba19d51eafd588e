// A whole gregor cluster inside one process, for tests and for applications that want a
// replicated broker in their own test suite (docs/replication.md): N brokers, each with its
// Kafka server on a loopback port and its cluster_node, node 1 running the controller. Nodes can
// be stopped (controlled shutdown), killed (no goodbye: the controller notices when the session
// lapses) and restarted on the same data directory and port, so a test can take brokers away
// under a running producer and check what survives.
//
//   gregor::testing::local_cluster<P> c({.nodes = 3, .base = cfg, .dir = tmp});
//   rdkafka / gregor producer -> c.bootstrap()
//   c.kill(c.leader_of("t", 0));          // SIGKILL-like: no controlled shutdown
//   c.wait_until([&] { return c.leader_of("t", 0) > 0; }, 10s);
//   c.restart(id);
//
// `on_kill(id)` runs just before a killed node's objects go, e.g. to cut its storage's power
// (testing/crashy_storage.hpp: crash_controller::power_loss()), so the restart recovers from what
// a crash would leave.
//
// Not deterministic: the nodes talk over real sockets and run their own threads. Thread-safety:
// drive it from one thread.
#pragma once

#include <gregor/broker/broker.hpp>
#include <gregor/broker/cluster_node.hpp>
#include <gregor/broker/kafka_server.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace gregor::testing {

/// A TCP port free on 127.0.0.1 now (bound, read, closed): for nodes whose peers must know their
/// port before they start (controller.quorum.voters). Another process may take it meanwhile;
/// tests accept that small race.
inline std::uint16_t free_loopback_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error("free_loopback_port: socket");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
                    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0;
    ::close(fd);
    if (!ok) throw std::runtime_error("free_loopback_port: no free port");
    return ntohs(a.sin_port);
}

template <typename Policies>
class local_cluster {
public:
    using broker_type = broker<Policies>;
    using backend_options = typename broker_type::backend_options;

    struct options {
        int nodes = 3;
        broker_config base{};        // every node's settings (node.id, data dir and voters are set here)
        std::filesystem::path dir{}; // node i keeps its data in dir / "n<i>"
        std::function<backend_options(int)> backend = [](int) { return backend_options{}; };
        std::function<void(int)> on_kill = [](int) {};
    };

    explicit local_cluster(options o) : o_(std::move(o)) {
        if (o_.nodes < 1) throw std::invalid_argument("local_cluster: at least one node");
        for (int i = 0; i < o_.nodes; ++i) ports_.push_back(free_loopback_port());
        nodes_.resize(static_cast<std::size_t>(o_.nodes));
        for (int id = 1; id <= o_.nodes; ++id) start(id);
    }

    local_cluster(const local_cluster&) = delete;
    local_cluster& operator=(const local_cluster&) = delete;
    ~local_cluster() {
        // Followers first, the controller's node last: nobody waits on a controller that is gone.
        for (int id = o_.nodes; id >= 1; --id) drop(id, false);
    }

    [[nodiscard]] int size() const noexcept { return o_.nodes; }
    [[nodiscard]] std::uint16_t port(int id) const { return ports_.at(static_cast<std::size_t>(id - 1)); }
    [[nodiscard]] bool running(int id) const { return static_cast<bool>(slot(id).b); }

    /// "127.0.0.1:P1,..." of the running nodes.
    [[nodiscard]] std::string bootstrap() const {
        std::string s;
        for (int id = 1; id <= o_.nodes; ++id) {
            if (!running(id)) continue;
            if (!s.empty()) s += ",";
            s += "127.0.0.1:" + std::to_string(port(id));
        }
        return s;
    }

    broker_type& broker_of(int id) { return *slot(id).b; }
    cluster_node<broker_type>& node(int id) { return *slot(id).node; }

    /// The partition's leader as node `from` (default: the first running node) sees it; -1 none.
    int leader_of(const std::string& topic, int p, int from = 0) {
        for (int id = 1; id <= o_.nodes; ++id) {
            if (from != 0 && id != from) continue;
            if (!running(id)) continue;
            const auto img = slot(id).node->member()->image();
            const auto* s = img->find(topic, partition_id{p});
            return s ? s->leader.value() : -1;
        }
        return -1;
    }

    /// Controlled shutdown (leaderships move first), then the node stops.
    void stop(int id, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
        if (!running(id)) return;
        slot(id).node->shutdown(timeout);
        drop(id, false);
    }

    /// Gone without a word, as after SIGKILL: on_kill(id) first, then its objects go.
    void kill(int id) {
        if (!running(id)) return;
        o_.on_kill(id);
        drop(id, true);
    }

    /// Starts a stopped or killed node again on its data directory and port.
    void restart(int id) {
        if (!running(id)) start(id);
    }

    /// Polls `pred` (a few times a second) until true or `timeout`; returns its last value.
    template <typename Pred>
    bool wait_until(Pred&& pred, std::chrono::milliseconds timeout) {
        const auto until = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            if (pred()) return true;
            if (std::chrono::steady_clock::now() >= until) return false;
            std::this_thread::sleep_for(std::chrono::milliseconds(20)); // cluster state has no event to wait on
        }
    }

private:
    struct node_slot {
        std::unique_ptr<broker_type> b;
        std::unique_ptr<kafka_server<broker_type>> srv;
        std::unique_ptr<cluster_node<broker_type>> node;
    };

    node_slot& slot(int id) { return nodes_.at(static_cast<std::size_t>(id - 1)); }
    const node_slot& slot(int id) const { return nodes_.at(static_cast<std::size_t>(id - 1)); }

    void start(int id) {
        auto cfg = o_.base;
        cfg.node_id = id;
        cfg.data_dir = (o_.dir / ("n" + std::to_string(id))).string();
        cfg.controller_quorum_voters = "1@127.0.0.1:" + std::to_string(port(1));
        std::filesystem::create_directories(cfg.data_dir);
        auto& s = slot(id);
        s.b = std::make_unique<broker_type>(cfg, o_.backend(id));
        kafka_server_config sc;
        sc.net.host = "127.0.0.1";
        sc.net.port = port(id);
        s.srv = std::make_unique<kafka_server<broker_type>>(*s.b, sc);
        s.node = std::make_unique<cluster_node<broker_type>>(*s.b, "127.0.0.1", port(id));
    }

    void drop(int id, bool killed) {
        auto& s = slot(id);
        if (!s.b) return;
        (void)killed;
        s.node->shutdown(std::chrono::milliseconds(0)); // stops replicating; no controlled shutdown
        s.srv->stop(std::chrono::milliseconds(1000));
        s.node.reset();
        s.srv.reset();
        s.b.reset();
    }

    options o_;
    std::vector<std::uint16_t> ports_;
    std::vector<node_slot> nodes_;
};

} // namespace gregor::testing
