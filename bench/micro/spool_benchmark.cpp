// bench_spool: what the write-ahead spool costs an input, per fsync policy.
//
// Admission is Pipeline::submit(): validate, encode, append to the spool (and fsync under
// "batch"); the consumer and writers run behind it against a writer that discards, so the
// figure is the spool's and the pipeline's cost without a database. Batches of 1,000 records
// (an HTTP request) and 100 (a slow TCP sender). The spool lives under the working directory
// (a real disk, not tmpfs). Run: build/bench/micro/bench_spool --benchmark_repetitions=5
#include <benchmark/benchmark.h>

#include <atomic>
#include <filesystem>
#include <random>

#include "pipeline/pipeline.hpp"

namespace flowmetrics {
namespace {

class DiscardingWriter final : public pipeline::AggregateWriter {
 public:
  UpsertResult write(std::span<const KeyedAggregate> batch, const WriteStamp*) override {
    UpsertResult result;
    result.input = result.written = batch.size();
    return result;
  }
};

std::vector<Metric> records(std::size_t count, std::uint32_t seed) {
  std::mt19937 rng(seed);
  const auto now = std::chrono::system_clock::now();
  std::vector<Metric> out;
  for (std::size_t i = 0; i < count; ++i) {
    const auto flow = static_cast<std::uint32_t>(rng() % 50'000);
    out.push_back(Metric{
        "10." + std::to_string(flow >> 16) + "." + std::to_string((flow >> 8) & 255) + "." + std::to_string(flow & 255),
        "192.168.0.1", static_cast<int>(1024 + flow % 7), 443, "tcp", now, 1.5, 3, 1500, 1});
  }
  return out;
}

void BM_Submit(benchmark::State& state) {
  const auto policy = static_cast<spool::FsyncPolicy>(state.range(0));
  const std::size_t batch = static_cast<std::size_t>(state.range(1));
  const std::filesystem::path directory = std::filesystem::current_path() / "bench-spool.tmp";
  std::filesystem::remove_all(directory);
  {
    spool::SpoolDirectory spool_directory(directory);
    spool::Spool spool(spool_directory,
                       spool::SpoolOptions{8ULL << 30, 64ULL << 20, policy, std::chrono::milliseconds(100)});
    DiscardingWriter writer;
    pipeline::PipelineStats stats;
    pipeline::PipelineOptions options;
    pipeline::Pipeline pipeline(options, writer, stats, spool, nullptr, {});
    std::vector<Metric> input = records(batch, 7);
    for (auto _ : state) {
      if (pipeline.submit(input, "bench") != pipeline::Admission::accepted) state.SkipWithError("spool full");
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * batch));
    state.SetLabel(std::string(spool::to_string(policy)));
    pipeline.drain(std::chrono::minutes(5));
  }
  std::filesystem::remove_all(directory);
}

BENCHMARK(BM_Submit)
    ->ArgsProduct({{static_cast<int>(spool::FsyncPolicy::batch), static_cast<int>(spool::FsyncPolicy::interval),
                    static_cast<int>(spool::FsyncPolicy::none)},
                   {100, 1'000}})
    ->ArgNames({"fsync", "records"})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace flowmetrics

BENCHMARK_MAIN();
