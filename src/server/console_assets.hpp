#pragma once

#include <span>
#include <string_view>

namespace flowmetrics::server {

// One file of the web console, embedded at build time (scripts/build-web.sh bundles web/ and
// web/embed.mjs generates the definition of console_assets()).
struct ConsoleAsset {
  std::string_view path;          // URL path, e.g. "/" or "/assets/console.js"
  std::string_view content_type;  // with its charset for text
  std::string_view gzip;          // the content, gzip-compressed
  std::string_view plain;         // the content as is, for clients that do not accept gzip
};

// Every asset of the console; the views live as long as the program.
std::span<const ConsoleAsset> console_assets();

}  // namespace flowmetrics::server
