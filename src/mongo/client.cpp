#include "mongo/client.hpp"

namespace flowmetrics::mongo {

std::optional<Client> Client::open(const mongoc_uri_t* uri, DriverError& error) {
  ensure_driver_initialized();
  bson_error_t driver_error;
  ClientPtr handle(mongoc_client_new_from_uri_with_error(uri, &driver_error));
  if (!handle) {
    error = translate(driver_error, "open connection");
    return std::nullopt;
  }
  // Version 2 reports server errors in the MONGOC_ERROR_SERVER domain with the server's code.
  mongoc_client_set_error_api(handle.get(), MONGOC_ERROR_API_VERSION_2);
  Client client(std::move(handle));
  if (!client.ping(error)) return std::nullopt;
  return client;
}

bool Client::ping(DriverError& error) {
  BsonPtr command(BCON_NEW("ping", BCON_INT32(1)));
  Reply reply;
  bson_error_t driver_error;
  if (!mongoc_client_command_simple(handle_.get(), "admin", command.get(), nullptr, reply.reset(), &driver_error)) {
    error = translate(driver_error, "ping");
    return false;
  }
  return true;
}

}  // namespace flowmetrics::mongo
