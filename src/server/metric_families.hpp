#pragma once

#include <prometheus/metric_family.h>

#include <string>
#include <string_view>
#include <vector>

#include "ingest/udp_datagram_input.hpp"

namespace flowmetrics::server {

// Building blocks for the collector's /metrics families (prometheus-cpp's data model), shared
// by the collector's own families and each input's collectable.
prometheus::MetricFamily family(std::string name, std::string help, prometheus::MetricType type);
// Adds one sample to `f`: a counter's or a gauge's value, by the family's type.
void add(prometheus::MetricFamily& f, double value, std::vector<prometheus::ClientMetric::Label> labels = {});

// A UDP flow input's own totals, named flowmetrics_<input>_...: datagrams, received bytes,
// pipeline drops, kernel drops (where the platform counts them) and the receive buffer.
// `protocol` names the input in the help texts ("NetFlow", "sFlow").
void add_udp_input_families(std::vector<prometheus::MetricFamily>& families, std::string_view input,
                            std::string_view protocol, const ingest::UdpInputStats& stats);

}  // namespace flowmetrics::server
