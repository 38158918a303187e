// The binary key renders exactly the text the text path produced (make_metric_key +
// encode_document_id), and hashes/partitions stably.
#include "core/flow_key.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <cstring>
#include <set>

#include "flowmetrics/validation.hpp"

namespace flowmetrics {
namespace {

Metric metric(std::string source, std::string dest, std::string protocol, std::int64_t ms = 1732530000123) {
  Metric m;
  m.source_ip = std::move(source);
  m.dest_ip = std::move(dest);
  m.source_port = 5353;
  m.dest_port = 53;
  m.protocol = std::move(protocol);
  m.timestamp = Timestamp(std::chrono::milliseconds(ms));
  m.value = 1.5;
  return m;
}

void expect_same_text(const Metric& m) {
  MetricKey text;
  ASSERT_FALSE(make_metric_key(m, text).has_value()) << m.source_ip << " " << m.dest_ip << " " << m.protocol;
  FlowKey key;
  ASSERT_EQ(make_flow_key(m, key), KeyRejection::none);
  const MetricKey rendered = render_metric_key(key);
  EXPECT_EQ(rendered, text);
  EXPECT_EQ(encode_document_id(rendered), encode_document_id(text));
  EXPECT_EQ(flow_key_from_metric_key(text), key);
}

TEST(FlowKey, RendersTheTextPathsCanonicalFormsByteForByte) {
  const char* addresses[] = {"0.0.0.0",
                             "10.0.0.1",
                             "255.255.255.255",
                             "192.168.100.9",
                             "::",
                             "::1",
                             "2001:db8::1",
                             "2001:DB8:0:0:0:0:0:1",
                             "::ffff:1.2.3.4",
                             "::FFFF:10.0.0.1",
                             "::1.2.3.4",
                             "::0.0.1.0",
                             "fe80::1:2:3:4",
                             "1:0:0:2:0:0:0:3",
                             "1:2:3:4:5:6:7:8",
                             "::ffff:0:1.2.3.4",
                             "64:ff9b::1.2.3.4",
                             "2001:db8:0:1:1:1:1:1"};
  for (const char* s : addresses) {
    for (const char* d : addresses) expect_same_text(metric(s, d, "udp"));
  }
  for (int p = 0; p < 256; ++p) expect_same_text(metric("10.0.0.1", "::1", std::to_string(p)));
  for (const char* name : {"tcp", "Udp", "ICMP", "ipv6-icmp", "ospfigp", "ipv4", "udp-lite", "sctp"}) {
    expect_same_text(metric("10.0.0.1", "10.0.0.2", name));
  }
}

TEST(FlowKey, RefusesWhatTheTextPathRefusesWithTheSameLabels) {
  FlowKey key;
  EXPECT_EQ(make_flow_key(metric("10.0.0.256", "10.0.0.1", "tcp"), key), KeyRejection::invalid_ip);
  EXPECT_EQ(make_flow_key(metric("10.0.0.1", "010.0.0.1", "tcp"), key), KeyRejection::invalid_ip);
  EXPECT_EQ(make_flow_key(metric("10.0.0.1", "10.0.0.2", "tcpx"), key), KeyRejection::invalid_protocol);
  EXPECT_EQ(make_flow_key(metric("10.0.0.1", "10.0.0.2", "256"), key), KeyRejection::invalid_protocol);
  EXPECT_EQ(make_flow_key(metric("10.0.0.1", "10.0.0.2", "tcp", -1), key), KeyRejection::invalid_timestamp);
  auto m = metric("10.0.0.1", "10.0.0.2", "tcp");
  m.dest_port = 65536;
  EXPECT_EQ(make_flow_key(m, key), KeyRejection::invalid_port);
  m.dest_port = 1;
  m.value = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(make_flow_key(m, key), KeyRejection::invalid_value);
  EXPECT_EQ(rejection_label(KeyRejection::invalid_ip), "invalid_ip");
}

TEST(FlowKey, BinaryFieldsBuildTheSameKeyAsText) {
  const std::uint8_t src[4] = {10, 0, 0, 1};
  std::uint8_t dst[16] = {};
  dst[10] = dst[11] = 0xff;
  dst[12] = 1, dst[13] = 2, dst[14] = 3, dst[15] = 4;
  FlowKey key;
  ASSERT_EQ(make_flow_key(FlowAddress::ipv4(src), FlowAddress::ipv6(dst), 5353, 53, 17, 1732530000123, key),
            KeyRejection::none);
  FlowKey from_text;
  ASSERT_EQ(make_flow_key(metric("10.0.0.1", "::ffff:1.2.3.4", "17"), from_text), KeyRejection::none);
  EXPECT_EQ(key, from_text);
  EXPECT_EQ(hash_flow_key(key), hash_flow_key(from_text));
  EXPECT_EQ(encode_document_id(render_metric_key(key)), "10.0.0.1|::ffff:1.2.3.4|5353|53|UDP|1732530000123");
  EXPECT_EQ(make_flow_key(FlowAddress::ipv4(src), FlowAddress::ipv4(src), 1, 2, 6, kMaxFlowTimestampMs + 1, key),
            KeyRejection::invalid_timestamp);
}

TEST(FlowKey, ParseIpTakesExactlyWhatInetPtonTakes) {
  // parse_ip reads dotted quads itself: it must agree with inet_pton on every edge.
  const char* texts[] = {
      "0.0.0.0",   "1.2.3.4",     "255.255.255.255", "256.1.1.1", "1.2.3",  "1.2.3.4.5",      "01.2.3.4", "1.2.3.04",
      "1.2.3.0",   "10.0.0.1",    "1..2.3",          ".1.2.3",    "1.2.3.", "1.2.3.4 ",       " 1.2.3.4", "1.2.3.a",
      "1.2.3.255", "1.2.3.2550",  "1.2.3.00",        "999.1.1.1", "::1",    "::ffff:1.2.3.4", "1.2.3.-4", "",
      "1.2.3.4/",  "100.200.30.4"};
  for (const char* text : texts) {
    std::uint8_t v4[4] = {};
    std::uint8_t v6[16] = {};
    const bool is_v4 = inet_pton(AF_INET, text, v4) == 1;
    const bool is_v6 = !is_v4 && inet_pton(AF_INET6, text, v6) == 1;
    const auto parsed = parse_ip(text);
    ASSERT_EQ(parsed.has_value(), is_v4 || is_v6) << text;
    if (!parsed) continue;
    EXPECT_EQ(parsed->v6, is_v6) << text;
    std::array<std::uint8_t, 16> expected{};
    std::memcpy(expected.data(), is_v4 ? v4 : v6, is_v4 ? 4 : 16);
    EXPECT_EQ(parsed->bytes, expected) << text;
  }
}

TEST(FlowKey, TheHashIsStableAndThePartitionComesFromItsHighBits) {
  FlowKey key;
  ASSERT_EQ(make_flow_key(metric("10.0.0.1", "10.0.0.2", "tcp", 1732530000000), key), KeyRejection::none);
  // Flush markers name partitions: this value may never change (docs/durability.md).
  EXPECT_EQ(hash_flow_key(key), 0x89e41d14dea89161ULL) << std::hex << hash_flow_key(key);
  EXPECT_EQ(partition_of(0x7fffffff00000000ULL, 2), 0u);
  EXPECT_EQ(partition_of(0x80000000ffffffffULL, 2), 1u);
  // Every partition gets about its share.
  std::size_t counts[3] = {};
  std::set<std::uint64_t> low_bits;
  for (int i = 0; i < 30000; ++i) {
    auto m = metric("10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256), "10.0.0.2", "tcp");
    ASSERT_EQ(make_flow_key(m, key), KeyRejection::none);
    const auto h = hash_flow_key(key);
    ++counts[partition_of(h, 3)];
    if (partition_of(h, 2) == 0) low_bits.insert(h & 0x7f);
  }
  for (auto c : counts) EXPECT_NEAR(static_cast<double>(c), 10000.0, 600.0);
  EXPECT_EQ(low_bits.size(), 128u);  // one partition's keys still use every tag value
}

TEST(FlowKey, BucketingMovesTheTimestampToItsBucketsStart) {
  FlowKey key;
  key.timestamp_ms = 1732530012345;
  EXPECT_EQ(bucketed(key, 60000).timestamp_ms, 1732530000000);
  EXPECT_EQ(bucketed(key, 0).timestamp_ms, 1732530012345);
}

}  // namespace
}  // namespace flowmetrics
