#include "server/query_routes.hpp"

#include <httplib.h>

#include <string>

#include "flowmetrics/error.hpp"
#include "query/query_render.hpp"
#include "query/query_request.hpp"
#include "server/query_service.hpp"

namespace flowmetrics::server {
namespace {

void answer_error(httplib::Response& response, int status, std::string_view reason, std::string_view message,
                  const query::ParameterError* parameter = nullptr) {
  std::string body = "{\"reason\":";
  query::append_json_string(body, reason);
  body += ",\"message\":";
  query::append_json_string(body, message);
  if (parameter != nullptr) {
    body += ",\"parameter\":";
    query::append_json_string(body, parameter->parameter());
    if (parameter->position()) body += ",\"position\":" + std::to_string(*parameter->position());
  }
  body += '}';
  response.status = status;
  response.set_header("Cache-Control", "no-store");
  response.set_content(body, "application/json");
}

// Compares in time independent of where the first difference is.
bool same_token(std::string_view a, std::string_view b) {
  unsigned char difference = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < a.size(); ++i) difference |= static_cast<unsigned char>(a[i] ^ b[i % b.size()]);
  return difference == 0 && !b.empty();
}

bool authorized(const httplib::Request& request, const QueryRouteOptions& options) {
  if (options.tokens.empty()) return true;
  const std::string authorization = request.get_header_value("Authorization");
  if (!authorization.starts_with("Bearer ")) return false;
  const std::string_view presented = std::string_view(authorization).substr(7);
  bool any = false;
  for (const auto& token : options.tokens) any |= same_token(presented, token);
  return any;
}

bool is_unavailable(const std::error_code& code) {
  return code == errc::deadline_exceeded || code == errc::server_unreachable || code == errc::network_error ||
         code == errc::pool_wait_timeout;
}

template <typename Parse, typename Run, typename Render>
void handle(const httplib::Request& request, httplib::Response& response, QueryService& service,
            const QueryRouteOptions& options, std::string_view kind, Parse parse, Run run, Render render) {
  if (!authorized(request, options)) {
    response.set_header("WWW-Authenticate", "Bearer");
    answer_error(response, 401, "unauthorized", "a valid bearer token is required (Authorization: Bearer <token>)");
    return;
  }
  query::Parameters parameters;
  try {
    for (const auto& [name, value] : request.params) {
      if (!parameters.emplace(name, value).second) {
        throw query::ParameterError(name, "'" + name.substr(0, 40) + "' is given more than once");
      }
    }
    const auto query = parse(parameters, query::now_ms());
    try {
      const auto result = run(service, query);
      response.set_header("Cache-Control", "no-store");
      response.set_content(render(query, result, query::Format::json), "application/json");
    } catch (const Error& error) {
      if (error.code() == errc::invalid_argument) {
        const query::ParameterError refused(query::parameter_for_library_error(error.what()), query::message_of(error));
        answer_error(response, 400, "bad_parameter", refused.what(), &refused);
      } else if (is_unavailable(error.code())) {
        answer_error(response, 503, "database_unavailable", query::message_of(error));
      } else {
        answer_error(response, 500, "query_failed", query::message_of(error));
      }
    } catch (const std::exception& error) {
      answer_error(response, 500, "query_failed", error.what());
    }
  } catch (const query::ParameterError& error) {
    service.count_bad_request(kind);
    answer_error(response, 400, "bad_parameter", error.what(), &error);
  }
}

}  // namespace

void register_query_routes(httplib::Server& server, QueryService& service, QueryRouteOptions options) {
  server.Get("/v1/query/top", [&service, options](const httplib::Request& request, httplib::Response& response) {
    handle(
        request, response, service, options, "top", query::parse_top_request,
        [](QueryService& s, const TopQuery& q) { return s.top(q); }, query::render_top);
  });
  server.Get("/v1/query/series", [&service, options](const httplib::Request& request, httplib::Response& response) {
    handle(
        request, response, service, options, "series", query::parse_series_request,
        [](QueryService& s, const SeriesQuery& q) { return s.series(q); }, query::render_series);
  });
}

}  // namespace flowmetrics::server
