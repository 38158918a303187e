// The filter value types: canonical text and evaluation on a document key. The parser is in
// filter_parser.cpp.
#include <arpa/inet.h>

#include <string>

#include "flowmetrics/filter.hpp"
#include "flowmetrics/validation.hpp"

namespace flowmetrics {
namespace {

std::string lower(std::string text) {
  for (char& c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return text;
}

std::string value_text(const FilterValue& value) {
  if (const auto* prefix = std::get_if<AddressPrefix>(&value)) return prefix->to_string();
  if (const auto* ports = std::get_if<PortRange>(&value)) return ports->to_string();
  // normalize_protocol gives the canonical name ("TCP") or the decimal text of the number.
  const auto number = std::get<ProtocolNumber>(value);
  return lower(normalize_protocol(std::to_string(number)).value_or(std::to_string(number)));
}

std::string condition_text(const FilterCondition& condition) {
  std::string text(to_string(condition.field));
  switch (condition.op) {
    case FilterOp::eq: text += " = "; break;
    case FilterOp::ne: text += " != "; break;
    case FilterOp::in: text += " in "; break;
    case FilterOp::not_in: text += " not in "; break;
  }
  const bool list = condition.values.size() > 1;
  if (list) text += '(';
  for (std::size_t i = 0; i < condition.values.size(); ++i) {
    if (i > 0) text += ", ";
    text += value_text(condition.values[i]);
  }
  if (list) text += ')';
  return text;
}

// Binding strength, for deciding where the canonical text needs parentheses.
int precedence(FilterNode::Kind kind) {
  switch (kind) {
    case FilterNode::Kind::or_: return 1;
    case FilterNode::Kind::and_: return 2;
    case FilterNode::Kind::not_: return 3;
    case FilterNode::Kind::condition: return 4;
  }
  return 4;
}

void append_node(const FilterNode& node, std::string& out);

void append_operand(const FilterNode& child, int parent_precedence, std::string& out) {
  // Same-operator chains are flattened, so an operand of equal strength is never an and_
  // inside an and_; only weaker operands need parentheses.
  if (precedence(child.kind) < parent_precedence) {
    out += '(';
    append_node(child, out);
    out += ')';
  } else {
    append_node(child, out);
  }
}

void append_node(const FilterNode& node, std::string& out) {
  switch (node.kind) {
    case FilterNode::Kind::condition: out += condition_text(node.condition); return;
    case FilterNode::Kind::not_:
      out += "not ";
      append_operand(node.children.front(), precedence(node.kind), out);
      return;
    case FilterNode::Kind::and_:
    case FilterNode::Kind::or_: {
      const char* separator = node.kind == FilterNode::Kind::and_ ? " and " : " or ";
      for (std::size_t i = 0; i < node.children.size(); ++i) {
        if (i > 0) out += separator;
        append_operand(node.children[i], precedence(node.kind), out);
      }
      return;
    }
  }
}

// The stored text of an address as a host prefix; std::nullopt when it is not an address.
std::optional<AddressPrefix> host(const std::string& text) {
  auto prefix = parse_address_prefix(text);
  if (!prefix || !prefix->is_host()) return std::nullopt;
  return prefix;
}

bool value_matches(const FilterValue& value, const MetricKey& key, FlowField field) {
  switch (field) {
    case FlowField::source_ip:
    case FlowField::dest_ip: {
      const auto address = host(field == FlowField::source_ip ? key.source_ip : key.dest_ip);
      return address && std::get<AddressPrefix>(value).contains(*address);
    }
    case FlowField::source_port: return std::get<PortRange>(value).contains(key.source_port);
    case FlowField::dest_port: return std::get<PortRange>(value).contains(key.dest_port);
    case FlowField::protocol: {
      const auto number = protocol_number(key.protocol);
      return number && *number == std::get<ProtocolNumber>(value);
    }
  }
  return false;
}

bool node_matches(const FilterNode& node, const MetricKey& key) {
  switch (node.kind) {
    case FilterNode::Kind::condition: {
      bool any = false;
      for (const auto& value : node.condition.values) {
        if (value_matches(value, key, node.condition.field)) {
          any = true;
          break;
        }
      }
      const bool negated = node.condition.op == FilterOp::ne || node.condition.op == FilterOp::not_in;
      return any != negated;
    }
    case FilterNode::Kind::not_: return !node_matches(node.children.front(), key);
    case FilterNode::Kind::and_:
      for (const auto& child : node.children) {
        if (!node_matches(child, key)) return false;
      }
      return true;
    case FilterNode::Kind::or_:
      for (const auto& child : node.children) {
        if (node_matches(child, key)) return true;
      }
      return false;
  }
  return false;
}

}  // namespace

std::string_view to_string(FlowField field) noexcept {
  switch (field) {
    case FlowField::source_ip: return "source_ip";
    case FlowField::dest_ip: return "dest_ip";
    case FlowField::source_port: return "source_port";
    case FlowField::dest_port: return "dest_port";
    case FlowField::protocol: return "protocol";
  }
  return "?";
}

std::optional<FlowField> flow_field_from_name(std::string_view name) noexcept {
  if (name.size() > 16) return std::nullopt;
  char buffer[16];
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    buffer[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  const std::string_view folded(buffer, name.size());
  if (folded == "source_ip" || folded == "src_ip") return FlowField::source_ip;
  if (folded == "dest_ip" || folded == "dst_ip") return FlowField::dest_ip;
  if (folded == "source_port" || folded == "src_port") return FlowField::source_port;
  if (folded == "dest_port" || folded == "dst_port") return FlowField::dest_port;
  if (folded == "protocol" || folded == "proto") return FlowField::protocol;
  return std::nullopt;
}

bool AddressPrefix::contains(const AddressPrefix& address) const noexcept {
  if (address.is_v4 != is_v4 || address.length < length) return false;
  const int full_bytes = length / 8;
  for (int i = 0; i < full_bytes; ++i) {
    if (bytes[i] != address.bytes[i]) return false;
  }
  const int rest = length % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xFF << (8 - rest));
  return (address.bytes[full_bytes] & mask) == bytes[full_bytes];
}

std::string AddressPrefix::to_string() const {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(is_v4 ? AF_INET : AF_INET6, bytes.data(), text, sizeof(text));
  std::string out(text);
  if (!is_host()) out += '/' + std::to_string(length);
  return out;
}

std::optional<AddressPrefix> parse_address_prefix(std::string_view text) {
  const auto slash = text.find('/');
  const std::string_view address = text.substr(0, slash);
  if (address.empty() || address.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  char buffer[INET6_ADDRSTRLEN] = {};
  address.copy(buffer, address.size());
  if (address.find('\0') != std::string_view::npos) return std::nullopt;
  AddressPrefix prefix;
  if (inet_pton(AF_INET, buffer, prefix.bytes.data()) == 1) {
    prefix.is_v4 = true;
  } else if (inet_pton(AF_INET6, buffer, prefix.bytes.data()) != 1) {
    return std::nullopt;
  }
  int length = prefix.family_bits();
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3) return std::nullopt;
    length = 0;
    for (const char c : digits) {
      if (c < '0' || c > '9') return std::nullopt;
      length = length * 10 + (c - '0');
    }
    if (length > prefix.family_bits()) return std::nullopt;
  }
  prefix.length = static_cast<std::uint8_t>(length);
  // Clear the host bits so that equal networks compare equal whatever was typed.
  for (int bit = length; bit < 128; ++bit) {
    prefix.bytes[bit / 8] = static_cast<std::uint8_t>(prefix.bytes[bit / 8] & ~(0x80 >> (bit % 8)));
  }
  return prefix;
}

std::string PortRange::to_string() const {
  if (lo == hi) return std::to_string(lo);
  return std::to_string(lo) + '-' + std::to_string(hi);
}

std::string Filter::to_string() const {
  std::string out;
  if (root_) append_node(*root_, out);
  return out;
}

bool Filter::matches(const MetricKey& key) const {
  return !root_ || node_matches(*root_, key);
}

FilterError::FilterError(std::size_t position, std::string detail)
    : Error(errc::invalid_argument, "filter: at position " + std::to_string(position) + ": " + detail),
      position_(position),
      detail_(std::move(detail)) {}

}  // namespace flowmetrics
