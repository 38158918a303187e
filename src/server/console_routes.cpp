#include "server/console_routes.hpp"

#include <httplib.h>

#include <string>

#include "server/console_assets.hpp"

namespace flowmetrics::server {
namespace {

// True when Accept-Encoding lists gzip without "q=0" (a client that refuses it says so).
bool accepts_gzip(const httplib::Request& request) {
  const std::string accepted = request.get_header_value("Accept-Encoding");
  const auto at = accepted.find("gzip");
  if (at == std::string::npos) return false;
  const auto end = accepted.find(',', at);
  const std::string parameters = accepted.substr(at, end == std::string::npos ? std::string::npos : end - at);
  return parameters.find("q=0") == std::string::npos || parameters.find("q=0.") != std::string::npos;
}

}  // namespace

void register_console_routes(httplib::Server& server) {
  for (const ConsoleAsset& asset : console_assets()) {
    server.Get(std::string(asset.path), [&asset](const httplib::Request& request, httplib::Response& response) {
      response.set_header("Content-Security-Policy", kConsoleContentSecurityPolicy);
      response.set_header("X-Content-Type-Options", "nosniff");
      response.set_header("Referrer-Policy", "no-referrer");
      // The assets change with the binary: revalidate rather than keep a stale bundle.
      response.set_header("Cache-Control", "no-cache");
      response.set_header("Vary", "Accept-Encoding");
      const bool gzip = accepts_gzip(request);
      if (gzip) response.set_header("Content-Encoding", "gzip");
      // A content provider, not set_content: httplib compresses a body set with set_content
      // on its own, which would compress the gzip form a second time.
      const std::string_view content = gzip ? asset.gzip : asset.plain;
      response.set_content_provider(content.size(), std::string(asset.content_type).c_str(),
                                    [content](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
                                      return sink.write(content.data() + offset, length);
                                    });
    });
  }
}

}  // namespace flowmetrics::server
