#include "flowmetrics/metrics_agent.hpp"

#include <algorithm>
#include <atomic>
#include <thread>

#include "core/merge.hpp"
#include "mongo/batch_planner.hpp"
#include "mongo/bulk_writer.hpp"
#include "mongo/connection_pool.hpp"
#include "mongo/index_manager.hpp"
#include "mongo/server_profile.hpp"
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
    const mongo::IndexPlan plan{target_.database, target_.collection, resolved_.options.index_name,
                                resolved_.options.retention};
    milliseconds backoff(50);
    for (;;) {
      try {
        mongo::Lease lease = pool_.acquire(deadline);
        try {
          mongo::ensure_indexes(lease.client(), plan);
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
    std::vector<mongo::DocumentOutcome> outcomes;
    UpsertResult result = write(aggregates, deadline_after(timeout), outcomes, stamp);
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
    std::vector<mongo::DocumentOutcome> outcomes;
    UpsertResult result = write(merged.documents, deadline, outcomes);
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

  mongo::ResolvedUri resolved_;
  mongo::WriteTarget target_;
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
