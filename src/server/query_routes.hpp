#pragma once

#include <string>
#include <vector>

namespace httplib {
class Server;
}

namespace flowmetrics::server {

class QueryService;

struct QueryRouteOptions {
  // Bearer tokens any one of which a query must carry ("Authorization: Bearer <token>"), e.g.
  // the read token and the write token; empty: the query API is open.
  std::vector<std::string> tokens;
};

// Mounts the read-only query API (docs/query-api.md) on `server`:
//   GET /v1/query/top     parameters by, measure, from, to, last, limit, where
//   GET /v1/query/series  parameters measure, from, to, last, step, points, split_by, limit, where
// 200 with the JSON `flowmetrics top|series --format json` prints; 400 {"reason":
// "bad_parameter", "message", "parameter"[, "position"]} for an unknown, repeated or bad
// parameter; 401 {"reason": "unauthorized"} without a valid token; 503 {"reason":
// "database_unavailable"} when the database does not answer in time; 500 {"reason":
// "query_failed"} otherwise. No CORS headers: same-origin only. The collector mounts it on its
// HTTP port; `flowmetrics console` can mount it on its own. `service` must outlive `server`'s
// serving; call before the server starts listening.
void register_query_routes(httplib::Server& server, QueryService& service, QueryRouteOptions options);

}  // namespace flowmetrics::server
