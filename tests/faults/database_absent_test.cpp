// Fault injection, the database absent at start-up: `flowmetrics serve` starts without it,
// takes input into the spool, says so on /readyz, connects when the database appears and
// writes the backlog exactly once (test 1); a SIGTERM before it ever appears leaves the rest in
// the spool for the next start (test 2); `flowmetrics ingest` keeps failing at once (test 3).
#include <signal.h>

#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <thread>

#include "fault_support.hpp"

namespace flowmetrics::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::size_t occurrences(const std::string& text, const std::string& needle) {
  std::size_t count = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++count;
  return count;
}

// The database the agent is pointed at is not running when the test starts: its port is
// reserved (FerretDbProcess's constructor takes one through the test support's per-port lock),
// and the server is started on it later.
class DatabaseAbsent : public ::testing::Test {
 protected:
  void SetUp() override {
    if (using_external_server()) GTEST_SKIP() << "starts its own FerretDB late";
  }

  CollectorProcess::Options agent_options(const std::string& collection, std::vector<std::string> overrides) const {
    overrides.insert(overrides.begin(), {"pipeline.bucket_seconds=1", "pipeline.grace_seconds=0"});
    return {.mongodb_uri = server_.uri(), .collection = collection, .overrides = std::move(overrides)};
  }

  // Sends records [begin, end) over HTTP in slices; returns how many answers were not 2xx.
  static std::size_t post_all(int port, const std::vector<Record>& records, std::size_t begin, std::size_t end,
                              std::string& first_failure) {
    httplib::Client client("127.0.0.1", port);
    client.set_read_timeout(60s);
    std::size_t failures = 0;
    constexpr std::size_t kSlice = 500;
    for (std::size_t from = begin; from < end; from += kSlice) {
      const HttpAnswer answer =
          post_records(client, ndjson(records, from, std::min(from + kSlice, end)), "absent-" + std::to_string(from));
      if (answer.status < 200 || answer.status > 299) {
        if (failures++ == 0) first_failure = std::to_string(answer.status) + " " + answer.body;
      }
    }
    return failures;
  }

  FerretDbProcess server_;  // not started by SetUp
};

// ---- Test 1: no database for 10 s after start-up; 10,000 records over HTTP meanwhile ------

TEST_F(DatabaseAbsent, ServeStartsWithoutTheDatabaseAndWritesTheBacklogExactlyOnceWhenItAppears) {
  const auto start = Clock::now();
  const std::string collection = unique_collection("faults_absent");
  const std::vector<Record> records = make_workload({.records = 10'000, .flows = 700, .seed = 17});
  ExpectedTotals expected;
  expected.add(records, 0, records.size());
  CollectorProcess agent(agent_options(collection, {"shutdown.drain_timeout_seconds=300"}));
  const auto agent_started = Clock::now();

  std::string first_failure;
  EXPECT_EQ(post_all(agent.http_port(), records, 0, records.size(), first_failure), 0u) << first_failure;
  const auto [ready_status, ready_body] = http_get(agent.http_port(), "/readyz");
  EXPECT_EQ(ready_status, 503) << ready_body;
  EXPECT_NE(ready_body.find("the database is unreachable"), std::string::npos) << ready_body;
  EXPECT_NE(ready_body.find("still accepting into the spool"), std::string::npos) << ready_body;
  EXPECT_EQ(agent.metric("flowmetrics_database_connected"), 0);
  EXPECT_EQ(agent.metric("flowmetrics_pool_connections_open"), 0) << "pool gauges before there is a pool";
  EXPECT_EQ(agent.metric("flowmetrics_records_failed_total"), 0);

  std::this_thread::sleep_until(agent_started + 10s);
  ASSERT_TRUE(agent.process().running()) << agent.logs().substr(0, 4000);
  server_.start();
  const auto server_started = Clock::now();

  const Comparison settled = wait_for_exact(server_.uri(), collection, expected, Merge::aggregate, 240s);
  EXPECT_TRUE(settled.exact()) << settled.problems;
  const double failed_attempts = agent.metric("flowmetrics_database_connect_failures_total");
  EXPECT_EQ(agent.metric("flowmetrics_database_connected"), 1);
  EXPECT_GE(failed_attempts, 3) << "the link should have retried while the database was away";
  EXPECT_TRUE(eventually(
      [&] {
        const auto [status, body] = http_get(agent.http_port(), "/readyz");
        if (status != 200) std::this_thread::sleep_for(200ms);
        return status == 200;
      },
      30s));
  const auto connected_after = std::chrono::duration<double>(Clock::now() - server_started).count();

  const int code = stop_agent(agent);
  EXPECT_EQ(code, 0) << agent.logs().substr(0, 4000);
  const Comparison final_read = read_and_compare(server_.uri(), collection, expected, Merge::aggregate);
  EXPECT_TRUE(final_read.exact()) << final_read.problems;
  EXPECT_EQ(final_read.stored_records, expected.records());
  bool unique_index = false;
  for (const auto& index : read_indexes(server_.uri(), collection)) unique_index |= index.unique;
  EXPECT_TRUE(unique_index) << "the indexes were not created once the database appeared";

  // One log line per change of state, however many attempts failed in between.
  const std::string logs = agent.logs();
  EXPECT_EQ(occurrences(logs, "database: not connected"), 1u) << logs.substr(0, 4000);
  EXPECT_EQ(occurrences(logs, "database: still not connected"), 0u) << logs.substr(0, 4000);
  EXPECT_EQ(occurrences(logs, "database: connected after"), 1u) << logs.substr(0, 4000);
  const auto counts = final_counts(logs);
  EXPECT_EQ(counts.count("failed") ? counts.at("failed") : 1u, 0u);
  print_fault_result("database_absent", records.size(), expected.records(), final_read, expected, seconds_since(start),
                     "failed_attempts=" + std::to_string(static_cast<long>(failed_attempts)) +
                         " readyz_ok_within_s=" + std::to_string(connected_after));
}

// ---- Test 2: SIGTERM before the database ever appeared ---------------------------------------

TEST_F(DatabaseAbsent, AStopBeforeTheDatabaseAppearsLeavesEverythingInTheSpoolForTheNextStart) {
  const std::string collection = unique_collection("faults_absent_stop");
  const std::vector<Record> records = make_workload({.records = 2'000, .flows = 300, .seed = 23});
  ExpectedTotals expected;
  expected.add(records, 0, records.size());
  CollectorProcess agent(agent_options(collection, {"shutdown.drain_timeout_seconds=2"}));
  std::string first_failure;
  EXPECT_EQ(post_all(agent.http_port(), records, 0, records.size(), first_failure), 0u) << first_failure;

  const int code = stop_agent(agent, 120s);
  EXPECT_EQ(code, 1) << "an incomplete drain exits 1\n" << agent.logs().substr(0, 4000);
  EXPECT_NE(agent.logs().find("the database was never reachable"), std::string::npos) << agent.logs().substr(0, 4000);
  const auto counts = final_counts(agent.logs());
  EXPECT_EQ(counts.count("failed") ? counts.at("failed") : 1u, 0u) << "nothing may fail for good meanwhile";
  EXPECT_GT(directory_bytes(agent.spool_directory()), 0u);

  server_.start();
  agent.restart();
  const Comparison settled = wait_for_exact(server_.uri(), collection, expected, Merge::aggregate, 240s);
  EXPECT_TRUE(settled.exact()) << settled.problems;
  EXPECT_EQ(stop_agent(agent), 0) << agent.logs().substr(0, 4000);
  const Comparison final_read = read_and_compare(server_.uri(), collection, expected, Merge::aggregate);
  EXPECT_TRUE(final_read.exact()) << final_read.problems;
  EXPECT_EQ(final_read.stored_records, expected.records());
}

// ---- Test 3: `flowmetrics ingest` without its database ---------------------------------------

TEST_F(DatabaseAbsent, IngestStillFailsAtOnceWithoutItsDatabase) {
  const auto directory = std::filesystem::temp_directory_path() / unique_collection("flowmetrics-absent-ingest");
  std::filesystem::create_directories(directory);
  const auto input = directory / "records.ndjson";
  const std::vector<Record> records = make_workload({.records = 10, .flows = 5, .seed = 5});
  std::ofstream(input) << ndjson(records, 0, records.size());
  ChildProcess ingest({FLOWMETRICS_CLI, "ingest", input.string(), "--set", "database.uri=" + server_.uri(), "--set",
                       "spool.directory=" + (directory / "spool").string(), "--set", "pool.min_size=2"},
                      (directory / "ingest.log").string());
  const auto code = ingest.wait(60s);
  ASSERT_TRUE(code.has_value()) << "ingest kept waiting for its database";
  EXPECT_EQ(*code, 1) << ingest.log();
  EXPECT_NE(ingest.log().find("server unreachable"), std::string::npos) << ingest.log();
  std::error_code ignored;
  std::filesystem::remove_all(directory, ignored);
}

}  // namespace
}  // namespace flowmetrics::testing
