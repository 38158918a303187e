#pragma once

namespace httplib {
class Server;
}

namespace flowmetrics::server {

// The policy every console answer carries: scripts, styles, images and requests from this
// origin only (no inline script, no other host), no framing, no plugins.
inline constexpr const char* kConsoleContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

// Serves the embedded web console on `server`: GET / (the page), /assets/console.js,
// /assets/console.css and /favicon.svg, gzip-compressed when the request accepts gzip. The
// page reads /v1/query/top and /v1/query/series from the same origin, which the caller
// registers (register_query_routes). Call before the server starts listening.
void register_console_routes(httplib::Server& server);

}  // namespace flowmetrics::server
