#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "flowmetrics/metric.hpp"
#include "flowmetrics/metric_key.hpp"

namespace flowmetrics {

// Why one metric was refused: the field at fault ("source_ip", "timestamp", ...) and a
// message a person can act on. Validation is on the data path, so it reports a value
// instead of throwing.
struct FieldError {
  std::string field;
  std::string message;
};

// Checks `metric` and, when it is valid, writes its canonical key to `key`.
// Accepted: IPv4 dotted-quad or IPv6 text (normalised to canonical form); ports 0-65535;
// protocol names in any case ("tcp" -> "TCP") or IANA numbers 0-255 ("6" -> "TCP");
// a finite value; a timestamp between 1970-01-01 and 9999-12-31 (truncated to ms).
// Returns the first problem found, or std::nullopt when `key` was filled.
[[nodiscard]] std::optional<FieldError> make_metric_key(const Metric& metric, MetricKey& key);

// The canonical protocol name for a name or decimal IANA number, or std::nullopt when the
// text is neither a known name nor a number in 0-255.
[[nodiscard]] std::optional<std::string> normalize_protocol(std::string_view protocol);

// The IANA number (0-255) of a protocol name or decimal number that normalize_protocol
// accepts ("tcp" -> 6, "17" -> 17), or std::nullopt when it refuses the text.
[[nodiscard]] std::optional<int> protocol_number(std::string_view protocol);

// The canonical text of an IPv4 or IPv6 address, or std::nullopt when it is neither.
[[nodiscard]] std::optional<std::string> normalize_ip(std::string_view address);

}  // namespace flowmetrics
