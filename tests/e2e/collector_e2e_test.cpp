// End to end: FerretDB and `flowmetrics serve` as separate processes, a generated workload
// over TCP and HTTP, SIGTERM, and an independent read of the collection compared with the
// aggregates computed here from the same input.
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <thread>

#include "child_process.hpp"
#include "collector_process.hpp"
#include "ferretdb_process.hpp"
#include "flowmetrics/metric_aggregate.hpp"
#include "test_database.hpp"

namespace flowmetrics {
namespace {

using namespace std::chrono_literals;
using namespace flowmetrics::testing;

constexpr std::int64_t kBaseMs = 1'732'530'000'000;  // 2024-11-25T10:20:00Z, a bucket boundary

struct Expected {
  double sum = 0, min = 1e300, max = -1e300;
  std::int64_t count = 0, packets = 0, bytes = 0;
};

// Deterministic workload: `records` lines over `flows` five-tuples and 4 one-minute buckets,
// with an invalid line every `invalid_every` lines. Values are multiples of 0.5, so sums are
// exact in any order.
struct Workload {
  std::vector<std::string> lines;
  std::vector<bool> line_is_invalid;
  std::map<std::string, Expected> expected;  // by _id
  std::size_t invalid = 0;
};

Workload make_workload(std::size_t records, int flows, std::size_t invalid_every, std::uint32_t seed) {
  Workload w;
  std::mt19937 rng(seed);
  for (std::size_t i = 0; i < records; ++i) {
    if (invalid_every != 0 && i % invalid_every == invalid_every - 1) {
      static const char* kBad[] = {
          R"({"source_ip":"10.0.0.999","dest_ip":"10.1.0.1","source_port":1,"dest_port":2,"protocol":"tcp","timestamp":1732530000,"value":1})",
          R"({"source_ip":"10.0.0.1","dest_ip":"10.1.0.1","source_port":1,"dest_port":2,"protocol":"tcp","value":1})",
          R"(not json at all)",
          R"({"source_ip":"10.0.0.1","dest_ip":"10.1.0.1","source_port":70000,"dest_port":2,"protocol":"tcp","timestamp":1732530000,"value":1})",
      };
      w.lines.emplace_back(kBad[(i / invalid_every) % 4]);
      w.line_is_invalid.push_back(true);
      ++w.invalid;
      continue;
    }
    const int flow = static_cast<int>(rng() % static_cast<std::uint32_t>(flows));
    const std::int64_t ts = kBaseMs + static_cast<std::int64_t>(rng() % 240'000);  // 4 buckets
    const double value = 0.5 * static_cast<double>(rng() % 2000);
    const std::int64_t packets = rng() % 100, bytes = rng() % 100'000;
    const std::string src = "10.0." + std::to_string(flow / 250) + "." + std::to_string(flow % 250);
    const int sport = 1024 + flow % 7;
    std::string line = R"({"source_ip":")" + src + R"(","dest_ip":"192.168.0.1","source_port":)" +
                       std::to_string(sport) + R"(,"dest_port":443,"protocol":"tcp","timestamp":)" +
                       std::to_string(ts) + R"(,"value":)" + std::to_string(value) + R"(,"packets":)" +
                       std::to_string(packets) + R"(,"bytes":)" + std::to_string(bytes) + "}";
    w.lines.push_back(std::move(line));
    w.line_is_invalid.push_back(false);
    const std::int64_t bucket = ts - ts % 60'000;
    Expected& e = w.expected[src + "|192.168.0.1|" + std::to_string(sport) + "|443|TCP|" + std::to_string(bucket)];
    e.sum += value;
    e.min = std::min(e.min, value);
    e.max = std::max(e.max, value);
    ++e.count;
    e.packets += packets;
    e.bytes += bytes;
  }
  return w;
}

class CollectorE2E : public OwnServerTest {};

TEST_F(CollectorE2E, EveryDocumentEqualsTheAggregateOfItsInputAndTheCountersAddUp) {
  const std::string collection = unique_collection("e2e");
  // 100,000 records over 700 flows x 4 buckets (about 2,800 documents), 1 in 200 invalid.
  const Workload w = make_workload(100'000, 700, 200, 42);
  // The drain asserts correctness, not speed: FerretDB's updates on a loaded 2-core machine took
  // 109 s for this workload (4 s on an idle one), so the drain may take all the time it needs.
  CollectorProcess agent({.mongodb_uri = uri_,
                          .collection = collection,
                          .extra_toml = "[pipeline]\nwriters = 4\n[shutdown]\ndrain_timeout_seconds = 900\n"});

  const auto start = std::chrono::steady_clock::now();
  const std::size_t half = w.lines.size() / 2;
  // First half over TCP on 4 connections; second half over HTTP, NDJSON and JSON arrays.
  std::vector<std::thread> senders;
  for (int c = 0; c < 4; ++c) {
    senders.emplace_back([&, c] {
      const int fd = connect_tcp(agent.tcp_port());
      std::string data;
      for (std::size_t i = static_cast<std::size_t>(c); i < half; i += 4) data += w.lines[i] + "\n";
      send_all(fd, data);
      ::close(fd);
    });
  }
  std::size_t http_rejected = 0;
  senders.emplace_back([&] {
    httplib::Client client("127.0.0.1", agent.http_port());
    client.set_read_timeout(60, 0);
    bool as_array = false;
    for (std::size_t begin = half; begin < w.lines.size(); begin += 1'000, as_array = !as_array) {
      const std::size_t end = std::min(w.lines.size(), begin + 1'000);
      std::string body = as_array ? "[" : "";
      for (std::size_t i = begin; i < end; ++i) {
        // In an array an invalid element would spoil the whole body, so arrays carry only
        // good records and the invalid lines of that slice go as NDJSON separately.
        if (as_array) {
          if (w.line_is_invalid[i]) {
            auto r = client.Post("/v1/metrics", w.lines[i] + "\n", "application/x-ndjson");
            ASSERT_TRUE(r);
            ASSERT_EQ(r->status, 400) << r->body;
            ++http_rejected;
            continue;
          }
          body += (body.size() > 1 ? "," : "") + w.lines[i];
        } else {
          body += w.lines[i] + "\n";
        }
      }
      if (as_array) body += "]";
      auto response = client.Post("/v1/metrics", body, as_array ? "application/json" : "application/x-ndjson");
      ASSERT_TRUE(response);
      ASSERT_EQ(response->status, 200) << response->body;
      const std::smatch m = [&] {
        std::smatch match;
        std::regex_search(response->body, match, std::regex(R"("rejected":(\d+))"));
        return match;
      }();
      http_rejected += std::stoul(m[1]);
    }
  });
  for (auto& s : senders) s.join();

  // Everything sent was read before the stop: wait until the agent has received it all.
  ASSERT_TRUE(eventually(
      [&] { return agent.metric("flowmetrics_records_received_total") == static_cast<double>(w.lines.size()); }, 300s))
      << agent.metric("flowmetrics_records_received_total");
  const double peak_rss_mb = static_cast<double>(agent.process().peak_rss_bytes()) / 1e6;
  agent.process().signal(SIGTERM);
  const auto exit_code = agent.process().wait(1000s);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(exit_code) << "the agent did not stop within 1000 s";
  EXPECT_EQ(*exit_code, 0) << agent.process().log();
  std::cout << "[ figures  ] " << w.lines.size() << " records in " << seconds
            << " s end to end = " << static_cast<long>(static_cast<double>(w.lines.size()) / seconds)
            << " records/s; agent peak RSS " << peak_rss_mb << " MB\n";

  const auto counts = final_counts(agent.process().log());
  EXPECT_EQ(counts.at("received"), w.lines.size());
  EXPECT_EQ(counts.at("rejected"), w.invalid);
  EXPECT_EQ(counts.at("accepted"), w.lines.size() - w.invalid);
  EXPECT_EQ(counts.at("written"), w.lines.size() - w.invalid);
  EXPECT_EQ(counts.at("failed"), 0u);
  EXPECT_EQ(counts.at("pending"), 0u);
  EXPECT_EQ(counts.at("dropped"), 0u);

  const auto docs = read_metrics(uri_, collection);
  EXPECT_EQ(docs.size(), w.expected.size());
  std::size_t mismatches = 0;
  for (const auto& [id, e] : w.expected) {
    const auto it = docs.find(id);
    if (it == docs.end()) {
      ADD_FAILURE() << "missing " << id;
      if (++mismatches > 10) break;
      continue;
    }
    const StoredMetric& d = it->second;
    if (d.value != e.sum || d.count != e.count || d.min != e.min || d.max != e.max || d.packets != e.packets ||
        d.bytes != e.bytes) {
      ADD_FAILURE() << id << ": stored sum " << d.value << " count " << d.count << " min " << d.min << " max " << d.max
                    << ", expected " << e.sum << " " << e.count << " " << e.min << " " << e.max;
      if (++mismatches > 10) break;
    }
  }
}

TEST_F(CollectorE2E, AFrozenDatabaseBoundsMemoryAndPushesInputsBack) {
  if (using_external_server()) GTEST_SKIP() << "freezes its own FerretDB";
  const std::string collection = unique_collection("e2e_frozen");
  // Exact timestamps: every record is a new key, so keys pile up while nothing is written.
  CollectorProcess agent(
      {.mongodb_uri = uri_,
       .collection = collection,
       .extra_toml = "[pipeline]\nbucket_seconds = 0\nmax_pending_keys = 5000\nwriters = 2\nflush_interval_ms = 100\n",
       .overrides = {"spool.max_bytes=1048576", "spool.segment_bytes=65536"}});
  server_.pause();

  std::atomic<std::size_t> lines_sent{0};
  std::atomic<bool> stop{false};
  std::thread tcp_sender([&] {
    const int fd = connect_tcp(agent.tcp_port());
    std::size_t i = 0;
    while (!stop) {
      std::string data;
      for (int k = 0; k < 100; ++k, ++i) {
        data +=
            R"({"source_ip":"10.9.0.1","dest_ip":"10.9.0.2","source_port":1,"dest_port":2,"protocol":"udp","timestamp":)" +
            std::to_string(kBaseMs + static_cast<std::int64_t>(i)) + R"(,"value":1})" + "\n";
      }
      // A blocking send that stalls is the push back we want to see; give up after the test.
      timeval timeout{0, 200'000};
      ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
      std::size_t sent = 0;
      while (sent < data.size() && !stop) {
        const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
        if (n > 0) sent += static_cast<std::size_t>(n);
      }
      if (sent == data.size()) lines_sent += 100;
    }
    ::close(fd);
  });

  // Memory fills to its bound, the spool to its cap, then HTTP refuses with 503 + Retry-After...
  httplib::Client client("127.0.0.1", agent.http_port());
  ASSERT_TRUE(eventually([&] { return agent.metric("flowmetrics_spool_full") == 1; }, 60s));
  auto refused = client.Post(
      "/v1/metrics",
      R"({"source_ip":"10.9.0.1","dest_ip":"10.9.0.2","source_port":1,"dest_port":2,"protocol":"udp","timestamp":1,"value":1})",
      "application/x-ndjson");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503);
  EXPECT_EQ(refused->get_header_value("Retry-After"), "1");
  // ...and TCP stops reading: once the kernel's socket buffers are full, the sender stalls.
  EXPECT_TRUE(eventually(
      [&] {
        const std::size_t before = lines_sent.load();
        std::this_thread::sleep_for(1s);
        return lines_sent.load() == before;
      },
      30s))
      << "the sender kept going while the database was frozen";
  const double keys = agent.metric("flowmetrics_keys_pending") + agent.metric("flowmetrics_keys_in_flight");
  EXPECT_LE(keys, 5000 + 1024) << "over the bound by more than one spool frame";
  EXPECT_GE(keys, 5000) << "the memory bound is not reached";
  const std::size_t rss = agent.process().rss_bytes();
  EXPECT_LT(rss, 300u * 1000 * 1000) << "RSS " << rss;
  std::cout << "[ figures  ] frozen database: " << keys << " keys held, agent RSS " << rss / 1'000'000 << " MB\n";

  server_.resume();
  stop = true;
  tcp_sender.join();
  ASSERT_TRUE(eventually([&] { return agent.metric("flowmetrics_records_pending") == 0; }, 900s));
  agent.process().signal(SIGTERM);
  const auto exit_code = agent.process().wait(120s);
  ASSERT_TRUE(exit_code);
  EXPECT_EQ(*exit_code, 0) << agent.process().log();
  const auto counts = final_counts(agent.process().log());
  EXPECT_EQ(counts.at("received"), counts.at("accepted") + counts.at("rejected"));
  EXPECT_EQ(counts.at("accepted"), counts.at("written"));
  EXPECT_EQ(counts.at("failed"), 0u);
  EXPECT_EQ(read_metrics(uri_, collection).size(), counts.at("written"));
}

TEST_F(CollectorE2E, HealthReadinessBodyLimitAndASecondSignal) {
  if (using_external_server()) GTEST_SKIP() << "stops its own FerretDB";
  const std::string collection = unique_collection("e2e_ops");
  CollectorProcess agent({.mongodb_uri = uri_,
                          .collection = collection,
                          .extra_toml = "[shutdown]\ndrain_timeout_seconds = 300\n",
                          .overrides = {"inputs.http.max_body_bytes=2000", "database.operation_timeout_ms=2000"}});
  httplib::Client client("127.0.0.1", agent.http_port());
  client.set_read_timeout(10, 0);
  auto health = client.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto ready = client.Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200) << ready->body;

  const std::string record =
      R"({"source_ip":"10.7.0.1","dest_ip":"10.7.0.2","source_port":1,"dest_port":2,"protocol":"udp","timestamp":1732530000,"value":1})";
  std::string big;
  while (big.size() <= 2000) big += record + "\n";
  auto too_big = client.Post("/v1/metrics", big, "application/x-ndjson");
  ASSERT_TRUE(too_big);
  EXPECT_EQ(too_big->status, 413);

  server_.stop();
  auto not_ready = client.Get("/readyz");
  ASSERT_TRUE(not_ready);
  EXPECT_EQ(not_ready->status, 503);
  EXPECT_NE(not_ready->body.find("not ready"), std::string::npos) << not_ready->body;

  // With the database gone, an accepted record cannot be written: the drain waits for it,
  // and a second signal ends the process at once.
  auto accepted = client.Post("/v1/metrics", record + "\n", "application/x-ndjson");
  ASSERT_TRUE(accepted);
  EXPECT_EQ(accepted->status, 200) << accepted->body;
  agent.process().signal(SIGTERM);
  EXPECT_FALSE(agent.process().wait(1s)) << "exited before the drain timeout with a record unwritten";
  agent.process().signal(SIGTERM);
  const auto code = agent.process().wait(60s);
  ASSERT_TRUE(code) << "a second SIGTERM did not end the process";
  EXPECT_EQ(*code, 130);
}

TEST_F(CollectorE2E, ABearerTokenGuardsIngestionAndAnIdempotencyKeyIsAppliedOnce) {
  const std::string collection = unique_collection("e2e_auth");
  const auto token_file = std::filesystem::temp_directory_path() / unique_collection("flowmetrics-token");
  std::ofstream(token_file) << "s3cret-token\n";
  CollectorProcess agent({.mongodb_uri = uri_,
                          .collection = collection,
                          .overrides = {"inputs.http.bearer_token_file=" + token_file.string()}});
  httplib::Client client("127.0.0.1", agent.http_port());
  client.set_read_timeout(10, 0);
  const std::string body =
      R"({"source_ip":"10.6.0.1","dest_ip":"10.6.0.2","source_port":1,"dest_port":2,"protocol":"udp","timestamp":1732530000,"value":2.5})"
      "\n";
  auto anonymous = client.Post("/v1/metrics", body, "application/x-ndjson");
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->status, 401);
  auto wrong = client.Post("/v1/metrics", {{"Authorization", "Bearer nope"}}, body, "application/x-ndjson");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  EXPECT_EQ(client.Get("/metrics")->status, 200) << "operations endpoints stay open";

  const httplib::Headers headers{{"Authorization", "Bearer s3cret-token"}, {"Idempotency-Key", "batch-0001"}};
  auto first = client.Post("/v1/metrics", headers, body, "application/x-ndjson");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 200) << first->body;
  EXPECT_FALSE(first->has_header("Idempotent-Replayed"));
  auto again = client.Post("/v1/metrics", headers, body, "application/x-ndjson");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200);
  EXPECT_EQ(again->get_header_value("Idempotent-Replayed"), "true");
  EXPECT_EQ(again->body, first->body);

  agent.process().signal(SIGTERM);
  ASSERT_TRUE(agent.process().wait(60s));
  const auto docs = read_metrics(uri_, collection);
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs.begin()->second.count, 1) << "the repeated key was applied again";
  EXPECT_EQ(docs.begin()->second.value, 2.5);
  EXPECT_EQ(agent.logs().find("s3cret-token"), std::string::npos) << "the token was logged";
  std::filesystem::remove(token_file);
}

TEST_F(CollectorE2E, IngestLoadsAFileAndItsExitCodeSaysWhetherEverythingWasWritten) {
  const auto dir = std::filesystem::temp_directory_path() / unique_collection("flowmetrics-ingest");
  std::filesystem::create_directories(dir);
  const Workload w = make_workload(5'000, 100, 0, 7);
  const Workload bad = make_workload(1'000, 100, 10, 8);
  std::ofstream(dir / "good.jsonl") << [&] {
    std::string text;
    for (const auto& line : w.lines) text += line + "\n";
    return text;
  }();
  std::ofstream(dir / "bad.jsonl") << [&] {
    std::string text;
    for (const auto& line : bad.lines) text += line + "\n";
    return text;
  }();
  const auto run = [&](const std::string& file, const std::string& collection) {
    ChildProcess ingest(
        {FLOWMETRICS_CLI, "ingest", (dir / file).string(), "--set", "database.uri=" + uri_, "--set",
         std::string("database.database=") + kTestDatabase, "--set", "database.collection=" + collection, "--set",
         "spool.directory=" + (dir / ("spool-" + collection)).string()},
        (dir / (file + ".log")).string());
    const auto code = ingest.wait(900s);
    return std::make_pair(code.value_or(-1), ingest.log());
  };
  const std::string good_collection = unique_collection("ingest_good");
  const auto [good_code, good_log] = run("good.jsonl", good_collection);
  EXPECT_EQ(good_code, 0) << good_log;
  EXPECT_NE(good_log.find("written 5000"), std::string::npos) << good_log;
  const auto docs = read_metrics(uri_, good_collection);
  EXPECT_EQ(docs.size(), w.expected.size());
  for (const auto& [id, e] : w.expected) {
    ASSERT_TRUE(docs.count(id)) << id;
    EXPECT_EQ(docs.at(id).value, e.sum) << id;
    EXPECT_EQ(docs.at(id).count, e.count) << id;
  }

  const auto [bad_code, bad_log] = run("bad.jsonl", unique_collection("ingest_bad"));
  EXPECT_EQ(bad_code, 1) << bad_log;
  EXPECT_NE(bad_log.find("rejected 100"), std::string::npos) << bad_log;
  EXPECT_NE(bad_log.find("invalid_ip"), std::string::npos) << bad_log;
  std::filesystem::remove_all(dir);
}

TEST(ConfigCheck, NamesTheKeyAndLineOfABadValue) {
  const auto dir = std::filesystem::temp_directory_path() / unique_collection("flowmetrics-config");
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "bad.toml") << "[pipeline]\nbucket_seconds = 60\nwriters = 0\n";
  ChildProcess check({FLOWMETRICS_CLI, "config", "check", (dir / "bad.toml").string()}, (dir / "check.log").string());
  EXPECT_EQ(check.wait(60s).value_or(-1), 1);
  EXPECT_NE(check.log().find("bad.toml:3"), std::string::npos) << check.log();
  EXPECT_NE(check.log().find("pipeline.writers"), std::string::npos) << check.log();
  ChildProcess example({FLOWMETRICS_CLI, "config", "check", FLOWMETRICS_EXAMPLE_CONFIG},
                       (dir / "example.log").string());
  EXPECT_EQ(example.wait(60s).value_or(-1), 0) << example.log();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace flowmetrics
