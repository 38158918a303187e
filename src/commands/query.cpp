// `flowmetrics top` and `flowmetrics series`: one query through the library, printed by the
// renderer the HTTP API uses (docs/query-api.md).
#include <algorithm>
#include <iostream>
#include <map>
#include <string>

#include "commands/commands.hpp"
#include "commands/runtime.hpp"
#include "flowmetrics/metrics_agent.hpp"
#include "query/query_render.hpp"
#include "query/query_request.hpp"

namespace flowmetrics::commands {
namespace {

// The command-line spelling of each request parameter, for messages.
std::string option_name(const std::string& parameter) {
  static const std::map<std::string, std::string> kOptions = {
      {"by", "--by"},         {"measure", "--measure"},  {"from", "--from"},   {"to", "--to"},
      {"last", "--last"},     {"limit", "-n"},           {"where", "--where"}, {"step", "--step"},
      {"points", "--points"}, {"split_by", "--split-by"}};
  const auto it = kOptions.find(parameter);
  return it == kOptions.end() ? parameter : it->second;
}

// Prints the refusal of a parameter; for a filter, the text with a caret under the position.
int refuse(const char* command, const query::ParameterError& error, const query::Parameters& parameters) {
  std::cerr << "flowmetrics " << command << ": " << option_name(error.parameter()) << ": " << error.what() << '\n';
  if (error.position()) {
    const auto where = parameters.find(error.parameter());
    if (where != parameters.end()) {
      std::cerr << "  " << where->second << '\n' << "  " << std::string(*error.position(), ' ') << "^\n";
    }
  }
  return 2;
}

template <typename Query, typename Parse, typename Run, typename Render>
int run_query(const char* command, const ConfigSources& sources, const query::Parameters& parameters,
              const std::string& format_text, Parse parse, Run run, Render render) {
  const auto format = query::parse_format(format_text);
  if (!format) {
    std::cerr << "flowmetrics " << command << ": --format: must be table, json or csv, not '" << format_text << "'\n";
    return 2;
  }
  Query request;
  try {
    request = parse(parameters, query::now_ms());
  } catch (const query::ParameterError& error) {
    return refuse(command, error, parameters);
  }
  config::CollectorConfig config;
  try {
    config = load_config(sources);
  } catch (const config::ConfigError& e) {
    std::cerr << "flowmetrics " << command << ": configuration: " << e.what() << '\n';
    return 2;
  }
  try {
    // One query needs one connection, not the collector's warm pool.
    AgentOptions options = config.agent_options();
    options.pool.min_size = std::min<std::size_t>(options.pool.min_size, 1);
    MetricsAgent agent(config.database.uri, config.database.database, config.database.collection, options);
    const auto result = run(agent, request);
    std::cout << render(request, result, *format);
    if (*format == query::Format::json) std::cout << '\n';
    std::cout.flush();
    return std::cout ? 0 : 1;
  } catch (const Error& error) {
    if (error.code() == errc::invalid_argument) {
      const std::string parameter = query::parameter_for_library_error(error.what());
      return refuse(command, query::ParameterError(parameter, query::message_of(error)), parameters);
    }
    std::cerr << "flowmetrics " << command << ": " << query::message_of(error) << '\n';
    return 1;
  }
}

}  // namespace

int top(const ConfigSources& sources, const query::Parameters& parameters, const std::string& format) {
  return run_query<TopQuery>(
      "top", sources, parameters, format, query::parse_top_request,
      [](MetricsAgent& agent, const TopQuery& request) { return agent.top(request); }, query::render_top);
}

int series(const ConfigSources& sources, const query::Parameters& parameters, const std::string& format) {
  return run_query<SeriesQuery>(
      "series", sources, parameters, format, query::parse_series_request,
      [](MetricsAgent& agent, const SeriesQuery& request) { return agent.series(request); }, query::render_series);
}

}  // namespace flowmetrics::commands
