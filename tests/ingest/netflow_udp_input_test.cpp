// The NetFlow UDP input against a recording sink: datagrams from a real socket reach the sink
// as metrics (IPv4 and IPv6 listeners), a saturated or full sink turns them into counted
// drops, stop() is prompt, and the stats add up.
#include "ingest/netflow_udp_input.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "test_database.hpp"  // eventually()

namespace flowmetrics::ingest {
namespace {

using namespace std::chrono_literals;
using flowmetrics::testing::eventually;

class RecordingSink : public pipeline::RecordSink {
 public:
  pipeline::Admission submit(std::span<Metric> metrics, std::string_view input,
                             pipeline::Acknowledgement* = nullptr) override {
    std::lock_guard lock(mu_);
    if (full) return pipeline::Admission::full;
    if (io_failed) return {pipeline::Admission::io_error, "write segment: No space left on device"};
    EXPECT_EQ(input, "netflow");
    taken_.insert(taken_.end(), metrics.begin(), metrics.end());
    ++calls_;
    return pipeline::Admission::accepted;
  }
  void reject(std::string_view, std::string_view, std::size_t) override { ADD_FAILURE() << "reject"; }
  bool saturated() const override { return saturated_flag || saturated_by_io_error; }
  std::optional<std::string> io_error() const override {
    if (saturated_by_io_error) return "fsync segment: Input/output error";
    return std::nullopt;
  }
  bool wait_for_capacity(std::chrono::milliseconds) override { return true; }
  void drop(std::string_view input, std::size_t count, std::string_view reason) override {
    EXPECT_EQ(input, "netflow");
    dropped += count;
    if (reason == "spool_error") dropped_for_error += count;
  }

  std::vector<Metric> taken() {
    std::lock_guard lock(mu_);
    return taken_;
  }
  std::size_t calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }

  std::atomic<bool> saturated_flag{false};
  std::atomic<bool> full{false};
  std::atomic<bool> io_failed{false};              // submit() answers io_error
  std::atomic<bool> saturated_by_io_error{false};  // saturated(), and io_error() says why
  std::atomic<std::size_t> dropped{0};
  std::atomic<std::size_t> dropped_for_error{0};

 private:
  std::mutex mu_;
  std::vector<Metric> taken_;
  std::size_t calls_ = 0;
};

void put16(std::vector<std::uint8_t>& b, std::uint16_t v) {
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v));
}
void put32(std::vector<std::uint8_t>& b, std::uint32_t v) {
  put16(b, static_cast<std::uint16_t>(v >> 16));
  put16(b, static_cast<std::uint16_t>(v));
}

// A NetFlow v5 datagram of `records` TCP flows 10.0.0.1:(1000+i) -> 10.0.0.2:443, 2 packets
// and 100 bytes each, ending at 2024-11-25T10:20:00Z.
std::vector<std::uint8_t> v5_datagram(std::uint32_t sequence, int records) {
  std::vector<std::uint8_t> b;
  const std::uint32_t uptime = 100'000, secs = 1'732'530'000;
  put16(b, 5);
  put16(b, static_cast<std::uint16_t>(records));
  put32(b, uptime);
  put32(b, secs);
  put32(b, 0);
  put32(b, sequence);
  put16(b, 0);  // engine type, id
  put16(b, 0);  // sampling
  for (int i = 0; i < records; ++i) {
    put32(b, 0x0a000001);
    put32(b, 0x0a000002);
    put32(b, 0);  // next hop
    put32(b, 0);  // input, output
    put32(b, 2);
    put32(b, 100);
    put32(b, uptime - 500);
    put32(b, uptime);
    put16(b, static_cast<std::uint16_t>(1000 + i));
    put16(b, 443);
    b.push_back(0);
    b.push_back(0x18);
    b.push_back(6);
    b.push_back(0);
    put32(b, 0);  // AS numbers
    put32(b, 0);  // masks, padding
  }
  return b;
}

void send_to(const std::string& bound, const std::vector<std::uint8_t>& datagram) {
  const bool v6 = bound.starts_with('[');
  const int port = std::stoi(bound.substr(bound.rfind(':') + 1));
  const int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
  sockaddr_storage to{};
  socklen_t length = 0;
  if (v6) {
    auto& a = reinterpret_cast<sockaddr_in6&>(to);
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(static_cast<std::uint16_t>(port));
    a.sin6_addr = in6addr_loopback;
    length = sizeof(a);
  } else {
    auto& a = reinterpret_cast<sockaddr_in&>(to);
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    length = sizeof(a);
  }
  ASSERT_EQ(::sendto(fd, datagram.data(), datagram.size(), 0, reinterpret_cast<sockaddr*>(&to), length),
            static_cast<ssize_t>(datagram.size()));
  ::close(fd);
}

std::size_t rmem_max() {
  std::ifstream in("/proc/sys/net/core/rmem_max");
  std::size_t bytes = 0;
  in >> bytes;
  return bytes;
}

NetflowInputOptions options(const std::string& listen) {
  NetflowInputOptions o;
  o.listen = listen;
  o.receive_buffer_bytes = 1 << 20;
  return o;
}

class NetflowUdpInputTest : public ::testing::TestWithParam<std::string> {};

TEST_P(NetflowUdpInputTest, DatagramsBecomeMetricsInTheSink) {
  RecordingSink sink;
  NetflowUdpInput input(options(GetParam()), sink);
  input.start();
  EXPECT_NE(input.bound_address(), GetParam());  // port 0 was replaced by the bound port
  for (std::uint32_t i = 0; i < 5; ++i) send_to(input.bound_address(), v5_datagram(i * 30, 30));
  ASSERT_TRUE(eventually([&] { return sink.taken().size() == 150; })) << sink.taken().size();

  const Metric m = sink.taken().front();
  EXPECT_EQ(m.source_ip, "10.0.0.1");
  EXPECT_EQ(m.dest_ip, "10.0.0.2");
  EXPECT_EQ(m.source_port, 1000);
  EXPECT_EQ(m.dest_port, 443);
  EXPECT_EQ(m.protocol, "6");
  EXPECT_EQ(m.bytes, 100u);
  EXPECT_EQ(m.packets, 2u);
  EXPECT_EQ(m.flows, 1u);
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(m.timestamp.time_since_epoch()).count(),
            1'732'530'000'000);

  // Exporter stats are published every 200 ms: a publication between two of the datagrams
  // shows part of them, so wait for the one that shows all five.
  ASSERT_TRUE(eventually([&] {
    const auto exporters = input.stats().exporters;
    return exporters.size() == 1 && exporters[0].packets == 5;
  }));
  const NetflowInputStats stats = input.stats();
  EXPECT_EQ(stats.input.datagrams, 5u);
  EXPECT_EQ(stats.input.datagram_bytes, 5u * (24 + 30 * 48));
  EXPECT_EQ(stats.input.records, 150u);
  EXPECT_EQ(stats.input.records_dropped, 0u);
  // Linux reports twice the size granted; without CAP_NET_ADMIN, net.core.rmem_max caps it.
  EXPECT_GE(stats.input.receive_buffer_bytes,
            ::geteuid() == 0 ? 1u << 20 : std::min<std::size_t>(1u << 20, rmem_max()));
  ASSERT_EQ(stats.exporters.size(), 1u);
  EXPECT_EQ(stats.exporters[0].exporter, GetParam().starts_with('[') ? "[::1]" : "127.0.0.1");
  EXPECT_EQ(stats.exporters[0].version, 5);
  EXPECT_EQ(stats.exporters[0].packets, 5u);
  EXPECT_EQ(stats.exporters[0].records, 150u);
  EXPECT_EQ(stats.exporters[0].sequence_gaps, 0u);
  EXPECT_EQ(sink.dropped.load(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Loopback, NetflowUdpInputTest, ::testing::Values("127.0.0.1:0", "[::1]:0"),
                         [](const auto& param_info) { return param_info.param.starts_with('[') ? "ipv6" : "ipv4"; });

TEST(NetflowUdpInput, ASaturatedOrFullSinkCountsDrops) {
  RecordingSink sink;
  NetflowUdpInput input(options("127.0.0.1:0"), sink);
  input.start();
  sink.saturated_flag = true;
  send_to(input.bound_address(), v5_datagram(0, 10));
  ASSERT_TRUE(eventually([&] { return sink.dropped.load() == 10; })) << sink.dropped.load();
  sink.saturated_flag = false;
  sink.full = true;  // saturated() said no, submit() refused all the same
  send_to(input.bound_address(), v5_datagram(10, 20));
  ASSERT_TRUE(eventually([&] { return sink.dropped.load() == 30; })) << sink.dropped.load();
  sink.full = false;
  send_to(input.bound_address(), v5_datagram(30, 5));
  ASSERT_TRUE(eventually([&] { return sink.taken().size() == 5; }));
  EXPECT_EQ(input.stats().input.records, 35u);
  EXPECT_EQ(input.stats().input.records_dropped, 30u);
}

TEST(NetflowUdpInput, ASpoolIoErrorCountsDropsAsSpoolError) {
  RecordingSink sink;
  NetflowUdpInput input(options("127.0.0.1:0"), sink);
  input.start();
  sink.saturated_by_io_error = true;
  send_to(input.bound_address(), v5_datagram(0, 10));
  ASSERT_TRUE(eventually([&] { return sink.dropped_for_error.load() == 10; })) << sink.dropped_for_error.load();
  sink.saturated_by_io_error = false;
  sink.io_failed = true;  // saturated() said no, submit() failed to write all the same
  send_to(input.bound_address(), v5_datagram(10, 20));
  ASSERT_TRUE(eventually([&] { return sink.dropped_for_error.load() == 30; })) << sink.dropped_for_error.load();
  sink.io_failed = false;
  send_to(input.bound_address(), v5_datagram(30, 5));
  ASSERT_TRUE(eventually([&] { return sink.taken().size() == 5; }));
  EXPECT_EQ(sink.dropped.load(), 30u);
  EXPECT_EQ(input.stats().input.records_dropped, 30u);
}

TEST(NetflowUdpInput, StopIsPromptAndHandsOverWhatWasRead) {
  RecordingSink sink;
  NetflowUdpInput input(options("127.0.0.1:0"), sink);
  input.start();
  send_to(input.bound_address(), v5_datagram(0, 3));
  // Read by the input (its records possibly still waiting for their chunk): loopback can hand
  // a datagram to the socket after sendto() returns when softirqs run late on a loaded machine,
  // and one that arrives after the stop was not "sent before" it.
  ASSERT_TRUE(eventually([&] { return input.stats().input.datagrams == 1; }));
  const auto start = std::chrono::steady_clock::now();
  input.stop();
  // Bounded by the input's poll timeout, not by traffic: a generous bound, not a speed claim.
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  EXPECT_EQ(sink.taken().size(), 3u);  // read before the stop returned, or taken by it
  input.stop();                        // idempotent
}

TEST(NetflowUdpInput, ABadAddressOrAPortInUseIsAnError) {
  RecordingSink sink;
  NetflowUdpInput first(options("127.0.0.1:0"), sink);
  first.start();
  NetflowUdpInput second(options(first.bound_address()), sink);
  try {
    second.start();
    FAIL() << "bound a port in use";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(first.bound_address()), std::string::npos) << e.what();
  }
  NetflowUdpInput bad(options("nowhere"), sink);
  EXPECT_THROW(bad.start(), std::runtime_error);
}

TEST(NetflowUdpInput, MalformedDatagramsAreCountedNotFatal) {
  RecordingSink sink;
  NetflowUdpInput input(options("127.0.0.1:0"), sink);
  input.start();
  send_to(input.bound_address(), {0x00, 0x05, 0xff});                    // a truncated v5 header
  send_to(input.bound_address(), std::vector<std::uint8_t>(100, 0xee));  // no known version
  send_to(input.bound_address(), v5_datagram(0, 2));
  ASSERT_TRUE(eventually([&] { return sink.taken().size() == 2; }));
  ASSERT_TRUE(eventually([&] {
    std::uint64_t malformed = 0;
    for (const auto& e : input.stats().exporters) malformed += e.malformed;
    return malformed >= 2;
  }));
  EXPECT_EQ(input.stats().input.datagrams, 3u);
}

}  // namespace
}  // namespace flowmetrics::ingest
