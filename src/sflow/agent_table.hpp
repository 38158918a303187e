#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace flowmetrics::sflow {

// Counters for one sFlow agent: an agent address and a sub-agent id, as the datagrams name
// them (not the UDP source, which a relay may change).
struct AgentStats {
  std::string agent;                               // "192.0.2.1", "[2001:db8::1]", "overflow", or the UDP source
  std::uint32_t sub_agent = 0;                     //   of datagrams too broken to name their agent
  std::uint64_t datagrams = 0;                     // datagrams decoded (including malformed ones)
  std::uint64_t samples = 0;                       // flow samples (compact and expanded) read
  std::uint64_t records = 0;                       // of them, turned into records (the rest counted below)
  std::uint64_t unscaled = 0;                      // records with sampling rate 0: stored unscaled
  std::uint64_t unsupported_header_protocols = 0;  // samples whose header is not Ethernet/IPv4/IPv6
  std::uint64_t not_ip = 0;                  // samples with no IP packet: non-IP frames, cut headers, no packet record
  std::uint64_t counter_samples = 0;         // counter samples (compact and expanded), skipped
  std::uint64_t other_samples = 0;           // samples of other formats or enterprises, skipped
  std::uint64_t datagram_sequence_gaps = 0;  // datagrams missed (the agent's sequence numbers)
  std::uint64_t sample_sequence_gaps = 0;    // flow samples missed (per source id's sequence numbers)
  std::uint64_t malformed = 0;               // datagrams that failed to decode, in whole or part
};

// The identity of an agent.
struct AgentKey {
  std::uint8_t address[16] = {};
  std::uint32_t sub_agent = 0;
  std::uint8_t family = 0;  // 4 or 6 from the datagram; 0x80 | family: named by its UDP source

  bool operator==(const AgentKey& other) const noexcept;
};

struct AgentKeyHash {
  std::size_t operator()(const AgentKey& key) const noexcept;
};

// Sequence-number tracking: a forward jump below 2^20 counts as that many missed units (a
// reordered datagram counts once as a gap); a backward jump or a larger forward one is taken
// as a restart and only resynchronises.
struct SequenceTracker {
  bool known = false;
  std::uint32_t next = 0;
  // Returns the units missed before `sequence`, and expects `sequence + 1` next.
  std::uint64_t observe(std::uint32_t sequence) noexcept;
};

// What the decoder keeps about one agent. The per-source trackers are capped: sources beyond
// `max_sources` are not tracked (their gaps go uncounted; the cap bounds memory).
struct AgentState {
  AgentStats stats;
  SequenceTracker datagrams;
  std::unordered_map<std::uint64_t, SequenceTracker> sources;  // (source type << 32 | index)
  std::int64_t last_seen_ms = 0;

  void observe_sample(std::uint64_t source, std::uint32_t sequence, std::size_t max_sources);
};

// The agents, at most `max_agents` of them; further agents share one entry named "overflow"
// and their datagrams are counted there but not decoded. Not thread-safe.
class AgentTable {
 public:
  explicit AgentTable(std::size_t max_agents);

  // The agent's state (created on first sight), or the overflow entry when the table is full.
  AgentState& find_or_add(const AgentKey& key);
  bool is_overflow(const AgentState& state) const noexcept { return &state == &overflow_; }
  // Forgets agents not seen since `cutoff_ms`.
  void expire(std::int64_t cutoff_ms);
  std::vector<AgentStats> stats() const;

 private:
  std::size_t max_agents_;
  std::unordered_map<AgentKey, std::unique_ptr<AgentState>, AgentKeyHash> agents_;
  AgentState overflow_;
  AgentKey last_key_;
  AgentState* last_ = nullptr;  // the previous datagram's agent, found without hashing
};

// "192.0.2.1" or "[2001:db8::1]" for a 4- or 16-byte address.
std::string address_text(std::uint8_t family, const std::uint8_t* address);

}  // namespace flowmetrics::sflow
