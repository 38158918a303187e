#pragma once

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>

#include "small_tmpfs.hpp"
#include "spool/spool_directory.hpp"

namespace flowmetrics::testing {

// File operations that fail on demand: fsync/fdatasync with `fsync_error`, write with
// `write_error` (after writing `write_prefix` bytes of the first failing call, as a device
// that fills up mid-frame does).
class FailingFileOps : public spool::FileOps {
 public:
  std::atomic<int> fsync_error{0};
  std::atomic<int> write_error{0};
  std::atomic<std::size_t> write_prefix{0};
  std::atomic<int> rename_error{0};
  std::atomic<int> fsyncs{0};

  ssize_t write(int fd, const void* data, std::size_t size) override {
    if (const int error = write_error.load()) {
      if (const std::size_t prefix = write_prefix.exchange(0); prefix > 0 && prefix < size)
        return spool::FileOps::write(fd, data, prefix);
      errno = error;
      return -1;
    }
    return spool::FileOps::write(fd, data, size);
  }
  int fsync(int fd) override { return fail_or(fd, false); }
  int fdatasync(int fd) override { return fail_or(fd, true); }
  int rename(const char* from, const char* to) override {
    if (const int error = rename_error.load()) {
      errno = error;
      return -1;
    }
    return spool::FileOps::rename(from, to);
  }

 private:
  int fail_or(int fd, bool data_only) {
    ++fsyncs;
    if (const int error = fsync_error.load()) {
      errno = error;
      return -1;
    }
    return data_only ? spool::FileOps::fdatasync(fd) : spool::FileOps::fsync(fd);
  }
};

}  // namespace flowmetrics::testing
