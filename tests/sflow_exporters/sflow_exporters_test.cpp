// Proof against things no one here wrote: pmacctd's sfprobe plugin (Debian's pmacct) samples a
// capture file and exports sFlow v5; the test relays every datagram it sends, unchanged, to
// `flowmetrics serve` (a child process writing to a FerretDB of its own) and to nfdump's
// sfcapd. The documents flowmetrics stored must agree with `nfdump -r` of sfcapd's file on the
// samples, packets and bytes of every five-tuple, and at sampling rate 1 both with what the
// capture generator (make_captures.py) knows it put in the file.
//
// The relay (rather than two sfprobe plugins) gives both collectors the same datagrams and
// tells the test when pmacctd has sent everything that matters: pmacctd holds its last
// samples back until a 60 s idle timer fires, so the capture ends with sentinel packets, and
// a relayed sentinel sample means every sample of the real traffic before it was relayed.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "child_process.hpp"
#include "collector_process.hpp"
#include "ferretdb_process.hpp"
#include "process_sockets.hpp"
#include "test_database.hpp"

namespace flowmetrics {
namespace {

using namespace std::chrono_literals;
using namespace flowmetrics::testing;

const std::filesystem::path kCaptures = FLOWMETRICS_SFLOW_CAPTURES;
// make_captures.py's SENTINEL: source 10.99.99.1, destination 10.99.99.2, as they follow each
// other in an IPv4 header.
const std::string kSentinel("\x0a\x63\x63\x01\x0a\x63\x63\x02", 8);
const std::string kSentinelKey = "10.99.99.1|10.99.99.2|9|9|UDP";

struct Totals {
  std::int64_t samples = 0, packets = 0, bytes = 0;
  friend bool operator==(const Totals&, const Totals&) = default;
};
std::ostream& operator<<(std::ostream& out, const Totals& t) {
  return out << "{samples " << t.samples << ", packets " << t.packets << ", bytes " << t.bytes << "}";
}
using ByFiveTuple = std::map<std::string, Totals>;  // "src|dst|sport|dport|PROTO"

std::string canonical_ip(const std::string& text) {
  unsigned char raw[16];
  char out[INET6_ADDRSTRLEN];
  const int family = text.find(':') == std::string::npos ? AF_INET : AF_INET6;
  if (::inet_pton(family, text.c_str(), raw) != 1) return "bad:" + text;
  return ::inet_ntop(family, raw, out, sizeof(out));
}

std::string protocol_name(int number) {
  switch (number) {
    case 1: return "ICMP";
    case 6: return "TCP";
    case 17: return "UDP";
    case 58: return "ICMPV6";
    default: return std::to_string(number);
  }
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string key_of(const std::string& src, const std::string& dst, int sport, int dport, const std::string& proto) {
  return src + "|" + dst + "|" + std::to_string(sport) + "|" + std::to_string(dport) + "|" + proto;
}

// What make_captures.py says the capture holds (expected.json; flat, read with a regex).
ByFiveTuple capture_truth() {
  const std::string json = read_file(kCaptures / "expected.json");
  const std::regex entry(R"re("([^"|]+)\|([^"|]+)\|(\d+)\|(\d+)\|(\w+)": \{\s*"bytes": (\d+),\s*"packets": (\d+))re");
  ByFiveTuple truth;
  for (std::sregex_iterator it(json.begin(), json.end(), entry), stop; it != stop; ++it) {
    const auto& m = *it;
    truth[key_of(canonical_ip(m[1]), canonical_ip(m[2]), std::stoi(m[3]), std::stoi(m[4]), m[5])] = {
        std::stoll(m[7]), std::stoll(m[7]), std::stoll(m[6])};
  }
  return truth;
}

// Receives on a loopback port of its own and sends every datagram on, unchanged, to each
// target; counts them and notices the first one carrying a sentinel sample.
class Relay {
 public:
  explicit Relay(std::vector<int> targets) : targets_(std::move(targets)) {
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    const int size = 8 << 20;
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) throw std::runtime_error("bind");
    socklen_t length = sizeof(address);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~Relay() { stop(); }

  int port() const { return port_; }
  std::uint64_t relayed() const { return relayed_; }
  bool sentinel_seen() const { return sentinel_; }
  // Stops relaying: whatever pmacctd sends later (it repeats its last datagram when stopped)
  // reaches no collector.
  void stop() {
    if (stopping_.exchange(true)) return;
    thread_.join();
    ::close(fd_);
  }

 private:
  void run() {
    std::vector<char> buffer(65536);
    while (!stopping_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), MSG_DONTWAIT);
      if (n <= 0) continue;
      for (const int port : targets_) {
        sockaddr_in to{};
        to.sin_family = AF_INET;
        to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        to.sin_port = htons(static_cast<std::uint16_t>(port));
        ::sendto(fd_, buffer.data(), static_cast<std::size_t>(n), 0, reinterpret_cast<sockaddr*>(&to), sizeof(to));
      }
      ++relayed_;
      if (std::string_view(buffer.data(), static_cast<std::size_t>(n)).find(kSentinel) != std::string_view::npos)
        sentinel_ = true;
    }
  }

  std::vector<int> targets_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> relayed_{0};
  std::atomic<bool> sentinel_{false};
  std::thread thread_;
};

class SflowExporters : public ::testing::TestWithParam<int> {
 protected:
  static void SetUpTestSuite() {
    if (using_external_server()) {
      uri_ = new std::string(test_uri());
    } else {
      server_ = new FerretDbProcess();
      server_->start();
      uri_ = new std::string(server_->uri());
    }
  }
  static void TearDownTestSuite() {
    delete server_;
    delete uri_;
    server_ = nullptr;
    uri_ = nullptr;
  }

  void SetUp() override {
    char pattern[] = "/tmp/flowmetrics-sflow-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  // sfcapd's file read back with nfdump, per five-tuple, in flowmetrics' terms (see the
  // README: sfcapd stores ICMP's type as the source port and its code as the destination
  // port, and decodes no ICMPv6 type).
  ByFiveTuple read_reference(const std::filesystem::path& files) {
    std::filesystem::path file;
    for (const auto& entry : std::filesystem::directory_iterator(files)) {
      if (entry.path().filename().string().starts_with("nfcapd.2")) file = entry.path();
    }
    if (file.empty()) {
      ADD_FAILURE() << "sfcapd wrote no file";
      return {};
    }
    ChildProcess nfdump(
        {FLOWMETRICS_NFDUMP, "-q", "-N", "-r", file.string(), "-o", "fmt:%sa|%da|%sp|%dp|%pr|%pkt|%byt|%fl"},
        (dir_ / "nfdump.out").string(), {"TZ=UTC"});
    const auto code = nfdump.wait(60s);
    EXPECT_TRUE(code && *code == 0) << nfdump.log();
    ByFiveTuple flows;
    std::istringstream lines(nfdump.log());
    for (std::string line; std::getline(lines, line);) {
      std::vector<std::string> f;
      std::istringstream fields(line);
      for (std::string field; std::getline(fields, field, '|');) {
        field.erase(0, field.find_first_not_of(' '));
        field.erase(field.find_last_not_of(' ') + 1);
        f.push_back(field);
      }
      if (f.size() != 8) {
        if (!line.empty()) ADD_FAILURE() << "unexpected nfdump line: " << line;
        continue;
      }
      const int protocol = std::stoi(f[4]);
      int sport = std::stoi(f[2]);
      int dport = 0;
      if (const auto dot = f[3].find('.'); dot != std::string::npos) {  // ICMP: nfdump prints "type.code"
        dport = std::stoi(f[3].substr(0, dot)) * 256 + std::stoi(f[3].substr(dot + 1));
      } else {
        dport = std::stoi(f[3]);
      }
      if (protocol == 1) {  // sfcapd: type in the source port, code in the destination port
        dport = sport * 256 + (dport & 0xFF);
        sport = 0;
      }
      Totals& t = flows[key_of(canonical_ip(f[0]), canonical_ip(f[1]), sport, dport, protocol_name(protocol))];
      t.samples += std::stoll(f[7]);
      t.packets += std::stoll(f[5]);
      t.bytes += std::stoll(f[6]);
    }
    return flows;
  }

  static FerretDbProcess* server_;
  static std::string* uri_;
  std::filesystem::path dir_;
};

FerretDbProcess* SflowExporters::server_ = nullptr;
std::string* SflowExporters::uri_ = nullptr;

TEST_P(SflowExporters, FlowmetricsAgreesWithSfcapdPerFiveTuple) {
  const int rate = GetParam();
  const ByFiveTuple truth = capture_truth();
  ASSERT_FALSE(truth.empty());

  // The reference collector.
  const int sfcapd_port = free_loopback_port();
  const auto files = dir_ / "sfcapd";
  std::filesystem::create_directories(files);
  // An 8 MiB receive buffer: on a loaded machine sfcapd may fall behind the relay's burst.
  ChildProcess sfcapd(
      {FLOWMETRICS_SFCAPD, "-w", files.string(), "-p", std::to_string(sfcapd_port), "-b", "127.0.0.1", "-B", "8388608"},
      (dir_ / "sfcapd.log").string());
  ASSERT_TRUE(eventually([&] { return udp_receive_queue(sfcapd.pid(), sfcapd_port) || !sfcapd.running(); }) &&
              sfcapd.running())
      << sfcapd.log();

  // flowmetrics.
  const std::string collection = unique_collection("sflow");
  CollectorProcess collector({.mongodb_uri = *uri_, .collection = collection, .directory = dir_ / "collector"});
  const std::regex listening(R"(sflow input listening on (\S+):(\d+))");
  std::smatch m;
  ASSERT_TRUE(eventually([&] {
    const std::string log = collector.process().log();
    return std::regex_search(log, m, listening);
  })) << collector.process().log();
  const int flowmetrics_port = std::stoi(m[2]);

  // The exporter, through the relay.
  Relay relay({sfcapd_port, flowmetrics_port});
  const auto config = dir_ / "pmacctd.conf";
  std::ofstream(config) << "daemonize: false\n"
                        << "pcap_savefile: " << (kCaptures / "mixed.pcap").string() << "\n"
                        << "pcap_savefile_wait: true\n"
                        << "plugins: sfprobe\n"
                        << "sfprobe_receiver: 127.0.0.1:" << relay.port() << "\n"
                        << "sfprobe_agentip: 127.0.0.1\n"
                        << "sampling_rate: " << rate << "\n";
  ChildProcess pmacctd({FLOWMETRICS_PMACCTD, "-f", config.string()}, (dir_ / "pmacctd.log").string());
  // At worst pmacctd's 60 s idle timer sends the sentinel; usually the sentinel's later samples
  // push it out at once.
  ASSERT_TRUE(eventually([&] { return relay.sentinel_seen() || !pmacctd.running(); }, 300s) && relay.sentinel_seen())
      << "no sentinel sample from pmacctd:\n"
      << pmacctd.log();

  // Both collectors take what was relayed, then stop before pmacctd does.
  ASSERT_TRUE(eventually(
      [&] { return collector.metric("flowmetrics_sflow_datagrams_total") >= static_cast<double>(relay.relayed()); },
      120s))
      << collector.process().log();
  relay.stop();
  const double relayed = static_cast<double>(relay.relayed());
  EXPECT_TRUE(eventually([&] { return udp_receive_queue(sfcapd.pid(), sfcapd_port).value_or(1) == 0; }))
      << "sfcapd did not read its datagrams";
  sfcapd.signal(SIGTERM);
  const auto sfcapd_code = sfcapd.wait(60s);
  EXPECT_TRUE(sfcapd_code && *sfcapd_code == 0) << sfcapd.log();
  EXPECT_EQ(collector.metric("flowmetrics_sflow_datagrams_total"), relayed);
  // The per-agent counters are published every 200 ms.
  EXPECT_TRUE(eventually([&] { return collector.metric("flowmetrics_sflow_agent_datagrams_total") == relayed; }))
      << collector.metric("flowmetrics_sflow_agent_datagrams_total") << " of " << relayed;
  EXPECT_EQ(collector.metric("flowmetrics_sflow_malformed_total"), 0);
  EXPECT_EQ(collector.metric("flowmetrics_sflow_datagram_sequence_gaps_total"), 0);
  EXPECT_EQ(collector.metric("flowmetrics_sflow_sample_sequence_gaps_total"), 0);
  EXPECT_EQ(collector.metric("flowmetrics_sflow_unsupported_header_protocols_total"), 0);
  EXPECT_EQ(collector.metric("flowmetrics_sflow_not_ip_total"), 0);
  EXPECT_EQ(collector.metric("flowmetrics_sflow_unscaled_total"), 0);
  const double samples = collector.metric("flowmetrics_sflow_samples_total");
  EXPECT_EQ(collector.metric("flowmetrics_sflow_records_total"), samples);
  collector.process().signal(SIGTERM);
  const auto code = collector.process().wait(120s);
  ASSERT_TRUE(code) << "flowmetrics did not stop within 120 s";
  ASSERT_EQ(*code, 0) << collector.process().log();
  pmacctd.signal(SIGTERM);
  pmacctd.wait(30s);

  ByFiveTuple reference = read_reference(files);
  ASSERT_FALSE(reference.empty());
  ByFiveTuple stored;
  for (const auto& [id, d] : read_metrics(*uri_, collection)) {
    Totals& t = stored[key_of(d.source_ip, d.dest_ip, d.source_port, d.dest_port, d.protocol)];
    t.samples += d.flows;
    t.packets += d.packets;
    t.bytes += d.bytes;
    EXPECT_EQ(d.value, static_cast<double>(d.bytes)) << id;
  }
  std::int64_t stored_samples = 0;
  for (const auto& [key, t] : stored) stored_samples += t.samples;
  EXPECT_EQ(static_cast<double>(stored_samples), samples);

  // sfcapd decodes no ICMPv6 type and code: compare those five-tuples without ports.
  ByFiveTuple comparable;
  for (const auto& [key, t] : stored) {
    std::string k = key;
    if (k.ends_with("|ICMPV6")) k = std::regex_replace(k, std::regex(R"(\|\d+\|\d+\|ICMPV6$)"), "|0|0|ICMPV6");
    Totals& c = comparable[k];
    c.samples += t.samples;
    c.packets += t.packets;
    c.bytes += t.bytes;
  }
  // The sentinel's samples are cut wherever the relay stopped: not compared.
  comparable.erase(kSentinelKey);
  reference.erase(kSentinelKey);
  stored.erase(kSentinelKey);
  EXPECT_EQ(comparable, reference) << "flowmetrics and sfcapd/nfdump disagree";

  if (rate == 1) {
    EXPECT_EQ(stored, truth) << "flowmetrics disagrees with the capture";
  } else {
    // Sampled: every five-tuple is one of the capture's, every count a multiple of the rate.
    for (const auto& [key, t] : stored) {
      EXPECT_TRUE(truth.contains(key)) << key;
      EXPECT_EQ(t.packets, t.samples * rate) << key;
    }
    EXPECT_GT(stored.size(), truth.size() / 2);
  }
}

std::string rate_name(const ::testing::TestParamInfo<int>& param) {
  return "rate_" + std::to_string(param.param);
}

INSTANTIATE_TEST_SUITE_P(Pmacctd, SflowExporters, ::testing::Values(1, 4), rate_name);

}  // namespace
}  // namespace flowmetrics
