#pragma once

#include <prometheus/collectable.h>

#include <functional>
#include <memory>

#include "ingest/netflow_udp_input.hpp"

namespace flowmetrics::server {

// The NetFlow input's families for /metrics (CollectorMetrics::add_collectable): per exporter
// (labels exporter, domain, version) packets, records, sequence gaps, unknown templates,
// records dropped for want of a template, malformed, templates; and the input's totals
// (add_udp_input_families). `stats` is called at each scrape and must stay callable meanwhile.
std::shared_ptr<prometheus::Collectable> netflow_metrics(std::function<ingest::NetflowInputStats()> stats);

}  // namespace flowmetrics::server
