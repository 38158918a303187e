#include "core/merge.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace flowmetrics::core {
namespace {

using std::chrono::milliseconds;
using std::chrono::system_clock;

Metric metric(int sport, double value, std::int64_t ts_ms = 1'000) {
  return Metric{"10.0.0.1", "10.0.0.2", sport, 80, "tcp", system_clock::time_point(milliseconds(ts_ms)), value};
}

TEST(MergeMetrics, MergesRepeatedKeysInInputOrder) {
  std::vector<Metric> input{metric(1, 5), metric(2, 7), metric(1, 3), metric(1, 10)};
  input[0].packets = 2;
  input[2].packets = 3;
  input[3].bytes = 100;
  const MergedBatch batch = merge_metrics(input);
  ASSERT_EQ(batch.documents.size(), 2u);
  const MetricAggregate& first = batch.documents[0].aggregate;
  EXPECT_EQ(first.last, 10);
  EXPECT_EQ(first.sum, 18);
  EXPECT_EQ(first.count, 3u);
  EXPECT_EQ(first.min, 3);
  EXPECT_EQ(first.max, 10);
  EXPECT_EQ(first.packets, 5u);
  EXPECT_EQ(first.bytes, 100u);
  EXPECT_EQ(batch.documents[1].aggregate.last, 7);
  EXPECT_EQ(batch.document_of_item, (std::vector<std::uint32_t>{0, 1, 0, 0}));
  EXPECT_EQ(batch.documents[0].id, "10.0.0.1|10.0.0.2|1|80|TCP|1000");
}

TEST(MergeMetrics, CanonicalFormsOfOneKeyMerge) {
  std::vector<Metric> input{metric(1, 1), metric(1, 2)};
  input[1].protocol = "6";
  input[1].timestamp += std::chrono::microseconds(500);  // same millisecond
  const MergedBatch batch = merge_metrics(input);
  EXPECT_EQ(batch.documents.size(), 1u);
}

TEST(MergeMetrics, RejectsBadItemsByIndexAndKeepsTheRest) {
  std::vector<Metric> input{metric(1, 1), metric(70000, 2), metric(2, 3)};
  input.push_back(metric(3, 4));
  input.back().source_ip = "nope";
  const MergedBatch batch = merge_metrics(input);
  ASSERT_EQ(batch.rejected.size(), 2u);
  EXPECT_EQ(batch.rejected[0].index, 1u);
  EXPECT_EQ(batch.rejected[0].field, "source_port");
  EXPECT_EQ(batch.rejected[1].index, 3u);
  EXPECT_EQ(batch.rejected[1].field, "source_ip");
  EXPECT_EQ(batch.documents.size(), 2u);
  EXPECT_EQ(batch.document_of_item[1], MergedBatch::kRejected);
}

TEST(MergeMetrics, FiftyThousandMetricsOverTwoThousandKeys) {
  std::vector<Metric> input;
  for (int i = 0; i < 50'000; ++i) input.push_back(metric(i % 2'000, i));
  const MergedBatch batch = merge_metrics(input);
  ASSERT_EQ(batch.documents.size(), 2'000u);
  for (const auto& doc : batch.documents) EXPECT_EQ(doc.aggregate.count, 25u);
  // Key 0 received 0, 2000, ..., 48000.
  EXPECT_EQ(batch.documents[0].aggregate.sum, 2000.0 * (24 * 25 / 2));
  EXPECT_EQ(batch.documents[0].aggregate.last, 48'000);
}

}  // namespace
}  // namespace flowmetrics::core
