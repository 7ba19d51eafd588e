// Runs the real gregor-broker program as a child process for interop tests: starts it on a free
// port, waits (bounded) for its "listening on" line, and stops it with SIGTERM.
#pragma once

#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

namespace gregor::test {

class broker_process {
public:
    broker_process(const std::string& exe, std::vector<std::string> args) {
        int out[2];
        if (::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
        pid_ = ::fork();
        if (pid_ < 0) throw std::runtime_error("fork");
        if (pid_ == 0) {
            ::dup2(out[1], 1);
            std::vector<char*> argv;
            argv.push_back(const_cast<char*>(exe.c_str()));
            args.insert(args.begin(), {"--listen", "127.0.0.1:0"});
            for (auto& a : args) argv.push_back(a.data());
            argv.push_back(nullptr);
            ::execv(exe.c_str(), argv.data());
            std::perror("execv gregor-broker");
            ::_exit(127);
        }
        ::close(out[1]);
        out_ = out[0];
        const std::string line = read_line(std::chrono::seconds(30));
        const auto colon = line.rfind(':');
        if (line.rfind("gregor-broker listening on ", 0) != 0 || colon == std::string::npos)
            throw std::runtime_error("gregor-broker did not start: '" + line + "'");
        port_ = static_cast<std::uint16_t>(std::stoi(line.substr(colon + 1)));
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

private:
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

    pid_t pid_ = -1;
    int out_ = -1;
    std::uint16_t port_ = 0;
};

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
