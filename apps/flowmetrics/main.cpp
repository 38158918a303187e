// flowmetrics: the collector's command line. Each subcommand lives in src/commands/.
#include <CLI/CLI.hpp>

#include <iostream>

#include "cli_docs.hpp"
#include "commands/commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{"flowmetrics: network five-tuple metrics into MongoDB"};
  app.set_version_flag("--version", std::string("flowmetrics ") + FLOWMETRICS_VERSION);
  app.require_subcommand(1);

  flowmetrics::commands::ConfigSources sources;
  const auto add_config_options = [&sources](CLI::App* command) {
    command->add_option("--config,-c", sources.file, "TOML configuration file (see config/flowmetrics.example.toml)")
        ->check(CLI::ExistingFile);
    command->add_option("--set", sources.overrides,
                        "Override one option, e.g. --set pipeline.writers=8 (repeatable; after the file and the "
                        "environment)");
  };

  CLI::App* serve = app.add_subcommand("serve", "Run the collector until SIGTERM/SIGINT");
  add_config_options(serve);

  std::string path;
  CLI::App* ingest = app.add_subcommand("ingest", "Load a JSON-lines file (or - for stdin) through the pipeline");
  add_config_options(ingest);
  ingest->add_option("FILE", path, "JSON-lines file, or - for standard input")->required();

  std::string console_listen;
  CLI::App* console =
      app.add_subcommand("console", "Serve the web console and the query API alone (no inputs, no spool)");
  add_config_options(console);
  console->add_option("--listen", console_listen, "host:port to serve on (default: inputs.http.listen)");
  // The query commands collect their options under the HTTP API's parameter names, so that
  // one parser (src/query/query_request.cpp) checks both.
  flowmetrics::query::Parameters parameters;
  std::string format = "table";
  const auto add_parameter = [&parameters](CLI::App* command, const std::string& flags, const std::string& name,
                                           const std::string& help) {
    command->add_option_function<std::string>(
        flags, [&parameters, name](const std::string& value) { parameters[name] = value; }, help);
  };
  const auto add_query_options = [&](CLI::App* command) {
    add_config_options(command);
    add_parameter(command, "--measure", "measure", "bytes (default), packets, flows, value, count, bps or pps");
    add_parameter(command, "--last", "last", "A range ending now: 15m, 1h (default), 7d, ...");
    add_parameter(command, "--from", "from", "Range start: RFC 3339 or epoch seconds");
    add_parameter(command, "--to", "to", "Range end (default now): RFC 3339 or epoch seconds");
    add_parameter(command, "--where", "where",
                  "Filter, e.g. 'source_ip in 10.0.0.0/8 and dest_port = 443 and protocol = tcp'");
    command->add_option("--format", format, "table (default), json or csv");
  };
  CLI::App* top = app.add_subcommand("top", "Top-N of one or more dimensions by a measure (docs/query-api.md)");
  add_query_options(top);
  add_parameter(top, "--by", "by", "Dimensions, comma-separated: source_ip, dest_ip/24, dest_port, protocol, ...");
  add_parameter(top, "-n,--limit", "limit", "Rows (default 10)");
  CLI::App* series = app.add_subcommand("series", "A time series of a measure, optionally split by a dimension");
  add_query_options(series);
  add_parameter(series, "--step", "step", "Bin width in whole minutes: 1m, 5m, 1h, ...");
  add_parameter(series, "--points", "points", "Wanted number of bins when no --step is given (default 60)");
  add_parameter(series, "--split-by", "split_by", "One dimension: a series for each of its top -n values, then other");
  add_parameter(series, "-n,--limit", "limit", "Series besides other with --split-by (default 5)");

  CLI::App* config = app.add_subcommand("config", "Configuration tools");
  config->require_subcommand(1);
  CLI::App* check = config->add_subcommand("check", "Validate a configuration file and print the effective settings");
  check->add_option("FILE", sources.file, "TOML configuration file")->required()->check(CLI::ExistingFile);
  check->add_option("--set", sources.overrides, "Override one option (repeatable)");

  // Hidden `help-man` and `help-completion`: flowmetrics(1) and the bash completion, written
  // from this App at parse time, so they cover every subcommand above.
  flowmetrics::cli::add_doc_commands(app, FLOWMETRICS_VERSION);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    // --help and --version exit 0; a bad option or argument exits 2, as the query commands do.
    const int code = app.exit(error);
    return code == 0 ? 0 : 2;
  }
  // The commands report what they expect; anything else ends here, with a message and
  // EX_SOFTWARE, rather than in std::terminate.
  try {
    if (serve->parsed()) return flowmetrics::commands::serve(sources);
    if (ingest->parsed()) return flowmetrics::commands::ingest(sources, path);
    if (console->parsed()) return flowmetrics::commands::console(sources, console_listen);
    if (top->parsed()) return flowmetrics::commands::top(sources, parameters, format);
    if (series->parsed()) return flowmetrics::commands::series(sources, parameters, format);
    if (check->parsed()) return flowmetrics::commands::config_check(sources);
  } catch (const std::exception& e) {
    std::cerr << "flowmetrics: unexpected error (a bug, please report it): " << e.what() << '\n';
    return 70;
  }
  return 2;
}
