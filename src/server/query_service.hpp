#pragma once

#include <chrono>
#include <memory>
#include <string_view>

#include "flowmetrics/query.hpp"

namespace prometheus {
class Collectable;
class Registry;
template <typename T>
class Family;
class Histogram;
class Counter;
}  // namespace prometheus

namespace flowmetrics {
class MetricsAgent;
}

namespace flowmetrics::server {

struct QueryServiceOptions {
  std::chrono::milliseconds slow{500};        // a slower query is logged once (warning); 0: never
  std::chrono::milliseconds timeout{30'000};  // the deadline of each query
};

// The queries the HTTP API runs (GET /v1/query/*), measured: a latency histogram per query
// kind and tier, the documents the server examined when it reports them, outcome counters,
// and one warning per query slower than `slow`. The metrics live in collectable(), which the
// collector's /metrics includes (CollectorMetrics::add_collectable).
// Thread-safe: one service serves every HTTP thread. `agent` must outlive it.
class QueryService {
 public:
  QueryService(MetricsAgent& agent, QueryServiceOptions options);
  ~QueryService();
  QueryService(const QueryService&) = delete;
  QueryService& operator=(const QueryService&) = delete;

  // MetricsAgent::top/series with the service's deadline; throw what they throw (the
  // failure is counted first).
  TopResult top(const TopQuery& query);
  SeriesResult series(const SeriesQuery& query);

  // Counts a request refused before it reached the library (a bad parameter).
  void count_bad_request(std::string_view kind);

  // The service's metrics, for CollectorMetrics::add_collectable.
  [[nodiscard]] std::shared_ptr<prometheus::Collectable> collectable() const;

 private:
  void observe(std::string_view kind, const QueryStats& stats, const std::string& description);
  void count(std::string_view kind, std::string_view outcome);

  MetricsAgent& agent_;
  const QueryServiceOptions options_;
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Histogram>* duration_;
  prometheus::Family<prometheus::Histogram>* examined_;
  prometheus::Family<prometheus::Counter>* queries_;
};

}  // namespace flowmetrics::server
