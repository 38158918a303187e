#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "flowmetrics/agent_options.hpp"
#include "spool/fsync_policy.hpp"

namespace flowmetrics::config {

// A configuration problem, with the key ("pipeline.writers") and, for a file, where it is.
// what() reads "<file>:<line>: <key>: <problem>" for a file, "--set <key>: <problem>" for an
// override and "env <VARIABLE>: <problem>" for the environment (the variable names the key).
// A TOML syntax error has an empty key: "<file>:<line>: <problem>".
class ConfigError : public std::runtime_error {
 public:
  ConfigError(std::string key, std::string source, int line, const std::string& message);
  const std::string& key() const noexcept { return key_; }
  const std::string& source() const noexcept { return source_; }  // file path, "--set", "env FLOWMETRICS_..."
  int line() const noexcept { return line_; }                     // 0 when not from a file

 private:
  std::string key_;
  std::string source_;
  int line_;
};

struct DatabaseConfig {
  std::string uri = "mongodb://127.0.0.1:27017/";
  std::string database = "metrics_db";
  std::string collection = "metrics";
  MergePolicy merge_policy = MergePolicy::aggregate;
  bool create_indexes = true;
  std::chrono::milliseconds operation_timeout{30'000};
  std::chrono::milliseconds connect_timeout{5'000};
  std::optional<std::chrono::seconds> retention;  // TTL; unset = keep forever
  // A file whose first line is the URI (credentials kept out of the config); wins over `uri`.
  std::string uri_file;
  WriteConcern write_concern = WriteConcern::majority();  // "majority" or 1 to 99 members
  bool journal = true;                                    // j=true: acknowledged once in the server's journal
  // The read side's rollup tiers (AgentOptions::rollups, docs/rollups.md); unset = forever.
  // On by default: they are what keeps unfiltered top-N and series fast, on FerretDB (the
  // embedded default) most of all (docs/benchmarks/query.md).
  bool rollups = true;
  std::optional<std::chrono::seconds> rollup_hour_retention;
  std::optional<std::chrono::seconds> rollup_minute_totals_retention{std::chrono::hours(48)};
  std::optional<std::chrono::seconds> rollup_hour_totals_retention;

  friend bool operator==(const DatabaseConfig&, const DatabaseConfig&) = default;
};

struct PoolConfig {
  std::size_t max_size = 150;
  std::size_t min_size = 25;
  std::chrono::milliseconds max_idle_time{3'600'000};
  std::chrono::milliseconds wait_queue_timeout{10'000};
  std::chrono::milliseconds health_check_interval{10'000};

  friend bool operator==(const PoolConfig&, const PoolConfig&) = default;
};

struct PipelineConfig {
  std::chrono::seconds bucket_width{60};   // 0 keeps exact timestamps
  std::size_t writers = 2;                 // README, "Choosing the number of writers"
  std::size_t max_pending_keys = 200'000;  // memory bound: keys held in memory before writers take them
  std::size_t max_batch_keys = 5'000;      // documents per upsert_aggregates call
  std::chrono::milliseconds flush_interval{1'000};
  std::chrono::seconds grace{5};  // lateness allowed after a bucket's end

  friend bool operator==(const PipelineConfig&, const PipelineConfig&) = default;
};

struct TcpInputConfig {
  bool enabled = true;
  std::string listen = "127.0.0.1:5170";
  std::size_t max_line_bytes = 65'536;
  std::size_t max_connections = 1'024;

  friend bool operator==(const TcpInputConfig&, const TcpInputConfig&) = default;
};

struct HttpInputConfig {
  bool enabled = true;
  std::string listen = "127.0.0.1:8080";  // also serves /metrics, /healthz, /readyz
  std::size_t max_body_bytes = 16 * 1024 * 1024;
  std::size_t threads = 8;
  // A file holding the bearer token POST /v1/metrics requires; empty: no token is required.
  std::string bearer_token_file;
  // How long an Idempotency-Key is remembered (across restarts: it is kept in the spool).
  std::chrono::seconds idempotency_window{86'400};

  friend bool operator==(const HttpInputConfig&, const HttpInputConfig&) = default;
};

struct SpoolConfig {
  std::string directory = "flowmetrics-spool";  // relative to the working directory
  std::uint64_t max_bytes = 1ULL << 30;         // beyond it inputs are pushed back
  std::uint64_t segment_bytes = 64ULL << 20;
  spool::FsyncPolicy fsync = spool::FsyncPolicy::batch;
  std::chrono::milliseconds fsync_interval{100};

  friend bool operator==(const SpoolConfig&, const SpoolConfig&) = default;
};

// [inputs.netflow]: NetFlow v5/v9 and IPFIX over UDP.
struct NetflowInputConfig {
  bool enabled = true;
  std::string listen = "127.0.0.1:2055";
  std::size_t receive_buffer_bytes = 8 << 20;       // SO_RCVBUF asked for; 0 keeps the kernel's default
  std::string timestamp = "end";                    // the flow's "end" or "start" time
  bool apply_sampling = true;                       // scale bytes and packets by the sampling interval
  std::chrono::milliseconds template_wait{10'000};  // data sets held for a template, at most

  friend bool operator==(const NetflowInputConfig&, const NetflowInputConfig&) = default;
};

// [inputs.sflow]: sFlow version 5 over UDP.
struct SflowInputConfig {
  bool enabled = true;
  std::string listen = "127.0.0.1:6343";
  std::size_t receive_buffer_bytes = 8 << 20;  // SO_RCVBUF asked for; 0 keeps the kernel's default
  bool apply_sampling = true;                  // scale packets and bytes by each sample's sampling rate

  friend bool operator==(const SflowInputConfig&, const SflowInputConfig&) = default;
};

struct LogConfig {
  std::string level = "info";  // trace, debug, info, warn, error, off

  friend bool operator==(const LogConfig&, const LogConfig&) = default;
};

struct ShutdownConfig {
  std::chrono::seconds drain_timeout{30};

  friend bool operator==(const ShutdownConfig&, const ShutdownConfig&) = default;
};

// [query]: the read side (`flowmetrics top`/`series` and GET /v1/query/*, docs/query-api.md).
struct QueryConfig {
  std::chrono::milliseconds slow{500};        // a slower query is logged once; 0 logs none
  std::chrono::milliseconds timeout{30'000};  // deadline of one HTTP query
  // A file holding a bearer token that may only query; empty: queries need the write token
  // (inputs.http.bearer_token_file) when that is set, and nothing otherwise.
  std::string read_token_file;

  friend bool operator==(const QueryConfig&, const QueryConfig&) = default;
};

struct CollectorConfig {
  DatabaseConfig database;
  PoolConfig pool;
  PipelineConfig pipeline;
  TcpInputConfig tcp;          // [inputs.tcp]
  HttpInputConfig http;        // [inputs.http]
  NetflowInputConfig netflow;  // [inputs.netflow]
  SflowInputConfig sflow;      // [inputs.sflow]
  SpoolConfig spool;
  LogConfig log;
  ShutdownConfig shutdown;
  QueryConfig query;

  // The library options these settings imply.
  AgentOptions agent_options() const;

  friend bool operator==(const CollectorConfig&, const CollectorConfig&) = default;
};

// Reads a TOML file over the defaults. Unknown keys, wrong types and out-of-range values are
// ConfigErrors naming the key, the file and the line; so are TOML syntax errors and a file
// that cannot be read (line 0). When a file has several problems, the first one by line is
// reported. The range of every key is documented in config/flowmetrics.example.toml.
// parse_config() is the same for text already read; `source_name` stands for the file in errors.
CollectorConfig load_config_file(const std::string& path);
CollectorConfig parse_config(const std::string& toml_text, const std::string& source_name);

// Applies "key=value" overrides (dotted keys as in the file: "pipeline.writers=8",
// "inputs.tcp.listen=127.0.0.1:9000") in order. Values are parsed as TOML values when they
// parse as such (numbers, booleans, quoted strings), otherwise taken as strings. For a key
// that takes a string, anything but a quoted TOML string is taken verbatim
// ("database.collection=2024" is the string "2024"). `source` names the overrides in errors
// ("--set"). Throws ConfigError (line 0) on the first bad assignment; `config` is then unchanged.
void apply_overrides(CollectorConfig& config, const std::vector<std::string>& assignments, const std::string& source);

// Applies the environment: MONGODB_URI (database.uri), and FLOWMETRICS_<KEY> for every key
// with dots and nothing else replaced by '_' and upper-cased (FLOWMETRICS_PIPELINE_WRITERS,
// FLOWMETRICS_INPUTS_TCP_LISTEN). `environment` maps variable names to values. Values are
// read as apply_overrides() reads them. FLOWMETRICS_DATABASE_URI wins over MONGODB_URI.
// Other FLOWMETRICS_* variables are ignored: that prefix is shared with tooling
// (FLOWMETRICS_FERRETDB_SERVER). Throws ConfigError; `config` is then unchanged.
void apply_environment(CollectorConfig& config, const std::map<std::string, std::string>& environment);

// Every key with its current value, one "key = value" line each, in file order (for
// `flowmetrics config check` and for logging the effective configuration). The URI's password
// is replaced by "****". The output is TOML (dotted keys, strings quoted):
// parse_config(describe(c)) gives back c, but for a masked password.
std::string describe(const CollectorConfig& config);

}  // namespace flowmetrics::config
