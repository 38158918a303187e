#include "spool/idempotency_index.hpp"

#include <stdexcept>

#include "spool/frame.hpp"
#include "spool/spooled_records.hpp"

namespace flowmetrics::spool {
IdempotencyIndex::IdempotencyIndex(SpoolDirectory& directory, std::chrono::seconds window)
    : directory_(directory), window_ms_(window.count() * 1000) {
  const std::int64_t now = wall_clock_ms();
  if (const auto journal = directory_.read(SpoolDirectory::kJournal)) {
    const std::string& data = *journal;
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
  if (auto error = rewrite_locked())
    throw std::runtime_error("spool: cannot write the idempotency journal: " + error->text());
  last_expiry_ms_ = now;
}

IoStatus IdempotencyIndex::rewrite_locked() {
  std::string data;
  for (const auto& [key, entry] : entries_) {
    RecordBatch batch;
    batch.idempotency_key = key;
    batch.answer = entry.answer;
    encode_frame(data, FrameType::records, 0, entry.time_ms, encode(batch));
  }
  return directory_.replace(SpoolDirectory::kJournal, data, &fd_);
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
  // long it is remembered once that frame is released, so it is not an error for the
  // request: sync() reports it, and the frame is kept.
  if (directory_.write_all(fd_.get(), frame, directory_.file(SpoolDirectory::kJournal))) write_failed_ = true;
}

void IdempotencyIndex::expire_locked(std::int64_t now) {
  std::erase_if(entries_, [&](const auto& item) { return now - item.second.time_ms >= window_ms_; });
  last_expiry_ms_ = now;
}

bool IdempotencyIndex::sync() {
  std::lock_guard lock(mu_);
  // A write that failed may have left a torn frame, where reading the journal stops at the
  // next start: write it whole again (atomically) rather than append behind it.
  if (write_failed_) {
    if (rewrite_locked()) return false;
    write_failed_ = false;
    return true;
  }
  return !directory_.sync(fd_.get(), directory_.file(SpoolDirectory::kJournal));
}

std::size_t IdempotencyIndex::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace flowmetrics::spool
