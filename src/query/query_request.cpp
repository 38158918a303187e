#include "query/query_request.hpp"

#include <charconv>
#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "flowmetrics/filter.hpp"

namespace flowmetrics::query {
namespace {

constexpr std::int64_t kMaxDurationSeconds = 100LL * 366 * 86'400;
// 9999-12-31T23:59:59.999Z, as the write side bounds timestamps.
constexpr std::int64_t kMaxInstantMs = 253'402'300'799'999;

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146'097 + static_cast<std::int64_t>(doe) - 719'468;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Reads exactly `count` digits at `at`.
std::optional<int> digits(std::string_view text, std::size_t at, std::size_t count) {
  if (at + count > text.size()) return std::nullopt;
  int value = 0;
  for (std::size_t i = at; i < at + count; ++i) {
    if (!is_digit(text[i])) return std::nullopt;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

std::optional<std::int64_t> parse_epoch_seconds(std::string_view text) {
  const auto dot = text.find('.');
  const std::string_view whole = text.substr(0, dot);
  if (whole.empty() || whole.size() > 12) return std::nullopt;
  std::int64_t seconds = 0;
  for (const char c : whole) {
    if (!is_digit(c)) return std::nullopt;
    seconds = seconds * 10 + (c - '0');
  }
  std::int64_t ms = seconds * 1000;
  if (dot != std::string_view::npos) {
    const std::string_view fraction = text.substr(dot + 1);
    if (fraction.empty() || fraction.size() > 9) return std::nullopt;
    std::int64_t scale = 100;
    for (const char c : fraction) {
      if (!is_digit(c)) return std::nullopt;
      ms += (c - '0') * scale;
      scale /= 10;
    }
  }
  return ms;
}

std::optional<std::int64_t> parse_rfc3339(std::string_view text) {
  // YYYY-MM-DD(T|t| )HH:MM:SS[.fraction](Z|z|+HH:MM|-HH:MM)
  const auto year = digits(text, 0, 4);
  const auto month = digits(text, 5, 2);
  const auto day = digits(text, 8, 2);
  const auto hour = digits(text, 11, 2);
  const auto minute = digits(text, 14, 2);
  const auto second = digits(text, 17, 2);
  if (!year || !month || !day || !hour || !minute || !second) return std::nullopt;
  if (text[4] != '-' || text[7] != '-' || (text[10] != 'T' && text[10] != 't' && text[10] != ' ') || text[13] != ':' ||
      text[16] != ':') {
    return std::nullopt;
  }
  if (*month < 1 || *month > 12 || *day < 1 || *hour > 23 || *minute > 59 || *second > 60) return std::nullopt;
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (*year % 4 == 0 && *year % 100 != 0) || *year % 400 == 0;
  if (*day > kDays[*month - 1] || (*month == 2 && *day == 29 && !leap)) return std::nullopt;
  std::size_t at = 19;
  std::int64_t ms = 0;
  if (at < text.size() && text[at] == '.') {
    ++at;
    std::int64_t scale = 100;
    const std::size_t start = at;
    while (at < text.size() && is_digit(text[at])) {
      ms += (text[at] - '0') * scale;
      scale /= 10;
      ++at;
    }
    if (at == start || at - start > 9) return std::nullopt;
  }
  if (at >= text.size()) return std::nullopt;  // RFC 3339 requires the offset
  std::int64_t offset_minutes = 0;
  if (text[at] == 'Z' || text[at] == 'z') {
    ++at;
  } else if (text[at] == '+' || text[at] == '-') {
    const auto offset_hour = digits(text, at + 1, 2);
    const auto offset_minute = digits(text, at + 4, 2);
    if (!offset_hour || !offset_minute || text[at + 3] != ':' || *offset_hour > 23 || *offset_minute > 59) {
      return std::nullopt;
    }
    offset_minutes = (*offset_hour * 60 + *offset_minute) * (text[at] == '-' ? -1 : 1);
    at += 6;
  } else {
    return std::nullopt;
  }
  if (at != text.size()) return std::nullopt;
  const std::int64_t seconds =
      days_from_civil(*year, static_cast<unsigned>(*month), static_cast<unsigned>(*day)) * 86'400 + *hour * 3600 +
      *minute * 60 + std::min(*second, 59) - offset_minutes * 60;
  return seconds * 1000 + ms;
}

std::size_t parse_count(const Parameters& parameters, const std::string& name, std::size_t fallback, std::size_t max) {
  const auto it = parameters.find(name);
  if (it == parameters.end()) return fallback;
  std::size_t value = 0;
  const std::string& text = it->second;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || value < 1 || value > max) {
    throw ParameterError(
        name, name + " must be a whole number from 1 to " + std::to_string(max) + ", not '" + text.substr(0, 40) + "'");
  }
  return value;
}

Dimension parse_dimension_parameter(const std::string& name, std::string_view text) {
  try {
    return parse_dimension(text);
  } catch (const Error& error) {
    throw ParameterError(name, message_of(error));
  }
}

void check_known(const Parameters& parameters, const std::set<std::string_view>& allowed, std::string_view kind) {
  for (const auto& [name, value] : parameters) {
    if (!allowed.contains(name)) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      throw ParameterError(name, "'" + name.substr(0, 40) + "' is not a parameter of " + std::string(kind) +
                                     " (expected one of " + list + ")");
    }
  }
}

Measure parse_measure_parameter(const Parameters& parameters) {
  const auto it = parameters.find("measure");
  if (it == parameters.end()) return Measure::bytes;
  const auto measure = parse_measure(it->second);
  if (!measure) {
    throw ParameterError("measure", "measure must be one of bytes, packets, flows, value, count, bps, pps, not '" +
                                        it->second.substr(0, 40) + "'");
  }
  return *measure;
}

// [now - span, now) with its start moved up to the next whole minute (or down, when no minute
// starts in between): documents are stamped with their minute's start, so a range starting
// mid-minute would only add a read of the minute collection that finds nothing, where whole
// minutes are answered from the rollup tiers (docs/rollups.md).
TimeRange last_range(std::int64_t now, std::int64_t span_ms) {
  constexpr std::int64_t kMinute = 60'000;
  const std::int64_t start = now - span_ms;
  const std::int64_t floor = start - (((start % kMinute) + kMinute) % kMinute);
  const std::int64_t ceil = floor == start ? start : floor + kMinute;
  return TimeRange{ceil < now ? ceil : floor, now};
}

TimeRange parse_range(const Parameters& parameters, std::int64_t now) {
  const auto last = parameters.find("last");
  const auto from = parameters.find("from");
  const auto to = parameters.find("to");
  if (last != parameters.end()) {
    if (from != parameters.end() || to != parameters.end()) {
      throw ParameterError("last", "give either last or from (and to), not both");
    }
    const auto seconds = parse_duration_seconds(last->second);
    if (!seconds) {
      throw ParameterError("last", "last must be a duration such as 15m, 1h, 7d (s, m, h, d, w), not '" +
                                       last->second.substr(0, 40) + "'");
    }
    return last_range(now, *seconds * 1000);
  }
  if (from == parameters.end()) {
    if (to != parameters.end()) throw ParameterError("to", "to needs from (or use last)");
    return last_range(now, 3'600'000);
  }
  const auto instant = [](const std::string& name, const std::string& text) {
    const auto ms = parse_instant(text);
    if (!ms) {
      throw ParameterError(name, name + " must be an RFC 3339 time (2026-12-02T09:00:00Z) or epoch seconds, not '" +
                                     text.substr(0, 40) + "'");
    }
    return *ms;
  };
  TimeRange range{instant("from", from->second), to == parameters.end() ? now : instant("to", to->second)};
  if (range.from_ms >= range.to_ms) throw ParameterError("from", "from must be before to");
  return range;
}

Filter parse_where(const Parameters& parameters) {
  const auto it = parameters.find("where");
  if (it == parameters.end()) return Filter{};
  try {
    return parse_filter(it->second);
  } catch (const FilterError& error) {
    throw ParameterError("where", message_of(error), error.position());
  }
}

}  // namespace

TopQuery parse_top_request(const Parameters& parameters, std::int64_t now) {
  check_known(parameters, {"by", "measure", "from", "to", "last", "limit", "where"}, "top");
  TopQuery query;
  const auto by = parameters.find("by");
  if (by == parameters.end() || by->second.empty()) {
    throw ParameterError("by",
                         "by is required: one or more of source_ip, dest_ip, source_port, dest_port, protocol "
                         "(comma-separated; addresses may take a prefix, e.g. source_ip/24)");
  }
  std::set<FlowField> seen;
  std::string_view rest = by->second;
  while (true) {
    const auto comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    const Dimension dimension = parse_dimension_parameter("by", item);
    if (!seen.insert(dimension.field).second) {
      throw ParameterError("by", "by names " + std::string(to_string(dimension.field)) + " twice");
    }
    query.dimensions.push_back(dimension);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  query.measure = parse_measure_parameter(parameters);
  query.range = parse_range(parameters, now);
  query.limit = parse_count(parameters, "limit", 10, 10'000);
  query.filter = parse_where(parameters);
  return query;
}

SeriesQuery parse_series_request(const Parameters& parameters, std::int64_t now) {
  check_known(parameters, {"measure", "from", "to", "last", "limit", "where", "step", "points", "split_by"}, "series");
  SeriesQuery query;
  query.measure = parse_measure_parameter(parameters);
  query.range = parse_range(parameters, now);
  query.filter = parse_where(parameters);
  query.limit = parse_count(parameters, "limit", 5, 1'000);
  query.points = parse_count(parameters, "points", 60, 10'000);
  if (const auto step = parameters.find("step"); step != parameters.end()) {
    if (parameters.contains("points")) throw ParameterError("points", "give either step or points, not both");
    const auto seconds = parse_duration_seconds(step->second);
    if (!seconds || *seconds % 60 != 0) {
      throw ParameterError("step", "step must be a whole number of minutes such as 1m, 5m, 1h, 1d, not '" +
                                       step->second.substr(0, 40) + "'");
    }
    query.step = std::chrono::seconds(*seconds);
  }
  if (const auto split = parameters.find("split_by"); split != parameters.end()) {
    query.split_by = parse_dimension_parameter("split_by", split->second);
  } else if (parameters.contains("limit")) {
    throw ParameterError("limit", "limit applies to a split series: give split_by too");
  }
  return query;
}

std::string message_of(const std::system_error& error) {
  std::string text = error.what();
  const std::string suffix = ": " + error.code().message();
  if (text.size() > suffix.size() && text.ends_with(suffix)) text.resize(text.size() - suffix.size());
  return text;
}

std::string parameter_for_library_error(std::string_view message) {
  static const std::vector<std::pair<std::string_view, std::string>> kFields = {
      {"dimension", "by"}, {"measure", "measure"}, {"range", "from"},        {"limit", "limit"},
      {"step", "step"},    {"points", "points"},   {"split_by", "split_by"}, {"filter", "where"}};
  std::size_t best = std::string_view::npos;
  std::string parameter = "request";
  for (const auto& [field, name] : kFields) {
    const auto at = message.find(field);
    if (at < best) {
      best = at;
      parameter = name;
    }
  }
  return parameter;
}

std::optional<std::int64_t> parse_instant(std::string_view text) {
  if (text.empty() || text.size() > 40) return std::nullopt;
  const auto ms = text.find('-') == std::string_view::npos ? parse_epoch_seconds(text) : parse_rfc3339(text);
  if (!ms || *ms < 0 || *ms > kMaxInstantMs) return std::nullopt;
  return ms;
}

std::optional<std::int64_t> parse_duration_seconds(std::string_view text) {
  if (text.empty() || text.size() > 12) return std::nullopt;
  std::int64_t unit = 1;
  switch (text.back()) {
    case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86'400; break;
    case 'w': unit = 7 * 86'400; break;
    default: unit = 0;
  }
  if (unit != 0) text.remove_suffix(1);
  if (unit == 0) unit = 1;
  if (text.empty() || text.size() > 10) return std::nullopt;
  std::int64_t value = 0;
  for (const char c : text) {
    if (!is_digit(c)) return std::nullopt;
    value = value * 10 + (c - '0');
  }
  const std::int64_t seconds = value * unit;
  if (seconds <= 0 || seconds > kMaxDurationSeconds) return std::nullopt;
  return seconds;
}

std::string format_instant(std::int64_t epoch_ms) {
  const std::int64_t seconds = epoch_ms >= 0 ? epoch_ms / 1000 : (epoch_ms - 999) / 1000;
  const auto ms = static_cast<int>(epoch_ms - seconds * 1000);
  const std::chrono::sys_seconds instant{std::chrono::seconds(seconds)};
  const auto day = std::chrono::floor<std::chrono::days>(instant);
  const std::chrono::year_month_day date{day};
  const std::chrono::hh_mm_ss time{instant - day};
  char text[40];
  std::snprintf(text, sizeof(text), "%04d-%02u-%02uT%02d:%02d:%02d", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                static_cast<int>(time.hours().count()), static_cast<int>(time.minutes().count()),
                static_cast<int>(time.seconds().count()));
  std::string out(text);
  if (ms != 0) {
    std::snprintf(text, sizeof(text), ".%03d", ms);
    out += text;
  }
  return out + "Z";
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace flowmetrics::query
