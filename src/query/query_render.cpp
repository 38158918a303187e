#include "query/query_render.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <vector>

#include "query/query_request.hpp"

namespace flowmetrics::query {
namespace {

constexpr int kChartWidth = 40;

std::string fixed(double value, int decimals) {
  char text[64];
  std::snprintf(text, sizeof(text), "%.*f", decimals, value);
  return text;
}

// `value` scaled by `base` with the first unit that keeps it under `base`, e.g. 1536 -> 1.5 KiB.
std::string scaled(double value, double base, const std::vector<const char*>& units) {
  std::size_t unit = 0;
  double magnitude = value;
  while (std::fabs(magnitude) >= base && unit + 1 < units.size()) {
    magnitude /= base;
    ++unit;
  }
  if (unit == 0 && magnitude == std::floor(magnitude)) return fixed(magnitude, 0) + (*units[0] ? " " : "") + units[0];
  return fixed(magnitude, 1) + (*units[unit] ? " " : "") + units[unit];
}

std::string percent(double share) {
  return fixed(share * 100.0, 1) + "%";
}

std::string csv_cell(std::string_view text) {
  if (text.find_first_of(",\"\n\r") == std::string_view::npos) return std::string(text);
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string plain_number(double value) {
  std::string out;
  append_json_number(out, value);
  return out;
}

std::string dimension_names(const std::vector<Dimension>& dimensions) {
  std::string out;
  for (const auto& d : dimensions) out += (out.empty() ? "" : ", ") + to_string(d);
  return out;
}

std::string tiers_text(const QueryStats& stats) {
  std::string out;
  for (const auto tier : stats.tiers) out += (out.empty() ? "" : ", ") + std::string(to_string(tier));
  return out.empty() ? "-" : out;
}

double elapsed_ms(const QueryStats& stats) {
  return static_cast<double>(stats.elapsed.count()) / 1000.0;
}

// "2026-12-02 09:05" (UTC) for a table's time column.
std::string short_time(std::int64_t ms) {
  std::string text = format_instant(ms);  // 2026-12-02T09:05:00Z
  return text.substr(0, 10) + " " + text.substr(11, 5);
}

// Columns printed with their widths: texts left-aligned, numbers right-aligned.
class Table {
 public:
  void add(std::vector<std::string> cells, std::vector<bool> right) {
    widths_.resize(std::max(widths_.size(), cells.size()), 0);
    for (std::size_t i = 0; i < cells.size(); ++i) widths_[i] = std::max(widths_[i], cells[i].size());
    rows_.push_back({std::move(cells), std::move(right)});
  }
  std::string render() const {
    std::string out;
    for (const auto& [cells, right] : rows_) {
      std::string line;
      for (std::size_t i = 0; i < cells.size(); ++i) {
        const std::size_t pad = widths_[i] - cells[i].size();
        if (i > 0) line += "  ";
        if (right[i]) line.append(pad, ' ');
        line += cells[i];
        if (!right[i] && i + 1 < cells.size()) line.append(pad, ' ');
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();
      out += line + '\n';
    }
    return out;
  }

 private:
  std::vector<std::size_t> widths_;
  std::vector<std::pair<std::vector<std::string>, std::vector<bool>>> rows_;
};

std::string range_line(const TimeRange& range, const Filter& filter) {
  std::string out = "Range: " + format_instant(range.from_ms) + " - " + format_instant(range.to_ms);
  if (!filter.empty()) out += "   Filter: " + filter.to_string();
  return out + '\n';
}

std::string series_name(const SeriesResult& result, const Series& series) {
  if (series.other) return "other";
  if (!result.split_by || series.values.empty()) return "total";
  std::string name;
  for (const auto& v : series.values) name += (name.empty() ? "" : "|") + v;
  return name;
}

// The members both JSON answers end with: which tiers answered and how long it took.
std::string json_stats_tail(const QueryStats& stats) {
  std::string out = ",\"tiers\":[";
  for (std::size_t i = 0; i < stats.tiers.size(); ++i) {
    if (i > 0) out += ',';
    append_json_string(out, to_string(stats.tiers[i]));
  }
  out += "],\"elapsed_ms\":";
  append_json_number(out, std::round(elapsed_ms(stats) * 1000.0) / 1000.0);
  return out + '}';
}

std::string top_json(const TopQuery& query, const TopResult& result) {
  const std::string measure(to_string(result.measure));
  std::vector<std::string> names;
  for (const auto& d : result.dimensions) names.push_back(to_string(d));
  std::string out = "{\"by\":[";
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ',';
    append_json_string(out, names[i]);
  }
  out += "],\"measure\":";
  append_json_string(out, measure);
  out += ",\"from\":";
  append_json_string(out, format_instant(query.range.from_ms));
  out += ",\"to\":";
  append_json_string(out, format_instant(query.range.to_ms));
  out += ",\"where\":";
  append_json_string(out, query.filter.to_string());
  out += ",\"rows\":[";
  for (std::size_t r = 0; r < result.rows.size(); ++r) {
    const TopRow& row = result.rows[r];
    out += r > 0 ? ",{" : "{";
    for (std::size_t i = 0; i < names.size() && i < row.values.size(); ++i) {
      append_json_string(out, names[i]);
      out += ':';
      append_json_string(out, row.values[i]);
      out += ',';
    }
    append_json_string(out, measure);
    out += ':';
    append_json_number(out, row.value);
    out += ",\"share\":";
    append_json_number(out, row.share);
    out += '}';
  }
  out += "],\"other\":{";
  append_json_string(out, measure);
  out += ':';
  append_json_number(out, result.other);
  out += ",\"share\":";
  append_json_number(out, result.total > 0 ? result.other / result.total : 0.0);
  out += "},\"total\":{";
  append_json_string(out, measure);
  out += ':';
  append_json_number(out, result.total);
  out += '}';
  return out + json_stats_tail(result.stats);
}

std::string top_csv(const TopResult& result) {
  std::string out = "rank";
  for (const auto& d : result.dimensions) out += "," + csv_cell(to_string(d));
  out += "," + std::string(to_string(result.measure)) + ",share\n";
  const std::string blanks(result.dimensions.size(), ',');
  for (std::size_t r = 0; r < result.rows.size(); ++r) {
    out += std::to_string(r + 1);
    for (const auto& v : result.rows[r].values) out += "," + csv_cell(v);
    out += "," + plain_number(result.rows[r].value) + "," + plain_number(result.rows[r].share) + "\n";
  }
  out += "other" + blanks + "," + plain_number(result.other) + "," +
         plain_number(result.total > 0 ? result.other / result.total : 0.0) + "\n";
  out += "total" + blanks + "," + plain_number(result.total) + ",1\n";
  return out;
}

std::string top_table(const TopQuery& query, const TopResult& result) {
  std::string out = "Top " + std::to_string(query.limit) + " " + dimension_names(result.dimensions) + " ordered by " +
                    std::string(to_string(result.measure)) + "\n" + range_line(query.range, query.filter) + "\n";
  Table table;
  std::vector<std::string> header{"#"};
  std::vector<bool> right{true};
  for (const auto& d : result.dimensions) {
    header.push_back(to_string(d));
    right.push_back(false);
  }
  header.push_back(std::string(to_string(result.measure)));
  header.push_back("share");
  right.push_back(true);
  right.push_back(true);
  table.add(header, right);
  const auto summary = [&](const char* label, double value, double share) {
    std::vector<std::string> cells{"", label};
    for (std::size_t i = 1; i < result.dimensions.size(); ++i) cells.emplace_back();
    cells.push_back(human(result.measure, value));
    cells.push_back(percent(share));
    table.add(std::move(cells), right);
  };
  for (std::size_t r = 0; r < result.rows.size(); ++r) {
    std::vector<std::string> cells{std::to_string(r + 1)};
    for (const auto& v : result.rows[r].values) cells.push_back(v);
    cells.resize(1 + result.dimensions.size());
    cells.push_back(human(result.measure, result.rows[r].value));
    cells.push_back(percent(result.rows[r].share));
    table.add(std::move(cells), right);
  }
  summary("other", result.other, result.total > 0 ? result.other / result.total : 0.0);
  summary("total", result.total, result.total > 0 ? 1.0 : 0.0);
  out += table.render();
  out += "\n" + std::to_string(result.rows.size()) + " rows; answered from " + tiers_text(result.stats) + " in " +
         fixed(elapsed_ms(result.stats), 1) + " ms\n";
  return out;
}

std::string series_json(const SeriesQuery& query, const SeriesResult& result) {
  std::string out = "{\"measure\":";
  append_json_string(out, to_string(result.measure));
  out += ",\"from\":";
  append_json_string(out, format_instant(query.range.from_ms));
  out += ",\"to\":";
  append_json_string(out, format_instant(query.range.to_ms));
  out += ",\"step\":" + std::to_string(result.step.count()) + ",\"split_by\":";
  std::string split_name;
  if (result.split_by) {
    split_name = to_string(*result.split_by);
    append_json_string(out, split_name);
  } else {
    out += "null";
  }
  out += ",\"where\":";
  append_json_string(out, query.filter.to_string());
  out += ",\"times\":[";
  for (std::size_t i = 0; i < result.bin_starts_ms.size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string(result.bin_starts_ms[i] / 1000);
  }
  out += "],\"series\":[";
  for (std::size_t s = 0; s < result.series.size(); ++s) {
    const Series& series = result.series[s];
    out += s > 0 ? ",{\"name\":" : "{\"name\":";
    append_json_string(out, series_name(result, series));
    if (series.other) {
      out += ",\"other\":true";
    } else if (result.split_by && !series.values.empty()) {
      out += ',';
      append_json_string(out, split_name);
      out += ':';
      append_json_string(out, series.values.front());
    }
    out += ",\"total\":";
    append_json_number(out, series.total);
    out += ",\"values\":[";
    for (std::size_t i = 0; i < series.points.size(); ++i) {
      if (i > 0) out += ',';
      append_json_number(out, series.points[i]);
    }
    out += "]}";
  }
  out += ']';
  return out + json_stats_tail(result.stats);
}

std::string series_csv(const SeriesResult& result) {
  std::string out = "time";
  for (const auto& series : result.series) out += "," + csv_cell(series_name(result, series));
  out += '\n';
  for (std::size_t i = 0; i < result.bin_starts_ms.size(); ++i) {
    out += format_instant(result.bin_starts_ms[i]);
    for (const auto& series : result.series) {
      out += "," + plain_number(i < series.points.size() ? series.points[i] : 0.0);
    }
    out += '\n';
  }
  return out;
}

std::string series_table(const SeriesQuery& query, const SeriesResult& result) {
  std::string out =
      std::string(to_string(result.measure)) + " per " + std::to_string(result.step.count() / 60) + " min";
  if (result.split_by) {
    out += ", split by " + to_string(*result.split_by) + " (top " + std::to_string(query.limit) + " and other)";
  }
  out += "\n" + range_line(query.range, query.filter) + "\n";
  std::vector<double> totals(result.bin_starts_ms.size(), 0.0);
  for (const auto& series : result.series) {
    for (std::size_t i = 0; i < totals.size() && i < series.points.size(); ++i) totals[i] += series.points[i];
  }
  const double peak = totals.empty() ? 0.0 : *std::max_element(totals.begin(), totals.end());
  Table table;
  std::vector<std::string> header{"time"};
  std::vector<bool> right{false};
  for (const auto& series : result.series) {
    header.push_back(series_name(result, series));
    right.push_back(true);
  }
  if (result.split_by) {
    header.emplace_back("total");
    right.push_back(true);
  }
  header.emplace_back("");
  right.push_back(false);
  table.add(header, right);
  for (std::size_t i = 0; i < result.bin_starts_ms.size(); ++i) {
    std::vector<std::string> cells{short_time(result.bin_starts_ms[i])};
    for (const auto& series : result.series) {
      cells.push_back(human(result.measure, i < series.points.size() ? series.points[i] : 0.0));
    }
    if (result.split_by) cells.push_back(human(result.measure, totals[i]));
    const int bar = peak > 0 ? static_cast<int>(std::lround(totals[i] / peak * kChartWidth)) : 0;
    cells.push_back("|" + std::string(static_cast<std::size_t>(bar), '#'));
    table.add(std::move(cells), right);
  }
  out += table.render();
  out += "\n" + std::to_string(result.bin_starts_ms.size()) + " bins; answered from " + tiers_text(result.stats) +
         " in " + fixed(elapsed_ms(result.stats), 1) + " ms\n";
  return out;
}

}  // namespace

std::optional<Format> parse_format(std::string_view text) noexcept {
  if (text == "table") return Format::table;
  if (text == "json") return Format::json;
  if (text == "csv") return Format::csv;
  return std::nullopt;
}

std::string human(Measure measure, double value) {
  switch (measure) {
    case Measure::bytes: return scaled(value, 1024.0, {"B", "KiB", "MiB", "GiB", "TiB", "PiB"});
    case Measure::bps: return scaled(value, 1000.0, {"b/s", "kb/s", "Mb/s", "Gb/s", "Tb/s"});
    case Measure::pps: return scaled(value, 1000.0, {"p/s", "kp/s", "Mp/s", "Gp/s"});
    case Measure::packets:
    case Measure::flows:
    case Measure::count: return scaled(value, 1000.0, {"", "k", "M", "G", "T"});
    case Measure::value: {
      char text[64];
      std::snprintf(text, sizeof(text), "%.6g", value);
      return text;
    }
  }
  return plain_number(value);
}

void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  for (const char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof(escaped), "\\u%04x", static_cast<unsigned>(c));
          out += escaped;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

void append_json_number(std::string& out, double value) {
  if (!std::isfinite(value)) {
    out += '0';  // JSON has no NaN or infinity; the library never returns them
    return;
  }
  if (value == std::floor(value) && std::fabs(value) < 9.0e15) {
    out += std::to_string(static_cast<long long>(value));
    return;
  }
  char text[64];
  const auto [end, ec] = std::to_chars(text, text + sizeof(text), value);
  out.append(text, ec == std::errc{} ? end : text);
}

std::string render_top(const TopQuery& query, const TopResult& result, Format format) {
  switch (format) {
    case Format::json: return top_json(query, result);
    case Format::csv: return top_csv(result);
    case Format::table: return top_table(query, result);
  }
  return {};
}

std::string render_series(const SeriesQuery& query, const SeriesResult& result, Format format) {
  switch (format) {
    case Format::json: return series_json(query, result);
    case Format::csv: return series_csv(result);
    case Format::table: return series_table(query, result);
  }
  return {};
}

}  // namespace flowmetrics::query
