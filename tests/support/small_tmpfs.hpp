#pragma once

// A file system that really fills up, for tests of what the collector does on ENOSPC.

#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>

namespace flowmetrics::testing {

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
