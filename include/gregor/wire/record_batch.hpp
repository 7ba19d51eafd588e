// Kafka record batch v2 (magic 2): the unit that travels unchanged from the producer's buffer to
// the broker's segment file to a reader's socket.
//
//   offset  field                  type    CRC-covered
//   0       baseOffset             int64   no   (broker patches it in place)
//   8       batchLength            int32   no   (bytes after this field)
//   12      partitionLeaderEpoch   int32   no   (broker patches it in place)
//   16      magic                  int8    no   (2)
//   17      crc                    uint32  no   (CRC-32C of bytes [21, end))
//   21      attributes             int16   yes  bits 0-2 codec, 3 log-append-time, 4 txn, 5 control
//   23      lastOffsetDelta        int32   yes
//   27      baseTimestamp          int64   yes
//   35      maxTimestamp           int64   yes
//   43      producerId             int64   yes
//   51      producerEpoch          int16   yes
//   53      baseSequence           int32   yes
//   57      recordsCount           int32   yes
//   61      records...                     yes  (one compressed blob when bits 0-2 != 0)
//
// Record: varint length, int8 attributes, varlong timestampDelta, varint offsetDelta,
// varint keyLen (-1 null) + key, varint valueLen (-1 null) + value, varint headerCount,
// per header: varint keyLen + key, varint valueLen (-1 null) + value.
//
// batch_builder encodes records straight into the batch buffer and seals it; batch_view reads a
// batch in place and iterates records as views; validate() checks a batch from an untrusted
// peer without ever reading out of bounds. None of them allocate per record.
#pragma once

#include <gregor/core/buffer.hpp>
#include <gregor/core/crc32c.hpp>
#include <gregor/core/error.hpp>
#include <gregor/core/strong_types.hpp>
#include <gregor/core/varint.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <optional>
#include <span>
#include <string_view>

namespace gregor::wire {

namespace batch_layout {
inline constexpr std::size_t base_offset = 0;
inline constexpr std::size_t batch_length = 8;
inline constexpr std::size_t partition_leader_epoch = 12;
inline constexpr std::size_t magic = 16;
inline constexpr std::size_t crc = 17;
inline constexpr std::size_t attributes = 21;
inline constexpr std::size_t last_offset_delta = 23;
inline constexpr std::size_t base_timestamp = 27;
inline constexpr std::size_t max_timestamp = 35;
inline constexpr std::size_t producer_id = 43;
inline constexpr std::size_t producer_epoch = 51;
inline constexpr std::size_t base_sequence = 53;
inline constexpr std::size_t records_count = 57;
inline constexpr std::size_t header_size = 61;
/// Bytes before batchLength's coverage starts (baseOffset + batchLength).
inline constexpr std::size_t log_overhead = 12;
inline constexpr std::int8_t current_magic = 2;
/// Worst-case bytes a record adds beyond its key, value and headers.
inline constexpr std::size_t max_record_overhead = 21;
} // namespace batch_layout

enum class compression : std::uint8_t { none = 0, gzip = 1, snappy = 2, lz4 = 3, zstd = 4 };

namespace attr {
inline constexpr std::int16_t compression_mask = 0x07;
inline constexpr std::int16_t log_append_time = 0x08;
inline constexpr std::int16_t transactional = 0x10;
inline constexpr std::int16_t control = 0x20;
inline constexpr std::int16_t delete_horizon = 0x40;
} // namespace attr

namespace detail {
/// a + b and a - b wrapping around like Java's long arithmetic: offsets and timestamps are computed from
/// untrusted header fields, and a hostile batch must not be undefined behaviour.
constexpr std::int64_t wrapping_add(std::int64_t a, std::int64_t b) noexcept {
    return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) + static_cast<std::uint64_t>(b));
}
constexpr std::int64_t wrapping_sub(std::int64_t a, std::int64_t b) noexcept {
    return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) - static_cast<std::uint64_t>(b));
}
} // namespace detail

/// A decoded copy of the 61-byte batch header.
struct batch_header {
    offset base_offset{0};
    std::int32_t batch_length = 0;
    std::int32_t partition_leader_epoch = -1;
    std::int8_t magic = 0;
    std::uint32_t crc = 0;
    std::int16_t attributes = 0;
    std::int32_t last_offset_delta = 0;
    std::int64_t base_timestamp = 0;
    std::int64_t max_timestamp = 0;
    gregor::producer_id producer_id = no_producer_id;
    gregor::producer_epoch producer_epoch = no_producer_epoch;
    gregor::sequence base_sequence = no_sequence;
    std::int32_t records_count = 0;

    [[nodiscard]] std::size_t total_size() const noexcept {
        return static_cast<std::size_t>(batch_length) + batch_layout::log_overhead;
    }
    [[nodiscard]] offset last_offset() const noexcept {
        return offset{detail::wrapping_add(base_offset.value(), last_offset_delta)};
    }
    [[nodiscard]] offset next_offset() const noexcept { return offset{detail::wrapping_add(last_offset().value(), 1)}; }
    [[nodiscard]] wire::compression compression() const noexcept {
        return static_cast<wire::compression>(attributes & attr::compression_mask);
    }
    [[nodiscard]] bool is_transactional() const noexcept { return attributes & attr::transactional; }
    [[nodiscard]] bool is_control() const noexcept { return attributes & attr::control; }
    [[nodiscard]] bool has_log_append_time() const noexcept { return attributes & attr::log_append_time; }
    [[nodiscard]] bool is_idempotent() const noexcept { return producer_id.value() >= 0; }
    /// Sequence of the last record, with Kafka's int32 wrap-around.
    [[nodiscard]] sequence last_sequence() const noexcept { return base_sequence.advanced(last_offset_delta); }

    /// Decodes the header from the first 61 bytes; nullopt if fewer are given.
    static std::optional<batch_header> parse(bytes_view b) noexcept {
        namespace L = batch_layout;
        if (b.size() < L::header_size) return std::nullopt;
        const std::byte* p = b.data();
        batch_header h;
        h.base_offset = offset{load_be<std::int64_t>(p + L::base_offset)};
        h.batch_length = load_be<std::int32_t>(p + L::batch_length);
        h.partition_leader_epoch = load_be<std::int32_t>(p + L::partition_leader_epoch);
        h.magic = load_be<std::int8_t>(p + L::magic);
        h.crc = load_be<std::uint32_t>(p + L::crc);
        h.attributes = load_be<std::int16_t>(p + L::attributes);
        h.last_offset_delta = load_be<std::int32_t>(p + L::last_offset_delta);
        h.base_timestamp = load_be<std::int64_t>(p + L::base_timestamp);
        h.max_timestamp = load_be<std::int64_t>(p + L::max_timestamp);
        h.producer_id = gregor::producer_id{load_be<std::int64_t>(p + L::producer_id)};
        h.producer_epoch = gregor::producer_epoch{load_be<std::int16_t>(p + L::producer_epoch)};
        h.base_sequence = sequence{load_be<std::int32_t>(p + L::base_sequence)};
        h.records_count = load_be<std::int32_t>(p + L::records_count);
        return h;
    }
};

/// CRC-32C as the batch defines it: attributes to the end.
inline std::uint32_t compute_batch_crc(bytes_view batch) noexcept {
    if (batch.size() < batch_layout::header_size) return 0;
    return crc32c::compute(batch.subspan(batch_layout::attributes));
}

// In-place patches. baseOffset and partitionLeaderEpoch lie outside the CRC, so patching them
// keeps the producer's CRC valid and the batch byte-identical otherwise.
inline void patch_base_offset(mutable_bytes_view batch, offset base) noexcept {
    store_be<std::int64_t>(batch.data() + batch_layout::base_offset, base.value());
}
inline void patch_leader_epoch(mutable_bytes_view batch, leader_epoch e) noexcept {
    store_be<std::int32_t>(batch.data() + batch_layout::partition_leader_epoch, e.value());
}
/// Rewrites the CRC after a change inside its coverage (LogAppendTime, producer state).
inline void reseal_crc(mutable_bytes_view batch) noexcept {
    store_be<std::uint32_t>(batch.data() + batch_layout::crc, compute_batch_crc(batch));
}
/// Stamps producer id/epoch/base sequence into a sealed batch and fixes the CRC.
inline void patch_producer_state(mutable_bytes_view batch, producer_id pid, producer_epoch epoch, sequence base_seq,
                                 bool transactional) noexcept {
    using namespace batch_layout;
    store_be<std::int64_t>(batch.data() + producer_id, pid.value());
    store_be<std::int16_t>(batch.data() + producer_epoch, epoch.value());
    store_be<std::int32_t>(batch.data() + base_sequence, base_seq.value());
    auto a = load_be<std::int16_t>(batch.data() + attributes);
    a = static_cast<std::int16_t>(transactional ? (a | attr::transactional) : (a & ~attr::transactional));
    store_be<std::int16_t>(batch.data() + attributes, a);
    reseal_crc(batch);
}
/// Sets maxTimestamp and the timestamp-type bit (LogAppendTime when `log_append_time`, else
/// CreateTime). Both lie inside the CRC, so it is recomputed, but only when one of them changed:
/// the common case (a producer that already wrote the right max) costs no CRC pass. Returns
/// whether the batch changed. docs/protocol.md §2.5.
inline bool set_max_timestamp(mutable_bytes_view batch, std::int64_t max_ts, bool log_append_time) noexcept {
    using namespace batch_layout;
    const auto a = load_be<std::int16_t>(batch.data() + attributes);
    const auto na =
        static_cast<std::int16_t>(log_append_time ? (a | attr::log_append_time) : (a & ~attr::log_append_time));
    if (na == a && load_be<std::int64_t>(batch.data() + max_timestamp) == max_ts) return false;
    store_be<std::int16_t>(batch.data() + attributes, na);
    store_be<std::int64_t>(batch.data() + max_timestamp, max_ts);
    reseal_crc(batch);
    return true;
}
/// Marks the batch LogAppendTime with the broker's time (inside the CRC, so it is recomputed).
inline void patch_log_append_time(mutable_bytes_view batch, std::int64_t now_ms) noexcept {
    set_max_timestamp(batch, now_ms, true);
}

/// One record header; the value may be null.
struct record_header {
    std::string_view key;
    std::optional<bytes_view> value;
};

/// A record decoded in place: key/value/headers point into the batch bytes.
struct record_view {
    std::int8_t attributes = 0;
    std::int64_t timestamp = 0; // absolute (baseTimestamp + delta)
    offset record_offset{0};    // absolute (baseOffset + delta)
    std::int32_t offset_delta = 0;
    std::optional<bytes_view> key;
    std::optional<bytes_view> value;
    std::int32_t header_count = 0;
    bytes_view headers_raw; // the encoded headers, walk them with header_cursor

    /// Iterates the headers of this record (validated by the record decoder).
    class header_cursor {
    public:
        header_cursor(bytes_view raw, std::int32_t n) noexcept : r_(raw), left_(n) {}
        std::optional<record_header> next() noexcept {
            if (left_ <= 0) return std::nullopt;
            --left_;
            record_header h;
            const auto klen = r_.varint();
            if (klen < 0) {
                r_.fail();
                return std::nullopt;
            }
            h.key = as_string_view(r_.bytes(static_cast<std::size_t>(klen)));
            const auto vlen = r_.varint();
            if (vlen >= 0) h.value = r_.bytes(static_cast<std::size_t>(vlen));
            if (!r_.ok()) return std::nullopt;
            return h;
        }

    private:
        byte_reader r_;
        std::int32_t left_;
    };
    [[nodiscard]] header_cursor headers() const noexcept { return {headers_raw, header_count}; }
};

namespace detail {

/// Decodes one record at the reader's position. Returns false (reader failed) on any
/// inconsistency: lengths that overrun the record, negative lengths other than -1, or a record
/// whose declared length does not match what its fields used.
inline bool decode_record(byte_reader& r, const batch_header& h, record_view& out) noexcept {
    const std::int32_t len = r.varint();
    if (!r.ok() || len < 0 || static_cast<std::size_t>(len) > r.remaining()) {
        r.fail();
        return false;
    }
    byte_reader body(r.bytes(static_cast<std::size_t>(len)));
    out.attributes = body.i8();
    out.timestamp = wrapping_add(h.base_timestamp, body.varlong());
    out.offset_delta = body.varint();
    out.record_offset = offset{wrapping_add(h.base_offset.value(), out.offset_delta)};
    const std::int32_t klen = body.varint();
    if (klen < -1) {
        r.fail();
        return false;
    }
    out.key = klen >= 0 ? std::optional<bytes_view>(body.bytes(static_cast<std::size_t>(klen))) : std::nullopt;
    const std::int32_t vlen = body.varint();
    if (vlen < -1) {
        r.fail();
        return false;
    }
    out.value = vlen >= 0 ? std::optional<bytes_view>(body.bytes(static_cast<std::size_t>(vlen))) : std::nullopt;
    out.header_count = body.varint();
    if (!body.ok() || out.header_count < 0) {
        r.fail();
        return false;
    }
    const std::byte* hstart = body.current();
    for (std::int32_t i = 0; i < out.header_count; ++i) {
        const auto hk = body.varint();
        if (hk < 0) {
            r.fail();
            return false;
        }
        body.skip(static_cast<std::size_t>(hk));
        const auto hv = body.varint();
        if (hv < -1) {
            r.fail();
            return false;
        }
        if (hv > 0) body.skip(static_cast<std::size_t>(hv));
        if (!body.ok()) {
            r.fail();
            return false;
        }
    }
    out.headers_raw = bytes_view{hstart, static_cast<std::size_t>(body.current() - hstart)};
    if (!body.ok() || !body.at_end()) {
        r.fail();
        return false;
    }
    return true;
}

} // namespace detail

/// Why a batch was rejected; `to_kafka()` gives the code a broker answers with.
enum class batch_error : std::uint8_t {
    none,
    truncated,          // fewer bytes than the header or than batchLength says
    bad_length,         // batchLength below the header size, or trailing bytes after the batch
    bad_magic,          // magic != 2
    bad_crc,            // CRC-32C mismatch
    bad_record_count,   // recordsCount < 0, or not matching the records present
    bad_offset_delta,   // lastOffsetDelta inconsistent with the records
    bad_record,         // a record's own lengths do not add up
    control_from_client // a control batch where only the broker may write one
};

inline const char* to_string(batch_error e) noexcept {
    switch (e) {
    case batch_error::none: return "ok";
    case batch_error::truncated: return "truncated batch";
    case batch_error::bad_length: return "inconsistent batch length";
    case batch_error::bad_magic: return "unsupported magic (want 2)";
    case batch_error::bad_crc: return "CRC-32C mismatch";
    case batch_error::bad_record_count: return "record count does not match the records";
    case batch_error::bad_offset_delta: return "offset deltas inconsistent with lastOffsetDelta";
    case batch_error::bad_record: return "malformed record";
    case batch_error::control_from_client: return "control batch from a client";
    }
    return "unknown";
}

constexpr error_code to_kafka(batch_error e) noexcept {
    switch (e) {
    case batch_error::none: return error_code::none;
    case batch_error::bad_crc:
    case batch_error::truncated:
    case batch_error::bad_length: return error_code::corrupt_message;
    default: return error_code::invalid_record;
    }
}

struct validate_options {
    /// Walk every record of uncompressed batches (lengths, count, offset deltas).
    bool check_records = true;
    /// Require lastOffsetDelta + 1 == recordsCount and recordsCount > 0, as for client batches.
    bool client_batch = true;
    /// Reject control batches (a client may not write transaction markers).
    bool reject_control = false;
};

inline batch_error validate_records(const batch_header& h, bytes_view records) noexcept;

/// Validates exactly one batch occupying all of `b`. Never reads outside `b`.
inline batch_error validate(bytes_view b, const validate_options& opt = {}) noexcept {
    using namespace batch_layout;
    if (b.size() < header_size) return batch_error::truncated;
    const auto h = *batch_header::parse(b);
    if (h.batch_length < static_cast<std::int32_t>(header_size - log_overhead)) return batch_error::bad_length;
    if (h.total_size() > b.size()) return batch_error::truncated;
    if (h.total_size() < b.size()) return batch_error::bad_length;
    if (h.magic != current_magic) return batch_error::bad_magic;
    if (compute_batch_crc(b) != h.crc) return batch_error::bad_crc;
    if (h.records_count < 0 || h.last_offset_delta < 0) return batch_error::bad_record_count;
    if (opt.reject_control && h.is_control()) return batch_error::control_from_client;
    if (opt.client_batch) {
        if (h.records_count == 0) return batch_error::bad_record_count;
        if (std::int64_t{h.last_offset_delta} + 1 != h.records_count) return batch_error::bad_offset_delta;
    }
    if (!opt.check_records || h.compression() != compression::none) return batch_error::none;
    return validate_records(h, b.subspan(header_size));
}

/// Walks the records (uncompressed: the batch's own bytes after the header; compressed: what its
/// codec decoded, see compression/codec.hpp): each record's lengths, recordsCount of them and no
/// byte more, offset deltas increasing up to lastOffsetDelta.
inline batch_error validate_records(const batch_header& h, bytes_view records) noexcept {
    byte_reader r(records);
    record_view rec;
    std::int32_t prev_delta = -1;
    for (std::int32_t i = 0; i < h.records_count; ++i) {
        if (r.at_end()) return batch_error::bad_record_count;
        if (!detail::decode_record(r, h, rec)) return batch_error::bad_record;
        if (rec.offset_delta <= prev_delta || rec.offset_delta > h.last_offset_delta)
            return batch_error::bad_offset_delta;
        prev_delta = rec.offset_delta;
    }
    if (!r.at_end()) return batch_error::bad_record_count;
    return batch_error::none;
}

/// A batch read in place. Construct it over bytes that validate() accepted (or that came from
/// this process); iteration still stops safely, with ok() false, on malformed records.
class batch_view {
public:
    explicit batch_view(bytes_view b) noexcept : bytes_(b) {
        if (auto h = batch_header::parse(b)) header_ = *h;
    }
    /// A compressed batch whose records its codec decoded into `plain` (which must outlive the
    /// view and its iterators): iteration walks `plain`, bytes() stays the batch as stored.
    batch_view(bytes_view b, bytes_view plain) noexcept : batch_view(b) {
        plain_ = plain;
        decoded_ = true;
    }
    [[nodiscard]] const batch_header& header() const noexcept { return header_; }
    [[nodiscard]] bytes_view bytes() const noexcept { return bytes_; }
    [[nodiscard]] bytes_view records_bytes() const noexcept {
        return bytes_.size() >= batch_layout::header_size ? bytes_.subspan(batch_layout::header_size) : bytes_view{};
    }

    class iterator {
    public:
        using value_type = record_view;
        using difference_type = std::ptrdiff_t;
        iterator() noexcept = default;
        iterator(const batch_header* h, bytes_view records, std::int32_t count) noexcept
                : h_(h), r_(records), left_(count) {
            advance();
        }
        const record_view& operator*() const noexcept { return cur_; }
        const record_view* operator->() const noexcept { return &cur_; }
        iterator& operator++() noexcept {
            advance();
            return *this;
        }
        void operator++(int) noexcept { advance(); }
        bool operator==(std::default_sentinel_t) const noexcept { return done_; }
        [[nodiscard]] bool failed() const noexcept { return !r_.ok(); }

    private:
        void advance() noexcept {
            if (left_ <= 0 || !r_.ok() || !detail::decode_record(r_, *h_, cur_)) {
                done_ = true;
                return;
            }
            --left_;
        }
        const batch_header* h_ = nullptr;
        byte_reader r_;
        std::int32_t left_ = 0;
        record_view cur_;
        bool done_ = false;
    };

    /// Whether iteration yields the records: uncompressed, or decoded (the two-argument constructor).
    [[nodiscard]] bool readable() const noexcept { return decoded_ || header_.compression() == compression::none; }
    /// The records' plain bytes: the decoded ones of a compressed batch, else records_bytes().
    [[nodiscard]] bytes_view plain_records() const noexcept { return decoded_ ? plain_ : records_bytes(); }

    /// The records; a compressed batch viewed without its decoded bytes yields none.
    [[nodiscard]] iterator begin() const noexcept {
        if (!readable()) return iterator(&header_, {}, 0);
        return iterator(&header_, plain_records(), header_.records_count);
    }
    [[nodiscard]] std::default_sentinel_t end() const noexcept { return {}; }

private:
    bytes_view bytes_;
    batch_header header_;
    bytes_view plain_;
    bool decoded_ = false;
};

/// Splits a buffer holding consecutive batches (a Produce "records" field, a fetch response, a
/// segment) into batches. Stops at the first incomplete or impossible batch; `remainder()` is
/// then what was left (a partial trailing batch in a fetch response is normal, KIP-74).
class batch_splitter {
public:
    explicit batch_splitter(bytes_view b) noexcept : rest_(b) {}
    std::optional<bytes_view> next() noexcept {
        using namespace batch_layout;
        if (rest_.size() < log_overhead) return std::nullopt;
        const auto len = load_be<std::int32_t>(rest_.data() + batch_length);
        if (len < static_cast<std::int32_t>(header_size - log_overhead)) return std::nullopt;
        const auto total = static_cast<std::size_t>(len) + log_overhead;
        if (total > rest_.size()) return std::nullopt;
        auto b = rest_.first(total);
        rest_ = rest_.subspan(total);
        return b;
    }
    [[nodiscard]] bytes_view remainder() const noexcept { return rest_; }

private:
    bytes_view rest_;
};

// Timestamps record by record (ListOffsets, docs/protocol.md §2.5 and §4). Kafka answers a lookup
// with a record, never a batch, and trusts a batch's maxTimestamp only because the broker
// recomputed it from the records on append.

/// A record's timestamp and offset (Kafka's TimestampAndOffset without the leader epoch); -1/-1
/// means none.
struct timestamp_offset {
    std::int64_t timestamp = -1;
    offset record_offset{-1};
    friend bool operator==(const timestamp_offset&, const timestamp_offset&) = default;
};

/// The timestamp Kafka reports for a record: in a LogAppendTime batch every record carries the
/// batch's maxTimestamp (the broker's append time), whatever its own delta says.
[[nodiscard]] inline std::int64_t record_timestamp(const batch_header& h, const record_view& r) noexcept {
    return h.has_log_append_time() ? h.max_timestamp : r.timestamp;
}

namespace detail {
/// Walks the records of an uncompressed batch until `stop(record, timestamp)` is true. nullopt when
/// no record stops it, when the batch is compressed (its records need a codec, see
/// `records_readable`) or when a record is malformed.
template <typename Stop>
std::optional<timestamp_offset> find_record(const batch_view& v, Stop&& stop) noexcept {
    if (!v.readable()) return std::nullopt;
    for (auto it = v.begin(); it != v.end(); ++it) {
        const auto ts = record_timestamp(v.header(), *it);
        if (stop(*it, ts)) return timestamp_offset{ts, it->record_offset};
    }
    return std::nullopt;
}
} // namespace detail

/// Whether the records of this batch can be walked in place (uncompressed). A compressed batch
/// needs a decompressor first; none exists yet (issue 16), so callers fall back to the header.
[[nodiscard]] inline bool records_readable(const batch_header& h) noexcept {
    return h.compression() == compression::none;
}

/// The largest record timestamp of an uncompressed batch and the offset of the first record that
/// carries it, computed as Kafka's validator does on append: starting from -1 (NO_TIMESTAMP), so
/// a batch whose records all have negative timestamps yields {-1, -1}. nullopt for a compressed or
/// malformed batch.
[[nodiscard]] inline std::optional<timestamp_offset> records_max_timestamp(const batch_view& v) noexcept {
    if (!v.readable()) return std::nullopt;
    timestamp_offset best;
    std::int32_t seen = 0;
    auto it = v.begin();
    for (; it != v.end(); ++it, ++seen) {
        const auto ts = record_timestamp(v.header(), *it);
        if (ts > best.timestamp) best = {ts, it->record_offset};
    }
    if (it.failed() || seen != v.header().records_count) return std::nullopt;
    return best;
}
[[nodiscard]] inline std::optional<timestamp_offset> records_max_timestamp(bytes_view batch) noexcept {
    return records_max_timestamp(batch_view{batch});
}

/// The first record of a (readable) batch whose timestamp is >= `target`; nullopt if none.
[[nodiscard]] inline std::optional<timestamp_offset> first_record_at_or_after(const batch_view& v,
                                                                              std::int64_t target) noexcept {
    return detail::find_record(v, [&](const record_view&, std::int64_t ts) { return ts >= target; });
}
/// The first record of a (readable) batch whose timestamp is exactly `ts`; nullopt if none.
[[nodiscard]] inline std::optional<timestamp_offset> first_record_with_timestamp(const batch_view& v,
                                                                                 std::int64_t ts) noexcept {
    return detail::find_record(v, [&](const record_view&, std::int64_t t) { return t == ts; });
}

/// The first record of an uncompressed batch whose timestamp is >= `target` (ListOffsets by
/// timestamp within one batch). nullopt if none, or if the batch is compressed or malformed.
[[nodiscard]] inline std::optional<timestamp_offset> first_record_at_or_after(bytes_view batch,
                                                                              std::int64_t target) noexcept {
    return first_record_at_or_after(batch_view{batch}, target);
}

/// The first record of an uncompressed batch whose timestamp is exactly `ts` (ListOffsets -3 finds
/// the record behind a batch's maxTimestamp this way). nullopt as for first_record_at_or_after.
[[nodiscard]] inline std::optional<timestamp_offset> first_record_with_timestamp(bytes_view batch,
                                                                                 std::int64_t ts) noexcept {
    return first_record_with_timestamp(batch_view{batch}, ts);
}

/// Broker side of an append (Kafka's in-place validation): makes the header's maxTimestamp the
/// records' true maximum, or, for a LogAppendTime topic, stamps `append_time_ms` and the type bit.
/// Clients that leave maxTimestamp at -1 would otherwise be invisible to the time index. Compressed
/// CreateTime batches keep their header until a decompressor can read their records. The CRC is
/// recomputed only when a byte under it changed; nothing is copied. Returns whether it changed.
inline bool restamp_max_timestamp(mutable_bytes_view batch, bool log_append_time,
                                  std::int64_t append_time_ms) noexcept {
    if (batch.size() < batch_layout::header_size) return false;
    if (log_append_time) return set_max_timestamp(batch, append_time_ms, true);
    const auto true_max = records_max_timestamp(bytes_view{batch});
    if (!true_max) return false;
    return set_max_timestamp(batch, true_max->timestamp, false);
}

/// Producer identity stamped into a batch when it is sealed (all -1 when not idempotent).
struct producer_stamp {
    gregor::producer_id producer_id = no_producer_id;
    gregor::producer_epoch producer_epoch = no_producer_epoch;
    sequence base_sequence = no_sequence;
    bool transactional = false;
};

/// Encodes records into one v2 batch. Each append writes the record's final bytes directly after
/// the previous one; seal() fills the header and CRC. The builder owns its buffer and gives it
/// away on seal, so a sealed batch moves to the transport without a copy.
class batch_builder {
public:
    /// `capacity_hint` sizes the first allocation (batch.size is the natural choice).
    explicit batch_builder(std::size_t capacity_hint = 16384, std::int16_t attributes = 0) : attributes_(attributes) {
        buf_.reserve(std::max(capacity_hint, batch_layout::header_size));
        buf_.resize(batch_layout::header_size);
    }

    /// Exact bytes a record with these fields adds to the batch (for batch.size decisions).
    [[nodiscard]] std::size_t record_size(std::int64_t timestamp, std::optional<bytes_view> key,
                                          std::optional<bytes_view> value,
                                          std::span<const record_header> headers = {}) const noexcept {
        const auto ts_delta = count_ ? detail::wrapping_sub(timestamp, base_ts_) : 0;
        const auto body = body_size(ts_delta, count_, key, value, headers);
        return varint_size(static_cast<std::int32_t>(body)) + body;
    }

    /// Appends one record; returns its offset delta. Timestamps are ms since the epoch.
    std::int32_t append(std::int64_t timestamp, std::optional<bytes_view> key, std::optional<bytes_view> value,
                        std::span<const record_header> headers = {}) {
        if (count_ == 0) {
            base_ts_ = timestamp;
            max_ts_ = timestamp;
        }
        if (timestamp > max_ts_) max_ts_ = timestamp;
        const std::int64_t ts_delta = detail::wrapping_sub(timestamp, base_ts_);
        const std::int32_t delta = count_;
        const auto body = body_size(ts_delta, delta, key, value, headers);
        std::byte* p = buf_.grow(varint_size(static_cast<std::int32_t>(body)) + body);
        p += encode_varint(p, static_cast<std::int32_t>(body));
        *p++ = std::byte{0};
        p += encode_varlong(p, ts_delta);
        p += encode_varint(p, delta);
        p = put_nullable(p, key);
        p = put_nullable(p, value);
        p += encode_varint(p, static_cast<std::int32_t>(headers.size()));
        for (const auto& h : headers) {
            p += encode_varint(p, static_cast<std::int32_t>(h.key.size()));
            if (!h.key.empty()) {
                std::memcpy(p, h.key.data(), h.key.size());
                p += h.key.size();
            }
            p = put_nullable(p, h.value);
        }
        ++count_;
        return delta;
    }

    [[nodiscard]] std::int32_t record_count() const noexcept { return count_; }
    [[nodiscard]] std::size_t size_bytes() const noexcept { return buf_.size(); }
    [[nodiscard]] bool empty() const noexcept { return count_ == 0; }
    [[nodiscard]] std::int64_t base_timestamp() const noexcept { return base_ts_; }

    /// Writes the header and CRC and hands the finished batch over. The builder is empty after.
    byte_buffer seal(const producer_stamp& stamp = {}) {
        namespace L = batch_layout;
        std::byte* p = buf_.data();
        std::int16_t a = attributes_;
        if (stamp.transactional) a |= attr::transactional;
        store_be<std::int64_t>(p + L::base_offset, 0);
        store_be<std::int32_t>(p + L::batch_length, static_cast<std::int32_t>(buf_.size() - L::log_overhead));
        store_be<std::int32_t>(p + L::partition_leader_epoch, -1);
        store_be<std::int8_t>(p + L::magic, L::current_magic);
        store_be<std::int16_t>(p + L::attributes, a);
        store_be<std::int32_t>(p + L::last_offset_delta, count_ > 0 ? count_ - 1 : 0);
        store_be<std::int64_t>(p + L::base_timestamp, base_ts_);
        store_be<std::int64_t>(p + L::max_timestamp, max_ts_);
        store_be<std::int64_t>(p + L::producer_id, stamp.producer_id.value());
        store_be<std::int16_t>(p + L::producer_epoch, stamp.producer_epoch.value());
        store_be<std::int32_t>(p + L::base_sequence, stamp.base_sequence.value());
        store_be<std::int32_t>(p + L::records_count, count_);
        store_be<std::uint32_t>(p + L::crc, compute_batch_crc(buf_.view()));
        byte_buffer out = std::move(buf_);
        buf_ = byte_buffer{};
        count_ = 0;
        return out;
    }

private:
    static std::size_t nullable_size(const std::optional<bytes_view>& b) noexcept {
        return b ? varint_size(static_cast<std::int32_t>(b->size())) + b->size() : 1;
    }
    static std::byte* put_nullable(std::byte* p, const std::optional<bytes_view>& b) noexcept {
        if (!b) return p + encode_varint(p, -1);
        p += encode_varint(p, static_cast<std::int32_t>(b->size()));
        if (!b->empty()) {
            std::memcpy(p, b->data(), b->size());
            p += b->size();
        }
        return p;
    }
    static std::size_t body_size(std::int64_t ts_delta, std::int32_t delta, const std::optional<bytes_view>& key,
                                 const std::optional<bytes_view>& value,
                                 std::span<const record_header> headers) noexcept {
        std::size_t n = 1 + varlong_size(ts_delta) + varint_size(delta) + nullable_size(key) + nullable_size(value) +
                        varint_size(static_cast<std::int32_t>(headers.size()));
        for (const auto& h : headers)
            n += varint_size(static_cast<std::int32_t>(h.key.size())) + h.key.size() + nullable_size(h.value);
        return n;
    }

    byte_buffer buf_;
    std::int16_t attributes_;
    std::int32_t count_ = 0;
    std::int64_t base_ts_ = 0;
    std::int64_t max_ts_ = 0;
};

// Control batches: transaction markers, written only by the broker/coordinator.

enum class control_type : std::int16_t { abort = 0, commit = 1 };

struct control_record {
    std::int16_t version = 0;
    control_type type = control_type::abort;
    std::int32_t coordinator_epoch = 0;
};

/// A one-record control batch (attributes transactional|control, baseSequence -1).
inline byte_buffer build_control_batch(control_type type, producer_id pid, producer_epoch epoch,
                                       std::int32_t coordinator_epoch, std::int64_t timestamp_ms) {
    std::byte key[4], value[6];
    store_be<std::int16_t>(key, 0);
    store_be<std::int16_t>(key + 2, static_cast<std::int16_t>(type));
    store_be<std::int16_t>(value, 0);
    store_be<std::int32_t>(value + 2, coordinator_epoch);
    batch_builder b(128, static_cast<std::int16_t>(attr::control));
    b.append(timestamp_ms, bytes_view{key, 4}, bytes_view{value, 6});
    return b.seal(producer_stamp{pid, epoch, no_sequence, true});
}

/// Decodes the key/value of a record in a control batch; nullopt if they are not a marker.
inline std::optional<control_record> parse_control_record(const record_view& r) noexcept {
    if (!r.key || r.key->size() < 4) return std::nullopt;
    control_record c;
    c.version = load_be<std::int16_t>(r.key->data());
    c.type = static_cast<control_type>(load_be<std::int16_t>(r.key->data() + 2));
    if (r.value && r.value->size() >= 6) c.coordinator_epoch = load_be<std::int32_t>(r.value->data() + 2);
    return c;
}

} // namespace gregor::wire
