#include "sflow/agent_table.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace flowmetrics::sflow {
namespace {

constexpr std::uint32_t kMaxGap = 1u << 20;

}  // namespace

bool AgentKey::operator==(const AgentKey& other) const noexcept {
  return sub_agent == other.sub_agent && family == other.family &&
         std::memcmp(address, other.address, sizeof(address)) == 0;
}

std::size_t AgentKeyHash::operator()(const AgentKey& key) const noexcept {
  std::uint64_t a = 0;
  std::uint64_t b = 0;
  std::memcpy(&a, key.address, 8);
  std::memcpy(&b, key.address + 8, 8);
  std::uint64_t h = a * 0x9e3779b97f4a7c15ull ^ (b + 0x632be59bd9b4e019ull);
  h ^= (std::uint64_t{key.sub_agent} << 8) ^ key.family;
  h *= 0xff51afd7ed558ccdull;
  return static_cast<std::size_t>(h ^ (h >> 32));
}

std::uint64_t SequenceTracker::observe(std::uint32_t sequence) noexcept {
  std::uint64_t missed = 0;
  if (known && sequence != next) {
    const std::uint32_t ahead = sequence - next;  // modulo 2^32
    if (ahead < kMaxGap) missed = ahead;
  }
  known = true;
  next = sequence + 1;
  return missed;
}

void AgentState::observe_sample(std::uint64_t source, std::uint32_t sequence, std::size_t max_sources) {
  auto it = sources.find(source);
  if (it == sources.end()) {
    if (sources.size() >= max_sources) return;
    it = sources.emplace(source, SequenceTracker{}).first;
  }
  stats.sample_sequence_gaps += it->second.observe(sequence);
}

AgentTable::AgentTable(std::size_t max_agents) : max_agents_(max_agents) {
  overflow_.stats.agent = "overflow";
}

AgentState& AgentTable::find_or_add(const AgentKey& key) {
  if (last_ != nullptr && key == last_key_) return *last_;
  auto it = agents_.find(key);
  if (it == agents_.end()) {
    if (agents_.size() >= max_agents_) return overflow_;
    auto state = std::make_unique<AgentState>();
    state->stats.agent = address_text(key.family & 0x7F, key.address);
    state->stats.sub_agent = key.sub_agent;
    it = agents_.emplace(key, std::move(state)).first;
  }
  last_key_ = key;
  last_ = it->second.get();
  return *last_;
}

void AgentTable::expire(std::int64_t cutoff_ms) {
  std::erase_if(agents_, [&](const auto& entry) { return entry.second->last_seen_ms <= cutoff_ms; });
  last_ = nullptr;
}

std::vector<AgentStats> AgentTable::stats() const {
  std::vector<AgentStats> all;
  all.reserve(agents_.size() + 1);
  for (const auto& [key, state] : agents_) all.push_back(state->stats);
  if (overflow_.stats.datagrams > 0) all.push_back(overflow_.stats);
  return all;
}

std::string address_text(std::uint8_t family, const std::uint8_t* address) {
  char text[INET6_ADDRSTRLEN];
  if (family == 4 && inet_ntop(AF_INET, address, text, sizeof(text)) != nullptr) return text;
  if (family == 6 && inet_ntop(AF_INET6, address, text, sizeof(text)) != nullptr) return "[" + std::string(text) + "]";
  return "unknown";
}

}  // namespace flowmetrics::sflow
