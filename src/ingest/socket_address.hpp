#pragma once

#include <sys/socket.h>

#include <string>

namespace flowmetrics::ingest {

// "host:port" or "[v6]:port" resolved to a socket address; throws std::runtime_error naming it.
struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family = 0;
};
SocketAddress parse_socket_address(const std::string& text);
std::string to_string(const sockaddr* address);

// A listening TCP socket on `address` (SO_REUSEADDR); throws std::runtime_error.
int listen_tcp(const std::string& address, int backlog = 512);

}  // namespace flowmetrics::ingest
