#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "flowmetrics/agent_options.hpp"
#include "flowmetrics/error.hpp"
#include "flowmetrics/metric.hpp"
#include "flowmetrics/metric_aggregate.hpp"
#include "flowmetrics/pool_stats.hpp"
#include "flowmetrics/query.hpp"
#include "flowmetrics/upsert_result.hpp"
#include "flowmetrics/write_stamp.hpp"

namespace flowmetrics {

// Writes network metrics to one MongoDB collection through a pool of connections.
//
// Thread safety: every method may be called from any number of threads at once.
// Errors: every method reports failure by throwing flowmetrics::Error (or its subclass
// UpsertError); every call is bounded by a deadline, AgentOptions::operation_timeout unless
// a shorter one is passed. Transient failures (no server, broken connection, not primary)
// are retried with exponential backoff until the deadline.
class MetricsAgent {
 public:
  // Parses `uri`, opens the pool's minimum number of connections (each verified with a
  // ping) and starts the pool's maintenance thread.
  // Throws Error(invalid_argument) for a bad URI or name, Error(server_unreachable) when no
  // connection can be opened within connect_timeout.
  MetricsAgent(std::string_view uri, std::string_view database, std::string_view collection, AgentOptions options = {});
  ~MetricsAgent();  // calls close()

  MetricsAgent(const MetricsAgent&) = delete;
  MetricsAgent& operator=(const MetricsAgent&) = delete;
  MetricsAgent(MetricsAgent&&) noexcept;
  MetricsAgent& operator=(MetricsAgent&&) noexcept;

  // Creates the compound unique index on (source_ip, dest_ip, source_port, dest_port,
  // protocol, timestamp) named AgentOptions::index_name, and the TTL index when retention
  // is set (otherwise a plain {timestamp: 1} index for the queries' time ranges). With
  // rollups, the same key index and a timestamp index on "<collection>_1h", and on MongoDB a
  // TTL index per rollup tier that has a retention (README, "Querying"). A second call is a
  // no-op. Throws Error(index_conflict) when an index with the same name or keys exists with
  // other options; it is never dropped or replaced.
  void create_metrics_indexes();

  // Validates, merges and upserts `metrics` with the configured merge policy.
  // Items that repeat a key are merged first, in input order. Invalid items are rejected
  // and the valid ones are still written. Returns the accounting when every item was
  // written; otherwise throws UpsertError carrying the same accounting.
  UpsertResult batch_upsert_metrics(std::span<const Metric> metrics);
  UpsertResult batch_upsert_metrics(std::span<const Metric> metrics, std::chrono::milliseconds timeout);

  // The pipeline's entry point: writes already merged, already valid aggregates, one per
  // distinct key (the caller guarantees the keys are distinct). Never throws for item
  // failures: they are reported in the result (ItemError::index is the position in
  // `aggregates`). Throws Error(agent_closed) when the agent is closed.
  // With a `stamp`, documents that already carry it (or a later sequence of its stream) are
  // left unchanged and count as written, which makes a repeated call safe (write_stamp.hpp);
  // an outcome-unknown write is then re-sent instead of being reported unknown.
  UpsertResult upsert_aggregates(std::span<const KeyedAggregate> aggregates,
                                 std::optional<std::chrono::milliseconds> timeout = {},
                                 const WriteStamp* stamp = nullptr);

  // Adds `written` -- minute aggregates that upsert_aggregates() reported written -- to the
  // rollup tiers (AgentOptions::rollups; docs/rollups.md). A no-op under MergePolicy::replace
  // or with rollups disabled. With a `stamp`, every rollup document records it like the
  // minute documents do, so a call repeated with the same stamp adds nothing a second time:
  // pass ALL the written items of one stamp in ONE call (after all of its upsert_aggregates
  // calls), and repeat that call until it succeeds. Never throws for item failures (result
  // indexes then count rollup documents, not items); throws Error(agent_closed).
  UpsertResult upsert_rollups(std::span<const KeyedAggregate> written,
                              std::optional<std::chrono::milliseconds> timeout = {}, const WriteStamp* stamp = nullptr);

  // Drops the totals shards before their tier's stored horizon (the retention counted back from
  // the newest data written: docs/rollups.md, "Retention") and, where the server has no TTL
  // indexes (FerretDB), deletes the five-tuple hour documents past theirs. upsert_rollups()
  // calls it at most every ten minutes. Returns the documents deleted plus the shards dropped.
  std::size_t expire_rollups();

  // The read side (query.hpp). Aggregations run in the server on the coarsest tiers that
  // answer the request exactly; the result says which tiers answered. Throws
  // Error(invalid_argument) naming the field for a bad request, and the usual errors
  // (deadline_exceeded, server_error, agent_closed, ...). Thread-safe like every method.
  TopResult top(const TopQuery& query, std::optional<std::chrono::milliseconds> timeout = {});
  SeriesResult series(const SeriesQuery& query, std::optional<std::chrono::milliseconds> timeout = {});

  // One round trip on a pooled connection. Returns false instead of throwing.
  bool ping(std::optional<std::chrono::milliseconds> timeout = {}) noexcept;

  PoolStats pool_stats() const;
  const AgentOptions& options() const noexcept;

  // Waits for calls in progress, closes every connection and stops the maintenance
  // thread. Idempotent; later calls on the agent throw Error(agent_closed).
  void close() noexcept;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace flowmetrics
