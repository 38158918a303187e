#include "netflow/record_decoder.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "netflow/byte_reader.hpp"

namespace flowmetrics::netflow {
namespace {

// The last millisecond std::chrono::system_clock (nanoseconds since 1970) can hold,
// 2262-04-11: later times would overflow the Metric's timestamp.
constexpr std::uint64_t kMaxMillis = 9'223'372'036'854;
constexpr std::uint64_t kMaxSeconds = kMaxMillis / 1000;
// Seconds from the NTP epoch (1900) to the Unix epoch (RFC 7011 section 6.1.10).
constexpr std::uint64_t kNtpToUnix = 2'208'988'800;

std::int64_t millis_or_none(std::uint64_t ms) {
  return ms <= kMaxMillis ? static_cast<std::int64_t>(ms) : kNoTime;
}

std::int64_t ntp_millis(std::uint64_t ntp) {
  const std::uint64_t seconds = ntp >> 32;
  if (seconds < kNtpToUnix) return kNoTime;
  const std::uint64_t fraction_ms = ((ntp & 0xffffffffu) * 1000) >> 32;
  return static_cast<std::int64_t>((seconds - kNtpToUnix) * 1000 + fraction_ms);
}

inline void apply_field(FieldKind kind, const std::uint8_t* p, std::uint16_t length, FlowRecord& r) {
  switch (kind) {
    case FieldKind::skip: break;
    case FieldKind::src_v4:
      std::memcpy(r.src, p, 4);
      r.src_family = 4;
      break;
    case FieldKind::dst_v4:
      std::memcpy(r.dst, p, 4);
      r.dst_family = 4;
      break;
    case FieldKind::src_v6:
      std::memcpy(r.src, p, 16);
      r.src_family = 6;
      break;
    case FieldKind::dst_v6:
      std::memcpy(r.dst, p, 16);
      r.dst_family = 6;
      break;
    case FieldKind::src_port: r.src_port = static_cast<std::uint16_t>(load_be(p, length)); break;
    case FieldKind::dst_port: r.dst_port = static_cast<std::uint16_t>(load_be(p, length)); break;
    case FieldKind::protocol: r.protocol = p[0]; break;
    case FieldKind::octets:
      r.octets = load_be(p, length);
      r.has_octets = true;
      break;
    case FieldKind::packets:
      r.packets = load_be(p, length);
      r.has_packets = true;
      break;
    case FieldKind::octets_total: r.octets_total = load_be(p, length); break;
    case FieldKind::packets_total: r.packets_total = load_be(p, length); break;
    case FieldKind::end_uptime:
      r.end_uptime = static_cast<std::uint32_t>(load_be(p, length));
      r.has_end_uptime = true;
      break;
    case FieldKind::start_uptime:
      r.start_uptime = static_cast<std::uint32_t>(load_be(p, length));
      r.has_start_uptime = true;
      break;
    case FieldKind::start_seconds: {
      const std::uint64_t s = load_be(p, length);
      r.start_ms = s <= kMaxSeconds ? static_cast<std::int64_t>(s * 1000) : kNoTime;
      break;
    }
    case FieldKind::end_seconds: {
      const std::uint64_t s = load_be(p, length);
      r.end_ms = s <= kMaxSeconds ? static_cast<std::int64_t>(s * 1000) : kNoTime;
      break;
    }
    case FieldKind::start_millis: r.start_ms = millis_or_none(load_be(p, length)); break;
    case FieldKind::end_millis: r.end_ms = millis_or_none(load_be(p, length)); break;
    case FieldKind::start_micros:
    case FieldKind::start_nanos: r.start_ms = ntp_millis(load_be64(p)); break;
    case FieldKind::end_micros:
    case FieldKind::end_nanos: r.end_ms = ntp_millis(load_be64(p)); break;
    case FieldKind::start_delta_micros:
      r.start_delta_us = std::min<std::uint64_t>(load_be(p, length), 1ull << 62) + 1;
      break;
    case FieldKind::end_delta_micros:
      r.end_delta_us = std::min<std::uint64_t>(load_be(p, length), 1ull << 62) + 1;
      break;
    case FieldKind::system_init_millis: r.system_init_ms = millis_or_none(load_be(p, length)); break;
    case FieldKind::sampling_interval: r.sampling_interval = load_be(p, length); break;
    case FieldKind::sampling_packet_interval: r.sampling_packet_interval = load_be(p, length); break;
    case FieldKind::sampling_packet_space: r.sampling_packet_space = load_be(p, length); break;
  }
}

// The wall time of a flow's start or end, or kNoTime when the record does not say.
std::int64_t flow_time(std::int64_t absolute, bool has_uptime, std::uint32_t uptime, std::uint64_t delta_us,
                       const FlowRecord& r, const RecordContext& context, const ExporterContext& exporter) {
  if (absolute != kNoTime) return absolute;
  if (has_uptime) {
    if (context.uptime_from_header) {
      // The difference as a signed 32-bit number: sysUptime wraps after 49.7 days, and a flow
      // stamped a little after the header (clock skew) must not become 49 days old.
      const auto before = static_cast<std::int32_t>(context.sys_uptime_ms - uptime);
      return context.export_ms - before;
    }
    const std::int64_t init = r.system_init_ms != kNoTime ? r.system_init_ms : exporter.system_init_ms;
    if (init != kNoTime) return init + uptime;
  }
  if (delta_us != 0) return context.export_ms - static_cast<std::int64_t>((delta_us - 1) / 1000);
  return kNoTime;
}

__extension__ using uint128 = unsigned __int128;

std::uint64_t scale(std::uint64_t count, std::uint64_t num, std::uint64_t den) {
  if (num == den || den == 0) return count;
  const uint128 scaled = uint128{count} * num / den;
  return scaled > std::numeric_limits<std::uint64_t>::max() ? std::numeric_limits<std::uint64_t>::max()
                                                            : static_cast<std::uint64_t>(scaled);
}

// The sampling ratio a record states about itself, if any.
bool record_sampling(const FlowRecord& r, std::uint64_t& num, std::uint64_t& den) {
  if (r.sampling_packet_interval > 0) {
    num = std::min<std::uint64_t>(r.sampling_packet_interval + r.sampling_packet_space, 1ull << 32);
    den = std::min<std::uint64_t>(r.sampling_packet_interval, 1ull << 32);
    return true;
  }
  if (r.sampling_interval > 0) {
    num = std::min<std::uint64_t>(r.sampling_interval, 1ull << 32);
    den = 1;
    return true;
  }
  return false;
}

template <typename T>
void reserve_more(std::vector<T>& out, std::size_t more) {
  const std::size_t needed = out.size() + more;
  if (needed > out.capacity()) out.reserve(std::max(needed, out.capacity() * 2));
}

}  // namespace

void append_update(const FlowRecord& r, const RecordContext& context, const ExporterContext& exporter,
                   const DecoderOptions& options, std::vector<FlowUpdate>& out) {
  const std::int64_t start =
      flow_time(r.start_ms, r.has_start_uptime, r.start_uptime, r.start_delta_us, r, context, exporter);
  const std::int64_t end = flow_time(r.end_ms, r.has_end_uptime, r.end_uptime, r.end_delta_us, r, context, exporter);
  std::int64_t ms = options.timestamp == FlowTime::end ? end : start;
  auto usable = [](std::int64_t t) { return t >= 0 && t <= static_cast<std::int64_t>(kMaxMillis); };
  if (!usable(ms)) ms = options.timestamp == FlowTime::end ? start : end;
  if (!usable(ms)) ms = context.export_ms > 0 ? context.export_ms : context.received_ms;
  FlowUpdate& m = out.emplace_back();
  const FlowAddress source = r.src_family == 6 ? FlowAddress::ipv6(r.src) : FlowAddress::ipv4(r.src);
  const FlowAddress dest = r.dst_family == 6 ? FlowAddress::ipv6(r.dst) : FlowAddress::ipv4(r.dst);
  // `ms` is a usable time (0 .. 2262), or the export or arrival time: within the key's range.
  if (make_flow_key(source, dest, r.src_port, r.dst_port, r.protocol, ms, m.key) != KeyRejection::none) {
    out.pop_back();
    return;
  }

  std::uint64_t bytes = r.has_octets ? r.octets : r.octets_total;
  std::uint64_t packets = r.has_packets ? r.packets : r.packets_total;
  if (options.apply_sampling) {
    std::uint64_t num = exporter.sampling_num;
    std::uint64_t den = exporter.sampling_den;
    record_sampling(r, num, den);
    bytes = scale(bytes, num, den);
    packets = scale(packets, num, den);
  }
  m.bytes = bytes;
  m.packets = packets;
  m.value = static_cast<double>(bytes);
  m.flows = 1;
}

DataSetResult decode_data_set(const Template& compiled, std::span<const std::uint8_t> body,
                              const RecordContext& context, ExporterContext& exporter, const DecoderOptions& options,
                              std::vector<FlowUpdate>& out) {
  DataSetResult result;
  const std::uint8_t* p = body.data();
  std::size_t left = body.size();
  const std::size_t min_length = compiled.min_length;
  if (compiled.has_addresses) reserve_more(out, left / min_length);

  auto finish = [&](const FlowRecord& r) {
    ++result.records;
    if (compiled.has_addresses && r.src_family != 0 && r.dst_family != 0) {
      const std::size_t before = out.size();
      append_update(r, context, exporter, options, out);
      result.metrics += out.size() - before;
    } else if (compiled.options) {
      std::uint64_t num = 1;
      std::uint64_t den = 1;
      if (record_sampling(r, num, den) && num >= den) {
        exporter.sampling_num = num;
        exporter.sampling_den = den;
      }
      if (r.system_init_ms != kNoTime) exporter.system_init_ms = r.system_init_ms;
    }
  };

  if (!compiled.variable) {
    while (left >= min_length) {
      FlowRecord r;
      for (const FieldOp& op : compiled.ops) apply_field(op.kind, p + op.offset, op.length, r);
      finish(r);
      p += min_length;
      left -= min_length;
    }
    return result;
  }

  while (left >= min_length) {
    FlowRecord r;
    ByteReader reader({p, left});
    for (const FieldOp& op : compiled.ops) {
      std::size_t length = op.length;
      if (op.length == kVariableLength) {
        std::uint8_t short_length = 0;
        if (!reader.u8(short_length)) {
          result.malformed = true;
          return result;
        }
        length = short_length;
        if (short_length == 255) {
          std::uint16_t long_length = 0;
          if (!reader.u16(long_length)) {
            result.malformed = true;
            return result;
          }
          length = long_length;
        }
      }
      if (!reader.has(length)) {
        result.malformed = true;
        return result;
      }
      apply_field(op.kind, reader.current(), static_cast<std::uint16_t>(length), r);
      reader.skip(length);
    }
    finish(r);
    p += reader.position();
    left -= reader.position();
  }
  return result;
}

}  // namespace flowmetrics::netflow
