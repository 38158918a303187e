#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "flowmetrics/filter.hpp"

namespace flowmetrics {

// The read side's vocabulary: what a top-N or a time series asks for and what it answers.
// The calls themselves are MetricsAgent::top() and MetricsAgent::series()
// (metrics_agent.hpp):
//   TopResult top(const TopQuery&, std::optional<std::chrono::milliseconds> timeout = {});
//   SeriesResult series(const SeriesQuery&, std::optional<std::chrono::milliseconds> timeout = {});
// Both throw Error(invalid_argument) naming the field ("dimensions", "measure", "range",
// "limit", "step", "points", "split_by", "filter") for a bad request, and otherwise fail like
// every agent call (deadline_exceeded, server_error, ...). They live on the agent rather than on a separate reader
// because a query needs exactly what the agent already owns: its pool and deadlines, the server it detected (FerretDB
// and MongoDB get different plans), and the rollup tiers its writes keep (AgentOptions::rollups), which decide where a
// query can be answered (docs/rollups.md).

// What a query sums. bytes, packets, flows, value and count are the stored sums; bps and pps
// are rates: bytes * 8 (or packets) divided by the seconds of the range (top) or of one bin
// (series).
enum class Measure { bytes, packets, flows, value, count, bps, pps };

// "bytes", "packets", ...; parse_measure() takes the same names and returns nullopt for
// anything else.
std::string_view to_string(Measure measure) noexcept;
std::optional<Measure> parse_measure(std::string_view text) noexcept;

// One grouping dimension of a top-N or a split series: a key field, and for an address
// field optionally a prefix per address family (IPv4 addresses are grouped by
// ipv4_prefix, IPv6 ones by ipv6_prefix; an unset length keeps whole addresses).
struct Dimension {
  FlowField field = FlowField::source_ip;
  std::optional<std::uint8_t> ipv4_prefix;  // 0..32, address fields only
  std::optional<std::uint8_t> ipv6_prefix;  // 0..128, address fields only

  friend bool operator==(const Dimension&, const Dimension&) = default;
};

// Text form shared by the command line and the HTTP API: a stored field name
// (source_ip, dest_ip, source_port, dest_port, protocol), for an address optionally
// followed by "/N" (N <= 32: the IPv4 prefix; N > 32: the IPv6 prefix) or "/N/M" (IPv4 /N and
// IPv6 /M), e.g. "source_ip/24", "dest_ip/48", "source_ip/24/64". A full length (/32 for IPv4,
// /128 for IPv6) is the same grouping as none and parses to an unset prefix.
// Throws Error(invalid_argument) whose message quotes the text and says what is wrong.
Dimension parse_dimension(std::string_view text);
std::string to_string(const Dimension& dimension);  // parse_dimension(to_string(d)) == d

// [from_ms, to_ms): milliseconds since the Unix epoch, matched against the documents'
// timestamps (the start of each document's bucket). Ranges on whole minutes are the fast
// ones: the rollup tiers hold whole minutes and hours, and ragged seconds at either end are
// read from the five-tuple minute tier.
struct TimeRange {
  std::int64_t from_ms = 0;
  std::int64_t to_ms = 0;
};

// Where (part of) an answer came from; docs/rollups.md describes each tier.
enum class QueryTier {
  minute,         // the metrics collection itself: five-tuple x minute (x bucket)
  hour,           // five-tuple x hour
  minute_totals,  // per-dimension totals per minute, one collection per dimension and hour
  hour_totals,    // per-dimension totals per hour, one collection per dimension and day
};
std::string_view to_string(QueryTier tier) noexcept;  // "minute", "hour", "minute_totals", "hour_totals"

// How a query was answered, for monitoring (the HTTP API's metrics, the slow-query log).
struct QueryStats {
  std::vector<QueryTier> tiers;  // every tier read, coarsest first
  // Documents the server examined, summed over the commands, when every server involved
  // reports it; otherwise unset. For reads of the totals tiers it is the documents fetched.
  std::optional<std::uint64_t> documents_examined;
  std::size_t commands = 0;  // aggregate/find commands sent
  std::chrono::microseconds elapsed{0};
};

struct TopQuery {
  std::vector<Dimension> dimensions;  // one or more, each field at most once
  Measure measure = Measure::bytes;
  TimeRange range;
  Filter filter;           // an empty filter matches everything
  std::size_t limit = 10;  // 1..10,000 rows
};

struct TopRow {
  // One text per dimension, in the query's order: an address as stored ("10.0.0.1",
  // "2001:db8::1"), a prefix as "10.1.2.0/24" or "2001:db8::/48", a port in decimal, the
  // protocol as stored ("TCP", or its number when it has no name).
  std::vector<std::string> values;
  double value = 0.0;  // the measure
  double share = 0.0;  // value / total; 0 when the total is 0
};

struct TopResult {
  std::vector<Dimension> dimensions;
  Measure measure = Measure::bytes;
  std::vector<TopRow> rows;  // by value, largest first; equal values by their texts
  double other = 0.0;        // the measure over every group past the limit
  double total = 0.0;        // the measure over everything the range and filter match
  QueryStats stats;
};

struct SeriesQuery {
  Measure measure = Measure::bytes;
  TimeRange range;
  // Bin width, a whole number of minutes. Unset: the smallest of 1, 2, 5, 10, 15, 30 minutes,
  // 1, 2, 3, 6, 12 hours, 1 day that gives at most `points` bins.
  std::optional<std::chrono::seconds> step;
  std::size_t points = 60;  // wanted bins when `step` is unset: 1..10,000
  // When set, one series per value of the dimension among the top `limit` over the whole
  // range (by the measure), then one "other" series with the rest.
  std::optional<Dimension> split_by;
  std::size_t limit = 5;  // 1..1,000 series when split
  Filter filter;          // an empty filter matches everything
};

struct Series {
  std::vector<std::string> values;  // the split value (TopRow::values); empty when unsplit or "other"
  bool other = false;               // the "other" series of a split
  std::vector<double> points;       // one per bin; a bin without data is 0
  double total = 0.0;               // the measure over the whole range (rates: over the range)
};

struct SeriesResult {
  Measure measure = Measure::bytes;
  std::optional<Dimension> split_by;
  std::chrono::seconds step{60};
  // Bin starts, ms since the epoch, each a multiple of `step` (bins are aligned to the
  // epoch): the range is widened to whole bins, so the first bin starts at or before
  // range.from_ms and the last one ends at or after range.to_ms.
  std::vector<std::int64_t> bin_starts_ms;
  // Unsplit: one series. Split: up to `limit` series, largest first, then "other" (always
  // present, possibly all zero).
  std::vector<Series> series;
  QueryStats stats;
};

}  // namespace flowmetrics
