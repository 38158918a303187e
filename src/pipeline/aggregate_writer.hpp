#pragma once

#include <span>

#include "flowmetrics/metric_aggregate.hpp"
#include "flowmetrics/upsert_result.hpp"
#include "flowmetrics/write_stamp.hpp"

namespace flowmetrics::pipeline {

// Writes one batch of distinct-key aggregates and reports each one's outcome. The pipeline's
// only view of the database: the collector's DatabaseLink in production (a MetricsAgent once
// connected; until then every item fails with a retryable error), an in-memory table in the
// pipeline's unit tests (which test aggregation, not the database).
class AggregateWriter {
 public:
  virtual ~AggregateWriter() = default;
  // With a `stamp`, the write is idempotent per document (write_stamp.hpp).
  virtual UpsertResult write(std::span<const KeyedAggregate> batch, const WriteStamp* stamp) = 0;
  // Adds the written items of one whole flush (every chunk of its stamp) to the rollup tiers
  // (MetricsAgent::upsert_rollups); repeating it with the same stamp adds nothing twice.
  // Writers without rollups keep this no-op.
  virtual UpsertResult write_rollups(std::span<const KeyedAggregate> /*written*/, const WriteStamp* /*stamp*/) {
    return {};
  }
};

}  // namespace flowmetrics::pipeline
