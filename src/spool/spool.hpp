#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "spool/frame.hpp"
#include "spool/fsync_policy.hpp"

namespace flowmetrics::spool {

struct SpoolOptions {
  std::filesystem::path directory;
  std::uint64_t max_bytes = 1ULL << 30;
  std::uint64_t segment_bytes = 64ULL << 20;
  FsyncPolicy fsync = FsyncPolicy::batch;
  std::chrono::milliseconds fsync_interval{100};
};

// What opening found in the spool left by an earlier run.
struct SpoolRecovery {
  std::uint64_t segments = 0;
  std::uint64_t frames = 0;           // intact frames of both types
  std::uint64_t damaged_frames = 0;   // damaged regions skipped (each counted once)
  std::uint64_t truncated_bytes = 0;  // bytes of incomplete frames at segment ends
};

struct Frame {
  FrameHeader header;
  std::string payload;
};

// The write-ahead spool: numbered segment files of frames (frame.hpp) in one directory,
// appended by any thread, read back in order by one consumer, deleted a whole segment at a
// time once everything in it is settled. The directory is locked (flock) for the life of
// the object, so two agents cannot share it. Opening scans what an earlier run left:
// damaged frames are counted, logged and skipped (reading resumes at the next intact frame),
// an incomplete frame at a segment's end is counted as truncated; appends always go to a new
// segment. Sequence numbers continue from the largest found, so they increase for the life
// of the directory. Thread-safe.
class Spool {
 public:
  // Called, in order, for every intact frame an earlier run left.
  using FrameVisitor = std::function<void(const FrameHeader& header, std::string_view payload)>;

  // Throws std::runtime_error naming the directory when it cannot be created, locked or read.
  explicit Spool(SpoolOptions options, const FrameVisitor& visit_existing = {});
  ~Spool();
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  const SpoolOptions& options() const noexcept { return options_; }
  const SpoolRecovery& recovery() const noexcept { return recovery_; }
  // A name for this spool that stays the same across restarts (stamps written documents).
  const std::string& identity() const noexcept { return identity_; }

  // Appends one frame and returns its sequence; nullopt when the spool is full (a `force`d
  // append, for the small flush markers, ignores the cap). Under the `batch` policy the frame
  // is on disk when this returns; otherwise it is in the kernel's page cache.
  std::optional<std::uint64_t> append(FrameType type, std::string_view payload, bool force = false);
  // fsync now, whatever the policy, up to at least `sequence`.
  void sync(std::uint64_t sequence);

  // A reading position; a default one starts at the oldest frame.
  struct Cursor {
    std::uint64_t segment = 0;  // the segment's first sequence
    std::uint64_t offset = 0;
  };
  // Reads the next intact frame at or after `cursor` and advances it; false when there is
  // none yet. Frames come in sequence order.
  bool next(Cursor& cursor, Frame& frame);
  // Waits until a frame is appended after `sequence` or `timeout` passes.
  void wait_for_append(std::uint64_t sequence, std::chrono::milliseconds timeout);
  std::uint64_t last_sequence() const;

  // Deletes every closed segment whose frames all have sequences below `sequence`.
  void release_before(std::uint64_t sequence);

  std::uint64_t bytes() const;
  bool full() const;
  // Waits until the spool is below its cap or `timeout` passes; returns whether it is.
  bool wait_for_space(std::chrono::milliseconds timeout);
  // Append time (ms since the epoch) of the oldest frame still in the spool; nullopt if empty.
  std::optional<std::int64_t> oldest_time_ms() const;

 private:
  struct Segment {
    std::filesystem::path path;
    std::uint64_t bytes = 0;          // complete frames written (the file may hold a torn tail)
    std::uint64_t last_sequence = 0;  // 0 while empty
    std::int64_t first_time_ms = 0;
    bool sealed = false;
    int read_fd = -1;
  };

  void scan_existing(const FrameVisitor& visit);
  void open_segment(std::uint64_t first_sequence);  // mu_ held
  void sync_locked_fd(int fd);
  void run_interval_sync();

  const SpoolOptions options_;
  SpoolRecovery recovery_;
  std::string identity_;
  int lock_fd_ = -1;

  mutable std::mutex mu_;
  std::condition_variable appended_;
  std::condition_variable space_;
  std::map<std::uint64_t, Segment> segments_;  // by first sequence; guarded by mu_
  std::uint64_t next_sequence_ = 1;            // guarded by mu_
  std::uint64_t total_bytes_ = 0;              // guarded by mu_
  int write_fd_ = -1;                          // the active (last) segment; guarded by mu_
  std::string buffer_;                         // guarded by mu_

  std::mutex sync_mu_;                // one fsync at a time
  std::uint64_t synced_through_ = 0;  // guarded by sync_mu_

  bool stopping_ = false;  // guarded by mu_
  std::thread interval_sync_;
};

}  // namespace flowmetrics::spool
