#include "sflow/metric_adapter.hpp"

#include <arpa/inet.h>

#include <string>

#include "netflow/record_decoder.hpp"  // format_ipv4: glibc's inet_ntop formats IPv4 with sprintf

namespace flowmetrics::sflow {
namespace {

void address(std::uint8_t family, const std::uint8_t* bytes, std::string& text) {
  char buffer[INET6_ADDRSTRLEN];
  if (family == 4) {
    text.assign(buffer, netflow::format_ipv4(bytes, buffer));
    return;
  }
  // inet_ntop: the same canonical text (RFC 5952 for IPv6) flowmetrics::normalize_ip gives.
  if (inet_ntop(AF_INET6, bytes, buffer, sizeof(buffer)) != nullptr) {
    text.assign(buffer);
  } else {
    text.clear();
  }
}

}  // namespace

void to_metric(const FlowSample& sample, std::chrono::system_clock::time_point received, Metric& out) {
  address(sample.family, sample.src, out.source_ip);
  address(sample.family, sample.dst, out.dest_ip);
  out.source_port = sample.src_port;
  out.dest_port = sample.dst_port;
  out.protocol = std::to_string(sample.protocol);
  out.timestamp = std::chrono::time_point_cast<std::chrono::milliseconds>(received);
  out.bytes = sample.bytes;
  out.packets = sample.packets;
  out.flows = sample.flows;
  out.value = static_cast<double>(sample.bytes);
}

KeyRejection to_flow_update(const FlowSample& sample, std::chrono::system_clock::time_point received,
                            FlowUpdate& out) noexcept {
  const auto address = [&](const std::uint8_t* bytes) {
    return sample.family == 4 ? FlowAddress::ipv4(bytes) : FlowAddress::ipv6(bytes);
  };
  const std::int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(received.time_since_epoch()).count();
  out.bytes = sample.bytes;
  out.packets = sample.packets;
  out.flows = sample.flows;
  out.value = static_cast<double>(sample.bytes);
  return make_flow_key(address(sample.src), address(sample.dst), sample.src_port, sample.dst_port, sample.protocol, ms,
                       out.key);
}

}  // namespace flowmetrics::sflow
