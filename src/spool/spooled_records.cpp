#include "spool/spooled_records.hpp"

#include <cmath>
#include <cstring>

namespace flowmetrics::spool {
namespace {

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}
  template <typename T>
  void number(T value) {
    char bytes[sizeof(T)];
    std::memcpy(bytes, &value, sizeof(T));
    out_.append(bytes, sizeof(T));
  }
  void text(std::string_view s) {
    number<std::uint32_t>(static_cast<std::uint32_t>(s.size()));
    out_.append(s);
  }

 private:
  std::string& out_;
};

// Appends LEB128 varints straight into a buffer sized for the worst case (encode_v2).
inline char* put_varint(char* p, std::uint64_t v) noexcept {
  while (v >= 0x80) {
    *p++ = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

inline std::uint64_t zigzag(std::int64_t v) noexcept {
  return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
}
inline std::int64_t unzigzag(std::uint64_t v) noexcept {
  return static_cast<std::int64_t>(v >> 1) ^ -static_cast<std::int64_t>(v & 1);
}

// Record flags of version 2.
constexpr std::uint8_t kSourceV6 = 1;      // the source address takes 16 bytes (else 4)
constexpr std::uint8_t kDestV6 = 2;        // the destination address takes 16 bytes
constexpr std::uint8_t kValueIsBytes = 4;  // value == bytes (NetFlow, sFlow): not stored
constexpr std::uint8_t kOneFlow = 8;       // flows == 1: not stored
constexpr std::uint8_t kKnownFlags = 15;
constexpr std::size_t kMaxRecordBytes = 1 + 16 + 16 + 2 + 2 + 1 + 10 + 8 + 10 + 10 + 10;

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  template <typename T>
  bool number(T& value) {
    if (in_.size() < sizeof(T)) return false;
    std::memcpy(&value, in_.data(), sizeof(T));
    in_.remove_prefix(sizeof(T));
    return true;
  }
  bool text(std::string& s) {
    std::uint32_t size = 0;
    if (!number(size) || in_.size() < size) return false;
    s.assign(in_.data(), size);
    in_.remove_prefix(size);
    return true;
  }
  bool done() const { return in_.empty(); }
  bool bytes(void* out, std::size_t n) {
    if (in_.size() < n) return false;
    std::memcpy(out, in_.data(), n);
    in_.remove_prefix(n);
    return true;
  }
  bool varint(std::uint64_t& value) {
    value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (in_.empty()) return false;
      const auto b = static_cast<std::uint8_t>(in_.front());
      in_.remove_prefix(1);
      value |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return shift < 63 || b <= 1;
    }
    return false;
  }
  std::size_t left() const { return in_.size(); }

 private:
  std::string_view in_;
};

constexpr std::uint8_t kFlushVersion = 1;

}  // namespace

std::string encode(const RecordBatch& batch) {
  std::string out;
  out.resize(encode_into(batch, out).size());
  return out;
}

std::string_view encode_into(const RecordBatch& batch, std::string& out) {
  std::string head;
  Writer w(head);
  w.number(kRecordsVersion2);
  w.text(batch.input);
  w.text(batch.idempotency_key);
  w.text(batch.answer);
  w.text(batch.origin);
  w.number(batch.origin_offset);
  w.number<std::uint32_t>(static_cast<std::uint32_t>(batch.records.size()));
  // Each record: flags, the addresses (4 or 16 bytes each), ports, protocol, the timestamp
  // as a zig-zag varint of its difference to the previous record's, then value (unless it
  // equals bytes), packets, bytes and flows (unless 1) as varints. Little-endian.
  std::int64_t previous_ms = 0;
  // Room for the worst case in the string's size (not only its capacity), so that the writes
  // below stay within it. The size is never cut back: resize() zero-fills only what the
  // string never held, and a reused scratch string costs nothing here.
  const std::size_t worst = head.size() + batch.records.size() * kMaxRecordBytes;
  if (out.size() < worst) out.resize(worst);
  std::memcpy(out.data(), head.data(), head.size());
  char* p = out.data() + head.size();
  for (const SpooledRecord& r : batch.records) {
    const FlowKey& k = r.key;
    const bool value_is_bytes = r.value == static_cast<double>(r.bytes) && !std::signbit(r.value);
    const auto flags = static_cast<std::uint8_t>((k.source_v6() ? kSourceV6 : 0) | (k.dest_v6() ? kDestV6 : 0) |
                                                 (value_is_bytes ? kValueIsBytes : 0) | (r.flows == 1 ? kOneFlow : 0));
    *p++ = static_cast<char>(flags);
    const std::size_t source_size = k.source_v6() ? 16 : 4;
    const std::size_t dest_size = k.dest_v6() ? 16 : 4;
    std::memcpy(p, k.source_ip.data(), source_size);
    p += source_size;
    std::memcpy(p, k.dest_ip.data(), dest_size);
    p += dest_size;
    std::memcpy(p, &k.source_port, 2);
    std::memcpy(p + 2, &k.dest_port, 2);
    p[4] = static_cast<char>(k.protocol);
    p += 5;
    p = put_varint(p, zigzag(k.timestamp_ms - previous_ms));
    previous_ms = k.timestamp_ms;
    if (!value_is_bytes) {
      std::memcpy(p, &r.value, 8);
      p += 8;
    }
    p = put_varint(p, r.packets);
    p = put_varint(p, r.bytes);
    if (r.flows != 1) p = put_varint(p, r.flows);
  }
  return std::string_view(out.data(), static_cast<std::size_t>(p - out.data()));
}

std::string encode(const FlushMarker& marker) {
  std::string out;
  Writer w(out);
  w.number(kFlushVersion);
  w.number(marker.partition);
  w.number(marker.merged_through);
  w.number(marker.watermark_ms);
  w.number<std::uint8_t>(marker.everything ? 1 : 0);
  return out;
}

namespace {

// Reads the fields before the records; leaves `r` at the first record.
bool read_batch_header(Reader& r, RecordBatch& batch, std::uint32_t& count) {
  std::uint8_t version = 0;
  if (!r.number(version) || (version != kRecordsVersion1 && version != kRecordsVersion2)) return false;
  batch.version = version;
  return r.text(batch.input) && r.text(batch.idempotency_key) && r.text(batch.answer) && r.text(batch.origin) &&
         r.number(batch.origin_offset) && r.number(count);
}

bool decode_v1_records(Reader& r, std::uint32_t count, std::size_t payload_size, RecordBatch& batch) {
  // Each record takes at least 52 bytes: a count larger than the payload can hold is damage.
  if (count > payload_size / 52) return false;
  batch.records.resize(count);
  MetricKey text;
  for (SpooledRecord& record : batch.records) {
    std::uint16_t source_port = 0, dest_port = 0;
    if (!r.text(text.source_ip) || !r.text(text.dest_ip) || !r.number(source_port) || !r.number(dest_port) ||
        !r.text(text.protocol) || !r.number(text.timestamp_ms) || !r.number(record.value) ||
        !r.number(record.packets) || !r.number(record.bytes) || !r.number(record.flows)) {
      return false;
    }
    text.source_port = source_port;
    text.dest_port = dest_port;
    auto key = flow_key_from_metric_key(text);
    if (!key) return false;
    record.key = *key;
  }
  return true;
}

bool decode_v2_records(Reader& r, std::uint32_t count, RecordBatch& batch) {
  // Each record takes at least 16 bytes.
  if (count > r.left() / 16) return false;
  batch.records.resize(count);
  std::int64_t previous_ms = 0;
  for (SpooledRecord& record : batch.records) {
    FlowKey& k = record.key;
    std::uint8_t flags = 0;
    std::uint64_t delta = 0;
    if (!r.number(flags) || (flags & ~kKnownFlags) != 0) return false;
    k.families = static_cast<std::uint8_t>(((flags & kSourceV6) ? FlowKey::kSourceV6 : 0) |
                                           ((flags & kDestV6) ? FlowKey::kDestV6 : 0));
    if (!r.bytes(k.source_ip.data(), (flags & kSourceV6) ? 16 : 4) ||
        !r.bytes(k.dest_ip.data(), (flags & kDestV6) ? 16 : 4) || !r.number(k.source_port) || !r.number(k.dest_port) ||
        !r.number(k.protocol) || !r.varint(delta)) {
      return false;
    }
    k.timestamp_ms = previous_ms + unzigzag(delta);
    previous_ms = k.timestamp_ms;
    if (k.timestamp_ms < 0 || k.timestamp_ms > kMaxFlowTimestampMs) return false;
    if ((flags & kValueIsBytes) == 0 && !r.number(record.value)) return false;
    if (!r.varint(record.packets) || !r.varint(record.bytes)) return false;
    if ((flags & kValueIsBytes) != 0) record.value = static_cast<double>(record.bytes);
    record.flows = 1;
    if ((flags & kOneFlow) == 0 && !r.varint(record.flows)) return false;
  }
  return true;
}

}  // namespace

std::optional<RecordBatch> decode_batch_header(std::string_view payload) {
  Reader r(payload);
  RecordBatch batch;
  std::uint32_t count = 0;
  if (!read_batch_header(r, batch, count)) return std::nullopt;
  return batch;
}

std::optional<RecordBatch> decode_records(std::string_view payload) {
  Reader r(payload);
  RecordBatch batch;
  std::uint32_t count = 0;
  if (!read_batch_header(r, batch, count)) return std::nullopt;
  const bool ok = batch.version == kRecordsVersion1 ? decode_v1_records(r, count, payload.size(), batch)
                                                    : decode_v2_records(r, count, batch);
  if (!ok || !r.done()) return std::nullopt;
  return batch;
}

std::optional<FlushMarker> decode_flush(std::string_view payload) {
  Reader r(payload);
  FlushMarker marker;
  std::uint8_t version = 0, everything = 0;
  if (!r.number(version) || version != kFlushVersion || !r.number(marker.partition) ||
      !r.number(marker.merged_through) || !r.number(marker.watermark_ms) || !r.number(everything) || everything > 1 ||
      !r.done()) {
    return std::nullopt;
  }
  marker.everything = everything == 1;
  return marker;
}

}  // namespace flowmetrics::spool
