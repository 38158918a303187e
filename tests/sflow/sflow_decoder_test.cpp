#include "sflow/sflow_decoder.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <algorithm>
#include <chrono>
#include <string>

#include "flowmetrics/validation.hpp"
#include "sflow/metric_adapter.hpp"
#include "sflow_builder.hpp"

namespace flowmetrics::sflow {
namespace {

using namespace test;

const auto kNow = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));

sockaddr_storage sender() {
  sockaddr_storage s{};
  auto& v4 = reinterpret_cast<sockaddr_in&>(s);
  v4.sin_family = AF_INET;
  inet_pton(AF_INET, "198.51.100.7", &v4.sin_addr);
  return s;
}

std::string text(const FlowSample& s, bool source) {
  char buffer[INET6_ADDRSTRLEN];
  inet_ntop(s.family == 4 ? AF_INET : AF_INET6, source ? s.src : s.dst, buffer, sizeof(buffer));
  return buffer;
}

Bytes tcp_frame() {
  return ethernet(0x0800, ipv4_packet(6, "10.0.0.1", "10.0.0.2", tcp_ports(40000, 443)));
}

class SflowDecoderTest : public ::testing::Test {
 protected:
  std::vector<FlowSample> decode(const Bytes& datagram) {
    std::vector<FlowSample> out;
    decoder.decode(sender(), datagram, kNow, out);
    return out;
  }
  AgentStats agent(const std::string& name = "192.0.2.1", std::uint32_t sub_agent = 0) const {
    for (const AgentStats& a : decoder.stats())
      if (a.agent == name && a.sub_agent == sub_agent) return a;
    ADD_FAILURE() << "no agent " << name << " sub-agent " << sub_agent;
    return {};
  }
  SflowDecoder decoder;
};

TEST_F(SflowDecoderTest, EthernetIpv4TcpSampleIsScaledByTheSamplingRate) {
  const auto out =
      decode(datagram("192.0.2.1", 0, 1, {flow_sample({.rate = 256}, {header_record(1, 1518, tcp_frame())})}));
  ASSERT_EQ(out.size(), 1u);
  const FlowSample& s = out[0];
  EXPECT_EQ(s.family, 4);
  EXPECT_EQ(text(s, true), "10.0.0.1");
  EXPECT_EQ(text(s, false), "10.0.0.2");
  EXPECT_EQ(s.protocol, 6);
  EXPECT_EQ(s.src_port, 40000);
  EXPECT_EQ(s.dst_port, 443);
  EXPECT_EQ(s.packets, 256u);
  EXPECT_EQ(s.bytes, 256u * 1518u);
  EXPECT_EQ(s.flows, 1u);
  EXPECT_EQ(s.sampling_rate, 256u);
  EXPECT_EQ(s.frame_length, 1518u);
  EXPECT_EQ(s.header_protocol, 1u);
  EXPECT_EQ(s.input.kind, InterfaceKind::ifindex);
  EXPECT_EQ(s.input.index, 3u);
  const AgentStats a = agent();
  EXPECT_EQ(a.datagrams, 1u);
  EXPECT_EQ(a.samples, 1u);
  EXPECT_EQ(a.records, 1u);
  EXPECT_EQ(a.malformed, 0u);
}

TEST_F(SflowDecoderTest, SamplingRateZeroIsStoredUnscaledAndCounted) {
  const auto out =
      decode(datagram("192.0.2.1", 0, 1, {flow_sample({.rate = 0}, {header_record(1, 100, tcp_frame())})}));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].packets, 1u);
  EXPECT_EQ(out[0].bytes, 100u);
  EXPECT_EQ(out[0].sampling_rate, 0u);
  EXPECT_EQ(agent().unscaled, 1u);
  EXPECT_EQ(agent().records, 1u);
}

TEST(SflowDecoderOptions, ApplySamplingFalseKeepsSampledCounts) {
  SflowDecoder decoder({.apply_sampling = false});
  std::vector<FlowSample> out;
  decoder.decode(sender(),
                 datagram("192.0.2.1", 0, 1, {flow_sample({.rate = 512}, {header_record(1, 64, tcp_frame())})}), kNow,
                 out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].packets, 1u);
  EXPECT_EQ(out[0].bytes, 64u);
  EXPECT_EQ(out[0].sampling_rate, 512u);
}

TEST_F(SflowDecoderTest, InterfaceValuesAreDecodedIncludingInternal) {
  const auto out = decode(datagram(
      "192.0.2.1", 0, 1,
      {flow_sample({.input = 0x3FFFFFFF, .output = 0x40000000 | 5}, {header_record(1, 80, tcp_frame())}),
       flow_sample({.sequence = 2, .input = 0, .output = 0x80000000 | 7}, {header_record(1, 80, tcp_frame())}),
       expanded_flow_sample(9, 0, 70'000'000, 10, 0, 0x3FFFFFFF, 0, 70'000'001, {header_record(1, 80, tcp_frame())})}));
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].input.kind, InterfaceKind::internal);  // not an ifIndex to look up
  EXPECT_EQ(out[0].output.kind, InterfaceKind::discarded);
  EXPECT_EQ(out[0].output.index, 5u);
  EXPECT_EQ(out[1].input.kind, InterfaceKind::unknown);
  EXPECT_EQ(out[1].output.kind, InterfaceKind::multiple);
  EXPECT_EQ(out[1].output.index, 7u);
  EXPECT_EQ(out[2].input.kind, InterfaceKind::internal);
  EXPECT_EQ(out[2].output.kind, InterfaceKind::ifindex);
  EXPECT_EQ(out[2].output.index, 70'000'001u);  // expanded: a full 32-bit index
  EXPECT_EQ(out[2].packets, 10u);
  EXPECT_EQ(agent().samples, 3u);
}

TEST_F(SflowDecoderTest, VlanTagsAndExtendedSwitch) {
  const Bytes tagged = ethernet(0x0800, ipv4_packet(17, "10.1.0.1", "10.1.0.2", udp_ports(53, 5353)), {{0x8100, 42}});
  const Bytes qinq = ethernet(0x86DD, ipv6_packet(17, "2001:db8::1", "2001:db8::2", udp_ports(1, 2)),
                              {{0x88A8, 100}, {0x8100, 0x2000 | 200}});
  const auto out = decode(datagram("192.0.2.1", 0, 1,
                                   {flow_sample({}, {switch_record(42, 43), header_record(1, 90, tagged)}),
                                    flow_sample({.sequence = 2}, {header_record(1, 90, qinq)})}));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].outer_vlan, 42);
  EXPECT_EQ(out[0].inner_vlan, 0);
  EXPECT_EQ(out[0].switch_src_vlan, 42);
  EXPECT_EQ(out[0].switch_dst_vlan, 43);
  EXPECT_EQ(out[0].dst_port, 5353);
  EXPECT_EQ(out[1].outer_vlan, 100);
  EXPECT_EQ(out[1].inner_vlan, 200);  // the priority bits are not part of the id
  EXPECT_EQ(out[1].family, 6);
  EXPECT_EQ(text(out[1], false), "2001:db8::2");
  EXPECT_EQ(out[1].src_port, 1);
}

TEST_F(SflowDecoderTest, ExtendedRouterRecord) {
  const auto out = decode(datagram(
      "192.0.2.1", 0, 1, {flow_sample({}, {header_record(1, 90, tcp_frame()), router_record("10.9.9.9", 24, 16)})}));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].next_hop_family, 4);
  EXPECT_EQ(out[0].src_mask, 24);
  EXPECT_EQ(out[0].dst_mask, 16);
  EXPECT_EQ(out[0].next_hop[0], 10);
}

TEST_F(SflowDecoderTest, HeaderProtocolsIpv4AndIpv6WithoutEthernet) {
  const Bytes v4 = ipv4_packet(1, "10.2.0.1", "10.2.0.2", icmp(8, 0));
  const Bytes v6 = ipv6_packet(58, "2001:db8::a", "2001:db8::b", icmp(128, 0));
  const auto out = decode(datagram("192.0.2.1", 0, 1,
                                   {flow_sample({.rate = 2}, {header_record(11, 84, v4, 0)}),
                                    flow_sample({.sequence = 2, .rate = 2}, {header_record(12, 104, v6, 0)})}));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].protocol, 1);
  EXPECT_EQ(out[0].src_port, 0);
  EXPECT_EQ(out[0].dst_port, 8 * 256);  // ICMP: type * 256 + code, as NetFlow exporters write it
  EXPECT_EQ(out[0].bytes, 168u);        // rate * the IP length for an IP header
  EXPECT_EQ(out[1].protocol, 58);
  EXPECT_EQ(out[1].dst_port, 128 * 256);
  EXPECT_EQ(out[1].header_protocol, 12u);
}

TEST_F(SflowDecoderTest, UnsupportedHeaderProtocolIsCountedNotStored) {
  const auto out = decode(datagram("192.0.2.1", 0, 1, {flow_sample({}, {header_record(2, 90, tcp_frame())})}));
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(agent().unsupported_header_protocols, 1u);
  EXPECT_EQ(agent().samples, 1u);
  EXPECT_EQ(agent().malformed, 0u);
}

TEST_F(SflowDecoderTest, NonIpFramesAndCutHeadersAreCountedAsNotIp) {
  const Bytes arp = ethernet(0x0806, Bytes(28, 1));
  Bytes cut = tcp_frame();
  cut.resize(14 + 16);  // the IPv4 header ends before the destination address
  const auto out = decode(
      datagram("192.0.2.1", 0, 1,
               {flow_sample({}, {header_record(1, 60, arp)}), flow_sample({.sequence = 2}, {header_record(1, 60, cut)}),
                flow_sample({.sequence = 3}, {switch_record(1, 1)})}));  // no packet record
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(agent().not_ip, 3u);
  EXPECT_EQ(agent().malformed, 0u);
}

TEST_F(SflowDecoderTest, HeaderCutBeforeThePortsKeepsTheAddresses) {
  Bytes cut = tcp_frame();
  cut.resize(14 + 20 + 2);
  const auto out = decode(datagram("192.0.2.1", 0, 1, {flow_sample({}, {header_record(1, 60, cut)})}));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].protocol, 6);
  EXPECT_EQ(out[0].src_port, 0);
  EXPECT_EQ(out[0].dst_port, 0);
}

TEST_F(SflowDecoderTest, SampledIpv4RecordIsUsedWithoutAHeader) {
  const auto out = decode(
      datagram("192.0.2.1", 0, 1, {flow_sample({.rate = 10}, {ipv4_record(1400, 17, "10.3.0.1", "10.3.0.2", 5, 6)})}));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].bytes, 14'000u);
  EXPECT_EQ(out[0].src_port, 5);
  EXPECT_EQ(out[0].header_protocol, 0u);
}

TEST_F(SflowDecoderTest, CounterAndUnknownSamplesAreCountedAndSkipped) {
  Writer other;
  other.element((9u << 12) | 1, Bytes(12, 0));  // enterprise 9's sample
  const auto out = decode(datagram(
      "192.0.2.1", 0, 1, {counter_sample(1), other.bytes, flow_sample({}, {header_record(1, 90, tcp_frame())})}));
  EXPECT_EQ(out.size(), 1u);
  EXPECT_EQ(agent().counter_samples, 1u);
  EXPECT_EQ(agent().other_samples, 1u);
  EXPECT_EQ(agent().malformed, 0u);
}

TEST_F(SflowDecoderTest, BadLengthsAreMalformedAndTheRestIsKept) {
  // A record longer than its sample: that sample is skipped, the next one decoded.
  Bytes bad = flow_sample({}, {header_record(1, 90, tcp_frame())});
  bad[8 + 28 + 4 + 7] += 200;  // the header record's length (after the sample's 7 fields and record count)
  const auto out =
      decode(datagram("192.0.2.1", 0, 1, {bad, flow_sample({.sequence = 2}, {header_record(1, 90, tcp_frame())})}));
  EXPECT_EQ(out.size(), 1u);
  EXPECT_EQ(agent().malformed, 1u);

  // A sample longer than the datagram: what came before it is kept.
  Bytes truncated = datagram("192.0.2.1", 0, 2,
                             {flow_sample({.sequence = 3}, {header_record(1, 90, tcp_frame())}),
                              flow_sample({.sequence = 4}, {header_record(1, 90, tcp_frame())})});
  truncated.resize(truncated.size() - 10);
  EXPECT_EQ(decode(truncated).size(), 1u);
  EXPECT_EQ(agent().malformed, 2u);

  // More samples announced than present; a header_length beyond the record.
  Bytes short_count = datagram("192.0.2.1", 0, 3, {});
  short_count[short_count.size() - 1] = 5;
  EXPECT_TRUE(decode(short_count).empty());
  Writer header_body;
  header_body.u32(1).u32(90).u32(4).u32(1000).raw(Bytes(8, 0));
  Writer record;
  record.element(1, header_body.bytes);
  EXPECT_TRUE(decode(datagram("192.0.2.1", 0, 4, {flow_sample({.sequence = 5}, {record.bytes})})).empty());
  EXPECT_EQ(agent().malformed, 4u);
  EXPECT_EQ(agent().datagrams, 4u);
}

TEST_F(SflowDecoderTest, OtherVersionsAndShortDatagramsCountAgainstTheSender) {
  Bytes v4 = datagram("192.0.2.1", 0, 1, {});
  v4[3] = 4;
  EXPECT_TRUE(decode(v4).empty());
  EXPECT_TRUE(decode(Bytes{0, 0}).empty());
  Bytes bad_address = datagram("192.0.2.1", 0, 1, {});
  bad_address[7] = 3;  // address type 3
  EXPECT_TRUE(decode(bad_address).empty());
  EXPECT_EQ(agent("198.51.100.7").malformed, 3u);
  EXPECT_EQ(agent("198.51.100.7").datagrams, 3u);
}

TEST_F(SflowDecoderTest, SequenceGapsPerAgentAndPerSource) {
  const auto sample = [](std::uint32_t sequence, std::uint32_t source) {
    return flow_sample({.sequence = sequence, .source_id = source}, {header_record(1, 90, tcp_frame())});
  };
  decode(datagram("192.0.2.1", 0, 1, {sample(1, 3), sample(1, 4)}));
  decode(datagram("192.0.2.1", 0, 2, {sample(2, 3), sample(2, 4)}));
  decode(datagram("192.0.2.1", 0, 5, {sample(5, 3), sample(3, 4)}));  // 2 datagrams, 2 samples of source 3 missed
  decode(datagram("192.0.2.1", 1, 1, {sample(1, 3)}));                // another sub-agent: its own numbers
  decode(datagram("192.0.2.1", 0, 1, {sample(1, 3)}));                // a restart: resynchronised, no gap
  EXPECT_EQ(agent().datagram_sequence_gaps, 2u);
  EXPECT_EQ(agent().sample_sequence_gaps, 2u);
  EXPECT_EQ(agent("192.0.2.1", 1).datagram_sequence_gaps, 0u);
  EXPECT_EQ(agent("192.0.2.1", 1).datagrams, 1u);
}

TEST(SflowDecoderMemory, AgentsAndSourcesAreCapped) {
  SflowDecoder decoder({.max_agents = 1, .max_sources_per_agent = 1});
  std::vector<FlowSample> out;
  const auto sample = [](std::uint32_t sequence, std::uint32_t source) {
    return flow_sample({.sequence = sequence, .source_id = source}, {header_record(1, 90, tcp_frame())});
  };
  decoder.decode(sender(), datagram("192.0.2.1", 0, 1, {sample(1, 3), sample(1, 4)}), kNow, out);
  decoder.decode(sender(), datagram("192.0.2.1", 0, 2, {sample(2, 3), sample(9, 4)}), kNow, out);  // 4: untracked
  decoder.decode(sender(), datagram("192.0.2.2", 0, 1, {sample(1, 3)}), kNow, out);  // a second agent: overflow
  EXPECT_EQ(out.size(), 4u);
  const auto stats = decoder.stats();
  ASSERT_EQ(stats.size(), 2u);
  const auto overflow =
      std::find_if(stats.begin(), stats.end(), [](const AgentStats& a) { return a.agent == "overflow"; });
  ASSERT_NE(overflow, stats.end());
  EXPECT_EQ(overflow->datagrams, 1u);
  EXPECT_EQ(overflow->samples, 0u);
  const auto first =
      std::find_if(stats.begin(), stats.end(), [](const AgentStats& a) { return a.agent == "192.0.2.1"; });
  EXPECT_EQ(first->sample_sequence_gaps, 0u);

  decoder.expire(kNow + std::chrono::hours(2));
  EXPECT_TRUE(decoder.stats().size() <= 1u);  // the agent is forgotten; the overflow entry remains
}

TEST(SflowMetricAdapter, TextFieldsAsTheNetflowDecoderWritesThem) {
  FlowSample s;
  s.family = 6;
  inet_pton(AF_INET6, "2001:db8::1", s.src);
  inet_pton(AF_INET6, "2001:db8::2", s.dst);
  s.protocol = 17;
  s.src_port = 53;
  s.dst_port = 5353;
  s.packets = 10;
  s.bytes = 1000;
  Metric m;
  to_metric(s, kNow + std::chrono::microseconds(1500), m);
  EXPECT_EQ(m.source_ip, "2001:db8::1");
  EXPECT_EQ(m.dest_ip, "2001:db8::2");
  EXPECT_EQ(m.protocol, "17");
  EXPECT_EQ(m.bytes, 1000u);
  EXPECT_EQ(m.packets, 10u);
  EXPECT_EQ(m.flows, 1u);
  EXPECT_EQ(m.value, 1000.0);
  EXPECT_EQ(m.timestamp, kNow + std::chrono::milliseconds(1));
}

TEST(SflowMetricAdapter, TheBinaryFlowKeyRendersAsTheMetric) {
  for (const bool v6 : {false, true}) {
    FlowSample s;
    s.family = v6 ? 6 : 4;
    inet_pton(v6 ? AF_INET6 : AF_INET, v6 ? "2001:db8::1" : "10.0.0.1", s.src);
    inet_pton(v6 ? AF_INET6 : AF_INET, v6 ? "::ffff:10.0.0.2" : "10.0.0.2", s.dst);
    s.protocol = 1;
    s.dst_port = 8 * 256;
    s.packets = 512;
    s.bytes = 512 * 98;
    Metric m;
    to_metric(s, kNow + std::chrono::microseconds(1500), m);
    MetricKey from_text;
    ASSERT_FALSE(make_metric_key(m, from_text));
    FlowUpdate u;
    ASSERT_EQ(to_flow_update(s, kNow + std::chrono::microseconds(1500), u), KeyRejection::none);
    const MetricKey from_key = render_metric_key(u.key);
    EXPECT_EQ(from_key.source_ip, from_text.source_ip);
    EXPECT_EQ(from_key.dest_ip, from_text.dest_ip);
    EXPECT_EQ(from_key.source_port, from_text.source_port);
    EXPECT_EQ(from_key.dest_port, from_text.dest_port);
    EXPECT_EQ(from_key.protocol, from_text.protocol);
    EXPECT_EQ(from_key.timestamp_ms, from_text.timestamp_ms);
    EXPECT_EQ(u.packets, m.packets);
    EXPECT_EQ(u.bytes, m.bytes);
    EXPECT_EQ(u.flows, 1u);
    EXPECT_EQ(u.value, m.value);
  }
}

}  // namespace
}  // namespace flowmetrics::sflow
