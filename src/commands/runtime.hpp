#pragma once

#include <memory>
#include <optional>
#include <string>

#include "commands/database_link.hpp"
#include "config/collector_config.hpp"
#include "pipeline/pipeline.hpp"
#include "pipeline/pipeline_stats.hpp"
#include "server/collector_metrics.hpp"
#include "spool/idempotency_index.hpp"
#include "spool/spool.hpp"

namespace flowmetrics::commands {

struct ConfigSources;

// Reads the configuration from its sources, then the URI from database.uri_file when set;
// throws config::ConfigError.
config::CollectorConfig load_config(const ConfigSources& sources);

// The first line of a secret file (a URI, a token), without its line ending; throws
// config::ConfigError naming `key` when it cannot be read or is empty. Never logs the content.
std::string read_secret_file(const std::string& path, const std::string& key);

// Sets up spdlog with the configured level (logs go to stderr).
void configure_logging(const config::CollectorConfig& config);

// What serve and ingest share: the database link, the spool, the pipeline and their counters.
class Runtime {
 public:
  // Connects and creates the indexes when configured (`required`: throws flowmetrics::Error
  // when it cannot; `in_background`: only for a malformed URI, see DatabaseLink), opens the
  // spool (throws std::runtime_error) and starts the pipeline, which replays what the spool
  // holds from an earlier run.
  Runtime(const config::CollectorConfig& config, DatabaseStart start);

  DatabaseLink& database() { return database_; }
  pipeline::Pipeline& pipeline() { return *pipeline_; }
  spool::Spool& spool() { return *spool_; }
  pipeline::PipelineStats& stats() { return stats_; }
  server::CollectorMetrics& metrics() { return metrics_; }
  std::optional<std::string> readiness();

  // One line with the record accounting, for logs and summaries.
  std::string summary() const;

 private:
  config::CollectorConfig config_;
  DatabaseLink database_;  // the pipeline's writer
  pipeline::PipelineStats stats_;
  std::unique_ptr<spool::SpoolDirectory> spool_directory_;  // outlives the journal and the spool
  std::unique_ptr<spool::IdempotencyIndex> keys_;
  std::unique_ptr<spool::Spool> spool_;
  std::unique_ptr<pipeline::Pipeline> pipeline_;  // destroyed before the spool it reads
  server::CollectorMetrics metrics_;
};

}  // namespace flowmetrics::commands
