#include "commands/runtime.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <map>

#include "commands/commands.hpp"

extern char** environ;

namespace flowmetrics::commands {
namespace {

std::map<std::string, std::string> environment() {
  std::map<std::string, std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string text = *entry;
    const auto eq = text.find('=');
    if (eq != std::string::npos) env.emplace(text.substr(0, eq), text.substr(eq + 1));
  }
  return env;
}

pipeline::PipelineOptions pipeline_options(const config::PipelineConfig& c) {
  pipeline::PipelineOptions options;
  options.bucket_width = c.bucket_width;
  options.writers = c.writers;
  options.max_pending_keys = c.max_pending_keys;
  options.max_batch_keys = c.max_batch_keys;
  options.flush_interval = c.flush_interval;
  options.grace = c.grace;
  return options;
}

}  // namespace

config::CollectorConfig load_config(const ConfigSources& sources) {
  config::CollectorConfig config =
      sources.file.empty() ? config::CollectorConfig{} : config::load_config_file(sources.file);
  config::apply_environment(config, environment());
  config::apply_overrides(config, sources.overrides, "--set");
  return config;
}

void configure_logging(const config::CollectorConfig& config) {
  auto logger = spdlog::stderr_color_mt("flowmetrics");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v");
  spdlog::set_level(spdlog::level::from_str(config.log.level));
}

Runtime::Runtime(const config::CollectorConfig& config)
    : config_(config),
      agent_(config.database.uri, config.database.database, config.database.collection, config.agent_options()),
      writer_(agent_),
      metrics_(stats_, [this]() -> std::optional<PoolStats> { return agent_.pool_stats(); }) {
  if (config.database.create_indexes) agent_.create_metrics_indexes();
  pipeline_ = std::make_unique<pipeline::Pipeline>(pipeline_options(config.pipeline), writer_, stats_);
}

std::optional<std::string> Runtime::readiness() {
  if (!agent_.ping(std::chrono::seconds(2))) return "the database does not answer a ping";
  if (agent_.pool_stats().open == 0) return "no pooled connection is open";
  return std::nullopt;
}

std::string Runtime::summary() const {
  return "received " + std::to_string(stats_.received.total()) + ", accepted " +
         std::to_string(stats_.accepted.load()) + ", rejected " + std::to_string(stats_.rejected.total()) +
         ", written " + std::to_string(stats_.written.load()) + ", failed " + std::to_string(stats_.failed.load()) +
         ", pending " + std::to_string(stats_.records_pending.load()) + " records in " +
         std::to_string(stats_.keys_pending.load()) + " keys, dropped " + std::to_string(stats_.dropped.total()) +
         "; documents created " + std::to_string(stats_.documents_upserted.load()) + ", updated " +
         std::to_string(stats_.documents_updated.load());
}

}  // namespace flowmetrics::commands
