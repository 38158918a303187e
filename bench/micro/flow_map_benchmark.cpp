// The aggregation map alone, old against new: 100,000 distinct keys, records arriving in a
// random order, each merged into its key's aggregate.
//   old: absl::flat_hash_map<MetricKey, {MetricAggregate, first_sequence}> hashed by hash_key
//        (three std::strings per key, a 184-byte slot; the key hashed again for the partition)
//   new: absl::flat_hash_map<FlowKey, MetricAggregate> (48 + 64 = 112-byte slot), hashed once by
//        hash_flow_key, the partition from the same hash's high bits
//   table: pipeline::FlowTable (IPv4 keys packed: 24 + 64 = 88-byte slot), as the consumer uses
//        it: records routed to their partition a batch at a time, then merged, with and without
//        the prefetch eight records ahead. The "Warm" cases time the merge into tables that
//        already hold every key (the state the NetFlow benchmark measures after its warm-up).
// Time is per record (items processed). Run: build/bench/micro/bench_flow_map
#include <absl/container/flat_hash_map.h>
#include <benchmark/benchmark.h>

#include <algorithm>
#include <random>
#include <vector>

#include "core/flow_key.hpp"
#include "flowmetrics/metric_aggregate.hpp"
#include "flowmetrics/validation.hpp"
#include "pipeline/flow_table.hpp"

namespace flowmetrics {
namespace {

constexpr int kKeys = 100'000;
constexpr int kRecords = 1'000'000;

std::vector<FlowUpdate> make_records() {
  std::vector<FlowUpdate> keys;
  for (int i = 0; i < kKeys; ++i) {
    const std::uint8_t s[4] = {10, static_cast<std::uint8_t>(i >> 16), static_cast<std::uint8_t>(i >> 8),
                               static_cast<std::uint8_t>(i)};
    const std::uint8_t d[4] = {172, 16, static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)};
    FlowUpdate u;
    (void)make_flow_key(FlowAddress::ipv4(s), FlowAddress::ipv4(d), static_cast<std::uint16_t>(1024 + i % 5000), 80,
                        i % 2 ? 6 : 17, 1732530000000, u.key);
    u.value = 100;
    u.bytes = 100;
    u.packets = u.flows = 1;
    keys.push_back(u);
  }
  std::mt19937 random(1);
  std::vector<FlowUpdate> records;
  records.reserve(kRecords);
  for (int i = 0; i < kRecords; ++i) records.push_back(keys[random() % kKeys]);
  return records;
}

const std::vector<FlowUpdate>& records() {
  static const std::vector<FlowUpdate> r = make_records();
  return r;
}

void add(MetricAggregate& a, const FlowUpdate& r) {
  a.last = r.value;
  a.sum += r.value;
  a.count += 1;
  if (r.value < a.min) a.min = r.value;
  if (r.value > a.max) a.max = r.value;
  a.packets += r.packets;
  a.bytes += r.bytes;
  a.flows += r.flows;
}

void BM_OldTextKeyMap(benchmark::State& state) {
  // The text keys exist already (as they did in the spool's records): only the map is timed.
  std::vector<MetricKey> keys;
  for (const auto& r : records()) keys.push_back(render_metric_key(r.key));
  struct Entry {
    MetricAggregate aggregate;
    std::uint64_t first_sequence;
  };
  for (auto _ : state) {
    absl::flat_hash_map<MetricKey, Entry, MetricKeyHash> partitions[2];
    for (std::size_t i = 0; i < keys.size(); ++i) {
      auto& map = partitions[hash_key(keys[i]) % 2];
      auto [it, inserted] = map.try_emplace(keys[i], Entry{{}, 1});
      add(it->second.aggregate, records()[i]);
    }
    benchmark::DoNotOptimize(partitions);
  }
  state.SetItemsProcessed(state.iterations() * kRecords);
}
BENCHMARK(BM_OldTextKeyMap)->Unit(benchmark::kMillisecond);

// As the pipeline does: the hash computed for the partition travels into the map.
struct HashedKey {
  FlowKey key;
  std::uint64_t hash;
  operator FlowKey() const noexcept { return key; }  // NOLINT
};
struct KeyHash {
  using is_transparent = void;
  std::size_t operator()(const FlowKey& k) const noexcept { return hash_flow_key(k); }
  std::size_t operator()(const HashedKey& k) const noexcept { return k.hash; }
};
struct KeyEq {
  using is_transparent = void;
  bool operator()(const FlowKey& a, const FlowKey& b) const noexcept { return a == b; }
  bool operator()(const HashedKey& a, const FlowKey& b) const noexcept { return a.key == b; }
  bool operator()(const FlowKey& a, const HashedKey& b) const noexcept { return a == b.key; }
};

void BM_NewBinaryKeyMap(benchmark::State& state) {
  for (auto _ : state) {
    absl::flat_hash_map<FlowKey, MetricAggregate, KeyHash, KeyEq> partitions[2];
    for (const FlowUpdate& r : records()) {
      const std::uint64_t h = hash_flow_key(r.key);
      auto [it, inserted] = partitions[partition_of(h, 2)].try_emplace(HashedKey{r.key, h});
      add(it->second, r);
    }
    benchmark::DoNotOptimize(partitions);
  }
  state.SetItemsProcessed(state.iterations() * kRecords);
}
BENCHMARK(BM_NewBinaryKeyMap)->Unit(benchmark::kMillisecond);

// Records in batches as the consumer gets them, routed to two partitions, merged.
template <class Merge>
void merge_batches(Merge merge) {
  constexpr std::size_t kBatch = 4'096;
  struct Routed {
    FlowKey key;
    std::uint64_t hash;
    const FlowUpdate* record;
  };
  std::vector<Routed> routed[2];
  const auto& all = records();
  for (std::size_t begin = 0; begin < all.size(); begin += kBatch) {
    const std::size_t end = std::min(all.size(), begin + kBatch);
    for (std::size_t i = begin; i < end; ++i) {
      const std::uint64_t h = hash_flow_key(all[i].key);
      routed[partition_of(h, 2)].push_back(Routed{all[i].key, h, &all[i]});
    }
    for (int p = 0; p < 2; ++p) {
      merge(p, routed[p]);
      routed[p].clear();
    }
  }
}

void BM_FlowTableWarm(benchmark::State& state) {
  const bool prefetch = state.range(0) != 0;
  pipeline::FlowTable tables[2];
  bool inserted = false;
  for (const FlowUpdate& r : records()) {
    const std::uint64_t h = hash_flow_key(r.key);
    (void)tables[partition_of(h, 2)].find_or_insert(r.key, h, inserted);
  }
  for (auto _ : state) {
    merge_batches([&](int p, const auto& routed) {
      const std::size_t n = routed.size();
      for (std::size_t i = 0; i < n; ++i) {
        if (prefetch && i + 8 < n) tables[p].prefetch(routed[i + 8].key, routed[i + 8].hash);
        add(tables[p].find_or_insert(routed[i].key, routed[i].hash, inserted), *routed[i].record);
      }
    });
    benchmark::DoNotOptimize(tables);
  }
  state.SetItemsProcessed(state.iterations() * kRecords);
}
BENCHMARK(BM_FlowTableWarm)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

void BM_BinaryKeyMapWarm(benchmark::State& state) {
  const bool prefetch = state.range(0) != 0;
  absl::flat_hash_map<FlowKey, MetricAggregate, KeyHash, KeyEq> maps[2];
  for (const FlowUpdate& r : records()) {
    const std::uint64_t h = hash_flow_key(r.key);
    maps[partition_of(h, 2)].try_emplace(HashedKey{r.key, h});
  }
  for (auto _ : state) {
    merge_batches([&](int p, const auto& routed) {
      const std::size_t n = routed.size();
      for (std::size_t i = 0; i < n; ++i) {
        if (prefetch && i + 8 < n) maps[p].prefetch(HashedKey{routed[i + 8].key, routed[i + 8].hash});
        add(maps[p].try_emplace(HashedKey{routed[i].key, routed[i].hash}).first->second, *routed[i].record);
      }
    });
    benchmark::DoNotOptimize(maps);
  }
  state.SetItemsProcessed(state.iterations() * kRecords);
}
BENCHMARK(BM_BinaryKeyMapWarm)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace flowmetrics

BENCHMARK_MAIN();
