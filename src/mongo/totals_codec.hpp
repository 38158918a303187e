#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace flowmetrics::mongo {

// The five sums a totals entry keeps for one value of a dimension in one bucket.
struct TotalsSums {
  std::uint64_t bytes = 0;
  std::uint64_t packets = 0;
  std::uint64_t flows = 0;
  std::uint64_t count = 0;
  double value = 0.0;  // the sum of the metric values

  void add(const TotalsSums& other) noexcept;
  friend bool operator==(const TotalsSums&, const TotalsSums&) = default;
};

// Entries sorted by value, each value once. A value is the dimension's key bytes
// (rollups.hpp, totals_value): raw address bytes, a port's two bytes, a protocol name.
using TotalsEntries = std::vector<std::pair<std::string, TotalsSums>>;

// The packed form a totals document stores in its one binary field `d`: FerretDB v1 decodes
// every field of every document it reads in Go, at a cost per field, so a bucket holding
// thousands of values is one field, not thousands (docs/rollups.md). Layout: uvarint entry
// count, then per entry: uvarint key length, key bytes, uvarint bytes, packets, flows, count,
// and the value sum as uvarint(2 * v) when v is a whole number in [0, 2^62), else the byte
// 0x01 followed by the 8 bytes of the IEEE double, little-endian.
std::string pack_totals(const TotalsEntries& entries);

// nullopt when `packed` is not a well-formed packing (a document damaged or not ours).
std::optional<TotalsEntries> unpack_totals(std::string_view packed);

// Both sorted by value; the result is sorted, values present in both summed.
TotalsEntries merge_totals(const TotalsEntries& a, const TotalsEntries& b);

}  // namespace flowmetrics::mongo
