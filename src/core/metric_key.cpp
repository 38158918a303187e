#include <string>

#include "flowmetrics/metric_aggregate.hpp"
#include "flowmetrics/metric_key.hpp"

namespace flowmetrics {
namespace {

// FNV-1a over the bytes, finished with a murmur3 mixer so that low bits spread well when
// the hash is reduced modulo a small number of partitions.
constexpr std::uint64_t kFnvOffset = 0xcbf29ce484222325ULL;
constexpr std::uint64_t kFnvPrime = 0x100000001b3ULL;

std::uint64_t fnv(std::uint64_t h, std::string_view bytes) noexcept {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= kFnvPrime;
  }
  return h;
}

std::uint64_t fnv(std::uint64_t h, std::uint64_t value) noexcept {
  for (int i = 0; i < 8; ++i) {
    h ^= (value >> (8 * i)) & 0xff;
    h *= kFnvPrime;
  }
  return h;
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
  std::uint64_t h = kFnvOffset;
  h = fnv(h, key.source_ip);
  h = fnv(h, std::string_view("|"));  // separators keep ("ab","c") apart from ("a","bc")
  h = fnv(h, key.dest_ip);
  h = fnv(h, std::string_view("|"));
  h = fnv(h, (std::uint64_t{key.source_port} << 16) | key.dest_port);
  h = fnv(h, key.protocol);
  h = fnv(h, static_cast<std::uint64_t>(key.timestamp_ms));
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
