// libFuzzer target for the sFlow v5 decoder (src/sflow) and its adapter to the pipeline's
// records.
//
// Input: one selector byte, then one or more datagrams separated by kSeparator, all decoded
// by the same SflowDecoder (so per-agent and per-source sequence state carries over), the
// clock advancing between them. The selector picks the sender, the sampling option and
// small caps on agents and sources so that the overflow paths run too.
//
// Checks beyond "no crash": every record is one flowmetrics::make_metric_key accepts once
// adapted, its binary flow key renders to the same key, its counters follow the sampling
// rule, and the per-agent counters are consistent.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "flowmetrics/validation.hpp"
#include "sflow/metric_adapter.hpp"
#include "sflow/sflow_decoder.hpp"

namespace {

using flowmetrics::sflow::DecoderOptions;
using flowmetrics::sflow::FlowSample;
using flowmetrics::sflow::SflowDecoder;

constexpr std::string_view kSeparator = "\xff\x53\x46\xff";  // "\xffSF\xff"

sockaddr_storage sender(std::uint8_t selector) {
  sockaddr_storage storage{};
  if ((selector & 1) == 0) {
    auto& a = reinterpret_cast<sockaddr_in&>(storage);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(0xc0000201u);  // 192.0.2.1
  } else {
    reinterpret_cast<sockaddr_in6&>(storage).sin6_family = AF_INET6;
    inet_pton(AF_INET6, "2001:db8::1", &reinterpret_cast<sockaddr_in6&>(storage).sin6_addr);
  }
  return storage;
}

void check(const FlowSample& sample, bool apply_sampling, std::chrono::system_clock::time_point now) {
  if (sample.family != 4 && sample.family != 6) std::abort();
  if (sample.flows != 1) std::abort();
  const std::uint64_t scale = apply_sampling && sample.sampling_rate > 0 ? sample.sampling_rate : 1;
  if (sample.packets != scale || sample.bytes != scale * sample.frame_length) std::abort();
  flowmetrics::Metric metric;
  flowmetrics::sflow::to_metric(sample, now, metric);
  flowmetrics::MetricKey key;
  if (make_metric_key(metric, key)) std::abort();  // the adapter produced an invalid metric
  if (key.source_ip != metric.source_ip || key.dest_ip != metric.dest_ip) std::abort();  // not canonical
  if (metric.value != static_cast<double>(metric.bytes)) std::abort();
  // The binary flow key renders to the same key.
  flowmetrics::FlowUpdate update;
  if (flowmetrics::sflow::to_flow_update(sample, now, update) != flowmetrics::KeyRejection::none) std::abort();
  const flowmetrics::MetricKey rendered = flowmetrics::render_metric_key(update.key);
  if (rendered.source_ip != key.source_ip || rendered.dest_ip != key.dest_ip ||
      rendered.source_port != key.source_port || rendered.dest_port != key.dest_port ||
      rendered.protocol != key.protocol || rendered.timestamp_ms != key.timestamp_ms)
    std::abort();
  if (update.packets != metric.packets || update.bytes != metric.bytes || update.flows != metric.flows) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t selector = data[0];
  DecoderOptions options;
  options.apply_sampling = (selector & 2) == 0;
  options.max_agents = (selector & 4) != 0 ? 1 : 1024;
  options.max_sources_per_agent = (selector & 8) != 0 ? 2 : 4096;
  SflowDecoder decoder(options);
  auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1'732'530'000));
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::vector<FlowSample> out;
  std::size_t datagrams = 0;
  std::size_t records = 0;
  std::size_t start = 0;
  while (start <= input.size()) {
    std::size_t end = input.find(kSeparator, start);
    if (end == std::string_view::npos) end = input.size();
    // A copy, exactly the datagram's size, so that AddressSanitizer sees any overread.
    const std::vector<std::uint8_t> datagram(input.begin() + static_cast<std::ptrdiff_t>(start),
                                             input.begin() + static_cast<std::ptrdiff_t>(end));
    out.clear();
    decoder.decode(sender(static_cast<std::uint8_t>(selector + datagrams)), datagram, now, out);
    for (const FlowSample& sample : out) check(sample, options.apply_sampling, now);
    records += out.size();
    ++datagrams;
    now += std::chrono::seconds(4);
    start = end + kSeparator.size();
  }
  std::uint64_t counted_datagrams = 0;
  std::uint64_t counted_records = 0;
  for (const auto& agent : decoder.stats()) {
    counted_datagrams += agent.datagrams;
    counted_records += agent.records;
    if (agent.records + agent.unsupported_header_protocols + agent.not_ip > agent.samples) std::abort();
    if (agent.unscaled > agent.records || agent.malformed > agent.datagrams) std::abort();
  }
  if (counted_datagrams != datagrams || counted_records != records) std::abort();
  decoder.expire(now + std::chrono::hours(2));
  if (!decoder.stats().empty() && decoder.stats().front().agent != "overflow") std::abort();
  return 0;
}
