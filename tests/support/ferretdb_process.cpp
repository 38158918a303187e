#include "ferretdb_process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <thread>
#include <vector>

namespace flowmetrics::testing {
namespace {

std::string server_binary() {
  if (const char* path = std::getenv("FLOWMETRICS_FERRETDB_SERVER")) return path;
  return FLOWMETRICS_FERRETDB_SERVER;
}

bool accepts_connections(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

int free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot bind a loopback port");
  }
  socklen_t length = sizeof(address);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
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
  const std::string listen = "127.0.0.1:" + std::to_string(port_);
  const std::string data = (directory_ / "data").string();
  std::vector<std::string> args{binary, "--listen", listen, "--sqlite-dir", data, "--log-level", "error"};
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const std::string log = (directory_ / "ferretdb.log").string();
  const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  const pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ == 0) {
    // The server must not outlive a test that crashes before its destructors run.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    ::execv(binary.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(log_fd);
  if (pid_ < 0) {
    pid_ = -1;
    throw std::runtime_error("cannot fork to start " + binary);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!accepts_connections(port_)) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("FerretDB (" + binary + ") exited at start-up; run scripts/install-deps.sh, see " + log);
    }
    if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("FerretDB did not start in 20 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void FerretDbProcess::stop() {
  if (!running()) return;
  ::kill(pid_, SIGCONT);
  ::kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  int status = 0;
  while (::waitpid(pid_, &status, WNOHANG) != pid_) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  pid_ = -1;
}

void FerretDbProcess::pause() {
  if (running()) ::kill(pid_, SIGSTOP);
}

void FerretDbProcess::resume() {
  if (running()) ::kill(pid_, SIGCONT);
}

std::string FerretDbProcess::uri(const std::string& options) const {
  return "mongodb://127.0.0.1:" + std::to_string(port_) + "/" + options;
}

}  // namespace flowmetrics::testing
