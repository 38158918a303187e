#pragma once

#include <chrono>
#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "flowmetrics/merge_policy.hpp"
#include "flowmetrics/metric_aggregate.hpp"
#include "flowmetrics/upsert_result.hpp"
#include "flowmetrics/write_concern.hpp"
#include "flowmetrics/write_stamp.hpp"
#include "mongo/connection_pool.hpp"
#include "mongo/documents.hpp"
#include "mongo/key_locks.hpp"

namespace flowmetrics::mongo {

struct WriteTarget {
  std::string database;
  std::string collection;
  MergePolicy policy = MergePolicy::replace;
  std::size_t max_update_operations = 100'000;  // statements per update command
  // When set, update commands hold their keys' stripes (servers without atomic updates).
  KeyLockTable* update_locks = nullptr;
  // Whether a stamped update may carry its stamp condition in the filter. FerretDB v1 uses an
  // index only for a filter that is exactly {_id: ...}; there the stamps are read first.
  bool stamp_filter_on_server = true;
  WriteConcern write_concern = WriteConcern::majority();  // w
  bool journal = true;                                    // j
};

enum class DocumentState : std::uint8_t { pending_insert, pending_update, written, failed };

struct DocumentOutcome {
  DocumentState state = DocumentState::pending_insert;
  errc code = errc::write_failed;
  bool outcome_unknown = false;
  std::string message;
};

struct ChunkResult {
  std::vector<DocumentOutcome> outcomes;  // one per document of the chunk, in order
  std::size_t matched = 0;
  std::size_t modified = 0;
  std::size_t upserted = 0;
  std::size_t commands = 0;
  std::size_t retries = 0;
};

// Writes one chunk of distinct-key documents (within the server's batch limits) with
// unordered bulk writes, "insert first":
//   1. insert every document whole: a new key costs one insert, which no server has to
//      look up first, and a duplicate-key error is reported precisely per item;
//   2. for the keys that already existed, the policy's update (replace, or $inc/$min/$max),
//      with upsert so that nothing is lost if a document vanished in between.
// No two callers can race on creating the same key: the loser of an insert race simply
// goes to step 2. Transient errors are retried with backoff on a fresh connection until
// `deadline`; an operation whose outcome is unknown is re-sent only when re-sending is
// idempotent (replace), and otherwise reported with outcome_unknown.
//
// With a `stamp` (write_stamp.hpp) the insert carries it and the update applies only to a
// document whose stamp of that stream is older; re-sending anything is then idempotent.
ChunkResult write_chunk(ConnectionPool& pool, const WriteTarget& target, std::span<const KeyedAggregate> documents,
                        ConnectionPool::Clock::time_point deadline, const WriteStamp* stamp = nullptr);

}  // namespace flowmetrics::mongo
