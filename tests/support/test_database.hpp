#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <bson/bson.h>

namespace flowmetrics::testing {

// The server integration tests use: MONGODB_URI when set, otherwise one FerretDB started
// for this test process on first use and stopped at exit.
std::string test_uri();
bool using_external_server();

// `base` + options, e.g. with_options(test_uri(), "minPoolSize=2&maxPoolSize=4").
std::string with_options(const std::string& uri, const std::string& options);

// A name no other test, test process (the process id is part of it) or earlier run uses: for
// collections, and for directories under the temporary directory.
std::string unique_collection(const std::string& prefix);
inline constexpr const char* kTestDatabase = "flowmetrics_test";

// Independent reads through the C driver, bypassing the library under test.
struct StoredIndex {
  std::string name;
  std::vector<std::string> keys;  // field names in order
  bool unique = false;
};
std::vector<StoredIndex> read_indexes(const std::string& uri, const std::string& collection);
// One stored document, as read back field by field (absent fields stay at their defaults).
struct StoredMetric {
  std::string source_ip, dest_ip, protocol;
  int source_port = -1, dest_port = -1;
  std::int64_t timestamp_ms = -1;
  double value = 0, min = 0, max = 0;
  std::int64_t count = 0, packets = 0, bytes = 0, flows = 0;
};
// Every document of the collection by `_id`; throws when two share an `_id` (impossible on a
// correct server) or on a read error.
std::map<std::string, StoredMetric> read_metrics(const std::string& uri, const std::string& collection);
void drop_collection(const std::string& uri, const std::string& collection);
// The names of the test database's collections.
std::vector<std::string> list_collections(const std::string& uri);

}  // namespace flowmetrics::testing

#include <chrono>
#include <thread>

namespace flowmetrics::testing {

// Polls `condition` every 10 ms until it holds or `timeout` passes; returns its last value.
// The default deadline is generous: a condition that holds returns at once, and a loaded
// machine (two suites and a CPU hog beside them) must not turn a slow "yes" into a failure.
template <typename Condition>
bool eventually(Condition condition, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return condition();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

// Polls `condition` until it holds, or until `progress()` (a counter the work advances, such
// as the collector's written records) has not changed for `stall`; returns the condition's
// last value. For waits on the database's writes, whose speed depends on how loaded the
// machine is: the test fails on a stall, never on slowness. A hang guard of 40 minutes caps
// the whole wait.
template <typename Condition, typename Progress>
bool eventually_while_progressing(Condition condition, Progress progress, std::chrono::milliseconds stall) {
  const auto hang_guard = std::chrono::steady_clock::now() + std::chrono::minutes(40);
  auto seen = progress();
  auto last_change = std::chrono::steady_clock::now();
  while (!condition()) {
    const auto now = std::chrono::steady_clock::now();
    if (const auto current = progress(); current != seen) {
      seen = current;
      last_change = now;
    }
    if (now - last_change > stall || now > hang_guard) return condition();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return true;
}

}  // namespace flowmetrics::testing
