// libFuzzer target for the JSON line parser (src/ingest/json_record_parser.hpp):
// parse_json_record on the whole input. Beyond "no crash": an accepted record passes
// flowmetrics::make_metric_key (the parser's promise), and a rejection names a reason.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "flowmetrics/validation.hpp"
#include "ingest/json_record_parser.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  flowmetrics::Metric metric;
  const auto result = flowmetrics::ingest::parse_json_record(line, metric);
  if (result.ok()) {
    flowmetrics::MetricKey key;
    if (make_metric_key(metric, key)) std::abort();
  } else if (result.message.empty() || flowmetrics::ingest::to_string(result.reason).empty()) {
    std::abort();
  }
  return 0;
}
