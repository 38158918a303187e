#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "spool/spool_directory.hpp"
#include "spool/unique_fd.hpp"

namespace flowmetrics::spool {

// The Idempotency-Keys an agent answered within the window, with the answer each got.
// Kept in a journal file in the spool directory (frames, as segments are), compacted when
// opened, so that a key outlives both a restart and the deletion of the segment its records
// were in. The records frame carries the key as well: a key whose journal entry was lost in
// a crash is added back from the spool at start-up (remember_recovered). Thread-safe.
class IdempotencyIndex {
 public:
  // The journal is `directory`'s kJournal file; `directory` must outlive this object. Throws
  // std::runtime_error when the journal cannot be read or written.
  IdempotencyIndex(SpoolDirectory& directory, std::chrono::seconds window);
  IdempotencyIndex(const IdempotencyIndex&) = delete;
  IdempotencyIndex& operator=(const IdempotencyIndex&) = delete;

  // The answer given to `key`, when it was seen within the window.
  std::optional<std::string> find(std::string_view key);
  // Records `key` and its answer, at `time_ms` (ms since the epoch).
  void remember(std::string_view key, std::string_view answer, std::int64_t time_ms);
  // As remember(), for a key found in the spool at start-up; a no-op when already known.
  void remember_recovered(std::string_view key, std::string_view answer, std::int64_t time_ms);
  // Makes the journal durable (called before segments holding keys are deleted); false when
  // a write or the fsync failed: the segments must stay, since they hold the keys too.
  bool sync();
  std::size_t size() const;

 private:
  struct Entry {
    std::int64_t time_ms;
    std::string answer;
  };
  void append_locked(std::string_view key, std::string_view answer, std::int64_t time_ms);
  void expire_locked(std::int64_t now_ms);
  IoStatus rewrite_locked();  // the whole journal, replaced atomically; reopens fd_

  SpoolDirectory& directory_;
  const std::int64_t window_ms_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;  // guarded by mu_
  UniqueFd fd_;                                     // guarded by mu_
  bool write_failed_ = false;                       // since the last sync; guarded by mu_
  std::int64_t last_expiry_ms_ = 0;
};

}  // namespace flowmetrics::spool
