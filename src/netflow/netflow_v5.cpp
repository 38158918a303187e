#include "netflow/netflow_v5.hpp"

#include <cstring>

#include "netflow/byte_reader.hpp"

namespace flowmetrics::netflow {
namespace {

constexpr std::size_t kHeaderBytes = 24;
constexpr std::size_t kRecordBytes = 48;

}  // namespace

const char* decode_v5(ExporterState& state, std::span<const std::uint8_t> datagram, DecodeEnv& env) {
  if (datagram.size() < kHeaderBytes) return "v5 header truncated";
  const std::uint8_t* h = datagram.data();
  const std::size_t count = load_be16(h + 2);
  if (count == 0) return "v5 header counts no records";
  if (datagram.size() < kHeaderBytes + count * kRecordBytes) return "v5 records truncated";

  RecordContext context;
  context.sys_uptime_ms = load_be32(h + 4);
  context.export_ms = std::int64_t{load_be32(h + 8)} * 1000 + load_be32(h + 12) / 1'000'000;
  context.received_ms = env.received_ms;
  context.uptime_from_header = true;
  const std::uint32_t sequence = load_be32(h + 16);
  // Top 2 bits: sampling mode; low 14: the interval. Applied whatever the mode says.
  const std::uint16_t interval = load_be16(h + 22) & 0x3fff;
  ExporterContext sampling;
  if (interval > 1) sampling.sampling_num = interval;

  // v5 flow_sequence numbers flows: the next datagram should start after this one's.
  check_sequence(state, sequence);
  expect_sequence(state, sequence + static_cast<std::uint32_t>(count));

  if (env.out.capacity() < env.out.size() + count)
    env.out.reserve(std::max(env.out.size() + count, env.out.capacity() * 2));
  const std::uint8_t* r = h + kHeaderBytes;
  for (std::size_t i = 0; i < count; ++i, r += kRecordBytes) {
    FlowRecord record;
    std::memcpy(record.src, r, 4);
    std::memcpy(record.dst, r + 4, 4);
    record.src_family = 4;
    record.dst_family = 4;
    record.packets = load_be32(r + 16);
    record.octets = load_be32(r + 20);
    record.has_packets = true;
    record.has_octets = true;
    record.start_uptime = load_be32(r + 24);
    record.end_uptime = load_be32(r + 28);
    record.has_start_uptime = true;
    record.has_end_uptime = true;
    record.src_port = load_be16(r + 32);
    record.dst_port = load_be16(r + 34);
    record.protocol = r[38];
    append_update(record, context, sampling, env.options, env.out);
  }
  state.stats.records += count;
  return nullptr;
}

}  // namespace flowmetrics::netflow
