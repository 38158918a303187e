// Fault injection, the spool file itself (test 4, second half): the agent is killed while the
// database is down, so its acknowledged records are only in the spool; the newest segment is
// then truncated in the middle of its last frame, or has a byte flipped in a frame in its
// middle. At the restart the damage is reported, and every batch whose frame is intact (and
// only those) reaches the database, each batch whole or not at all.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>

#include "fault_support.hpp"

namespace flowmetrics::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

enum class Damage { truncated_tail, flipped_byte };

// Where one acknowledged request's frame lies: the newest segment's size before and after it.
struct FrameExtent {
  std::filesystem::path segment;
  std::uintmax_t begin = 0, end = 0;
};

std::filesystem::path newest_segment(const std::filesystem::path& spool) {
  std::filesystem::path newest;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(spool, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("segment-", 0) == 0 && name.size() > 4 && name.substr(name.size() - 4) == ".log" &&
        (newest.empty() || name > newest.filename().string())) {
      newest = entry.path();
    }
  }
  return newest;
}

// The records frames (type 1) of a segment in the documented format (docs/durability.md):
// a 32-byte header, "FMSF", u32 payload length, u32 CRC, u8 type, ..., then the payload.
// Empty when the file does not parse that way (the test then falls back on sizes seen).
std::vector<FrameExtent> records_frames(const std::filesystem::path& segment) {
  std::ifstream in(segment, std::ios::binary);
  const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<FrameExtent> frames;
  for (std::size_t at = 0; at < data.size();) {
    if (data.size() - at < 32 || data.compare(at, 4, "FMSF") != 0) return {};
    std::uint32_t length = 0;
    for (int i = 3; i >= 0; --i) length = (length << 8) | static_cast<unsigned char>(data[at + 4 + i]);
    if (data.size() - at - 32 < length) return {};
    if (data[at + 12] == 1) frames.push_back({segment, at, at + 32 + length});
    at += 32 + length;
  }
  return frames;
}

class SpoolDamage : public FaultTest, public ::testing::WithParamInterface<Damage> {};

TEST_P(SpoolDamage, TheIntactFramesAreRecoveredAndTheDamagedOneIsReported) {
  FAULTS_SKIP_WITH_EXTERNAL_SERVER();
  const Damage damage = GetParam();
  const auto start = Clock::now();
  const std::string name = damage == Damage::truncated_tail ? "spool_truncated_tail" : "spool_flipped_byte";
  const std::string collection = unique_collection("faults_damage");
  // 20 batches of 100 records; batch b has flows 10b .. 10b+9 of its own.
  constexpr std::size_t kBatches = 20, kBatch = 100;
  std::vector<std::vector<Record>> batches;
  for (std::size_t b = 0; b < kBatches; ++b) {
    batches.push_back(make_workload({.records = kBatch,
                                     .flows = 10,
                                     .first_flow = static_cast<std::int64_t>(10 * b),
                                     .seed = static_cast<std::uint32_t>(100 + b)}));
  }
  CollectorProcess agent(agent_options(collection, {"pipeline.writers=2", "shutdown.drain_timeout_seconds=300"}));
  server_.stop();  // from here on, acknowledged records are only in the spool

  httplib::Client client("127.0.0.1", agent.http_port());
  client.set_read_timeout(60s);
  std::vector<FrameExtent> frames;
  std::uintmax_t size_before = 0;
  std::filesystem::path segment_before;
  for (std::size_t b = 0; b < kBatches; ++b) {
    const HttpAnswer answer = post_records(client, ndjson(batches[b], 0, kBatch), name + "-" + std::to_string(b));
    ASSERT_EQ(answer.status, 200) << "batch " << b << ": " << answer.body;
    const std::filesystem::path segment = newest_segment(agent.spool_directory());
    ASSERT_FALSE(segment.empty()) << "no segment-*.log in " << agent.spool_directory() << " after an acknowledgement";
    const std::uintmax_t size = std::filesystem::file_size(segment);
    const std::uintmax_t begin = segment == segment_before ? size_before : 0;
    ASSERT_GT(size, begin) << "batch " << b << " was acknowledged but " << segment << " did not grow";
    frames.push_back({segment, begin, size});
    segment_before = segment;
    size_before = size;
  }
  kill_agent(agent);
  // Flush markers (small frames) may sit between the records frames: where the file parses,
  // take the records frames' exact extents.
  if (const auto parsed = records_frames(frames.back().segment); parsed.size() == kBatches) {
    frames = parsed;
  } else {
    std::cout << "[ frames   ] " << parsed.size() << " records frames parsed in " << frames.back().segment
              << "; using the sizes seen after each acknowledgement\n";
  }

  // The damage, and which batch it takes.
  std::size_t damaged = 0;
  const std::filesystem::path segment = frames.back().segment;
  if (damage == Damage::truncated_tail) {
    damaged = kBatches - 1;
    const FrameExtent& last = frames.back();
    std::filesystem::resize_file(segment, last.begin + (last.end - last.begin) / 2);
  } else {
    // The frame that holds the middle of the newest segment (not its first frame, whose start
    // we cannot see), flipped in its own middle, away from its header.
    const std::uintmax_t middle = std::filesystem::file_size(segment) / 2;
    damaged = kBatches;
    for (std::size_t b = 1; b < kBatches; ++b) {
      if (frames[b].segment == segment && frames[b].begin <= middle && middle < frames[b].end) damaged = b;
    }
    if (damaged == kBatches) damaged = kBatches / 2;
    ASSERT_EQ(frames[damaged].segment, segment) << "the batches spread over several segments";
    const std::uintmax_t at = (frames[damaged].begin + frames[damaged].end) / 2;
    std::fstream file(segment, std::ios::in | std::ios::out | std::ios::binary);
    file.seekg(static_cast<std::streamoff>(at));
    char byte = 0;
    file.read(&byte, 1);
    byte = static_cast<char>(byte ^ 0xFF);
    file.seekp(static_cast<std::streamoff>(at));
    file.write(&byte, 1);
  }
  std::cout << "[ damage   ] " << name << ": batch " << damaged << " of " << kBatches << ", frame ["
            << frames[damaged].begin << ", " << frames[damaged].end << ") of " << segment.filename().string() << "\n";

  server_.start();
  agent.restart();
  ExpectedTotals expected;
  for (std::size_t b = 0; b < kBatches; ++b) {
    if (b != damaged) expected.add(batches[b], 0, kBatch);
  }
  const Comparison settled = wait_for_exact(uri_, collection, expected, Merge::aggregate, 300s);
  const double damaged_frames = agent.metric("flowmetrics_spool_damaged_frames_total");
  const double replayed = agent.metric("flowmetrics_spool_replayed_records_total");
  const int code = stop_agent(agent);
  EXPECT_EQ(code, 0);
  const std::string log = agent.logs();
  const std::regex reported(damage == Damage::truncated_tail ? "spool:[^\n]*(truncat|damaged)" : "spool:[^\n]*damaged",
                            std::regex::icase);
  EXPECT_TRUE(std::regex_search(log, reported)) << "the damage is not in the log:\n" << log.substr(0, 6000);
  if (damage == Damage::flipped_byte) {
    EXPECT_GE(damaged_frames, 1) << "flowmetrics_spool_damaged_frames_total";
  }
  EXPECT_EQ(replayed, static_cast<double>(expected.records())) << "flowmetrics_spool_replayed_records_total";

  // Each batch whole or absent, exactly the damaged one absent.
  const auto stored = read_metrics(uri_, collection);
  const Comparison final_read = compare(stored, expected, Merge::aggregate);
  EXPECT_TRUE(final_read.exact()) << final_read.problems;
  std::string per_batch;
  for (std::size_t b = 0; b < kBatches; ++b) {
    ExpectedTotals ids;
    ids.add(batches[b], 0, kBatch);
    std::size_t present = 0;
    for (const auto& [id, e] : ids.documents()) present += stored.count(id);
    per_batch += std::to_string(b) + ":" + std::to_string(present) + "/" + std::to_string(ids.documents().size()) + " ";
  }
  std::cout << "[ batches  ] documents present per batch " << per_batch << "\n";
  print_fault_result(name, kBatches * kBatch, static_cast<std::int64_t>(kBatches * kBatch), final_read, expected,
                     std::chrono::duration<double>(Clock::now() - start).count(),
                     "damaged_batch=" + std::to_string(damaged) + " expected_lost=" + std::to_string(kBatch) +
                         " damaged_frames_metric=" + std::to_string(static_cast<long long>(damaged_frames)) +
                         " settled_exact=" + std::to_string(settled.exact()));
}

INSTANTIATE_TEST_SUITE_P(Damages, SpoolDamage, ::testing::Values(Damage::truncated_tail, Damage::flipped_byte),
                         [](const ::testing::TestParamInfo<Damage>& damage) {
                           return std::string(damage.param == Damage::truncated_tail ? "truncated_tail"
                                                                                     : "flipped_byte");
                         });

}  // namespace
}  // namespace flowmetrics::testing
