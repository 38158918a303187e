// The spool directory's owner: names, the lock, atomic and durable replacement, and every
// failed call reported and counted by operation.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>

#include "spool/frame.hpp"
#include "spool/idempotency_index.hpp"
#include "spool/spool_directory.hpp"
#include "spool_test_support.hpp"

namespace flowmetrics::testing {
namespace {

using spool::IoOperation;
using spool::SpoolDirectory;

std::uint64_t errors(const SpoolDirectory& directory, IoOperation operation) {
  return directory.error_counts()[static_cast<std::size_t>(operation)];
}

TEST(SpoolDirectory, NamesSegmentsAndParsesThemBack) {
  EXPECT_EQ(SpoolDirectory::segment_name(42), "segment-00000000000000000042.log");
  EXPECT_EQ(SpoolDirectory::parse_segment_name("segment-00000000000000000042.log"), 42u);
  EXPECT_FALSE(SpoolDirectory::parse_segment_name("segment-0000000000000000004x.log"));
  EXPECT_FALSE(SpoolDirectory::parse_segment_name("identity"));
}

TEST(SpoolDirectory, IsLockedWhileOwned) {
  TemporaryDirectory temporary;
  SpoolDirectory owner(temporary.path());
  EXPECT_THROW(SpoolDirectory second(temporary.path()), std::runtime_error);
}

TEST(SpoolDirectory, ReplacesAFileAtomicallyAndSyncsFileAndDirectory) {
  TemporaryDirectory temporary;
  FailingFileOps ops;
  SpoolDirectory directory(temporary.path(), ops);
  EXPECT_FALSE(directory.read(SpoolDirectory::kTarget));
  ASSERT_FALSE(directory.replace(SpoolDirectory::kTarget, "db.one\n"));
  EXPECT_GE(ops.fsyncs.load(), 2) << "the file and the directory";
  EXPECT_EQ(directory.read(SpoolDirectory::kTarget), "db.one\n");

  ops.rename_error = EIO;
  const auto error = directory.replace(SpoolDirectory::kTarget, "db.two\n");
  ASSERT_TRUE(error);
  EXPECT_EQ(error->operation, IoOperation::rename);
  EXPECT_EQ(directory.read(SpoolDirectory::kTarget), "db.one\n") << "the old content stays whole";
  EXPECT_EQ(errors(directory, IoOperation::rename), 1u);

  ops.rename_error = 0;
  ops.fsync_error = EIO;
  ASSERT_TRUE(directory.replace(SpoolDirectory::kTarget, "db.three\n"));
  EXPECT_EQ(directory.read(SpoolDirectory::kTarget), "db.one\n") << "not renamed before its fsync succeeded";
  EXPECT_EQ(errors(directory, IoOperation::sync), 1u);
}

TEST(SpoolDirectory, TheIdempotencyJournalReportsAFailedSyncSoThatSegmentsAreKept) {
  TemporaryDirectory temporary;
  FailingFileOps ops;
  SpoolDirectory directory(temporary.path(), ops);
  spool::IdempotencyIndex keys(directory, std::chrono::seconds(3600));
  keys.remember("key-1", "200 {}", spool::wall_clock_ms());
  EXPECT_TRUE(keys.sync());
  ops.fsync_error = EIO;
  EXPECT_FALSE(keys.sync());
  ops.fsync_error = 0;
  ops.write_error = ENOSPC;
  keys.remember("key-2", "200 {}", spool::wall_clock_ms());
  ops.write_error = 0;
  EXPECT_TRUE(keys.sync()) << "rewritten whole after the failed append";
  spool::IdempotencyIndex reopened(directory, std::chrono::seconds(3600));
  EXPECT_TRUE(reopened.find("key-1"));
  EXPECT_TRUE(reopened.find("key-2"));
}

}  // namespace
}  // namespace flowmetrics::testing
