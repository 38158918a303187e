#pragma once

#include <memory>
#include <optional>
#include <string>

#include "config/collector_config.hpp"
#include "flowmetrics/metrics_agent.hpp"
#include "pipeline/pipeline.hpp"
#include "pipeline/pipeline_stats.hpp"
#include "server/collector_metrics.hpp"

namespace flowmetrics::commands {

struct ConfigSources;

// Reads the configuration from its sources; throws config::ConfigError.
config::CollectorConfig load_config(const ConfigSources& sources);

// Sets up spdlog with the configured level (logs go to stderr).
void configure_logging(const config::CollectorConfig& config);

// What serve and ingest share: the agent, the pipeline and their counters.
class Runtime {
 public:
  // Connects (throws flowmetrics::Error) and, when configured, creates the indexes.
  explicit Runtime(const config::CollectorConfig& config);

  MetricsAgent& agent() { return agent_; }
  pipeline::Pipeline& pipeline() { return *pipeline_; }
  pipeline::PipelineStats& stats() { return stats_; }
  server::CollectorMetrics& metrics() { return metrics_; }
  std::optional<std::string> readiness();

  // One line with the record accounting, for logs and summaries.
  std::string summary() const;

 private:
  config::CollectorConfig config_;
  MetricsAgent agent_;
  pipeline::PipelineStats stats_;
  pipeline::AgentWriter writer_;
  std::unique_ptr<pipeline::Pipeline> pipeline_;
  server::CollectorMetrics metrics_;
};

}  // namespace flowmetrics::commands
