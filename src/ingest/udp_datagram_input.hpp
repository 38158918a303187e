#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ingest/datagram_decoder.hpp"
#include "ingest/input.hpp"
#include "pipeline/record_sink.hpp"

namespace flowmetrics::ingest {

struct UdpInputOptions {
  std::string name;  // the input's name: in logs, in the sink's counters ("netflow", "sflow")
  std::string listen;
  // SO_RCVBUF asked for; 0 keeps the kernel's default. The kernel may grant less (Linux caps
  // it at net.core.rmem_max unless the process may use SO_RCVBUFFORCE) and reports double
  // what it grants, for its own bookkeeping: receive_buffer_bytes in the stats is that figure.
  std::size_t receive_buffer_bytes = 8 << 20;
  // Decoded records waiting for the sink, at most; beyond it the receiving thread waits (and
  // datagrams wait in the socket's receive buffer) while the sink still takes records.
  std::size_t max_queued_records = 1 << 18;
};

// The input's own totals, for /metrics (the decoder keeps its per-source counters).
struct UdpInputStats {
  std::uint64_t datagrams = 0;        // datagrams received from the socket
  std::uint64_t datagram_bytes = 0;   // their payload bytes
  std::uint64_t records = 0;          // records decoded and handed on (submitted or dropped)
  std::uint64_t records_dropped = 0;  // of those, dropped because the sink refused them
  // Datagrams the kernel dropped for a full receive buffer (SO_RXQ_OVFL, the socket's
  // counter as of the last datagram received); kernel_drops_supported is false where the
  // platform does not report it.
  std::uint64_t kernel_drops = 0;
  bool kernel_drops_supported = false;
  std::size_t receive_buffer_bytes = 0;  // as the kernel reports it (getsockopt SO_RCVBUF)
};

// A flow protocol over UDP (NetFlow/IPFIX, sFlow), decoded by a DatagramDecoder. One thread
// receives in batches (recvmmsg) and decodes into chunks of a few thousand binary records
// (FlowUpdate: validated at this edge); a second thread hands the chunks to the sink
// (submit_flows) under the input's name, merging what queued up while the previous call ran
// (so a sink that syncs to disk per call syncs once for many chunks).
//
// Where back-pressure lands: the only buffer that may lose records is the socket's receive
// buffer, where the kernel counts every drop (SO_RXQ_OVFL, kernel_drops). When more than
// max_queued_records wait for the sink, the receiving thread stops reading until there is
// room, so the datagrams wait in the kernel instead (in order: NetFlow templates stay ahead
// of their data). Records are dropped inside the process (counted with sink.drop(), by
// reason) only when the sink refuses them: the spool is full or stopped by an I/O error.
class UdpDatagramInput final : public Input {
 public:
  // `decoder` is called from the receiving thread only; the caller may keep a reference to
  // read what it publishes.
  UdpDatagramInput(UdpInputOptions options, std::shared_ptr<DatagramDecoder> decoder, pipeline::RecordSink& sink);
  ~UdpDatagramInput() override;

  std::string name() const override { return options_.name; }
  // Binds `listen` (IPv4 or [IPv6]); throws std::runtime_error naming the address.
  void start() override;
  // Stops within about 100 ms; records already decoded are handed to the sink first.
  void stop() override;
  std::string bound_address() const override { return bound_; }

  // A snapshot. Thread-safe.
  UdpInputStats stats() const;

 private:
  void receive_loop();
  void submit_loop();
  // Queues `records` for the submitting thread (waiting for room while the sink takes records,
  // dropping them when it refuses) and leaves `records` empty, with capacity, for the next chunk.
  void hand_over(std::vector<FlowUpdate>& records);
  void drop(std::size_t count, std::string_view reason);

  const UdpInputOptions options_;
  std::shared_ptr<DatagramDecoder> decoder_;  // used by the receiving thread only
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

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::condition_variable queue_space_;        // the submitter took chunks
  std::deque<std::vector<FlowUpdate>> queue_;  // chunks for the submitter; guarded by queue_mu_
  std::size_t queued_records_ = 0;             // guarded by queue_mu_
  bool receiver_done_ = false;                 // guarded by queue_mu_

  std::thread receiver_;
  std::thread submitter_;
};

}  // namespace flowmetrics::ingest
