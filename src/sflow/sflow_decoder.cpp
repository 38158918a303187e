#include "sflow/sflow_decoder.hpp"

#include <netinet/in.h>
#include <spdlog/spdlog.h>

#include <cstring>

#include "netflow/byte_reader.hpp"
#include "sflow/sampled_header.hpp"

namespace flowmetrics::sflow {
namespace {

using netflow::ByteReader;

// At most one malformed-datagram warning per interval over all agents; the rest are counted
// and reported with the next warning.
constexpr std::int64_t kLogIntervalMs = 1'000;
constexpr std::uint32_t kInternalInterface = 0x3FFFFFFF;

// Sample and record formats (enterprise 0).
constexpr std::uint32_t kFlowSample = 1;
constexpr std::uint32_t kCounterSample = 2;
constexpr std::uint32_t kFlowSampleExpanded = 3;
constexpr std::uint32_t kCounterSampleExpanded = 4;
constexpr std::uint32_t kRecordSampledHeader = 1;
constexpr std::uint32_t kRecordSampledIpv4 = 3;
constexpr std::uint32_t kRecordSampledIpv6 = 4;
constexpr std::uint32_t kRecordExtendedSwitch = 1001;
constexpr std::uint32_t kRecordExtendedRouter = 1002;

std::int64_t millis(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

AgentKey sender_key(const sockaddr_storage& sender) {
  AgentKey key;
  if (sender.ss_family == AF_INET) {
    std::memcpy(key.address, &reinterpret_cast<const sockaddr_in&>(sender).sin_addr, 4);
    key.family = 0x80 | 4;
  } else if (sender.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(sender);
    if (IN6_IS_ADDR_V4MAPPED(&v6.sin6_addr)) {
      std::memcpy(key.address, reinterpret_cast<const std::uint8_t*>(&v6.sin6_addr) + 12, 4);
      key.family = 0x80 | 4;
    } else {
      std::memcpy(key.address, &v6.sin6_addr, 16);
      key.family = 0x80 | 6;
    }
  }
  return key;
}

// The compact 32-bit interface encoding: two format bits and a 30-bit value.
Interface interface_of(std::uint32_t format, std::uint32_t value) {
  Interface i;
  i.index = value;
  switch (format) {
    case 0:
      i.kind = value == kInternalInterface ? InterfaceKind::internal
               : value == 0                ? InterfaceKind::unknown
                                           : InterfaceKind::ifindex;
      break;
    case 1: i.kind = InterfaceKind::discarded; break;
    case 2: i.kind = InterfaceKind::multiple; break;
    default: i.kind = InterfaceKind::unknown; break;
  }
  return i;
}

// An sFlow address: a type (1 IPv4, 2 IPv6) and the address.
bool read_address(ByteReader& r, std::uint8_t& family, std::uint8_t* address) {
  std::uint32_t type = 0;
  if (!r.u32(type)) return false;
  std::span<const std::uint8_t> bytes;
  if (type == 1) {
    family = 4;
    if (!r.bytes(4, bytes)) return false;
  } else if (type == 2) {
    family = 6;
    if (!r.bytes(16, bytes)) return false;
  } else {
    return false;
  }
  std::memcpy(address, bytes.data(), bytes.size());
  return true;
}

// What a flow sample's records gave.
enum class Packet : std::uint8_t { none, ok, unsupported, not_ip };

// Reads one flow sample's records into `sample`. Returns false when a record is malformed.
bool read_records(ByteReader& r, FlowSample& sample, Packet& packet) {
  std::uint32_t count = 0;
  if (!r.u32(count)) return false;
  Packet ip_record = Packet::none;  // a sampled IPv4/IPv6 record, used when no header decodes
  FlowSample from_record;
  for (std::uint32_t i = 0; i < count; ++i) {
    std::uint32_t format = 0;
    std::uint32_t length = 0;
    std::span<const std::uint8_t> body;
    if (!r.u32(format) || !r.u32(length) || !r.bytes(length, body)) return false;
    if ((format >> 12) != 0) continue;  // another enterprise's record
    ByteReader b(body);
    switch (format & 0xFFF) {
      case kRecordSampledHeader: {
        std::uint32_t protocol = 0;
        std::uint32_t frame_length = 0;
        std::uint32_t stripped = 0;
        std::uint32_t header_length = 0;
        std::span<const std::uint8_t> header;
        if (!b.u32(protocol) || !b.u32(frame_length) || !b.u32(stripped) || !b.u32(header_length) ||
            !b.bytes(header_length, header))
          return false;
        if (packet == Packet::ok) break;  // the first usable header counts
        FlowSample parsed = sample;
        parsed.header_protocol = protocol;
        parsed.frame_length = frame_length;
        switch (parse_sampled_header(protocol, header, parsed)) {
          case HeaderResult::ok:
            sample = parsed;
            packet = Packet::ok;
            break;
          case HeaderResult::unsupported_protocol: packet = Packet::unsupported; break;
          case HeaderResult::not_ip:
          case HeaderResult::truncated:
            if (packet == Packet::none) packet = Packet::not_ip;
            break;
        }
        break;
      }
      case kRecordSampledIpv4:
      case kRecordSampledIpv6: {
        const bool v6 = (format & 0xFFF) == kRecordSampledIpv6;
        std::uint32_t ip_length = 0;
        std::uint32_t protocol = 0;
        std::span<const std::uint8_t> src;
        std::span<const std::uint8_t> dst;
        std::uint32_t src_port = 0;
        std::uint32_t dst_port = 0;
        const std::size_t address_bytes = v6 ? 16 : 4;
        if (!b.u32(ip_length) || !b.u32(protocol) || !b.bytes(address_bytes, src) || !b.bytes(address_bytes, dst) ||
            !b.u32(src_port) || !b.u32(dst_port))
          return false;
        if (ip_record != Packet::none) break;
        from_record.family = v6 ? 6 : 4;
        from_record.protocol = static_cast<std::uint8_t>(protocol);
        std::memcpy(from_record.src, src.data(), address_bytes);
        std::memcpy(from_record.dst, dst.data(), address_bytes);
        from_record.src_port = static_cast<std::uint16_t>(src_port);
        from_record.dst_port = static_cast<std::uint16_t>(dst_port);
        from_record.frame_length = ip_length;
        ip_record = Packet::ok;
        break;
      }
      case kRecordExtendedSwitch: {
        std::uint32_t src_vlan = 0;
        std::uint32_t priority = 0;
        std::uint32_t dst_vlan = 0;
        if (!b.u32(src_vlan) || !b.u32(priority) || !b.u32(dst_vlan)) return false;
        sample.switch_src_vlan = static_cast<std::uint16_t>(src_vlan & 0x0FFF);
        sample.switch_dst_vlan = static_cast<std::uint16_t>(dst_vlan & 0x0FFF);
        break;
      }
      case kRecordExtendedRouter: {
        std::uint32_t src_mask = 0;
        std::uint32_t dst_mask = 0;
        if (!read_address(b, sample.next_hop_family, sample.next_hop) || !b.u32(src_mask) || !b.u32(dst_mask))
          return false;
        sample.src_mask = static_cast<std::uint8_t>(std::min<std::uint32_t>(src_mask, 128));
        sample.dst_mask = static_cast<std::uint8_t>(std::min<std::uint32_t>(dst_mask, 128));
        break;
      }
      default: break;
    }
  }
  if (packet != Packet::ok && ip_record == Packet::ok) {
    // The five-tuple from the sampled IPv4/IPv6 record, the other records' fields kept.
    sample.family = from_record.family;
    sample.protocol = from_record.protocol;
    std::memcpy(sample.src, from_record.src, 16);
    std::memcpy(sample.dst, from_record.dst, 16);
    sample.src_port = from_record.src_port;
    sample.dst_port = from_record.dst_port;
    sample.frame_length = from_record.frame_length;
    sample.header_protocol = 0;
    packet = Packet::ok;
  }
  return true;
}

}  // namespace

struct SflowDecoder::State {
  explicit State(DecoderOptions o) : options(o), agents(o.max_agents) {}

  void log_malformed(AgentState& agent, const char* reason, std::int64_t now_ms) {
    ++unlogged;
    if (last_log_ms != 0 && now_ms - last_log_ms < kLogIntervalMs) return;
    last_log_ms = now_ms;
    spdlog::warn("sflow: malformed datagram from agent {} (sub-agent {}): {} ({} malformed since the last warning)",
                 agent.stats.agent, agent.stats.sub_agent, reason, unlogged);
    unlogged = 0;
  }

  // Decodes one flow sample (compact or expanded) from `body`; false when malformed.
  bool flow_sample(AgentState& agent, std::span<const std::uint8_t> body, bool expanded, std::vector<FlowSample>& out) {
    ByteReader r(body);
    std::uint32_t sequence = 0;
    std::uint64_t source = 0;
    std::uint32_t rate = 0;
    std::uint32_t pool = 0;
    std::uint32_t drops = 0;
    FlowSample sample;
    if (!r.u32(sequence)) return false;
    if (expanded) {
      std::uint32_t type = 0;
      std::uint32_t index = 0;
      std::uint32_t in_format = 0;
      std::uint32_t in_value = 0;
      std::uint32_t out_format = 0;
      std::uint32_t out_value = 0;
      if (!r.u32(type) || !r.u32(index) || !r.u32(rate) || !r.u32(pool) || !r.u32(drops) || !r.u32(in_format) ||
          !r.u32(in_value) || !r.u32(out_format) || !r.u32(out_value))
        return false;
      source = std::uint64_t{type} << 32 | index;
      sample.input = interface_of(in_format, in_value);
      sample.output = interface_of(out_format, out_value);
    } else {
      std::uint32_t id = 0;
      std::uint32_t in = 0;
      std::uint32_t output = 0;
      if (!r.u32(id) || !r.u32(rate) || !r.u32(pool) || !r.u32(drops) || !r.u32(in) || !r.u32(output)) return false;
      source = std::uint64_t{id >> 24} << 32 | (id & 0x00FFFFFF);
      sample.input = interface_of(in >> 30, in & 0x3FFFFFFF);
      sample.output = interface_of(output >> 30, output & 0x3FFFFFFF);
    }
    ++agent.stats.samples;
    agent.observe_sample(source, sequence, options.max_sources_per_agent);

    Packet packet = Packet::none;
    if (!read_records(r, sample, packet)) return false;
    switch (packet) {
      case Packet::ok: break;
      case Packet::unsupported: ++agent.stats.unsupported_header_protocols; return true;
      case Packet::none:
      case Packet::not_ip: ++agent.stats.not_ip; return true;
    }
    sample.sampling_rate = rate;
    sample.flows = 1;
    if (rate == 0) ++agent.stats.unscaled;
    const std::uint64_t scale = options.apply_sampling && rate > 0 ? rate : 1;
    sample.packets = scale;
    sample.bytes = scale * sample.frame_length;
    ++agent.stats.records;
    out.push_back(sample);
    return true;
  }

  // Decodes a datagram after its header; returns the reason when malformed.
  const char* samples(AgentState& agent, ByteReader& r, std::vector<FlowSample>& out) {
    std::uint32_t count = 0;
    if (!r.u32(count)) return "no sample count";
    const char* error = nullptr;
    for (std::uint32_t i = 0; i < count; ++i) {
      std::uint32_t format = 0;
      std::uint32_t length = 0;
      std::span<const std::uint8_t> body;
      if (!r.u32(format) || !r.u32(length) || !r.bytes(length, body)) return "a sample runs past the datagram";
      const std::uint32_t kind = (format >> 12) == 0 ? (format & 0xFFF) : 0;
      if (kind == kFlowSample || kind == kFlowSampleExpanded) {
        // A malformed sample is skipped; its length lets the next ones be read.
        if (!flow_sample(agent, body, kind == kFlowSampleExpanded, out)) error = "a flow sample is malformed";
      } else if (kind == kCounterSample || kind == kCounterSampleExpanded) {
        ++agent.stats.counter_samples;
      } else {
        ++agent.stats.other_samples;
      }
    }
    if (r.remaining() != 0 && error == nullptr) error = "bytes after the last sample";
    return error;
  }

  DecoderOptions options;
  AgentTable agents;
  std::int64_t last_log_ms = 0;
  std::uint64_t unlogged = 0;
};

SflowDecoder::SflowDecoder(DecoderOptions options) : state_(std::make_unique<State>(options)) {}

SflowDecoder::~SflowDecoder() = default;

void SflowDecoder::decode(const sockaddr_storage& sender, std::span<const std::uint8_t> datagram,
                          std::chrono::system_clock::time_point received, std::vector<FlowSample>& out) {
  State& s = *state_;
  const std::int64_t now_ms = millis(received);
  ByteReader r(datagram);
  std::uint32_t version = 0;
  AgentKey key;
  const char* error = nullptr;
  if (!r.u32(version)) {
    error = "shorter than a version number";
  } else if (version != 5) {
    error = "not sFlow version 5";
  } else if (!read_address(r, key.family, key.address)) {
    error = "no agent address";
  } else if (!r.u32(key.sub_agent)) {
    error = "no sub-agent id";
  }
  if (error != nullptr) {  // counted against the UDP sender: the agent is unknown
    AgentState& agent = s.agents.find_or_add(sender_key(sender));
    agent.last_seen_ms = now_ms;
    ++agent.stats.datagrams;
    ++agent.stats.malformed;
    s.log_malformed(agent, error, now_ms);
    return;
  }
  AgentState& agent = s.agents.find_or_add(key);
  agent.last_seen_ms = now_ms;
  ++agent.stats.datagrams;
  if (s.agents.is_overflow(agent)) return;
  std::uint32_t sequence = 0;
  std::uint32_t uptime = 0;
  if (!r.u32(sequence) || !r.u32(uptime)) {
    error = "shorter than a datagram header";
  } else {
    agent.stats.datagram_sequence_gaps += agent.datagrams.observe(sequence);
    error = s.samples(agent, r, out);
  }
  if (error != nullptr) {
    ++agent.stats.malformed;
    s.log_malformed(agent, error, now_ms);
  }
}

void SflowDecoder::expire(std::chrono::system_clock::time_point now) {
  if (state_->options.agent_timeout.count() == 0) return;
  state_->agents.expire(millis(now) - std::chrono::milliseconds(state_->options.agent_timeout).count());
}

std::vector<AgentStats> SflowDecoder::stats() const {
  return state_->agents.stats();
}

}  // namespace flowmetrics::sflow
