#include "server/sflow_metrics.hpp"

#include <prometheus/metric_family.h>

#include <string>
#include <utility>
#include <vector>

#include "server/metric_families.hpp"

namespace flowmetrics::server {
namespace {

using prometheus::MetricFamily;
using prometheus::MetricType;

class SflowMetrics final : public prometheus::Collectable {
 public:
  explicit SflowMetrics(std::function<ingest::SflowInputStats()> stats) : stats_(std::move(stats)) {}

  std::vector<MetricFamily> Collect() const override {
    const ingest::SflowInputStats stats = stats_();
    std::vector<MetricFamily> families;
    using Field = std::uint64_t sflow::AgentStats::*;
    const auto per_agent = [&](const char* name, const char* help, Field field) {
      MetricFamily f = family(name, help, MetricType::Counter);
      for (const sflow::AgentStats& a : stats.agents)
        add(f, static_cast<double>(a.*field), {{"agent", a.agent}, {"sub_agent", std::to_string(a.sub_agent)}});
      families.push_back(std::move(f));
    };
    per_agent("flowmetrics_sflow_agent_datagrams_total", "sFlow datagrams decoded, by agent address and sub-agent id.",
              &sflow::AgentStats::datagrams);
    per_agent("flowmetrics_sflow_samples_total", "Flow samples (compact and expanded) read.",
              &sflow::AgentStats::samples);
    per_agent("flowmetrics_sflow_records_total", "Flow samples turned into records.", &sflow::AgentStats::records);
    per_agent("flowmetrics_sflow_unscaled_total", "Records of samples with sampling rate 0, stored unscaled.",
              &sflow::AgentStats::unscaled);
    per_agent("flowmetrics_sflow_unsupported_header_protocols_total",
              "Flow samples whose sampled header is not Ethernet, IPv4 or IPv6 (not stored).",
              &sflow::AgentStats::unsupported_header_protocols);
    per_agent("flowmetrics_sflow_not_ip_total",
              "Flow samples without an IP packet: non-IP frames, headers cut before the addresses, no packet record.",
              &sflow::AgentStats::not_ip);
    per_agent("flowmetrics_sflow_counter_samples_total", "Counter samples, skipped.",
              &sflow::AgentStats::counter_samples);
    per_agent("flowmetrics_sflow_other_samples_total", "Samples of other formats or enterprises, skipped.",
              &sflow::AgentStats::other_samples);
    per_agent("flowmetrics_sflow_datagram_sequence_gaps_total",
              "Datagrams missing from the agent's datagram sequence numbers.",
              &sflow::AgentStats::datagram_sequence_gaps);
    per_agent("flowmetrics_sflow_sample_sequence_gaps_total",
              "Flow samples missing from the sequence numbers of each source id.",
              &sflow::AgentStats::sample_sequence_gaps);
    per_agent("flowmetrics_sflow_malformed_total", "Datagrams that failed to decode, in whole or part.",
              &sflow::AgentStats::malformed);

    add_udp_input_families(families, "sflow", "sFlow", stats.input);
    return families;
  }

 private:
  std::function<ingest::SflowInputStats()> stats_;
};

}  // namespace

std::shared_ptr<prometheus::Collectable> sflow_metrics(std::function<ingest::SflowInputStats()> stats) {
  return std::make_shared<SflowMetrics>(std::move(stats));
}

}  // namespace flowmetrics::server
