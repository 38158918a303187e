#pragma once

#include <cstdint>
#include <limits>
#include <string>

#include "flowmetrics/query.hpp"
#include "mongo/connection_pool.hpp"

namespace flowmetrics::mongo {

// The first bucket start each rollup tier answers for: later than both the moment the
// rollups began (buckets written before them are missing there) and the tier's retention
// horizon. kNever when the tier cannot be used.
struct TierCoverage {
  static constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();
  std::int64_t hour = kNever;
  std::int64_t minute_totals = kNever;
  std::int64_t hour_totals = kNever;
};

struct QuerySource {
  ConnectionPool* pool = nullptr;
  std::string database;
  std::string collection;  // the minute collection; the tiers' names derive from it
  TierCoverage coverage;
  std::int64_t now_ms = 0;  // a range that reaches now may read the current hour's totals
  ConnectionPool::Clock::time_point deadline;
};

// Validate the request (Error(invalid_argument) naming the field), plan the tiers, run the
// aggregations and find commands, and assemble the result. Throws the translated driver
// error, or Error(deadline_exceeded) when transient failures outlast the deadline.
TopResult run_top(const QuerySource& source, const TopQuery& query);
SeriesResult run_series(const QuerySource& source, const SeriesQuery& query);

}  // namespace flowmetrics::mongo
