#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "flowmetrics/metric_aggregate.hpp"

namespace flowmetrics::mongo {

// A half-open range [begin, end) of items that go to the server as one bulk command.
struct BatchRange {
  std::size_t begin = 0;
  std::size_t end = 0;
  friend bool operator==(const BatchRange&, const BatchRange&) = default;
};

// Splits `items`, in order, into ranges of at most `max_operations` items whose estimated
// command size stays within `max_bytes`. Every range has at least one item, so an item
// larger than `max_bytes` travels alone (and the server judges it).
std::vector<BatchRange> plan_batches(std::span<const KeyedAggregate> items, std::size_t max_operations,
                                     std::size_t max_bytes);

}  // namespace flowmetrics::mongo
