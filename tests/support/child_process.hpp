#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace flowmetrics::testing {

// A process a test starts and owns: its output goes to `log_path`, it is killed if the test
// process dies first (PR_SET_PDEATHSIG), and killed at destruction if still running.
class ChildProcess {
 public:
  ChildProcess() = default;
  ChildProcess(std::vector<std::string> argv, std::string log_path, std::vector<std::string> extra_env = {});
  ~ChildProcess();
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;

  pid_t pid() const { return pid_; }
  bool running();
  void signal(int signal) const;
  // SIGSTOP, and returns only once every thread of the process has stopped (waitpid with
  // WUNTRACED reports the group stop): kill() alone returns before the stop takes effect, and
  // a thread still running could answer a request sent right after. resume() is SIGCONT.
  void suspend();
  void resume();
  // Waits for the process to end; returns its exit code (128 + signal when killed), or
  // std::nullopt when it is still running after `timeout`.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  // Resident set size now and at its peak (VmRSS, VmHWM from /proc), in bytes.
  std::size_t rss_bytes() const;
  std::size_t peak_rss_bytes() const;
  std::string log() const;

 private:
  void kill_and_reap() noexcept;

  pid_t pid_ = -1;
  std::string log_path_;
  std::optional<int> exit_code_;
  bool suspended_ = false;
};

}  // namespace flowmetrics::testing
