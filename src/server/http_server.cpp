#include "server/http_server.hpp"

#include <httplib.h>

#include <algorithm>
#include <cstdlib>
#include <stdexcept>
#include <vector>

#include "ingest/json_record_parser.hpp"
#include "ingest/socket_address.hpp"
#include "server/console_routes.hpp"

namespace flowmetrics::server {
namespace {

constexpr std::size_t kMaxListedErrors = 1'000;
constexpr std::size_t kMaxIdempotencyKeyBytes = 256;

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

void refuse(httplib::Response& response, int status, std::string_view message) {
  response.status = status;
  std::string body = "{\"error\":";
  append_json_string(body, message);
  body += '}';
  response.set_content(body, "application/json");
}

// Printable ASCII without spaces, as HTTP header tokens and the spool's journal expect.
bool valid_idempotency_key(std::string_view key) {
  if (key.empty() || key.size() > kMaxIdempotencyKeyBytes) return false;
  return std::all_of(key.begin(), key.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

// Compares in time independent of where the first difference is.
bool same_token(std::string_view a, std::string_view b) {
  unsigned char difference = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < a.size(); ++i) difference |= static_cast<unsigned char>(a[i] ^ b[i % b.size()]);
  return difference == 0 && !b.empty();
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
    if (!options_.bearer_token.empty()) {
      const std::string authorization = request.get_header_value("Authorization");
      if (!authorization.starts_with("Bearer ") ||
          !same_token(std::string_view(authorization).substr(7), options_.bearer_token)) {
        response.set_header("WWW-Authenticate", "Bearer");
        refuse(response, 401, "a valid bearer token is required (Authorization: Bearer <token>)");
        return;
      }
    }
    pipeline::Acknowledgement acknowledgement;
    acknowledgement.key = request.get_header_value("Idempotency-Key");
    if (!acknowledgement.key.empty() && !valid_idempotency_key(acknowledgement.key)) {
      refuse(response, 400, "Idempotency-Key must be 1 to 256 printable ASCII characters without spaces");
      return;
    }
    const auto spool_full = [&] {
      response.set_header("Retry-After", "1");
      refuse(response, 503,
             "the spool is full (the database is behind or unreachable); nothing was taken, retry later");
    };
    if (sink_.saturated()) {
      spool_full();
      return;
    }
    std::vector<Metric> records;
    std::vector<std::pair<std::size_t, ingest::ParseResult>> rejects;
    ingest::parse_json_body(
        request.body, [&](std::size_t, Metric&& metric) { records.push_back(std::move(metric)); },
        [&](std::size_t index, const ingest::ParseResult& result) { rejects.emplace_back(index, result); });
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
    const int status = records.empty() && !rejects.empty() ? 400 : 200;
    acknowledgement.answer = std::to_string(status) + " " + body;
    switch (sink_.submit(records, "http", &acknowledgement)) {
      case pipeline::Admission::full: spool_full(); return;
      case pipeline::Admission::duplicate: {
        response.set_header("Idempotent-Replayed", "true");
        const auto space = acknowledgement.answer.find(' ');
        response.status = std::atoi(acknowledgement.answer.substr(0, space).c_str());
        response.set_content(acknowledgement.answer.substr(space + 1), "application/json");
        return;
      }
      case pipeline::Admission::accepted: break;
    }
    for (const auto& [index, result] : rejects) sink_.reject("http", ingest::to_string(result.reason));
    response.status = status;
    response.set_content(body, "application/json");
  });

  register_console_routes(*server_);
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
