#include "config/collector_config.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <functional>
#include <sstream>
#include <system_error>
#include <type_traits>
#include <utility>

#include <toml++/toml.h>

#include "flowmetrics/merge_policy.hpp"

namespace flowmetrics::config {
namespace {

std::string format_what(const std::string& key, const std::string& source, int line, const std::string& message) {
  if (line > 0) {
    std::string where = source + ":" + std::to_string(line) + ": ";
    return key.empty() ? where + message : where + key + ": " + message;
  }
  // An environment variable already names the key, in the spelling the user wrote.
  if (key.empty() || source.starts_with("env ")) return source + ": " + message;
  return source + " " + key + ": " + message;
}

// TOML basic string, so that describe() output parses back.
std::string quote(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default: {
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte == 0x7f) {
          out += "\\u00";
          out += kHex[byte >> 4];
          out += kHex[byte & 0xf];
        } else {
          out += c;
        }
      }
    }
  }
  return out + "\"";
}

// "mongodb://user:secret@host/" -> "mongodb://user:****@host/". Only the authority part is
// looked at, so an '@' or ':' in the path or options is left alone.
std::string mask_password(std::string_view uri) {
  const auto scheme_end = uri.find("://");
  if (scheme_end == std::string_view::npos) return std::string(uri);
  const std::size_t start = scheme_end + 3;
  const std::string_view authority = uri.substr(start, uri.find_first_of("/?", start) - start);
  const auto at = authority.rfind('@');
  const auto colon = authority.find(':');
  if (at == std::string_view::npos || colon == std::string_view::npos || colon > at) return std::string(uri);
  return std::string(uri.substr(0, start + colon + 1)) + "****" + std::string(uri.substr(start + at));
}

std::string_view a_type(toml::node_type type) {
  switch (type) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a floating-point number";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    case toml::node_type::none: break;
  }
  return "nothing";
}

// ---- Checks of single values: each returns why a value is refused, empty when it is fine.

std::string check_range(std::int64_t value, std::int64_t low, std::int64_t high) {
  if (value >= low && value <= high) return {};
  return "must be between " + std::to_string(low) + " and " + std::to_string(high) + ", got " + std::to_string(value);
}

std::string check_uri(std::string_view uri) {
  if (uri.starts_with("mongodb://") || uri.starts_with("mongodb+srv://")) return {};
  return "must start with \"mongodb://\" or \"mongodb+srv://\", got " + quote(mask_password(uri));
}

// MongoDB's rules for database names (the strictest platform's).
std::string check_database_name(std::string_view name) {
  if (name.empty()) return "must not be empty";
  if (name.size() > 63) return "must be at most 63 bytes, got " + std::to_string(name.size());
  if (name.find_first_of(std::string_view("/\\. \"$\0", 7)) != std::string_view::npos) {
    return "must not contain any of / \\ . space \" $ or NUL, got " + quote(name);
  }
  return {};
}

std::string check_collection_name(std::string_view name) {
  if (name.empty()) return "must not be empty";
  if (name.find_first_of(std::string_view("$\0", 2)) != std::string_view::npos || name.starts_with("system.")) {
    return "must not contain $ or NUL nor start with \"system.\", got " + quote(name);
  }
  return {};
}

std::string check_directory(std::string_view path) {
  if (path.empty()) return "must not be empty";
  if (path.find('\0') != std::string_view::npos) return "must not contain NUL";
  return {};
}

std::string check_path(std::string_view path) {
  if (path.find('\0') != std::string_view::npos) return "must not contain NUL";
  return {};
}

std::string check_flow_time(std::string_view text) {
  if (text == "end" || text == "start") return {};
  return "must be \"end\" or \"start\", got " + quote(text);
}

std::string check_log_level(std::string_view level) {
  for (const std::string_view known : {"trace", "debug", "info", "warn", "error", "off"}) {
    if (level == known) return {};
  }
  return "must be one of trace, debug, info, warn, error, off, got " + quote(level);
}

bool is_dns_name(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  std::size_t label = 0;
  for (const char c : host) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
    } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_') {
      if (++label > 63) return false;
    } else {
      return false;
    }
  }
  return label > 0;
}

// "host:port" or "[v6]:port", with a port 0-65535 (0: any free port).
std::string check_listen(std::string_view text) {
  const std::string expected = "must be \"host:port\" (IPv6 as \"[::1]:5170\"), got " + quote(text);
  std::string_view host;
  std::string_view port;
  if (text.starts_with('[')) {
    const auto close = text.find(']');
    if (close == std::string_view::npos || text.substr(close + 1, 1) != ":") return expected;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    in6_addr v6{};
    if (inet_pton(AF_INET6, std::string(host).c_str(), &v6) != 1) {
      return "brackets must hold an IPv6 address, got " + quote(text);
    }
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0) return expected;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return "an IPv6 address must be in brackets (\"[::1]:5170\"), got " + quote(text);
    }
    // All digits and dots is meant as IPv4, so "300.1.1.1" is not accepted as a DNS name.
    const bool numeric = host.find_first_not_of("0123456789.") == std::string_view::npos;
    in_addr v4{};
    if (numeric ? inet_pton(AF_INET, std::string(host).c_str(), &v4) != 1 : !is_dns_name(host)) {
      return "host must be an IPv4 address, [IPv6] address or DNS name, got " + quote(text);
    }
  }
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos ||
      std::stoi(std::string(port)) > 65535) {
    return "port must be a number from 0 to 65535, got " + quote(text);
  }
  return {};
}

// ---- The key table: one descriptor per key, used by the file, --set and the environment.

struct KeyDescriptor {
  std::string_view name;  // dotted, as in the file
  toml::node_type type;
  // Stores a value of `type`; returns why it was refused (then nothing is stored), or "".
  std::function<std::string(CollectorConfig&, const toml::node&)> set;
  // The current value as a TOML literal.
  std::function<std::string(const CollectorConfig&)> show;
};

// Each helper describes one field, reached as config.*section.*field.
template <typename Section, typename T>
KeyDescriptor integer_key(std::string_view name, Section CollectorConfig::*section, T Section::*field, std::int64_t low,
                          std::int64_t high) {
  return {name, toml::node_type::integer,
          [=](CollectorConfig& c, const toml::node& value) {
            const std::int64_t n = value.as_integer()->get();
            std::string problem = check_range(n, low, high);
            if (!problem.empty()) return problem;
            if constexpr (std::is_integral_v<T>) {
              c.*section.*field = static_cast<T>(n);
            } else {
              c.*section.*field = T{n};  // a std::chrono::duration
            }
            return problem;
          },
          [=](const CollectorConfig& c) {
            if constexpr (std::is_integral_v<T>) {
              return std::to_string(c.*section.*field);
            } else {
              return std::to_string((c.*section.*field).count());
            }
          }};
}

template <typename Section>
KeyDescriptor string_key(std::string_view name, Section CollectorConfig::*section, std::string Section::*field,
                         std::string (*check)(std::string_view)) {
  return {name, toml::node_type::string,
          [=](CollectorConfig& c, const toml::node& value) {
            const std::string& text = value.as_string()->get();
            std::string problem = check(text);
            if (problem.empty()) c.*section.*field = text;
            return problem;
          },
          [=](const CollectorConfig& c) { return quote(c.*section.*field); }};
}

template <typename Section>
KeyDescriptor bool_key(std::string_view name, Section CollectorConfig::*section, bool Section::*field) {
  return {name, toml::node_type::boolean,
          [=](CollectorConfig& c, const toml::node& value) {
            c.*section.*field = value.as_boolean()->get();
            return std::string();
          },
          [=](const CollectorConfig& c) { return std::string(c.*section.*field ? "true" : "false"); }};
}

// A retention in seconds: 0 keeps forever; at most MongoDB's int32 expireAfterSeconds.
KeyDescriptor retention_key(std::string_view name, std::optional<std::chrono::seconds> DatabaseConfig::*field) {
  return {
      name, toml::node_type::integer,
      [=](CollectorConfig& c, const toml::node& value) {
        const std::int64_t n = value.as_integer()->get();
        std::string problem = check_range(n, 0, 2'147'483'647);
        if (problem.empty()) c.database.*field = n == 0 ? std::nullopt : std::optional(std::chrono::seconds(n));
        return problem;
      },
      [=](const CollectorConfig& c) { return std::to_string(c.database.*field ? (c.database.*field)->count() : 0); }};
}

// Upper bounds: one day for any time span (also keeps every millisecond value inside the
// driver's int32 options); sizes where more could only be a mistake.
constexpr std::int64_t kDayMs = 86'400'000;
constexpr std::int64_t kDaySeconds = 86'400;

const std::vector<KeyDescriptor>& key_table() {
  static const std::vector<KeyDescriptor> table = {
      KeyDescriptor{"database.uri", toml::node_type::string,
                    [](CollectorConfig& c, const toml::node& value) {
                      const std::string& uri = value.as_string()->get();
                      std::string problem = check_uri(uri);
                      if (problem.empty()) c.database.uri = uri;
                      return problem;
                    },
                    [](const CollectorConfig& c) { return quote(mask_password(c.database.uri)); }},
      string_key("database.database", &CollectorConfig::database, &DatabaseConfig::database, check_database_name),
      string_key("database.collection", &CollectorConfig::database, &DatabaseConfig::collection, check_collection_name),
      KeyDescriptor{"database.merge_policy", toml::node_type::string,
                    [](CollectorConfig& c, const toml::node& value) {
                      const std::string& text = value.as_string()->get();
                      const auto policy = parse_merge_policy(text);
                      if (!policy) return "must be \"replace\" or \"aggregate\", got " + quote(text);
                      c.database.merge_policy = *policy;
                      return std::string();
                    },
                    [](const CollectorConfig& c) { return quote(flowmetrics::to_string(c.database.merge_policy)); }},
      bool_key("database.create_indexes", &CollectorConfig::database, &DatabaseConfig::create_indexes),
      integer_key("database.operation_timeout_ms", &CollectorConfig::database, &DatabaseConfig::operation_timeout, 1,
                  kDayMs),
      integer_key("database.connect_timeout_ms", &CollectorConfig::database, &DatabaseConfig::connect_timeout, 1,
                  kDayMs),
      // MongoDB's expireAfterSeconds is an int32.
      KeyDescriptor{"database.retention_seconds", toml::node_type::integer,
                    [](CollectorConfig& c, const toml::node& value) {
                      const std::int64_t n = value.as_integer()->get();
                      std::string problem = check_range(n, 0, 2'147'483'647);
                      if (problem.empty()) {
                        c.database.retention = n == 0 ? std::nullopt : std::optional(std::chrono::seconds(n));
                      }
                      return problem;
                    },
                    [](const CollectorConfig& c) {
                      return std::to_string(c.database.retention ? c.database.retention->count() : 0);
                    }},
      string_key("database.uri_file", &CollectorConfig::database, &DatabaseConfig::uri_file, check_path),
      KeyDescriptor{"database.write_concern", toml::node_type::string,
                    [](CollectorConfig& c, const toml::node& value) {
                      const std::string& text = value.as_string()->get();
                      const auto concern = WriteConcern::parse(text);
                      if (!concern) {
                        return "must be \"majority\" or a number of members from 1 to 99 (unacknowledged writes "
                               "cannot be accounted for), got " +
                               quote(text);
                      }
                      c.database.write_concern = *concern;
                      return std::string();
                    },
                    [](const CollectorConfig& c) { return quote(c.database.write_concern.to_string()); }},
      bool_key("database.rollups", &CollectorConfig::database, &DatabaseConfig::rollups),
      retention_key("database.rollup_hour_retention_seconds", &DatabaseConfig::rollup_hour_retention),
      retention_key("database.rollup_minute_totals_retention_seconds", &DatabaseConfig::rollup_minute_totals_retention),
      retention_key("database.rollup_hour_totals_retention_seconds", &DatabaseConfig::rollup_hour_totals_retention),
      bool_key("database.journal", &CollectorConfig::database, &DatabaseConfig::journal),
      integer_key("pool.max_size", &CollectorConfig::pool, &PoolConfig::max_size, 1, 10'000),
      integer_key("pool.min_size", &CollectorConfig::pool, &PoolConfig::min_size, 0, 10'000),
      integer_key("pool.max_idle_time_ms", &CollectorConfig::pool, &PoolConfig::max_idle_time, 1, kDayMs),
      integer_key("pool.wait_queue_timeout_ms", &CollectorConfig::pool, &PoolConfig::wait_queue_timeout, 1, kDayMs),
      integer_key("pool.health_check_interval_ms", &CollectorConfig::pool, &PoolConfig::health_check_interval, 1,
                  kDayMs),
      integer_key("pipeline.bucket_seconds", &CollectorConfig::pipeline, &PipelineConfig::bucket_width, 0, kDaySeconds),
      integer_key("pipeline.writers", &CollectorConfig::pipeline, &PipelineConfig::writers, 1, 64),
      integer_key("pipeline.max_pending_keys", &CollectorConfig::pipeline, &PipelineConfig::max_pending_keys, 1,
                  100'000'000),
      // The server's limit on operations per bulk write command.
      integer_key("pipeline.max_batch_keys", &CollectorConfig::pipeline, &PipelineConfig::max_batch_keys, 1, 100'000),
      integer_key("pipeline.flush_interval_ms", &CollectorConfig::pipeline, &PipelineConfig::flush_interval, 1, kDayMs),
      integer_key("pipeline.grace_seconds", &CollectorConfig::pipeline, &PipelineConfig::grace, 0, kDaySeconds),
      bool_key("inputs.tcp.enabled", &CollectorConfig::tcp, &TcpInputConfig::enabled),
      string_key("inputs.tcp.listen", &CollectorConfig::tcp, &TcpInputConfig::listen, check_listen),
      integer_key("inputs.tcp.max_line_bytes", &CollectorConfig::tcp, &TcpInputConfig::max_line_bytes, 1, 16 << 20),
      integer_key("inputs.tcp.max_connections", &CollectorConfig::tcp, &TcpInputConfig::max_connections, 1, 100'000),
      bool_key("inputs.http.enabled", &CollectorConfig::http, &HttpInputConfig::enabled),
      string_key("inputs.http.listen", &CollectorConfig::http, &HttpInputConfig::listen, check_listen),
      integer_key("inputs.http.max_body_bytes", &CollectorConfig::http, &HttpInputConfig::max_body_bytes, 1, 1 << 30),
      integer_key("inputs.http.threads", &CollectorConfig::http, &HttpInputConfig::threads, 1, 1'024),
      string_key("inputs.http.bearer_token_file", &CollectorConfig::http, &HttpInputConfig::bearer_token_file,
                 check_path),
      integer_key("inputs.http.idempotency_window_seconds", &CollectorConfig::http,
                  &HttpInputConfig::idempotency_window, 0, 30 * kDaySeconds),
      string_key("spool.directory", &CollectorConfig::spool, &SpoolConfig::directory, check_directory),
      integer_key("spool.max_bytes", &CollectorConfig::spool, &SpoolConfig::max_bytes, 1 << 20, 1LL << 50),
      integer_key("spool.segment_bytes", &CollectorConfig::spool, &SpoolConfig::segment_bytes, 1 << 16, 1LL << 32),
      KeyDescriptor{"spool.fsync", toml::node_type::string,
                    [](CollectorConfig& c, const toml::node& value) {
                      const std::string& text = value.as_string()->get();
                      const auto policy = spool::parse_fsync_policy(text);
                      if (!policy) return "must be \"batch\", \"interval\" or \"none\", got " + quote(text);
                      c.spool.fsync = *policy;
                      return std::string();
                    },
                    [](const CollectorConfig& c) { return quote(spool::to_string(c.spool.fsync)); }},
      integer_key("spool.fsync_interval_ms", &CollectorConfig::spool, &SpoolConfig::fsync_interval, 1, kDayMs),
      bool_key("inputs.netflow.enabled", &CollectorConfig::netflow, &NetflowInputConfig::enabled),
      string_key("inputs.netflow.listen", &CollectorConfig::netflow, &NetflowInputConfig::listen, check_listen),
      integer_key("inputs.netflow.receive_buffer_bytes", &CollectorConfig::netflow,
                  &NetflowInputConfig::receive_buffer_bytes, 0, 1 << 30),
      string_key("inputs.netflow.timestamp", &CollectorConfig::netflow, &NetflowInputConfig::timestamp,
                 check_flow_time),
      bool_key("inputs.netflow.apply_sampling", &CollectorConfig::netflow, &NetflowInputConfig::apply_sampling),
      integer_key("inputs.netflow.template_wait_ms", &CollectorConfig::netflow, &NetflowInputConfig::template_wait, 0,
                  kDayMs),
      bool_key("inputs.sflow.enabled", &CollectorConfig::sflow, &SflowInputConfig::enabled),
      string_key("inputs.sflow.listen", &CollectorConfig::sflow, &SflowInputConfig::listen, check_listen),
      integer_key("inputs.sflow.receive_buffer_bytes", &CollectorConfig::sflow, &SflowInputConfig::receive_buffer_bytes,
                  0, 1 << 30),
      bool_key("inputs.sflow.apply_sampling", &CollectorConfig::sflow, &SflowInputConfig::apply_sampling),
      integer_key("query.slow_ms", &CollectorConfig::query, &QueryConfig::slow, 0, kDayMs),
      integer_key("query.timeout_ms", &CollectorConfig::query, &QueryConfig::timeout, 1, kDayMs),
      string_key("query.read_token_file", &CollectorConfig::query, &QueryConfig::read_token_file, check_path),
      string_key("log.level", &CollectorConfig::log, &LogConfig::level, check_log_level),
      integer_key("shutdown.drain_timeout_seconds", &CollectorConfig::shutdown, &ShutdownConfig::drain_timeout, 1,
                  kDaySeconds),
  };
  return table;
}

const KeyDescriptor* find_key(std::string_view name) {
  const auto& table = key_table();
  const auto it = std::find_if(table.begin(), table.end(), [&](const KeyDescriptor& k) { return k.name == name; });
  return it == table.end() ? nullptr : &*it;
}

// "inputs" and "inputs.tcp" are tables: some key lies below them.
bool is_table_name(std::string_view name) {
  return std::any_of(key_table().begin(), key_table().end(), [&](const KeyDescriptor& k) {
    return k.name.size() > name.size() && k.name.starts_with(name) && k.name[name.size()] == '.';
  });
}

std::string unknown_key_message(std::string_view name) {
  const auto dot = name.rfind('.');
  const std::string_view table = dot == std::string_view::npos ? std::string_view() : name.substr(0, dot);
  if (table.empty() || !is_table_name(table)) return "unknown key";
  std::string known;
  for (const KeyDescriptor& k : key_table()) {
    if (k.name.starts_with(table) && k.name.rfind('.') == table.size()) {
      known += (known.empty() ? "" : ", ") + std::string(k.name.substr(table.size() + 1));
    }
  }
  return "unknown key ([" + std::string(table) + "] takes " + known + ")";
}

// Where a value came from, for errors.
struct Origin {
  std::string source;
  int line = 0;
  ConfigError error(std::string_view key, const std::string& message) const {
    return ConfigError(std::string(key), source, line, message);
  }
};

void assign(CollectorConfig& config, const KeyDescriptor& key, const toml::node& value, const Origin& origin) {
  if (value.type() != key.type) {
    std::string got(a_type(value.type()));
    if (const auto* text = value.as_string()) got += " (" + quote(text->get()) + ")";
    throw origin.error(key.name, "expected " + std::string(a_type(key.type)) + ", got " + got);
  }
  if (std::string problem = key.set(config, value); !problem.empty()) throw origin.error(key.name, problem);
}

// Rules between keys, checked once a whole source is applied so that the order of keys in
// it does not matter. The error names a key this source set.
void check_consistency(const CollectorConfig& config, const std::map<std::string_view, Origin>& set_here,
                       const Origin& fallback) {
  if (config.pool.min_size <= config.pool.max_size) return;
  const std::string min_size = std::to_string(config.pool.min_size);
  const std::string max_size = std::to_string(config.pool.max_size);
  if (set_here.contains("pool.min_size") || !set_here.contains("pool.max_size")) {
    const Origin& origin = set_here.contains("pool.min_size") ? set_here.at("pool.min_size") : fallback;
    throw origin.error("pool.min_size", "must not exceed pool.max_size (" + max_size + "), got " + min_size);
  }
  throw set_here.at("pool.max_size")
      .error("pool.max_size", "must be at least pool.min_size (" + min_size + "), got " + max_size);
}

// A value given as text (--set, environment), as a one-entry table holding it under "v".
toml::table value_from_text(const std::string& text, toml::node_type wanted) {
  try {
    toml::table parsed = toml::parse("v = " + text);
    const toml::node* value = parsed.get("v");
    if (parsed.size() == 1 && value != nullptr && (wanted != toml::node_type::string || value->is_string())) {
      return parsed;
    }
  } catch (const toml::parse_error&) {
    // Not a TOML value: the text itself is the string.
  }
  toml::table verbatim;
  verbatim.insert_or_assign("v", text);
  return verbatim;
}

struct FileEntry {
  std::string key;
  const toml::node* value;
  int line;
  bool quoted_dot;  // a quoted key containing '.' ("pool.max_size" = 1): not a path, so unknown
};

void collect(const toml::table& table, const std::string& prefix, std::vector<FileEntry>& out) {
  for (const auto& [name, value] : table) {
    const std::string key = prefix.empty() ? std::string(name.str()) : prefix + "." + std::string(name.str());
    int line = static_cast<int>(value.source().begin.line);
    if (line == 0) line = static_cast<int>(name.source().begin.line);
    const bool quoted_dot = name.str().find('.') != std::string_view::npos;
    if (value.is_table() && !quoted_dot && is_table_name(key)) {
      collect(*value.as_table(), key, out);
    } else {
      out.push_back({key, &value, line, quoted_dot});
    }
  }
}

}  // namespace

ConfigError::ConfigError(std::string key, std::string source, int line, const std::string& message)
    : std::runtime_error(format_what(key, source, line, message)),
      key_(std::move(key)),
      source_(std::move(source)),
      line_(line) {}

AgentOptions CollectorConfig::agent_options() const {
  AgentOptions options;
  options.pool.max_size = pool.max_size;
  options.pool.min_size = pool.min_size;
  options.pool.max_idle_time = pool.max_idle_time;
  options.pool.wait_queue_timeout = pool.wait_queue_timeout;
  options.pool.health_check_interval = pool.health_check_interval;
  options.operation_timeout = database.operation_timeout;
  options.connect_timeout = database.connect_timeout;
  options.merge_policy = database.merge_policy;
  options.retention = database.retention;
  options.write_concern = database.write_concern;
  options.journal = database.journal;
  options.rollups.enabled = database.rollups;
  options.rollups.hour_retention = database.rollup_hour_retention;
  options.rollups.minute_totals_retention = database.rollup_minute_totals_retention;
  options.rollups.hour_totals_retention = database.rollup_hour_totals_retention;
  return options;
}

CollectorConfig load_config_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError("", path, 0, "cannot open: " + std::error_code(errno, std::generic_category()).message());
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw ConfigError("", path, 0, "cannot read");
  return parse_config(text.str(), path);
}

CollectorConfig parse_config(const std::string& toml_text, const std::string& source_name) {
  toml::table root;
  try {
    root = toml::parse(toml_text, source_name);
  } catch (const toml::parse_error& e) {
    throw ConfigError("", source_name, static_cast<int>(e.source().begin.line), std::string(e.description()));
  }
  std::vector<FileEntry> entries;
  collect(root, "", entries);
  // toml++ keeps keys sorted; report problems in the order a reader meets them.
  std::stable_sort(entries.begin(), entries.end(),
                   [](const FileEntry& a, const FileEntry& b) { return a.line < b.line; });

  CollectorConfig config;
  std::map<std::string_view, Origin> set_here;
  for (const FileEntry& entry : entries) {
    const Origin origin{source_name, entry.line};
    const KeyDescriptor* key = entry.quoted_dot ? nullptr : find_key(entry.key);
    if (key == nullptr) {
      if (entry.quoted_dot) throw origin.error(entry.key, "unknown key (a quoted key is not a dotted path)");
      if (is_table_name(entry.key)) {
        throw origin.error(entry.key, "expected a table, got " + std::string(a_type(entry.value->type())));
      }
      throw origin.error(entry.key, entry.value->is_table() ? "unknown table" : unknown_key_message(entry.key));
    }
    assign(config, *key, *entry.value, origin);
    set_here.insert_or_assign(key->name, origin);
  }
  check_consistency(config, set_here, Origin{source_name, 0});
  return config;
}

void apply_overrides(CollectorConfig& config, const std::vector<std::string>& assignments, const std::string& source) {
  constexpr std::string_view kSpace = " \t";
  CollectorConfig updated = config;
  std::map<std::string_view, Origin> set_here;
  const Origin origin{source, 0};
  for (const std::string& assignment : assignments) {
    const auto equals = assignment.find('=');
    if (equals == std::string::npos) throw origin.error("", "expected key=value, got " + quote(assignment));
    std::string_view name = std::string_view(assignment).substr(0, equals);
    name.remove_prefix(std::min(name.find_first_not_of(kSpace), name.size()));
    name = name.substr(0, name.find_last_not_of(kSpace) + 1);
    std::string text = assignment.substr(equals + 1);
    text.erase(0, text.find_first_not_of(kSpace));
    text.erase(text.find_last_not_of(kSpace) + 1);

    const KeyDescriptor* key = find_key(name);
    if (key == nullptr) throw origin.error(name, unknown_key_message(name));
    const toml::table holder = value_from_text(text, key->type);
    assign(updated, *key, *holder.get("v"), origin);
    set_here.insert_or_assign(key->name, origin);
  }
  check_consistency(updated, set_here, origin);
  config = std::move(updated);
}

void apply_environment(CollectorConfig& config, const std::map<std::string, std::string>& environment) {
  CollectorConfig updated = config;
  std::map<std::string_view, Origin> set_here;
  auto apply = [&](const KeyDescriptor& key, const std::string& variable) {
    const auto it = environment.find(variable);
    if (it == environment.end()) return;
    const Origin origin{"env " + variable, 0};
    const toml::table holder = value_from_text(it->second, key.type);
    assign(updated, key, *holder.get("v"), origin);
    set_here.insert_or_assign(key.name, origin);
  };
  // First, so that FLOWMETRICS_DATABASE_URI, the more specific name, wins.
  apply(*find_key("database.uri"), "MONGODB_URI");
  for (const KeyDescriptor& key : key_table()) {
    std::string variable = "FLOWMETRICS_";
    for (const char c : key.name)
      variable += c == '.' ? '_' : (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
    apply(key, variable);
  }
  check_consistency(updated, set_here, Origin{"env", 0});
  config = std::move(updated);
}

std::string describe(const CollectorConfig& config) {
  std::string out;
  for (const KeyDescriptor& key : key_table()) {
    out += std::string(key.name) + " = " + key.show(config) + "\n";
  }
  return out;
}

}  // namespace flowmetrics::config
