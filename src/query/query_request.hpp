#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

#include "flowmetrics/query.hpp"

namespace flowmetrics::query {

// The parameters of one query by their HTTP names (by, measure, from, to, last, limit, where,
// step, points, split_by), as text. The command line fills the same map from its options, so
// both faces accept and refuse exactly the same things (docs/query-api.md).
using Parameters = std::map<std::string, std::string, std::less<>>;

// A parameter that cannot be used: parameter() is its HTTP name, what() says why; for
// `where`, position() is the byte offset of the problem in the filter text.
class ParameterError : public std::runtime_error {
 public:
  ParameterError(std::string parameter, const std::string& message, std::optional<std::size_t> position = {})
      : std::runtime_error(message), parameter_(std::move(parameter)), position_(position) {}

  [[nodiscard]] const std::string& parameter() const noexcept { return parameter_; }
  [[nodiscard]] std::optional<std::size_t> position() const noexcept { return position_; }

 private:
  std::string parameter_;
  std::optional<std::size_t> position_;
};

// Request -> library query. `now_ms` (epoch ms) anchors `last` and a missing `to`. Without
// `last` or `from` the range is the last hour. Throws ParameterError for an unknown, missing or
// bad parameter, naming it.
[[nodiscard]] TopQuery parse_top_request(const Parameters& parameters, std::int64_t now_ms);
[[nodiscard]] SeriesQuery parse_series_request(const Parameters& parameters, std::int64_t now_ms);

// An Error's message without the ": invalid argument" std::system_error appends to what().
[[nodiscard]] std::string message_of(const std::system_error& error);

// The library names a field in its invalid_argument messages ("dimensions", "range", ...);
// this is the parameter that carries it ("by", "from", ...), "request" when none fits.
[[nodiscard]] std::string parameter_for_library_error(std::string_view message);

// An instant: RFC 3339 ("2026-12-02T09:00:00Z", "...T10:00:00.5+01:00") or epoch seconds
// ("1796288400", "1796288400.25"). Epoch milliseconds, or std::nullopt.
[[nodiscard]] std::optional<std::int64_t> parse_instant(std::string_view text);

// A duration: a whole number followed by s, m, h, d or w ("90s", "15m", "1h", "7d"), or bare
// seconds ("300"). Seconds, or std::nullopt (also for zero and for more than 100 years).
[[nodiscard]] std::optional<std::int64_t> parse_duration_seconds(std::string_view text);

// "2026-12-02T09:00:00Z", with ".123" when the milliseconds are not zero.
[[nodiscard]] std::string format_instant(std::int64_t epoch_ms);

// Milliseconds since the epoch now (the system clock).
[[nodiscard]] std::int64_t now_ms();

}  // namespace flowmetrics::query
