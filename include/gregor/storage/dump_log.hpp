// What examples/gregor-dump-log does, as a function (so tests run it in-process): print a segment
// file batch by batch, like Kafka's kafka-dump-log, and with --verify stop at the first invalid
// batch. Also prints .index and .timeindex files entry by entry.
//
//   gregor-dump-log [--verify] FILE.log|FILE.index|FILE.timeindex...
//
// Exit status: 0 all printed (and, with --verify, all valid); 1 with --verify, at the first invalid
// batch or unreadable tail (its position is named on stderr); 2 on usage or open errors.
//
// Thread-safety: reentrant; reads files only.
#pragma once

#include <gregor/core/buffer.hpp>
#include <gregor/storage/file_names.hpp>
#include <gregor/storage/index.hpp>
#include <gregor/wire/record_batch.hpp>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace gregor::storage {

namespace detail {

/// A read-only mapping of a whole file (empty files map to an empty view).
class mapped_file {
public:
    explicit mapped_file(const std::string& path) {
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            error_ = std::strerror(errno);
            return;
        }
        struct stat st {};
        if (::fstat(fd, &st) != 0) {
            error_ = std::strerror(errno);
        } else if (st.st_size > 0) {
            void* p = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
            if (p == MAP_FAILED)
                error_ = std::strerror(errno);
            else
                data_ = {static_cast<const std::byte*>(p), static_cast<std::size_t>(st.st_size)};
        }
        ::close(fd);
        ok_ = error_.empty();
    }
    mapped_file(const mapped_file&) = delete;
    mapped_file& operator=(const mapped_file&) = delete;
    ~mapped_file() {
        if (!data_.empty()) ::munmap(const_cast<std::byte*>(data_.data()), data_.size());
    }
    [[nodiscard]] bool ok() const noexcept { return ok_; }
    [[nodiscard]] const std::string& error() const noexcept { return error_; }
    [[nodiscard]] bytes_view bytes() const noexcept { return data_; }

private:
    bytes_view data_;
    std::string error_;
    bool ok_ = false;
};

inline const char* codec_name(wire::compression c) noexcept {
    switch (c) {
    case wire::compression::none: return "none";
    case wire::compression::gzip: return "gzip";
    case wire::compression::snappy: return "snappy";
    case wire::compression::lz4: return "lz4";
    case wire::compression::zstd: return "zstd";
    }
    return "unknown";
}

} // namespace detail

/// Prints the batches of a .log file's bytes. Returns false, after naming the position on `err`,
/// when `verify` is set and a batch is invalid or the tail cannot be parsed.
inline bool dump_segment(const std::string& label, bytes_view data, bool verify, std::ostream& out, std::ostream& err) {
    namespace L = wire::batch_layout;
    std::uint64_t pos = 0;
    while (pos < data.size()) {
        const auto rest = data.subspan(static_cast<std::size_t>(pos));
        std::string problem;
        std::size_t total = 0;
        if (rest.size() < L::header_size) {
            problem = "truncated batch header (" + std::to_string(rest.size()) + " bytes left)";
        } else {
            const auto len = load_be<std::int32_t>(rest.data() + L::batch_length);
            if (len < static_cast<std::int32_t>(L::header_size - L::log_overhead))
                problem = "impossible batchLength " + std::to_string(len);
            else if (static_cast<std::size_t>(len) + L::log_overhead > rest.size())
                problem = "truncated batch (batchLength " + std::to_string(len) + ", " +
                          std::to_string(rest.size() - L::log_overhead) + " bytes left)";
            else
                total = static_cast<std::size_t>(len) + L::log_overhead;
        }
        if (total == 0) {
            if (verify) {
                err << label << ": invalid batch at position " << pos << ": " << problem << '\n';
                return false;
            }
            out << "stopped at position " << pos << " of " << data.size() << ": " << problem << '\n';
            return true;
        }
        const auto b = rest.first(total);
        const auto h = *wire::batch_header::parse(b);
        const bool crc_ok = wire::compute_batch_crc(b) == h.crc;
        wire::validate_options opt;
        opt.client_batch = false;
        const auto verdict = wire::validate(b, opt);
        out << "baseOffset: " << h.base_offset.value() << " lastOffset: " << h.last_offset().value()
            << " count: " << h.records_count << " position: " << pos << " size: " << total
            << " magic: " << static_cast<int>(h.magic) << " compresscodec: " << detail::codec_name(h.compression())
            << " producerId: " << h.producer_id.value() << " producerEpoch: " << h.producer_epoch.value()
            << " baseSequence: " << h.base_sequence.value()
            << " isTransactional: " << (h.is_transactional() ? "true" : "false")
            << " isControl: " << (h.is_control() ? "true" : "false")
            << " partitionLeaderEpoch: " << h.partition_leader_epoch << " maxTimestamp: " << h.max_timestamp
            << " crc: " << h.crc << " crcValid: " << (crc_ok ? "true" : "false");
        if (verdict != wire::batch_error::none) out << " error: " << wire::to_string(verdict);
        out << '\n';
        if (verify && verdict != wire::batch_error::none) {
            err << label << ": invalid batch at position " << pos << ": " << wire::to_string(verdict) << '\n';
            return false;
        }
        pos += total;
    }
    return true;
}

/// Prints the entries of an .index (relative offsets shown absolute, from the file's base offset).
inline bool dump_index(const std::string& label, bytes_view data, offset base, std::ostream& out, std::ostream& err) {
    if (data.size() % offset_index::entry_size != 0) {
        err << label << ": size " << data.size() << " is not a multiple of " << offset_index::entry_size << '\n';
        return false;
    }
    for (std::size_t i = 0; i < data.size(); i += offset_index::entry_size)
        out << "offset: " << base.value() + load_be<std::int32_t>(data.data() + i)
            << " position: " << load_be<std::int32_t>(data.data() + i + 4) << '\n';
    return true;
}

inline bool dump_time_index(const std::string& label, bytes_view data, offset base, std::ostream& out,
                            std::ostream& err) {
    if (data.size() % time_index::entry_size != 0) {
        err << label << ": size " << data.size() << " is not a multiple of " << time_index::entry_size << '\n';
        return false;
    }
    for (std::size_t i = 0; i < data.size(); i += time_index::entry_size)
        out << "timestamp: " << load_be<std::int64_t>(data.data() + i)
            << " offset: " << base.value() + load_be<std::int32_t>(data.data() + i + 8) << '\n';
    return true;
}

/// The whole tool: arguments as given on the command line (without the program name).
inline int dump_log_main(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
    bool verify = false;
    std::vector<std::string> files;
    for (const auto& a : args) {
        if (a == "--verify")
            verify = true;
        else if (a == "-h" || a == "--help") {
            out << "usage: gregor-dump-log [--verify] FILE.log|FILE.index|FILE.timeindex...\n";
            return 0;
        } else if (!a.empty() && a[0] == '-') {
            err << "gregor-dump-log: unknown option " << a << '\n';
            return 2;
        } else
            files.push_back(a);
    }
    if (files.empty()) {
        err << "usage: gregor-dump-log [--verify] FILE.log|FILE.index|FILE.timeindex...\n";
        return 2;
    }
    int status = 0;
    for (const auto& f : files) {
        const detail::mapped_file m(f);
        if (!m.ok()) {
            err << "gregor-dump-log: " << f << ": " << m.error() << '\n';
            status = 2;
            continue;
        }
        const auto name = std::filesystem::path(f).filename().string();
        out << "Dumping " << f << '\n';
        if (const auto b = parse_segment_file_name(name, index_suffix)) {
            if (!dump_index(f, m.bytes(), *b, out, err) && verify) return 1;
        } else if (const auto t = parse_segment_file_name(name, time_index_suffix)) {
            if (!dump_time_index(f, m.bytes(), *t, out, err) && verify) return 1;
        } else {
            if (const auto base = parse_segment_file_name(name, log_suffix))
                out << "Starting offset: " << base->value() << '\n';
            if (!dump_segment(f, m.bytes(), verify, out, err)) return 1;
        }
    }
    return status;
}

} // namespace gregor::storage
