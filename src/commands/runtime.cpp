#include "commands/runtime.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <fstream>
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

// A spool's records belong to the collection they were accepted for: replaying them into
// another one would write them twice (once there, once here) or in the wrong place.
void check_spool_target(spool::SpoolDirectory& directory, const config::DatabaseConfig& database, bool holds_frames) {
  const std::string target = database.database + "." + database.collection;
  std::string recorded = directory.read(spool::SpoolDirectory::kTarget).value_or("");
  if (const auto newline = recorded.find('\n'); newline != std::string::npos) recorded.resize(newline);
  if (holds_frames && !recorded.empty() && recorded != target) {
    throw std::runtime_error("spool: " + directory.path().string() + " holds records for " + recorded + ", not " +
                             target +
                             ": start with that database and collection until it is written, or use another "
                             "spool.directory");
  }
  if (recorded != target) {
    if (auto error = directory.replace(spool::SpoolDirectory::kTarget, target + "\n"))
      throw std::runtime_error("spool: cannot record the target collection: " + error->text());
  }
}

}  // namespace

config::CollectorConfig load_config(const ConfigSources& sources) {
  config::CollectorConfig config =
      sources.file.empty() ? config::CollectorConfig{} : config::load_config_file(sources.file);
  config::apply_environment(config, environment());
  config::apply_overrides(config, sources.overrides, "--set");
  if (!config.database.uri_file.empty()) {
    config.database.uri = read_secret_file(config.database.uri_file, "database.uri_file");
    if (!config.database.uri.starts_with("mongodb://") && !config.database.uri.starts_with("mongodb+srv://")) {
      throw config::ConfigError("database.uri_file", config.database.uri_file, 1,
                                "must hold a connection string starting with \"mongodb://\" or \"mongodb+srv://\"");
    }
  }
  return config;
}

std::string read_secret_file(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) throw config::ConfigError(key, path, 0, "cannot read the file");
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  if (line.empty()) throw config::ConfigError(key, path, 1, "the first line is empty");
  return line;
}

void configure_logging(const config::CollectorConfig& config) {
  auto logger = spdlog::stderr_color_mt("flowmetrics");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v");
  spdlog::set_level(spdlog::level::from_str(config.log.level));
}

Runtime::Runtime(const config::CollectorConfig& config, DatabaseStart start)
    : config_(config),
      database_({.uri = config.database.uri,
                 .database = config.database.database,
                 .collection = config.database.collection,
                 .agent = config.agent_options(),
                 .create_indexes = config.database.create_indexes},
                start),
      metrics_(stats_, [this]() -> std::optional<PoolStats> {
        if (MetricsAgent* agent = database_.agent()) return agent->pool_stats();
        return std::nullopt;  // no pool yet
      }) {
  spool_directory_ = std::make_unique<spool::SpoolDirectory>(config.spool.directory);
  keys_ = std::make_unique<spool::IdempotencyIndex>(*spool_directory_, config.http.idempotency_window);
  pipeline::SpoolReplay replay;
  const auto visit = [&](const spool::FrameHeader& header, std::string_view payload) {
    replay.last_sequence = std::max(replay.last_sequence, header.sequence);
    if (header.type == spool::FrameType::flush) {
      if (auto marker = spool::decode_flush(payload)) replay.markers.emplace_back(header.sequence, *marker);
      return;
    }
    const auto batch = spool::decode_batch_header(payload);
    if (!batch) return;
    if (!batch->idempotency_key.empty())
      keys_->remember_recovered(batch->idempotency_key, batch->answer, header.time_ms);
    if (!batch->origin.empty()) {
      auto& furthest = replay.origin_offsets[batch->origin];
      furthest = std::max(furthest, batch->origin_offset);
    }
  };
  spool::SpoolOptions spool_options;
  spool_options.max_bytes = config.spool.max_bytes;
  spool_options.segment_bytes = config.spool.segment_bytes;
  spool_options.fsync = config.spool.fsync;
  spool_options.fsync_interval = config.spool.fsync_interval;
  spool_ = std::make_unique<spool::Spool>(*spool_directory_, spool_options, visit);
  check_spool_target(*spool_directory_, config.database, spool_->recovery().frames > 0);
  pipeline_ = std::make_unique<pipeline::Pipeline>(pipeline_options(config.pipeline), database_, stats_, *spool_,
                                                   keys_.get(), std::move(replay));
  metrics_.set_spool_state([this] {
    server::SpoolState state;
    state.bytes = spool_->bytes();
    state.max_bytes = spool_->options().max_bytes;
    state.full = spool_->full();
    if (const auto oldest = spool_->oldest_time_ms()) {
      const std::int64_t age_ms = std::max<std::int64_t>(0, spool::wall_clock_ms() - *oldest);
      state.oldest_age_seconds = static_cast<double>(age_ms) / 1000.0;
    }
    state.damaged_frames = spool_->recovery().damaged_frames;
    state.io_error = spool_->io_error().has_value();
    const auto counts = spool_directory_->error_counts();
    for (std::size_t i = 0; i < counts.size(); ++i)
      state.io_errors.emplace_back(spool::to_string(static_cast<spool::IoOperation>(i)), counts[i]);
    return state;
  });
  metrics_.set_database_state([this] {
    const DatabaseLink::Status status = database_.status();
    return server::DatabaseState{status.connected, status.failed_attempts};
  });
}

std::optional<std::string> Runtime::readiness() {
  if (const auto error = spool_->io_error()) return "spool I/O error: " + *error + "; inputs are refused";
  if (spool_->full())
    return "the spool is full (" + std::to_string(spool_->bytes()) + " bytes); inputs are pushed back";
  // Not ready for a load balancer, which should prefer a collector that writes; the reason says
  // that this one still takes input, which waits in the spool (README, "Starting without the
  // database").
  MetricsAgent* agent = database_.agent();
  if (agent == nullptr) {
    const DatabaseLink::Status status = database_.status();
    const auto down =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now() - status.unreachable_since);
    return "the database is unreachable (for " + std::to_string(down.count()) + " s, " +
           std::to_string(status.failed_attempts) + " attempts; last error: " + status.last_error +
           "); inputs are still accepting into the spool";
  }
  if (!agent->ping(std::chrono::seconds(2)))
    return "the database does not answer a ping; inputs are still accepting into the spool";
  if (agent->pool_stats().open == 0) return "no pooled connection is open; inputs are still accepting into the spool";
  return std::nullopt;
}

std::string Runtime::summary() const {
  return "received " + std::to_string(stats_.received.total()) + ", accepted " +
         std::to_string(stats_.accepted.load()) + ", rejected " + std::to_string(stats_.rejected.total()) +
         ", written " + std::to_string(stats_.written.load()) + ", failed " + std::to_string(stats_.failed.load()) +
         ", pending " + std::to_string(stats_.records_pending.load()) +
         " records (keys: " + std::to_string(stats_.keys_pending.load()) + " aggregating, " +
         std::to_string(stats_.keys_in_flight.load()) + " being written), replayed " +
         std::to_string(stats_.replayed.load()) + ", dropped " + std::to_string(stats_.dropped.total()) +
         "; documents created " + std::to_string(stats_.documents_upserted.load()) + ", updated " +
         std::to_string(stats_.documents_updated.load());
}

}  // namespace flowmetrics::commands
