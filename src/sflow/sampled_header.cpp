#include "sflow/sampled_header.hpp"

#include <cstring>

namespace flowmetrics::sflow {
namespace {

std::uint16_t be16(const std::uint8_t* p) noexcept {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

constexpr std::uint16_t kEtherIpv4 = 0x0800;
constexpr std::uint16_t kEtherIpv6 = 0x86DD;
constexpr std::uint16_t kEtherMpls = 0x8847;
constexpr std::uint16_t kEtherMplsMulticast = 0x8848;
constexpr int kMaxVlanTags = 8;     // more is not a frame any switch forwards
constexpr int kMaxMplsLabels = 16;  // ditto for a label stack
constexpr int kMaxIpv6Extensions = 8;

bool is_vlan_tag(std::uint16_t type) noexcept {
  return type == 0x8100 || type == 0x88A8 || type == 0x9100 || type == 0x9200 || type == 0x9300;
}

// Ports (or ICMP type and code) of the transport header at `p`, `left` bytes available.
void read_ports(std::uint8_t protocol, const std::uint8_t* p, std::size_t left, FlowSample& sample) noexcept {
  switch (protocol) {
    case 6:    // TCP
    case 17:   // UDP
    case 33:   // DCCP
    case 132:  // SCTP
    case 136:  // UDP-Lite
      if (left >= 4) {
        sample.src_port = be16(p);
        sample.dst_port = be16(p + 2);
      }
      break;
    case 1:   // ICMP
    case 58:  // ICMPv6
      if (left >= 2) sample.dst_port = static_cast<std::uint16_t>(p[0] << 8 | p[1]);
      break;
    default: break;
  }
}

HeaderResult parse_ipv4(const std::uint8_t* p, std::size_t left, FlowSample& sample) noexcept {
  if (left < 20 || (p[0] >> 4) != 4) return left < 20 ? HeaderResult::truncated : HeaderResult::not_ip;
  const std::size_t header_length = std::size_t{p[0] & 0x0Fu} * 4;
  if (header_length < 20) return HeaderResult::not_ip;
  sample.family = 4;
  sample.protocol = p[9];
  std::memcpy(sample.src, p + 12, 4);
  std::memcpy(sample.dst, p + 16, 4);
  const bool later_fragment = (be16(p + 6) & 0x1FFF) != 0;
  if (!later_fragment && left > header_length)
    read_ports(sample.protocol, p + header_length, left - header_length, sample);
  return HeaderResult::ok;
}

HeaderResult parse_ipv6(const std::uint8_t* p, std::size_t left, FlowSample& sample) noexcept {
  if (left < 40 || (p[0] >> 4) != 6) return left < 40 ? HeaderResult::truncated : HeaderResult::not_ip;
  sample.family = 6;
  std::memcpy(sample.src, p + 8, 16);
  std::memcpy(sample.dst, p + 24, 16);
  std::uint8_t next = p[6];
  p += 40;
  left -= 40;
  for (int i = 0; i < kMaxIpv6Extensions; ++i) {
    std::size_t length = 0;
    switch (next) {
      case 0:   // hop-by-hop options
      case 43:  // routing
      case 60:  // destination options
        if (left < 2) break;
        length = (std::size_t{p[1]} + 1) * 8;
        break;
      case 51:  // AH
        if (left < 2) break;
        length = (std::size_t{p[1]} + 2) * 4;
        break;
      case 44:  // fragment
        if (left < 8) break;
        if ((be16(p + 2) >> 3) != 0) {  // not the first fragment: no transport header here
          sample.protocol = p[0];
          return HeaderResult::ok;
        }
        length = 8;
        break;
      default:  // the transport header (or one we do not walk)
        sample.protocol = next;
        read_ports(next, p, left, sample);
        return HeaderResult::ok;
    }
    if (length == 0 || length > left) break;  // cut inside the extension headers
    next = p[0];
    p += length;
    left -= length;
  }
  sample.protocol = next;  // the header we could not get past: no ports
  return HeaderResult::ok;
}

// After an MPLS label stack the payload has no type field: guess by the version nibble, as
// sFlow agents and collectors do.
HeaderResult parse_by_version(const std::uint8_t* p, std::size_t left, FlowSample& sample) noexcept {
  if (left < 1) return HeaderResult::truncated;
  if ((p[0] >> 4) == 4) return parse_ipv4(p, left, sample);
  if ((p[0] >> 4) == 6) return parse_ipv6(p, left, sample);
  return HeaderResult::not_ip;
}

HeaderResult parse_ethernet(const std::uint8_t* p, std::size_t left, FlowSample& sample) noexcept {
  if (left < 14) return HeaderResult::truncated;
  std::uint16_t type = be16(p + 12);
  p += 14;
  left -= 14;
  for (int tags = 0; is_vlan_tag(type); ++tags) {
    if (tags == kMaxVlanTags) return HeaderResult::not_ip;
    if (left < 4) return HeaderResult::truncated;
    const std::uint16_t vlan = be16(p) & 0x0FFF;
    if (tags == 0) {
      sample.outer_vlan = vlan;
    } else {
      sample.inner_vlan = vlan;
    }
    type = be16(p + 2);
    p += 4;
    left -= 4;
  }
  if (type <= 1500) {  // an 802.3 length: IP only behind LLC/SNAP (AA AA 03, OUI, type)
    if (left < 8) return HeaderResult::truncated;
    if (p[0] != 0xAA || p[1] != 0xAA || p[2] != 0x03) return HeaderResult::not_ip;
    type = be16(p + 6);
    p += 8;
    left -= 8;
  }
  if (type == kEtherMpls || type == kEtherMplsMulticast) {
    for (int labels = 0;; ++labels) {
      if (labels == kMaxMplsLabels) return HeaderResult::not_ip;
      if (left < 4) return HeaderResult::truncated;
      const bool bottom = (p[2] & 0x01) != 0;
      p += 4;
      left -= 4;
      if (bottom) return parse_by_version(p, left, sample);
    }
  }
  if (type == kEtherIpv4) return parse_ipv4(p, left, sample);
  if (type == kEtherIpv6) return parse_ipv6(p, left, sample);
  return HeaderResult::not_ip;
}

}  // namespace

HeaderResult parse_sampled_header(std::uint32_t header_protocol, std::span<const std::uint8_t> header,
                                  FlowSample& sample) noexcept {
  switch (header_protocol) {
    case kHeaderEthernet: return parse_ethernet(header.data(), header.size(), sample);
    case kHeaderIpv4: return parse_ipv4(header.data(), header.size(), sample);
    case kHeaderIpv6: return parse_ipv6(header.data(), header.size(), sample);
    default: return HeaderResult::unsupported_protocol;
  }
}

}  // namespace flowmetrics::sflow
