// The many-lines path accepts and rejects exactly what parse_json_record does, line by line,
// and builds the same binary records; plainly good lines come from simdjson's stream.
#include "ingest/json_lines.hpp"

#include <gtest/gtest.h>

#include <random>

namespace flowmetrics::ingest {
namespace {

struct Outcome {
  bool ok = false;
  FlowUpdate update;
  RejectReason reason = RejectReason::none;
};

Outcome one_by_one(std::string_view line) {
  Outcome o;
  Metric metric;
  const ParseResult result = parse_json_record(line, metric);
  if (!result.ok()) {
    o.reason = result.reason;
    return o;
  }
  o.ok = make_flow_update(metric, o.update) == KeyRejection::none;
  return o;
}

const char* const kGood =
    R"({"source_ip":"10.0.0.1","dest_ip":"10.0.0.2","source_port":1234,"dest_port":80,"protocol":"tcp","timestamp":1732530000,"value":1.5,"packets":2,"bytes":300,"flows":1})";

const std::vector<std::string> kLines = {
    kGood,
    R"({"source_ip":"2001:DB8::1","dest_ip":"::ffff:1.2.3.4","source_port":0,"dest_port":65535,"protocol":17,"timestamp":"2024-11-25T10:20:00.123456789+02:00","value":-3})",
    R"(  {"value":7,"timestamp":1732530000123,"protocol":"ipv6-icmp","dest_port":1,"source_port":2,"dest_ip":"::","source_ip":"0.0.0.0","extra":"x","more":null}  )",
    R"({"source_ip":"10.0.0.1","dest_ip":"10.0.0.2","source_port":1,"dest_port":2,"protocol":"6","timestamp":1732530000.5,"value":1})",
    R"({"source_ip":"10.0.0.1","dest_ip":"10.0.0.2","source_port":1,"dest_port":2,"protocol":"TCP","timestamp":0,"value":1})",
    R"({"source_ip":"10.0.0.1","dest_ip":"10.0.0.2","source_port":1,"dest_port":2,"protocol":"TCP","timestamp":-0,"value":1})",
    R"({"source_ip":"10.0.0.1","dest_ip":"10.0.0.2","source_port":1,"dest_port":2,"protocol":"TCP","timestamp":1e9,"value":1})",
    R"({"source_ip":"10.0.0.1","dest_ip":"10.0.0.2","source_port":80.0,"dest_port":2,"protocol":"TCP","timestamp":1,"value":1})",
    R"({"source_ip":"10.0.0.1","dest_ip":"10.0.0.2","source_port":"80","dest_port":2,"protocol":"TCP","timestamp":1,"value":1})",
    R"({"source_ip":"10.0.0.256","dest_ip":"10.0.0.2","source_port":1,"dest_port":2,"protocol":"TCP","timestamp":1,"value":1})",
    R"({"source_ip":"10.0.0.1","dest_ip":"10.0.0.2","source_port":1,"dest_port":2,"protocol":"TCPX","timestamp":1,"value":1})",
    R"({"source_ip":"10.0.0.1","dest_ip":"10.0.0.2","source_port":1,"dest_port":2,"protocol":256,"timestamp":1,"value":1})",
    R"({"source_ip":"10.0.0.1","dest_ip":"10.0.0.2","source_port":1,"dest_port":2,"protocol":"TCP","timestamp":1,"value":1,"packets":-1})",
    R"({"source_ip":"10.0.0.1","dest_ip":"10.0.0.2","source_port":1,"dest_port":2,"protocol":"TCP","timestamp":1,"value":1,"bytes":18446744073709551615})",
    R"({"source_ip":"10.0.0.1","dest_ip":"10.0.0.2","source_port":1,"dest_port":2,"protocol":"TCP","timestamp":1,"value":1e400})",
    R"({"source_ip":"10.0.0.1","dest_ip":"10.0.0.2","source_port":1,"dest_port":2,"protocol":"TCP","timestamp":1,"value":1,"source_ip":"10.0.0.1"})",
    R"({"source_ip":"10.0.0.1","dest_ip":"10.0.0.2","source_port":1,"dest_port":2,"protocol":"TCP","timestamp":1})",
    R"({"source\u005fip":"10.0.0.1","dest_ip":"10.0.0.2","source_port":1,"dest_port":2,"protocol":"TCP","timestamp":1,"value":1})",
    R"({"source_ip":"10.0.0.1","dest_ip":"10.0.0.2","source_port":1,"dest_port":2,"protocol":"TCP","timestamp":1,"value":1,"x":{"y":[1,2]}})",
    R"({"source_ip":"10.0.0.1","dest_ip":"10.0.0.2","source_port":1,"dest_port":2,"protocol":"TCP","timestamp":"2024-02-30T00:00:00Z","value":1})",
    R"({"source_ip":"10.0.0.1","dest_ip":"10.0.0.2","source_port":1,"dest_port":2,"protocol":"TCP","timestamp":99999999999999999,"value":1})",
    R"({"source_ip":"10.0.0.1","dest_ip":"10.0.0.2"} {"a":1})",
    R"({"source_ip":"10.0.0.1","dest_ip":)",
    R"("source_ip")",
    R"([1,2,3])",
    R"(42)",
    R"({"source_ip":"10.0.0.1","dest_ip":"10.0.0.2","source_port":1,"dest_port":2,"protocol":"TCP","timestamp":1,"value":1,"s":"unterminated)",
    "{\"source_ip\":\"10.0.0.1\",\"dest_ip\":\"10.0.0.2\",\"source_port\":1,\"dest_port\":2,\"protocol\":\"TCP\","
    "\"timestamp\":1,\"value\":1,\"bad\":\"\xff\"}",
    R"(not json at all)",
    R"({"source_ip":"10.0.0.1","dest_ip":"10.0.0.2","source_port":1,"dest_port":2,"protocol":"TCP","timestamp":1,"value":true})",
    R"({"source_ip":"10.0.0.1","dest_ip":"10.0.0.2","source_port":1,"dest_port":2,"protocol":"TCP","timestamp":1,"value":1,"flows":null,"packets":null})",
};

// Parses `lines` as one chunk (joined by "\n") and checks every line's outcome.
void expect_same(const std::vector<std::string>& lines, JsonLineParser& parser) {
  std::string chunk;
  std::vector<std::size_t> starts;
  for (const auto& line : lines) {
    starts.push_back(chunk.size());
    chunk += line;
    chunk += '\n';
  }
  std::vector<std::string_view> views;
  for (std::size_t i = 0; i < lines.size(); ++i) views.emplace_back(chunk.data() + starts[i], lines[i].size());
  std::vector<FlowUpdate> out;
  std::vector<RejectReason> rejected;
  parser.parse(chunk, views, out, rejected);
  std::size_t next_ok = 0, next_bad = 0;
  for (const auto& line : lines) {
    const Outcome expected = one_by_one(line);
    if (expected.ok) {
      ASSERT_LT(next_ok, out.size()) << line;
      const FlowUpdate& got = out[next_ok++];
      EXPECT_EQ(got.key, expected.update.key) << line;
      EXPECT_EQ(got.value, expected.update.value) << line;
      EXPECT_EQ(got.packets, expected.update.packets) << line;
      EXPECT_EQ(got.bytes, expected.update.bytes) << line;
      EXPECT_EQ(got.flows, expected.update.flows) << line;
    } else {
      ASSERT_LT(next_bad, rejected.size()) << line;
      EXPECT_EQ(rejected[next_bad++], expected.reason) << line;
    }
  }
  EXPECT_EQ(next_ok, out.size());
  EXPECT_EQ(next_bad, rejected.size());
}

TEST(JsonLines, EveryLineHasTheOutcomeParseJsonRecordGivesIt) {
  JsonLineParser parser;
  expect_same(kLines, parser);
}

TEST(JsonLines, AnyMixOfGoodAndBadLinesToo) {
  JsonLineParser parser;
  std::mt19937 random(7);
  for (int round = 0; round < 200; ++round) {
    std::vector<std::string> lines;
    const int n = 1 + static_cast<int>(random() % 40);
    for (int i = 0; i < n; ++i) lines.push_back(random() % 3 == 0 ? kLines[random() % kLines.size()] : kGood);
    expect_same(lines, parser);
  }
}

TEST(JsonLines, ManyGoodLinesComeFromTheStream) {
  JsonLineParser parser;
  std::vector<std::string> lines(5000, kGood);
  expect_same(lines, parser);
  EXPECT_EQ(parser.streamed(), 5000u);
  EXPECT_NE(JsonLineParser::kernel(), "");
}

}  // namespace
}  // namespace flowmetrics::ingest
