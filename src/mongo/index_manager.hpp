#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "mongo/client.hpp"

namespace flowmetrics::mongo {

struct IndexPlan {
  std::string database;
  std::string collection;
  std::string key_index_name;
  std::optional<std::chrono::seconds> retention;  // TTL on `timestamp` when set
  bool key_index = true;                          // the unique index on the six key fields
  bool timestamp_index = false;                   // {timestamp: 1} when there is no TTL index
};

inline constexpr const char* kTtlIndexName = "flowmetrics_timestamp_ttl";
inline constexpr const char* kTimestampIndexName = "flowmetrics_timestamp";

// Creates the compound unique key index (and the TTL index when retention is set) unless
// an identical one exists. Never drops or changes an existing index: one with our name or
// our keys but other options is an Error(index_conflict) that says what differs.
// Other failures throw the translated driver error.
void ensure_indexes(Client& client, const IndexPlan& plan);

}  // namespace flowmetrics::mongo
