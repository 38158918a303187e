// Fault injection, the database side: the database stopped in the middle of an ingest (test 1),
// frozen with SIGSTOP (test 3) and stopped until the spool is full (test 4, first half). In
// each, what the agent acknowledged must end up in the database exactly once.
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <iostream>
#include <latch>
#include <mutex>
#include <thread>

#include "fault_support.hpp"

namespace flowmetrics::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// ---- Test 1: the database stopped for 20 s in the middle of a 200,000-record ingest -------

class DatabaseOutage : public FaultTest, public ::testing::WithParamInterface<Merge> {};

TEST_P(DatabaseOutage, TwentySecondsWithoutTheDatabaseLoseNothingAndCountNothingTwice) {
  FAULTS_SKIP_WITH_EXTERNAL_SERVER();
  const Merge merge = GetParam();
  const auto start = Clock::now();
  const std::string collection = unique_collection("faults_outage");
  // Lanes 0 and 1 go over one TCP connection each, lane 2 over HTTP; lanes share no key, so
  // each key's send order is its lane's order (what `replace` must keep).
  constexpr std::size_t kLanes = 3;
  const std::vector<Record> records =
      make_workload({.records = 200'000, .flows = 699, .invalid_every = 500, .lanes = kLanes, .seed = 11});
  ExpectedTotals expected;
  expected.add(records, 0, records.size());
  CollectorProcess agent(agent_options(collection, {std::string("database.merge_policy=") + to_string(merge),
                                                    "pipeline.writers=2", "shutdown.drain_timeout_seconds=300"}));

  const std::size_t half = records.size() / 2;
  std::latch at_midpoint(kLanes), outage_started(1);
  std::atomic<std::int64_t> acknowledged{0};
  std::atomic<std::size_t> http_pushed_back{0}, http_failures{0}, finished{0};
  std::mutex failure_mutex;
  std::string first_failure;
  std::vector<std::thread> senders;
  for (std::size_t lane = 0; lane < 2; ++lane) {
    senders.emplace_back([&, lane] {
      const int fd = connect_tcp(agent.tcp_port());
      send_all(fd, ndjson(records, 0, half, lane, kLanes));
      at_midpoint.count_down();
      outage_started.wait();
      send_all(fd, ndjson(records, half, records.size(), lane, kLanes));
      ::close(fd);
      ++finished;
    });
  }
  senders.emplace_back([&] {
    httplib::Client client("127.0.0.1", agent.http_port());
    client.set_read_timeout(120s);
    constexpr std::size_t kSlice = 1'500;  // 500 records of lane 2 per request
    for (const auto& [from, to] : {std::pair{std::size_t{0}, half}, std::pair{half, records.size()}}) {
      for (std::size_t begin = from; begin < to; begin += kSlice) {
        const std::string body = ndjson(records, begin, std::min(begin + kSlice, to), 2, kLanes);
        HttpAnswer answer;
        for (;;) {
          answer = post_records(client, body, "outage-" + std::to_string(begin));
          if (answer.status != 503) break;
          ++http_pushed_back;  // a client retries a 503 with the same key
          std::this_thread::sleep_for(1s);
        }
        if (answer.status != 200) {
          ++http_failures;
          std::lock_guard lock(failure_mutex);
          if (first_failure.empty()) first_failure = std::to_string(answer.status) + " " + answer.body;
          continue;
        }
        acknowledged += answer.accepted;
      }
      if (from == 0) {
        at_midpoint.count_down();
        outage_started.wait();
      }
    }
    ++finished;
  });

  at_midpoint.wait();
  server_.stop();
  const auto outage_start = Clock::now();
  outage_started.count_down();
  std::this_thread::sleep_until(outage_start + 20s);
  // The outage lasts 20 s and, on a slow machine, until every sender has finished: that the
  // inputs kept accepting into the spool with the database down must not depend on how much
  // this machine can send in 20 s.
  eventually([&] { return finished.load() == kLanes; }, 600s);
  const std::size_t finished_during_outage = finished.load();
  server_.start();
  for (auto& sender : senders) sender.join();
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (i % kLanes != 2 && records[i].valid()) ++acknowledged;  // TCP: every line sent was taken
  }
  EXPECT_EQ(http_failures.load(), 0u) << first_failure;
  EXPECT_EQ(http_pushed_back.load(), 0u) << "the spool (1 GiB) was far from full: no 503 expected";
  EXPECT_EQ(finished_during_outage, kLanes) << "inputs did not keep accepting into the spool during the outage";

  const Comparison settled = wait_for_exact(uri_, collection, expected, merge, 240s);
  const int code = stop_agent(agent);
  EXPECT_EQ(code, 0) << agent.logs().substr(0, 4000);
  const Comparison final_read = read_and_compare(uri_, collection, expected, merge);
  EXPECT_TRUE(final_read.exact()) << final_read.problems;
  if (merge == Merge::aggregate) {
    EXPECT_EQ(final_read.stored_records, expected.records());
  }
  EXPECT_EQ(acknowledged.load(), expected.records());
  print_fault_result(std::string("database_outage/") + to_string(merge), records.size(), acknowledged.load(),
                     final_read, expected, seconds_since(start),
                     "settled_exact=" + std::to_string(settled.exact()) +
                         " finished_during_outage=" + std::to_string(finished_during_outage) + "/3");
}

INSTANTIATE_TEST_SUITE_P(MergePolicies, DatabaseOutage, ::testing::Values(Merge::aggregate, Merge::replace),
                         [](const ::testing::TestParamInfo<Merge>& merge) {
                           return std::string(to_string(merge.param));
                         });

// ---- Tests 3 and 4: a database frozen or stopped until the spool is full ------------------

enum class Outage { frozen, stopped };

struct PushBackFigures {
  std::size_t sent = 0;
  std::int64_t acknowledged = 0;
};

// The agent's spool is capped at `spool_max_bytes`; a TCP sender and an HTTP client push
// records (each a key of its own) until both are pushed back, then the database comes back.
class PushBack : public FaultTest {
 protected:
  void run(Outage outage, std::uint64_t spool_max_bytes, const std::string& name);
};

void PushBack::run(Outage outage, std::uint64_t spool_max_bytes, const std::string& name) {
  const auto start = Clock::now();
  const std::string collection = unique_collection("faults_pushback");
  const std::uint64_t segment_bytes = std::max<std::uint64_t>(64 << 10, spool_max_bytes / 8);
  constexpr std::size_t kRssBound = 300u * 1000 * 1000;  // the stated memory bound: 300 MB
  CollectorProcess agent(agent_options(
      collection,
      {"spool.max_bytes=" + std::to_string(spool_max_bytes), "spool.segment_bytes=" + std::to_string(segment_bytes),
       "pipeline.bucket_seconds=0", "pipeline.max_pending_keys=5000", "pipeline.writers=2",
       "pipeline.flush_interval_ms=100", "shutdown.drain_timeout_seconds=300"}));
  if (outage == Outage::frozen) {
    server_.pause();
  } else {
    server_.stop();
  }
  const auto outage_start = Clock::now();

  // TCP: flow 1, even timestamps; every chunk begun is finished (after the outage if need be),
  // so every line sent is expected in the database.
  std::vector<Record> tcp_records;
  std::atomic<std::size_t> tcp_lines_sent{0};
  std::atomic<bool> stop_sending{false}, tcp_broken{false};
  std::thread tcp_sender([&] {
    const int fd = connect_tcp(agent.tcp_port());
    timeval timeout{0, 200'000};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    const auto give_up = [&] { return Clock::now() - outage_start > 900s; };
    for (std::size_t i = 0; !stop_sending && !tcp_broken;) {
      std::string chunk;
      for (int k = 0; k < 100; ++k, ++i) {
        tcp_records.push_back(make_record(1, kBaseMs + 2 * static_cast<std::int64_t>(i),
                                          0.5 * static_cast<double>(i % 1000), static_cast<std::int64_t>(i % 10),
                                          static_cast<std::int64_t>(i % 1000), 0));
        chunk += tcp_records.back().line + "\n";
      }
      for (std::size_t sent = 0; sent < chunk.size();) {
        const ssize_t n = ::send(fd, chunk.data() + sent, chunk.size() - sent, MSG_NOSIGNAL);
        if (n > 0) {
          sent += static_cast<std::size_t>(n);
        } else if ((errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) || give_up()) {
          tcp_broken = true;
          break;
        }
      }
      if (!tcp_broken) tcp_lines_sent += 100;
    }
    ::close(fd);
  });

  // HTTP: flow 2, odd timestamps, 200 records a request, until the first 503.
  httplib::Client client("127.0.0.1", agent.http_port());
  client.set_read_timeout(60s);
  std::vector<Record> http_records;
  ExpectedTotals http_acknowledged;
  HttpAnswer refused;
  std::vector<Record> refused_records;
  std::size_t batch = 0, http_other = 0;
  std::string other_answer;
  const auto next_batch = [&] {
    std::vector<Record> records;
    for (int k = 0; k < 200; ++k) {
      const std::size_t i = batch * 200 + static_cast<std::size_t>(k);
      records.push_back(make_record(2, kBaseMs + 2 * static_cast<std::int64_t>(i) + 1,
                                    0.5 * static_cast<double>(i % 999), 1, 100, 0));
    }
    return records;
  };
  const auto body_of = [](const std::vector<Record>& records) { return ndjson(records, 0, records.size()); };
  while (Clock::now() - outage_start < 600s) {
    std::vector<Record> records = next_batch();
    const HttpAnswer answer = post_records(client, body_of(records), name + "-" + std::to_string(batch++));
    if (answer.status == 200) {
      for (const auto& r : records) http_acknowledged.add(r);
      http_records.insert(http_records.end(), records.begin(), records.end());
    } else if (answer.status == 503) {
      refused = answer;
      refused_records = std::move(records);
      break;
    } else {
      ++http_other;
      other_answer = std::to_string(answer.status) + " " + answer.body;
      std::this_thread::sleep_for(100ms);
    }
  }
  EXPECT_EQ(http_other, 0u) << "an answer other than 200 or 503: " << other_answer;
  ASSERT_EQ(refused.status, 503) << "HTTP was never pushed back within 600 s";
  EXPECT_FALSE(refused.retry_after.empty()) << "a 503 without Retry-After";
  EXPECT_NE(refused.body.find("spool"), std::string::npos) << "the 503 does not name the spool: " << refused.body;
  EXPECT_TRUE(eventually([&] { return agent.metric("flowmetrics_spool_full") == 1; }, 60s))
      << "flowmetrics_spool_full " << agent.metric("flowmetrics_spool_full");

  // TCP stops reading: once the socket buffers are full, the sender stalls.
  const bool stalled = eventually(
      [&] {
        const std::size_t before = tcp_lines_sent.load();
        std::this_thread::sleep_for(1s);
        return tcp_lines_sent.load() == before;
      },
      60s);
  EXPECT_TRUE(stalled) << "the TCP sender kept going with the spool full (" << tcp_lines_sent.load() << " lines)";
  std::this_thread::sleep_until(outage_start + 2s);
  const auto [ready_status, ready_body] = http_get(agent.http_port(), "/readyz");
  EXPECT_EQ(ready_status, 503) << ready_body;
  EXPECT_NE(ready_body.find("not ready"), std::string::npos) << ready_body;
  const double spool_bytes = agent.metric("flowmetrics_spool_bytes");
  const double oldest_age = agent.metric("flowmetrics_spool_oldest_record_age_seconds");
  const std::uintmax_t on_disk = directory_bytes(agent.spool_directory());
  const std::size_t rss = agent.process().rss_bytes();
  EXPECT_GT(spool_bytes, 0.5 * static_cast<double>(spool_max_bytes));
  EXPECT_LE(spool_bytes, static_cast<double>(spool_max_bytes + (1 << 20)));
  EXPECT_LE(on_disk, spool_max_bytes + segment_bytes + (1 << 20)) << "the spool grew past its cap on disk";
  EXPECT_GE(oldest_age, 1.0);
  EXPECT_LT(rss, kRssBound) << "agent RSS " << rss;
  std::cout << "[ figures  ] " << name << ": spool full after " << tcp_lines_sent.load() << " TCP lines and "
            << http_records.size() << " HTTP records; spool " << spool_bytes << " B (" << on_disk
            << " B on disk), oldest record " << oldest_age << " s, agent RSS " << rss / 1'000'000 << " MB (bound "
            << kRssBound / 1'000'000 << " MB)\n";

  stop_sending = true;
  if (outage == Outage::frozen) {
    server_.resume();
  } else {
    server_.start();
  }
  tcp_sender.join();
  EXPECT_FALSE(tcp_broken.load()) << "the TCP sender could not finish its last chunk";
  // The agent takes input again once the spool drains.
  std::vector<Record> after = next_batch();
  HttpAnswer again;
  eventually_while_progressing(
      [&] {
        again = post_records(client, body_of(after), name + "-after");
        if (again.status != 200) std::this_thread::sleep_for(500ms);
        return again.status == 200;
      },
      [&] { return agent.metric("flowmetrics_records_written_total"); }, 180s);
  EXPECT_EQ(again.status, 200) << "still pushed back after the database returned: " << again.body;
  if (again.status == 200) {
    for (const auto& r : after) http_acknowledged.add(r);
    http_records.insert(http_records.end(), after.begin(), after.end());
  }

  ExpectedTotals expected;
  for (const auto& r : tcp_records) expected.add(r);
  for (const auto& r : http_records) expected.add(r);
  const Comparison settled = wait_for_exact(uri_, collection, expected, Merge::aggregate, 240s);
  const std::size_t peak_rss = agent.process().peak_rss_bytes();
  EXPECT_LT(peak_rss, kRssBound) << "agent peak RSS " << peak_rss;
  const int code = stop_agent(agent);
  EXPECT_EQ(code, 0) << agent.logs().substr(0, 4000);
  const Comparison final_read = read_and_compare(uri_, collection, expected, Merge::aggregate);
  EXPECT_TRUE(final_read.exact()) << final_read.problems;
  EXPECT_EQ(final_read.stored_records, expected.records());
  const std::size_t sent = tcp_records.size() + http_records.size() + refused_records.size();
  print_fault_result(name, sent, expected.records(), final_read, expected, seconds_since(start),
                     "refused_http=" + std::to_string(refused_records.size()) + " peak_rss_mb=" +
                         std::to_string(peak_rss / 1'000'000) + " settled_exact=" + std::to_string(settled.exact()));
}

TEST_F(PushBack, AFrozenDatabaseBoundsMemoryPushesInputsBackAndRecoversExactly) {
  FAULTS_SKIP_WITH_EXTERNAL_SERVER();
  run(Outage::frozen, 8u << 20, "frozen_database");
}

TEST_F(PushBack, AFullSpoolGivesAClearErrorPushesBackAndCorruptsNothing) {
  FAULTS_SKIP_WITH_EXTERNAL_SERVER();
  run(Outage::stopped, 2u << 20, "spool_full");
}

}  // namespace
}  // namespace flowmetrics::testing
