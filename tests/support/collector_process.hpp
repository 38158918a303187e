#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "child_process.hpp"

namespace flowmetrics::testing {

// `flowmetrics serve` as a child process of the test, with a generated config in its own
// directory (removed at destruction unless the test gave the directory). TCP and HTTP listen
// on loopback port 0; the ports actually bound are read from the agent's log. The agent can
// be stopped or killed and started again with the same directory and configuration (the
// spool lives there), as a restarted production agent would be.
class CollectorProcess {
 public:
  struct Options {
    std::string mongodb_uri = {};
    std::string collection = {};
    std::string extra_toml = {};              // appended to the generated config
    std::vector<std::string> overrides = {};  // --set key=value
    std::filesystem::path directory = {};     // empty: a fresh temporary directory
    std::string database = {};                // empty: the tests' database
  };

  explicit CollectorProcess(Options options);  // starts the agent; throws when it does not come up
  ~CollectorProcess();
  CollectorProcess(const CollectorProcess&) = delete;
  CollectorProcess& operator=(const CollectorProcess&) = delete;

  // Starts the agent again after it ended (the previous log is kept as agent-N.log).
  void restart();

  ChildProcess& process() { return process_; }
  const std::filesystem::path& directory() const { return directory_; }
  std::filesystem::path spool_directory() const { return directory_ / "spool"; }
  int tcp_port() const { return tcp_port_; }
  int http_port() const { return http_port_; }
  // Every log this directory's agents wrote so far, oldest first.
  std::string logs() const;

  // A metric's value from /metrics, summed over its label sets, or -1 when unreachable.
  double metric(const std::string& name) const;

 private:
  void start();

  Options options_;
  std::filesystem::path directory_;
  bool owns_directory_ = false;
  int starts_ = 0;
  ChildProcess process_;
  int tcp_port_ = 0, http_port_ = 0;
};

// A blocking loopback TCP connection to `port`; throws std::runtime_error.
int connect_tcp(int port);
// Writes all of `data`; throws std::runtime_error when the peer is gone.
void send_all(int fd, const std::string& data);
// The "key N" pairs of the agent's last "final:" log line (received, accepted, written, ...).
std::map<std::string, std::uint64_t> final_counts(const std::string& log);

}  // namespace flowmetrics::testing
