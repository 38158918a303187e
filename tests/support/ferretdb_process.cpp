#include "ferretdb_process.hpp"
#include "test_database.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

namespace flowmetrics::testing {
namespace {

std::string server_binary() {
  if (const char* path = std::getenv("FLOWMETRICS_FERRETDB_SERVER")) return path;
  return FLOWMETRICS_FERRETDB_SERVER;
}

sockaddr_in loopback(int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

bool accepts_connections(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  const sockaddr_in address = loopback(port);
  const bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0;
  ::close(fd);
  return ok;
}

// Reserves `port` for this process until it exits: an flock on a file named after it, which
// other test processes (ctest runs several at once) see and skip. Without it, a port that a
// test freed while it restarted its server could be picked by another test binary's server,
// and the first test's clients would reconnect to a stranger.
bool reserve_for_this_process(int port) {
  static std::mutex mu;
  static std::vector<int> held;  // kept open (and locked) until the process ends
  const char* directory = "/tmp/flowmetrics-test-ports";
  ::mkdir(directory, 0777);
  const std::string path = std::string(directory) + "/" + std::to_string(port);
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) return true;  // no reservation possible: fall back to the bind check alone
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return false;
  }
  std::lock_guard lock(mu);
  held.push_back(fd);
  return true;
}

}  // namespace

int free_loopback_port() {
  // A random port below the kernel's ephemeral range (32768 and up on Linux), so that neither
  // an outgoing connection nor another test's bind(0) is likely to take it before our server
  // binds it; reserved against other test processes, and checked free by binding it once.
  static thread_local std::mt19937 random(std::random_device{}() ^ static_cast<unsigned>(::getpid()));
  for (int attempt = 0; attempt < 200; ++attempt) {
    const int port = 20'000 + static_cast<int>(random() % 12'000);
    if (!reserve_for_this_process(port)) continue;
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    const sockaddr_in address = loopback(port);
    const bool free = ::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0;
    ::close(fd);
    if (free) return port;
  }
  throw std::runtime_error("no free loopback port in 20000-31999");
}

FerretDbProcess::FerretDbProcess() {
  char pattern[] = "/tmp/flowmetrics-ferretdb-XXXXXX";
  if (::mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
  directory_ = pattern;
  port_ = free_loopback_port();
}

FerretDbProcess::~FerretDbProcess() {
  if (running()) {
    resume();
    stop();
  }
  std::error_code ignored;
  std::filesystem::remove_all(directory_, ignored);
}

void FerretDbProcess::start() {
  if (running()) return;
  const std::string binary = server_binary();
  const std::string log = (directory_ / "ferretdb.log").string();
  std::error_code ignored;
  std::filesystem::remove(log, ignored);  // a restart must not find the previous "ready" line
  process_ = ChildProcess({binary, "--listen", "127.0.0.1:" + std::to_string(port_), "--sqlite-dir",
                           (directory_ / "data").string(), "--log-level", "error"},
                          log);
  // Wait for this server's own "ready" line: a port that accepts connections could belong to
  // another process that took it first.
  const std::string ready = "ready mongodb://127.0.0.1:" + std::to_string(port_) + "/";
  // Generous: a loaded machine (two suites and a CPU hog) can take long to start a Go binary.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (process_.log().find(ready) == std::string::npos || !accepts_connections(port_)) {
    if (process_.wait(std::chrono::milliseconds(0))) {
      process_ = ChildProcess();
      throw std::runtime_error("FerretDB (" + binary + ") exited at start-up; run scripts/install-deps.sh, see " + log);
    }
    if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("FerretDB did not start in 120 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void FerretDbProcess::stop() {
  if (!running()) return;
  process_.resume();
  process_.signal(SIGTERM);
  if (!process_.wait(std::chrono::seconds(5))) process_.signal(SIGKILL);
  process_.wait(std::chrono::seconds(5));
  process_ = ChildProcess();
}

void FerretDbProcess::pause() {
  process_.suspend();
}

void FerretDbProcess::resume() {
  process_.resume();
}

std::string FerretDbProcess::uri(const std::string& options) const {
  return "mongodb://127.0.0.1:" + std::to_string(port_) + "/" + options;
}

void OwnServerTest::SetUp() {
  if (using_external_server()) {
    uri_ = test_uri();
  } else {
    server_.start();
    uri_ = server_.uri();
  }
}

}  // namespace flowmetrics::testing
