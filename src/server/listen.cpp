#include "server/listen.hpp"

#include <arpa/inet.h>
#include <httplib.h>

#include <stdexcept>

#include "ingest/socket_address.hpp"

namespace flowmetrics::server {

std::string bind_listener(httplib::Server& server, const std::string& listen) {
  const ingest::SocketAddress address = ingest::parse_socket_address(listen);
  char host[INET6_ADDRSTRLEN] = {};
  int port = 0;
  if (address.family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&address.storage);
    ::inet_ntop(AF_INET, &v4->sin_addr, host, sizeof(host));
    port = ntohs(v4->sin_port);
  } else {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&address.storage);
    ::inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof(host));
    port = ntohs(v6->sin6_port);
  }
  if (port == 0) {
    port = server.bind_to_any_port(host);
    if (port < 0) throw std::runtime_error("cannot listen on " + listen);
  } else if (!server.bind_to_port(host, port)) {
    throw std::runtime_error("cannot listen on " + listen);
  }
  return address.family == AF_INET6 ? "[" + std::string(host) + "]:" + std::to_string(port)
                                    : std::string(host) + ":" + std::to_string(port);
}

}  // namespace flowmetrics::server
