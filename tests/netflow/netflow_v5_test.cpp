#include <gtest/gtest.h>

#include "netflow/flow_decoder.hpp"
#include "packet_builder.hpp"

namespace flowmetrics::netflow {
namespace {

using test::Harness;
using test::kExportMs;
using test::kExportSecs;
using test::ms_of;

// Two records; sysUptime 100 s, export time kExportSecs + 0.5 s.
std::vector<std::uint8_t> two_records(std::uint32_t sequence = 0, std::uint16_t sampling = 0) {
  auto b = test::v5_header(2, 100'000, kExportSecs, 500'000'000, sequence, sampling);
  test::v5_record(b, "10.0.0.1", "192.168.1.200", 40000, 443, 6, 10, 1500, 90'000, 99'000);
  test::v5_record(b, "10.0.0.2", "8.8.8.8", 53000, 53, 17, 1, 80, 95'000, 95'000);
  return b.build();
}

TEST(NetflowV5, DecodesRecordsWithWallClockTimes) {
  Harness h;
  const auto metrics = h.decode(two_records());
  ASSERT_EQ(metrics.size(), 2u);
  const Metric& m = metrics[0];
  EXPECT_EQ(m.source_ip, "10.0.0.1");
  EXPECT_EQ(m.dest_ip, "192.168.1.200");
  EXPECT_EQ(m.source_port, 40000);
  EXPECT_EQ(m.dest_port, 443);
  EXPECT_EQ(m.protocol, "6");
  EXPECT_EQ(m.bytes, 1500u);
  EXPECT_EQ(m.packets, 10u);
  EXPECT_EQ(m.value, 1500.0);
  EXPECT_EQ(m.flows, 1u);
  // Last = 99 s of uptime, 1 s before the header's 100 s, which is kExportMs + 500.
  EXPECT_EQ(ms_of(m), kExportMs + 500 - 1000);
  EXPECT_EQ(metrics[1].protocol, "17");
  EXPECT_EQ(metrics[1].dest_ip, "8.8.8.8");

  const ExporterStats s = h.stats();
  EXPECT_EQ(s.version, 5);
  EXPECT_EQ(s.packets, 1u);
  EXPECT_EQ(s.records, 2u);
  EXPECT_EQ(s.malformed, 0u);
}

TEST(NetflowV5, StartTimeOption) {
  Harness h(DecoderOptions{.timestamp = FlowTime::start});
  const auto metrics = h.decode(two_records());
  ASSERT_EQ(metrics.size(), 2u);
  EXPECT_EQ(ms_of(metrics[0]), kExportMs + 500 - 10'000);
}

TEST(NetflowV5, UptimeWrapBetweenFlowAndHeader) {
  Harness h;
  auto b = test::v5_header(1, 1000, kExportSecs, 0, 0);
  test::v5_record(b, "10.0.0.1", "10.0.0.2", 1, 2, 6, 1, 100, 0xffffff00u, 0xffffff00u);
  const auto metrics = h.decode(b.build());
  ASSERT_EQ(metrics.size(), 1u);
  EXPECT_EQ(ms_of(metrics[0]), kExportMs - 1000 - 256);
}

TEST(NetflowV5, HeaderSamplingScalesBytesAndPackets) {
  Harness h;
  const auto metrics = h.decode(two_records(0, 0x4000 | 10));  // mode 1, interval 10
  ASSERT_EQ(metrics.size(), 2u);
  EXPECT_EQ(metrics[0].bytes, 15000u);
  EXPECT_EQ(metrics[0].packets, 100u);
  EXPECT_EQ(metrics[0].value, 15000.0);

  Harness off(DecoderOptions{.apply_sampling = false});
  EXPECT_EQ(off.decode(two_records(0, 0x4000 | 10))[0].bytes, 1500u);
}

TEST(NetflowV5, SequenceCountsMissedRecords) {
  Harness h;
  h.decode(two_records(100));  // next expected: 102
  h.decode(two_records(102));
  EXPECT_EQ(h.stats().sequence_gaps, 0u);
  h.decode(two_records(110));  // 104..109 missed
  EXPECT_EQ(h.stats().sequence_gaps, 6u);
  h.decode(two_records(0));  // exporter restart: resynchronise, no gap
  h.decode(two_records(2));
  EXPECT_EQ(h.stats().sequence_gaps, 6u);
  h.decode(two_records(0xffffffffu));  // a jump this large is a restart too
  h.decode(two_records(1));            // wrapped around 2^32
  EXPECT_EQ(h.stats().sequence_gaps, 6u);
}

TEST(NetflowV5, EveryTruncationIsMalformedAndDecodesNothing) {
  const auto full = two_records();
  Harness h;
  for (std::size_t length = 0; length < full.size(); ++length) {
    const std::vector<std::uint8_t> cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(length));
    EXPECT_TRUE(h.decode(cut).empty()) << length;
  }
  std::uint64_t malformed = 0;
  for (const auto& s : h.decoder.stats()) malformed += s.malformed;
  EXPECT_EQ(malformed, full.size());
}

TEST(NetflowV5, ZeroCountIsMalformed) {
  Harness h;
  EXPECT_TRUE(h.decode(test::v5_header(0, 1, kExportSecs, 0, 0).build()).empty());
  EXPECT_EQ(h.stats().malformed, 1u);
}

TEST(NetflowV5, UnknownVersionIsCountedAgainstTheExporter) {
  Harness h;
  test::PacketBuilder b;
  b.u16(7).u16(1).u32(0).u32(0).u32(0);
  EXPECT_TRUE(h.decode(b.build()).empty());
  const ExporterStats s = h.stats();
  EXPECT_EQ(s.version, 0);
  EXPECT_EQ(s.packets, 1u);
  EXPECT_EQ(s.malformed, 1u);
}

TEST(NetflowV5, Ipv6AndMappedExportersAreNamed) {
  Harness h;
  h.decode(two_records(), test::exporter_v6("2001:db8::7"));
  h.decode(two_records(), test::exporter_v6("::ffff:198.51.100.9"));
  EXPECT_EQ(h.stats("[2001:db8::7]").records, 2u);
  EXPECT_EQ(h.stats("198.51.100.9").records, 2u);
}

}  // namespace
}  // namespace flowmetrics::netflow
