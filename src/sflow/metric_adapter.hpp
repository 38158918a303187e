#pragma once

#include <chrono>

#include "core/flow_key.hpp"
#include "flowmetrics/metric.hpp"
#include "sflow/flow_sample.hpp"

namespace flowmetrics::sflow {

// The one place an sFlow FlowSample becomes the pipeline's record. The input submits the
// binary form, to_flow_update(); to_metric() renders the same record as a Metric with
// canonical text (text addresses, the protocol number as decimal text, as the NetFlow decoder
// renders them), for tests and tools. The timestamp is the datagram's arrival time (sFlow
// samples carry none): the pipeline buckets it like any other.
void to_metric(const FlowSample& sample, std::chrono::system_clock::time_point received, Metric& out);

// The same record as a binary flow key (core/flow_key.hpp), built from the sample's binary
// fields without text: the key renders to exactly what to_metric() gives. Returns KeyRejection::none, or
// invalid_timestamp for a clock outside the key's range.
[[nodiscard]] KeyRejection to_flow_update(const FlowSample& sample, std::chrono::system_clock::time_point received,
                                          FlowUpdate& out) noexcept;

}  // namespace flowmetrics::sflow
