#include "ingest/netflow_udp_input.hpp"

#include <mutex>

namespace flowmetrics::ingest {

// netflow::FlowDecoder behind the DatagramDecoder interface. The input calls it from its
// receiving thread; NetflowUdpInput keeps a second reference to read what publish() made
// visible.
class NetflowUdpInput::Decoder final : public DatagramDecoder {
 public:
  explicit Decoder(const netflow::DecoderOptions& options) : decoder_(options) {}

  void decode(const sockaddr_storage& sender, std::span<const std::uint8_t> datagram,
              std::chrono::system_clock::time_point received, std::vector<FlowUpdate>& out) override {
    decoder_.decode(sender, datagram, received, out);
  }
  void expire(std::chrono::system_clock::time_point now) override { decoder_.expire(now); }
  void publish() override {
    std::vector<netflow::ExporterStats> snapshot = decoder_.stats();
    std::lock_guard lock(mu_);
    exporters_.swap(snapshot);
  }
  std::vector<netflow::ExporterStats> exporters() const {
    std::lock_guard lock(mu_);
    return exporters_;
  }

 private:
  netflow::FlowDecoder decoder_;  // receiving thread only
  mutable std::mutex mu_;
  std::vector<netflow::ExporterStats> exporters_;  // guarded by mu_
};

NetflowUdpInput::NetflowUdpInput(NetflowInputOptions options, pipeline::RecordSink& sink) {
  auto decoder = std::make_shared<Decoder>(options.decoder);
  decoder_view_ = decoder;
  input_ = std::make_unique<UdpDatagramInput>(
      UdpInputOptions{"netflow", options.listen, options.receive_buffer_bytes, options.max_queued_records},
      std::move(decoder), sink);
}

NetflowUdpInput::~NetflowUdpInput() {
  input_->stop();
}

NetflowInputStats NetflowUdpInput::stats() const {
  return {input_->stats(), decoder_view_->exporters()};
}

}  // namespace flowmetrics::ingest
