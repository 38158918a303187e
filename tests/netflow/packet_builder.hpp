#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "netflow/flow_decoder.hpp"

// Builds NetFlow v5 / v9 / IPFIX datagrams byte by byte for the decoder tests.
namespace flowmetrics::netflow::test {

class PacketBuilder {
 public:
  PacketBuilder& u8(std::uint64_t v) {
    bytes_.push_back(static_cast<std::uint8_t>(v));
    return *this;
  }
  PacketBuilder& u16(std::uint64_t v) { return u8(v >> 8).u8(v); }
  PacketBuilder& u32(std::uint64_t v) { return u16(v >> 16).u16(v); }
  PacketBuilder& u64(std::uint64_t v) { return u32(v >> 32).u32(v); }
  PacketBuilder& ipv4(const char* text) {
    std::uint8_t raw[4];
    inet_pton(AF_INET, text, raw);
    bytes_.insert(bytes_.end(), raw, raw + 4);
    return *this;
  }
  PacketBuilder& ipv6(const char* text) {
    std::uint8_t raw[16];
    inet_pton(AF_INET6, text, raw);
    bytes_.insert(bytes_.end(), raw, raw + 16);
    return *this;
  }
  PacketBuilder& raw(const std::vector<std::uint8_t>& more) {
    bytes_.insert(bytes_.end(), more.begin(), more.end());
    return *this;
  }
  // Template field specifiers: (type, length) pairs.
  PacketBuilder& fields(std::initializer_list<std::pair<std::uint16_t, std::uint16_t>> specs) {
    for (const auto& [type, length] : specs) u16(type).u16(length);
    return *this;
  }

  // A set / flowset: begin_set writes its id and a length placeholder; end_set pads to
  // `align` bytes and writes the length.
  PacketBuilder& begin_set(std::uint16_t id) {
    set_start_ = bytes_.size();
    return u16(id).u16(0);
  }
  PacketBuilder& end_set(std::size_t align = 1) {
    while ((bytes_.size() - set_start_) % align != 0) u8(0);
    patch16(set_start_ + 2, bytes_.size() - set_start_);
    return *this;
  }
  void patch16(std::size_t offset, std::size_t v) {
    bytes_[offset] = static_cast<std::uint8_t>(v >> 8);
    bytes_[offset + 1] = static_cast<std::uint8_t>(v);
  }
  std::size_t size() const { return bytes_.size(); }
  // The datagram; for IPFIX (version 10) the message length is patched in.
  std::vector<std::uint8_t> build() {
    if (bytes_.size() >= 4 && bytes_[0] == 0 && bytes_[1] == 10) patch16(2, bytes_.size());
    return bytes_;
  }

 private:
  std::vector<std::uint8_t> bytes_;
  std::size_t set_start_ = 0;
};

inline PacketBuilder v5_header(std::uint16_t count, std::uint32_t uptime_ms, std::uint32_t secs, std::uint32_t nsecs,
                               std::uint32_t sequence, std::uint16_t sampling = 0) {
  PacketBuilder b;
  b.u16(5).u16(count).u32(uptime_ms).u32(secs).u32(nsecs).u32(sequence).u8(0).u8(0).u16(sampling);
  return b;
}

// One v5 record: addresses, ports, protocol, counters, First/Last (sysUptime ms).
inline void v5_record(PacketBuilder& b, const char* src, const char* dst, std::uint16_t sport, std::uint16_t dport,
                      std::uint8_t proto, std::uint32_t packets, std::uint32_t octets, std::uint32_t first,
                      std::uint32_t last) {
  b.ipv4(src).ipv4(dst).ipv4("0.0.0.0").u16(1).u16(2).u32(packets).u32(octets).u32(first).u32(last);
  b.u16(sport).u16(dport).u8(0).u8(0x18).u8(proto).u8(0).u16(0).u16(0).u8(24).u8(24).u16(0);
}

inline PacketBuilder v9_header(std::uint32_t uptime_ms, std::uint32_t secs, std::uint32_t sequence,
                               std::uint32_t source_id, std::uint16_t count = 1) {
  PacketBuilder b;
  b.u16(9).u16(count).u32(uptime_ms).u32(secs).u32(sequence).u32(source_id);
  return b;
}

inline PacketBuilder ipfix_header(std::uint32_t export_secs, std::uint32_t sequence, std::uint32_t domain) {
  PacketBuilder b;
  b.u16(10).u16(0).u32(export_secs).u32(sequence).u32(domain);
  return b;
}

inline sockaddr_storage exporter_v4(const char* text, std::uint16_t port = 2055) {
  sockaddr_storage storage{};
  auto& a = reinterpret_cast<sockaddr_in&>(storage);
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, text, &a.sin_addr);
  return storage;
}

inline sockaddr_storage exporter_v6(const char* text, std::uint16_t port = 2055) {
  sockaddr_storage storage{};
  auto& a = reinterpret_cast<sockaddr_in6&>(storage);
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(port);
  inet_pton(AF_INET6, text, &a.sin6_addr);
  return storage;
}

// 2024-11-25T10:20:00Z, the export time the tests use.
inline constexpr std::uint32_t kExportSecs = 1'732'530'000;
inline constexpr std::int64_t kExportMs = std::int64_t{kExportSecs} * 1000;

inline std::int64_t ms_of(const Metric& m) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(m.timestamp.time_since_epoch()).count();
}

// A decoder with the tests' clock and lookups of its counters.
struct Harness {
  // Malformed-datagram warnings are silenced: the tests count them instead.
  explicit Harness(DecoderOptions options = {}) : decoder(options) { spdlog::set_level(spdlog::level::err); }

  std::vector<Metric> decode(const std::vector<std::uint8_t>& datagram, const sockaddr_storage& from) {
    std::vector<Metric> out;
    decoder.decode(from, datagram, now, out);
    return out;
  }
  std::vector<Metric> decode(const std::vector<std::uint8_t>& datagram) {
    return decode(datagram, exporter_v4("192.0.2.1"));
  }
  ExporterStats stats(const std::string& exporter = "192.0.2.1", std::uint32_t domain = 0) const {
    for (const ExporterStats& s : decoder.stats()) {
      if (s.exporter == exporter && s.domain == domain) return s;
    }
    return ExporterStats{};
  }
  void advance(std::chrono::milliseconds by) { now += by; }

  FlowDecoder decoder;
  std::chrono::system_clock::time_point now{std::chrono::seconds(kExportSecs + 1)};
};

}  // namespace flowmetrics::netflow::test
