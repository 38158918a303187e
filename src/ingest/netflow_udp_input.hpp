#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "ingest/input.hpp"
#include "ingest/udp_datagram_input.hpp"
#include "netflow/flow_decoder.hpp"
#include "pipeline/record_sink.hpp"

namespace flowmetrics::ingest {

struct NetflowInputOptions {
  std::string listen = "127.0.0.1:2055";
  std::size_t receive_buffer_bytes = 8 << 20;  // as UdpInputOptions
  std::size_t max_queued_records = 1 << 18;
  netflow::DecoderOptions decoder;
};

// What the NetFlow input has seen, for /metrics: its own totals and the decoder's per exporter.
struct NetflowInputStats {
  UdpInputStats input;
  std::vector<netflow::ExporterStats> exporters;  // refreshed by the receiving thread every ~200 ms and at stop
};

// NetFlow v5/v9 and IPFIX over UDP: a UdpDatagramInput named "netflow" whose decoder is
// netflow::FlowDecoder (one FlowUpdate per flow record; where back-pressure lands is
// UdpDatagramInput's comment).
class NetflowUdpInput final : public Input {
 public:
  NetflowUdpInput(NetflowInputOptions options, pipeline::RecordSink& sink);
  ~NetflowUdpInput() override;

  std::string name() const override { return "netflow"; }
  // Binds `listen` (IPv4 or [IPv6]); throws std::runtime_error naming the address.
  void start() override { input_->start(); }
  // Stops within about 100 ms; records already decoded are handed to the sink first.
  void stop() override { input_->stop(); }
  std::string bound_address() const override { return input_->bound_address(); }

  // A snapshot. Thread-safe.
  NetflowInputStats stats() const;

  class Decoder;  // the DatagramDecoder, in the .cpp

 private:
  std::shared_ptr<const Decoder> decoder_view_;  // its published statistics
  std::unique_ptr<UdpDatagramInput> input_;
};

}  // namespace flowmetrics::ingest
