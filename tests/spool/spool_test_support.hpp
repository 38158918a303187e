#pragma once

#include <sys/mount.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>

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

// A fresh directory under the system's temporary directory, removed at destruction.
class TemporaryDirectory {
 public:
  TemporaryDirectory() {
    std::random_device random;
    path_ = std::filesystem::temp_directory_path() /
            ("flowmetrics-spool-test-" + std::to_string(::getpid()) + "-" + std::to_string(random()));
    std::filesystem::create_directories(path_);
  }
  ~TemporaryDirectory() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// A tmpfs of `bytes` mounted on a fresh directory for the life of the object: a file system
// that really fills up (ENOSPC). mounted() is false when this process may not mount (not
// root, or no CAP_SYS_ADMIN in this container); the caller skips, saying so.
class SmallTmpfs {
 public:
  explicit SmallTmpfs(std::size_t bytes) {
    if (::geteuid() != 0) {
      why_not_ = "not root: mounting a size-limited tmpfs needs root";
      return;
    }
    const std::string options = "size=" + std::to_string(bytes);
    if (::mount("flowmetrics-test", directory_.path().c_str(), "tmpfs", 0, options.c_str()) != 0) {
      why_not_ = std::string("mount -t tmpfs failed: ") + std::strerror(errno);
      return;
    }
    mounted_ = true;
  }
  ~SmallTmpfs() {
    if (mounted_) ::umount2(directory_.path().c_str(), MNT_DETACH);
  }
  SmallTmpfs(const SmallTmpfs&) = delete;
  SmallTmpfs& operator=(const SmallTmpfs&) = delete;

  bool mounted() const { return mounted_; }
  const std::string& why_not() const { return why_not_; }
  const std::filesystem::path& path() const { return directory_.path(); }

 private:
  TemporaryDirectory directory_;
  bool mounted_ = false;
  std::string why_not_;
};

}  // namespace flowmetrics::testing
