#include "ingest/sflow_udp_input.hpp"

#include <mutex>

#include "sflow/metric_adapter.hpp"

namespace flowmetrics::ingest {

// Decodes into FlowSamples, then adapts each to the pipeline's binary record. The input calls
// it from its receiving thread; SflowUdpInput keeps a second reference to read what publish()
// made visible.
class SflowUdpInput::Decoder final : public DatagramDecoder {
 public:
  explicit Decoder(const sflow::DecoderOptions& options) : decoder_(options) {}

  void decode(const sockaddr_storage& sender, std::span<const std::uint8_t> datagram,
              std::chrono::system_clock::time_point received, std::vector<FlowUpdate>& out) override {
    samples_.clear();
    decoder_.decode(sender, datagram, received, samples_);
    for (const sflow::FlowSample& sample : samples_) {
      // The arrival time is the only thing that could fall outside the key's range (years
      // 1970 to 2262): a clock that wrong makes no usable record.
      if (sflow::to_flow_update(sample, received, out.emplace_back()) != KeyRejection::none) out.pop_back();
    }
  }
  void expire(std::chrono::system_clock::time_point now) override { decoder_.expire(now); }
  void publish() override {
    std::vector<sflow::AgentStats> snapshot = decoder_.stats();
    std::lock_guard lock(mu_);
    agents_.swap(snapshot);
  }
  std::vector<sflow::AgentStats> agents() const {
    std::lock_guard lock(mu_);
    return agents_;
  }

 private:
  sflow::SflowDecoder decoder_;             // receiving thread only
  std::vector<sflow::FlowSample> samples_;  // receiving thread only; reused
  mutable std::mutex mu_;
  std::vector<sflow::AgentStats> agents_;  // guarded by mu_
};

SflowUdpInput::SflowUdpInput(SflowInputOptions options, pipeline::RecordSink& sink) {
  auto decoder = std::make_shared<Decoder>(options.decoder);
  decoder_view_ = decoder;
  input_ = std::make_unique<UdpDatagramInput>(
      UdpInputOptions{"sflow", options.listen, options.receive_buffer_bytes, options.max_queued_records},
      std::move(decoder), sink);
}

SflowUdpInput::~SflowUdpInput() {
  input_->stop();
}

SflowInputStats SflowUdpInput::stats() const {
  return {input_->stats(), decoder_view_->agents()};
}

}  // namespace flowmetrics::ingest
