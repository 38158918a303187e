#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "flowmetrics/metric.hpp"
#include "flowmetrics/metric_aggregate.hpp"
#include "flowmetrics/upsert_result.hpp"

namespace flowmetrics::core {

// The outcome of validating and merging one call's metrics.
struct MergedBatch {
  static constexpr std::uint32_t kRejected = UINT32_MAX;

  std::vector<KeyedAggregate> documents;        // one per distinct key, in first-seen order
  std::vector<std::uint32_t> document_of_item;  // input index -> documents index, or kRejected
  std::vector<ItemError> rejected;              // ordered by input index
};

// Validates every metric and merges those that share a key, in input order (so `last` is
// the value of the last occurrence). Never throws for bad input: bad items land in
// `rejected`, named by index and field.
MergedBatch merge_metrics(std::span<const Metric> metrics);

}  // namespace flowmetrics::core
