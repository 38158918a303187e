#include "flowmetrics/metrics_agent.hpp"

#include <algorithm>
#include <atomic>
#include <limits>
#include <mutex>
#include <thread>

#include "core/merge.hpp"
#include "mongo/batch_planner.hpp"
#include "mongo/bulk_writer.hpp"
#include "mongo/connection_pool.hpp"
#include "mongo/index_manager.hpp"
#include "mongo/query_engine.hpp"
#include "mongo/rollups.hpp"
#include "mongo/server_profile.hpp"
#include "mongo/totals_writer.hpp"
#include "mongo/uri.hpp"

namespace flowmetrics {
namespace {

using Clock = mongo::ConnectionPool::Clock;
using std::chrono::milliseconds;

void check_name(std::string_view name, std::string_view what, std::string_view forbidden) {
  if (name.empty()) throw Error(errc::invalid_argument, std::string(what) + " name must not be empty");
  if (name.find_first_of(forbidden) != std::string_view::npos || name.find('\0') != std::string_view::npos) {
    throw Error(errc::invalid_argument, std::string(what) + " name '" + std::string(name) + "' contains one of \"" +
                                            std::string(forbidden) + "\"");
  }
}

bool is_transient(errc code) {
  return code == errc::server_unreachable || code == errc::network_error || code == errc::pool_wait_timeout;
}

// Items that failed, described for an exception message: the first one, and how many.
std::string summarize(const UpsertResult& result) {
  std::string text = std::to_string(result.rejected + result.failed) + " of " + std::to_string(result.input) +
                     " metrics were not written (" + std::to_string(result.rejected) + " rejected, " +
                     std::to_string(result.failed) + " failed)";
  if (!result.errors.empty()) {
    const ItemError& first = result.errors.front();
    text += "; first: item " + std::to_string(first.index);
    if (!first.field.empty()) text += " field " + first.field;
    text += ": " + first.message;
  }
  return text;
}

}  // namespace

class MetricsAgent::Impl {
 public:
  Impl(std::string_view uri, std::string_view database, std::string_view collection, const AgentOptions& options)
      : resolved_(mongo::resolve_uri(uri, options)),
        target_{checked(database, "database", "/\\. \"$"), checked(collection, "collection", "$"),
                resolved_.options.merge_policy},
        pool_(resolved_.client_uri.get(), resolved_.options.pool, resolved_.hosts) {
    adapt_to_server();
  }

  const AgentOptions& options() const { return resolved_.options; }

  Clock::time_point deadline_after(std::optional<milliseconds> timeout) const {
    return Clock::now() + timeout.value_or(resolved_.options.operation_timeout);
  }

  void check_open() const {
    if (closed_.load()) throw Error(errc::agent_closed, "the agent is closed");
  }

  void create_indexes() {
    check_open();
    const auto deadline = deadline_after(std::nullopt);
    const AgentOptions& o = resolved_.options;
    std::vector<mongo::IndexPlan> plans{{target_.database, target_.collection, o.index_name, o.retention, true, true}};
    if (five_tuple_hours_active()) {
      // FerretDB has no TTL indexes: there expire_rollups() deletes instead. The totals tiers
      // need no index but _id: they are read by shard and by _id, and expire by shard.
      const auto ttl = server_.is_ferretdb() ? std::nullopt : o.rollups.hour_retention;
      plans.push_back({target_.database, hour_target_.collection, o.index_name, ttl, true, true});
    }
    milliseconds backoff(50);
    for (;;) {
      try {
        mongo::Lease lease = pool_.acquire(deadline);
        try {
          for (const mongo::IndexPlan& plan : plans) mongo::ensure_indexes(lease.client(), plan);
          return;
        } catch (const Error& e) {
          if (is_transient(static_cast<errc>(e.code().value()))) lease.mark_broken();
          throw;
        }
      } catch (const Error& e) {
        const auto code = static_cast<errc>(e.code().value());
        if (!is_transient(code)) throw;
        if (Clock::now() + backoff >= deadline) {
          throw Error(errc::deadline_exceeded,
                      std::string("create indexes: deadline exceeded; last error: ") + e.what());
        }
      }
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, milliseconds(2000));
    }
  }

  // Writes distinct-key documents chunk by chunk; outcomes[i] belongs to documents[i].
  UpsertResult write(std::span<const KeyedAggregate> documents, Clock::time_point deadline,
                     std::vector<mongo::DocumentOutcome>& outcomes, const WriteStamp* stamp = nullptr) {
    UpsertResult result;
    result.documents = documents.size();
    outcomes.clear();
    outcomes.reserve(documents.size());
    const auto ranges =
        mongo::plan_batches(documents, resolved_.options.max_batch_operations, resolved_.options.max_batch_bytes);
    for (const mongo::BatchRange& range : ranges) {
      auto chunk = documents.subspan(range.begin, range.end - range.begin);
      mongo::ChunkResult written = mongo::write_chunk(pool_, target_, chunk, deadline, stamp);
      result.matched += written.matched;
      result.modified += written.modified;
      result.upserted += written.upserted;
      result.batches += written.commands;
      result.retries += written.retries;
      for (auto& outcome : written.outcomes) outcomes.push_back(std::move(outcome));
    }
    return result;
  }

  UpsertResult upsert_aggregates(std::span<const KeyedAggregate> aggregates, std::optional<milliseconds> timeout,
                                 const WriteStamp* stamp) {
    check_open();
    const auto deadline = deadline_after(timeout);
    ensure_rollup_start(deadline);
    std::vector<mongo::DocumentOutcome> outcomes;
    UpsertResult result = write(aggregates, deadline, outcomes, stamp);
    result.input = aggregates.size();
    for (std::size_t i = 0; i < outcomes.size(); ++i) {
      account(result, i, outcomes[i]);
    }
    return result;
  }

  UpsertResult batch_upsert(std::span<const Metric> metrics, std::optional<milliseconds> timeout) {
    check_open();
    const auto deadline = deadline_after(timeout);
    core::MergedBatch merged = core::merge_metrics(metrics);
    ensure_rollup_start(deadline);
    std::vector<mongo::DocumentOutcome> outcomes;
    UpsertResult result = write(merged.documents, deadline, outcomes);
    if (rollups_active()) {
      std::vector<KeyedAggregate> written;
      for (std::size_t i = 0; i < outcomes.size(); ++i) {
        if (outcomes[i].state == mongo::DocumentState::written) written.push_back(merged.documents[i]);
      }
      const UpsertResult rolled = upsert_rollups(written, deadline, nullptr);
      if (rolled.failed > 0) {
        throw UpsertError("the metrics were written but " + std::to_string(rolled.failed) +
                              " rollup documents were not: " + rolled.errors.front().message,
                          std::move(result));
      }
    }
    result.input = metrics.size();
    result.rejected = merged.rejected.size();
    auto rejected = merged.rejected.begin();
    for (std::size_t i = 0; i < metrics.size(); ++i) {
      const std::uint32_t document = merged.document_of_item[i];
      if (document == core::MergedBatch::kRejected) {
        result.errors.push_back(std::move(*rejected++));
        continue;
      }
      account(result, i, outcomes[document]);
    }
    if (!result.ok()) {
      std::string message = summarize(result);  // before `result` is moved from
      throw UpsertError(message, std::move(result));
    }
    return result;
  }

  bool rollups_active() const {
    return resolved_.options.rollups.enabled && resolved_.options.merge_policy == MergePolicy::aggregate;
  }

  // The five-tuple hour tier is kept: asked for, or by default except on FerretDB.
  bool five_tuple_hours_active() const {
    return rollups_active() && resolved_.options.rollups.five_tuple_hours.value_or(!server_.is_ferretdb());
  }

  UpsertResult upsert_rollups(std::span<const KeyedAggregate> written, Clock::time_point deadline,
                              const WriteStamp* stamp) {
    check_open();
    UpsertResult result;
    result.input = written.size();
    if (!rollups_active() || written.empty()) return result;
    // Buckets older than a totals tier's horizon are not written: their shards are dropped, or
    // about to be, and no query reads them. The horizon is stored, and raised here first, so
    // that no query ever counts on a bucket this write leaves out (see raise_horizon).
    const mongo::TotalsHorizon horizon = horizon_for(written);
    const mongo::RollupBatch batch = mongo::build_rollups(target_.collection, written, horizon);
    auto account_chunk = [&](const mongo::ChunkResult& chunk, std::size_t offset) {
      result.documents += chunk.outcomes.size();
      result.matched += chunk.matched;
      result.modified += chunk.modified;
      result.upserted += chunk.upserted;
      result.batches += chunk.commands;
      result.retries += chunk.retries;
      for (std::size_t i = 0; i < chunk.outcomes.size(); ++i) account(result, offset + i, chunk.outcomes[i]);
    };
    std::size_t offset = 0;
    if (five_tuple_hours_active()) {
      for (const mongo::BatchRange& range :
           mongo::plan_batches(batch.hour, resolved_.options.max_batch_operations, resolved_.options.max_batch_bytes)) {
        auto chunk = std::span(batch.hour).subspan(range.begin, range.end - range.begin);
        account_chunk(mongo::write_chunk(pool_, hour_target_, chunk, deadline, stamp), offset + range.begin);
      }
      offset += batch.hour.size();
    }
    account_chunk(mongo::write_totals(pool_, totals_target_, std::span(batch.totals), deadline, stamp), offset);
    maybe_expire();
    return result;
  }

  std::size_t expire_rollups() {
    check_open();
    const RollupOptions& r = resolved_.options.rollups;
    const std::int64_t now = now_ms();
    std::size_t deleted = 0;
    mongo::Lease lease = pool_.acquire(deadline_after(std::nullopt));
    mongoc_client_t* client = lease.client().get();
    auto fail = [&](const bson_error_t& error, const std::string& what) {
      const mongo::DriverError translated = mongo::translate(error, what);
      if (translated.connection_broken) lease.mark_broken();
      mongo::throw_error(translated);
    };
    if (five_tuple_hours_active() && r.hour_retention && server_.is_ferretdb()) {
      mongo::CollectionPtr collection(
          mongoc_client_get_collection(client, target_.database.c_str(), hour_target_.collection.c_str()));
      mongo::BsonPtr filter = mongo::make_bson();
      bson_t range;
      BSON_APPEND_DOCUMENT_BEGIN(filter.get(), "timestamp", &range);
      BSON_APPEND_DATE_TIME(&range, "$lt", now - r.hour_retention->count() * 1000);
      bson_append_document_end(filter.get(), &range);
      mongo::Reply reply;
      bson_error_t error;
      if (!mongoc_collection_delete_many(collection.get(), filter.get(), nullptr, reply.reset(), &error)) {
        fail(error, "expire rollups in " + hour_target_.collection);
      }
      bson_iter_t it;
      if (bson_iter_init_find(&it, reply.get(), "deletedCount") && BSON_ITER_HOLDS_NUMBER(&it)) {
        deleted += static_cast<std::size_t>(bson_iter_as_int64(&it));
      }
    }
    // The totals tiers: the shards wholly older than the stored horizon (raise_horizon), whoever
    // raised it; no query reads them any more.
    const StoredHorizon stored = read_horizon(client);
    const std::pair<mongo::TotalsTier, std::int64_t> tiers[] = {{mongo::TotalsTier::minute, stored.minute},
                                                                {mongo::TotalsTier::hour, stored.hour}};
    if (stored.minute == mongo::TierCoverage::kNone && stored.hour == mongo::TierCoverage::kNone) return deleted;
    mongo::DatabasePtr database(mongoc_client_get_database(client, target_.database.c_str()));
    bson_error_t error;
    const mongo::StringListPtr names(mongoc_database_get_collection_names_with_opts(database.get(), nullptr, &error));
    if (!names) fail(error, "list collections");
    std::vector<std::string> expired;
    for (char** name = names.get(); *name != nullptr; ++name) {
      for (const auto& [tier, horizon] : tiers) {
        const auto shard = mongo::totals_shard_of(target_.collection, tier, *name);
        if (shard && *shard + mongo::totals_shard_width(tier) <= horizon) {
          expired.emplace_back(*name);
        }
      }
    }
    for (const std::string& name : expired) {
      mongo::CollectionPtr collection(mongoc_client_get_collection(client, target_.database.c_str(), name.c_str()));
      if (!mongoc_collection_drop(collection.get(), &error) && error.code != 26 /* NamespaceNotFound */) {
        fail(error, "drop " + name);
      }
      ++deleted;
    }
    return deleted;
  }

  TopResult top(const TopQuery& query, std::optional<milliseconds> timeout) {
    check_open();
    return answer(deadline_after(timeout),
                  [&](const mongo::QuerySource& source) { return mongo::run_top(source, query); });
  }

  SeriesResult series(const SeriesQuery& query, std::optional<milliseconds> timeout) {
    check_open();
    return answer(deadline_after(timeout),
                  [&](const mongo::QuerySource& source) { return mongo::run_series(source, query); });
  }

  bool ping(std::optional<milliseconds> timeout) noexcept {
    try {
      if (closed_.load()) return false;
      mongo::Lease lease = pool_.acquire(deadline_after(timeout));
      mongo::DriverError error;
      if (lease.client().ping(error)) return true;
      if (error.connection_broken) lease.mark_broken();
      return false;
    } catch (...) {
      return false;
    }
  }

  PoolStats stats() const { return pool_.stats(); }

  void close() noexcept {
    closed_.store(true);
    pool_.close();
  }

 private:
  // Learns which server this is, once, and settles the limits that depend on it.
  void adapt_to_server() {
    {
      mongo::Lease lease = pool_.acquire(deadline_after(resolved_.options.connect_timeout));
      server_ = mongo::detect_server(lease.client());
    }
    std::optional<std::size_t>& update_limit = resolved_.options.max_update_batch_operations;
    if (!update_limit) {
      update_limit = server_.is_ferretdb() ? mongo::kFerretDbUpdateBatchLimit : resolved_.options.max_batch_operations;
    }
    target_.max_update_operations = *update_limit;
    if (server_.is_ferretdb()) {
      target_.update_locks = &update_locks_;
      target_.stamp_filter_on_server = false;
    }
    target_.write_concern = resolved_.options.write_concern;
    target_.journal = resolved_.options.journal;
    // The rollup tiers are written like the minute tier, always summed.
    hour_target_ = target_;
    hour_target_.collection = mongo::hour_collection(target_.collection);
    hour_target_.policy = MergePolicy::aggregate;
    totals_target_.database = target_.database;
    totals_target_.update_locks = server_.is_ferretdb() ? &mongo::shared_totals_locks() : nullptr;
    totals_target_.write_concern = target_.write_concern;
    totals_target_.journal = target_.journal;
  }

  static std::int64_t now_ms() {
    return std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  }

  // Which buckets the rollups hold completely, kept in "<collection>_rollups" as
  // {_id: "since-2", since: <date>, before: <date>}: recorded before the first write (or a later
  // one, see ensure_rollup_start) of the first agent that keeps rollups. On an empty minute
  // collection every bucket is complete (since: the beginning of time). Otherwise the minute
  // documents already there were written without rollups: only buckets from the next whole hour
  // on, and those wholly before the hour of the oldest document, are complete. Queries never use
  // a rollup tier for other buckets.
  std::string state_collection() const { return target_.collection + "_rollups"; }

  struct StoredHorizon {
    std::int64_t minute = mongo::TierCoverage::kNone;
    std::int64_t hour = mongo::TierCoverage::kNone;
    bool operator==(const StoredHorizon&) const = default;
  };

  struct RollupStart {
    std::int64_t since = 0;
    std::int64_t before = mongo::TierCoverage::kNone;
  };

  // Never throws: when the server cannot be asked now, the next write asks again. Recording
  // the start late is safe, only conservative: it is then the next whole hour, and the
  // rollups written before it are not used.
  void ensure_rollup_start(Clock::time_point /*deadline*/) noexcept {
    if (!rollups_active() || rollup_since_.load() != kUnknown) return;
    try {
      record_rollup_start();
    } catch (const Error&) {
    }
  }

  void remember(const RollupStart& start) {
    rollup_before_.store(start.before);
    rollup_since_.store(start.since);  // last: it says the pair is known
  }

  void record_rollup_start() {
    std::lock_guard lock(since_mu_);
    if (rollup_since_.load() != kUnknown) return;
    // A connection that is free now, or none: the write that follows must keep its deadline.
    std::optional<mongo::Lease> leased = pool_.try_acquire();
    if (!leased) return;
    mongo::Lease& lease = *leased;
    mongoc_client_t* client = lease.client().get();
    if (auto start = read_since(client)) return remember(*start);
    // The oldest minute document, if any. Once per collection and server: on FerretDB v1 this
    // reads the whole collection (no index serves a sort), on MongoDB the timestamp index.
    mongo::CollectionPtr minute(
        mongoc_client_get_collection(client, target_.database.c_str(), target_.collection.c_str()));
    mongo::BsonPtr empty_filter = mongo::make_bson();
    mongo::BsonPtr oldest(BCON_NEW("limit", BCON_INT64(1), "sort", "{", "timestamp", BCON_INT32(1), "}", "projection",
                                   "{", "timestamp", BCON_INT32(1), "}"));
    mongo::CursorPtr cursor(mongoc_collection_find_with_opts(minute.get(), empty_filter.get(), oldest.get(), nullptr));
    const bson_t* doc = nullptr;
    RollupStart start{kBeginning, mongo::TierCoverage::kNone};
    if (mongoc_cursor_next(cursor.get(), &doc)) {
      start.since = mongo::floor_to(now_ms(), mongo::kHourMs) + mongo::kHourMs;
      bson_iter_t it;
      start.before = bson_iter_init_find(&it, doc, "timestamp") && BSON_ITER_HOLDS_DATE_TIME(&it)
                         ? mongo::floor_to(bson_iter_date_time(&it), mongo::kHourMs)
                         : mongo::TierCoverage::kNone;
    }
    bson_error_t error;
    if (mongoc_cursor_error(cursor.get(), &error)) mongo::throw_error(mongo::translate(error, "read metrics"));
    mongo::CollectionPtr state(
        mongoc_client_get_collection(client, target_.database.c_str(), state_collection().c_str()));
    mongo::BsonPtr record(BCON_NEW("_id", BCON_UTF8(kSinceId), "since", BCON_DATE_TIME(start.since)));
    if (start.before != mongo::TierCoverage::kNone) BSON_APPEND_DATE_TIME(record.get(), "before", start.before);
    if (!mongoc_collection_insert_one(state.get(), record.get(), nullptr, nullptr, &error) &&
        error.code != mongo::kDuplicateKey) {
      mongo::throw_error(mongo::translate(error, "record the start of the rollups"));
    }
    // Another agent may have won the race: the stored value is the one that counts.
    remember(read_since(client).value_or(start));
  }

  std::optional<RollupStart> read_since(mongoc_client_t* client) const {
    mongo::CollectionPtr state(
        mongoc_client_get_collection(client, target_.database.c_str(), state_collection().c_str()));
    mongo::BsonPtr filter(BCON_NEW("_id", BCON_UTF8(kSinceId)));
    mongo::BsonPtr one(BCON_NEW("limit", BCON_INT64(1)));
    mongo::CursorPtr cursor(mongoc_collection_find_with_opts(state.get(), filter.get(), one.get(), nullptr));
    const bson_t* doc = nullptr;
    std::optional<RollupStart> start;
    bson_iter_t it;
    if (mongoc_cursor_next(cursor.get(), &doc) && bson_iter_init_find(&it, doc, "since") &&
        BSON_ITER_HOLDS_DATE_TIME(&it)) {
      start.emplace();
      start->since = bson_iter_date_time(&it);
      if (bson_iter_init_find(&it, doc, "before") && BSON_ITER_HOLDS_DATE_TIME(&it)) {
        start->before = bson_iter_date_time(&it);
      }
    }
    bson_error_t error;
    if (mongoc_cursor_error(cursor.get(), &error)) mongo::throw_error(mongo::translate(error, "read rollup state"));
    return start;
  }

  // Runs a query planned on the stored totals horizons, and checks afterwards that they did not
  // move meanwhile: a horizon raised while the query read may have let an expiry drop a shard
  // it counted on (or a lagging writer recreate one in part). Then the query runs again on the
  // new horizons; the last attempt reads no totals tier at all. Horizons move once an hour (the
  // minute totals) or once a day (the hour totals) under live traffic, so a rerun is rare.
  template <class Run>
  auto answer(Clock::time_point deadline, const Run& run) -> decltype(run(std::declval<mongo::QuerySource>())) {
    for (int attempt = 1;; ++attempt) {
      const bool last = attempt == kQueryAttempts;
      StoredHorizon used;
      const mongo::QuerySource source = query_source(deadline, last, used);
      auto result = run(source);
      const auto& tiers = result.stats.tiers;
      const bool totals = std::find(tiers.begin(), tiers.end(), QueryTier::minute_totals) != tiers.end() ||
                          std::find(tiers.begin(), tiers.end(), QueryTier::hour_totals) != tiers.end();
      if (last || !totals) return result;
      bool held = false;
      try {
        mongo::Lease lease = pool_.acquire(deadline);
        held = read_horizon(lease.client().get()) == used;
      } catch (const Error&) {
        // Not known to have held: run again (the last attempt needs no horizon).
      }
      if (held) return result;
    }
  }

  mongo::QuerySource query_source(Clock::time_point deadline, bool without_totals, StoredHorizon& used) {
    mongo::QuerySource source;
    source.pool = &pool_;
    source.database = target_.database;
    source.collection = target_.collection;
    source.deadline = deadline;
    source.now_ms = now_ms();
    if (rollups_active()) {
      mongo::Lease lease = pool_.acquire(deadline);
      if (rollup_since_.load() == kUnknown) {
        // Unset: no agent with rollups has written yet, so no tier holds anything: use none.
        if (auto start = read_since(lease.client().get())) remember(*start);
      }
      const std::int64_t since = rollup_since_.load();
      if (since == kUnknown) return source;
      auto coverage = [&](std::int64_t horizon) {
        mongo::TierCoverage c;
        c.from = since;
        c.before = rollup_before_.load();
        c.horizon = horizon;
        return c;
      };
      // The five-tuple hour tier expires by the clock (a TTL index on MongoDB): a bucket within
      // ten minutes of its expiry may be deleted while we read, so it is not used.
      const RollupOptions& r = resolved_.options.rollups;
      if (five_tuple_hours_active()) {
        source.coverage.hour =
            coverage(r.hour_retention ? source.now_ms - r.hour_retention->count() * 1000 + kExpiryMarginMs
                                      : mongo::TierCoverage::kNone);
      }
      if (without_totals) return source;
      // The totals tiers hold every bucket from their stored horizon on, whatever retention
      // this process is configured with (the writers set the horizon). Unreadable now: no
      // totals tier, which is exact, only slower (the reads that follow retry until the deadline).
      try {
        used = read_horizon(lease.client().get());
      } catch (const Error&) {
        return source;
      }
      source.coverage.minute_totals = coverage(used.minute);
      source.coverage.hour_totals = coverage(used.hour);
    }
    return source;
  }

  // The totals tiers' horizons: {_id: "horizon-3", minute: <date>, hour: <date>} in
  // "<collection>_rollups", each the first bucket its tier still holds (a shard start), absent
  // while the tier keeps everything. They only grow, and they are relative to the newest data
  // the tiers were written with, not to the clock: a writer with a retention R raises a tier's
  // horizon to the start of the shard holding (newest bucket written - R), the newest bucket
  // capped at now (a record stamped in the future must not expire the present). So a replay of
  // old flows, or the quick start's 2024 workload, keeps its last R of minute totals, and live
  // traffic keeps the last R as before. Readers use the stored horizons, never their own
  // retention: what a tier holds does not depend on how the reading process is configured.
  mongo::TotalsHorizon horizon_for(std::span<const KeyedAggregate> written) {
    const RollupOptions& r = resolved_.options.rollups;
    StoredHorizon known{known_minute_horizon_.load(), known_hour_horizon_.load()};
    if (r.minute_totals_retention || r.hour_totals_retention) {
      std::int64_t newest = std::numeric_limits<std::int64_t>::min();
      for (const KeyedAggregate& item : written) newest = std::max(newest, item.key.timestamp_ms);
      newest = std::min(newest, now_ms());
      StoredHorizon wanted;
      auto shard_start = [&](mongo::TotalsTier tier, std::chrono::seconds retention) {
        return mongo::floor_to(newest - retention.count() * 1000, mongo::totals_shard_width(tier));
      };
      if (r.minute_totals_retention) wanted.minute = shard_start(mongo::TotalsTier::minute, *r.minute_totals_retention);
      if (r.hour_totals_retention) wanted.hour = shard_start(mongo::TotalsTier::hour, *r.hour_totals_retention);
      if (wanted.minute > known.minute || wanted.hour > known.hour) {
        try {
          known = raise_horizon(wanted);
        } catch (const Error&) {
          // Not raised: the buckets past the old horizon are written anyway, which is harmless
          // (no query reads them once the horizon passes them, and an expiry drops them again).
        }
      }
    }
    return mongo::TotalsHorizon{known.minute, known.hour};
  }

  // $max of the stored horizons with `wanted`, then reads them back. Stored before any bucket
  // below them is left out of a write, so a query planned later never counts on such a bucket.
  // A connection that is free now, or none (Error): the totals write that follows must keep its
  // deadline, and not raising the horizon is harmless (horizon_for).
  StoredHorizon raise_horizon(const StoredHorizon& wanted) {
    std::optional<mongo::Lease> leased = pool_.try_acquire();
    if (!leased) throw Error(errc::pool_wait_timeout, "no free connection to raise the rollup horizon");
    mongo::Lease& lease = *leased;
    mongoc_client_t* client = lease.client().get();
    mongo::CollectionPtr state(
        mongoc_client_get_collection(client, target_.database.c_str(), state_collection().c_str()));
    mongo::BsonPtr filter(BCON_NEW("_id", BCON_UTF8(kHorizonId)));
    mongo::BsonPtr update = mongo::make_bson();
    bson_t max;
    BSON_APPEND_DOCUMENT_BEGIN(update.get(), "$max", &max);
    if (wanted.minute != mongo::TierCoverage::kNone) BSON_APPEND_DATE_TIME(&max, "minute", wanted.minute);
    if (wanted.hour != mongo::TierCoverage::kNone) BSON_APPEND_DATE_TIME(&max, "hour", wanted.hour);
    bson_append_document_end(update.get(), &max);
    mongo::BsonPtr opts(BCON_NEW("upsert", BCON_BOOL(true)));
    bson_error_t error;
    if (!mongoc_collection_update_one(state.get(), filter.get(), update.get(), opts.get(), nullptr, &error)) {
      const mongo::DriverError translated = mongo::translate(error, "raise the rollup horizon");
      if (translated.connection_broken) lease.mark_broken();
      mongo::throw_error(translated);
    }
    return read_horizon(client);
  }

  // Reads the stored horizons by exact _id, and remembers them (they only grow).
  StoredHorizon read_horizon(mongoc_client_t* client) {
    mongo::CollectionPtr state(
        mongoc_client_get_collection(client, target_.database.c_str(), state_collection().c_str()));
    mongo::BsonPtr filter(BCON_NEW("_id", BCON_UTF8(kHorizonId)));
    mongo::BsonPtr one(BCON_NEW("limit", BCON_INT64(1)));
    mongo::CursorPtr cursor(mongoc_collection_find_with_opts(state.get(), filter.get(), one.get(), nullptr));
    const bson_t* doc = nullptr;
    StoredHorizon stored;
    if (mongoc_cursor_next(cursor.get(), &doc)) {
      bson_iter_t it;
      if (bson_iter_init_find(&it, doc, "minute") && BSON_ITER_HOLDS_DATE_TIME(&it)) {
        stored.minute = bson_iter_date_time(&it);
      }
      if (bson_iter_init_find(&it, doc, "hour") && BSON_ITER_HOLDS_DATE_TIME(&it))
        stored.hour = bson_iter_date_time(&it);
    }
    bson_error_t error;
    if (mongoc_cursor_error(cursor.get(), &error)) mongo::throw_error(mongo::translate(error, "read rollup horizon"));
    auto grow = [](std::atomic<std::int64_t>& known, std::int64_t value) {
      std::int64_t old = known.load();
      while (value > old && !known.compare_exchange_weak(old, value)) {
      }
    };
    grow(known_minute_horizon_, stored.minute);
    grow(known_hour_horizon_, stored.hour);
    return stored;
  }

  void maybe_expire() {
    const std::int64_t now = now_ms();
    std::int64_t last = last_expire_ms_.load();
    if (now - last < 600'000 || !last_expire_ms_.compare_exchange_strong(last, now)) return;
    try {
      expire_rollups();
    } catch (const Error&) {
      // Best effort: the next period tries again; queries never rely on the delete.
    }
  }

  static std::string checked(std::string_view name, std::string_view what, std::string_view forbidden) {
    check_name(name, what, forbidden);
    return std::string(name);
  }

  static void account(UpsertResult& result, std::size_t index, const mongo::DocumentOutcome& outcome) {
    if (outcome.state == mongo::DocumentState::written) {
      ++result.written;
      return;
    }
    ++result.failed;
    result.errors.push_back(ItemError{.index = index,
                                      .code = outcome.code,
                                      .field = {},
                                      .message = outcome.message,
                                      .outcome_unknown = outcome.outcome_unknown});
  }

  // Not "since" nor "since-2": "since" was written for the earlier layout of the totals tiers
  // (one collection per tier, one field per value), whose documents this version does not read;
  // under "since-2" writers left out the buckets older than their own clock-relative retention
  // without recording it anywhere, so a reader cannot tell which buckets those tiers hold. With
  // either, the rollups begin anew.
  static constexpr const char* kSinceId = "since-3";
  static constexpr const char* kHorizonId = "horizon-3";
  static constexpr int kQueryAttempts = 3;
  // Five-tuple hour buckets this close to their expiry are not read (see query_source).
  static constexpr std::int64_t kExpiryMarginMs = 600'000;
  static constexpr std::int64_t kUnknown = std::numeric_limits<std::int64_t>::min();
  static constexpr std::int64_t kBeginning = -62'135'596'800'000;  // 0001-01-01

  mongo::ResolvedUri resolved_;
  mongo::WriteTarget target_;
  mongo::WriteTarget hour_target_;
  mongo::TotalsTarget totals_target_;
  std::mutex since_mu_;  // serialises the first recording of rollup_since_
  std::atomic<std::int64_t> rollup_since_{kUnknown};
  std::atomic<std::int64_t> rollup_before_{mongo::TierCoverage::kNone};  // stored before rollup_since_
  std::atomic<std::int64_t> last_expire_ms_{0};
  // The stored totals horizons as last read (lower bounds of the stored ones).
  std::atomic<std::int64_t> known_minute_horizon_{mongo::TierCoverage::kNone};
  std::atomic<std::int64_t> known_hour_horizon_{mongo::TierCoverage::kNone};
  mongo::ConnectionPool pool_;
  mongo::ServerProfile server_;
  mongo::KeyLockTable update_locks_;
  std::atomic<bool> closed_{false};
};

MetricsAgent::MetricsAgent(std::string_view uri, std::string_view database, std::string_view collection,
                           AgentOptions options)
    : impl_(std::make_unique<Impl>(uri, database, collection, options)) {}

MetricsAgent::~MetricsAgent() {
  close();
}
MetricsAgent::MetricsAgent(MetricsAgent&&) noexcept = default;
MetricsAgent& MetricsAgent::operator=(MetricsAgent&& other) noexcept {
  if (this != &other) {
    close();
    impl_ = std::move(other.impl_);
  }
  return *this;
}

void MetricsAgent::create_metrics_indexes() {
  impl_->create_indexes();
}

UpsertResult MetricsAgent::batch_upsert_metrics(std::span<const Metric> metrics) {
  if (!impl_) throw Error(errc::agent_closed, "the agent was moved from");
  return impl_->batch_upsert(metrics, std::nullopt);
}

UpsertResult MetricsAgent::batch_upsert_metrics(std::span<const Metric> metrics, milliseconds timeout) {
  if (!impl_) throw Error(errc::agent_closed, "the agent was moved from");
  return impl_->batch_upsert(metrics, timeout);
}

UpsertResult MetricsAgent::upsert_aggregates(std::span<const KeyedAggregate> aggregates,
                                             std::optional<milliseconds> timeout, const WriteStamp* stamp) {
  if (!impl_) throw Error(errc::agent_closed, "the agent was moved from");
  return impl_->upsert_aggregates(aggregates, timeout, stamp);
}

UpsertResult MetricsAgent::upsert_rollups(std::span<const KeyedAggregate> written, std::optional<milliseconds> timeout,
                                          const WriteStamp* stamp) {
  if (!impl_) throw Error(errc::agent_closed, "the agent was moved from");
  return impl_->upsert_rollups(written, impl_->deadline_after(timeout), stamp);
}

std::size_t MetricsAgent::expire_rollups() {
  if (!impl_) throw Error(errc::agent_closed, "the agent was moved from");
  return impl_->expire_rollups();
}

TopResult MetricsAgent::top(const TopQuery& query, std::optional<milliseconds> timeout) {
  if (!impl_) throw Error(errc::agent_closed, "the agent was moved from");
  return impl_->top(query, timeout);
}

SeriesResult MetricsAgent::series(const SeriesQuery& query, std::optional<milliseconds> timeout) {
  if (!impl_) throw Error(errc::agent_closed, "the agent was moved from");
  return impl_->series(query, timeout);
}

bool MetricsAgent::ping(std::optional<milliseconds> timeout) noexcept {
  return impl_ && impl_->ping(timeout);
}

PoolStats MetricsAgent::pool_stats() const {
  if (!impl_) throw Error(errc::agent_closed, "the agent was moved from");
  return impl_->stats();
}

const AgentOptions& MetricsAgent::options() const noexcept {
  static const AgentOptions moved_from{};
  return impl_ ? impl_->options() : moved_from;
}

void MetricsAgent::close() noexcept {
  if (impl_) impl_->close();
}

}  // namespace flowmetrics
