#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "sflow/agent_table.hpp"
#include "sflow/flow_sample.hpp"

namespace flowmetrics::sflow {

struct DecoderOptions {
  // Scale packets and bytes by each sample's sampling rate. A sample with rate 0 is stored
  // unscaled (and counted as such) either way.
  bool apply_sampling = true;
  // Agents (address, sub-agent id) tracked at once; datagrams of further agents are counted on
  // one entry named "overflow" and not decoded.
  std::size_t max_agents = 1024;
  // Source ids whose flow-sample sequence numbers are followed, per agent.
  std::size_t max_sources_per_agent = 4096;
  // An agent silent this long is forgotten by expire(). Zero: never.
  std::chrono::seconds agent_timeout{3600};
};

// Decodes sFlow version 5 datagrams (sflow.org, "sFlow Version 5", 2004) into FlowSamples.
//
// - Flow samples (0:1) and expanded flow samples (0:3) become one FlowSample each when a
//   packet record gives an IP five-tuple: a sampled header (0:1) with header protocol
//   Ethernet (1), IPv4 (11) or IPv6 (12), else a sampled IPv4 (0:3) or IPv6 (0:4) record. The
//   extended switch (0:1001) and extended router (0:1002) records fill the VLAN, next-hop and
//   mask fields. Other records are skipped.
// - packets = sampling rate, bytes = sampling rate * frame length (the sampled header's
//   frame_length, which for Ethernet includes the frame header and FCS; a sampled IPv4/IPv6
//   record's IP length), flows = 1. A rate of 0 (no rate given) leaves them unscaled: 1 and
//   the frame length, counted as `unscaled`.
// - Counter samples (0:2, 0:4) and other formats are counted and skipped.
// - Sequence numbers: the datagram's per agent, the flow sample's per source id (see
//   SequenceTracker).
// Never throws for bad input and never reads outside the datagram; what it cannot decode it
// counts against the agent (and logs, rate-limited). Memory is bounded by the options. Not
// thread-safe: one decoder per receiving thread.
class SflowDecoder {
 public:
  explicit SflowDecoder(DecoderOptions options = {});
  ~SflowDecoder();
  SflowDecoder(const SflowDecoder&) = delete;
  SflowDecoder& operator=(const SflowDecoder&) = delete;

  // Decodes one datagram received from `sender` at `received`, appending a FlowSample per
  // usable flow sample to `out`.
  void decode(const sockaddr_storage& sender, std::span<const std::uint8_t> datagram,
              std::chrono::system_clock::time_point received, std::vector<FlowSample>& out);

  // Forgets agents silent for agent_timeout. Call about once a second.
  void expire(std::chrono::system_clock::time_point now);

  // A snapshot of every agent's counters.
  std::vector<AgentStats> stats() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace flowmetrics::sflow
