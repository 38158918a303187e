#include "mongo/batch_planner.hpp"

#include <gtest/gtest.h>

#include "mongo/documents.hpp"

namespace flowmetrics::mongo {
namespace {

std::vector<KeyedAggregate> items(std::size_t n) {
  std::vector<KeyedAggregate> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    out[i].key = MetricKey{"10.0.0.1", "10.0.0.2", static_cast<std::uint16_t>(i), 80, "TCP", 0};
    out[i].id = encode_document_id(out[i].key);
  }
  return out;
}

TEST(PlanBatches, EmptyInputHasNoBatches) {
  EXPECT_TRUE(plan_batches({}, 10, 1000).empty());
}

TEST(PlanBatches, SplitsByOperationCount) {
  const auto input = items(23);
  const auto ranges = plan_batches(input, 10, 1'000'000);
  EXPECT_EQ(ranges, (std::vector<BatchRange>{{0, 10}, {10, 20}, {20, 23}}));
}

TEST(PlanBatches, SplitsByBytes) {
  const auto input = items(10);
  const std::size_t one = estimated_operation_bytes(input[0]);
  const auto ranges = plan_batches(input, 100, 3 * one + one / 2);
  ASSERT_EQ(ranges.size(), 4u);
  EXPECT_EQ(ranges[0], (BatchRange{0, 3}));
  EXPECT_EQ(ranges[3], (BatchRange{9, 10}));
}

TEST(PlanBatches, AnOversizedItemTravelsAlone) {
  const auto input = items(3);
  const auto ranges = plan_batches(input, 100, 1);
  EXPECT_EQ(ranges, (std::vector<BatchRange>{{0, 1}, {1, 2}, {2, 3}}));
}

TEST(PlanBatches, DefaultsMatchTheServerLimits) {
  const auto input = items(250'000 % 65536);
  const auto ranges = plan_batches(input, 100'000, 48'000'000);
  std::size_t covered = 0;
  for (const auto& r : ranges) {
    EXPECT_LE(r.end - r.begin, 100'000u);
    EXPECT_EQ(r.begin, covered);
    covered = r.end;
  }
  EXPECT_EQ(covered, input.size());
}

TEST(EstimatedOperationBytes, BoundsTheRealDocuments) {
  KeyedAggregate item;
  item.key = MetricKey{"2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff",
                       "2001:db8:aaaa:bbbb:cccc:dddd:eeee:fffe",
                       65535,
                       65535,
                       "UDPLITE",
                       253'402'300'799'999};
  item.id = encode_document_id(item.key);
  item.aggregate.add(Metric{"", "", 0, 0, "", {}, 1.5, 10, 10, 10});
  for (auto policy : {MergePolicy::replace, MergePolicy::aggregate}) {
    const std::size_t filter = build_id_filter(item)->len;
    EXPECT_LE(build_document(item, policy)->len + 32, estimated_operation_bytes(item));
    EXPECT_LE(build_update(item, policy)->len + filter + 32, estimated_operation_bytes(item));
  }
}

}  // namespace
}  // namespace flowmetrics::mongo
