#pragma once

#include <mongoc/mongoc.h>

#include <string>
#include <string_view>

#include "flowmetrics/error.hpp"

namespace flowmetrics::mongo {

// What a failed driver call means to us. The single place where bson_error_t is read.
struct DriverError {
  errc code = errc::server_error;
  std::string message;
  std::uint32_t server_code = 0;  // the server's error code, 0 for client-side errors
  // Worth trying again, perhaps on another connection: no server, broken connection,
  // not primary, shutting down, timed out.
  bool transient = false;
  // The request certainly did not reach the server (nothing can have been applied).
  bool not_sent = false;
  // The connection that gave the error must not be reused.
  bool connection_broken = false;
};

// Translates a driver error raised while doing `operation` (e.g. "bulk upsert").
DriverError translate(const bson_error_t& error, std::string_view operation);

// Server error codes that mean "try again elsewhere or later" (the retryable-writes set).
bool is_transient_server_code(std::uint32_t code) noexcept;
// As is_transient_server_code, and also FerretDB's SQLite "database is locked" (SQLITE_BUSY),
// which it reports as InternalError (code 1): another transaction held the lock, nothing was
// applied, and the same write succeeds once it is released.
bool is_transient_server_error(std::uint32_t code, std::string_view message) noexcept;

inline constexpr std::uint32_t kDuplicateKey = 11000;

[[noreturn]] void throw_error(const DriverError& error);

}  // namespace flowmetrics::mongo
