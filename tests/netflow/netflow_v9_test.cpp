#include <gtest/gtest.h>

#include "flowmetrics/validation.hpp"
#include "netflow/flow_decoder.hpp"
#include "packet_builder.hpp"

namespace flowmetrics::netflow {
namespace {

using test::Harness;
using test::kExportMs;
using test::kExportSecs;
using test::ms_of;
using test::PacketBuilder;

// The flow template used by most tests: 9 fields + LAST_SWITCHED (21) = 31 bytes a record.
void flow_template(PacketBuilder& b, std::uint16_t id = 256) {
  b.begin_set(0).u16(id).u16(10);
  b.fields({{8, 4}, {12, 4}, {7, 2}, {11, 2}, {4, 1}, {10, 2}, {1, 4}, {2, 4}, {22, 4}, {21, 4}});
  b.end_set(4);
}

void flow_record(PacketBuilder& b, const char* src, const char* dst, std::uint32_t octets, std::uint32_t packets) {
  b.ipv4(src).ipv4(dst).u16(1234).u16(80).u8(6).u16(3).u32(octets).u32(packets).u32(50'000).u32(59'000);
}

// Header: sysUptime 60 s, export time kExportSecs.
std::vector<std::uint8_t> template_and_data(std::uint32_t sequence = 1, std::uint32_t source_id = 7) {
  auto b = test::v9_header(60'000, kExportSecs, sequence, source_id);
  flow_template(b);
  b.begin_set(256);
  flow_record(b, "10.1.1.1", "10.2.2.2", 1000, 4);
  flow_record(b, "10.1.1.3", "10.2.2.4", 2000, 8);
  b.end_set(4);
  return b.build();
}

std::vector<std::uint8_t> data_only(std::uint32_t sequence, std::uint32_t source_id = 7, std::uint16_t id = 256) {
  auto b = test::v9_header(60'000, kExportSecs, sequence, source_id);
  b.begin_set(id);
  flow_record(b, "10.1.1.5", "10.2.2.6", 300, 3);
  b.end_set(4);
  return b.build();
}

std::vector<std::uint8_t> template_only(std::uint32_t sequence, std::uint32_t source_id = 7) {
  auto b = test::v9_header(60'000, kExportSecs, sequence, source_id);
  flow_template(b);
  return b.build();
}

TEST(NetflowV9, TemplateThenDataInOneDatagram) {
  Harness h;
  const auto metrics = h.decode(template_and_data());
  ASSERT_EQ(metrics.size(), 2u);
  EXPECT_EQ(metrics[0].source_ip, "10.1.1.1");
  EXPECT_EQ(metrics[0].dest_ip, "10.2.2.2");
  EXPECT_EQ(metrics[0].source_port, 1234);
  EXPECT_EQ(metrics[0].dest_port, 80);
  EXPECT_EQ(metrics[0].protocol, "6");
  EXPECT_EQ(metrics[0].bytes, 1000u);
  EXPECT_EQ(metrics[0].packets, 4u);
  EXPECT_EQ(ms_of(metrics[0]), kExportMs - 1000);  // LAST_SWITCHED 59 s, sysUptime 60 s
  EXPECT_EQ(metrics[1].bytes, 2000u);
  const ExporterStats s = h.stats("192.0.2.1", 7);
  EXPECT_EQ(s.version, 9);
  EXPECT_EQ(s.templates, 1u);
  EXPECT_EQ(s.records, 2u);
  EXPECT_EQ(s.malformed, 0u);
}

TEST(NetflowV9, Ipv6Addresses) {
  Harness h;
  auto b = test::v9_header(60'000, kExportSecs, 1, 1);
  b.begin_set(0).u16(300).u16(6).fields({{27, 16}, {28, 16}, {7, 2}, {11, 2}, {4, 1}, {1, 8}}).end_set(4);
  b.begin_set(300).ipv6("2001:db8:0:0:1:0:0:1").ipv6("fe80::1").u16(5).u16(6).u8(58).u64(1ull << 40).end_set(4);
  const auto metrics = h.decode(b.build());
  ASSERT_EQ(metrics.size(), 1u);
  EXPECT_EQ(metrics[0].source_ip, "2001:db8::1:0:0:1");
  EXPECT_EQ(metrics[0].dest_ip, "fe80::1");
  EXPECT_EQ(metrics[0].source_ip, normalize_ip(metrics[0].source_ip).value());
  EXPECT_EQ(metrics[0].protocol, "58");
  EXPECT_EQ(metrics[0].bytes, 1ull << 40);
  EXPECT_EQ(ms_of(metrics[0]), kExportMs);  // no flow time: the export time
}

TEST(NetflowV9, OptionsTemplateSamplingScalesLaterRecords) {
  Harness h;
  auto b = test::v9_header(60'000, kExportSecs, 1, 7);
  // Options template 257: scope "interface" (2), 4 bytes; SAMPLING_INTERVAL (34) 4 bytes,
  // SAMPLING_ALGORITHM (35) 1 byte.
  b.begin_set(1).u16(257).u16(4).u16(8).fields({{2, 4}, {34, 4}, {35, 1}}).end_set(4);
  b.begin_set(257).u32(3).u32(100).u8(2).end_set(4);
  flow_template(b);
  b.begin_set(256);
  flow_record(b, "10.1.1.1", "10.2.2.2", 1000, 4);
  b.end_set(4);
  const auto metrics = h.decode(b.build());
  ASSERT_EQ(metrics.size(), 1u);  // the options record is not a metric
  EXPECT_EQ(metrics[0].bytes, 100'000u);
  EXPECT_EQ(metrics[0].packets, 400u);
  EXPECT_EQ(h.stats("192.0.2.1", 7).templates, 2u);

  // FLOW_SAMPLER_RANDOM_INTERVAL (50) replaces it.
  auto c = test::v9_header(60'000, kExportSecs, 2, 7);
  c.begin_set(1).u16(258).u16(4).u16(4).fields({{4, 4}, {50, 2}}).end_set(4);
  c.begin_set(258).u32(1).u16(8).end_set(4);
  h.decode(c.build());
  EXPECT_EQ(h.decode(data_only(3))[0].bytes, 2400u);
}

TEST(NetflowV9, DataBeforeTemplateIsHeldThenDecoded) {
  Harness h;
  EXPECT_TRUE(h.decode(data_only(1)).empty());
  EXPECT_EQ(h.stats("192.0.2.1", 7).unknown_templates, 1u);
  h.advance(std::chrono::seconds(2));
  h.decoder.expire(h.now);  // still within template_wait
  const auto metrics = h.decode(template_only(2));
  ASSERT_EQ(metrics.size(), 1u);
  EXPECT_EQ(metrics[0].source_ip, "10.1.1.5");
  EXPECT_EQ(metrics[0].bytes, 300u);
  const ExporterStats s = h.stats("192.0.2.1", 7);
  EXPECT_EQ(s.records, 1u);
  EXPECT_EQ(s.dropped_no_template, 0u);
}

TEST(NetflowV9, HeldDataExpiresWithoutItsTemplate) {
  Harness h;
  h.decode(data_only(1));
  h.decode(data_only(2));
  h.advance(std::chrono::seconds(11));
  h.decoder.expire(h.now);
  ExporterStats s = h.stats("192.0.2.1", 7);
  EXPECT_EQ(s.unknown_templates, 2u);
  EXPECT_EQ(s.dropped_no_template, 2u);
  EXPECT_TRUE(h.decode(template_only(3)).empty());
}

TEST(NetflowV9, HeldBytesAreBoundedPerExporter) {
  Harness h(DecoderOptions{.max_held_bytes_per_exporter = 70});  // a set body is 32 bytes: two fit
  for (std::uint32_t i = 0; i < 5; ++i) h.decode(data_only(i));
  EXPECT_EQ(h.stats("192.0.2.1", 7).dropped_no_template, 3u);
  EXPECT_EQ(h.decode(template_only(5)).size(), 2u);
}

TEST(NetflowV9, SequenceCountsMissedDatagrams) {
  Harness h;
  h.decode(template_and_data(10));
  h.decode(data_only(11));
  h.decode(data_only(14));  // 12 and 13 missed
  EXPECT_EQ(h.stats("192.0.2.1", 7).sequence_gaps, 2u);
  h.decode(data_only(3));  // restart
  h.decode(data_only(4));
  EXPECT_EQ(h.stats("192.0.2.1", 7).sequence_gaps, 2u);
}

TEST(NetflowV9, TemplatesAreSeparatePerSourceIdAndAddress) {
  Harness h;
  h.decode(template_and_data(1, 7));
  // Source id 8 uses template 256 for something else: only IPv6 addresses and protocol.
  auto b = test::v9_header(60'000, kExportSecs, 1, 8);
  b.begin_set(0).u16(256).u16(3).fields({{27, 16}, {28, 16}, {4, 1}}).end_set(4);
  h.decode(b.build());
  const auto seven = h.decode(data_only(2, 7));
  ASSERT_EQ(seven.size(), 1u);
  EXPECT_EQ(seven[0].source_ip, "10.1.1.5");
  auto c = test::v9_header(60'000, kExportSecs, 2, 8);
  c.begin_set(256).ipv6("2001:db8::1").ipv6("2001:db8::2").u8(17).end_set(4);
  const auto eight = h.decode(c.build());
  ASSERT_EQ(eight.size(), 1u);
  EXPECT_EQ(eight[0].dest_ip, "2001:db8::2");
  // Another address with source id 7 has no template 256 yet.
  EXPECT_TRUE(h.decode(data_only(1, 7), test::exporter_v4("192.0.2.2")).empty());
  EXPECT_EQ(h.stats("192.0.2.2", 7).unknown_templates, 1u);
}

TEST(NetflowV9, RedefinedTemplateReplacesTheOld) {
  Harness h;
  h.decode(template_and_data(1));
  auto b = test::v9_header(60'000, kExportSecs, 2, 7);
  b.begin_set(0).u16(256).u16(4).fields({{12, 4}, {8, 4}, {4, 1}, {1, 2}}).end_set(4);  // dst first now
  b.begin_set(256).ipv4("10.9.9.9").ipv4("10.8.8.8").u8(1).u16(64).end_set(4);
  const auto metrics = h.decode(b.build());
  ASSERT_EQ(metrics.size(), 1u);
  EXPECT_EQ(metrics[0].source_ip, "10.8.8.8");
  EXPECT_EQ(metrics[0].dest_ip, "10.9.9.9");
  EXPECT_EQ(metrics[0].bytes, 64u);
  EXPECT_EQ(h.stats("192.0.2.1", 7).templates, 2u);
}

TEST(NetflowV9, EveryTruncationIsHandled) {
  const auto full = template_and_data();
  for (std::size_t length = 0; length < full.size(); ++length) {
    Harness h;
    const std::vector<std::uint8_t> cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(length));
    const auto metrics = h.decode(cut);
    EXPECT_LE(metrics.size(), 2u);
    std::uint64_t malformed = 0;
    for (const auto& s : h.decoder.stats()) malformed += s.malformed;
    // A cut at a flowset boundary (plus fewer than 4 trailing bytes, which are ignored) is a
    // shorter valid datagram; anything else is malformed.
    const bool boundary = (length >= 20 && length < 24) || (length >= 68 && length < 72);
    EXPECT_EQ(malformed, boundary ? 0u : 1u) << length;
  }
}

TEST(NetflowV9, BadFlowsetsAreMalformed) {
  Harness h;
  auto zero = test::v9_header(1, kExportSecs, 1, 1).u16(256).u16(0).build();  // length 0
  h.decode(zero);
  auto low = test::v9_header(1, kExportSecs, 2, 1).u16(0).u16(8).u16(5).u16(1).build();  // template id 5
  h.decode(low);
  auto big = test::v9_header(1, kExportSecs, 3, 1);
  big.begin_set(0).u16(256).u16(300);  // more fields than kMaxTemplateFields
  for (int i = 0; i < 300; ++i) big.u16(10).u16(1);
  h.decode(big.end_set().build());
  EXPECT_EQ(h.stats("192.0.2.1", 1).malformed, 3u);
}

TEST(NetflowV9, TemplateCapRefusesNewIds) {
  Harness h(DecoderOptions{.max_templates_per_exporter = 2});
  for (std::uint16_t id = 256; id < 260; ++id) {
    auto b = test::v9_header(1, kExportSecs, id, 1);
    b.begin_set(0).u16(id).u16(1).fields({{8, 4}}).end_set();
    h.decode(b.build());
  }
  EXPECT_EQ(h.stats("192.0.2.1", 1).malformed, 2u);
}

}  // namespace
}  // namespace flowmetrics::netflow
