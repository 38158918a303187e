#include "server/collector_metrics.hpp"

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <vector>

#include "core/thread_guard.hpp"
#include "server/metric_families.hpp"

namespace flowmetrics::server {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily labelled(const pipeline::LabelledCounter& counter, std::string name, std::string help,
                      const char* second_label) {
  MetricFamily f = family(std::move(name), std::move(help), MetricType::Counter);
  for (const auto& [labels, n] : counter.snapshot()) {
    std::vector<ClientMetric::Label> l{{"input", labels.first}};
    if (second_label != nullptr) l.push_back({second_label, labels.second});
    add(f, static_cast<double>(n), std::move(l));
  }
  return f;
}

double load(const std::atomic<std::uint64_t>& value) {
  return static_cast<double>(value.load());
}

}  // namespace

std::string CollectorMetrics::render() const {
  std::vector<MetricFamily> families;
  families.push_back(labelled(stats_.received, "flowmetrics_records_received_total",
                              "Records that reached the pipeline, valid or not.", nullptr));
  families.push_back(
      labelled(stats_.rejected, "flowmetrics_records_rejected_total", "Records refused, by reason.", "reason"));
  families.push_back(labelled(stats_.dropped, "flowmetrics_records_dropped_total",
                              "Records an input could not take because its protocol cannot push back.", "reason"));

  const auto counter = [&](const char* name, const char* help, const std::atomic<std::uint64_t>& value) {
    MetricFamily f = family(name, help, MetricType::Counter);
    add(f, load(value));
    families.push_back(std::move(f));
  };
  const auto gauge = [&](const char* name, const char* help, double value) {
    MetricFamily f = family(name, help, MetricType::Gauge);
    add(f, value);
    families.push_back(std::move(f));
  };
  counter("flowmetrics_records_accepted_total", "Valid records taken into the spool.", stats_.accepted);
  counter("flowmetrics_spool_replayed_records_total", "Records read back from the spool at start-up.", stats_.replayed);
  counter("flowmetrics_records_written_total", "Accepted records whose aggregate was written.", stats_.written);
  counter("flowmetrics_records_failed_total", "Accepted records whose write failed for good.", stats_.failed);
  counter("flowmetrics_records_failed_unknown_total", "Failed records whose write may have been applied.",
          stats_.failed_unknown);
  counter("flowmetrics_flushes_total", "Batches of keys taken by writers.", stats_.flushes);
  counter("flowmetrics_write_calls_total", "Bulk upsert calls made by writers.", stats_.write_calls);
  counter("flowmetrics_write_retries_total", "Bulk upsert calls repeated after a failure.", stats_.write_retries);
  counter("flowmetrics_documents_upserted_total", "Documents created.", stats_.documents_upserted);
  counter("flowmetrics_documents_updated_total", "Existing documents updated.", stats_.documents_updated);
  counter("flowmetrics_backpressure_waits_total", "Times an input waited for the pipeline to have room.",
          stats_.backpressure_waits);
  gauge("flowmetrics_keys_pending", "Keys aggregated in memory, not yet taken by a writer.", load(stats_.keys_pending));
  gauge("flowmetrics_keys_in_flight", "Keys taken by writers and not yet written (the writers' queue).",
        load(stats_.keys_in_flight));
  gauge("flowmetrics_records_pending", "Accepted records not yet written or failed.", load(stats_.records_pending));
  if (spool_state_) {
    const SpoolState spool = spool_state_();
    gauge("flowmetrics_spool_bytes", "Bytes in the spool's segment files.", static_cast<double>(spool.bytes));
    gauge("flowmetrics_spool_max_bytes", "The spool's cap.", static_cast<double>(spool.max_bytes));
    gauge("flowmetrics_spool_full", "1 while the spool is full and inputs are pushed back.", spool.full ? 1 : 0);
    gauge("flowmetrics_spool_oldest_record_age_seconds", "Age of the oldest frame the spool still keeps.",
          spool.oldest_age_seconds);
    gauge("flowmetrics_spool_damaged_frames_total", "Damaged frames found in the spool at start-up.",
          static_cast<double>(spool.damaged_frames));
    gauge("flowmetrics_spool_io_error", "1 while an I/O error stops the spool and inputs are refused.",
          spool.io_error ? 1 : 0);
    MetricFamily io_errors =
        family("flowmetrics_spool_io_errors_total", "Failed file-system calls in the spool directory, by operation.",
               MetricType::Counter);
    for (const auto& [operation, n] : spool.io_errors)
      add(io_errors, static_cast<double>(n), {{"operation", operation}});
    families.push_back(std::move(io_errors));
  }

  MetricFamily latency =
      family("flowmetrics_write_duration_seconds", "Duration of one bulk upsert call.", MetricType::Histogram);
  const auto snapshot = stats_.write_latency.snapshot();
  ClientMetric h;
  h.histogram.sample_count = snapshot.count;
  h.histogram.sample_sum = snapshot.sum;
  for (std::size_t i = 0; i < pipeline::LatencyHistogram::kBounds.size(); ++i) {
    h.histogram.bucket.push_back({snapshot.cumulative[i], pipeline::LatencyHistogram::kBounds[i]});
  }
  h.histogram.bucket.push_back({snapshot.cumulative.back(), std::numeric_limits<double>::infinity()});
  latency.metric.push_back(std::move(h));
  families.push_back(std::move(latency));

  if (database_state_) {
    const DatabaseState database = database_state_();
    gauge("flowmetrics_database_connected",
          "1 once the collector has connected to the database (and made its indexes); 0 while it is still trying "
          "after start-up.",
          database.connected ? 1 : 0);
    MetricFamily f =
        family("flowmetrics_database_connect_failures_total",
               "Connection attempts that failed before the collector connected to the database.", MetricType::Counter);
    add(f, static_cast<double>(database.failed_attempts));
    families.push_back(std::move(f));
  }
  if (const auto pool = pool_stats_()) {
    gauge("flowmetrics_pool_connections_open", "Pooled connections open.", static_cast<double>(pool->open));
    gauge("flowmetrics_pool_connections_in_use", "Pooled connections leased.", static_cast<double>(pool->in_use));
    gauge("flowmetrics_pool_connections_idle", "Pooled connections idle.", static_cast<double>(pool->idle));
    gauge("flowmetrics_pool_waiters", "Callers waiting for a connection.", static_cast<double>(pool->waiting));
    const auto pool_counter = [&](const char* name, const char* help, std::uint64_t value) {
      MetricFamily f = family(name, help, MetricType::Counter);
      add(f, static_cast<double>(value));
      families.push_back(std::move(f));
    };
    pool_counter("flowmetrics_pool_connections_created_total", "Connections opened.", pool->created);
    pool_counter("flowmetrics_pool_connections_closed_idle_total", "Connections closed after the idle timeout.",
                 pool->closed_idle);
    pool_counter("flowmetrics_pool_connections_closed_broken_total", "Connections closed after a failure.",
                 pool->closed_broken);
    pool_counter("flowmetrics_pool_checkouts_total", "Connections leased.", pool->checkouts);
    pool_counter("flowmetrics_pool_wait_timeouts_total", "Leases that timed out waiting.", pool->wait_timeouts);
    MetricFamily wait = family("flowmetrics_pool_wait_seconds_total", "Time callers spent waiting for a connection.",
                               MetricType::Counter);
    add(wait, std::chrono::duration<double>(pool->total_wait_time).count());
    families.push_back(std::move(wait));
  }
  MetricFamily escaped =
      family("flowmetrics_escaped_exceptions_total",
             "Exceptions caught by a thread's or the HTTP server's last-resort catch (bugs).", MetricType::Counter);
  add(escaped, static_cast<double>(escaped_exceptions()));
  families.push_back(std::move(escaped));
  for (const auto& collectable : collectables_) {
    auto more = collectable->Collect();
    families.insert(families.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
  }
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace flowmetrics::server
