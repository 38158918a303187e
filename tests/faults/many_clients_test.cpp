// Fault injection, load (test 5): 200 TCP connections at once, each sending a few hundred
// lines with some invalid ones. The agent keeps answering /healthz, its counters add up, and
// the database holds exactly the valid input.
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <iostream>
#include <latch>
#include <mutex>
#include <thread>

#include "fault_support.hpp"

namespace flowmetrics::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TEST_F(FaultTest, TwoHundredConnectionsAtOnceKeepTheAgentServingAndTheCountersAddUp) {
  const auto start = Clock::now();
  const std::string collection = unique_collection("faults_clients");
  constexpr std::size_t kConnections = 200, kLinesEach = 300;
  // One line in 50 is invalid.
  const std::vector<Record> records = make_workload(
      {.records = kConnections * kLinesEach, .flows = 700, .invalid_every = 50, .lanes = kConnections, .seed = 15});
  ExpectedTotals expected;
  expected.add(records, 0, records.size());
  const auto invalid = static_cast<double>(records.size()) - static_cast<double>(expected.records());
  CollectorProcess agent(agent_options(collection, {"pipeline.writers=2", "shutdown.drain_timeout_seconds=300"}));

  // /healthz every 50 ms for as long as the load lasts. Each has a 30 s deadline: the test
  // proves the agent keeps answering under load, not how fast (the worst time is reported).
  std::atomic<bool> load_done{false};
  std::atomic<std::size_t> health_ok{0}, health_failed{0};
  std::atomic<long> health_worst_ms{0};
  std::thread health([&] {
    while (!load_done) {
      const auto asked = Clock::now();
      const auto [status, body] = http_get(agent.http_port(), "/healthz", 30s);
      const long ms =
          static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - asked).count());
      health_worst_ms = std::max(health_worst_ms.load(), ms);
      (status == 200 ? health_ok : health_failed)++;
      std::this_thread::sleep_for(50ms);
    }
  });

  std::latch connected(kConnections + 1);
  std::atomic<std::size_t> send_failures{0};
  std::mutex failure_mutex;
  std::string first_failure;
  std::vector<std::thread> senders;
  senders.reserve(kConnections);
  for (std::size_t c = 0; c < kConnections; ++c) {
    senders.emplace_back([&, c] {
      const std::string data = ndjson(records, 0, records.size(), c, kConnections);
      int fd = -1;
      try {
        fd = connect_tcp(agent.tcp_port());
        timeval timeout{60, 0};  // bounded: a sender that cannot write for 60 s fails
        ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
      } catch (const std::exception& e) {
        ++send_failures;
        std::lock_guard lock(failure_mutex);
        first_failure = e.what();
      }
      connected.arrive_and_wait();  // all 200 connections open before anyone sends
      if (fd < 0) return;
      try {
        // In 10 pieces 20 ms apart, so that the connections are open and sending together.
        const std::size_t piece = data.size() / 10 + 1;
        for (std::size_t at = 0; at < data.size(); at += piece) {
          send_all(fd, data.substr(at, piece));
          std::this_thread::sleep_for(20ms);
        }
      } catch (const std::exception& e) {
        ++send_failures;
        std::lock_guard lock(failure_mutex);
        first_failure = e.what();
      }
      ::close(fd);
    });
  }
  connected.arrive_and_wait();
  const auto load_start = Clock::now();
  for (auto& sender : senders) sender.join();
  const double send_seconds = std::chrono::duration<double>(Clock::now() - load_start).count();
  EXPECT_EQ(send_failures.load(), 0u) << first_failure;

  const bool all_received = eventually(
      [&] { return agent.metric("flowmetrics_records_received_total") == static_cast<double>(records.size()); }, 120s);
  const double receive_seconds = std::chrono::duration<double>(Clock::now() - load_start).count();
  EXPECT_TRUE(all_received) << "received " << agent.metric("flowmetrics_records_received_total");
  EXPECT_EQ(health_failed.load(), 0u) << "/healthz went unanswered (30 s deadline) during the load";
  EXPECT_GT(health_ok.load(), 0u);
  const double received = agent.metric("flowmetrics_records_received_total");
  const double accepted = agent.metric("flowmetrics_records_accepted_total");
  const double rejected = agent.metric("flowmetrics_records_rejected_total");
  EXPECT_EQ(received, accepted + rejected);
  EXPECT_EQ(rejected, invalid);
  EXPECT_EQ(accepted, static_cast<double>(expected.records()));
  const auto written = [&] { return agent.metric("flowmetrics_records_written_total"); };
  EXPECT_TRUE(eventually_while_progressing([&] { return written() == accepted; }, written, 180s))
      << "written " << agent.metric("flowmetrics_records_written_total") << " of " << accepted;
  const double write_seconds = std::chrono::duration<double>(Clock::now() - load_start).count();
  load_done = true;  // /healthz was asked throughout, until the last write
  health.join();

  const auto stop_start = Clock::now();
  const int code = stop_agent(agent);
  EXPECT_EQ(code, 0) << agent.logs().substr(0, 4000);
  const double stop_seconds = std::chrono::duration<double>(Clock::now() - stop_start).count();
  const auto counts = final_counts(agent.process().log());
  EXPECT_EQ(counts.count("received") ? counts.at("received") : 0, records.size());
  EXPECT_EQ(counts.count("written") ? counts.at("written") : 0, static_cast<std::uint64_t>(expected.records()));
  const Comparison final_read = read_and_compare(uri_, collection, expected, Merge::aggregate);
  EXPECT_TRUE(final_read.exact()) << final_read.problems;
  EXPECT_EQ(final_read.stored_records, expected.records());
  std::cout << "[ figures  ] " << kConnections << " connections sent " << records.size() << " lines in " << send_seconds
            << " s, all received after " << receive_seconds << " s, all written after " << write_seconds
            << " s, stopped in " << stop_seconds << " s; /healthz answered " << health_ok.load() << " times, worst "
            << health_worst_ms.load() << " ms\n";
  print_fault_result("many_clients", records.size(), expected.records(), final_read, expected,
                     std::chrono::duration<double>(Clock::now() - start).count(),
                     "rejected=" + std::to_string(static_cast<long long>(rejected)) + " healthz_ok=" +
                         std::to_string(health_ok.load()) + " healthz_failed=" + std::to_string(health_failed.load()) +
                         " healthz_worst_ms=" + std::to_string(health_worst_ms.load()));
}

}  // namespace
}  // namespace flowmetrics::testing
