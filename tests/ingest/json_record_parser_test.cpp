#include "ingest/json_record_parser.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "flowmetrics/validation.hpp"

namespace flowmetrics::ingest {
namespace {

// The test target links gtest only, so no gmock HasSubstr.
::testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << text << "' does not contain '" << part << "'";
}

// The fields of a valid record, in order, as raw JSON.
const std::vector<std::pair<std::string, std::string>> kBaseFields{
    {"source_ip", R"("10.0.0.1")"}, {"dest_ip", R"("10.0.0.2")"}, {"source_port", "1234"}, {"dest_port", "80"},
    {"protocol", R"("TCP")"},       {"timestamp", "1732530000"},  {"value", "1.5"},
};

// A valid record with `field` set to the raw JSON `json`, added when it is not a base field,
// left out when `json` is empty.
std::string line_with(const std::string& field, const std::string& json) {
  std::string line = "{";
  bool replaced = false;
  for (const auto& [name, value] : kBaseFields) {
    std::string text = value;
    if (name == field) {
      replaced = true;
      if (json.empty()) continue;
      text = json;
    }
    if (line.size() > 1) line += ",";
    line += "\"" + name + "\":" + text;
  }
  if (!replaced && !json.empty()) line += ",\"" + field + "\":" + json;
  return line + "}";
}

std::string valid_line() {
  return line_with("", "");
}

std::int64_t epoch_ms(const Metric& metric) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(metric.timestamp.time_since_epoch()).count();
}

// Parses `line`, which must be accepted, and checks the library accepts the result too.
Metric accept(const std::string& line) {
  Metric metric;
  const ParseResult result = parse_json_record(line, metric);
  EXPECT_TRUE(result.ok()) << line << " -> " << to_string(result.reason) << ": " << result.message;
  MetricKey key;
  EXPECT_FALSE(make_metric_key(metric, key)) << line;
  return metric;
}

// Parses `line`, which must be rejected for `reason` with a message containing `mentions`.
void expect_reject(const std::string& line, RejectReason reason, const std::string& mentions) {
  Metric metric;
  const ParseResult result = parse_json_record(line, metric);
  EXPECT_EQ(to_string(result.reason), to_string(reason)) << line << " -> " << result.message;
  EXPECT_TRUE(contains(result.message, mentions)) << " for " << line;
}

struct BodyResult {
  std::vector<std::pair<std::size_t, Metric>> records;
  std::vector<std::pair<std::size_t, ParseResult>> rejects;
  std::size_t count = 0;
};

BodyResult parse_body(std::string_view body) {
  BodyResult out;
  out.count = parse_json_body(
      body, [&](std::size_t index, Metric&& metric) { out.records.emplace_back(index, std::move(metric)); },
      [&](std::size_t index, const ParseResult& result) { out.rejects.emplace_back(index, result); });
  return out;
}

std::string nested(std::size_t levels, const std::string& inner) {
  return std::string(levels, '[') + inner + std::string(levels, ']');
}

// ---- Accepted forms ---------------------------------------------------------------------

TEST(ParseJsonRecord, AcceptsAFullRecordAsGiven) {
  const Metric m = accept(
      R"({"source_ip":"192.168.1.1","dest_ip":"192.168.1.2","source_port":8080,"dest_port":80,)"
      R"("protocol":"tcp","timestamp":"2024-11-25T10:20:00Z","value":123.45,"packets":10,"bytes":1500,"flows":1})");
  EXPECT_EQ(m.source_ip, "192.168.1.1");
  EXPECT_EQ(m.dest_ip, "192.168.1.2");
  EXPECT_EQ(m.source_port, 8080);
  EXPECT_EQ(m.dest_port, 80);
  EXPECT_EQ(m.protocol, "tcp");
  EXPECT_EQ(epoch_ms(m), 1'732'530'000'000);
  EXPECT_DOUBLE_EQ(m.value, 123.45);
  EXPECT_EQ(m.packets, 10u);
  EXPECT_EQ(m.bytes, 1500u);
  EXPECT_EQ(m.flows, 1u);
}

TEST(ParseJsonRecord, AcceptsFieldsInAnyOrderWithWhitespaceAndEscapedKeys) {
  const Metric m = accept(
      " {\t\"value\" : 2 , \"timestamp\":0, \"protocol\":17,\"dest_port\":65535,\"source_port\":0,"
      "\"dest_ip\":\"::1\", \"source\\u005fip\":\"10.0.0.1\" }  ");
  EXPECT_EQ(m.source_ip, "10.0.0.1");
  EXPECT_EQ(m.source_port, 0);
  EXPECT_EQ(m.dest_port, 65535);
  EXPECT_EQ(m.protocol, "17");
  EXPECT_EQ(epoch_ms(m), 0);
  EXPECT_EQ(m.value, 2.0);
}

TEST(ParseJsonRecord, AcceptsEveryTimestampFormWithExactMilliseconds) {
  const std::vector<std::pair<std::string, std::int64_t>> cases{
      {R"("2024-11-25T10:20:00Z")", 1'732'530'000'000},
      {R"("2024-11-25T10:20:00.123Z")", 1'732'530'000'123},
      {R"("2024-11-25T10:20:00.123456+02:00")", 1'732'522'800'123},
      {R"("2024-11-25T10:20:00-05:30")", 1'732'549'800'000},
      {R"("2024-11-25t10:20:00.5z")", 1'732'530'000'500},
      {R"("2024-11-25 10:20:00Z")", 1'732'530'000'000},
      {R"("2024-11-25T10:20:00.9999999999Z")", 1'732'530'000'999},
      {R"("2024-02-29T12:00:00Z")", 1'709'208'000'000},
      {R"("1970-01-01T00:00:00Z")", 0},
      {R"("1969-12-31T23:30:00-01:00")", 1'800'000},
      {R"("2262-04-11T23:47:16.854775807Z")", 9'223'372'036'854},
      {"1732530000", 1'732'530'000'000},
      {"1732530000.123", 1'732'530'000'123},
      {"1732530000.9999", 1'732'530'000'999},
      {"1.73253e9", 1'732'530'000'000},
      {"1732530000123", 1'732'530'000'123},
      {"1732530000123.9", 1'732'530'000'123},
      {"1.7325300001234e12", 1'732'530'000'123},
      {"100000000000", 100'000'000'000},  // the threshold itself: milliseconds (1973)
      {"0", 0},
      {"-0", 0},
      {"0.0005", 0},
      {"1e-3", 1},
      {"9223372036.854775807", 9'223'372'036'854},
      {"9223372036854", 9'223'372'036'854},
  };
  for (const auto& [json, ms] : cases) {
    EXPECT_EQ(epoch_ms(accept(line_with("timestamp", json))), ms) << json;
  }
  const Metric micro = accept(line_with("timestamp", R"("2024-11-25T10:20:00.123456+02:00")"));
  EXPECT_EQ(micro.timestamp.time_since_epoch(), std::chrono::microseconds(1'732'522'800'123'456));
}

TEST(ParseJsonRecord, AcceptsProtocolNamesNumbersAndIntegers) {
  const std::vector<std::pair<std::string, std::string>> cases{
      {R"("TCP")", "TCP"}, {R"("tcp")", "tcp"}, {R"("6")", "6"}, {"6", "6"},
      {"253", "253"},      {"0", "0"},          {"-0", "0"},     {R"("ICMPv6")", "ICMPv6"},
  };
  for (const auto& [json, stored] : cases) EXPECT_EQ(accept(line_with("protocol", json)).protocol, stored) << json;
}

TEST(ParseJsonRecord, OptionalCountersDefaultToZeroAndNullIsAbsent) {
  const Metric none = accept(valid_line());
  EXPECT_EQ(none.packets, 0u);
  EXPECT_EQ(none.bytes, 0u);
  EXPECT_EQ(none.flows, 0u);
  EXPECT_EQ(accept(line_with("packets", "null")).packets, 0u);
  EXPECT_EQ(accept(line_with("bytes", "18446744073709551615")).bytes, UINT64_MAX);
  EXPECT_EQ(accept(line_with("flows", "0")).flows, 0u);
}

TEST(ParseJsonRecord, IgnoresUnknownFieldsOfAnyShape) {
  const Metric m = accept(
      R"({"note":"x","source_ip":"10.0.0.1","dest_ip":"10.0.0.2","source_port":1,"dest_port":2,"protocol":"udp",)"
      R"("timestamp":1732530000,"value":-0.5,"tags":{"a":[1,2,{"b":null}],"c":true},"note":1e999,"z":[]})");
  EXPECT_EQ(m.value, -0.5);
  EXPECT_EQ(m.protocol, "udp");
}

TEST(ParseJsonRecord, AcceptsIpv6AsGiven) {
  for (const char* ip : {"2001:db8::1", "2001:DB8:0:0:0:0:0:1", "::ffff:10.0.0.1", "::", "fe80::1"}) {
    const Metric m = accept(line_with("source_ip", "\"" + std::string(ip) + "\""));
    EXPECT_EQ(m.source_ip, ip);
  }
}

TEST(ParseJsonRecord, AcceptsAnyFiniteValue) {
  const std::vector<std::pair<std::string, double>> cases{{"0", 0.0},
                                                          {"-7", -7.0},
                                                          {"1e308", 1e308},
                                                          {"-1.5e-3", -1.5e-3},
                                                          {"123456789012345678901234567890", 1.2345678901234568e29}};
  for (const auto& [json, value] : cases) EXPECT_DOUBLE_EQ(accept(line_with("value", json)).value, value) << json;
}

// ---- Rejections -------------------------------------------------------------------------

TEST(ParseJsonRecord, NamesEveryReason) {
  EXPECT_EQ(to_string(RejectReason::none), "none");
  EXPECT_EQ(to_string(RejectReason::invalid_json), "invalid_json");
  EXPECT_EQ(to_string(RejectReason::not_an_object), "not_an_object");
  EXPECT_EQ(to_string(RejectReason::missing_field), "missing_field");
  EXPECT_EQ(to_string(RejectReason::wrong_type), "wrong_type");
  EXPECT_EQ(to_string(RejectReason::invalid_ip), "invalid_ip");
  EXPECT_EQ(to_string(RejectReason::invalid_port), "invalid_port");
  EXPECT_EQ(to_string(RejectReason::invalid_protocol), "invalid_protocol");
  EXPECT_EQ(to_string(RejectReason::invalid_timestamp), "invalid_timestamp");
  EXPECT_EQ(to_string(RejectReason::invalid_value), "invalid_value");
  EXPECT_EQ(to_string(RejectReason::line_too_long), "line_too_long");
}

TEST(ParseJsonRecord, RejectsWhatIsNotJson) {
  for (const std::string line : {"",           "   ",         "x",           "{",
                                 "}",          "{\"a\":1,}",  "{\"a\" 1}",   "{\"a\":[1,2}",
                                 "{'a':1}",    "{\"a\":tru}", "{\"a\":nul}", "{\"a\":01}",
                                 "{\"a\":1.}", "{\"a\":-}",   "{\"a\":.5}",  "{\"a\":\"\\x\"}",
                                 "{\"a\":1}}", "{\"a\":1} x", "{\"a\":1}{}", "[1,2",
                                 "tru",        "\"x\" y",     "42 43"}) {
    expect_reject(line, RejectReason::invalid_json, "not valid JSON");
  }
  // Broken JSON after a bad field still makes the line invalid_json.
  std::string broken_after_bad_field = line_with("source_port", "\"x\"");
  broken_after_bad_field.pop_back();
  expect_reject(broken_after_bad_field + R"(,"z":[1,,2]})", RejectReason::invalid_json, "not valid JSON");
  expect_reject(line_with("source_port", "\"x\"") + " x", RejectReason::invalid_json, "not valid JSON");
  expect_reject(line_with("value", "01"), RejectReason::invalid_json, "value");
}

TEST(ParseJsonRecord, RejectsValuesThatAreNotObjects) {
  for (const std::string line : {"42", "-1.5e3", "\"text\"", "true", "null", "[]", "[{\"a\":1}]", " [ 1 , 2 ] "}) {
    expect_reject(line, RejectReason::not_an_object, "expected a JSON object");
  }
}

TEST(ParseJsonRecord, RejectsEachMissingRequiredField) {
  for (const auto& [name, json] : kBaseFields) {
    expect_reject(line_with(name, ""), RejectReason::missing_field, name);
  }
  expect_reject("{}", RejectReason::missing_field, "source_ip");
}

TEST(ParseJsonRecord, RejectsWrongTypesNamingTheField) {
  const std::vector<std::pair<std::string, std::string>> cases{
      {"source_ip", "167772161"}, {"dest_ip", "null"},     {"source_port", "\"80\""}, {"dest_port", "[80]"},
      {"protocol", "true"},       {"protocol", "{}"},      {"timestamp", "null"},     {"timestamp", "[1]"},
      {"value", "\"1.5\""},       {"value", "null"},       {"packets", "\"10\""},     {"bytes", "true"},
      {"flows", "{\"n\":1}"},     {"source_port", "null"},
  };
  for (const auto& [field, json] : cases) expect_reject(line_with(field, json), RejectReason::wrong_type, field);
}

TEST(ParseJsonRecord, RejectsBadAddresses) {
  for (const std::string ip : {"", "10.0.0", "10.0.0.256", " 10.0.0.1", "host.example", "1::2::3", "10.0.0.1|x",
                               "2001:db8::1%eth0", "10.0.0.1\\u0000", "\\u00e9"}) {
    expect_reject(line_with("source_ip", "\"" + ip + "\""), RejectReason::invalid_ip, "source_ip");
    expect_reject(line_with("dest_ip", "\"" + ip + "\""), RejectReason::invalid_ip, "dest_ip");
  }
}

TEST(ParseJsonRecord, RejectsBadPorts) {
  for (const std::string port : {"-1", "65536", "80.0", "8e1", "1e20", "99999999999999999999999", "1e400", "-0.0"}) {
    expect_reject(line_with("source_port", port), RejectReason::invalid_port, "source_port");
    expect_reject(line_with("dest_port", port), RejectReason::invalid_port, "dest_port");
  }
}

TEST(ParseJsonRecord, RejectsBadProtocols) {
  for (const std::string json : {"256", "-1", "6.0", "1e2", "\"256\"", "\"foo\"", "\"\"", "\"tcp|x\"", "\"tcp\\u0000\"",
                                 "\" tcp\"", "99999999999999999999999"}) {
    expect_reject(line_with("protocol", json), RejectReason::invalid_protocol, "protocol");
  }
}

TEST(ParseJsonRecord, RejectsBadTimestamps) {
  for (const std::string json : {R"("")",
                                 R"("2024-11-25")",
                                 R"("2024-11-25T10:20:00")",
                                 R"("2024-11-25T10:20Z")",
                                 R"("2024-11-25X10:20:00Z")",
                                 R"("2024-02-30T00:00:00Z")",
                                 R"("2023-02-29T00:00:00Z")",
                                 R"("2024-13-01T00:00:00Z")",
                                 R"("2024-11-25T24:00:00Z")",
                                 R"("2024-11-25T10:60:00Z")",
                                 R"("2024-11-25T10:20:60Z")",
                                 R"("2024-11-25T10:20:00.Z")",
                                 R"("2024-11-25T10:20:00+2:00")",
                                 R"("2024-11-25T10:20:00+02:60")",
                                 R"("2024-11-25T10:20:00+0200")",
                                 R"("2024-11-25T10:20:00Z ")",
                                 R"("2024-11-25T10:20:00Z\u0000")",
                                 R"("+2024-11-25T10:20:00Z")",
                                 R"("1732530000")",
                                 R"("2024-11-25T10:20:00ZZ")"}) {
    expect_reject(line_with("timestamp", json), RejectReason::invalid_timestamp, "RFC 3339");
  }
  for (const std::string json :
       {"-1", "-0.001", "1e400", "99999999999.5" /* just below the threshold: seconds, year 5138 */, "1e20",
        "99999999999999999999999999", "9223372036.854775808", "9223372036855", R"("1969-12-31T23:59:59.999Z")",
        R"("2262-04-11T23:47:16.854775808Z")", R"("9999-12-31T23:59:59Z")", R"("0000-01-01T00:00:00Z")"}) {
    expect_reject(line_with("timestamp", json), RejectReason::invalid_timestamp, "outside 1970-01-01");
  }
}

TEST(ParseJsonRecord, RejectsBadValuesAndCounters) {
  for (const std::string json : {"1e400", "-1e400", "1E+999"}) {
    expect_reject(line_with("value", json), RejectReason::invalid_value, "value");
  }
  for (const std::string field : {"packets", "bytes", "flows"}) {
    for (const std::string json : {"-1", "1.5", "1.0", "1e3", "18446744073709551616", "99999999999999999999999999"}) {
      expect_reject(line_with(field, json), RejectReason::invalid_value, field);
    }
  }
}

TEST(ParseJsonRecord, RejectsARequiredFieldGivenTwice) {
  std::string value_twice = line_with("value", "");
  value_twice.pop_back();
  value_twice += R"(,"value":1,"value":2})";
  expect_reject(value_twice, RejectReason::invalid_json, "value: field appears more than once");
  std::string twice = valid_line();
  twice.insert(1, R"("dest_port":80,)");
  expect_reject(twice, RejectReason::invalid_json, "dest_port: field appears more than once");
  // Unknown fields may repeat.
  accept(line_with("x", "1").insert(1, R"("x":2,)"));
}

TEST(ParseJsonRecord, ReportsTheFirstBadFieldInTheLine) {
  std::string value_first = line_with("value", "");
  value_first.insert(1, R"("value":"x",)");
  value_first.replace(value_first.find("1234"), 4, "70000");
  expect_reject(value_first, RejectReason::wrong_type, "value");
  std::string port_first = line_with("value", "\"x\"");
  port_first.replace(port_first.find("1234"), 4, "70000");
  expect_reject(port_first, RejectReason::invalid_port, "source_port");
}

TEST(ParseJsonRecord, LeavesTheMetricUnchangedOnRejection) {
  Metric metric = accept(valid_line());
  const ParseResult result = parse_json_record(line_with("dest_port", "70000"), metric);
  EXPECT_EQ(result.reason, RejectReason::invalid_port);
  EXPECT_EQ(metric.dest_port, 80);
  EXPECT_EQ(metric.source_ip, "10.0.0.1");
}

// ---- Hostile input ----------------------------------------------------------------------

TEST(ParseJsonRecord, RejectsInvalidUtf8Anywhere) {
  expect_reject(line_with("source_ip", "\"10.0.0.\xff\""), RejectReason::invalid_json, "UTF-8");
  expect_reject(line_with("note", "\"\xc3\x28\""), RejectReason::invalid_json, "UTF-8");
  expect_reject(line_with("note", "\"\xed\xa0\x80\""), RejectReason::invalid_json, "UTF-8");  // a surrogate
  expect_reject(valid_line() + "\xff", RejectReason::invalid_json, "not valid JSON");
}

TEST(ParseJsonRecord, RejectsDeepNestingAtTheLimit) {
  // The record is level 1, so an unknown field may hold kMaxJsonNesting - 1 levels.
  accept(line_with("deep", nested(kMaxJsonNesting - 1, "1")));
  expect_reject(line_with("deep", nested(kMaxJsonNesting, "1")), RejectReason::too_deep, "nested deeper than 64");
  expect_reject(nested(100'000, ""), RejectReason::too_deep, "nested deeper than 64");
  std::string objects;
  for (int i = 0; i < 100'000; ++i) objects += "{\"a\":";
  expect_reject(objects + "1" + std::string(100'000, '}'), RejectReason::too_deep, "nested deeper");
  expect_reject(std::string(100'000, '['), RejectReason::too_deep, "nested deeper");
  expect_reject(line_with("source_port", nested(1000, "")), RejectReason::too_deep, "nested deeper");
}

TEST(ParseJsonRecord, RejectsEmbeddedNulBytes) {
  const std::string line = valid_line();
  std::string in_string = line;
  in_string.insert(line.find("10.0.0.1") + 2, 1, '\0');
  expect_reject(in_string, RejectReason::invalid_json, "not valid JSON");
  expect_reject(line + std::string(1, '\0'), RejectReason::invalid_json, "not valid JSON");
  expect_reject(std::string(1, '\0') + line, RejectReason::invalid_json, "not valid JSON");
  expect_reject(std::string("{\"a\":1\0}", 9), RejectReason::invalid_json, "not valid JSON");
}

TEST(ParseJsonRecord, QuotesHostileTextSafelyInMessages) {
  Metric metric;
  const ParseResult result =
      parse_json_record(line_with("source_ip", "\"\\u0001\\n\\u00e9" + std::string(5000, 'a') + "\""), metric);
  EXPECT_EQ(result.reason, RejectReason::invalid_ip);
  EXPECT_TRUE(contains(result.message, R"(\x01\x0a\xc3\xa9aaa)"));
  EXPECT_LT(result.message.size(), 200u);
  for (char c : result.message) EXPECT_TRUE(c >= 0x20 && c < 0x7f) << result.message;
}

TEST(ParseJsonRecord, HandlesInputLargerThanTheReusedBuffer) {
  accept(line_with("padding", "\"" + std::string(3 << 20, 'x') + "\""));
  accept(valid_line());  // and the thread's own buffer is still fine afterwards
}

// ---- Bodies -----------------------------------------------------------------------------

TEST(ParseJsonBody, NdjsonSkipsBlankLinesAndCountsIndicesAmongTheRest) {
  const std::string good = valid_line();
  const std::string body = "\n" + good + "\r\n  \r\n" + "not json\n\t\n" + line_with("dest_port", "-1") + "\r\n\r\n" +
                           "[1]\n" + good;  // no final newline
  const BodyResult out = parse_body(body);
  EXPECT_EQ(out.count, 5u);
  ASSERT_EQ(out.records.size(), 2u);
  EXPECT_EQ(out.records[0].first, 0u);
  EXPECT_EQ(out.records[1].first, 4u);
  EXPECT_EQ(out.records[1].second.dest_port, 80);
  ASSERT_EQ(out.rejects.size(), 3u);
  EXPECT_EQ(out.rejects[0].first, 1u);
  EXPECT_EQ(out.rejects[0].second.reason, RejectReason::invalid_json);
  EXPECT_EQ(out.rejects[1].first, 2u);
  EXPECT_EQ(out.rejects[1].second.reason, RejectReason::invalid_port);
  EXPECT_EQ(out.rejects[2].first, 3u);
  EXPECT_EQ(out.rejects[2].second.reason, RejectReason::not_an_object);
}

TEST(ParseJsonBody, EmptyAndBlankBodiesHoldNoRecords) {
  for (const std::string body : {"", "\n", "\r\n\r\n", " \t \n  "}) {
    const BodyResult out = parse_body(body);
    EXPECT_EQ(out.count, 0u);
    EXPECT_TRUE(out.records.empty() && out.rejects.empty());
  }
  const BodyResult empty_array = parse_body(" [ ] ");
  EXPECT_EQ(empty_array.count, 0u);
  EXPECT_TRUE(empty_array.records.empty() && empty_array.rejects.empty());
}

TEST(ParseJsonBody, ArrayDeliversEachElementAtItsIndex) {
  const std::string body = "\n [" + valid_line() + ",\n" + line_with("value", "1e400") + ", 42, \"x\", [], " +
                           line_with("protocol", "6") + "]\n";
  const BodyResult out = parse_body(body);
  EXPECT_EQ(out.count, 6u);
  ASSERT_EQ(out.records.size(), 2u);
  EXPECT_EQ(out.records[0].first, 0u);
  EXPECT_EQ(out.records[1].first, 5u);
  EXPECT_EQ(out.records[1].second.protocol, "6");
  ASSERT_EQ(out.rejects.size(), 4u);
  EXPECT_EQ(out.rejects[0].first, 1u);
  EXPECT_EQ(out.rejects[0].second.reason, RejectReason::invalid_value);
  for (std::size_t i = 1; i < 4; ++i) {
    EXPECT_EQ(out.rejects[i].first, i + 1);
    EXPECT_EQ(out.rejects[i].second.reason, RejectReason::not_an_object);
    EXPECT_TRUE(contains(out.rejects[i].second.message, "element " + std::to_string(i + 1)));
  }
}

TEST(ParseJsonBody, LargeBodiesKeepEveryIndex) {
  std::string array = "[";
  std::string ndjson;
  for (int i = 0; i < 5000; ++i) {
    const std::string line = i % 1000 == 999 ? line_with("dest_port", "-1") : line_with("value", std::to_string(i));
    array += (i > 0 ? "," : "") + line;
    ndjson += line + "\r\n";
  }
  array += "]";
  for (const std::string& body : {array, ndjson}) {
    ASSERT_GT(body.size(), 256u << 10);  // the array is parsed in a buffer of its own
    const BodyResult out = parse_body(body);
    EXPECT_EQ(out.count, 5000u);
    ASSERT_EQ(out.records.size(), 4995u);
    EXPECT_EQ(out.records[4000].first, 4004u);
    EXPECT_EQ(out.records[4000].second.value, 4004.0);
    ASSERT_EQ(out.rejects.size(), 5u);
    EXPECT_EQ(out.rejects[4].first, 4999u);
  }
}

TEST(ParseJsonBody, DamagedArrayIsOneRejectionAndNoRecords) {
  const std::string good = valid_line();
  for (const std::string& body : {"[" + good + "," + good, "[" + good + "," + good.substr(0, 30), "[" + good + "]]",
                                  "[" + good + "] x", "[" + good + ",]", "[" + good + "]\n[" + good + "]",
                                  "[" + good + "," + nested(kMaxJsonNesting, "") + "]", "[" + good + ",\"\xff\"]"}) {
    const BodyResult out = parse_body(body);
    EXPECT_EQ(out.count, 1u) << body;
    EXPECT_TRUE(out.records.empty()) << body;
    ASSERT_EQ(out.rejects.size(), 1u) << body;
    EXPECT_EQ(out.rejects[0].first, 0u);
    EXPECT_EQ(out.rejects[0].second.reason,
              body.find("[[[[") != std::string::npos ? RejectReason::too_deep : RejectReason::invalid_json)
        << body;
  }
}

TEST(ParseJsonBody, DeepNestingIsTooDeepWhateverTheShape) {
  // A body of nothing but '[' (what a fuzzer or a hostile client sends) says why it is refused.
  for (const std::string& body :
       {std::string(100'000, '['), nested(100'000, ""), "[" + nested(kMaxJsonNesting, "") + "]"}) {
    const BodyResult out = parse_body(body);
    ASSERT_EQ(out.rejects.size(), 1u);
    EXPECT_EQ(out.rejects[0].second.reason, RejectReason::too_deep);
    EXPECT_NE(out.rejects[0].second.message.find("nested deeper than 64"), std::string::npos)
        << out.rejects[0].second.message;
  }
}

TEST(ParseJsonBody, CallbacksMayParseAgain) {
  const std::string good = valid_line();
  std::size_t nested_ok = 0;
  const std::size_t count = parse_json_body(
      "[" + good + "," + good + "]",
      [&](std::size_t, Metric&&) {
        Metric inner;
        if (parse_json_record(good, inner).ok()) ++nested_ok;
        nested_ok += parse_body("[" + good + "]").records.size();
      },
      [](std::size_t, const ParseResult&) { ADD_FAILURE(); });
  EXPECT_EQ(count, 2u);
  EXPECT_EQ(nested_ok, 4u);
}

// ---- Property: arbitrary input never crashes, and what is accepted is valid --------------

std::string mutate(std::string line, std::mt19937& rng) {
  using namespace std::string_literals;  // keeps the embedded NUL
  static const std::string kAlphabet = "{}[]\":,.-+eE0123456789 \\u\t\r\n\0\x7f\xc3\xa9\xff|tfn"s;
  const int edits = std::uniform_int_distribution<int>(1, 4)(rng);
  for (int i = 0; i < edits && !line.empty(); ++i) {
    const std::size_t at = std::uniform_int_distribution<std::size_t>(0, line.size() - 1)(rng);
    const char c = kAlphabet[std::uniform_int_distribution<std::size_t>(0, kAlphabet.size() - 1)(rng)];
    switch (std::uniform_int_distribution<int>(0, 3)(rng)) {
      case 0: line[at] = c; break;
      case 1: line.insert(at, 1, c); break;
      case 2: line.erase(at, 1); break;
      default: line.resize(at); break;
    }
  }
  return line;
}

TEST(ParseJsonRecordProperty, ArbitraryBytesNeverCrashAndAcceptedMetricsAreValid) {
  std::mt19937 rng(20241125);
  const std::vector<std::string> seeds{
      valid_line(),
      R"({"source_ip":"2001:db8::1","dest_ip":"10.0.0.2","source_port":1,"dest_port":2,"protocol":6,)"
      R"("timestamp":"2024-11-25T10:20:00.123+02:00","value":1e300,"packets":1,"bytes":2,"flows":3,"x":[{"y":null}]})",
      line_with("timestamp", "1732530000123.5"),
  };
  std::size_t accepted = 0;
  for (int i = 0; i < 10'000; ++i) {
    std::string input;
    if (i % 4 == 0) {
      input.resize(std::uniform_int_distribution<std::size_t>(0, 300)(rng));
      for (char& c : input) c = static_cast<char>(std::uniform_int_distribution<int>(0, 255)(rng));
    } else {
      input = mutate(seeds[static_cast<std::size_t>(i) % seeds.size()], rng);
    }
    Metric metric;
    const ParseResult result = parse_json_record(input, metric);
    if (result.ok()) {
      ++accepted;
      MetricKey key;
      const auto error = make_metric_key(metric, key);
      EXPECT_FALSE(error) << input << " -> " << (error ? error->message : "");
      EXPECT_TRUE(result.message.empty());
    } else {
      EXPECT_NE(result.reason, RejectReason::line_too_long);
      EXPECT_FALSE(result.message.empty()) << input;
    }
    const BodyResult body = parse_body(i % 2 == 0 ? "[" + input + "]" : input + "\n" + input);
    EXPECT_EQ(body.count, body.records.size() + body.rejects.size());
  }
  EXPECT_GT(accepted, 100u);  // the mutations leave enough lines valid to exercise acceptance
}

}  // namespace
}  // namespace flowmetrics::ingest
