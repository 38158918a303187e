#include "mongo/rollups.hpp"

#include <map>
#include <unordered_map>

namespace flowmetrics::mongo {
namespace {

// (dimension index, bucket) -> value -> sums. std::map keeps entries sorted, so the
// documents built do not depend on hash order.
using TotalsMap = std::map<std::pair<std::size_t, std::int64_t>, std::map<std::string, MetricAggregate>>;

void add_totals(TotalsMap& totals, const MetricKey& key, std::int64_t bucket, const MetricAggregate& a) {
  const std::string values[] = {"all",
                                address_sort_key(key.source_ip),
                                address_sort_key(key.dest_ip),
                                std::to_string(key.source_port),
                                std::to_string(key.dest_port),
                                key.protocol};
  for (std::size_t d = 0; d < std::size(values); ++d) totals[{d, bucket}][values[d]].add(a);
}

std::vector<TotalsDocument> to_documents(TotalsMap& totals) {
  std::vector<TotalsDocument> documents;
  documents.reserve(totals.size());
  for (auto& [where, entries] : totals) {
    TotalsDocument doc;
    doc.dimension = std::string(kTotalsDimensions[where.first]);
    doc.timestamp_ms = where.second;
    doc.id = totals_id(doc.dimension, doc.timestamp_ms);
    doc.entries.assign(std::make_move_iterator(entries.begin()), std::make_move_iterator(entries.end()));
    documents.push_back(std::move(doc));
  }
  return documents;
}

}  // namespace

std::int64_t floor_to(std::int64_t ms, std::int64_t width) noexcept {
  return ms - (((ms % width) + width) % width);
}

std::string totals_id(std::string_view dimension, std::int64_t bucket_ms) {
  return std::string(dimension) + "|" + std::to_string(bucket_ms);
}

RollupBatch build_rollups(std::span<const KeyedAggregate> written) {
  RollupBatch batch;
  std::unordered_map<MetricKey, std::size_t, MetricKeyHash> hour_index;
  TotalsMap minute_totals, hour_totals;
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
    add_totals(minute_totals, item.key, floor_to(item.key.timestamp_ms, kMinuteMs), item.aggregate);
    add_totals(hour_totals, item.key, hour_key.timestamp_ms, item.aggregate);
  }
  batch.minute_totals = to_documents(minute_totals);
  batch.hour_totals = to_documents(hour_totals);
  return batch;
}

}  // namespace flowmetrics::mongo
