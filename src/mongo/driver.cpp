#include <mutex>
#include <string_view>

#include "mongo/handles.hpp"

namespace flowmetrics::mongo {
namespace {

// The driver's default handler, minus one message: servers that advertise sessions but do
// not implement endSessions (FerretDB v1) make every client destruction warn about it,
// though nothing is wrong. Everything else reaches stderr as before.
void log_handler(mongoc_log_level_t level, const char* domain, const char* message, void* data) {
  if (level == MONGOC_LOG_LEVEL_WARNING && std::string_view(message).starts_with("Couldn't send \"endSessions\"")) {
    return;
  }
  mongoc_log_default_handler(level, domain, message, data);
}

}  // namespace

void ensure_driver_initialized() {
  static std::once_flag once;
  // mongoc_cleanup() is deliberately never called: clients may outlive static destructors.
  std::call_once(once, [] {
    mongoc_init();
    mongoc_log_set_handler(log_handler, nullptr);
  });
}

}  // namespace flowmetrics::mongo
