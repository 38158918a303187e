#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "netflow/flow_decoder.hpp"

namespace flowmetrics::ingest {

// What the input has seen, for /metrics: its own totals and the decoder's per exporter.
struct NetflowInputStats {
  std::uint64_t datagrams = 0;        // datagrams received from the socket
  std::uint64_t datagram_bytes = 0;   // their payload bytes
  std::uint64_t records = 0;          // flow records decoded and handed on (submitted or dropped)
  std::uint64_t records_dropped = 0;  // of those, dropped because the pipeline was saturated
  // Datagrams the kernel dropped for a full receive buffer (SO_RXQ_OVFL, the socket's
  // counter as of the last datagram received); kernel_drops_supported is false where the
  // platform does not report it.
  std::uint64_t kernel_drops = 0;
  bool kernel_drops_supported = false;
  std::size_t receive_buffer_bytes = 0;  // as the kernel reports it (getsockopt SO_RCVBUF)
  std::vector<netflow::ExporterStats> exporters;
};

}  // namespace flowmetrics::ingest
