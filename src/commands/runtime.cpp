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
void check_spool_target(const std::filesystem::path& directory, const config::DatabaseConfig& database,
                        bool holds_frames) {
  const std::string target = database.database + "." + database.collection;
  const auto path = directory / "target";
  std::string recorded;
  if (std::ifstream in(path); in) std::getline(in, recorded);
  if (holds_frames && !recorded.empty() && recorded != target) {
    throw std::runtime_error("spool: " + directory.string() + " holds records for " + recorded + ", not " + target +
                             ": start with that database and collection until it is written, or use another "
                             "spool.directory");
  }
  if (recorded != target) {
    const auto temporary = directory / "target.tmp";
    std::ofstream(temporary) << target << '\n';
    std::filesystem::rename(temporary, path);
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
  const std::filesystem::path directory = config.spool.directory;
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error) throw std::runtime_error("spool: cannot create " + directory.string() + ": " + error.message());
  keys_ = std::make_unique<spool::IdempotencyIndex>(directory / "idempotency.journal", config.http.idempotency_window);
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
  spool_ =
      std::make_unique<spool::Spool>(spool::SpoolOptions{directory, config.spool.max_bytes, config.spool.segment_bytes,
                                                         config.spool.fsync, config.spool.fsync_interval},
                                     visit);
  check_spool_target(directory, config.database, spool_->recovery().frames > 0);
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
    return state;
  });
  metrics_.set_database_state([this] {
    const DatabaseLink::Status status = database_.status();
    return server::DatabaseState{status.connected, status.failed_attempts};
  });
}

std::optional<std::string> Runtime::readiness() {
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
         ", pending " + std::to_string(stats_.records_pending.load()) + " records in " +
         std::to_string(stats_.keys_pending.load()) + " keys, replayed " + std::to_string(stats_.replayed.load()) +
         ", dropped " + std::to_string(stats_.dropped.total()) + "; documents created " +
         std::to_string(stats_.documents_upserted.load()) + ", updated " +
         std::to_string(stats_.documents_updated.load());
}

}  // namespace flowmetrics::commands
