#pragma once

#include <string>
#include <string_view>

#include "flowmetrics/agent_options.hpp"
#include "mongo/handles.hpp"

namespace flowmetrics::mongo {

// The parsed URI, ready to open single-threaded clients from, and the options after the
// URI's pool settings were applied over the caller's.
struct ResolvedUri {
  UriPtr client_uri;
  AgentOptions options;
  std::string hosts;  // "host:port,..." for messages; never contains credentials
};

// Parses `uri` and applies maxPoolSize, minPoolSize, maxIdleTimeMS and waitQueueTimeoutMS
// from it over `options`. Timeouts the caller did not put in the URI are set from
// `options` (connectTimeoutMS, serverSelectionTimeoutMS, socketTimeoutMS).
// Throws Error(invalid_argument) naming the problem; the message never echoes a password.
ResolvedUri resolve_uri(std::string_view uri, const AgentOptions& options);

}  // namespace flowmetrics::mongo
