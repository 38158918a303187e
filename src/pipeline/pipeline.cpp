#include "pipeline/pipeline.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "flowmetrics/validation.hpp"

namespace flowmetrics::pipeline {
namespace {

using std::chrono::milliseconds;

// The counter label for a field that failed validation (the same labels the JSON parser uses).
std::string_view reason_for_field(std::string_view field) {
  if (field == "source_ip" || field == "dest_ip") return "invalid_ip";
  if (field == "source_port" || field == "dest_port") return "invalid_port";
  if (field == "protocol") return "invalid_protocol";
  if (field == "timestamp") return "invalid_timestamp";
  return "invalid_value";
}

bool retryable(errc code) {
  return code != errc::server_error && code != errc::invalid_argument;
}

}  // namespace

Pipeline::Pipeline(PipelineOptions options, AggregateWriter& writer, PipelineStats& stats,
                   std::function<Clock::time_point()> now)
    : options_(options),
      writer_(writer),
      stats_(stats),
      now_(std::move(now)),
      partition_limit_(
          std::max<std::size_t>(1, options.max_pending_keys / (2 * std::max<std::size_t>(1, options.writers)))) {
  const std::size_t count = std::max<std::size_t>(1, options_.writers);
  for (std::size_t i = 0; i < count; ++i) partitions_.push_back(std::make_unique<Partition>());
  for (auto& partition : partitions_) {
    Partition* p = partition.get();
    p->writer = std::thread([this, p] { run_writer(*p); });
  }
}

Pipeline::~Pipeline() {
  abandon_ = true;
  draining_ = true;
  for (auto& partition : partitions_) {
    {
      std::lock_guard lock(partition->mu);
      partition->flush_requested = true;
    }
    partition->wake.notify_all();
  }
  for (auto& partition : partitions_) {
    if (partition->writer.joinable()) partition->writer.join();
  }
}

void Pipeline::submit(std::span<Metric> metrics, std::string_view input) {
  if (metrics.empty()) return;
  stats_.received.add(input, "", metrics.size());
  const std::int64_t width_ms = std::chrono::duration_cast<milliseconds>(options_.bucket_width).count();
  const std::size_t count = partitions_.size();

  // Validate and bucket outside any lock, then merge partition by partition.
  std::vector<std::vector<std::pair<MetricKey, const Metric*>>> by_partition(count);
  std::int64_t newest = INT64_MIN;
  std::size_t accepted = 0;
  for (const Metric& metric : metrics) {
    MetricKey key;
    if (auto error = make_metric_key(metric, key)) {
      stats_.rejected.add(input, reason_for_field(error->field), 1);
      continue;
    }
    if (width_ms > 0) key.timestamp_ms -= key.timestamp_ms % width_ms;
    newest = std::max(newest, key.timestamp_ms);
    const std::size_t p = static_cast<std::size_t>(hash_key(key) % count);
    by_partition[p].emplace_back(std::move(key), &metric);
    ++accepted;
  }
  const auto now = now_();
  for (std::size_t p = 0; p < count; ++p) {
    if (by_partition[p].empty()) continue;
    Partition& partition = *partitions_[p];
    std::size_t new_keys = 0;
    bool full = false;
    {
      std::lock_guard lock(partition.mu);
      for (auto& [key, metric] : by_partition[p]) {
        auto [it, inserted] = partition.entries.try_emplace(std::move(key), Entry{{}, now});
        if (inserted) ++new_keys;
        it->second.aggregate.add(*metric);
      }
      full = partition.entries.size() >= partition_limit_;
      if (full) partition.flush_requested = true;
    }
    stats_.keys_pending += new_keys;
    if (full) partition.wake.notify_one();
  }
  stats_.accepted += accepted;
  stats_.records_pending += accepted;
  std::int64_t seen = watermark_ms_.load();
  while (newest > seen && !watermark_ms_.compare_exchange_weak(seen, newest)) {
  }
}

void Pipeline::reject(std::string_view input, std::string_view reason, std::size_t count) {
  stats_.received.add(input, "", count);
  stats_.rejected.add(input, reason, count);
}

void Pipeline::drop(std::string_view input, std::size_t count) {
  stats_.dropped.add(input, "saturated", count);
}

bool Pipeline::saturated() const {
  return stats_.keys_pending.load() + stats_.keys_in_flight.load() >= options_.max_pending_keys;
}

bool Pipeline::wait_for_capacity(milliseconds timeout) {
  if (!saturated()) return true;
  ++stats_.backpressure_waits;
  std::unique_lock lock(capacity_mu_);
  return capacity_.wait_for(lock, timeout, [this] { return !saturated() || abandon_.load(); }) && !saturated();
}

void Pipeline::take_flushable(Partition& partition, bool everything, std::vector<KeyedAggregate>& batch) {
  const std::int64_t width_ms = std::chrono::duration_cast<milliseconds>(options_.bucket_width).count();
  const std::int64_t grace_ms = std::chrono::duration_cast<milliseconds>(options_.grace).count();
  const std::int64_t watermark = watermark_ms_.load();
  const auto now = now_();
  const auto max_wait = options_.bucket_width + options_.grace;
  for (auto it = partition.entries.begin(); it != partition.entries.end();) {
    const std::int64_t bucket_end = it->first.timestamp_ms + width_ms;
    const bool closed = bucket_end + grace_ms <= watermark || now - it->second.first_seen >= max_wait;
    if (!everything && !closed) {
      ++it;
      continue;
    }
    auto node = partition.entries.extract(it++);
    KeyedAggregate item{std::move(node.key()), {}, node.mapped().aggregate};
    item.id = encode_document_id(item.key);
    batch.push_back(std::move(item));
  }
}

void Pipeline::run_writer(Partition& partition) {
  std::vector<KeyedAggregate> batch;
  for (;;) {
    {
      std::unique_lock lock(partition.mu);
      partition.wake.wait_for(lock, options_.flush_interval,
                              [&] { return partition.flush_requested || draining_.load(); });
      if (abandon_) return;
      const bool everything = draining_ || partition.entries.size() >= partition_limit_;
      take_flushable(partition, everything, batch);
      partition.flush_requested = false;
      if (batch.empty() && draining_ && partition.entries.empty()) return;
      stats_.keys_pending -= batch.size();
      stats_.keys_in_flight += batch.size();
    }
    if (batch.empty()) continue;
    ++stats_.flushes;
    const auto started = Clock::now();
    const std::size_t keys = batch.size();
    write_with_retry(batch);
    spdlog::debug("flush: {} keys written in {:.1f} ms", keys,
                  std::chrono::duration<double, std::milli>(Clock::now() - started).count());
    batch.clear();
    capacity_.notify_all();
  }
}

void Pipeline::write_with_retry(std::vector<KeyedAggregate>& batch) {
  milliseconds backoff(100);
  std::size_t begin = 0;
  while (begin < batch.size()) {
    const std::size_t end = std::min(batch.size(), begin + options_.max_batch_keys);
    std::vector<KeyedAggregate> chunk(std::make_move_iterator(batch.begin() + static_cast<std::ptrdiff_t>(begin)),
                                      std::make_move_iterator(batch.begin() + static_cast<std::ptrdiff_t>(end)));
    while (!chunk.empty()) {
      const auto start = Clock::now();
      UpsertResult result;
      try {
        result = writer_.write(chunk);
      } catch (const Error& e) {
        // Only a closed agent throws here; nothing can be written any more.
        for (const auto& item : chunk) settle(item, false, false);
        chunk.clear();
        break;
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
          settle(chunk[i], true, false);
        } else if (error->outcome_unknown || !retryable(error->code)) {
          settle(chunk[i], false, error->outcome_unknown);
        } else if (abandon_) {
          abandoned_records_ += chunk[i].aggregate.count;
          settle(chunk[i], false, false);
        } else {
          again.push_back(std::move(chunk[i]));
        }
      }
      chunk = std::move(again);
      if (!chunk.empty()) {
        ++stats_.write_retries;
        std::this_thread::sleep_for(backoff);
        backoff = std::min(backoff * 2, milliseconds(5'000));
      }
    }
    begin = end;
  }
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
  for (auto& partition : partitions_) partition->wake.notify_all();
  // Wait for the writers to empty their partitions; past the deadline, make them give up.
  std::thread watchdog([this, deadline] {
    std::unique_lock lock(capacity_mu_);
    while (stats_.records_pending.load() > 0 && Clock::now() < deadline) {
      capacity_.wait_until(lock, std::min(deadline, Clock::now() + milliseconds(100)));
    }
    if (stats_.records_pending.load() > 0) abandon_ = true;
  });
  for (auto& partition : partitions_) {
    if (partition->writer.joinable()) partition->writer.join();
  }
  watchdog.join();
  // Whatever abandoned writers left in the maps is counted as failed, so the books balance.
  for (auto& partition : partitions_) {
    std::lock_guard lock(partition->mu);
    for (auto& [key, entry] : partition->entries) {
      stats_.failed += entry.aggregate.count;
      abandoned_records_ += entry.aggregate.count;
      stats_.records_pending -= entry.aggregate.count;
      --stats_.keys_pending;
    }
    partition->entries.clear();
  }
  capacity_.notify_all();
  return abandoned_records_.load() == 0;
}

}  // namespace flowmetrics::pipeline
