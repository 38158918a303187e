#include "mongo/rollups.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <ctime>
#include <map>
#include <tuple>
#include <unordered_map>

namespace flowmetrics::mongo {
namespace {

std::string address_bytes(const std::string& text) {
  unsigned char bytes[16];
  if (inet_pton(AF_INET, text.c_str(), bytes) == 1) return std::string(reinterpret_cast<char*>(bytes), 4);
  if (inet_pton(AF_INET6, text.c_str(), bytes) == 1) return std::string(reinterpret_cast<char*>(bytes), 16);
  return text;  // never for a validated key; rendered back as it came
}

std::string port_bytes(std::uint16_t port) {
  return {static_cast<char>(port >> 8), static_cast<char>(port & 0xff)};
}

// (tier, dimension index, bucket) -> value -> sums. std::map keeps entries sorted, so the
// documents built do not depend on hash order.
using TotalsMap = std::map<std::tuple<int, std::size_t, std::int64_t>, std::map<std::string, TotalsSums>>;

std::string shard_suffix(TotalsTier tier, std::int64_t bucket_ms) {
  const std::time_t seconds = floor_to(bucket_ms, totals_shard_width(tier)) / 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[16];
  std::strftime(text, sizeof text, tier == TotalsTier::minute ? "%Y%m%d%H" : "%Y%m%d", &utc);
  return text;
}

}  // namespace

std::int64_t floor_to(std::int64_t ms, std::int64_t width) noexcept {
  return ms - (((ms % width) + width) % width);
}

std::int64_t totals_width(TotalsTier tier) noexcept {
  return tier == TotalsTier::minute ? kMinuteMs : kHourMs;
}

std::int64_t totals_shard_width(TotalsTier tier) noexcept {
  return tier == TotalsTier::minute ? kHourMs : kDayMs;
}

std::string totals_prefix(const std::string& minute, TotalsTier tier) {
  return minute + (tier == TotalsTier::minute ? "_totals_1m_" : "_totals_1h_");
}

std::string totals_collection(const std::string& minute, TotalsTier tier, std::string_view dimension,
                              std::int64_t bucket_ms) {
  return totals_prefix(minute, tier) + std::string(dimension) + "_" + shard_suffix(tier, bucket_ms);
}

std::optional<std::int64_t> totals_shard_of(const std::string& minute, TotalsTier tier, std::string_view name) {
  const std::string prefix = totals_prefix(minute, tier);
  if (!name.starts_with(prefix)) return std::nullopt;
  const std::size_t underscore = name.rfind('_');
  const std::string_view dimension = name.substr(prefix.size(), underscore - prefix.size());
  if (underscore < prefix.size() ||
      std::find(std::begin(kTotalsDimensions), std::end(kTotalsDimensions), dimension) == std::end(kTotalsDimensions)) {
    return std::nullopt;
  }
  const std::string digits(name.substr(underscore + 1));
  if (digits.size() != (tier == TotalsTier::minute ? 10u : 8u) ||
      digits.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  std::tm utc{};
  utc.tm_year = std::stoi(digits.substr(0, 4)) - 1900;
  utc.tm_mon = std::stoi(digits.substr(4, 2)) - 1;
  utc.tm_mday = std::stoi(digits.substr(6, 2));
  utc.tm_hour = tier == TotalsTier::minute ? std::stoi(digits.substr(8, 2)) : 0;
  const std::int64_t ms = static_cast<std::int64_t>(timegm(&utc)) * 1000;
  if (shard_suffix(tier, ms) != digits) return std::nullopt;  // 2026023125 and the like
  return ms;
}

std::string_view totals_dimension(std::optional<FlowField> field) noexcept {
  return field ? to_string(*field) : std::string_view("all");
}

std::string totals_value(std::size_t dimension_index, const MetricKey& key) {
  switch (dimension_index) {
    case 1: return address_bytes(key.source_ip);
    case 2: return address_bytes(key.dest_ip);
    case 3: return port_bytes(key.source_port);
    case 4: return port_bytes(key.dest_port);
    case 5: return key.protocol;
    default: return {};
  }
}

std::string render_totals_value(std::optional<FlowField> field, std::string_view value) {
  if (!field) return {};
  if (is_address_field(*field) && (value.size() == 4 || value.size() == 16)) {
    char text[INET6_ADDRSTRLEN] = {};
    inet_ntop(value.size() == 4 ? AF_INET : AF_INET6, value.data(), text, sizeof text);
    return text;
  }
  if ((*field == FlowField::source_port || *field == FlowField::dest_port) && value.size() == 2) {
    return std::to_string((static_cast<unsigned char>(value[0]) << 8) | static_cast<unsigned char>(value[1]));
  }
  return std::string(value);
}

std::string totals_id(std::int64_t bucket_ms) {
  return std::to_string(bucket_ms);
}

RollupBatch build_rollups(const std::string& minute, std::span<const KeyedAggregate> written,
                          const TotalsHorizon& horizon) {
  RollupBatch batch;
  std::unordered_map<MetricKey, std::size_t, MetricKeyHash> hour_index;
  TotalsMap totals;
  for (const KeyedAggregate& item : written) {
    MetricKey hour_key = item.key;
    hour_key.timestamp_ms = floor_to(item.key.timestamp_ms, kHourMs);
    const auto [it, inserted] = hour_index.try_emplace(hour_key, batch.hour.size());
    if (inserted) {
      KeyedAggregate hour{hour_key, encode_document_id(hour_key), item.aggregate};
      batch.hour.push_back(std::move(hour));
    } else {
      batch.hour[it->second].aggregate.add(item.aggregate);
    }
    const MetricAggregate& a = item.aggregate;
    const TotalsSums sums{a.bytes, a.packets, a.flows, a.count, a.sum};
    for (std::size_t d = 0; d < std::size(kTotalsDimensions); ++d) {
      const std::string value = totals_value(d, item.key);
      for (const TotalsTier tier : {TotalsTier::minute, TotalsTier::hour}) {
        const std::int64_t bucket = floor_to(item.key.timestamp_ms, totals_width(tier));
        if (bucket < (tier == TotalsTier::minute ? horizon.minute : horizon.hour)) continue;
        totals[{static_cast<int>(tier), d, bucket}][value].add(sums);
      }
    }
  }
  batch.totals.reserve(totals.size());
  for (auto& [where, entries] : totals) {
    const auto& [tier, d, bucket] = where;
    TotalsDocument doc;
    doc.tier = static_cast<TotalsTier>(tier);
    doc.dimension = std::string(kTotalsDimensions[d]);
    doc.bucket_ms = bucket;
    doc.collection = totals_collection(minute, doc.tier, doc.dimension, bucket);
    doc.entries.assign(std::make_move_iterator(entries.begin()), std::make_move_iterator(entries.end()));
    batch.totals.push_back(std::move(doc));
  }
  return batch;
}

}  // namespace flowmetrics::mongo
