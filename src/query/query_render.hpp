#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "flowmetrics/query.hpp"

namespace flowmetrics::query {

// How a result is printed: the formats of `--format` (docs/query-api.md).
enum class Format { table, json, csv };

// "table", "json", "csv" -> the format; std::nullopt otherwise.
[[nodiscard]] std::optional<Format> parse_format(std::string_view text) noexcept;

// One renderer for the command line and the HTTP API: the JSON of docs/query-api.md (one
// object, no trailing newline), CSV with a header line, or an aligned table with human units
// in the manner of nfdump's -s output. `query` supplies what the result does not echo (the
// range asked for, the filter).
[[nodiscard]] std::string render_top(const TopQuery& query, const TopResult& result, Format format);
[[nodiscard]] std::string render_series(const SeriesQuery& query, const SeriesResult& result, Format format);

// A measure's value with a human unit: bytes in B/KiB/MiB/GiB/TiB, bps in b/s..Gb/s, pps in
// p/s..Gp/s, counts with k/M/G, `value` with up to six significant digits.
[[nodiscard]] std::string human(Measure measure, double value);

// JSON text of a string (quoted, escaped) and of a number (an integer when whole).
void append_json_string(std::string& out, std::string_view text);
void append_json_number(std::string& out, double value);

}  // namespace flowmetrics::query
