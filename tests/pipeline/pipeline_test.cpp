// The aggregation logic, with an in-memory table standing in for the writer: these tests
// are about buckets, flushing and accounting, not the database (the e2e tests cover that).
#include "pipeline/pipeline.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>

#include "spool_v1_support.hpp"
#include "test_database.hpp"

namespace flowmetrics::pipeline {
namespace {

using namespace std::chrono_literals;
using flowmetrics::testing::eventually;

// Stands in for the database, honouring write stamps as the server-side filter does.
class TableWriter final : public AggregateWriter {
 public:
  UpsertResult write(std::span<const KeyedAggregate> batch, const WriteStamp* stamp) override {
    std::lock_guard lock(mu_);
    UpsertResult result;
    result.input = batch.size();
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (fail_next_ > 0 || applies_left_ == 0) {
        if (fail_next_ > 0) --fail_next_;
        result.errors.push_back(ItemError{i, errc::server_unreachable, "", "down", false});
        ++result.failed;
        continue;
      }
      ++result.written;
      if (applies_left_ > 0) --applies_left_;
      if (stamp != nullptr) {
        std::uint64_t& applied = applied_[batch[i].id][stamp->stream];
        if (applied >= stamp->sequence) continue;
        applied = stamp->sequence;
      }
      table_[batch[i].id].add(batch[i].aggregate);
      ++writes_per_key_[batch[i].id];
    }
    return result;
  }
  std::map<std::string, MetricAggregate> table() {
    std::lock_guard lock(mu_);
    return table_;
  }
  void fail_next(int n) {
    std::lock_guard lock(mu_);
    fail_next_ = n;
  }
  // Applies `n` more documents, then fails everything: a crash in the middle of a batch.
  // A negative `n` applies everything again.
  void apply_only(int n) {
    std::lock_guard lock(mu_);
    applies_left_ = n;
  }

 private:
  std::mutex mu_;
  std::map<std::string, MetricAggregate> table_;
  std::map<std::string, std::map<std::string, std::uint64_t>> applied_;
  std::map<std::string, int> writes_per_key_;
  int fail_next_ = 0;
  int applies_left_ = -1;
};

// A minute boundary a day ahead: buckets there are closed by data, never by the clock.
const std::int64_t kFuture = [] {
  const auto now =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  return (now / 60'000 + 24 * 60) * 60'000;
}();

Metric at(std::int64_t ms, int port, double value) {
  return Metric{"10.0.0.1", "10.0.0.2", port,
                80,         "TCP",      std::chrono::system_clock::time_point(std::chrono::milliseconds(ms)),
                value};
}

PipelineOptions options(std::chrono::seconds width) {
  PipelineOptions o;
  o.bucket_width = width;
  o.writers = 3;
  o.max_pending_keys = 1'000;
  o.flush_interval = 20ms;
  o.grace = 0s;
  return o;
}

// A spool in a fresh directory, and what opening it found, as the runtime gathers it.
class SpoolFixture {
 public:
  explicit SpoolFixture(std::uint64_t max_bytes = 64 << 20)
      : directory_(std::filesystem::temp_directory_path() /
                   flowmetrics::testing::unique_collection("flowmetrics-pipeline-spool")),
        max_bytes_(max_bytes) {
    open();
  }
  ~SpoolFixture() {
    spool_.reset();
    spool_directory_.reset();
    std::filesystem::remove_all(directory_);
  }
  // Closes and opens the spool again, as a restarted agent does.
  void open() {
    spool_.reset();
    replay_ = SpoolReplay{};
    if (!spool_directory_) spool_directory_ = std::make_unique<spool::SpoolDirectory>(directory_);
    spool_ = std::make_unique<spool::Spool>(
        *spool_directory_, spool::SpoolOptions{max_bytes_, 64 << 10, spool::FsyncPolicy::none, 100ms},
        [this](const spool::FrameHeader& header, std::string_view payload) {
          replay_.last_sequence = std::max(replay_.last_sequence, header.sequence);
          if (header.type == spool::FrameType::flush)
            replay_.markers.emplace_back(header.sequence, *spool::decode_flush(payload));
        });
  }
  spool::Spool& spool() { return *spool_; }
  SpoolReplay replay() const { return replay_; }

 private:
  std::filesystem::path directory_;
  std::uint64_t max_bytes_;
  std::unique_ptr<spool::SpoolDirectory> spool_directory_;
  std::unique_ptr<spool::Spool> spool_;
  SpoolReplay replay_;
};

TEST(Pipeline, AggregatesPerKeyAndBucketAndAccountsForEveryRecord) {
  TableWriter writer;
  PipelineStats stats;
  SpoolFixture spool;
  Pipeline pipeline(options(60s), writer, stats, spool.spool(), nullptr, spool.replay());
  std::vector<Metric> metrics{at(0, 1, 1), at(59'999, 1, 2), at(60'000, 1, 4), at(1'000, 2, 8)};
  metrics.push_back(at(0, 70'000, 1));  // invalid port
  EXPECT_EQ(pipeline.submit(metrics, "test"), Admission::accepted);
  ASSERT_TRUE(pipeline.drain(60s));
  const auto table = writer.table();
  ASSERT_EQ(table.size(), 3u);
  EXPECT_EQ(table.at("10.0.0.1|10.0.0.2|1|80|TCP|0").sum, 3);
  EXPECT_EQ(table.at("10.0.0.1|10.0.0.2|1|80|TCP|0").count, 2u);
  EXPECT_EQ(table.at("10.0.0.1|10.0.0.2|1|80|TCP|60000").sum, 4);
  EXPECT_EQ(table.at("10.0.0.1|10.0.0.2|2|80|TCP|0").sum, 8);
  EXPECT_EQ(stats.received.total(), 5u);
  EXPECT_EQ(stats.accepted.load(), 4u);
  EXPECT_EQ(stats.rejected.total(), 1u);
  EXPECT_EQ(stats.written.load(), 4u);
  EXPECT_EQ(stats.records_pending.load(), 0u);
  EXPECT_EQ(stats.rejected.snapshot().begin()->first.second, "invalid_port");
}

TEST(Pipeline, AFinishedRunLeavesNothingToReplay) {
  TableWriter writer;
  SpoolFixture spool;
  {
    PipelineStats stats;
    Pipeline pipeline(options(60s), writer, stats, spool.spool(), nullptr, spool.replay());
    std::vector<Metric> metrics{at(0, 1, 1), at(60'000, 1, 2)};
    pipeline.submit(metrics, "test");
    ASSERT_TRUE(pipeline.drain(60s));
  }
  spool.open();
  EXPECT_EQ(spool.spool().recovery().frames, 0u) << "records and flush markers of a drained run were kept";
}

TEST(Pipeline, ZeroWidthKeepsExactTimestamps) {
  TableWriter writer;
  PipelineStats stats;
  SpoolFixture spool;
  Pipeline pipeline(options(0s), writer, stats, spool.spool(), nullptr, spool.replay());
  std::vector<Metric> metrics{at(1, 1, 1), at(2, 1, 1), at(2, 1, 1)};
  pipeline.submit(metrics, "test");
  ASSERT_TRUE(pipeline.drain(60s));
  EXPECT_EQ(writer.table().size(), 2u);
}

TEST(Pipeline, AClosedBucketIsFlushedOnceTheWatermarkPassesIt) {
  TableWriter writer;
  PipelineStats stats;
  SpoolFixture spool;
  Pipeline pipeline(options(60s), writer, stats, spool.spool(), nullptr, spool.replay());
  std::vector<Metric> early{at(kFuture, 1, 1), at(kFuture + 10'000, 1, 1)};
  pipeline.submit(early, "test");
  std::this_thread::sleep_for(100ms);
  EXPECT_TRUE(writer.table().empty()) << "the bucket is still open";
  std::vector<Metric> later{at(kFuture + 60'000, 2, 1)};
  pipeline.submit(later, "test");
  ASSERT_TRUE(eventually([&] { return writer.table().size() == 1; }));
  EXPECT_EQ(writer.table().begin()->second.count, 2u);
  ASSERT_TRUE(pipeline.drain(60s));
  EXPECT_EQ(writer.table().size(), 2u);
}

// The pipeline's clock is the test's: how long the stream has been quiet is what the test
// says, however slowly this thread runs.
class ManualClock {
 public:
  Pipeline::Clock::time_point now() const { return now_.load(); }
  void advance(std::chrono::milliseconds by) { now_ = now_.load() + by; }

 private:
  std::atomic<Pipeline::Clock::time_point> now_{Pipeline::Clock::time_point{} + std::chrono::hours(1)};
};

TEST(Pipeline, AQuietStreamsLastBucketIsClosedByTheClock) {
  TableWriter writer;
  PipelineStats stats;
  SpoolFixture spool;
  ManualClock clock;
  Pipeline pipeline(options(2s), writer, stats, spool.spool(), nullptr, spool.replay(), [&] { return clock.now(); });
  std::vector<Metric> old{at(0, 1, 1)};
  pipeline.submit(old, "test");
  ASSERT_TRUE(eventually([&] { return stats.keys_pending.load() == 1; })) << "the record was never merged";
  clock.advance(1'999ms);
  std::this_thread::sleep_for(200ms);  // many writer rounds (flush_interval 20 ms) with the clock short of the width
  EXPECT_TRUE(writer.table().empty()) << "written before the stream was quiet for a bucket width";
  clock.advance(1ms);  // quiet for the bucket width now: the clock closes the bucket
  // (The merge reads the clock once more after the record is counted; had that read come
  // after the first advance, the stream is quiet for less: keep the clock moving.)
  EXPECT_TRUE(eventually([&] {
    if (writer.table().size() == 1) return true;
    clock.advance(100ms);
    return false;
  }));
  ASSERT_TRUE(pipeline.drain(60s));
}

TEST(Pipeline, MemoryStaysBoundedWhileTheDatabaseIsDownAndTheSpoolTakesTheRest) {
  TableWriter writer;
  PipelineStats stats;
  SpoolFixture spool;
  PipelineOptions o = options(0s);
  o.max_pending_keys = 100;
  o.writers = 1;
  Pipeline pipeline(o, writer, stats, spool.spool(), nullptr, spool.replay());
  writer.fail_next(1'000'000);  // the "database" is down: nothing gets written
  for (int batch = 0; batch < 10; ++batch) {
    std::vector<Metric> metrics;
    for (int i = 0; i < 100; ++i) metrics.push_back(at(kFuture + batch * 100 + i, 1, 1));
    ASSERT_EQ(pipeline.submit(metrics, "test"), Admission::accepted);
  }
  // The database stays down until a write has failed and been retried (however long the
  // writer takes to get there), so the retry below is certain.
  ASSERT_TRUE(eventually([&] { return stats.write_retries.load() >= 1; }));
  EXPECT_LE(stats.keys_pending.load() + stats.keys_in_flight.load(), 100u + 100u);
  EXPECT_EQ(stats.accepted.load(), 1'000u);
  writer.fail_next(0);  // back
  ASSERT_TRUE(pipeline.drain(60s));
  EXPECT_EQ(stats.written.load(), 1'000u);
  EXPECT_EQ(writer.table().size(), 1'000u);
  EXPECT_GE(stats.write_retries.load(), 1u);
}

TEST(Pipeline, AFullSpoolRefusesUntilWrittenRecordsAreReleased) {
  TableWriter writer;
  PipelineStats stats;
  SpoolFixture spool(1 << 20);
  PipelineOptions o = options(0s);
  o.writers = 1;
  Pipeline pipeline(o, writer, stats, spool.spool(), nullptr, spool.replay());
  writer.fail_next(1'000'000);
  std::size_t accepted = 0;
  for (int batch = 0; batch < 1'000 && !pipeline.saturated(); ++batch) {
    std::vector<Metric> metrics;
    for (int i = 0; i < 100; ++i) metrics.push_back(at(kFuture + batch * 100 + i, 1, 1));
    if (pipeline.submit(metrics, "test") == Admission::accepted) accepted += 100;
  }
  ASSERT_TRUE(pipeline.saturated());
  std::vector<Metric> one{at(kFuture, 9, 1)};
  EXPECT_EQ(pipeline.submit(one, "test"), Admission::full);
  EXPECT_FALSE(pipeline.wait_for_capacity(50ms));
  writer.fail_next(0);
  EXPECT_TRUE(pipeline.wait_for_capacity(60s));
  ASSERT_TRUE(pipeline.drain(60s));
  EXPECT_EQ(stats.written.load(), accepted);
}

TEST(Pipeline, WhatADrainLeavesIsWrittenOnceByTheNextRun) {
  TableWriter writer;
  SpoolFixture spool;
  {
    PipelineStats stats;
    Pipeline pipeline(options(60s), writer, stats, spool.spool(), nullptr, spool.replay());
    writer.fail_next(1'000'000);
    std::vector<Metric> metrics{at(0, 1, 1), at(0, 2, 1), at(0, 2, 1)};
    pipeline.submit(metrics, "test");
    EXPECT_FALSE(pipeline.drain(300ms));
    EXPECT_EQ(stats.failed.load(), 0u);
    EXPECT_EQ(stats.records_pending.load(), 3u) << "kept in the spool";
  }
  writer.fail_next(0);
  spool.open();
  PipelineStats stats;
  Pipeline pipeline(options(60s), writer, stats, spool.spool(), nullptr, spool.replay());
  ASSERT_TRUE(pipeline.drain(60s));
  EXPECT_EQ(stats.replayed.load(), 3u);
  const auto table = writer.table();
  ASSERT_EQ(table.size(), 2u);
  EXPECT_EQ(table.at("10.0.0.1|10.0.0.2|2|80|TCP|0").count, 2u);
}

// A crash at any point: some flushes applied, some not. The next run replays the spool with
// its flush markers, and the stamps make every already-applied flush a no-op.
TEST(Pipeline, ReplayAfterAnAbandonedRunWritesEveryRecordExactlyOnce) {
  TableWriter writer;
  SpoolFixture spool;
  std::map<std::string, double> expected;
  {
    PipelineStats stats;
    PipelineOptions o = options(60s);
    o.max_pending_keys = 50;  // many "everything" flushes
    Pipeline pipeline(o, writer, stats, spool.spool(), nullptr, spool.replay());
    for (int batch = 0; batch < 40; ++batch) {
      std::vector<Metric> metrics;
      for (int i = 0; i < 25; ++i) {
        const int port = (batch * 7 + i) % 60;
        const std::int64_t ts = kFuture + (batch / 10) * 60'000;
        metrics.push_back(at(ts, port, 0.5 * (batch + 1)));
        const std::int64_t bucket = ts - ts % 60'000;
        expected["10.0.0.1|10.0.0.2|" + std::to_string(port) + "|80|TCP|" + std::to_string(bucket)] +=
            0.5 * (batch + 1);
      }
      pipeline.submit(metrics, "test");
      std::this_thread::sleep_for(5ms);  // let flushes happen between batches
      if (batch == 25) {
        // Something was written before the "crash" (whatever the machine's load), which then
        // comes in the middle of a batch.
        ASSERT_TRUE(eventually([&] { return !writer.table().empty(); }));
        writer.apply_only(7);
      }
    }
    std::this_thread::sleep_for(200ms);  // failed writes after the crash; not needed for any assertion
    // Destroyed without a drain, as a killed process would be.
  }
  std::uint64_t applied_before = 0;
  for (const auto& [id, aggregate] : writer.table()) applied_before += aggregate.count;
  EXPECT_GT(applied_before, 0u) << "the first run wrote nothing: the replay proves less";
  EXPECT_LT(applied_before, 1'000u) << "the first run wrote everything: the replay proves less";
  writer.apply_only(-1);
  spool.open();
  PipelineStats stats;
  // The same small memory bound: the replay must free memory with the earlier run's flushes.
  PipelineOptions small = options(60s);
  small.max_pending_keys = 50;
  Pipeline pipeline(small, writer, stats, spool.spool(), nullptr, spool.replay());
  ASSERT_TRUE(pipeline.drain(60s));
  const auto table = writer.table();
  ASSERT_EQ(table.size(), expected.size());
  for (const auto& [id, sum] : expected) EXPECT_EQ(table.at(id).sum, sum) << id;
}

// A spool left by the release before binary keys: version-1 records partitioned by the text
// key's hash_key, and flush markers naming those partitions, one of them already written.
// The replay takes exactly what that marker took (nothing written twice), and the records
// that follow, version 2, partitioned by the new hash, meet no stale entry of their key in
// another partition.
TEST(Pipeline, AVersion1SpoolIsReplayedWithItsPartitionsThenVersion2RecordsFollow) {
  TableWriter writer;
  SpoolFixture spool;
  constexpr int kKeys = 60;
  constexpr std::size_t kWriters = 3;
  const std::int64_t ts = kFuture;
  std::vector<testing::V1Record> records;
  for (int port = 0; port < kKeys; ++port) {
    records.push_back({{"10.0.0.1", "10.0.0.2", static_cast<std::uint16_t>(port), 80, "TCP", ts}, 1, 1, 1, 1});
  }
  const std::uint64_t first =
      spool.spool().append(spool::FrameType::records, testing::encode_v1_records(records)).sequence;
  const spool::FlushMarker marker{0, first, ts, true};
  const std::uint64_t stamp = spool.spool().append(spool::FrameType::flush, spool::encode(marker), true).sequence;
  // The earlier release wrote that flush: partition 0 by its partition function.
  std::vector<KeyedAggregate> written;
  std::size_t in_partition0 = 0;
  for (const auto& r : records) {
    if (hash_key(r.key) % kWriters != 0) continue;
    ++in_partition0;
    MetricAggregate a;
    a.last = a.sum = a.min = a.max = 1;
    a.count = a.packets = a.bytes = a.flows = 1;
    written.push_back(KeyedAggregate{r.key, encode_document_id(r.key), a});
  }
  ASSERT_GT(in_partition0, 5u);
  ASSERT_LT(in_partition0, static_cast<std::size_t>(kKeys) - 5);
  WriteStamp applied{spool.spool().identity() + "-p0", stamp, true};
  ASSERT_TRUE(writer.write(written, &applied).errors.empty());
  spool.spool().append(spool::FrameType::records, testing::encode_v1_records(records));
  spool.open();

  PipelineStats stats;
  PipelineOptions o = options(60s);
  o.writers = kWriters;
  Pipeline pipeline(o, writer, stats, spool.spool(), nullptr, spool.replay());
  std::vector<Metric> live;
  for (int port = 0; port < kKeys; ++port) live.push_back(at(ts + 1, port, 1));
  ASSERT_EQ(pipeline.submit(live, "test"), Admission::accepted);
  ASSERT_TRUE(pipeline.drain(60s));
  const auto table = writer.table();
  ASSERT_EQ(table.size(), static_cast<std::size_t>(kKeys));
  for (const auto& [id, aggregate] : table) EXPECT_EQ(aggregate.count, 3u) << id;
  EXPECT_EQ(stats.replayed.load(), 2u * kKeys);
}

}  // namespace
}  // namespace flowmetrics::pipeline
