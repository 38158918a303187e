// Records payloads: version 2 (binary keys) round-trips exactly; version 1 (an earlier
// release's text keys) still decodes to the same binary keys; both frame checksums check.
#include "spool/spooled_records.hpp"

#include <gtest/gtest.h>

#include "spool/crc32c.hpp"
#include "spool/frame.hpp"
#include "spool_v1_support.hpp"

namespace flowmetrics::spool {
namespace {

FlowUpdate update(const char* source, const char* dest, std::uint8_t protocol, std::int64_t ms, double value,
                  std::uint64_t bytes, std::uint64_t flows = 1) {
  FlowUpdate u;
  EXPECT_EQ(make_flow_key(*parse_ip(source), *parse_ip(dest), 1234, 80, protocol, ms, u.key), KeyRejection::none);
  u.value = value;
  u.packets = 3;
  u.bytes = bytes;
  u.flows = flows;
  return u;
}

bool same(const FlowUpdate& a, const FlowUpdate& b) {
  return a.key == b.key && std::memcmp(&a.value, &b.value, 8) == 0 && a.packets == b.packets && a.bytes == b.bytes &&
         a.flows == b.flows;
}

TEST(SpooledRecords, Version2RoundTripsEveryFieldExactly) {
  RecordBatch batch;
  batch.input = "netflow";
  batch.idempotency_key = "k";
  batch.answer = "{}";
  batch.origin = "file";
  batch.origin_offset = 77;
  batch.records = {update("10.0.0.1", "10.0.0.2", 6, 1732530000123, 1500, 1500),
                   update("2001:db8::1", "::ffff:1.2.3.4", 17, 1732529000000, 2.5, 9, 0),
                   update("10.0.0.1", "::1", 255, 0, -0.0, 0, 7),
                   update("255.255.255.255", "10.0.0.9", 1, kMaxFlowTimestampMs, 1e300, UINT64_MAX, UINT64_MAX)};
  const std::string payload = encode(batch);
  EXPECT_LT(payload.size(), 60 + 4 * 60u);
  const auto decoded = decode_records(payload);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->version, kRecordsVersion2);
  EXPECT_EQ(decoded->input, "netflow");
  EXPECT_EQ(decoded->origin_offset, 77u);
  ASSERT_EQ(decoded->records.size(), batch.records.size());
  for (std::size_t i = 0; i < batch.records.size(); ++i) EXPECT_TRUE(same(decoded->records[i], batch.records[i])) << i;
  // Every truncation is refused, never misread.
  for (std::size_t n = 0; n < payload.size(); ++n) EXPECT_FALSE(decode_records(payload.substr(0, n)).has_value()) << n;
}

TEST(SpooledRecords, AnIpv4NetflowRecordTakesAboutTwentyBytes) {
  RecordBatch batch;
  for (int i = 0; i < 1000; ++i)
    batch.records.push_back(update("10.0.0.1", "10.0.0.2", 6, 1732530000000 + i, 1500, 1500));
  EXPECT_LT(encode(batch).size(), 1000u * 24);
}

TEST(SpooledRecords, AVersion1PayloadDecodesToTheSameBinaryKeys) {
  std::vector<testing::V1Record> v1{
      {{"10.0.0.1", "10.0.0.2", 1234, 80, "TCP", 1732530000123}, 1.5, 2, 3, 1},
      {{"2001:db8::1", "::ffff:1.2.3.4", 1234, 80, "UDP", 1732530000000}, 7, 1, 7, 2},
      {{"10.0.0.1", "::1", 1234, 80, "255", 0}, 0, 0, 0, 0},
  };
  const auto decoded = decode_records(testing::encode_v1_records(v1));
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->version, kRecordsVersion1);
  ASSERT_EQ(decoded->records.size(), 3u);
  FlowUpdate first = update("10.0.0.1", "10.0.0.2", 6, 1732530000123, 1.5, 3);
  first.packets = 2;
  EXPECT_TRUE(same(decoded->records[0], first));
  for (std::size_t i = 0; i < v1.size(); ++i) {
    EXPECT_EQ(render_metric_key(decoded->records[i].key), v1[i].key) << i;
  }
  // A version-1 key that is not canonical text is damage.
  v1[0].key.protocol = "tcp ";
  EXPECT_FALSE(decode_records(testing::encode_v1_records(v1)).has_value());
}

TEST(SpooledRecords, FramesOfBothChecksumsCheck) {
  // The CRC-32C check value (RFC 3720 B.4), on whichever implementation this CPU runs.
  EXPECT_EQ(crc32c(0, "123456789", 9), 0xE3069283u) << crc32c_implementation();
  EXPECT_EQ(crc32c(crc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
  const std::string payload = testing::encode_v1_records({});
  FrameHeader header;
  std::string v1 = testing::encode_v1_frame(1, 5, 99, payload);
  ASSERT_EQ(check_frame(std::span(v1.data(), v1.size()), header), FrameCheck::ok);
  EXPECT_EQ(header.sequence, 5u);
  std::string v2;
  encode_frame(v2, FrameType::records, 6, 99, payload);
  ASSERT_EQ(check_frame(std::span(v2.data(), v2.size()), header), FrameCheck::ok);
  EXPECT_EQ(v2[13], 1) << "new frames carry CRC-32C";
  for (std::string* frame : {&v1, &v2}) {
    (*frame)[40] ^= 1;
    EXPECT_EQ(check_frame(std::span(frame->data(), frame->size()), header), FrameCheck::damaged);
  }
}

}  // namespace
}  // namespace flowmetrics::spool
