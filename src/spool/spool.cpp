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

Spool::Spool(SpoolDirectory& directory, SpoolOptions options, const FrameVisitor& visit_existing)
    : directory_(directory), options_(std::move(options)) {
  if (const auto text = directory_.read(SpoolDirectory::kIdentity)) {
    identity_ = *text;
    while (!identity_.empty() && (identity_.back() == '\n' || identity_.back() == '\r')) identity_.pop_back();
  }
  if (identity_.empty() || identity_.size() > 64 ||
      identity_.find_first_not_of("0123456789abcdef") != std::string::npos) {
    std::random_device random;
    char text[17];
    std::snprintf(text, sizeof(text), "%08x%08x", random(), random());
    identity_ = text;
    if (auto error = directory_.replace(SpoolDirectory::kIdentity, identity_ + "\n"))
      throw std::runtime_error("spool: cannot write the identity: " + error->text());
  }
  scan_existing(visit_existing);
  {
    std::lock_guard lock(mu_);
    if (auto error = open_segment(next_sequence_))
      throw std::runtime_error("spool: cannot start a segment: " + error->text());
    synced_through_ = readable_through_ = next_sequence_ - 1;
  }
  background_ = std::thread([this] {
    // Without this thread a failed spool never resumes: stop rather than refuse for ever.
    run_guarded("spool background", OnEscape::stop_process, [this] { run_background(); });
  });
}

Spool::~Spool() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  appended_.notify_all();
  space_.notify_all();
  wake_.notify_all();
  if (background_.joinable()) background_.join();
  std::lock_guard lock(mu_);
  if (write_fd_ && !failed_ && options_.fsync != FsyncPolicy::none) {
    // Logged (and counted) by the directory; nothing acknowledged depends on it: under `batch`
    // every acknowledged frame was fsynced already.
    (void)directory_.sync(write_fd_.get(), std::prev(segments_.end())->second.path);
  }
  // An empty last segment carries only its name, which keeps the sequence: leave it.
}

void Spool::scan_existing(const FrameVisitor& visit) {
  for (const auto& [first, path] : directory_.segments()) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("spool: cannot read " + path.string() + ": " + std::strerror(errno));
    const std::string data(std::istreambuf_iterator<char>(in), {});
    Segment segment{path, data.size(), data.size(), 0, 0, true, UniqueFd()};
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
                 directory_.path().string(), recovery_.frames, recovery_.segments, recovery_.damaged_frames,
                 recovery_.truncated_bytes);
  }
}

IoStatus Spool::open_segment(std::uint64_t first_sequence) {
  if (write_fd_) {
    Segment& active = std::prev(segments_.end())->second;
    if (options_.fsync != FsyncPolicy::none) {
      if (auto error = directory_.sync(write_fd_.get(), active.path)) return error;
    }
    active.durable_bytes = active.bytes;
    active.sealed = true;
    write_fd_.reset();
  }
  const fs::path path = directory_.segment_path(first_sequence);
  UniqueFd fd;
  if (auto error = directory_.create_for_append(path, fd)) return error;
  write_fd_ = std::move(fd);
  segments_[first_sequence] = Segment{path, 0, 0, 0, 0, false, UniqueFd()};
  return std::nullopt;
}

void Spool::fail_locked(const IoError& error) {
  if (!failed_) {
    spdlog::error("spool: stopped by an I/O error, refusing input until it is resolved: {}", error.text());
    failed_ = error;
  }
}

std::optional<std::string> Spool::io_error() const {
  std::lock_guard lock(mu_);
  if (!failed_) return std::nullopt;
  return failed_->text();
}

Appended Spool::append(FrameType type, std::string_view payload, bool force, std::shared_ptr<const RecordBatch> batch) {
  std::uint64_t sequence = 0;
  {
    std::unique_lock lock(mu_);
    if (failed_) return Appended{Appended::io_error, 0, failed_->text()};
    if (!force && total_bytes_ >= options_.max_bytes) return Appended{Appended::full, 0, {}};
    sequence = next_sequence_++;
    buffer_.clear();
    const std::int64_t time = wall_clock_ms();
    encode_frame(buffer_, type, sequence, time, payload);
    Segment& active = std::prev(segments_.end())->second;
    if (auto error = directory_.write_all(write_fd_.get(), buffer_, active.path)) {
      // The segment may now end in a torn frame: resuming cuts it off. The sequence is not
      // reused (a torn header may carry it).
      fail_locked(*error);
      wake_.notify_all();
      return Appended{Appended::io_error, 0, error->text()};
    }
    if (active.first_time_ms == 0) active.first_time_ms = time;
    const std::size_t memo_records = batch ? batch->records.size() : 0;
    if (batch && memo_records_ + memo_records <= options_.max_memory_records) {
      // Kept for the consumer, which then reads no file for it.
      memo_records_ += memo_records;
      memos_.push_back(Memo{std::prev(segments_.end())->first, active.bytes, active.bytes + buffer_.size(),
                            FrameHeader{type, static_cast<std::uint32_t>(payload.size()), sequence, time},
                            std::move(batch)});
    }
    active.bytes += buffer_.size();
    if (options_.fsync != FsyncPolicy::batch) {
      // Acknowledged once written: readers may have it now.
      active.durable_bytes = active.bytes;
      readable_through_ = sequence;
    }
    active.last_sequence = sequence;
    total_bytes_ += buffer_.size();
    if (active.bytes >= std::min(options_.segment_bytes, std::max<std::uint64_t>(options_.max_bytes / 4, 1))) {
      if (auto error = open_segment(next_sequence_)) {
        fail_locked(*error);
        wake_.notify_all();
      }
    }
  }
  if (options_.fsync != FsyncPolicy::batch) {
    appended_.notify_all();
    return Appended{Appended::ok, sequence, {}};
  }
  if (!sync(sequence)) {
    std::lock_guard lock(mu_);
    return Appended{Appended::io_error, 0, failed_ ? failed_->text() : "fsync failed"};
  }
  return Appended{Appended::ok, sequence, {}};
}

bool Spool::sync(std::uint64_t sequence) {
  std::lock_guard sync_lock(sync_mu_);
  if (synced_through_ >= sequence) return true;
  UniqueFd fd;
  std::uint64_t through = 0, first = 0, bytes = 0;
  fs::path path;
  {
    std::lock_guard lock(mu_);
    if (failed_) return false;
    through = next_sequence_ - 1;
    const auto& [active_first, active] = *std::prev(segments_.end());
    first = active_first;
    bytes = active.bytes;
    path = active.path;
    // Earlier segments were fsynced when they were sealed; the active one may be sealed by a
    // rotation meanwhile, so it is synced through its own descriptor.
    fd.reset(::dup(write_fd_.get()));
    if (!fd) {
      fail_locked(IoError{IoOperation::open, errno, path.string()});
      return false;
    }
  }
  const IoStatus error = directory_.sync(fd.get(), path);
  {
    std::lock_guard lock(mu_);
    if (error) {
      // Linux may report a failed writeback once and then drop the dirty pages: a later fsync
      // of this file can succeed without them. So nothing after synced_through_ is trusted
      // again; resuming cuts it off.
      fail_locked(*error);
      wake_.notify_all();
      return false;
    }
    synced_through_ = through;
    if (const auto it = segments_.find(first); it != segments_.end())
      it->second.durable_bytes = std::max(it->second.durable_bytes, bytes);
    readable_through_ = std::max(readable_through_, through);
  }
  appended_.notify_all();
  return true;
}

bool Spool::try_resume() {
  std::lock_guard sync_lock(sync_mu_);
  std::unique_lock lock(mu_);
  if (!failed_) return true;
  // 1. Cut every segment back to what is durable (`batch`) or complete (other policies: those
  //    frames were acknowledged once written). What is cut was never acknowledged.
  for (auto& [first, segment] : segments_) {
    const bool active = first == std::prev(segments_.end())->first;
    const std::uint64_t keep = options_.fsync == FsyncPolicy::batch ? segment.durable_bytes : segment.bytes;
    if (!active && keep == segment.bytes) continue;
    if (auto error = directory_.truncate(segment.path, keep)) {
      failed_ = *error;
      return false;
    }
    total_bytes_ -= segment.bytes - keep;
    segment.bytes = segment.durable_bytes = keep;
  }
  // A memo of a frame that was cut off must never reach the consumer.
  std::erase_if(memos_, [&](const Memo& memo) {
    const auto it = segments_.find(memo.segment);
    const bool cut = it == segments_.end() || memo.end > it->second.bytes;
    if (cut && memo.batch) memo_records_ -= memo.batch->records.size();
    return cut;
  });
  // 2. Does the file system take a write and an fsync again (space returned, device back)?
  if (auto error = directory_.probe()) {
    failed_ = *error;
    return false;
  }
  // 3. Go on in a new segment (the old one is durable as cut: no fsync of it is trusted).
  Segment& active = std::prev(segments_.end())->second;
  active.sealed = true;
  write_fd_.reset();
  if (auto error = open_segment(next_sequence_)) {
    failed_ = *error;
    return false;
  }
  spdlog::info("spool: the I/O error is resolved ({} was the last one); accepting input again", failed_->text());
  failed_.reset();
  synced_through_ = readable_through_ = next_sequence_ - 1;
  lock.unlock();
  space_.notify_all();
  appended_.notify_all();
  return true;
}

void Spool::run_background() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (failed_) {
      wake_.wait_for(lock, options_.retry_interval, [this] { return stopping_; });
      if (stopping_) return;
      lock.unlock();
      try_resume();
      lock.lock();
      continue;
    }
    const bool interval = options_.fsync == FsyncPolicy::interval;
    wake_.wait_for(lock, interval ? options_.fsync_interval : std::chrono::milliseconds(60'000),
                   [this] { return stopping_ || failed_.has_value(); });
    if (stopping_ || failed_ || !interval) continue;
    const std::uint64_t last = next_sequence_ - 1;
    lock.unlock();
    sync(last);
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
      if (!segment.read_fd) {
        segment.read_fd.reset(::open(segment.path.c_str(), O_RDONLY | O_CLOEXEC));
        if (!segment.read_fd)
          throw std::runtime_error("spool: cannot open " + segment.path.string() + ": " + std::strerror(errno));
      }
      fd = segment.read_fd.get();
      // Under `batch`, only what is fsynced: a frame whose fsync fails is never written.
      committed = segment.durable_bytes;
      sealed = segment.sealed && segment.durable_bytes == segment.bytes;
      if (cursor.offset >= committed) {
        if (!sealed || std::next(it) == segments_.end()) return false;
        // A sealed segment read to its end (any torn tail beyond `bytes` is skipped).
        cursor = Cursor{std::next(it)->first, 0};
        continue;
      }
      // Memos the cursor has passed (read from the file after the cap was reached) go.
      while (!memos_.empty() && (memos_.front().segment < cursor.segment ||
                                 (memos_.front().segment == cursor.segment && memos_.front().offset < cursor.offset))) {
        if (memos_.front().batch) memo_records_ -= memos_.front().batch->records.size();
        memos_.pop_front();
      }
      if (!memos_.empty() && memos_.front().segment == cursor.segment && memos_.front().offset == cursor.offset &&
          memos_.front().end <= committed) {
        Memo& memo = memos_.front();
        frame.header = memo.header;
        frame.payload.clear();
        if (memo.batch) memo_records_ -= memo.batch->records.size();
        frame.batch = std::move(memo.batch);
        cursor.offset = memo.end;
        memos_.pop_front();
        return true;
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
          frame.batch.reset();
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
  appended_.wait_for(lock, timeout, [&] { return readable_through_ > sequence || stopping_; });
}

std::uint64_t Spool::last_sequence() const {
  std::lock_guard lock(mu_);
  return readable_through_;
}

void Spool::release_before(std::uint64_t sequence) {
  bool released = false;
  {
    std::lock_guard lock(mu_);
    // Everything in the active segment is settled too: close it so that it can go (a spool
    // whose cap is below one segment would otherwise never free any space).
    const Segment& active = std::prev(segments_.end())->second;
    if (!failed_ && active.bytes > 0 && active.durable_bytes == active.bytes && active.last_sequence < sequence) {
      if (auto error = open_segment(next_sequence_)) {
        fail_locked(*error);
        wake_.notify_all();
      }
    }
    for (auto it = segments_.begin(); it != segments_.end();) {
      Segment& segment = it->second;
      auto next = std::next(it);
      // The whole segment is below `sequence` when the next one starts at or below it.
      if (!segment.sealed || segment.durable_bytes != segment.bytes || next == segments_.end() ||
          next->first > sequence)
        break;
      segment.read_fd.reset();
      directory_.remove(segment.path);
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
  const auto accepting = [this] { return total_bytes_ < options_.max_bytes && !failed_; };
  return space_.wait_for(lock, timeout, [&] { return accepting() || stopping_; }) && accepting();
}

std::optional<std::int64_t> Spool::oldest_time_ms() const {
  std::lock_guard lock(mu_);
  for (const auto& [first, segment] : segments_) {
    if (segment.first_time_ms != 0) return segment.first_time_ms;
  }
  return std::nullopt;
}

}  // namespace flowmetrics::spool
