#include "mongo/index_manager.hpp"

#include <array>
#include <string_view>
#include <utility>
#include <vector>

namespace flowmetrics::mongo {
namespace {

constexpr std::array<std::string_view, 6> kKeyFields{"source_ip", "dest_ip",  "source_port",
                                                     "dest_port", "protocol", "timestamp"};

struct IndexSpec {
  std::string name;
  std::vector<std::pair<std::string, std::int64_t>> keys;
  bool unique = false;
  std::optional<std::int64_t> expire_after_seconds;
};

std::string describe(const IndexSpec& spec) {
  std::string text = "'" + spec.name + "' {";
  for (std::size_t i = 0; i < spec.keys.size(); ++i) {
    if (i > 0) text += ", ";
    text += spec.keys[i].first + ": " + std::to_string(spec.keys[i].second);
  }
  text += "}";
  text += spec.unique ? " unique" : " not unique";
  if (spec.expire_after_seconds) text += ", expireAfterSeconds " + std::to_string(*spec.expire_after_seconds);
  return text;
}

IndexSpec read_spec(const bson_t* doc) {
  IndexSpec spec;
  bson_iter_t it;
  if (bson_iter_init_find(&it, doc, "name") && BSON_ITER_HOLDS_UTF8(&it)) spec.name = bson_iter_utf8(&it, nullptr);
  if (bson_iter_init_find(&it, doc, "unique")) spec.unique = bson_iter_as_bool(&it);
  if (bson_iter_init_find(&it, doc, "expireAfterSeconds") && BSON_ITER_HOLDS_NUMBER(&it)) {
    spec.expire_after_seconds = bson_iter_as_int64(&it);
  }
  bson_iter_t key;
  if (bson_iter_init_find(&it, doc, "key") && BSON_ITER_HOLDS_DOCUMENT(&it) && bson_iter_recurse(&it, &key)) {
    while (bson_iter_next(&key)) {
      spec.keys.emplace_back(bson_iter_key(&key), BSON_ITER_HOLDS_NUMBER(&key) ? bson_iter_as_int64(&key) : 0);
    }
  }
  return spec;
}

std::vector<IndexSpec> list_indexes(mongoc_collection_t* collection) {
  CursorPtr cursor(mongoc_collection_find_indexes_with_opts(collection, nullptr));
  std::vector<IndexSpec> specs;
  const bson_t* doc = nullptr;
  while (mongoc_cursor_next(cursor.get(), &doc)) specs.push_back(read_spec(doc));
  bson_error_t error;
  if (mongoc_cursor_error(cursor.get(), &error)) {
    // A collection that does not exist yet has no indexes (MongoDB: NamespaceNotFound).
    if (error.code == 26) return {};
    throw_error(translate(error, "list indexes"));
  }
  return specs;
}

// Returns true when `wanted` already exists; throws when something conflicts with it.
bool exists_or_conflicts(const std::vector<IndexSpec>& existing, const IndexSpec& wanted) {
  for (const IndexSpec& spec : existing) {
    const bool same_name = spec.name == wanted.name;
    const bool same_keys = spec.keys == wanted.keys;
    if (!same_name && !same_keys) continue;
    if (same_name && same_keys && spec.unique == wanted.unique &&
        spec.expire_after_seconds == wanted.expire_after_seconds) {
      return true;
    }
    throw Error(errc::index_conflict, "index conflict: want " + describe(wanted) + " but the collection has " +
                                          describe(spec) +
                                          "; flowmetrics never drops or changes an existing index: drop it or "
                                          "configure another index name");
  }
  return false;
}

void append_index(bson_t* indexes, int position, const IndexSpec& spec) {
  const std::string array_key = std::to_string(position);
  bson_t index, key;
  bson_append_document_begin(indexes, array_key.c_str(), -1, &index);
  bson_append_document_begin(&index, "key", -1, &key);
  for (const auto& [field, direction] : spec.keys)
    bson_append_int32(&key, field.c_str(), -1, static_cast<int32_t>(direction));
  bson_append_document_end(&index, &key);
  BSON_APPEND_UTF8(&index, "name", spec.name.c_str());
  if (spec.unique) BSON_APPEND_BOOL(&index, "unique", true);
  if (spec.expire_after_seconds) BSON_APPEND_INT64(&index, "expireAfterSeconds", *spec.expire_after_seconds);
  bson_append_document_end(indexes, &index);
}

}  // namespace

void ensure_indexes(Client& client, const IndexPlan& plan) {
  std::vector<IndexSpec> wanted;
  if (plan.key_index) {
    IndexSpec key_index{plan.key_index_name, {}, true, std::nullopt};
    for (auto field : kKeyFields) key_index.keys.emplace_back(std::string(field), 1);
    wanted.push_back(std::move(key_index));
  }
  if (plan.retention) {
    wanted.push_back(IndexSpec{kTtlIndexName, {{"timestamp", 1}}, false, plan.retention->count()});
  } else if (plan.timestamp_index) {
    wanted.push_back(IndexSpec{kTimestampIndexName, {{"timestamp", 1}}, false, std::nullopt});
  }
  if (wanted.empty()) return;

  CollectionPtr collection(mongoc_client_get_collection(client.get(), plan.database.c_str(), plan.collection.c_str()));
  const std::vector<IndexSpec> existing = list_indexes(collection.get());
  std::vector<const IndexSpec*> missing;
  for (const IndexSpec& spec : wanted) {
    if (!exists_or_conflicts(existing, spec)) missing.push_back(&spec);
  }
  if (missing.empty()) return;

  BsonPtr command = make_bson();
  BSON_APPEND_UTF8(command.get(), "createIndexes", plan.collection.c_str());
  bson_t indexes;
  BSON_APPEND_ARRAY_BEGIN(command.get(), "indexes", &indexes);
  for (std::size_t i = 0; i < missing.size(); ++i) append_index(&indexes, static_cast<int>(i), *missing[i]);
  bson_append_array_end(command.get(), &indexes);

  Reply reply;
  bson_error_t error;
  if (!mongoc_collection_write_command_with_opts(collection.get(), command.get(), nullptr, reply.reset(), &error)) {
    DriverError translated = translate(error, "create indexes on " + plan.database + "." + plan.collection);
    if (plan.retention && translated.server_code == 238) {
      translated.message += " (this server cannot create the TTL index that retention needs)";
    }
    throw_error(translated);
  }
}

}  // namespace flowmetrics::mongo
