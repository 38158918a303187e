#pragma once

#include <cstdint>
#include <span>

#include "sflow/flow_sample.hpp"

namespace flowmetrics::sflow {

// sFlow header_protocol values this parser reads (sFlow v5, "sampled_header").
inline constexpr std::uint32_t kHeaderEthernet = 1;
inline constexpr std::uint32_t kHeaderIpv4 = 11;
inline constexpr std::uint32_t kHeaderIpv6 = 12;

enum class HeaderResult : std::uint8_t {
  ok,                    // addresses (and ports, when the header reaches them) filled in
  unsupported_protocol,  // a header_protocol other than 1, 11 or 12
  not_ip,                // an Ethernet frame carrying neither IPv4 nor IPv6 (ARP, LLDP...)
  truncated,             // the header ends before the IP addresses
};

// Reads the five-tuple of a sampled packet header into `sample` (family, addresses,
// protocol, ports, VLAN tags). Never reads outside `header`. Ethernet frames may carry any
// number of 802.1Q/802.1ad tags (0x8100, 0x88A8, 0x9100-0x9300), an LLC/SNAP header or an
// MPLS label stack before IP. IPv6 extension headers (hop-by-hop, routing, destination
// options, fragment, AH) are walked to the transport header. Fragments after the first have
// ports 0. A header cut after the addresses but before the ports is `ok` with ports 0.
HeaderResult parse_sampled_header(std::uint32_t header_protocol, std::span<const std::uint8_t> header,
                                  FlowSample& sample) noexcept;

}  // namespace flowmetrics::sflow
