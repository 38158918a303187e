#include <arpa/inet.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>

#include "flowmetrics/validation.hpp"

namespace flowmetrics {
namespace {

// 9999-12-31T23:59:59.999Z: the last instant RFC 3339 can write with a four-digit year.
constexpr std::int64_t kMaxTimestampMs = 253'402'300'799'999;

std::optional<FieldError> check_port(int port, const char* field) {
  if (port < 0 || port > 65535) {
    return FieldError{field, "port " + std::to_string(port) + " is outside 0-65535"};
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> normalize_ip(std::string_view address) {
  // Longest valid text form is an IPv6 address with an embedded IPv4 tail (45 chars).
  if (address.empty() || address.size() > INET6_ADDRSTRLEN) return std::nullopt;
  if (address.find('\0') != std::string_view::npos) return std::nullopt;  // inet_pton would stop there
  char text[INET6_ADDRSTRLEN + 1] = {};
  address.copy(text, address.size());
  unsigned char raw[sizeof(in6_addr)];
  char canonical[INET6_ADDRSTRLEN];
  int family = AF_INET;
  if (inet_pton(AF_INET, text, raw) == 1) {
    // inet_pton takes only the dotted quad without leading zeros, which is already the
    // canonical text: no need to print it again.
    return std::string(address);
  }
  family = AF_INET6;
  if (inet_pton(AF_INET6, text, raw) != 1) return std::nullopt;
  if (inet_ntop(family, raw, canonical, sizeof(canonical)) == nullptr) return std::nullopt;
  return std::string(canonical);
}

std::optional<FieldError> make_metric_key(const Metric& metric, MetricKey& key) {
  auto source_ip = normalize_ip(metric.source_ip);
  if (!source_ip) {
    return FieldError{"source_ip", "'" + metric.source_ip.substr(0, 64) + "' is not an IPv4 or IPv6 address"};
  }
  auto dest_ip = normalize_ip(metric.dest_ip);
  if (!dest_ip) {
    return FieldError{"dest_ip", "'" + metric.dest_ip.substr(0, 64) + "' is not an IPv4 or IPv6 address"};
  }
  if (auto error = check_port(metric.source_port, "source_port")) return error;
  if (auto error = check_port(metric.dest_port, "dest_port")) return error;
  auto protocol = normalize_protocol(metric.protocol);
  if (!protocol) {
    return FieldError{"protocol",
                      "'" + metric.protocol.substr(0, 32) + "' is not a known protocol name or a number 0-255"};
  }
  if (!std::isfinite(metric.value)) {
    return FieldError{"value", "value must be a finite number"};
  }
  const auto ms = std::chrono::floor<std::chrono::milliseconds>(metric.timestamp.time_since_epoch()).count();
  if (ms < 0 || ms > kMaxTimestampMs) {
    return FieldError{"timestamp", "timestamp " + std::to_string(ms) + " ms is outside 1970-01-01..9999-12-31"};
  }
  key.source_ip = std::move(*source_ip);
  key.dest_ip = std::move(*dest_ip);
  key.source_port = static_cast<std::uint16_t>(metric.source_port);
  key.dest_port = static_cast<std::uint16_t>(metric.dest_port);
  key.protocol = std::move(*protocol);
  key.timestamp_ms = ms;
  return std::nullopt;
}

}  // namespace flowmetrics
