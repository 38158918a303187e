#pragma once

#include <cstdint>
#include <limits>
#include <string>

#include "flowmetrics/metric.hpp"
#include "flowmetrics/metric_key.hpp"

namespace flowmetrics {

// What is known about one key after merging any number of metrics into it.
// `last` is the most recently merged value (what `replace` stores); `sum`, `count`, `min`
// and `max` describe all of them (what `aggregate` stores).
struct MetricAggregate {
  double last = 0.0;
  double sum = 0.0;
  std::uint64_t count = 0;
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
  std::uint64_t flows = 0;

  // Merges one more metric; later calls count as later in time.
  void add(const Metric& metric) noexcept;
  // Merges another aggregate that came after this one.
  void add(const MetricAggregate& later) noexcept;
};

// One document's worth of work: the key, its `_id`, and what to write under it.
struct KeyedAggregate {
  MetricKey key;
  std::string id;  // encode_document_id(key)
  MetricAggregate aggregate;
};

}  // namespace flowmetrics
