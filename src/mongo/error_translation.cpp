#include "mongo/error_translation.hpp"

#include <array>
#include <span>
#include <string>

namespace flowmetrics::mongo {
namespace {

// Errors that mean the server rejected the command before executing it.
constexpr std::array<std::uint32_t, 3> kNotPrimary{10107, 13435, 13436};

bool contains(std::span<const std::uint32_t> codes, std::uint32_t code) {
  for (auto c : codes) {
    if (c == code) return true;
  }
  return false;
}

}  // namespace

bool is_transient_server_code(std::uint32_t code) noexcept {
  // The retryable error codes of MongoDB's retryable-writes specification.
  static constexpr std::array<std::uint32_t, 14> kRetryable{6,     7,     89,    91,    189,   262, 9001,
                                                            10107, 11600, 11602, 13435, 13436, 63,  150};
  return contains(kRetryable, code);
}

bool is_transient_server_error(std::uint32_t code, std::string_view message) noexcept {
  return is_transient_server_code(code) ||
         (code == 1 && (message.find("SQLITE_BUSY") != std::string_view::npos ||
                        message.find("database is locked") != std::string_view::npos));
}

DriverError translate(const bson_error_t& error, std::string_view operation) {
  DriverError out;
  out.message = std::string(operation) + ": " + error.message;
  switch (error.domain) {
    case MONGOC_ERROR_SERVER_SELECTION:
      out.code = errc::server_unreachable;
      out.transient = true;
      out.not_sent = true;
      out.connection_broken = true;
      break;
    case MONGOC_ERROR_STREAM:
    case MONGOC_ERROR_PROTOCOL:
      out.code = errc::network_error;
      out.transient = true;
      out.connection_broken = true;
      // Only a failure to connect proves that no request left. The driver words a failed
      // read as "Failed to send ...: Failed to read 4 bytes", so the text cannot tell a
      // lost request from a lost reply: any other socket error may have been applied.
      out.not_sent = error.code == MONGOC_ERROR_STREAM_NOT_ESTABLISHED || error.code == MONGOC_ERROR_STREAM_CONNECT ||
                     error.code == MONGOC_ERROR_STREAM_NAME_RESOLUTION;
      if (error.code == MONGOC_ERROR_STREAM_CONNECT || error.code == MONGOC_ERROR_STREAM_NAME_RESOLUTION) {
        out.code = errc::server_unreachable;
      }
      break;
    case MONGOC_ERROR_CLIENT:
      if (error.code == MONGOC_ERROR_CLIENT_AUTHENTICATE) {
        out.code = errc::authentication_failed;
        out.connection_broken = true;
        out.not_sent = true;
      } else {
        out.code = errc::invalid_argument;
      }
      break;
    case MONGOC_ERROR_SERVER:
    case MONGOC_ERROR_WRITE_CONCERN:
    case MONGOC_ERROR_QUERY:
    case MONGOC_ERROR_COMMAND:
    case MONGOC_ERROR_COLLECTION:
    default:
      out.server_code = error.code;
      out.code = errc::server_error;
      out.transient = is_transient_server_error(error.code, error.message);
      out.not_sent = contains(kNotPrimary, error.code);
      out.connection_broken = is_transient_server_code(error.code) && !out.not_sent;
      if (error.code == 18) out.code = errc::authentication_failed;
      if (error.code == 85 || error.code == 86) out.code = errc::index_conflict;
      if (error.code == 238 || error.code == 115) out.code = errc::not_supported;
      out.message += " (server code " + std::to_string(error.code) + ")";
      break;
  }
  return out;
}

void throw_error(const DriverError& error) {
  throw Error(error.code, error.message);
}

}  // namespace flowmetrics::mongo
