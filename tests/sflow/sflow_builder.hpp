#pragma once

#include <arpa/inet.h>

#include <cstdint>
#include <initializer_list>
#include <vector>

// Builds sFlow v5 datagrams and the packet headers they sample, byte by byte, for the tests.
namespace flowmetrics::sflow::test {

using Bytes = std::vector<std::uint8_t>;

class Writer {
 public:
  Writer& u8(std::uint64_t v) {
    bytes.push_back(static_cast<std::uint8_t>(v));
    return *this;
  }
  Writer& u16(std::uint64_t v) { return u8(v >> 8).u8(v); }
  Writer& u32(std::uint64_t v) { return u16(v >> 16).u16(v); }
  Writer& ipv4(const char* text) {
    std::uint8_t raw[4];
    inet_pton(AF_INET, text, raw);
    bytes.insert(bytes.end(), raw, raw + 4);
    return *this;
  }
  Writer& ipv6(const char* text) {
    std::uint8_t raw[16];
    inet_pton(AF_INET6, text, raw);
    bytes.insert(bytes.end(), raw, raw + 16);
    return *this;
  }
  Writer& raw(const Bytes& more) {
    bytes.insert(bytes.end(), more.begin(), more.end());
    return *this;
  }
  // XDR opaque<>: the length, the bytes, zero padding to 4.
  Writer& opaque(const Bytes& more) {
    u32(more.size()).raw(more);
    while (bytes.size() % 4 != 0) u8(0);
    return *this;
  }
  // An sFlow (format, length, body) element.
  Writer& element(std::uint32_t format, const Bytes& body) { return u32(format).u32(body.size()).raw(body); }
  Bytes bytes;
};

// --- sampled packets -------------------------------------------------------------------

inline Bytes tcp_ports(std::uint16_t src, std::uint16_t dst) {
  Writer w;
  w.u16(src).u16(dst).u32(1).u32(0).u16(0x5010).u16(1024).u32(0);  // 20-byte TCP header
  return w.bytes;
}
inline Bytes udp_ports(std::uint16_t src, std::uint16_t dst) {
  Writer w;
  w.u16(src).u16(dst).u16(8).u16(0);
  return w.bytes;
}
inline Bytes icmp(std::uint8_t type, std::uint8_t code) {
  Writer w;
  w.u8(type).u8(code).u16(0).u32(0);
  return w.bytes;
}

inline Bytes ipv4_packet(std::uint8_t protocol, const char* src, const char* dst, const Bytes& l4,
                         std::uint16_t fragment = 0) {
  Writer w;
  w.u8(0x45).u8(0).u16(20 + l4.size()).u16(1).u16(fragment).u8(64).u8(protocol).u16(0).ipv4(src).ipv4(dst).raw(l4);
  return w.bytes;
}
inline Bytes ipv6_packet(std::uint8_t next, const char* src, const char* dst, const Bytes& rest) {
  Writer w;
  w.u32(0x60000000).u16(rest.size()).u8(next).u8(64).ipv6(src).ipv6(dst).raw(rest);
  return w.bytes;
}
// An Ethernet frame with the given 802.1Q/802.1ad tags (TPID, VLAN id) before `type`.
inline Bytes ethernet(std::uint16_t type, const Bytes& payload,
                      std::initializer_list<std::pair<std::uint16_t, std::uint16_t>> tags = {}) {
  Writer w;
  w.raw({0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2});
  for (const auto& [tpid, vlan] : tags) w.u16(tpid).u16(vlan);
  w.u16(type).raw(payload);
  return w.bytes;
}

// --- sFlow structures ------------------------------------------------------------------

inline Bytes header_record(std::uint32_t protocol, std::uint32_t frame_length, const Bytes& header,
                           std::uint32_t stripped = 4) {
  Writer body;
  body.u32(protocol).u32(frame_length).u32(stripped).opaque(header);
  Writer w;
  w.element(1, body.bytes);
  return w.bytes;
}
inline Bytes switch_record(std::uint32_t src_vlan, std::uint32_t dst_vlan) {
  Writer body;
  body.u32(src_vlan).u32(0).u32(dst_vlan).u32(0);
  Writer w;
  w.element(1001, body.bytes);
  return w.bytes;
}
inline Bytes router_record(const char* next_hop, std::uint32_t src_mask, std::uint32_t dst_mask) {
  Writer body;
  body.u32(1).ipv4(next_hop).u32(src_mask).u32(dst_mask);
  Writer w;
  w.element(1002, body.bytes);
  return w.bytes;
}
inline Bytes ipv4_record(std::uint32_t length, std::uint8_t protocol, const char* src, const char* dst,
                         std::uint16_t sport, std::uint16_t dport) {
  Writer body;
  body.u32(length).u32(protocol).ipv4(src).ipv4(dst).u32(sport).u32(dport).u32(0).u32(0);
  Writer w;
  w.element(3, body.bytes);
  return w.bytes;
}

struct SampleFields {
  std::uint32_t sequence = 1;
  std::uint32_t source_id = 3;  // compact: type << 24 | index
  std::uint32_t rate = 100;
  std::uint32_t input = 3;
  std::uint32_t output = 4;
};

// A compact flow sample (0:1) holding `records` (each a whole element) counted as `count`.
inline Bytes flow_sample(const SampleFields& f, const std::vector<Bytes>& records) {
  Writer body;
  body.u32(f.sequence).u32(f.source_id).u32(f.rate).u32(f.sequence * f.rate).u32(0).u32(f.input).u32(f.output);
  body.u32(records.size());
  for (const Bytes& r : records) body.raw(r);
  Writer w;
  w.element(1, body.bytes);
  return w.bytes;
}
// An expanded flow sample (0:3): source type and index, interfaces as (format, value).
inline Bytes expanded_flow_sample(std::uint32_t sequence, std::uint32_t source_type, std::uint32_t source_index,
                                  std::uint32_t rate, std::uint32_t in_format, std::uint32_t in_value,
                                  std::uint32_t out_format, std::uint32_t out_value,
                                  const std::vector<Bytes>& records) {
  Writer body;
  body.u32(sequence).u32(source_type).u32(source_index).u32(rate).u32(sequence * rate).u32(0);
  body.u32(in_format).u32(in_value).u32(out_format).u32(out_value).u32(records.size());
  for (const Bytes& r : records) body.raw(r);
  Writer w;
  w.element(3, body.bytes);
  return w.bytes;
}
// A counter sample (0:2) with one generic interface counters record's worth of zeros.
inline Bytes counter_sample(std::uint32_t sequence) {
  Writer record;
  record.raw(Bytes(88, 0));
  Writer body;
  body.u32(sequence).u32(3).u32(1).element(1, record.bytes);
  Writer w;
  w.element(2, body.bytes);
  return w.bytes;
}

inline Bytes datagram(const char* agent, std::uint32_t sub_agent, std::uint32_t sequence,
                      const std::vector<Bytes>& samples) {
  Writer w;
  w.u32(5).u32(1).ipv4(agent).u32(sub_agent).u32(sequence).u32(123'456).u32(samples.size());
  for (const Bytes& s : samples) w.raw(s);
  return w.bytes;
}

}  // namespace flowmetrics::sflow::test
