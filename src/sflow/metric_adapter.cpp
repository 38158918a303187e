#include "sflow/metric_adapter.hpp"

#include <array>
#include <cstring>
#include <string>

namespace flowmetrics::sflow {
namespace {

// core/flow_key's rendering: inet_ntop's text (RFC 5952) without glibc's sprintf for IPv4.
std::string address(std::uint8_t family, const std::uint8_t* bytes) {
  std::array<std::uint8_t, 16> copy{};
  std::memcpy(copy.data(), bytes, family == 4 ? 4 : 16);
  return render_ip(copy, family != 4);
}

}  // namespace

void to_metric(const FlowSample& sample, std::chrono::system_clock::time_point received, Metric& out) {
  out.source_ip = address(sample.family, sample.src);
  out.dest_ip = address(sample.family, sample.dst);
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
