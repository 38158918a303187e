// parse_filter: a hand-written lexer and recursive-descent parser for the filter syntax in
// flowmetrics/filter.hpp. Recursion is bounded by kMaxFilterDepth; every error carries the
// byte offset of the token at fault.
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

#include "flowmetrics/filter.hpp"
#include "flowmetrics/validation.hpp"

namespace flowmetrics {
namespace {

enum class TokenKind { word, lparen, rparen, comma, eq, ne, end };

struct Token {
  TokenKind kind = TokenKind::end;
  std::string_view text;
  std::size_t position = 0;
};

// Characters of a word: field names, keywords and values (addresses with '.', ':' and '/',
// port ranges with '-', protocol names such as ipv6-icmp).
bool is_word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
         c == ':' || c == '/' || c == '-';
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

bool equals_folded(std::string_view text, std::string_view keyword) {
  if (text.size() != keyword.size()) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != keyword[i]) return false;
  }
  return true;
}

std::string quoted(std::string_view text) {
  constexpr std::size_t kMax = 40;
  std::string out = "'";
  out.append(text.substr(0, kMax));
  if (text.size() > kMax) out += "...";
  return out + "'";
}

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  Token next() {
    while (offset_ < text_.size() && is_space(text_[offset_])) ++offset_;
    Token token;
    token.position = offset_;
    if (offset_ >= text_.size()) return token;
    const char c = text_[offset_];
    const auto single = [&](TokenKind kind, std::size_t size) {
      token.kind = kind;
      token.text = text_.substr(offset_, size);
      offset_ += size;
      return token;
    };
    if (c == '(') return single(TokenKind::lparen, 1);
    if (c == ')') return single(TokenKind::rparen, 1);
    if (c == ',') return single(TokenKind::comma, 1);
    if (c == '=') return single(TokenKind::eq, offset_ + 1 < text_.size() && text_[offset_ + 1] == '=' ? 2 : 1);
    if (c == '!' && offset_ + 1 < text_.size() && text_[offset_ + 1] == '=') return single(TokenKind::ne, 2);
    if (!is_word_char(c)) {
      const bool printable = c > ' ' && c < 0x7F;
      throw FilterError(offset_, printable ? "unexpected character " + quoted(std::string_view(&c, 1))
                                           : std::string("unexpected byte (not a printable ASCII character)"));
    }
    std::size_t end = offset_;
    while (end < text_.size() && is_word_char(text_[end])) ++end;
    return single(TokenKind::word, end - offset_);
  }

 private:
  std::string_view text_;
  std::size_t offset_ = 0;
};

class Parser {
 public:
  explicit Parser(std::string_view text) : lexer_(text) { advance(); }

  Filter parse() {
    if (current_.kind == TokenKind::end) return Filter{};
    FilterNode root = parse_or(0);
    if (current_.kind != TokenKind::end) fail("expected 'and', 'or' or the end of the filter");
    return Filter{std::move(root)};
  }

 private:
  [[noreturn]] void fail(std::string detail) const { throw FilterError(current_.position, std::move(detail)); }

  void advance() { current_ = lexer_.next(); }

  bool at_keyword(std::string_view keyword) const {
    return current_.kind == TokenKind::word && equals_folded(current_.text, keyword);
  }

  // Appends `child` to an and_/or_ node, splicing a child of the same kind so that chains are
  // flat whatever the parentheses (the canonical text then reparses to the same tree).
  static void append_child(FilterNode& parent, FilterNode child) {
    if (child.kind == parent.kind) {
      for (auto& grandchild : child.children) parent.children.push_back(std::move(grandchild));
    } else {
      parent.children.push_back(std::move(child));
    }
  }

  FilterNode parse_binary(FilterNode::Kind kind, std::string_view keyword, int depth) {
    const bool is_or = kind == FilterNode::Kind::or_;
    FilterNode first = is_or ? parse_binary(FilterNode::Kind::and_, "and", depth) : parse_factor(depth);
    if (!at_keyword(keyword)) return first;
    FilterNode node;
    node.kind = kind;
    append_child(node, std::move(first));
    while (at_keyword(keyword)) {
      advance();
      append_child(node, is_or ? parse_binary(FilterNode::Kind::and_, "and", depth) : parse_factor(depth));
    }
    return node;
  }

  FilterNode parse_or(int depth) { return parse_binary(FilterNode::Kind::or_, "or", depth); }

  FilterNode parse_factor(int depth) {
    if (depth >= kMaxFilterDepth) {
      fail("nesting is too deep (more than " + std::to_string(kMaxFilterDepth) + " levels of 'not' and parentheses)");
    }
    if (at_keyword("not")) {
      advance();
      FilterNode node;
      node.kind = FilterNode::Kind::not_;
      node.children.push_back(parse_factor(depth + 1));
      return node;
    }
    if (current_.kind == TokenKind::lparen) {
      advance();
      FilterNode inner = parse_or(depth + 1);
      if (current_.kind != TokenKind::rparen) fail("expected 'and', 'or' or ')'");
      advance();
      return inner;
    }
    return parse_condition();
  }

  FilterNode parse_condition() {
    if (current_.kind != TokenKind::word) {
      fail("expected a condition: a field (source_ip, dest_ip, source_port, dest_port, protocol), 'not' or '('");
    }
    const auto field = flow_field_from_name(current_.text);
    if (!field) {
      fail("unknown field " + quoted(current_.text) +
           ": expected source_ip, dest_ip, source_port, dest_port or protocol, 'not' or '('");
    }
    advance();
    FilterNode node;
    node.condition.field = *field;
    if (current_.kind == TokenKind::eq || current_.kind == TokenKind::ne) {
      node.condition.op = current_.kind == TokenKind::eq ? FilterOp::eq : FilterOp::ne;
      advance();
      if (current_.kind == TokenKind::lparen) {
        fail("'=' and '!=' take one value: use 'in' or 'not in' for a list");
      }
      node.condition.values.push_back(parse_value(*field));
      return node;
    }
    if (at_keyword("not")) {
      advance();
      if (!at_keyword("in")) fail("expected 'in' after 'not'");
      node.condition.op = FilterOp::not_in;
    } else if (at_keyword("in")) {
      node.condition.op = FilterOp::in;
    } else {
      fail("expected '=', '!=', 'in' or 'not in' after " + std::string(to_string(*field)));
    }
    advance();
    if (current_.kind != TokenKind::lparen) {
      node.condition.values.push_back(parse_value(*field));
      return node;
    }
    advance();
    node.condition.values.push_back(parse_value(*field));
    while (current_.kind == TokenKind::comma) {
      advance();
      node.condition.values.push_back(parse_value(*field));
    }
    if (current_.kind != TokenKind::rparen) fail("expected ',' or ')' in the list of values");
    advance();
    return node;
  }

  FilterValue parse_value(FlowField field) {
    const std::string_view text = current_.kind == TokenKind::word ? current_.text : std::string_view{};
    FilterValue value;
    switch (field) {
      case FlowField::source_ip:
      case FlowField::dest_ip: {
        auto prefix = text.empty() ? std::nullopt : parse_address_prefix(text);
        if (!prefix) {
          fail("expected an IPv4 or IPv6 address or prefix (e.g. 10.0.0.1, 10.0.0.0/8, 2001:db8::/32) for " +
               std::string(to_string(field)));
        }
        value = *prefix;
        break;
      }
      case FlowField::source_port:
      case FlowField::dest_port: value = parse_ports(text, field); break;
      case FlowField::protocol: {
        const auto number = text.empty() ? std::nullopt : protocol_number(text);
        if (!number) fail("expected a protocol name (tcp, udp, icmp, ...) or a number 0-255");
        value = static_cast<ProtocolNumber>(*number);
        break;
      }
    }
    advance();
    return value;
  }

  PortRange parse_ports(std::string_view text, FlowField field) {
    const std::string expected =
        "expected a port 0-65535 or a range lo-hi (e.g. 443, 1000-2000) for " + std::string(to_string(field));
    const auto number = [&](std::string_view digits) {
      if (digits.empty() || digits.size() > 5) fail(expected);
      long port = 0;
      for (const char c : digits) {
        if (c < '0' || c > '9') fail(expected);
        port = port * 10 + (c - '0');
      }
      if (port > 65535) fail(expected);
      return static_cast<std::uint16_t>(port);
    };
    const auto dash = text.find('-');
    PortRange range;
    range.lo = number(text.substr(0, dash));
    range.hi = dash == std::string_view::npos ? range.lo : number(text.substr(dash + 1));
    if (range.lo > range.hi) fail("the port range " + std::string(text) + " is empty: write the lower port first");
    return range;
  }

  Lexer lexer_;
  Token current_;
};

}  // namespace

Filter parse_filter(std::string_view text) {
  return Parser(text).parse();
}

}  // namespace flowmetrics
