// What a user gets for each kind of bad input, from a real `flowmetrics serve` child (and the
// real CLI): the rows of the README's "What a refused request gets" table that no narrower
// test covers. Every HTTP refusal must be JSON: {"reason": "<code>", "message": "<text>", ...}.
#include <arpa/inet.h>
#include <httplib.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>

#include "child_process.hpp"
#include "collector_process.hpp"
#include "test_database.hpp"

namespace flowmetrics {
namespace {

using namespace std::chrono_literals;
using namespace flowmetrics::testing;

constexpr std::size_t kMaxBodyBytes = 1'500'000;
constexpr std::size_t kMaxLineBytes = 1'024;
constexpr const char* kToken = "refused-requests-token";
constexpr const char* kForm = "application/x-www-form-urlencoded";  // what curl --data-binary sends

std::string record(int i) {
  return R"({"source_ip":"10.9.)" + std::to_string(i / 250 % 250) + "." + std::to_string(i % 250) +
         R"(","dest_ip":"10.9.255.1","source_port":)" + std::to_string(1024 + i % 1000) +
         R"(,"dest_port":443,"protocol":"tcp","timestamp":1732530000,"value":1.5,"packets":10,"bytes":1500,)"
         R"("comment":"padding so that a record is about the size of a real one, with a few more fields"})";
}

// NDJSON of at least `bytes` bytes; `count` gets the number of records.
std::string ndjson_of(std::size_t bytes, std::size_t& count) {
  std::string body;
  count = 0;
  while (body.size() < bytes) body += record(static_cast<int>(count++)) + "\n";
  return body;
}

// The body must be {"reason":"<reason>","message":"...", ...} and sent as JSON.
void expect_refusal(const httplib::Result& result, int status, const std::string& reason) {
  ASSERT_TRUE(result) << "no answer: " << httplib::to_string(result.error());
  EXPECT_EQ(result->status, status) << result->body;
  EXPECT_EQ(result->get_header_value("Content-Type"), "application/json") << result->body;
  EXPECT_TRUE(result->body.starts_with(R"({"reason":")" + reason + R"(","message":")")) << result->body;
  EXPECT_TRUE(result->body.ends_with("}")) << result->body;
  EXPECT_EQ(result->body.find(R"(","message":"")"), std::string::npos) << "an empty message: " << result->body;
}

// Sends raw bytes and returns everything the server answers until it closes or goes quiet.
std::string raw_exchange(int port, const std::string& request) {
  const int fd = connect_tcp(port);
  timeval timeout{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  send_all(fd, request);
  std::string answer;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) break;
    answer.append(buffer, static_cast<std::size_t>(n));
    if (answer.find("\r\n\r\n") != std::string::npos && answer.ends_with("}")) break;
  }
  ::close(fd);
  return answer;
}

// A labelled sample from /metrics, e.g. ("flowmetrics_records_rejected_total",
// R"(input="tcp",reason="line_too_long")"); 0 when absent.
double sample(int http_port, const std::string& name, const std::string& labels) {
  httplib::Client client("127.0.0.1", http_port);
  client.set_read_timeout(5s);
  auto response = client.Get("/metrics");
  if (!response) return -1;
  std::istringstream lines(response->body);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.starts_with(name + "{") && line.find(labels) != std::string::npos) {
      return std::stod(line.substr(line.rfind(' ') + 1));
    }
  }
  return 0;
}

// One collector for the suite: a token, a body limit of 1.5 MB and short TCP lines.
class Refused : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    token_file_ = std::filesystem::temp_directory_path() / unique_collection("flowmetrics-refused-token");
    std::ofstream(token_file_) << kToken << "\n";
    agent_ = std::make_unique<CollectorProcess>(
        CollectorProcess::Options{.mongodb_uri = test_uri(),
                                  .collection = unique_collection("refused"),
                                  .overrides = {"inputs.http.max_body_bytes=" + std::to_string(kMaxBodyBytes),
                                                "inputs.tcp.max_line_bytes=" + std::to_string(kMaxLineBytes),
                                                "inputs.http.bearer_token_file=" + token_file_.string()}});
  }
  static void TearDownTestSuite() {
    agent_.reset();
    std::filesystem::remove(token_file_);
  }

  static httplib::Client client() {
    httplib::Client c("127.0.0.1", agent_->http_port());
    c.set_read_timeout(30s);
    c.set_write_timeout(30s);
    c.set_default_headers({{"Authorization", std::string("Bearer ") + kToken}});
    return c;
  }

  static inline std::unique_ptr<CollectorProcess> agent_;
  static inline std::filesystem::path token_file_;
};

TEST_F(Refused, HttpAFormEncodedBodyOfAMegabyteIsAccepted) {
  std::size_t count = 0;
  const std::string body = ndjson_of(1'000'000, count);
  auto result = client().Post("/v1/metrics", body, kForm);
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 200) << result->body.substr(0, 300);
  EXPECT_EQ(result->body, R"({"accepted":)" + std::to_string(count) + R"(,"rejected":0,"errors":[]})");
}

TEST_F(Refused, HttpAnyContentTypeIsReadButMultipartIs415) {
  for (const char* type : {"application/octet-stream", "text/plain", "application/json", "x-unknown/type"}) {
    auto result = client().Post("/v1/metrics", record(1) + "\n", type);
    ASSERT_TRUE(result);
    EXPECT_EQ(result->status, 200) << type << ": " << result->body;
  }
  httplib::MultipartFormDataItems items{{"records", record(1) + "\n", "records.ndjson", "application/x-ndjson"}};
  expect_refusal(client().Post("/v1/metrics", items), 415, "unsupported_media_type");
}

TEST_F(Refused, HttpABodyOverMaxBodyBytesIs413) {
  std::size_t count = 0;
  const std::string body = ndjson_of(kMaxBodyBytes + 1, count);
  expect_refusal(client().Post("/v1/metrics", body, kForm), 413, "body_too_large");
  expect_refusal(client().Post("/v1/metrics", body, "application/x-ndjson"), 413, "body_too_large");
  // Chunked, without a Content-Length: bounded by the collector, not by the client's word.
  auto chunked = client().Post(
      "/v1/metrics",
      [&](std::size_t offset, httplib::DataSink& sink) {
        if (offset < body.size()) {
          sink.write(body.data() + offset, std::min<std::size_t>(64 << 10, body.size() - offset));
        } else {
          sink.done();
        }
        return true;
      },
      "application/x-ndjson");
  expect_refusal(chunked, 413, "body_too_large");
}

TEST_F(Refused, HttpNestingTooDeepIs400TooDeep) {
  const std::string brackets(100'000, '[');
  auto result = client().Post("/v1/metrics", brackets, kForm);
  expect_refusal(result, 400, "too_deep");
  EXPECT_NE(result->body.find("nested deeper than 64"), std::string::npos) << result->body;
  EXPECT_NE(result->body.find(R"("accepted":0,"rejected":1,"errors":[{"index":0,"reason":"too_deep")"),
            std::string::npos)
      << result->body;
}

TEST_F(Refused, HttpInvalidJsonIs400InvalidJson) {
  expect_refusal(client().Post("/v1/metrics", "this is not json\n", kForm), 400, "invalid_json");
  expect_refusal(client().Post("/v1/metrics", "[" + record(1) + ",", "application/json"), 400, "invalid_json");
}

TEST_F(Refused, HttpWrongTypesAndMissingFieldsNameTheRecord) {
  const std::string string_port =
      R"({"source_ip":"10.9.0.1","dest_ip":"10.9.0.2","source_port":"80","dest_port":443,"protocol":"tcp","timestamp":1732530000,"value":1})";
  const std::string no_value =
      R"({"source_ip":"10.9.0.1","dest_ip":"10.9.0.2","source_port":80,"dest_port":443,"protocol":"tcp","timestamp":1732530000})";
  expect_refusal(client().Post("/v1/metrics", string_port + "\n", kForm), 400, "wrong_type");
  expect_refusal(client().Post("/v1/metrics", no_value + "\n", kForm), 400, "missing_field");
  auto both = client().Post("/v1/metrics", string_port + "\n" + no_value + "\n", kForm);
  expect_refusal(both, 400, "no_valid_records");
  EXPECT_NE(both->body.find(R"("errors":[{"index":0,"reason":"wrong_type")"), std::string::npos) << both->body;
  // Some good, some bad: 200, and the bad ones named.
  auto mixed = client().Post("/v1/metrics", record(1) + "\n" + no_value + "\n", kForm);
  ASSERT_TRUE(mixed);
  EXPECT_EQ(mixed->status, 200);
  EXPECT_TRUE(mixed->body.starts_with(R"({"accepted":1,"rejected":1,"errors":[{"index":1,"reason":"missing_field")"))
      << mixed->body;
}

TEST_F(Refused, HttpABadTokenIs401) {
  httplib::Client anonymous("127.0.0.1", agent_->http_port());
  anonymous.set_read_timeout(10s);
  auto result = anonymous.Post("/v1/metrics", record(1) + "\n", kForm);
  expect_refusal(result, 401, "unauthorized");
  EXPECT_EQ(result->get_header_value("WWW-Authenticate"), "Bearer");
  expect_refusal(anonymous.Post("/v1/metrics", {{"Authorization", "Bearer wrong"}}, record(1) + "\n", kForm), 401,
                 "unauthorized");
}

TEST_F(Refused, HttpABadIdempotencyKeyIs400) {
  expect_refusal(client().Post("/v1/metrics", {{"Idempotency-Key", "has a space"}}, record(1) + "\n", kForm), 400,
                 "invalid_idempotency_key");
  expect_refusal(client().Post("/v1/metrics", {{"Idempotency-Key", std::string(257, 'k')}}, record(1) + "\n", kForm),
                 400, "invalid_idempotency_key");
}

TEST_F(Refused, HttpAnUnknownPathIs404AndAnUnknownMethodIs405) {
  expect_refusal(client().Get("/nowhere"), 404, "not_found");
  // A form body over cpp-httplib's 8 KiB form limit to an unknown path is still a 404.
  std::size_t count = 0;
  expect_refusal(client().Post("/nowhere", ndjson_of(20'000, count), kForm), 404, "not_found");
  auto get = client().Get("/v1/metrics");
  expect_refusal(get, 405, "method_not_allowed");
  EXPECT_EQ(get->get_header_value("Allow"), "POST");
  auto del = client().Delete("/metrics");
  expect_refusal(del, 405, "method_not_allowed");
  EXPECT_EQ(del->get_header_value("Allow"), "GET");
}

TEST_F(Refused, HttpABadRequestLineIs400) {
  for (const std::string& request : {std::string("GARBAGE\r\n\r\n"), std::string("GET /metrics\r\n\r\n"),
                                     std::string("BREW /metrics HTTP/1.1\r\nHost: x\r\n\r\n")}) {
    const std::string answer = raw_exchange(agent_->http_port(), request);
    EXPECT_TRUE(answer.starts_with("HTTP/1.1 400 ")) << answer;
    EXPECT_NE(answer.find("Content-Type: application/json"), std::string::npos) << answer;
    EXPECT_NE(answer.find(R"({"reason":"bad_request","message":")"), std::string::npos) << answer;
  }
  // A body that is not what its framing says.
  const std::string answer =
      raw_exchange(agent_->http_port(), std::string("POST /v1/metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ") +
                                            kToken + "\r\nTransfer-Encoding: chunked\r\n\r\nnot-hex\r\n");
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 400 ")) << answer;
  EXPECT_NE(answer.find(R"({"reason":"unreadable_body","message":")"), std::string::npos) << answer;
}

TEST_F(Refused, TcpALineTooLongInvalidJsonAndBinaryGarbageAreCountedAndTheConnectionGoesOn) {
  const int port = agent_->http_port();
  const auto rejected = [&](const char* reason) {
    return sample(port, "flowmetrics_records_rejected_total", std::string(R"(input="tcp",reason=")") + reason + "\"");
  };
  const double too_long = rejected("line_too_long"), invalid = rejected("invalid_json");
  const double accepted_before = sample(port, "flowmetrics_records_received_total", R"(input="tcp")");
  std::string garbage;
  for (int i = 0; i < 512; ++i) garbage += static_cast<char>((i * 37 + 11) % 256 == '\n' ? 0 : (i * 37 + 11) % 256);
  const int fd = connect_tcp(agent_->tcp_port());
  send_all(fd, std::string(kMaxLineBytes + 10, 'x') + "\n" + "{not json}\n" + garbage + "\n" + record(7) + "\n");
  ::shutdown(fd, SHUT_WR);
  char byte;
  EXPECT_EQ(::recv(fd, &byte, 1, 0), 0) << "the collector answers nothing over TCP";
  ::close(fd);
  EXPECT_TRUE(eventually([&] { return rejected("line_too_long") == too_long + 1; }, 30s));
  EXPECT_TRUE(eventually([&] { return rejected("invalid_json") == invalid + 2; }, 30s));
  EXPECT_TRUE(eventually(
      [&] { return sample(port, "flowmetrics_records_received_total", R"(input="tcp")") == accepted_before + 4; }, 30s))
      << "the good line after the bad ones was not read";
}

TEST(RefusedCli, AnUnknownOptionABadValueOrAMissingFileSaysSoAndExitsNonZero) {
  const auto dir = std::filesystem::temp_directory_path() / unique_collection("flowmetrics-refused-cli");
  std::filesystem::create_directories(dir);
  const auto run = [&](std::vector<std::string> argv, const std::string& name) {
    argv.insert(argv.begin(), FLOWMETRICS_CLI);
    ChildProcess child(argv, (dir / (name + ".log")).string());
    const int code = child.wait(30s).value_or(-1);
    return std::make_pair(code, child.log());
  };
  const auto [unknown_code, unknown_log] = run({"serve", "--no-such-option"}, "unknown");
  EXPECT_EQ(unknown_code, 2);
  EXPECT_NE(unknown_log.find("--no-such-option"), std::string::npos) << unknown_log;
  const auto [missing_code, missing_log] = run({"serve", "--config", (dir / "absent.toml").string()}, "missing");
  EXPECT_EQ(missing_code, 2);
  EXPECT_NE(missing_log.find("absent.toml"), std::string::npos) << missing_log;
  const auto [value_code, value_log] = run({"serve", "--set", "database.write_concern=0"}, "value");
  EXPECT_EQ(value_code, 2) << value_log;
  EXPECT_NE(value_log.find("database.write_concern: must be"), std::string::npos) << value_log;
  const auto [type_code, type_log] = run({"serve", "--set", "pipeline.writers=many"}, "type");
  EXPECT_EQ(type_code, 2) << type_log;
  EXPECT_NE(type_log.find("pipeline.writers: expected an integer"), std::string::npos) << type_log;
  std::filesystem::remove_all(dir);
}

// Records spooled for one collection are not replayed into another: the start stops, saying
// which collection the spool holds.
TEST(RefusedSpool, ASpoolHoldingAnotherCollectionsRecordsStopsTheStart) {
  const std::string collection = unique_collection("refused_spool");
  const auto dir = std::filesystem::temp_directory_path() / unique_collection("flowmetrics-refused-spool");
  {
    CollectorProcess agent({.mongodb_uri = test_uri(), .collection = collection, .directory = dir});
    // A timestamp an hour ahead keeps its bucket open, so the record is still spooled and
    // unwritten when the collector is killed.
    const auto ahead = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch() + std::chrono::hours(1))
                           .count();
    httplib::Client client("127.0.0.1", agent.http_port());
    client.set_read_timeout(30s);
    const std::string body =
        R"({"source_ip":"10.9.0.1","dest_ip":"10.9.0.2","source_port":1,"dest_port":2,"protocol":"udp","timestamp":)" +
        std::to_string(ahead) + R"(,"value":1})" + "\n";
    auto accepted = client.Post("/v1/metrics", body, kForm);
    ASSERT_TRUE(accepted);
    ASSERT_EQ(accepted->status, 200) << accepted->body;
    agent.process().signal(SIGKILL);
    ASSERT_TRUE(agent.process().wait(30s));
  }
  ChildProcess other({FLOWMETRICS_CLI, "serve", "--config", (dir / "flowmetrics.toml").string(), "--set",
                      "database.collection=" + collection + "_other"},
                     (dir / "other.log").string());
  const auto code = other.wait(60s);
  ASSERT_TRUE(code) << "started with another collection's records in its spool:\n" << other.log();
  EXPECT_EQ(*code, 1) << other.log();
  EXPECT_NE(other.log().find("holds records for " + std::string(kTestDatabase) + "." + collection), std::string::npos)
      << other.log();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace flowmetrics
