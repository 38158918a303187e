// Micro-benchmarks of the client-side steps every metric goes through: validation and key
// encoding, merging, building the BSON documents, parsing a JSON line.
//   build/bench/micro/micro_benchmarks [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <chrono>
#include <string>
#include <vector>

#include "core/merge.hpp"
#include "flowmetrics/validation.hpp"
#include "ingest/json_record_parser.hpp"
#include "mongo/documents.hpp"

namespace {

using namespace flowmetrics;

Metric sample(int i) {
  return Metric{"10.0." + std::to_string(i / 256 % 256) + "." + std::to_string(i % 256),
                "192.168.1.1",
                1024 + i % 60000,
                443,
                "tcp",
                std::chrono::system_clock::time_point(std::chrono::milliseconds(1'732'530'000'000)),
                1.5,
                10,
                1500,
                1};
}

KeyedAggregate keyed(int i) {
  KeyedAggregate item;
  (void)make_metric_key(sample(i), item.key);
  item.id = encode_document_id(item.key);
  item.aggregate.add(sample(i));
  return item;
}

void BM_MakeMetricKey(benchmark::State& state) {
  const Metric metric = sample(7);
  MetricKey key;
  for (auto _ : state) {
    benchmark::DoNotOptimize(make_metric_key(metric, key));
  }
}
BENCHMARK(BM_MakeMetricKey);

void BM_EncodeDocumentId(benchmark::State& state) {
  const KeyedAggregate item = keyed(7);
  for (auto _ : state) benchmark::DoNotOptimize(encode_document_id(item.key));
}
BENCHMARK(BM_EncodeDocumentId);

void BM_HashKey(benchmark::State& state) {
  const KeyedAggregate item = keyed(7);
  for (auto _ : state) benchmark::DoNotOptimize(hash_key(item.key));
}
BENCHMARK(BM_HashKey);

void BM_BuildDocument(benchmark::State& state) {
  const KeyedAggregate item = keyed(7);
  const auto policy = state.range(0) == 0 ? MergePolicy::replace : MergePolicy::aggregate;
  for (auto _ : state) benchmark::DoNotOptimize(mongo::build_document(item, policy));
}
BENCHMARK(BM_BuildDocument)->Arg(0)->Arg(1)->ArgName("aggregate");

void BM_BuildUpdate(benchmark::State& state) {
  const KeyedAggregate item = keyed(7);
  const auto policy = state.range(0) == 0 ? MergePolicy::replace : MergePolicy::aggregate;
  for (auto _ : state) benchmark::DoNotOptimize(mongo::build_update(item, policy));
}
BENCHMARK(BM_BuildUpdate)->Arg(0)->Arg(1)->ArgName("aggregate");

// One call's worth of merging: state.range(0) metrics over state.range(1) distinct keys.
void BM_MergeMetrics(benchmark::State& state) {
  std::vector<Metric> metrics;
  for (int i = 0; i < state.range(0); ++i) metrics.push_back(sample(static_cast<int>(i % state.range(1))));
  for (auto _ : state) benchmark::DoNotOptimize(core::merge_metrics(metrics));
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_MergeMetrics)->Args({10'000, 10'000})->Args({10'000, 2'000})->Args({50'000, 2'000});

void BM_ParseJsonRecord(benchmark::State& state) {
  const std::string line =
      R"({"source_ip":"10.0.3.7","dest_ip":"192.168.1.1","source_port":1031,"dest_port":443,"protocol":"tcp",)"
      R"("timestamp":1732530000123,"value":1.5,"packets":10,"bytes":1500})";
  Metric metric;
  for (auto _ : state) benchmark::DoNotOptimize(ingest::parse_json_record(line, metric));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(line.size()));
}
BENCHMARK(BM_ParseJsonRecord);

}  // namespace

BENCHMARK_MAIN();
