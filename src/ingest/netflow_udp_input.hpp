#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ingest/input.hpp"
#include "ingest/netflow_input_stats.hpp"
#include "netflow/flow_decoder.hpp"
#include "pipeline/record_sink.hpp"

namespace flowmetrics::ingest {

struct NetflowInputOptions {
  std::string listen = "127.0.0.1:2055";
  // SO_RCVBUF asked for; 0 keeps the kernel's default. The kernel may grant less (Linux caps
  // it at net.core.rmem_max unless the process may use SO_RCVBUFFORCE) and reports double
  // what it grants, for its own bookkeeping: receive_buffer_bytes in the stats is that figure.
  std::size_t receive_buffer_bytes = 8 << 20;
  netflow::DecoderOptions decoder;
};

// NetFlow v5/v9 and IPFIX over UDP. One thread receives in batches (recvmmsg), decodes into
// a reused vector and hands the records to the sink a few thousand at a time under the input
// name "netflow". UDP cannot push back: while the sink is saturated, decoded records are
// counted with sink.drop() instead of submitted, so the socket is never left unread for long
// (template state stays current, and the kernel buffer keeps absorbing bursts).
class NetflowUdpInput final : public Input {
 public:
  NetflowUdpInput(NetflowInputOptions options, pipeline::RecordSink& sink);
  ~NetflowUdpInput() override;

  std::string name() const override { return "netflow"; }
  // Binds `listen` (IPv4 or [IPv6]); throws std::runtime_error naming the address.
  void start() override;
  // Stops within about 100 ms; records already decoded are handed to the sink first.
  void stop() override;
  std::string bound_address() const override { return bound_; }

  // A snapshot; the per-exporter part is refreshed by the receiving thread about every
  // 200 ms and at stop. Thread-safe.
  NetflowInputStats stats() const;

 private:
  void receive_loop();
  void hand_over(std::vector<Metric>& records);
  void publish_exporter_stats(const netflow::FlowDecoder& decoder);

  const NetflowInputOptions options_;
  pipeline::RecordSink& sink_;
  int fd_ = -1;
  std::string bound_;
  std::size_t receive_buffer_bytes_ = 0;  // set in start(), read-only afterwards
  bool kernel_drops_supported_ = false;   // set in start(), read-only afterwards
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> datagrams_{0};
  std::atomic<std::uint64_t> datagram_bytes_{0};
  std::atomic<std::uint64_t> records_{0};
  std::atomic<std::uint64_t> records_dropped_{0};
  std::atomic<std::uint64_t> kernel_drops_{0};
  mutable std::mutex mu_;
  std::vector<netflow::ExporterStats> exporters_;  // guarded by mu_
  std::thread receiver_;
};

}  // namespace flowmetrics::ingest
