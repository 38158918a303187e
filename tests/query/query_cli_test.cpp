// `flowmetrics top` and `flowmetrics series` as a user runs them: records loaded through
// `flowmetrics ingest` into a real FerretDB, every output format compared with sums computed
// here from the same records, and bad options refused with exit code 2 and a message naming
// them.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <simdjson.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "query_test_data.hpp"
#include "test_database.hpp"

extern char** environ;

namespace flowmetrics {
namespace {

using namespace flowmetrics::testing;
namespace fs = std::filesystem;

struct CliRun {
  int code = -1;
  std::string out, err;
};

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs the flowmetrics binary with `args`, standard output and error kept apart.
CliRun run_cli(const std::vector<std::string>& args, const fs::path& directory) {
  static int runs = 0;
  const fs::path out = directory / ("out-" + std::to_string(++runs));
  const fs::path err = directory / ("err-" + std::to_string(runs));
  std::vector<std::string> argv{FLOWMETRICS_CLI};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> pointers;
  for (auto& a : argv) pointers.push_back(a.data());
  pointers.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = -1;
  CliRun run;
  if (posix_spawn(&pid, argv[0].c_str(), &actions, nullptr, pointers.data(), environ) == 0) {
    int status = 0;
    waitpid(pid, &status, 0);
    run.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  posix_spawn_file_actions_destroy(&actions);
  run.out = read_file(out);
  run.err = read_file(err);
  return run;
}

class QueryCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    directory_ = fs::temp_directory_path() / unique_collection("flowmetrics-query-cli");
    fs::create_directories(directory_);
    collection_ = unique_collection("query_cli");
    records_ = make_flow_records(3'000, 11);
    {
      std::ofstream file(directory_ / "records.jsonl");
      for (const auto& r : records_) file << r.json() << '\n';
    }
    std::vector<std::string> args{"ingest", (directory_ / "records.jsonl").string()};
    const auto more = database_options();
    args.insert(args.end(), more.begin(), more.end());
    args.insert(args.end(), {"--set", "spool.directory=" + (directory_ / "spool").string()});
    ingest_ = run_cli(args, directory_);
  }
  static void TearDownTestSuite() {
    std::error_code ignored;
    fs::remove_all(directory_, ignored);
  }

  static std::vector<std::string> database_options() {
    return {"--set", "database.uri=" + test_uri(),        "--set", std::string("database.database=") + kTestDatabase,
            "--set", "database.collection=" + collection_};
  }

  void SetUp() override { ASSERT_EQ(ingest_.code, 0) << ingest_.out << ingest_.err; }

  // `flowmetrics <args> --from <base> --to <base + 30 min>` on the test's collection.
  static CliRun query(std::vector<std::string> args) {
    args.insert(args.end(), {"--from", "2024-11-25T10:00:00Z", "--to", "1732530600"});
    const auto more = database_options();
    args.insert(args.end(), more.begin(), more.end());
    return run_cli(args, directory_);
  }

  static inline fs::path directory_;
  static inline std::string collection_;
  static inline std::vector<FlowRecord> records_;
  static inline CliRun ingest_;
};

double bytes_of(const FlowRecord& r) {
  return static_cast<double>(r.bytes);
}
double packets_of(const FlowRecord& r) {
  return static_cast<double>(r.packets);
}

double total(const std::vector<std::pair<std::string, double>>& rows) {
  double sum = 0;
  for (const auto& [k, v] : rows) sum += v;
  return sum;
}

// Checks a top JSON document against independently ranked sums; `names` are the row keys of
// the dimensions, joined with '|' in `expected`.
void expect_top_json(const std::string& text, const std::vector<std::string>& names, const std::string& measure,
                     const std::vector<std::pair<std::string, double>>& expected, std::size_t limit) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(text).get(doc), simdjson::SUCCESS) << text;
  simdjson::dom::array rows;
  ASSERT_EQ(doc["rows"].get(rows), simdjson::SUCCESS) << text;
  const std::size_t shown = std::min(limit, expected.size());
  ASSERT_EQ(rows.size(), shown) << text;
  const double sum = total(expected);
  double rest = sum;
  std::size_t i = 0;
  for (simdjson::dom::element row : rows) {
    std::string key;
    for (const auto& name : names) {
      std::string_view value;
      ASSERT_EQ(row[name].get(value), simdjson::SUCCESS) << name << " in " << text;
      key += (key.empty() ? "" : "|") + std::string(value);
    }
    EXPECT_EQ(key, expected[i].first) << "row " << i << " of " << text;
    double value = -1, share = -1;
    ASSERT_EQ(row[measure].get(value), simdjson::SUCCESS) << text;
    ASSERT_EQ(row["share"].get(share), simdjson::SUCCESS) << text;
    EXPECT_NEAR(value, expected[i].second, 1e-6 * std::max(1.0, expected[i].second)) << "row " << i;
    EXPECT_NEAR(share, expected[i].second / sum, 1e-9) << "row " << i;
    rest -= expected[i].second;
    ++i;
  }
  double other = -1, all = -1;
  ASSERT_EQ(doc["other"][measure].get(other), simdjson::SUCCESS) << text;
  ASSERT_EQ(doc["total"][measure].get(all), simdjson::SUCCESS) << text;
  EXPECT_NEAR(other, rest, 1e-6 * std::max(1.0, sum));
  EXPECT_NEAR(all, sum, 1e-6 * std::max(1.0, sum));
}

TEST_F(QueryCli, TopBySourceIpJsonMatchesIndependentSums) {
  const CliRun run = query({"top", "--by", "source_ip", "-n", "5", "--format", "json"});
  ASSERT_EQ(run.code, 0) << run.err;
  const auto expected = ranked(
      records_, [](const FlowRecord& r) { return r.source_ip; }, bytes_of);
  expect_top_json(run.out, {"source_ip"}, "bytes", expected, 5);
  EXPECT_NE(run.out.find(R"("by":["source_ip"],"measure":"bytes","from":"2024-11-25T10:00:00Z",)"
                         R"("to":"2024-11-25T10:30:00Z","where":"")"),
            std::string::npos)
      << run.out;
}

TEST_F(QueryCli, TopByTwoDimensionsWithAFilter) {
  const CliRun run =
      query({"top", "--by", "dest_port,protocol", "--measure", "packets", "-n", "4", "--where",
             "source_ip in 10.0.1.0/24 or dest_port in 1000-2000 and not protocol = udp", "--format", "json"});
  ASSERT_EQ(run.code, 0) << run.err;
  const auto expected = ranked(
      records_,
      [](const FlowRecord& r) -> std::string {
        const bool in_subnet = r.source_ip.starts_with("10.0.1.");
        const bool port_range = r.dest_port >= 1000 && r.dest_port <= 2000;
        if (!(in_subnet || (port_range && r.protocol != "UDP"))) return "";
        return std::to_string(r.dest_port) + "|" + r.protocol;
      },
      packets_of);
  expect_top_json(run.out, {"dest_port", "protocol"}, "packets", expected, 4);
  EXPECT_NE(run.out.find(R"("where":"source_ip in 10.0.1.0/24 or dest_port in 1000-2000 and not protocol = udp")"),
            std::string::npos)
      << run.out;
}

TEST_F(QueryCli, TopByPrefixAsCsv) {
  const CliRun run = query({"top", "--by", "source_ip/24", "-n", "3", "--format", "csv"});
  ASSERT_EQ(run.code, 0) << run.err;
  const auto expected = ranked(
      records_, [](const FlowRecord& r) { return ipv4_prefix(r.source_ip, 24); }, bytes_of);
  ASSERT_EQ(expected.size(), 4u);  // the sources are spread over 10.0.0-3.x
  std::istringstream lines(run.out);
  std::string line;
  std::getline(lines, line);
  EXPECT_EQ(line, "rank,source_ip/24,bytes,share");
  for (std::size_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(std::getline(lines, line)) << run.out;
    const std::string prefix = std::to_string(i + 1) + "," + expected[i].first + "," +
                               std::to_string(static_cast<long long>(expected[i].second)) + ",";
    EXPECT_TRUE(line.starts_with(prefix)) << line << " vs " << prefix;
  }
  ASSERT_TRUE(std::getline(lines, line));
  EXPECT_EQ(line.substr(0, line.rfind(',')), "other,," + std::to_string(static_cast<long long>(expected[3].second)));
  ASSERT_TRUE(std::getline(lines, line));
  EXPECT_EQ(line, "total,," + std::to_string(static_cast<long long>(total(expected))) + ",1");
}

TEST_F(QueryCli, TopTableIsAlignedWithHumanUnits) {
  const CliRun run = query({"top", "--by", "dest_ip", "--measure", "bps", "-n", "10"});
  ASSERT_EQ(run.code, 0) << run.err;
  // bps over the 30-minute range: bytes * 8 / 1800.
  const auto expected = ranked(
      records_, [](const FlowRecord& r) { return r.dest_ip; },
      [](const FlowRecord& r) { return static_cast<double>(r.bytes) * 8.0 / 1800.0; });
  ASSERT_EQ(expected.size(), 5u);
  EXPECT_NE(run.out.find("Top 10 dest_ip ordered by bps"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("Range: 2024-11-25T10:00:00Z - 2024-11-25T10:30:00Z"), std::string::npos) << run.out;
  const double sum = total(expected);
  std::size_t at = run.out.find("#  dest_ip");
  ASSERT_NE(at, std::string::npos) << run.out;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    // "  1  192.168.0.2     12.3 kb/s   21.0%": rank, address, rate, share in order on one line.
    char share[32];
    std::snprintf(share, sizeof(share), "%.1f%%", expected[i].second / sum * 100.0);
    char rate[32];
    std::snprintf(rate, sizeof(rate), "%.1f kb/s", expected[i].second / 1000.0);
    const std::size_t line_start = run.out.find("\n", at) + 1;
    const std::size_t line_end = run.out.find("\n", line_start);
    const std::string line = run.out.substr(line_start, line_end - line_start);
    EXPECT_TRUE(
        line.substr(line.find_first_not_of(' ')).starts_with(std::to_string(i + 1) + "  " + expected[i].first + " ") &&
        line.find(rate) != std::string::npos && line.ends_with(share))
        << "line: '" << line << "' expected " << expected[i].first << " " << rate << " " << share;
    at = line_start;
  }
  EXPECT_NE(run.out.find("total"), std::string::npos);
}

TEST_F(QueryCli, SeriesJsonBinsMatchIndependentSums) {
  const CliRun run = query({"series", "--step", "5m", "--format", "json"});
  ASSERT_EQ(run.code, 0) << run.err;
  std::map<std::int64_t, double> bins;  // epoch seconds -> bytes
  for (const auto& r : records_) bins[(r.timestamp_ms - r.timestamp_ms % 300'000) / 1000] += bytes_of(r);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(run.out).get(doc), simdjson::SUCCESS) << run.out;
  std::int64_t step = 0;
  ASSERT_EQ(doc["step"].get(step), simdjson::SUCCESS);
  EXPECT_EQ(step, 300);
  simdjson::dom::array times, series, values;
  ASSERT_EQ(doc["times"].get(times), simdjson::SUCCESS);
  ASSERT_EQ(doc["series"].get(series), simdjson::SUCCESS);
  ASSERT_EQ(series.size(), 1u) << run.out;
  ASSERT_EQ(series.at(0)["values"].get(values), simdjson::SUCCESS);
  std::string_view name;
  ASSERT_EQ(series.at(0)["name"].get(name), simdjson::SUCCESS);
  EXPECT_EQ(name, "total");
  ASSERT_EQ(times.size(), 6u) << run.out;
  ASSERT_EQ(values.size(), 6u) << run.out;
  for (std::size_t i = 0; i < 6; ++i) {
    std::int64_t t = 0;
    double v = -1;
    ASSERT_EQ(times.at(i).get(t), simdjson::SUCCESS);
    ASSERT_EQ(values.at(i).get(v), simdjson::SUCCESS);
    EXPECT_EQ(t, kQueryBaseMs / 1000 + static_cast<std::int64_t>(i) * 300);
    EXPECT_EQ(v, bins[t]) << "bin " << i;
  }
}

TEST_F(QueryCli, SeriesSplitByProtocolFoldsTheRestIntoOther) {
  const CliRun run = query({"series", "--step", "10m", "--split-by", "protocol", "-n", "1", "--format", "csv"});
  ASSERT_EQ(run.code, 0) << run.err;
  const auto ranking = ranked(
      records_, [](const FlowRecord& r) { return r.protocol; }, bytes_of);
  const std::string top = ranking.front().first;
  std::map<std::int64_t, std::pair<double, double>> bins;  // bin start ms -> (top, other)
  for (const auto& r : records_) {
    auto& bin = bins[r.timestamp_ms - r.timestamp_ms % 600'000];
    (r.protocol == top ? bin.first : bin.second) += bytes_of(r);
  }
  std::string expected = "time," + top + ",other\n";
  const char* kTimes[] = {"2024-11-25T10:00:00Z", "2024-11-25T10:10:00Z", "2024-11-25T10:20:00Z"};
  std::size_t i = 0;
  for (const auto& [start, sums] : bins) {
    expected += std::string(kTimes[i++]) + "," + std::to_string(static_cast<long long>(sums.first)) + "," +
                std::to_string(static_cast<long long>(sums.second)) + "\n";
  }
  EXPECT_EQ(run.out, expected);
}

TEST_F(QueryCli, SeriesTableDrawsAChart) {
  const CliRun run = query({"series", "--points", "3"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_NE(run.out.find("bytes per 10 min"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("2024-11-25 10:20"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("|#"), std::string::npos) << run.out;
}

// Refusals happen before any connection: no database needed, and the message names the option.
struct Refusal {
  std::vector<std::string> args;
  std::string named;
};

TEST(QueryCliOptions, BadOptionsExitTwoNamingTheOption) {
  const fs::path directory = fs::temp_directory_path() / unique_collection("flowmetrics-query-opts");
  fs::create_directories(directory);
  const std::vector<Refusal> refusals = {
      {{"top", "--by", "source_ip", "--where", "dest_port = 99999"}, "--where"},
      {{"top", "--by", "nope"}, "--by"},
      {{"top"}, "--by"},
      {{"top", "--by", "source_ip", "--format", "xml"}, "--format"},
      {{"top", "--by", "source_ip", "--measure", "octets"}, "--measure"},
      {{"top", "--by", "source_ip", "--last", "5x"}, "--last"},
      {{"top", "--by", "source_ip", "--from", "yesterday"}, "--from"},
      {{"top", "--by", "source_ip", "-n", "0"}, "-n"},
      {{"top", "--by", "source_ip", "--bogus"}, "--bogus"},
      {{"series", "--step", "90s"}, "--step"},
      {{"series", "--split-by", "colour"}, "--split-by"},
      {{"series", "--step", "1m", "--points", "5"}, "--points"},
  };
  for (const auto& refusal : refusals) {
    const CliRun run = run_cli(refusal.args, directory);
    EXPECT_EQ(run.code, 2) << refusal.named << ": " << run.err;
    EXPECT_NE(run.err.find(refusal.named), std::string::npos) << run.err;
  }
  // A filter error shows the expression with a caret under the offending token.
  const CliRun run = run_cli({"top", "--by", "source_ip", "--where", "dest_port = 443 and protocl = tcp"}, directory);
  EXPECT_EQ(run.code, 2);
  EXPECT_NE(run.err.find("flowmetrics top: --where: filter: at position 20: unknown field 'protocl'"),
            std::string::npos)
      << run.err;
  EXPECT_NE(run.err.find("\n  dest_port = 443 and protocl = tcp\n" + std::string(22, ' ') + "^\n"), std::string::npos)
      << run.err;
  std::error_code ignored;
  fs::remove_all(directory, ignored);
}

}  // namespace
}  // namespace flowmetrics
