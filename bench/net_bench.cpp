// net/ figures: fetch-style throughput of a large, page-cached file sent to a copying consumer over
// loopback, through gregor::net::server with each file-send policy (sendfile, splice, copy), next
// to a plain blocking pread()+write() loop over the same file in the same run. Each contender also
// gets its CPU cost (user+system ms per GiB of the whole process, server and consumer together),
// which other load on the machine disturbs far less than wall time.
//
// The consumer is a thread that asks for `fetch` bytes at a time (one request in flight, like a
// Kafka consumer fetching from one broker), reads the response frame into a user-space buffer with
// recv() (the copy a real consumer makes), and goes on until the whole file came back. Each figure
// is the best of `rounds` passes over the file, in MiB/s.
//
// Environment: NET_BENCH_MB (file size, default 1024), NET_BENCH_DIR (default /tmp),
// NET_BENCH_ROUNDS (default 3).
#include "bench.hpp"

#include <gregor/net/client.hpp>
#include <gregor/net/server.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

using namespace gregor;
using gregor_bench::emit;
using clk = std::chrono::steady_clock;

std::size_t env_size(const char* name, std::size_t def) {
    const char* v = std::getenv(name);
    return v != nullptr ? static_cast<std::size_t>(std::strtoull(v, nullptr, 10)) : def;
}

/// The log file: written once, then read once so every page is in the page cache.
class cached_file {
public:
    cached_file(const std::string& dir, std::size_t bytes) : size_(bytes) {
        path_ = dir + "/gregor-net-bench-" + std::to_string(::getpid()) + ".log";
        fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd_ < 0) throw std::runtime_error("cannot create " + path_);
        std::vector<std::byte> chunk(1 << 20);
        std::mt19937_64 rng(42);
        for (std::size_t i = 0; i < chunk.size(); i += 8) {
            const auto v = rng();
            std::memcpy(chunk.data() + i, &v, 8);
        }
        for (std::size_t off = 0; off < bytes; off += chunk.size()) {
            std::memcpy(chunk.data(), &off, sizeof off); // every MiB differs
            const auto n = std::min(chunk.size(), bytes - off);
            if (::pwrite(fd_, chunk.data(), n, static_cast<off_t>(off)) != static_cast<ssize_t>(n)) {
                throw std::runtime_error("short write to " + path_);
            }
        }
        ::fdatasync(fd_);
        for (std::size_t off = 0; off < bytes; off += chunk.size()) {
            (void)::pread(fd_, chunk.data(), chunk.size(), static_cast<off_t>(off));
        }
    }
    ~cached_file() {
        ::close(fd_);
        std::filesystem::remove(path_);
    }
    [[nodiscard]] int fd() const noexcept { return fd_; }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }

private:
    std::string path_;
    int fd_ = -1;
    std::size_t size_;
};

// Request: u64 position, u32 length. Response: u64 position, then the file bytes.
struct fetch_handler {
    const cached_file* file;
    void on_request(net::connection_id, bytes_view frame, net::responder r) {
        byte_reader rd(frame);
        const auto pos = static_cast<std::uint64_t>(rd.i64());
        const auto len = rd.u32();
        byte_buffer hdr;
        byte_writer w(hdr);
        w.i64(static_cast<std::int64_t>(pos));
        net::response resp(std::move(hdr));
        resp.append(net::slice{{}, file->fd(), pos, len, nullptr});
        r.complete(std::move(resp));
    }
};

bool recv_all(int fd, std::byte* p, std::size_t n) {
    std::size_t got = 0;
    while (got < n) {
        const auto r = ::recv(fd, p + got, n - got, 0);
        if (r <= 0) return false;
        got += static_cast<std::size_t>(r);
    }
    return true;
}
bool send_all(int fd, const std::byte* p, std::size_t n) {
    std::size_t done = 0;
    while (done < n) {
        const auto r = ::send(fd, p + done, n - done, MSG_NOSIGNAL);
        if (r <= 0) return false;
        done += static_cast<std::size_t>(r);
    }
    return true;
}

int connect_blocking(std::uint16_t port) {
    bool in_progress = false;
    auto fd = net::detail::start_connect("127.0.0.1", port, in_progress);
    pollfd p{fd.get(), POLLOUT, 0};
    if (in_progress && ::poll(&p, 1, 5000) != 1) throw std::runtime_error("connect timed out");
    const int raw = fd.release();
    ::fcntl(raw, F_SETFL, ::fcntl(raw, F_GETFL) & ~O_NONBLOCK);
    const int one = 1;
    ::setsockopt(raw, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return raw;
}

/// User + system CPU seconds of the whole process (server and consumer threads alike).
double cpu_seconds() {
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/// The copying consumer: fetches the whole file `fetch` bytes at a time. Returns seconds.
double consume(std::uint16_t port, std::size_t file_size, std::size_t fetch) {
    const int fd = connect_blocking(port);
    std::vector<std::byte> buf(256 * 1024);
    const auto t0 = clk::now();
    for (std::size_t pos = 0; pos < file_size; pos += fetch) {
        const auto len = static_cast<std::uint32_t>(std::min(fetch, file_size - pos));
        std::byte req[4 + 12];
        store_be<std::int32_t>(req, 12);
        store_be<std::int64_t>(req + 4, static_cast<std::int64_t>(pos));
        store_be<std::uint32_t>(req + 12, len);
        if (!send_all(fd, req, sizeof req)) throw std::runtime_error("send failed");
        std::byte head[4 + 8];
        if (!recv_all(fd, head, sizeof head)) throw std::runtime_error("recv failed");
        if (load_be<std::int32_t>(head) != static_cast<std::int32_t>(8 + len) ||
            load_be<std::int64_t>(head + 4) != static_cast<std::int64_t>(pos)) {
            throw std::runtime_error("bad response header");
        }
        std::size_t left = len;
        while (left > 0) {
            const auto n = std::min(left, buf.size());
            if (!recv_all(fd, buf.data(), n)) throw std::runtime_error("recv failed");
            left -= n;
        }
        // Check the first bytes of every MiB-aligned fetch: the file stamps its offset there.
        if (pos % (1 << 20) == 0 && len >= 8 && fetch <= buf.size()) {
            std::uint64_t stamp;
            std::memcpy(&stamp, buf.data(), 8);
            if (stamp != pos) throw std::runtime_error("wrong bytes");
        }
    }
    const double s = std::chrono::duration<double>(clk::now() - t0).count();
    ::close(fd);
    return s;
}

template <typename Policy>
double server_run(const cached_file& file, std::size_t fetch, int send_buffer) {
    net::event_loop loop;
    loop.start();
    net::server_config cfg;
    cfg.port = 0;
    cfg.socket_send_buffer_bytes = send_buffer;
    net::server<fetch_handler, Policy> srv(loop, cfg, fetch_handler{&file});
    const double s = consume(srv.local_port(), file.size(), fetch);
    srv.stop(std::chrono::seconds(5));
    return s;
}

/// The reference: one blocking thread, pread() into a buffer and write() to the socket.
double plain_run(const cached_file& file, std::size_t fetch, int send_buffer) {
    auto listener = net::detail::listen_on("127.0.0.1", 0, 4);
    const auto port = net::detail::local_port_of(listener.get());
    std::thread server([&] {
        pollfd p{listener.get(), POLLIN, 0};
        if (::poll(&p, 1, 5000) != 1) return;
        const int fd = ::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) return;
        net::detail::tune_socket(fd, send_buffer, -1);
        std::vector<std::byte> buf(256 * 1024);
        for (;;) {
            std::byte req[4 + 12];
            if (!recv_all(fd, req, sizeof req)) break;
            const auto pos = static_cast<std::uint64_t>(load_be<std::int64_t>(req + 4));
            const auto len = load_be<std::uint32_t>(req + 12);
            std::byte head[4 + 8];
            store_be<std::int32_t>(head, static_cast<std::int32_t>(8 + len));
            store_be<std::int64_t>(head + 4, static_cast<std::int64_t>(pos));
            if (!send_all(fd, head, sizeof head)) break;
            std::size_t done = 0;
            while (done < len) {
                const auto n = ::pread(file.fd(), buf.data(), std::min<std::size_t>(buf.size(), len - done),
                                       static_cast<off_t>(pos + done));
                if (n <= 0 || ::write(fd, buf.data(), static_cast<std::size_t>(n)) != n) break;
                done += static_cast<std::size_t>(n);
            }
        }
        ::close(fd);
    });
    const double s = consume(port, file.size(), fetch);
    server.join();
    return s;
}

/// Best wall-clock throughput and lowest CPU cost over the rounds of one contender.
struct figure {
    double mib_per_s = 0;
    double cpu_ms_per_gib = 1e300;
    template <typename F>
    void measure(std::size_t bytes, F&& run) {
        const double c0 = cpu_seconds();
        const double s = run();
        const double cpu = cpu_seconds() - c0;
        const double gib = static_cast<double>(bytes) / (1 << 30);
        mib_per_s = std::max(mib_per_s, static_cast<double>(bytes) / (1 << 20) / s);
        cpu_ms_per_gib = std::min(cpu_ms_per_gib, cpu * 1000 / gib);
    }
    void emit_as(const std::string& name) const {
        emit(name, mib_per_s, "MiB/s");
        emit(name + "_cpu", cpu_ms_per_gib, "cpu_ms/GiB");
    }
};

} // namespace

int main() {
    const auto mb = env_size("NET_BENCH_MB", 1024);
    const char* dir_env = std::getenv("NET_BENCH_DIR");
    const std::string dir = dir_env != nullptr ? dir_env : "/tmp";
    const int rounds = static_cast<int>(env_size("NET_BENCH_ROUNDS", 3));
    cached_file file(dir, mb << 20);

    // Socket send buffer: Kafka's socket.send.buffer.bytes default (102400, the server's default
    // too) and -1 (kernel autotuning, buffers grow to MiBs). Fetch size: one partition's
    // max.partition.fetch.bytes (1 MiB) and a multi-partition response (16 MiB).
    for (const int sndbuf : {102400, -1}) {
        for (const std::size_t fetch : {std::size_t{1} << 20, std::size_t{16} << 20}) {
            const auto tag = "_fetch" + std::to_string(fetch >> 20) + "MiB_sndbuf" +
                             (sndbuf < 0 ? std::string("auto") : std::to_string(sndbuf));
            // Interleave the contenders round by round so that load from elsewhere hits them alike.
            figure plain, sf, sp, cp;
            for (int r = 0; r < rounds; ++r) {
                plain.measure(file.size(), [&] { return plain_run(file, fetch, sndbuf); });
                sf.measure(file.size(), [&] { return server_run<net::sendfile_send>(file, fetch, sndbuf); });
                sp.measure(file.size(), [&] { return server_run<net::splice_send>(file, fetch, sndbuf); });
                cp.measure(file.size(), [&] { return server_run<net::copy_send>(file, fetch, sndbuf); });
            }
            plain.emit_as("net_plain_read_write" + tag);
            sf.emit_as("net_server_sendfile" + tag);
            sp.emit_as("net_server_splice" + tag);
            cp.emit_as("net_server_copy" + tag);
            const double best = std::max({plain.mib_per_s, sf.mib_per_s, sp.mib_per_s, cp.mib_per_s});
            const std::string_view def = net::default_file_send::name;
            const auto& d = def == "sendfile" ? sf : def == "splice" ? sp : cp;
            emit("net_server_default_" + std::string(def) + tag + "_vs_best", d.mib_per_s / best, "ratio");
        }
    }
    return 0;
}
