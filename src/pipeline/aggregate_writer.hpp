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
  // With a `stamp`, the write is idempotent per document (write_stamp.hpp).
  virtual UpsertResult write(std::span<const KeyedAggregate> batch, const WriteStamp* stamp) = 0;
  // Adds the written items of one whole flush (every chunk of its stamp) to the rollup tiers
  // (MetricsAgent::upsert_rollups); repeating it with the same stamp adds nothing twice.
  // Writers without rollups keep this no-op.
  virtual UpsertResult write_rollups(std::span<const KeyedAggregate> /*written*/, const WriteStamp* /*stamp*/) {
    return {};
  }
};

class AgentWriter final : public AggregateWriter {
 public:
  explicit AgentWriter(MetricsAgent& agent) : agent_(agent) {}
  UpsertResult write(std::span<const KeyedAggregate> batch, const WriteStamp* stamp) override {
    return agent_.upsert_aggregates(batch, std::nullopt, stamp);
  }
  UpsertResult write_rollups(std::span<const KeyedAggregate> written, const WriteStamp* stamp) override {
    return agent_.upsert_rollups(written, std::nullopt, stamp);
  }

 private:
  MetricsAgent& agent_;
};

}  // namespace flowmetrics::pipeline
