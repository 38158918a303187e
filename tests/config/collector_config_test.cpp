#include "config/collector_config.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <set>
#include <sstream>

#include <toml++/toml.h>

#include "flowmetrics/error.hpp"

namespace flowmetrics::config {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// From the build's definition, not __FILE__: ccache's base_dir makes __FILE__ relative.
const std::filesystem::path kExampleFile =
    std::filesystem::path(FLOWMETRICS_SOURCE_DIR) / "config/flowmetrics.example.toml";

// Runs `action`, which must throw a ConfigError, and returns it.
ConfigError config_error(const std::function<void()>& action) {
  try {
    action();
  } catch (const ConfigError& e) {
    return e;
  }
  ADD_FAILURE() << "no ConfigError thrown";
  return ConfigError("", "", 0, "");
}

ConfigError parse_error(const std::string& text) {
  return config_error([&] { parse_config(text, "test.toml"); });
}

// Every field differs from its default.
CollectorConfig non_default_config() {
  CollectorConfig c;
  c.database = {"mongodb://user:s3cret@db.example:27017/?tls=true",
                "other_db",
                "flows",
                MergePolicy::replace,
                false,
                milliseconds(1'500),
                milliseconds(700),
                seconds(86'400),
                "/run/secrets/mongodb-uri",
                WriteConcern::members(2),
                false,
                false,
                seconds(7 * 86'400),
                seconds(3'600),
                seconds(30 * 86'400)};
  c.pool = {20, 2, milliseconds(60'000), milliseconds(250), milliseconds(2'000)};
  c.pipeline = {seconds(0), 16, 1'000, 100, milliseconds(50), seconds(0)};
  c.tcp = {false, "[::1]:0", 1'024, 8};
  c.http = {false, "0.0.0.0:0", 4'096, 2, "/run/secrets/token", seconds(600)};
  c.spool = {"/var/lib/flowmetrics/spool", 8ULL << 20, 1ULL << 20, spool::FsyncPolicy::interval, milliseconds(20)};
  c.netflow = {false, "[::1]:0", 0, "start", false, milliseconds(250)};
  c.sflow = {false, "[::1]:0", 0, false};
  c.log.level = "debug";
  c.shutdown.drain_timeout = seconds(3);
  return c;
}

// The dotted keys of every value in a TOML table.
void leaf_keys(const toml::table& table, const std::string& prefix, std::set<std::string>& out) {
  for (const auto& [name, value] : table) {
    const std::string key = prefix + std::string(name.str());
    if (value.is_table()) {
      leaf_keys(*value.as_table(), key + ".", out);
    } else {
      out.insert(key);
    }
  }
}

TEST(CollectorConfig, DefaultsAndAnEmptyFile) {
  const CollectorConfig defaults;
  EXPECT_EQ(defaults.database.uri, "mongodb://127.0.0.1:27017/");
  EXPECT_EQ(defaults.database.merge_policy, MergePolicy::aggregate);
  EXPECT_FALSE(defaults.database.retention.has_value());
  EXPECT_EQ(defaults.pipeline.writers, 2u);
  EXPECT_EQ(defaults.tcp.listen, "127.0.0.1:5170");
  EXPECT_EQ(defaults.log.level, "info");
  EXPECT_EQ(parse_config("", "empty.toml"), defaults);
  EXPECT_EQ(parse_config("# nothing but a comment\n", "empty.toml"), defaults);
}

TEST(CollectorConfig, AgentOptionsCarryTheDatabaseAndPoolSettings) {
  const CollectorConfig c = non_default_config();
  const AgentOptions options = c.agent_options();
  EXPECT_EQ(options.pool.max_size, 20u);
  EXPECT_EQ(options.pool.min_size, 2u);
  EXPECT_EQ(options.pool.max_idle_time, milliseconds(60'000));
  EXPECT_EQ(options.pool.wait_queue_timeout, milliseconds(250));
  EXPECT_EQ(options.pool.health_check_interval, milliseconds(2'000));
  EXPECT_EQ(options.operation_timeout, milliseconds(1'500));
  EXPECT_EQ(options.connect_timeout, milliseconds(700));
  EXPECT_EQ(options.merge_policy, MergePolicy::replace);
  EXPECT_EQ(options.retention, seconds(86'400));
  EXPECT_FALSE(CollectorConfig{}.agent_options().retention.has_value());
}

// The example documents every default: loading it changes nothing, and it names every key.
TEST(CollectorConfig, ExampleFileHasEveryKeyAtItsDefault) {
  ASSERT_TRUE(std::filesystem::exists(kExampleFile)) << kExampleFile;
  EXPECT_EQ(load_config_file(kExampleFile.string()), CollectorConfig{});

  std::set<std::string> in_example;
  leaf_keys(toml::parse_file(kExampleFile.string()), "", in_example);
  std::set<std::string> described;
  std::istringstream lines(describe(CollectorConfig{}));
  for (std::string line; std::getline(lines, line);) described.insert(line.substr(0, line.find(" = ")));
  EXPECT_EQ(in_example, described);
}

TEST(CollectorConfig, ParsesEveryKey) {
  const CollectorConfig parsed = parse_config(R"(
[database]
uri = "mongodb://db.example:27017/"
database = "other_db"
collection = "flows"
merge_policy = "replace"
create_indexes = false
operation_timeout_ms = 1500
connect_timeout_ms = 700
retention_seconds = 86400
uri_file = "/run/secrets/mongodb-uri"
write_concern = "2"
journal = false
rollups = false
rollup_hour_retention_seconds = 604800
rollup_minute_totals_retention_seconds = 3600
rollup_hour_totals_retention_seconds = 2592000
[pool]
max_size = 20
min_size = 2
max_idle_time_ms = 60000
wait_queue_timeout_ms = 250
health_check_interval_ms = 2000
[pipeline]
bucket_seconds = 0
writers = 16
max_pending_keys = 1000
max_batch_keys = 100
flush_interval_ms = 50
grace_seconds = 0
[inputs.tcp]
enabled = false
listen = "[::1]:0"
max_line_bytes = 1024
max_connections = 8
[inputs.http]
enabled = false
listen = "0.0.0.0:0"
max_body_bytes = 4096
threads = 2
bearer_token_file = "/run/secrets/token"
idempotency_window_seconds = 600
[inputs.netflow]
enabled = false
listen = "[::1]:0"
receive_buffer_bytes = 0
timestamp = "start"
apply_sampling = false
template_wait_ms = 250
[inputs.sflow]
enabled = false
listen = "[::1]:0"
receive_buffer_bytes = 0
apply_sampling = false
[spool]
directory = "/var/lib/flowmetrics/spool"
max_bytes = 8388608
segment_bytes = 1048576
fsync = "interval"
fsync_interval_ms = 20
[log]
level = "debug"
[shutdown]
drain_timeout_seconds = 3
)",
                                              "full.toml");
  CollectorConfig expected = non_default_config();
  expected.database.uri = "mongodb://db.example:27017/";
  EXPECT_EQ(parsed, expected);
}

TEST(CollectorConfig, DottedKeysAndInlineTablesAreTheSameKeys) {
  const CollectorConfig c = parse_config("inputs.tcp.enabled = false\ninputs.http = { threads = 2 }\n", "t.toml");
  EXPECT_FALSE(c.tcp.enabled);
  EXPECT_EQ(c.http.threads, 2u);
}

TEST(CollectorConfig, UnknownKeyNamesKeyFileAndLine) {
  const ConfigError e = parse_error("[pipeline]\nwriters = 2\nwriter = 3\n");
  EXPECT_EQ(e.key(), "pipeline.writer");
  EXPECT_EQ(e.source(), "test.toml");
  EXPECT_EQ(e.line(), 3);
  EXPECT_TRUE(std::string(e.what()).starts_with("test.toml:3: pipeline.writer: unknown key ([pipeline] takes "))
      << e.what();

  EXPECT_EQ(parse_error("verbose = true\n").key(), "verbose");
  const ConfigError table = parse_error("[log]\nlevel = \"info\"\n\n[inputs.udp]\nenabled = true\n");
  EXPECT_EQ(table.key(), "inputs.udp");
  EXPECT_EQ(table.line(), 4);
  EXPECT_EQ(parse_error("\"pool.max_size\" = 3\n").key(), "pool.max_size");  // a quoted key is not a path
}

TEST(CollectorConfig, FirstProblemByLineIsReported) {
  // toml++ sorts keys; the error must still be the one a reader meets first.
  const ConfigError e = parse_error("[shutdown]\nzzz = 1\n[database]\naaa = 1\n");
  EXPECT_EQ(e.key(), "shutdown.zzz");
  EXPECT_EQ(e.line(), 2);
}

TEST(CollectorConfig, WrongTypeNamesTheKey) {
  const ConfigError e = parse_error("[pipeline]\nwriters = \"four\"\n");
  EXPECT_EQ(e.key(), "pipeline.writers");
  EXPECT_EQ(e.line(), 2);
  EXPECT_STREQ(e.what(), "test.toml:2: pipeline.writers: expected an integer, got a string (\"four\")");
  EXPECT_EQ(parse_error("[pipeline]\nwriters = 4.0\n").key(), "pipeline.writers");
  EXPECT_EQ(parse_error("[database]\ncreate_indexes = \"yes\"\n").key(), "database.create_indexes");
  EXPECT_EQ(parse_error("[log]\nlevel = 3\n").key(), "log.level");
  EXPECT_EQ(parse_error("[inputs.tcp]\nlisten = [\"a\"]\n").key(), "inputs.tcp.listen");
  const ConfigError not_table = parse_error("database = 5\n");
  EXPECT_EQ(not_table.key(), "database");
  EXPECT_NE(std::string(not_table.what()).find("expected a table"), std::string::npos) << not_table.what();
  EXPECT_EQ(parse_error("[[pool]]\nmax_size = 1\n").key(), "pool");
}

TEST(CollectorConfig, OutOfRangeValues) {
  const ConfigError e = parse_error("[pipeline]\nwriters = 0\n");
  EXPECT_STREQ(e.what(), "test.toml:2: pipeline.writers: must be between 1 and 64, got 0");
  EXPECT_EQ(parse_error("[pipeline]\nwriters = 65\n").key(), "pipeline.writers");
  EXPECT_EQ(parse_error("[pool]\nmax_size = 0\n").key(), "pool.max_size");
  EXPECT_EQ(parse_error("[pool]\nmin_size = -1\n").key(), "pool.min_size");
  EXPECT_EQ(parse_error("[database]\noperation_timeout_ms = 0\n").key(), "database.operation_timeout_ms");
  EXPECT_EQ(parse_error("[database]\nretention_seconds = -5\n").key(), "database.retention_seconds");
  EXPECT_EQ(parse_error("[inputs.http]\nmax_body_bytes = 0\n").key(), "inputs.http.max_body_bytes");
  EXPECT_EQ(parse_error("[shutdown]\ndrain_timeout_seconds = 0\n").key(), "shutdown.drain_timeout_seconds");
  EXPECT_EQ(parse_error("[database]\nmerge_policy = \"sum\"\n").key(), "database.merge_policy");
  EXPECT_EQ(parse_error("[log]\nlevel = \"verbose\"\n").key(), "log.level");
  EXPECT_EQ(parse_error("[database]\ncollection = \"\"\n").key(), "database.collection");
  EXPECT_EQ(parse_error("[database]\ndatabase = \"a.b\"\n").key(), "database.database");
  EXPECT_EQ(parse_config("[database]\nretention_seconds = 0\n", "t").database.retention, std::nullopt);
}

TEST(CollectorConfig, WriteConcernIsParsedOnceIntoAType) {
  EXPECT_EQ(parse_config("[database]\nwrite_concern = \"3\"\n", "t").database.write_concern.member_count(), 3);
  EXPECT_TRUE(parse_config("", "t").database.write_concern.is_majority());
  for (const char* bad : {"0", "100", "abc", "", "-1", "1e3", "99999999999999999999"}) {
    const ConfigError e = parse_error(std::string("[database]\nwrite_concern = \"") + bad + "\"\n");
    EXPECT_EQ(e.key(), "database.write_concern") << bad;
    EXPECT_NE(std::string(e.what()).find("must be \"majority\" or a number of members"), std::string::npos) << bad;
  }
  // The library's own options refuse what the configuration refuses, with its error type.
  EXPECT_THROW(WriteConcern::members(0), Error);
  EXPECT_EQ(WriteConcern::parse("majority"), WriteConcern::majority());
  EXPECT_EQ(WriteConcern::parse("2")->to_string(), "2");
  EXPECT_EQ(WriteConcern::parse("x"), std::nullopt);
}

TEST(CollectorConfig, PoolMinimumAboveMaximum) {
  const ConfigError e = parse_error("[pool]\nmin_size = 30\nmax_size = 10\n");
  EXPECT_EQ(e.key(), "pool.min_size");
  EXPECT_EQ(e.line(), 2);
  EXPECT_STREQ(e.what(), "test.toml:2: pool.min_size: must not exceed pool.max_size (10), got 30");
  // Only the maximum set: it is the key at fault.
  EXPECT_EQ(parse_error("[pool]\nmax_size = 10\n").key(), "pool.max_size");
  EXPECT_EQ(parse_config("[pool]\nmax_size = 10\nmin_size = 10\n", "t").pool.min_size, 10u);
}

TEST(CollectorConfig, ListenAddresses) {
  for (const char* good : {"127.0.0.1:0", "0.0.0.0:65535", "[::1]:5170", "[::]:0", "localhost:80", "db-1.example:9"}) {
    EXPECT_EQ(parse_config(std::string("[inputs.tcp]\nlisten = \"") + good + "\"\n", "t").tcp.listen, good);
  }
  for (const char* bad : {"127.0.0.1", "127.0.0.1:65536", "::1:5170", "[::1]5170", "[::1]:", "[zz]:1", "300.0.0.1:80",
                          ":80", "host:-1", "host:", "bad host:1", ""}) {
    const ConfigError e = parse_error(std::string("[inputs.http]\nlisten = \"") + bad + "\"\n");
    EXPECT_EQ(e.key(), "inputs.http.listen") << bad;
    EXPECT_EQ(e.line(), 2) << bad;
  }
  const ConfigError e = parse_error("[inputs.tcp]\nlisten = \"127.0.0.1:65536\"\n");
  EXPECT_STREQ(e.what(),
               "test.toml:2: inputs.tcp.listen: port must be a number from 0 to 65535, got \"127.0.0.1:65536\"");
}

TEST(CollectorConfig, TomlSyntaxErrorsAndUnreadableFiles) {
  const ConfigError syntax = parse_error("[log]\nlevel = \"info\n");
  EXPECT_EQ(syntax.key(), "");
  EXPECT_EQ(syntax.source(), "test.toml");
  EXPECT_EQ(syntax.line(), 2);
  EXPECT_TRUE(std::string(syntax.what()).starts_with("test.toml:2: ")) << syntax.what();

  const ConfigError missing = config_error([] { load_config_file("/nonexistent/flowmetrics.toml"); });
  EXPECT_EQ(missing.source(), "/nonexistent/flowmetrics.toml");
  EXPECT_EQ(missing.line(), 0);
}

TEST(CollectorConfig, Overrides) {
  CollectorConfig c;
  apply_overrides(c,
                  {"pipeline.writers=8", "inputs.tcp.listen=127.0.0.1:9000", "log.level = debug",
                   "database.create_indexes=false", "database.collection=2024", "database.uri=\"mongodb://h/\"",
                   "pipeline.writers=9", "pool.max_size=10", "pool.min_size=5"},
                  "--set");
  EXPECT_EQ(c.pipeline.writers, 9u);  // later assignments win
  EXPECT_EQ(c.tcp.listen, "127.0.0.1:9000");
  EXPECT_EQ(c.log.level, "debug");
  EXPECT_FALSE(c.database.create_indexes);
  EXPECT_EQ(c.database.collection, "2024");
  EXPECT_EQ(c.database.uri, "mongodb://h/");
  EXPECT_EQ(c.pool.max_size, 10u);
  EXPECT_EQ(c.pool.min_size, 5u);
}

TEST(CollectorConfig, BadOverridesLeaveTheConfigUnchanged) {
  CollectorConfig c;
  const ConfigError range = config_error([&] {
    apply_overrides(c, {"log.level=warn", "pipeline.writers=0"}, "--set");
  });
  EXPECT_STREQ(range.what(), "--set pipeline.writers: must be between 1 and 64, got 0");
  EXPECT_EQ(range.key(), "pipeline.writers");
  EXPECT_EQ(range.source(), "--set");
  EXPECT_EQ(range.line(), 0);
  EXPECT_EQ(c, CollectorConfig{});

  EXPECT_EQ(config_error([&] { apply_overrides(c, {"pipeline.writerz=1"}, "--set"); }).key(), "pipeline.writerz");
  EXPECT_EQ(config_error([&] { apply_overrides(c, {"pipeline.writers=many"}, "--set"); }).key(), "pipeline.writers");
  EXPECT_EQ(config_error([&] { apply_overrides(c, {"pool.max_size=10"}, "--set"); }).key(), "pool.max_size");
  const ConfigError no_equals = config_error([&] { apply_overrides(c, {"pipeline.writers"}, "--set"); });
  EXPECT_NE(std::string(no_equals.what()).find("key=value"), std::string::npos) << no_equals.what();
  EXPECT_EQ(c, CollectorConfig{});
}

TEST(CollectorConfig, Environment) {
  CollectorConfig c;
  apply_environment(c, {{"MONGODB_URI", "mongodb://user:pw@db.example/"},
                        {"FLOWMETRICS_PIPELINE_WRITERS", "16"},
                        {"FLOWMETRICS_INPUTS_TCP_LISTEN", "[::1]:0"},
                        {"FLOWMETRICS_DATABASE_CREATE_INDEXES", "false"},
                        {"FLOWMETRICS_LOG_LEVEL", "warn"},
                        {"FLOWMETRICS_FERRETDB_SERVER", "/opt/ferretdb"},  // tooling, not configuration
                        {"PATH", "/usr/bin"}});
  EXPECT_EQ(c.database.uri, "mongodb://user:pw@db.example/");
  EXPECT_EQ(c.pipeline.writers, 16u);
  EXPECT_EQ(c.tcp.listen, "[::1]:0");
  EXPECT_FALSE(c.database.create_indexes);
  EXPECT_EQ(c.log.level, "warn");

  apply_environment(c, {{"MONGODB_URI", "mongodb://a/"}, {"FLOWMETRICS_DATABASE_URI", "mongodb://b/"}});
  EXPECT_EQ(c.database.uri, "mongodb://b/");
}

TEST(CollectorConfig, BadEnvironmentNamesTheVariable) {
  CollectorConfig c;
  const ConfigError e = config_error([&] { apply_environment(c, {{"FLOWMETRICS_PIPELINE_WRITERS", "0"}}); });
  EXPECT_STREQ(e.what(), "env FLOWMETRICS_PIPELINE_WRITERS: must be between 1 and 64, got 0");
  EXPECT_EQ(e.key(), "pipeline.writers");
  EXPECT_EQ(e.source(), "env FLOWMETRICS_PIPELINE_WRITERS");

  // A bad URI is reported without its password.
  const ConfigError uri = config_error([&] { apply_environment(c, {{"MONGODB_URI", "http://u:hunter2@h/"}}); });
  EXPECT_EQ(uri.key(), "database.uri");
  EXPECT_EQ(std::string(uri.what()).find("hunter2"), std::string::npos) << uri.what();
  EXPECT_EQ(c, CollectorConfig{});
}

TEST(CollectorConfig, DescribeMasksThePasswordAndParsesBack) {
  const CollectorConfig c = non_default_config();
  const std::string text = describe(c);
  EXPECT_NE(text.find("database.uri = \"mongodb://user:****@db.example:27017/?tls=true\"\n"), std::string::npos)
      << text;
  EXPECT_EQ(text.find("s3cret"), std::string::npos);
  EXPECT_TRUE(text.starts_with("database.uri = ")) << text;  // file order
  EXPECT_NE(text.find("\ndatabase.merge_policy = \"replace\"\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\npipeline.writers = 16\n"), std::string::npos) << text;
  EXPECT_TRUE(text.ends_with("shutdown.drain_timeout_seconds = 3\n")) << text;

  CollectorConfig reparsed = parse_config(text, "describe");
  EXPECT_EQ(reparsed.database.uri, "mongodb://user:****@db.example:27017/?tls=true");
  EXPECT_EQ(reparsed.pipeline.writers, 16u);
  EXPECT_EQ(reparsed.tcp.listen, "[::1]:0");
  reparsed.database.uri = c.database.uri;
  EXPECT_EQ(reparsed, c);  // and every other field
  EXPECT_EQ(parse_config(describe(CollectorConfig{}), "describe"), CollectorConfig{});
}

TEST(CollectorConfig, SflowInput) {
  const CollectorConfig defaults;
  EXPECT_TRUE(defaults.sflow.enabled);
  EXPECT_EQ(defaults.sflow.listen, "127.0.0.1:6343");
  EXPECT_EQ(defaults.sflow.receive_buffer_bytes, 8u << 20);
  EXPECT_TRUE(defaults.sflow.apply_sampling);

  const CollectorConfig c = parse_config("[inputs.sflow]\nlisten = \"[::]:6343\"\napply_sampling = false\n", "s.toml");
  EXPECT_EQ(c.sflow.listen, "[::]:6343");
  EXPECT_FALSE(c.sflow.apply_sampling);
  ConfigError e = parse_error("[inputs.sflow]\nlisten = \"6343\"\n");
  EXPECT_EQ(e.key(), "inputs.sflow.listen");
  e = parse_error("[inputs.sflow]\nsampling_rate = 1\n");
  EXPECT_NE(std::string(e.what()).find("[inputs.sflow] takes enabled, listen"), std::string::npos) << e.what();
}

TEST(CollectorConfig, NetflowInput) {
  const CollectorConfig defaults;
  EXPECT_TRUE(defaults.netflow.enabled);
  EXPECT_EQ(defaults.netflow.listen, "127.0.0.1:2055");
  EXPECT_EQ(defaults.netflow.timestamp, "end");
  EXPECT_TRUE(defaults.netflow.apply_sampling);

  const CollectorConfig c =
      parse_config("[inputs.netflow]\nlisten = \"[::]:9995\"\ntimestamp = \"start\"\ntemplate_wait_ms = 0\n", "n.toml");
  EXPECT_EQ(c.netflow.listen, "[::]:9995");
  EXPECT_EQ(c.netflow.timestamp, "start");
  EXPECT_EQ(c.netflow.template_wait, milliseconds(0));

  ConfigError e = parse_error("[inputs.netflow]\ntimestamp = \"middle\"\n");
  EXPECT_EQ(e.key(), "inputs.netflow.timestamp");
  EXPECT_EQ(e.line(), 2);
  EXPECT_NE(std::string(e.what()).find("\"end\" or \"start\""), std::string::npos) << e.what();
  e = parse_error("[inputs.netflow]\nlisten = \"::1:2055\"\n");
  EXPECT_EQ(e.key(), "inputs.netflow.listen");
  e = parse_error("[inputs.netflow]\nreceive_buffer_bytes = -1\n");
  EXPECT_EQ(e.key(), "inputs.netflow.receive_buffer_bytes");
  e = parse_error("[inputs.netflow]\nport = 2055\n");
  EXPECT_NE(std::string(e.what()).find("[inputs.netflow] takes enabled, listen"), std::string::npos) << e.what();

  CollectorConfig overridden;
  apply_overrides(overridden, {"inputs.netflow.enabled=false", "inputs.netflow.listen=127.0.0.1:0"}, "--set");
  EXPECT_FALSE(overridden.netflow.enabled);
  EXPECT_EQ(overridden.netflow.listen, "127.0.0.1:0");
  apply_environment(overridden, {{"FLOWMETRICS_INPUTS_NETFLOW_APPLY_SAMPLING", "false"}});
  EXPECT_FALSE(overridden.netflow.apply_sampling);
  EXPECT_EQ(parse_config(describe(overridden), "describe"), overridden);
}

TEST(CollectorConfig, DescribeLeavesUrisWithoutPasswordAlone) {
  CollectorConfig c;
  for (const char* uri :
       {"mongodb://127.0.0.1:27017/", "mongodb://user@host/", "mongodb+srv://h/db?authSource=a:b@c"}) {
    c.database.uri = uri;
    EXPECT_NE(describe(c).find(std::string("database.uri = \"") + uri + "\"\n"), std::string::npos) << uri;
  }
  c.database.collection = "quote\"and\\slash";
  EXPECT_EQ(parse_config(describe(c), "describe").database.collection, c.database.collection);
}

}  // namespace
}  // namespace flowmetrics::config
