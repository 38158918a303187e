#pragma once
// How the release before binary keys wrote a records payload (version 1) and framed it
// (zlib's CRC-32, byte 13 zero): what a spool left by it holds. Kept in the tests only, to
// prove such a spool is still read and replayed.
#include <zlib.h>

#include <cstring>
#include <string>
#include <vector>

#include "flowmetrics/metric_aggregate.hpp"
#include "flowmetrics/metric_key.hpp"

namespace flowmetrics::testing {

struct V1Record {
  MetricKey key;
  double value = 0.0;
  std::uint64_t packets = 0, bytes = 0, flows = 0;
};

inline std::string encode_v1_records(const std::vector<V1Record>& records, const std::string& input = "test") {
  std::string out;
  const auto number = [&](auto v) { out.append(reinterpret_cast<const char*>(&v), sizeof(v)); };
  const auto text = [&](const std::string& s) {
    number(static_cast<std::uint32_t>(s.size()));
    out += s;
  };
  number(std::uint8_t{1});
  text(input);
  text("");
  text("");
  text("");
  number(std::uint64_t{0});
  number(static_cast<std::uint32_t>(records.size()));
  for (const V1Record& r : records) {
    text(r.key.source_ip);
    text(r.key.dest_ip);
    number(r.key.source_port);
    number(r.key.dest_port);
    text(r.key.protocol);
    number(r.key.timestamp_ms);
    number(r.value);
    number(r.packets);
    number(r.bytes);
    number(r.flows);
  }
  return out;
}

// A whole frame as the earlier release wrote it.
inline std::string encode_v1_frame(std::uint8_t type, std::uint64_t sequence, std::int64_t time_ms,
                                   const std::string& payload) {
  char header[32] = {};
  const std::uint32_t magic = 0x46534d46, length = static_cast<std::uint32_t>(payload.size());
  std::memcpy(header, &magic, 4);
  std::memcpy(header + 4, &length, 4);
  header[12] = static_cast<char>(type);
  std::memcpy(header + 16, &sequence, 8);
  std::memcpy(header + 24, &time_ms, 8);
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, reinterpret_cast<const Bytef*>(header + 12), 20);
  crc = crc32_z(crc, reinterpret_cast<const Bytef*>(payload.data()), payload.size());
  const auto c = static_cast<std::uint32_t>(crc);
  std::memcpy(header + 8, &c, 4);
  return std::string(header, 32) + payload;
}

}  // namespace flowmetrics::testing
