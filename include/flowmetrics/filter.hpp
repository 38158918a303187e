#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "flowmetrics/error.hpp"
#include "flowmetrics/metric_key.hpp"

namespace flowmetrics {

// The key fields a filter can test, named as they are stored.
enum class FlowField { source_ip, dest_ip, source_port, dest_port, protocol };

// The stored name of a field: "source_ip", "dest_ip", "source_port", "dest_port", "protocol".
[[nodiscard]] std::string_view to_string(FlowField field) noexcept;

// The field a name designates: the stored names and the short aliases src_ip, dst_ip,
// src_port, dst_port, proto (case-insensitive); std::nullopt for any other text.
[[nodiscard]] std::optional<FlowField> flow_field_from_name(std::string_view name) noexcept;

// True for source_ip and dest_ip, whose values are AddressPrefix.
[[nodiscard]] constexpr bool is_address_field(FlowField field) noexcept {
  return field == FlowField::source_ip || field == FlowField::dest_ip;
}

// An IPv4 or IPv6 network: `bytes` holds the address in network order (an IPv4 address in
// bytes[0..3], the other twelve bytes zero), `length` the prefix length (0-32 for IPv4,
// 0-128 for IPv6). A plain address is a full-length prefix. The bits past `length` are always
// zero (the parser clears them: "10.1.2.3/8" is 10.0.0.0/8). An IPv4-mapped IPv6 address
// (::ffff:a.b.c.d) is an IPv6 prefix, as inet_ntop stores it.
struct AddressPrefix {
  std::array<std::uint8_t, 16> bytes{};
  std::uint8_t length = 0;
  bool is_v4 = false;

  // The bit width of the family: 32 or 128.
  [[nodiscard]] int family_bits() const noexcept { return is_v4 ? 32 : 128; }
  // True when this is a single address (length == family_bits()).
  [[nodiscard]] bool is_host() const noexcept { return length == family_bits(); }
  // True when `address` (a host of either family) lies inside this prefix; families never mix.
  [[nodiscard]] bool contains(const AddressPrefix& address) const noexcept;
  // "10.0.0.0/8", "2001:db8::/32"; a host prints without its length ("10.0.0.1", "::1"),
  // IPv6 in RFC 5952 form as the stored documents hold it.
  [[nodiscard]] std::string to_string() const;

  friend bool operator==(const AddressPrefix&, const AddressPrefix&) = default;
};

// Parses "a.b.c.d", "a.b.c.d/n", an IPv6 address or "ipv6/n"; std::nullopt otherwise.
[[nodiscard]] std::optional<AddressPrefix> parse_address_prefix(std::string_view text);

// A closed range of ports [lo, hi]; a single port has lo == hi.
struct PortRange {
  std::uint16_t lo = 0;
  std::uint16_t hi = 0;

  [[nodiscard]] bool contains(std::uint16_t port) const noexcept { return lo <= port && port <= hi; }
  // "443" or "1000-2000".
  [[nodiscard]] std::string to_string() const;

  friend bool operator==(const PortRange&, const PortRange&) = default;
};

// An IANA protocol number, 0-255 (names are resolved at parse time: tcp -> 6).
using ProtocolNumber = std::uint8_t;

// One value of a condition; its alternative follows the field: AddressPrefix for
// source_ip/dest_ip, PortRange for the ports, ProtocolNumber for protocol.
using FilterValue = std::variant<AddressPrefix, PortRange, ProtocolNumber>;

// eq and in hold when the field matches ANY of the values (an address inside a prefix, a port
// inside a range, the same protocol); ne and not_in hold when it matches NONE of them. eq and
// ne always carry one value; in and not_in one or more. They are kept apart only so that
// to_string() prints what was written.
enum class FilterOp { eq, ne, in, not_in };

struct FilterCondition {
  FlowField field = FlowField::source_ip;
  FilterOp op = FilterOp::eq;
  std::vector<FilterValue> values;  // never empty; every value of the field's alternative

  friend bool operator==(const FilterCondition&, const FilterCondition&) = default;
};

// A node of the expression tree. `and_`/`or_` have two or more children (nested chains of the
// same operator are flattened: a and b and c is one and_ with three children), `not_` exactly
// one, a `condition` none.
struct FilterNode {
  enum class Kind { condition, and_, or_, not_ };

  Kind kind = Kind::condition;
  FilterCondition condition;  // meaningful only when kind == condition
  std::vector<FilterNode> children;

  friend bool operator==(const FilterNode&, const FilterNode&) = default;
};

// The most deeply nested tree the parser builds (parentheses and `not`s count one level
// each). Deeper input is refused with a FilterError, so nothing that walks a parsed tree
// recursively can exhaust the stack.
inline constexpr int kMaxFilterDepth = 64;

// A parsed filter: an expression tree, or nothing (matches every document). A value type,
// cheap to copy for the sizes people type; safe to share between threads for reading.
class Filter {
 public:
  Filter() = default;
  explicit Filter(FilterNode root) : root_(std::move(root)) {}

  // True when the filter matches every document (parsed from an empty or blank text).
  [[nodiscard]] bool empty() const noexcept { return !root_.has_value(); }
  // The tree; precondition: !empty().
  [[nodiscard]] const FilterNode& root() const { return *root_; }

  // The canonical text: lower-case keywords, stored field names, single spaces, values in
  // canonical form (protocols by lower-case name when known), parentheses only where the
  // precedence (not > and > or) needs them. parse_filter(f.to_string()) == f, and the
  // text of an empty filter is "".
  [[nodiscard]] std::string to_string() const;

  // Evaluates the filter on a document key (addresses as stored text; an address that does
  // not parse matches no prefix). For tests and for filtering in the client where the
  // server cannot; the query layer translates the tree into a server-side match instead.
  [[nodiscard]] bool matches(const MetricKey& key) const;

  friend bool operator==(const Filter&, const Filter&) = default;

 private:
  std::optional<FilterNode> root_;
};

// Why a filter text was refused: what() reads "filter: at position 17: expected ...";
// position() is the 0-based byte offset of the offending token (the text's length when the
// text ended too early) and detail() the bare message ("expected a port or range lo-hi").
// code() is errc::invalid_argument.
class FilterError : public Error {
 public:
  FilterError(std::size_t position, std::string detail);

  [[nodiscard]] std::size_t position() const noexcept { return position_; }
  [[nodiscard]] const std::string& detail() const noexcept { return detail_; }

 private:
  std::size_t position_;
  std::string detail_;
};

// Parses the filter syntax:
//   expr      := term { "or" term }
//   term      := factor { "and" factor }
//   factor    := "not" factor | "(" expr ")" | condition
//   condition := field ( "=" | "==" | "!=" ) value
//              | field ( "in" | "not in" ) ( value | "(" value { "," value } ")" )
//   field     := source_ip | dest_ip | source_port | dest_port | protocol
//                (aliases src_ip dst_ip src_port dst_port proto)
//   value     := address | address/len     for the address fields (IPv4 or IPv6)
//              | port | lo-hi              for the ports (0-65535, lo <= hi)
//              | name | number             for protocol (tcp, udp, icmp, ... any case; 0-255)
// Keywords and names are case-insensitive. Examples:
//   source_ip in 10.0.0.0/8 and dest_port = 443 and protocol = tcp
//   not (source_ip = 10.0.0.1 or dest_port in 1000-2000)
//   protocol in (tcp, udp) and dest_port != 53
// An empty or blank text gives the empty filter. Throws FilterError on anything else that
// is not a well-formed filter, including nesting deeper than kMaxFilterDepth. Never reads
// past `text`; any byte sequence is safe input.
[[nodiscard]] Filter parse_filter(std::string_view text);

}  // namespace flowmetrics
