#include "netflow/template_cache.hpp"

#include <algorithm>
#include <cstring>

#include "netflow/byte_reader.hpp"

namespace flowmetrics::netflow {
namespace {

bool unsigned_length(std::uint16_t length) {
  return length >= 1 && length <= 8;
}

// The kind of information element `ie` (enterprise 0) with `length` bytes; skip when the
// element is not one the decoder uses or its length cannot hold it.
FieldKind kind_of(std::uint16_t ie, std::uint16_t length) {
  switch (ie) {
    case 8: return length == 4 ? FieldKind::src_v4 : FieldKind::skip;
    case 12: return length == 4 ? FieldKind::dst_v4 : FieldKind::skip;
    case 27: return length == 16 ? FieldKind::src_v6 : FieldKind::skip;
    case 28: return length == 16 ? FieldKind::dst_v6 : FieldKind::skip;
    case 7: return length == 1 || length == 2 ? FieldKind::src_port : FieldKind::skip;
    case 11: return length == 1 || length == 2 ? FieldKind::dst_port : FieldKind::skip;
    case 4: return length == 1 ? FieldKind::protocol : FieldKind::skip;
    case 154: return length == 8 ? FieldKind::start_micros : FieldKind::skip;
    case 155: return length == 8 ? FieldKind::end_micros : FieldKind::skip;
    case 156: return length == 8 ? FieldKind::start_nanos : FieldKind::skip;
    case 157: return length == 8 ? FieldKind::end_nanos : FieldKind::skip;
    default: break;
  }
  if (!unsigned_length(length)) return FieldKind::skip;
  switch (ie) {
    case 1: return FieldKind::octets;
    case 2: return FieldKind::packets;
    case 85: return FieldKind::octets_total;
    case 86: return FieldKind::packets_total;
    case 21: return FieldKind::end_uptime;
    case 22: return FieldKind::start_uptime;
    case 150: return FieldKind::start_seconds;
    case 151: return FieldKind::end_seconds;
    case 152: return FieldKind::start_millis;
    case 153: return FieldKind::end_millis;
    case 158: return FieldKind::start_delta_micros;
    case 159: return FieldKind::end_delta_micros;
    case 160: return FieldKind::system_init_millis;
    case 34:
    case 50: return FieldKind::sampling_interval;
    case 305: return FieldKind::sampling_packet_interval;
    case 306: return FieldKind::sampling_packet_space;
    default: return FieldKind::skip;
  }
}

}  // namespace

bool compile_template(std::span<const std::uint8_t> specs, std::size_t field_count, std::size_t scope_fields,
                      bool ipfix, bool options, Template& out, std::size_t& consumed) {
  if (field_count == 0 || field_count > kMaxTemplateFields || scope_fields > field_count) return false;
  ByteReader reader(specs);
  Template compiled;
  compiled.options = options;
  bool src = false;
  bool dst = false;
  std::uint32_t offset = 0;       // fixed templates: where the next field starts
  std::vector<FieldOp> sequence;  // every field, in order (used when the template is variable)
  sequence.reserve(field_count);
  for (std::size_t i = 0; i < field_count; ++i) {
    std::uint16_t type = 0;
    std::uint16_t length = 0;
    if (!reader.u16(type) || !reader.u16(length)) return false;
    bool enterprise = false;
    if (ipfix && (type & 0x8000) != 0) {
      enterprise = true;
      if (!reader.skip(4)) return false;  // the enterprise number
    }
    if (length == kVariableLength) {
      if (!ipfix) return false;
      compiled.variable = true;
    }
    const FieldKind kind =
        enterprise || i < scope_fields ? FieldKind::skip : kind_of(static_cast<std::uint16_t>(type & 0x7fff), length);
    if (kind == FieldKind::src_v4 || kind == FieldKind::src_v6) src = true;
    if (kind == FieldKind::dst_v4 || kind == FieldKind::dst_v6) dst = true;
    sequence.push_back(FieldOp{static_cast<std::uint16_t>(std::min<std::uint32_t>(offset, 0xffff)), length, kind});
    compiled.min_length += length == kVariableLength ? 1 : length;
    offset += length == kVariableLength ? 0 : length;
  }
  if (compiled.min_length == 0 || compiled.min_length > 0xffff) return false;
  compiled.has_addresses = src && dst && !options;
  if (compiled.variable) {
    // Merge runs of skipped fixed-length fields into one step.
    for (const FieldOp& op : sequence) {
      if (op.kind == FieldKind::skip && op.length != kVariableLength && !compiled.ops.empty() &&
          compiled.ops.back().kind == FieldKind::skip && compiled.ops.back().length != kVariableLength &&
          compiled.ops.back().length + op.length < kVariableLength) {
        compiled.ops.back().length = static_cast<std::uint16_t>(compiled.ops.back().length + op.length);
      } else {
        compiled.ops.push_back(op);
      }
    }
  } else {
    for (const FieldOp& op : sequence) {
      if (op.kind != FieldKind::skip) compiled.ops.push_back(op);
    }
  }
  compiled.ops.shrink_to_fit();
  consumed = reader.position();
  compiled.definition.assign(specs.begin(), specs.begin() + static_cast<std::ptrdiff_t>(consumed));
  out = std::move(compiled);
  return true;
}

std::size_t specifier_bytes(std::span<const std::uint8_t> specs, std::size_t field_count, bool ipfix) {
  std::size_t pos = 0;
  for (std::size_t i = 0; i < field_count; ++i) {
    if (specs.size() - pos < 4) return 0;
    const bool enterprise = ipfix && (specs[pos] & 0x80) != 0;
    pos += enterprise ? 8 : 4;
    if (pos > specs.size()) return 0;
  }
  return pos;
}

bool TemplateCache::unchanged(std::uint16_t id, std::span<const std::uint8_t> definition, bool options) const {
  const Template* existing = find(id);
  return existing != nullptr && existing->options == options && existing->definition.size() == definition.size() &&
         std::memcmp(existing->definition.data(), definition.data(), definition.size()) == 0;
}

bool TemplateCache::put(std::uint16_t id, Template&& compiled) {
  auto it = templates_.find(id);
  if (it != templates_.end()) {
    it->second = std::move(compiled);
    return true;
  }
  if (templates_.size() >= capacity_) return false;
  templates_.emplace(id, std::move(compiled));
  return true;
}

void TemplateCache::withdraw_all(bool options) {
  std::erase_if(templates_, [options](const auto& entry) { return entry.second.options == options; });
}

}  // namespace flowmetrics::netflow
