#pragma once

#include <prometheus/collectable.h>

#include <functional>
#include <memory>

#include "ingest/sflow_udp_input.hpp"

namespace flowmetrics::server {

// The sFlow input's families for /metrics (CollectorMetrics::add_collectable): per agent
// (labels agent, sub_agent) datagrams, samples, records, unscaled, unsupported header
// protocols, non-IP samples, counter samples, other samples, datagram and sample sequence
// gaps, malformed; and the input's totals (datagrams, bytes, pipeline and kernel drops,
// receive buffer). `stats` is called at each scrape and must stay callable meanwhile.
std::shared_ptr<prometheus::Collectable> sflow_metrics(std::function<ingest::SflowInputStats()> stats);

}  // namespace flowmetrics::server
