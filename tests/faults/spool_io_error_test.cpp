// Fault injection, the spool's file system fills up (issue 10, part 2): `flowmetrics serve`
// spools on a small tmpfs while the database is down, so the spool only grows until write(2)
// says ENOSPC. Every request is retried until it gets a 2xx, as a client would. The agent
// must answer 503 "spool I/O error" (never 2xx for a record it could not keep), say so on
// /readyz and /metrics, resume by itself once space returns, and, across a kill -9 while
// failed, write each acknowledged record exactly once: an independent read of the collection
// equals what was acknowledged.
#include <sys/statvfs.h>

#include <gtest/gtest.h>

#include <fstream>
#include <iostream>

#include "fault_support.hpp"
#include "small_tmpfs.hpp"

namespace flowmetrics::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Takes all but `room` bytes of the file system under `directory`; deleting it returns them.
void fill(const std::filesystem::path& filler, std::size_t room) {
  struct statvfs fs {};
  ASSERT_EQ(::statvfs(filler.parent_path().c_str(), &fs), 0);
  const std::size_t available = static_cast<std::size_t>(fs.f_bavail) * fs.f_frsize;
  ASSERT_GT(available, room);
  std::ofstream(filler, std::ios::binary | std::ios::app) << std::string(available - room, 'f');
}

TEST_F(FaultTest, AFullSpoolFileSystemIsRefusedAsAnIoErrorAndNothingAcknowledgedIsLostOrDoubled) {
  FAULTS_SKIP_WITH_EXTERNAL_SERVER();
  SmallTmpfs tmpfs(8 << 20);
  if (!tmpfs.mounted()) GTEST_SKIP() << "needs a size-limited tmpfs for the spool: " << tmpfs.why_not();
  const auto start = Clock::now();
  const std::string collection = unique_collection("faults_spool_io");
  constexpr std::size_t kBatches = 60, kBatch = 200;
  std::vector<std::vector<Record>> batches;
  for (std::size_t b = 0; b < kBatches; ++b) {
    batches.push_back(make_workload({.records = kBatch,
                                     .flows = 20,
                                     .first_flow = static_cast<std::int64_t>(20 * b),
                                     .seed = static_cast<std::uint32_t>(300 + b)}));
  }
  const auto filler = tmpfs.path() / "filler";
  CollectorProcess agent(agent_options(collection, {"pipeline.writers=2", "shutdown.drain_timeout_seconds=300",
                                                    "spool.directory=" + (tmpfs.path() / "spool").string()}));
  server_.stop();  // nothing is written or released: the spool only grows
  fill(filler, 96 << 10);

  ExpectedTotals acknowledged;
  std::size_t sent = 0, io_error_answers = 0, other_refusals = 0;
  std::string io_error_body;
  // Sends batch `b` once; true on 2xx (then its records count as acknowledged).
  const auto send = [&](std::size_t b) {
    httplib::Client client("127.0.0.1", agent.http_port());
    client.set_read_timeout(30, 0);
    const HttpAnswer answer = post_records(client, ndjson(batches[b], 0, batches[b].size()));
    if (answer.status >= 200 && answer.status < 300) {
      acknowledged.add(batches[b], 0, batches[b].size());
      return true;
    }
    if (answer.status == 503 && answer.body.find("spool I/O error") != std::string::npos) {
      ++io_error_answers;
      io_error_body = answer.body;
    } else {
      ++other_refusals;
      ADD_FAILURE() << "unexpected answer " << answer.status << ": " << answer.body;
    }
    return false;
  };

  // 1. Until the file system is full.
  std::size_t next = 0;
  while (next < kBatches && send(next)) ++next;
  ASSERT_LT(next, kBatches) << "the spool never hit ENOSPC";
  ++sent;
  EXPECT_NE(io_error_body.find("No space left on device"), std::string::npos) << io_error_body;
  const auto [ready_status, ready_body] = http_get(agent.http_port(), "/readyz");
  EXPECT_EQ(ready_status, 503);
  EXPECT_NE(ready_body.find("spool I/O error"), std::string::npos) << ready_body;
  EXPECT_EQ(agent.metric("flowmetrics_spool_io_error"), 1);
  EXPECT_GE(agent.metric("flowmetrics_spool_io_errors_total"), 1);
  EXPECT_FALSE(send(next)) << "still full: refused again";

  // 2. Space returns: the agent resumes by itself and takes the refused batch and more.
  std::filesystem::remove(filler);
  EXPECT_TRUE(eventually([&] { return agent.metric("flowmetrics_spool_io_error") == 0; }, 60s));
  for (std::size_t end = next + 10; next < end; ++next) ASSERT_TRUE(send(next)) << "batch " << next;

  // 3. Full again, and the agent is killed while it refuses: the restart replays exactly what
  //    was acknowledged (the refused frames were cut or are torn), and nothing else.
  fill(filler, 64 << 10);
  while (next < kBatches && send(next)) ++next;
  ASSERT_LT(next, kBatches) << "the spool never hit ENOSPC again";
  kill_agent(agent);
  std::filesystem::remove(filler);
  server_.start();
  agent.restart();
  for (; next < kBatches; ++next) {
    const auto deadline = Clock::now() + 60s;
    while (!send(next) && Clock::now() < deadline) std::this_thread::sleep_for(200ms);
  }
  sent = kBatches * kBatch;

  const Comparison settled = wait_for_exact(uri_, collection, acknowledged, Merge::aggregate, 180s);
  EXPECT_TRUE(settled.exact()) << settled.problems;
  const int code = stop_agent(agent);
  EXPECT_EQ(code, 0) << agent.logs().substr(0, 4000);
  const Comparison final_read = read_and_compare(uri_, collection, acknowledged, Merge::aggregate);
  EXPECT_TRUE(final_read.exact()) << final_read.problems;
  EXPECT_EQ(final_read.stored_records, acknowledged.records());
  EXPECT_EQ(acknowledged.records(), static_cast<std::int64_t>(kBatches * kBatch)) << "every batch got its 2xx";
  EXPECT_GE(io_error_answers, 2u);
  EXPECT_EQ(other_refusals, 0u);
  print_fault_result("spool_io_error", sent, acknowledged.records(), final_read, acknowledged, seconds_since(start),
                     "io_error_answers=" + std::to_string(io_error_answers));
}

}  // namespace
}  // namespace flowmetrics::testing
