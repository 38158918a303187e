#pragma once

#include <string>

namespace httplib {
class Server;
}

namespace flowmetrics::server {

// Binds `server` to `listen` ("host:port", "[v6]:port"; port 0 for any free port) without
// starting its loop, and returns the address bound as "host:port" (IPv6 in brackets).
// Throws std::runtime_error naming `listen` when it cannot be parsed or bound.
std::string bind_listener(httplib::Server& server, const std::string& listen);

}  // namespace flowmetrics::server
