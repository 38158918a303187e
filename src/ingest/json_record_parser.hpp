#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "flowmetrics/metric.hpp"

namespace flowmetrics::ingest {

// Why a record was refused; the stable label used in counters ("reason" in /metrics).
enum class RejectReason {
  none = 0,
  invalid_json,       // not JSON, invalid UTF-8, trailing garbage
  not_an_object,      // a JSON value that is not an object
  missing_field,      // a required field is absent
  wrong_type,         // a field has the wrong JSON type (e.g. a string port)
  invalid_ip,         // source_ip / dest_ip is not an IPv4 or IPv6 address
  invalid_port,       // not an integer 0-65535
  invalid_protocol,   // not a known name or a number 0-255
  invalid_timestamp,  // not RFC 3339 nor epoch seconds/milliseconds, or out of range
  invalid_value,      // value not a finite number; counters not non-negative integers
  line_too_long,      // over the input's max line bytes (set by inputs, never by the parser)
  too_deep,           // objects/arrays nested deeper than kMaxJsonNesting
};

std::string_view to_string(RejectReason reason) noexcept;

// JSON nested deeper than this many objects/arrays (the record itself counts as one) is
// rejected as too_deep; it bounds the parser's recursion on hostile input.
inline constexpr std::size_t kMaxJsonNesting = 64;

struct ParseResult {
  RejectReason reason = RejectReason::none;
  std::string message;  // for a rejection: names the field and the problem; empty otherwise
  bool ok() const noexcept { return reason == RejectReason::none; }
};

// Parses one JSON object into `metric`:
//   {"source_ip": "10.0.0.1", "dest_ip": "10.0.0.2", "source_port": 1234, "dest_port": 80,
//    "protocol": "TCP" | 6, "timestamp": "2024-11-25T10:20:00.123Z" | 1732530000 | 1732530000123,
//    "value": 1.5, "packets": 10, "bytes": 1500, "flows": 1}
// Required: source_ip, dest_ip, source_port, dest_port, protocol, timestamp, value.
// Optional: packets, bytes, flows (non-negative integers). Unknown fields are ignored.
// Numeric timestamps below 100,000,000,000 are seconds (fractions allowed), larger ones
// milliseconds; RFC 3339 strings take any offset ("Z", "+02:00") and fractional seconds.
// Timestamps must lie in 1970-01-01 .. 2262-04-11 (what system_clock can hold).
// Addresses, ports, protocol and value are checked as flowmetrics::make_metric_key() checks
// them, so that a parsed metric never fails validation later.
// Never throws; never allocates more than a small multiple of the line's size.
//
// Details the example does not show:
// - Text fields are stored as given (make_metric_key() canonicalises them); a protocol given
//   as a JSON integer (6) is stored as its decimal text ("6").
// - Ports, integer protocols and counters must be JSON integer literals: 80.0 or 8e1 is
//   invalid_port (invalid_protocol, invalid_value), not wrong_type.
// - A counter that is null counts as absent (0). Any other null is wrong_type.
// - A required field given twice is invalid_json (which one was meant is unknowable);
//   unknown fields may repeat.
// - Timestamps: fractions beyond nanoseconds are truncated; numbers are read from their
//   decimal text, so 1732530000.123 is exactly ...123 ms. RFC 3339 accepts 'T', 't' or a
//   space between date and time; a leap second (:60) is rejected.
// - Several problems: invalid_json (or too_deep) wins, then the first bad field in the line, then the
//   first missing field in the order listed above.
// On rejection `metric` is left unchanged. Thread-safe: each thread reuses its own parser
// and padded copy of the line (inputs over 256 KiB get buffers freed after the call).
ParseResult parse_json_record(std::string_view line, Metric& metric);

// A request body: NDJSON (one object per line; blank lines skipped) or one JSON array of
// objects. Calls `on_record(index, metric)` for each good record and
// `on_reject(index, result)` for each bad one, index counting records from 0 (for NDJSON
// the line's index among non-blank lines, for an array the element's index). A body that
// is neither (e.g. a truncated array) yields one rejection with index 0 and reason
// invalid_json, after any records before the damage for NDJSON. Returns the number of
// records seen (good + bad).
//
// The body is an array when its first non-whitespace byte is '['. NDJSON lines end in
// "\n" or "\r\n"; a line that is bad for any reason is rejected at its own index and the
// lines after it are still parsed. An array body is checked as a whole first: if it is
// not valid JSON, the only callback is that one invalid_json rejection (the function
// returns 1) and no element is delivered. Callbacks run on the calling thread, in index
// order, and may call these functions again.
std::size_t parse_json_body(std::string_view body, const std::function<void(std::size_t, Metric&&)>& on_record,
                            const std::function<void(std::size_t, const ParseResult&)>& on_reject);

// A timestamp field as parse_json_record reads it, from its text: an RFC 3339 string's
// content (`quoted`) or a JSON number's literal. Whole milliseconds since the epoch (what the
// stored key keeps), or nullopt when the parser would refuse it as invalid_timestamp.
std::optional<std::int64_t> json_timestamp_ms(std::string_view text, bool quoted);

}  // namespace flowmetrics::ingest
