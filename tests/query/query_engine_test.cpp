// The read side against a real server: every dimension, measure, filter form and tier,
// compared with sums computed here from the generated metrics (never through the library);
// ranges that span the hour and minute tiers; and the rollups' exactly-once rule when a flush
// is replayed after a crash between its minute write and its rollup write.
#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <random>
#include <thread>

#include "flowmetrics/filter.hpp"
#include "flowmetrics/metrics_agent.hpp"
#include "flowmetrics/query.hpp"
#include "test_database.hpp"

namespace flowmetrics {
namespace {

using namespace std::chrono_literals;
using namespace flowmetrics::testing;
using std::chrono::milliseconds;
using std::chrono::system_clock;

constexpr std::int64_t kMinute = 60'000;
constexpr std::int64_t kHour = 3'600'000;
constexpr std::int64_t kT0 = 1'796'191'200'000;  // 2026-12-02T06:00:00Z, a whole hour in the past

// The generated data, in the terms the test computes with: what was sent.
struct Record {
  std::string source_ip, dest_ip;
  int source_port, dest_port;
  std::string protocol;  // as the test expects it stored
  std::int64_t ts;
  double value;
  std::uint64_t packets, bytes, flows;
};

std::vector<Record> generate(std::uint32_t seed, std::size_t n) {
  std::mt19937 rng(seed);
  const std::vector<std::string> sources = {"10.0.1.1",      "10.0.1.2",      "10.0.2.7",
                                            "10.9.0.1",      "192.168.5.4",   "2001:db8:1::1",
                                            "2001:db8:1::2", "2001:db8:2::9", "::ffff:10.0.1.1"};
  const std::vector<std::string> dests = {"10.0.1.1", "172.16.0.1", "172.16.0.2", "8.8.8.8", "2001:db8:ff::1"};
  const std::vector<int> ports = {53, 80, 443, 8080, 1000, 1500, 2000, 65535};
  const std::vector<std::string> protocols = {"TCP", "UDP", "ICMP", "GRE"};
  std::vector<Record> records;
  for (std::size_t i = 0; i < n; ++i) {
    Record r;
    r.source_ip = sources[rng() % sources.size()];
    r.dest_ip = dests[rng() % dests.size()];
    r.source_port = static_cast<int>(1024 + rng() % 40);
    r.dest_port = ports[rng() % ports.size()];
    r.protocol = protocols[rng() % protocols.size()];
    // Three hours, on whole minutes, and a few at :30 (the collector can keep exact times).
    r.ts = kT0 + static_cast<std::int64_t>(rng() % 180) * kMinute + (rng() % 10 == 0 ? 30'000 : 0);
    r.value = static_cast<double>(rng() % 1000) / 4.0;
    r.packets = 1 + rng() % 1000;
    r.bytes = 40 + rng() % 1'500'000;
    r.flows = 1 + rng() % 3;
    records.push_back(r);
  }
  return records;
}

Metric to_metric(const Record& r) {
  return Metric{
      r.source_ip, r.dest_ip, r.source_port, r.dest_port, r.protocol, system_clock::time_point(milliseconds(r.ts)),
      r.value,     r.packets, r.bytes,       r.flows};
}

// ---- the independent computation -----------------------------------------------------------

struct Bytes16 {
  unsigned char b[16] = {};
  bool v4 = false;
};

Bytes16 parse(const std::string& text) {
  Bytes16 a;
  if (inet_pton(AF_INET, text.c_str(), a.b) == 1) {
    a.v4 = true;
  } else {
    EXPECT_EQ(inet_pton(AF_INET6, text.c_str(), a.b), 1) << text;
  }
  return a;
}

bool in_cidr(const std::string& address, const std::string& network, int length) {
  const Bytes16 a = parse(address), n = parse(network);
  if (a.v4 != n.v4) return false;
  for (int bit = 0; bit < length; ++bit) {
    const int byte = bit / 8, shift = 7 - bit % 8;
    if (((a.b[byte] >> shift) & 1) != ((n.b[byte] >> shift) & 1)) return false;
  }
  return true;
}

std::string masked(const std::string& address, std::optional<int> v4, std::optional<int> v6) {
  Bytes16 a = parse(address);
  const std::optional<int> length = a.v4 ? v4 : v6;
  if (!length) return address;
  const int bits = a.v4 ? 32 : 128;
  for (int bit = *length; bit < bits; ++bit) a.b[bit / 8] &= static_cast<unsigned char>(~(1 << (7 - bit % 8)));
  char text[INET6_ADDRSTRLEN];
  inet_ntop(a.v4 ? AF_INET : AF_INET6, a.b, text, sizeof text);
  return std::string(text) + "/" + std::to_string(*length);
}

// The stored text of an address (what the library stores: inet_ntop of the parsed address).
std::string canonical(const std::string& address) {
  const Bytes16 a = parse(address);
  char text[INET6_ADDRSTRLEN];
  inet_ntop(a.v4 ? AF_INET : AF_INET6, a.b, text, sizeof text);
  return text;
}

struct Dim {
  std::string field;  // stored name
  std::optional<int> v4, v6;
};

std::string value_of(const Record& r, const Dim& d) {
  if (d.field == "source_ip") return masked(canonical(r.source_ip), d.v4, d.v6);
  if (d.field == "dest_ip") return masked(canonical(r.dest_ip), d.v4, d.v6);
  if (d.field == "source_port") return std::to_string(r.source_port);
  if (d.field == "dest_port") return std::to_string(r.dest_port);
  return r.protocol;
}

double measure_of(const Record& r, const std::string& m) {
  if (m == "bytes" || m == "bps") return static_cast<double>(r.bytes);
  if (m == "packets" || m == "pps") return static_cast<double>(r.packets);
  if (m == "flows") return static_cast<double>(r.flows);
  if (m == "value") return r.value;
  return 1.0;  // count: one metric each
}

double rate_factor(const std::string& m, double seconds) {
  if (m == "bps") return 8.0 / seconds;
  if (m == "pps") return 1.0 / seconds;
  return 1.0;
}

using Predicate = std::function<bool(const Record&)>;

struct ExpectedTop {
  std::vector<std::pair<std::vector<std::string>, double>> rows;  // all groups, ordered
  double total = 0;
};

ExpectedTop expected_top(const std::vector<Record>& records, const std::vector<Dim>& dims, const std::string& m,
                         std::int64_t from, std::int64_t to, const Predicate& where) {
  std::map<std::vector<std::string>, double> groups;
  ExpectedTop e;
  const double f = rate_factor(m, static_cast<double>(to - from) / 1000.0);
  for (const Record& r : records) {
    if (r.ts < from || r.ts >= to || !where(r)) continue;
    std::vector<std::string> key;
    for (const Dim& d : dims) key.push_back(value_of(r, d));
    groups[key] += measure_of(r, m) * f;
    e.total += measure_of(r, m) * f;
  }
  for (auto& [k, v] : groups) e.rows.emplace_back(k, v);
  std::sort(e.rows.begin(), e.rows.end(), [](const auto& a, const auto& b) {
    if (a.second != b.second) return a.second > b.second;
    return a.first < b.first;
  });
  return e;
}

void expect_near(double actual, double expected, const std::string& what) {
  EXPECT_NEAR(actual, expected, 1e-9 * std::max(1.0, std::fabs(expected))) << what;
}

// ---- the fixture ---------------------------------------------------------------------------

class QueryEngineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    uri_ = new std::string(test_uri());
    collection_ = new std::string(unique_collection("query"));
    records_ = new std::vector<Record>(generate(20261202, 1500));
    AgentOptions options;
    options.merge_policy = MergePolicy::aggregate;
    options.pool.min_size = 1;
    options.rollups.five_tuple_hours = true;  // every tier, FerretDB included
    agent_ = new MetricsAgent(*uri_, kTestDatabase, *collection_, options);
    agent_->create_metrics_indexes();
    std::vector<Metric> metrics;
    for (const Record& r : *records_) metrics.push_back(to_metric(r));
    for (std::size_t begin = 0; begin < metrics.size(); begin += 500) {
      const std::size_t end = std::min(metrics.size(), begin + 500);
      agent_->batch_upsert_metrics(std::span(metrics).subspan(begin, end - begin));
    }
    options.rollups.enabled = false;
    minute_only_ = new MetricsAgent(*uri_, kTestDatabase, *collection_, options);
  }
  static void TearDownTestSuite() {
    delete minute_only_;
    delete agent_;
    delete records_;
    delete collection_;
    delete uri_;
  }

  static Dim dim(const Dimension& d) {
    return Dim{std::string(to_string(d.field)), d.ipv4_prefix ? std::optional<int>(*d.ipv4_prefix) : std::nullopt,
               d.ipv6_prefix ? std::optional<int>(*d.ipv6_prefix) : std::nullopt};
  }

  // Runs the query on both agents (rollups and minute tier only) and compares with the
  // independent computation. Returns the rollup agent's result.
  static TopResult check_top(const std::vector<std::string>& by, const std::string& measure, std::int64_t from,
                             std::int64_t to, const std::string& where_text, const Predicate& where,
                             std::size_t limit = 5) {
    TopQuery query;
    std::vector<Dim> dims;
    for (const std::string& text : by) {
      query.dimensions.push_back(parse_dimension(text));
      dims.push_back(dim(query.dimensions.back()));
    }
    query.measure = *parse_measure(measure);
    query.range = {from, to};
    query.filter = parse_filter(where_text);
    query.limit = limit;
    const ExpectedTop e = expected_top(*records_, dims, measure, from, to, where);
    TopResult result;
    for (MetricsAgent* agent : {agent_, minute_only_}) {
      const std::string what = "top by " + by[0] + (by.size() > 1 ? ",..." : "") + " " + measure + " where '" +
                               where_text + "' [" + std::to_string(from) + "," + std::to_string(to) + ")" +
                               (agent == minute_only_ ? " minute tier only" : "");
      const TopResult r = agent->top(query);
      expect_near(r.total, e.total, what + ": total");
      EXPECT_EQ(r.rows.size(), std::min(limit, e.rows.size())) << what;
      double shown = 0;
      for (std::size_t i = 0; i < r.rows.size() && i < e.rows.size(); ++i) {
        EXPECT_EQ(r.rows[i].values, e.rows[i].first) << what << ": row " << i;
        expect_near(r.rows[i].value, e.rows[i].second, what + ": row value");
        expect_near(r.rows[i].share, e.total > 0 ? e.rows[i].second / e.total : 0, what + ": share");
        shown += e.rows[i].second;
      }
      expect_near(r.other, e.total - shown, what + ": other");
      if (agent == minute_only_) {
        EXPECT_EQ(r.stats.tiers, std::vector<QueryTier>{QueryTier::minute}) << what;
      } else {
        result = r;
      }
    }
    return result;
  }

  static std::string* uri_;
  static std::string* collection_;
  static std::vector<Record>* records_;
  static MetricsAgent* agent_;
  static MetricsAgent* minute_only_;
};

std::string* QueryEngineTest::uri_ = nullptr;
std::string* QueryEngineTest::collection_ = nullptr;
std::vector<Record>* QueryEngineTest::records_ = nullptr;
MetricsAgent* QueryEngineTest::agent_ = nullptr;
MetricsAgent* QueryEngineTest::minute_only_ = nullptr;

const Predicate kAll = [](const Record&) { return true; };

TEST_F(QueryEngineTest, TopByEveryDimensionOnTheTotalsTiers) {
  for (const std::string by : {"source_ip", "dest_ip", "source_port", "dest_port", "protocol", "source_ip/16",
                               "source_ip/24/48", "dest_ip/8/32"}) {
    // Whole hours: hour totals only.
    TopResult r = check_top({by}, "bytes", kT0, kT0 + 3 * kHour, "", kAll);
    EXPECT_EQ(r.stats.tiers, std::vector<QueryTier>{QueryTier::hour_totals}) << by;
    // Ragged on both ends, down to the second: every tier of the totals path.
    r = check_top({by}, "bytes", kT0 + 17 * kMinute + 15'000, kT0 + 2 * kHour + 43 * kMinute, "", kAll);
    EXPECT_EQ(r.stats.tiers,
              (std::vector<QueryTier>{QueryTier::hour_totals, QueryTier::minute_totals, QueryTier::minute}))
        << by;
  }
}

TEST_F(QueryEngineTest, ARangeEndingNowReadsTheCurrentHourFromTheHourTier) {
  const std::int64_t now = std::chrono::duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  // Seconds after the last whole minute, up to now: still the hour totals alone, since no
  // document is stamped later than now.
  const TopResult r = check_top({"protocol"}, "bytes", kT0, now + 1, "", kAll);
  EXPECT_EQ(r.stats.tiers, std::vector<QueryTier>{QueryTier::hour_totals});
}

TEST_F(QueryEngineTest, TopByEveryMeasure) {
  for (const std::string measure : {"bytes", "packets", "flows", "value", "count", "bps", "pps"}) {
    check_top({"dest_port"}, measure, kT0 + 5 * kMinute, kT0 + 2 * kHour + 5 * kMinute, "", kAll);
    check_top({"protocol", "dest_port"}, measure, kT0, kT0 + kHour, "", kAll, 7);
  }
}

TEST_F(QueryEngineTest, TopOverSeveralDimensionsReadsTheFiveTupleTiers) {
  const TopResult r = check_top({"source_ip/24", "dest_port", "protocol"}, "bytes", kT0 + 30 * kMinute,
                                kT0 + 150 * kMinute, "", kAll, 8);
  EXPECT_EQ(r.stats.tiers, (std::vector<QueryTier>{QueryTier::hour, QueryTier::minute}));
  // One segment of the minute collection: $sort and $limit run in the server.
  check_top({"source_ip", "dest_ip"}, "packets", kT0 + 10 * kMinute, kT0 + 40 * kMinute, "", kAll, 3);
}

TEST_F(QueryEngineTest, EveryFilterForm) {
  struct Case {
    std::string text;
    Predicate where;
  };
  const std::vector<Case> cases = {
      {"source_ip = 10.0.1.1", [](const Record& r) { return r.source_ip == "10.0.1.1"; }},
      {"source_ip != 10.0.1.1", [](const Record& r) { return r.source_ip != "10.0.1.1"; }},
      {"source_ip in 10.0.0.0/16", [](const Record& r) { return in_cidr(r.source_ip, "10.0.0.0", 16); }},
      {"source_ip not in (10.0.1.0/24, 2001:db8:1::/48)",
       [](const Record& r) {
         return !in_cidr(r.source_ip, "10.0.1.0", 24) && !in_cidr(r.source_ip, "2001:db8:1::", 48);
       }},
      {"dest_ip in 2001:db8::/32", [](const Record& r) { return in_cidr(r.dest_ip, "2001:db8::", 32); }},
      {"source_ip = ::ffff:10.0.1.1", [](const Record& r) { return r.source_ip == "::ffff:10.0.1.1"; }},
      {"source_ip in ::ffff:0:0/96", [](const Record& r) { return in_cidr(r.source_ip, "::ffff:0:0", 96); }},
      {"dest_ip in (8.8.8.8, 172.16.0.0/31)",
       [](const Record& r) { return r.dest_ip == "8.8.8.8" || in_cidr(r.dest_ip, "172.16.0.0", 31); }},
      {"dest_port = 443", [](const Record& r) { return r.dest_port == 443; }},
      {"dest_port in 1000-2000", [](const Record& r) { return r.dest_port >= 1000 && r.dest_port <= 2000; }},
      {"dest_port not in (53, 8000-9000)",
       [](const Record& r) { return r.dest_port != 53 && !(r.dest_port >= 8000 && r.dest_port <= 9000); }},
      {"source_port in 1030-1035", [](const Record& r) { return r.source_port >= 1030 && r.source_port <= 1035; }},
      {"protocol = tcp", [](const Record& r) { return r.protocol == "TCP"; }},
      {"protocol in (17, gre)", [](const Record& r) { return r.protocol == "UDP" || r.protocol == "GRE"; }},
      {"protocol != 1", [](const Record& r) { return r.protocol != "ICMP"; }},
      {"source_ip in 10.0.0.0/8 and dest_port = 443 and protocol = tcp",
       [](const Record& r) {
         return in_cidr(r.source_ip, "10.0.0.0", 8) && r.dest_port == 443 && r.protocol == "TCP";
       }},
      {"not (source_ip = 10.0.1.1 or dest_port in 1000-2000) and protocol in (tcp, udp)",
       [](const Record& r) {
         return !(r.source_ip == "10.0.1.1" || (r.dest_port >= 1000 && r.dest_port <= 2000)) &&
                (r.protocol == "TCP" || r.protocol == "UDP");
       }},
      {"dest_port = 80 or protocol = icmp", [](const Record& r) { return r.dest_port == 80 || r.protocol == "ICMP"; }},
  };
  for (const Case& c : cases) {
    const TopResult r =
        check_top({"source_ip"}, "bytes", kT0 + 20 * kMinute, kT0 + 2 * kHour + 10 * kMinute, c.text, c.where, 4);
    EXPECT_EQ(r.stats.tiers, (std::vector<QueryTier>{QueryTier::hour, QueryTier::minute})) << c.text;
  }
}

TEST_F(QueryEngineTest, SeriesUnsplitAndSplitOnEveryTier) {
  struct Case {
    std::int64_t from, to;
    std::chrono::seconds step;
    std::optional<std::string> split;
    std::string where;
    Predicate predicate;
  };
  const Predicate tcp = [](const Record& r) { return r.protocol == "TCP"; };
  const std::vector<Case> cases = {
      {kT0, kT0 + 3 * kHour, 3600s, std::nullopt, "", kAll},                           // hour totals
      {kT0 + 7 * kMinute, kT0 + 97 * kMinute, 300s, std::nullopt, "", kAll},           // minute totals
      {kT0 + 7 * kMinute, kT0 + 3 * kHour, 3600s, std::string("protocol"), "", kAll},  // both, widened
      {kT0, kT0 + 2 * kHour, 600s, std::string("source_ip/24"), "", kAll},
      {kT0, kT0 + 3 * kHour, 3600s, std::string("dest_port"), "protocol = tcp", tcp},  // hour tier
      {kT0 + 3 * kMinute, kT0 + 65 * kMinute, 60s, std::nullopt, "protocol = tcp", tcp},
  };
  for (const Case& c : cases) {
    for (MetricsAgent* agent : {agent_, minute_only_}) {
      SeriesQuery query;
      query.measure = Measure::bytes;
      query.range = {c.from, c.to};
      query.step = c.step;
      query.filter = parse_filter(c.where);
      query.limit = 2;
      if (c.split) query.split_by = parse_dimension(*c.split);
      const SeriesResult r = agent->series(query);
      const std::string what = "series step " + std::to_string(c.step.count()) + " split " + c.split.value_or("-") +
                               " where '" + c.where + "'";
      const std::int64_t step = c.step.count() * 1000;
      const std::int64_t first = c.from - c.from % step;
      const std::int64_t last = (c.to + step - 1) / step * step;
      ASSERT_EQ(r.bin_starts_ms.size(), static_cast<std::size_t>((last - first) / step)) << what;
      for (std::size_t i = 0; i < r.bin_starts_ms.size(); ++i) {
        EXPECT_EQ(r.bin_starts_ms[i], first + static_cast<std::int64_t>(i) * step);
      }
      // Expected: per series key, per bin.
      std::map<std::string, std::vector<double>> bins;
      std::map<std::string, double> totals;
      const std::optional<Dim> split = c.split ? std::optional(dim(parse_dimension(*c.split))) : std::nullopt;
      for (const Record& rec : *records_) {
        if (rec.ts < first || rec.ts >= last || !c.predicate(rec)) continue;
        const std::string key = split ? value_of(rec, *split) : "";
        auto& v = bins[key];
        v.resize(r.bin_starts_ms.size());
        v[static_cast<std::size_t>((rec.ts - first) / step)] += static_cast<double>(rec.bytes);
        totals[key] += static_cast<double>(rec.bytes);
      }
      std::vector<std::pair<std::string, double>> ranked(totals.begin(), totals.end());
      std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
        return a.second != b.second ? a.second > b.second : a.first < b.first;
      });
      std::vector<double> other(r.bin_starts_ms.size(), 0.0);
      if (split) {
        ASSERT_EQ(r.series.size(), std::min<std::size_t>(2, ranked.size()) + 1) << what;
        for (std::size_t k = 0; k < ranked.size(); ++k) {
          auto v = bins[ranked[k].first];
          v.resize(r.bin_starts_ms.size());
          if (k < 2) {
            EXPECT_EQ(r.series[k].values, std::vector<std::string>{ranked[k].first}) << what;
            for (std::size_t i = 0; i < v.size(); ++i) expect_near(r.series[k].points[i], v[i], what + " bin");
          } else {
            for (std::size_t i = 0; i < v.size(); ++i) other[i] += v[i];
          }
        }
        EXPECT_TRUE(r.series.back().other) << what;
        for (std::size_t i = 0; i < other.size(); ++i)
          expect_near(r.series.back().points[i], other[i], what + " other");
      } else {
        ASSERT_EQ(r.series.size(), 1u) << what;
        auto v = bins[""];
        v.resize(r.bin_starts_ms.size());
        for (std::size_t i = 0; i < v.size(); ++i) expect_near(r.series[0].points[i], v[i], what + " bin");
      }
      if (agent == minute_only_) {
        EXPECT_EQ(r.stats.tiers, std::vector<QueryTier>{QueryTier::minute}) << what;
      }
    }
  }
}

TEST_F(QueryEngineTest, BadRequestsNameTheField) {
  auto field_of = [](const std::function<void()>& call) -> std::string {
    try {
      call();
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), errc::invalid_argument);
      return e.what();
    }
    return "no error";
  };
  TopQuery top;
  top.range = {kT0, kT0 + kHour};
  EXPECT_NE(field_of([&] { agent_->top(top); }).find("dimensions"), std::string::npos);
  top.dimensions = {parse_dimension("source_ip")};
  top.limit = 0;
  EXPECT_NE(field_of([&] { agent_->top(top); }).find("limit"), std::string::npos);
  top.limit = 10;
  top.range = {kT0, kT0};
  EXPECT_NE(field_of([&] { agent_->top(top); }).find("range"), std::string::npos);
  SeriesQuery series;
  series.range = {kT0, kT0 + kHour};
  series.step = 90s;
  EXPECT_NE(field_of([&] { agent_->series(series); }).find("step"), std::string::npos);
  EXPECT_NE(field_of([] { parse_dimension("dest_port/24"); }).find("dest_port/24"), std::string::npos);
  EXPECT_NE(field_of([] { parse_dimension("source_ip/129"); }).find("129"), std::string::npos);
  EXPECT_EQ(to_string(parse_dimension("dest_ip/48")), "dest_ip/48");
  EXPECT_EQ(parse_dimension("source_ip/32"), parse_dimension("source_ip"));
}

// The pipeline writes a flush's minute documents, then its rollups, both under the flush's
// stamp. A crash between the two (or during the rollups) replays the whole flush: the minute
// write is skipped document by document, the rollups are applied where they were not.
TEST(RollupExactlyOnceTest, AReplayedFlushLeavesMinuteAndRollupTiersExact) {
  const std::string uri = test_uri();
  const std::string collection = unique_collection("rollup_replay");
  AgentOptions options;
  options.merge_policy = MergePolicy::aggregate;
  options.pool.min_size = 1;
  options.rollups.five_tuple_hours = true;
  MetricsAgent agent(uri, kTestDatabase, collection, options);
  const std::vector<Record> records = generate(7, 300);

  // Two flushes of one stream; each merged into distinct keys, as the pipeline does.
  auto flush_of = [&](std::size_t begin, std::size_t end) {
    std::map<std::string, KeyedAggregate> keyed;
    for (std::size_t i = begin; i < end; ++i) {
      const Record& r = records[i];
      MetricKey key{canonical(r.source_ip),
                    canonical(r.dest_ip),
                    static_cast<std::uint16_t>(r.source_port),
                    static_cast<std::uint16_t>(r.dest_port),
                    r.protocol,
                    r.ts};
      const std::string id = encode_document_id(key);
      auto [it, inserted] = keyed.try_emplace(id, KeyedAggregate{key, id, {}});
      it->second.aggregate.add(to_metric(r));
    }
    std::vector<KeyedAggregate> batch;
    for (auto& [id, item] : keyed) batch.push_back(item);
    return batch;
  };
  const auto first = flush_of(0, 150), second = flush_of(150, 300);
  const WriteStamp s1{"replaytest-p0", 10}, s2{"replaytest-p0", 11};

  ASSERT_TRUE(agent.upsert_aggregates(first, std::nullopt, &s1).ok());
  ASSERT_TRUE(agent.upsert_rollups(first, std::nullopt, &s1).ok());
  ASSERT_TRUE(agent.upsert_aggregates(second, std::nullopt, &s2).ok());
  // -- crash here: the second flush's rollups were not written. Replay both flushes:
  ASSERT_TRUE(agent.upsert_aggregates(first, std::nullopt, &s1).ok());
  ASSERT_TRUE(agent.upsert_rollups(first, std::nullopt, &s1).ok());
  ASSERT_TRUE(agent.upsert_aggregates(second, std::nullopt, &s2).ok());
  // The rollups of the replayed flush, then (a crash after them, before the flush was
  // released) once more. A crash in the middle of this call leaves some rollup documents
  // updated -- each whole, with its stamp -- and the others not: the same as these two calls.
  ASSERT_TRUE(agent.upsert_rollups(second, std::nullopt, &s2).ok());
  ASSERT_TRUE(agent.upsert_rollups(second, std::nullopt, &s2).ok());

  // The minute documents hold each record once.
  const auto minute = read_metrics(uri, collection);
  std::map<std::string, std::int64_t> bytes_by_id;
  for (const Record& r : records) {
    MetricKey key{canonical(r.source_ip),
                  canonical(r.dest_ip),
                  static_cast<std::uint16_t>(r.source_port),
                  static_cast<std::uint16_t>(r.dest_port),
                  r.protocol,
                  r.ts};
    bytes_by_id[encode_document_id(key)] += static_cast<std::int64_t>(r.bytes);
  }
  ASSERT_EQ(minute.size(), bytes_by_id.size());
  for (const auto& [id, stored] : minute) EXPECT_EQ(stored.bytes, bytes_by_id[id]) << id;

  // The hour tier, read independently, holds each record once too.
  std::map<std::string, std::int64_t> bytes_by_hour;
  std::map<std::string, std::int64_t> count_by_hour;
  for (const Record& r : records) {
    MetricKey key{canonical(r.source_ip),
                  canonical(r.dest_ip),
                  static_cast<std::uint16_t>(r.source_port),
                  static_cast<std::uint16_t>(r.dest_port),
                  r.protocol,
                  r.ts - r.ts % kHour};
    bytes_by_hour[encode_document_id(key)] += static_cast<std::int64_t>(r.bytes);
    count_by_hour[encode_document_id(key)] += 1;
  }
  const auto hour = read_metrics(uri, collection + "_1h");
  ASSERT_EQ(hour.size(), bytes_by_hour.size());
  for (const auto& [id, stored] : hour) {
    EXPECT_EQ(stored.bytes, bytes_by_hour[id]) << id;
    EXPECT_EQ(stored.count, count_by_hour[id]) << id;
  }

  // The totals tiers answer like the minute collection, at every level.
  MetricsAgent minute_only(uri, kTestDatabase, collection, [&] {
    AgentOptions o = options;
    o.rollups.enabled = false;
    return o;
  }());
  for (const std::string by : {"source_ip", "dest_port", "protocol"}) {
    TopQuery query;
    query.dimensions = {parse_dimension(by)};
    query.range = {kT0 + 13 * kMinute, kT0 + 3 * kHour};
    query.limit = 50;
    const TopResult rolled = agent.top(query), plain = minute_only.top(query);
    EXPECT_EQ(rolled.stats.tiers, (std::vector<QueryTier>{QueryTier::hour_totals, QueryTier::minute_totals}));
    expect_near(rolled.total, plain.total, by);
    ASSERT_EQ(rolled.rows.size(), plain.rows.size()) << by;
    for (std::size_t i = 0; i < plain.rows.size(); ++i) {
      EXPECT_EQ(rolled.rows[i].values, plain.rows[i].values) << by;
      expect_near(rolled.rows[i].value, plain.rows[i].value, by);
    }
  }
}

// Two streams (each its own agent, as two collectors' partitions would be) add to the same
// totals documents at the same time: each document is read, merged and written back, and
// neither writer's contribution may be lost.
TEST(RollupExactlyOnceTest, ConcurrentStreamsSharingTotalsDocumentsLoseNothing) {
  const std::string uri = test_uri();
  const std::string collection = unique_collection("rollup_streams");
  AgentOptions options;
  options.merge_policy = MergePolicy::aggregate;
  options.pool.min_size = 1;
  MetricsAgent a(uri, kTestDatabase, collection, options), b(uri, kTestDatabase, collection, options);
  // Disjoint five-tuples (the minute documents are the streams' own), shared buckets.
  auto flush_of = [](const std::string& source, int flush) {
    std::vector<KeyedAggregate> batch;
    for (int i = 0; i < 20; ++i) {
      MetricKey key{source, "172.16.0." + std::to_string(i), static_cast<std::uint16_t>(1000 + i), 443,
                    "TCP",  kT0 + (flush % 3) * kMinute};
      MetricAggregate agg;
      agg.add(Metric{key.source_ip, key.dest_ip, key.source_port, key.dest_port, key.protocol,
                     system_clock::time_point(milliseconds(key.timestamp_ms)), 1.0, 1,
                     static_cast<std::uint64_t>(100 + flush * 20 + i), 1});
      std::string id = encode_document_id(key);
      batch.push_back({std::move(key), std::move(id), agg});
    }
    return batch;
  };
  auto run = [&](MetricsAgent& agent, const std::string& source, const std::string& stream) {
    for (int flush = 0; flush < 6; ++flush) {
      const auto batch = flush_of(source, flush);
      const WriteStamp stamp{stream, static_cast<std::uint64_t>(flush + 1)};
      ASSERT_TRUE(agent.upsert_aggregates(batch, std::nullopt, &stamp).ok());
      ASSERT_TRUE(agent.upsert_rollups(batch, std::nullopt, &stamp).ok());
    }
  };
  std::thread other([&] { run(b, "10.0.0.2", "streams-p1"); });
  run(a, "10.0.0.1", "streams-p0");
  other.join();

  MetricsAgent minute_only(uri, kTestDatabase, collection, [&] {
    AgentOptions o = options;
    o.rollups.enabled = false;
    return o;
  }());
  for (const std::string by : {"source_ip", "dest_ip", "protocol"}) {
    TopQuery query;
    query.dimensions = {parse_dimension(by)};
    query.range = {kT0, kT0 + kHour};
    query.limit = 50;
    const TopResult rolled = a.top(query), plain = minute_only.top(query);
    EXPECT_EQ(rolled.stats.tiers, std::vector<QueryTier>{QueryTier::hour_totals}) << by;
    EXPECT_EQ(plain.total, 2 * 6 * (20 * 100 + 190 + 0) + 2 * 20 * 20 * 15) << by;
    expect_near(rolled.total, plain.total, by);
    ASSERT_EQ(rolled.rows.size(), plain.rows.size()) << by;
    for (std::size_t i = 0; i < plain.rows.size(); ++i) {
      EXPECT_EQ(rolled.rows[i].values, plain.rows[i].values) << by;
      expect_near(rolled.rows[i].value, plain.rows[i].value, by);
    }
    query.range = {kT0, kT0 + 3 * kMinute};  // minute totals
    const TopResult minutes = a.top(query);
    EXPECT_EQ(minutes.stats.tiers, std::vector<QueryTier>{QueryTier::minute_totals}) << by;
    expect_near(minutes.total, plain.total, by);
  }
}

// Totals shards past their tier's horizon are dropped whole; the queries then read those
// buckets from the minute collection, with the same answers. The horizon is relative to the
// newest data written (capped at now), not to the clock: data from hours ago keeps its last
// hour of minute totals. And it is stored: a reader configured with another retention (or with
// none) reads exactly the buckets the tiers hold.
TEST(RollupRetentionTest, ExpiredShardsAreDroppedAndQueriesStayExact) {
  const std::string uri = test_uri();
  const std::string collection = unique_collection("rollup_expiry");
  AgentOptions options;
  options.merge_policy = MergePolicy::aggregate;
  options.pool.min_size = 1;
  options.rollups.minute_totals_retention = std::chrono::hours(1);
  options.rollups.hour_totals_retention = std::chrono::hours(24 * 365 * 100);
  MetricsAgent agent(uri, kTestDatabase, collection, options);
  const std::vector<Record> records = generate(11, 200);  // kT0 .. kT0 + 3 h, hours before now
  std::vector<Metric> metrics;
  for (const Record& r : records) metrics.push_back(to_metric(r));
  agent.batch_upsert_metrics(metrics);
  // The newest record lies in kT0 + 2 h .. kT0 + 3 h, so the minute horizon is kT0 + 1 h (the
  // start of the hour shard holding newest - 1 h): the shards of hours kT0 + 1 h and kT0 + 2 h
  // stay, kT0's goes; the day's hour shards stay.
  agent.expire_rollups();
  EXPECT_EQ(agent.expire_rollups(), 0u);
  std::size_t minute_shards = 0, hour_shards = 0;
  for (const std::string& name : list_collections(uri)) {
    if (name.starts_with(collection + "_totals_1m_")) ++minute_shards;
    if (name.starts_with(collection + "_totals_1h_")) ++hour_shards;
  }
  EXPECT_EQ(minute_shards, 2u * 6u);  // 6 dimensions
  EXPECT_EQ(hour_shards, 6u);
  auto exact_total = [&](const TimeRange& range) {
    double total = 0;
    for (const Record& rec : records) {
      if (rec.ts >= range.from_ms && rec.ts < range.to_ms) total += static_cast<double>(rec.bytes);
    }
    return total;
  };
  AgentOptions keeps_all = options;
  keeps_all.rollups.minute_totals_retention.reset();
  AgentOptions keeps_a_minute = options;
  keeps_a_minute.rollups.minute_totals_retention = std::chrono::minutes(1);
  MetricsAgent reader(uri, kTestDatabase, collection, keeps_all);
  MetricsAgent short_reader(uri, kTestDatabase, collection, keeps_a_minute);
  for (MetricsAgent* a : {&agent, &reader, &short_reader}) {
    TopQuery query;
    query.dimensions = {parse_dimension("dest_port")};
    query.range = {kT0 + 7 * kMinute, kT0 + 2 * kHour};  // expired minutes, then a whole hour
    const TopResult r = a->top(query);
    EXPECT_EQ(r.stats.tiers, (std::vector<QueryTier>{QueryTier::hour_totals, QueryTier::minute}));
    expect_near(r.total, exact_total(query.range), "total after expiry");
    query.range = {kT0 + 67 * kMinute, kT0 + 3 * kHour};  // kept minutes, then a whole hour
    const TopResult kept = a->top(query);
    EXPECT_EQ(kept.stats.tiers, (std::vector<QueryTier>{QueryTier::hour_totals, QueryTier::minute_totals}));
    expect_near(kept.total, exact_total(query.range), "total of the kept minutes");
  }
  // Current data in the same collection moves the minute horizon to the hour before now's: the
  // old minutes are past the retention now, dropped, and read from the minute collection.
  const std::int64_t now = std::chrono::duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  agent.batch_upsert_metrics(std::vector<Metric>{
      Metric{"10.0.0.9", "10.0.0.8", 1, 2, "TCP", system_clock::time_point(milliseconds(now)), 1.0, 1, 5000, 1}});
  agent.expire_rollups();
  minute_shards = 0;
  for (const std::string& name : list_collections(uri)) {
    if (name.starts_with(collection + "_totals_1m_")) ++minute_shards;
  }
  EXPECT_EQ(minute_shards, 6u);  // now's hour
  for (MetricsAgent* a : {&agent, &reader}) {
    TopQuery query;
    query.dimensions = {parse_dimension("source_ip")};
    query.range = {kT0 + 67 * kMinute, kT0 + 3 * kHour};
    const TopResult r = a->top(query);
    EXPECT_EQ(r.stats.tiers, (std::vector<QueryTier>{QueryTier::hour_totals, QueryTier::minute}));
    expect_near(r.total, exact_total(query.range), "total after current data");
  }
}

// Rollups turned on over a collection that already holds documents: the buckets of the hours
// those documents touch (up to the next whole hour) are answered from the minute collection,
// older and later buckets from the tiers.
TEST(RollupStartTest, OnlyBucketsWithoutEarlierDocumentsAreAnsweredFromTheTiers) {
  const std::string uri = test_uri();
  const std::string collection = unique_collection("rollup_start");
  AgentOptions options;
  options.merge_policy = MergePolicy::aggregate;
  options.pool.min_size = 1;
  options.rollups.enabled = false;
  const std::int64_t now = std::chrono::duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  const std::int64_t this_hour = now - now % kHour;
  {
    MetricsAgent plain(uri, kTestDatabase, collection, options);
    const std::vector<Metric> early{Metric{"10.0.0.9", "10.0.0.8", 1, 2, "TCP",
                                           system_clock::time_point(milliseconds(this_hour)), 1.0, 1, 5000, 1}};
    plain.batch_upsert_metrics(early);
  }
  options.rollups.enabled = true;
  MetricsAgent agent(uri, kTestDatabase, collection, options);
  const std::vector<Record> records = generate(13, 200);  // kT0 .. kT0 + 3 h, hours before now
  std::vector<Metric> metrics;
  for (const Record& r : records) metrics.push_back(to_metric(r));
  agent.batch_upsert_metrics(metrics);

  TopQuery query;
  query.dimensions = {parse_dimension("source_ip")};
  query.range = {kT0 + 7 * kMinute, kT0 + 2 * kHour};
  TopResult r = agent.top(query);
  EXPECT_EQ(r.stats.tiers, (std::vector<QueryTier>{QueryTier::hour_totals, QueryTier::minute_totals}));
  double total = 0;
  for (const Record& rec : records) {
    if (rec.ts >= query.range.from_ms && rec.ts < query.range.to_ms) total += static_cast<double>(rec.bytes);
  }
  expect_near(r.total, total, "historical range");
  // The hour of the document written without rollups: the minute collection.
  query.range = {this_hour, this_hour + kHour};
  r = agent.top(query);
  EXPECT_EQ(r.stats.tiers, std::vector<QueryTier>{QueryTier::minute});
  expect_near(r.total, 5000, "the hour written without rollups");
}

}  // namespace
}  // namespace flowmetrics
