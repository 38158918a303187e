#include <charconv>
#include <string>

#include "flowmetrics/error.hpp"
#include "flowmetrics/query.hpp"

namespace flowmetrics {
namespace {

[[noreturn]] void bad_dimension(std::string_view text, const std::string& why) {
  throw Error(errc::invalid_argument, "dimension '" + std::string(text) + "': " + why);
}

std::uint8_t parse_length(std::string_view whole, std::string_view digits, int max) {
  int value = -1;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size() || value < 0 || value > max) {
    bad_dimension(whole, "prefix length '" + std::string(digits) + "' is not a number in 0-" + std::to_string(max));
  }
  return static_cast<std::uint8_t>(value);
}

}  // namespace

std::string_view to_string(Measure measure) noexcept {
  switch (measure) {
    case Measure::bytes: return "bytes";
    case Measure::packets: return "packets";
    case Measure::flows: return "flows";
    case Measure::value: return "value";
    case Measure::count: return "count";
    case Measure::bps: return "bps";
    case Measure::pps: return "pps";
  }
  return "bytes";
}

std::optional<Measure> parse_measure(std::string_view text) noexcept {
  for (Measure m :
       {Measure::bytes, Measure::packets, Measure::flows, Measure::value, Measure::count, Measure::bps, Measure::pps}) {
    if (to_string(m) == text) return m;
  }
  return std::nullopt;
}

std::string_view to_string(QueryTier tier) noexcept {
  switch (tier) {
    case QueryTier::minute: return "minute";
    case QueryTier::hour: return "hour";
    case QueryTier::minute_totals: return "minute_totals";
    case QueryTier::hour_totals: return "hour_totals";
  }
  return "minute";
}

Dimension parse_dimension(std::string_view text) {
  const std::size_t slash = text.find('/');
  const std::string_view name = text.substr(0, slash);
  const std::optional<FlowField> field = flow_field_from_name(name);
  if (!field) {
    bad_dimension(text, "not one of source_ip, dest_ip, source_port, dest_port, protocol");
  }
  Dimension dimension{*field, std::nullopt, std::nullopt};
  if (slash == std::string_view::npos) return dimension;
  if (!is_address_field(*field)) bad_dimension(text, "only an address field takes a prefix length");
  const std::string_view rest = text.substr(slash + 1);
  const std::size_t second = rest.find('/');
  if (second == std::string_view::npos) {
    const std::uint8_t length = parse_length(text, rest, 128);
    if (length < 32) dimension.ipv4_prefix = length;
    if (length > 32 && length < 128) dimension.ipv6_prefix = length;
    return dimension;
  }
  dimension.ipv4_prefix = parse_length(text, rest.substr(0, second), 32);
  dimension.ipv6_prefix = parse_length(text, rest.substr(second + 1), 128);
  // A full length groups like whole addresses: one spelling for one grouping.
  if (dimension.ipv4_prefix == 32) dimension.ipv4_prefix.reset();
  if (dimension.ipv6_prefix == 128) dimension.ipv6_prefix.reset();
  return dimension;
}

std::string to_string(const Dimension& dimension) {
  std::string text(to_string(dimension.field));
  if (dimension.ipv4_prefix && dimension.ipv6_prefix) {
    text += "/" + std::to_string(*dimension.ipv4_prefix) + "/" + std::to_string(*dimension.ipv6_prefix);
  } else if (dimension.ipv4_prefix) {
    text += "/" + std::to_string(*dimension.ipv4_prefix);
  } else if (dimension.ipv6_prefix) {
    // "/N" with N <= 32 reads back as an IPv4 length: say the IPv4 length (whole) too.
    text += *dimension.ipv6_prefix > 32 ? "/" + std::to_string(*dimension.ipv6_prefix)
                                        : "/32/" + std::to_string(*dimension.ipv6_prefix);
  }
  return text;
}

}  // namespace flowmetrics
