#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "ingest/input.hpp"
#include "pipeline/record_sink.hpp"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace flowmetrics::server {

struct HttpServerOptions {
  std::string listen = "127.0.0.1:8080";
  std::size_t max_body_bytes = 16 * 1024 * 1024;
  std::size_t threads = 8;
  std::string bearer_token;  // required on POST /v1/metrics when not empty
};

// The collector's HTTP face (cpp-httplib):
//   POST /v1/metrics  NDJSON or a JSON array, whatever the Content-Type (curl --data-binary
//                     sends application/x-www-form-urlencoded) but multipart/*, which is 415.
//                     200 with {"accepted":N,"rejected":R,"errors":[...]} naming each rejected
//                     record's index, reason and message, sent once the accepted records are
//                     in the spool; 400 when no record was accepted (the same fields, after
//                     reason and message); 413 over max_body_bytes; 503 with Retry-After
//                     while the spool is full (nothing taken); 401 without the configured
//                     bearer token. A request with an Idempotency-Key seen within the window
//                     gets the first answer again, with "Idempotent-Replayed: true", and is
//                     not applied again.
//   GET /metrics      Prometheus text format.
//   GET /healthz      200 while the process serves.
//   GET /readyz       200 when `readiness` returns no reason, else 503 with the reason.
// Every answer with a status of 400 or more has a JSON body {"reason": "<snake_case>",
// "message": "<text>", ...}: the handlers' own refusals and cpp-httplib's (404 not_found, 405
// method_not_allowed with Allow, 413 body_too_large, 400 bad_request, 500 internal_error for a
// handler's exception, which is logged and counted). README, "What a refused request gets".
// Routes added with get()/post() get 405 for the other methods; post() routes read their body
// whatever its Content-Type, up to max_body_bytes.
class HttpServer final : public ingest::Input {
 public:
  using Readiness = std::function<std::optional<std::string>()>;  // a reason when not ready

  HttpServer(HttpServerOptions options, pipeline::RecordSink& sink, std::function<std::string()> metrics_text,
             Readiness readiness);
  ~HttpServer() override;

  std::string name() const override { return "http"; }
  void start() override;
  void stop() override;
  std::string bound_address() const override { return bound_; }

  // Mounts more routes (e.g. register_query_routes); call before start().
  void add_routes(const std::function<void(httplib::Server&)>& mount) { mount(*server_); }

 private:
  using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;
  using BodyHandler = std::function<void(const httplib::Request&, std::string_view body, httplib::Response&)>;
  struct Route {
    std::string method;
    std::regex pattern;
  };

  void routes();
  void get(const std::string& pattern, Handler handler);
  void post(const std::string& pattern, BodyHandler handler);
  void describe_error(const httplib::Request& request, httplib::Response& response) const;

  const HttpServerOptions options_;
  pipeline::RecordSink& sink_;
  std::function<std::string()> metrics_text_;
  Readiness readiness_;
  std::unique_ptr<httplib::Server> server_;
  std::vector<Route> routes_;  // written by routes() before start(), then only read
  std::thread thread_;
  std::atomic<bool> listener_ended_{false};  // set by thread_ when cpp-httplib's loop returns
  std::string bound_;
};

}  // namespace flowmetrics::server
