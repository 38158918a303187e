#include "server/http_server.hpp"

#include <httplib.h>

#include <stdexcept>
#include <vector>

#include "ingest/json_record_parser.hpp"
#include "ingest/socket_address.hpp"

namespace flowmetrics::server {
namespace {

constexpr std::size_t kMaxListedErrors = 1'000;

void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  for (char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof(escaped), "\\u%04x", c);
          out += escaped;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

}  // namespace

HttpServer::HttpServer(HttpServerOptions options, pipeline::RecordSink& sink, std::function<std::string()> metrics_text,
                       Readiness readiness)
    : options_(std::move(options)),
      sink_(sink),
      metrics_text_(std::move(metrics_text)),
      readiness_(std::move(readiness)),
      server_(std::make_unique<httplib::Server>()) {
  routes();
}

HttpServer::~HttpServer() {
  stop();
}

void HttpServer::routes() {
  const std::size_t threads = std::max<std::size_t>(1, options_.threads);
  server_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server_->set_payload_max_length(options_.max_body_bytes);

  server_->Post("/v1/metrics", [this](const httplib::Request& request, httplib::Response& response) {
    if (sink_.saturated()) {
      response.status = 503;
      response.set_header("Retry-After", "1");
      response.set_content(R"({"error":"the collector is saturated; retry later"})", "application/json");
      return;
    }
    std::vector<Metric> records;
    std::vector<std::pair<std::size_t, ingest::ParseResult>> rejects;
    ingest::parse_json_body(
        request.body, [&](std::size_t, Metric&& metric) { records.push_back(std::move(metric)); },
        [&](std::size_t index, const ingest::ParseResult& result) { rejects.emplace_back(index, result); });
    for (const auto& [index, result] : rejects) sink_.reject("http", ingest::to_string(result.reason));
    sink_.submit(records, "http");

    std::string body = "{\"accepted\":" + std::to_string(records.size()) +
                       ",\"rejected\":" + std::to_string(rejects.size()) + ",\"errors\":[";
    for (std::size_t i = 0; i < rejects.size() && i < kMaxListedErrors; ++i) {
      if (i > 0) body += ',';
      body += "{\"index\":" + std::to_string(rejects[i].first) + ",\"reason\":";
      append_json_string(body, ingest::to_string(rejects[i].second.reason));
      body += ",\"message\":";
      append_json_string(body, rejects[i].second.message);
      body += '}';
    }
    body += "]}";
    response.status = records.empty() && !rejects.empty() ? 400 : 200;
    response.set_content(body, "application/json");
  });

  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& response) {
    response.set_content(metrics_text_(), "text/plain; version=0.0.4");
  });
  server_->Get("/healthz", [](const httplib::Request&, httplib::Response& response) {
    response.set_content("ok\n", "text/plain");
  });
  server_->Get("/readyz", [this](const httplib::Request&, httplib::Response& response) {
    if (const auto reason = readiness_()) {
      response.status = 503;
      response.set_content("not ready: " + *reason + "\n", "text/plain");
    } else {
      response.set_content("ready\n", "text/plain");
    }
  });
}

void HttpServer::start() {
  const ingest::SocketAddress address = ingest::parse_socket_address(options_.listen);
  char host[INET6_ADDRSTRLEN] = {};
  int port = 0;
  if (address.family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&address.storage);
    ::inet_ntop(AF_INET, &v4->sin_addr, host, sizeof(host));
    port = ntohs(v4->sin_port);
  } else {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&address.storage);
    ::inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof(host));
    port = ntohs(v6->sin6_port);
  }
  if (port == 0) {
    port = server_->bind_to_any_port(host);
    if (port < 0) throw std::runtime_error("cannot listen on " + options_.listen);
  } else if (!server_->bind_to_port(host, port)) {
    throw std::runtime_error("cannot listen on " + options_.listen);
  }
  bound_ = address.family == AF_INET6 ? "[" + std::string(host) + "]:" + std::to_string(port)
                                      : std::string(host) + ":" + std::to_string(port);
  thread_ = std::thread([this] { server_->listen_after_bind(); });
}

void HttpServer::stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace flowmetrics::server
