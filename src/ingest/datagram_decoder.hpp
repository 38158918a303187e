#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <span>
#include <vector>

#include "core/flow_key.hpp"

namespace flowmetrics::ingest {

// What a UdpDatagramInput does with the datagrams it receives: one protocol's decoder. Every
// call comes from the input's receiving thread, so an implementation needs no locking for its
// own state; what other threads read (its statistics) it publishes in publish().
class DatagramDecoder {
 public:
  virtual ~DatagramDecoder() = default;
  // Decodes one datagram from `sender`, received at `received`, appending its records to
  // `out` as binary flow keys with their counters. Never throws for bad input: counts it.
  virtual void decode(const sockaddr_storage& sender, std::span<const std::uint8_t> datagram,
                      std::chrono::system_clock::time_point received, std::vector<FlowUpdate>& out) = 0;
  // About once a second: forget what has gone quiet.
  virtual void expire(std::chrono::system_clock::time_point now) = 0;
  // About every 200 ms and once at stop: make the statistics visible to other threads.
  virtual void publish() = 0;
};

}  // namespace flowmetrics::ingest
