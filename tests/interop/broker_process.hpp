// Runs the real gregor-broker program as a child process for interop tests: starts it on a free
// port, waits (bounded) for its "listening on" line, stops it with SIGTERM, and can restart it
// with the same arguments (same data dir).
#pragma once

#include <gregor/testing/local_cluster.hpp>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

namespace gregor::test {

class broker_process {
public:
    broker_process(std::string exe, std::vector<std::string> args) : exe_(std::move(exe)), args_(std::move(args)) {
        start();
    }
    broker_process(const broker_process&) = delete;
    broker_process& operator=(const broker_process&) = delete;
    ~broker_process() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
        if (out_ >= 0) ::close(out_);
    }

    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
    [[nodiscard]] std::string bootstrap() const { return "127.0.0.1:" + std::to_string(port_); }
    [[nodiscard]] bool alive() const { return pid_ > 0 && ::waitpid(pid_, nullptr, WNOHANG) == 0; }

    /// SIGTERM, then waits up to `timeout` for the exit; returns the exit status (-1: killed).
    int stop(std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
        if (pid_ <= 0) return -1;
        ::kill(pid_, SIGTERM);
        const auto until = std::chrono::steady_clock::now() + timeout;
        int status = 0;
        while (std::chrono::steady_clock::now() < until) {
            const auto r = ::waitpid(pid_, &status, WNOHANG);
            if (r == pid_) {
                pid_ = -1;
                return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
            }
            ::poll(nullptr, 0, 10); // a child exit has no fd to wait on; bounded by `until`
        }
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
        return -1;
    }

    /// SIGKILL: the process dies at once, as in a crash (no controlled shutdown, nothing flushed).
    void kill() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
        if (out_ >= 0) ::close(out_);
        out_ = -1;
    }

    /// Starts the program again after stop() or kill(), with the same arguments.
    void start_again() {
        if (pid_ > 0) return;
        if (out_ >= 0) ::close(out_);
        out_ = -1;
        port_ = 0;
        start();
    }

    /// stop(timeout), then starts the same program with the same arguments again (same data dir;
    /// a new port, so clients must reconnect to the new bootstrap()). Returns stop()'s status.
    int restart(std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
        const int status = stop(timeout);
        if (out_ >= 0) ::close(out_);
        out_ = -1;
        port_ = 0;
        start();
        return status;
    }

private:
    void start() {
        // argv is built before fork: the test process may run client threads (librdkafka), so the
        // child must not allocate before execv.
        std::vector<std::string> args{"--listen", "127.0.0.1:0"};
        args.insert(args.end(), args_.begin(), args_.end());
        std::vector<char*> argv;
        argv.push_back(exe_.data());
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        int out[2];
        if (::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
        pid_ = ::fork();
        if (pid_ < 0) throw std::runtime_error("fork");
        if (pid_ == 0) {
            ::dup2(out[1], 1);
            ::execv(exe_.c_str(), argv.data());
            constexpr char msg[] = "execv gregor-broker failed\n";
            (void)!::write(2, msg, sizeof msg - 1);
            ::_exit(127);
        }
        ::close(out[1]);
        out_ = out[0];
        const std::string line = read_line(std::chrono::seconds(30));
        const auto colon = line.rfind(':');
        if (line.rfind("gregor-broker listening on ", 0) != 0 || colon == std::string::npos) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
            pid_ = -1;
            ::close(out_);
            out_ = -1;
            throw std::runtime_error("gregor-broker did not start: '" + line + "'");
        }
        port_ = static_cast<std::uint16_t>(std::stoi(line.substr(colon + 1)));
    }

    std::string read_line(std::chrono::milliseconds timeout) {
        std::string line;
        const auto until = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < until) {
            pollfd p{out_, POLLIN, 0};
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
            if (::poll(&p, 1, static_cast<int>(std::max<long>(left.count(), 1))) <= 0) continue;
            char c;
            if (::read(out_, &c, 1) != 1) break;
            if (c == '\n') return line;
            line += c;
        }
        return line;
    }

    std::string exe_;
    std::vector<std::string> args_;
    pid_t pid_ = -1;
    int out_ = -1;
    std::uint16_t port_ = 0;
};

/// The gregor-broker program under test: $GREGOR_BROKER (meson.build sets it).
inline std::string broker_exe() {
    const char* e = std::getenv("GREGOR_BROKER");
    if (e == nullptr || *e == 0) throw std::runtime_error("GREGOR_BROKER is not set");
    return e;
}

/// A free loopback port, for a cluster's controller.quorum.voters (known before the node starts).
inline std::uint16_t free_port() { return gregor::testing::free_loopback_port(); }

/// Runs a shell command, returning its exit status and standard output.
inline std::pair<int, std::string> run(const std::string& cmd) {
    std::string out;
    FILE* f = ::popen(cmd.c_str(), "r");
    if (!f) return {-1, {}};
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    const int st = ::pclose(f);
    return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

struct temp_dir {
    std::filesystem::path path;
    temp_dir() {
        char tmpl[] = "/tmp/gregor-interop-XXXXXX";
        path = ::mkdtemp(tmpl);
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
};

} // namespace gregor::test
