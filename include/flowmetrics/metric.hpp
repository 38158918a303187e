#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace flowmetrics {

using Timestamp = std::chrono::system_clock::time_point;

// One measurement of a network five-tuple at a point in time, as a caller supplies it.
//
// Fields are taken as given and checked by validation (see validation.hpp): addresses are
// IPv4 or IPv6 text, ports 0-65535, protocol an IANA name or number. Timestamps are stored
// with millisecond precision, so two metrics whose times differ by less than a millisecond
// describe the same key. The counters are optional: zero means "not supplied" and adds
// nothing when metrics are aggregated.
struct Metric {
  std::string source_ip;
  std::string dest_ip;
  int source_port = 0;
  int dest_port = 0;
  std::string protocol;
  Timestamp timestamp{};
  double value = 0.0;
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
  std::uint64_t flows = 0;
};

}  // namespace flowmetrics
