#include "server/query_service.hpp"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include <string>

#include "flowmetrics/metrics_agent.hpp"
#include "query/query_request.hpp"

namespace flowmetrics::server {
namespace {

std::string describe(const TopQuery& query) {
  std::string by;
  for (const auto& d : query.dimensions) by += (by.empty() ? "" : ",") + to_string(d);
  return "by=" + by + " measure=" + std::string(to_string(query.measure)) +
         " from=" + query::format_instant(query.range.from_ms) + " to=" + query::format_instant(query.range.to_ms) +
         " limit=" + std::to_string(query.limit) + " where=\"" + query.filter.to_string() + "\"";
}

std::string describe(const SeriesQuery& query) {
  std::string out = "measure=" + std::string(to_string(query.measure)) +
                    " from=" + query::format_instant(query.range.from_ms) +
                    " to=" + query::format_instant(query.range.to_ms);
  if (query.step)
    out += " step=" + std::to_string(query.step->count()) + "s";
  else
    out += " points=" + std::to_string(query.points);
  if (query.split_by) out += " split_by=" + to_string(*query.split_by) + " limit=" + std::to_string(query.limit);
  return out + " where=\"" + query.filter.to_string() + "\"";
}

// The label of the tier that answered: the coarsest one read (QueryStats lists them coarsest
// first), "none" when the query read nothing (an empty range).
std::string tier_label(const QueryStats& stats) {
  return stats.tiers.empty() ? "none" : std::string(to_string(stats.tiers.front()));
}

}  // namespace

QueryService::QueryService(MetricsAgent& agent, QueryServiceOptions options)
    : agent_(agent), options_(options), registry_(std::make_shared<prometheus::Registry>()) {
  duration_ = &prometheus::BuildHistogram()
                   .Name("flowmetrics_query_duration_seconds")
                   .Help("Latency of the queries of the HTTP API, by kind (top, series) and the coarsest tier read.")
                   .Register(*registry_);
  examined_ = &prometheus::BuildHistogram()
                   .Name("flowmetrics_query_documents_examined")
                   .Help("Documents the server examined per query, when it reports them, by kind and tier.")
                   .Register(*registry_);
  queries_ = &prometheus::BuildCounter()
                  .Name("flowmetrics_queries_total")
                  .Help("Queries of the HTTP API by kind and outcome (ok, bad_request, error).")
                  .Register(*registry_);
}

QueryService::~QueryService() = default;

std::shared_ptr<prometheus::Collectable> QueryService::collectable() const {
  return registry_;
}

void QueryService::count(std::string_view kind, std::string_view outcome) {
  queries_->Add({{"kind", std::string(kind)}, {"outcome", std::string(outcome)}}).Increment();
}

void QueryService::count_bad_request(std::string_view kind) {
  count(kind, "bad_request");
}

void QueryService::observe(std::string_view kind, const QueryStats& stats, const std::string& description) {
  static const prometheus::Histogram::BucketBoundaries kSeconds = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                                   1,     2.5,  5,     10,   30,  60};
  static const prometheus::Histogram::BucketBoundaries kDocuments = {10,      100,       1'000,     10'000,
                                                                     100'000, 1'000'000, 10'000'000};
  const prometheus::Labels labels{{"kind", std::string(kind)}, {"tier", tier_label(stats)}};
  const double seconds = static_cast<double>(stats.elapsed.count()) / 1e6;
  duration_->Add(labels, kSeconds).Observe(seconds);
  if (stats.documents_examined)
    examined_->Add(labels, kDocuments).Observe(static_cast<double>(*stats.documents_examined));
  count(kind, "ok");
  if (options_.slow.count() > 0 && stats.elapsed >= options_.slow) {
    std::string tiers;
    for (const auto tier : stats.tiers) tiers += (tiers.empty() ? "" : ",") + std::string(to_string(tier));
    spdlog::warn("slow query: {} {} took {:.1f} ms (threshold {} ms; tiers {}; {} commands; documents examined {})",
                 kind, description, seconds * 1000.0, options_.slow.count(), tiers.empty() ? "none" : tiers,
                 stats.commands,
                 stats.documents_examined ? std::to_string(*stats.documents_examined) : std::string("unknown"));
  }
}

TopResult QueryService::top(const TopQuery& query) {
  try {
    TopResult result = agent_.top(query, options_.timeout);
    observe("top", result.stats, describe(query));
    return result;
  } catch (const Error& error) {
    count("top", error.code() == errc::invalid_argument ? "bad_request" : "error");
    throw;
  }
}

SeriesResult QueryService::series(const SeriesQuery& query) {
  try {
    SeriesResult result = agent_.series(query, options_.timeout);
    observe("series", result.stats, describe(query));
    return result;
  } catch (const Error& error) {
    count("series", error.code() == errc::invalid_argument ? "bad_request" : "error");
    throw;
  }
}

}  // namespace flowmetrics::server
