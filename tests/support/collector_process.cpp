#include "collector_process.hpp"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>

#include "test_database.hpp"

namespace flowmetrics::testing {

using namespace std::chrono_literals;

CollectorProcess::CollectorProcess(Options options) : options_(std::move(options)) {
  if (options_.directory.empty()) {
    directory_ = std::filesystem::temp_directory_path() / unique_collection("flowmetrics-agent");
    owns_directory_ = true;
  } else {
    directory_ = options_.directory;
  }
  std::filesystem::create_directories(directory_);
  std::ofstream(directory_ / "flowmetrics.toml")
      << "[database]\nuri = \"" << options_.mongodb_uri << "\"\ndatabase = \""
      << (options_.database.empty() ? kTestDatabase : options_.database) << "\"\ncollection = \"" << options_.collection
      << "\"\n"
      << "[pool]\nmin_size = 2\nmax_size = 16\n"
      << "[spool]\ndirectory = \"" << spool_directory().string() << "\"\n"
      << "[inputs.netflow]\nlisten = \"127.0.0.1:0\"\n[inputs.sflow]\nlisten = \"127.0.0.1:0\"\n"
      << "[inputs.tcp]\nlisten = \"127.0.0.1:0\"\n[inputs.http]\nlisten = \"127.0.0.1:0\"\n"
      << options_.extra_toml;
  start();
}

CollectorProcess::~CollectorProcess() {
  process_ = ChildProcess();  // kills it if still running
  if (owns_directory_) {
    std::error_code ignored;
    std::filesystem::remove_all(directory_, ignored);
  }
}

void CollectorProcess::restart() {
  start();
}

void CollectorProcess::start() {
  std::vector<std::string> argv{FLOWMETRICS_CLI, "serve", "--config", (directory_ / "flowmetrics.toml").string()};
  for (const auto& assignment : options_.overrides) {
    argv.push_back("--set");
    argv.push_back(assignment);
  }
  ++starts_;
  tcp_port_ = http_port_ = 0;
  process_ = ChildProcess(argv, (directory_ / ("agent-" + std::to_string(starts_) + ".log")).string());
  const std::regex tcp("tcp input listening on 127\\.0\\.0\\.1:(\\d+)"),
      http("http input listening on 127\\.0\\.0\\.1:(\\d+)");
  const bool up = eventually(
      [&] {
        const std::string log = process_.log();
        std::smatch m;
        if (std::regex_search(log, m, tcp)) tcp_port_ = std::stoi(m[1]);
        if (std::regex_search(log, m, http)) http_port_ = std::stoi(m[1]);
        return (tcp_port_ > 0 && http_port_ > 0) || !process_.running();
      },
      180s);  // a restart replays the spool first; generous on a loaded machine
  if (!up || tcp_port_ == 0 || http_port_ == 0) throw std::runtime_error("agent did not start:\n" + process_.log());
}

std::string CollectorProcess::logs() const {
  std::string all;
  for (int i = 1; i <= starts_; ++i) {
    std::ifstream in(directory_ / ("agent-" + std::to_string(i) + ".log"));
    std::ostringstream text;
    text << in.rdbuf();
    all += text.str();
  }
  return all;
}

double CollectorProcess::metric(const std::string& name) const {
  httplib::Client client("127.0.0.1", http_port_);
  client.set_read_timeout(5s);
  auto response = client.Get("/metrics");
  if (!response || response->status != 200) return -1;
  double total = 0;
  std::istringstream lines(response->body);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(name, 0) != 0) continue;
    const char next = line.size() > name.size() ? line[name.size()] : ' ';
    if (next != ' ' && next != '{') continue;
    total += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return total;
}

int connect_tcp(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    ::close(fd);
    throw std::runtime_error("connect to 127.0.0.1:" + std::to_string(port) + " failed");
  }
  return fd;
}

void send_all(int fd, const std::string& data) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) throw std::runtime_error("send failed");
    sent += static_cast<std::size_t>(n);
  }
}

std::map<std::string, std::uint64_t> final_counts(const std::string& log) {
  std::map<std::string, std::uint64_t> counts;
  const auto at = log.rfind("final: ");
  if (at == std::string::npos) return counts;
  const std::string line = log.substr(at, log.find('\n', at) - at);
  const std::regex pair("(received|accepted|rejected|written|failed|pending|dropped) (\\d+)");
  for (std::sregex_iterator it(line.begin(), line.end(), pair), end; it != end; ++it) {
    counts[(*it)[1]] = std::stoull((*it)[2]);
  }
  return counts;
}

}  // namespace flowmetrics::testing
