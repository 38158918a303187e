#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace flowmetrics::cli {

// One configuration key and its default, as `flowmetrics config check` prints it.
struct Setting {
  std::string key;
  std::string default_value;
};

// The manual page flowmetrics(1) in roff, written from `app`: every visible subcommand (at any
// depth) with its options and arguments, as `--help` shows them, plus the sections --help has
// no room for (environment, files, signals). Hidden subcommands (empty group) are left out.
// `version` is printed in the page header; `settings` are listed with their defaults. Never
// throws on a well-formed App.
std::string man_page(const CLI::App& app, const std::string& version, const std::vector<Setting>& settings);

// A bash completion script for `app` (for /usr/share/bash-completion/completions/): subcommand
// names, option names per subcommand, file names where an argument is a file, and "key=" from
// `settings` after --set.
std::string bash_completion(const CLI::App& app, const std::vector<Setting>& settings);

// Adds the hidden subcommands `help-man` and `help-completion` to `app`, which print the two
// documents above (with every configuration key and its default) and exit 0. Call it once, after every other subcommand
// is added or not: the documents are written at parse time, from the App as it is then.
void add_doc_commands(CLI::App& app, const std::string& version);

}  // namespace flowmetrics::cli
