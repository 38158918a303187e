// libFuzzer target for the HTTP body path: parse_json_body (NDJSON or a JSON array), as
// POST /v1/metrics calls it. Beyond "no crash": indexes are increasing and distinct, the
// return value counts every callback, and accepted records pass make_metric_key.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "flowmetrics/validation.hpp"
#include "ingest/json_record_parser.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  std::size_t callbacks = 0;
  std::size_t next_index = 0;
  auto in_order = [&](std::size_t index) {
    if (callbacks > 0 && index < next_index) std::abort();
    next_index = index + 1;
    ++callbacks;
  };
  const std::size_t seen = flowmetrics::ingest::parse_json_body(
      body,
      [&](std::size_t index, flowmetrics::Metric&& metric) {
        in_order(index);
        flowmetrics::MetricKey key;
        if (make_metric_key(metric, key)) std::abort();
      },
      [&](std::size_t index, const flowmetrics::ingest::ParseResult& result) {
        in_order(index);
        if (result.ok()) std::abort();
      });
  if (seen != callbacks) std::abort();
  return 0;
}
