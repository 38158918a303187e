#include "flowmetrics/validation.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <limits>

namespace flowmetrics {
namespace {

using std::chrono::milliseconds;
using std::chrono::system_clock;

Metric valid_metric() {
  return Metric{
      "192.168.1.1", "192.168.1.2", 8080, 80, "TCP", system_clock::time_point(milliseconds(1'700'000'000'123)), 123.45};
}

TEST(NormalizeIp, AcceptsIpv4AndCanonicalisesIpv6) {
  EXPECT_EQ(normalize_ip("10.0.0.1"), "10.0.0.1");
  EXPECT_EQ(normalize_ip("2001:DB8:0:0:0:0:0:1"), "2001:db8::1");
  EXPECT_EQ(normalize_ip("::ffff:10.0.0.1"), "::ffff:10.0.0.1");
  EXPECT_EQ(normalize_ip("fe80:0000::0001"), "fe80::1");
}

TEST(NormalizeIp, RejectsWhatIsNotAnAddress) {
  for (const char* bad : {"", "10.0.0", "10.0.0.256", "01.2.3.4", " 10.0.0.1", "10.0.0.1 ", "host.example", "1::2::3",
                          "10.0.0.1|x", "2001:db8::1%eth0"}) {
    EXPECT_FALSE(normalize_ip(bad)) << bad;
  }
  EXPECT_FALSE(normalize_ip(std::string(100, '1')));
  EXPECT_FALSE(normalize_ip(std::string_view("10.0.0.1\0junk", 13)));
}

TEST(NormalizeProtocol, NamesAnyCaseAndIanaNumbers) {
  EXPECT_EQ(normalize_protocol("tcp"), "TCP");
  EXPECT_EQ(normalize_protocol("Udp"), "UDP");
  EXPECT_EQ(normalize_protocol("6"), "TCP");
  EXPECT_EQ(normalize_protocol("17"), "UDP");
  EXPECT_EQ(normalize_protocol("58"), "ICMPV6");
  EXPECT_EQ(normalize_protocol("ipv6-icmp"), "ICMPV6");
  EXPECT_EQ(normalize_protocol("0"), "0");
  EXPECT_EQ(normalize_protocol("253"), "253");
}

TEST(NormalizeProtocol, RejectsUnknownNamesAndOutOfRangeNumbers) {
  for (const char* bad : {"", "256", "-1", "QUIC", "tcp ", "6x", "TCP|UDP"}) {
    EXPECT_FALSE(normalize_protocol(bad)) << bad;
  }
}

TEST(MakeMetricKey, BuildsTheCanonicalKey) {
  Metric metric = valid_metric();
  metric.protocol = "6";
  metric.source_ip = "2001:DB8::0:1";
  MetricKey key;
  ASSERT_FALSE(make_metric_key(metric, key));
  EXPECT_EQ(key.source_ip, "2001:db8::1");
  EXPECT_EQ(key.dest_ip, "192.168.1.2");
  EXPECT_EQ(key.source_port, 8080);
  EXPECT_EQ(key.dest_port, 80);
  EXPECT_EQ(key.protocol, "TCP");
  EXPECT_EQ(key.timestamp_ms, 1'700'000'000'123);
}

TEST(MakeMetricKey, TruncatesTimestampsToMilliseconds) {
  Metric metric = valid_metric();
  metric.timestamp = system_clock::time_point(
      std::chrono::duration_cast<system_clock::duration>(std::chrono::microseconds(1'700'000'000'123'999)));
  MetricKey key;
  ASSERT_FALSE(make_metric_key(metric, key));
  EXPECT_EQ(key.timestamp_ms, 1'700'000'000'123);
}

TEST(MakeMetricKey, NamesTheFieldAtFault) {
  struct Case {
    void (*spoil)(Metric&);
    const char* field;
  };
  const Case cases[] = {
      {[](Metric& m) { m.source_ip = "300.1.1.1"; }, "source_ip"},
      {[](Metric& m) { m.dest_ip = ""; }, "dest_ip"},
      {[](Metric& m) { m.source_port = -1; }, "source_port"},
      {[](Metric& m) { m.dest_port = 65536; }, "dest_port"},
      {[](Metric& m) { m.protocol = "carrier-pigeon"; }, "protocol"},
      {[](Metric& m) { m.value = std::numeric_limits<double>::quiet_NaN(); }, "value"},
      {[](Metric& m) { m.value = std::numeric_limits<double>::infinity(); }, "value"},
      {[](Metric& m) { m.timestamp = system_clock::time_point(milliseconds(-1)); }, "timestamp"},
  };
  for (const Case& c : cases) {
    Metric metric = valid_metric();
    c.spoil(metric);
    MetricKey key;
    auto error = make_metric_key(metric, key);
    ASSERT_TRUE(error) << c.field;
    EXPECT_EQ(error->field, c.field);
    EXPECT_FALSE(error->message.empty());
  }
}

TEST(MakeMetricKey, AcceptsTheBoundaries) {
  Metric metric = valid_metric();
  metric.source_port = 0;
  metric.dest_port = 65535;
  metric.timestamp = system_clock::time_point(milliseconds(0));
  MetricKey key;
  EXPECT_FALSE(make_metric_key(metric, key));
  // system_clock counts nanoseconds in 64 bits, so its latest instant (in 2262) is the
  // latest a Metric can carry; parsers check the 9999 bound before converting.
  metric.timestamp = std::chrono::floor<milliseconds>(system_clock::time_point::max());
  EXPECT_FALSE(make_metric_key(metric, key));
}

}  // namespace
}  // namespace flowmetrics
