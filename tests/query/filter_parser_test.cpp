// The filter syntax (flowmetrics/filter.hpp): what parses into which tree, the canonical text,
// evaluation on keys, and errors that point at the offending byte.
#include <gtest/gtest.h>

#include <string>

#include "flowmetrics/filter.hpp"

namespace flowmetrics {
namespace {

MetricKey key(std::string source, std::string dest, int source_port, int dest_port, std::string protocol) {
  MetricKey k;
  k.source_ip = std::move(source);
  k.dest_ip = std::move(dest);
  k.source_port = static_cast<std::uint16_t>(source_port);
  k.dest_port = static_cast<std::uint16_t>(dest_port);
  k.protocol = std::move(protocol);
  return k;
}

// The position and detail of the FilterError `text` raises (fails the test when it parses).
std::pair<std::size_t, std::string> error_of(const std::string& text) {
  try {
    const auto filter = parse_filter(text);
    ADD_FAILURE() << "parsed: " << text << " -> " << filter.to_string();
  } catch (const FilterError& error) {
    EXPECT_EQ(error.code(), errc::invalid_argument);
    EXPECT_NE(std::string(error.what()).find("position " + std::to_string(error.position())), std::string::npos);
    return {error.position(), error.detail()};
  }
  return {std::string::npos, ""};
}

TEST(FilterParser, EmptyAndBlankTextGiveTheEmptyFilter) {
  EXPECT_TRUE(parse_filter("").empty());
  EXPECT_TRUE(parse_filter("  \t\n").empty());
  EXPECT_EQ(parse_filter("").to_string(), "");
  EXPECT_TRUE(parse_filter("").matches(key("1.2.3.4", "5.6.7.8", 1, 2, "TCP")));
}

TEST(FilterParser, IssueExampleBuildsAFlatAnd) {
  const auto filter = parse_filter("source_ip in 10.0.0.0/8 and dest_port = 443 and protocol = tcp");
  ASSERT_FALSE(filter.empty());
  const auto& root = filter.root();
  ASSERT_EQ(root.kind, FilterNode::Kind::and_);
  ASSERT_EQ(root.children.size(), 3u);

  const auto& ip = root.children[0].condition;
  EXPECT_EQ(ip.field, FlowField::source_ip);
  EXPECT_EQ(ip.op, FilterOp::in);
  ASSERT_EQ(ip.values.size(), 1u);
  const auto& prefix = std::get<AddressPrefix>(ip.values[0]);
  EXPECT_TRUE(prefix.is_v4);
  EXPECT_EQ(prefix.length, 8);
  EXPECT_EQ(prefix.bytes[0], 10);

  const auto& port = root.children[1].condition;
  EXPECT_EQ(port.field, FlowField::dest_port);
  EXPECT_EQ(port.op, FilterOp::eq);
  EXPECT_EQ(std::get<PortRange>(port.values[0]), (PortRange{443, 443}));

  const auto& protocol = root.children[2].condition;
  EXPECT_EQ(protocol.field, FlowField::protocol);
  EXPECT_EQ(std::get<ProtocolNumber>(protocol.values[0]), 6);
  EXPECT_EQ(filter.to_string(), "source_ip in 10.0.0.0/8 and dest_port = 443 and protocol = tcp");
}

TEST(FilterParser, PrecedenceIsNotThenAndThenOr) {
  const auto filter = parse_filter("dest_port = 1 or dest_port = 2 and not protocol = udp");
  const auto& root = filter.root();
  ASSERT_EQ(root.kind, FilterNode::Kind::or_);
  ASSERT_EQ(root.children.size(), 2u);
  EXPECT_EQ(root.children[0].kind, FilterNode::Kind::condition);
  const auto& conjunction = root.children[1];
  ASSERT_EQ(conjunction.kind, FilterNode::Kind::and_);
  EXPECT_EQ(conjunction.children[1].kind, FilterNode::Kind::not_);
  EXPECT_EQ(filter.to_string(), "dest_port = 1 or dest_port = 2 and not protocol = udp");
}

TEST(FilterParser, ParenthesesOverridePrecedenceAndPrintOnlyWhereNeeded) {
  EXPECT_EQ(parse_filter("(dest_port = 1 or dest_port = 2) and protocol = 6").to_string(),
            "(dest_port = 1 or dest_port = 2) and protocol = tcp");
  EXPECT_EQ(parse_filter("((dest_port = 1))").to_string(), "dest_port = 1");
  EXPECT_EQ(parse_filter("not (source_ip = 10.0.0.1 or dest_port in 1000-2000)").to_string(),
            "not (source_ip = 10.0.0.1 or dest_port in 1000-2000)");
  EXPECT_EQ(parse_filter("not not dest_port = 1").to_string(), "not not dest_port = 1");
  // Same-operator chains flatten whatever the grouping.
  const auto nested = parse_filter("dest_port = 1 and (dest_port = 2 and dest_port = 3)");
  EXPECT_EQ(nested.root().children.size(), 3u);
  EXPECT_EQ(nested, parse_filter("dest_port = 1 and dest_port = 2 and dest_port = 3"));
}

TEST(FilterParser, SetsRangesAliasesAndCase) {
  EXPECT_EQ(parse_filter("source_ip in (10.0.0.1, 10.0.0.2)").to_string(), "source_ip in (10.0.0.1, 10.0.0.2)");
  EXPECT_EQ(parse_filter("dest_port != 53").to_string(), "dest_port != 53");
  EXPECT_EQ(parse_filter("protocol in (tcp, UDP,17,icmp)").to_string(), "protocol in (tcp, udp, udp, icmp)");
  EXPECT_EQ(parse_filter("SRC_IP = 10.1.2.3 AND Dst_Port NOT IN (1-1023, 8080) OR proto == 47").to_string(),
            "source_ip = 10.1.2.3 and dest_port not in (1-1023, 8080) or protocol = gre");
  EXPECT_EQ(parse_filter("protocol = 253").to_string(), "protocol = 253");
  EXPECT_EQ(parse_filter("protocol = ipv6-icmp").to_string(), "protocol = icmpv6");
  EXPECT_EQ(parse_filter("dest_port in 0-65535").to_string(), "dest_port in 0-65535");
  EXPECT_EQ(parse_filter("dest_port=443 and source_port!=80").to_string(), "dest_port = 443 and source_port != 80");
}

TEST(FilterParser, AddressesAndPrefixesInBothFamilies) {
  EXPECT_EQ(parse_filter("dest_ip = 2001:DB8:0:0::1").to_string(), "dest_ip = 2001:db8::1");
  EXPECT_EQ(parse_filter("dest_ip in 2001:db8:ffff::/32").to_string(), "dest_ip in 2001:db8::/32");
  EXPECT_EQ(parse_filter("source_ip in 10.1.2.3/8").to_string(), "source_ip in 10.0.0.0/8");
  EXPECT_EQ(parse_filter("source_ip in 10.1.2.3/32").to_string(), "source_ip in 10.1.2.3");
  EXPECT_EQ(parse_filter("source_ip in 0.0.0.0/0").to_string(), "source_ip in 0.0.0.0/0");
  EXPECT_EQ(parse_filter("source_ip in ::/0").to_string(), "source_ip in ::/0");
  EXPECT_EQ(parse_filter("source_ip = ::ffff:10.0.0.1").to_string(), "source_ip = ::ffff:10.0.0.1");

  const auto v4 = *parse_address_prefix("192.168.0.0/23");
  EXPECT_TRUE(v4.contains(*parse_address_prefix("192.168.1.255")));
  EXPECT_FALSE(v4.contains(*parse_address_prefix("192.168.2.0")));
  EXPECT_FALSE(v4.contains(*parse_address_prefix("::ffff:192.168.1.1")));  // families never mix
  const auto v6 = *parse_address_prefix("fe80::/10");
  EXPECT_TRUE(v6.contains(*parse_address_prefix("febf::1")));
  EXPECT_FALSE(v6.contains(*parse_address_prefix("fec0::1")));
  EXPECT_FALSE(parse_address_prefix("10.0.0.0/33"));
  EXPECT_FALSE(parse_address_prefix("::/129"));
  EXPECT_FALSE(parse_address_prefix("10.0.0/8"));
  EXPECT_FALSE(parse_address_prefix("10.0.0.0/"));
  EXPECT_FALSE(parse_address_prefix("10.0.0.0/8/8"));
}

TEST(FilterParser, CanonicalTextReparsesToTheSameTree) {
  for (const char* text : {"source_ip in 10.0.0.0/8 and dest_port = 443 and protocol = tcp",
                           "not (source_ip = 10.0.0.1 or dest_port in 1000-2000)",
                           "source_ip in (10.0.0.1, 10.0.0.2) or not not dest_ip != ::1",
                           "(protocol in (tcp, udp) or dest_port = 1) and (source_port = 2 or dest_ip in fe80::/10)",
                           "not (dest_port = 1 and dest_port = 2) or protocol not in 0-0"}) {
    SCOPED_TRACE(text);
    try {
      const auto filter = parse_filter(text);
      EXPECT_EQ(parse_filter(filter.to_string()), filter) << filter.to_string();
    } catch (const FilterError& error) {
      // "protocol not in 0-0" is deliberately wrong: a protocol takes no range.
      EXPECT_EQ(std::string(text).find("0-0"), error.position());
    }
  }
}

TEST(FilterParser, MatchesEvaluatesEveryForm) {
  const auto web = key("10.1.2.3", "2001:db8::7", 51000, 443, "TCP");
  const auto dns = key("192.168.1.1", "8.8.8.8", 5353, 53, "UDP");
  const auto ping = key("10.9.9.9", "10.0.0.1", 0, 0, "ICMP");
  const auto matches = [](const std::string& text, const MetricKey& k) { return parse_filter(text).matches(k); };

  EXPECT_TRUE(matches("source_ip in 10.0.0.0/8 and dest_port = 443 and protocol = tcp", web));
  EXPECT_FALSE(matches("source_ip in 10.0.0.0/8 and dest_port = 443 and protocol = tcp", ping));
  EXPECT_TRUE(matches("dest_ip in 2001:db8::/32", web));
  EXPECT_FALSE(matches("dest_ip in 2001:db8::/32", dns));
  EXPECT_TRUE(matches("dest_port != 53", web));
  EXPECT_FALSE(matches("dest_port != 53", dns));
  EXPECT_TRUE(matches("source_port in 5000-6000", dns));
  EXPECT_FALSE(matches("source_port not in (5000-6000, 0)", dns));
  EXPECT_TRUE(matches("source_port not in (5000-6000, 0)", web));
  EXPECT_TRUE(matches("protocol in (tcp, udp)", dns));
  EXPECT_FALSE(matches("protocol in (tcp, udp)", ping));
  EXPECT_TRUE(matches("not (protocol = tcp or protocol = udp)", ping));
  EXPECT_TRUE(matches("protocol = 1", ping));
  EXPECT_TRUE(matches("source_ip = 192.168.1.1 or dest_ip = 10.0.0.1", ping));
  EXPECT_FALSE(matches("source_ip = 192.168.1.1 and dest_ip = 10.0.0.1", ping));
}

TEST(FilterParser, ErrorsPointAtTheOffendingToken) {
  auto [position, detail] = error_of("source_ip in 10.0.0.0/33");
  EXPECT_EQ(position, 13u);
  EXPECT_NE(detail.find("IPv4 or IPv6 address or prefix"), std::string::npos);

  std::tie(position, detail) = error_of("sauce_ip = 10.0.0.1");
  EXPECT_EQ(position, 0u);
  EXPECT_NE(detail.find("unknown field 'sauce_ip'"), std::string::npos);

  std::tie(position, detail) = error_of("dest_port = 443 and");
  EXPECT_EQ(position, 19u);  // the end of the text
  EXPECT_NE(detail.find("expected a condition"), std::string::npos);

  std::tie(position, detail) = error_of("dest_port > 443");
  EXPECT_EQ(position, 10u);
  EXPECT_EQ(detail, "unexpected character '>'");

  std::tie(position, detail) = error_of("dest_port 443");
  EXPECT_EQ(position, 10u);
  EXPECT_NE(detail.find("expected '=', '!=', 'in' or 'not in' after dest_port"), std::string::npos);

  std::tie(position, detail) = error_of("dest_port in 2000-1000");
  EXPECT_EQ(position, 13u);
  EXPECT_NE(detail.find("empty"), std::string::npos);

  std::tie(position, detail) = error_of("dest_port = 65536");
  EXPECT_EQ(position, 12u);
  EXPECT_NE(detail.find("port 0-65535"), std::string::npos);

  std::tie(position, detail) = error_of("protocol = tcpx");
  EXPECT_EQ(position, 11u);
  EXPECT_NE(detail.find("protocol name"), std::string::npos);

  std::tie(position, detail) = error_of("protocol in (tcp, udp");
  EXPECT_EQ(position, 21u);
  EXPECT_NE(detail.find("expected ',' or ')'"), std::string::npos);

  std::tie(position, detail) = error_of("(dest_port = 1");
  EXPECT_EQ(position, 14u);
  EXPECT_NE(detail.find("')'"), std::string::npos);

  std::tie(position, detail) = error_of("dest_port = 1 dest_port = 2");
  EXPECT_EQ(position, 14u);
  EXPECT_NE(detail.find("expected 'and', 'or' or the end"), std::string::npos);

  std::tie(position, detail) = error_of("dest_port = (1, 2)");
  EXPECT_EQ(position, 12u);
  EXPECT_NE(detail.find("use 'in'"), std::string::npos);

  std::tie(position, detail) = error_of("source_ip not = 10.0.0.1");
  EXPECT_EQ(position, 14u);
  EXPECT_NE(detail.find("'in' after 'not'"), std::string::npos);

  std::tie(position, detail) = error_of(std::string("dest_port = 1\0", 14));
  EXPECT_EQ(position, 13u);
  EXPECT_NE(detail.find("unexpected byte"), std::string::npos);
}

TEST(FilterParser, NestingIsBoundedAndReportedAsAnError) {
  std::string deep_parens(kMaxFilterDepth, '(');
  deep_parens += "dest_port = 1" + std::string(kMaxFilterDepth, ')');
  auto [position, detail] = error_of(deep_parens);
  EXPECT_EQ(position, static_cast<std::size_t>(kMaxFilterDepth));
  EXPECT_NE(detail.find("nesting is too deep"), std::string::npos);

  std::string deep_nots;
  for (int i = 0; i < 100000; ++i) deep_nots += "not ";
  deep_nots += "dest_port = 1";
  std::tie(position, detail) = error_of(deep_nots);
  EXPECT_EQ(position, static_cast<std::size_t>(kMaxFilterDepth) * 4);

  // Just inside the limit still parses.
  std::string ok(kMaxFilterDepth - 1, '(');
  ok += "dest_port = 1" + std::string(kMaxFilterDepth - 1, ')');
  EXPECT_EQ(parse_filter(ok).to_string(), "dest_port = 1");
}

TEST(FilterParser, FieldNames) {
  EXPECT_EQ(to_string(FlowField::dest_port), "dest_port");
  EXPECT_EQ(flow_field_from_name("DST_IP"), FlowField::dest_ip);
  EXPECT_EQ(flow_field_from_name("proto"), FlowField::protocol);
  EXPECT_FALSE(flow_field_from_name("timestamp"));
  EXPECT_FALSE(flow_field_from_name("a_very_long_name_indeed"));
  EXPECT_TRUE(is_address_field(FlowField::source_ip));
  EXPECT_FALSE(is_address_field(FlowField::protocol));
}

}  // namespace
}  // namespace flowmetrics
