#include "mongo/uri.hpp"

#include <string>

#include "mongo/error_translation.hpp"

namespace flowmetrics::mongo {
namespace {

int32_t clamp_ms(std::chrono::milliseconds ms) {
  return static_cast<int32_t>(std::min<std::int64_t>(ms.count(), INT32_MAX));
}

// Reads an integer option from the URI; returns false when absent.
bool uri_int(const mongoc_uri_t* uri, const char* name, int32_t& value) {
  if (!mongoc_uri_has_option(uri, name)) return false;
  value = mongoc_uri_get_option_as_int32(uri, name, 0);
  return true;
}

void set_default_timeout(mongoc_uri_t* uri, const char* name, std::chrono::milliseconds value) {
  if (!mongoc_uri_has_option(uri, name)) mongoc_uri_set_option_as_int32(uri, name, clamp_ms(value));
}

}  // namespace

ResolvedUri resolve_uri(std::string_view text, const AgentOptions& options) {
  ensure_driver_initialized();
  bson_error_t error;
  UriPtr uri(mongoc_uri_new_with_error(std::string(text).c_str(), &error));
  if (!uri) throw Error(errc::invalid_argument, std::string("invalid MongoDB URI: ") + error.message);

  ResolvedUri resolved{nullptr, options, {}};
  PoolOptions& pool = resolved.options.pool;
  int32_t value = 0;
  if (uri_int(uri.get(), MONGOC_URI_MAXPOOLSIZE, value)) pool.max_size = static_cast<std::size_t>(value);
  if (uri_int(uri.get(), MONGOC_URI_MINPOOLSIZE, value)) pool.min_size = static_cast<std::size_t>(value);
  if (uri_int(uri.get(), MONGOC_URI_MAXIDLETIMEMS, value)) pool.max_idle_time = std::chrono::milliseconds(value);
  if (uri_int(uri.get(), MONGOC_URI_WAITQUEUETIMEOUTMS, value)) {
    pool.wait_queue_timeout = std::chrono::milliseconds(value);
  }
  if (pool.max_size == 0) throw Error(errc::invalid_argument, "maxPoolSize must be at least 1");
  if (pool.min_size > pool.max_size) {
    throw Error(errc::invalid_argument, "minPoolSize (" + std::to_string(pool.min_size) + ") exceeds maxPoolSize (" +
                                            std::to_string(pool.max_size) + ")");
  }
  if (pool.max_idle_time.count() <= 0) throw Error(errc::invalid_argument, "maxIdleTimeMS must be positive");
  if (pool.health_check_interval.count() <= 0) {
    throw Error(errc::invalid_argument, "health_check_interval must be positive");
  }

  set_default_timeout(uri.get(), MONGOC_URI_CONNECTTIMEOUTMS, options.connect_timeout);
  set_default_timeout(uri.get(), MONGOC_URI_SERVERSELECTIONTIMEOUTMS, options.connect_timeout);
  set_default_timeout(uri.get(), MONGOC_URI_SOCKETTIMEOUTMS, options.operation_timeout);
  if (!mongoc_uri_get_appname(uri.get()) && !options.app_name.empty()) {
    mongoc_uri_set_appname(uri.get(), options.app_name.c_str());
  }

  for (const mongoc_host_list_t* host = mongoc_uri_get_hosts(uri.get()); host != nullptr; host = host->next) {
    if (!resolved.hosts.empty()) resolved.hosts += ',';
    resolved.hosts += host->host_and_port;
  }
  if (resolved.hosts.empty()) resolved.hosts = "(srv/unix)";
  resolved.client_uri = std::move(uri);
  return resolved;
}

}  // namespace flowmetrics::mongo
