#include "netflow/flow_decoder.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>

#include <array>
#include <cstring>
#include <memory>
#include <unordered_map>

#include "netflow/byte_reader.hpp"
#include "netflow/exporter_state.hpp"
#include "netflow/ipfix.hpp"
#include "netflow/netflow_v5.hpp"
#include "netflow/netflow_v9.hpp"

namespace flowmetrics::netflow {
namespace {

// At most this many malformed-datagram warnings per second over all exporters, and one per
// exporter every kLogIntervalMs; the rest are counted and reported with the next warning.
constexpr int kMaxLogsPerSecond = 10;
constexpr std::int64_t kLogIntervalMs = 10'000;

struct ExporterKey {
  std::uint8_t address[16] = {};
  std::uint32_t domain = 0;
  std::uint16_t version = 0;
  std::uint8_t family = 0;  // 4 or 6; 0 for an unknown address family

  bool operator==(const ExporterKey& other) const {
    return domain == other.domain && version == other.version && family == other.family &&
           std::memcmp(address, other.address, sizeof(address)) == 0;
  }
};

struct ExporterKeyHash {
  std::size_t operator()(const ExporterKey& key) const noexcept {
    std::uint64_t a = 0;
    std::uint64_t b = 0;
    std::memcpy(&a, key.address, 8);
    std::memcpy(&b, key.address + 8, 8);
    std::uint64_t h = a * 0x9e3779b97f4a7c15ull ^ (b + 0x632be59bd9b4e019ull);
    h ^= (std::uint64_t{key.domain} << 24) ^ (std::uint64_t{key.version} << 8) ^ key.family;
    h *= 0xff51afd7ed558ccdull;
    return static_cast<std::size_t>(h ^ (h >> 32));
  }
};

ExporterKey key_of(const sockaddr_storage& address) {
  ExporterKey key;
  if (address.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(address);
    std::memcpy(key.address, &v4.sin_addr, 4);
    key.family = 4;
  } else if (address.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(address);
    if (IN6_IS_ADDR_V4MAPPED(&v6.sin6_addr)) {  // a dual-stack socket: show the IPv4 exporter
      std::memcpy(key.address, reinterpret_cast<const std::uint8_t*>(&v6.sin6_addr) + 12, 4);
      key.family = 4;
    } else {
      std::memcpy(key.address, &v6.sin6_addr, 16);
      key.family = 6;
    }
  }
  return key;
}

std::string exporter_text(const ExporterKey& key) {
  if (key.family == 4) {
    std::array<std::uint8_t, 16> bytes{};
    std::memcpy(bytes.data(), key.address, 4);
    return render_ip(bytes, false);
  }
  if (key.family == 6) {
    char text[INET6_ADDRSTRLEN];
    if (inet_ntop(AF_INET6, key.address, text, sizeof(text)) != nullptr) return "[" + std::string(text) + "]";
  }
  return "unknown";
}

std::int64_t millis(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace

struct FlowDecoder::State {
  explicit State(DecoderOptions o) : options(o), overflow(0) { overflow.stats.exporter = "overflow"; }

  ExporterState* find_or_add(const ExporterKey& key) {
    if (last != nullptr && key == last_key) return last;
    auto it = exporters.find(key);
    if (it == exporters.end()) {
      if (exporters.size() >= options.max_exporters) return &overflow;
      auto state = std::make_unique<ExporterState>(options.max_templates_per_exporter);
      state->stats.exporter = exporter_text(key);
      state->stats.domain = key.domain;
      state->stats.version = key.version;
      it = exporters.emplace(key, std::move(state)).first;
    }
    last_key = key;
    last = it->second.get();
    return last;
  }

  void log_malformed(ExporterState& state, const char* reason, std::int64_t now_ms) {
    ++state.unlogged;
    if (state.last_log_ms != kNoTime && now_ms - state.last_log_ms < kLogIntervalMs) return;
    if (now_ms / 1000 != log_second) {
      log_second = now_ms / 1000;
      logs_this_second = 0;
    }
    if (logs_this_second >= kMaxLogsPerSecond) return;
    ++logs_this_second;
    state.last_log_ms = now_ms;
    spdlog::warn(
        "netflow: malformed datagram from exporter {} (domain {}, version {}): {} ({} malformed since the last "
        "warning)",
        state.stats.exporter, state.stats.domain, state.stats.version, reason, state.unlogged);
    state.unlogged = 0;
  }

  DecoderOptions options;
  std::unordered_map<ExporterKey, std::unique_ptr<ExporterState>, ExporterKeyHash> exporters;
  ExporterState overflow;  // datagrams from exporters beyond max_exporters
  ExporterKey last_key;    // the exporter of the previous datagram, looked up without hashing
  ExporterState* last = nullptr;
  std::size_t held_total = 0;
  std::int64_t log_second = 0;
  int logs_this_second = 0;
};

FlowDecoder::FlowDecoder(DecoderOptions options) : state_(std::make_unique<State>(options)) {}

FlowDecoder::~FlowDecoder() = default;

void FlowDecoder::decode(const sockaddr_storage& exporter, std::span<const std::uint8_t> datagram,
                         std::chrono::system_clock::time_point received, std::vector<Metric>& out) {
  std::vector<FlowUpdate> updates;
  decode(exporter, datagram, received, updates);
  out.reserve(out.size() + updates.size());
  for (const FlowUpdate& u : updates) {
    MetricKey key = render_metric_key(u.key);
    Metric& m = out.emplace_back();
    m.source_ip = std::move(key.source_ip);
    m.dest_ip = std::move(key.dest_ip);
    m.source_port = key.source_port;
    m.dest_port = key.dest_port;
    // The protocol number as decimal text, as the decoder always gave it.
    m.protocol = std::to_string(u.key.protocol);
    m.timestamp = Timestamp(std::chrono::milliseconds(key.timestamp_ms));
    m.value = u.value;
    m.packets = u.packets;
    m.bytes = u.bytes;
    m.flows = u.flows;
  }
}

void FlowDecoder::decode(const sockaddr_storage& exporter, std::span<const std::uint8_t> datagram,
                         std::chrono::system_clock::time_point received, std::vector<FlowUpdate>& out) {
  State& s = *state_;
  ExporterKey key = key_of(exporter);
  const std::uint16_t version = datagram.size() >= 2 ? load_be16(datagram.data()) : 0;
  if (version == 9 && datagram.size() >= 20) {
    key.domain = load_be32(datagram.data() + 16);
  } else if (version == 10 && datagram.size() >= 16) {
    key.domain = load_be32(datagram.data() + 12);
  }
  key.version = version == 5 || version == 9 || version == 10 ? version : 0;
  ExporterState& state = *s.find_or_add(key);
  const std::int64_t now_ms = millis(received);
  ++state.stats.packets;
  state.last_seen_ms = now_ms;
  if (&state == &s.overflow) {
    ++state.stats.malformed;
    return;
  }

  DecodeEnv env{s.options, out, now_ms, s.held_total};
  const char* error = nullptr;
  switch (key.version) {
    case 5: error = decode_v5(state, datagram, env); break;
    case 9: error = decode_v9(state, datagram, env); break;
    case 10: error = decode_ipfix(state, datagram, env); break;
    default: error = datagram.size() < 2 ? "shorter than a version number" : "not NetFlow v5, v9 or IPFIX"; break;
  }
  if (error != nullptr) {
    ++state.stats.malformed;
    s.log_malformed(state, error, now_ms);
  }
}

void FlowDecoder::expire(std::chrono::system_clock::time_point now) {
  State& s = *state_;
  const std::int64_t now_ms = millis(now);
  const std::int64_t cutoff_ms = now_ms - s.options.template_wait.count();
  for (auto& [key, state] : s.exporters) expire_held(*state, cutoff_ms, s.held_total);
  if (s.options.exporter_timeout.count() > 0) {
    const std::int64_t idle_ms = now_ms - std::chrono::milliseconds(s.options.exporter_timeout).count();
    std::erase_if(s.exporters, [&](const auto& entry) {
      if (entry.second->last_seen_ms > idle_ms) return false;
      s.held_total -= entry.second->held_bytes;
      return true;
    });
    s.last = nullptr;
  }
}

std::vector<ExporterStats> FlowDecoder::stats() const {
  std::vector<ExporterStats> all;
  all.reserve(state_->exporters.size() + 1);
  for (const auto& [key, state] : state_->exporters) all.push_back(state->stats);
  if (state_->overflow.stats.packets > 0) all.push_back(state_->overflow.stats);
  return all;
}

}  // namespace flowmetrics::netflow
