#include "pipeline/pipeline_stats.hpp"

#include <algorithm>

namespace flowmetrics::pipeline {

void LatencyHistogram::observe(double seconds) noexcept {
  const auto it = std::lower_bound(kBounds.begin(), kBounds.end(), seconds);
  buckets_[static_cast<std::size_t>(it - kBounds.begin())].fetch_add(1, std::memory_order_relaxed);
  sum_micros_.fetch_add(static_cast<std::uint64_t>(std::max(0.0, seconds) * 1e6), std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

LatencyHistogram::Snapshot LatencyHistogram::snapshot() const noexcept {
  Snapshot s;
  std::uint64_t running = 0;
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = running;
  }
  s.count = count_.load(std::memory_order_relaxed);
  s.sum = static_cast<double>(sum_micros_.load(std::memory_order_relaxed)) / 1e6;
  return s;
}

void LabelledCounter::add(std::string_view first, std::string_view second, std::uint64_t n) {
  std::lock_guard lock(mu_);
  // Called once per batch, not per record: building the key here costs nothing that matters.
  counts_[{std::string(first), std::string(second)}] += n;
}

std::map<std::pair<std::string, std::string>, std::uint64_t> LabelledCounter::snapshot() const {
  std::lock_guard lock(mu_);
  return counts_;
}

std::uint64_t LabelledCounter::total() const {
  std::lock_guard lock(mu_);
  std::uint64_t sum = 0;
  for (const auto& [labels, n] : counts_) sum += n;
  return sum;
}

}  // namespace flowmetrics::pipeline
