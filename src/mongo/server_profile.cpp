#include "mongo/server_profile.hpp"

namespace flowmetrics::mongo {

ServerProfile detect_server(Client& client) {
  BsonPtr command(BCON_NEW("buildInfo", BCON_INT32(1)));
  Reply reply;
  bson_error_t error;
  if (!mongoc_client_command_simple(client.get(), "admin", command.get(), nullptr, reply.reset(), &error)) {
    throw_error(translate(error, "buildInfo"));
  }
  ServerProfile profile;
  bson_iter_t it;
  if (bson_iter_init_find(&it, reply.get(), "version") && BSON_ITER_HOLDS_UTF8(&it)) {
    profile.version = bson_iter_utf8(&it, nullptr);
  }
  if (bson_iter_init_find(&it, reply.get(), "ferretdbVersion") && BSON_ITER_HOLDS_UTF8(&it)) {
    profile.ferretdb_version = bson_iter_utf8(&it, nullptr);
  }
  return profile;
}

}  // namespace flowmetrics::mongo
