#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "flowmetrics/metric_aggregate.hpp"
#include "mongo/documents.hpp"

namespace flowmetrics::mongo {

// The rollup tiers beside the minute collection (docs/rollups.md).
inline constexpr std::int64_t kMinuteMs = 60'000;
inline constexpr std::int64_t kHourMs = 3'600'000;

// Collection names, derived from the minute collection's.
inline std::string hour_collection(const std::string& minute) {
  return minute + "_1h";
}
inline std::string minute_totals_collection(const std::string& minute) {
  return minute + "_totals_1m";
}
inline std::string hour_totals_collection(const std::string& minute) {
  return minute + "_totals_1h";
}

// The totals dimensions: "all" (one entry, "all") and the five key fields.
inline constexpr std::string_view kTotalsDimensions[] = {"all",         "source_ip", "dest_ip",
                                                         "source_port", "dest_port", "protocol"};

// "<dimension>|<bucket start ms>"
std::string totals_id(std::string_view dimension, std::int64_t bucket_ms);

// What one batch of written minute aggregates adds to each rollup tier: the five-tuple x
// hour aggregates (one per distinct hour key, ids set) and the totals documents of the minute
// and the hour tiers (one per dimension and bucket, entries distinct and sorted).
struct RollupBatch {
  std::vector<KeyedAggregate> hour;
  std::vector<TotalsDocument> minute_totals;
  std::vector<TotalsDocument> hour_totals;
};

// Pure: depends only on the items (their order included), so a replayed flush rebuilds the
// same documents.
RollupBatch build_rollups(std::span<const KeyedAggregate> written);

std::int64_t floor_to(std::int64_t ms, std::int64_t width) noexcept;

}  // namespace flowmetrics::mongo
