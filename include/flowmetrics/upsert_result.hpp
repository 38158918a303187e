#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "flowmetrics/error.hpp"

namespace flowmetrics {

// Why one input item was not written.
struct ItemError {
  std::size_t index = 0;  // position in the caller's input
  errc code = errc::write_failed;
  std::string field;  // the offending field for a rejected item; empty otherwise
  std::string message;
  // True when the item may or may not have been applied (the connection broke after the
  // write was sent, or the server aborted the batch without saying how far it got). Such
  // an item is never re-sent in `aggregate` mode, because adding it twice is worse than
  // reporting it.
  bool outcome_unknown = false;
};

// Accounts for every item of one upsert call:
//   input == written + rejected + failed,
// where `written` counts items whose document write was acknowledged. The document counts
// (`documents`, `matched`, `modified`, `upserted`) are per distinct key after merging.
struct UpsertResult {
  std::size_t input = 0;
  std::size_t written = 0;
  std::size_t rejected = 0;       // failed validation; never sent
  std::size_t failed = 0;         // valid, but not (or not surely) written
  std::size_t documents = 0;      // distinct keys sent
  std::size_t matched = 0;        // existing documents found
  std::size_t modified = 0;       // existing documents changed
  std::size_t upserted = 0;       // documents created
  std::size_t batches = 0;        // bulk write commands sent, including retries
  std::size_t retries = 0;        // attempts repeated after a transient error or key race
  std::vector<ItemError> errors;  // one per rejected or failed item, ordered by index

  bool ok() const noexcept { return rejected == 0 && failed == 0; }
};

// Thrown by MetricsAgent::batch_upsert_metrics when any item was rejected or failed. The
// call has still done all it could: valid items were written and `result()` accounts for
// every item.
class UpsertError : public Error {
 public:
  UpsertError(const std::string& message, UpsertResult result)
      : Error(errc::write_failed, message), result_(std::move(result)) {}
  const UpsertResult& result() const noexcept { return result_; }

 private:
  UpsertResult result_;
};

}  // namespace flowmetrics
