#include <array>
#include <charconv>
#include <optional>
#include <string>
#include <string_view>

#include "flowmetrics/validation.hpp"

namespace flowmetrics {
namespace {

struct ProtocolName {
  int number;
  std::string_view canonical;
};

// The IANA protocol numbers flow exporters report in practice, under the names network
// engineers type. Any other number 0-255 is kept as its decimal text.
constexpr std::array<ProtocolName, 17> kProtocols{{
    {1, "ICMP"},
    {2, "IGMP"},
    {4, "IPIP"},
    {6, "TCP"},
    {17, "UDP"},
    {41, "IPV6"},
    {47, "GRE"},
    {50, "ESP"},
    {51, "AH"},
    {58, "ICMPV6"},
    {88, "EIGRP"},
    {89, "OSPF"},
    {103, "PIM"},
    {112, "VRRP"},
    {115, "L2TP"},
    {132, "SCTP"},
    {136, "UDPLITE"},
}};

// Spellings that differ from the canonical name (IANA keywords and common aliases).
constexpr std::array<std::pair<std::string_view, std::string_view>, 4> kAliases{{
    {"IPV6-ICMP", "ICMPV6"},
    {"OSPFIGP", "OSPF"},
    {"IPV4", "IPIP"},
    {"UDP-LITE", "UDPLITE"},
}};

std::string to_upper(std::string_view text) {
  std::string upper(text);
  for (char& c : upper) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return upper;
}

}  // namespace

std::optional<std::string> normalize_protocol(std::string_view protocol) {
  if (protocol.empty() || protocol.size() > 16) return std::nullopt;
  int number = 0;
  const auto* end = protocol.data() + protocol.size();
  if (auto [ptr, ec] = std::from_chars(protocol.data(), end, number); ec == std::errc{} && ptr == end) {
    if (number < 0 || number > 255) return std::nullopt;
    for (const auto& p : kProtocols) {
      if (p.number == number) return std::string(p.canonical);
    }
    return std::to_string(number);
  }
  const std::string upper = to_upper(protocol);
  for (const auto& p : kProtocols) {
    if (p.canonical == upper) return upper;
  }
  for (const auto& [alias, canonical] : kAliases) {
    if (alias == upper) return std::string(canonical);
  }
  return std::nullopt;
}

std::optional<int> protocol_number(std::string_view protocol) {
  const auto canonical = normalize_protocol(protocol);
  if (!canonical) return std::nullopt;
  for (const auto& p : kProtocols) {
    if (p.canonical == *canonical) return p.number;
  }
  // normalize_protocol keeps a number without a known name as its decimal text (0-255).
  int number = 0;
  std::from_chars(canonical->data(), canonical->data() + canonical->size(), number);
  return number;
}

}  // namespace flowmetrics
