#include "spool/spooled_records.hpp"

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

 private:
  std::string_view in_;
};

constexpr std::uint8_t kRecordsVersion = 1;
constexpr std::uint8_t kFlushVersion = 1;

}  // namespace

std::string encode(const RecordBatch& batch) {
  std::string out;
  out.reserve(64 + batch.answer.size() + batch.records.size() * 64);
  Writer w(out);
  w.number(kRecordsVersion);
  w.text(batch.input);
  w.text(batch.idempotency_key);
  w.text(batch.answer);
  w.text(batch.origin);
  w.number(batch.origin_offset);
  w.number<std::uint32_t>(static_cast<std::uint32_t>(batch.records.size()));
  for (const SpooledRecord& r : batch.records) {
    w.text(r.key.source_ip);
    w.text(r.key.dest_ip);
    w.number<std::uint16_t>(static_cast<std::uint16_t>(r.key.source_port));
    w.number<std::uint16_t>(static_cast<std::uint16_t>(r.key.dest_port));
    w.text(r.key.protocol);
    w.number(r.key.timestamp_ms);
    w.number(r.value);
    w.number(r.packets);
    w.number(r.bytes);
    w.number(r.flows);
  }
  return out;
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
  return r.number(version) && version == kRecordsVersion && r.text(batch.input) && r.text(batch.idempotency_key) &&
         r.text(batch.answer) && r.text(batch.origin) && r.number(batch.origin_offset) && r.number(count);
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
  // Each record takes at least 52 bytes: a count larger than the payload can hold is damage.
  if (count > payload.size() / 52) return std::nullopt;
  batch.records.resize(count);
  for (SpooledRecord& record : batch.records) {
    std::uint16_t source_port = 0, dest_port = 0;
    if (!r.text(record.key.source_ip) || !r.text(record.key.dest_ip) || !r.number(source_port) ||
        !r.number(dest_port) || !r.text(record.key.protocol) || !r.number(record.key.timestamp_ms) ||
        !r.number(record.value) || !r.number(record.packets) || !r.number(record.bytes) || !r.number(record.flows)) {
      return std::nullopt;
    }
    record.key.source_port = source_port;
    record.key.dest_port = dest_port;
  }
  if (!r.done()) return std::nullopt;
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
