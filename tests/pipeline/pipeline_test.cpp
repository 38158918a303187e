// The aggregation logic, with an in-memory table standing in for the writer: these tests
// are about buckets, flushing and accounting, not the database (the e2e tests cover that).
#include "pipeline/pipeline.hpp"

#include <gtest/gtest.h>

#include <map>
#include <mutex>

#include "test_database.hpp"

namespace flowmetrics::pipeline {
namespace {

using namespace std::chrono_literals;
using flowmetrics::testing::eventually;

class TableWriter final : public AggregateWriter {
 public:
  UpsertResult write(std::span<const KeyedAggregate> batch) override {
    std::lock_guard lock(mu_);
    UpsertResult result;
    result.input = batch.size();
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (fail_next_ > 0) {
        --fail_next_;
        result.errors.push_back(ItemError{i, errc::server_unreachable, "", "down", false});
        ++result.failed;
        continue;
      }
      table_[batch[i].id].add(batch[i].aggregate);
      ++writes_per_key_[batch[i].id];
      ++result.written;
    }
    return result;
  }
  std::map<std::string, MetricAggregate> table() {
    std::lock_guard lock(mu_);
    return table_;
  }
  std::map<std::string, int> writes() {
    std::lock_guard lock(mu_);
    return writes_per_key_;
  }
  void fail_next(int n) {
    std::lock_guard lock(mu_);
    fail_next_ = n;
  }

 private:
  std::mutex mu_;
  std::map<std::string, MetricAggregate> table_;
  std::map<std::string, int> writes_per_key_;
  int fail_next_ = 0;
};

Metric at(std::int64_t ms, int port, double value) {
  return Metric{"10.0.0.1", "10.0.0.2", port,
                80,         "TCP",      std::chrono::system_clock::time_point(std::chrono::milliseconds(ms)),
                value};
}

PipelineOptions options(std::chrono::seconds width) {
  PipelineOptions o;
  o.bucket_width = width;
  o.writers = 3;
  o.max_pending_keys = 1'000;
  o.flush_interval = 20ms;
  o.grace = 0s;
  return o;
}

TEST(Pipeline, AggregatesPerKeyAndBucketAndAccountsForEveryRecord) {
  TableWriter writer;
  PipelineStats stats;
  Pipeline pipeline(options(60s), writer, stats);
  std::vector<Metric> metrics{at(0, 1, 1), at(59'999, 1, 2), at(60'000, 1, 4), at(1'000, 2, 8)};
  metrics.push_back(at(0, 70'000, 1));  // invalid port
  pipeline.submit(metrics, "test");
  ASSERT_TRUE(pipeline.drain(5s));
  const auto table = writer.table();
  ASSERT_EQ(table.size(), 3u);
  EXPECT_EQ(table.at("10.0.0.1|10.0.0.2|1|80|TCP|0").sum, 3);
  EXPECT_EQ(table.at("10.0.0.1|10.0.0.2|1|80|TCP|0").count, 2u);
  EXPECT_EQ(table.at("10.0.0.1|10.0.0.2|1|80|TCP|60000").sum, 4);
  EXPECT_EQ(table.at("10.0.0.1|10.0.0.2|2|80|TCP|0").sum, 8);
  EXPECT_EQ(stats.received.total(), 5u);
  EXPECT_EQ(stats.accepted.load(), 4u);
  EXPECT_EQ(stats.rejected.total(), 1u);
  EXPECT_EQ(stats.written.load(), 4u);
  EXPECT_EQ(stats.records_pending.load(), 0u);
  EXPECT_EQ(stats.rejected.snapshot().begin()->first.second, "invalid_port");
}

TEST(Pipeline, ZeroWidthKeepsExactTimestamps) {
  TableWriter writer;
  PipelineStats stats;
  Pipeline pipeline(options(0s), writer, stats);
  std::vector<Metric> metrics{at(1, 1, 1), at(2, 1, 1), at(2, 1, 1)};
  pipeline.submit(metrics, "test");
  ASSERT_TRUE(pipeline.drain(5s));
  EXPECT_EQ(writer.table().size(), 2u);
}

TEST(Pipeline, AClosedBucketIsFlushedOnceTheWatermarkPassesIt) {
  TableWriter writer;
  PipelineStats stats;
  Pipeline pipeline(options(60s), writer, stats);
  std::vector<Metric> early{at(0, 1, 1), at(10'000, 1, 1)};
  pipeline.submit(early, "test");
  std::this_thread::sleep_for(100ms);
  EXPECT_TRUE(writer.table().empty()) << "bucket [0, 60 s) is still open";
  std::vector<Metric> later{at(60'000, 2, 1)};
  pipeline.submit(later, "test");
  ASSERT_TRUE(eventually([&] { return writer.table().size() == 1; }));
  EXPECT_EQ(writer.table().begin()->second.count, 2u);
  ASSERT_TRUE(pipeline.drain(5s));
  EXPECT_EQ(writer.table().size(), 2u);
}

TEST(Pipeline, SaturatesAtTheMemoryBoundAndRecoversWhenWritten) {
  TableWriter writer;
  PipelineStats stats;
  PipelineOptions o = options(60s);
  o.max_pending_keys = 100;
  o.flush_interval = 10s;  // only the bound or the drain flushes here
  o.writers = 1;
  Pipeline pipeline(o, writer, stats);
  writer.fail_next(1'000'000);  // the "database" is down: nothing gets written
  std::vector<Metric> metrics;
  for (int i = 0; i < 100; ++i) metrics.push_back(at(0, i, 1));
  pipeline.submit(metrics, "test");
  EXPECT_TRUE(eventually([&] { return pipeline.saturated(); }));
  EXPECT_FALSE(pipeline.wait_for_capacity(50ms));
  writer.fail_next(0);  // back
  EXPECT_TRUE(pipeline.wait_for_capacity(10s));
  ASSERT_TRUE(pipeline.drain(5s));
  EXPECT_EQ(stats.written.load(), 100u);
  EXPECT_GE(stats.write_retries.load(), 1u);
}

TEST(Pipeline, ADrainThatTimesOutCountsTheRestAsFailed) {
  TableWriter writer;
  PipelineStats stats;
  Pipeline pipeline(options(60s), writer, stats);
  writer.fail_next(1'000'000);
  std::vector<Metric> metrics{at(0, 1, 1), at(0, 2, 1), at(0, 2, 1)};
  pipeline.submit(metrics, "test");
  EXPECT_FALSE(pipeline.drain(300ms));
  EXPECT_EQ(stats.failed.load(), 3u);
  EXPECT_EQ(stats.written.load(), 0u);
  EXPECT_EQ(stats.records_pending.load(), 0u);
}

}  // namespace
}  // namespace flowmetrics::pipeline
