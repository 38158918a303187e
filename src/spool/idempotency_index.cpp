#include "spool/idempotency_index.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "spool/frame.hpp"
#include "spool/spooled_records.hpp"

namespace flowmetrics::spool {
namespace {

bool write_all(int fd, const std::string& data) {
  std::size_t written = 0;
  while (written < data.size()) {
    const ssize_t n = ::write(fd, data.data() + written, data.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    written += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

IdempotencyIndex::IdempotencyIndex(std::filesystem::path journal, std::chrono::seconds window)
    : journal_(std::move(journal)), window_ms_(window.count() * 1000) {
  const std::int64_t now = wall_clock_ms();
  if (std::filesystem::exists(journal_)) {
    std::ifstream in(journal_, std::ios::binary);
    const std::string data(std::istreambuf_iterator<char>(in), {});
    std::size_t at = 0;
    FrameHeader header;
    // A torn or damaged tail is where a crash interrupted an append: the key is also in the
    // records frame, which start-up adds back.
    while (at < data.size() && check_frame(std::span(data.data() + at, data.size() - at), header) == FrameCheck::ok) {
      const auto batch = decode_batch_header(std::string_view(data.data() + at + kFrameHeaderBytes, header.length));
      if (batch && now - header.time_ms < window_ms_) {
        entries_[batch->idempotency_key] = Entry{header.time_ms, batch->answer};
      }
      at += kFrameHeaderBytes + header.length;
    }
  }
  // Compact: rewrite what is still within the window, then append to it.
  const auto temporary = std::filesystem::path(journal_.string() + ".tmp");
  fd_ = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) throw std::runtime_error("spool: cannot write " + temporary.string() + ": " + std::strerror(errno));
  std::string data;
  for (const auto& [key, entry] : entries_) {
    RecordBatch batch;
    batch.idempotency_key = key;
    batch.answer = entry.answer;
    encode_frame(data, FrameType::records, 0, entry.time_ms, encode(batch));
  }
  if (!write_all(fd_, data) || ::fsync(fd_) != 0) {
    throw std::runtime_error("spool: cannot write " + temporary.string() + ": " + std::strerror(errno));
  }
  std::filesystem::rename(temporary, journal_);
  last_expiry_ms_ = now;
}

IdempotencyIndex::~IdempotencyIndex() {
  if (fd_ >= 0) ::close(fd_);
}

std::optional<std::string> IdempotencyIndex::find(std::string_view key) {
  std::lock_guard lock(mu_);
  const auto it = entries_.find(std::string(key));
  if (it == entries_.end() || wall_clock_ms() - it->second.time_ms >= window_ms_) return std::nullopt;
  return it->second.answer;
}

void IdempotencyIndex::remember(std::string_view key, std::string_view answer, std::int64_t time_ms) {
  if (window_ms_ == 0) return;
  std::lock_guard lock(mu_);
  entries_[std::string(key)] = Entry{time_ms, std::string(answer)};
  append_locked(key, answer, time_ms);
  if (time_ms - last_expiry_ms_ > 60'000) expire_locked(time_ms);
}

void IdempotencyIndex::remember_recovered(std::string_view key, std::string_view answer, std::int64_t time_ms) {
  if (window_ms_ == 0 || wall_clock_ms() - time_ms >= window_ms_) return;
  std::lock_guard lock(mu_);
  if (entries_.contains(std::string(key))) return;
  entries_[std::string(key)] = Entry{time_ms, std::string(answer)};
  append_locked(key, answer, time_ms);
}

void IdempotencyIndex::append_locked(std::string_view key, std::string_view answer, std::int64_t time_ms) {
  RecordBatch batch;
  batch.idempotency_key = std::string(key);
  batch.answer = std::string(answer);
  std::string frame;
  encode_frame(frame, FrameType::records, 0, time_ms, encode(batch));
  // The key is in the spool's records frame too; a failed journal write only shortens how
  // long it is remembered, so it is not an error for the request.
  write_all(fd_, frame);
}

void IdempotencyIndex::expire_locked(std::int64_t now) {
  std::erase_if(entries_, [&](const auto& item) { return now - item.second.time_ms >= window_ms_; });
  last_expiry_ms_ = now;
}

void IdempotencyIndex::sync() {
  std::lock_guard lock(mu_);
  ::fdatasync(fd_);
}

std::size_t IdempotencyIndex::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace flowmetrics::spool
