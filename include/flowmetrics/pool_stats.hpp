#pragma once

#include <chrono>
#include <cstdint>

namespace flowmetrics {

// A consistent snapshot of the connection pool. Gauges describe now; counters only grow.
struct PoolStats {
  // Gauges.
  std::uint64_t open = 0;     // connections that exist: idle + in use + being checked
  std::uint64_t in_use = 0;   // leased to a caller
  std::uint64_t idle = 0;     // waiting in the pool
  std::uint64_t waiting = 0;  // callers blocked for a connection
  // Counters.
  std::uint64_t created = 0;        // connections opened and verified with a round trip
  std::uint64_t closed_idle = 0;    // closed after maxIdleTimeMS without use
  std::uint64_t closed_broken = 0;  // closed after a failed operation or health check
  std::uint64_t create_failures = 0;
  std::uint64_t checkouts = 0;                  // successful acquisitions
  std::uint64_t wait_timeouts = 0;              // acquisitions that gave up after waitQueueTimeoutMS
  std::uint64_t health_checks = 0;              // pings sent to idle connections
  std::chrono::nanoseconds total_wait_time{0};  // summed over all acquisitions
  std::chrono::nanoseconds max_wait_time{0};
};

}  // namespace flowmetrics
