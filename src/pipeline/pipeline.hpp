#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "core/flow_key.hpp"
#include "flowmetrics/metric_aggregate.hpp"
#include "flowmetrics/metric_key.hpp"
#include "pipeline/aggregate_writer.hpp"
#include "pipeline/flow_table.hpp"
#include "pipeline/pipeline_stats.hpp"
#include "pipeline/record_sink.hpp"
#include "spool/idempotency_index.hpp"
#include "spool/spool.hpp"
#include "spool/spooled_records.hpp"

namespace flowmetrics::pipeline {

struct PipelineOptions {
  std::chrono::seconds bucket_width{60};  // 0 keeps exact timestamps
  std::size_t writers = 2;
  std::size_t max_pending_keys = 200'000;
  std::size_t max_batch_keys = 5'000;
  std::chrono::milliseconds flush_interval{1'000};
  std::chrono::seconds grace{5};
};

// What opening the spool found that the pipeline needs before it reads a frame: every flush
// marker (with its frame's sequence) and, per ingest origin, the furthest offset spooled.
struct SpoolReplay {
  std::vector<std::pair<std::uint64_t, spool::FlushMarker>> markers;
  std::map<std::string, std::uint64_t> origin_offsets;
  std::uint64_t last_sequence = 0;  // the newest frame found; 0 when the spool was empty
};

// inputs -> spool -> consumer: validate, aggregate per (key, time bucket) -> writers.
//
// submit() validates an input's records once (make_flow_update: a binary FlowKey or a
// rejection reason; submit_flows() takes keys an input's own edge built), appends the valid
// ones to the spool and returns: nothing an input does waits for the database. The batch
// also stays in memory, and the one consumer thread takes it from there, in spool order
// (the files are read back only to recover what an earlier run left). The consumer buckets
// each key, hashes it once (hash_flow_key) and merges it into one of `writers` partitions
// (partition_of: the hash's high bits); each partition has one writer thread, so no two
// writes ever touch the same document at once and each key's writes stay in order. While
// the partitions hold max_pending_keys keys the consumer waits (memory is bounded), and the
// spool absorbs input up to its cap; beyond it saturated() is true and inputs push back.
//
// A writer takes the entries of its partition whose bucket has closed (its end plus `grace`
// is behind the newest timestamp, or behind the clock once the newest timestamp has not moved
// for a bucket width plus grace), or all of them (the partition is full, or draining), appends a flush marker to the
// spool saying exactly which entries it took, fsyncs it, and writes them stamped with the marker's sequence. After a
// crash the spool is replayed from its oldest segment with the same markers, which rebuilds the same batches; documents
// that already carry a batch's stamp ignore it, so nothing is written twice and nothing is lost (docs/durability.md).
// A records frame of version 1 (an earlier release's spool) is partitioned as that release did
// (hash_key of the text key), and before the first version-2 frame after it every partition is
// flushed whole: a key's entries never sit in two partitions at once.
// Segments are deleted once every record in them is written or failed for good.
class Pipeline final : public RecordSink {
 public:
  using Clock = std::chrono::steady_clock;

  // `writer`, `stats`, `spool` and `keys` (optional) must outlive the pipeline.
  Pipeline(PipelineOptions options, AggregateWriter& writer, PipelineStats& stats, spool::Spool& spool,
           spool::IdempotencyIndex* keys, SpoolReplay replay, std::function<Clock::time_point()> now = Clock::now);
  ~Pipeline();  // abandons what is pending (it stays in the spool): call drain() first
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  Admission submit(std::span<Metric> metrics, std::string_view input,
                   Acknowledgement* acknowledgement = nullptr) override;
  Admission submit_flows(std::span<const FlowUpdate> updates, std::string_view input) override;
  Admission submit_flows_owned(std::vector<FlowUpdate>&& updates, std::string_view input) override;
  // As submit(), remembering that the records come from `origin` up to `offset` (a file
  // being ingested): origin_offset() says where a rerun resumes.
  Admission submit_from(std::span<Metric> metrics, std::string_view input, std::string_view origin,
                        std::uint64_t offset);
  // As submit_flows(), remembering the origin's offset as submit_from() does.
  Admission submit_flows_from(std::span<const FlowUpdate> updates, std::string_view input, std::string_view origin,
                              std::uint64_t offset);
  // As above, keeping the vector as the spooled batch (no copy): `updates` is left empty, or
  // holds the records again when they are refused (full, io_error).
  Admission submit_flows_from(std::vector<FlowUpdate>&& updates, std::string_view input, std::string_view origin,
                              std::uint64_t offset);
  void reject(std::string_view input, std::string_view reason, std::size_t count = 1) override;
  bool saturated() const override;
  std::optional<std::string> io_error() const override;
  bool wait_for_capacity(std::chrono::milliseconds timeout) override;
  void drop(std::string_view input, std::size_t count, std::string_view reason) override;

  // The furthest offset of `origin` that was ever spooled (0 when none).
  std::uint64_t origin_offset(const std::string& origin) const;

  // Consumes the whole spool, writes everything and stops the threads. Returns true when
  // every record was written or failed for good within `timeout`; otherwise stops trying and
  // returns false: what is left stays in the spool for the next start. Call once, after the
  // inputs stopped.
  bool drain(std::chrono::milliseconds timeout);

  bool replaying() const noexcept { return replaying_.load(); }
  const PipelineOptions& options() const noexcept { return options_; }

 private:
  struct Flush {
    std::vector<std::pair<FlowKey, MetricAggregate>> taken;  // binary until the writer renders it
    std::vector<KeyedAggregate> batch;                       // rendered by the writer, outside mu
    std::uint64_t stamp = 0;                                 // the flush marker's sequence
    std::uint64_t min_first_sequence = UINT64_MAX;
    bool replayed = false;  // rebuilt from an earlier run's marker: some of it may be applied
  };
  struct Partition {
    std::uint32_t index = 0;
    std::mutex mu;
    std::condition_variable wake;
    // Open addressing: one probe sequence in one array per lookup, not a node per key
    // (the map is the hottest structure of a NetFlow stream).
    FlowTable entries;  // guarded by mu
    // How many keys the last flush of everything took: the table is reserved for as many
    // when it fills again, instead of growing through every power of two.
    std::size_t last_full_take = 0;  // guarded by mu
    // Per bucket (a take always takes whole buckets), the records frame that created its
    // oldest entry still here: what the spool must keep.
    std::map<std::int64_t, std::uint64_t> bucket_first_sequence;              // guarded by mu
    bool flush_all_requested = false;                                         // guarded by mu
    std::uint64_t merged_through = 0;                                         // guarded by mu
    std::deque<Flush> queued;                                                 // replayed flushes; guarded by mu
    std::deque<std::pair<std::uint64_t, spool::FlushMarker>> replay_markers;  // guarded by mu
    std::uint64_t in_flight_min_sequence = UINT64_MAX;                        // guarded by mu
    bool flush_requested = false;                                             // guarded by mu
    std::thread writer;
  };

  Admission admit(std::span<Metric> metrics, std::string_view input, Acknowledgement* acknowledgement,
                  std::string_view origin, std::uint64_t offset);
  // append() of a batch made of `updates`, which get the records back when it is refused.
  Admission append_owned(std::shared_ptr<spool::RecordBatch> batch, std::string_view input, std::size_t received,
                         std::vector<FlowUpdate>& updates);
  void run_consumer();
  Admission append(std::shared_ptr<spool::RecordBatch> batch, std::string_view input, std::size_t received,
                   const std::vector<KeyRejection>& rejections, Acknowledgement* acknowledgement);
  void consume(std::uint64_t sequence, const spool::RecordBatch& batch);
  // Before the first version-2 frame after version-1 ones: flushes every partition whole.
  void flush_version1_entries(std::uint64_t sequence);
  static void render(Flush& flush);
  void finish_replay();
  void apply_replay_markers(Partition& partition, std::uint64_t before_sequence);  // mu held
  Flush take(Partition& partition, std::int64_t watermark_ms, bool everything);    // mu held
  void release_settled(std::uint64_t next_unconsumed);
  bool persist_origins();  // false when the origins file could not be replaced
  bool memory_saturated() const;
  void run_writer(Partition& partition);
  void write_with_retry(Partition& partition, Flush& flush);
  // Returns false when abandoned before the rollups were written.
  bool write_rollups_with_retry(std::span<const KeyedAggregate> written, const WriteStamp& stamp);
  void settle(const KeyedAggregate& item, bool written, bool unknown);

  const PipelineOptions options_;
  AggregateWriter& writer_;
  PipelineStats& stats_;
  spool::Spool& spool_;
  spool::IdempotencyIndex* keys_;
  const std::function<Clock::time_point()> now_;
  const std::size_t partition_limit_;  // a partition holding this many keys flushes them all
  const std::uint64_t replay_through_;
  std::vector<std::unique_ptr<Partition>> partitions_;
  std::atomic<std::int64_t> watermark_ms_{INT64_MIN};                       // newest bucketed timestamp merged
  std::atomic<Clock::time_point> watermark_advanced_{Clock::time_point{}};  // when it last grew
  std::atomic<bool> replaying_{false};
  std::atomic<std::size_t> replay_markers_left_{0};
  std::atomic<bool> draining_{false};
  std::atomic<bool> consumed_all_{false};  // draining, and the consumer read the last frame
  std::atomic<bool> abandon_{false};
  std::thread consumer_;
  // The consumer's own: version-1 entries may be in the partitions; per-frame scratch.
  bool version1_entries_ = false;
  struct Routed {
    FlowKey key;
    std::uint64_t hash;
    const spool::SpooledRecord* record;
  };
  std::vector<std::vector<Routed>> routed_;
  std::mutex capacity_mu_;
  std::condition_variable capacity_;

  mutable std::mutex origins_mu_;
  std::map<std::string, std::uint64_t> origin_offsets_;     // spooled; guarded by origins_mu_
  std::map<std::string, std::uint64_t> persisted_origins_;  // guarded by origins_mu_

  std::mutex keys_mu_;
  std::condition_variable key_done_;
  std::set<std::string> keys_in_progress_;  // guarded by keys_mu_
};

}  // namespace flowmetrics::pipeline
