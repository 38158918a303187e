// The server goes away, freezes or never was: every call ends with a clear error within its
// deadline, accounts for every item, and the agent recovers when the server returns.
#include <gtest/gtest.h>

#include "ferretdb_process.hpp"
#include "flowmetrics/metrics_agent.hpp"
#include "test_database.hpp"

namespace flowmetrics {
namespace {

using namespace std::chrono_literals;
using namespace flowmetrics::testing;
using std::chrono::milliseconds;
using std::chrono::system_clock;
using Clock = std::chrono::steady_clock;

// Calls here must end at their deadline or timeout (a second or two), not at a driver default
// (30 s). The bounds allow this much beyond it, so that a loaded machine never fails them:
// they prove the call is bounded, not how fast it is.
constexpr auto kSlack = 8s;

std::vector<Metric> flows(int n, int offset = 0) {
  std::vector<Metric> metrics;
  for (int i = 0; i < n; ++i) {
    metrics.push_back(Metric{"10.3.0.1", "10.4.0.1", offset + i, 53, "udp",
                             system_clock::time_point(milliseconds(1'732'530'000'000)), 1.0});
  }
  return metrics;
}

AgentOptions fast_failing(MergePolicy policy) {
  AgentOptions options;
  options.pool.min_size = 2;
  options.pool.max_size = 8;
  options.operation_timeout = 2s;
  options.connect_timeout = 500ms;
  options.merge_policy = policy;
  return options;
}

class FailureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (using_external_server()) GTEST_SKIP() << "these tests stop and freeze their own FerretDB";
    server_.start();
  }
  FerretDbProcess server_;
};

TEST_F(FailureTest, ServerStoppedMidTestGivesAClearErrorWithinTheDeadlineThenRecovers) {
  MetricsAgent agent(server_.uri(), kTestDatabase, "stopped", fast_failing(MergePolicy::aggregate));
  ASSERT_TRUE(agent.batch_upsert_metrics(flows(10)).ok());

  server_.stop();
  const auto start = Clock::now();
  try {
    (void)agent.batch_upsert_metrics(flows(10, 100));
    FAIL() << "a write succeeded with the server stopped";
  } catch (const UpsertError& e) {
    const auto elapsed = Clock::now() - start;
    EXPECT_LT(elapsed, 2s + kSlack) << "deadline is 2 s";
    const UpsertResult& result = e.result();
    EXPECT_EQ(result.failed, 10u);
    EXPECT_EQ(result.written, 0u);
    ASSERT_EQ(result.errors.size(), 10u);
    const std::string message = e.what();
    // "deadline exceeded while retrying" when the deadline passed during a pause between
    // attempts; when it passed during a connection attempt (a loaded machine), that attempt's
    // own "server unreachable" ends the call. Either way the cause is named.
    EXPECT_TRUE(message.find("deadline") != std::string::npos || message.find("unreachable") != std::string::npos)
        << message;
    EXPECT_NE(message.find("refused"), std::string::npos) << message;
    // Nothing reached a server, so nothing can have been applied.
    for (const auto& error : result.errors) EXPECT_FALSE(error.outcome_unknown) << error.message;
  }
  EXPECT_FALSE(agent.ping(500ms));

  server_.start();  // same port, same data
  ASSERT_TRUE(eventually([&] { return agent.ping(500ms); }, 60s));
  const UpsertResult result = agent.batch_upsert_metrics(flows(10, 100));
  EXPECT_EQ(result.written, 10u);
  EXPECT_EQ(read_metrics(server_.uri(), "stopped").size(), 20u);
}

TEST_F(FailureTest, AFrozenServerEndsTheCallAtItsDeadline) {
  MetricsAgent agent(server_.uri(), kTestDatabase, "frozen", fast_failing(MergePolicy::aggregate));
  ASSERT_TRUE(agent.batch_upsert_metrics(flows(5)).ok());
  server_.pause();
  const auto start = Clock::now();
  try {
    (void)agent.batch_upsert_metrics(flows(5, 50), 1s);
    FAIL() << "a write succeeded on a frozen server";
  } catch (const UpsertError& e) {
    // One round trip may take the socket timeout (the 2 s operation_timeout) before the
    // 1 s call deadline is noticed.
    EXPECT_LT(Clock::now() - start, 2s + kSlack);
    EXPECT_EQ(e.result().failed, 5u);
    // The request was sent and never answered: an aggregate may have been applied, so it
    // is reported as unknown rather than sent again.
    for (const auto& error : e.result().errors) EXPECT_TRUE(error.outcome_unknown) << error.message;
  }
  server_.resume();
  ASSERT_TRUE(eventually([&] { return agent.ping(1s); }, 60s));
  EXPECT_TRUE(agent.batch_upsert_metrics(flows(5, 500)).ok());
}

TEST_F(FailureTest, ReplaceWritesAreResentAfterAnUnknownOutcome) {
  AgentOptions options = fast_failing(MergePolicy::replace);
  // No health checks: the only connection marked broken is the write's own.
  options.pool.health_check_interval = std::chrono::hours(1);
  MetricsAgent agent(server_.uri(), kTestDatabase, "frozen_replace", options);
  ASSERT_TRUE(agent.batch_upsert_metrics(flows(5)).ok());
  server_.pause();
  // The server thaws once the first attempt has timed out (its connection closed as broken),
  // not after a fixed sleep that a slow start of the call could outlast.
  std::thread thaw([&] {
    eventually([&] { return agent.pool_stats().closed_broken >= 1; }, 120s);
    server_.resume();
  });
  // The first attempt times out after 2 s; a replace is idempotent, so it is sent again
  // and lands once the server thaws, within the (generous) deadline.
  const UpsertResult result = agent.batch_upsert_metrics(flows(5, 50), 120s);
  thaw.join();
  EXPECT_EQ(result.written, 5u);
  EXPECT_GE(result.retries, 1u);
  EXPECT_EQ(read_metrics(server_.uri(), "frozen_replace").size(), 10u);
}

TEST(UnreachableServer, ConstructionFailsWithinTheConnectTimeout) {
  const int port = free_loopback_port();
  AgentOptions options;
  options.connect_timeout = 500ms;
  const auto start = Clock::now();
  try {
    MetricsAgent agent("mongodb://127.0.0.1:" + std::to_string(port) + "/", kTestDatabase, "none", options);
    FAIL() << "connected to nothing";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::server_unreachable) << e.what();
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:" + std::to_string(port)), std::string::npos) << e.what();
  }
  EXPECT_LT(Clock::now() - start, 500ms + kSlack);
}

TEST(InvalidArguments, BadNamesAndUrisAreRejectedBeforeAnyConnection) {
  EXPECT_THROW(MetricsAgent("mongodb://127.0.0.1:1/", "bad.db", "c"), Error);
  EXPECT_THROW(MetricsAgent("mongodb://127.0.0.1:1/", "db", "bad$coll"), Error);
  EXPECT_THROW(MetricsAgent("mongodb://127.0.0.1:1/", "", "c"), Error);
  try {
    MetricsAgent("http://nope", "db", "c");
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::invalid_argument);
  }
}

}  // namespace
}  // namespace flowmetrics
