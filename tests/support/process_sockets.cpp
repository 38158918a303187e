#include "process_sockets.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace flowmetrics::testing {
namespace {

std::string proc_dir(pid_t pid) {
  return pid == 0 ? std::string("/proc/self") : "/proc/" + std::to_string(pid);
}

// "socket:[12345]" links under /proc/<pid>/fd.
std::set<std::uint64_t> socket_inodes(pid_t pid) {
  std::set<std::uint64_t> inodes;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(proc_dir(pid) + "/fd", ec)) {
    std::error_code link_ec;
    const std::string target = std::filesystem::read_symlink(entry.path(), link_ec).string();
    if (link_ec || target.rfind("socket:[", 0) != 0) continue;
    inodes.insert(std::stoull(target.substr(8)));
  }
  return inodes;
}

void split_endpoint(const std::string& text, std::string& address, int& port) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos) return;
  address = text.substr(0, colon);
  port = std::stoi(text.substr(colon + 1), nullptr, 16);
}

}  // namespace

std::vector<ProcessSocket> process_sockets(pid_t pid, Transport transport) {
  const std::set<std::uint64_t> inodes = socket_inodes(pid);
  std::vector<ProcessSocket> sockets;
  if (inodes.empty()) return sockets;
  const char* const tables[2][2] = {{"/net/tcp", "/net/tcp6"}, {"/net/udp", "/net/udp6"}};
  for (const char* table : tables[transport == Transport::tcp ? 0 : 1]) {
    // The process's own view, hence its own network namespace.
    std::ifstream in(proc_dir(pid) + table);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      // sl local rem st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...
      std::istringstream fields(line);
      std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout;
      std::uint64_t inode = 0;
      if (!(fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >> timeout >> inode))
        continue;
      if (inodes.count(inode) == 0) continue;
      ProcessSocket s;
      split_endpoint(local, s.local_address, s.local_port);
      split_endpoint(remote, s.remote_address, s.remote_port);
      s.state = std::stoi(state, nullptr, 16);
      const auto colon = queues.find(':');
      if (colon != std::string::npos) {
        s.tx_queue = std::stoull(queues.substr(0, colon), nullptr, 16);
        s.rx_queue = std::stoull(queues.substr(colon + 1), nullptr, 16);
      }
      sockets.push_back(std::move(s));
    }
  }
  return sockets;
}

int own_connections_to(int port) {
  // 127.0.0.1 in /proc/net/tcp, and as ::ffff:127.0.0.1 in /proc/net/tcp6 (32-bit words in
  // host order).
  static const std::set<std::string> kLoopback{"0100007F", "0000000000000000FFFF00000100007F"};
  int count = 0;
  for (const ProcessSocket& s : process_sockets(0, Transport::tcp)) {
    if (s.state == 1 && s.remote_port == port && kLoopback.count(s.remote_address) != 0) ++count;
  }
  return count;
}

std::optional<std::uint64_t> udp_receive_queue(pid_t pid, int port) {
  for (const ProcessSocket& s : process_sockets(pid, Transport::udp)) {
    if (s.local_port == port) return s.rx_queue;
  }
  return std::nullopt;
}

}  // namespace flowmetrics::testing
