// libFuzzer target for the query filter syntax (flowmetrics/filter.hpp): parse_filter on the
// whole input. Beyond "no crash, no unbounded recursion": a refusal is a FilterError pointing
// inside the text (or just past its end), and an accepted filter's canonical text parses back
// to the same tree and prints the same text again.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "flowmetrics/filter.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  flowmetrics::Filter filter;
  try {
    filter = flowmetrics::parse_filter(text);
  } catch (const flowmetrics::FilterError& error) {
    if (error.position() > size || error.detail().empty()) std::abort();
    return 0;
  }
  const std::string canonical = filter.to_string();
  const auto again = flowmetrics::parse_filter(canonical);  // throwing here is a bug: libFuzzer reports it
  if (!(again == filter) || again.to_string() != canonical) std::abort();
  flowmetrics::MetricKey key{"10.0.0.1", "2001:db8::1", 1234, 443, "TCP", 0};
  (void)filter.matches(key);
  return 0;
}
