#include "server/netflow_metrics.hpp"

#include <string>
#include <utility>
#include <vector>

#include "server/metric_families.hpp"

namespace flowmetrics::server {
namespace {

using prometheus::MetricFamily;
using prometheus::MetricType;

class NetflowMetrics final : public prometheus::Collectable {
 public:
  explicit NetflowMetrics(std::function<ingest::NetflowInputStats()> stats) : stats_(std::move(stats)) {}

  std::vector<MetricFamily> Collect() const override {
    const ingest::NetflowInputStats stats = stats_();
    std::vector<MetricFamily> families;
    using Field = std::uint64_t netflow::ExporterStats::*;
    const auto per_exporter = [&](const char* name, const char* help, Field field) {
      MetricFamily f = family(name, help, MetricType::Counter);
      for (const netflow::ExporterStats& e : stats.exporters) {
        add(f, static_cast<double>(e.*field),
            {{"exporter", e.exporter}, {"domain", std::to_string(e.domain)}, {"version", std::to_string(e.version)}});
      }
      families.push_back(std::move(f));
    };
    per_exporter("flowmetrics_netflow_packets_total",
                 "Export datagrams decoded, by exporter, source id/domain and NetFlow version.",
                 &netflow::ExporterStats::packets);
    per_exporter("flowmetrics_netflow_records_total", "Flow records turned into metrics.",
                 &netflow::ExporterStats::records);
    per_exporter("flowmetrics_netflow_sequence_gaps_total",
                 "Export datagrams (v9) or records (v5, IPFIX) missing from the sequence numbers.",
                 &netflow::ExporterStats::sequence_gaps);
    per_exporter("flowmetrics_netflow_unknown_templates_total", "Data sets whose template never arrived in time.",
                 &netflow::ExporterStats::unknown_templates);
    per_exporter("flowmetrics_netflow_dropped_no_template_total", "Flow records dropped for want of their template.",
                 &netflow::ExporterStats::dropped_no_template);
    per_exporter("flowmetrics_netflow_malformed_total", "Datagrams or sets that failed to decode.",
                 &netflow::ExporterStats::malformed);
    per_exporter("flowmetrics_netflow_templates_total", "Template records learned, refreshes included.",
                 &netflow::ExporterStats::templates);
    add_udp_input_families(families, "netflow", "NetFlow", stats.input);
    return families;
  }

 private:
  std::function<ingest::NetflowInputStats()> stats_;
};

}  // namespace

std::shared_ptr<prometheus::Collectable> netflow_metrics(std::function<ingest::NetflowInputStats()> stats) {
  return std::make_shared<NetflowMetrics>(std::move(stats));
}

}  // namespace flowmetrics::server
