#include "sflow/sampled_header.hpp"

#include <gtest/gtest.h>

#include "sflow_builder.hpp"

namespace flowmetrics::sflow {
namespace {

using namespace test;

TEST(SampledHeader, Ipv6ExtensionHeadersAreWalkedToTheTransport) {
  Writer hop_by_hop;
  hop_by_hop.u8(6).u8(0).raw(Bytes(6, 0));  // next: TCP, 8 bytes
  hop_by_hop.raw(tcp_ports(1234, 80));
  FlowSample s;
  ASSERT_EQ(parse_sampled_header(kHeaderIpv6, ipv6_packet(0, "2001:db8::1", "2001:db8::2", hop_by_hop.bytes), s),
            HeaderResult::ok);
  EXPECT_EQ(s.protocol, 6);
  EXPECT_EQ(s.src_port, 1234);
  EXPECT_EQ(s.dst_port, 80);
}

TEST(SampledHeader, LaterFragmentsHaveNoPorts) {
  FlowSample v4;
  ASSERT_EQ(parse_sampled_header(kHeaderIpv4, ipv4_packet(17, "10.0.0.1", "10.0.0.2", udp_ports(1, 2), 0x0010), v4),
            HeaderResult::ok);
  EXPECT_EQ(v4.protocol, 17);
  EXPECT_EQ(v4.src_port, 0);
  Writer fragment;
  fragment.u8(17).u8(0).u16(0x0100).u32(7).raw(udp_ports(1, 2));  // offset 32
  FlowSample v6;
  ASSERT_EQ(parse_sampled_header(kHeaderIpv6, ipv6_packet(44, "2001:db8::1", "2001:db8::2", fragment.bytes), v6),
            HeaderResult::ok);
  EXPECT_EQ(v6.protocol, 17);
  EXPECT_EQ(v6.src_port, 0);
  // The first fragment (offset 0) has them.
  Writer first;
  first.u8(17).u8(0).u16(0x0001).u32(7).raw(udp_ports(1, 2));
  FlowSample v6_first;
  ASSERT_EQ(parse_sampled_header(kHeaderIpv6, ipv6_packet(44, "2001:db8::1", "2001:db8::2", first.bytes), v6_first),
            HeaderResult::ok);
  EXPECT_EQ(v6_first.dst_port, 2);
}

TEST(SampledHeader, MplsAndSnapCarryIp) {
  Writer mpls;
  mpls.u32(0x00010000).u32(0x00020100 | 64).raw(ipv4_packet(6, "10.0.0.1", "10.0.0.2", tcp_ports(7, 8)));
  FlowSample a;
  ASSERT_EQ(parse_sampled_header(kHeaderEthernet, ethernet(0x8847, mpls.bytes), a), HeaderResult::ok);
  EXPECT_EQ(a.dst_port, 8);
  Writer snap;
  snap.u8(0xAA).u8(0xAA).u8(0x03).u8(0).u8(0).u8(0).u16(0x0800).raw(
      ipv4_packet(17, "10.0.0.3", "10.0.0.4", udp_ports(9, 10)));
  FlowSample b;
  ASSERT_EQ(
      parse_sampled_header(kHeaderEthernet, ethernet(static_cast<std::uint16_t>(snap.bytes.size()), snap.bytes), b),
      HeaderResult::ok);
  EXPECT_EQ(b.src_port, 9);
}

TEST(SampledHeader, WrongVersionsAndShortHeaders) {
  FlowSample s;
  Bytes not_v4 = ipv4_packet(6, "10.0.0.1", "10.0.0.2", {});
  not_v4[0] = 0x65;
  EXPECT_EQ(parse_sampled_header(kHeaderIpv4, not_v4, s), HeaderResult::not_ip);
  EXPECT_EQ(parse_sampled_header(kHeaderEthernet, Bytes(13, 0), s), HeaderResult::truncated);
  EXPECT_EQ(parse_sampled_header(kHeaderEthernet, ethernet(0x8100, {0, 1}), s), HeaderResult::truncated);
  EXPECT_EQ(parse_sampled_header(kHeaderIpv6, Bytes(39, 0x60), s), HeaderResult::truncated);
  EXPECT_EQ(parse_sampled_header(kHeaderEthernet, {}, s), HeaderResult::truncated);
  EXPECT_EQ(parse_sampled_header(5, tcp_ports(1, 2), s), HeaderResult::unsupported_protocol);
  // Nine VLAN tags is not a frame.
  Bytes tags;
  for (int i = 0; i < 9; ++i) tags.insert(tags.end(), {0x81, 0x00, 0x00, 0x01});
  EXPECT_EQ(parse_sampled_header(kHeaderEthernet, ethernet(0x8100, tags), s), HeaderResult::not_ip);
}

}  // namespace
}  // namespace flowmetrics::sflow
