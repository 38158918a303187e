// The TCP input against a sink whose spool fails to write: the connection is held (nothing
// more is read, nothing is dropped or taken) while submit() answers io_error, and every line
// is taken exactly once when the spool writes again.
#include "ingest/tcp_json_input.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include "test_database.hpp"  // eventually()

namespace flowmetrics::ingest {
namespace {

using namespace std::chrono_literals;
using flowmetrics::testing::eventually;

class FailingSink : public pipeline::RecordSink {
 public:
  pipeline::Admission submit(std::span<Metric> metrics, std::string_view,
                             pipeline::Acknowledgement* = nullptr) override {
    ++submits;
    if (io_failed) return {pipeline::Admission::io_error, "fsync segment: Input/output error"};
    taken += metrics.size();
    return pipeline::Admission::accepted;
  }
  void reject(std::string_view, std::string_view, std::size_t) override { ADD_FAILURE() << "reject"; }
  bool saturated() const override { return io_failed; }
  std::optional<std::string> io_error() const override {
    if (io_failed) return "fsync segment: Input/output error";
    return std::nullopt;
  }
  bool wait_for_capacity(std::chrono::milliseconds timeout) override {
    ++waits;
    if (io_failed) std::this_thread::sleep_for(std::min(timeout, std::chrono::milliseconds(10)));
    return !io_failed;
  }
  void drop(std::string_view, std::size_t count, std::string_view) override { dropped += count; }

  std::atomic<bool> io_failed{false};
  std::atomic<std::size_t> submits{0}, waits{0}, taken{0}, dropped{0};
};

std::string line(int i) {
  return R"({"source_ip":"10.0.0.1","dest_ip":"10.0.0.2","source_port":)" + std::to_string(1000 + i) +
         R"(,"dest_port":443,"protocol":"tcp","timestamp":1732530000,"value":1})" + "\n";
}

int connect_to(const std::string& address) {
  const auto colon = address.rfind(':');
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<std::uint16_t>(std::stoi(address.substr(colon + 1))));
  ::inet_pton(AF_INET, address.substr(0, colon).c_str(), &to.sin_addr);
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0 || ::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof(to)) != 0)
    throw std::runtime_error("cannot connect");
  return fd;
}

TEST(TcpJsonInput, ASpoolIoErrorHoldsTheConnectionAndLosesNothing) {
  FailingSink sink;
  TcpInputOptions options;
  options.listen = "127.0.0.1:0";
  TcpJsonInput input(options, sink);
  input.start();
  const int fd = connect_to(input.bound_address());
  std::string first;
  for (int i = 0; i < 10; ++i) first += line(i);
  ASSERT_EQ(::write(fd, first.data(), first.size()), static_cast<ssize_t>(first.size()));
  ASSERT_TRUE(eventually([&] { return sink.taken.load() == 10; }));

  sink.io_failed = true;
  std::string second;
  for (int i = 10; i < 30; ++i) second += line(i);
  ASSERT_EQ(::write(fd, second.data(), second.size()), static_cast<ssize_t>(second.size()));
  // Held: the input waits for the spool rather than taking or dropping anything.
  ASSERT_TRUE(eventually([&] { return sink.waits.load() > 5; }));
  EXPECT_EQ(sink.taken.load(), 10u);
  EXPECT_EQ(sink.dropped.load(), 0u);

  sink.io_failed = false;
  ASSERT_TRUE(eventually([&] { return sink.taken.load() == 30; })) << sink.taken.load();
  ::close(fd);
  input.stop();
  EXPECT_EQ(sink.taken.load(), 30u);
  EXPECT_EQ(sink.dropped.load(), 0u);
}

}  // namespace
}  // namespace flowmetrics::ingest
