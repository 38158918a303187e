// Every pool rule, proven against a real server of the test's own: the pool's counts and
// the connections this test process holds to the server's port, as the kernel lists them,
// must agree. Only this process's own sockets are counted: another process's socket whose
// remote port happens to equal the server's port (any other test binary running at the same
// time) says nothing about this pool.
#include "mongo/connection_pool.hpp"

#include <gtest/gtest.h>

#include <future>
#include <optional>

#include "ferretdb_process.hpp"
#include "flowmetrics/metrics_agent.hpp"
#include "mongo/uri.hpp"
#include "process_sockets.hpp"
#include "test_database.hpp"

namespace flowmetrics::mongo {
namespace {

using namespace std::chrono_literals;
using flowmetrics::testing::eventually;
using flowmetrics::testing::FerretDbProcess;
using flowmetrics::testing::own_connections_to;

// A bound on calls that must end at a short timeout rather than at a driver default (30 s):
// generous, so that a loaded machine never fails it; the tests prove boundedness, not speed.
constexpr auto kSlack = 8s;

class ConnectionPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (flowmetrics::testing::using_external_server()) {
      GTEST_SKIP() << "pool tests count sockets and stop the server: they need their own FerretDB";
    }
    server_.start();
  }

  // A connect timeout long enough for a loaded machine: a hello that times out is retried on a
  // new socket, which shows here as one connection too many until the driver drops the old one.
  std::unique_ptr<ConnectionPool> make_pool(PoolOptions pool, const std::string& uri_options = "",
                                            std::chrono::milliseconds connect_timeout = 30s) {
    AgentOptions options;
    options.pool = pool;
    options.connect_timeout = connect_timeout;
    options.operation_timeout = 60s;
    resolved_ = resolve_uri(server_.uri(uri_options), options);
    return std::make_unique<ConnectionPool>(resolved_.client_uri.get(), resolved_.options.pool, resolved_.hosts);
  }

  // This process's established connections to its server (the pool's, since nothing else here
  // connects), counted once they settle: the driver may hold a socket it is about to drop.
  int sockets() const { return own_connections_to(server_.port()); }
  bool sockets_settle_at(int expected) const {
    return eventually([&] { return sockets() == expected; });
  }

  FerretDbProcess server_;
  ResolvedUri resolved_;
};

PoolOptions limits(std::size_t min, std::size_t max) {
  PoolOptions pool;
  pool.min_size = min;
  pool.max_size = max;
  return pool;
}

TEST_F(ConnectionPoolTest, OpensTheMinimumAtStartEachVerified) {
  auto pool = make_pool(limits(5, 10));
  const PoolStats stats = pool->stats();
  EXPECT_EQ(stats.open, 5u);
  EXPECT_EQ(stats.idle, 5u);
  EXPECT_EQ(stats.created, 5u);
  EXPECT_EQ(stats.in_use, 0u);
  EXPECT_TRUE(sockets_settle_at(5)) << sockets();
}

TEST_F(ConnectionPoolTest, NeverExceedsTheMaximumAndTimesOutClearly) {
  PoolOptions options = limits(1, 3);
  options.wait_queue_timeout = 200ms;
  auto pool = make_pool(options);
  const auto far = ConnectionPool::Clock::now() + 30s;
  std::vector<Lease> leases;
  for (int i = 0; i < 3; ++i) leases.push_back(pool->acquire(far));
  EXPECT_EQ(pool->stats().open, 3u);
  EXPECT_TRUE(sockets_settle_at(3)) << sockets();

  const auto start = std::chrono::steady_clock::now();
  try {
    (void)pool->acquire(far);
    FAIL() << "a fourth connection was handed out";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::pool_wait_timeout);
    EXPECT_NE(std::string(e.what()).find("maxPoolSize"), std::string::npos) << e.what();
  }
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_GE(waited, 190ms);
  EXPECT_LT(waited, 200ms + kSlack);
  EXPECT_EQ(pool->stats().wait_timeouts, 1u);
  EXPECT_TRUE(sockets_settle_at(3)) << sockets();
}

// A waiter gets the connection the moment one comes back. Its queue timeout is long, so that
// however slowly this thread gets to give the lease back, the waiter is still there for it.
TEST_F(ConnectionPoolTest, AWaiterGetsTheConnectionTheMomentOneComesBack) {
  PoolOptions options = limits(1, 1);
  options.wait_queue_timeout = 120s;
  auto pool = make_pool(options);
  const auto far = ConnectionPool::Clock::now() + 120s;
  std::optional<Lease> lease = pool->acquire(far);
  auto waiter = std::async(std::launch::async, [&] { return pool->acquire(far).client().get() != nullptr; });
  ASSERT_TRUE(eventually([&] { return pool->stats().waiting == 1; }, 30s));
  std::this_thread::sleep_for(50ms);  // a wait long enough to show in total_wait_time
  lease.reset();
  EXPECT_TRUE(waiter.get());
  const PoolStats stats = pool->stats();
  EXPECT_EQ(stats.open, 1u);
  EXPECT_GT(stats.total_wait_time, 40ms);
  EXPECT_EQ(stats.checkouts, 2u);
  EXPECT_EQ(stats.wait_timeouts, 0u);
  EXPECT_TRUE(sockets_settle_at(1)) << sockets();
}

TEST_F(ConnectionPoolTest, ClosesIdleConnectionsDownToTheMinimum) {
  PoolOptions options = limits(2, 8);
  options.max_idle_time = 200ms;
  auto pool = make_pool(options);
  {
    const auto far = ConnectionPool::Clock::now() + 30s;
    std::vector<Lease> leases;
    for (int i = 0; i < 6; ++i) leases.push_back(pool->acquire(far));
    EXPECT_TRUE(sockets_settle_at(6)) << sockets();
  }
  EXPECT_EQ(pool->stats().idle, 6u);
  ASSERT_TRUE(eventually([&] { return pool->stats().open == 2; }));
  std::this_thread::sleep_for(300ms);  // and it stays at the minimum
  const PoolStats stats = pool->stats();
  EXPECT_EQ(stats.open, 2u);
  EXPECT_EQ(stats.closed_idle, 4u);
  EXPECT_TRUE(sockets_settle_at(2)) << sockets();
}

TEST_F(ConnectionPoolTest, ReplacesABrokenConnection) {
  auto pool = make_pool(limits(3, 5));
  {
    Lease lease = pool->acquire(ConnectionPool::Clock::now() + 5s);
    lease.mark_broken();
  }
  EXPECT_EQ(pool->stats().closed_broken, 1u);
  ASSERT_TRUE(eventually([&] { return pool->stats().open == 3 && pool->stats().created == 4; }));
  EXPECT_TRUE(sockets_settle_at(3)) << sockets();
}

TEST_F(ConnectionPoolTest, HealthChecksFindADeadServerAndTheMinimumReturnsWithIt) {
  PoolOptions options = limits(3, 5);
  options.health_check_interval = 100ms;
  auto pool = make_pool(options);
  ASSERT_TRUE(eventually([&] { return pool->stats().health_checks >= 3; }));

  server_.stop();
  ASSERT_TRUE(eventually([&] { return pool->stats().open == 0; }));
  EXPECT_GE(pool->stats().closed_broken, 3u);
  EXPECT_FALSE(pool->last_error().empty());

  server_.start();  // same port, same data
  ASSERT_TRUE(eventually([&] { return pool->stats().open == 3; }, 30s));
  EXPECT_TRUE(pool->last_error().empty());
  EXPECT_TRUE(sockets_settle_at(3)) << sockets();
}

TEST_F(ConnectionPoolTest, CloseReleasesEveryConnectionAndIsIdempotent) {
  auto pool = make_pool(limits(4, 6));
  EXPECT_TRUE(sockets_settle_at(4)) << sockets();
  pool->close();
  pool->close();
  EXPECT_EQ(pool->stats().open, 0u);
  EXPECT_TRUE(sockets_settle_at(0)) << sockets();
  try {
    (void)pool->acquire(ConnectionPool::Clock::now() + 1s);
    FAIL() << "acquired from a closed pool";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::agent_closed);
  }
}

TEST_F(ConnectionPoolTest, UriSettingsOverrideTheOptionsStruct) {
  auto pool = make_pool(limits(2, 3), "?maxPoolSize=7&minPoolSize=1&maxIdleTimeMS=1234&waitQueueTimeoutMS=55");
  EXPECT_EQ(pool->options().max_size, 7u);
  EXPECT_EQ(pool->options().min_size, 1u);
  EXPECT_EQ(pool->options().max_idle_time, 1234ms);
  EXPECT_EQ(pool->options().wait_queue_timeout, 55ms);
  EXPECT_TRUE(sockets_settle_at(1)) << sockets();
}

TEST_F(ConnectionPoolTest, TheAgentUsesTheDescribedDefaultsAndReportsPoolStats) {
  MetricsAgent agent(server_.uri(), "flowmetrics_test", "pool_defaults");
  EXPECT_EQ(agent.options().pool.max_size, 150u);
  EXPECT_EQ(agent.options().pool.min_size, 25u);
  EXPECT_EQ(agent.options().pool.max_idle_time, std::chrono::hours(1));
  const PoolStats stats = agent.pool_stats();
  EXPECT_EQ(stats.open, 25u);
  EXPECT_TRUE(sockets_settle_at(25)) << sockets();
  agent.close();
  EXPECT_TRUE(sockets_settle_at(0)) << sockets();
}

TEST_F(ConnectionPoolTest, AStartWithNoServerFailsWithinTheConnectTimeout) {
  server_.stop();
  const auto start = std::chrono::steady_clock::now();
  try {
    auto pool = make_pool(limits(2, 4), "", 2s);
    FAIL() << "a pool opened with no server";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::server_unreachable) << e.what();
    EXPECT_NE(std::string(e.what()).find("minPoolSize"), std::string::npos) << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s + kSlack);
}

TEST(ResolveUri, RejectsBadUrisAndImpossibleLimits) {
  const AgentOptions options;
  for (const char* bad : {"not a uri", "mongodb://h/?minPoolSize=9&maxPoolSize=3", "mongodb://h/?maxPoolSize=0"}) {
    try {
      (void)resolve_uri(bad, options);
      ADD_FAILURE() << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), errc::invalid_argument) << bad;
    }
  }
}

}  // namespace
}  // namespace flowmetrics::mongo
