#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "ingest/input.hpp"
#include "ingest/udp_datagram_input.hpp"
#include "pipeline/record_sink.hpp"
#include "sflow/sflow_decoder.hpp"

namespace flowmetrics::ingest {

struct SflowInputOptions {
  std::string listen = "127.0.0.1:6343";
  std::size_t receive_buffer_bytes = 8 << 20;  // as UdpInputOptions
  std::size_t max_queued_records = 1 << 18;
  sflow::DecoderOptions decoder;
};

// What the sFlow input has seen, for /metrics.
struct SflowInputStats {
  UdpInputStats input;
  std::vector<sflow::AgentStats> agents;  // refreshed by the receiving thread every ~200 ms and at stop
};

// sFlow v5 over UDP: a UdpDatagramInput named "sflow" whose decoder is sflow::SflowDecoder,
// each usable flow sample handed to the sink as one record (sflow/metric_adapter.hpp) stamped
// with its datagram's arrival time.
class SflowUdpInput final : public Input {
 public:
  SflowUdpInput(SflowInputOptions options, pipeline::RecordSink& sink);
  ~SflowUdpInput() override;

  std::string name() const override { return "sflow"; }
  void start() override { input_->start(); }
  void stop() override { input_->stop(); }
  std::string bound_address() const override { return input_->bound_address(); }

  // A snapshot. Thread-safe.
  SflowInputStats stats() const;

  class Decoder;  // the DatagramDecoder, in the .cpp

 private:
  std::shared_ptr<const Decoder> decoder_view_;  // its published statistics
  std::unique_ptr<UdpDatagramInput> input_;
};

}  // namespace flowmetrics::ingest
