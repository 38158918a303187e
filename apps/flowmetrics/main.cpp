// flowmetrics: the collector's command line. Each subcommand lives in src/commands/.
#include <CLI/CLI.hpp>

#include <iostream>

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

  CLI::App* config = app.add_subcommand("config", "Configuration tools");
  config->require_subcommand(1);
  CLI::App* check = config->add_subcommand("check", "Validate a configuration file and print the effective settings");
  check->add_option("FILE", sources.file, "TOML configuration file")->required()->check(CLI::ExistingFile);
  check->add_option("--set", sources.overrides, "Override one option (repeatable)");

  CLI11_PARSE(app, argc, argv);
  if (serve->parsed()) return flowmetrics::commands::serve(sources);
  if (ingest->parsed()) return flowmetrics::commands::ingest(sources, path);
  if (console->parsed()) return flowmetrics::commands::console(sources, console_listen);
  if (check->parsed()) return flowmetrics::commands::config_check(sources);
  return 2;
}
