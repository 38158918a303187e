#include <gtest/gtest.h>

#include <random>

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

constexpr std::uint16_t kEnterprise = 0x8000;

// Template 400: addresses, an enterprise field, a variable-length interfaceName (82), ports,
// protocol, 8-byte counters, a variable-length enterprise field, flowStart/EndMilliseconds.
void rich_template(PacketBuilder& b) {
  b.begin_set(2).u16(400).u16(12);
  b.u16(8).u16(4).u16(12).u16(4);
  b.u16(kEnterprise | 100).u16(4).u32(29305);
  b.u16(82).u16(65535);
  b.u16(7).u16(2).u16(11).u16(2).u16(4).u16(1).u16(1).u16(8).u16(2).u16(8);
  b.u16(kEnterprise | 200).u16(65535).u32(9);
  b.u16(152).u16(8).u16(153).u16(8);
  b.end_set();
}

void rich_data(PacketBuilder& b) {
  b.begin_set(400);
  // Record 1: 1-byte length prefix for interfaceName, 3-byte prefix (300 bytes) for the
  // enterprise field.
  b.ipv4("10.0.0.1").ipv4("10.0.0.2").u32(0xdeadbeef).u8(4).raw({'e', 't', 'h', '0'});
  b.u16(5000).u16(53).u8(17).u64(123456).u64(789);
  b.u8(255).u16(300).raw(std::vector<std::uint8_t>(300, 0xab));
  b.u64(kExportMs - 5000).u64(kExportMs - 2000);
  // Record 2: empty variable fields (and 3-byte prefix with length 0).
  b.ipv4("10.0.0.3").ipv4("10.0.0.4").u32(1).u8(0);
  b.u16(1).u16(2).u8(6).u64(10).u64(1);
  b.u8(255).u16(0);
  b.u64(kExportMs - 3000).u64(kExportMs - 1000);
  b.end_set();
}

std::vector<std::uint8_t> rich_message(std::uint32_t sequence = 0, std::uint32_t domain = 1) {
  auto b = test::ipfix_header(kExportSecs, sequence, domain);
  rich_template(b);
  rich_data(b);
  return b.build();
}

// Template 256: IPv4 addresses, protocol, octetDeltaCount (4 bytes).
std::vector<std::uint8_t> simple_template(std::uint32_t sequence, std::uint32_t domain = 1) {
  auto b = test::ipfix_header(kExportSecs, sequence, domain);
  b.begin_set(2).u16(256).u16(4).fields({{8, 4}, {12, 4}, {4, 1}, {1, 4}}).end_set();
  return b.build();
}

std::vector<std::uint8_t> simple_data(std::uint32_t sequence, std::uint32_t domain = 1, int records = 1) {
  auto b = test::ipfix_header(kExportSecs, sequence, domain);
  b.begin_set(256);
  for (int i = 0; i < records; ++i) b.ipv4("172.16.0.1").ipv4("172.16.0.2").u8(6).u32(100);
  b.end_set(4);
  return b.build();
}

TEST(Ipfix, VariableLengthAndEnterpriseFieldsAreSkipped) {
  Harness h;
  const auto metrics = h.decode(rich_message());
  ASSERT_EQ(metrics.size(), 2u);
  EXPECT_EQ(metrics[0].source_ip, "10.0.0.1");
  EXPECT_EQ(metrics[0].dest_ip, "10.0.0.2");
  EXPECT_EQ(metrics[0].source_port, 5000);
  EXPECT_EQ(metrics[0].dest_port, 53);
  EXPECT_EQ(metrics[0].protocol, "17");
  EXPECT_EQ(metrics[0].bytes, 123456u);
  EXPECT_EQ(metrics[0].packets, 789u);
  EXPECT_EQ(ms_of(metrics[0]), kExportMs - 2000);
  EXPECT_EQ(metrics[1].source_ip, "10.0.0.3");
  EXPECT_EQ(metrics[1].bytes, 10u);
  EXPECT_EQ(ms_of(metrics[1]), kExportMs - 1000);
  const ExporterStats s = h.stats("192.0.2.1", 1);
  EXPECT_EQ(s.version, 10);
  EXPECT_EQ(s.malformed, 0u);
  EXPECT_EQ(s.records, 2u);

  Harness start(DecoderOptions{.timestamp = FlowTime::start});
  EXPECT_EQ(ms_of(start.decode(rich_message())[0]), kExportMs - 5000);
}

TEST(Ipfix, FlowTimesInEveryUnit) {
  Harness h;
  auto b = test::ipfix_header(kExportSecs, 0, 1);
  // 500: seconds; 501: microseconds (NTP); 502: nanoseconds (NTP); 503: end delta µs;
  // 504: octetTotalCount/packetTotalCount only.
  b.begin_set(2);
  b.u16(500).u16(4).fields({{8, 4}, {12, 4}, {150, 4}, {151, 4}});
  b.u16(501).u16(4).fields({{8, 4}, {12, 4}, {154, 8}, {155, 8}});
  b.u16(502).u16(4).fields({{8, 4}, {12, 4}, {156, 8}, {157, 8}});
  b.u16(503).u16(3).fields({{8, 4}, {12, 4}, {159, 4}});
  b.u16(504).u16(4).fields({{8, 4}, {12, 4}, {85, 8}, {86, 8}});
  b.end_set();
  const std::uint64_t ntp = std::uint64_t{kExportSecs - 7 + 2'208'988'800u} << 32 | 0x80000000u;  // +0.5 s
  b.begin_set(500).ipv4("1.1.1.1").ipv4("2.2.2.2").u32(kExportSecs - 9).u32(kExportSecs - 8).end_set();
  b.begin_set(501).ipv4("1.1.1.1").ipv4("2.2.2.2").u64(ntp - (1ull << 32)).u64(ntp).end_set();
  b.begin_set(502).ipv4("1.1.1.1").ipv4("2.2.2.2").u64(ntp).u64(ntp).end_set();
  b.begin_set(503).ipv4("1.1.1.1").ipv4("2.2.2.2").u32(250'000).end_set();
  b.begin_set(504).ipv4("1.1.1.1").ipv4("2.2.2.2").u64(99).u64(9).end_set();
  const auto metrics = h.decode(b.build());
  ASSERT_EQ(metrics.size(), 5u);
  EXPECT_EQ(ms_of(metrics[0]), kExportMs - 8000);
  EXPECT_EQ(ms_of(metrics[1]), kExportMs - 6500);
  EXPECT_EQ(ms_of(metrics[2]), kExportMs - 6500);
  EXPECT_EQ(ms_of(metrics[3]), kExportMs - 250);
  EXPECT_EQ(ms_of(metrics[4]), kExportMs);
  EXPECT_EQ(metrics[4].bytes, 99u);
  EXPECT_EQ(metrics[4].packets, 9u);
}

TEST(Ipfix, OptionsDataGivesSamplingAndSystemInitTime) {
  Harness h;
  auto b = test::ipfix_header(kExportSecs, 0, 1);
  // Options template 256 as softflowd sends it: scope meteringProcessId (143), then
  // systemInitTimeMilliseconds, samplingPacketInterval, samplingPacketSpace, selectorAlgorithm.
  b.begin_set(3).u16(256).u16(5).u16(1).fields({{143, 4}, {160, 8}, {305, 4}, {306, 4}, {304, 2}}).end_set();
  b.begin_set(256).u32(1).u64(kExportMs - 3'600'000).u32(1).u32(9).u16(1).end_set();
  // Flow template 1024 with flowStart/EndSysUpTime.
  b.begin_set(2).u16(1024).u16(6).fields({{8, 4}, {12, 4}, {1, 4}, {2, 4}, {22, 4}, {21, 4}}).end_set();
  b.begin_set(1024).ipv4("10.0.0.1").ipv4("10.0.0.2").u32(100).u32(2).u32(3'500'000).u32(3'590'000).end_set();
  const auto metrics = h.decode(b.build());
  ASSERT_EQ(metrics.size(), 1u);
  EXPECT_EQ(metrics[0].bytes, 1000u);  // (1 + 9) / 1
  EXPECT_EQ(metrics[0].packets, 20u);
  EXPECT_EQ(ms_of(metrics[0]), kExportMs - 3'600'000 + 3'590'000);
  EXPECT_EQ(h.stats("192.0.2.1", 1).records, 1u);
}

TEST(Ipfix, WithdrawalAndWithdrawAll) {
  Harness h;
  h.decode(simple_template(0));
  EXPECT_EQ(h.decode(simple_data(0)).size(), 1u);
  auto w = test::ipfix_header(kExportSecs, 1, 1);
  w.begin_set(2).u16(256).u16(0).end_set();
  h.decode(w.build());
  EXPECT_TRUE(h.decode(simple_data(1)).empty());
  EXPECT_EQ(h.stats("192.0.2.1", 1).unknown_templates, 1u);
  h.decoder.expire(h.now + std::chrono::seconds(11));

  h.decode(simple_template(2));
  EXPECT_EQ(h.decode(simple_data(2)).size(), 1u);
  auto all = test::ipfix_header(kExportSecs, 3, 1);
  all.begin_set(2).u16(2).u16(0).end_set();
  h.decode(all.build());
  EXPECT_TRUE(h.decode(simple_data(3)).empty());
  EXPECT_EQ(h.stats("192.0.2.1", 1).malformed, 0u);
}

TEST(Ipfix, HeldThenDecodedWhenTheTemplateArrives) {
  Harness h;
  EXPECT_TRUE(h.decode(simple_data(0, 1, 3)).empty());
  const auto metrics = h.decode(simple_template(3));
  EXPECT_EQ(metrics.size(), 3u);
  EXPECT_EQ(h.stats("192.0.2.1", 1).dropped_no_template, 0u);
}

TEST(Ipfix, SequenceCountsMissedDataRecords) {
  Harness h;
  h.decode(simple_template(0));
  h.decode(simple_data(0, 1, 2));  // next: 2
  h.decode(simple_data(2, 1, 3));  // next: 5
  EXPECT_EQ(h.stats("192.0.2.1", 1).sequence_gaps, 0u);
  h.decode(simple_data(9, 1, 1));  // 5..8 missed
  EXPECT_EQ(h.stats("192.0.2.1", 1).sequence_gaps, 4u);
}

TEST(Ipfix, ObservationDomainsAreSeparate) {
  Harness h;
  h.decode(simple_template(0, 1));
  EXPECT_EQ(h.decode(simple_data(0, 1)).size(), 1u);
  EXPECT_TRUE(h.decode(simple_data(0, 2)).empty());
  EXPECT_EQ(h.stats("192.0.2.1", 2).unknown_templates, 1u);
  EXPECT_EQ(h.stats("192.0.2.1", 1).unknown_templates, 0u);
}

TEST(Ipfix, Ipv6TextMatchesNormalizeIp) {
  const char* addresses[] = {"2001:db8::1",
                             "2001:db8:0:1:1:1:1:1",
                             "::1",
                             "::",
                             "fe80::",
                             "::ffff:1.2.3.4",
                             "2001:db8:0:0:1:0:0:1",
                             "ff02::1:ff00:1",
                             "2001:DB8:AAAA:BBBB:CCCC:DDDD:EEEE:FFFF"};
  Harness h;
  h.decode([&] {
    auto b = test::ipfix_header(kExportSecs, 0, 1);
    b.begin_set(2).u16(256).u16(2).fields({{27, 16}, {28, 16}}).end_set();
    return b.build();
  }());
  for (const char* address : addresses) {
    auto b = test::ipfix_header(kExportSecs, 0, 1);
    b.begin_set(256).ipv6(address).ipv6("::2").end_set();
    const auto metrics = h.decode(b.build());
    ASSERT_EQ(metrics.size(), 1u) << address;
    EXPECT_EQ(metrics[0].source_ip, normalize_ip(address).value()) << address;
  }
}

TEST(Ipfix, EveryTruncationIsHandled) {
  const auto full = rich_message();
  for (std::size_t length = 0; length < full.size(); ++length) {
    Harness h;
    std::vector<std::uint8_t> cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(length));
    EXPECT_LE(h.decode(cut).size(), 2u);
    // The same cut with the message length patched to match, so that the sets are what is
    // damaged, not the header.
    if (cut.size() >= 4) {
      cut[2] = static_cast<std::uint8_t>(cut.size() >> 8);
      cut[3] = static_cast<std::uint8_t>(cut.size());
    }
    EXPECT_LE(h.decode(cut).size(), 2u);
  }
}

TEST(Ipfix, GarbageNeverCrashes) {
  std::mt19937 random(42);
  Harness h;
  const auto valid = rich_message();
  for (int i = 0; i < 20000; ++i) {
    std::vector<std::uint8_t> bytes = valid;
    // Flip a few bytes of a valid message (keeping the version half the time).
    const int flips = 1 + static_cast<int>(random() % 8);
    for (int f = 0; f < flips; ++f) bytes[random() % bytes.size()] = static_cast<std::uint8_t>(random());
    if (i % 2 == 0) bytes[0] = 0, bytes[1] = static_cast<std::uint8_t>(i % 4 == 0 ? 10 : 9);
    bytes.resize(random() % (bytes.size() + 1));
    std::vector<Metric> out;
    h.decoder.decode(test::exporter_v4("192.0.2.9"), bytes, h.now, out);
  }
  h.decoder.expire(h.now + std::chrono::hours(2));
  SUCCEED();
}

}  // namespace
}  // namespace flowmetrics::netflow
