// Fault injection, the agent side: `flowmetrics serve` killed with SIGKILL in the middle of an
// HTTP ingest whose client resends what was not acknowledged (test 2), and `flowmetrics
// ingest` of a file killed and rerun (test 6). Every record must be in the database once.
#include <signal.h>

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>

#include "child_process.hpp"
#include "fault_support.hpp"

namespace flowmetrics::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// ---- Test 2: SIGKILL at a random point of a 200,000-record HTTP ingest -------------------

TEST_F(FaultTest, AnAgentKilledMidIngestAppliesEveryIdempotentBatchExactlyOnce) {
  FAULTS_SKIP_WITH_EXTERNAL_SERVER();
  const auto start = Clock::now();
  const std::uint32_t seed = fault_seed("agent_killed");
  std::mt19937 rng(seed);
  const std::string collection = unique_collection("faults_killed");
  const std::vector<Record> records = make_workload({.records = 200'000, .flows = 700, .seed = 12});
  constexpr std::size_t kBatch = 500, kBatches = 400, kClients = 2;
  ExpectedTotals expected;
  expected.add(records, 0, records.size());
  const auto body_of = [&](std::size_t b) { return ndjson(records, b * kBatch, (b + 1) * kBatch); };
  const auto key_of = [&](std::size_t b) { return "killed-" + std::to_string(seed) + "-" + std::to_string(b); };

  CollectorProcess agent(agent_options(collection, {"pipeline.writers=2", "shutdown.drain_timeout_seconds=300"}));
  const std::size_t kill_after = 40 + rng() % 320;  // acknowledged batches before the kill
  const auto kill_delay = std::chrono::microseconds(rng() % 20'000);
  std::vector<HttpAnswer> first_answer(kBatches);
  std::vector<char> acknowledged(kBatches, 0);
  std::atomic<std::size_t> next{0}, acknowledged_count{0}, unexpected{0};
  std::mutex answers_mutex;
  std::string unexpected_answer;
  std::vector<std::thread> clients;
  for (std::size_t c = 0; c < kClients; ++c) {
    clients.emplace_back([&] {
      httplib::Client client("127.0.0.1", agent.http_port());
      client.set_read_timeout(60s);
      for (std::size_t b = next++; b < kBatches; b = next++) {
        const HttpAnswer answer = post_records(client, body_of(b), key_of(b));
        if (answer.status == -1) return;  // the agent is gone: stop, as a real client would
        std::lock_guard lock(answers_mutex);
        if (answer.status == 200) {
          acknowledged[b] = 1;
          first_answer[b] = answer;
          ++acknowledged_count;
        } else {
          ++unexpected;
          unexpected_answer = std::to_string(answer.status) + " " + answer.body;
        }
      }
    });
  }
  eventually([&] { return acknowledged_count.load() >= kill_after || next.load() >= kBatches; }, 300s);
  std::this_thread::sleep_for(kill_delay);
  kill_agent(agent);
  const std::size_t acknowledged_at_kill = acknowledged_count.load();
  for (auto& client : clients) client.join();
  EXPECT_EQ(unexpected.load(), 0u) << unexpected_answer;
  ASSERT_LT(acknowledged_at_kill, kBatches) << "the ingest finished before the kill";
  std::cout << "[ figures  ] killed after " << acknowledged_at_kill << " of " << kBatches
            << " batches acknowledged (kill point " << kill_after << " + " << kill_delay.count() << " us)\n";

  // Restart; resend every batch not acknowledged, with its key.
  agent.restart();
  const double replayed = agent.metric("flowmetrics_spool_replayed_records_total");
  httplib::Client client("127.0.0.1", agent.http_port());
  client.set_read_timeout(60s);
  std::size_t resent = 0, resent_replayed = 0, resend_failures = 0;
  std::string resend_failure;
  for (std::size_t b = 0; b < kBatches; ++b) {
    if (acknowledged[b]) continue;
    ++resent;
    HttpAnswer answer;
    // A restarted agent may push back while it replays its spool: retry, as a client would,
    // until a generous deadline (not a number of attempts that a slow replay could use up).
    const auto give_up = Clock::now() + 300s;
    for (;;) {
      answer = post_records(client, body_of(b), key_of(b));
      if ((answer.status != 503 && answer.status != -1) || Clock::now() > give_up) break;
      std::this_thread::sleep_for(1s);
    }
    if (answer.status != 200) {
      ++resend_failures;
      resend_failure = std::to_string(answer.status) + " " + answer.body;
      continue;
    }
    if (answer.replayed) ++resent_replayed;  // spooled before the kill, its answer lost
    acknowledged[b] = 1;
  }
  EXPECT_EQ(resend_failures, 0u) << resend_failure;

  // A resent acknowledged batch is answered again, from the first answer, and not applied.
  std::size_t replay_checks = 0;
  for (int k = 0; k < 5; ++k) {
    std::size_t b = rng() % kBatches;
    while (first_answer[b].status != 200) b = (b + 1) % kBatches;
    const HttpAnswer again = post_records(client, body_of(b), key_of(b));
    EXPECT_EQ(again.status, 200) << again.body;
    EXPECT_TRUE(again.replayed) << "batch " << b << " resent with its key: no Idempotent-Replayed: true";
    EXPECT_EQ(again.body, first_answer[b].body) << "batch " << b;
    ++replay_checks;
  }

  const Comparison settled = wait_for_exact(uri_, collection, expected, Merge::aggregate, 240s);
  const int code = stop_agent(agent);
  EXPECT_EQ(code, 0) << agent.logs().substr(0, 4000);
  const Comparison final_read = read_and_compare(uri_, collection, expected, Merge::aggregate);
  EXPECT_TRUE(final_read.exact()) << final_read.problems;
  EXPECT_EQ(final_read.stored_records, expected.records());
  std::size_t acknowledged_batches = 0;
  for (const char a : acknowledged) acknowledged_batches += a ? 1 : 0;
  print_fault_result("agent_killed", records.size(), static_cast<std::int64_t>(acknowledged_batches * kBatch),
                     final_read, expected, seconds_since(start),
                     "seed=" + std::to_string(seed) + " acked_before_kill=" + std::to_string(acknowledged_at_kill) +
                         " resent=" + std::to_string(resent) +
                         " resent_answered_as_replay=" + std::to_string(resent_replayed) +
                         " spool_replayed_records=" + std::to_string(static_cast<long long>(replayed)) +
                         " settled_exact=" + std::to_string(settled.exact()));
}

// ---- Test 6: `flowmetrics ingest` of a file killed midway, then rerun --------------------

TEST_F(FaultTest, AnIngestKilledMidwayAndRerunCountsEveryLineOnce) {
  const auto start = Clock::now();
  const std::uint32_t seed = fault_seed("ingest_killed");
  std::mt19937 rng(seed);
  const std::string collection = unique_collection("faults_ingest");
  const auto dir = std::filesystem::temp_directory_path() / unique_collection("flowmetrics-faults-ingest");
  std::filesystem::create_directories(dir);
  // 200,000 lines over 20,000 keys (exact timestamps): every key 10 times, 20,000 lines apart.
  constexpr std::size_t kLines = 200'000, kKeys = 20'000;
  std::vector<Record> records;
  records.reserve(kLines);
  for (std::size_t i = 0; i < kLines; ++i) {
    const std::int64_t k = static_cast<std::int64_t>(i % kKeys);
    records.push_back(make_record(k % 500, kBaseMs + (k / 500) * 1'000, 0.5 * static_cast<double>(rng() % 2000),
                                  static_cast<std::int64_t>(rng() % 100), static_cast<std::int64_t>(rng() % 100'000),
                                  0));
  }
  ExpectedTotals expected;
  expected.add(records, 0, records.size());
  std::ofstream(dir / "flows.jsonl") << ndjson(records, 0, records.size());
  std::ofstream(dir / "flowmetrics.toml") << "[database]\nuri = \"" << uri_ << "\"\ndatabase = \"" << kTestDatabase
                                          << "\"\ncollection = \"" << collection << "\"\n"
                                          << "[spool]\ndirectory = \"" << (dir / "spool").string() << "\"\n"
                                          << "[pipeline]\nbucket_seconds = 0\nwriters = 2\n";
  const std::vector<std::string> argv{FLOWMETRICS_CLI, "ingest", "--config", (dir / "flowmetrics.toml").string(),
                                      (dir / "flows.jsonl").string()};

  // Kill at a random moment of the first 2.1 s of the run (which takes about 3.7 s on 2 cores,
  // against the embedded FerretDB): the pipeline merges a key's lines before writing, so the
  // database's count moves in big steps and is no good as a trigger; what the kill catches
  // (records spooled and unwritten, in flight, written) is reported. A run that ends before
  // the kill point (a faster machine) proves nothing: it is started again, on a fresh spool
  // and collection, with half the delay, down to a kill during start-up.
  auto kill_after = std::chrono::milliseconds(100 + rng() % 2'000);
  std::int64_t stored_at_kill = -1;
  std::uintmax_t spool_at_kill = 0;
  for (int run = 1;; ++run) {
    ChildProcess first(argv, (dir / ("ingest-killed-" + std::to_string(run) + ".log")).string());
    std::this_thread::sleep_for(kill_after);
    // Stopped first, so that it cannot end between the check and the kill.
    first.suspend();
    if (!first.running()) {
      ASSERT_GT(kill_after.count(), 0) << "the ingest ended before a kill at start-up: " << first.log();
      std::cout << "[ retry    ] the ingest ended within " << kill_after.count() << " ms; again, sooner\n";
      kill_after /= 2;
      drop_collection(uri_, collection);
      std::filesystem::remove_all(dir / "spool");
      continue;
    }
    first.signal(SIGKILL);
    EXPECT_EQ(first.wait(30s).value_or(-1), 128 + SIGKILL);
    spool_at_kill = directory_bytes(dir / "spool");
    stored_at_kill = read_and_compare(uri_, collection, expected, Merge::aggregate).stored_records;
    break;
  }
  std::cout << "[ figures  ] ingest killed with " << stored_at_kill << " of " << kLines
            << " records in the database and " << spool_at_kill << " bytes in the spool directory (killed after "
            << kill_after.count() << " ms)\n";
  ChildProcess rerun(argv, (dir / "ingest-2.log").string());
  const int code = rerun.wait(900s).value_or(-1);
  EXPECT_EQ(code, 0) << rerun.log();
  const Comparison final_read = read_and_compare(uri_, collection, expected, Merge::aggregate);
  EXPECT_TRUE(final_read.exact()) << final_read.problems;
  EXPECT_EQ(final_read.stored_records, expected.records());
  std::cout << "[ rerun    ] "
            << rerun.log().substr(rerun.log().find("flowmetrics ingest:") == std::string::npos
                                      ? 0
                                      : rerun.log().find("flowmetrics ingest:"))
            << "\n";
  print_fault_result("ingest_killed", kLines, static_cast<std::int64_t>(kLines), final_read, expected,
                     seconds_since(start),
                     "seed=" + std::to_string(seed) + " stored_at_kill=" + std::to_string(stored_at_kill));
  if (!HasFailure()) std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace flowmetrics::testing
