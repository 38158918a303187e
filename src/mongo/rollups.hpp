#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "flowmetrics/filter.hpp"
#include "flowmetrics/metric_aggregate.hpp"
#include "mongo/totals_codec.hpp"

namespace flowmetrics::mongo {

// The rollup tiers beside the minute collection (docs/rollups.md).
inline constexpr std::int64_t kMinuteMs = 60'000;
inline constexpr std::int64_t kHourMs = 3'600'000;
inline constexpr std::int64_t kDayMs = 86'400'000;

std::int64_t floor_to(std::int64_t ms, std::int64_t width) noexcept;

// The five-tuple x hour tier: "<minute collection>_1h", documents laid out like the minute's.
inline std::string hour_collection(const std::string& minute) {
  return minute + "_1h";
}

// The per-dimension totals tiers. Each (tier, dimension) is split into shards by time, one
// collection per shard: an hour of minute buckets, a day of hour buckets. A shard holds at
// most 60 (24) documents, so reading one costs the same however long the tiers are kept, and
// expiry drops whole shards (docs/rollups.md, "The embedded default").
enum class TotalsTier { minute, hour };

// Bucket width: a minute or an hour.
std::int64_t totals_width(TotalsTier tier) noexcept;
// Shard width: an hour (minute tier) or a day (hour tier).
std::int64_t totals_shard_width(TotalsTier tier) noexcept;
// "<minute collection>_totals_1m_", "<minute collection>_totals_1h_": every shard's name
// starts with it.
std::string totals_prefix(const std::string& minute, TotalsTier tier);
// "<prefix><dimension>_<shard start, UTC: YYYYMMDDHH for the minute tier, YYYYMMDD for the hour
// tier>", e.g. "flows_totals_1m_source_ip_2026120213", "flows_totals_1h_protocol_20261202".
std::string totals_collection(const std::string& minute, TotalsTier tier, std::string_view dimension,
                              std::int64_t bucket_ms);
// The shard start a collection name (from totals_collection) stands for; nullopt for other
// names.
std::optional<std::int64_t> totals_shard_of(const std::string& minute, TotalsTier tier, std::string_view name);

// The totals dimensions: "all" (one entry with an empty value) and the five key fields.
inline constexpr std::string_view kTotalsDimensions[] = {"all",         "source_ip", "dest_ip",
                                                         "source_port", "dest_port", "protocol"};
std::string_view totals_dimension(std::optional<FlowField> field) noexcept;

// A dimension's value in a totals entry: an address's 4 or 16 bytes, a port's two bytes (big
// endian, so they sort like the numbers), the protocol's stored name, "" for "all"; and back
// to the text a query row shows ("10.0.0.1", "443", "TCP").
std::string totals_value(std::size_t dimension_index, const MetricKey& key);
std::string render_totals_value(std::optional<FlowField> field, std::string_view value);

// One totals document: `_id` the bucket start in decimal ms, `t` the bucket start (date),
// `n` the number of entries, `d` the packed entries (totals_codec.hpp), `r` a revision that
// each update increments, `_applied` the stamps as for minute documents.
struct TotalsDocument {
  std::string collection;  // totals_collection(...)
  TotalsTier tier = TotalsTier::minute;
  std::string dimension;
  std::int64_t bucket_ms = 0;
  TotalsEntries entries;  // sorted, distinct values
};
std::string totals_id(std::int64_t bucket_ms);

// What one batch of written minute aggregates adds to each rollup tier: the five-tuple x
// hour aggregates (one per distinct hour key, ids set) and the totals documents of both totals
// tiers (one per dimension and bucket).
struct RollupBatch {
  std::vector<KeyedAggregate> hour;
  std::vector<TotalsDocument> totals;
};

// The oldest bucket start each totals tier still keeps (its retention): older buckets are
// not rolled up, since their shards are dropped, or about to be, and no query reads them.
struct TotalsHorizon {
  std::int64_t minute = std::numeric_limits<std::int64_t>::min();
  std::int64_t hour = std::numeric_limits<std::int64_t>::min();
};

// Pure: depends only on the items (their order included) and the horizon, so a replayed flush
// rebuilds the same documents, less those that expired meanwhile. `minute` is the minute
// collection's name.
RollupBatch build_rollups(const std::string& minute, std::span<const KeyedAggregate> written,
                          const TotalsHorizon& horizon = {});

}  // namespace flowmetrics::mongo
