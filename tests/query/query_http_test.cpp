// GET /v1/query/top and /v1/query/series on a real `flowmetrics serve`: records posted to
// the collector, answers compared with sums computed here from the same records; 400 naming
// the parameter, 401 without the token; the query metrics and the slow-query log.
#include <httplib.h>

#include <gtest/gtest.h>
#include <simdjson.h>

#include <filesystem>
#include <fstream>

#include "collector_process.hpp"
#include "query_test_data.hpp"
#include "test_database.hpp"

namespace flowmetrics {
namespace {

using namespace std::chrono_literals;
using namespace flowmetrics::testing;
namespace fs = std::filesystem;

constexpr const char* kReadToken = "read-7f3a9c";
constexpr const char* kWriteToken = "write-51b2e0";

class QueryHttp : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    directory_ = fs::temp_directory_path() / unique_collection("flowmetrics-query-http");
    fs::create_directories(directory_);
    std::ofstream(directory_ / "read.token") << kReadToken << '\n';
    std::ofstream(directory_ / "write.token") << kWriteToken << '\n';
    // slow_ms = 1: no query through FerretDB answers within a millisecond, so each one is
    // logged as slow.
    collector_ = new CollectorProcess({.mongodb_uri = test_uri(),
                                       .collection = unique_collection("query_http"),
                                       .extra_toml = "bearer_token_file = \"" + (directory_ / "write.token").string() +
                                                     "\"\n[query]\nslow_ms = 1\n" + "read_token_file = \"" +
                                                     (directory_ / "read.token").string() + "\"\n",
                                       .directory = directory_ / "agent"});
    records_ = make_flow_records(2'000, 23);
    httplib::Client client("127.0.0.1", collector_->http_port());
    client.set_read_timeout(60s);
    client.set_bearer_token_auth(kWriteToken);
    std::string body;
    for (const auto& r : records_) body += r.json() + "\n";
    const auto response = client.Post("/v1/metrics", body, "application/x-ndjson");
    posted_ = response && response->status == 200;
    written_ = eventually(
        [] { return collector_->metric("flowmetrics_records_written_total") >= static_cast<double>(records_.size()); },
        120s);
  }
  static void TearDownTestSuite() {
    delete collector_;
    collector_ = nullptr;
    std::error_code ignored;
    fs::remove_all(directory_, ignored);
  }

  void SetUp() override {
    ASSERT_TRUE(posted_) << collector_->logs();
    ASSERT_TRUE(written_) << collector_->logs();
  }

  static httplib::Result get(const std::string& path, const char* token = kReadToken) {
    httplib::Client client("127.0.0.1", collector_->http_port());
    client.set_read_timeout(60s);
    if (token != nullptr) client.set_bearer_token_auth(token);
    return client.Get(path);
  }

  static inline fs::path directory_;
  static inline CollectorProcess* collector_ = nullptr;
  static inline std::vector<FlowRecord> records_;
  static inline bool posted_ = false, written_ = false;
};

constexpr const char* kRange = "from=2024-11-25T10:00:00Z&to=2024-11-25T10:30:00Z";

TEST_F(QueryHttp, TopAnswersTheDocumentedJson) {
  const auto response = get(std::string("/v1/query/top?by=protocol,dest_ip&measure=flows&limit=3&") + kRange +
                            "&where=dest_ip%20in%202001:db8::/32%20or%20protocol%20%3D%20icmp");
  ASSERT_TRUE(response);
  ASSERT_EQ(response->status, 200) << response->body;
  EXPECT_EQ(response->get_header_value("Content-Type"), "application/json");
  const auto expected = ranked(
      records_,
      [](const FlowRecord& r) -> std::string {
        if (!r.dest_ip.starts_with("2001:db8:") && r.protocol != "ICMP") return "";
        return r.protocol + "|" + r.dest_ip;
      },
      [](const FlowRecord& r) { return static_cast<double>(r.flows); });
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(response->body).get(doc), simdjson::SUCCESS) << response->body;
  simdjson::dom::array rows;
  ASSERT_EQ(doc["rows"].get(rows), simdjson::SUCCESS);
  ASSERT_EQ(rows.size(), 3u) << response->body;
  double sum = 0;
  for (const auto& [k, v] : expected) sum += v;
  double rest = sum;
  for (std::size_t i = 0; i < 3; ++i) {
    std::string_view protocol, dest;
    double flows = -1;
    ASSERT_EQ(rows.at(i)["protocol"].get(protocol), simdjson::SUCCESS);
    ASSERT_EQ(rows.at(i)["dest_ip"].get(dest), simdjson::SUCCESS);
    ASSERT_EQ(rows.at(i)["flows"].get(flows), simdjson::SUCCESS);
    EXPECT_EQ(std::string(protocol) + "|" + std::string(dest), expected[i].first) << response->body;
    EXPECT_EQ(flows, expected[i].second);
    rest -= expected[i].second;
  }
  double other = -1, all = -1;
  ASSERT_EQ(doc["other"]["flows"].get(other), simdjson::SUCCESS);
  ASSERT_EQ(doc["total"]["flows"].get(all), simdjson::SUCCESS);
  EXPECT_EQ(other, rest);
  EXPECT_EQ(all, sum);
  std::string_view where;
  ASSERT_EQ(doc["where"].get(where), simdjson::SUCCESS);
  EXPECT_EQ(where, "dest_ip in 2001:db8::/32 or protocol = icmp");
}

TEST_F(QueryHttp, SeriesSplitAnswersTheDocumentedJson) {
  const auto response =
      get(std::string("/v1/query/series?measure=packets&step=15m&split_by=source_ip&limit=2&") + kRange);
  ASSERT_TRUE(response);
  ASSERT_EQ(response->status, 200) << response->body;
  const auto ranking = ranked(
      records_, [](const FlowRecord& r) { return r.source_ip; },
      [](const FlowRecord& r) { return static_cast<double>(r.packets); });
  std::map<std::string, std::vector<double>> expected;  // name -> two 15-minute bins
  for (const auto& r : records_) {
    const bool top = r.source_ip == ranking[0].first || r.source_ip == ranking[1].first;
    auto& bins = expected[top ? r.source_ip : "other"];
    bins.resize(2);
    bins[static_cast<std::size_t>((r.timestamp_ms - kQueryBaseMs) / 900'000)] += static_cast<double>(r.packets);
  }
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(response->body).get(doc), simdjson::SUCCESS) << response->body;
  std::string_view split;
  ASSERT_EQ(doc["split_by"].get(split), simdjson::SUCCESS);
  EXPECT_EQ(split, "source_ip");
  simdjson::dom::array series;
  ASSERT_EQ(doc["series"].get(series), simdjson::SUCCESS);
  ASSERT_EQ(series.size(), 3u) << response->body;
  const std::vector<std::string> names{ranking[0].first, ranking[1].first, "other"};
  for (std::size_t s = 0; s < 3; ++s) {
    std::string_view name;
    ASSERT_EQ(series.at(s)["name"].get(name), simdjson::SUCCESS);
    EXPECT_EQ(name, names[s]);
    simdjson::dom::array values;
    ASSERT_EQ(series.at(s)["values"].get(values), simdjson::SUCCESS);
    ASSERT_EQ(values.size(), 2u);
    for (std::size_t i = 0; i < 2; ++i) {
      double v = -1;
      ASSERT_EQ(values.at(i).get(v), simdjson::SUCCESS);
      EXPECT_EQ(v, expected[names[s]][i]) << names[s] << " bin " << i;
    }
  }
}

TEST_F(QueryHttp, BadParametersGet400NamingThem) {
  struct Case {
    std::string query;
    std::string parameter;
  };
  const std::vector<Case> cases = {
      {"/v1/query/top?by=source_ip&where=dest_port%20%3D%2070000", "where"},
      {"/v1/query/top?by=mac_address", "by"},
      {"/v1/query/top", "by"},
      {"/v1/query/top?by=source_ip&limit=-1", "limit"},
      {"/v1/query/top?by=source_ip&last=forever", "last"},
      {"/v1/query/top?by=source_ip&colour=red", "colour"},
      {"/v1/query/top?by=source_ip&by=dest_ip", "by"},
      {"/v1/query/series?step=7s", "step"},
      {"/v1/query/series?measure=octets", "measure"},
      {"/v1/query/series?split_by=dest_port/8", "split_by"},
  };
  for (const auto& c : cases) {
    const auto response = get(c.query);
    ASSERT_TRUE(response) << c.query;
    EXPECT_EQ(response->status, 400) << c.query << ": " << response->body;
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(response->body).get(doc), simdjson::SUCCESS) << response->body;
    std::string_view reason, parameter, message;
    ASSERT_EQ(doc["reason"].get(reason), simdjson::SUCCESS) << response->body;
    ASSERT_EQ(doc["parameter"].get(parameter), simdjson::SUCCESS) << response->body;
    ASSERT_EQ(doc["message"].get(message), simdjson::SUCCESS) << response->body;
    EXPECT_EQ(reason, "bad_parameter");
    EXPECT_EQ(parameter, c.parameter) << c.query;
    EXPECT_FALSE(message.empty());
  }
  const auto response = get("/v1/query/top?by=source_ip&where=dest_port%20%3D%2070000");
  ASSERT_TRUE(response);
  EXPECT_NE(response->body.find(R"("position":12)"), std::string::npos) << response->body;
}

TEST_F(QueryHttp, QueriesNeedAToken) {
  for (const char* path : {"/v1/query/top?by=source_ip", "/v1/query/series"}) {
    const auto anonymous = get(path, nullptr);
    ASSERT_TRUE(anonymous);
    EXPECT_EQ(anonymous->status, 401) << anonymous->body;
    EXPECT_NE(anonymous->body.find(R"("reason":"unauthorized")"), std::string::npos) << anonymous->body;
    EXPECT_EQ(anonymous->get_header_value("WWW-Authenticate"), "Bearer");
    const auto wrong = get(path, "read-7f3a9d");
    ASSERT_TRUE(wrong);
    EXPECT_EQ(wrong->status, 401);
    // The write token may query too.
    const auto writer = get(path, kWriteToken);
    ASSERT_TRUE(writer);
    EXPECT_EQ(writer->status, 200) << writer->body;
  }
  // The read token cannot write.
  httplib::Client client("127.0.0.1", collector_->http_port());
  client.set_bearer_token_auth(kReadToken);
  const auto post = client.Post("/v1/metrics", records_.front().json() + "\n", "application/x-ndjson");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 401);
}

TEST_F(QueryHttp, MetricsAndTheSlowQueryLog) {
  const auto response = get(std::string("/v1/query/top?by=dest_port&") + kRange);
  ASSERT_TRUE(response);
  ASSERT_EQ(response->status, 200) << response->body;
  (void)get("/v1/query/top?by=nothing");
  EXPECT_GE(collector_->metric("flowmetrics_query_duration_seconds_count"), 1.0);
  EXPECT_GE(collector_->metric("flowmetrics_queries_total"), 2.0);
  httplib::Client client("127.0.0.1", collector_->http_port());
  const auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("flowmetrics_query_duration_seconds_bucket{kind=\"top\",tier=\""), std::string::npos)
      << metrics->body;
  EXPECT_NE(metrics->body.find(R"(flowmetrics_queries_total{kind="top",outcome="bad_request"})"), std::string::npos);
  EXPECT_TRUE(eventually(
      [] {
        return collector_->logs().find("slow query: top by=dest_port measure=bytes from=2024-11-25T10:00:00Z") !=
               std::string::npos;
      },
      10s))
      << collector_->logs();
}

}  // namespace
}  // namespace flowmetrics
