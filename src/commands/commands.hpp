#pragma once

#include <string>
#include <vector>

#include "query/query_request.hpp"

namespace flowmetrics::commands {

// Where the configuration comes from: defaults, then the file, then the environment
// (MONGODB_URI, FLOWMETRICS_*), then --set flags.
struct ConfigSources {
  std::string file;                    // empty: defaults only
  std::vector<std::string> overrides;  // "key=value"
};

// `flowmetrics serve`: runs until SIGTERM/SIGINT, then drains. Returns the exit code.
int serve(const ConfigSources& sources);

// `flowmetrics ingest FILE|-`: one pass of a JSON-lines file through the pipeline. Returns 0
// only when every line was written.
int ingest(const ConfigSources& sources, const std::string& path);

// `flowmetrics top` and `flowmetrics series`: one query, printed as a table, JSON or CSV
// (docs/query-api.md). `parameters` carries the options under their HTTP names. Returns 2 for
// a bad option or filter (the message names it), 1 when the query fails, 0 otherwise.
int top(const ConfigSources& sources, const query::Parameters& parameters, const std::string& format);
int series(const ConfigSources& sources, const query::Parameters& parameters, const std::string& format);

// `flowmetrics console [--listen ADDR]`: the web console and the query API alone (no inputs,
// no spool) on ADDR (default: inputs.http.listen), until SIGTERM/SIGINT. Returns the exit code.
int console(const ConfigSources& sources, const std::string& listen);

// `flowmetrics config check FILE`: prints the effective configuration or the first error.
int config_check(const ConfigSources& sources);

}  // namespace flowmetrics::commands
