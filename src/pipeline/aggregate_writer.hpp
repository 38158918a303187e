#pragma once

#include <span>

#include "flowmetrics/metric_aggregate.hpp"
#include "flowmetrics/metrics_agent.hpp"
#include "flowmetrics/upsert_result.hpp"

namespace flowmetrics::pipeline {

// Writes one batch of distinct-key aggregates and reports each one's outcome. The pipeline's
// only view of the database: MetricsAgent in production, an in-memory table in the
// pipeline's unit tests (which test aggregation, not the database).
class AggregateWriter {
 public:
  virtual ~AggregateWriter() = default;
  virtual UpsertResult write(std::span<const KeyedAggregate> batch) = 0;
};

class AgentWriter final : public AggregateWriter {
 public:
  explicit AgentWriter(MetricsAgent& agent) : agent_(agent) {}
  UpsertResult write(std::span<const KeyedAggregate> batch) override { return agent_.upsert_aggregates(batch); }

 private:
  MetricsAgent& agent_;
};

}  // namespace flowmetrics::pipeline
