#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "core/flow_key.hpp"
#include "flowmetrics/metric_aggregate.hpp"

namespace flowmetrics::pipeline {

// One partition's aggregation map: FlowKey -> MetricAggregate, hashed once by the caller
// (hash_flow_key).
//
// Why two maps: a NetFlow stream is mostly IPv4, and a FlowKey spends 24 of its 48 bytes on
// the zeros that pad IPv4 addresses to IPv6 width. A key whose two addresses are IPv4 is kept
// packed in 24 bytes (an 88-byte slot with its 64-byte aggregate, against 112), every other
// key as it is. Each key has exactly one form, so it lives in exactly one of the two maps;
// both are keyed by the same hash, so the choice changes neither partitioning nor anything
// a flush marker says.
//
// Memory: absl's table has a power-of-two capacity at most 7/8 full, plus a control byte per
// slot: 50,000 IPv4 keys sit in 65,536 slots of 88 + 1 bytes, 117 bytes per key.
//
// Not thread-safe: the partition's mutex guards it.
class FlowTable {
 public:
  using Entry = std::pair<FlowKey, MetricAggregate>;

  // The aggregate of `key` (hash == hash_flow_key(key)), inserted empty when absent; `inserted`
  // says which. The reference stays valid until the next insertion or removal.
  MetricAggregate& find_or_insert(const FlowKey& key, std::uint64_t hash, bool& inserted) {
    if (packable(key)) {
      auto [it, fresh] = v4_.try_emplace(HashedV4{pack(key), hash});
      inserted = fresh;
      return it->second;
    }
    auto [it, fresh] = wide_.try_emplace(HashedWide{key, hash});
    inserted = fresh;
    return it->second;
  }

  // Inserts `aggregate` under `key` unless the key is present (then nothing changes).
  void insert_absent(const FlowKey& key, const MetricAggregate& aggregate) {
    const std::uint64_t hash = hash_flow_key(key);
    bool inserted = false;
    MetricAggregate& slot = find_or_insert(key, hash, inserted);
    if (inserted) slot = aggregate;
  }

  // Starts loading the memory a find_or_insert of `key` will touch (its control bytes and the
  // first slot of its probe). The consumer does not call it: eight records ahead it measured
  // slower, not faster (bench_flow_map's Warm cases, and the NetFlow benchmark).
  void prefetch(const FlowKey& key, std::uint64_t hash) const {
    if (packable(key)) {
      v4_.prefetch(HashedV4{{}, hash});
    } else {
      wide_.prefetch(HashedWide{{}, hash});
    }
  }

  std::size_t size() const noexcept { return v4_.size() + wide_.size(); }
  bool empty() const noexcept { return v4_.empty() && wide_.empty(); }
  // Makes room for `keys` entries in the IPv4 table (the usual case) without a rehash.
  void reserve(std::size_t keys) { v4_.reserve(keys); }

  // Appends every entry to `out` and empties the table.
  void take_all(std::vector<Entry>& out) {
    out.reserve(out.size() + size());
    for (const auto& [packed, aggregate] : v4_) out.emplace_back(unpack(packed), aggregate);
    for (const auto& [key, aggregate] : wide_) out.emplace_back(key, aggregate);
    v4_.clear();
    wide_.clear();
  }

  // Appends to `out`, and removes, every entry whose bucket start `take(timestamp_ms)` says.
  template <class Predicate>
  void take_if(Predicate take, std::vector<Entry>& out) {
    for (auto it = v4_.begin(); it != v4_.end();) {
      if (!take(it->first.timestamp_ms)) {
        ++it;
        continue;
      }
      out.emplace_back(unpack(it->first), it->second);
      v4_.erase(it++);
    }
    for (auto it = wide_.begin(); it != wide_.end();) {
      if (!take(it->first.timestamp_ms)) {
        ++it;
        continue;
      }
      out.emplace_back(it->first, it->second);
      wide_.erase(it++);
    }
  }

 private:
  // A FlowKey whose addresses are both IPv4, in 24 bytes (no implicit padding).
  struct PackedV4 {
    std::int64_t timestamp_ms = 0;
    std::uint8_t source_ip[4] = {};
    std::uint8_t dest_ip[4] = {};
    std::uint16_t source_port = 0;
    std::uint16_t dest_port = 0;
    std::uint8_t protocol = 0;
    std::uint8_t zero[3] = {};
    friend bool operator==(const PackedV4& a, const PackedV4& b) noexcept {
      return std::memcmp(&a, &b, sizeof(PackedV4)) == 0;
    }
  };
  static_assert(sizeof(PackedV4) == 24, "no padding: compared with memcmp");

  static bool packable(const FlowKey& key) noexcept { return key.families == 0; }
  static PackedV4 pack(const FlowKey& key) noexcept {
    PackedV4 p;
    p.timestamp_ms = key.timestamp_ms;
    std::memcpy(p.source_ip, key.source_ip.data(), 4);
    std::memcpy(p.dest_ip, key.dest_ip.data(), 4);
    p.source_port = key.source_port;
    p.dest_port = key.dest_port;
    p.protocol = key.protocol;
    return p;
  }
  // Exact inverse of pack() for a packable key: an IPv4 address is canonical with bytes
  // 4..15 zero, and `families` and `reserved` are zero.
  static FlowKey unpack(const PackedV4& p) noexcept {
    FlowKey key;
    std::memcpy(key.source_ip.data(), p.source_ip, 4);
    std::memcpy(key.dest_ip.data(), p.dest_ip, 4);
    key.timestamp_ms = p.timestamp_ms;
    key.source_port = p.source_port;
    key.dest_port = p.dest_port;
    key.protocol = p.protocol;
    return key;
  }

  // The hash computed once by the caller travels with the key into absl's probe; absl
  // rehashes a stored key (when the table grows) with the same function.
  struct HashedV4 {
    PackedV4 key;
    std::uint64_t hash;
    operator PackedV4() const noexcept { return key; }  // NOLINT: absl's heterogeneous insert
  };
  struct HashedWide {
    FlowKey key;
    std::uint64_t hash;
    operator FlowKey() const noexcept { return key; }  // NOLINT: absl's heterogeneous insert
  };
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(const PackedV4& k) const noexcept { return hash_flow_key(unpack(k)); }
    std::size_t operator()(const FlowKey& k) const noexcept { return hash_flow_key(k); }
    std::size_t operator()(const HashedV4& k) const noexcept { return k.hash; }
    std::size_t operator()(const HashedWide& k) const noexcept { return k.hash; }
  };
  struct Eq {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const noexcept {
      return unwrap(a) == unwrap(b);
    }
    static const PackedV4& unwrap(const PackedV4& k) noexcept { return k; }
    static const PackedV4& unwrap(const HashedV4& k) noexcept { return k.key; }
    static const FlowKey& unwrap(const FlowKey& k) noexcept { return k; }
    static const FlowKey& unwrap(const HashedWide& k) noexcept { return k.key; }
  };

  absl::flat_hash_map<PackedV4, MetricAggregate, Hash, Eq> v4_;
  absl::flat_hash_map<FlowKey, MetricAggregate, Hash, Eq> wide_;
};

}  // namespace flowmetrics::pipeline
