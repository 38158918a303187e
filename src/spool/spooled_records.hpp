#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/flow_key.hpp"

namespace flowmetrics::spool {

// One validated record as the spool keeps it: the binary key (exact timestamp, not yet
// bucketed) and what it adds to its aggregate.
using SpooledRecord = FlowUpdate;

// How a records payload was written. Version 1 (before binary keys) stored each key as its
// canonical text; it is still read, so that a spool left by an earlier release is replayed.
// Version 2 stores the binary key compactly (about 21 bytes for an IPv4 NetFlow record).
inline constexpr std::uint8_t kRecordsVersion1 = 1;
inline constexpr std::uint8_t kRecordsVersion2 = 2;

// The payload of a `records` frame: what one input handed over at once.
struct RecordBatch {
  std::string input;                // counter label: "tcp", "http", "netflow", "ingest"
  std::string idempotency_key;      // HTTP's Idempotency-Key, empty without one
  std::string answer;               // the response a repeat of that key gets
  std::string origin;               // ingest: the file's identity; empty otherwise
  std::uint64_t origin_offset = 0;  // ingest: the file offset just past these records
  std::vector<SpooledRecord> records;
  // The format the records came in (decode_records); encode() always writes version 2. The
  // pipeline partitions a version-1 batch as the release that wrote it did (docs/durability.md).
  std::uint8_t version = kRecordsVersion2;
};

// The payload of a `flush` frame. A writer took from `partition` every entry whose bucket
// closed by `watermark_ms` (bucket end + grace <= watermark), or every entry when
// `everything`, after the partition had taken in every records frame up to `merged_through`
// (and none after). The frame's own sequence stamps the documents that write touches.
// Replaying the records frames with these markers rebuilds the batches that were written.
struct FlushMarker {
  std::uint32_t partition = 0;
  std::uint64_t merged_through = 0;
  std::int64_t watermark_ms = 0;
  bool everything = false;
};

std::string encode(const RecordBatch& batch);
// The same bytes, written into `scratch` (whose contents are replaced and whose size may stay
// larger than the payload): the returned view, valid until `scratch` changes. Reusing one
// scratch string spares a large allocation and its zero-filling per batch.
std::string_view encode_into(const RecordBatch& batch, std::string& scratch);
std::string encode(const FlushMarker& marker);
// Both return nullopt for a payload that does not decode (a frame of a newer format, or a
// version-1 key whose text is not canonical).
std::optional<RecordBatch> decode_records(std::string_view payload);
// Everything of a records payload but its records (left empty): what start-up needs from each
// frame (idempotency key, origin offset) without building every record twice.
std::optional<RecordBatch> decode_batch_header(std::string_view payload);
std::optional<FlushMarker> decode_flush(std::string_view payload);

}  // namespace flowmetrics::spool
