#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "flowmetrics/pool_stats.hpp"
#include "pipeline/pipeline_stats.hpp"

namespace prometheus {
class Collectable;
}

namespace flowmetrics::server {

// The spool as /metrics shows it.
struct SpoolState {
  std::uint64_t bytes = 0;
  std::uint64_t max_bytes = 0;
  bool full = false;
  double oldest_age_seconds = 0;                                 // of the oldest frame still kept; 0 when empty
  std::uint64_t damaged_frames = 0;                              // found when it was opened
  bool io_error = false;                                         // stopped by an I/O error, refusing input
  std::vector<std::pair<std::string, std::uint64_t>> io_errors;  // failed calls by operation
};

// The database link as /metrics shows it.
struct DatabaseState {
  bool connected = false;
  std::uint64_t failed_attempts = 0;  // connection attempts that failed before it connected
};

// Renders the collector's state in the Prometheus text format (prometheus-cpp's data model
// and TextSerializer), from snapshots taken at scrape time: nothing is counted twice.
class CollectorMetrics {
 public:
  CollectorMetrics(const pipeline::PipelineStats& stats, std::function<std::optional<PoolStats>()> pool_stats)
      : stats_(stats), pool_stats_(std::move(pool_stats)) {}

  std::string render() const;

  // Adds the spool's gauges to every later scrape. `spool_state` must stay callable for as
  // long as render() is called. Call before the HTTP server starts serving (not synchronised
  // with render()).
  void set_spool_state(std::function<SpoolState()> spool_state) { spool_state_ = std::move(spool_state); }
  // The same for the database link's gauge and counter.
  void set_database_state(std::function<DatabaseState()> database_state) {
    database_state_ = std::move(database_state);
  }
  // Families collected elsewhere (the inputs' counters, the query API's histograms), added to
  // every later scrape. The same: call before the HTTP server starts serving.
  void add_collectable(std::shared_ptr<prometheus::Collectable> collectable) {
    collectables_.push_back(std::move(collectable));
  }

 private:
  const pipeline::PipelineStats& stats_;
  std::function<std::optional<PoolStats>()> pool_stats_;
  std::function<SpoolState()> spool_state_;
  std::function<DatabaseState()> database_state_;
  std::vector<std::shared_ptr<prometheus::Collectable>> collectables_;
};

}  // namespace flowmetrics::server
