// The manual page and the bash completion are written from the CLI11 App that parses the
// command line, so a subcommand or an option added there appears in --help, in flowmetrics(1)
// and in the completion at once (packaging/ builds both from `flowmetrics help-man` and
// `flowmetrics help-completion`).
#include "cli_docs.hpp"

#include <iostream>
#include <sstream>
#include <vector>

#include "config/collector_config.hpp"

namespace flowmetrics::cli {
namespace {

// Hidden subcommands and options have an empty group, as in CLI11's own help formatter.
std::vector<const CLI::App*> visible_subcommands(const CLI::App& app) {
  return app.get_subcommands([](const CLI::App* sub) { return !sub->get_group().empty(); });
}
std::vector<const CLI::Option*> visible_options(const CLI::App& app) {
  return app.get_options([](const CLI::Option* option) { return !option->get_group().empty(); });
}

// The root App is named after argv[0] ("./build/apps/flowmetrics"): the documents use its file name.
std::string program_name(const CLI::App& root) {
  const std::string& name = root.get_name();
  return name.substr(name.find_last_of('/') + 1);
}

std::string command_path(const CLI::App& app) {
  if (app.get_parent() == nullptr) return program_name(app);
  return command_path(*app.get_parent()) + " " + app.get_name();
}

// Text as roff shows it literally: backslashes and hyphens escaped, no line taken for a request.
std::string roff(const std::string& text) {
  std::string out;
  bool line_start = true;
  for (const char c : text) {
    if (line_start && (c == '.' || c == '\'')) out += "\\&";
    if (c == '\\') {
      out += "\\e";
    } else if (c == '-') {
      out += "\\-";
    } else {
      out += c;
    }
    line_start = c == '\n';
  }
  return out;
}

// Flags (--help, --version) have no type name.
bool takes_value(const CLI::Option& option) {
  return !option.get_type_name().empty();
}
bool repeatable(const CLI::Option& option) {
  return option.get_items_expected_max() > 1;
}
// A path argument: CLI11's file and directory checks name themselves FILE, DIR or PATH.
bool takes_path(const CLI::Option& option) {
  const std::string text = option.get_type_name() + " " + option.get_name(true);
  return text.find("FILE") != std::string::npos || text.find("DIR") != std::string::npos ||
         text.find("PATH") != std::string::npos;
}

std::vector<std::string> option_names(const CLI::Option& option) {
  std::vector<std::string> names;
  for (const std::string& name : option.get_lnames()) names.push_back("--" + name);
  for (const std::string& name : option.get_snames()) names.push_back("-" + name);
  return names;
}

// "\fB\-\-config\fR, \fB\-c\fR \fITEXT:FILE\fR", or "\fIFILE\fR" for an argument.
std::string option_label(const CLI::Option& option) {
  if (!option.nonpositional()) return "\\fI" + roff(option.get_name(true)) + "\\fR";
  std::string label;
  for (const std::string& name : option_names(option)) {
    label += (label.empty() ? "" : ", ") + ("\\fB" + roff(name) + "\\fR");
  }
  if (takes_value(option)) label += " \\fI" + roff(option.get_type_name()) + "\\fR";
  return label;
}

// One synopsis entry: "[\fB\-\-set\fR \fITEXT\fR]...", "\fIFILE\fR".
std::string synopsis_item(const CLI::Option& option) {
  std::string item;
  if (option.nonpositional()) {
    item = "\\fB" + roff(option_names(option).front()) + "\\fR";
    if (takes_value(option)) item += " \\fI" + roff(option.get_type_name()) + "\\fR";
  } else {
    item = "\\fI" + roff(option.get_name(true)) + "\\fR";
  }
  if (!option.get_required()) item = "[" + item + "]";
  if (repeatable(option)) item += "...";
  return item;
}

void write_synopsis(const CLI::App& app, std::ostringstream& out) {
  const auto subcommands = visible_subcommands(app);
  if (!subcommands.empty() && app.get_parent() != nullptr) {
    for (const CLI::App* sub : subcommands) write_synopsis(*sub, out);
    return;
  }
  out << ".B " << roff(command_path(app)) << "\n";
  std::string items;
  for (const bool positional : {false, true}) {  // options first, then arguments
    for (const CLI::Option* option : visible_options(app)) {
      if (option == app.get_help_ptr() || option->nonpositional() == positional) continue;
      items += (items.empty() ? "" : " ") + synopsis_item(*option);
    }
  }
  if (!subcommands.empty()) items += std::string(items.empty() ? "" : " ") + "\\fICOMMAND\\fR ...";
  if (!items.empty()) out << items << "\n";
  out << ".br\n";
  if (app.get_parent() == nullptr) {
    for (const CLI::App* sub : subcommands) write_synopsis(*sub, out);
  }
}

void write_options(const CLI::App& app, std::ostringstream& out) {
  for (const CLI::Option* option : visible_options(app)) {
    out << ".TP\n" << option_label(*option) << "\n";
    std::string description = option->get_description();
    if (option->get_required()) description += description.empty() ? "Required." : " (required)";
    out << roff(description.empty() ? "(no description)" : description) << "\n";
  }
}

void write_commands(const CLI::App& app, std::ostringstream& out) {
  for (const CLI::App* sub : visible_subcommands(app)) {
    out << ".SS \"" << roff(command_path(*sub)) << "\"\n" << roff(sub->get_description()) << "\n";
    const auto nested = visible_subcommands(*sub);
    if (!nested.empty()) {
      out << ".PP\nCommands: ";
      std::string names;
      for (const CLI::App* n : nested) names += (names.empty() ? "" : ", ") + ("\\fB" + roff(n->get_name()) + "\\fR");
      out << names << ".\n";
    }
    write_options(*sub, out);
    write_commands(*sub, out);
  }
}

// What --help has no room for. Each statement here is about code outside the App: keep it true
// when that code changes (src/config/, src/commands/serve.cpp, packaging/).
constexpr const char* kStaticSections = R"(.SH CONFIGURATION
Every setting has a default. A setting is taken from, in order, the default, the TOML file
given with \fB\-\-config\fR, the environment, and \fB\-\-set\fR \fIkey\fR=\fIvalue\fR
options (a later source wins; a later \fB\-\-set\fR wins over an earlier one). Unknown keys
and bad values stop the collector with an error naming the key.
\fBflowmetrics config check\fR prints every setting in effect.
The annotated example configuration lists every key with its default and unit.
.SH ENVIRONMENT
.TP
.B MONGODB_URI
The database connection string (\fBdatabase.uri\fR).
.TP
.BI FLOWMETRICS_ KEY
Any setting: its key in upper case with each dot replaced by an underscore, e.g.
\fBFLOWMETRICS_PIPELINE_WRITERS=8\fR for \fBpipeline.writers\fR.
.SH SIGNALS
On the first SIGTERM or SIGINT, \fBserve\fR stops its inputs and writes what is pending for up
to \fBshutdown.drain_timeout_seconds\fR, then exits; what is not written by then stays in the
spool and is written after the next start. A second signal exits at once.
.SH EXIT STATUS
\fBserve\fR exits 0 after a clean stop, 1 when it cannot start or the drain timeout passed,
and 2 on a configuration error. \fBconfig check\fR exits 0 when the configuration is valid and
1 otherwise.
.SH FILES
.TP
.I /etc/flowmetrics/flowmetrics.toml
The configuration of the packaged service.
.TP
.I /etc/default/flowmetrics
Extra arguments (\fBDAEMON_ARGS\fR) and environment of the packaged service.
.TP
.I /var/lib/flowmetrics/spool
The write-ahead spool of the packaged service (\fBspool.directory\fR).
.TP
.I /lib/systemd/system/flowmetrics.service
The systemd unit.
.SH SEE ALSO
.BR systemctl (1),
.BR journalctl (1)
)";

}  // namespace

std::string man_page(const CLI::App& app, const std::string& version, const std::vector<Setting>& settings) {
  std::ostringstream out;
  const std::string program = program_name(app);
  std::string summary = app.get_description();
  const std::string prefix = program + ": ";
  if (summary.rfind(prefix, 0) == 0) summary = summary.substr(prefix.size());
  out << ".\\\" Generated by `" << program << " help-man` from the command line definition; do not edit.\n"
      << ".TH "
      << "FLOWMETRICS 1 \"\" \"" << roff(program + " " + version) << "\" \"User Commands\"\n"
      << ".SH NAME\n"
      << roff(program) << " \\- " << roff(summary) << "\n"
      << ".SH SYNOPSIS\n";
  write_synopsis(app, out);
  out << ".SH DESCRIPTION\n"
      << "\\fB" << roff(program) << "\\fR collects network five-tuple metrics: records arrive as JSON\n"
      << "lines over TCP, as JSON over HTTP (POST /v1/metrics) and as NetFlow v5, NetFlow v9 or IPFIX over\n"
      << "UDP; each is appended to a write-ahead spool, aggregated into time buckets and written to MongoDB\n"
      << "(or FerretDB).\n"
      << ".SH OPTIONS\n";
  write_options(app, out);
  out << ".SH COMMANDS\n";
  write_commands(app, out);
  out << ".SH SETTINGS\n"
      << "Every key of the configuration file and of \\fB\\-\\-set\\fR, with its default (the example\n"
      << "configuration gives each one's meaning and unit).\n";
  for (const Setting& setting : settings) {
    out << ".TP\n\\fB" << roff(setting.key) << "\\fR\n" << roff(setting.default_value) << "\n";
  }
  out << kStaticSections;
  return out.str();
}

std::string bash_completion(const CLI::App& app, const std::vector<Setting>& settings) {
  const std::string program = program_name(app);
  std::ostringstream paths, values, words;
  // Depth-first over visible commands: each contributes the words that follow it.
  std::vector<const CLI::App*> pending{&app};
  while (!pending.empty()) {
    const CLI::App* command = pending.back();
    pending.pop_back();
    std::string path = command_path(*command);
    path = command == &app ? "" : path.substr(program.size() + 1);
    std::string list;
    bool path_argument = false;
    for (const CLI::App* sub : visible_subcommands(*command)) {
      list += (list.empty() ? "" : " ") + sub->get_name();
      paths << "      \"" << path << "|" << sub->get_name() << "\") path=\"${path:+$path }$word\" ;;\n";
      pending.push_back(sub);
    }
    for (const CLI::Option* option : visible_options(*command)) {
      if (!option->nonpositional()) {
        path_argument = path_argument || takes_path(*option);
        continue;
      }
      std::string names;
      for (const std::string& name : option_names(*option)) {
        list += " " + name;
        names += (names.empty() ? "" : "|") + ("\"" + path + "|" + name + "\"");
      }
      if (takes_value(*option)) {
        values << "    " << names << ") ";
        if (takes_path(*option)) {
          values << "COMPREPLY=($(compgen -f -- \"$cur\")); ";
        } else if (option->check_lname("set")) {
          values << "COMPREPLY=($(compgen -W \"$settings\" -- \"$cur\")); compopt -o nospace 2>/dev/null; ";
        }
        values << "return ;;\n";
      }
    }
    words << "    \"" << path << "\") words=\"" << list << "\"; files=" << (path_argument ? 1 : 0) << " ;;\n";
  }
  std::string setting_words;
  for (const Setting& setting : settings) setting_words += (setting_words.empty() ? "" : " ") + setting.key + "=";
  std::ostringstream out;
  out << "# bash completion for " << program << "; generated by `" << program
      << " help-completion` from the command line definition, do not edit.\n"
      << "_" << program << "() {\n"
      << "  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}\n"
      << "  local path=\"\" word i words=\"\" files=0\n"
      << "  local settings=\"" << setting_words << "\"\n"
      << "  COMPREPLY=()\n"
      << "  # The subcommands typed so far, e.g. \"config check\".\n"
      << "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
      << "    word=${COMP_WORDS[i]}\n"
      << "    case \"$path|$word\" in\n"
      << paths.str() << "    esac\n"
      << "  done\n"
      << "  # An option's value: a file name, or nothing to offer.\n"
      << "  case \"$path|$prev\" in\n"
      << values.str() << "  esac\n"
      << "  case \"$path\" in\n"
      << words.str() << "  esac\n"
      << "  COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
      << "  if ((files)) && [[ $cur != -* ]]; then COMPREPLY+=($(compgen -f -- \"$cur\")); fi\n"
      << "}\n"
      << "complete -o filenames -F _" << program << " " << program << "\n";
  return out.str();
}

namespace {

// The keys and defaults `config check` prints for an empty configuration.
std::vector<Setting> default_settings() {
  std::vector<Setting> settings;
  std::istringstream lines(config::describe(config::CollectorConfig{}));
  for (std::string line; std::getline(lines, line);) {
    const auto equals = line.find(" = ");
    if (equals != std::string::npos) settings.push_back({line.substr(0, equals), line.substr(equals + 3)});
  }
  return settings;
}

}  // namespace

void add_doc_commands(CLI::App& app, const std::string& version) {
  CLI::App* man = app.add_subcommand("help-man", "Print the manual page flowmetrics(1) in roff");
  man->group("");
  man->callback([&app, version] {
    std::cout << man_page(app, version, default_settings());
    throw CLI::Success();
  });
  CLI::App* completion = app.add_subcommand("help-completion", "Print the bash completion script");
  completion->group("");
  completion->callback([&app] {
    std::cout << bash_completion(app, default_settings());
    throw CLI::Success();
  });
}

}  // namespace flowmetrics::cli
