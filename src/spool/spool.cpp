#include "spool/spool.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <stdexcept>

#include "core/thread_guard.hpp"

namespace flowmetrics::spool {
namespace {

namespace fs = std::filesystem;

std::string segment_name(std::uint64_t first_sequence) {
  char name[48];
  std::snprintf(name, sizeof(name), "segment-%020llu.log", static_cast<unsigned long long>(first_sequence));
  return name;
}

std::optional<std::uint64_t> parse_segment_name(const std::string& name) {
  if (name.size() != 32 || !name.starts_with("segment-") || !name.ends_with(".log")) return std::nullopt;
  const std::string digits = name.substr(8, 20);
  if (digits.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return std::stoull(digits);
}

[[noreturn]] void fail(const std::string& what, const fs::path& path) {
  throw std::runtime_error("spool: " + what + " " + path.string() + ": " + std::strerror(errno));
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read", path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The offset of the next intact frame after a damaged one at `from`, or data.size().
std::size_t resync(std::string_view data, std::size_t from) {
  FrameHeader header;
  for (std::size_t at = from + 1; at + kFrameHeaderBytes <= data.size(); ++at) {
    if (data[at] != 'F') continue;
    if (check_frame(std::span(data.data() + at, data.size() - at), header) == FrameCheck::ok) return at;
  }
  return data.size();
}

bool pread_all(int fd, char* out, std::size_t size, std::uint64_t offset) {
  while (size > 0) {
    const ssize_t n = ::pread(fd, out, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    out += n;
    size -= static_cast<std::size_t>(n);
    offset += static_cast<std::uint64_t>(n);
  }
  return true;
}

}  // namespace

Spool::Spool(SpoolOptions options, const FrameVisitor& visit_existing) : options_(std::move(options)) {
  const fs::path& dir = options_.directory;
  std::error_code error;
  fs::create_directories(dir, error);
  if (error) throw std::runtime_error("spool: cannot create " + dir.string() + ": " + error.message());
  lock_fd_ = ::open((dir / "lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) fail("cannot open", dir / "lock");
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(lock_fd_);
    throw std::runtime_error("spool: " + dir.string() + " is in use by another flowmetrics process");
  }
  const fs::path identity_path = dir / "identity";
  if (fs::exists(identity_path)) {
    identity_ = read_file(identity_path);
    while (!identity_.empty() && (identity_.back() == '\n' || identity_.back() == '\r')) identity_.pop_back();
  }
  if (identity_.empty() || identity_.size() > 64 ||
      identity_.find_first_not_of("0123456789abcdef") != std::string::npos) {
    std::random_device random;
    char text[17];
    std::snprintf(text, sizeof(text), "%08x%08x", random(), random());
    identity_ = text;
    const fs::path temporary = dir / "identity.tmp";
    std::ofstream(temporary) << identity_ << '\n';
    fs::rename(temporary, identity_path);
  }
  scan_existing(visit_existing);
  {
    std::lock_guard lock(mu_);
    open_segment(next_sequence_);
  }
  if (options_.fsync == FsyncPolicy::interval)
    interval_sync_ = std::thread([this] {
      // Without this thread nothing appended would be synced: stop rather than acknowledge more.
      run_guarded("spool interval sync", OnEscape::stop_process, [this] { run_interval_sync(); });
    });
}

Spool::~Spool() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  appended_.notify_all();
  space_.notify_all();
  if (interval_sync_.joinable()) interval_sync_.join();
  if (write_fd_ >= 0) {
    if (options_.fsync != FsyncPolicy::none) ::fdatasync(write_fd_);
    ::close(write_fd_);
  }
  for (auto& [first, segment] : segments_) {
    if (segment.read_fd >= 0) ::close(segment.read_fd);
  }
  // An empty last segment carries only its name, which keeps the sequence: leave it.
  ::close(lock_fd_);
}

void Spool::scan_existing(const FrameVisitor& visit) {
  std::vector<std::pair<std::uint64_t, fs::path>> found;
  for (const auto& entry : fs::directory_iterator(options_.directory)) {
    if (const auto first = parse_segment_name(entry.path().filename().string()))
      found.emplace_back(*first, entry.path());
  }
  std::sort(found.begin(), found.end());
  for (const auto& [first, path] : found) {
    const std::string data = read_file(path);
    Segment segment{path, data.size(), 0, 0, true, -1};
    next_sequence_ = std::max(next_sequence_, first);
    std::size_t at = 0;
    FrameHeader header;
    while (at < data.size()) {
      switch (check_frame(std::span(data.data() + at, data.size() - at), header)) {
        case FrameCheck::ok:
          if (segment.first_time_ms == 0) segment.first_time_ms = header.time_ms;
          segment.last_sequence = std::max(segment.last_sequence, header.sequence);
          next_sequence_ = std::max(next_sequence_, header.sequence + 1);
          ++recovery_.frames;
          if (visit) visit(header, std::string_view(data.data() + at + kFrameHeaderBytes, header.length));
          at += kFrameHeaderBytes + header.length;
          break;
        case FrameCheck::incomplete:
          spdlog::warn("spool: {}: truncated: the last {} bytes (from offset {}) are an incomplete frame, skipped",
                       path.string(), data.size() - at, at);
          recovery_.truncated_bytes += data.size() - at;
          at = data.size();
          break;
        case FrameCheck::damaged: {
          const std::size_t next = resync(data, at);
          spdlog::error("spool: {}: damaged frame at offset {}: {} bytes skipped up to the next intact frame",
                        path.string(), at, next - at);
          ++recovery_.damaged_frames;
          at = next;
          break;
        }
      }
    }
    total_bytes_ += segment.bytes;
    ++recovery_.segments;
    segments_.emplace(first, std::move(segment));
  }
  if (recovery_.frames > 0 || recovery_.damaged_frames > 0) {
    spdlog::info("spool: {} holds {} frames in {} segments ({} damaged regions, {} truncated bytes)",
                 options_.directory.string(), recovery_.frames, recovery_.segments, recovery_.damaged_frames,
                 recovery_.truncated_bytes);
  }
}

void Spool::open_segment(std::uint64_t first_sequence) {
  const fs::path path = options_.directory / segment_name(first_sequence);
  if (write_fd_ >= 0) {
    if (options_.fsync != FsyncPolicy::none) ::fdatasync(write_fd_);
    ::close(write_fd_);
    std::prev(segments_.end())->second.sealed = true;
  }
  write_fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (write_fd_ < 0) fail("cannot create", path);
  // The directory entry must survive a power loss too, or the segment could vanish.
  const int dir_fd = ::open(options_.directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  segments_[first_sequence] = Segment{path, 0, 0, 0, false, -1};
}

std::optional<std::uint64_t> Spool::append(FrameType type, std::string_view payload, bool force) {
  std::uint64_t sequence = 0;
  {
    std::unique_lock lock(mu_);
    if (!force && total_bytes_ >= options_.max_bytes) return std::nullopt;
    sequence = next_sequence_++;
    buffer_.clear();
    const std::int64_t time = wall_clock_ms();
    encode_frame(buffer_, type, sequence, time, payload);
    std::size_t written = 0;
    while (written < buffer_.size()) {
      const ssize_t n = ::write(write_fd_, buffer_.data() + written, buffer_.size() - written);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        // The segment may now end in a torn frame: seal it (readers stop at the last complete
        // frame) and go on in a new one.
        const int saved = errno;
        spdlog::error("spool: cannot write to {}: {}", std::prev(segments_.end())->second.path.string(),
                      std::strerror(saved));
        --next_sequence_;
        open_segment(next_sequence_);
        return std::nullopt;
      }
      written += static_cast<std::size_t>(n);
    }
    Segment& active = std::prev(segments_.end())->second;
    if (active.first_time_ms == 0) active.first_time_ms = time;
    active.bytes += buffer_.size();
    active.last_sequence = sequence;
    total_bytes_ += buffer_.size();
    if (active.bytes >= std::min(options_.segment_bytes, std::max<std::uint64_t>(options_.max_bytes / 4, 1)))
      open_segment(next_sequence_);
  }
  appended_.notify_all();
  if (options_.fsync == FsyncPolicy::batch) sync(sequence);
  return sequence;
}

void Spool::sync(std::uint64_t sequence) {
  std::lock_guard sync_lock(sync_mu_);
  if (synced_through_ >= sequence) return;
  int fd = -1;
  std::uint64_t through = 0;
  {
    std::lock_guard lock(mu_);
    through = next_sequence_ - 1;
    fd = ::dup(write_fd_);  // the segment may be closed by a rotation meanwhile
  }
  if (fd < 0) return;
  ::fdatasync(fd);
  ::close(fd);
  synced_through_ = through;
}

void Spool::run_interval_sync() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    appended_.wait_for(lock, options_.fsync_interval, [this] { return stopping_; });
    if (stopping_) return;
    const std::uint64_t last = next_sequence_ - 1;
    lock.unlock();
    sync(last);
    std::this_thread::sleep_for(options_.fsync_interval);
    lock.lock();
  }
}

bool Spool::next(Cursor& cursor, Frame& frame) {
  for (;;) {
    int fd = -1;
    std::uint64_t committed = 0;
    bool sealed = false;
    {
      std::lock_guard lock(mu_);
      auto it = segments_.lower_bound(cursor.segment);
      if (it == segments_.end()) return false;
      if (it->first != cursor.segment) cursor = Cursor{it->first, 0};  // released or first read
      Segment& segment = it->second;
      if (segment.read_fd < 0) {
        segment.read_fd = ::open(segment.path.c_str(), O_RDONLY | O_CLOEXEC);
        if (segment.read_fd < 0) fail("cannot open", segment.path);
      }
      fd = segment.read_fd;
      committed = segment.bytes;
      sealed = segment.sealed;
      if (cursor.offset >= committed) {
        if (!sealed || std::next(it) == segments_.end()) return false;
        // A sealed segment read to its end (any torn tail beyond `bytes` is skipped).
        cursor = Cursor{std::next(it)->first, 0};
        continue;
      }
    }
    // Reading the file outside the lock: only this consumer reads, and a segment is released
    // only after the consumer has passed it.
    char header_bytes[kFrameHeaderBytes];
    FrameHeader header;
    if (cursor.offset + kFrameHeaderBytes <= committed &&
        pread_all(fd, header_bytes, kFrameHeaderBytes, cursor.offset)) {
      std::uint32_t length = 0;
      std::memcpy(&length, header_bytes + 4, sizeof(length));
      if (length <= kMaxFramePayload && cursor.offset + kFrameHeaderBytes + length <= committed) {
        std::string whole(kFrameHeaderBytes + length, '\0');
        if (pread_all(fd, whole.data(), whole.size(), cursor.offset) &&
            check_frame(std::span(whole.data(), whole.size()), header) == FrameCheck::ok) {
          frame.header = header;
          frame.payload.assign(whole, kFrameHeaderBytes, std::string::npos);
          cursor.offset += whole.size();
          return true;
        }
      }
    }
    // Damaged (already reported when the spool was opened): skip to the next intact frame.
    std::string rest(committed - cursor.offset, '\0');
    if (!pread_all(fd, rest.data(), rest.size(), cursor.offset)) rest.clear();
    cursor.offset += rest.empty() ? committed - cursor.offset : resync(rest, 0);
  }
}

void Spool::wait_for_append(std::uint64_t sequence, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  appended_.wait_for(lock, timeout, [&] { return next_sequence_ - 1 > sequence || stopping_; });
}

std::uint64_t Spool::last_sequence() const {
  std::lock_guard lock(mu_);
  return next_sequence_ - 1;
}

void Spool::release_before(std::uint64_t sequence) {
  bool released = false;
  {
    std::lock_guard lock(mu_);
    // Everything in the active segment is settled too: close it so that it can go (a spool
    // whose cap is below one segment would otherwise never free any space).
    const Segment& active = std::prev(segments_.end())->second;
    if (active.bytes > 0 && active.last_sequence < sequence) open_segment(next_sequence_);
    for (auto it = segments_.begin(); it != segments_.end();) {
      Segment& segment = it->second;
      auto next = std::next(it);
      // The whole segment is below `sequence` when the next one starts at or below it.
      if (!segment.sealed || next == segments_.end() || next->first > sequence) break;
      if (segment.read_fd >= 0) ::close(segment.read_fd);
      std::error_code ignored;
      fs::remove(segment.path, ignored);
      total_bytes_ -= segment.bytes;
      it = segments_.erase(it);
      released = true;
    }
  }
  if (released) space_.notify_all();
}

std::uint64_t Spool::bytes() const {
  std::lock_guard lock(mu_);
  return total_bytes_;
}

bool Spool::full() const {
  std::lock_guard lock(mu_);
  return total_bytes_ >= options_.max_bytes;
}

bool Spool::wait_for_space(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return space_.wait_for(lock, timeout, [this] { return total_bytes_ < options_.max_bytes || stopping_; }) &&
         total_bytes_ < options_.max_bytes;
}

std::optional<std::int64_t> Spool::oldest_time_ms() const {
  std::lock_guard lock(mu_);
  for (const auto& [first, segment] : segments_) {
    if (segment.first_time_ms != 0) return segment.first_time_ms;
  }
  return std::nullopt;
}

}  // namespace flowmetrics::spool
