#include "mongo/filter_match.hpp"

#include <algorithm>
#include <string>
#include <variant>

#include "flowmetrics/validation.hpp"

namespace flowmetrics::mongo {
namespace {

constexpr char kHex[] = "0123456789abcdef";

// The address_sort_key() bounds of every address inside `prefix`.
std::pair<std::string, std::string> prefix_bounds(const AddressPrefix& prefix) {
  const std::size_t size = prefix.is_v4 ? 4 : 16;
  std::string lo(1, prefix.is_v4 ? '4' : '6');
  std::string hi = lo;
  for (std::size_t i = 0; i < size; ++i) {
    const int bits_here = std::clamp(static_cast<int>(prefix.length) - static_cast<int>(8 * i), 0, 8);
    const auto mask = static_cast<std::uint8_t>(bits_here == 0 ? 0 : (0xff << (8 - bits_here)) & 0xff);
    const auto low = static_cast<std::uint8_t>(prefix.bytes[i] & mask);
    const auto high = static_cast<std::uint8_t>(low | static_cast<std::uint8_t>(~mask));
    lo += {kHex[low >> 4], kHex[low & 0xf]};
    hi += {kHex[high >> 4], kHex[high & 0xf]};
  }
  return {lo, hi};
}

std::string protocol_text(ProtocolNumber number) {
  return normalize_protocol(std::to_string(number)).value_or(std::to_string(number));
}

// One value of a condition as a match document appended under `key` of `parent`.
void append_value(bson_t* parent, const char* key, FlowField field, const FilterValue& value) {
  bson_t doc, range;
  bson_append_document_begin(parent, key, -1, &doc);
  const std::string name(to_string(field));
  if (const auto* prefix = std::get_if<AddressPrefix>(&value)) {
    if (prefix->is_host()) {
      const std::string text = prefix->to_string();
      bson_append_utf8(&doc, name.c_str(), -1, text.c_str(), -1);
    } else {
      const auto [lo, hi] = prefix_bounds(*prefix);
      const std::string hex_field = name + "_hex";
      bson_append_document_begin(&doc, hex_field.c_str(), -1, &range);
      BSON_APPEND_UTF8(&range, "$gte", lo.c_str());
      BSON_APPEND_UTF8(&range, "$lte", hi.c_str());
      bson_append_document_end(&doc, &range);
    }
  } else if (const auto* ports = std::get_if<PortRange>(&value)) {
    if (ports->lo == ports->hi) {
      bson_append_int32(&doc, name.c_str(), -1, ports->lo);
    } else {
      bson_append_document_begin(&doc, name.c_str(), -1, &range);
      BSON_APPEND_INT32(&range, "$gte", ports->lo);
      BSON_APPEND_INT32(&range, "$lte", ports->hi);
      bson_append_document_end(&doc, &range);
    }
  } else {
    const std::string text = protocol_text(std::get<ProtocolNumber>(value));
    bson_append_utf8(&doc, name.c_str(), -1, text.c_str(), -1);
  }
  bson_append_document_end(parent, &doc);
}

void append_node(bson_t* parent, const char* key, const FilterNode& node);

void append_children(bson_t* doc, const char* op, const std::vector<FilterNode>& children) {
  bson_t array;
  bson_append_array_begin(doc, op, -1, &array);
  for (std::size_t i = 0; i < children.size(); ++i) append_node(&array, std::to_string(i).c_str(), children[i]);
  bson_append_array_end(doc, &array);
}

void append_condition(bson_t* doc, const FilterCondition& condition) {
  const bool negated = condition.op == FilterOp::ne || condition.op == FilterOp::not_in;
  bson_t array;
  // {$or: [v...]} or {$nor: [v...]}; $or of one value is still a valid match.
  bson_append_array_begin(doc, negated ? "$nor" : "$or", -1, &array);
  for (std::size_t i = 0; i < condition.values.size(); ++i) {
    append_value(&array, std::to_string(i).c_str(), condition.field, condition.values[i]);
  }
  bson_append_array_end(doc, &array);
}

void append_node(bson_t* parent, const char* key, const FilterNode& node) {
  bson_t doc;
  bson_append_document_begin(parent, key, -1, &doc);
  switch (node.kind) {
    case FilterNode::Kind::condition: append_condition(&doc, node.condition); break;
    case FilterNode::Kind::and_: append_children(&doc, "$and", node.children); break;
    case FilterNode::Kind::or_: append_children(&doc, "$or", node.children); break;
    case FilterNode::Kind::not_: append_children(&doc, "$nor", node.children); break;
  }
  bson_append_document_end(parent, &doc);
}

}  // namespace

void append_filter(bson_t* match, const Filter& filter) {
  if (filter.empty()) return;
  bson_t array;
  BSON_APPEND_ARRAY_BEGIN(match, "$and", &array);
  append_node(&array, "0", filter.root());
  bson_append_array_end(match, &array);
}

}  // namespace flowmetrics::mongo
