#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "ingest/input.hpp"
#include "pipeline/record_sink.hpp"

namespace httplib {
class Server;
}

namespace flowmetrics::server {

struct HttpServerOptions {
  std::string listen = "127.0.0.1:8080";
  std::size_t max_body_bytes = 16 * 1024 * 1024;
  std::size_t threads = 8;
  std::string bearer_token;  // required on POST /v1/metrics when not empty
};

// The collector's HTTP face (cpp-httplib):
//   POST /v1/metrics  NDJSON or a JSON array. 200 with {"accepted":N,"rejected":R,"errors":[...]}
//                     naming each rejected record's index, reason and message (400 when no
//                     record was accepted), sent once the accepted records are in the spool;
//                     413 over max_body_bytes; 503 with Retry-After while the spool is full
//                     (nothing taken); 401 without the configured bearer token. A request
//                     with an Idempotency-Key seen within the window gets the first answer
//                     again, with "Idempotent-Replayed: true", and is not applied again.
//   GET /metrics      Prometheus text format.
//   GET /healthz      200 while the process serves.
//   GET /readyz       200 when `readiness` returns no reason, else 503 with the reason.
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
  void routes();

  const HttpServerOptions options_;
  pipeline::RecordSink& sink_;
  std::function<std::string()> metrics_text_;
  Readiness readiness_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::string bound_;
};

}  // namespace flowmetrics::server
