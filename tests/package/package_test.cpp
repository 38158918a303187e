// The Debian package end to end: built with CPack from this build tree, inspected with dpkg-deb,
// checked by lintian and systemd-analyze, installed into the machine with dpkg, run as the
// package's user with the installed configuration against a test FerretDB, upgraded, purged.
//
// Installing is machine-wide: the install test holds an exclusive lock on
// /var/lock/flowmetrics-package-test.lock from the first dpkg call to the last, so two copies of
// the suite (two clones) take turns, and it purges the package on the way out whatever happens.
// It needs root; without root it is skipped, unless CI is set (then it fails).
#include <fcntl.h>
#include <grp.h>
#include <httplib.h>
#include <pwd.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "child_process.hpp"
#include "test_database.hpp"

namespace flowmetrics {
namespace {

using namespace std::chrono_literals;
using namespace flowmetrics::testing;
namespace fs = std::filesystem;

const fs::path kWork = FLOWMETRICS_PACKAGE_WORK_DIR;
constexpr const char* kUpgradeVersion = FLOWMETRICS_PACKAGE_VERSION "+upgradetest";

struct Result {
  int status = -1;
  std::string output;  // stdout and stderr
};

// Runs `command` with /bin/sh; never throws.
Result run(const std::string& command) {
  Result result;
  FILE* pipe = ::popen(("{ " + command + "\n} 2>&1 </dev/null").c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer{};
  while (std::fgets(buffer.data(), buffer.size(), pipe) != nullptr) result.output += buffer.data();
  const int status = ::pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

std::string sh_quote(const std::string& text) {
  std::string out = "'";
  for (const char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Builds the package (and one with a later version, for the upgrade) once for the whole suite,
// into this test's own directory: two clones never share it.
class PackageTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::error_code ignored;
    fs::remove_all(kWork, ignored);
    fs::create_directories(kWork);
    const std::string cpack = std::string("cd ") + sh_quote(FLOWMETRICS_BINARY_DIR) + " && " +
                              sh_quote(FLOWMETRICS_CPACK) + " -G DEB --config CPackConfig.cmake";
    build_log_ = run(cpack + " -B " + sh_quote((kWork / "cpack").string())).output;
    build_log_ += run(cpack + " -B " + sh_quote((kWork / "cpack-upgrade").string()) +
                      " -D CPACK_PACKAGE_VERSION=" + kUpgradeVersion + " -D CPACK_DEBIAN_DEBUGINFO_PACKAGE=OFF")
                      .output;
    for (const auto& entry : fs::directory_iterator(kWork / "cpack", ignored)) {
      if (entry.path().extension() == ".deb") deb_ = entry.path();
    }
    for (const auto& entry : fs::directory_iterator(kWork / "cpack-upgrade", ignored)) {
      if (entry.path().extension() == ".deb") upgrade_deb_ = entry.path();
    }
  }

  void SetUp() override {
    ASSERT_FALSE(deb_.empty()) << "cpack made no .deb:\n" << build_log_;
    ASSERT_FALSE(upgrade_deb_.empty()) << "cpack made no upgrade .deb:\n" << build_log_;
  }

  // The package's files unpacked (not installed) into `directory`.
  static fs::path unpacked() {
    const fs::path directory = kWork / "unpacked";
    if (!fs::exists(directory)) {
      const Result r = run("dpkg-deb -x " + sh_quote(deb_.string()) + " " + sh_quote(directory.string()));
      EXPECT_EQ(r.status, 0) << r.output;
    }
    return directory;
  }

  static inline fs::path deb_, upgrade_deb_;
  static inline std::string build_log_;
};

TEST_F(PackageTest, FileNameContentsAndControlFields) {
  EXPECT_EQ(deb_.filename().string().rfind(std::string("flowmetrics_") + FLOWMETRICS_PACKAGE_VERSION + "_", 0), 0u)
      << deb_;
  const Result contents = run("dpkg-deb -c " + sh_quote(deb_.string()));
  ASSERT_EQ(contents.status, 0) << contents.output;
  for (const char* path : {"./usr/bin/flowmetrics", "./etc/flowmetrics/flowmetrics.toml", "./etc/default/flowmetrics",
                           "./lib/systemd/system/flowmetrics.service", "./usr/share/man/man1/flowmetrics.1.gz",
                           "./usr/share/bash-completion/completions/flowmetrics",
                           "./usr/share/doc/flowmetrics/README.md.gz", "./usr/share/doc/flowmetrics/LICENSE",
                           "./usr/share/doc/flowmetrics/copyright", "./usr/share/doc/flowmetrics/changelog.gz"}) {
    EXPECT_TRUE(contains(contents.output, std::string(path) + "\n")) << path << " missing from\n" << contents.output;
  }
  // Only the collector: not the library, its headers or its CMake package.
  EXPECT_FALSE(contains(contents.output, "include/")) << contents.output;
  EXPECT_FALSE(contains(contents.output, ".a\n")) << contents.output;

  const Result info = run("dpkg-deb -I " + sh_quote(deb_.string()));
  ASSERT_EQ(info.status, 0) << info.output;
  EXPECT_TRUE(contains(info.output, "Package: flowmetrics\n")) << info.output;
  EXPECT_TRUE(contains(info.output, std::string("Version: ") + FLOWMETRICS_PACKAGE_VERSION + "\n")) << info.output;
  // dpkg-shlibdeps found the driver; adduser is for postinst.
  EXPECT_TRUE(std::regex_search(info.output, std::regex("Depends: .*libmongoc-1\\.0-0"))) << info.output;
  EXPECT_TRUE(std::regex_search(info.output, std::regex("Depends: (.*, )?adduser[,\n]"))) << info.output;
  for (const char* control : {"postinst", "prerm", "postrm", "conffiles"}) {
    EXPECT_TRUE(contains(info.output, control)) << control << " missing from\n" << info.output;
  }
  const Result conffiles = run("dpkg-deb --ctrl-tarfile " + sh_quote(deb_.string()) + " | tar -xO ./conffiles");
  EXPECT_EQ(conffiles.output, "/etc/flowmetrics/flowmetrics.toml\n/etc/default/flowmetrics\n");

  const fs::path root = unpacked();
  const Result file = run("file " + sh_quote((root / "usr/bin/flowmetrics").string()));
  EXPECT_TRUE(contains(file.output, ", stripped")) << file.output;
  // The installed configuration: the example's defaults, the spool under the state directory.
  const std::string config = read_file(root / "etc/flowmetrics/flowmetrics.toml");
  EXPECT_TRUE(contains(config, "\ndirectory = \"/var/lib/flowmetrics/spool\"\n")) << config;
  EXPECT_TRUE(contains(config, "\nuri = \"mongodb://127.0.0.1:27017/\"\n")) << config;
}

// The debug symbols stripped from the binary are in their own package.
TEST_F(PackageTest, DebugSymbolsPackage) {
  fs::path ddeb;
  for (const auto& entry : fs::directory_iterator(kWork / "cpack")) {
    if (entry.path().extension() == ".ddeb") ddeb = entry.path();
  }
  ASSERT_FALSE(ddeb.empty()) << build_log_;
  const Result contents = run("dpkg-deb -c " + sh_quote(ddeb.string()));
  EXPECT_TRUE(std::regex_search(contents.output, std::regex("usr/lib/debug/\\.build-id/../.*\\.debug")))
      << contents.output;
}

// flowmetrics(1) and the completion are what the binary prints, and name every subcommand and
// every option --help shows, at every depth.
TEST_F(PackageTest, ManPageAndCompletionCoverEveryCommand) {
  const fs::path root = unpacked();
  const fs::path binary = root / "usr/bin/flowmetrics";
  const Result man = run("zcat " + sh_quote((root / "usr/share/man/man1/flowmetrics.1.gz").string()));
  ASSERT_EQ(man.status, 0) << man.output;
  EXPECT_EQ(man.output, run(sh_quote(binary.string()) + " help-man").output);
  const std::string completion = read_file(root / "usr/share/bash-completion/completions/flowmetrics");
  EXPECT_EQ(completion, run(sh_quote(binary.string()) + " help-completion").output);

  // Walk --help: "Subcommands:" lists the next level, option lines start with "-".
  std::vector<std::string> pending{""};
  int commands = 0;
  while (!pending.empty()) {
    const std::string path = pending.back();
    pending.pop_back();
    const Result help = run(sh_quote(binary.string()) + " " + path + " --help");
    ASSERT_EQ(help.status, 0) << path << ": " << help.output;
    ++commands;
    if (!path.empty()) {
      EXPECT_TRUE(contains(man.output, ".SS \"flowmetrics " + path + "\"\n")) << path;
    }
    std::istringstream lines(help.output);
    std::string line;
    bool in_subcommands = false;
    while (std::getline(lines, line)) {
      if (line.empty()) {
        in_subcommands = false;
        continue;
      }
      if (line.rfind("Subcommands:", 0) == 0) {
        in_subcommands = true;
        continue;
      }
      std::smatch m;
      if (in_subcommands && std::regex_search(line, m, std::regex("^  (\\S+)"))) {
        pending.push_back(path.empty() ? m[1].str() : path + " " + m[1].str());
        continue;
      }
      // "  -c,--config TEXT:FILE ..." -> -c and --config
      if (std::regex_search(line, m, std::regex("^  (-[^ ]+)"))) {
        std::string names = m[1].str();
        std::stringstream split(names);
        std::string name;
        while (std::getline(split, name, ',')) {
          std::string escaped;
          for (const char c : name) escaped += c == '-' ? std::string("\\-") : std::string(1, c);
          EXPECT_TRUE(contains(man.output, "\\fB" + escaped + "\\fR"))
              << name << " (" << path << ") not in the man page";
          EXPECT_TRUE(contains(completion, name)) << name << " (" << path << ") not in the completion";
        }
      }
    }
  }
  EXPECT_GE(commands, 4);  // flowmetrics, serve, ingest, config, config check, ...
  EXPECT_FALSE(contains(man.output, ".SS \"flowmetrics help-")) << "hidden commands stay hidden";

  const Result groff = run("zcat " + sh_quote((root / "usr/share/man/man1/flowmetrics.1.gz").string()) +
                           " | man --warnings -l -Tutf8 - >/dev/null");
  EXPECT_EQ(groff.status, 0) << groff.output;
  EXPECT_EQ(groff.output, "") << "groff warnings";

  // The completion works in bash: subcommand names, then the options of the command typed.
  const std::string script = sh_quote((root / "usr/share/bash-completion/completions/flowmetrics").string());
  const Result complete = run("bash -c " + sh_quote(". " + script +
                                                    "; COMP_WORDS=(flowmetrics conf); COMP_CWORD=1; _flowmetrics; "
                                                    "echo \"[${COMPREPLY[*]}]\"; "
                                                    "COMP_WORDS=(flowmetrics config check --s); COMP_CWORD=3; "
                                                    "_flowmetrics; echo \"[${COMPREPLY[*]}]\"; "
                                                    "COMP_WORDS=(flowmetrics serve --set pipeline.wr); COMP_CWORD=3; "
                                                    "_flowmetrics; echo \"[${COMPREPLY[*]}]\""));
  EXPECT_EQ(complete.output, "[config]\n[--set]\n[pipeline.writers=]\n");
  // Every setting, from the same table as `config check`, is in the man page.
  const Result settings = run(sh_quote(binary.string()) + " config check /dev/null");
  std::istringstream setting_lines(settings.output);
  int keys = 0;
  for (std::string line; std::getline(setting_lines, line);) {
    const auto equals = line.find(" = ");
    if (equals == std::string::npos) continue;
    ++keys;
    EXPECT_TRUE(contains(man.output, "\\fB" + line.substr(0, equals) + "\\fR\n")) << line;
  }
  EXPECT_GE(keys, 30) << settings.output;
}

// No lintian errors or warnings (informational tags are listed in the README).
TEST_F(PackageTest, LintianReportsNoErrorsOrWarnings) {
  const Result lintian = run("lintian " + sh_quote(deb_.string()));
  std::string findings;
  std::istringstream lines(lintian.output);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("E: ", 0) == 0 || line.rfind("W: ", 0) == 0) findings += line + "\n";
  }
  EXPECT_EQ(findings, "") << lintian.output;
  EXPECT_EQ(lintian.status, 0) << lintian.output;
}

// ---- Installing into the machine -------------------------------------------------------------

// The machine-wide lock, held for the life of the object.
class MachineLock {
 public:
  MachineLock() {
    fd_ = ::open("/var/lock/flowmetrics-package-test.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ >= 0 && ::flock(fd_, LOCK_EX) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~MachineLock() {
    if (fd_ >= 0) ::close(fd_);  // releases the lock
  }
  MachineLock(const MachineLock&) = delete;
  MachineLock& operator=(const MachineLock&) = delete;
  bool held() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// dpkg with the arguments given, waiting (up to 2 minutes) while another dpkg or apt holds
// dpkg's own lock: that is not ours to take.
Result dpkg(const std::string& arguments) {
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  for (;;) {
    Result result = run("DEBIAN_FRONTEND=noninteractive dpkg " + arguments);
    if (result.status == 0 || !contains(result.output, "lock") || std::chrono::steady_clock::now() > deadline) {
      return result;
    }
    std::this_thread::sleep_for(1s);
  }
}

// Installed, or removed with its configuration files still there.
bool package_known() {
  const Result status = run("dpkg-query -W -f='${Status}' flowmetrics");
  return status.status == 0 && !contains(status.output, "not-installed");
}

// Purges the package when the test ends, however it ends.
struct PurgeOnExit {
  ~PurgeOnExit() {
    if (package_known()) dpkg("--purge flowmetrics");
  }
};

std::optional<uid_t> user_id(const char* name) {
  const passwd* entry = ::getpwnam(name);
  if (entry == nullptr) return std::nullopt;
  return entry->pw_uid;
}

// The value of `Key=` in the installed unit.
std::string unit_line(const std::string& unit, const std::string& key) {
  std::smatch m;
  if (!std::regex_search(unit, m, std::regex("\n" + key + "=([^\n]*)\n"))) return "";
  return m[1].str();
}

// A unit command as systemd would run it without systemd: as User=, in WorkingDirectory=, with
// EnvironmentFile= read, `extra` appended. setpriv and then the shell exec, so the process
// started is the collector itself (signals reach it).
std::vector<std::string> as_service(const std::string& unit, const std::string& command, const std::string& extra) {
  const std::string user = unit_line(unit, "User");
  const std::string environment_file = unit_line(unit, "EnvironmentFile");
  const std::string optional_file = environment_file.substr(environment_file[0] == '-' ? 1 : 0);
  const std::string script = "cd " + unit_line(unit, "WorkingDirectory") + " && set -a && if [ -r " + optional_file +
                             " ]; then . " + optional_file + "; fi && set +a && exec " + command + " " + extra;
  return {"/usr/bin/setpriv",
          "--reuid=" + user,
          "--regid=" + user,
          "--init-groups",
          "--inh-caps=-all",
          "--",
          "sh",
          "-c",
          script};
}

std::string shell_line(const std::vector<std::string>& argv) {
  std::string line;
  for (const std::string& word : argv) line += (line.empty() ? "" : " ") + sh_quote(word);
  return line;
}

TEST_F(PackageTest, InstallRunUpgradePurge) {
  if (::geteuid() != 0) {
    if (std::getenv("CI") != nullptr) FAIL() << "CI is set but the test does not run as root: cannot install";
    GTEST_SKIP() << "installing the package needs root (CI runs as root); skipped";
  }
  MachineLock lock;
  ASSERT_TRUE(lock.held()) << "cannot lock /var/lock/flowmetrics-package-test.lock";
  if (package_known()) {
    // Left behind by a run that was killed: the lock says no other run is using it.
    std::cerr << "package_test: purging a flowmetrics package left installed\n";
    dpkg("--purge flowmetrics");
  }
  PurgeOnExit purge_on_exit;
  ASSERT_FALSE(user_id("flowmetrics")) << "a flowmetrics user exists before the install";

  const Result install = dpkg("-i " + sh_quote(deb_.string()));
  ASSERT_EQ(install.status, 0) << install.output;
  const auto uid = user_id("flowmetrics");
  ASSERT_TRUE(uid) << "postinst made no flowmetrics user";
  struct stat state {};
  ASSERT_EQ(::stat("/var/lib/flowmetrics", &state), 0);
  EXPECT_EQ(state.st_uid, *uid);
  EXPECT_EQ(state.st_mode & 0777, 0750u);

  const Result verify = run("systemd-analyze verify /lib/systemd/system/flowmetrics.service");
  EXPECT_EQ(verify.status, 0) << verify.output;
  // Warnings about the machine's other units are not this test's business; about ours, they are.
  EXPECT_FALSE(contains(verify.output, "flowmetrics")) << verify.output;

  const Result version = run("/usr/bin/flowmetrics --version");
  EXPECT_EQ(version.status, 0) << version.output;
  EXPECT_EQ(version.output, std::string("flowmetrics ") + FLOWMETRICS_PACKAGE_VERSION + "\n");
  const Result check = run("/usr/bin/flowmetrics config check /etc/flowmetrics/flowmetrics.toml");
  EXPECT_EQ(check.status, 0) << check.output;
  EXPECT_TRUE(contains(check.output, "spool.directory = \"/var/lib/flowmetrics/spool\"")) << check.output;

  // The unit's commands, run as its user against this test's database, on free loopback ports.
  const std::string unit = read_file("/lib/systemd/system/flowmetrics.service");
  const std::string collection = unique_collection("package");
  const std::string uri = test_uri();
  const std::string extra =
      "--set " + sh_quote("database.uri=" + uri) + " --set database.database=" + kTestDatabase +
      " --set database.collection=" + collection +
      " --set inputs.http.listen=127.0.0.1:0 --set inputs.tcp.listen=127.0.0.1:0"
      " --set inputs.netflow.listen=127.0.0.1:0 --set inputs.sflow.listen=127.0.0.1:0 --set pool.min_size=2";
  const Result pre = run(shell_line(as_service(unit, unit_line(unit, "ExecStartPre"), extra)));
  EXPECT_EQ(pre.status, 0) << pre.output;
  const fs::path log = kWork / "service.log";
  {
    ChildProcess service(as_service(unit, unit_line(unit, "ExecStart"), extra), log.string());
    int port = 0;
    ASSERT_TRUE(eventually(
        [&] {
          std::smatch m;
          const std::string text = read_file(log);
          if (std::regex_search(text, m, std::regex("http input listening on 127\\.0\\.0\\.1:(\\d+)"))) {
            port = std::stoi(m[1]);
          }
          return port != 0 || !service.running();
        },
        60s));
    ASSERT_NE(port, 0) << read_file(log);
    httplib::Client client("127.0.0.1", port);
    client.set_read_timeout(30, 0);
    ASSERT_TRUE(eventually(
        [&] {
          const auto ready = client.Get("/readyz");
          return ready && ready->status == 200;
        },
        60s))
        << read_file(log);
    // Two five-tuples in one minute: three records.
    const std::string body =
        R"({"source_ip":"10.0.0.1","dest_ip":"10.1.0.1","source_port":1000,"dest_port":443,"protocol":"tcp","timestamp":1732530000000,"value":2,"packets":3,"bytes":400})"
        "\n"
        R"({"source_ip":"10.0.0.1","dest_ip":"10.1.0.1","source_port":1000,"dest_port":443,"protocol":"tcp","timestamp":1732530010000,"value":4,"packets":1,"bytes":100})"
        "\n"
        R"({"source_ip":"10.0.0.2","dest_ip":"10.1.0.1","source_port":2000,"dest_port":53,"protocol":"udp","timestamp":1732530020000,"value":1,"packets":1,"bytes":60})"
        "\n";
    const auto posted = client.Post("/v1/metrics", body, "application/x-ndjson");
    ASSERT_TRUE(posted) << read_file(log);
    EXPECT_EQ(posted->status, 200) << posted->body;

    service.signal(SIGTERM);
    const auto exit_code = service.wait(90s);  // the unit's TimeoutStopSec
    ASSERT_TRUE(exit_code.has_value()) << "no exit after SIGTERM\n" << read_file(log);
    EXPECT_EQ(*exit_code, 0) << read_file(log);
  }
  const auto stored = read_metrics(uri, collection);
  ASSERT_EQ(stored.size(), 2u) << read_file(log);
  std::int64_t count = 0, packets = 0, bytes = 0;
  double value = 0;
  for (const auto& [id, metric] : stored) {
    count += metric.count;
    packets += metric.packets;
    bytes += metric.bytes;
    value += metric.value;
  }
  EXPECT_EQ(count, 3);
  EXPECT_EQ(packets, 5);
  EXPECT_EQ(bytes, 560);
  EXPECT_EQ(value, 7);
  drop_collection(uri, collection);
  // The spool is the installed configuration's, made by the service's user.
  ASSERT_EQ(::stat("/var/lib/flowmetrics/spool", &state), 0) << read_file(log);
  EXPECT_EQ(state.st_uid, *uid);

  // An upgrade keeps a changed configuration, the spool and the user.
  { std::ofstream("/etc/flowmetrics/flowmetrics.toml", std::ios::app) << "# changed by package_test\n"; }
  std::ofstream("/var/lib/flowmetrics/spool/package_test.marker") << "kept\n";
  const Result upgrade = dpkg("-i " + sh_quote(upgrade_deb_.string()));
  ASSERT_EQ(upgrade.status, 0) << upgrade.output;
  EXPECT_EQ(run("dpkg-query -W -f='${Version}' flowmetrics").output, kUpgradeVersion);
  EXPECT_TRUE(contains(read_file("/etc/flowmetrics/flowmetrics.toml"), "# changed by package_test\n"));
  EXPECT_TRUE(fs::exists("/var/lib/flowmetrics/spool/package_test.marker"));
  EXPECT_EQ(user_id("flowmetrics"), uid);
  EXPECT_EQ(run("/usr/bin/flowmetrics config check /etc/flowmetrics/flowmetrics.toml").status, 0);

  // Purge leaves nothing behind.
  const Result purge = dpkg("--purge flowmetrics");
  ASSERT_EQ(purge.status, 0) << purge.output;
  for (const char* path : {"/etc/flowmetrics", "/etc/default/flowmetrics", "/var/lib/flowmetrics",
                           "/usr/bin/flowmetrics", "/lib/systemd/system/flowmetrics.service",
                           "/etc/systemd/system/flowmetrics.service", "/usr/share/doc/flowmetrics",
                           "/usr/share/man/man1/flowmetrics.1.gz", "/usr/share/bash-completion/completions/flowmetrics",
                           "/var/lib/systemd/deb-systemd-helper-enabled/flowmetrics.service.dsh-also",
                           "/var/lib/systemd/deb-systemd-helper-masked/flowmetrics.service"}) {
    EXPECT_FALSE(fs::exists(fs::symlink_status(path))) << path << " left behind";
  }
  EXPECT_FALSE(user_id("flowmetrics")) << "the flowmetrics user is left behind";
  EXPECT_EQ(::getgrnam("flowmetrics"), nullptr) << "the flowmetrics group is left behind";
  EXPECT_FALSE(package_known());
}

}  // namespace
}  // namespace flowmetrics
