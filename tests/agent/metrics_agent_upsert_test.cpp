#include <gtest/gtest.h>

#include <thread>

#include "flowmetrics/metrics_agent.hpp"
#include "test_database.hpp"

namespace flowmetrics {
namespace {

using namespace flowmetrics::testing;
using std::chrono::milliseconds;
using std::chrono::system_clock;

constexpr std::int64_t kBaseMs = 1'732'530'000'000;

Metric flow(int source_port, double value, std::int64_t ts_ms = kBaseMs) {
  return Metric{"10.1.0.1", "10.2.0.1", source_port, 443, "tcp", system_clock::time_point(milliseconds(ts_ms)), value};
}

std::string id_of(int source_port, std::int64_t ts_ms = kBaseMs) {
  return "10.1.0.1|10.2.0.1|" + std::to_string(source_port) + "|443|TCP|" + std::to_string(ts_ms);
}

AgentOptions options_for(MergePolicy policy) {
  AgentOptions options;
  options.pool.min_size = 2;
  options.pool.max_size = 16;
  options.merge_policy = policy;
  return options;
}

class UpsertTest : public ::testing::Test {
 protected:
  std::string collection_ = unique_collection("upsert");
};

TEST_F(UpsertTest, TheSeedExampleWritesOneDocumentWithTheDescribedFields) {
  MetricsAgent agent(test_uri(), kTestDatabase, collection_, options_for(MergePolicy::replace));
  agent.create_metrics_indexes();
  std::vector<Metric> metrics{
      {"192.168.1.1", "192.168.1.2", 8080, 80, "TCP", system_clock::time_point(milliseconds(kBaseMs)), 123.45}};
  const UpsertResult result = agent.batch_upsert_metrics(metrics);
  EXPECT_EQ(result.input, 1u);
  EXPECT_EQ(result.written, 1u);
  EXPECT_EQ(result.upserted, 1u);
  const auto docs = read_metrics(test_uri(), collection_);
  ASSERT_EQ(docs.size(), 1u);
  const StoredMetric& doc = docs.at("192.168.1.1|192.168.1.2|8080|80|TCP|" + std::to_string(kBaseMs));
  EXPECT_EQ(doc.source_ip, "192.168.1.1");
  EXPECT_EQ(doc.dest_ip, "192.168.1.2");
  EXPECT_EQ(doc.source_port, 8080);
  EXPECT_EQ(doc.dest_port, 80);
  EXPECT_EQ(doc.protocol, "TCP");
  EXPECT_EQ(doc.timestamp_ms, kBaseMs);
  EXPECT_EQ(doc.value, 123.45);
}

TEST_F(UpsertTest, InsertThenUpdateKeepsOneDocumentPerKeyAndTheLastValue) {
  MetricsAgent agent(test_uri(), kTestDatabase, collection_, options_for(MergePolicy::replace));
  agent.create_metrics_indexes();
  std::vector<Metric> first{flow(1, 10), flow(2, 20), flow(3, 30)};
  UpsertResult result = agent.batch_upsert_metrics(first);
  EXPECT_EQ(result.upserted, 3u);
  std::vector<Metric> second{flow(2, 21), flow(3, 31), flow(4, 40), flow(3, 32)};
  result = agent.batch_upsert_metrics(second);
  EXPECT_EQ(result.written, 4u);
  EXPECT_EQ(result.documents, 3u);
  EXPECT_EQ(result.upserted, 1u);
  EXPECT_EQ(result.matched, 2u);
  EXPECT_EQ(result.modified, 2u);
  const auto docs = read_metrics(test_uri(), collection_);
  ASSERT_EQ(docs.size(), 4u);
  EXPECT_EQ(docs.at(id_of(1)).value, 10);
  EXPECT_EQ(docs.at(id_of(2)).value, 21);
  EXPECT_EQ(docs.at(id_of(3)).value, 32);  // the last occurrence in input order wins
  EXPECT_EQ(docs.at(id_of(4)).value, 40);
}

TEST_F(UpsertTest, AggregateSumsCountsAndKeepsExtremesAcrossCalls) {
  MetricsAgent agent(test_uri(), kTestDatabase, collection_, options_for(MergePolicy::aggregate));
  std::vector<Metric> first{flow(1, 5), flow(1, 7)};
  first[0].packets = 3;
  first[1].bytes = 1000;
  (void)agent.batch_upsert_metrics(first);
  std::vector<Metric> second{flow(1, 2), flow(1, 11)};
  second[1].flows = 1;
  (void)agent.batch_upsert_metrics(second);
  const auto docs = read_metrics(test_uri(), collection_);
  ASSERT_EQ(docs.size(), 1u);
  const StoredMetric& doc = docs.at(id_of(1));
  EXPECT_EQ(doc.value, 25);
  EXPECT_EQ(doc.count, 4);
  EXPECT_EQ(doc.min, 2);
  EXPECT_EQ(doc.max, 11);
  EXPECT_EQ(doc.packets, 3);
  EXPECT_EQ(doc.bytes, 1000);
  EXPECT_EQ(doc.flows, 1);
}

TEST_F(UpsertTest, FiftyThousandMetricsOverTwoThousandKeysInOneCall) {
  MetricsAgent agent(test_uri(), kTestDatabase, collection_, options_for(MergePolicy::aggregate));
  agent.create_metrics_indexes();
  std::vector<Metric> metrics;
  metrics.reserve(50'000);
  for (int i = 0; i < 50'000; ++i) metrics.push_back(flow(i % 2'000, 1.0 + i % 7));
  const UpsertResult result = agent.batch_upsert_metrics(metrics);
  EXPECT_EQ(result.written, 50'000u);
  EXPECT_EQ(result.documents, 2'000u);
  EXPECT_EQ(result.upserted, 2'000u);
  const auto docs = read_metrics(test_uri(), collection_);
  ASSERT_EQ(docs.size(), 2'000u);
  for (int key = 0; key < 2'000; ++key) {
    double sum = 0, min = 1e9, max = -1e9;
    for (int i = key; i < 50'000; i += 2'000) {
      const double v = 1.0 + i % 7;
      sum += v;
      min = std::min(min, v);
      max = std::max(max, v);
    }
    const StoredMetric& doc = docs.at(id_of(key));
    ASSERT_EQ(doc.count, 25) << key;
    ASSERT_EQ(doc.value, sum) << key;
    ASSERT_EQ(doc.min, min) << key;
    ASSERT_EQ(doc.max, max) << key;
  }
}

TEST_F(UpsertTest, BatchesAreSplitAtTheConfiguredLimit) {
  AgentOptions options = options_for(MergePolicy::aggregate);
  options.max_batch_operations = 7;
  MetricsAgent agent(test_uri(), kTestDatabase, collection_, options);
  std::vector<Metric> metrics;
  for (int i = 0; i < 100; ++i) metrics.push_back(flow(i, 1));
  UpsertResult result = agent.batch_upsert_metrics(metrics);
  EXPECT_EQ(result.batches, 15u);  // ceil(100 / 7) inserts
  EXPECT_EQ(result.upserted, 100u);
  result = agent.batch_upsert_metrics(metrics);
  EXPECT_EQ(result.batches, 30u);  // each chunk: an insert that finds the keys, then the update
  EXPECT_EQ(result.matched, 100u);
  const auto docs = read_metrics(test_uri(), collection_);
  ASSERT_EQ(docs.size(), 100u);
  for (const auto& [id, doc] : docs) EXPECT_EQ(doc.count, 2) << id;
}

TEST_F(UpsertTest, BadItemsAreRejectedByIndexAndFieldAndGoodOnesWritten) {
  MetricsAgent agent(test_uri(), kTestDatabase, collection_, options_for(MergePolicy::replace));
  std::vector<Metric> metrics;
  for (int i = 0; i < 10; ++i) metrics.push_back(flow(i, i));
  metrics[2].source_ip = "10.1.0.300";
  metrics[5].protocol = "XTP-9000";
  metrics[7].value = std::numeric_limits<double>::quiet_NaN();
  try {
    (void)agent.batch_upsert_metrics(metrics);
    FAIL() << "bad items were accepted";
  } catch (const UpsertError& e) {
    const UpsertResult& result = e.result();
    EXPECT_EQ(result.input, 10u);
    EXPECT_EQ(result.rejected, 3u);
    EXPECT_EQ(result.written, 7u);
    EXPECT_EQ(result.failed, 0u);
    ASSERT_EQ(result.errors.size(), 3u);
    EXPECT_EQ(result.errors[0].index, 2u);
    EXPECT_EQ(result.errors[0].field, "source_ip");
    EXPECT_EQ(result.errors[1].index, 5u);
    EXPECT_EQ(result.errors[1].field, "protocol");
    EXPECT_EQ(result.errors[2].index, 7u);
    EXPECT_EQ(result.errors[2].field, "value");
    EXPECT_NE(std::string(e.what()).find("item 2 field source_ip"), std::string::npos) << e.what();
  }
  EXPECT_EQ(read_metrics(test_uri(), collection_).size(), 7u);
}

// Eight threads share one agent and write the same keys at once: no duplicates, and every
// increment lands exactly once (aggregate) / every document holds its one value (replace).
TEST_F(UpsertTest, EightThreadsOnOverlappingKeysAggregate) {
  MetricsAgent agent(test_uri(), kTestDatabase, collection_, options_for(MergePolicy::aggregate));
  agent.create_metrics_indexes();
  constexpr int kThreads = 8, kRounds = 3, kKeys = 200;
  std::vector<std::thread> threads;
  std::atomic<std::size_t> written{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < kRounds; ++round) {
        std::vector<Metric> metrics;
        // Each thread walks the keys from a different starting point so that creations race.
        for (int k = 0; k < kKeys; ++k) metrics.push_back(flow((k + t * 37) % kKeys, 1.0 + t));
        try {
          written += agent.batch_upsert_metrics(metrics).written;
        } catch (const Error& e) {
          ADD_FAILURE() << "thread " << t << ": " << e.what();
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(written.load(), std::size_t{kThreads * kRounds * kKeys});
  const auto docs = read_metrics(test_uri(), collection_);
  ASSERT_EQ(docs.size(), std::size_t{kKeys});
  const double expected_sum = kRounds * (kThreads * (kThreads + 1) / 2.0);
  for (const auto& [id, doc] : docs) {
    EXPECT_EQ(doc.count, kThreads * kRounds) << id;
    EXPECT_EQ(doc.value, expected_sum) << id;
    EXPECT_EQ(doc.min, 1.0) << id;
    EXPECT_EQ(doc.max, kThreads) << id;
  }
}

TEST_F(UpsertTest, EightThreadsOnOverlappingKeysReplace) {
  MetricsAgent agent(test_uri(), kTestDatabase, collection_, options_for(MergePolicy::replace));
  agent.create_metrics_indexes();
  constexpr int kThreads = 8, kKeys = 300;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<Metric> metrics;
      for (int k = 0; k < kKeys; ++k) {
        const int key = (k + t * 37) % kKeys;
        metrics.push_back(flow(key, key * 2.0));  // every thread writes the same value per key
      }
      try {
        (void)agent.batch_upsert_metrics(metrics);
      } catch (const Error& e) {
        ADD_FAILURE() << "thread " << t << ": " << e.what();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const auto docs = read_metrics(test_uri(), collection_);
  ASSERT_EQ(docs.size(), std::size_t{kKeys});
  for (int key = 0; key < kKeys; ++key) EXPECT_EQ(docs.at(id_of(key)).value, key * 2.0);
}

TEST_F(UpsertTest, IPv6KeysAreStoredCanonically) {
  MetricsAgent agent(test_uri(), kTestDatabase, collection_, options_for(MergePolicy::replace));
  std::vector<Metric> metrics{flow(1, 1), flow(1, 2)};
  metrics[0].source_ip = "2001:DB8:0::1";
  metrics[1].source_ip = "2001:db8::1";
  metrics[1].protocol = "6";
  const UpsertResult result = agent.batch_upsert_metrics(metrics);
  EXPECT_EQ(result.documents, 1u);
  const auto docs = read_metrics(test_uri(), collection_);
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs.begin()->first, "2001:db8::1|10.2.0.1|1|443|TCP|" + std::to_string(kBaseMs));
  EXPECT_EQ(docs.begin()->second.value, 2);
}

TEST_F(UpsertTest, UpsertAggregatesReportsWithoutThrowing) {
  MetricsAgent agent(test_uri(), kTestDatabase, collection_, options_for(MergePolicy::aggregate));
  std::vector<KeyedAggregate> items(3);
  for (int i = 0; i < 3; ++i) {
    items[i].key = MetricKey{"10.9.0.1", "10.9.0.2", static_cast<std::uint16_t>(i), 53, "UDP", kBaseMs};
    items[i].id = encode_document_id(items[i].key);
    items[i].aggregate.add(flow(0, 4.0));
  }
  const UpsertResult result = agent.upsert_aggregates(items);
  EXPECT_TRUE(result.ok());
  EXPECT_EQ(result.written, 3u);
  EXPECT_EQ(read_metrics(test_uri(), collection_).size(), 3u);
}

// A stamped write repeated (a replay after a crash, a re-send after an unknown outcome) is
// applied once; a later stamp of the stream applies; another stream is independent.
class StampedWrites : public UpsertTest, public ::testing::WithParamInterface<MergePolicy> {};

TEST_P(StampedWrites, ARepeatedStampIsAppliedOnce) {
  MetricsAgent agent(test_uri(), kTestDatabase, collection_, options_for(GetParam()));
  std::vector<KeyedAggregate> items(12);  // more than FerretDB's 10 updates per command
  for (int i = 0; i < 12; ++i) {
    items[i].key = MetricKey{"10.9.0.1", "10.9.0.2", static_cast<std::uint16_t>(i), 53, "UDP", kBaseMs};
    items[i].id = encode_document_id(items[i].key);
    items[i].aggregate.add(flow(0, 4.0));
  }
  const WriteStamp first{"s1-p0", 10}, later{"s1-p0", 11}, other{"s2-p0", 3};
  for (const WriteStamp* stamp : {&first, &first, &later, &later, &first, &other, &other}) {
    const UpsertResult result = agent.upsert_aggregates(items, std::nullopt, stamp);
    EXPECT_TRUE(result.ok()) << stamp->stream << " " << stamp->sequence;
    EXPECT_EQ(result.written, 12u);
  }
  const auto docs = read_metrics(test_uri(), collection_);
  ASSERT_EQ(docs.size(), 12u);
  for (const auto& [id, doc] : docs) {
    if (GetParam() == MergePolicy::aggregate) {
      EXPECT_EQ(doc.count, 3) << id << ": stamps 10, 11 and the other stream's 3";
      EXPECT_EQ(doc.value, 12.0) << id;
    } else {
      EXPECT_EQ(doc.value, 4.0) << id;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(BothPolicies, StampedWrites, ::testing::Values(MergePolicy::aggregate, MergePolicy::replace),
                         [](const auto& param_info) { return std::string(to_string(param_info.param)); });

TEST_F(UpsertTest, AClosedAgentRefusesWork) {
  MetricsAgent agent(test_uri(), kTestDatabase, collection_, options_for(MergePolicy::replace));
  agent.close();
  agent.close();
  std::vector<Metric> metrics{flow(1, 1)};
  try {
    (void)agent.batch_upsert_metrics(metrics);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::agent_closed);
  }
  EXPECT_FALSE(agent.ping());
}

}  // namespace
}  // namespace flowmetrics
