#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace flowmetrics::pipeline {

// Latency histogram with fixed bucket bounds, lock-free to record.
class LatencyHistogram {
 public:
  static constexpr std::array<double, 12> kBounds{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                  0.1,   0.25,   0.5,   1.0,  2.5,   10.0};
  void observe(double seconds) noexcept;
  struct Snapshot {
    std::array<std::uint64_t, kBounds.size() + 1> cumulative{};  // last is +Inf
    double sum = 0;
    std::uint64_t count = 0;
  };
  Snapshot snapshot() const noexcept;

 private:
  std::array<std::atomic<std::uint64_t>, kBounds.size() + 1> buckets_{};
  std::atomic<std::uint64_t> sum_micros_{0};
  std::atomic<std::uint64_t> count_{0};
};

// Counts by (input, reason) label pairs; few distinct labels, so a mutex-guarded map is fine.
class LabelledCounter {
 public:
  void add(std::string_view first, std::string_view second, std::uint64_t n);
  std::map<std::pair<std::string, std::string>, std::uint64_t> snapshot() const;
  std::uint64_t total() const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, std::uint64_t> counts_;  // guarded by mu_
};

// Every record is counted exactly once as accepted or rejected when it arrives (accepted:
// appended to the spool), and every accepted record, and every record replayed from the
// spool at start-up, exactly once as written or failed when its aggregate's write ends (or
// is still pending, in the spool or in memory). So at any quiet moment:
//   received == accepted + rejected
//   accepted + replayed == written + failed + records_pending
// and `dropped` counts records an input could not take at all. Counters start at zero in
// every run; records replayed after a crash may have been written by the run that crashed
// (the stamps make that second write a no-op) and are counted as written again.
struct PipelineStats {
  LabelledCounter received;  // (input, "")
  LabelledCounter rejected;  // (input, reason)
  LabelledCounter dropped;   // (input, reason)
  std::atomic<std::uint64_t> accepted{0};
  std::atomic<std::uint64_t> replayed{0};  // records read back from the spool at start-up
  std::atomic<std::uint64_t> written{0};
  std::atomic<std::uint64_t> failed{0};           // write failed for good
  std::atomic<std::uint64_t> failed_unknown{0};   // of those, outcome unknown
  std::atomic<std::uint64_t> keys_pending{0};     // in the aggregation maps
  std::atomic<std::uint64_t> keys_in_flight{0};   // taken by a writer, not yet written
  std::atomic<std::uint64_t> records_pending{0};  // accepted records in those keys
  std::atomic<std::uint64_t> flushes{0};          // batches taken by writers
  std::atomic<std::uint64_t> write_calls{0};
  std::atomic<std::uint64_t> write_retries{0};
  std::atomic<std::uint64_t> documents_upserted{0};  // new documents
  std::atomic<std::uint64_t> documents_updated{0};   // existing documents matched
  std::atomic<std::uint64_t> backpressure_waits{0};
  LatencyHistogram write_latency;
};

}  // namespace flowmetrics::pipeline
