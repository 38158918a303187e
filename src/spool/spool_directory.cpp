#include "spool/spool_directory.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace flowmetrics::spool {

namespace fs = std::filesystem;

ssize_t FileOps::write(int fd, const void* data, std::size_t size) {
  return ::write(fd, data, size);
}
int FileOps::fsync(int fd) {
  return ::fsync(fd);
}
int FileOps::fdatasync(int fd) {
  return ::fdatasync(fd);
}
int FileOps::ftruncate(int fd, off_t size) {
  return ::ftruncate(fd, size);
}
int FileOps::rename(const char* from, const char* to) {
  return ::rename(from, to);
}

FileOps& posix_file_ops() {
  static FileOps ops;
  return ops;
}

std::string_view to_string(IoOperation operation) noexcept {
  switch (operation) {
    case IoOperation::open: return "open";
    case IoOperation::write: return "write";
    case IoOperation::sync: return "fsync";
    case IoOperation::rename: return "rename";
    case IoOperation::sync_directory: return "fsync_directory";
    case IoOperation::truncate: return "truncate";
    case IoOperation::count_: break;
  }
  return "unknown";
}

std::string IoError::text() const {
  return std::string(to_string(operation)) + " " + path + ": " + std::strerror(code);
}

SpoolDirectory::SpoolDirectory(fs::path path, FileOps& ops) : path_(std::move(path)), ops_(ops) {
  std::error_code error;
  fs::create_directories(path_, error);
  if (error) throw std::runtime_error("spool: cannot create " + path_.string() + ": " + error.message());
  const fs::path lock_path = path_ / "lock";
  lock_.reset(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!lock_) throw std::runtime_error("spool: cannot open " + lock_path.string() + ": " + std::strerror(errno));
  if (::flock(lock_.get(), LOCK_EX | LOCK_NB) != 0)
    throw std::runtime_error("spool: " + path_.string() + " is in use by another flowmetrics process");
}

std::string SpoolDirectory::segment_name(std::uint64_t first_sequence) {
  char name[48];
  std::snprintf(name, sizeof(name), "segment-%020llu.log", static_cast<unsigned long long>(first_sequence));
  return name;
}

std::optional<std::uint64_t> SpoolDirectory::parse_segment_name(std::string_view name) {
  if (name.size() != 32 || !name.starts_with("segment-") || !name.ends_with(".log")) return std::nullopt;
  const std::string digits(name.substr(8, 20));
  if (digits.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return std::stoull(digits);
}

std::vector<std::pair<std::uint64_t, fs::path>> SpoolDirectory::segments() const {
  std::vector<std::pair<std::uint64_t, fs::path>> found;
  for (const auto& entry : fs::directory_iterator(path_)) {
    if (const auto first = parse_segment_name(entry.path().filename().string()))
      found.emplace_back(*first, entry.path());
  }
  std::sort(found.begin(), found.end());
  return found;
}

std::optional<std::string> SpoolDirectory::read(std::string_view name) const {
  const fs::path path = file(name);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return std::nullopt;
    throw std::runtime_error("spool: cannot read " + path.string() + ": " + std::strerror(errno));
  }
  std::string data(std::istreambuf_iterator<char>(in), {});
  if (in.bad()) throw std::runtime_error("spool: cannot read " + path.string());
  return data;
}

IoStatus SpoolDirectory::failed(IoOperation operation, const fs::path& path, int code) {
  ++errors_[static_cast<std::size_t>(operation)];
  IoError error{operation, code, path.string()};
  spdlog::error("spool: {}", error.text());
  return error;
}

IoStatus SpoolDirectory::create_for_append(const fs::path& path, UniqueFd& out, bool durable_entry) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!fd) return failed(IoOperation::open, path, errno);
  // The directory entry must survive a power loss too, or the file could vanish.
  if (durable_entry) {
    if (auto error = sync_directory()) return error;
  }
  out = std::move(fd);
  return std::nullopt;
}

IoStatus SpoolDirectory::write_all(int fd, std::string_view data, const fs::path& path) {
  while (!data.empty()) {
    const ssize_t n = ops_.write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return failed(IoOperation::write, path, n == 0 ? ENOSPC : errno);
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return std::nullopt;
}

IoStatus SpoolDirectory::sync(int fd, const fs::path& path, bool data_only) {
  const int result = data_only ? ops_.fdatasync(fd) : ops_.fsync(fd);
  if (result != 0) return failed(IoOperation::sync, path, errno);
  return std::nullopt;
}

IoStatus SpoolDirectory::sync_directory() {
  UniqueFd dir(::open(path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return failed(IoOperation::open, path_, errno);
  if (ops_.fsync(dir.get()) != 0) return failed(IoOperation::sync_directory, path_, errno);
  return std::nullopt;
}

IoStatus SpoolDirectory::replace(std::string_view name, std::string_view contents, UniqueFd* keep_open) {
  const fs::path target = file(name);
  const fs::path temporary = target.string() + ".tmp";
  UniqueFd fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) return failed(IoOperation::open, temporary, errno);
  if (auto error = write_all(fd.get(), contents, temporary)) return error;
  if (auto error = sync(fd.get(), temporary, /*data_only=*/false)) return error;
  if (ops_.rename(temporary.c_str(), target.c_str()) != 0) return failed(IoOperation::rename, target, errno);
  if (auto error = sync_directory()) return error;
  if (keep_open != nullptr) *keep_open = std::move(fd);
  return std::nullopt;
}

IoStatus SpoolDirectory::truncate(const fs::path& path, std::uint64_t size) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return failed(IoOperation::open, path, errno);
  if (ops_.ftruncate(fd.get(), static_cast<off_t>(size)) != 0) return failed(IoOperation::truncate, path, errno);
  return sync(fd.get(), path, /*data_only=*/false);
}

IoStatus SpoolDirectory::probe() {
  // Larger than most frames, so that a file system that has just a little room back is not
  // taken for one that has room again (each refusal costs a client a retry, nothing more).
  const std::string page(64 << 10, '\0');
  const fs::path path = file("probe.tmp");
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) return failed(IoOperation::open, path, errno);
  IoStatus status = write_all(fd.get(), page, path);
  if (!status) status = sync(fd.get(), path);
  fd.reset();
  ::unlink(path.c_str());
  return status;
}

void SpoolDirectory::remove(const fs::path& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    spdlog::warn("spool: cannot delete {}: {}", path.string(), std::strerror(errno));
}

std::array<std::uint64_t, static_cast<std::size_t>(IoOperation::count_)> SpoolDirectory::error_counts() const {
  std::array<std::uint64_t, static_cast<std::size_t>(IoOperation::count_)> counts{};
  for (std::size_t i = 0; i < counts.size(); ++i) counts[i] = errors_[i].load();
  return counts;
}

}  // namespace flowmetrics::spool
