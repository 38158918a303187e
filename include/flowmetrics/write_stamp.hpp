#pragma once

#include <cstdint>
#include <string>

namespace flowmetrics {

// Makes a write of aggregates idempotent, so that a write replayed after a crash or re-sent
// after an unknown outcome is applied once. Every document a stamped write touches records
// the stamp's sequence under `_applied.<stream>`; a later write to that document carrying
// the same stream and a sequence not greater than the recorded one leaves it unchanged (and
// counts as written). One stream's writes to a document must be issued in sequence order,
// one at a time: the pipeline writes each key from a single thread.
struct WriteStamp {
  std::string stream;  // letters, digits, '-' and '_' (a field name); e.g. "<spool id>-p0"
  std::uint64_t sequence = 0;
  // True when no document can carry this stamp yet: the first send of a batch whose sequence
  // is new (greater than any sequence of the stream ever applied). A writer then need not look
  // for the stamp before updating, which on a server that reads the whole collection for
  // anything but an exact {_id} filter (FerretDB v1) saves a scan per thousand documents.
  // Leave it false for a replayed batch and for every re-send.
  bool unapplied = false;
};

}  // namespace flowmetrics
