#pragma once

#include <gtest/gtest.h>

#include <sys/types.h>

#include <filesystem>
#include <string>

#include "child_process.hpp"

namespace flowmetrics::testing {

// A FerretDB server (SQLite backend) owned by one test: its own loopback port and its own
// temporary data directory, removed when the object dies. Can be stopped, restarted on the
// same port with the same data, and frozen with SIGSTOP.
class FerretDbProcess {
 public:
  FerretDbProcess();
  ~FerretDbProcess();
  FerretDbProcess(const FerretDbProcess&) = delete;
  FerretDbProcess& operator=(const FerretDbProcess&) = delete;

  // Starts the server and waits until it accepts connections; throws std::runtime_error.
  void start();
  // SIGTERM, then SIGKILL after 5 s; waits for the process to end.
  void stop();
  // SIGSTOP; returns once the server has stopped (no thread of it runs after the call).
  void pause();
  void resume();  // SIGCONT

  bool running() const { return process_.pid() > 0; }
  int port() const { return port_; }
  // mongodb://127.0.0.1:PORT/ plus `options` (e.g. "?minPoolSize=2").
  std::string uri(const std::string& options = "") const;

 private:
  std::filesystem::path directory_;
  int port_ = 0;
  ChildProcess process_;
};

// Picks a loopback port that is free at the moment of the call.
int free_loopback_port();

// A test that owns a FerretDB it may stop, restart or freeze; with MONGODB_URI set it uses
// that server instead (and tests that need to stop the server skip themselves).
class OwnServerTest : public ::testing::Test {
 protected:
  void SetUp() override;

  FerretDbProcess server_;
  std::string uri_;
};

}  // namespace flowmetrics::testing
