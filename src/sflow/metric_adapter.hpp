#pragma once

#include <chrono>

#include "flowmetrics/metric.hpp"
#include "sflow/flow_sample.hpp"

namespace flowmetrics::sflow {

// The one place an sFlow FlowSample becomes the pipeline's record. Today that is a Metric
// with text addresses and the protocol number as decimal text (as the NetFlow decoder
// writes them); when the pipeline takes the binary flow key, only this function changes.
// The timestamp is the datagram's arrival time (sFlow samples carry none): the pipeline
// buckets it like any other.
void to_metric(const FlowSample& sample, std::chrono::system_clock::time_point received, Metric& out);

}  // namespace flowmetrics::sflow
