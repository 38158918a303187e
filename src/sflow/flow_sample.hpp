#pragma once

#include <cstdint>

namespace flowmetrics::sflow {

// How an sFlow flow sample names an interface (sFlow v5, "interface" and
// "interface_expanded"): the top two bits of the 32-bit value are a format.
enum class InterfaceKind : std::uint8_t {
  unknown,    // format 0, value 0: not known
  ifindex,    // format 0: an ifIndex
  internal,   // format 0, value 0x3FFFFFFF: the agent itself sent or received the packet
  discarded,  // format 1 (output only): the packet was dropped; `index` holds the reason code
  multiple,   // format 2 (output only): sent to `index` interfaces (0: an unknown number)
};

struct Interface {
  InterfaceKind kind = InterfaceKind::unknown;
  std::uint32_t index = 0;  // the 30-bit value (ifIndex, reason code or count)
};

// One decoded sFlow flow sample: a plain binary record, the decoder's output. Addresses are
// 16 bytes; an IPv4 address takes the first 4 and leaves the rest zero (`family` says which).
// Counters are already scaled by the sampling rate when the decoder was asked to.
struct FlowSample {
  std::uint8_t src[16] = {};
  std::uint8_t dst[16] = {};
  std::uint8_t family = 0;  // 4 or 6
  std::uint8_t protocol = 0;
  std::uint16_t src_port = 0;  // TCP, UDP, SCTP, UDP-Lite, DCCP; 0 for other protocols
  // TCP/UDP/...: the destination port; ICMP and ICMPv6: type * 256 + code (the NetFlow
  // exporters' convention); 0 for non-first fragments and headers cut before the ports.
  std::uint16_t dst_port = 0;
  std::uint64_t packets = 0;          // sampling_rate (1 when unscaled)
  std::uint64_t bytes = 0;            // sampling_rate * frame_length (frame_length when unscaled)
  std::uint64_t flows = 1;            // one per sample
  std::uint32_t sampling_rate = 0;    // as the sample carried it (0: none given)
  std::uint32_t frame_length = 0;     // the sampled packet's length as the agent reported it
  std::uint32_t header_protocol = 0;  // 1 Ethernet, 11 IPv4, 12 IPv6; 0: a sampled_ipv4/6 record
  Interface input;
  Interface output;
  std::uint16_t outer_vlan = 0;       // the first 802.1Q/802.1ad tag of an Ethernet header (0: none)
  std::uint16_t inner_vlan = 0;       // the last tag, when there are two or more (QinQ), else 0
  std::uint16_t switch_src_vlan = 0;  // extended_switch (0: absent)
  std::uint16_t switch_dst_vlan = 0;
  std::uint8_t next_hop_family = 0;  // extended_router: 4 or 6; 0 absent
  std::uint8_t src_mask = 0;
  std::uint8_t dst_mask = 0;
  std::uint8_t next_hop[16] = {};
};

}  // namespace flowmetrics::sflow
