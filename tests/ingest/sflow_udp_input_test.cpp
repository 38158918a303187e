// The sFlow UDP input against a recording sink: datagrams from a real socket reach the sink
// as metrics stamped with their arrival time (IPv4 and IPv6 listeners), the per-agent counters
// are published and rendered for /metrics, and a saturated sink turns records into counted
// drops.
#include "ingest/sflow_udp_input.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <atomic>
#include <chrono>
#include <mutex>

#include "../sflow/sflow_builder.hpp"
#include "server/sflow_metrics.hpp"
#include "test_database.hpp"  // eventually()

namespace flowmetrics::ingest {
namespace {

using namespace std::chrono_literals;
using namespace flowmetrics::sflow::test;
using flowmetrics::testing::eventually;

class RecordingSink : public pipeline::RecordSink {
 public:
  pipeline::Admission submit(std::span<Metric> metrics, std::string_view input,
                             pipeline::Acknowledgement* = nullptr) override {
    std::lock_guard lock(mu_);
    EXPECT_EQ(input, "sflow");
    taken_.insert(taken_.end(), metrics.begin(), metrics.end());
    return pipeline::Admission::accepted;
  }
  void reject(std::string_view, std::string_view, std::size_t) override { ADD_FAILURE() << "reject"; }
  bool saturated() const override { return saturated_flag; }
  bool wait_for_capacity(std::chrono::milliseconds) override { return true; }
  void drop(std::string_view input, std::size_t count, std::string_view reason) override {
    EXPECT_EQ(input, "sflow");
    EXPECT_EQ(reason, "spool_full");
    dropped += count;
  }
  std::vector<Metric> taken() {
    std::lock_guard lock(mu_);
    return taken_;
  }

  std::atomic<bool> saturated_flag{false};
  std::atomic<std::size_t> dropped{0};

 private:
  std::mutex mu_;
  std::vector<Metric> taken_;
};

void send_to(const std::string& bound, const Bytes& datagram) {
  const bool v6 = bound.starts_with('[');
  const auto port = static_cast<std::uint16_t>(std::stoi(bound.substr(bound.rfind(':') + 1)));
  const int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
  sockaddr_storage to{};
  socklen_t length = 0;
  if (v6) {
    auto& a = reinterpret_cast<sockaddr_in6&>(to);
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(port);
    a.sin6_addr = in6addr_loopback;
    length = sizeof(a);
  } else {
    auto& a = reinterpret_cast<sockaddr_in&>(to);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    length = sizeof(a);
  }
  ASSERT_EQ(::sendto(fd, datagram.data(), datagram.size(), 0, reinterpret_cast<sockaddr*>(&to), length),
            static_cast<ssize_t>(datagram.size()));
  ::close(fd);
}

// Three samples: TCP at rate 100, UDP with sampling rate 0, and an ARP frame (not stored).
Bytes three_samples(std::uint32_t sequence) {
  const Bytes tcp = ethernet(0x0800, ipv4_packet(6, "10.0.0.1", "10.0.0.2", tcp_ports(40000, 443)));
  const Bytes udp = ethernet(0x0800, ipv4_packet(17, "10.0.0.3", "10.0.0.4", udp_ports(53, 5353)));
  const Bytes arp = ethernet(0x0806, Bytes(28, 1));
  return datagram("192.0.2.1", 7, sequence,
                  {flow_sample({.sequence = sequence * 3, .rate = 100}, {header_record(1, 1000, tcp)}),
                   flow_sample({.sequence = sequence * 3 + 1, .rate = 0}, {header_record(1, 90, udp)}),
                   flow_sample({.sequence = sequence * 3 + 2}, {header_record(1, 60, arp)})});
}

SflowInputOptions options(const std::string& listen) {
  SflowInputOptions o;
  o.listen = listen;
  o.receive_buffer_bytes = 1 << 20;
  return o;
}

class SflowUdpInputTest : public ::testing::TestWithParam<std::string> {};

TEST_P(SflowUdpInputTest, SamplesBecomeMetricsAndAgentCounters) {
  RecordingSink sink;
  SflowUdpInput input(options(GetParam()), sink);
  input.start();
  EXPECT_NE(input.bound_address(), GetParam());  // port 0 was replaced by the bound port
  const auto before = std::chrono::system_clock::now();
  for (std::uint32_t i = 1; i <= 4; ++i) send_to(input.bound_address(), three_samples(i));
  ASSERT_TRUE(eventually([&] { return sink.taken().size() == 8; })) << sink.taken().size();
  const auto after = std::chrono::system_clock::now();

  const std::vector<Metric> taken = sink.taken();
  const Metric& tcp = taken[0];
  EXPECT_EQ(tcp.source_ip, "10.0.0.1");
  EXPECT_EQ(tcp.dest_port, 443);
  EXPECT_EQ(tcp.protocol, "6");
  EXPECT_EQ(tcp.packets, 100u);
  EXPECT_EQ(tcp.bytes, 100'000u);
  EXPECT_EQ(tcp.flows, 1u);
  EXPECT_GE(tcp.timestamp, std::chrono::time_point_cast<std::chrono::milliseconds>(before));  // arrival time
  EXPECT_LE(tcp.timestamp, after);
  const Metric& unscaled = taken[1];
  EXPECT_EQ(unscaled.packets, 1u);
  EXPECT_EQ(unscaled.bytes, 90u);

  // Agent counters are published every 200 ms: wait for the publication that shows all four.
  ASSERT_TRUE(eventually([&] {
    const auto agents = input.stats().agents;
    return agents.size() == 1 && agents[0].datagrams == 4;
  }));
  const SflowInputStats stats = input.stats();
  EXPECT_EQ(stats.input.datagrams, 4u);
  EXPECT_EQ(stats.input.records, 8u);
  EXPECT_EQ(stats.input.records_dropped, 0u);
  const sflow::AgentStats& agent = stats.agents[0];
  EXPECT_EQ(agent.agent, "192.0.2.1");  // the datagram's agent address, not the UDP source
  EXPECT_EQ(agent.sub_agent, 7u);
  EXPECT_EQ(agent.samples, 12u);
  EXPECT_EQ(agent.records, 8u);
  EXPECT_EQ(agent.unscaled, 4u);
  EXPECT_EQ(agent.not_ip, 4u);
  EXPECT_EQ(agent.datagram_sequence_gaps, 0u);
  EXPECT_EQ(agent.sample_sequence_gaps, 0u);

  const std::string text =
      prometheus::TextSerializer().Serialize(server::sflow_metrics([&] { return input.stats(); })->Collect());
  EXPECT_NE(text.find("flowmetrics_sflow_records_total{agent=\"192.0.2.1\",sub_agent=\"7\"} 8"), std::string::npos)
      << text;
  EXPECT_NE(text.find("flowmetrics_sflow_datagrams_total 4"), std::string::npos) << text;
  input.stop();
}

TEST_P(SflowUdpInputTest, ASaturatedSinkCountsDrops) {
  RecordingSink sink;
  sink.saturated_flag = true;
  SflowUdpInput input(options(GetParam()), sink);
  input.start();
  send_to(input.bound_address(), three_samples(1));
  ASSERT_TRUE(eventually([&] { return sink.dropped.load() == 2; })) << sink.dropped.load();
  EXPECT_TRUE(sink.taken().empty());
  EXPECT_EQ(input.stats().input.records_dropped, 2u);
  input.stop();
}

INSTANTIATE_TEST_SUITE_P(Loopback, SflowUdpInputTest, ::testing::Values("127.0.0.1:0", "[::1]:0"),
                         [](const auto& param) { return param.param.starts_with('[') ? "ipv6" : "ipv4"; });

}  // namespace
}  // namespace flowmetrics::ingest
