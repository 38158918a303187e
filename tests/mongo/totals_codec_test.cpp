#include "mongo/totals_codec.hpp"

#include <gtest/gtest.h>

#include <limits>

namespace flowmetrics::mongo {
namespace {

TEST(TotalsCodec, RoundTripsWholeAndFractionalValues) {
  const TotalsEntries entries{
      {"", {1, 2, 3, 4, 5.0}},
      {std::string("\x0a\x00\x00\x01", 4), {1'000'000'000'000ULL, 7, 1, 1, 0.25}},
      {"TCP", {std::numeric_limits<std::uint64_t>::max(), 0, 0, 0, -3.0}},
      {"UDP", {0, 0, 0, 0, 1e300}},
  };
  const std::string packed = pack_totals(entries);
  const auto back = unpack_totals(packed);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, entries);
  // Whole values take a varint: a small entry stays small.
  EXPECT_EQ(pack_totals({{"TCP", {300, 2, 1, 1, 1.0}}}).size(), 1u + 1 + 3 + 2 + 1 + 1 + 1 + 1);
}

TEST(TotalsCodec, RefusesDamagedInput) {
  const std::string packed = pack_totals({{"a", {1, 2, 3, 4, 0.5}}, {"b", {5, 6, 7, 8, 9}}});
  for (std::size_t cut = 0; cut < packed.size(); ++cut) {
    EXPECT_FALSE(unpack_totals(std::string_view(packed).substr(0, cut)).has_value()) << cut;
  }
  EXPECT_FALSE(unpack_totals(packed + "x").has_value());
  EXPECT_FALSE(unpack_totals("\xff\xff\xff\xff\x0f").has_value());  // a count the bytes cannot hold
  EXPECT_TRUE(unpack_totals(pack_totals({})).has_value());
}

TEST(TotalsCodec, MergeSumsCommonValuesAndKeepsOrder) {
  const TotalsEntries a{{"a", {1, 1, 1, 1, 1}}, {"c", {3, 3, 3, 3, 3}}};
  const TotalsEntries b{{"b", {2, 2, 2, 2, 2}}, {"c", {10, 10, 10, 10, 0.5}}, {"d", {4, 4, 4, 4, 4}}};
  const TotalsEntries want{
      {"a", {1, 1, 1, 1, 1}}, {"b", {2, 2, 2, 2, 2}}, {"c", {13, 13, 13, 13, 3.5}}, {"d", {4, 4, 4, 4, 4}}};
  EXPECT_EQ(merge_totals(a, b), want);
  EXPECT_EQ(merge_totals(b, a), want);
  EXPECT_EQ(merge_totals({}, a), a);
}

}  // namespace
}  // namespace flowmetrics::mongo
