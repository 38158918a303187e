#pragma once

#include <cstdint>
#include <limits>
#include <string>

#include "flowmetrics/query.hpp"
#include "mongo/connection_pool.hpp"

namespace flowmetrics::mongo {

// Which buckets a rollup tier holds completely (docs/rollups.md): those from `from` on (the
// rollups began then), and those wholly before `before` (no minute document written without
// rollups is older), in both cases not older than `horizon` (retention). The defaults cover
// nothing.
struct TierCoverage {
  static constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();
  static constexpr std::int64_t kNone = std::numeric_limits<std::int64_t>::min();
  std::int64_t from = kNever;
  std::int64_t before = kNone;
  std::int64_t horizon = kNone;
};

struct Coverage {
  TierCoverage hour;
  TierCoverage minute_totals;
  TierCoverage hour_totals;
};

struct QuerySource {
  ConnectionPool* pool = nullptr;
  std::string database;
  std::string collection;  // the minute collection; the tiers' names derive from it
  Coverage coverage;
  std::int64_t now_ms = 0;  // a range that reaches now may read the current hour's totals
  ConnectionPool::Clock::time_point deadline;
};

// Validate the request (Error(invalid_argument) naming the field), plan the tiers, run the
// aggregations and find commands, and assemble the result. Throws the translated driver
// error, or Error(deadline_exceeded) when transient failures outlast the deadline.
TopResult run_top(const QuerySource& source, const TopQuery& query);
SeriesResult run_series(const QuerySource& source, const SeriesQuery& query);

}  // namespace flowmetrics::mongo
