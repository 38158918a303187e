#pragma once

// What the fault-injection tests share: a deterministic workload whose expected database
// content is computed here from the same input, an HTTP client that reports what the agent
// answered, the comparison with an independent read of the collection, and the one-line
// FAULT-RESULT summary each test prints.

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "collector_process.hpp"
#include "ferretdb_process.hpp"
#include "test_database.hpp"

namespace flowmetrics::testing {

inline constexpr std::int64_t kBaseMs = 1'732'530'000'000;  // 2024-11-25T10:20:00Z, a bucket boundary

enum class Merge { aggregate, replace };
const char* to_string(Merge merge);

// One line of input. `id` is the document the record lands in (empty for an invalid line).
struct Record {
  std::string line;  // without the newline
  std::string id;
  double value = 0;
  std::int64_t packets = 0, bytes = 0;
  bool valid() const { return !id.empty(); }
};

// A valid record of flow `flow` (a distinct five-tuple per flow number) at `timestamp_ms`;
// `bucket_ms` is the agent's bucket width (0: exact timestamps).
Record make_record(std::int64_t flow, std::int64_t timestamp_ms, double value, std::int64_t packets, std::int64_t bytes,
                   std::int64_t bucket_ms = 60'000);
// An invalid line the agent must reject (bad address, missing timestamp, not JSON, bad port).
Record make_invalid_record(std::size_t variant);

struct WorkloadSpec {
  std::size_t records = 0;
  std::int64_t flows = 700;        // distinct five-tuples
  std::int64_t first_flow = 0;     // flows first_flow .. first_flow + flows - 1
  std::size_t invalid_every = 0;   // every Nth line is invalid; 0: none
  std::size_t lanes = 1;           // record i goes to lane i % lanes; lanes never share a key
  std::int64_t bucket_ms = 1'000;  // records spread over 4 buckets of this width (0: 4 minutes, exact)
  std::uint32_t seed = 1;
};
// Values are multiples of 0.5 (exact sums in any order); packets and bytes are integers.
std::vector<Record> make_workload(const WorkloadSpec& spec);

// Records [begin, end) of lane `lane` (i % lanes == lane) as an NDJSON body or TCP stream.
std::string ndjson(const std::vector<Record>& records, std::size_t begin, std::size_t end, std::size_t lane = 0,
                   std::size_t lanes = 1);

// The document expected under one _id.
struct Expected {
  double sum = 0, min = 1e300, max = -1e300, last = 0;
  std::int64_t count = 0, packets = 0, bytes = 0;
};
class ExpectedTotals {
 public:
  // Records must be added in the order the agent was given them (it matters for `replace`).
  void add(const Record& record);
  void add(const std::vector<Record>& records, std::size_t begin, std::size_t end);
  const std::map<std::string, Expected>& documents() const { return documents_; }
  std::int64_t records() const { return records_; }

 private:
  std::map<std::string, Expected> documents_;
  std::int64_t records_ = 0;
};

// The collection compared with the expectation: aggregate compares every stored field of
// every document; replace compares the stored value with the last one sent.
struct Comparison {
  std::size_t documents = 0, missing = 0, extra = 0, wrong = 0;
  std::int64_t stored_records = 0;  // the sum of `count` (aggregate; -1 under replace)
  std::string problems;             // the first few differences, one a line
  bool exact() const { return missing == 0 && extra == 0 && wrong == 0; }
};
Comparison compare(const std::map<std::string, StoredMetric>& stored, const ExpectedTotals& expected, Merge merge);
// Reads the collection; a failed read (the database is down) counts everything as missing.
Comparison read_and_compare(const std::string& uri, const std::string& collection, const ExpectedTotals& expected,
                            Merge merge);
// Polls the collection until it equals the expectation, holds more records than expected
// (aggregate: no point waiting), or it has not changed for `stall` (no document written,
// corrected or added); returns the last comparison. A deadline on progress, not on speed:
// FerretDB's updates, one SQLite transaction each, run ten to twenty times slower on a
// machine loaded with other suites (measured: about 1,400 updates a minute at load 15), and a
// test that checks exactness must not fail because the machine is slow. The polls start
// 500 ms apart and back off to 5 s, so that reading the collection does not take FerretDB's
// time from the writes; a hang guard of 40 minutes caps the whole wait.
Comparison wait_for_exact(const std::string& uri, const std::string& collection, const ExpectedTotals& expected,
                          Merge merge, std::chrono::seconds stall);

// SIGTERM, then waits up to `timeout` for the agent to exit; its exit code, -1 if it had to be
// killed. Called once the collection is exact, the drain has nothing left to write.
int stop_agent(CollectorProcess& agent, std::chrono::seconds timeout = std::chrono::seconds(300));
// SIGKILL, and waits for the process to end.
void kill_agent(CollectorProcess& agent);

// One POST /v1/metrics and what came back. status -1: no answer (connection refused or reset).
struct HttpAnswer {
  int status = -1;
  std::string body, retry_after;
  bool replayed = false;  // Idempotent-Replayed: true
  std::int64_t accepted = -1, rejected = -1;
};
HttpAnswer post_records(httplib::Client& client, const std::string& body, const std::string& idempotency_key = {});
// GET `path`; -1 when there is no answer.
std::pair<int, std::string> http_get(int port, const std::string& path,
                                     std::chrono::milliseconds timeout = std::chrono::seconds(5));

// Total size of the regular files under `directory` (0 if it does not exist).
std::uintmax_t directory_bytes(const std::filesystem::path& directory);

// The run's random seed: FLOWMETRICS_FAULT_SEED when set, otherwise a fresh one; logged.
std::uint32_t fault_seed(const std::string& test);

// One line on stdout: "FAULT-RESULT <test> sent=... acknowledged=... written=... difference=...".
// `written` is what the database holds in records (the sum of `count`), or -1 when the
// policy keeps no count (replace), in which case documents are reported instead.
void print_fault_result(const std::string& test, std::size_t sent, std::int64_t acknowledged,
                        const Comparison& final_read, const ExpectedTotals& expected, double seconds,
                        const std::string& extra = {});

// Each test owns a FerretDB it may stop, restart or freeze (MONGODB_URI: only the tests that
// leave the server alone run against it).
// Seconds since `start`, for the FAULT-RESULT lines.
inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

class FaultTest : public OwnServerTest {
 protected:
  // Options for an agent writing to `collection` with `overrides` (--set key=value, later
  // ones win). One-second buckets and no grace, so that the last bucket of a workload is
  // written within about a second (rather than a minute) of its last record.
  CollectorProcess::Options agent_options(const std::string& collection, std::vector<std::string> overrides) const {
    overrides.insert(overrides.begin(), {"pipeline.bucket_seconds=1", "pipeline.grace_seconds=0"});
    return {.mongodb_uri = uri_, .collection = collection, .overrides = std::move(overrides)};
  }
};

#define FAULTS_SKIP_WITH_EXTERNAL_SERVER() \
  if (::flowmetrics::testing::using_external_server()) GTEST_SKIP() << "stops, freezes or restarts its own FerretDB"

}  // namespace flowmetrics::testing
