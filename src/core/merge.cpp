#include "core/merge.hpp"

#include <unordered_map>

#include "flowmetrics/validation.hpp"

namespace flowmetrics::core {

MergedBatch merge_metrics(std::span<const Metric> metrics) {
  MergedBatch batch;
  batch.document_of_item.reserve(metrics.size());
  std::unordered_map<MetricKey, std::uint32_t, MetricKeyHash> index_of_key;
  index_of_key.reserve(metrics.size());

  MetricKey key;
  for (std::size_t i = 0; i < metrics.size(); ++i) {
    if (auto error = make_metric_key(metrics[i], key)) {
      batch.document_of_item.push_back(MergedBatch::kRejected);
      batch.rejected.push_back(ItemError{.index = i,
                                         .code = errc::invalid_argument,
                                         .field = std::move(error->field),
                                         .message = std::move(error->message)});
      continue;
    }
    auto [it, inserted] = index_of_key.try_emplace(key, static_cast<std::uint32_t>(batch.documents.size()));
    if (inserted) {
      std::string id = encode_document_id(key);
      batch.documents.push_back(KeyedAggregate{std::move(key), std::move(id), {}});
      key = MetricKey{};
    }
    batch.documents[it->second].aggregate.add(metrics[i]);
    batch.document_of_item.push_back(it->second);
  }
  return batch;
}

}  // namespace flowmetrics::core
