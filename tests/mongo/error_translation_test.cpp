// Which server errors the writers retry: MongoDB's retryable codes, and FerretDB's SQLite lock
// contention, which it reports as a generic InternalError (seen failing a write for good in a
// fault test with four suites running at once).
#include "mongo/error_translation.hpp"

#include <gtest/gtest.h>

namespace flowmetrics::mongo {
namespace {

TEST(ErrorTranslation, FerretDbsSqliteBusyIsTransientOtherInternalErrorsAreNot) {
  EXPECT_TRUE(is_transient_server_error(
      1,
      "[msg_insert.go:168 handler.(*Handler).MsgInsert] [collection.go:135 sqlite.(*collection).InsertAll.func1] "
      "database is locked (5) (SQLITE_BUSY)"));
  EXPECT_TRUE(is_transient_server_error(91, "shutdown in progress"));
  EXPECT_FALSE(is_transient_server_error(1, "some other internal error"));
  EXPECT_FALSE(is_transient_server_error(11000, "E11000 duplicate key error, database is locked"));
}

}  // namespace
}  // namespace flowmetrics::mongo
