#include "ingest/json_lines.hpp"

#include <charconv>
#include <cmath>
#include <cstring>

#include "flowmetrics/validation.hpp"

namespace flowmetrics::ingest {
namespace {

using simdjson::dom::element_type;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Bits of the fields a good record has.
enum : unsigned {
  kSourceIp = 1,
  kDestIp = 2,
  kSourcePort = 4,
  kDestPort = 8,
  kProtocol = 16,
  kTimestamp = 32,
  kValue = 64,
  kPackets = 128,
  kBytes = 256,
  kFlows = 512,
  kRequired = 127,
};

// Which field a key names (0: none the record knows). By length first: each comparison is
// then against a constant of known size, which the compiler turns into a word compare.
unsigned field_bit(std::string_view key) {
  const auto is = [&](std::string_view name) { return std::memcmp(key.data(), name.data(), name.size()) == 0; };
  unsigned bit = 0;
  switch (key.size()) {
    case 5:
      if (is("value")) bit = kValue;
      if (is("bytes")) bit = kBytes;
      if (is("flows")) bit = kFlows;
      break;
    case 7:
      if (is("dest_ip")) bit = kDestIp;
      if (is("packets")) bit = kPackets;
      break;
    case 8:
      if (is("protocol")) bit = kProtocol;
      break;
    case 9:
      if (is("source_ip")) bit = kSourceIp;
      if (is("dest_port")) bit = kDestPort;
      if (is("timestamp")) bit = kTimestamp;
      break;
    case 11:
      if (is("source_port")) bit = kSourcePort;
      break;
    default: break;
  }
  return bit;
}

bool port(simdjson::dom::element e, std::uint16_t& out) {
  if (e.type() != element_type::INT64) return false;  // integer literals only, as the parser says
  const std::int64_t n = e.get_int64().value_unsafe();
  if (n < 0 || n > 65535) return false;
  out = static_cast<std::uint16_t>(n);
  return true;
}

bool counter(simdjson::dom::element e, std::uint64_t& out) {
  switch (e.type()) {
    case element_type::NULL_VALUE: out = 0; return true;
    case element_type::INT64: {
      const std::int64_t n = e.get_int64().value_unsafe();
      if (n < 0) return false;
      out = static_cast<std::uint64_t>(n);
      return true;
    }
    case element_type::UINT64: out = e.get_uint64().value_unsafe(); return true;
    default: return false;
  }
}

}  // namespace

JsonLineParser::JsonLineParser() = default;

std::string_view JsonLineParser::kernel() {
  return simdjson::get_active_implementation()->name();
}

bool JsonLineParser::take(simdjson::dom::element element, std::string_view line, FlowUpdate& update) {
  simdjson::dom::object object;
  if (element.get_object().get(object) != simdjson::SUCCESS) return false;
  // An escaped key or string could name a field the parser reads differently: its call.
  if (line.find('\\') != std::string_view::npos) return false;
  unsigned seen = 0;
  std::optional<FlowAddress> source, dest;
  std::uint16_t source_port = 0, dest_port = 0;
  int protocol = -1;
  std::int64_t ms = -1;
  double value = 0;
  std::uint64_t packets = 0, bytes = 0, flows = 0;
  for (const auto field : object) {
    const std::string_view key = field.key;
    const simdjson::dom::element v = field.value;
    const unsigned bit = field_bit(key);
    switch (bit) {
      case kSourceIp:
      case kDestIp: {
        std::string_view text;
        if (v.get_string().get(text) != simdjson::SUCCESS) return false;
        auto address = parse_ip(text);
        if (!address) return false;
        (bit == kSourceIp ? source : dest) = *address;
        break;
      }
      case kSourcePort:
        if (!port(v, source_port)) return false;
        break;
      case kDestPort:
        if (!port(v, dest_port)) return false;
        break;
      case kProtocol:
        if (v.type() == element_type::INT64) {
          const std::int64_t n = v.get_int64().value_unsafe();
          if (n < 0 || n > 255) return false;
          protocol = static_cast<int>(n);
        } else {
          std::string_view text;
          if (v.get_string().get(text) != simdjson::SUCCESS) return false;
          if (text == "TCP") {  // the usual spellings, without protocol_number's upper-case copy
            protocol = 6;
          } else if (text == "UDP") {
            protocol = 17;
          } else {
            const auto number = protocol_number(text);
            if (!number) return false;
            protocol = *number;
          }
        }
        break;
      case kTimestamp: {
        std::optional<std::int64_t> at;
        if (v.type() == element_type::STRING) {
          at = json_timestamp_ms(v.get_string().value_unsafe(), true);
        } else if (v.type() == element_type::INT64 && v.get_int64().value_unsafe() > 0) {
          // The literal of a positive JSON integer is its shortest decimal form.
          char text[24];
          const auto [end, ec] = std::to_chars(text, text + sizeof(text), v.get_int64().value_unsafe());
          at = json_timestamp_ms(std::string_view(text, static_cast<std::size_t>(end - text)), false);
        }
        if (!at) return false;
        ms = *at;
        break;
      }
      case kValue:
        if (v.get_double().get(value) != simdjson::SUCCESS || !std::isfinite(value)) return false;
        break;
      case kPackets:
        if (!counter(v, packets)) return false;
        break;
      case kBytes:
        if (!counter(v, bytes)) return false;
        break;
      case kFlows:
        if (!counter(v, flows)) return false;
        break;
      default:
        // Unknown fields are ignored, but the parser checks how deep they nest: its call.
        if (v.is_object() || v.is_array()) return false;
        continue;
    }
    if ((seen & bit) != 0) return false;  // given twice
    seen |= bit;
  }
  if ((seen & kRequired) != kRequired) return false;
  if (make_flow_key(*source, *dest, source_port, dest_port, static_cast<std::uint8_t>(protocol), ms, update.key) !=
      KeyRejection::none) {
    return false;
  }
  update.value = value;
  update.packets = packets;
  update.bytes = bytes;
  update.flows = flows;
  return true;
}

void JsonLineParser::slow(std::string_view line, std::vector<FlowUpdate>& out, std::vector<RejectReason>& rejected) {
  Metric metric;
  const ParseResult result = parse_json_record(line, metric);
  if (!result.ok()) {
    rejected.push_back(result.reason);
    return;
  }
  FlowUpdate update;
  switch (make_flow_update(metric, update)) {  // the parser checked what this checks
    case KeyRejection::none: out.push_back(update); return;
    case KeyRejection::invalid_ip: rejected.push_back(RejectReason::invalid_ip); return;
    case KeyRejection::invalid_port: rejected.push_back(RejectReason::invalid_port); return;
    case KeyRejection::invalid_protocol: rejected.push_back(RejectReason::invalid_protocol); return;
    case KeyRejection::invalid_timestamp: rejected.push_back(RejectReason::invalid_timestamp); return;
    case KeyRejection::invalid_value: rejected.push_back(RejectReason::invalid_value); return;
  }
}

void JsonLineParser::parse(std::string_view chunk, std::span<const std::string_view> lines,
                           std::vector<FlowUpdate>& out, std::vector<RejectReason>& rejected) {
  std::size_t i = 0;
  int restarts = 0;
  while (i < lines.size()) {
    // A stream that lost step with the lines (a bad line) starts again after it; past a few
    // restarts the rest of the chunk goes line by line, which bounds the work at twice.
    if (restarts > 8) {
      slow(lines[i++], out, rejected);
      continue;
    }
    const std::size_t begin = static_cast<std::size_t>(lines[i].data() - chunk.data());
    const std::size_t length = chunk.size() - begin;
    const std::size_t needed = length + simdjson::SIMDJSON_PADDING;
    if (needed > capacity_) {
      buffer_.reset(new char[needed]);
      capacity_ = needed;
    }
    std::memcpy(buffer_.get(), chunk.data() + begin, length);
    std::memset(buffer_.get() + length, 0, simdjson::SIMDJSON_PADDING);
    simdjson::dom::document_stream stream;
    const std::size_t batch = std::max<std::size_t>(length, simdjson::dom::DEFAULT_BATCH_SIZE);
    if (parser_.parse_many(reinterpret_cast<const std::uint8_t*>(buffer_.get()), length, batch).get(stream) !=
        simdjson::SUCCESS) {
      slow(lines[i++], out, rejected);
      ++restarts;
      continue;
    }
    // A document is a line's record only when it starts where the line does and the next
    // document starts where the next line does (or none follows): between them is the line's
    // end, so the document is exactly the line. A document's tape is gone once the stream
    // moves on, so each is taken first and kept until the next one confirms it.
    const char* base = buffer_.get() - begin;  // the buffer's address of chunk offset 0
    const auto starts_line = [&](std::size_t index, std::size_t line) {
      return line < lines.size() &&
             base + static_cast<std::size_t>(trim(lines[line]).data() - chunk.data()) == buffer_.get() + index;
    };
    bool pending = false;  // lines[i] is taken (`fast`, `update`), not yet confirmed
    bool fast = false;
    FlowUpdate update;
    bool in_step = true;
    for (auto it = stream.begin(); it != stream.end(); ++it) {
      const std::size_t index = it.current_index();
      if (pending) {
        if (!starts_line(index, i + 1)) {
          in_step = false;
          break;
        }
        if (fast) {
          out.push_back(update);
          ++streamed_;
        } else {
          slow(lines[i], out, rejected);
        }
        ++i;
        pending = false;
      }
      simdjson::dom::element element;
      // After an error the stream yields it for ever: start again after the line.
      if ((*it).get(element) != simdjson::SUCCESS || !starts_line(index, i)) {
        in_step = false;
        break;
      }
      fast = take(element, trim(lines[i]), update);
      pending = true;
    }
    if (in_step && pending && i + 1 == lines.size()) {  // the last line, and nothing after it
      if (fast) {
        out.push_back(update);
        ++streamed_;
      } else {
        slow(lines[i], out, rejected);
      }
      ++i;
      continue;
    }
    if (i < lines.size()) {
      slow(lines[i++], out, rejected);
      ++restarts;
    }
  }
}

}  // namespace flowmetrics::ingest
