// The query parameters shared by the command line and the HTTP API (src/query/query_request)
// and the renderer (src/query/query_render): what is accepted, what is refused and named, and
// the exact JSON/CSV shapes of docs/query-api.md.
#include <gtest/gtest.h>

#include <string>

#include "query/query_render.hpp"
#include "query/query_request.hpp"

namespace flowmetrics::query {
namespace {

constexpr std::int64_t kNow = 1'796'205'600'000;  // 2026-12-02T10:00:00Z

// The parameter a request is refused for ("" when it is accepted).
template <typename Parse>
std::string refused(Parse parse, const Parameters& parameters) {
  try {
    (void)parse(parameters, kNow);
  } catch (const ParameterError& error) {
    return error.parameter();
  }
  return "";
}

TEST(QueryRequest, InstantsAndDurations) {
  EXPECT_EQ(parse_instant("2026-12-02T10:00:00Z"), kNow);
  EXPECT_EQ(parse_instant("2026-12-02t11:00:00+01:00"), kNow);
  EXPECT_EQ(parse_instant("2026-12-02 09:30:00.250-00:30"), kNow + 250);
  EXPECT_EQ(parse_instant("1796205600"), kNow);
  EXPECT_EQ(parse_instant("1796205600.5"), kNow + 500);
  EXPECT_EQ(parse_instant("2024-02-29T00:00:00Z"), 1'709'164'800'000);
  for (const char* bad :
       {"", "2026-12-02", "2026-12-02T10:00:00", "2026-13-02T10:00:00Z", "2023-02-29T00:00:00Z", "2026-12-02T24:00:00Z",
        "2026-12-02T10:00:00+1:00", "12x", "1796205600.", "-5", "2026-12-02T10:00:00Zjunk"}) {
    EXPECT_FALSE(parse_instant(bad)) << bad;
  }
  EXPECT_EQ(format_instant(kNow), "2026-12-02T10:00:00Z");
  EXPECT_EQ(format_instant(kNow + 7), "2026-12-02T10:00:00.007Z");
  EXPECT_EQ(format_instant(0), "1970-01-01T00:00:00Z");

  EXPECT_EQ(parse_duration_seconds("90s"), 90);
  EXPECT_EQ(parse_duration_seconds("15m"), 900);
  EXPECT_EQ(parse_duration_seconds("1h"), 3600);
  EXPECT_EQ(parse_duration_seconds("7d"), 604'800);
  EXPECT_EQ(parse_duration_seconds("2w"), 1'209'600);
  EXPECT_EQ(parse_duration_seconds("300"), 300);
  for (const char* bad : {"", "0m", "h", "1.5h", "5x", "-1h", "99999999999d"}) {
    EXPECT_FALSE(parse_duration_seconds(bad)) << bad;
  }
}

TEST(QueryRequest, TopDefaultsAndFields) {
  const TopQuery query = parse_top_request({{"by", "source_ip/24, protocol"}}, kNow);
  ASSERT_EQ(query.dimensions.size(), 2u);
  EXPECT_EQ(query.dimensions[0].field, FlowField::source_ip);
  EXPECT_EQ(query.dimensions[0].ipv4_prefix, 24);
  EXPECT_EQ(query.dimensions[1].field, FlowField::protocol);
  EXPECT_EQ(query.measure, Measure::bytes);
  EXPECT_EQ(query.range.from_ms, kNow - 3'600'000);
  EXPECT_EQ(query.range.to_ms, kNow);
  EXPECT_EQ(query.limit, 10u);
  EXPECT_TRUE(query.filter.empty());

  const TopQuery full = parse_top_request({{"by", "dest_port"},
                                           {"measure", "bps"},
                                           {"from", "2026-12-02T09:00:00Z"},
                                           {"to", "1796205600"},
                                           {"limit", "3"},
                                           {"where", "protocol = tcp"}},
                                          kNow);
  EXPECT_EQ(full.measure, Measure::bps);
  EXPECT_EQ(full.range.from_ms, kNow - 3'600'000);
  EXPECT_EQ(full.range.to_ms, kNow);
  EXPECT_EQ(full.limit, 3u);
  EXPECT_EQ(full.filter.to_string(), "protocol = tcp");
  EXPECT_EQ(parse_top_request({{"by", "dest_ip"}, {"last", "15m"}}, kNow).range.from_ms, kNow - 900'000);
  // `last` starts at a whole minute: the next one after now - last, or the current one.
  const std::int64_t later = kNow + 21'500;  // 10:00:21.5
  EXPECT_EQ(parse_top_request({{"by", "dest_ip"}, {"last", "1h"}}, later).range.from_ms, kNow - 3'540'000);
  EXPECT_EQ(parse_top_request({{"by", "dest_ip"}, {"last", "1h"}}, later).range.to_ms, later);
  EXPECT_EQ(parse_top_request({{"by", "dest_ip"}}, later).range.from_ms, kNow - 3'540'000);
  EXPECT_EQ(parse_top_request({{"by", "dest_ip"}, {"last", "90s"}}, later).range.from_ms, kNow - 60'000);
  EXPECT_EQ(parse_top_request({{"by", "dest_ip"}, {"last", "10s"}}, later).range.from_ms, kNow);
}

TEST(QueryRequest, TopRefusalsNameTheParameter) {
  const auto top = [](const Parameters& p) { return refused(parse_top_request, p); };
  EXPECT_EQ(top({}), "by");
  EXPECT_EQ(top({{"by", "nope"}}), "by");
  EXPECT_EQ(top({{"by", "source_port/24"}}), "by");
  EXPECT_EQ(top({{"by", "source_ip,src_ip"}}), "by");
  EXPECT_EQ(top({{"by", "source_ip"}, {"measure", "octets"}}), "measure");
  EXPECT_EQ(top({{"by", "source_ip"}, {"limit", "0"}}), "limit");
  EXPECT_EQ(top({{"by", "source_ip"}, {"limit", "10001"}}), "limit");
  EXPECT_EQ(top({{"by", "source_ip"}, {"limit", "5x"}}), "limit");
  EXPECT_EQ(top({{"by", "source_ip"}, {"last", "1h"}, {"from", "1"}}), "last");
  EXPECT_EQ(top({{"by", "source_ip"}, {"last", "soon"}}), "last");
  EXPECT_EQ(top({{"by", "source_ip"}, {"to", "1796205600"}}), "to");
  EXPECT_EQ(top({{"by", "source_ip"}, {"from", "yesterday"}}), "from");
  EXPECT_EQ(top({{"by", "source_ip"}, {"from", "1796205600"}, {"to", "1796205000"}}), "from");
  EXPECT_EQ(top({{"by", "source_ip"}, {"step", "1m"}}), "step");
  EXPECT_EQ(top({{"by", "source_ip"}, {"colour", "red"}}), "colour");
  EXPECT_EQ(top({{"by", "source_ip"}}), "");

  try {
    (void)parse_top_request({{"by", "source_ip"}, {"where", "dest_port = 443 and protocol = tcpx"}}, kNow);
    FAIL();
  } catch (const ParameterError& error) {
    EXPECT_EQ(error.parameter(), "where");
    EXPECT_EQ(error.position(), 31u);
    EXPECT_NE(std::string(error.what()).find("protocol name"), std::string::npos);
    EXPECT_FALSE(std::string(error.what()).ends_with("invalid argument")) << error.what();
  }
}

TEST(QueryRequest, Series) {
  const SeriesQuery query = parse_series_request({{"step", "5m"}, {"split_by", "dest_ip/48"}, {"limit", "3"}}, kNow);
  EXPECT_EQ(query.step, std::chrono::seconds(300));
  ASSERT_TRUE(query.split_by);
  EXPECT_EQ(query.split_by->field, FlowField::dest_ip);
  EXPECT_EQ(query.split_by->ipv6_prefix, 48);
  EXPECT_EQ(query.limit, 3u);
  EXPECT_EQ(parse_series_request({{"points", "120"}}, kNow).points, 120u);
  EXPECT_FALSE(parse_series_request({}, kNow).step);

  const auto series = [](const Parameters& p) { return refused(parse_series_request, p); };
  EXPECT_EQ(series({{"step", "90s"}}), "step");
  EXPECT_EQ(series({{"step", "1m"}, {"points", "10"}}), "points");
  EXPECT_EQ(series({{"points", "0"}}), "points");
  EXPECT_EQ(series({{"split_by", "size"}}), "split_by");
  EXPECT_EQ(series({{"limit", "3"}}), "limit");
  EXPECT_EQ(series({{"by", "source_ip"}}), "by");
}

TEST(QueryRequest, LibraryErrorsMapToParameters) {
  EXPECT_EQ(parameter_for_library_error("dimensions: source_ip twice"), "by");
  EXPECT_EQ(parameter_for_library_error("range: from after to"), "from");
  EXPECT_EQ(parameter_for_library_error("step: 7 minutes does not divide a day"), "step");
  EXPECT_EQ(parameter_for_library_error("something else"), "request");
}

TopResult sample_top() {
  TopResult result;
  result.dimensions = {parse_dimension("source_ip/24"), parse_dimension("protocol")};
  result.measure = Measure::bytes;
  result.rows = {{{"10.0.1.0/24", "TCP"}, 3072, 0.5}, {{"10.0.2.0/24", "U,DP"}, 1024, 1.0 / 6}};
  result.other = 2048;
  result.total = 6144;
  result.stats.tiers = {QueryTier::hour_totals, QueryTier::minute};
  result.stats.elapsed = std::chrono::microseconds(12'500);
  return result;
}

TEST(QueryRender, TopJsonHasTheDocumentedShape) {
  const TopQuery query = parse_top_request(
      {{"by", "source_ip/24,protocol"}, {"last", "1h"}, {"limit", "2"}, {"where", "dest_port = 443"}}, kNow);
  EXPECT_EQ(render_top(query, sample_top(), Format::json),
            R"({"by":["source_ip/24","protocol"],"measure":"bytes","from":"2026-12-02T09:00:00Z",)"
            R"("to":"2026-12-02T10:00:00Z","where":"dest_port = 443","rows":[)"
            R"({"source_ip/24":"10.0.1.0/24","protocol":"TCP","bytes":3072,"share":0.5},)"
            R"({"source_ip/24":"10.0.2.0/24","protocol":"U,DP","bytes":1024,"share":0.16666666666666666}],)"
            R"("other":{"bytes":2048,"share":0.3333333333333333},"total":{"bytes":6144},)"
            R"("tiers":["hour_totals","minute"],"elapsed_ms":12.5})");
}

TEST(QueryRender, TopCsvAndTable) {
  const TopQuery query = parse_top_request({{"by", "source_ip/24,protocol"}, {"limit", "2"}}, kNow);
  EXPECT_EQ(render_top(query, sample_top(), Format::csv),
            "rank,source_ip/24,protocol,bytes,share\n"
            "1,10.0.1.0/24,TCP,3072,0.5\n"
            "2,10.0.2.0/24,\"U,DP\",1024,0.16666666666666666\n"
            "other,,,2048,0.3333333333333333\n"
            "total,,,6144,1\n");
  const std::string table = render_top(query, sample_top(), Format::table);
  EXPECT_NE(table.find("Top 2 source_ip/24, protocol ordered by bytes"), std::string::npos) << table;
  EXPECT_NE(table.find("#  source_ip/24  protocol    bytes   share"), std::string::npos) << table;
  EXPECT_NE(table.find("1  10.0.1.0/24   TCP       3.0 KiB   50.0%"), std::string::npos) << table;
  EXPECT_NE(table.find("   total                   6.0 KiB  100.0%"), std::string::npos) << table;
}

TEST(QueryRender, SeriesShapes) {
  const SeriesQuery query = parse_series_request(
      {{"from", "2026-12-02T09:00:00Z"}, {"to", "2026-12-02T09:03:00Z"}, {"split_by", "protocol"}, {"limit", "1"}},
      kNow);
  SeriesResult result;
  result.measure = Measure::packets;
  result.split_by = parse_dimension("protocol");
  result.step = std::chrono::seconds(60);
  result.bin_starts_ms = {kNow - 3'600'000, kNow - 3'540'000, kNow - 3'480'000};
  result.series = {{{"TCP"}, false, {10, 0, 2500}, 2510}, {{}, true, {1, 2, 0}, 3}};
  EXPECT_EQ(render_series(query, result, Format::json),
            R"({"measure":"packets","from":"2026-12-02T09:00:00Z","to":"2026-12-02T09:03:00Z","step":60,)"
            R"("split_by":"protocol","where":"","times":[1796202000,1796202060,1796202120],"series":[)"
            R"({"name":"TCP","protocol":"TCP","total":2510,"values":[10,0,2500]},)"
            R"({"name":"other","other":true,"total":3,"values":[1,2,0]}],"tiers":[],"elapsed_ms":0})");
  EXPECT_EQ(render_series(query, result, Format::csv),
            "time,TCP,other\n"
            "2026-12-02T09:00:00Z,10,1\n"
            "2026-12-02T09:01:00Z,0,2\n"
            "2026-12-02T09:02:00Z,2500,0\n");
  const std::string table = render_series(query, result, Format::table);
  EXPECT_NE(table.find("2026-12-02 09:02  2.5 k      0  2.5 k  |" + std::string(40, '#')), std::string::npos) << table;
}

TEST(QueryRender, HumanUnits) {
  EXPECT_EQ(human(Measure::bytes, 512), "512 B");
  EXPECT_EQ(human(Measure::bytes, 1536), "1.5 KiB");
  EXPECT_EQ(human(Measure::bytes, 5.0 * 1024 * 1024 * 1024), "5.0 GiB");
  EXPECT_EQ(human(Measure::bps, 999), "999 b/s");
  EXPECT_EQ(human(Measure::bps, 12'345'678), "12.3 Mb/s");
  EXPECT_EQ(human(Measure::pps, 1500), "1.5 kp/s");
  EXPECT_EQ(human(Measure::packets, 42), "42");
  EXPECT_EQ(human(Measure::flows, 2'000'000), "2.0 M");
  EXPECT_EQ(human(Measure::value, 0.125), "0.125");
}

}  // namespace
}  // namespace flowmetrics::query
