#include "pipeline/pipeline.hpp"

#include <malloc.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "core/thread_guard.hpp"
#include "flowmetrics/validation.hpp"

namespace flowmetrics::pipeline {
namespace {

using std::chrono::milliseconds;

bool retryable(errc code) {
  return code != errc::server_error && code != errc::invalid_argument;
}

// MetricAggregate::add of one record, inline: it runs once per record.
inline void add_record(MetricAggregate& a, const spool::SpooledRecord& r) noexcept {
  a.last = r.value;
  a.sum += r.value;
  a.count += 1;
  if (r.value < a.min) a.min = r.value;
  if (r.value > a.max) a.max = r.value;
  a.packets += r.packets;
  a.bytes += r.bytes;
  a.flows += r.flows;
}

}  // namespace

Pipeline::Pipeline(PipelineOptions options, AggregateWriter& writer, PipelineStats& stats, spool::Spool& spool,
                   spool::IdempotencyIndex* keys, SpoolReplay replay, std::function<Clock::time_point()> now)
    : options_(options),
      writer_(writer),
      stats_(stats),
      spool_(spool),
      keys_(keys),
      now_(std::move(now)),
      partition_limit_(
          std::max<std::size_t>(1, options.max_pending_keys / (2 * std::max<std::size_t>(1, options.writers)))),
      replay_through_(replay.last_sequence) {
  const std::size_t count = std::max<std::size_t>(1, options_.writers);
  for (std::size_t i = 0; i < count; ++i) {
    partitions_.push_back(std::make_unique<Partition>());
    partitions_.back()->index = static_cast<std::uint32_t>(i);
  }
  std::sort(replay.markers.begin(), replay.markers.end(), [](const auto& a, const auto& b) {
    return a.second.merged_through < b.second.merged_through ||
           (a.second.merged_through == b.second.merged_through && a.first < b.first);
  });
  std::size_t foreign = 0;
  for (auto& [sequence, marker] : replay.markers) {
    if (marker.partition >= count) {
      ++foreign;
      continue;
    }
    partitions_[marker.partition]->replay_markers.emplace_back(sequence, marker);
  }
  if (foreign > 0) {
    // The spool was written with more writers than configured now: its flushes cannot be
    // replayed as they were. Refuse rather than risk writing twice.
    throw std::runtime_error("the spool holds flushes of " + std::to_string(foreign) +
                             " writes from a run with more writers than pipeline.writers = " + std::to_string(count) +
                             ": start with the earlier number of writers until the spool is empty");
  }
  {
    std::istringstream in(spool_.directory().read(spool::SpoolDirectory::kOrigins).value_or(""));
    std::string line;
    while (std::getline(in, line)) {
      const auto tab = line.find('\t');
      if (tab == std::string::npos) continue;
      origin_offsets_[line.substr(tab + 1)] = std::stoull(line.substr(0, tab));
    }
    persisted_origins_ = origin_offsets_;
    for (const auto& [origin, offset] : replay.origin_offsets) {
      origin_offsets_[origin] = std::max(origin_offsets_[origin], offset);
    }
  }
  replay_markers_left_ = replay.markers.size();
  // Until the earlier run's last flush is replayed, only its markers decide what is flushed;
  // after it, live decisions take over (whatever frames are still to be read).
  replaying_ = replay_markers_left_ > 0;
  for (auto& partition : partitions_) {
    Partition* p = partition.get();
    p->writer = std::thread(
        [this, p] { run_guarded("pipeline writer", OnEscape::stop_process, [this, p] { run_writer(*p); }); });
  }
  consumer_ =
      std::thread([this] { run_guarded("pipeline consumer", OnEscape::stop_process, [this] { run_consumer(); }); });
}

Pipeline::~Pipeline() {
  abandon_ = true;
  draining_ = true;
  capacity_.notify_all();
  if (consumer_.joinable()) consumer_.join();
  for (auto& partition : partitions_) {
    partition->wake.notify_all();
    if (partition->writer.joinable()) partition->writer.join();
  }
}

// ---- Inputs

Admission Pipeline::submit(std::span<Metric> metrics, std::string_view input, Acknowledgement* acknowledgement) {
  return admit(metrics, input, acknowledgement, {}, 0);
}

Admission Pipeline::submit_from(std::span<Metric> metrics, std::string_view input, std::string_view origin,
                                std::uint64_t offset) {
  return admit(metrics, input, nullptr, origin, offset);
}

Admission Pipeline::submit_flows(std::span<const FlowUpdate> updates, std::string_view input) {
  auto batch = std::make_shared<spool::RecordBatch>();
  batch->input = std::string(input);
  batch->records.assign(updates.begin(), updates.end());
  return append(std::move(batch), input, updates.size(), {}, nullptr);
}

Admission Pipeline::submit_flows_owned(std::vector<FlowUpdate>&& updates, std::string_view input) {
  auto batch = std::make_shared<spool::RecordBatch>();
  batch->input = std::string(input);
  const std::size_t count = updates.size();
  batch->records = std::move(updates);
  updates.clear();
  return append_owned(std::move(batch), input, count, updates);
}

Admission Pipeline::submit_flows_from(std::span<const FlowUpdate> updates, std::string_view input,
                                      std::string_view origin, std::uint64_t offset) {
  auto batch = std::make_shared<spool::RecordBatch>();
  batch->input = std::string(input);
  batch->origin = std::string(origin);
  batch->origin_offset = offset;
  batch->records.assign(updates.begin(), updates.end());
  return append(std::move(batch), input, updates.size(), {}, nullptr);
}

Admission Pipeline::submit_flows_from(std::vector<FlowUpdate>&& updates, std::string_view input,
                                      std::string_view origin, std::uint64_t offset) {
  auto batch = std::make_shared<spool::RecordBatch>();
  batch->input = std::string(input);
  batch->origin = std::string(origin);
  batch->origin_offset = offset;
  const std::size_t count = updates.size();
  batch->records = std::move(updates);
  updates.clear();
  return append_owned(std::move(batch), input, count, updates);
}

Admission Pipeline::admit(std::span<Metric> metrics, std::string_view input, Acknowledgement* acknowledgement,
                          std::string_view origin, std::uint64_t offset) {
  auto batch = std::make_shared<spool::RecordBatch>();
  batch->input = std::string(input);
  batch->origin = std::string(origin);
  batch->origin_offset = offset;
  batch->records.resize(metrics.size());
  std::vector<KeyRejection> rejections;
  std::size_t valid = 0;
  for (const Metric& metric : metrics) {
    const KeyRejection reason = make_flow_update(metric, batch->records[valid]);
    if (reason != KeyRejection::none) {
      rejections.push_back(reason);
      continue;
    }
    ++valid;
  }
  batch->records.resize(valid);
  return append(std::move(batch), input, metrics.size(), rejections, acknowledgement);
}

Admission Pipeline::append_owned(std::shared_ptr<spool::RecordBatch> batch, std::string_view input,
                                 std::size_t received, std::vector<FlowUpdate>& updates) {
  // A refused batch is not handed to the consumer (under `batch`, a frame whose fsync failed
  // never is), so its records go back to the caller to try again. The spool may still hold
  // the batch (its memo of a frame written but not synced, dropped when the spool resumes,
  // which counts its records then): those records are copied back, not taken from it.
  const std::shared_ptr<spool::RecordBatch> kept = batch;
  const Admission admission = append(std::move(batch), input, received, {}, nullptr);
  if (admission == Admission::full || admission == Admission::io_error) {
    if (kept.use_count() == 1) {
      updates = std::move(kept->records);
    } else {
      updates = kept->records;
    }
  }
  return admission;
}

Admission Pipeline::append(std::shared_ptr<spool::RecordBatch> batch, std::string_view input, std::size_t received,
                           const std::vector<KeyRejection>& rejections, Acknowledgement* acknowledgement) {
  // A key is claimed while its records are appended, so that a concurrent repeat waits and
  // then finds it instead of being applied too.
  const bool keyed = acknowledgement != nullptr && !acknowledgement->key.empty() && keys_ != nullptr;
  if (keyed) {
    std::unique_lock lock(keys_mu_);
    key_done_.wait(lock, [&] { return !keys_in_progress_.contains(acknowledgement->key); });
    if (auto answer = keys_->find(acknowledgement->key)) {
      acknowledgement->answer = std::move(*answer);
      return Admission::duplicate;
    }
    keys_in_progress_.insert(acknowledgement->key);
    batch->idempotency_key = acknowledgement->key;
    batch->answer = acknowledgement->answer;
  }
  const auto release_key = [&] {
    if (!keyed) return;
    {
      std::lock_guard lock(keys_mu_);
      keys_in_progress_.erase(acknowledgement->key);
    }
    key_done_.notify_all();
  };

  const std::size_t accepted = batch->records.size();
  const std::string origin = batch->origin;
  const std::uint64_t offset = batch->origin_offset;
  if (accepted > 0 || !origin.empty()) {
    // Per input thread, kept between batches (see encode_into) unless a large one grew it.
    thread_local std::string scratch;
    const std::string_view payload = spool::encode_into(*batch, scratch);
    // The batch goes to the consumer in memory, with the frame.
    const spool::Appended appended = spool_.append(spool::FrameType::records, payload, false, std::move(batch));
    if (scratch.size() > (std::size_t{4} << 20)) std::string().swap(scratch);
    if (!appended) {
      release_key();
      if (appended.status == spool::Appended::full) return Admission::full;
      return Admission{Admission::io_error, appended.error};
    }
    if (!origin.empty()) {
      std::lock_guard lock(origins_mu_);
      auto& furthest = origin_offsets_[origin];
      furthest = std::max(furthest, offset);
    }
  }
  if (keyed) keys_->remember(acknowledgement->key, acknowledgement->answer, spool::wall_clock_ms());
  release_key();

  stats_.received.add(input, "", received);
  for (const KeyRejection reason : rejections) stats_.rejected.add(input, rejection_label(reason), 1);
  stats_.accepted += accepted;
  stats_.records_pending += accepted;
  return Admission::accepted;
}

void Pipeline::reject(std::string_view input, std::string_view reason, std::size_t count) {
  stats_.received.add(input, "", count);
  stats_.rejected.add(input, reason, count);
}

void Pipeline::drop(std::string_view input, std::size_t count, std::string_view reason) {
  stats_.dropped.add(input, reason, count);
}

bool Pipeline::saturated() const {
  return spool_.full() || spool_.io_error().has_value();
}

std::optional<std::string> Pipeline::io_error() const {
  return spool_.io_error();
}

bool Pipeline::wait_for_capacity(milliseconds timeout) {
  if (!saturated()) return true;
  ++stats_.backpressure_waits;
  return spool_.wait_for_space(timeout);
}

std::uint64_t Pipeline::origin_offset(const std::string& origin) const {
  std::lock_guard lock(origins_mu_);
  const auto it = origin_offsets_.find(origin);
  return it == origin_offsets_.end() ? 0 : it->second;
}

// ---- The consumer: spool -> partitions

bool Pipeline::memory_saturated() const {
  return stats_.keys_pending.load() + stats_.keys_in_flight.load() >= options_.max_pending_keys;
}

void Pipeline::run_consumer() {
  spool::Spool::Cursor cursor;
  spool::Frame frame;
  std::uint64_t last_read = 0;
  bool replay_done = replay_through_ == 0;
  auto next_release = Clock::now();
  auto next_trim = Clock::now();
  for (;;) {
    if (abandon_) return;
    if (Clock::now() >= next_release) {
      release_settled(last_read + 1);
      next_release = Clock::now() + std::chrono::seconds(1);
    }
    if (memory_saturated()) {
      ++stats_.backpressure_waits;
      std::unique_lock lock(capacity_mu_);
      capacity_.wait_for(lock, milliseconds(100), [this] { return !memory_saturated() || abandon_.load(); });
      continue;
    }
    // Every frame up to `tail` is read once next() finds nothing more: flush markers appended
    // behind the last records frame then count as read, so a finished run releases them too.
    const std::uint64_t tail = spool_.last_sequence();
    if (!spool_.next(cursor, frame)) {
      last_read = std::max(last_read, tail);
      if (replaying_) finish_replay();
      if (draining_ && spool_.last_sequence() <= last_read) {
        consumed_all_ = true;
        for (auto& partition : partitions_) partition->wake.notify_all();
        capacity_.notify_all();
        // Keep releasing what the writers settle while they finish.
        while (!abandon_ && stats_.records_pending.load() > 0) {
          std::unique_lock lock(capacity_mu_);
          capacity_.wait_for(lock, milliseconds(200));
          lock.unlock();
          release_settled(last_read + 1);
        }
        persist_origins();
        return;
      }
      if (Clock::now() >= next_trim) {
        // Caught up: hand the memory the input's batches took back to the system (glibc
        // keeps freed chunks in its per-thread arenas otherwise, and a burst would stay in
        // the resident size for good). At most once a second, only while idle.
        for (auto& routed : routed_) std::vector<Routed>().swap(routed);  // a burst's scratch
        ::malloc_trim(0);
        next_trim = Clock::now() + std::chrono::seconds(1);
      }
      spool_.wait_for_append(last_read, milliseconds(100));
      continue;
    }
    last_read = frame.header.sequence;
    if (frame.header.type == spool::FrameType::records) {
      // This run's frames come from memory; an earlier run's are read and decoded.
      std::optional<spool::RecordBatch> decoded;
      const spool::RecordBatch* batch = frame.batch.get();
      if (batch == nullptr && (decoded = spool::decode_records(frame.payload))) batch = &*decoded;
      if (batch != nullptr) {
        if (last_read <= replay_through_) {
          stats_.replayed += batch->records.size();
          stats_.records_pending += batch->records.size();
        }
        consume(last_read, *batch);
        frame.batch.reset();
      } else {
        spdlog::error("spool: frame {} is not a records batch this version can read; skipped", last_read);
      }
    }
    if (!replay_done && last_read >= replay_through_) {
      replay_done = true;
      finish_replay();
      if (replay_through_ > 0) spdlog::info("spool: replayed {} records from the earlier run", stats_.replayed.load());
    }
  }
}

void Pipeline::consume(std::uint64_t sequence, const spool::RecordBatch& batch) {
  const std::int64_t width_ms = std::chrono::duration_cast<milliseconds>(options_.bucket_width).count();
  const std::size_t count = partitions_.size();
  const bool version1 = batch.version == spool::kRecordsVersion1;
  if (!version1 && version1_entries_) flush_version1_entries(sequence);
  if (version1) version1_entries_ = true;
  routed_.resize(count);
  std::int64_t newest = INT64_MIN;
  for (const spool::SpooledRecord& record : batch.records) {
    const FlowKey key = bucketed(record.key, width_ms);
    newest = std::max(newest, key.timestamp_ms);
    const std::uint64_t hash = hash_flow_key(key);
    // A version-1 frame goes where the release that wrote it sent it: its flush markers say
    // which entries of which partition a write took.
    const std::size_t p =
        version1 ? static_cast<std::size_t>(hash_key(render_metric_key(key)) % count) : partition_of(hash, count);
    routed_[p].push_back(Routed{key, hash, &record});
  }
  for (std::size_t p = 0; p < count; ++p) {
    std::vector<Routed>& routed = routed_[p];
    if (routed.empty()) continue;
    Partition& partition = *partitions_[p];
    std::size_t new_keys = 0;
    bool full = false;
    {
      std::lock_guard lock(partition.mu);
      apply_replay_markers(partition, sequence);
      if (partition.entries.empty() && partition.last_full_take > 0)
        partition.entries.reserve(partition.last_full_take);
      // No prefetch ahead of the inserts: FlowTable::prefetch eight records ahead measured
      // slower, not faster (docs/benchmarks/netflow.md, "Where the remaining time goes").
      const std::size_t n = routed.size();
      for (std::size_t i = 0; i < n; ++i) {
        const Routed& r = routed[i];
        bool inserted = false;
        MetricAggregate& aggregate = partition.entries.find_or_insert(r.key, r.hash, inserted);
        if (inserted) {
          ++new_keys;
          partition.bucket_first_sequence.try_emplace(r.key.timestamp_ms, sequence);
        }
        add_record(aggregate, *r.record);
      }
      partition.merged_through = sequence;
      // A flush the earlier run took right after this frame is taken now, not when the next
      // frame arrives: a replay must not wait for memory that only that flush frees.
      apply_replay_markers(partition, sequence + 1);
      full = partition.entries.size() >= partition_limit_;
      if (full) partition.flush_requested = true;
    }
    routed.clear();
    stats_.keys_pending += new_keys;
    if (full) partition.wake.notify_one();
  }
  std::int64_t seen = watermark_ms_.load();
  while (newest > seen && !watermark_ms_.compare_exchange_weak(seen, newest)) {
  }
  if (newest > seen) watermark_advanced_ = now_();
}

void Pipeline::flush_version1_entries(std::uint64_t sequence) {
  // The earlier run's markers (replayed) or a live flush of everything empty each partition
  // before a version-2 frame is merged. A replay that finds entries left here while the
  // earlier run's markers still decide cannot happen: that run flushed every partition at
  // this point, before it merged this frame, and its markers are behind the version-1 frames
  // still in the spool (docs/durability.md).
  for (auto& partition : partitions_) {
    std::lock_guard lock(partition->mu);
    apply_replay_markers(*partition, sequence);
    if (partition->entries.empty()) continue;
    partition->flush_all_requested = true;
    partition->flush_requested = true;
    partition->wake.notify_one();
  }
  const auto emptied = [this] {
    for (auto& partition : partitions_) {
      std::lock_guard lock(partition->mu);
      if (!partition->entries.empty()) return false;
    }
    return true;
  };
  auto warned = Clock::now();
  while (!emptied() && !abandon_) {
    if (replaying_ && Clock::now() - warned > std::chrono::seconds(10)) {
      spdlog::warn("spool: waiting for the earlier run's flushes of its version-1 records");
      warned = Clock::now();
    }
    std::unique_lock lock(capacity_mu_);
    capacity_.wait_for(lock, milliseconds(20));
  }
  version1_entries_ = false;
}

void Pipeline::apply_replay_markers(Partition& partition, std::uint64_t before_sequence) {
  while (!partition.replay_markers.empty() &&
         partition.replay_markers.front().second.merged_through < before_sequence) {
    const auto [sequence, marker] = partition.replay_markers.front();
    partition.replay_markers.pop_front();
    if (--replay_markers_left_ == 0) {
      replaying_ = false;
      spdlog::info("spool: the earlier run's flushes are replayed; the writers decide from here");
    }
    Flush flush = take(partition, marker.watermark_ms, marker.everything);
    if (flush.taken.empty()) continue;
    flush.stamp = sequence;
    flush.replayed = true;
    stats_.keys_pending -= flush.taken.size();
    stats_.keys_in_flight += flush.taken.size();
    partition.queued.push_back(std::move(flush));
    partition.wake.notify_one();
  }
}

void Pipeline::finish_replay() {
  for (auto& partition : partitions_) {
    std::lock_guard lock(partition->mu);
    apply_replay_markers(*partition, UINT64_MAX);
  }
  replaying_ = false;
}

Pipeline::Flush Pipeline::take(Partition& partition, std::int64_t watermark_ms, bool everything) {
  const std::int64_t width_ms = std::chrono::duration_cast<milliseconds>(options_.bucket_width).count();
  const std::int64_t grace_ms = std::chrono::duration_cast<milliseconds>(options_.grace).count();
  // Only the key's bucket decides, never the entry's history: a replay, which may rebuild an
  // entry from fewer records than it had, must take exactly the entries the marker took.
  const auto closed = [&](std::int64_t bucket_ms) {
    return everything || bucket_ms + width_ms + grace_ms <= watermark_ms;
  };
  Flush flush;
  for (auto it = partition.bucket_first_sequence.begin(); it != partition.bucket_first_sequence.end();) {
    if (!closed(it->first)) {
      ++it;
      continue;
    }
    flush.min_first_sequence = std::min(flush.min_first_sequence, it->second);
    it = partition.bucket_first_sequence.erase(it);
  }
  if (flush.min_first_sequence == UINT64_MAX) return flush;  // no bucket closed
  if (everything) {
    partition.entries.take_all(flush.taken);
    partition.last_full_take = flush.taken.size();
    return flush;
  }
  partition.entries.take_if(closed, flush.taken);
  return flush;
}

void Pipeline::render(Flush& flush) {
  // The one place a binary key becomes text: once per document written.
  flush.batch.reserve(flush.batch.size() + flush.taken.size());
  for (const auto& [key, aggregate] : flush.taken) {
    KeyedAggregate item{render_metric_key(key), {}, aggregate};
    item.id = encode_document_id(item.key);
    flush.batch.push_back(std::move(item));
  }
  std::vector<std::pair<FlowKey, MetricAggregate>>().swap(flush.taken);
}

void Pipeline::release_settled(std::uint64_t next_unconsumed) {
  // Abandoned writers leave their batches unsettled without saying so: release nothing then.
  if (abandon_) return;
  std::uint64_t oldest = next_unconsumed;
  for (auto& partition : partitions_) {
    std::lock_guard lock(partition->mu);
    oldest = std::min(oldest, partition->in_flight_min_sequence);
    for (const Flush& flush : partition->queued) oldest = std::min(oldest, flush.min_first_sequence);
    for (const auto& [bucket, first] : partition->bucket_first_sequence) oldest = std::min(oldest, first);
  }
  // The origins and the idempotency keys are in the segments' frames too: a segment goes only
  // once both are durable elsewhere.
  if (!persist_origins()) return;
  if (keys_ != nullptr && !keys_->sync()) return;
  spool_.release_before(oldest);
}

bool Pipeline::persist_origins() {
  std::map<std::string, std::uint64_t> snapshot;
  {
    std::lock_guard lock(origins_mu_);
    if (origin_offsets_ == persisted_origins_) return true;
    snapshot = origin_offsets_;
  }
  std::string text;
  for (const auto& [origin, offset] : snapshot) text += std::to_string(offset) + '\t' + origin + '\n';
  if (spool_.directory().replace(spool::SpoolDirectory::kOrigins, text)) return false;  // logged and counted there
  std::lock_guard lock(origins_mu_);
  persisted_origins_ = std::move(snapshot);
  return true;
}

// ---- The writers

void Pipeline::run_writer(Partition& partition) {
  for (;;) {
    Flush flush;
    {
      std::unique_lock lock(partition.mu);
      partition.wake.wait_for(lock, options_.flush_interval, [&] {
        return !partition.queued.empty() || partition.flush_requested || consumed_all_.load() || abandon_.load();
      });
      if (abandon_) return;
      if (!partition.queued.empty()) {
        flush = std::move(partition.queued.front());
        partition.queued.pop_front();
      } else if (!replaying_) {
        const bool finishing = consumed_all_.load();
        const bool everything =
            finishing || partition.flush_all_requested || partition.entries.size() >= partition_limit_;
        // A bucket closes when the newest timestamp is a grace period past its end. When the
        // newest timestamp has not moved for a bucket width plus grace (a quiet stream), the
        // clock stands in for it, so the last buckets are written too.
        std::int64_t watermark = watermark_ms_.load();
        if (now_() - watermark_advanced_.load() >= options_.bucket_width + options_.grace) {
          watermark = std::max(watermark, spool::wall_clock_ms());
        }
        partition.flush_requested = false;
        flush = take(partition, watermark, everything);
        if (flush.taken.empty()) {
          if (finishing && partition.entries.empty()) return;
          continue;
        }
        spool::FlushMarker marker{partition.index, partition.merged_through, watermark, everything};
        const spool::Appended appended = spool_.append(spool::FrameType::flush, spool::encode(marker), /*force=*/true);
        // The marker must be on disk before any document carries its stamp.
        if (!appended || !spool_.sync(appended.sequence)) {
          // The disk refused the marker, or its fsync: put the entries back and try again later
          // (a marker that reached the disk anyway is cut off before the spool resumes).
          // (first_sequence only decides when the spool may be released: the batch's oldest is safe.)
          for (const auto& [key, aggregate] : flush.taken) partition.entries.insert_absent(key, aggregate);
          for (const auto& [key, aggregate] : flush.taken) {
            auto [it, inserted] =
                partition.bucket_first_sequence.try_emplace(key.timestamp_ms, flush.min_first_sequence);
            if (!inserted) it->second = std::min(it->second, flush.min_first_sequence);
          }
          lock.unlock();
          std::this_thread::sleep_for(milliseconds(500));
          continue;
        }
        flush.stamp = appended.sequence;
        partition.flush_all_requested = false;
        stats_.keys_pending -= flush.taken.size();
        stats_.keys_in_flight += flush.taken.size();
      } else {
        continue;
      }
      partition.in_flight_min_sequence = flush.min_first_sequence;
    }
    render(flush);
    ++stats_.flushes;
    const auto started = Clock::now();
    write_with_retry(partition, flush);
    if (abandon_) return;  // the batch stays unsettled, and in the spool
    spdlog::debug("flush {}: {} keys written in {:.1f} ms", flush.stamp, flush.batch.size(),
                  std::chrono::duration<double, std::milli>(Clock::now() - started).count());
    {
      std::lock_guard lock(partition.mu);
      partition.in_flight_min_sequence = UINT64_MAX;
    }
    capacity_.notify_all();
  }
}

void Pipeline::write_with_retry(Partition& partition, Flush& flush) {
  // A live flush's marker sequence is new, so its first send cannot find its stamp anywhere;
  // a replayed flush, and every re-send, may.
  WriteStamp stamp{spool_.identity() + "-p" + std::to_string(partition.index), flush.stamp, !flush.replayed};
  milliseconds backoff(100);
  auto& batch = flush.batch;
  // The written items of this flush, for its rollups: written once every chunk is, under the
  // flush's stamp, so that a replayed flush rebuilds and skips the same rollup documents
  // (docs/rollups.md); chunks cannot each roll up, they share the stamp. The items count as
  // settled (drain waits for them) only after their rollups.
  std::vector<KeyedAggregate> written;
  std::size_t begin = 0;
  while (begin < batch.size()) {
    const std::size_t end = std::min(batch.size(), begin + options_.max_batch_keys);
    std::vector<KeyedAggregate> chunk(std::make_move_iterator(batch.begin() + static_cast<std::ptrdiff_t>(begin)),
                                      std::make_move_iterator(batch.begin() + static_cast<std::ptrdiff_t>(end)));
    stamp.unapplied = !flush.replayed;  // each chunk's documents are sent for the first time
    while (!chunk.empty()) {
      if (abandon_) return;  // left in the spool: the next start writes it
      const auto start = Clock::now();
      UpsertResult result;
      try {
        result = writer_.write(chunk, &stamp);
        stamp.unapplied = false;
      } catch (const Error& e) {
        return;  // only a closed agent throws here; the records stay in the spool
      }
      ++stats_.write_calls;
      stats_.write_latency.observe(std::chrono::duration<double>(Clock::now() - start).count());
      stats_.documents_upserted += result.upserted;
      stats_.documents_updated += result.matched;
      std::vector<KeyedAggregate> again;
      std::size_t next_error = 0;
      for (std::size_t i = 0; i < chunk.size(); ++i) {
        const ItemError* error = nullptr;
        if (next_error < result.errors.size() && result.errors[next_error].index == i)
          error = &result.errors[next_error++];
        if (error == nullptr) {
          written.push_back(std::move(chunk[i]));  // settled once its rollups are written
        } else if (!retryable(error->code)) {
          spdlog::error("write of {} failed for good: {}", chunk[i].id, error->message);
          settle(chunk[i], false, error->outcome_unknown);
        } else {
          // Stamped, so re-sending is safe even when the outcome is unknown.
          again.push_back(std::move(chunk[i]));
        }
      }
      chunk = std::move(again);
      if (!chunk.empty()) {
        ++stats_.write_retries;
        std::unique_lock lock(capacity_mu_);
        capacity_.wait_for(lock, backoff, [this] { return abandon_.load(); });
        backoff = std::min(backoff * 2, milliseconds(5'000));
      }
    }
    begin = end;
  }
  if (!write_rollups_with_retry(written, stamp)) return;  // abandoned: left in the spool
  for (const KeyedAggregate& item : written) settle(item, true, false);
}

bool Pipeline::write_rollups_with_retry(std::span<const KeyedAggregate> written, const WriteStamp& stamp) {
  milliseconds backoff(100);
  while (!written.empty()) {
    if (abandon_) return false;
    try {
      const UpsertResult result = writer_.write_rollups(written, &stamp);
      const bool again =
          std::any_of(result.errors.begin(), result.errors.end(), [](const ItemError& e) { return retryable(e.code); });
      for (const ItemError& e : result.errors) {
        if (!retryable(e.code)) spdlog::error("rollup write failed for good: {}", e.message);
      }
      if (!again) return true;
    } catch (const Error& e) {
      return false;  // only a closed agent throws here; a replay of the flush writes the rollups
    }
    ++stats_.write_retries;
    std::unique_lock lock(capacity_mu_);
    capacity_.wait_for(lock, backoff, [this] { return abandon_.load(); });
    backoff = std::min(backoff * 2, milliseconds(5'000));
  }
  return true;
}

void Pipeline::settle(const KeyedAggregate& item, bool written, bool unknown) {
  const std::uint64_t records = item.aggregate.count;
  if (written) {
    stats_.written += records;
  } else {
    stats_.failed += records;
    if (unknown) stats_.failed_unknown += records;
  }
  stats_.records_pending -= records;
  --stats_.keys_in_flight;
}

bool Pipeline::drain(milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  draining_ = true;
  capacity_.notify_all();
  {
    std::unique_lock lock(capacity_mu_);
    while (!(consumed_all_ && stats_.records_pending.load() == 0) && Clock::now() < deadline) {
      capacity_.wait_until(lock, std::min(deadline, Clock::now() + milliseconds(100)));
    }
  }
  const bool complete = consumed_all_ && stats_.records_pending.load() == 0;
  if (!complete) abandon_ = true;
  capacity_.notify_all();
  if (consumer_.joinable()) consumer_.join();
  for (auto& partition : partitions_) {
    partition->wake.notify_all();
    if (partition->writer.joinable()) partition->writer.join();
  }
  if (complete) {
    // Everything is settled and every thread has stopped: the writers' last flush markers,
    // appended after the last frame read, need not be kept either.
    release_settled(spool_.last_sequence() + 1);
  } else {
    spdlog::warn("drain: {} records are not written yet; they stay in the spool and are written after a restart",
                 stats_.records_pending.load());
  }
  return complete;
}

}  // namespace flowmetrics::pipeline
