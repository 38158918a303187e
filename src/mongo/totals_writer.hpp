#pragma once

#include <span>
#include <string>

#include "flowmetrics/write_concern.hpp"
#include "flowmetrics/write_stamp.hpp"
#include "mongo/bulk_writer.hpp"
#include "mongo/connection_pool.hpp"
#include "mongo/key_locks.hpp"
#include "mongo/rollups.hpp"

namespace flowmetrics::mongo {

struct TotalsTarget {
  std::string database;
  // FerretDB v1 (updates not atomic, and only an exact {_id} filter avoids decoding the whole
  // collection): each document's read and rewrite hold its stripe, and the rewrite's filter is
  // {_id} alone; pass shared_totals_locks(), so that every agent of the process takes the same
  // stripes (writers in other processes are not excluded: README, "FerretDB"). Unset: the
  // rewrite's filter also names the revision read, so a concurrent writer's update is never
  // overwritten (the loser reads again).
  KeyLockTable* update_locks = nullptr;
  WriteConcern write_concern = WriteConcern::majority();
  bool journal = true;
};

// The process's one lock table for totals documents.
KeyLockTable& shared_totals_locks();

// Adds each document's entries to the stored totals document of its collection and bucket:
// read it by exact _id, merge the entries in the client, write it back whole (an insert when
// it does not exist yet). One read and one write per document, whatever the number of values
// in it, and the stored document keeps a single packed field (totals_codec.hpp).
//
// With a `stamp` a document whose `_applied.<stream>` already reached it is left alone, and the
// write sets it: repeating the call adds nothing twice, and transient failures are retried
// until `deadline`. Without one, a write whose outcome is unknown is reported as such
// (outcome_unknown) and not repeated. Outcomes are per document, in order.
ChunkResult write_totals(ConnectionPool& pool, const TotalsTarget& target, std::span<const TotalsDocument> documents,
                         ConnectionPool::Clock::time_point deadline, const WriteStamp* stamp = nullptr);

}  // namespace flowmetrics::mongo
