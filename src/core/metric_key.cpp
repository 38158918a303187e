#include <cstring>
#include <string>

#include "flowmetrics/metric_aggregate.hpp"
#include "flowmetrics/metric_key.hpp"

namespace flowmetrics {
namespace {

// Eight bytes at a time, each word folded in with a multiply (the hash sits on the hot path
// of every record: partitioning and the aggregation map), finished with a murmur3 mixer so
// that low bits spread well when the hash is reduced modulo a small number of partitions.
// Partitions follow this hash, and a spool's flush markers name partitions: changing it
// requires an empty spool (docs/durability.md).
constexpr std::uint64_t kSeed = 0xcbf29ce484222325ULL;
constexpr std::uint64_t kMultiplier = 0x9e3779b97f4a7c15ULL;

std::uint64_t fold(std::uint64_t h, std::uint64_t word) noexcept {
  h ^= word;
  h *= kMultiplier;
  return h ^ (h >> 29);
}

std::uint64_t fold(std::uint64_t h, std::string_view bytes) noexcept {
  std::size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    std::uint64_t word;
    std::memcpy(&word, bytes.data() + i, 8);
    h = fold(h, word);
  }
  std::uint64_t tail = 0;
  std::memcpy(&tail, bytes.data() + i, bytes.size() - i);
  // The length keeps ("ab", "c") apart from ("a", "bc").
  return fold(h, tail ^ (static_cast<std::uint64_t>(bytes.size()) << 56));
}

std::uint64_t mix(std::uint64_t h) noexcept {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

}  // namespace

std::string encode_document_id(const MetricKey& key) {
  std::string id;
  id.reserve(key.source_ip.size() + key.dest_ip.size() + key.protocol.size() + 32);
  id += key.source_ip;
  id += '|';
  id += key.dest_ip;
  id += '|';
  id += std::to_string(key.source_port);
  id += '|';
  id += std::to_string(key.dest_port);
  id += '|';
  id += key.protocol;
  id += '|';
  id += std::to_string(key.timestamp_ms);
  return id;
}

std::uint64_t hash_key(const MetricKey& key) noexcept {
  std::uint64_t h = kSeed;
  h = fold(h, key.source_ip);
  h = fold(h, key.dest_ip);
  h = fold(h, (std::uint64_t{key.source_port} << 16) | key.dest_port);
  h = fold(h, key.protocol);
  h = fold(h, static_cast<std::uint64_t>(key.timestamp_ms));
  return mix(h);
}

void MetricAggregate::add(const Metric& metric) noexcept {
  last = metric.value;
  sum += metric.value;
  count += 1;
  if (metric.value < min) min = metric.value;
  if (metric.value > max) max = metric.value;
  packets += metric.packets;
  bytes += metric.bytes;
  flows += metric.flows;
}

void MetricAggregate::add(const MetricAggregate& later) noexcept {
  if (later.count == 0) return;
  last = later.last;
  sum += later.sum;
  count += later.count;
  if (later.min < min) min = later.min;
  if (later.max > max) max = later.max;
  packets += later.packets;
  bytes += later.bytes;
  flows += later.flows;
}

}  // namespace flowmetrics
