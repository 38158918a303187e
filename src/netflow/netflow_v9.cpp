#include "netflow/netflow_v9.hpp"

#include "netflow/byte_reader.hpp"

namespace flowmetrics::netflow {
namespace {

constexpr std::size_t kHeaderBytes = 20;
constexpr std::uint16_t kTemplateFlowset = 0;
constexpr std::uint16_t kOptionsTemplateFlowset = 1;
constexpr std::uint16_t kFirstDataFlowset = 256;

// Template flowset: (template id, field count, count x (type, length)) repeated, then padding.
const char* template_flowset(ExporterState& state, std::span<const std::uint8_t> body,
                             std::vector<std::uint16_t>& learned) {
  ByteReader reader(body);
  while (reader.remaining() >= 4) {
    std::uint16_t id = 0;
    std::uint16_t count = 0;
    reader.u16(id);
    reader.u16(count);
    if (id == 0 && count == 0) break;  // padding
    if (id < kFirstDataFlowset) return "v9 template id below 256";
    std::size_t used = 0;
    if (!learn_template(state, id, {reader.current(), reader.remaining()}, count, 0, false, false, used, learned)) {
      return "v9 template malformed, truncated or over the template cap";
    }
    reader.skip(used);
  }
  return nullptr;
}

// Options template flowset: (template id, scope length, option length, scope fields, option
// fields) repeated, then padding. Lengths are in bytes of (type, length) pairs.
const char* options_template_flowset(ExporterState& state, std::span<const std::uint8_t> body,
                                     std::vector<std::uint16_t>& learned) {
  ByteReader reader(body);
  while (reader.remaining() >= 6) {
    std::uint16_t id = 0;
    std::uint16_t scope_bytes = 0;
    std::uint16_t option_bytes = 0;
    reader.u16(id);
    reader.u16(scope_bytes);
    reader.u16(option_bytes);
    if (id == 0 && scope_bytes == 0 && option_bytes == 0) break;  // padding
    if (id < kFirstDataFlowset) return "v9 options template id below 256";
    if (scope_bytes % 4 != 0 || option_bytes % 4 != 0) return "v9 options template lengths not multiples of 4";
    const std::size_t fields = (std::size_t{scope_bytes} + option_bytes) / 4;
    std::size_t used = 0;
    if (!learn_template(state, id, {reader.current(), reader.remaining()}, fields, scope_bytes / 4, false, true, used,
                        learned)) {
      return "v9 options template malformed, truncated or over the template cap";
    }
    reader.skip(used);
  }
  return nullptr;
}

}  // namespace

const char* decode_v9(ExporterState& state, std::span<const std::uint8_t> datagram, DecodeEnv& env) {
  if (datagram.size() < kHeaderBytes) return "v9 header truncated";
  const std::uint8_t* h = datagram.data();
  RecordContext context;
  context.sys_uptime_ms = load_be32(h + 4);
  context.export_ms = std::int64_t{load_be32(h + 8)} * 1000;
  context.received_ms = env.received_ms;
  context.uptime_from_header = true;
  // v9 sequence numbers count export datagrams.
  const std::uint32_t sequence = load_be32(h + 12);
  check_sequence(state, sequence);
  expect_sequence(state, sequence + 1);

  const char* error = nullptr;
  bool malformed_records = false;
  std::vector<std::uint16_t> learned;
  ByteReader reader(datagram.subspan(kHeaderBytes));
  while (reader.remaining() >= 4 && error == nullptr) {
    std::uint16_t id = 0;
    std::uint16_t length = 0;
    reader.u16(id);
    reader.u16(length);
    std::span<const std::uint8_t> body;
    if (length < 4 || !reader.bytes(length - 4u, body)) {
      error = "v9 flowset length outside the datagram";
      break;
    }
    if (id == kTemplateFlowset) {
      error = template_flowset(state, body, learned);
    } else if (id == kOptionsTemplateFlowset) {
      error = options_template_flowset(state, body, learned);
    } else if (id >= kFirstDataFlowset) {
      decode_or_hold(state, id, body, context, env, malformed_records);
    }  // 2-255: reserved, skipped
  }
  release_held(state, learned, env);
  if (error == nullptr && malformed_records) error = "v9 data record overruns its flowset";
  return error;
}

}  // namespace flowmetrics::netflow
