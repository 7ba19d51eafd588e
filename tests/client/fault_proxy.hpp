// A Kafka-frame TCP proxy for the client tests: it sits between a client and a real broker and
// does to the broker's answers what a bad network does -- drops one, delays it, swaps it with the
// next one, or cuts the connection -- according to a plan keyed by the answer's number (1, 2, ...
// over the proxy's life). Requests pass unchanged. One thread, bounded polls; 127.0.0.1 only.
#pragma once

#include <gregor/core/buffer.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace gregor::test {

enum class answer_fault { pass, drop, delay, swap_with_next, disconnect };

class fault_proxy {
public:
    using plan = std::function<answer_fault(std::uint64_t answer_number)>;

    fault_proxy(std::uint16_t broker_port, plan p, std::chrono::milliseconds delay = std::chrono::milliseconds(300))
            : broker_port_(broker_port), plan_(std::move(p)), delay_(delay) {
        listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = 0;
        if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listen_fd_, 16) != 0)
            throw std::runtime_error("fault_proxy: cannot listen");
        socklen_t len = sizeof a;
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
        thread_ = std::thread([this] { run(); });
    }
    fault_proxy(const fault_proxy&) = delete;
    fault_proxy& operator=(const fault_proxy&) = delete;
    ~fault_proxy() {
        stop_ = true;
        thread_.join();
        for (auto& p : pairs_) {
            ::close(p.client);
            ::close(p.broker);
        }
        ::close(listen_fd_);
    }

    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
    [[nodiscard]] std::uint64_t answers_seen() const noexcept { return answers_.load(); }
    [[nodiscard]] std::uint64_t connections() const noexcept { return accepted_.load(); }

private:
    struct held {
        std::vector<std::byte> frame;
        std::chrono::steady_clock::time_point at;
    };
    struct pair_fds {
        int client = -1, broker = -1;
        std::vector<std::byte> from_client, from_broker;
        std::optional<std::vector<std::byte>> swapped; // waits for the next answer
        std::vector<held> delayed;
        bool dead = false;
    };

    static bool write_all(int fd, const std::byte* p, std::size_t n) {
        while (n > 0) {
            const auto w = ::send(fd, p, n, MSG_NOSIGNAL);
            if (w <= 0) return false;
            p += w;
            n -= static_cast<std::size_t>(w);
        }
        return true;
    }

    void kill(pair_fds& p) {
        if (p.dead) return;
        p.dead = true;
        ::shutdown(p.client, SHUT_RDWR);
        ::shutdown(p.broker, SHUT_RDWR);
    }

    void on_answer(pair_fds& p, std::vector<std::byte> frame) {
        const auto n = ++answers_;
        switch (plan_ ? plan_(n) : answer_fault::pass) {
        case answer_fault::pass:
            if (!write_all(p.client, frame.data(), frame.size())) kill(p);
            break;
        case answer_fault::drop: break;
        case answer_fault::delay:
            p.delayed.push_back({std::move(frame), std::chrono::steady_clock::now() + delay_});
            return;
        case answer_fault::swap_with_next: p.swapped = std::move(frame); return;
        case answer_fault::disconnect: kill(p); return;
        }
        if (p.swapped) {
            if (!write_all(p.client, p.swapped->data(), p.swapped->size())) kill(p);
            p.swapped.reset();
        }
    }

    // Whole frames out of `buf`, each with its 4-byte size prefix.
    static std::vector<std::vector<std::byte>> frames(std::vector<std::byte>& buf) {
        std::vector<std::vector<std::byte>> out;
        std::size_t at = 0;
        while (buf.size() - at >= 4) {
            const auto n = static_cast<std::size_t>(load_be<std::uint32_t>(buf.data() + at));
            if (buf.size() - at - 4 < n) break;
            out.emplace_back(buf.begin() + static_cast<std::ptrdiff_t>(at),
                             buf.begin() + static_cast<std::ptrdiff_t>(at + 4 + n));
            at += 4 + n;
        }
        buf.erase(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(at));
        return out;
    }

    void run() {
        std::byte chunk[65536];
        while (!stop_) {
            std::vector<pollfd> fds{{listen_fd_, POLLIN, 0}};
            for (auto& p : pairs_) {
                fds.push_back({p.dead ? -1 : p.client, POLLIN, 0});
                fds.push_back({p.dead ? -1 : p.broker, POLLIN, 0});
            }
            ::poll(fds.data(), fds.size(), 20);
            const auto now = std::chrono::steady_clock::now();
            for (auto& p : pairs_) {
                while (!p.dead && !p.delayed.empty() && p.delayed.front().at <= now) {
                    if (!write_all(p.client, p.delayed.front().frame.data(), p.delayed.front().frame.size())) kill(p);
                    p.delayed.erase(p.delayed.begin());
                }
            }
            if (fds[0].revents & POLLIN) {
                const int c = ::accept(listen_fd_, nullptr, nullptr);
                if (c >= 0) {
                    const int b = ::socket(AF_INET, SOCK_STREAM, 0);
                    sockaddr_in a{};
                    a.sin_family = AF_INET;
                    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
                    a.sin_port = htons(broker_port_);
                    if (::connect(b, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
                        ::close(c);
                        ::close(b);
                    } else {
                        ++accepted_;
                        pairs_.push_back({c, b, {}, {}, {}, {}, false});
                        continue; // fds no longer match pairs_
                    }
                }
            }
            for (std::size_t i = 0; i < pairs_.size(); ++i) {
                auto& p = pairs_[i];
                if (p.dead) continue;
                if (fds[1 + 2 * i].revents & (POLLIN | POLLHUP | POLLERR)) {
                    const auto r = ::recv(p.client, chunk, sizeof chunk, 0);
                    if (r <= 0 || !write_all(p.broker, chunk, static_cast<std::size_t>(r))) kill(p);
                }
                if (!p.dead && (fds[2 + 2 * i].revents & (POLLIN | POLLHUP | POLLERR))) {
                    const auto r = ::recv(p.broker, chunk, sizeof chunk, 0);
                    if (r <= 0) {
                        kill(p);
                        continue;
                    }
                    p.from_broker.insert(p.from_broker.end(), chunk, chunk + r);
                    for (auto& f : frames(p.from_broker)) {
                        if (p.dead) break;
                        on_answer(p, std::move(f));
                    }
                }
            }
        }
    }

    std::uint16_t broker_port_;
    plan plan_;
    std::chrono::milliseconds delay_;
    int listen_fd_ = -1;
    std::uint16_t port_ = 0;
    std::vector<pair_fds> pairs_;
    std::atomic<bool> stop_{false};
    std::atomic<std::uint64_t> answers_{0}, accepted_{0};
    std::thread thread_;
};

} // namespace gregor::test
