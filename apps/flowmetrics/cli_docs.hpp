#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace flowmetrics::cli {

// The manual page flowmetrics(1) in roff, written from `app`: every visible subcommand (at any
// depth) with its options and arguments, as `--help` shows them, plus the sections --help has
// no room for (environment, files, signals). Hidden subcommands (empty group) are left out.
// `version` is printed in the page header. Never throws on a well-formed App.
std::string man_page(const CLI::App& app, const std::string& version);

// A bash completion script for `app` (for /usr/share/bash-completion/completions/): subcommand
// names, option names per subcommand, and file names where an argument is a file.
std::string bash_completion(const CLI::App& app);

// Adds the hidden subcommands `help-man` and `help-completion` to `app`, which print the two
// documents above and exit 0. Call it once, after every other subcommand is added or not: the
// documents are written at parse time, from the App as it is then.
void add_doc_commands(CLI::App& app, const std::string& version);

}  // namespace flowmetrics::cli
