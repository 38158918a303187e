#include <gtest/gtest.h>
#include <mongoc/mongoc.h>

#include "flowmetrics/metrics_agent.hpp"
#include "test_database.hpp"

namespace flowmetrics {
namespace {

using namespace flowmetrics::testing;

AgentOptions small_pool() {
  AgentOptions options;
  options.pool.min_size = 1;
  options.pool.max_size = 4;
  return options;
}

// Creates an index through the driver directly, as another tool or an operator would.
void create_foreign_index(const std::string& collection, const char* json_command) {
  mongoc_client_t* client = mongoc_client_new(test_uri().c_str());
  mongoc_database_t* db = mongoc_client_get_database(client, kTestDatabase);
  bson_error_t error;
  bson_t* command = bson_new_from_json(reinterpret_cast<const uint8_t*>(json_command), -1, &error);
  ASSERT_NE(command, nullptr) << error.message;
  BSON_APPEND_UTF8(command, "createIndexes", collection.c_str());
  // createIndexes must be the first key: rebuild with it in front.
  bson_t ordered = BSON_INITIALIZER;
  BSON_APPEND_UTF8(&ordered, "createIndexes", collection.c_str());
  bson_iter_t it;
  bson_iter_init(&it, command);
  while (bson_iter_next(&it)) {
    if (std::string_view(bson_iter_key(&it)) != "createIndexes") bson_append_iter(&ordered, nullptr, 0, &it);
  }
  const bool ok = mongoc_database_write_command_with_opts(db, &ordered, nullptr, nullptr, &error);
  EXPECT_TRUE(ok) << error.message;
  bson_destroy(&ordered);
  bson_destroy(command);
  mongoc_database_destroy(db);
  mongoc_client_destroy(client);
}

TEST(CreateMetricsIndexes, CreatesTheCompoundUniqueIndexInFieldOrder) {
  const std::string collection = unique_collection("indexes");
  MetricsAgent agent(test_uri(), kTestDatabase, collection, small_pool());
  agent.create_metrics_indexes();
  const auto indexes = read_indexes(test_uri(), collection);
  const auto it = std::find_if(indexes.begin(), indexes.end(),
                               [](const StoredIndex& i) { return i.name == "flowmetrics_key_unique"; });
  ASSERT_NE(it, indexes.end());
  EXPECT_TRUE(it->unique);
  EXPECT_EQ(it->keys,
            (std::vector<std::string>{"source_ip", "dest_ip", "source_port", "dest_port", "protocol", "timestamp"}));
}

TEST(CreateMetricsIndexes, ASecondCallIsANoOp) {
  const std::string collection = unique_collection("indexes_twice");
  MetricsAgent agent(test_uri(), kTestDatabase, collection, small_pool());
  agent.create_metrics_indexes();
  const auto before = read_indexes(test_uri(), collection);
  EXPECT_NO_THROW(agent.create_metrics_indexes());
  MetricsAgent another(test_uri(), kTestDatabase, collection, small_pool());
  EXPECT_NO_THROW(another.create_metrics_indexes());
  EXPECT_EQ(read_indexes(test_uri(), collection).size(), before.size());
}

TEST(CreateMetricsIndexes, ReportsAnIndexWithOurNameButOtherOptions) {
  const std::string collection = unique_collection("indexes_conflict");
  create_foreign_index(collection, R"({"indexes": [{"key": {"source_ip": 1}, "name": "flowmetrics_key_unique"}]})");
  MetricsAgent agent(test_uri(), kTestDatabase, collection, small_pool());
  try {
    agent.create_metrics_indexes();
    FAIL() << "a conflicting index was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::index_conflict);
    EXPECT_NE(std::string(e.what()).find("'flowmetrics_key_unique' {source_ip: 1} not unique"), std::string::npos)
        << e.what();
  }
  // Not replaced: the foreign index is still there as it was.
  const auto indexes = read_indexes(test_uri(), collection);
  const auto it = std::find_if(indexes.begin(), indexes.end(),
                               [](const StoredIndex& i) { return i.name == "flowmetrics_key_unique"; });
  ASSERT_NE(it, indexes.end());
  EXPECT_EQ(it->keys, std::vector<std::string>{"source_ip"});
}

TEST(CreateMetricsIndexes, ReportsOurKeysUnderAnotherName) {
  const std::string collection = unique_collection("indexes_renamed");
  create_foreign_index(collection, R"({"indexes": [{"key": {"source_ip": 1, "dest_ip": 1, "source_port": 1,
      "dest_port": 1, "protocol": 1, "timestamp": 1}, "name": "legacy_key"}]})");
  MetricsAgent agent(test_uri(), kTestDatabase, collection, small_pool());
  try {
    agent.create_metrics_indexes();
    FAIL() << "a conflicting index was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::index_conflict);
    EXPECT_NE(std::string(e.what()).find("legacy_key"), std::string::npos) << e.what();
  }
}

TEST(CreateMetricsIndexes, RetentionAddsATtlIndexWhereTheServerHasThem) {
  const std::string collection = unique_collection("indexes_ttl");
  AgentOptions options = small_pool();
  options.retention = std::chrono::hours(24 * 30);
  MetricsAgent agent(test_uri(), kTestDatabase, collection, options);
  if (using_external_server()) {
    agent.create_metrics_indexes();
    const auto indexes = read_indexes(test_uri(), collection);
    EXPECT_TRUE(std::any_of(indexes.begin(), indexes.end(),
                            [](const StoredIndex& i) { return i.name == "flowmetrics_timestamp_ttl"; }));
    return;
  }
  // FerretDB v1 does not implement expireAfterSeconds: the error must say so plainly.
  try {
    agent.create_metrics_indexes();
    FAIL() << "FerretDB accepted a TTL index";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::not_supported) << e.what();
    EXPECT_NE(std::string(e.what()).find("TTL"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace flowmetrics
