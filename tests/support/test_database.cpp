#include "test_database.hpp"

#include <mongoc/mongoc.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string_view>

#include "ferretdb_process.hpp"

namespace flowmetrics::testing {
namespace {

struct SharedServer {
  std::once_flag once;
  std::unique_ptr<FerretDbProcess> process;
};

SharedServer& shared() {
  static SharedServer* server = new SharedServer;  // stopped by atexit, never destroyed twice
  return *server;
}

struct ClientHandle {
  explicit ClientHandle(const std::string& uri) {
    static std::once_flag once;
    std::call_once(once, [] {
      mongoc_init();
      // FerretDB has no endSessions; the driver's warning about it is noise in test output.
      mongoc_log_set_handler(
          [](mongoc_log_level_t level, const char* domain, const char* message, void* data) {
            if (std::string_view(message).find("endSessions") == std::string_view::npos) {
              mongoc_log_default_handler(level, domain, message, data);
            }
          },
          nullptr);
    });
    client = mongoc_client_new(uri.c_str());
    if (client == nullptr) throw std::runtime_error("bad test URI " + uri);
    mongoc_client_set_error_api(client, MONGOC_ERROR_API_VERSION_2);
  }
  ~ClientHandle() { mongoc_client_destroy(client); }
  mongoc_collection_t* collection(const std::string& name) const {
    return mongoc_client_get_collection(client, kTestDatabase, name.c_str());
  }
  mongoc_client_t* client;
};

}  // namespace

bool using_external_server() {
  const char* uri = std::getenv("MONGODB_URI");
  return uri != nullptr && *uri != '\0';
}

std::string test_uri() {
  if (using_external_server()) return std::getenv("MONGODB_URI");
  SharedServer& server = shared();
  std::call_once(server.once, [&server] {
    server.process = std::make_unique<FerretDbProcess>();
    server.process->start();
    std::atexit([] { shared().process.reset(); });
  });
  return server.process->uri();
}

std::string with_options(const std::string& uri, const std::string& options) {
  if (options.empty()) return uri;
  return uri + (uri.find('?') == std::string::npos ? "?" : "&") + options;
}

std::string unique_collection(const std::string& prefix) {
  static std::atomic<int> counter{0};
  const auto now = std::chrono::system_clock::now().time_since_epoch().count();
  return prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(now % 1'000'000'007) + "_" +
         std::to_string(counter++);
}

std::vector<StoredIndex> read_indexes(const std::string& uri, const std::string& collection) {
  ClientHandle client(uri);
  mongoc_collection_t* coll = client.collection(collection);
  mongoc_cursor_t* cursor = mongoc_collection_find_indexes_with_opts(coll, nullptr);
  std::vector<StoredIndex> indexes;
  const bson_t* doc = nullptr;
  while (mongoc_cursor_next(cursor, &doc)) {
    StoredIndex index;
    bson_iter_t it, key;
    if (bson_iter_init_find(&it, doc, "name")) index.name = bson_iter_utf8(&it, nullptr);
    if (bson_iter_init_find(&it, doc, "unique")) index.unique = bson_iter_as_bool(&it);
    if (bson_iter_init_find(&it, doc, "key") && bson_iter_recurse(&it, &key)) {
      while (bson_iter_next(&key)) index.keys.emplace_back(bson_iter_key(&key));
    }
    indexes.push_back(std::move(index));
  }
  mongoc_cursor_destroy(cursor);
  mongoc_collection_destroy(coll);
  return indexes;
}

std::map<std::string, StoredMetric> read_metrics(const std::string& uri, const std::string& collection) {
  ClientHandle client(uri);
  mongoc_collection_t* coll = client.collection(collection);
  bson_t filter = BSON_INITIALIZER;
  mongoc_cursor_t* cursor = mongoc_collection_find_with_opts(coll, &filter, nullptr, nullptr);
  std::map<std::string, StoredMetric> docs;
  const bson_t* doc = nullptr;
  std::string duplicate;
  while (mongoc_cursor_next(cursor, &doc)) {
    StoredMetric m;
    std::string id;
    bson_iter_t it;
    bson_iter_init(&it, doc);
    while (bson_iter_next(&it)) {
      const std::string key = bson_iter_key(&it);
      if (key == "_id" && BSON_ITER_HOLDS_UTF8(&it))
        id = bson_iter_utf8(&it, nullptr);
      else if (key == "source_ip")
        m.source_ip = bson_iter_utf8(&it, nullptr);
      else if (key == "dest_ip")
        m.dest_ip = bson_iter_utf8(&it, nullptr);
      else if (key == "protocol")
        m.protocol = bson_iter_utf8(&it, nullptr);
      else if (key == "source_port")
        m.source_port = static_cast<int>(bson_iter_as_int64(&it));
      else if (key == "dest_port")
        m.dest_port = static_cast<int>(bson_iter_as_int64(&it));
      else if (key == "timestamp" && BSON_ITER_HOLDS_DATE_TIME(&it))
        m.timestamp_ms = bson_iter_date_time(&it);
      else if (key == "value")
        m.value = bson_iter_as_double(&it);
      else if (key == "min")
        m.min = bson_iter_as_double(&it);
      else if (key == "max")
        m.max = bson_iter_as_double(&it);
      else if (key == "count")
        m.count = bson_iter_as_int64(&it);
      else if (key == "packets")
        m.packets = bson_iter_as_int64(&it);
      else if (key == "bytes")
        m.bytes = bson_iter_as_int64(&it);
      else if (key == "flows")
        m.flows = bson_iter_as_int64(&it);
    }
    if (!docs.emplace(id, m).second) duplicate = id;
  }
  bson_error_t error;
  const bool failed = mongoc_cursor_error(cursor, &error);
  mongoc_cursor_destroy(cursor);
  mongoc_collection_destroy(coll);
  bson_destroy(&filter);
  if (failed) throw std::runtime_error(std::string("read_metrics: ") + error.message);
  if (!duplicate.empty()) throw std::runtime_error("two documents share _id " + duplicate);
  return docs;
}

void drop_collection(const std::string& uri, const std::string& collection) {
  ClientHandle client(uri);
  mongoc_collection_t* coll = client.collection(collection);
  bson_error_t error;
  mongoc_collection_drop(coll, &error);  // a missing collection is fine
  mongoc_collection_destroy(coll);
}

std::vector<std::string> list_collections(const std::string& uri) {
  ClientHandle client(uri);
  mongoc_database_t* database = mongoc_client_get_database(client.client, kTestDatabase);
  bson_error_t error;
  char** names = mongoc_database_get_collection_names_with_opts(database, nullptr, &error);
  std::vector<std::string> out;
  for (char** name = names; name != nullptr && *name != nullptr; ++name) out.emplace_back(*name);
  bson_strfreev(names);
  mongoc_database_destroy(database);
  return out;
}

}  // namespace flowmetrics::testing
