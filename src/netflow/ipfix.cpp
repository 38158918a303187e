#include "netflow/ipfix.hpp"

#include "netflow/byte_reader.hpp"

namespace flowmetrics::netflow {
namespace {

constexpr std::size_t kHeaderBytes = 16;
constexpr std::uint16_t kTemplateSet = 2;
constexpr std::uint16_t kOptionsTemplateSet = 3;
constexpr std::uint16_t kFirstDataSet = 256;

// Template set (options false) or options template set (options true): template records,
// each (id, field count[, scope field count], field specifiers); a record with field count
// 0 withdraws template `id`, or all templates of the set's kind when `id` is the set id.
const char* template_set(ExporterState& state, std::span<const std::uint8_t> body, bool options,
                         std::vector<std::uint16_t>& learned) {
  ByteReader reader(body);
  while (reader.remaining() >= 4) {
    std::uint16_t id = 0;
    std::uint16_t count = 0;
    reader.u16(id);
    reader.u16(count);
    if (count == 0) {
      if (id == (options ? kOptionsTemplateSet : kTemplateSet)) {
        state.templates.withdraw_all(options);
      } else if (id >= kFirstDataSet) {
        state.templates.withdraw(id);
      } else if (id == 0) {
        break;  // padding
      } else {
        return "IPFIX template withdrawal for a reserved id";
      }
      continue;
    }
    if (id < kFirstDataSet) return "IPFIX template id below 256";
    std::uint16_t scope = 0;
    if (options && (!reader.u16(scope) || scope == 0 || scope > count)) {
      return "IPFIX options template scope field count missing or out of range";
    }
    std::size_t used = 0;
    if (!learn_template(state, id, {reader.current(), reader.remaining()}, count, scope, true, options, used,
                        learned)) {
      return "IPFIX template malformed, truncated or over the template cap";
    }
    reader.skip(used);
  }
  return nullptr;
}

}  // namespace

const char* decode_ipfix(ExporterState& state, std::span<const std::uint8_t> message, DecodeEnv& env) {
  if (message.size() < kHeaderBytes) return "IPFIX header truncated";
  const std::uint8_t* h = message.data();
  const std::size_t length = load_be16(h + 2);
  if (length < kHeaderBytes || length > message.size()) return "IPFIX message length outside the datagram";
  RecordContext context;
  context.export_ms = std::int64_t{load_be32(h + 4)} * 1000;
  context.received_ms = env.received_ms;
  // IPFIX sequence numbers count data records sent before this message.
  const std::uint32_t sequence = load_be32(h + 8);
  check_sequence(state, sequence);

  const char* error = nullptr;
  bool malformed_records = false;
  bool count_known = true;
  std::uint32_t records = 0;
  std::vector<std::uint16_t> learned;
  ByteReader reader(message.subspan(kHeaderBytes, length - kHeaderBytes));
  while (reader.remaining() >= 4 && error == nullptr) {
    std::uint16_t id = 0;
    std::uint16_t set_length = 0;
    reader.u16(id);
    reader.u16(set_length);
    std::span<const std::uint8_t> body;
    if (set_length < 4 || !reader.bytes(set_length - 4u, body)) {
      error = "IPFIX set length outside the message";
      break;
    }
    if (id == kTemplateSet || id == kOptionsTemplateSet) {
      error = template_set(state, body, id == kOptionsTemplateSet, learned);
    } else if (id >= kFirstDataSet) {
      const std::int64_t decoded = decode_or_hold(state, id, body, context, env, malformed_records);
      if (decoded < 0) {
        count_known = false;
      } else {
        records += static_cast<std::uint32_t>(decoded);
      }
    }  // 4-255: reserved, skipped
  }
  if (count_known && error == nullptr && !malformed_records) {
    expect_sequence(state, sequence + records);
  } else {
    state.have_sequence = false;
  }
  release_held(state, learned, env);
  if (error == nullptr && malformed_records) error = "IPFIX data record overruns its set";
  return error;
}

}  // namespace flowmetrics::netflow
