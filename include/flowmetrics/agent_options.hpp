#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

#include "flowmetrics/merge_policy.hpp"

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
// five-tuple x hour in "<collection>_1h", per-dimension totals per minute and per hour in
// "<collection>_totals_1m" and "<collection>_totals_1h". Kept only under
// MergePolicy::aggregate (a replaced value cannot be summed into a coarser bucket); under
// replace, queries read the minute collection alone.
struct RollupOptions {
  bool enabled = true;
  // How long each tier keeps a bucket (unset: forever). MongoDB: a TTL index per tier,
  // created by create_metrics_indexes(). FerretDB has no TTL: expire_rollups() deletes, and
  // the collector calls it periodically. A query uses a tier only for buckets it still keeps.
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
  // Write concern of every write: "majority" or a number of members ("1", "2", ...), and
  // whether the server must have the write in its journal before acknowledging it.
  std::string write_concern = "majority";
  bool journal = true;
  std::string app_name = "flowmetrics";
  RollupOptions rollups;
};

}  // namespace flowmetrics
