#pragma once

#include <string>
#include <system_error>
#include <type_traits>

namespace flowmetrics {

// Error codes of the library's public calls. Match on them with
// `error.code() == flowmetrics::errc::pool_wait_timeout`.
enum class errc {
  invalid_argument = 1,   // a bad URI, option, database or collection name
  agent_closed,           // the agent was closed before or during the call
  pool_wait_timeout,      // every connection stayed in use for waitQueueTimeoutMS
  server_unreachable,     // no server answered (connection refused, DNS, TLS, selection)
  network_error,          // a connection broke during an operation
  deadline_exceeded,      // the call's deadline passed; the message says what was last tried
  authentication_failed,  // the server refused the credentials
  server_error,           // the server refused a command; the message has its code
  index_conflict,         // an index with our name or keys exists with other options
  not_supported,          // the server does not implement something asked of it
  write_failed,           // some items of a bulk upsert were not written (see UpsertResult)
};

const std::error_category& error_category() noexcept;

inline std::error_code make_error_code(errc code) noexcept {
  return {static_cast<int>(code), error_category()};
}

// The one exception type of the library's control plane (construction, index creation,
// upserts as a whole). Its what() is a complete sentence naming the operation and, for
// server errors, the server's own code and message.
class Error : public std::system_error {
 public:
  Error(errc code, const std::string& message) : std::system_error(make_error_code(code), message) {}
};

}  // namespace flowmetrics

template <>
struct std::is_error_code_enum<flowmetrics::errc> : std::true_type {};
