#include "mongo/rollups.hpp"

#include <gtest/gtest.h>

namespace flowmetrics::mongo {
namespace {

constexpr std::int64_t kT = 1'796'216'400'000;  // 2026-12-02T13:00:00Z

KeyedAggregate item(std::string source, std::uint16_t dport, std::int64_t t, std::uint64_t bytes) {
  MetricKey key{std::move(source), "192.168.0.1", 40000, dport, "TCP", t};
  MetricAggregate a;
  a.add(Metric{key.source_ip, key.dest_ip, key.source_port, key.dest_port, key.protocol,
               std::chrono::system_clock::time_point(std::chrono::milliseconds(t)), 1.0, 1, bytes, 1});
  std::string id = encode_document_id(key);
  return {std::move(key), std::move(id), a};
}

TEST(TotalsCollections, NamedByDimensionAndShard) {
  EXPECT_EQ(totals_collection("flows", TotalsTier::minute, "source_ip", kT + 59 * kMinuteMs),
            "flows_totals_1m_source_ip_2026120213");
  EXPECT_EQ(totals_collection("flows", TotalsTier::hour, "protocol", kT + 10 * kHourMs),
            "flows_totals_1h_protocol_20261202");
  EXPECT_EQ(totals_shard_of("flows", TotalsTier::minute, "flows_totals_1m_source_ip_2026120213"), kT);
  EXPECT_EQ(totals_shard_of("flows", TotalsTier::hour, "flows_totals_1h_dest_port_20261202"), kT - 13 * kHourMs);
  EXPECT_EQ(totals_shard_of("flows", TotalsTier::hour, "flows_totals_1m_source_ip_2026120213"), std::nullopt);
  EXPECT_EQ(totals_shard_of("flows", TotalsTier::minute, "flows_totals_1m_source_ip_2026023113"), std::nullopt);
  EXPECT_EQ(totals_shard_of("flows", TotalsTier::minute, "flows_totals_1m_bogus_2026120213"), std::nullopt);
  EXPECT_EQ(totals_shard_of("flows", TotalsTier::minute, "other_totals_1m_all_2026120213"), std::nullopt);
  EXPECT_EQ(totals_shard_of("flows", TotalsTier::minute, "flows_totals_1m_"), std::nullopt);
}

TEST(TotalsValues, RenderAsTheQueryShowsThem) {
  const MetricKey v6{"2001:db8::1", "10.0.0.2", 443, 53, "UDP", 0};
  EXPECT_EQ(totals_value(1, v6).size(), 16u);
  EXPECT_EQ(render_totals_value(FlowField::source_ip, totals_value(1, v6)), "2001:db8::1");
  EXPECT_EQ(render_totals_value(FlowField::dest_ip, totals_value(2, v6)), "10.0.0.2");
  EXPECT_EQ(render_totals_value(FlowField::source_port, totals_value(3, v6)), "443");
  EXPECT_EQ(render_totals_value(FlowField::dest_port, totals_value(4, v6)), "53");
  EXPECT_EQ(render_totals_value(FlowField::protocol, totals_value(5, v6)), "UDP");
  EXPECT_EQ(totals_value(0, v6), "");
  // Ports sort like numbers.
  EXPECT_LT(totals_value(3, MetricKey{"1.1.1.1", "1.1.1.1", 9, 0, "TCP", 0}),
            totals_value(3, MetricKey{"1.1.1.1", "1.1.1.1", 10, 0, "TCP", 0}));
}

TEST(BuildRollups, SumsPerDimensionBucketAndTier) {
  const std::vector<KeyedAggregate> written{item("10.0.0.1", 443, kT, 100), item("10.0.0.2", 443, kT, 10),
                                            item("10.0.0.1", 80, kT + kMinuteMs, 1000)};
  const RollupBatch batch = build_rollups("flows", written);
  ASSERT_EQ(batch.hour.size(), 3u);  // three five-tuples, one hour
  // 6 dimensions x (2 minutes + 1 hour)
  ASSERT_EQ(batch.totals.size(), 18u);
  for (const TotalsDocument& doc : batch.totals) {
    EXPECT_EQ(doc.collection, totals_collection("flows", doc.tier, doc.dimension, doc.bucket_ms));
    if (doc.dimension == "source_ip" && doc.tier == TotalsTier::hour) {
      ASSERT_EQ(doc.entries.size(), 2u);
      EXPECT_EQ(render_totals_value(FlowField::source_ip, doc.entries[0].first), "10.0.0.1");
      EXPECT_EQ(doc.entries[0].second.bytes, 1100u);
      EXPECT_EQ(doc.entries[1].second.bytes, 10u);
    }
    if (doc.dimension == "all" && doc.tier == TotalsTier::minute && doc.bucket_ms == kT) {
      ASSERT_EQ(doc.entries.size(), 1u);
      EXPECT_EQ(doc.entries[0].second.bytes, 110u);
      EXPECT_EQ(doc.entries[0].second.count, 2u);
    }
  }
  // Buckets older than a tier's horizon are left out (their shards are being dropped).
  const RollupBatch recent = build_rollups("flows", written, TotalsHorizon{kT + kMinuteMs, kT});
  EXPECT_EQ(recent.totals.size(), 12u);  // 6 dimensions x (1 minute + 1 hour)
  EXPECT_EQ(build_rollups("flows", written, TotalsHorizon{kT + kHourMs, kT + kHourMs}).totals.size(), 0u);
  // The same items give the same documents (a replayed flush rebuilds what it wrote).
  const RollupBatch again = build_rollups("flows", written);
  ASSERT_EQ(again.totals.size(), batch.totals.size());
  for (std::size_t i = 0; i < again.totals.size(); ++i) {
    EXPECT_EQ(again.totals[i].collection, batch.totals[i].collection);
    EXPECT_EQ(again.totals[i].entries, batch.totals[i].entries);
  }
}

}  // namespace
}  // namespace flowmetrics::mongo
