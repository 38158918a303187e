#include "pipeline/record_sink.hpp"

#include <vector>

namespace flowmetrics::pipeline {

Admission RecordSink::submit_flows(std::span<const FlowUpdate> updates, std::string_view input) {
  std::vector<Metric> metrics;
  metrics.reserve(updates.size());
  for (const FlowUpdate& u : updates) {
    MetricKey key = render_metric_key(u.key);
    Metric& m = metrics.emplace_back();
    m.source_ip = std::move(key.source_ip);
    m.dest_ip = std::move(key.dest_ip);
    m.source_port = key.source_port;
    m.dest_port = key.dest_port;
    m.protocol = std::to_string(u.key.protocol);  // the number, as decoders always gave it
    m.timestamp = Timestamp(std::chrono::milliseconds(key.timestamp_ms));
    m.value = u.value;
    m.packets = u.packets;
    m.bytes = u.bytes;
    m.flows = u.flows;
  }
  return submit(metrics, input);
}

}  // namespace flowmetrics::pipeline
