#pragma once

#include <atomic>
#include <cstddef>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "ingest/input.hpp"
#include "pipeline/record_sink.hpp"

namespace flowmetrics::ingest {

struct TcpInputOptions {
  std::string listen = "127.0.0.1:5170";
  std::size_t max_line_bytes = 65'536;
  std::size_t max_connections = 1'024;
};

// JSON lines over TCP: one metric object per line, any number of connections. There is no
// acknowledgement, so this input pushes back the only way TCP can: while the pipeline is
// saturated it stops reading, the kernel buffers fill and the sender blocks. A line longer
// than max_line_bytes is rejected (line_too_long) and skipped up to its newline. One thread
// per connection.
class TcpJsonInput final : public Input {
 public:
  TcpJsonInput(TcpInputOptions options, pipeline::RecordSink& sink);
  ~TcpJsonInput() override;

  std::string name() const override { return "tcp"; }
  void start() override;
  void stop() override;
  std::string bound_address() const override { return bound_; }

  std::size_t active_connections() const noexcept { return active_.load(); }

 private:
  void accept_loop();
  void serve(int fd);  // a connection's thread: read_records(), then close and hand the fd back
  void read_records(int fd);
  void reap_finished();

  const TcpInputOptions options_;
  pipeline::RecordSink& sink_;
  int listen_fd_ = -1;
  std::string bound_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> active_{0};
  std::thread acceptor_;
  std::mutex mu_;
  std::map<int, std::thread> connections_;  // by fd; guarded by mu_
  std::set<int> open_fds_;                  // connections still reading; guarded by mu_
  std::vector<int> finished_;               // fds whose thread ended, to join; guarded by mu_
};

}  // namespace flowmetrics::ingest
