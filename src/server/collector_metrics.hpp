#pragma once

#include <functional>
#include <optional>
#include <string>

#include "flowmetrics/pool_stats.hpp"
#include "pipeline/pipeline_stats.hpp"

namespace flowmetrics::server {

// Renders the collector's state in the Prometheus text format (prometheus-cpp's data model
// and TextSerializer), from snapshots taken at scrape time: nothing is counted twice.
class CollectorMetrics {
 public:
  CollectorMetrics(const pipeline::PipelineStats& stats, std::function<std::optional<PoolStats>()> pool_stats)
      : stats_(stats), pool_stats_(std::move(pool_stats)) {}

  std::string render() const;

 private:
  const pipeline::PipelineStats& stats_;
  std::function<std::optional<PoolStats>()> pool_stats_;
};

}  // namespace flowmetrics::server
