#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

#include "flowmetrics/merge_policy.hpp"
#include "flowmetrics/write_concern.hpp"

namespace flowmetrics {

// Connection pool limits. The same settings are read from the URI (maxPoolSize,
// minPoolSize, maxIdleTimeMS, waitQueueTimeoutMS); a value in the URI wins over the struct.
struct PoolOptions {
  std::size_t max_size = 150;
  std::size_t min_size = 25;
  std::chrono::milliseconds max_idle_time = std::chrono::hours(1);
  // How long a caller waits for a connection when all max_size are in use.
  std::chrono::milliseconds wait_queue_timeout = std::chrono::seconds(10);
  // How often idle connections are pinged; a connection that fails is replaced.
  std::chrono::milliseconds health_check_interval = std::chrono::seconds(10);
};

// The coarser tiers kept beside the minute collection for the read side (docs/rollups.md):
// five-tuple x hour in "<collection>_1h", and per-dimension totals per minute and per hour in
// collections sharded by time ("<collection>_totals_1m_<dimension>_<YYYYMMDDHH>",
// "<collection>_totals_1h_<dimension>_<YYYYMMDD>"). Kept only under MergePolicy::aggregate (a
// replaced value cannot be summed into a coarser bucket); under replace, queries read the
// minute collection alone.
struct RollupOptions {
  bool enabled = true;
  // The five-tuple x hour tier (filtered and multi-dimension queries over whole hours). Unset:
  // kept except on FerretDB v1, where each of its per-minute updates reads the whole tier
  // (docs/rollups.md, "The embedded default"); there filtered queries read the minute collection.
  std::optional<bool> five_tuple_hours;
  // How long each tier keeps a bucket (unset: forever). The five-tuple hour tier: by the clock,
  // a TTL index on MongoDB, created by create_metrics_indexes(); FerretDB has no TTL, so
  // expire_rollups() deletes. The totals tiers: counted back from the newest data written
  // (capped at now), not from the clock, so historical data keeps its last stretch; a write
  // raises the tier's stored horizon and expire_rollups() drops the shards before it (on every
  // server). The collector calls it periodically. A query uses a tier only for buckets it still
  // keeps, by the stored horizon, whatever this process's own retention (docs/rollups.md).
  std::optional<std::chrono::seconds> hour_retention;
  std::optional<std::chrono::seconds> minute_totals_retention = std::chrono::hours(48);
  std::optional<std::chrono::seconds> hour_totals_retention;
};

struct AgentOptions {
  PoolOptions pool;
  // Default deadline of every public call; also the socket timeout of one round trip.
  std::chrono::milliseconds operation_timeout = std::chrono::seconds(30);
  // How long opening one connection may take.
  std::chrono::milliseconds connect_timeout = std::chrono::seconds(5);
  MergePolicy merge_policy = MergePolicy::replace;
  // Largest bulk write command sent: the server's limits (100,000 operations, 48 MB).
  // Smaller values only split calls into more commands.
  std::size_t max_batch_operations = 100'000;
  std::size_t max_batch_bytes = 48'000'000;
  // Largest update command (the writes to keys that already exist). Unset means the
  // server's safe limit: max_batch_operations on MongoDB, 10 on FerretDB v1, whose SQLite
  // backend deadlocks with more than 100 update statements in flight (README, "FerretDB").
  // options() reports the value in effect.
  std::optional<std::size_t> max_update_batch_operations;
  // When set, create_metrics_indexes() also creates a TTL index on `timestamp` that
  // expires documents this long after their timestamp.
  std::optional<std::chrono::seconds> retention;
  // Name of the compound unique index on the six key fields.
  std::string index_name = "flowmetrics_key_unique";
  // Write concern of every write (majority, or WriteConcern::members(n)), and whether the
  // server must have the write in its journal before acknowledging it.
  WriteConcern write_concern = WriteConcern::majority();
  bool journal = true;
  std::string app_name = "flowmetrics";
  RollupOptions rollups;
};

}  // namespace flowmetrics
