#pragma once

#include <optional>

#include "mongo/error_translation.hpp"
#include "mongo/handles.hpp"

namespace flowmetrics::mongo {

// One single-threaded driver client: one connection per server it talks to. Move-only;
// not safe for concurrent use (the pool hands each to one caller at a time).
class Client {
 public:
  // Creates the client and verifies it with a ping round trip.
  // Returns the driver's error when the server cannot be reached.
  static std::optional<Client> open(const mongoc_uri_t* uri, DriverError& error);

  // One `ping` round trip; fills `error` and returns false on failure.
  bool ping(DriverError& error);

  mongoc_client_t* get() const noexcept { return handle_.get(); }

 private:
  explicit Client(ClientPtr handle) : handle_(std::move(handle)) {}
  ClientPtr handle_;
};

}  // namespace flowmetrics::mongo
