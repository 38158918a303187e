#include "server/metric_families.hpp"

#include <utility>

namespace flowmetrics::server {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily family(std::string name, std::string help, MetricType type) {
  return MetricFamily{std::move(name), std::move(help), type, {}};
}

void add(MetricFamily& f, double value, std::vector<ClientMetric::Label> labels) {
  ClientMetric m;
  m.label = std::move(labels);
  if (f.type == MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  f.metric.push_back(std::move(m));
}

void add_udp_input_families(std::vector<MetricFamily>& families, std::string_view input, std::string_view protocol,
                            const ingest::UdpInputStats& stats) {
  const std::string prefix = "flowmetrics_" + std::string(input) + "_";
  const std::string by = " by the " + std::string(protocol) + " input.";
  const auto total = [&](const char* name, std::string help, MetricType type, double value) {
    MetricFamily f = family(prefix + name, std::move(help), type);
    add(f, value);
    families.push_back(std::move(f));
  };
  total("datagrams_total", "UDP datagrams received" + by, MetricType::Counter, static_cast<double>(stats.datagrams));
  total("received_bytes_total", "UDP payload bytes received" + by, MetricType::Counter,
        static_cast<double>(stats.datagram_bytes));
  total("pipeline_drops_total", "Decoded records dropped because the spool refused them (full or I/O error).",
        MetricType::Counter, static_cast<double>(stats.records_dropped));
  if (stats.kernel_drops_supported) {
    total("kernel_drops_total", "Datagrams the kernel dropped for a full socket receive buffer (SO_RXQ_OVFL).",
          MetricType::Counter, static_cast<double>(stats.kernel_drops));
  }
  total("receive_buffer_bytes", "Socket receive buffer as the kernel reports it (Linux: twice the size granted).",
        MetricType::Gauge, static_cast<double>(stats.receive_buffer_bytes));
}

}  // namespace flowmetrics::server
