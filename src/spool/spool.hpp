#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "spool/frame.hpp"
#include "spool/fsync_policy.hpp"
#include "spool/spool_directory.hpp"
#include "spool/spooled_records.hpp"
#include "spool/unique_fd.hpp"

namespace flowmetrics::spool {

struct SpoolOptions {
  std::uint64_t max_bytes = 1ULL << 30;
  std::uint64_t segment_bytes = 64ULL << 20;
  FsyncPolicy fsync = FsyncPolicy::batch;
  std::chrono::milliseconds fsync_interval{100};
  // How often a spool stopped by an I/O error tries to resume (docs/durability.md).
  std::chrono::milliseconds retry_interval{1000};
  // Records of appended batches kept in memory for the consumer (see next()), at most;
  // beyond it the consumer reads them back from the files.
  std::size_t max_memory_records = 1 << 20;
};

// What an append did.
struct Appended {
  enum Status : std::uint8_t { ok, full, io_error };
  Status status = ok;
  std::uint64_t sequence = 0;  // ok: the frame's sequence
  std::string error;           // io_error: what failed, with the errno text
  explicit operator bool() const noexcept { return status == ok; }
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
  std::string payload;  // empty when `batch` is set
  // The batch as append() was given it, when the frame was read from memory: the consumer
  // takes it as it is, without reading or decoding the file.
  std::shared_ptr<const RecordBatch> batch;
};

// The write-ahead spool: numbered segment files of frames (frame.hpp) in one directory,
// appended by any thread, read back in order by one consumer, deleted a whole segment at a
// time once everything in it is settled. Files are made and named by the SpoolDirectory,
// which holds the directory's lock, so two agents cannot share it. Opening scans what an
// earlier run left:
// damaged frames are counted, logged and skipped (reading resumes at the next intact frame),
// an incomplete frame at a segment's end is counted as truncated; appends always go to a new
// segment. Sequence numbers continue from the largest found, so they increase for the life
// of the directory.
//
// Every write and fsync is checked. The first failure stops the spool ("failed"): appends
// return io_error, and nothing written after the last successful fsync is acknowledged or,
// under the `batch` policy, handed to the consumer. A background thread retries every
// retry_interval: it cuts the segments back to what was durable, probes the file system
// (a 64 KiB write and fsync) and, when that succeeds, resumes in a new segment. Thread-safe.
class Spool {
 public:
  // Called, in order, for every intact frame an earlier run left.
  using FrameVisitor = std::function<void(const FrameHeader& header, std::string_view payload)>;

  // `directory` (created and locked by its owner) must outlive the spool. Throws
  // std::runtime_error naming the directory when it cannot be read or written.
  Spool(SpoolDirectory& directory, SpoolOptions options, const FrameVisitor& visit_existing = {});
  ~Spool();
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  const SpoolOptions& options() const noexcept { return options_; }
  SpoolDirectory& directory() const noexcept { return directory_; }
  const SpoolRecovery& recovery() const noexcept { return recovery_; }
  // A name for this spool that stays the same across restarts (stamps written documents).
  const std::string& identity() const noexcept { return identity_; }

  // Appends one frame. `full` when the spool holds max_bytes (a `force`d append, for the small
  // flush markers, ignores the cap); `io_error` while the spool is failed or when this
  // frame's write (or, under `batch`, its fsync) failed: then the frame must not be
  // acknowledged. On `ok` under the `batch` policy the frame is on disk; otherwise it is in
  // the kernel's page cache.
  // With `batch` (the records `payload` encodes), the batch is also kept in memory until
  // next() hands it over: the consumer reads the file only to recover (frames an earlier run
  // left) or when more than max_memory_records wait.
  Appended append(FrameType type, std::string_view payload, bool force = false,
                  std::shared_ptr<const RecordBatch> batch = nullptr);
  // fsync now, whatever the policy, up to at least `sequence`; false when that failed (or
  // the spool is failed): the frames after the last successful fsync are not durable.
  bool sync(std::uint64_t sequence);

  // The I/O error that stopped the spool ("fsync <path>: <errno text>"); nullopt while it
  // accepts.
  std::optional<std::string> io_error() const;
  // Tries to resume now, as the background thread does every retry_interval; true when the
  // spool accepts (again).
  bool try_resume();

  // A reading position; a default one starts at the oldest frame.
  struct Cursor {
    std::uint64_t segment = 0;  // the segment's first sequence
    std::uint64_t offset = 0;
  };
  // Reads the next intact frame at or after `cursor` and advances it; false when there is
  // none yet. Frames come in sequence order. A frame this process appended comes from memory
  // (Frame::batch, no payload) while it is kept there, exactly when it would be readable from
  // the file (under `batch`, once fsynced); a frame a failed fsync cut off never comes.
  bool next(Cursor& cursor, Frame& frame);
  // Waits until a frame is appended after `sequence` or `timeout` passes.
  void wait_for_append(std::uint64_t sequence, std::chrono::milliseconds timeout);
  // The largest sequence a reader can get (under `batch`, the last one fsynced).
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
  // Where an appended frame lies, and its batch: next() serves it from here.
  struct Memo {
    std::uint64_t segment = 0;  // the segment's first sequence
    std::uint64_t offset = 0;
    std::uint64_t end = 0;
    FrameHeader header;
    std::shared_ptr<const RecordBatch> batch;
  };

  struct Segment {
    std::filesystem::path path;
    std::uint64_t bytes = 0;          // complete frames written (the file may hold a torn tail)
    std::uint64_t durable_bytes = 0;  // of which fsynced (all of them in a scanned segment)
    std::uint64_t last_sequence = 0;  // 0 while empty
    std::int64_t first_time_ms = 0;
    bool sealed = false;
    UniqueFd read_fd;
  };

  void scan_existing(const FrameVisitor& visit);
  IoStatus open_segment(std::uint64_t first_sequence);  // mu_ held
  void fail_locked(const IoError& error);               // mu_ held
  void run_background();

  SpoolDirectory& directory_;
  const SpoolOptions options_;
  SpoolRecovery recovery_;
  std::string identity_;

  mutable std::mutex mu_;
  std::condition_variable appended_;
  std::condition_variable space_;
  std::map<std::uint64_t, Segment> segments_;  // by first sequence; guarded by mu_
  std::uint64_t next_sequence_ = 1;            // guarded by mu_
  std::uint64_t total_bytes_ = 0;              // guarded by mu_
  std::uint64_t readable_through_ = 0;         // what last_sequence() says; guarded by mu_
  UniqueFd write_fd_;                          // the active (last) segment; guarded by mu_
  std::string buffer_;                         // guarded by mu_
  std::optional<IoError> failed_;              // set while stopped by an I/O error; guarded by mu_
  std::deque<Memo> memos_;                     // in file order; guarded by mu_
  std::size_t memo_records_ = 0;               // guarded by mu_

  // Lock order: sync_mu_ before mu_.
  std::mutex sync_mu_;                // one fsync (or resume) at a time
  std::uint64_t synced_through_ = 0;  // written by holders of sync_mu_ and mu_ together

  bool stopping_ = false;  // guarded by mu_
  std::condition_variable wake_;
  std::thread background_;
};

}  // namespace flowmetrics::spool
