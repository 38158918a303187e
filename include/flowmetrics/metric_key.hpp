#pragma once

#include <cstdint>
#include <string>

namespace flowmetrics {

// The six fields that identify one stored document, in canonical form: addresses as
// inet_ntop(3) prints them (RFC 5952 for IPv6), the protocol as its canonical upper-case
// name (or its decimal number when IANA assigns no name we know), the time in whole
// milliseconds since the Unix epoch. Two keys are equal exactly when they name the same
// document. Build one with make_metric_key() (validation.hpp); never fill it by hand from
// unchecked input.
struct MetricKey {
  std::string source_ip;
  std::string dest_ip;
  std::uint16_t source_port = 0;
  std::uint16_t dest_port = 0;
  std::string protocol;
  std::int64_t timestamp_ms = 0;

  friend bool operator==(const MetricKey&, const MetricKey&) = default;
};

// The document `_id` for a key: the six canonical fields joined by '|', e.g.
// "10.0.0.1|10.0.0.2|5353|53|UDP|1732530000000". None of the canonical fields can contain
// '|', so the encoding is injective: distinct keys never share an `_id`.
std::string encode_document_id(const MetricKey& key);

// A well-mixed 64-bit hash of the key, stable across processes and runs (used to
// partition keys between writers).
std::uint64_t hash_key(const MetricKey& key) noexcept;

struct MetricKeyHash {
  std::size_t operator()(const MetricKey& key) const noexcept { return static_cast<std::size_t>(hash_key(key)); }
};

}  // namespace flowmetrics
