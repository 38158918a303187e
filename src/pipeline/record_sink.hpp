#pragma once

#include <chrono>
#include <span>
#include <string_view>

#include "flowmetrics/metric.hpp"

namespace flowmetrics::pipeline {

// Where inputs hand their parsed records. Implemented by Pipeline; an input never knows
// what is behind it. Thread-safe.
class RecordSink {
 public:
  virtual ~RecordSink() = default;

  // Takes `metrics` (parsed, not yet validated): each is either accepted into the
  // aggregation or rejected and counted by reason. `input` labels the counters ("tcp",
  // "http", "netflow", "ingest"). Never blocks on the database; may run past the memory
  // bound by one call's worth, so callers keep calls small (a request, a few thousand lines).
  virtual void submit(std::span<Metric> metrics, std::string_view input) = 0;

  // Records an input's rejection that happened before a Metric existed (bad JSON, a line
  // too long), counted under `reason`.
  virtual void reject(std::string_view input, std::string_view reason, std::size_t count = 1) = 0;

  // True while the pipeline holds as many keys as its memory bound allows.
  virtual bool saturated() const = 0;

  // Blocks until the pipeline is below its bound or `timeout` passes; returns whether it is.
  // Inputs that can push back (TCP stops reading) call this before taking more.
  virtual bool wait_for_capacity(std::chrono::milliseconds timeout) = 0;

  // Counts records an input had to drop because its protocol cannot push back.
  virtual void drop(std::string_view input, std::size_t count) = 0;
};

}  // namespace flowmetrics::pipeline
