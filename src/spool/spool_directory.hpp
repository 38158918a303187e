#pragma once

#include <sys/types.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "spool/unique_fd.hpp"

namespace flowmetrics::spool {

// The file-system calls through which the spool changes its directory, one virtual per call,
// so that a test can make one of them fail (an fsync that returns EIO, a write that returns
// ENOSPC). The defaults are the POSIX calls. Implementations must be thread-safe.
class FileOps {
 public:
  virtual ~FileOps() = default;
  virtual ssize_t write(int fd, const void* data, std::size_t size);
  virtual int fsync(int fd);
  virtual int fdatasync(int fd);
  virtual int ftruncate(int fd, off_t size);
  virtual int rename(const char* from, const char* to);
};

// The POSIX calls; lives for the whole process.
FileOps& posix_file_ops();

// What an I/O error counts under, in flowmetrics_spool_io_errors_total{operation}.
enum class IoOperation : std::uint8_t { open, write, sync, rename, sync_directory, truncate, count_ };
std::string_view to_string(IoOperation operation) noexcept;

// A failed file-system call: which, on what, and errno.
struct IoError {
  IoOperation operation = IoOperation::write;
  int code = 0;  // errno
  std::string path;
  // "fsync /spool/segment-...log: Input/output error"
  std::string text() const;
};
using IoStatus = std::optional<IoError>;  // nullopt: success

// Owns the spool directory and every file in it, as leveldb's db/filename.h and env_posix's
// SyncDir do for a database: the names, the lock, creating a file so that it survives a
// power loss (the directory is fsynced after), replacing a file atomically (write a
// temporary, fsync it, rename, fsync the directory). Every call's result is checked and
// returned; every error is counted by operation. Thread-safe.
class SpoolDirectory {
 public:
  static constexpr std::string_view kIdentity = "identity";
  static constexpr std::string_view kTarget = "target";
  static constexpr std::string_view kOrigins = "origins";
  static constexpr std::string_view kJournal = "idempotency.journal";

  // Creates the directory when missing and locks it (flock) for the life of this object.
  // Throws std::runtime_error naming the directory when it cannot be created or locked, or
  // when another process holds it. `ops` must outlive this object.
  explicit SpoolDirectory(std::filesystem::path path, FileOps& ops = posix_file_ops());
  SpoolDirectory(const SpoolDirectory&) = delete;
  SpoolDirectory& operator=(const SpoolDirectory&) = delete;

  const std::filesystem::path& path() const noexcept { return path_; }
  std::filesystem::path file(std::string_view name) const { return path_ / name; }

  // "segment-<20-digit first sequence>.log", and back (nullopt for any other name).
  static std::string segment_name(std::uint64_t first_sequence);
  static std::optional<std::uint64_t> parse_segment_name(std::string_view name);
  std::filesystem::path segment_path(std::uint64_t first_sequence) const {
    return path_ / segment_name(first_sequence);
  }
  // Every segment file, by first sequence.
  std::vector<std::pair<std::uint64_t, std::filesystem::path>> segments() const;

  // The whole content of file `name`; nullopt when it does not exist. Throws
  // std::runtime_error when it exists but cannot be read (start-up only).
  std::optional<std::string> read(std::string_view name) const;

  // Creates (or opens) `path` for appending; with `durable_entry`, fsyncs the directory so
  // that the entry survives a power loss.
  IoStatus create_for_append(const std::filesystem::path& path, UniqueFd& out, bool durable_entry = true);
  // Replaces file `name` with `contents` atomically and durably. With `keep_open`, the new
  // file stays open there, for appending.
  IoStatus replace(std::string_view name, std::string_view contents, UniqueFd* keep_open = nullptr);
  IoStatus write_all(int fd, std::string_view data, const std::filesystem::path& path);
  // fdatasync (`data_only`) or fsync.
  IoStatus sync(int fd, const std::filesystem::path& path, bool data_only = true);
  IoStatus sync_directory();
  // Cuts `path` to `size` bytes and makes that durable.
  IoStatus truncate(const std::filesystem::path& path, std::uint64_t size);
  // Whether the file system takes a small write and fsync again (after ENOSPC or EIO).
  IoStatus probe();
  // Deletes `path` (a released segment). A failure is logged and left: the file is replayed
  // as a no-op at the next start (its flushes are settled).
  void remove(const std::filesystem::path& path);

  // Failed calls so far, by operation (index: IoOperation).
  std::array<std::uint64_t, static_cast<std::size_t>(IoOperation::count_)> error_counts() const;

 private:
  IoStatus failed(IoOperation operation, const std::filesystem::path& path, int code);

  const std::filesystem::path path_;
  FileOps& ops_;
  UniqueFd lock_;
  std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(IoOperation::count_)> errors_{};
};

}  // namespace flowmetrics::spool
