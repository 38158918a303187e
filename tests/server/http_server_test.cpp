// The HTTP server's last-resort answers, in process: what no real sink can be made to do on
// demand (throw) is done by a sink written for it. The refusals a real collector gives are
// tested end to end in tests/e2e/refused_requests_test.cpp.
#include "server/http_server.hpp"

#include <httplib.h>

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <stdexcept>

#include "core/thread_guard.hpp"

namespace flowmetrics::server {
namespace {

// Throws from submit() while `throwing` is set, else takes everything.
class ThrowingSink : public pipeline::RecordSink {
 public:
  pipeline::Admission submit(std::span<Metric>, std::string_view, pipeline::Acknowledgement*) override {
    if (throwing) throw std::runtime_error("submit failed on purpose");
    return pipeline::Admission::accepted;
  }
  void reject(std::string_view, std::string_view, std::size_t) override {}
  bool saturated() const override { return false; }
  bool wait_for_capacity(std::chrono::milliseconds) override { return true; }
  void drop(std::string_view, std::size_t, std::string_view) override {}

  std::atomic<bool> throwing{true};
};

const std::string kRecord =
    R"({"source_ip":"10.0.0.1","dest_ip":"10.0.0.2","source_port":1,"dest_port":2,"protocol":"udp","timestamp":1732530000,"value":1})";

TEST(HttpServer, AHandlersExceptionIsACounted500WithAJsonBodyAndTheServerGoesOn) {
  ThrowingSink sink;
  HttpServer server(
      {.listen = "127.0.0.1:0", .max_body_bytes = 1 << 20, .threads = 2, .bearer_token = ""}, sink,
      [] { return std::string(); }, [] { return std::optional<std::string>(); });
  server.start();
  const std::string bound = server.bound_address();
  httplib::Client client("127.0.0.1", std::stoi(bound.substr(bound.rfind(':') + 1)));
  client.set_read_timeout(10, 0);

  const std::uint64_t before = escaped_exceptions();
  auto failed = client.Post("/v1/metrics", kRecord + "\n", "application/x-ndjson");
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->status, 500);
  EXPECT_EQ(failed->get_header_value("Content-Type"), "application/json");
  EXPECT_TRUE(failed->body.starts_with(R"({"reason":"internal_error","message":")")) << failed->body;
  EXPECT_EQ(escaped_exceptions(), before + 1);

  sink.throwing = false;
  auto served = client.Post("/v1/metrics", kRecord + "\n", "application/x-ndjson");
  ASSERT_TRUE(served);
  EXPECT_EQ(served->status, 200) << served->body;
  server.stop();
}

TEST(HttpServer, ASecondServerOnTheSamePortFailsToStartInsteadOfSharingIt) {
  ThrowingSink sink;
  const auto make = [&](const std::string& listen) {
    return std::make_unique<HttpServer>(
        HttpServerOptions{.listen = listen, .max_body_bytes = 1 << 20, .threads = 1, .bearer_token = ""}, sink,
        [] { return std::string(); }, [] { return std::optional<std::string>(); });
  };
  auto first = make("127.0.0.1:0");
  first->start();
  auto second = make(first->bound_address());
  EXPECT_THROW(second->start(), std::runtime_error);
  first->stop();
}

TEST(HttpServer, AStopRightAfterStartEnds) {
  ThrowingSink sink;
  for (int i = 0; i < 20; ++i) {
    HttpServer server(
        {.listen = "127.0.0.1:0", .max_body_bytes = 1 << 20, .threads = 1, .bearer_token = ""}, sink,
        [] { return std::string(); }, [] { return std::optional<std::string>(); });
    server.start();
    server.stop();  // used to wait forever when it came before cpp-httplib's loop started
  }
}

TEST(RunGuarded, AnEscapingExceptionIsCountedAndEndsOnlyTheThread) {
  const std::uint64_t before = escaped_exceptions();
  run_guarded("test thread", OnEscape::carry_on, [] { throw std::logic_error("a bug"); });
  run_guarded("test thread", OnEscape::carry_on, [] { throw 42; });
  bool ran = false;
  run_guarded("test thread", OnEscape::carry_on, [&] { ran = true; });
  EXPECT_TRUE(ran);
  EXPECT_EQ(escaped_exceptions(), before + 2);
}

}  // namespace
}  // namespace flowmetrics::server
