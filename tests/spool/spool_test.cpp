// The spool under I/O errors: a frame whose write or fsync failed is never acknowledged nor
// read by the consumer, the spool refuses appends until the file system takes a write and an
// fsync again, cuts what was not durable, and resumes; a reopened spool finds exactly the
// acknowledged frames. Failures come from a file-operations seam and from a tmpfs that fills.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "spool/spool.hpp"
#include "spool_test_support.hpp"

namespace flowmetrics::testing {
namespace {

using namespace std::chrono_literals;
using spool::Appended;
using spool::FrameType;

spool::SpoolOptions options(spool::FsyncPolicy policy = spool::FsyncPolicy::batch) {
  spool::SpoolOptions o;
  o.max_bytes = 1ULL << 30;
  o.segment_bytes = 64ULL << 20;
  o.fsync = policy;
  o.retry_interval = 50ms;
  return o;
}

// The sequences of the frames an opened spool finds, and of those a consumer reads.
std::set<std::uint64_t> scanned(const std::filesystem::path& path) {
  std::set<std::uint64_t> found;
  spool::SpoolDirectory directory(path);
  spool::Spool reopened(directory, options(),
                        [&](const spool::FrameHeader& header, std::string_view) { found.insert(header.sequence); });
  EXPECT_EQ(reopened.recovery().damaged_frames, 0u);
  EXPECT_EQ(reopened.recovery().truncated_bytes, 0u);
  return found;
}

std::set<std::uint64_t> read_all(spool::Spool& spool) {
  std::set<std::uint64_t> read;
  spool::Spool::Cursor cursor;
  spool::Frame frame;
  while (spool.next(cursor, frame)) read.insert(frame.header.sequence);
  return read;
}

template <typename Predicate>
bool eventually(Predicate predicate, std::chrono::seconds timeout = 30s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return predicate();
}

TEST(SpoolIoError, AFailedFsyncIsNeverAcknowledgedNorReadAndTheSpoolResumesWhenFsyncWorks) {
  TemporaryDirectory temporary;
  FailingFileOps ops;
  std::set<std::uint64_t> acknowledged;
  {
    spool::SpoolDirectory directory(temporary.path(), ops);
    spool::Spool spool(directory, options());
    for (int i = 0; i < 3; ++i) {
      const Appended appended = spool.append(FrameType::records, "before " + std::to_string(i));
      ASSERT_TRUE(appended);
      acknowledged.insert(appended.sequence);
    }
    ops.fsync_error = EIO;
    const Appended failed = spool.append(FrameType::records, "lost");
    EXPECT_EQ(failed.status, Appended::io_error);
    EXPECT_NE(failed.error.find("Input/output error"), std::string::npos) << failed.error;
    ASSERT_TRUE(spool.io_error().has_value());
    EXPECT_NE(spool.io_error()->find("fsync"), std::string::npos) << *spool.io_error();
    // Refused while failed, force or not (a flush marker must be durable too).
    EXPECT_EQ(spool.append(FrameType::records, "refused").status, Appended::io_error);
    EXPECT_EQ(spool.append(FrameType::flush, "marker", /*force=*/true).status, Appended::io_error);
    EXPECT_FALSE(spool.wait_for_space(10ms));
    // The consumer gets the acknowledged frames only.
    EXPECT_EQ(read_all(spool), acknowledged);
    EXPECT_GE(directory.error_counts()[static_cast<std::size_t>(spool::IoOperation::sync)], 1u);

    // fsync still fails: the spool stays failed, however often it retries.
    EXPECT_FALSE(spool.try_resume());
    ops.fsync_error = 0;
    EXPECT_TRUE(eventually([&] { return !spool.io_error(); })) << "the background retry resumes the spool";
    EXPECT_TRUE(spool.wait_for_space(10ms));
    const Appended after = spool.append(FrameType::records, "after");
    ASSERT_TRUE(after);
    acknowledged.insert(after.sequence);
    EXPECT_EQ(read_all(spool), acknowledged);
  }
  // What the failed fsync may or may not have written was cut off: a restart finds exactly
  // what was acknowledged, nothing torn.
  EXPECT_EQ(scanned(temporary.path()), acknowledged);
}

TEST(SpoolIoError, AWriteThatFailsMidFrameLeavesNoTornFrameOnceResumed) {
  TemporaryDirectory temporary;
  FailingFileOps ops;
  std::set<std::uint64_t> acknowledged;
  {
    spool::SpoolDirectory directory(temporary.path(), ops);
    spool::Spool spool(directory, options());
    acknowledged.insert(spool.append(FrameType::records, "first").sequence);
    ops.write_prefix = 10;
    ops.write_error = ENOSPC;
    const Appended failed = spool.append(FrameType::records, std::string(1000, 'x'));
    EXPECT_EQ(failed.status, Appended::io_error);
    EXPECT_NE(failed.error.find("No space left on device"), std::string::npos) << failed.error;
    EXPECT_FALSE(spool.try_resume()) << "the probe write fails too";
    ops.write_error = 0;
    ASSERT_TRUE(spool.try_resume());
    const Appended after = spool.append(FrameType::records, "after");
    ASSERT_TRUE(after);
    EXPECT_GT(after.sequence, failed.sequence);
    acknowledged.insert(after.sequence);
  }
  EXPECT_EQ(scanned(temporary.path()), acknowledged);
}

TEST(SpoolIoError, ConcurrentAppendsSharingAFailedFsyncAreAllRefused) {
  TemporaryDirectory temporary;
  FailingFileOps ops;
  std::set<std::uint64_t> acknowledged;
  {
    spool::SpoolDirectory directory(temporary.path(), ops);
    spool::Spool spool(directory, options());
    std::mutex mu;
    std::vector<std::thread> threads;
    std::atomic<int> refused{0};
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 200; ++i) {
          if (t == 0 && i == 100) ops.fsync_error = EIO;
          const Appended appended = spool.append(FrameType::records, "t" + std::to_string(t) + " " + std::to_string(i));
          if (appended) {
            std::lock_guard lock(mu);
            acknowledged.insert(appended.sequence);
          } else {
            ++refused;
          }
        }
      });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_GT(refused.load(), 0);
    EXPECT_EQ(read_all(spool), acknowledged);
    ops.fsync_error = 0;
    ASSERT_TRUE(spool.try_resume());
    EXPECT_EQ(read_all(spool), acknowledged);
  }
  EXPECT_EQ(scanned(temporary.path()), acknowledged);
}

TEST(SpoolIoError, UnderTheIntervalPolicyAFailedFsyncStopsTheSpoolButKeepsWhatWasAcknowledged) {
  TemporaryDirectory temporary;
  FailingFileOps ops;
  std::set<std::uint64_t> acknowledged;
  {
    spool::SpoolDirectory directory(temporary.path(), ops);
    auto o = options(spool::FsyncPolicy::interval);
    o.fsync_interval = 10ms;
    spool::Spool spool(directory, o);
    ops.fsync_error = EIO;
    const Appended appended = spool.append(FrameType::records, "written, acknowledged");
    ASSERT_TRUE(appended);  // acknowledged once written, as the policy says
    acknowledged.insert(appended.sequence);
    EXPECT_TRUE(eventually([&] { return spool.io_error().has_value(); }));
    EXPECT_EQ(spool.append(FrameType::records, "refused").status, Appended::io_error);
    ops.fsync_error = 0;
    EXPECT_TRUE(eventually([&] { return !spool.io_error(); }));
    EXPECT_EQ(read_all(spool), acknowledged);
  }
  EXPECT_EQ(scanned(temporary.path()), acknowledged);
}

TEST(SpoolIoError, AFullFileSystemStopsTheSpoolAndItResumesWhenSpaceReturns) {
  SmallTmpfs tmpfs(1 << 20);
  if (!tmpfs.mounted()) GTEST_SKIP() << "needs a size-limited tmpfs: " << tmpfs.why_not();
  const auto spool_path = tmpfs.path() / "spool";
  // Most of the file system is taken by something else; deleting it is "space returns".
  const auto filler = tmpfs.path() / "filler";
  { std::ofstream(filler, std::ios::binary) << std::string(700 << 10, 'f'); }
  std::set<std::uint64_t> acknowledged;
  {
    spool::SpoolDirectory directory(spool_path);
    spool::Spool spool(directory, options());
    const std::string payload(16 << 10, 'r');
    Appended appended;
    for (int i = 0; i < 1000; ++i) {
      appended = spool.append(FrameType::records, payload);
      if (!appended) break;
      acknowledged.insert(appended.sequence);
    }
    ASSERT_EQ(appended.status, Appended::io_error) << "the tmpfs never filled";
    EXPECT_NE(appended.error.find("No space left on device"), std::string::npos) << appended.error;
    EXPECT_FALSE(acknowledged.empty());
    // Still full: cutting the torn frame may free enough for the probe, then the next append
    // fails again. Whatever happens, only what was acknowledged is read.
    for (int i = 0; i < 5; ++i) {
      spool.try_resume();
      if (const Appended again = spool.append(FrameType::records, payload)) acknowledged.insert(again.sequence);
    }
    EXPECT_EQ(read_all(spool), acknowledged);

    std::filesystem::remove(filler);
    EXPECT_TRUE(eventually([&] { return !spool.io_error(); }));
    const Appended after = spool.append(FrameType::records, payload);
    ASSERT_TRUE(after) << after.error;
    acknowledged.insert(after.sequence);
    EXPECT_EQ(read_all(spool), acknowledged);
  }
  EXPECT_EQ(scanned(spool_path), acknowledged);
}

}  // namespace
}  // namespace flowmetrics::testing
