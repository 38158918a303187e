#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace flowmetrics::testing {

// One socket of a process as the kernel lists it in /proc/net/{tcp,tcp6,udp,udp6}.
struct ProcessSocket {
  std::string local_address, remote_address;  // the kernel's hex, e.g. "0100007F" for 127.0.0.1
  int local_port = 0, remote_port = 0;
  int state = 0;  // TCP: 1 = ESTABLISHED; UDP: 7 = unconnected
  std::uint64_t tx_queue = 0, rx_queue = 0;
};

enum class Transport { tcp, udp };

// The sockets process `pid` holds (0: this process): the inodes of its open descriptors
// (/proc/<pid>/fd) matched against the kernel's tables. Sockets of other processes are never
// included, whatever their ports. Empty when the process is gone.
std::vector<ProcessSocket> process_sockets(pid_t pid, Transport transport);

// The connections this process holds to 127.0.0.1:port (its own ESTABLISHED TCP sockets whose
// remote end is that address and port): the client side of every connection it opened to the
// server there. Another process's sockets never count, even when a remote port equals `port`.
int own_connections_to(int port);

// The receive queue (bytes not yet read) of process `pid`'s UDP socket bound to `port`, or
// std::nullopt when it has none (yet).
std::optional<std::uint64_t> udp_receive_queue(pid_t pid, int port);

}  // namespace flowmetrics::testing
