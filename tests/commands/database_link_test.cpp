// The collector's database link against a real FerretDB that is absent at first: what a
// writer gets before the link connects, that it connects in the background once the server
// appears, and that the fail-fast modes still fail.
#include "commands/database_link.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "flowmetrics/validation.hpp"

#include "ferretdb_process.hpp"
#include "test_database.hpp"

namespace flowmetrics::commands {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::FerretDbProcess;

DatabaseLink::Options options_for(const std::string& uri, const std::string& collection) {
  DatabaseLink::Options options;
  options.uri = uri;
  options.database = testing::kTestDatabase;
  options.collection = collection;
  options.agent.pool.min_size = 1;
  options.agent.pool.max_size = 4;
  options.first_retry = 100ms;
  options.max_retry = 400ms;
  return options;
}

std::vector<KeyedAggregate> one_aggregate() {
  const Metric metric{"10.9.0.1", "10.9.0.2", 1, 2, "TCP", Timestamp(1'732'530'000'000ms), 1.5};
  MetricKey key;
  EXPECT_FALSE(make_metric_key(metric, key).has_value());
  MetricAggregate aggregate;
  aggregate.sum = aggregate.min = aggregate.max = aggregate.last = 1.5;
  aggregate.count = 1;
  std::vector<KeyedAggregate> batch;
  const std::string id = encode_document_id(key);
  batch.push_back(KeyedAggregate{std::move(key), id, aggregate});
  return batch;
}

class DatabaseLinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (testing::using_external_server()) GTEST_SKIP() << "starts its own FerretDB late";
  }
  FerretDbProcess server_;  // its port is reserved; the server is started by the tests that want it
};

TEST_F(DatabaseLinkTest, ReportsWritesAsTransientUntilTheServerAppearsThenConnectsAndWrites) {
  const std::string collection = testing::unique_collection("link");
  DatabaseLink link(options_for(server_.uri(), collection), DatabaseStart::in_background);
  EXPECT_FALSE(link.connected());
  EXPECT_EQ(link.agent(), nullptr);
  const auto batch = one_aggregate();
  const UpsertResult before = link.write(batch, nullptr);
  EXPECT_EQ(before.failed, 1u);
  EXPECT_EQ(before.batches, 0u) << "nothing may be sent without a connection";
  ASSERT_EQ(before.errors.size(), 1u);
  EXPECT_EQ(before.errors[0].code, errc::server_unreachable);
  EXPECT_FALSE(before.errors[0].outcome_unknown);
  EXPECT_TRUE(eventually([&] { return link.status().failed_attempts >= 3; }, 30s)) << "the link stopped retrying";
  EXPECT_FALSE(link.status().last_error.empty());

  server_.start();
  ASSERT_TRUE(eventually([&] { return link.connected(); }, 60s)) << link.status().last_error;
  EXPECT_TRUE(link.status().connected);
  bool unique_index = false;
  for (const auto& index : testing::read_indexes(server_.uri(), collection)) unique_index |= index.unique;
  EXPECT_TRUE(unique_index) << "connected before the indexes were made";
  const UpsertResult after = link.write(batch, nullptr);
  EXPECT_TRUE(after.ok()) << (after.errors.empty() ? "" : after.errors[0].message);
  EXPECT_EQ(testing::read_metrics(server_.uri(), collection).size(), 1u);

  link.close();
  EXPECT_THROW(link.write(batch, nullptr), Error);
}

TEST_F(DatabaseLinkTest, RequiredFailsAtOnceAndAMalformedUriFailsInEitherMode) {
  try {
    DatabaseLink link(options_for(server_.uri(), "unused"), DatabaseStart::required);
    ADD_FAILURE() << "connected to a server that is not running";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::server_unreachable) << e.what();
  }
  for (const auto start : {DatabaseStart::required, DatabaseStart::in_background}) {
    try {
      DatabaseLink link(options_for("http://not-a-mongodb-uri", "unused"), start);
      ADD_FAILURE() << "a malformed URI was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), errc::invalid_argument) << e.what();
    }
  }
}

TEST_F(DatabaseLinkTest, CloseStopsTheAttemptsPromptly) {
  DatabaseLink link(options_for(server_.uri(), "unused"), DatabaseStart::in_background);
  link.close();  // joins the thread: returns once the attempt in progress (refused at once) ends
  const auto attempts = link.status().failed_attempts;
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(link.status().failed_attempts, attempts) << "attempts continued after close()";
  EXPECT_FALSE(link.connected());
}

}  // namespace
}  // namespace flowmetrics::commands
