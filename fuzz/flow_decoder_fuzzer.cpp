// libFuzzer target for the NetFlow v5 / v9 / IPFIX decoders (src/netflow).
//
// Input: one selector byte, then one or more datagrams separated by kSeparator. The selector
// picks the exporter (4 addresses, IPv4 and IPv6) and the decoder options; each datagram is
// decoded by the same FlowDecoder, so templates learned from one are used by the next, and
// the clock advances between datagrams so that held data sets expire. Built once per
// version with FLOWMETRICS_FUZZ_VERSION = 5, 9 or 10: the datagrams' version field is forced
// to it, so each binary spends its time in one decoder.
//
// Checks beyond "no crash": every metric is one flowmetrics::make_metric_key accepts, and
// the counters are consistent.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

#include "flowmetrics/validation.hpp"
#include "netflow/flow_decoder.hpp"

#ifndef FLOWMETRICS_FUZZ_VERSION
#define FLOWMETRICS_FUZZ_VERSION 0  // keep each datagram's own version
#endif

namespace {

using flowmetrics::netflow::DecoderOptions;
using flowmetrics::netflow::FlowDecoder;
using flowmetrics::netflow::FlowTime;

constexpr std::string_view kSeparator = "\xff\x4e\x46\xff";  // "\xffNF\xff"

sockaddr_storage exporter(std::uint8_t selector) {
  sockaddr_storage storage{};
  switch (selector & 3) {
    case 0:
    case 1: {
      auto& a = reinterpret_cast<sockaddr_in&>(storage);
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(0xc0000201u + (selector & 1));  // 192.0.2.1 / .2
      break;
    }
    case 2:
      reinterpret_cast<sockaddr_in6&>(storage).sin6_family = AF_INET6;
      inet_pton(AF_INET6, "2001:db8::1", &reinterpret_cast<sockaddr_in6&>(storage).sin6_addr);
      break;
    default:
      reinterpret_cast<sockaddr_in6&>(storage).sin6_family = AF_INET6;
      inet_pton(AF_INET6, "::ffff:192.0.2.1", &reinterpret_cast<sockaddr_in6&>(storage).sin6_addr);
      break;
  }
  return storage;
}

void check(const flowmetrics::Metric& metric) {
  flowmetrics::MetricKey key;
  if (make_metric_key(metric, key)) std::abort();  // the decoder produced an invalid metric
  if (key.source_ip != metric.source_ip || key.dest_ip != metric.dest_ip) std::abort();  // not canonical
  if (metric.flows != 1 || metric.value != static_cast<double>(metric.bytes)) std::abort();
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
  options.timestamp = (selector & 4) != 0 ? FlowTime::start : FlowTime::end;
  options.apply_sampling = (selector & 8) == 0;
  options.max_held_bytes_per_exporter = (selector & 16) != 0 ? 256 : 1 << 20;
  options.max_templates_per_exporter = (selector & 32) != 0 ? 4 : 512;
  FlowDecoder decoder(options);
  auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1'732'530'000));
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::vector<flowmetrics::Metric> out;
  std::size_t datagrams = 0;
  std::size_t start = 0;
  while (start <= input.size()) {
    std::size_t end = input.find(kSeparator, start);
    if (end == std::string_view::npos) end = input.size();
    // A copy, exactly the datagram's size, so that AddressSanitizer sees any overread.
    std::vector<std::uint8_t> datagram(input.begin() + static_cast<std::ptrdiff_t>(start),
                                       input.begin() + static_cast<std::ptrdiff_t>(end));
    if (FLOWMETRICS_FUZZ_VERSION != 0 && datagram.size() >= 2) {
      datagram[0] = 0;
      datagram[1] = FLOWMETRICS_FUZZ_VERSION;
    }
    out.clear();
    // Selector bits 6-7: the first exporter; bit 1: rotate through the exporters.
    const std::size_t which = (selector >> 6) + ((selector & 2) != 0 ? datagrams : 0);
    decoder.decode(exporter(static_cast<std::uint8_t>(which)), datagram, now, out);
    for (const auto& metric : out) check(metric);
    ++datagrams;
    now += std::chrono::seconds(4);
    if (datagrams % 2 == 0) decoder.expire(now);
    start = end + kSeparator.size();
  }
  std::uint64_t packets = 0;
  for (const auto& stats : decoder.stats()) {
    packets += stats.packets;
    if (stats.dropped_no_template > stats.unknown_templates) std::abort();
  }
  if (packets > datagrams) std::abort();  // fewer: idle exporters forgotten by expire()
  decoder.expire(now + std::chrono::hours(2));
  return 0;
}
