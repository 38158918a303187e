#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "flowmetrics/metric_aggregate.hpp"
#include "flowmetrics/metric_key.hpp"
#include "pipeline/aggregate_writer.hpp"
#include "pipeline/pipeline_stats.hpp"
#include "pipeline/record_sink.hpp"

namespace flowmetrics::pipeline {

struct PipelineOptions {
  std::chrono::seconds bucket_width{60};  // 0 keeps exact timestamps
  std::size_t writers = 2;
  std::size_t max_pending_keys = 200'000;
  std::size_t max_batch_keys = 5'000;
  std::chrono::milliseconds flush_interval{1'000};
  std::chrono::seconds grace{5};
};

// validate -> aggregate per (key, time bucket) -> flush -> writers.
//
// Keys are split into `writers` partitions by hash; each partition has its own map and one
// writer thread, so no two writes ever touch the same document at once and each key's
// writes stay in order. A partition's entries are flushed when their bucket has closed
// (its end plus `grace` is behind the newest timestamp seen), when they have waited a whole
// bucket width plus grace (so a quiet stream still flushes), when the partition holds its
// share of the memory bound, and on drain. Memory is bounded by max_pending_keys (keys in the
// maps plus keys being written); beyond it saturated() is true and inputs push back.
// A failed write is retried with backoff until it succeeds, fails for good (the server
// refused it, or its outcome is unknown), or the drain deadline passes.
class Pipeline final : public RecordSink {
 public:
  using Clock = std::chrono::steady_clock;

  // `writer` and `stats` must outlive the pipeline. `now` is injectable for tests.
  Pipeline(PipelineOptions options, AggregateWriter& writer, PipelineStats& stats,
           std::function<Clock::time_point()> now = Clock::now);
  ~Pipeline();  // abandons what is pending: call drain() first
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  void submit(std::span<Metric> metrics, std::string_view input) override;
  void reject(std::string_view input, std::string_view reason, std::size_t count = 1) override;
  bool saturated() const override;
  bool wait_for_capacity(std::chrono::milliseconds timeout) override;
  void drop(std::string_view input, std::size_t count) override;

  // Writes everything pending and stops the writers. Returns true when every accepted record
  // was written or failed for good within `timeout`; otherwise gives up on the rest (counted
  // as failed) and returns false. Call once, after the inputs stopped. A write already under
  // way when the timeout passes is let finish (it is bounded by the agent's deadline).
  bool drain(std::chrono::milliseconds timeout);

  const PipelineOptions& options() const noexcept { return options_; }

 private:
  struct Entry {
    MetricAggregate aggregate;
    Clock::time_point first_seen;
  };
  struct Partition {
    std::mutex mu;
    std::condition_variable wake;
    std::unordered_map<MetricKey, Entry, MetricKeyHash> entries;  // guarded by mu
    bool flush_requested = false;                                 // guarded by mu
    std::thread writer;
  };

  void run_writer(Partition& partition);
  void take_flushable(Partition& partition, bool everything, std::vector<KeyedAggregate>& batch);
  void write_with_retry(std::vector<KeyedAggregate>& batch);
  void settle(const KeyedAggregate& item, bool written, bool unknown);

  const PipelineOptions options_;
  AggregateWriter& writer_;
  PipelineStats& stats_;
  const std::function<Clock::time_point()> now_;
  const std::size_t partition_limit_;  // a partition holding this many keys flushes them all
  std::vector<std::unique_ptr<Partition>> partitions_;
  std::atomic<std::int64_t> watermark_ms_{INT64_MIN};  // newest bucketed timestamp seen
  std::atomic<bool> draining_{false};
  std::atomic<bool> abandon_{false};
  std::atomic<std::uint64_t> abandoned_records_{0};  // failed only because the drain gave up
  std::mutex capacity_mu_;
  std::condition_variable capacity_;
};

}  // namespace flowmetrics::pipeline
