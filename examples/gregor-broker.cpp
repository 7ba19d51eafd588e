// gregor-broker: a Kafka-compatible broker program built from the library: a single node, or
// one node of a cluster with -X controller.quorum.voters=ID@HOST:PORT (docs/replication.md).
//
//   gregor-broker [--listen HOST:PORT] [--data-dir DIR] [--storage memory|file|uring]
//                 [--flush never|messages:N|ms:T|always] [--node-id N] [-X property=value ...]
//   gregor-broker --help               every -X property with its default, bounds and meaning
//   gregor-broker --config-markdown    the same as docs/configuration.md holds it
//
// Prints exactly one line "gregor-broker listening on HOST:PORT" once it accepts connections.
// SIGTERM/SIGINT: in a cluster, move leaderships away first (controlled shutdown, at most
// broker.session.timeout.ms); then stop accepting, finish in-flight requests, flush, close
// segments cleanly, exit 0.
#include <gregor/broker/broker.hpp>
#include <gregor/broker/cluster_node.hpp>
#include <gregor/broker/kafka_server.hpp>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include <pthread.h>

namespace {

constexpr const char* usage_text =
    "usage: gregor-broker [--listen HOST:PORT] [--data-dir DIR] [--storage memory|file|uring]\n"
    "                     [--flush never|messages:N|ms:T|always] [--node-id N]\n"
    "                     [-X broker.property=value ...]\n";

// The property tables (broker, log, network) are the one source of what -X accepts.
[[noreturn]] void help() {
    namespace cfg = gregor::detail::config;
    std::printf("%s\nBroker properties (-X key=value):\n%s\nLog properties (broker-wide defaults; the topic-level "
                "names override them per topic):\n%s\nNetwork properties:\n%s",
                usage_text, cfg::listing(gregor::broker_keys).c_str(), cfg::listing(gregor::storage::log_keys).c_str(),
                cfg::listing(gregor::net::server_keys).c_str());
    std::exit(0);
}

[[noreturn]] void config_markdown() {
    namespace cfg = gregor::detail::config;
    std::printf("# Configuration\n\n"
                "Every property gregor-broker accepts (`-X key=value`, or `broker_config::set`, "
                "`storage::log_config::set` and `net::server_config::set` from code), generated from the "
                "tables that parse them (`gregor-broker --config-markdown > docs/configuration.md`; a test "
                "checks the two agree). Topic-level names (`topic: ...`) are the overrides `create_topic` "
                "takes and the topic table keeps.\n\n"
                "## Broker (`broker_config`)\n\n%s\n"
                "## Log (`storage::log_config`, the `log` member of `broker_config`)\n\n%s\n"
                "## Network (`net::server_config`, the `net` member of `kafka_server_config`)\n\n%s",
                cfg::markdown(gregor::broker_keys, "broker_config").c_str(),
                cfg::markdown(gregor::storage::log_keys, "log_config").c_str(),
                cfg::markdown(gregor::net::server_keys, "server_config").c_str());
    std::exit(0);
}

[[noreturn]] void usage(const char* why) {
    std::fprintf(stderr, "gregor-broker: %s\n%s(--help lists every property)\n", why, usage_text);
    std::exit(2);
}

struct options {
    gregor::broker_config broker;
    gregor::kafka_server_config server;
    std::string storage = "file";
};

template <typename Backend>
int serve(const options& o, sigset_t& signals) {
    using broker_type = gregor::broker<gregor::broker_policies<Backend, gregor::flush::by_config>>;
    broker_type b{o.broker};
    gregor::kafka_server<broker_type> srv{b, o.server};
    const auto& host = o.server.net.host.empty() ? std::string("0.0.0.0") : o.server.net.host;
    const auto advertised = o.server.advertised_host.empty() ? (o.server.net.host.empty() ? std::string("127.0.0.1")
                                                                                          : o.server.net.host)
                                                             : o.server.advertised_host;
    gregor::cluster_node<broker_type> node{b, advertised, static_cast<std::int32_t>(srv.port())};
    std::printf("gregor-broker listening on %s:%u\n", host.c_str(), static_cast<unsigned>(srv.port()));
    std::fflush(stdout);
    int sig = 0;
    sigwait(&signals, &sig);
    std::fprintf(stderr, "gregor-broker: %s, shutting down\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    node.shutdown(std::chrono::milliseconds(b.config().broker_session_timeout_ms));
    srv.stop();
    node.shutdown(std::chrono::milliseconds(0));
    b.close();
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    // Signals are taken by sigwait in main only: block them before any thread starts.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    std::signal(SIGPIPE, SIG_IGN);

    options o;
    o.server.net.host = "127.0.0.1";
    o.server.net.port = 9092;
    o.broker.data_dir = "./gregor-data";
    try {
        for (int i = 1; i < argc; ++i) {
            const std::string a = argv[i];
            auto value = [&]() -> std::string {
                if (i + 1 >= argc) usage(("missing value after " + a).c_str());
                return argv[++i];
            };
            if (a == "--listen")
                o.server.net.set("listeners", value());
            else if (a == "--data-dir")
                o.broker.data_dir = value();
            else if (a == "--storage")
                o.storage = value();
            else if (a == "--node-id")
                o.broker.set("node.id", value());
            else if (a == "--flush") {
                const auto f = value();
                if (f == "never") {
                } else if (f == "always") {
                    o.broker.set("log.flush.interval.messages", "1");
                } else if (f.rfind("messages:", 0) == 0) {
                    o.broker.set("log.flush.interval.messages", f.substr(9));
                } else if (f.rfind("ms:", 0) == 0) {
                    o.broker.set("log.flush.interval.ms", f.substr(3));
                } else {
                    usage(("bad --flush value '" + f + "'").c_str());
                }
            } else if (a == "-X") {
                const auto kv = value();
                const auto eq = kv.find('=');
                if (eq == std::string::npos) usage(("-X needs key=value, got '" + kv + "'").c_str());
                const auto key = kv.substr(0, eq), val = kv.substr(eq + 1);
                if (!o.server.net.try_set(key, val)) o.broker.set(key, val); // throws naming an unknown key
            } else if (a == "-h" || a == "--help") {
                help();
            } else if (a == "--config-markdown") {
                config_markdown();
            } else {
                usage(("unknown argument '" + a + "'").c_str());
            }
        }
        o.server.net.validate();
        if (o.storage == "memory") return serve<gregor::storage::memory_backend>(o, signals);
        if (o.storage == "file") return serve<gregor::storage::file_backend>(o, signals);
        if (o.storage == "uring") {
#if GREGOR_HAS_URING
            return serve<gregor::storage::uring_backend>(o, signals);
#else
            std::fprintf(stderr, "gregor-broker: this build has no io_uring support (liburing not found)\n");
            return 1;
#endif
        }
        usage(("unknown --storage '" + o.storage + "'").c_str());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "gregor-broker: %s\n", e.what());
        return 1;
    }
}
