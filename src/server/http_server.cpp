#include "server/http_server.hpp"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <vector>

#include "core/thread_guard.hpp"
#include "ingest/json_record_parser.hpp"
#include "ingest/socket_address.hpp"
#include "query/query_render.hpp"
#include "server/console_routes.hpp"
#include "server/listen.hpp"

namespace flowmetrics::server {
namespace {

constexpr std::size_t kMaxListedErrors = 1'000;
constexpr std::size_t kMaxIdempotencyKeyBytes = 256;

// The one place that writes an error body: {"reason": "<snake_case>", "message": "<text>"},
// followed by `extra_fields` (already rendered JSON members, e.g. "accepted":0,...) when given.
std::string refusal_body(std::string_view reason, std::string_view message, std::string_view extra_fields = {}) {
  std::string body = "{\"reason\":";
  query::append_json_string(body, reason);
  body += ",\"message\":";
  query::append_json_string(body, message);
  if (!extra_fields.empty()) {
    body += ',';
    body += extra_fields;
  }
  body += '}';
  return body;
}

void refuse(httplib::Response& response, int status, std::string_view reason, std::string_view message,
            std::string_view extra_fields = {}) {
  response.status = status;
  response.set_content(refusal_body(reason, message, extra_fields), "application/json");
}

bool is_multipart(const httplib::Request& request) {
  std::string type = request.get_header_value("Content-Type");
  std::transform(type.begin(), type.end(), type.begin(), [](unsigned char c) { return std::tolower(c); });
  return type.starts_with("multipart/");
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

void HttpServer::get(const std::string& pattern, Handler handler) {
  routes_.push_back({"GET", std::regex(pattern)});
  server_->Get(pattern, std::move(handler));
}

// Every POST route reads its body through a content reader. That bypasses cpp-httplib's form
// parsing, which refuses any application/x-www-form-urlencoded body (curl --data-binary's
// default type) over CPPHTTPLIB_FORM_URL_ENCODED_PAYLOAD_MAX_LENGTH, 8 KiB, with an empty 413;
// Debian builds the library as a shared object, so that macro cannot be changed from here.
// It also lets max_body_bytes bound chunked bodies, which cpp-httplib 0.11 reads unbounded.
void HttpServer::post(const std::string& pattern, BodyHandler handler) {
  routes_.push_back({"POST", std::regex(pattern)});
  server_->Post(pattern, [this, handler = std::move(handler)](const httplib::Request& request,
                                                              httplib::Response& response,
                                                              const httplib::ContentReader& read) {
    const std::size_t limit = options_.max_body_bytes;
    bool too_large = false;
    std::string body;
    const auto receive = [&](const char* data, std::size_t size) {
      if (body.size() + size > limit) {
        too_large = true;
        return false;
      }
      body.append(data, size);
      return true;
    };
    const bool multipart = is_multipart(request);
    const bool complete =
        multipart ? read([](const httplib::MultipartFormData&) { return true; }, receive) : read(receive);
    if (too_large || (!complete && response.status == 413)) {
      refuse(response, 413, "body_too_large",
             "the body is larger than inputs.http.max_body_bytes (" + std::to_string(limit) +
                 " bytes); send the records in several requests");
      return;
    }
    if (!complete && response.status == 415) {
      refuse(
          response, 415, "unsupported_content_encoding",
          "the body's Content-Encoding is not supported, got '" + request.get_header_value("Content-Encoding") + "'");
      return;
    }
    if (!complete) {
      refuse(response, 400, "unreadable_body",
             "the body could not be read (bad chunked encoding, a multipart body without its boundary, or the "
             "connection ended early)");
      return;
    }
    if (multipart) {
      refuse(response, 415, "unsupported_media_type",
             "multipart bodies are not accepted: send the records themselves as the body (NDJSON or a JSON "
             "array), with any other Content-Type, e.g. curl --data-binary @records.ndjson");
      return;
    }
    response.status = -1;  // the reader may have set one; the handler decides
    handler(request, body, response);
  });
}

// cpp-httplib answers some requests itself with an empty body (no route, a bad request line,
// a body over the payload limit) and calls this for every answer with a status >= 400. Bodies
// already written by refuse() are left alone; the rest get one, so every refusal is JSON.
void HttpServer::describe_error(const httplib::Request& request, httplib::Response& response) const {
  if (!response.body.empty()) return;
  bool path_known = false;
  bool method_known = false;
  std::string allow;
  for (const Route& route : routes_) {
    if (!std::regex_match(request.path, route.pattern)) continue;
    path_known = true;
    const bool same = route.method == request.method || (route.method == "GET" && request.method == "HEAD");
    method_known = method_known || same;
    if (allow.find(route.method) == std::string::npos) allow += (allow.empty() ? "" : ", ") + route.method;
  }
  const bool parsed = !request.method.empty() && !request.path.empty();
  // 404 (no handler) and 400 for a method cpp-httplib does not route; 413 too when the body
  // was refused before any route looked at it (a form body over 8 KiB to an unknown path).
  const bool unrouted =
      response.status == 404 || (parsed && !method_known && (response.status == 400 || response.status == 413));
  if (unrouted && path_known && !method_known) {
    response.set_header("Allow", allow);
    refuse(response, 405, "method_not_allowed",
           request.method + " is not allowed on " + request.path + " (allowed: " + allow + ")");
    return;
  }
  if (unrouted && !path_known) {
    refuse(response, 404, "not_found",
           "no such path: " + request.path + " (POST /v1/metrics, GET /metrics, /healthz, /readyz)");
    return;
  }
  switch (response.status) {
    case 400:
      refuse(response, 400, "bad_request",
             "the request line (method, target, version) or the headers could not be parsed");
      return;
    case 413:
      refuse(
          response, 413, "body_too_large",
          "the body is larger than inputs.http.max_body_bytes (" + std::to_string(options_.max_body_bytes) + " bytes)");
      return;
    case 414: refuse(response, 414, "uri_too_long", "the request target is too long"); return;
    case 415: refuse(response, 415, "unsupported_media_type", "the body's type or encoding is not accepted"); return;
    case 416: refuse(response, 416, "range_not_satisfiable", "the Range header could not be parsed"); return;
    case 500:
      refuse(response, 500, "internal_error", "the server failed to answer (a bug: it is logged and counted)");
      return;
    default:
      refuse(response, response.status, response.status < 500 ? "client_error" : "server_error",
             "HTTP status " + std::to_string(response.status));
  }
}

void HttpServer::routes() {
  // cpp-httplib's default also sets SO_REUSEPORT, with which a second collector started on the
  // same port binds too and the kernel shares the requests between the two: refuse instead.
  server_->set_socket_options([](socket_t socket) {
    const int yes = 1;
    ::setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  const std::size_t threads = std::max<std::size_t>(1, options_.threads);
  server_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  // Bodies of routes registered with post() are bounded by its reader; this bounds the rest.
  server_->set_payload_max_length(options_.max_body_bytes);
  server_->set_error_handler(
      httplib::Server::HandlerWithResponse([this](const httplib::Request& request, httplib::Response& response) {
        describe_error(request, response);
        return httplib::Server::HandlerResponse::Handled;
      }));
  // A handler's exception (a bug: handlers report problems as answers) is a 500 with a JSON
  // body, logged and counted; the connection and the server go on.
  server_->set_exception_handler(
      [](const httplib::Request& request, httplib::Response& response, std::exception_ptr exception) {
        std::string what = "an exception not derived from std::exception";
        try {
          if (exception) std::rethrow_exception(exception);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        count_escaped_exception("http handler for " + request.method + " " + request.path, what);
        response.headers.clear();
        refuse(response, 500, "internal_error", "the server failed to answer (a bug: it is logged and counted)");
      });

  post("/v1/metrics",
       [this](const httplib::Request& request, std::string_view request_body, httplib::Response& response) {
         if (!options_.bearer_token.empty()) {
           const std::string authorization = request.get_header_value("Authorization");
           if (!authorization.starts_with("Bearer ") ||
               !same_token(std::string_view(authorization).substr(7), options_.bearer_token)) {
             response.set_header("WWW-Authenticate", "Bearer");
             refuse(response, 401, "unauthorized", "a valid bearer token is required (Authorization: Bearer <token>)");
             return;
           }
         }
         pipeline::Acknowledgement acknowledgement;
         acknowledgement.key = request.get_header_value("Idempotency-Key");
         if (!acknowledgement.key.empty() && !valid_idempotency_key(acknowledgement.key)) {
           refuse(response, 400, "invalid_idempotency_key",
                  "Idempotency-Key must be 1 to 256 printable ASCII characters without spaces");
           return;
         }
         const auto spool_full = [&] {
           response.set_header("Retry-After", "1");
           refuse(response, 503, "spool_full",
                  "the spool is full (the database is behind or unreachable); nothing was taken, retry later");
         };
         // Nothing is acknowledged that the spool may not have: its I/O error is said as it is.
         const auto spool_io_error = [&](const std::string& error) {
           response.set_header("Retry-After", "1");
           refuse(response, 503, "spool_io_error", "spool I/O error: " + error + "; nothing was taken, retry later");
         };
         if (sink_.saturated()) {
           if (const auto error = sink_.io_error()) {
             spool_io_error(*error);
           } else {
             spool_full();
           }
           return;
         }
         std::vector<Metric> records;
         std::vector<std::pair<std::size_t, ingest::ParseResult>> rejects;
         ingest::parse_json_body(
             request_body, [&](std::size_t, Metric&& metric) { records.push_back(std::move(metric)); },
             [&](std::size_t index, const ingest::ParseResult& result) { rejects.emplace_back(index, result); });
         std::string counts = "\"accepted\":" + std::to_string(records.size()) +
                              ",\"rejected\":" + std::to_string(rejects.size()) + ",\"errors\":[";
         for (std::size_t i = 0; i < rejects.size() && i < kMaxListedErrors; ++i) {
           if (i > 0) counts += ',';
           counts += "{\"index\":" + std::to_string(rejects[i].first) + ",\"reason\":";
           query::append_json_string(counts, ingest::to_string(rejects[i].second.reason));
           counts += ",\"message\":";
           query::append_json_string(counts, rejects[i].second.message);
           counts += '}';
         }
         counts += ']';
         // No record taken: a refusal, whose reason is the only problem's (a body too deep or not
         // JSON is one rejection) or "no_valid_records".
         const bool refused = records.empty() && !rejects.empty();
         std::string reason = "no_valid_records";
         std::string message = "none of the " + std::to_string(rejects.size()) + " records was accepted; see errors";
         if (refused && rejects.size() == 1) {
           reason = ingest::to_string(rejects[0].second.reason);
           message = rejects[0].second.message;
         }
         const int status = refused ? 400 : 200;
         acknowledgement.answer =
             std::to_string(status) + " " + (refused ? refusal_body(reason, message, counts) : "{" + counts + "}");
         const pipeline::Admission admission = sink_.submit(records, "http", &acknowledgement);
         switch (admission.outcome) {
           case pipeline::Admission::full: spool_full(); return;
           case pipeline::Admission::io_error: spool_io_error(admission.error); return;
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
         if (refused) {
           refuse(response, 400, reason, message, counts);
         } else {
           response.status = 200;
           response.set_content("{" + counts + "}", "application/json");
         }
       });

  register_console_routes(*server_);
  get("/metrics", [this](const httplib::Request&, httplib::Response& response) {
    response.set_content(metrics_text_(), "text/plain; version=0.0.4");
  });
  get("/healthz",
      [](const httplib::Request&, httplib::Response& response) { response.set_content("ok\n", "text/plain"); });
  get("/readyz", [this](const httplib::Request&, httplib::Response& response) {
    if (const auto reason = readiness_()) {
      refuse(response, 503, "not_ready", "not ready: " + *reason);
    } else {
      response.set_content("ready\n", "text/plain");
    }
  });
}

void HttpServer::start() {
  bound_ = bind_listener(*server_, options_.listen);
  thread_ = std::thread([this] {
    run_guarded("http listener", OnEscape::stop_process, [this] { server_->listen_after_bind(); });
    listener_ended_ = true;
  });
  // cpp-httplib's stop() does nothing to a server whose loop has not started yet: a stop()
  // right after start() (another input failing to start) would then wait forever for it.
  while (!server_->is_running() && !listener_ended_) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

void HttpServer::stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace flowmetrics::server
