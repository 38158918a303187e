// Proof against things no one here wrote: softflowd (Debian) exports the flows of small
// capture files as NetFlow v5, v9 and IPFIX, once to `flowmetrics serve` (a child process
// writing to a FerretDB of its own) and once to nfdump's nfcapd; the documents flowmetrics
// stored must agree with `nfdump -r` on the flows, packets and bytes of every five-tuple,
// and both with what the capture generator (make_captures.py) knows it put in the file.
#include <arpa/inet.h>
#include <signal.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include "child_process.hpp"
#include "collector_process.hpp"
#include "ferretdb_process.hpp"
#include "process_sockets.hpp"
#include "test_database.hpp"

namespace flowmetrics {
namespace {

using namespace std::chrono_literals;
using namespace flowmetrics::testing;

const std::filesystem::path kCaptures = FLOWMETRICS_NETFLOW_CAPTURES;
constexpr std::int64_t kCaptureStartMs = 1'732'530'000'000;  // 2024-11-25T10:20:00Z, make_captures.py's BASE

struct Totals {
  std::int64_t flows = 0, packets = 0, bytes = 0;
  friend bool operator==(const Totals&, const Totals&) = default;
};
std::ostream& operator<<(std::ostream& out, const Totals& t) {
  return out << "{flows " << t.flows << ", packets " << t.packets << ", bytes " << t.bytes << "}";
}
using ByFiveTuple = std::map<std::string, Totals>;  // "src|dst|sport|dport|PROTO"

// Canonical address text, as flowmetrics stores it (RFC 5952 for IPv6).
std::string canonical_ip(const std::string& text) {
  unsigned char raw[16];
  char out[INET6_ADDRSTRLEN];
  const int family = text.find(':') == std::string::npos ? AF_INET : AF_INET6;
  if (::inet_pton(family, text.c_str(), raw) != 1) return "bad:" + text;
  return ::inet_ntop(family, raw, out, sizeof(out));
}

// nfdump -N prints the protocol as its number; flowmetrics stores the name it knows.
std::string protocol_name(const std::string& text) {
  if (text == "6") return "TCP";
  if (text == "17") return "UDP";
  return text;
}

// "2024-11-25 10:19:59.902" (nfdump's %te, in UTC) -> the start of its minute, in ms.
std::int64_t minute_of(const std::string& text) {
  std::tm tm{};
  if (::strptime(text.c_str(), "%Y-%m-%d %H:%M:%S", &tm) == nullptr) return -1;
  return static_cast<std::int64_t>(::timegm(&tm)) / 60 * 60'000;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// What make_captures.py says each capture holds (expected.json, read with a regex: the file
// is ours and flat).
ByFiveTuple capture_truth(const std::string& capture) {
  const std::string json = read_file(kCaptures / "expected.json");
  const auto begin = json.find("\"" + capture + "\": {");
  if (begin == std::string::npos) throw std::runtime_error("no " + capture + " in expected.json");
  const auto end = json.find("\n }", begin);
  const std::string section = json.substr(begin, end - begin);
  const std::regex entry(R"re("([^"|]+)\|([^"|]+)\|(\d+)\|(\d+)\|(\w+)": \{\s*"bytes": (\d+),\s*"packets": (\d+))re");
  ByFiveTuple truth;
  for (std::sregex_iterator it(section.begin(), section.end(), entry), stop; it != stop; ++it) {
    const auto& m = *it;
    truth[canonical_ip(m[1]) + "|" + canonical_ip(m[2]) + "|" + m[3].str() + "|" + m[4].str() + "|" + m[5].str()] = {
        1, std::stoll(m[7]), std::stoll(m[6])};
  }
  return truth;
}

struct Case {
  int version;          // softflowd -v: 5, 9 or 10 (IPFIX)
  std::string capture;  // ipv4, ipv6 or mixed
  bool ipv6_transport;  // export over [::1] instead of 127.0.0.1
};

void PrintTo(const Case& c, std::ostream* out) {
  *out << "softflowd -v " << c.version << " " << c.capture << ".pcap over " << (c.ipv6_transport ? "::1" : "127.0.0.1");
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  const Case& c = info.param;
  return (c.version == 10 ? std::string("ipfix") : "v" + std::to_string(c.version)) + "_" + c.capture + "_over_" +
         (c.ipv6_transport ? "ipv6" : "ipv4");
}

class NetflowExporters : public ::testing::TestWithParam<Case> {
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
    char pattern[] = "/tmp/flowmetrics-netflow-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  // softflowd -r capture -n host:port -v N, to its end (it exits after the file's last flow is
  // sent; -c must not be given with -r, or it never exits).
  void export_with_softflowd(const std::string& host, int port, const std::string& log_name) {
    const Case& c = GetParam();
    // -a: flow times from the capture, not from the clock (see the README).
    ChildProcess softflowd({FLOWMETRICS_SOFTFLOWD, "-a", "-d", "-r", (kCaptures / (c.capture + ".pcap")).string(), "-n",
                            host + ":" + std::to_string(port), "-v", std::to_string(c.version), "-p",
                            (dir_ / (log_name + ".pid")).string()},
                           (dir_ / (log_name + ".log")).string());
    const auto code = softflowd.wait(120s);
    ASSERT_TRUE(code) << "softflowd did not finish within 120 s:\n" << softflowd.log();
    ASSERT_EQ(*code, 0) << softflowd.log();
  }

  // The same export through nfcapd; its file read back with nfdump, per five-tuple.
  ByFiveTuple reference_collector() {
    const bool v6 = GetParam().ipv6_transport;
    const int port = free_loopback_port();
    const auto files = dir_ / "nfcapd";
    std::filesystem::create_directories(files);
    std::vector<std::string> argv{FLOWMETRICS_NFCAPD,   "-w", files.string(),          "-p",
                                  std::to_string(port), "-b", v6 ? "::1" : "127.0.0.1"};
    if (v6) argv.push_back("-6");
    ChildProcess nfcapd(argv, (dir_ / "nfcapd.log").string());
    // nfcapd's own socket on the port (another process's socket there would prove nothing).
    EXPECT_TRUE(eventually([&] { return udp_receive_queue(nfcapd.pid(), port) || !nfcapd.running(); }) &&
                nfcapd.running())
        << nfcapd.log();
    export_with_softflowd(v6 ? "[::1]" : "127.0.0.1", port, "softflowd-nfcapd");
    // nfcapd writes its file when it stops, and drops what it has not read by then: stop it
    // once its socket's receive queue is empty (softflowd has exited, so all it sent is in that
    // queue or already read), not after a fixed sleep that a loaded machine can outlast.
    EXPECT_TRUE(eventually([&] { return udp_receive_queue(nfcapd.pid(), port).value_or(1) == 0; }))
        << "nfcapd did not read its datagrams";
    nfcapd.signal(SIGTERM);
    const auto code = nfcapd.wait(60s);
    EXPECT_TRUE(code && *code == 0) << nfcapd.log();

    std::filesystem::path file;
    for (const auto& entry : std::filesystem::directory_iterator(files)) {
      if (entry.path().filename().string().starts_with("nfcapd.2")) file = entry.path();
    }
    if (file.empty()) {
      ADD_FAILURE() << "nfcapd wrote no file:\n" << nfcapd.log();
      return {};
    }
    ChildProcess nfdump(
        {FLOWMETRICS_NFDUMP, "-q", "-N", "-r", file.string(), "-o", "fmt:%sa|%da|%sp|%dp|%pr|%pkt|%byt|%fl|%te"},
        (dir_ / "nfdump.out").string(), {"TZ=UTC"});
    const auto nfdump_code = nfdump.wait(60s);
    EXPECT_TRUE(nfdump_code && *nfdump_code == 0) << nfdump.log();

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
      if (f.size() != 9) {
        if (!line.empty()) ADD_FAILURE() << "unexpected nfdump line: " << line;
        continue;
      }
      const std::string key =
          canonical_ip(f[0]) + "|" + canonical_ip(f[1]) + "|" + f[2] + "|" + f[3] + "|" + protocol_name(f[4]);
      Totals& t = flows[key];
      t.flows += std::stoll(f[7]);
      t.packets += std::stoll(f[5]);
      t.bytes += std::stoll(f[6]);
      reference_minute_[key] = minute_of(f[8]);
    }
    return flows;
  }

  static FerretDbProcess* server_;
  static std::string* uri_;
  std::filesystem::path dir_;
  std::map<std::string, std::int64_t> reference_minute_;  // five-tuple -> nfdump's flow end, floored to the minute
};

FerretDbProcess* NetflowExporters::server_ = nullptr;
std::string* NetflowExporters::uri_ = nullptr;

TEST_P(NetflowExporters, FlowmetricsAgreesWithNfdumpPerFiveTuple) {
  const Case& c = GetParam();
  const ByFiveTuple truth = capture_truth(c.capture + ".pcap");
  ASSERT_FALSE(truth.empty());

  // The reference first: nfcapd and nfdump.
  const ByFiveTuple reference = reference_collector();
  ASSERT_FALSE(HasFailure());
  std::int64_t reference_flows = 0;
  for (const auto& [key, t] : reference) reference_flows += t.flows;

  // Then the same capture through the same exporter into flowmetrics.
  const std::string collection = unique_collection("netflow");
  CollectorProcess collector(
      {.mongodb_uri = *uri_,
       .collection = collection,
       .overrides = {std::string("inputs.netflow.listen=") + (c.ipv6_transport ? "[::1]:0" : "127.0.0.1:0")},
       .directory = dir_ / "collector"});
  const std::regex listening(R"(netflow input listening on (\S+):(\d+))");
  std::smatch m;
  ASSERT_TRUE(eventually([&] {
    const std::string log = collector.process().log();
    return std::regex_search(log, m, listening);
  })) << collector.process().log();
  const int port = std::stoi(m[2]);
  export_with_softflowd(c.ipv6_transport ? "[::1]" : "127.0.0.1", port, "softflowd-flowmetrics");
  ASSERT_TRUE(eventually(
      [&] { return collector.metric("flowmetrics_netflow_records_total") >= static_cast<double>(reference_flows); },
      120s))
      << "flowmetrics decoded " << collector.metric("flowmetrics_netflow_records_total") << " records, nfdump "
      << reference_flows << "\n"
      << collector.process().log();
  EXPECT_EQ(collector.metric("flowmetrics_netflow_malformed_total"), 0);
  EXPECT_EQ(collector.metric("flowmetrics_netflow_unknown_templates_total"), 0);
  EXPECT_EQ(collector.metric("flowmetrics_netflow_sequence_gaps_total"), 0);
  EXPECT_EQ(collector.metric("flowmetrics_netflow_packets_total"),
            collector.metric("flowmetrics_netflow_datagrams_total"));
  collector.process().signal(SIGTERM);
  const auto code = collector.process().wait(60s);
  ASSERT_TRUE(code) << "flowmetrics did not stop within 60 s";
  ASSERT_EQ(*code, 0) << collector.process().log();

  // Documents are per (five-tuple, minute); sum them per five-tuple.
  ByFiveTuple stored;
  for (const auto& [id, d] : read_metrics(*uri_, collection)) {
    Totals& t = stored[d.source_ip + "|" + d.dest_ip + "|" + std::to_string(d.source_port) + "|" +
                       std::to_string(d.dest_port) + "|" + d.protocol];
    t.flows += d.flows;
    t.packets += d.packets;
    t.bytes += d.bytes;
    EXPECT_EQ(d.value, static_cast<double>(d.bytes)) << id;
    // The flow's end time, as nfdump decodes it, in a one-minute bucket. (The capture starts at
    // a minute boundary, but NetFlow v9's header gives the export time in whole seconds, so
    // both collectors place softflowd's v9 flows up to a second early: see the README.)
    const std::string key = d.source_ip + "|" + d.dest_ip + "|" + std::to_string(d.source_port) + "|" +
                            std::to_string(d.dest_port) + "|" + d.protocol;
    EXPECT_EQ(d.timestamp_ms, reference_minute_[key]) << id;
    EXPECT_LE(std::abs(d.timestamp_ms - kCaptureStartMs), 60'000) << id;
  }

  EXPECT_EQ(stored, reference) << "flowmetrics and nfdump disagree";
  EXPECT_EQ(reference, truth) << "nfdump disagrees with the capture";
  EXPECT_EQ(stored.size(), truth.size());
  std::int64_t stored_flows = 0;
  for (const auto& [key, t] : stored) stored_flows += t.flows;
  EXPECT_EQ(stored_flows, reference_flows);
}

// NetFlow v5 carries IPv4 only (softflowd leaves IPv6 flows out of it).
INSTANTIATE_TEST_SUITE_P(Softflowd, NetflowExporters,
                         ::testing::Values(Case{5, "ipv4", false}, Case{9, "ipv4", false}, Case{9, "ipv6", true},
                                           Case{9, "mixed", false}, Case{10, "ipv4", true}, Case{10, "ipv6", false},
                                           Case{10, "mixed", true}),
                         case_name);

}  // namespace
}  // namespace flowmetrics
