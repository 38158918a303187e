#pragma once

// Generated flow records for the query tests, and the sums the tests expect, computed here
// from the records alone (never through the library's query code).
#include <arpa/inet.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace flowmetrics::testing {

// 2024-11-25T10:00:00Z, a whole hour.
inline constexpr std::int64_t kQueryBaseMs = 1'732'528'800'000;
inline constexpr std::int64_t kQuerySpanMs = 30 * 60'000;  // the records cover 30 minutes

struct FlowRecord {
  std::string source_ip, dest_ip, protocol;  // protocol as stored: TCP, UDP, ICMP
  int source_port = 0, dest_port = 0;
  std::int64_t timestamp_ms = 0;
  std::uint64_t bytes = 0, packets = 0, flows = 0;

  std::string json() const {
    return R"({"source_ip":")" + source_ip + R"(","dest_ip":")" + dest_ip + R"(","source_port":)" +
           std::to_string(source_port) + R"(,"dest_port":)" + std::to_string(dest_port) + R"(,"protocol":")" +
           protocol + R"(","timestamp":)" + std::to_string(timestamp_ms) + R"(,"value":1,"bytes":)" +
           std::to_string(bytes) + R"(,"packets":)" + std::to_string(packets) + R"(,"flows":)" + std::to_string(flows) +
           "}";
  }
};

// `count` records over 40 IPv4 sources (skewed: low numbers send more), IPv4 and IPv6
// destinations, five destination ports, three protocols, spread over kQuerySpanMs.
inline std::vector<FlowRecord> make_flow_records(std::size_t count, std::uint32_t seed) {
  std::mt19937 rng(seed);
  static const char* kProtocols[] = {"TCP", "UDP", "ICMP"};
  static const int kPorts[] = {53, 80, 443, 1500, 8080};
  static const char* kDests[] = {"192.168.0.1", "192.168.0.2", "2001:db8::1", "2001:db8:1::7", "172.16.5.5"};
  std::vector<FlowRecord> records;
  for (std::size_t i = 0; i < count; ++i) {
    FlowRecord r;
    const auto source = static_cast<unsigned>(std::min(rng() % 40, rng() % 40));  // skewed towards 0
    r.source_ip = "10.0." + std::to_string(source % 4) + "." + std::to_string(1 + source);
    r.dest_ip = kDests[rng() % 5];
    r.protocol = kProtocols[rng() % 3];
    r.source_port = 1024 + static_cast<int>(rng() % 50);
    r.dest_port = r.protocol == "ICMP" ? 0 : kPorts[rng() % 5];
    r.timestamp_ms = kQueryBaseMs + static_cast<std::int64_t>(rng() % kQuerySpanMs);
    r.bytes = 40 + rng() % 150'000;
    r.packets = 1 + rng() % 100;
    r.flows = 1;
    records.push_back(std::move(r));
  }
  return records;
}

// "10.0.1.0/24" for an IPv4 address and a prefix length; an IPv6 address stays whole.
inline std::string ipv4_prefix(const std::string& address, int length) {
  in_addr a{};
  if (inet_pton(AF_INET, address.c_str(), &a) != 1) return address;
  const std::uint32_t mask = length == 0 ? 0 : ~std::uint32_t{0} << (32 - length);
  a.s_addr = htonl(ntohl(a.s_addr) & mask);
  char text[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &a, text, sizeof(text));
  return std::string(text) + "/" + std::to_string(length);
}

// Sums of `measure` by the group `key` returns (records it returns "" for are left out),
// ordered as the API orders rows: largest first, equal sums by their text.
inline std::vector<std::pair<std::string, double>> ranked(const std::vector<FlowRecord>& records,
                                                          const std::function<std::string(const FlowRecord&)>& key,
                                                          const std::function<double(const FlowRecord&)>& measure) {
  std::map<std::string, double> sums;
  for (const auto& r : records) {
    const std::string k = key(r);
    if (!k.empty()) sums[k] += measure(r);
  }
  std::vector<std::pair<std::string, double>> rows(sums.begin(), sums.end());
  std::stable_sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  return rows;
}

}  // namespace flowmetrics::testing
